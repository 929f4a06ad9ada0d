/*
 * kv_watch.c: per-key modification indexes and CHECK, the state machine's WATCH.
 *
 * Method: commands applied at increasing log indexes as a replica would;
 * each test checks the mod_index that GET / EXISTS / TTL / CHECK results and
 * cs_kv_get_meta report. Covers: which operations move a key's mod_index and
 * which do not; CHECK passing and failing (present, absent, expired); a
 * failed CHECK applying nothing (the map's snapshot is byte-identical to
 * that of a replica that applied a no-op instead); the documented difference
 * from Redis (no tombstones); a retried failed EXEC; CHECK placement rules
 * and the op limit; a planted bug (CHECK counting an expired key) caught.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/kv.h"
#include "kv_fixture.h"
#include "testlib.h"

static struct cs_kv_op check(const char *key, uint64_t expected_index)
{
    struct cs_kv_op o = op(CS_KV_CHECK, key);
    o.expected_index = expected_index;
    return o;
}

/* The key's mod_index as a read without a command sees it (0 if absent). */
static uint64_t mod_of(const struct fixture *f, const char *key)
{
    struct cs_kv_meta meta;
    if (cs_kv_get_meta(f->kv, key, strlen(key), 0, &meta) != 0) return 0;
    return meta.mod_index;
}

/* Writes that change a key take their log index; reads and refused writes do not. */
CS_TEST(mod_index_follows_changes)
{
    struct fixture f;
    setup(&f);
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_GET, "k"))->mod_index, 0);
    one(&f, set("k", "1", 0, 0));
    uint64_t at = f.index;
    CS_CHECK_EQ_U64(mod_of(&f, "k"), at);
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_GET, "k"))->mod_index, at);
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_EXISTS, "k"))->mod_index, at);
    CS_CHECK_EQ_U64(one(&f, op(CS_KV_TTL, "k"))->mod_index, at);
    CS_CHECK_RC(one(&f, set("k", "2", CS_KV_SET_NX, 0))->rc, CS_EEXIST);
    CS_CHECK_EQ_U64(mod_of(&f, "k"), at);
    struct cs_kv_op inc = op(CS_KV_INCRBY, "k");
    inc.delta = 1;
    one(&f, inc);
    CS_CHECK_EQ_U64(mod_of(&f, "k"), f.index);
    struct cs_kv_op cas = op(CS_KV_CAS, "k");
    cas.expected = (const uint8_t *)"9";
    cas.expected_len = 1;
    cas.value = (const uint8_t *)"3";
    cas.value_len = 1;
    at = f.index;
    CS_CHECK_RC(one(&f, cas)->rc, CS_ECONFLICT);
    CS_CHECK_EQ_U64(mod_of(&f, "k"), at);
    cas.expected = (const uint8_t *)"2";
    CS_CHECK_OK(one(&f, cas)->rc);
    CS_CHECK_EQ_U64(mod_of(&f, "k"), f.index);
    struct cs_kv_op ex = op(CS_KV_EXPIRE, "k");
    ex.flags = CS_KV_EXPIRE_PERSIST;
    at = f.index;
    CS_CHECK_EQ(one(&f, ex)->number, 0); /* nothing to clear: unchanged */
    CS_CHECK_EQ_U64(mod_of(&f, "k"), at);
    ex.flags = 0;
    ex.expire_at_ms = 9000;
    one(&f, ex);
    CS_CHECK_EQ_U64(mod_of(&f, "k"), f.index);
    one(&f, op(CS_KV_DEL, "k"));
    CS_CHECK_EQ_U64(mod_of(&f, "k"), 0);
    one(&f, set("k", "1", 0, 0));
    CS_CHECK_EQ_U64(mod_of(&f, "k"), f.index);
    teardown(&f);
}

