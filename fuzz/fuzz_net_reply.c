/*
 * fuzz_net_reply.c: the RESP reply token reader on arbitrary bytes.
 *
 * The stream is read token by token, whole; then read up to a cut point
 * (from the first byte) and resumed on the whole stream: the tokens must be
 * the same (a reader stopping at an incomplete token never consumes it),
 * every view must lie inside the input, and the reader must always advance
 * or stop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/resp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLY_BYTES_MAX 256

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Read from *pos while tokens complete within len; hash them. Returns the reader's rc. */
static int read_tokens(const uint8_t *in, size_t len, size_t *pos, uint64_t *hash)
{
    for (int steps = 0; steps < 100000; steps++) {
        struct cs_resp_token t;
        size_t before = *pos;
        int rc = cs_resp_read_token(in, len, pos, REPLY_BYTES_MAX, &t);
        if (rc) {
            CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG);
            CS_ASSERT(*pos == before);
            return rc;
        }
        if (t.type == CS_RESP_NONE) {
            CS_ASSERT(*pos == before);
            return 0;
        }
        CS_ASSERT(*pos > before && *pos <= len);
        if (t.text) {
            CS_ASSERT(t.text >= in + before && t.text + t.text_len <= in + *pos);
            CS_ASSERT(t.text_len <= REPLY_BYTES_MAX);
        }
        int type = (int)t.type;
        *hash = fnv(*hash, &type, sizeof type);
        *hash = fnv(*hash, &t.integer, sizeof t.integer);
        *hash = fnv(*hash, t.text, t.text ? t.text_len : 0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    const uint8_t *in = data + 1;
    size_t len = size - 1;
    uint64_t whole = 0, split = 0;
    size_t pos_whole = 0, pos_split = 0;
    int rc_whole = read_tokens(in, len, &pos_whole, &whole);
    size_t cut = len ? data[0] * len / 256 : 0;
    int rc_cut = read_tokens(in, cut, &pos_split, &split);
    CS_ASSERT(pos_split <= cut);
    if (rc_cut == 0) {
        int rc_rest = read_tokens(in, len, &pos_split, &split);
        CS_ASSERT(rc_rest == rc_whole);
        CS_ASSERT(pos_split == pos_whole);
        CS_ASSERT(split == whole);
    }
    return 0;
}
