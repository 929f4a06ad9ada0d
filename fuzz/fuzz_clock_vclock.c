/*
 * fuzz_clock_vclock.c: the vector clock decoder on arbitrary bytes.
 *
 * The input is read as up to two back-to-back clock encodings. Whatever the
 * bytes: decoding fails with a decode error code or succeeds; a decoded
 * clock re-encodes to exactly the bytes it came from (the format is
 * canonical); whole-buffer decode agrees with the reader. When two clocks
 * decode, compare must mirror itself and merge must be commutative and
 * descend from both, so the fuzzer also explores the algebra on odd shapes
 * (huge ids and counters, the entries limit).
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "consist/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool decode_error(int rc)
{
    return rc == CS_EDECODE || rc == CS_ETOOBIG || rc == CS_EVERSION;
}

static enum cs_vc_order mirror(enum cs_vc_order o)
{
    if (o == CS_VC_BEFORE) return CS_VC_AFTER;
    if (o == CS_VC_AFTER) return CS_VC_BEFORE;
    return o;
}

static void check_pair(const struct cs_vclock *a, const struct cs_vclock *b)
{
    enum cs_vc_order ab = cs_vclock_compare(a, b);
    CS_ASSERT(cs_vclock_compare(b, a) == mirror(ab));
    CS_ASSERT((ab == CS_VC_EQUAL) == cs_vclock_equal(a, b));
    struct cs_vclock m1, m2;
    cs_vclock_init(&m1);
    cs_vclock_init(&m2);
    CS_ASSERT(cs_vclock_copy(&m1, a) == 0);
    CS_ASSERT(cs_vclock_copy(&m2, b) == 0);
    int rc1 = cs_vclock_merge(&m1, b), rc2 = cs_vclock_merge(&m2, a);
    CS_ASSERT(rc1 == rc2);
    if (rc1 == 0) {
        CS_ASSERT(cs_vclock_equal(&m1, &m2));
        CS_ASSERT(cs_vclock_descends(&m1, a) && cs_vclock_descends(&m1, b));
    } else {
        CS_ASSERT(rc1 == CS_ETOOBIG);
        CS_ASSERT(cs_vclock_equal(&m1, a)); /* unchanged on failure */
    }
    cs_vclock_free(&m1);
    cs_vclock_free(&m2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_reader r;
    struct cs_vclock a, b, whole;
    struct cs_buf out;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    cs_vclock_init(&whole);
    cs_buf_init(&out, CS_VCLOCK_ENCODED_BYTES_MAX);
    cs_reader_init(&r, data, size);

    int rc = cs_vclock_read(&a, &r);
    int whole_rc = cs_vclock_decode(&whole, data, size);
    if (rc != 0) {
        CS_ASSERT(decode_error(rc));
        CS_ASSERT(whole_rc == rc);
        CS_ASSERT(a.entries_len == 0);
        goto done;
    }
    CS_ASSERT(cs_vclock_encode(&a, &out) == 0);
    CS_ASSERT(out.len == r.pos);
    CS_ASSERT(memcmp(out.data, data, out.len) == 0);
    CS_ASSERT((whole_rc == 0) == (r.pos == size));
    if (whole_rc == 0) CS_ASSERT(cs_vclock_equal(&whole, &a));

    size_t second = r.pos;
    if (cs_vclock_read(&b, &r) == 0) {
        cs_buf_reset(&out);
        CS_ASSERT(cs_vclock_encode(&b, &out) == 0);
        CS_ASSERT(out.len == r.pos - second);
        CS_ASSERT(memcmp(out.data, data + second, out.len) == 0);
        check_pair(&a, &b);
    }
done:
    cs_vclock_free(&a);
    cs_vclock_free(&b);
    cs_vclock_free(&whole);
    cs_buf_free(&out);
    return 0;
}
