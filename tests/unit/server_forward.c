/*
 * server_forward.c: the forward codec between a follower and the leader
 * (src/server/forward.c, compiled in here: consistd's sources are not in
 * libconsist). Round trips of every frame shape; each limit at its maximum
 * and one past; every truncation and seeded random mutations of valid
 * frames are refused with a CS_E code or decode to something well-formed,
 * never crash (this is the codec's fuzz harness until fuzz/ has a target).
 */
#include <string.h>

#include "consist/rng.h"
#include "server/forward.c"
#include "testlib.h"

static struct cs_kv_command cmd_in, cmd_out;
static struct srv_forward_reply fr;

static void cmd_set1(struct cs_kv_command *cmd, uint8_t type, const char *key, const char *value)
{
    memset(cmd, 0, sizeof *cmd);
    cmd->ops_len = 1;
    cmd->ops[0].type = type;
    cmd->ops[0].key = (const uint8_t *)key;
    cmd->ops[0].key_len = (uint32_t)strlen(key);
    if (value) {
        cmd->ops[0].value = (const uint8_t *)value;
        cmd->ops[0].value_len = (uint32_t)strlen(value);
    }
}

CS_TEST(forward_round_trip_and_read_holding_a_write)
{
    struct cs_buf b;
    cs_buf_init(&b, 1u << 20);
    uint64_t id = 0;
    bool is_read = false;
    cmd_set1(&cmd_in, CS_KV_SET, "k", "v");
    CS_CHECK_OK(srv_forward_encode(&b, 77, false, &cmd_in));
    CS_CHECK_OK(srv_forward_decode(b.data, b.len, &id, &is_read, &cmd_out));
    CS_CHECK_EQ_U64(id, 77);
    CS_CHECK(!is_read);
    CS_CHECK_EQ(cmd_out.ops[0].type, CS_KV_SET);
    CS_CHECK_MEM(cmd_out.ops[0].value, "v", 1);
    /* The same SET marked as a read is refused: writes must go through the log. */
    cs_buf_reset(&b);
    CS_CHECK_OK(srv_forward_encode(&b, 78, true, &cmd_in));
    CS_CHECK_RC(srv_forward_decode(b.data, b.len, &id, &is_read, &cmd_out), CS_EDECODE);
    cs_buf_reset(&b);
    cmd_set1(&cmd_in, CS_KV_GET, "k", NULL);
    CS_CHECK_OK(srv_forward_encode(&b, 79, true, &cmd_in));
    CS_CHECK_OK(srv_forward_decode(b.data, b.len, &id, &is_read, &cmd_out));
    CS_CHECK(is_read);
    /* is_read must be 0 or 1. */
    b.data[8] = 2;
    CS_CHECK_RC(srv_forward_decode(b.data, b.len, &id, &is_read, &cmd_out), CS_EDECODE);
    cs_buf_free(&b);
}

