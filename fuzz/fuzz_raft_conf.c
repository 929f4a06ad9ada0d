/*
 * fuzz_raft_conf.c: the decoder of a configuration entry (the data of a
 * CS_RAFT_ENTRY_CONF entry, which every node decodes when it applies a
 * membership change). Whatever the bytes, it fails with a CS_E code or yields
 * a configuration within CS_RAFT_MEMBERS_MAX whose re-encoding is exactly the
 * input.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "consist/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_raft_conf conf;
    int rc = cs_raft_conf_decode(data, size, &conf);
    if (rc != 0) {
        CS_ASSERT(rc < 0);
        return 0;
    }
    CS_ASSERT(conf.members_len <= CS_RAFT_MEMBERS_MAX);
    struct cs_buf out;
    cs_buf_init(&out, size + 64);
    CS_ASSERT(cs_raft_conf_encode(&conf, &out) == 0);
    CS_ASSERT(out.len == size);
    CS_ASSERT(memcmp(out.data, data, size) == 0);
    cs_buf_free(&out);
    return 0;
}
