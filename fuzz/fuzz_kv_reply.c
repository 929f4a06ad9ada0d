/*
 * fuzz_kv_reply.c: the key-value reply decoder (versions 1 and 2) on arbitrary bytes.
 *
 * Whatever the bytes, decoding fails with a CS_E code or yields a reply
 * within every limit; a version-2 reply re-encodes to exactly the input, and
 * a version-1 reply re-encodes as version 2 to one that decodes to the same
 * reply (the path a v1 snapshot's session replies take on restore).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool same_result(const struct cs_kv_result *a, const struct cs_kv_result *b)
{
    return a->rc == b->rc && a->found == b->found && a->number == b->number &&
           a->mod_index == b->mod_index && a->expire_at_ms == b->expire_at_ms &&
           a->value_len == b->value_len &&
           (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cs_kv_reply reply, back;
    int rc = cs_kv_reply_decode(data, size, &reply);
    if (rc != 0) {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
        return 0;
    }
    CS_ASSERT(reply.results_len <= CS_KV_OPS_MAX && reply.rc <= 0);
    struct cs_buf out;
    cs_buf_init(&out, CS_KV_REPLY_BYTES_MAX);
    CS_ASSERT(kv_encode_reply(&reply, &out) == 0);
    if (data[0] == KV_REPLY_VERSION) {
        CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);
    } else {
        CS_ASSERT(cs_kv_reply_decode(out.data, out.len, &back) == 0);
        CS_ASSERT(back.rc == reply.rc && back.results_len == reply.results_len);
        for (uint32_t k = 0; k < reply.results_len; k++)
            CS_ASSERT(same_result(&back.results[k], &reply.results[k]));
    }
    cs_buf_free(&out);
    return 0;
}
