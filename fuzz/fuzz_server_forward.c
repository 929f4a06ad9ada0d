/*
 * fuzz_server_forward.c: the forward codec a follower and the leader speak
 * (src/server/forward.c, compiled in: consistd's sources are not part of
 * libconsist). The first byte picks the decoder, FORWARD or FORWARD_REPLY;
 * the rest is the payload as it would arrive from a peer. Anything must
 * decode or be refused with a CS_E code; a FORWARD that decodes re-encodes
 * canonically, so a peer's command can be read only one way.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "server/forward.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        static struct srv_forward_reply reply;
        int rc = srv_forward_reply_decode(p, len, &reply);
        CS_ASSERT(rc == 0 || rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
        if (rc == 0 && reply.is_error) {
            CS_ASSERT(strlen(reply.code) <= SRV_FORWARD_CODE_BYTES_MAX);
            CS_ASSERT(strlen(reply.message) <= SRV_FORWARD_MESSAGE_BYTES_MAX);
        }
        return 0;
    }
    static struct cs_kv_command cmd;
    uint64_t req_id = 0;
    bool is_read = false;
    int rc = srv_forward_decode(p, len, &req_id, &is_read, &cmd);
    CS_ASSERT(rc == 0 || rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
    if (rc != 0) return 0;
    /* An older kv command version re-encodes as the current one; from there
     * the bytes are canonical: decoding and encoding again changes nothing. */
    struct cs_buf out, again;
    cs_buf_init(&out, len + 64 + 64 * 20);
    CS_ASSERT(srv_forward_encode(&out, req_id, is_read, &cmd) == 0);
    static struct cs_kv_command cmd2;
    uint64_t req_id2 = 0;
    bool is_read2 = false;
    CS_ASSERT(srv_forward_decode(out.data, out.len, &req_id2, &is_read2, &cmd2) == 0);
    CS_ASSERT(req_id2 == req_id && is_read2 == is_read);
    cs_buf_init(&again, out.len);
    CS_ASSERT(srv_forward_encode(&again, req_id2, is_read2, &cmd2) == 0);
    CS_ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
    if (out.len == len) CS_ASSERT(memcmp(out.data, p, len) == 0);
    cs_buf_free(&out);
    cs_buf_free(&again);
    return 0;
}
