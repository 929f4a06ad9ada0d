/*
 * fuzz_kv_snapshot.c: restoring a key-value snapshot from arbitrary bytes.
 *
 * Whatever the bytes, restore fails with a CS_E code and leaves the map as it
 * was, or succeeds with the map's invariants whole, and then taking a
 * snapshot gives back exactly the input (the encoding is canonical: sorted
 * keys and sessions) when it was version 2, or, for a version-1 snapshot, a
 * version-2 snapshot that restores to itself. A PURGE applied after it
 * leaves the invariants whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_purge(struct cs_kv *kv)
{
    uint64_t index = cs_kv_applied_index(kv) + 1;
    if (index == 0) return; /* the snapshot is at the last index there is */
    static struct cs_kv_command purge;
    memset(&purge, 0, sizeof purge);
    purge.now_ms = cs_kv_next_expiry(kv);
    purge.ops_len = 1;
    purge.ops[0].type = CS_KV_PURGE;
    struct cs_buf enc, reply;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    CS_ASSERT(cs_kv_command_encode(&purge, &enc) == 0);
    uint64_t keys = cs_kv_keys(kv);
    CS_ASSERT(cs_kv_apply(kv, index, enc.data, enc.len, &reply) == 0);
    struct cs_kv_reply r;
    CS_ASSERT(cs_kv_reply_decode(reply.data, reply.len, &r) == 0 && r.results_len == 1);
    CS_ASSERT(cs_kv_keys(kv) + (uint64_t)r.results[0].number == keys);
    CS_ASSERT(purge.now_ms == 0 || r.results[0].number >= 1);
    CS_ASSERT(cs_kv_check(kv) == 0);
    cs_buf_free(&enc);
    cs_buf_free(&reply);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_kv *kv = NULL;
    if (cs_kv_new(&kv) != 0) return 0;
    int rc = cs_kv_restore(kv, data, size);
    struct cs_buf out, again;
    cs_buf_init(&out, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&again, CS_KV_SNAPSHOT_BYTES_MAX);
    if (rc != 0) {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
        CS_ASSERT(cs_kv_keys(kv) == 0 && cs_kv_sessions(kv) == 0);
    } else {
        CS_ASSERT(cs_kv_check(kv) == 0);
        CS_ASSERT(cs_kv_snapshot(kv, &out) == 0);
        if (data[0] == 2) {
            CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);
        } else {
            CS_ASSERT(data[0] == 1 && out.data[0] == 2);
            struct cs_kv *copy = NULL;
            if (cs_kv_new(&copy) == 0) {
                CS_ASSERT(cs_kv_restore(copy, out.data, out.len) == 0);
                CS_ASSERT(cs_kv_snapshot(copy, &again) == 0);
                CS_ASSERT(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
                cs_kv_free(copy);
            }
        }
        check_purge(kv);
    }
    cs_buf_free(&out);
    cs_buf_free(&again);
    cs_kv_free(kv);
    return 0;
}
