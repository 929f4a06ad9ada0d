/*
 * codec.c: commands and replies of the key-value state machine on the wire.
 *
 * The one idea: the encoder and the decoder enforce the same rules (one
 * function, kv_op_valid, says what a well-formed operation is in each
 * version), so anything that decodes would encode again to the same bytes,
 * and a replica never applies an operation a client could not have sent.
 *
 * Command v2: version u8 (2), client_id uvarint, seq uvarint, now_ms uvarint,
 * op count uvarint, then per op: type u8, flags u8, key bytes (not for
 * PURGE), and by type: SET value bytes, expire_at_ms uvarint; INCRBY delta
 * svarint; CAS expected bytes, value bytes; EXPIRE expire_at_ms uvarint;
 * CHECK expected_index uvarint.
 * Command v1 (still decoded: it may sit in a log written by the previous
 * release): no now_ms, no expire_at_ms after a SET's value, types GET..CAS.
 *
 * Reply v2: version u8 (2), rc svarint, result count uvarint, per result: rc
 * svarint, found u8, number svarint, value bytes, mod_index uvarint,
 * expire_at_ms uvarint. Reply v1 had no version byte and no last two fields;
 * its first byte, the zigzag varint of an rc <= 0, is 0 or odd, so the even
 * byte 2 cannot open a v1 reply and tells the two apart.
 */
#include <string.h>

#include "kv/kv_internal.h"

#define KV_COMMAND_VERSION 2

static bool kv_op_valid_v2(const struct cs_kv_op *op)
{
    switch ((enum cs_kv_op_type)op->type) {
    case CS_KV_GET:
    case CS_KV_DEL:
    case CS_KV_EXISTS:
    case CS_KV_INCRBY:
    case CS_KV_CAS:
    case CS_KV_TTL:
    case CS_KV_CHECK:
        break; /* checked by kv_op_valid */
    case CS_KV_SET:
        return !(op->flags & CS_KV_SET_KEEPTTL) || op->expire_at_ms == 0;
    case CS_KV_EXPIRE:
        if (op->flags & ~CS_KV_EXPIRE_PERSIST) return false;
        return (op->flags & CS_KV_EXPIRE_PERSIST) ? op->expire_at_ms == 0 : op->expire_at_ms != 0;
    case CS_KV_PURGE:
        return op->flags == 0 && op->key_len == 0;
    }
    return true;
}

static bool kv_op_valid(const struct cs_kv_op *op, int version)
{
    if (op->value_len > CS_KV_VALUE_BYTES_MAX || op->expected_len > CS_KV_VALUE_BYTES_MAX) {
        return false;
    }
    if (op->type > (version == 1 ? CS_KV_CAS : CS_KV_CHECK) || op->type < CS_KV_GET) return false;
    if (op->type != CS_KV_PURGE && (op->key_len < 1 || op->key_len > CS_KV_KEY_BYTES_MAX)) {
        return false;
    }
    if (op->expire_at_ms && op->type != CS_KV_SET && op->type != CS_KV_EXPIRE) return false;
    if (op->expected_index && op->type != CS_KV_CHECK) return false;
    switch ((enum cs_kv_op_type)op->type) {
    case CS_KV_GET:
    case CS_KV_DEL:
    case CS_KV_EXISTS:
    case CS_KV_INCRBY:
    case CS_KV_TTL:
    case CS_KV_CHECK:
        return op->flags == 0;
    case CS_KV_SET: {
        uint8_t all = CS_KV_SET_NX | CS_KV_SET_XX | CS_KV_SET_GET;
        if (version >= 2) all |= CS_KV_SET_KEEPTTL;
        bool both = (op->flags & CS_KV_SET_NX) && (op->flags & CS_KV_SET_XX);
        return (op->flags & ~all) == 0 && !both && kv_op_valid_v2(op);
    }
    case CS_KV_CAS:
        return (op->flags & ~CS_KV_CAS_ABSENT) == 0;
    case CS_KV_EXPIRE:
    case CS_KV_PURGE:
        return kv_op_valid_v2(op);
    }
    return false;
}