CS_TEST(reply_error_limits)
{
    struct cs_buf b;
    cs_buf_init(&b, 1u << 16);
    char code[SRV_FORWARD_CODE_BYTES_MAX + 2], msg[SRV_FORWARD_MESSAGE_BYTES_MAX + 2];
    memset(code, 'C', sizeof code);
    memset(msg, 'm', sizeof msg);
    code[SRV_FORWARD_CODE_BYTES_MAX] = 0;
    msg[SRV_FORWARD_MESSAGE_BYTES_MAX] = 0;
    CS_CHECK_OK(srv_forward_reply_encode_error(&b, 5, code, msg)); /* at the limits */
    CS_CHECK_OK(srv_forward_reply_decode(b.data, b.len, &fr));
    CS_CHECK(fr.is_error);
    CS_CHECK_EQ_U64(fr.req_id, 5);
    CS_CHECK_EQ(strlen(fr.code), SRV_FORWARD_CODE_BYTES_MAX);
    CS_CHECK_EQ(strlen(fr.message), SRV_FORWARD_MESSAGE_BYTES_MAX);
    /* One past: the encoder cuts; a peer that sends one past is refused. */
    code[SRV_FORWARD_CODE_BYTES_MAX] = 'C';
    code[SRV_FORWARD_CODE_BYTES_MAX + 1] = 0;
    cs_buf_reset(&b);
    CS_CHECK_OK(srv_forward_reply_encode_error(&b, 6, code, "x"));
    CS_CHECK_OK(srv_forward_reply_decode(b.data, b.len, &fr));
    CS_CHECK_EQ(strlen(fr.code), SRV_FORWARD_CODE_BYTES_MAX);
    cs_buf_reset(&b);
    cs_put_u64le(&b, 6);
    cs_put_u8(&b, 1);
    cs_put_bytes(&b, code, SRV_FORWARD_CODE_BYTES_MAX + 1);
    cs_put_bytes(&b, "x", 1);
    CS_CHECK(srv_forward_reply_decode(b.data, b.len, &fr) != 0);
    /* A code word is capitals only (it becomes "-CODE" on a client's connection). */
    cs_buf_reset(&b);
    CS_CHECK_OK(srv_forward_reply_encode_error(&b, 7, "ERR\r\n", "x"));
    CS_CHECK_RC(srv_forward_reply_decode(b.data, b.len, &fr), CS_EDECODE);
    cs_buf_free(&b);
}

CS_TEST(reply_apply_and_read_round_trip)
{
    struct cs_kv *kv;
    CS_CHECK_OK(cs_kv_new(&kv));
    struct cs_buf cmd, reply, b;
    cs_buf_init(&cmd, CS_KV_COMMAND_BYTES_MAX);
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    cs_buf_init(&b, CS_KV_REPLY_BYTES_MAX + 64);
    cmd_set1(&cmd_in, CS_KV_INCRBY, "n", NULL);
    cmd_in.ops[0].delta = 41;
    CS_CHECK_OK(cs_kv_command_encode(&cmd_in, &cmd));
    CS_CHECK_OK(cs_kv_apply(kv, 1, cmd.data, cmd.len, &reply));
    CS_CHECK_OK(srv_forward_reply_encode_apply(&b, 9, 1, reply.data, reply.len));
    CS_CHECK_OK(srv_forward_reply_decode(b.data, b.len, &fr));
    CS_CHECK(!fr.is_error);
    CS_CHECK_EQ(fr.index, 1); /* the entry's index: where the session token moves */
    CS_CHECK_EQ(fr.reply.results[0].number, 41);

    /* A read of CS_KV_OPS_MAX keys is the limit; one more key is refused. */
    static struct cs_kv_reply rr;
    memset(&rr, 0, sizeof rr);
    rr.results_len = CS_KV_OPS_MAX;
    for (uint32_t k = 0; k < CS_KV_OPS_MAX; k++) {
        rr.results[k].found = k % 2 == 0;
        rr.results[k].value = (const uint8_t *)(k % 2 == 0 ? "val" : NULL);
        rr.results[k].value_len = k % 2 == 0 ? 3 : 0;
        rr.results[k].mod_index = k % 2 == 0 ? 100 + k : 0;
        rr.results[k].expire_at_ms = k % 4 == 0 ? 1700000000000ull + k : 0;
    }
    cs_buf_reset(&b);
    CS_CHECK_OK(srv_forward_reply_encode_read(&b, 10, 77, &rr));
    CS_CHECK_OK(srv_forward_reply_decode(b.data, b.len, &fr));
    CS_CHECK_EQ(fr.index, 77);
    CS_CHECK_EQ(fr.reply.results_len, CS_KV_OPS_MAX);
    CS_CHECK(fr.reply.results[0].found);
    CS_CHECK_EQ(fr.reply.results[4].mod_index, 104);
    CS_CHECK_EQ(fr.reply.results[4].expire_at_ms, 1700000000004ull);
    CS_CHECK_EQ(fr.reply.results[2].expire_at_ms, 0);
    CS_CHECK(!fr.reply.results[1].found);
    CS_CHECK_MEM(fr.reply.results[62].value, "val", 3);
    cs_buf_reset(&b);
    cs_put_u64le(&b, 10);
    cs_put_u8(&b, 0);
    cs_put_u8(&b, SRV_FORWARD_KIND_READ);
    cs_put_uvarint(&b, 1);
    cs_put_uvarint(&b, CS_KV_OPS_MAX + 1);
    for (uint32_t k = 0; k < CS_KV_OPS_MAX + 1; k++) {
        cs_put_u8(&b, 0);
        cs_put_bytes(&b, "", 0);
        cs_put_uvarint(&b, 0);
        cs_put_uvarint(&b, 0);
    }
    CS_CHECK(srv_forward_reply_decode(b.data, b.len, &fr) != 0);
    cs_buf_free(&cmd);
    cs_buf_free(&reply);
    cs_buf_free(&b);
    cs_kv_free(kv);
}

