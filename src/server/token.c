/*
 * token.c: session tokens ("cs1-" and a log index in decimal) and the one
 * strict decimal parser the server's text inputs share.
 *
 * The one idea: a token comes from a client and goes back to the server as
 * text, so it is parsed like any input: exactly one spelling per number (no
 * sign, no leading zero, no overflow), anything else refused.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "server.h"

int srv_parse_u64(const uint8_t *text, size_t len, uint64_t *out)
{
    if (len == 0 || (text[0] == '0' && len > 1)) return CS_EPARSE;
    uint64_t v = 0;
    for (size_t k = 0; k < len; k++) {
        if (text[k] < '0' || text[k] > '9') return CS_EPARSE;
        uint64_t d = (uint64_t)(text[k] - '0');
        if (v > (UINT64_MAX - d) / 10) return CS_EPARSE;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

size_t srv_token_format(char out[SRV_TOKEN_BYTES_MAX], uint64_t index)
{
    int len = snprintf(out, SRV_TOKEN_BYTES_MAX, SRV_TOKEN_PREFIX "%" PRIu64, index);
    CS_ASSERT(len > 0 && len < SRV_TOKEN_BYTES_MAX);
    return (size_t)len;
}

int srv_token_parse(const uint8_t *text, size_t len, uint64_t *index)
{
    size_t plen = strlen(SRV_TOKEN_PREFIX);
    if (len <= plen || memcmp(text, SRV_TOKEN_PREFIX, plen) != 0) return CS_EPARSE;
    return srv_parse_u64(text + plen, len - plen, index);
}
