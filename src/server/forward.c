/*
 * forward.c: the codec of the two frames a follower and the leader exchange
 * to forward a client's command (SRV_FRAME_FORWARD, SRV_FRAME_FORWARD_REPLY).
 *
 * The one idea: the leader answers with the state machine's own reply
 * encoding (what cs_kv_apply wrote) or with a read's results, so a follower
 * formats a forwarded command's RESP reply exactly as if it had run it, and
 * every byte it decodes from a peer is bounds-checked like any client input:
 * a malformed reply is an error for that one request, never a crash.
 *
 *   FORWARD:        u64le req_id, u8 is_read (0|1), kv command (cs_kv_command_encode)
 *   FORWARD_REPLY:  u64le req_id, u8 status
 *                   status 1: code, message (each uvarint length + bytes)
 *                   status 0: u8 kind, uvarint index (the log index the answer reflects:
 *                             the entry's for a write, the applied index a read was
 *                             served at; what a session token advances to);
 *                             kind 0: a cs_kv_apply reply;
 *                             kind 1: uvarint count, then per key u8 found, value bytes,
 *                                     uvarint mod_index, uvarint expire_at_ms
 */
#include <string.h>

#include "server.h"

bool srv_op_is_read(uint8_t type)
{
    return type == CS_KV_GET || type == CS_KV_EXISTS || type == CS_KV_TTL;
}

int srv_forward_encode(struct cs_buf *out, uint64_t req_id, bool is_read,
                       const struct cs_kv_command *cmd)
{
    cs_put_u64le(out, req_id);
    cs_put_u8(out, is_read ? 1 : 0);
    if (cs_buf_error(out)) return cs_buf_error(out);
    return cs_kv_command_encode(cmd, out);
}

int srv_forward_decode(const uint8_t *p, size_t len, uint64_t *req_id, bool *is_read,
                       struct cs_kv_command *cmd)
{
    struct cs_reader r;
    uint8_t read_flag = 0;
    cs_reader_init(&r, p, len);
    cs_get_u64le(&r, req_id);
    cs_get_u8(&r, &read_flag);
    if (cs_reader_error(&r) || read_flag > 1) return CS_EDECODE;
    *is_read = read_flag == 1;
    int rc = cs_kv_command_decode(p + r.pos, len - r.pos, cmd);
    if (rc) return rc;
    /* A read may only hold reads: anything else must go through the log. */
    for (uint32_t k = 0; *is_read && k < cmd->ops_len; k++)
        if (!srv_op_is_read(cmd->ops[k].type)) return CS_EDECODE;
    return 0;
}

int srv_forward_reply_encode_error(struct cs_buf *out, uint64_t req_id, const char *code,
                                   const char *message)
{
    size_t code_len = strlen(code), message_len = strlen(message);
    if (code_len > SRV_FORWARD_CODE_BYTES_MAX) code_len = SRV_FORWARD_CODE_BYTES_MAX;
    if (message_len > SRV_FORWARD_MESSAGE_BYTES_MAX) message_len = SRV_FORWARD_MESSAGE_BYTES_MAX;
    cs_put_u64le(out, req_id);
    cs_put_u8(out, 1);
    cs_put_bytes(out, code, code_len);
    cs_put_bytes(out, message, message_len);
    return cs_buf_error(out);
}

int srv_forward_reply_encode_apply(struct cs_buf *out, uint64_t req_id, uint64_t index,
                                   const uint8_t *reply, size_t reply_len)
{
    cs_put_u64le(out, req_id);
    cs_put_u8(out, 0);
    cs_put_u8(out, SRV_FORWARD_KIND_APPLY);
    cs_put_uvarint(out, index);
    cs_put_raw(out, reply, reply_len);
    return cs_buf_error(out);
}

int srv_forward_reply_encode_read(struct cs_buf *out, uint64_t req_id, uint64_t index,
                                  const struct cs_kv_reply *reply)
{
    cs_put_u64le(out, req_id);
    cs_put_u8(out, 0);
    cs_put_u8(out, SRV_FORWARD_KIND_READ);
    cs_put_uvarint(out, index);
    cs_put_uvarint(out, reply->results_len);
    for (uint32_t k = 0; k < reply->results_len; k++) {
        const struct cs_kv_result *r = &reply->results[k];
        cs_put_u8(out, r->found ? 1 : 0);
        cs_put_bytes(out, r->value, r->value_len);
        cs_put_uvarint(out, r->mod_index);
        cs_put_uvarint(out, r->expire_at_ms);
    }
    return cs_buf_error(out);
}

static int forward_decode_read(struct cs_reader *r, struct cs_kv_reply *reply)
{
    uint64_t count;
    if (cs_get_count(r, &count, CS_KV_OPS_MAX, 2) || count == 0) return CS_EDECODE;
    memset(reply, 0, sizeof *reply);
    reply->results_len = (uint32_t)count;
    for (uint32_t k = 0; k < count; k++) {
        uint8_t found = 0;
        const uint8_t *v = NULL;
        size_t v_len = 0;
        uint64_t mod_index = 0, expire_at_ms = 0;
        cs_get_u8(r, &found);
        cs_get_bytes(r, &v, &v_len, CS_KV_VALUE_BYTES_MAX);
        cs_get_uvarint(r, &mod_index);
        cs_get_uvarint(r, &expire_at_ms);
        if (cs_reader_error(r) || found > 1 || (!found && (v_len || mod_index || expire_at_ms)))
            return CS_EDECODE;
        struct cs_kv_result *out = &reply->results[k];
        out->found = found == 1;
        out->rc = found ? 0 : CS_ENOTFOUND;
        out->number = found;
        out->value = v;
        out->value_len = (uint32_t)v_len;
        out->mod_index = mod_index;
        out->expire_at_ms = expire_at_ms;
    }
    return cs_reader_end(r);
}

int srv_forward_reply_decode(const uint8_t *p, size_t len, struct srv_forward_reply *out)
{
    struct cs_reader r;
    uint8_t status = 0;
    memset(out, 0, sizeof *out);
    cs_reader_init(&r, p, len);
    cs_get_u64le(&r, &out->req_id);
    cs_get_u8(&r, &status);
    if (cs_reader_error(&r) || status > 1) return CS_EDECODE;
    if (status == 1) {
        const uint8_t *code, *message;
        size_t code_len, message_len;
        cs_get_bytes(&r, &code, &code_len, SRV_FORWARD_CODE_BYTES_MAX);
        cs_get_bytes(&r, &message, &message_len, SRV_FORWARD_MESSAGE_BYTES_MAX);
        if (cs_reader_error(&r) || code_len == 0) return CS_EDECODE;
        for (size_t k = 0; k < code_len; k++)
            if (code[k] < 'A' || code[k] > 'Z') return CS_EDECODE; /* one word of capitals */
        memcpy(out->code, code, code_len);
        memcpy(out->message, message, message_len);
        out->is_error = true;
        return cs_reader_end(&r);
    }
    uint8_t kind = 0;
    cs_get_u8(&r, &kind);
    cs_get_uvarint(&r, &out->index);
    if (cs_reader_error(&r)) return CS_EDECODE;
    if (kind == SRV_FORWARD_KIND_APPLY) {
        int rc = cs_kv_reply_decode(p + r.pos, len - r.pos, &out->reply);
        if (rc) return rc;
        /* No results only for a command refused whole (rc), such as a failed WATCH check. */
        return out->reply.results_len == 0 && out->reply.rc == 0 ? CS_EDECODE : 0;
    }
    if (kind == SRV_FORWARD_KIND_READ) return forward_decode_read(&r, &out->reply);
    return CS_EDECODE;
}
