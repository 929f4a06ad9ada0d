/*
 * crdt_elements_max.c: CS_CRDT_ELEMENTS_MAX at the limit and one past it,
 * with real members, not a claimed count.
 *
 * The one idea: filling a set with 4M adds is too slow for ctest, but
 * decoding is not. A G-Set of exactly CS_CRDT_ELEMENTS_MAX members, each the
 * 3 big-endian bytes of its index (so the encoding is sorted), takes 16 MB;
 * the whole test runs in about 3 s (release; 5 s and 300 MB under ASan).
 * At the limit the set decodes whole and then refuses to grow by any path
 * (add, merge) while re-adding a member it holds still works; the same
 * members plus one more are refused by the decoder.
 */
#include "consist/crdt.h"
#include "testlib.h"

/* Each member is 3 bytes and 2^24 of them exist: room for the limit. */
_Static_assert(CS_CRDT_ELEMENTS_MAX < (1u << 24), "3-byte members cover the limit");

static size_t member_of(uint32_t i, uint8_t m[3])
{
    m[0] = (uint8_t)(i >> 16);
    m[1] = (uint8_t)(i >> 8);
    m[2] = (uint8_t)i;
    return 3;
}

/* The canonical G-Set encoding of members 0..count-1. */
static void encode_members(struct cs_buf *b, uint32_t count)
{
    cs_buf_reset(b);
    cs_put_u8(b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(b, CS_CRDT_GSET);
    cs_put_uvarint(b, count);
    for (uint32_t i = 0; i < count; i++) {
        uint8_t m[3];
        cs_put_bytes(b, m, member_of(i, m));
    }
}

CS_TEST(gset_at_elements_max_and_one_past)
{
    struct cs_buf b;
    cs_buf_init(&b, (size_t)8 * CS_CRDT_ELEMENTS_MAX);
    encode_members(&b, CS_CRDT_ELEMENTS_MAX);
    CS_CHECK_OK(cs_buf_error(&b));

    struct cs_gset full;
    cs_gset_init(&full);
    CS_CHECK_OK(cs_gset_decode(&full, b.data, b.len));
    CS_CHECK_EQ_U64(cs_gset_len(&full), CS_CRDT_ELEMENTS_MAX);
    uint8_t m[3];
    CS_CHECK(cs_gset_contains(&full, m, member_of(0, m)));
    CS_CHECK(cs_gset_contains(&full, m, member_of(CS_CRDT_ELEMENTS_MAX - 1, m)));
    CS_CHECK(!cs_gset_contains(&full, m, member_of(CS_CRDT_ELEMENTS_MAX, m)));

    /* Full: a member it holds can be added again (no growth), a new one cannot. */
    CS_CHECK_OK(cs_gset_add(&full, m, member_of(12345, m), NULL));
    CS_CHECK_RC(cs_gset_add(&full, m, member_of(CS_CRDT_ELEMENTS_MAX, m), NULL), CS_ETOOBIG);
    CS_CHECK_EQ_U64(cs_gset_len(&full), CS_CRDT_ELEMENTS_MAX);

    /* The same through a merge: one new member is refused, known ones join. */
    struct cs_gset delta;
    cs_gset_init(&delta);
    CS_CHECK_OK(cs_gset_add(&delta, m, member_of(7, m), NULL));
    CS_CHECK_OK(cs_gset_merge(&full, &delta));
    CS_CHECK_OK(cs_gset_add(&delta, m, member_of(CS_CRDT_ELEMENTS_MAX, m), NULL));
    CS_CHECK_RC(cs_gset_merge(&full, &delta), CS_ETOOBIG);
    CS_CHECK_EQ_U64(cs_gset_len(&full), CS_CRDT_ELEMENTS_MAX);
    CS_CHECK(!cs_gset_contains(&full, m, member_of(CS_CRDT_ELEMENTS_MAX, m)));
    cs_gset_free(&delta);
    cs_gset_free(&full);

    /* One past: every byte of a valid set one member longer is present, and
     * the decoder still refuses it, before allocating. */
    encode_members(&b, CS_CRDT_ELEMENTS_MAX + 1);
    CS_CHECK_OK(cs_buf_error(&b));
    struct cs_gset past;
    cs_gset_init(&past);
    CS_CHECK_RC(cs_gset_decode(&past, b.data, b.len), CS_ETOOBIG);
    CS_CHECK_EQ_U64(cs_gset_len(&past), 0);
    cs_gset_free(&past);
    cs_buf_free(&b);
}

CS_TEST_MAIN(CS_CASE(gset_at_elements_max_and_one_past))
