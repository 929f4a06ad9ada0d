/*
 * store_kv.c: unit tests of the key-value store (struct cs_store) on LMDB:
 * transactions and durability, every limit at and one past it, long keys
 * (ordering, collisions, holes), map growth and its ceiling, error paths.
 *
 * Method: each test opens a fresh environment in a mkdtemp directory under
 * /tmp, closes and reopens it where durability is the question (a close with
 * a transaction open is a crash for that transaction), and removes it.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "consist/store.h"
#include "testlib.h"

static char dir_[64];

static const char *tmpdir_new(void)
{
    snprintf(dir_, sizeof dir_, "/tmp/cs_store_kv_XXXXXX");
    CS_CHECK(mkdtemp(dir_) != NULL);
    return dir_;
}

static void tmpdir_free(void)
{
    cs_test_rmtree(dir_);
}

static struct cs_store *open_store(const char *dir, uint64_t map, uint64_t map_max)
{
    struct cs_store_options o = {.dir = dir, .map_bytes = map, .map_bytes_max = map_max};
    struct cs_store *s = NULL;
    CS_CHECK_OK(cs_store_open(&o, &s));
    return s;
}

static void put1(struct cs_store *s, enum cs_store_db db, const void *k, size_t kl, const void *v,
                 size_t vl)
{
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_OK(cs_store_put(t, db, k, kl, v, vl));
    CS_CHECK_OK(cs_store_commit(t));
}

static int get1(struct cs_store *s, enum cs_store_db db, const void *k, size_t kl, void *out,
                size_t *out_len)
{
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, true, &t));
    const uint8_t *v;
    size_t vl;
    int rc = cs_store_get(t, db, k, kl, &v, &vl);
    if (rc == 0) {
        memcpy(out, v, vl);
        *out_len = vl;
    }
    CS_CHECK_OK(cs_store_commit(t));
    return rc;
}

/* A committed write survives a close; an aborted or open one does not. */
CS_TEST(commit_is_durable_abort_is_not)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, 0, 0);
    put1(s, CS_STORE_DB_DATA, "a", 1, "1", 1);
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "b", 1, "2", 1));
    const uint8_t *v;
    size_t vl;
    CS_CHECK_OK(cs_store_get(t, CS_STORE_DB_DATA, "b", 1, &v, &vl)); /* sees its own write */
    CS_CHECK(vl == 1 && v[0] == '2');
    cs_store_abort(t);
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "c", 1, "3", 1));
    cs_store_close(s); /* with t open: a crash before commit */
    s = open_store(dir, 0, 0);
    char buf[8];
    size_t n;
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, "a", 1, buf, &n));
    CS_CHECK(n == 1 && buf[0] == '1');
    CS_CHECK_RC(get1(s, CS_STORE_DB_DATA, "b", 1, buf, &n), CS_ENOTFOUND);
    CS_CHECK_RC(get1(s, CS_STORE_DB_DATA, "c", 1, buf, &n), CS_ENOTFOUND);
    /* Sub-databases are separate namespaces. */
    CS_CHECK_RC(get1(s, CS_STORE_DB_SAGA, "a", 1, buf, &n), CS_ENOTFOUND);
    cs_store_close(s);
    tmpdir_free();
}

