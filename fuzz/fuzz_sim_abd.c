/*
 * fuzz_sim_abd.c: the ABD register's message decoder on arbitrary bytes.
 * Whatever arrives from the simulated network must decode or be refused with
 * CS_EDECODE, and a message that decodes must re-encode to the same bytes:
 * the wire format is canonical, so a replica can never read one message two
 * ways.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "consist/codec.h"
#include "sim/protocols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct sim_abd_msg msg;
    int rc = sim_abd_msg_decode(data, size, &msg);
    if (rc != 0) {
        CS_ASSERT(rc == CS_EDECODE);
        return 0;
    }
    uint8_t mem[64];
    struct cs_buf out;
    cs_buf_init_fixed(&out, mem, sizeof mem);
    CS_ASSERT(sim_abd_msg_encode(&msg, &out) == 0);
    CS_ASSERT(out.len == size);
    CS_ASSERT(memcmp(out.data, data, size) == 0);
    return 0;
}