/* WATCH's checks come first: every CHECK before every other op. */
static bool kv_checks_first(const struct cs_kv_command *cmd)
{
    bool others = false;
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        if (cmd->ops[k].type != CS_KV_CHECK) {
            others = true;
        } else if (others) {
            return false;
        }
    }
    return true;
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
        if (!kv_op_valid(op, KV_COMMAND_VERSION)) return CS_EINVAL;
    }
    if (!kv_checks_first(cmd)) return CS_EINVAL;
    size_t start = out->len;
    cs_put_u8(out, KV_COMMAND_VERSION);
    cs_put_uvarint(out, cmd->client_id);
    cs_put_uvarint(out, cmd->seq);
    cs_put_uvarint(out, cmd->now_ms);
    cs_put_uvarint(out, cmd->ops_len);
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        const struct cs_kv_op *op = &cmd->ops[k];
        cs_put_u8(out, op->type);
        cs_put_u8(out, op->flags);
        if (op->type != CS_KV_PURGE) cs_put_bytes(out, op->key, op->key_len);
        if (op->type == CS_KV_SET) cs_put_bytes(out, op->value, op->value_len);
        if (op->type == CS_KV_SET || op->type == CS_KV_EXPIRE) {
            cs_put_uvarint(out, op->expire_at_ms);
        }
        if (op->type == CS_KV_INCRBY) cs_put_svarint(out, op->delta);
        if (op->type == CS_KV_CAS) {
            cs_put_bytes(out, op->expected, op->expected_len);
            cs_put_bytes(out, op->value, op->value_len);
        }
        if (op->type == CS_KV_CHECK) cs_put_uvarint(out, op->expected_index);
    }
    int rc = cs_buf_error(out);
    if (rc == 0 && out->len - start > CS_KV_COMMAND_BYTES_MAX) {
        out->len = start;
        return CS_ETOOBIG;
    }
    return rc;
}

static void kv_get_value(struct cs_reader *r, const uint8_t **out, uint32_t *out_len)
{
    size_t len = 0;
    if (cs_get_bytes(r, out, &len, CS_KV_VALUE_BYTES_MAX) == 0) *out_len = (uint32_t)len;
}

static int kv_get_op(struct cs_reader *r, int version, struct cs_kv_op *op)
{
    memset(op, 0, sizeof *op);
    cs_get_u8(r, &op->type);
    cs_get_u8(r, &op->flags);
    if (op->type != CS_KV_PURGE || version == 1) {
        size_t len = 0;
        int rc = cs_get_bytes(r, &op->key, &len, CS_KV_KEY_BYTES_MAX);
        if (rc) return rc;
        op->key_len = (uint32_t)len;
    }
    if (op->type == CS_KV_SET) kv_get_value(r, &op->value, &op->value_len);
    if ((op->type == CS_KV_SET || op->type == CS_KV_EXPIRE) && version >= 2) {
        cs_get_uvarint(r, &op->expire_at_ms);
    }
    if (op->type == CS_KV_INCRBY) cs_get_svarint(r, &op->delta);
    if (op->type == CS_KV_CAS) {
        kv_get_value(r, &op->expected, &op->expected_len);
        kv_get_value(r, &op->value, &op->value_len);
    }
    if (op->type == CS_KV_CHECK && version >= 2) cs_get_uvarint(r, &op->expected_index);
    int rc = cs_reader_error(r);
    if (rc) return rc;
    return kv_op_valid(op, version) ? 0 : CS_EDECODE;
}

