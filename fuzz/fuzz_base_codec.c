/*
 * fuzz_codec.c: the bounded reader on arbitrary bytes.
 *
 * The input is a program: each op byte picks a read (varint, fixed integer,
 * bytes with a limit, count) applied to the rest. Whatever the bytes, reads
 * must stay in bounds, and everything that decodes must re-encode to the
 * exact bytes it came from (the encoding is canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_reader r;
    cs_reader_init(&r, data, size);
    struct cs_buf out;
    cs_buf_init(&out, 1u << 20);
    for (int steps = 0; steps < 256 && cs_reader_remaining(&r) > 0; steps++) {
        uint8_t op;
        if (cs_get_u8(&r, &op)) break;
        size_t start = r.pos;
        int rc;
        switch (op % 6) {
        case 0: {
            uint64_t v;
            rc = cs_get_uvarint(&r, &v);
            if (rc == 0) cs_put_uvarint(&out, v);
            break;
        }
        case 1: {
            int64_t v;
            rc = cs_get_svarint(&r, &v);
            if (rc == 0) cs_put_svarint(&out, v);
            break;
        }
        case 2: {
            uint64_t v;
            rc = cs_get_u64le(&r, &v);
            if (rc == 0) cs_put_u64le(&out, v);
            break;
        }
        case 3: {
            uint32_t v;
            rc = cs_get_u32le(&r, &v);
            if (rc == 0) cs_put_u32le(&out, v);
            break;
        }
        case 4: {
            const uint8_t *p;
            size_t len;
            rc = cs_get_bytes(&r, &p, &len, op);
            if (rc == 0) {
                CS_ASSERT(len <= op);
                cs_put_bytes(&out, p, len);
            }
            break;
        }
        default: {
            uint64_t n;
            rc = cs_get_count(&r, &n, 1000, 1 + op % 7);
            if (rc == 0) {
                CS_ASSERT(n <= 1000);
                CS_ASSERT(n * (1 + op % 7) <= cs_reader_remaining(&r));
                cs_put_uvarint(&out, n);
            }
            break;
        }
        }
        if (rc != 0) {
            CS_ASSERT(rc == CS_EDECODE || rc == CS_ETOOBIG);
            CS_ASSERT(cs_reader_error(&r) == rc);
            break;
        }
        size_t used = r.pos - start;
        CS_ASSERT(cs_buf_error(&out) == 0);
        CS_ASSERT(out.len == used);
        CS_ASSERT(memcmp(out.data, data + start, used) == 0);
        cs_buf_reset(&out);
    }
    cs_buf_free(&out);
    return 0;
}