/* CHECK passes on the key's current mod_index, or 0 for an absent (or expired) key. */
CS_TEST(check_pass_and_fail)
{
    struct fixture f;
    setup(&f);
    one(&f, set("a", "1", 0, 0));
    uint64_t a_at = f.index;
    one(&f, set("t", "1", 0, 1500));
    struct cs_kv_op ops[4] = {check("a", a_at), check("nope", 0), set("b", "2", 0, 0),
                              op(CS_KV_GET, "a")};
    CS_CHECK_OK(apply(&f, ops, 4));
    CS_CHECK_EQ(f.reply.results_len, 4);
    CS_CHECK(f.reply.results[0].found && f.reply.results[0].mod_index == a_at);
    CS_CHECK(!f.reply.results[1].found);
    CS_CHECK_EQ_U64(mod_of(&f, "b"), f.index);
    ops[0] = check("a", a_at + 1);
    CS_CHECK_RC(apply(&f, ops, 4), CS_ECONFLICT);
    CS_CHECK_EQ(f.reply.results_len, 0);
    ops[0] = check("a", 0); /* present: "absent" fails */
    CS_CHECK_RC(apply(&f, ops, 4), CS_ECONFLICT);
    /* An expired key counts as absent, as Redis aborts an EXEC whose watched key expired. */
    f.now_ms = 1500;
    uint64_t t_at = 2;
    ops[0] = check("t", t_at);
    CS_CHECK_RC(apply(&f, ops, 1), CS_ECONFLICT);
    ops[0] = check("t", 0);
    CS_CHECK_OK(apply(&f, ops, 1));
    CS_CHECK(!f.reply.results[0].found);
    /* A command of CHECKs only is allowed; CS_KV_OPS_MAX of them pass, one more is refused. */
    struct cs_kv_op many[CS_KV_OPS_MAX];
    for (uint32_t k = 0; k < CS_KV_OPS_MAX; k++)
        many[k] = check("a", a_at);
    CS_CHECK_OK(apply(&f, many, CS_KV_OPS_MAX));
    CS_CHECK_EQ(f.reply.results_len, CS_KV_OPS_MAX);
    teardown(&f);
}

/* A failed CHECK applies nothing: not the ops, not even the removal of an expired key. */
CS_TEST(failed_check_applies_nothing)
{
    struct fixture f, g;
    setup(&f);
    setup(&g);
    struct cs_kv_op prep[3] = {set("a", "1", 0, 0), set("n", "5", 0, 0), set("t", "v", 0, 1200)};
    CS_CHECK_OK(apply(&f, prep, 3));
    CS_CHECK_OK(apply(&g, prep, 3));
    f.now_ms = g.now_ms = 1300; /* t is now expired, still in the map */
    struct cs_kv_op inc = op(CS_KV_INCRBY, "n");
    inc.delta = 10;
    struct cs_kv_op ops[7] = {check("n", 1),        check("a", 99),      inc,
                              op(CS_KV_DEL, "a"),   set("t", "w", 0, 0), op(CS_KV_GET, "t"),
                              op(CS_KV_PURGE, NULL)};
    CS_CHECK_RC(apply(&f, ops, 7), CS_ECONFLICT);
    struct cs_kv_op noop = op(CS_KV_GET, "elsewhere"); /* the same clock, nothing touched */
    CS_CHECK_RC(apply(&g, &noop, 1), 0);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 3);
    struct cs_buf a, b;
    cs_buf_init(&a, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&b, CS_KV_SNAPSHOT_BYTES_MAX);
    CS_CHECK_OK(cs_kv_snapshot(f.kv, &a));
    CS_CHECK_OK(cs_kv_snapshot(g.kv, &b));
    CS_CHECK_EQ(a.len, b.len);
    CS_CHECK_MEM(a.data, b.data, a.len);
    /* With the checks right, all of it applies. */
    ops[1] = check("a", 1);
    CS_CHECK_OK(apply(&f, ops, 7));
    CS_CHECK_EQ(f.reply.results[2].number, 15);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 2); /* a deleted; t expired, then set again */
    cs_buf_free(&a);
    cs_buf_free(&b);
    teardown(&g);
    teardown(&f);
}

