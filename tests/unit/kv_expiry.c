/*
 * kv_expiry.c: key expiry in the key-value state machine, edge by edge.
 *
 * Method: commands carry now_ms as a server would stamp them and are applied
 * at increasing log indexes; each test checks replies, the map
 * (cs_kv_get / cs_kv_get_meta / cs_kv_keys / cs_kv_next_expiry) and the
 * invariant walk cs_kv_check. Covers: a key at exactly expire_at_ms (absent)
 * and one ms before (present), an expired key absent to every operation,
 * the clock never running back, SET's TTL rules (plain SET clears, KEEPTTL
 * keeps, a time already past deletes), INCRBY keeping the TTL, EXPIRE and
 * PERSIST, PURGE removing exactly the due keys and at most
 * CS_KV_PURGE_KEYS_MAX of them (the same ones on a replica restored from a
 * snapshot), and two planted bugs caught.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/kv.h"
#include "kv_fixture.h"
#include "testlib.h"

static struct cs_kv_op expire(const char *key, uint64_t at_ms)
{
    struct cs_kv_op o = op(CS_KV_EXPIRE, key);
    o.expire_at_ms = at_ms;
    o.flags = at_ms ? 0 : CS_KV_EXPIRE_PERSIST;
    return o;
}

static bool live(const struct fixture *f, const char *key, uint64_t now_ms)
{
    const uint8_t *v;
    size_t v_len;
    return cs_kv_get(f->kv, key, strlen(key), now_ms, &v, &v_len) == 0;
}

/* Absent at exactly expire_at_ms, present one ms before; reads and apply agree. */
CS_TEST(expiry_boundary)
{
    struct fixture f;
    setup(&f);
    CS_CHECK_OK(one(&f, set("k", "v", 0, 1100))->rc);
    CS_CHECK(live(&f, "k", 1099));
    CS_CHECK(!live(&f, "k", 1100));
    CS_CHECK(!live(&f, "k", UINT64_MAX));
    struct cs_kv_meta meta;
    CS_CHECK_OK(cs_kv_get_meta(f.kv, "k", 1, 1099, &meta));
    CS_CHECK_EQ_U64(meta.expire_at_ms, 1100);
    CS_CHECK_EQ_U64(meta.mod_index, 1);
    CS_CHECK_EQ(meta.value_len, 1);
    CS_CHECK_MEM(meta.value, "v", 1);
    CS_CHECK_RC(cs_kv_get_meta(f.kv, "k", 1, 1100, &meta), CS_ENOTFOUND);
    CS_CHECK(meta.value == NULL && meta.mod_index == 0);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 1); /* reads change nothing */
    f.now_ms = 1099;
    const struct cs_kv_result *r = one(&f, op(CS_KV_GET, "k"));
    CS_CHECK_OK(r->rc);
    CS_CHECK_EQ_U64(r->expire_at_ms, 1100);
    CS_CHECK_EQ_U64(r->mod_index, 1);
    f.now_ms = 1100;
    CS_CHECK_RC(one(&f, op(CS_KV_GET, "k"))->rc, CS_ENOTFOUND);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 0); /* touched once expired: removed */
    CS_CHECK_EQ_U64(cs_kv_expired_total(f.kv), 1);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 0);
    teardown(&f);
}

/* Put key k with a TTL, then move the clock to it: k is expired but still in the map. */
static void expiring(struct fixture *f, const char *key, const char *value)
{
    CS_CHECK_OK(one(f, set(key, value, 0, f->now_ms + 10))->rc);
    f->now_ms += 10;
    CS_CHECK(!live(f, key, f->now_ms));
}

