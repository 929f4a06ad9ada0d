/*
 * kv_fixture.h: what the kv unit tests share: a map, the log index and the
 * clock the commands carry, and one-line builders for ops. Static inline, so
 * a test that uses only part of it compiles without warnings.
 */
#ifndef CS_TESTS_KV_FIXTURE_H
#define CS_TESTS_KV_FIXTURE_H

#include <stdbool.h>
#include <string.h>

#include "consist/kv.h"
#include "testlib.h"

struct fixture {
    struct cs_kv *kv;
    uint64_t index;
    uint64_t now_ms; /* stamped on every command */
    bool unchecked;  /* skip the invariant walk: a planted bug's run checks for itself */
    struct cs_buf reply_bytes;
    struct cs_kv_reply reply;
};

static inline void setup(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    CS_CHECK_OK(cs_kv_new(&f->kv));
    cs_buf_init(&f->reply_bytes, CS_KV_REPLY_BYTES_MAX);
    f->now_ms = 1000;
}

static inline void teardown(struct fixture *f)
{
    cs_buf_free(&f->reply_bytes);
    cs_kv_free(f->kv);
}

static inline struct cs_kv_op op(uint8_t type, const char *key)
{
    struct cs_kv_op o;
    memset(&o, 0, sizeof o);
    o.type = type;
    o.key = (const uint8_t *)key;
    o.key_len = key ? (uint32_t)strlen(key) : 0;
    return o;
}

static inline struct cs_kv_op set(const char *key, const char *value, uint8_t flags, uint64_t at_ms)
{
    struct cs_kv_op o = op(CS_KV_SET, key);
    o.value = (const uint8_t *)value;
    o.value_len = (uint32_t)strlen(value);
    o.flags = flags;
    o.expire_at_ms = at_ms;
    return o;
}

/* Apply ops[0..n) as one command of client (0: no session) at the next index;
 * the reply lands in f->reply; the invariant walk runs unless f->unchecked. */
static inline int apply_as(struct fixture *f, uint64_t client, uint64_t seq,
                           const struct cs_kv_op *ops, uint32_t n)
{
    static struct cs_kv_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.client_id = client;
    cmd.seq = seq;
    cmd.now_ms = f->now_ms;
    cmd.ops_len = n;
    memcpy(cmd.ops, ops, n * sizeof ops[0]);
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    CS_CHECK_OK(cs_kv_command_encode(&cmd, &enc));
    cs_buf_reset(&f->reply_bytes);
    CS_CHECK_OK(cs_kv_apply(f->kv, ++f->index, enc.data, enc.len, &f->reply_bytes));
    cs_buf_free(&enc);
    CS_CHECK_OK(cs_kv_reply_decode(f->reply_bytes.data, f->reply_bytes.len, &f->reply));
    if (!f->unchecked) CS_CHECK_OK(cs_kv_check(f->kv));
    return f->reply.rc;
}

static inline int apply(struct fixture *f, const struct cs_kv_op *ops, uint32_t n)
{
    return apply_as(f, 0, 0, ops, n);
}

static inline const struct cs_kv_result *one(struct fixture *f, struct cs_kv_op o)
{
    CS_CHECK_OK(apply(f, &o, 1));
    CS_CHECK_EQ(f->reply.results_len, 1);
    return &f->reply.results[0];
}

#endif