CS_TEST(del_get_count_and_errors)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, 0, 0);
    struct cs_store_txn *t, *t2;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_RC(cs_store_txn_begin(s, true, &t2), CS_EBUSY);
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "k1", 2, "", 0)); /* empty value is fine */
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "k2", 2, "v", 1));
    uint64_t count;
    CS_CHECK_OK(cs_store_count(t, CS_STORE_DB_DATA, &count));
    CS_CHECK_EQ(count, 2);
    CS_CHECK_OK(cs_store_del(t, CS_STORE_DB_DATA, "k1", 2));
    CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, "k1", 2), CS_ENOTFOUND);
    const uint8_t *v;
    size_t vl;
    CS_CHECK_RC(cs_store_get(t, CS_STORE_DB_DATA, "k1", 2, &v, &vl), CS_ENOTFOUND);
    CS_CHECK_RC(cs_store_put(t, (enum cs_store_db)CS_STORE_DB_COUNT, "x", 1, "", 0), CS_EINVAL);
    CS_CHECK_RC(cs_store_get(t, (enum cs_store_db)99, "x", 1, &v, &vl), CS_EINVAL);
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_DATA, "x", 0, "", 0), CS_ETOOBIG);
    CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, "x", 0), CS_ETOOBIG);
    CS_CHECK_RC(cs_store_get(t, CS_STORE_DB_DATA, "x", 0, &v, &vl), CS_ETOOBIG);
    CS_CHECK_OK(cs_store_count(t, CS_STORE_DB_DATA, &count));
    CS_CHECK_EQ(count, 1);
    CS_CHECK_OK(cs_store_commit(t));
    CS_CHECK_OK(cs_store_txn_begin(s, true, &t));
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_DATA, "y", 1, "", 0), CS_EINVAL); /* read-only */
    CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, "k2", 2), CS_EINVAL);
    CS_CHECK_OK(cs_store_commit(t));
    CS_CHECK(cs_store_db_name(CS_STORE_DB_DATA) != NULL);
    CS_CHECK_STR(cs_store_db_name(CS_STORE_DB_LOG), "log");
    CS_CHECK(cs_store_db_name((enum cs_store_db)CS_STORE_DB_COUNT) == NULL);
    cs_store_close(s);
    tmpdir_free();
}

CS_TEST(open_rejects_bad_options_and_versions)
{
    const char *dir = tmpdir_new();
    struct cs_store *s;
    struct cs_store_options o = {0};
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EINVAL);
    o.dir = dir;
    o.map_bytes = CS_STORE_MAP_BYTES_MIN - 1;
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EINVAL);
    o.map_bytes = 4u << 20;
    o.map_bytes_max = 2u << 20;
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EINVAL);
    o.map_bytes_max = CS_STORE_MAP_BYTES_MAX + 1;
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EINVAL);
    o.map_bytes_max = CS_STORE_MAP_BYTES_MAX; /* at the limit: fine */
    CS_CHECK_OK(cs_store_open(&o, &s));
    CS_CHECK_EQ_U64(cs_store_map_bytes(s), 4u << 20);
    /* A future format version is refused, not misread. */
    uint8_t version[8] = {2};
    put1(s, CS_STORE_DB_META, "format", 6, version, sizeof version);
    cs_store_close(s);
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EVERSION);
    o.dir = "/proc/no/such/dir";
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EIO);
    tmpdir_free();
}

/* Keys: 1..CS_STORE_KEY_BYTES_MAX work (inline and long), 0 and max+1 do not. */
CS_TEST(key_and_value_limits)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, 0, 0);
    size_t big = CS_STORE_KEY_BYTES_MAX + 1;
    uint8_t *key = malloc(big);
    for (size_t i = 0; i < big; i++)
        key[i] = (uint8_t)(i * 7 + 3);
    static const size_t lens[] = {
        1,   CS_STORE_KEY_INLINE_BYTES_MAX, CS_STORE_KEY_INLINE_BYTES_MAX + 1, 511,
        512, CS_STORE_KEY_BYTES_MAX};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        put1(s, CS_STORE_DB_DATA, key, lens[i], &lens[i], sizeof lens[i]);
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_DATA, key, big, "", 0), CS_ETOOBIG);
    CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, key, big), CS_ETOOBIG);
    const uint8_t *v;
    size_t vl;
    CS_CHECK_RC(cs_store_get(t, CS_STORE_DB_DATA, key, big, &v, &vl), CS_ETOOBIG);
    CS_CHECK_OK(cs_store_commit(t));
    cs_store_close(s);
    s = open_store(dir, 0, 0);
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t got, n;
        CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, key, lens[i], &got, &n));
        CS_CHECK_EQ(n, sizeof got);
        CS_CHECK_EQ(got, lens[i]);
    }
    /* Values: CS_STORE_VALUE_BYTES_MAX fits (the map grows for it), one more does not. */
    size_t vmax = CS_STORE_VALUE_BYTES_MAX;
    uint8_t *value = calloc(1, vmax + 1);
    value[vmax - 1] = 0xab;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_SNAPSHOT, "v", 1, value, vmax + 1), CS_ETOOBIG);
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_SNAPSHOT, "v", 1, value, vmax));
    CS_CHECK_OK(cs_store_commit(t));
    CS_CHECK_OK(cs_store_txn_begin(s, true, &t));
    CS_CHECK_OK(cs_store_get(t, CS_STORE_DB_SNAPSHOT, "v", 1, &v, &vl));
    CS_CHECK_EQ(vl, vmax);
    CS_CHECK_EQ(v[vmax - 1], 0xab);
    cs_store_abort(t);
    free(value);
    free(key);
    cs_store_close(s);
    tmpdir_free();
}

