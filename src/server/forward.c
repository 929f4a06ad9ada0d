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
 *                   status 0: u8 kind; kind 0: a cs_kv_apply reply;
 *                             kind 1: uvarint count, then per key u8 found, value bytes
 */
#include <string.h>

#include "server.h"

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
        if (cmd->ops[k].type != CS_KV_GET && cmd->ops[k].type != CS_KV_EXISTS) return CS_EDECODE;
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

int srv_forward_reply_encode_apply(struct cs_buf *out, uint64_t req_id, const uint8_t *reply,
                                   size_t reply_len)
{
    cs_put_u64le(out, req_id);
    cs_put_u8(out, 0);
    cs_put_u8(out, SRV_FORWARD_KIND_APPLY);
    cs_put_raw(out, reply, reply_len);
    return cs_buf_error(out);
}

int srv_forward_reply_encode_read(struct cs_buf *out, uint64_t req_id,
                                  const struct cs_kv_reply *reply)
{
    cs_put_u64le(out, req_id);
    cs_put_u8(out, 0);
    cs_put_u8(out, SRV_FORWARD_KIND_READ);
    cs_put_uvarint(out, reply->results_len);
    for (uint32_t k = 0; k < reply->results_len; k++) {
        cs_put_u8(out, reply->results[k].found ? 1 : 0);
        cs_put_bytes(out, reply->results[k].value, reply->results[k].value_len);
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
        cs_get_u8(r, &found);
        cs_get_bytes(r, &v, &v_len, CS_KV_VALUE_BYTES_MAX);
        if (cs_reader_error(r) || found > 1 || (!found && v_len)) return CS_EDECODE;
        struct cs_kv_result *out = &reply->results[k];
        out->found = found == 1;
        out->rc = found ? 0 : CS_ENOTFOUND;
        out->number = found;
        out->value = v;
        out->value_len = (uint32_t)v_len;
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
    if (cs_get_u8(&r, &kind)) return CS_EDECODE;
    if (kind == SRV_FORWARD_KIND_APPLY) {
        int rc = cs_kv_reply_decode(p + r.pos, len - r.pos, &out->reply);
        if (rc) return rc;
        return out->reply.results_len == 0 && out->reply.rc == 0 ? CS_EDECODE : 0;
    }
    if (kind == SRV_FORWARD_KIND_READ) return forward_decode_read(&r, &out->reply);
    return CS_EDECODE;
}
