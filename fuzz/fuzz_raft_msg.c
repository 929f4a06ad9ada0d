/*
 * fuzz_raft_msg.c: the Raft message decoder on arbitrary bytes.
 *
 * Whatever the bytes, decoding stays in bounds and either fails with a CS_E
 * code or yields a message within every limit whose re-encoding is exactly
 * the input (the encoding is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cs_raft_entry entries[CS_RAFT_MSG_ENTRIES_MAX];
    struct cs_raft_msg m;
    int rc = cs_raft_msg_decode(data, size, &m, entries, CS_RAFT_MSG_ENTRIES_MAX);
    if (rc != 0) {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION);
        return 0;
    }
    CS_ASSERT(m.type >= 1 && m.type <= CS_RAFT_MSG_TYPE_MAX);
    CS_ASSERT(m.entries_len <= CS_RAFT_MSG_ENTRIES_MAX);
    CS_ASSERT(m.chunk_len <= CS_RAFT_CHUNK_BYTES_MAX);
    CS_ASSERT(m.snap_meta.conf.members_len <= CS_RAFT_MEMBERS_MAX);
    for (uint32_t k = 0; k < m.entries_len; k++) {
        CS_ASSERT(m.entries[k].index == m.index + 1 + k);
        CS_ASSERT(m.entries[k].term <= m.term);
        CS_ASSERT(m.entries[k].data_len <= CS_RAFT_ENTRY_BYTES_MAX);
    }
    struct cs_buf out;
    cs_buf_init(&out, CS_RAFT_MSG_BYTES_MAX);
    CS_ASSERT(cs_raft_msg_encode(&m, &out) == 0);
    CS_ASSERT(out.len == size);
    CS_ASSERT(memcmp(out.data, data, size) == 0);
    cs_buf_free(&out);
    return 0;
}