/* An expired key is absent to every operation. */
CS_TEST(expired_is_absent_everywhere)
{
    struct fixture f;
    setup(&f);
    expiring(&f, "k", "7");
    const struct cs_kv_result *r = one(&f, set("k", "n", CS_KV_SET_NX | CS_KV_SET_GET, 0));
    CS_CHECK_OK(r->rc);
    CS_CHECK(!r->found && r->value_len == 0);
    expiring(&f, "k", "7");
    CS_CHECK_RC(one(&f, set("k", "x", CS_KV_SET_XX, 0))->rc, CS_ENOTFOUND);
    CS_CHECK(!live(&f, "k", 0));
    expiring(&f, "k", "7");
    r = one(&f, op(CS_KV_EXISTS, "k"));
    CS_CHECK(!r->found && r->number == 0 && r->mod_index == 0 && r->expire_at_ms == 0);
    expiring(&f, "k", "7");
    struct cs_kv_op inc = op(CS_KV_INCRBY, "k");
    inc.delta = 2;
    CS_CHECK_EQ(one(&f, inc)->number, 2);                          /* from 0, not 7 */
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_TTL, "k"))->expire_at_ms, 0); /* and no TTL */
    CS_CHECK_OK(one(&f, op(CS_KV_DEL, "k"))->rc);
    expiring(&f, "k", "7");
    struct cs_kv_op cas = op(CS_KV_CAS, "k");
    cas.expected = (const uint8_t *)"7";
    cas.expected_len = 1;
    cas.value = (const uint8_t *)"8";
    cas.value_len = 1;
    CS_CHECK_RC(one(&f, cas)->rc, CS_ECONFLICT);
    cas.flags = CS_KV_CAS_ABSENT;
    CS_CHECK_OK(one(&f, cas)->rc);
    CS_CHECK_OK(one(&f, op(CS_KV_DEL, "k"))->rc);
    expiring(&f, "k", "7");
    r = one(&f, op(CS_KV_DEL, "k"));
    CS_CHECK(r->rc == CS_ENOTFOUND && r->number == 0);
    expiring(&f, "k", "7");
    r = one(&f, expire("k", f.now_ms + 100));
    CS_CHECK(!r->found && r->number == 0);
    expiring(&f, "k", "7");
    r = one(&f, op(CS_KV_TTL, "k"));
    CS_CHECK(r->rc == 0 && !r->found && r->mod_index == 0);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 0);
    CS_CHECK_EQ_U64(cs_kv_expired_total(f.kv), 8);
    teardown(&f);
}

/* The clock is the largest now_ms applied: an older stamp does not bring a key back. */
CS_TEST(clock_is_monotonic)
{
    struct fixture f;
    setup(&f);
    f.now_ms = 100;
    one(&f, set("k", "v", 0, 200));
    one(&f, set("j", "v", 0, 250));
    f.now_ms = 300;
    CS_CHECK_RC(one(&f, op(CS_KV_GET, "other"))->rc, CS_ENOTFOUND);
    CS_CHECK_EQ_U64(cs_kv_clock_ms(f.kv), 300);
    f.now_ms = 50; /* a server whose clock is behind */
    CS_CHECK_RC(one(&f, op(CS_KV_GET, "k"))->rc, CS_ENOTFOUND);
    CS_CHECK_EQ_U64(cs_kv_clock_ms(f.kv), 300);
    /* A read with an old clock still sees j as gone: the map's clock is later. */
    CS_CHECK(!live(&f, "j", 0));
    CS_CHECK_EQ(cs_kv_keys(f.kv), 1);
    /* A TTL the map's clock has passed deletes at once, whatever the stamp says. */
    CS_CHECK_OK(one(&f, set("n", "v", 0, 280))->rc);
    CS_CHECK(!live(&f, "n", 0));
    CS_CHECK_EQ(cs_kv_keys(f.kv), 1);
    teardown(&f);
}

/* SET: a plain SET clears the TTL, KEEPTTL keeps it, a time already past deletes the key. */
CS_TEST(set_ttl_rules)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_meta meta;
    one(&f, set("k", "1", 0, 5000));
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 5000);
    one(&f, set("k", "2", CS_KV_SET_KEEPTTL, 0));
    CS_CHECK_OK(cs_kv_get_meta(f.kv, "k", 1, 0, &meta));
    CS_CHECK_EQ_U64(meta.expire_at_ms, 5000);
    CS_CHECK_MEM(meta.value, "2", 1);
    one(&f, set("k", "3", 0, 4000)); /* a new TTL replaces the old */
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 4000);
    one(&f, set("k", "4", 0, 0));
    CS_CHECK_OK(cs_kv_get_meta(f.kv, "k", 1, 0, &meta));
    CS_CHECK_EQ_U64(meta.expire_at_ms, 0);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 0);
    one(&f, set("a", "1", CS_KV_SET_KEEPTTL, 0)); /* KEEPTTL of nothing: no TTL */
    CS_CHECK_OK(cs_kv_get_meta(f.kv, "a", 1, 0, &meta));
    CS_CHECK_EQ_U64(meta.expire_at_ms, 0);
    /* Already past: the SET succeeds and the key is gone; GET still reports the old value. */
    const struct cs_kv_result *r = one(&f, set("k", "5", CS_KV_SET_GET, f.now_ms));
    CS_CHECK_OK(r->rc);
    CS_CHECK(r->found);
    CS_CHECK_MEM(r->value, "4", 1);
    CS_CHECK(!live(&f, "k", 0));
    CS_CHECK_EQ_U64(cs_kv_expired_total(f.kv), 1);
    CS_CHECK_OK(one(&f, set("z", "5", 0, 1))->rc); /* absent: nothing created */
    CS_CHECK(!live(&f, "z", 0));
    /* NX refused on a live key: it keeps its value and TTL. */
    one(&f, set("b", "1", 0, 9000));
    CS_CHECK_RC(one(&f, set("b", "2", CS_KV_SET_NX, 1))->rc, CS_EEXIST);
    CS_CHECK_OK(cs_kv_get_meta(f.kv, "b", 1, 0, &meta));
    CS_CHECK_EQ_U64(meta.expire_at_ms, 9000);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 2);
    teardown(&f);
}