/* The difference from Redis, by design: no tombstones, so delete-and-recreate-absent passes. */
CS_TEST(absent_again_passes)
{
    struct fixture f;
    setup(&f);
    uint64_t watched = mod_of(&f, "k"); /* WATCH k while absent: 0 */
    one(&f, set("k", "1", 0, 0));
    one(&f, op(CS_KV_DEL, "k"));
    struct cs_kv_op ops[2] = {check("k", watched), set("k", "mine", 0, 0)};
    CS_CHECK_OK(apply(&f, ops, 2)); /* Redis would abort this EXEC */
    teardown(&f);
}

/* A retried EXEC whose CHECK failed gets the same null answer, not "duplicate". */
CS_TEST(failed_check_retried)
{
    struct fixture f;
    setup(&f);
    one(&f, set("a", "1", 0, 0));
    struct cs_kv_op ops[2] = {check("a", 77), set("a", "2", 0, 0)};
    CS_CHECK_RC(apply_as(&f, 5, 1, ops, 2), CS_ECONFLICT);
    CS_CHECK_RC(apply_as(&f, 5, 1, ops, 2), CS_ECONFLICT);
    CS_CHECK_EQ(f.reply.results_len, 0);
    CS_CHECK_EQ_U64(mod_of(&f, "a"), 1);
    ops[0] = check("a", 1);
    CS_CHECK_OK(apply_as(&f, 5, 2, ops, 2));
    CS_CHECK_RC(apply_as(&f, 5, 2, ops, 2), CS_EEXIST); /* a passed one replays as a duplicate */
    CS_CHECK_EQ(f.reply.results_len, 2);
    teardown(&f);
}

/* CHECKs come first: the encoder refuses one after another op, and so does the decoder. */
CS_TEST(check_placement)
{
    static struct cs_kv_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.ops_len = 2;
    cmd.ops[0] = op(CS_KV_GET, "a");
    cmd.ops[1] = check("a", 1);
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_EINVAL);
    cmd.ops[0] = check("a", 1);
    cmd.ops[1] = op(CS_KV_GET, "a");
    CS_CHECK_OK(cs_kv_command_encode(&cmd, &enc));
    /* Swap the two encoded ops (GET a = 4 bytes, CHECK a 1 = 5 bytes) and decode. */
    uint8_t swapped[32];
    size_t head = enc.len - 9;
    memcpy(swapped, enc.data, head);
    memcpy(swapped + head, enc.data + head + 5, 4);
    memcpy(swapped + head + 4, enc.data + head, 5);
    struct cs_kv_command back;
    CS_CHECK_OK(cs_kv_command_decode(enc.data, enc.len, &back));
    CS_CHECK_RC(cs_kv_command_decode(swapped, enc.len, &back), CS_EDECODE);
    cmd.ops_len = 1;
    cmd.ops[0].flags = 1;
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_EINVAL);
    cmd.ops[0] = op(CS_KV_GET, "a");
    cmd.ops[0].expected_index = 3; /* only CHECK carries one */
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_EINVAL);
    cs_buf_free(&enc);
}

/* Whether CHECK treats an expired key as absent; returned, so a planted bug shows. */
static bool check_sees_expiry(uint32_t bugs)
{
    struct fixture f;
    setup(&f);
    cs_kv_set_bugs(f.kv, bugs);
    struct cs_kv_op s = set("t", "v", 0, 1100);
    CS_CHECK_OK(apply(&f, &s, 1));
    uint64_t watched = mod_of(&f, "t");
    f.now_ms = 1100;
    struct cs_kv_op ops[2] = {check("t", watched), set("x", "1", 0, 0)};
    bool ok = apply(&f, ops, 2) == CS_ECONFLICT && mod_of(&f, "x") == 0;
    teardown(&f);
    return ok;
}

CS_TEST(planted_check_bug_caught)
{
    CS_CHECK(check_sees_expiry(0));
    CS_CHECK(!check_sees_expiry(CS_KV_BUG_CHECK_SEES_EXPIRED));
}

CS_TEST_MAIN(CS_CASE(mod_index_follows_changes), CS_CASE(check_pass_and_fail),
             CS_CASE(failed_check_applies_nothing), CS_CASE(absent_again_passes),
             CS_CASE(failed_check_retried), CS_CASE(check_placement),
             CS_CASE(planted_check_bug_caught))