/* Long keys: put, overwrite, get, delete, across a reopen. */
CS_TEST(long_keys_round_trip)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, 0, 0);
    uint8_t k1[2000], k2[2000];
    memset(k1, 'a', sizeof k1);
    memcpy(k2, k1, sizeof k2);
    k2[1999] = 'b'; /* same 480-byte prefix: same run */
    put1(s, CS_STORE_DB_DATA, k1, sizeof k1, "one", 3);
    put1(s, CS_STORE_DB_DATA, k2, sizeof k2, "two", 3);
    put1(s, CS_STORE_DB_DATA, k1, sizeof k1, "ONE!", 4);
    put1(s, CS_STORE_DB_DATA, k1, 1000, "short", 5); /* a prefix of k1, also long */
    cs_store_close(s);
    s = open_store(dir, 0, 0);
    char buf[16];
    size_t n;
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, k1, sizeof k1, buf, &n));
    CS_CHECK(n == 4 && memcmp(buf, "ONE!", 4) == 0);
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, k2, sizeof k2, buf, &n));
    CS_CHECK(n == 3 && memcmp(buf, "two", 3) == 0);
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, k1, 1000, buf, &n));
    CS_CHECK(n == 5);
    CS_CHECK_RC(get1(s, CS_STORE_DB_DATA, k1, 1999, buf, &n), CS_ENOTFOUND);
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_OK(cs_store_del(t, CS_STORE_DB_DATA, k1, sizeof k1));
    CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, k1, sizeof k1), CS_ENOTFOUND);
    uint64_t count;
    CS_CHECK_OK(cs_store_count(t, CS_STORE_DB_DATA, &count));
    CS_CHECK_EQ(count, 2);
    CS_CHECK_OK(cs_store_commit(t));
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, k2, sizeof k2, buf, &n));
    cs_store_close(s);
    tmpdir_free();
}

static uint64_t hash_constant(const void *key, size_t key_len)
{
    (void)key, (void)key_len;
    return 42;
}

/* Every long key collides: the collision chain resolves them, holes are reused, and
 * CS_STORE_COLLISIONS_MAX + 1 is refused without harming the transaction. */