int cs_kv_command_decode(const uint8_t *data, size_t len, struct cs_kv_command *cmd)
{
    if (len > CS_KV_COMMAND_BYTES_MAX) return CS_ETOOBIG;
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    uint8_t version = 0;
    int rc = cs_get_u8(&r, &version);
    if (rc) return rc;
    if (version != 1 && version != KV_COMMAND_VERSION) return CS_EVERSION;
    cmd->now_ms = 0;
    cs_get_uvarint(&r, &cmd->client_id);
    cs_get_uvarint(&r, &cmd->seq);
    if (version >= 2) cs_get_uvarint(&r, &cmd->now_ms);
    uint64_t n = 0;
    /* An op is at least 3 bytes (type, flags, a key length) in v1; a v2 PURGE is 2. */
    rc = cs_get_count(&r, &n, CS_KV_OPS_MAX, version == 1 ? 3 : 2);
    if (rc) return rc;
    if (n == 0) return CS_EDECODE;
    cmd->ops_len = (uint32_t)n;
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        rc = kv_get_op(&r, version, &cmd->ops[k]);
        if (rc) return rc;
    }
    if (!kv_checks_first(cmd)) return CS_EDECODE;
    return cs_reader_end(&r);
}

int kv_encode_reply(const struct cs_kv_reply *reply, struct cs_buf *out)
{
    CS_ASSERT(reply->results_len <= CS_KV_OPS_MAX);
    cs_put_u8(out, KV_REPLY_VERSION);
    cs_put_svarint(out, reply->rc);
    cs_put_uvarint(out, reply->results_len);
    for (uint32_t k = 0; k < reply->results_len; k++) {
        const struct cs_kv_result *res = &reply->results[k];
        CS_ASSERT(res->value_len <= CS_KV_VALUE_BYTES_MAX);
        cs_put_svarint(out, res->rc);
        cs_put_u8(out, res->found ? 1 : 0);
        cs_put_svarint(out, res->number);
        cs_put_bytes(out, res->value, res->value_len);
        cs_put_uvarint(out, res->mod_index);
        cs_put_uvarint(out, res->expire_at_ms);
    }
    return cs_buf_error(out);
}

static bool kv_rc_known(int64_t rc)
{
    return rc <= 0 && rc >= CS_ERROR_MIN;
}

int kv_reply_decode_version(const uint8_t *data, size_t len, int version, struct cs_kv_reply *reply)
{
    CS_ASSERT(version == 1 || version == KV_REPLY_VERSION);
    if (len > CS_KV_REPLY_BYTES_MAX) return CS_ETOOBIG;
    memset(reply, 0, sizeof *reply);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    uint8_t version_byte = 0;
    if (version >= 2 && cs_get_u8(&r, &version_byte) == 0 && version_byte != version) {
        return CS_EVERSION;
    }
    int64_t rc64 = 0;
    int rc = cs_get_svarint(&r, &rc64);
    if (rc) return rc;
    if (!kv_rc_known(rc64)) return CS_EDECODE;
    reply->rc = (int)rc64;
    uint64_t n = 0;
    rc = cs_get_count(&r, &n, CS_KV_OPS_MAX, version == 1 ? 4 : 6);
    if (rc) return rc;
    reply->results_len = (uint32_t)n;
    for (uint32_t k = 0; k < reply->results_len; k++) {
        struct cs_kv_result *res = &reply->results[k];
        uint8_t found = 0;
        size_t vlen = 0;
        cs_get_svarint(&r, &rc64);
        cs_get_u8(&r, &found);
        cs_get_svarint(&r, &res->number);
        cs_get_bytes(&r, &res->value, &vlen, CS_KV_VALUE_BYTES_MAX);
        if (version >= 2) {
            cs_get_uvarint(&r, &res->mod_index);
            cs_get_uvarint(&r, &res->expire_at_ms);
        }
        rc = cs_reader_error(&r);
        if (rc) return rc;
        if (!kv_rc_known(rc64) || found > 1) return CS_EDECODE;
        res->rc = (int)rc64;
        res->found = found == 1;
        res->value_len = (uint32_t)vlen;
        if (!vlen) res->value = NULL;
    }
    return cs_reader_end(&r);
}

int cs_kv_reply_decode(const uint8_t *data, size_t len, struct cs_kv_reply *reply)
{
    if (len == 0) return CS_EDECODE;
    if (data[0] == KV_REPLY_VERSION) {
        return kv_reply_decode_version(data, len, KV_REPLY_VERSION, reply);
    }
    if (data[0] == 0 || (data[0] & 1)) return kv_reply_decode_version(data, len, 1, reply);
    return CS_EVERSION;
}
