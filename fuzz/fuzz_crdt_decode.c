/*
 * fuzz_crdt_decode.c: every CRDT decoder on arbitrary bytes.
 *
 * The type tag (byte 1) picks the decoder, and the input is also tried with
 * a second decoder so that wrong-type bytes are exercised too. Whatever the
 * bytes, a decoder must return 0 or a decode error, never crash or leak.
 * What decodes must be canonical: re-encoding gives back exactly the input,
 * the state equals its own copy, sits below itself, and merging it into its
 * copy changes nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/crdt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUT_BYTES_MAX (1u << 22)

#define FUZZ_TYPE(T)                                                                               \
    static void fuzz_##T(const uint8_t *data, size_t size)                                         \
    {                                                                                              \
        struct cs_##T s, c;                                                                        \
        cs_##T##_init(&s);                                                                         \
        cs_##T##_init(&c);                                                                         \
        int rc = cs_##T##_decode(&s, data, size);                                                  \
        CS_ASSERT(rc == 0 || rc == CS_EDECODE || rc == CS_EVERSION || rc == CS_ETOOBIG);           \
        if (rc == 0) {                                                                             \
            struct cs_buf out;                                                                     \
            cs_buf_init(&out, FUZZ_OUT_BYTES_MAX);                                                 \
            CS_ASSERT(cs_##T##_encode(&s, &out) == 0);                                             \
            CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);                       \
            CS_ASSERT(cs_##T##_copy(&c, &s) == 0);                                                 \
            CS_ASSERT(cs_##T##_equal(&c, &s) && cs_##T##_leq(&s, &c));                             \
            CS_ASSERT(cs_##T##_merge(&c, &s) == 0 && cs_##T##_equal(&c, &s));                      \
            cs_buf_free(&out);                                                                     \
        }                                                                                          \
        cs_##T##_free(&s);                                                                         \
        cs_##T##_free(&c);                                                                         \
    }

FUZZ_TYPE(gcounter)
FUZZ_TYPE(pncounter)
FUZZ_TYPE(gset)
FUZZ_TYPE(twopset)
FUZZ_TYPE(lwwreg)
FUZZ_TYPE(lwwset)
FUZZ_TYPE(mvreg)
FUZZ_TYPE(orset)
FUZZ_TYPE(ormap)
FUZZ_TYPE(bcounter)

static void fuzz_rankmap(const uint8_t *data, size_t size)
{
    struct cs_rankmap s, c;
    CS_ASSERT(cs_rankmap_init(&s) == 0 && cs_rankmap_init(&c) == 0);
    int rc = cs_rankmap_decode(&s, data, size);
    CS_ASSERT(rc == 0 || rc == CS_EDECODE || rc == CS_EVERSION || rc == CS_ETOOBIG);
    if (rc == 0) {
        struct cs_buf out;
        cs_buf_init(&out, FUZZ_OUT_BYTES_MAX);
        CS_ASSERT(cs_rankmap_encode(&s, &out) == 0);
        CS_ASSERT(out.len == size && memcmp(out.data, data, size) == 0);
        CS_ASSERT(cs_rankmap_check(&s));
        CS_ASSERT(cs_rankmap_copy(&c, &s) == 0 && cs_rankmap_equal(&c, &s));
        CS_ASSERT(cs_rankmap_merge(&c, &s) == 0 && cs_rankmap_equal(&c, &s));
        cs_buf_free(&out);
    }
    cs_rankmap_free(&s);
    cs_rankmap_free(&c);
}

static void (*const fuzz_decoders[])(const uint8_t *, size_t) = {
    fuzz_gcounter, fuzz_pncounter, fuzz_gset,  fuzz_twopset,  fuzz_lwwreg,  fuzz_lwwset,
    fuzz_mvreg,    fuzz_orset,     fuzz_ormap, fuzz_bcounter, fuzz_rankmap,
};
#define FUZZ_DECODERS (sizeof fuzz_decoders / sizeof fuzz_decoders[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t pick = size > 1 ? (size_t)(data[1] + FUZZ_DECODERS - 1) % FUZZ_DECODERS : 0;
    fuzz_decoders[pick](data, size);
    /* And one decoder that (usually) does not match the tag. */
    size_t other = size > 2 ? data[size - 1] % FUZZ_DECODERS : (pick + 1) % FUZZ_DECODERS;
    fuzz_decoders[other](data, size);
    return 0;
}