CS_TEST(long_key_collisions)
{
    const char *dir = tmpdir_new();
    struct cs_store_options o = {.dir = dir, .long_key_hash = hash_constant};
    struct cs_store *s;
    CS_CHECK_OK(cs_store_open(&o, &s));
    uint8_t key[600];
    memset(key, 'k', sizeof key);
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    for (uint32_t i = 0; i < CS_STORE_COLLISIONS_MAX; i++) {
        memcpy(key + 590, &i, sizeof i);
        CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, key, sizeof key, &i, sizeof i));
    }
    uint32_t extra = CS_STORE_COLLISIONS_MAX;
    memcpy(key + 590, &extra, sizeof extra);
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_DATA, key, sizeof key, "", 0), CS_ENOSPACE);
    uint32_t seven = 7;
    memcpy(key + 590, &seven, sizeof seven);
    CS_CHECK_OK(cs_store_del(t, CS_STORE_DB_DATA, key, sizeof key)); /* a hole at 7 */
    memcpy(key + 590, &extra, sizeof extra);
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, key, sizeof key, &extra, sizeof extra));
    CS_CHECK_OK(cs_store_commit(t));
    cs_store_close(s);
    CS_CHECK_OK(cs_store_open(&o, &s));
    CS_CHECK_OK(cs_store_txn_begin(s, true, &t));
    for (uint32_t i = 0; i <= CS_STORE_COLLISIONS_MAX; i++) {
        memcpy(key + 590, &i, sizeof i);
        const uint8_t *v;
        size_t vl;
        int rc = cs_store_get(t, CS_STORE_DB_DATA, key, sizeof key, &v, &vl);
        if (i == 7) {
            CS_CHECK_RC(rc, CS_ENOTFOUND);
            continue;
        }
        CS_CHECK_OK(rc);
        CS_CHECK(vl == sizeof i && memcmp(v, &i, sizeof i) == 0);
    }
    /* Iteration visits the whole run once. */
    size_t seen = 0;
    const uint8_t *k = NULL, *v;
    size_t kl = 0, vl;
    while (cs_store_next(t, CS_STORE_DB_DATA, k, kl, false, &k, &kl, &v, &vl) == 0)
        seen++;
    CS_CHECK_EQ(seen, CS_STORE_COLLISIONS_MAX);
    cs_store_abort(t);
    cs_store_close(s);
    tmpdir_free();
}

static int key_cmp(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

/* Short keys and long keys with distinct prefixes iterate in exact memcmp order,
 * shorter first on a common prefix; bounds are inclusive or exclusive as asked. */
CS_TEST(iteration_order_and_bounds)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, 0, 0);
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    struct cs_rng rng;
    cs_rng_init(&rng, cs_test_seed());
    enum { N = 300 };
    static uint8_t keys[N][700];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        static const size_t choices[] = {1, 2, 5, 479, 480, 481, 600, 700};
        lens[i] = choices[cs_rng_below(&rng, 8)];
        for (size_t j = 0; j < lens[i]; j++)
            keys[i][j] = (uint8_t)('a' + cs_rng_below(&rng, 3));
        /* Distinct prefixes for long keys: a unique tag inside the first 480 bytes. */
        if (lens[i] > 480) memcpy(&keys[i][400], &i, sizeof i);
        CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, keys[i], lens[i], &i, sizeof i));
    }
    /* Expected: distinct keys, sorted. */
    int order[N], m = 0;
    for (int i = 0; i < N; i++) {
        bool dup = false;
        for (int j = i + 1; j < N && !dup; j++)
            dup = key_cmp(keys[i], lens[i], keys[j], lens[j]) == 0;
        if (!dup) order[m++] = i;
    }
    for (int i = 1; i < m; i++)
        for (int j = i; j > 0 && key_cmp(keys[order[j - 1]], lens[order[j - 1]], keys[order[j]],
                                         lens[order[j]]) > 0;
             j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    const uint8_t *k = NULL, *v;
    size_t kl = 0, vl;
    int seen = 0;
    while (cs_store_next(t, CS_STORE_DB_DATA, k, kl, false, &k, &kl, &v, &vl) == 0) {
        CS_CHECK(seen < m);
        CS_CHECK_EQ(kl, lens[order[seen]]);
        CS_CHECK_MEM(k, keys[order[seen]], kl);
        seen++;
    }
    CS_CHECK_EQ(seen, m);
    /* Inclusive seek to a stored key returns it; exclusive skips it. */
    int mid = order[m / 2], after = order[m / 2 + 1];
    CS_CHECK_OK(cs_store_next(t, CS_STORE_DB_DATA, keys[mid], lens[mid], true, &k, &kl, &v, &vl));
    CS_CHECK(kl == lens[mid] && memcmp(k, keys[mid], kl) == 0);
    CS_CHECK_OK(cs_store_next(t, CS_STORE_DB_DATA, keys[mid], lens[mid], false, &k, &kl, &v, &vl));
    CS_CHECK(kl == lens[after] && memcmp(k, keys[after], kl) == 0);
    /* Past the last key: not found. */
    uint8_t top[3] = {0xff, 0xff, 0xff};
    CS_CHECK_RC(cs_store_next(t, CS_STORE_DB_DATA, top, 3, true, &k, &kl, &v, &vl), CS_ENOTFOUND);
    CS_CHECK_RC(cs_store_next(t, CS_STORE_DB_DATA, top, 0, true, &k, &kl, &v, &vl), CS_ETOOBIG);
    CS_CHECK_RC(cs_store_next(t, (enum cs_store_db)77, NULL, 0, true, &k, &kl, &v, &vl), CS_EINVAL);
    cs_store_abort(t);
    cs_store_close(s);
    tmpdir_free();
}

