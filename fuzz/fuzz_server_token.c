/*
 * fuzz_server_token.c: the session-token decoder (src/server/token.c,
 * compiled in). Anything is accepted or refused with CS_EPARSE; an accepted
 * token re-formats to exactly the input: one spelling per index.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "server/token.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t index = 0;
    int rc = srv_token_parse(data, size, &index);
    CS_ASSERT(rc == 0 || rc == CS_EPARSE);
    if (rc != 0) return 0;
    char token[SRV_TOKEN_BYTES_MAX];
    size_t len = srv_token_format(token, index);
    CS_ASSERT(len == size && memcmp(token, data, size) == 0);
    return 0;
}
