/*
 * fuzz_store_snapshot.c: the WAL backend's snapshot file decoder on arbitrary
 * bytes, decoded from memory.
 *
 * Checks: a decoder that accepts an image reports a meta within its limits and
 * a data view inside the image; re-encoding that meta and data gives back
 * exactly the image (the format is canonical); and every strict prefix of an
 * accepted image is refused (a snapshot cut short is never taken for one).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/store.h"
#include "store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_raft_snapshot_meta meta;
    const uint8_t *body;
    size_t body_len;
    int rc = store_wal_snap_decode(data, size, &meta, &body, &body_len);
    CS_ASSERT(rc == 0 || rc == CS_ECORRUPT || rc == CS_EVERSION);
    if (rc != 0) return 0;
    CS_ASSERT(meta.conf.members_len <= CS_RAFT_MEMBERS_MAX);
    CS_ASSERT(body >= data && body + body_len == data + size);
    struct cs_raft_snapshot snap = {.meta = meta, .data_len = body_len, .data = body};
    uint8_t head[WAL_SNAP_HEAD_BYTES_MAX];
    size_t head_len = store_wal_snap_head_encode(&snap, head);
    CS_ASSERT(head_len + body_len == size);
    CS_ASSERT(memcmp(head, data, head_len) == 0);
    size_t cut = (size_t)data[size - 1] % size;
    CS_ASSERT(store_wal_snap_decode(data, cut, &meta, &body, &body_len) != 0);
    return 0;
}
