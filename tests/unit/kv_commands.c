/*
 * kv_commands.c: the key-value state machine, operation by operation.
 *
 * Method: commands are built, encoded and applied at increasing log indexes
 * exactly as a replica would apply committed entries; each test decodes the
 * reply and checks it and the map. Covers every operation and flag, MULTI /
 * EXEC, client sessions (a retry applies once and gets the first reply),
 * snapshots, and every size limit at the limit and one past it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/kv.h"
#include "testlib.h"

struct fixture {
    struct cs_kv *kv;
    uint64_t index;
    struct cs_buf reply_bytes;
    struct cs_kv_reply reply;
};

static void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    CS_CHECK_OK(cs_kv_new(&f->kv));
    cs_buf_init(&f->reply_bytes, CS_KV_REPLY_BYTES_MAX);
}

static void teardown(struct fixture *f)
{
    cs_buf_free(&f->reply_bytes);
    cs_kv_free(f->kv);
}

static struct cs_kv_op op(uint8_t type, const char *key)
{
    struct cs_kv_op o;
    memset(&o, 0, sizeof o);
    o.type = type;
    o.key = (const uint8_t *)key;
    o.key_len = (uint32_t)strlen(key);
    return o;
}

static struct cs_kv_op set(const char *key, const char *value, uint8_t flags)
{
    struct cs_kv_op o = op(CS_KV_SET, key);
    o.value = (const uint8_t *)value;
    o.value_len = (uint32_t)strlen(value);
    o.flags = flags;
    return o;
}

/* Apply a command of ops for a session; returns the reply's rc. */
static int apply(struct fixture *f, uint64_t client, uint64_t seq, const struct cs_kv_op *ops,
                 uint32_t n)
{
    static struct cs_kv_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.client_id = client;
    cmd.seq = seq;
    cmd.ops_len = n;
    memcpy(cmd.ops, ops, n * sizeof ops[0]);
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    CS_CHECK_OK(cs_kv_command_encode(&cmd, &enc));
    cs_buf_reset(&f->reply_bytes);
    CS_CHECK_OK(cs_kv_apply(f->kv, ++f->index, enc.data, enc.len, &f->reply_bytes));
    cs_buf_free(&enc);
    CS_CHECK_OK(cs_kv_reply_decode(f->reply_bytes.data, f->reply_bytes.len, &f->reply));
    return f->reply.rc;
}

static const struct cs_kv_result *one(struct fixture *f, struct cs_kv_op o)
{
    CS_CHECK_OK(apply(f, 0, 0, &o, 1));
    CS_CHECK_EQ(f->reply.results_len, 1);
    return &f->reply.results[0];
}

static void check_value(const struct cs_kv_result *r, const char *want)
{
    CS_CHECK_EQ(r->value_len, strlen(want));
    CS_CHECK_MEM(r->value, want, strlen(want));
}

/* GET, SET and its NX / XX / GET flags, DEL, EXISTS. */
CS_TEST(get_set_del_exists)
{
    struct fixture f;
    setup(&f);
    CS_CHECK_RC(one(&f, op(CS_KV_GET, "a"))->rc, CS_ENOTFOUND);
    CS_CHECK_OK(one(&f, set("a", "1", 0))->rc);
    check_value(one(&f, op(CS_KV_GET, "a")), "1");
    CS_CHECK_RC(one(&f, set("a", "2", CS_KV_SET_NX))->rc, CS_EEXIST);
    CS_CHECK_RC(one(&f, set("b", "2", CS_KV_SET_XX))->rc, CS_ENOTFOUND);
    CS_CHECK_OK(one(&f, set("b", "2", CS_KV_SET_NX))->rc);
    const struct cs_kv_result *r = one(&f, set("a", "3", CS_KV_SET_GET | CS_KV_SET_XX));
    CS_CHECK_OK(r->rc);
    CS_CHECK(r->found);
    check_value(r, "1");
    check_value(one(&f, op(CS_KV_GET, "a")), "3");
    CS_CHECK_EQ(one(&f, op(CS_KV_EXISTS, "a"))->number, 1);
    CS_CHECK_EQ(one(&f, op(CS_KV_DEL, "a"))->number, 1);
    CS_CHECK_EQ(one(&f, op(CS_KV_EXISTS, "a"))->number, 0);
    CS_CHECK_RC(one(&f, op(CS_KV_DEL, "a"))->rc, CS_ENOTFOUND);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 1);
    const uint8_t *v;
    size_t vlen;
    CS_CHECK_OK(cs_kv_get(f.kv, "b", 1, 0, &v, &vlen));
    CS_CHECK_EQ(vlen, 1);
    CS_CHECK_RC(cs_kv_get(f.kv, "a", 1, 0, &v, &vlen), CS_ENOTFOUND);
    teardown(&f);
}

