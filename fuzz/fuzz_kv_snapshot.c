/*
 * fuzz_kv_snapshot.c: restoring a key-value snapshot from arbitrary bytes.
 *
 * Whatever the bytes, restore fails with a CS_E code and leaves the map as it
 * was, or succeeds, and then taking a snapshot gives back exactly the input
 * (the encoding is canonical: sorted keys and sessions).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/kv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_kv *kv = NULL;
    if (cs_kv_new(&kv) != 0) return 0;
    int rc = cs_kv_restore(kv, data, size);
    struct cs_buf out;
    cs_buf_init(&out, CS_KV_SNAPSHOT_BYTES_MAX);
    if (rc != 0) {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
        CS_ASSERT(cs_kv_keys(kv) == 0 && cs_kv_sessions(kv) == 0);
    } else {
        CS_ASSERT(cs_kv_snapshot(kv, &out) == 0);
        CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);
    }
    cs_buf_free(&out);
    cs_kv_free(kv);
    return 0;
}
