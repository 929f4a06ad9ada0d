/*
 * fuzz_kv_command.c: the key-value command decoder, and apply, on arbitrary bytes.
 *
 * Whatever the bytes, decoding fails with a CS_E code or yields a command
 * within every limit that re-encodes to exactly the input (a version-1
 * command re-encodes as version 2, which decodes to the same command);
 * applying the bytes to a map that holds keys with and without TTLs
 * (decodable or not) always yields a reply that decodes, and leaves the
 * map's invariants whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_bytes(const uint8_t *a, uint32_t a_len, const uint8_t *b, uint32_t b_len)
{
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static bool same_op(const struct cs_kv_op *a, const struct cs_kv_op *b)
{
    return a->type == b->type && a->flags == b->flags && a->delta == b->delta &&
           a->expire_at_ms == b->expire_at_ms && a->expected_index == b->expected_index &&
           same_bytes(a->key, a->key_len, b->key, b->key_len) &&
           same_bytes(a->value, a->value_len, b->value, b->value_len) &&
           same_bytes(a->expected, a->expected_len, b->expected, b->expected_len);
}

static void check_round_trip(const uint8_t *data, size_t size, const struct cs_kv_command *cmd)
{
    static struct cs_kv_command back;
    CS_ASSERT(cmd->ops_len >= 1 && cmd->ops_len <= CS_KV_OPS_MAX);
    struct cs_buf out;
    cs_buf_init(&out, CS_KV_COMMAND_BYTES_MAX);
    CS_ASSERT(cs_kv_command_encode(cmd, &out) == 0);
    if (data[0] == 2) {
        CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);
    } else {
        CS_ASSERT(data[0] == 1 && cmd->now_ms == 0);
        CS_ASSERT(cs_kv_command_decode(out.data, out.len, &back) == 0);
        CS_ASSERT(back.client_id == cmd->client_id && back.seq == cmd->seq);
        CS_ASSERT(back.now_ms == 0 && back.ops_len == cmd->ops_len);
        for (uint32_t k = 0; k < cmd->ops_len; k++)
            CS_ASSERT(same_op(&back.ops[k], &cmd->ops[k]));
    }
    cs_buf_free(&out);
}

/* A map with a live key, a key with a TTL, a counter with a TTL, at clock 100. */
static struct cs_kv *seeded_map(struct cs_buf *reply)
{
    static struct cs_kv_command setup;
    memset(&setup, 0, sizeof setup);
    setup.now_ms = 100;
    setup.ops_len = 3;
    const char *keys[] = {"k", "t", "n"};
    const char *values[] = {"v", "w", "5"};
    const uint64_t ttl[] = {0, 150, 200};
    for (uint32_t k = 0; k < 3; k++) {
        setup.ops[k] = (struct cs_kv_op){.type = CS_KV_SET,
                                         .key = (const uint8_t *)keys[k],
                                         .key_len = 1,
                                         .value = (const uint8_t *)values[k],
                                         .value_len = 1,
                                         .expire_at_ms = ttl[k]};
    }
    struct cs_kv *kv = NULL;
    if (cs_kv_new(&kv) != 0) return NULL;
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    CS_ASSERT(cs_kv_command_encode(&setup, &enc) == 0);
    CS_ASSERT(cs_kv_apply(kv, 1, enc.data, enc.len, reply) == 0);
    cs_buf_free(&enc);
    return kv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cs_kv_command cmd;
    int rc = cs_kv_command_decode(data, size, &cmd);
    if (rc == 0) {
        check_round_trip(data, size, &cmd);
    } else {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
    }
    struct cs_buf reply;
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    struct cs_kv *kv = seeded_map(&reply);
    if (!kv) {
        cs_buf_free(&reply);
        return 0;
    }
    /* Twice: the second time a session replays or the map has changed. */
    for (uint64_t index = 2; index <= 3; index++) {
        cs_buf_reset(&reply);
        CS_ASSERT(cs_kv_apply(kv, index, data, size, &reply) == 0);
        struct cs_kv_reply r;
        CS_ASSERT(cs_kv_reply_decode(reply.data, reply.len, &r) == 0);
        if (rc != 0) CS_ASSERT(r.rc == CS_EDECODE);
        CS_ASSERT(r.results_len == 0 || r.results_len == cmd.ops_len);
        CS_ASSERT(cs_kv_check(kv) == 0);
        CS_ASSERT(cs_kv_clock_ms(kv) >= 100);
    }
    cs_buf_free(&reply);
    cs_kv_free(kv);
    return 0;
}