/* INCRBY: decimal int64 text, missing key counts as 0, overflow and non-numbers refused. */
CS_TEST(incrby)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_op inc = op(CS_KV_INCRBY, "n");
    inc.delta = 5;
    CS_CHECK_EQ(one(&f, inc)->number, 5);
    inc.delta = -7;
    CS_CHECK_EQ(one(&f, inc)->number, -2);
    check_value(one(&f, op(CS_KV_GET, "n")), "-2");
    one(&f, set("n", "9223372036854775806", 0));
    inc.delta = 1;
    CS_CHECK_EQ(one(&f, inc)->number, INT64_MAX);
    CS_CHECK_RC(one(&f, inc)->rc, CS_EOVERFLOW);
    const char *bad[] = {"abc", "", "01", "+1", " 1", "1 ", "-0", "99999999999999999999"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        one(&f, set("s", bad[k], 0));
        CS_CHECK_MSG(one(&f, (struct cs_kv_op){.type = CS_KV_INCRBY,
                                               .key = (const uint8_t *)"s",
                                               .key_len = 1,
                                               .delta = 1})
                             ->rc == CS_EPARSE,
                     "value \"%s\"", bad[k]);
    }
    teardown(&f);
}

/* CAS: set only if the current value equals the expected one (or the key is absent). */
CS_TEST(cas)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_op c = op(CS_KV_CAS, "k");
    c.flags = CS_KV_CAS_ABSENT;
    c.value = (const uint8_t *)"v1";
    c.value_len = 2;
    CS_CHECK_OK(one(&f, c)->rc);
    CS_CHECK_RC(one(&f, c)->rc, CS_ECONFLICT); /* no longer absent */
    c.flags = 0;
    c.expected = (const uint8_t *)"v0";
    c.expected_len = 2;
    c.value = (const uint8_t *)"v2";
    CS_CHECK_RC(one(&f, c)->rc, CS_ECONFLICT);
    check_value(one(&f, op(CS_KV_GET, "k")), "v1");
    c.expected = (const uint8_t *)"v1";
    CS_CHECK_OK(one(&f, c)->rc);
    check_value(one(&f, op(CS_KV_GET, "k")), "v2");
    struct cs_kv_op miss = c;
    miss.key = (const uint8_t *)"zz";
    miss.key_len = 2;
    CS_CHECK_RC(one(&f, miss)->rc, CS_ECONFLICT);
    teardown(&f);
}

/* MULTI/EXEC: several operations in one entry, each seeing the ones before it. */
CS_TEST(multi_exec_in_one_entry)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_op ops[4] = {set("x", "10", 0), op(CS_KV_INCRBY, "x"), op(CS_KV_GET, "x"),
                              op(CS_KV_DEL, "x")};
    ops[1].delta = 5;
    uint64_t before = cs_kv_applied_index(f.kv);
    CS_CHECK_OK(apply(&f, 0, 0, ops, 4));
    CS_CHECK_EQ(cs_kv_applied_index(f.kv), before + 1);
    CS_CHECK_EQ(f.reply.results_len, 4);
    CS_CHECK_EQ(f.reply.results[1].number, 15);
    check_value(&f.reply.results[2], "15");
    CS_CHECK_EQ(f.reply.results[3].number, 1);
    CS_CHECK_EQ(cs_kv_keys(f.kv), 0);
    teardown(&f);
}

/* Sessions: a retried command is applied once and answered with the first reply. */
CS_TEST(session_retry_applies_once)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_op inc = op(CS_KV_INCRBY, "n");
    inc.delta = 1;
    CS_CHECK_OK(apply(&f, 42, 1, &inc, 1));
    CS_CHECK_EQ(f.reply.results[0].number, 1);
    CS_CHECK_RC(apply(&f, 42, 1, &inc, 1), CS_EEXIST); /* the retry */
    CS_CHECK_EQ(f.reply.results[0].number, 1);         /* the first reply, not 2 */
    CS_CHECK_OK(apply(&f, 42, 2, &inc, 1));
    CS_CHECK_EQ(f.reply.results[0].number, 2);
    CS_CHECK_RC(apply(&f, 42, 1, &inc, 1), CS_ERANGE); /* older than the last */
    check_value(one(&f, op(CS_KV_GET, "n")), "2");
    /* A client unknown to the map with seq > 1 has lost its session. */
    CS_CHECK_RC(apply(&f, 43, 5, &inc, 1), CS_ENOTFOUND);
    check_value(one(&f, op(CS_KV_GET, "n")), "2");
    /* Client 0 has no session: every apply counts. */
    CS_CHECK_OK(apply(&f, 0, 1, &inc, 1));
    CS_CHECK_OK(apply(&f, 0, 1, &inc, 1));
    check_value(one(&f, op(CS_KV_GET, "n")), "4");
    teardown(&f);
}

