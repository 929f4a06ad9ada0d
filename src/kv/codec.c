/*
 * codec.c: commands and replies of the key-value state machine on the wire.
 *
 * The one idea: the encoder and the decoder enforce the same rules (one
 * function, kv_op_valid, says what a well-formed operation is), so anything
 * that decodes would encode again to the same bytes, and a replica never
 * applies an operation a client could not have sent.
 *
 * Command: version u8, client_id uvarint, seq uvarint, op count uvarint, then
 * per op: type u8, flags u8, key bytes, and by type: SET value bytes; INCRBY
 * delta svarint; CAS expected bytes, value bytes.
 * Reply: rc svarint, result count uvarint, per result: rc svarint, found u8,
 * number svarint, value bytes.
 */
#include <string.h>

#include "kv/kv_internal.h"

#define KV_CODEC_VERSION 1

static bool kv_op_valid(const struct cs_kv_op *op)
{
    if (op->key_len < 1 || op->key_len > CS_KV_KEY_BYTES_MAX) return false;
    if (op->value_len > CS_KV_VALUE_BYTES_MAX || op->expected_len > CS_KV_VALUE_BYTES_MAX) {
        return false;
    }
    switch ((enum cs_kv_op_type)op->type) {
    case CS_KV_GET:
    case CS_KV_DEL:
    case CS_KV_EXISTS:
    case CS_KV_INCRBY:
        return op->flags == 0;
    case CS_KV_SET: {
        uint8_t all = CS_KV_SET_NX | CS_KV_SET_XX | CS_KV_SET_GET;
        bool both = (op->flags & CS_KV_SET_NX) && (op->flags & CS_KV_SET_XX);
        return (op->flags & ~all) == 0 && !both;
    }
    case CS_KV_CAS:
        return (op->flags & ~CS_KV_CAS_ABSENT) == 0;
    }
    return false;
}

int cs_kv_command_encode(const struct cs_kv_command *cmd, struct cs_buf *out)
{
    if (cmd->ops_len > CS_KV_OPS_MAX) return CS_ETOOBIG;
    if (cmd->ops_len < 1) return CS_EINVAL;
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        const struct cs_kv_op *op = &cmd->ops[k];
        if (op->key_len > CS_KV_KEY_BYTES_MAX || op->value_len > CS_KV_VALUE_BYTES_MAX ||
            op->expected_len > CS_KV_VALUE_BYTES_MAX) {
            return CS_ETOOBIG;
        }
        if (!kv_op_valid(op)) return CS_EINVAL;
    }
    size_t start = out->len;
    cs_put_u8(out, KV_CODEC_VERSION);
    cs_put_uvarint(out, cmd->client_id);
    cs_put_uvarint(out, cmd->seq);
    cs_put_uvarint(out, cmd->ops_len);
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        const struct cs_kv_op *op = &cmd->ops[k];
        cs_put_u8(out, op->type);
        cs_put_u8(out, op->flags);
        cs_put_bytes(out, op->key, op->key_len);
        if (op->type == CS_KV_SET) cs_put_bytes(out, op->value, op->value_len);
        if (op->type == CS_KV_INCRBY) cs_put_svarint(out, op->delta);
        if (op->type == CS_KV_CAS) {
            cs_put_bytes(out, op->expected, op->expected_len);
            cs_put_bytes(out, op->value, op->value_len);
        }
    }
    int rc = cs_buf_error(out);
    if (rc == 0 && out->len - start > CS_KV_COMMAND_BYTES_MAX) {
        out->len = start;
        return CS_ETOOBIG;
    }
    return rc;
}

