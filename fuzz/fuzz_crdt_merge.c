/*
 * fuzz_crdt_merge.c: the joins on adversarial states.
 *
 * The input is [u16le length of A][A][B]: two encodings of the type named by
 * A's tag byte. When both decode, the join must be commutative and
 * idempotent, both inputs must sit below it, and the result must encode to
 * a valid, canonical encoding that decodes back to the same state. The joins
 * are where the causal types' logic lives (dots against contexts), so this
 * is where a crash, a leak or a broken law would show.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/crdt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUT_BYTES_MAX (1u << 22)

#define FUZZ_MERGE(T)                                                                              \
    static void merge_##T(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)          \
    {                                                                                              \
        struct cs_##T x, y, xy, yx, back;                                                          \
        cs_##T##_init(&x);                                                                         \
        cs_##T##_init(&y);                                                                         \
        cs_##T##_init(&xy);                                                                        \
        cs_##T##_init(&yx);                                                                        \
        cs_##T##_init(&back);                                                                      \
        if (cs_##T##_decode(&x, a, a_len) == 0 && cs_##T##_decode(&y, b, b_len) == 0) {            \
            int rc = cs_##T##_copy(&xy, &x);                                                       \
            if (rc == 0) rc = cs_##T##_merge(&xy, &y);                                             \
            if (rc == 0) rc = cs_##T##_copy(&yx, &y);                                              \
            if (rc == 0) rc = cs_##T##_merge(&yx, &x);                                             \
            CS_ASSERT(rc == 0 || rc == CS_ETOOBIG);                                                \
            if (rc == 0) {                                                                         \
                CS_ASSERT(cs_##T##_equal(&xy, &yx));                                               \
                CS_ASSERT(cs_##T##_leq(&x, &xy) && cs_##T##_leq(&y, &xy));                         \
                CS_ASSERT(cs_##T##_merge(&xy, &x) == 0 && cs_##T##_equal(&xy, &yx));               \
                struct cs_buf out;                                                                 \
                cs_buf_init(&out, FUZZ_OUT_BYTES_MAX);                                             \
                CS_ASSERT(cs_##T##_encode(&xy, &out) == 0);                                        \
                CS_ASSERT(cs_##T##_decode(&back, out.data, out.len) == 0);                         \
                CS_ASSERT(cs_##T##_equal(&back, &xy));                                             \
                cs_buf_free(&out);                                                                 \
            }                                                                                      \
        }                                                                                          \
        cs_##T##_free(&x);                                                                         \
        cs_##T##_free(&y);                                                                         \
        cs_##T##_free(&xy);                                                                        \
        cs_##T##_free(&yx);                                                                        \
        cs_##T##_free(&back);                                                                      \
    }

FUZZ_MERGE(gcounter)
FUZZ_MERGE(pncounter)
FUZZ_MERGE(gset)
FUZZ_MERGE(twopset)
FUZZ_MERGE(lwwreg)
FUZZ_MERGE(lwwset)
FUZZ_MERGE(mvreg)
FUZZ_MERGE(orset)
FUZZ_MERGE(ormap)
FUZZ_MERGE(bcounter)

static void merge_rankmap(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    struct cs_rankmap x, y, xy, yx;
    CS_ASSERT(cs_rankmap_init(&x) == 0 && cs_rankmap_init(&y) == 0);
    CS_ASSERT(cs_rankmap_init(&xy) == 0 && cs_rankmap_init(&yx) == 0);
    if (cs_rankmap_decode(&x, a, a_len) == 0 && cs_rankmap_decode(&y, b, b_len) == 0) {
        CS_ASSERT(cs_rankmap_copy(&xy, &x) == 0 && cs_rankmap_merge(&xy, &y) == 0);
        CS_ASSERT(cs_rankmap_copy(&yx, &y) == 0 && cs_rankmap_merge(&yx, &x) == 0);
        CS_ASSERT(cs_rankmap_equal(&xy, &yx) && cs_rankmap_check(&xy));
        CS_ASSERT(cs_rankmap_leq(&x, &xy) && cs_rankmap_leq(&y, &xy));
    }
    cs_rankmap_free(&x);
    cs_rankmap_free(&y);
    cs_rankmap_free(&xy);
    cs_rankmap_free(&yx);
}

static void (*const fuzz_mergers[])(const uint8_t *, size_t, const uint8_t *, size_t) = {
    merge_gcounter, merge_pncounter, merge_gset,  merge_twopset,  merge_lwwreg,  merge_lwwset,
    merge_mvreg,    merge_orset,     merge_ormap, merge_bcounter, merge_rankmap,
};
#define FUZZ_MERGERS (sizeof fuzz_mergers / sizeof fuzz_mergers[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4) return 0;
    size_t a_len = (size_t)data[0] | (size_t)data[1] << 8;
    if (a_len > size - 2) return 0;
    const uint8_t *a = data + 2, *b = data + 2 + a_len;
    size_t b_len = size - 2 - a_len;
    size_t pick = a_len > 1 ? (size_t)(a[1] + FUZZ_MERGERS - 1) % FUZZ_MERGERS : 0;
    fuzz_mergers[pick](a, a_len, b, b_len);
    return 0;
}