/* Sessions are bounded: the one idle longest is evicted, and its retry is refused. */
CS_TEST(session_table_bounded)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_op inc = op(CS_KV_INCRBY, "n");
    inc.delta = 1;
    for (uint64_t c = 1; c <= CS_KV_SESSIONS_MAX; c++)
        CS_CHECK_OK(apply(&f, c, 1, &inc, 1));
    CS_CHECK_EQ(cs_kv_sessions(f.kv), CS_KV_SESSIONS_MAX);
    CS_CHECK_OK(apply(&f, 1, 2, &inc, 1)); /* client 1 is fresh again; client 2 is oldest */
    CS_CHECK_OK(apply(&f, CS_KV_SESSIONS_MAX + 1, 1, &inc, 1));
    CS_CHECK_EQ(cs_kv_sessions(f.kv), CS_KV_SESSIONS_MAX);
    CS_CHECK_RC(apply(&f, 2, 2, &inc, 1), CS_ENOTFOUND);
    CS_CHECK_RC(apply(&f, 1, 2, &inc, 1), CS_EEXIST);
    teardown(&f);
}

/* Snapshot and restore: same state, same bytes; a bad snapshot changes nothing. */
CS_TEST(snapshot_round_trip)
{
    struct fixture f;
    setup(&f);
    for (int k = 0; k < 100; k++) {
        char key[16], value[16];
        snprintf(key, sizeof key, "key%03d", (k * 37) % 100);
        snprintf(value, sizeof value, "v%d", k);
        struct cs_kv_op s = set(key, value, 0);
        CS_CHECK_OK(apply(&f, 1 + (uint64_t)k % 5, 1 + (uint64_t)k / 5, &s, 1));
    }
    struct cs_buf snap, again;
    cs_buf_init(&snap, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&again, CS_KV_SNAPSHOT_BYTES_MAX);
    CS_CHECK_OK(cs_kv_snapshot(f.kv, &snap));
    struct cs_kv *copy;
    CS_CHECK_OK(cs_kv_new(&copy));
    CS_CHECK_OK(cs_kv_restore(copy, snap.data, snap.len));
    CS_CHECK_EQ(cs_kv_keys(copy), 100);
    CS_CHECK_EQ(cs_kv_sessions(copy), 5);
    CS_CHECK_EQ(cs_kv_applied_index(copy), f.index);
    CS_CHECK_OK(cs_kv_snapshot(copy, &again));
    CS_CHECK_EQ(again.len, snap.len);
    CS_CHECK_MEM(again.data, snap.data, snap.len);
    /* Every truncation is refused and leaves the copy as it was. */
    for (size_t cut = 0; cut < snap.len; cut += 7) {
        CS_CHECK(cs_kv_restore(copy, snap.data, cut) != 0);
        CS_CHECK_EQ(cs_kv_keys(copy), 100);
    }
    snap.data[0] = 99;
    CS_CHECK_RC(cs_kv_restore(copy, snap.data, snap.len), CS_EVERSION);
    cs_kv_free(copy);
    cs_buf_free(&snap);
    cs_buf_free(&again);
    teardown(&f);
}

/* A restored replica continues the sessions: a retry after restore still applies once. */
CS_TEST(snapshot_keeps_sessions)
{
    struct fixture f;
    setup(&f);
    struct cs_kv_op inc = op(CS_KV_INCRBY, "n");
    inc.delta = 3;
    CS_CHECK_OK(apply(&f, 7, 1, &inc, 1));
    struct cs_buf snap;
    cs_buf_init(&snap, CS_KV_SNAPSHOT_BYTES_MAX);
    CS_CHECK_OK(cs_kv_snapshot(f.kv, &snap));
    struct fixture g;
    setup(&g);
    CS_CHECK_OK(cs_kv_restore(g.kv, snap.data, snap.len));
    g.index = f.index;
    CS_CHECK_RC(apply(&g, 7, 1, &inc, 1), CS_EEXIST);
    CS_CHECK_EQ(g.reply.results[0].number, 3);
    check_value(one(&g, op(CS_KV_GET, "n")), "3");
    cs_buf_free(&snap);
    teardown(&g);
    teardown(&f);
}