/* INCRBY keeps the TTL (as Redis); a CAS swap clears it, as a plain SET does. */
CS_TEST(incrby_keeps_ttl_cas_clears)
{
    struct fixture f;
    setup(&f);
    one(&f, set("n", "5", 0, 2000));
    struct cs_kv_op inc = op(CS_KV_INCRBY, "n");
    inc.delta = 1;
    CS_CHECK_EQ(one(&f, inc)->number, 6);
    const struct cs_kv_result *r = one(&f, op(CS_KV_TTL, "n"));
    CS_CHECK(r->found);
    CS_CHECK_EQ_U64(r->expire_at_ms, 2000);
    CS_CHECK_EQ_U64(r->mod_index, 2);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 2000);
    struct cs_kv_op cas = op(CS_KV_CAS, "n");
    cas.expected = (const uint8_t *)"6";
    cas.expected_len = 1;
    cas.value = (const uint8_t *)"9";
    cas.value_len = 1;
    CS_CHECK_OK(one(&f, cas)->rc);
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_TTL, "n"))->expire_at_ms, 0);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 0);
    teardown(&f);
}

/* EXPIRE and PERSIST: 1 if changed, 0 if missing or no TTL to clear; a past time deletes. */
CS_TEST(expire_and_persist)
{
    struct fixture f;
    setup(&f);
    const struct cs_kv_result *r = one(&f, expire("k", 2000));
    CS_CHECK(r->rc == 0 && !r->found && r->number == 0);
    one(&f, set("k", "v", 0, 0));
    r = one(&f, expire("k", 0)); /* PERSIST with no TTL: unchanged */
    CS_CHECK(r->found && r->number == 0);
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_TTL, "k"))->mod_index, 2);
    CS_CHECK_EQ(one(&f, expire("k", 3000))->number, 1);
    r = one(&f, op(CS_KV_TTL, "k"));
    CS_CHECK_EQ_U64(r->expire_at_ms, 3000);
    CS_CHECK_EQ_U64(r->mod_index, 5); /* EXPIRE changed it */
    CS_CHECK_EQ(one(&f, expire("k", 2500))->number, 1);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 2500);
    CS_CHECK_EQ(one(&f, expire("k", 0))->number, 1); /* PERSIST */
    r = one(&f, op(CS_KV_TTL, "k"));
    CS_CHECK(r->found && r->expire_at_ms == 0 && r->mod_index == 8);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 0);
    CS_CHECK(live(&f, "k", UINT64_MAX));
    r = one(&f, expire("k", f.now_ms)); /* already past */
    CS_CHECK(r->found && r->number == 1);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 0);
    CS_CHECK_EQ_U64(cs_kv_expired_total(f.kv), 1);
    teardown(&f);
}

/* Put keys with TTLs 1000+10*k for k in [0, n) (and some with no TTL). */
static void put_timed(struct fixture *f, uint32_t n)
{
    for (uint32_t k = 0; k < n; k++) {
        char key[16];
        snprintf(key, sizeof key, "t%03u", k);
        one(f, set(key, "v", 0, 2000 + 10 * (uint64_t)k));
        snprintf(key, sizeof key, "p%03u", k);
        one(f, set(key, "v", 0, 0));
    }
}

/* PURGE removes exactly the keys whose time has come, and nothing else. */
CS_TEST(purge_removes_due_keys)
{
    struct fixture f;
    setup(&f);
    put_timed(&f, 20);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 40);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 2000);
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, 0);
    f.now_ms = 2050; /* t000..t005 are due, t005 exactly */
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, 6);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 34);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 2060);
    CS_CHECK(live(&f, "t006", 0) && !live(&f, "t005", 0));
    f.now_ms = 2059;
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, 0);
    f.now_ms = UINT64_MAX;
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, 14);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 20); /* every key without a TTL stays */
    CS_CHECK_EQ_U64(cs_kv_expired_total(f.kv), 20);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 0);
    teardown(&f);
}