/* A scan from an absent long bound starts at the head of the bound's run. */
CS_TEST(absent_long_bound_starts_at_run_head)
{
    const char *dir = tmpdir_new();
    struct cs_store_options o = {.dir = dir, .long_key_hash = hash_constant};
    struct cs_store *s;
    CS_CHECK_OK(cs_store_open(&o, &s));
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    uint8_t key[500];
    memset(key, 'p', sizeof key);
    for (uint8_t c = 'a'; c <= 'e'; c += 2) { /* a, c, e */
        key[499] = c;
        CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, key, sizeof key, &c, 1));
    }
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "z", 1, "", 0));
    key[499] = 'd'; /* absent: the run is a, c, e in collision (insertion) order */
    const uint8_t *k, *v;
    size_t kl, vl;
    CS_CHECK_OK(cs_store_next(t, CS_STORE_DB_DATA, key, sizeof key, false, &k, &kl, &v, &vl));
    CS_CHECK(kl == sizeof key && k[499] == 'a');
    int n = 1;
    while (cs_store_next(t, CS_STORE_DB_DATA, k, kl, false, &k, &kl, &v, &vl) == 0)
        n++;
    CS_CHECK_EQ(n, 4); /* a, c, e, z: every key >= the bound, plus run members below it */
    cs_store_abort(t);
    cs_store_close(s);
    tmpdir_free();
}

/* The same with the real hash: the run spans many hashes, and a scan from an absent
 * bound must still return every key >= the bound. */
CS_TEST(absent_long_bound_with_real_hash)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, 0, 0);
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    uint8_t key[500];
    memset(key, 'p', sizeof key);
    enum { RUN = 40 };
    for (int i = 0; i < RUN; i++) {
        key[498] = (uint8_t)('a' + i / 26);
        key[499] = (uint8_t)('a' + i % 26);
        CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, key, sizeof key, "", 0));
    }
    for (int bound = 0; bound < RUN; bound++) {
        key[498] = (uint8_t)('a' + bound / 26);
        key[499] = (uint8_t)('a' + bound % 26);
        key[499] ^= 0x80; /* absent: sorts among the run, never equal */
        const uint8_t *k, *v;
        size_t kl, vl;
        int at_or_above = 0;
        const uint8_t *after = key;
        size_t after_len = sizeof key;
        while (cs_store_next(t, CS_STORE_DB_DATA, after, after_len, false, &k, &kl, &v, &vl) == 0) {
            CS_CHECK(kl == sizeof key);
            at_or_above += memcmp(k, key, kl) >= 0;
            after = k;
            after_len = kl;
        }
        int want = 0; /* run members at or above the bound, by memcmp */
        for (int i = 0; i < RUN; i++) {
            uint8_t tail[2] = {(uint8_t)('a' + i / 26), (uint8_t)('a' + i % 26)};
            want += memcmp(tail, key + 498, 2) >= 0;
        }
        CS_CHECK_EQ(at_or_above, want);
    }
    cs_store_abort(t);
    cs_store_close(s);
    tmpdir_free();
}