static int kv_get_op(struct cs_reader *r, struct cs_kv_op *op)
{
    const uint8_t *p = NULL;
    size_t len = 0;
    memset(op, 0, sizeof *op);
    cs_get_u8(r, &op->type);
    cs_get_u8(r, &op->flags);
    int rc = cs_get_bytes(r, &op->key, &len, CS_KV_KEY_BYTES_MAX);
    if (rc) return rc;
    op->key_len = (uint32_t)len;
    if (op->type == CS_KV_INCRBY) rc = cs_get_svarint(r, &op->delta);
    if (op->type == CS_KV_CAS) {
        rc = cs_get_bytes(r, &p, &len, CS_KV_VALUE_BYTES_MAX);
        op->expected = p;
        op->expected_len = (uint32_t)len;
    }
    if (rc) return rc;
    if (op->type == CS_KV_SET || op->type == CS_KV_CAS) {
        rc = cs_get_bytes(r, &p, &len, CS_KV_VALUE_BYTES_MAX);
        if (rc) return rc;
        op->value = p;
        op->value_len = (uint32_t)len;
    }
    return kv_op_valid(op) ? 0 : CS_EDECODE;
}

int cs_kv_command_decode(const uint8_t *data, size_t len, struct cs_kv_command *cmd)
{
    if (len > CS_KV_COMMAND_BYTES_MAX) return CS_ETOOBIG;
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    uint8_t version = 0;
    int rc = cs_get_u8(&r, &version);
    if (rc) return rc;
    if (version != KV_CODEC_VERSION) return CS_EVERSION;
    cs_get_uvarint(&r, &cmd->client_id);
    cs_get_uvarint(&r, &cmd->seq);
    uint64_t n = 0;
    /* An op is at least 3 bytes: type, flags, a key length. */
    rc = cs_get_count(&r, &n, CS_KV_OPS_MAX, 3);
    if (rc) return rc;
    if (n == 0) return CS_EDECODE;
    cmd->ops_len = (uint32_t)n;
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        rc = kv_get_op(&r, &cmd->ops[k]);
        if (rc) return rc;
    }
    return cs_reader_end(&r);
}

int kv_encode_reply(const struct cs_kv_reply *reply, struct cs_buf *out)
{
    CS_ASSERT(reply->results_len <= CS_KV_OPS_MAX);
    cs_put_svarint(out, reply->rc);
    cs_put_uvarint(out, reply->results_len);
    for (uint32_t k = 0; k < reply->results_len; k++) {
        const struct cs_kv_result *res = &reply->results[k];
        CS_ASSERT(res->value_len <= CS_KV_VALUE_BYTES_MAX);
        cs_put_svarint(out, res->rc);
        cs_put_u8(out, res->found ? 1 : 0);
        cs_put_svarint(out, res->number);
        cs_put_bytes(out, res->value, res->value_len);
    }
    return cs_buf_error(out);
}

static bool kv_rc_known(int64_t rc)
{
    return rc <= 0 && rc >= CS_ERROR_MIN;
}

int cs_kv_reply_decode(const uint8_t *data, size_t len, struct cs_kv_reply *reply)
{
    if (len > CS_KV_REPLY_BYTES_MAX) return CS_ETOOBIG;
    memset(reply, 0, sizeof *reply);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int64_t rc64 = 0;
    int rc = cs_get_svarint(&r, &rc64);
    if (rc) return rc;
    if (!kv_rc_known(rc64)) return CS_EDECODE;
    reply->rc = (int)rc64;
    uint64_t n = 0;
    rc = cs_get_count(&r, &n, CS_KV_OPS_MAX, 4);
    if (rc) return rc;
    reply->results_len = (uint32_t)n;
    for (uint32_t k = 0; k < reply->results_len; k++) {
        struct cs_kv_result *res = &reply->results[k];
        uint8_t found = 0;
        size_t vlen = 0;
        cs_get_svarint(&r, &rc64);
        cs_get_u8(&r, &found);
        cs_get_svarint(&r, &res->number);
        rc = cs_get_bytes(&r, &res->value, &vlen, CS_KV_VALUE_BYTES_MAX);
        if (rc) return rc;
        if (!kv_rc_known(rc64) || found > 1) return CS_EDECODE;
        res->rc = (int)rc64;
        res->found = found == 1;
        res->value_len = (uint32_t)vlen;
        if (!vlen) res->value = NULL;
    }
    return cs_reader_end(&r);
}