/* Apply n SETs of keys with one expire_at_ms, in batches of CS_KV_OPS_MAX ops. */
static void put_many(struct fixture *f, uint32_t n, uint64_t at_ms, struct cs_rng *rng)
{
    static char keys[CS_KV_OPS_MAX][16];
    struct cs_kv_op ops[CS_KV_OPS_MAX];
    for (uint32_t done = 0; done < n;) {
        uint32_t batch = n - done < CS_KV_OPS_MAX ? n - done : CS_KV_OPS_MAX;
        for (uint32_t k = 0; k < batch; k++) {
            /* A random order of insertion, so heap shapes differ from a restored one. */
            snprintf(keys[k], sizeof keys[k], "m%06u", (uint32_t)cs_rng_below(rng, 1000000));
            ops[k] = set(keys[k], "v", 0, at_ms);
        }
        CS_CHECK_OK(apply(f, ops, batch));
        done += batch;
    }
}

/*
 * PURGE removes at most CS_KV_PURGE_KEYS_MAX keys, soonest first and by key
 * among equal times, so a replica restored from a snapshot (another heap
 * shape) removes the very same keys.
 */
CS_TEST(purge_bounded_and_deterministic)
{
    struct fixture f;
    setup(&f);
    cs_test_seed_set(cs_test_seed());
    put_many(&f, CS_KV_PURGE_KEYS_MAX + 200, 1500, cs_test_rng());
    put_many(&f, 300, 1400, cs_test_rng());
    uint64_t keys = cs_kv_keys(f.kv);
    CS_CHECK(keys > CS_KV_PURGE_KEYS_MAX + 1);
    struct cs_buf snap, a, b;
    cs_buf_init(&snap, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&a, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&b, CS_KV_SNAPSHOT_BYTES_MAX);
    CS_CHECK_OK(cs_kv_snapshot(f.kv, &snap));
    struct fixture g;
    setup(&g);
    CS_CHECK_OK(cs_kv_restore(g.kv, snap.data, snap.len));
    g.index = f.index;
    f.now_ms = g.now_ms = 1500;
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, CS_KV_PURGE_KEYS_MAX);
    CS_CHECK_EQ(one(&g, op(CS_KV_PURGE, NULL))->number, CS_KV_PURGE_KEYS_MAX);
    CS_CHECK_EQ(cs_kv_keys(f.kv), keys - CS_KV_PURGE_KEYS_MAX);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 1500); /* the 1400s went first */
    CS_CHECK_OK(cs_kv_snapshot(f.kv, &a));
    CS_CHECK_OK(cs_kv_snapshot(g.kv, &b));
    CS_CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, keys - CS_KV_PURGE_KEYS_MAX);
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, 0);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 0);
    cs_buf_free(&snap);
    cs_buf_free(&a);
    cs_buf_free(&b);
    teardown(&g);
    teardown(&f);
}

/* One PURGE of exactly CS_KV_PURGE_KEYS_MAX due keys clears them all; one more needs two. */
CS_TEST(purge_at_limit)
{
    for (uint32_t extra = 0; extra <= 1; extra++) {
        struct fixture f;
        setup(&f);
        cs_test_seed_set(cs_test_seed() + extra);
        put_many(&f, CS_KV_PURGE_KEYS_MAX + extra, 1200, cs_test_rng());
        uint64_t keys = cs_kv_keys(f.kv); /* random names may repeat */
        f.now_ms = 1200;
        uint64_t first = keys < CS_KV_PURGE_KEYS_MAX ? keys : CS_KV_PURGE_KEYS_MAX;
        CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, first);
        CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, keys - first);
        CS_CHECK_EQ(cs_kv_keys(f.kv), 0);
        teardown(&f);
    }
}

/* A v2 snapshot of n keys "%07u", each with a TTL in [5000, 5000 + n) in scrambled order. */
static void put_full_snapshot(struct cs_buf *w, uint32_t n)
{
    cs_put_u8(w, 2);
    cs_put_uvarint(w, 1); /* applied */
    cs_put_uvarint(w, 0); /* clock */
    cs_put_uvarint(w, n);
    for (uint32_t k = 0; k < n; k++) {
        char key[16];
        snprintf(key, sizeof key, "%07u", k);
        cs_put_bytes(w, key, 7);
        cs_put_bytes(w, "", 0);
        cs_put_uvarint(w, 5000 + (k * 2654435761u) % n); /* each time once: n is a power of 2 */
        cs_put_uvarint(w, 1);
    }
    cs_put_uvarint(w, 0);
}