/* Keys, values, ops and commands at their limits pass; one past is refused. */
CS_TEST(limits)
{
    struct fixture f;
    setup(&f);
    static uint8_t big[CS_KV_VALUE_BYTES_MAX + 1];
    memset(big, 'k', sizeof big);
    static struct cs_kv_command cmd;
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    memset(&cmd, 0, sizeof cmd);
    cmd.ops_len = 1;
    cmd.ops[0] = (struct cs_kv_op){.type = CS_KV_SET,
                                   .key = big,
                                   .key_len = CS_KV_KEY_BYTES_MAX,
                                   .value = big,
                                   .value_len = CS_KV_VALUE_BYTES_MAX};
    CS_CHECK_OK(cs_kv_command_encode(&cmd, &enc));
    cs_buf_reset(&f.reply_bytes);
    CS_CHECK_OK(cs_kv_apply(f.kv, 1, enc.data, enc.len, &f.reply_bytes));
    CS_CHECK_EQ(cs_kv_keys(f.kv), 1);
    cmd.ops[0].key_len = CS_KV_KEY_BYTES_MAX + 1;
    cs_buf_reset(&enc);
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_ETOOBIG);
    cmd.ops[0].key_len = 1;
    cmd.ops[0].value_len = CS_KV_VALUE_BYTES_MAX + 1;
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_ETOOBIG);
    cmd.ops[0].key_len = 0;
    cmd.ops[0].value_len = 1;
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_EINVAL);
    /* CS_KV_OPS_MAX small ops pass, one more does not. */
    for (uint32_t k = 0; k < CS_KV_OPS_MAX; k++)
        cmd.ops[k] = op(CS_KV_GET, "g");
    cmd.ops_len = CS_KV_OPS_MAX;
    cs_buf_reset(&enc);
    CS_CHECK_OK(cs_kv_command_encode(&cmd, &enc));
    struct cs_kv_command back;
    CS_CHECK_OK(cs_kv_command_decode(enc.data, enc.len, &back));
    CS_CHECK_EQ(back.ops_len, CS_KV_OPS_MAX);
    cmd.ops_len = CS_KV_OPS_MAX + 1; /* refused before any op is read */
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_ETOOBIG);
    /* A batch of large values passes the command limit as a whole. */
    for (uint32_t k = 0; k < 17; k++) {
        cmd.ops[k] = (struct cs_kv_op){.type = CS_KV_SET,
                                       .key = big,
                                       .key_len = 1,
                                       .value = big,
                                       .value_len = CS_KV_VALUE_BYTES_MAX};
    }
    cmd.ops_len = 15;
    cs_buf_reset(&enc);
    CS_CHECK_OK(cs_kv_command_encode(&cmd, &enc));
    cmd.ops_len = 17;
    cs_buf_reset(&enc);
    CS_CHECK_RC(cs_kv_command_encode(&cmd, &enc), CS_ETOOBIG);
    /* A decoder fed a key one byte too long says so. */
    uint8_t wire[8 + CS_KV_KEY_BYTES_MAX + 1];
    struct cs_buf w;
    cs_buf_init_fixed(&w, wire, sizeof wire);
    cs_put_u8(&w, 1);
    cs_put_uvarint(&w, 0);
    cs_put_uvarint(&w, 0);
    cs_put_uvarint(&w, 1);
    cs_put_u8(&w, CS_KV_GET);
    cs_put_u8(&w, 0);
    cs_put_uvarint(&w, CS_KV_KEY_BYTES_MAX + 1);
    CS_CHECK_RC(cs_kv_command_decode(w.data, w.len, &back), CS_ETOOBIG);
    cs_buf_free(&enc);
    teardown(&f);
}

/* An entry that is not a command is skipped alike on every replica. */
CS_TEST(garbage_entry_is_a_noop)
{
    struct fixture f;
    setup(&f);
    const uint8_t junk[] = {1, 0, 0, 0};
    CS_CHECK_OK(cs_kv_apply(f.kv, 1, junk, sizeof junk, &f.reply_bytes));
    CS_CHECK_OK(cs_kv_reply_decode(f.reply_bytes.data, f.reply_bytes.len, &f.reply));
    CS_CHECK_RC(f.reply.rc, CS_EDECODE);
    CS_CHECK_EQ(cs_kv_applied_index(f.kv), 1);
    teardown(&f);
}

CS_TEST_MAIN(CS_CASE(get_set_del_exists), CS_CASE(incrby), CS_CASE(cas),
             CS_CASE(multi_exec_in_one_entry), CS_CASE(session_retry_applies_once),
             CS_CASE(session_table_bounded), CS_CASE(snapshot_round_trip),
             CS_CASE(snapshot_keeps_sessions), CS_CASE(limits), CS_CASE(garbage_entry_is_a_noop))
