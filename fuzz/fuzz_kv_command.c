/*
 * fuzz_kv_command.c: the key-value command decoder, and apply, on arbitrary bytes.
 *
 * Whatever the bytes, decoding fails with a CS_E code or yields a command
 * within every limit that re-encodes to exactly the input; applying the
 * bytes to a map (decodable or not) always yields a reply that decodes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cs_kv_command cmd;
    int rc = cs_kv_command_decode(data, size, &cmd);
    if (rc == 0) {
        CS_ASSERT(cmd.ops_len >= 1 && cmd.ops_len <= CS_KV_OPS_MAX);
        struct cs_buf out;
        cs_buf_init(&out, CS_KV_COMMAND_BYTES_MAX);
        CS_ASSERT(cs_kv_command_encode(&cmd, &out) == 0);
        CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);
        cs_buf_free(&out);
    } else {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
    }
    struct cs_kv *kv = NULL;
    if (cs_kv_new(&kv) != 0) return 0;
    struct cs_buf reply;
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    /* Twice: the second time a session replays or the map has changed. */
    for (uint64_t index = 1; index <= 2; index++) {
        cs_buf_reset(&reply);
        CS_ASSERT(cs_kv_apply(kv, index, data, size, &reply) == 0);
        struct cs_kv_reply r;
        CS_ASSERT(cs_kv_reply_decode(reply.data, reply.len, &r) == 0);
        if (rc != 0) CS_ASSERT(r.rc == CS_EDECODE);
    }
    cs_buf_free(&reply);
    cs_kv_free(kv);
    return 0;
}