/* The heap at CS_KV_KEYS_MAX keys, every one with a TTL; one key more is refused. */
CS_TEST(keys_max_all_timed)
{
    _Static_assert((CS_KV_KEYS_MAX & (CS_KV_KEYS_MAX - 1)) == 0, "scramble needs a power of 2");
    struct cs_buf w;
    cs_buf_init(&w, CS_KV_SNAPSHOT_BYTES_MAX);
    put_full_snapshot(&w, CS_KV_KEYS_MAX);
    struct fixture f;
    setup(&f);
    CS_CHECK_OK(cs_kv_restore(f.kv, w.data, w.len));
    f.index = 1;
    CS_CHECK_EQ(cs_kv_keys(f.kv), CS_KV_KEYS_MAX);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 5000);
    CS_CHECK_OK(cs_kv_check(f.kv));
    f.unchecked = true; /* a walk of a million keys per command is too slow */
    CS_CHECK_RC(one(&f, set("new", "v", 0, 9000))->rc, CS_ENOSPACE);
    f.now_ms = 5000 + CS_KV_PURGE_KEYS_MAX - 1;
    CS_CHECK_EQ(one(&f, op(CS_KV_PURGE, NULL))->number, CS_KV_PURGE_KEYS_MAX);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(f.kv), 5000 + CS_KV_PURGE_KEYS_MAX);
    CS_CHECK_OK(one(&f, set("new", "v", 0, 9000))->rc);
    CS_CHECK_OK(cs_kv_check(f.kv));
    /* A snapshot of one key more is refused, and the map stays as it was. */
    cs_buf_reset(&w);
    put_full_snapshot(&w, CS_KV_KEYS_MAX + 1);
    CS_CHECK_RC(cs_kv_restore(f.kv, w.data, w.len), CS_ETOOBIG);
    CS_CHECK_EQ(cs_kv_keys(f.kv), CS_KV_KEYS_MAX - CS_KV_PURGE_KEYS_MAX + 1);
    cs_buf_free(&w);
    teardown(&f);
}

/*
 * A run whose verdict is returned rather than checked, so a planted bug can
 * be shown to make it false: PURGE at a clock between two TTLs removes only
 * the earlier key, and the index keeps exactly the keys with a TTL.
 */
static bool purge_and_persist_hold(uint32_t bugs)
{
    struct fixture f;
    setup(&f);
    cs_kv_set_bugs(f.kv, bugs);
    f.unchecked = true;
    one(&f, set("early", "v", 0, 1500));
    one(&f, set("late", "v", 0, 2500));
    one(&f, set("kept", "v", 0, 3000));
    one(&f, expire("kept", 0)); /* PERSIST */
    bool ok = cs_kv_check(f.kv) == 0 && cs_kv_next_expiry(f.kv) == 1500;
    f.now_ms = 2000;
    struct cs_kv_op purge = op(CS_KV_PURGE, NULL);
    ok = ok && apply(&f, &purge, 1) == 0 && f.reply.results[0].number == 1;
    ok = ok && live(&f, "late", 0) && live(&f, "kept", 0) && !live(&f, "early", 0);
    ok = ok && cs_kv_keys(f.kv) == 2 && cs_kv_next_expiry(f.kv) == 2500;
    teardown(&f);
    return ok;
}

CS_TEST(planted_bugs_caught)
{
    CS_CHECK(purge_and_persist_hold(0));
    CS_CHECK(!purge_and_persist_hold(CS_KV_BUG_PURGE_IGNORES_CLOCK));
    CS_CHECK(!purge_and_persist_hold(CS_KV_BUG_PERSIST_STALE_INDEX));
}

CS_TEST_MAIN(CS_CASE(expiry_boundary), CS_CASE(expired_is_absent_everywhere),
             CS_CASE(clock_is_monotonic), CS_CASE(set_ttl_rules),
             CS_CASE(incrby_keeps_ttl_cas_clears), CS_CASE(expire_and_persist),
             CS_CASE(purge_removes_due_keys), CS_CASE(purge_bounded_and_deterministic),
             CS_CASE(purge_at_limit), CS_CASE(keys_max_all_timed), CS_CASE(planted_bugs_caught))