/* Decode must refuse or accept; an accepted read reply must be well-formed. */
static void decode_any(const uint8_t *p, size_t len)
{
    uint64_t id;
    bool is_read;
    int rc = srv_forward_decode(p, len, &id, &is_read, &cmd_out);
    CS_CHECK(rc <= 0);
    rc = srv_forward_reply_decode(p, len, &fr);
    CS_CHECK(rc <= 0);
    if (rc == 0 && !fr.is_error) {
        CS_CHECK(fr.reply.results_len <= CS_KV_OPS_MAX);
        for (uint32_t k = 0; k < fr.reply.results_len; k++)
            CS_CHECK(fr.reply.results[k].value_len <= CS_KV_VALUE_BYTES_MAX);
    }
}

CS_TEST(truncations_and_mutations_are_refused_cleanly)
{
    struct cs_buf frames[3];
    for (int k = 0; k < 3; k++)
        cs_buf_init(&frames[k], 1u << 16);
    cmd_set1(&cmd_in, CS_KV_SET, "key", "value");
    CS_CHECK_OK(srv_forward_encode(&frames[0], 1, false, &cmd_in));
    CS_CHECK_OK(srv_forward_reply_encode_error(&frames[1], 2, "NOQUORUM", "no majority"));
    static struct cs_kv_reply rr;
    memset(&rr, 0, sizeof rr);
    rr.results_len = 2;
    rr.results[0].found = true;
    rr.results[0].value = (const uint8_t *)"abc";
    rr.results[0].value_len = 3;
    CS_CHECK_OK(srv_forward_reply_encode_read(&frames[2], 3, 5, &rr));
    uint8_t copy[1u << 16];
    for (int f = 0; f < 3; f++) {
        for (size_t cut = 0; cut < frames[f].len; cut++) {
            memcpy(copy, frames[f].data, cut);
            decode_any(copy, cut);
            /* A strict prefix of a reply never decodes as the whole reply. */
            if (f > 0) CS_CHECK(srv_forward_reply_decode(copy, cut, &fr) != 0);
        }
    }
    uint64_t seeds = cs_test_seeds(200);
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        const struct cs_buf *src = &frames[cs_rng_below(rng, 3)];
        size_t len = src->len;
        memcpy(copy, src->data, len);
        uint64_t flips = 1 + cs_rng_below(rng, 4);
        for (uint64_t k = 0; k < flips; k++)
            copy[cs_rng_below(rng, len)] = (uint8_t)cs_rng_u64(rng);
        decode_any(copy, len);
    }
    for (int k = 0; k < 3; k++)
        cs_buf_free(&frames[k]);
}

CS_TEST_MAIN(CS_CASE(forward_round_trip_and_read_holding_a_write), CS_CASE(reply_error_limits),
             CS_CASE(reply_apply_and_read_round_trip),
             CS_CASE(truncations_and_mutations_are_refused_cleanly))
