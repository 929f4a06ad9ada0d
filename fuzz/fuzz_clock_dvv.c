/*
 * fuzz_clock_dvv.c: the dotted version vector set decoder on arbitrary bytes.
 *
 * The input is read as up to two back-to-back set encodings. A decoded set
 * must re-encode to exactly its bytes (canonical format) and whole-buffer
 * decode must agree with the reader. When two sets decode, sync must give the
 * same result in both directions (or refuse both ways with the same code and
 * leave the set unchanged), be idempotent, and cover both contexts; and a
 * write made with the joined context must leave exactly one sibling.
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

static void check_pair(const struct cs_dvvset *a, const struct cs_dvvset *b)
{
    struct cs_dvvset ab, ba, again;
    cs_dvvset_init(&ab);
    cs_dvvset_init(&ba);
    cs_dvvset_init(&again);
    CS_ASSERT(cs_dvvset_copy(&ab, a) == 0);
    CS_ASSERT(cs_dvvset_copy(&ba, b) == 0);
    int rc1 = cs_dvvset_sync(&ab, b), rc2 = cs_dvvset_sync(&ba, a);
    CS_ASSERT(rc1 == rc2);
    if (rc1 != 0) {
        CS_ASSERT(rc1 == CS_ETOOBIG || rc1 == CS_ECONFLICT);
        CS_ASSERT(cs_dvvset_equal(&ab, a));
        goto done;
    }
    CS_ASSERT(cs_dvvset_equal(&ab, &ba));
    CS_ASSERT(cs_vclock_descends(cs_dvvset_join(&ab), cs_dvvset_join(a)));
    CS_ASSERT(cs_vclock_descends(cs_dvvset_join(&ab), cs_dvvset_join(b)));
    CS_ASSERT(cs_dvvset_copy(&again, &ab) == 0);
    CS_ASSERT(cs_dvvset_sync(&again, b) == 0);
    CS_ASSERT(cs_dvvset_equal(&again, &ab));

    /* A write that read everything supersedes every sibling. */
    uint64_t node_id = a->context.entries_len ? a->context.entries[0].node_id : 1;
    int rc = cs_dvvset_event(&again, cs_dvvset_join(&again), node_id, "x", 1, NULL);
    if (rc == 0) {
        CS_ASSERT(again.siblings_len == 1);
    } else {
        CS_ASSERT(rc == CS_EOVERFLOW);
        CS_ASSERT(cs_dvvset_equal(&again, &ab));
    }
done:
    cs_dvvset_free(&ab);
    cs_dvvset_free(&ba);
    cs_dvvset_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_reader r;
    struct cs_dvvset a, b, whole;
    struct cs_buf out;
    cs_dvvset_init(&a);
    cs_dvvset_init(&b);
    cs_dvvset_init(&whole);
    cs_buf_init(&out, CS_DVVSET_ENCODED_BYTES_MAX);
    cs_reader_init(&r, data, size);

    int rc = cs_dvvset_read(&a, &r);
    int whole_rc = cs_dvvset_decode(&whole, data, size);
    if (rc != 0) {
        CS_ASSERT(decode_error(rc) || rc == CS_ENOMEM);
        CS_ASSERT(whole_rc == rc);
        CS_ASSERT(a.siblings_len == 0 && a.context.entries_len == 0);
        goto done;
    }
    CS_ASSERT(cs_dvvset_encode(&a, &out) == 0);
    CS_ASSERT(out.len == r.pos);
    CS_ASSERT(memcmp(out.data, data, out.len) == 0);
    CS_ASSERT((whole_rc == 0) == (r.pos == size));
    if (whole_rc == 0) CS_ASSERT(cs_dvvset_equal(&whole, &a));

    size_t second = r.pos;
    if (cs_dvvset_read(&b, &r) == 0) {
        cs_buf_reset(&out);
        CS_ASSERT(cs_dvvset_encode(&b, &out) == 0);
        CS_ASSERT(out.len == r.pos - second);
        CS_ASSERT(memcmp(out.data, data + second, out.len) == 0);
        check_pair(&a, &b);
    }
done:
    cs_dvvset_free(&a);
    cs_dvvset_free(&b);
    cs_dvvset_free(&whole);
    cs_buf_free(&out);
    return 0;
}