/* A transaction journals at most txn_bytes_max bytes (each write: 10 bytes of header,
 * the key, the value); past it the write is refused and the transaction still commits. */
CS_TEST(txn_bytes_limit)
{
    const char *dir = tmpdir_new();
    struct cs_store_options o = {.dir = dir, .txn_bytes_max = 1000};
    struct cs_store *s;
    CS_CHECK_OK(cs_store_open(&o, &s));
    static uint8_t value[1000];
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "a", 1, value, 989)); /* exactly 1000 */
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_DATA, "b", 1, "", 0), CS_ETOOBIG);
    CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, "a", 1), CS_ETOOBIG);
    CS_CHECK_OK(cs_store_commit(t));
    size_t n;
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, "a", 1, value, &n));
    CS_CHECK_EQ(n, 989);
    cs_store_close(s);
    o.txn_bytes_max = CS_STORE_TXN_BYTES_MAX + 1;
    CS_CHECK_RC(cs_store_open(&o, &s), CS_EINVAL);
    tmpdir_free();
}

/* The map grows inside one transaction (journal replay) and is capped. */
CS_TEST(map_grows_then_enospace)
{
    const char *dir = tmpdir_new();
    struct cs_store *s = open_store(dir, CS_STORE_MAP_BYTES_MIN, 64u << 20);
    uint8_t value[4096];
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    for (uint32_t i = 0; i < 2048; i++) { /* ~8 MiB in one transaction */
        memset(value, (int)i, sizeof value);
        CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, &i, sizeof i, value, sizeof value));
    }
    CS_CHECK_OK(cs_store_commit(t));
    CS_CHECK(cs_store_map_bytes(s) > CS_STORE_MAP_BYTES_MIN);
    cs_store_close(s);
    /* Reopen with a smaller cap: the existing map size is kept. */
    s = open_store(dir, CS_STORE_MAP_BYTES_MIN, 64u << 20);
    CS_CHECK(cs_store_map_bytes(s) >= (8u << 20));
    uint32_t i = 2047;
    size_t n;
    CS_CHECK_OK(get1(s, CS_STORE_DB_DATA, &i, sizeof i, value, &n));
    CS_CHECK(n == sizeof value && value[0] == (uint8_t)2047);
    cs_store_close(s);
    tmpdir_free();

    dir = tmpdir_new();
    s = open_store(dir, CS_STORE_MAP_BYTES_MIN, 2u << 20);
    CS_CHECK_OK(cs_store_txn_begin(s, false, &t));
    int rc = 0;
    for (uint32_t j = 0; j < 2048 && rc == 0; j++)
        rc = cs_store_put(t, CS_STORE_DB_DATA, &j, sizeof j, value, sizeof value);
    CS_CHECK_RC(rc, CS_ENOSPACE);
    CS_CHECK_RC(cs_store_put(t, CS_STORE_DB_DATA, "x", 1, "", 0), CS_ENOSPACE); /* failed txn */
    CS_CHECK_RC(cs_store_commit(t), CS_ENOSPACE);
    CS_CHECK_EQ_U64(cs_store_map_bytes(s), 2u << 20);
    put1(s, CS_STORE_DB_DATA, "after", 5, "ok", 2); /* the store itself is fine */
    cs_store_close(s);
    tmpdir_free();
}

CS_TEST_MAIN(CS_CASE(commit_is_durable_abort_is_not), CS_CASE(del_get_count_and_errors),
             CS_CASE(open_rejects_bad_options_and_versions), CS_CASE(key_and_value_limits),
             CS_CASE(long_keys_round_trip), CS_CASE(long_key_collisions),
             CS_CASE(iteration_order_and_bounds), CS_CASE(absent_long_bound_starts_at_run_head),
             CS_CASE(absent_long_bound_with_real_hash), CS_CASE(txn_bytes_limit),
             CS_CASE(map_grows_then_enospace))
