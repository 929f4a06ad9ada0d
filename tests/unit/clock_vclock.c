/*
 * clock_vclock.c: the vector clock's contract, function by function: tick,
 * get, merge, update, compare and its predicates, prune, copy, the exam's
 * node API, the encoding and every decoder error, and the entries limit at
 * CS_VCLOCK_ENTRIES_MAX and one past it. Clocks are written out by hand so
 * each expected answer can be checked by eye.
 */
#include <stdlib.h>

#include "consist/clock.h"
#include "testlib.h"

/* vc_set: make vc hold exactly the (node_id, counter) pairs given, sorted. */
static void vc_set(struct cs_vclock *vc, const uint64_t *pairs, size_t pairs_len)
{
    CS_CHECK(pairs_len % 2 == 0);
    CS_CHECK_OK(cs_vclock_reserve(vc, pairs_len / 2));
    vc->entries_len = 0;
    for (size_t i = 0; i < pairs_len; i += 2) {
        vc->entries[vc->entries_len].node_id = pairs[i];
        vc->entries[vc->entries_len].counter = pairs[i + 1];
        vc->entries_len++;
    }
}

#define VC_SET(vc, ...)                                                                            \
    do {                                                                                           \
        static const uint64_t pairs_[] = {__VA_ARGS__};                                            \
        vc_set((vc), pairs_, sizeof pairs_ / sizeof pairs_[0]);                                    \
    } while (0)

/* vc_is: vc holds exactly these pairs. */
static bool vc_is(const struct cs_vclock *vc, const uint64_t *pairs, size_t pairs_len)
{
    if (vc->entries_len != pairs_len / 2) return false;
    for (size_t i = 0; i < pairs_len; i += 2) {
        if (vc->entries[i / 2].node_id != pairs[i]) return false;
        if (vc->entries[i / 2].counter != pairs[i + 1]) return false;
    }
    return true;
}

#define CHECK_VC(vc, ...)                                                                          \
    do {                                                                                           \
        static const uint64_t want_[] = {__VA_ARGS__};                                             \
        CS_CHECK_MSG(vc_is((vc), want_, sizeof want_ / sizeof want_[0]), "%s does not hold {%s}",  \
                     #vc, #__VA_ARGS__);                                                           \
    } while (0)

/* vc_full: a clock with entries_len entries, node ids 1..entries_len, counters 1. */
static void vc_full(struct cs_vclock *vc, size_t entries_len, uint64_t first_node_id)
{
    CS_CHECK_OK(cs_vclock_reserve(vc, entries_len));
    for (size_t i = 0; i < entries_len; i++) {
        vc->entries[i].node_id = first_node_id + i;
        vc->entries[i].counter = 1;
    }
    vc->entries_len = (uint32_t)entries_len;
}

/* Ticks add entries in node-id order, increment existing ones, and get reads them. */
CS_TEST(tick_and_get)
{
    struct cs_vclock vc;
    cs_vclock_init(&vc);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 5), 0);
    CS_CHECK_OK(cs_vclock_tick(&vc, 30));
    CS_CHECK_OK(cs_vclock_tick(&vc, 10));
    CS_CHECK_OK(cs_vclock_tick(&vc, 20));
    CS_CHECK_OK(cs_vclock_tick(&vc, 10));
    CS_CHECK_OK(cs_vclock_tick(&vc, UINT64_MAX));
    CS_CHECK_OK(cs_vclock_tick(&vc, 0));
    CHECK_VC(&vc, 0, 1, 10, 2, 20, 1, 30, 1, UINT64_MAX, 1);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 10), 2);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 15), 0);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, UINT64_MAX), 1);
    cs_vclock_free(&vc);
    CS_CHECK_EQ(vc.entries_len, 0);
    CS_CHECK(vc.entries == NULL);
}

/* A counter at UINT64_MAX cannot tick: CS_EOVERFLOW, clock unchanged. */
CS_TEST(tick_overflow)
{
    struct cs_vclock vc;
    cs_vclock_init(&vc);
    VC_SET(&vc, 1, UINT64_MAX - 1, 2, 4);
    CS_CHECK_OK(cs_vclock_tick(&vc, 1));
    CS_CHECK_RC(cs_vclock_tick(&vc, 1), CS_EOVERFLOW);
    CHECK_VC(&vc, 1, UINT64_MAX, 2, 4);
    cs_vclock_free(&vc);
}

/* compare names each of the four relations; the predicates agree with it. */
CS_TEST(compare_relations)
{
    struct cs_vclock a, b;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_EQUAL); /* both empty */

    VC_SET(&a, 1, 1);
    VC_SET(&b, 1, 1, 2, 1);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_BEFORE);
    CS_CHECK_EQ(cs_vclock_compare(&b, &a), CS_VC_AFTER);
    CS_CHECK(cs_vclock_happens_before(&a, &b));
    CS_CHECK(!cs_vclock_happens_before(&b, &a));
    CS_CHECK(cs_vclock_descends(&b, &a));
    CS_CHECK(!cs_vclock_descends(&a, &b));
    CS_CHECK(!cs_vclock_concurrent(&a, &b));

    VC_SET(&a, 1, 2);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_CONCURRENT);
    CS_CHECK_EQ(cs_vclock_compare(&b, &a), CS_VC_CONCURRENT);
    CS_CHECK(cs_vclock_concurrent(&a, &b));
    CS_CHECK(!cs_vclock_descends(&a, &b) && !cs_vclock_descends(&b, &a));

    /* Disjoint members are concurrent; equal clocks descend each other. */
    VC_SET(&a, 3, 1);
    VC_SET(&b, 4, 1);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_CONCURRENT);
    VC_SET(&a, 3, 7, 9, 1);
    VC_SET(&b, 3, 7, 9, 1);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_EQUAL);
    CS_CHECK(cs_vclock_equal(&a, &b));
    CS_CHECK(cs_vclock_descends(&a, &b) && cs_vclock_descends(&b, &a));
    CS_CHECK(!cs_vclock_happens_before(&a, &b) && !cs_vclock_concurrent(&a, &b));

    /* Differences only at the tail of either array are still seen. */
    VC_SET(&a, 1, 1, 2, 1, 9, 1);
    VC_SET(&b, 1, 1, 2, 2);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_CONCURRENT);
    VC_SET(&b, 1, 1, 2, 1);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), CS_VC_AFTER);
    CS_CHECK_EQ(cs_vclock_compare(&b, &a), CS_VC_BEFORE);

    CS_CHECK_STR(cs_vc_order_name(CS_VC_BEFORE), "happens-before");
    CS_CHECK_STR(cs_vc_order_name(CS_VC_CONCURRENT), "concurrent-with");
    CS_CHECK_STR(cs_vc_order_name(CS_VC_AFTER), "happens-after");
    CS_CHECK_STR(cs_vc_order_name(CS_VC_EQUAL), "equal");
    cs_vclock_free(&a);
    cs_vclock_free(&b);
}

/* merge takes the entry-wise maximum over the union of members. */
CS_TEST(merge_is_entrywise_max)
{
    struct cs_vclock a, b;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    VC_SET(&a, 2, 5, 4, 1, 8, 3);
    VC_SET(&b, 1, 1, 4, 6, 8, 2, 9, 9);
    CS_CHECK_OK(cs_vclock_merge(&a, &b));
    CHECK_VC(&a, 1, 1, 2, 5, 4, 6, 8, 3, 9, 9);
    CHECK_VC(&b, 1, 1, 4, 6, 8, 2, 9, 9);
    CS_CHECK_OK(cs_vclock_merge(&a, &a)); /* with itself: unchanged */
    CHECK_VC(&a, 1, 1, 2, 5, 4, 6, 8, 3, 9, 9);

    struct cs_vclock empty;
    cs_vclock_init(&empty);
    CS_CHECK_OK(cs_vclock_merge(&a, &empty));
    CHECK_VC(&a, 1, 1, 2, 5, 4, 6, 8, 3, 9, 9);
    CS_CHECK_OK(cs_vclock_merge(&empty, &b));
    CHECK_VC(&empty, 1, 1, 4, 6, 8, 2, 9, 9);
    cs_vclock_free(&a);
    cs_vclock_free(&b);
    cs_vclock_free(&empty);
}

/* update = merge, then tick the receiver; also when the message is the receiver's own clock. */
CS_TEST(update_merges_then_ticks)
{
    struct cs_vclock b, m;
    cs_vclock_init(&b);
    cs_vclock_init(&m);
    VC_SET(&b, 2, 3);
    VC_SET(&m, 1, 4, 2, 1);
    CS_CHECK_OK(cs_vclock_update(&b, 2, &m));
    CHECK_VC(&b, 1, 4, 2, 4);
    CS_CHECK_OK(cs_vclock_update(&b, 3, &m)); /* a node new to both */
    CHECK_VC(&b, 1, 4, 2, 4, 3, 1);
    CS_CHECK_OK(cs_vclock_update(&b, 1, &b)); /* aliased */
    CHECK_VC(&b, 1, 5, 2, 4, 3, 1);
    CS_CHECK(cs_vclock_happens_before(&m, &b));

    /* Overflow of the receiver's counter after the merge: refused, unchanged. */
    VC_SET(&m, 1, UINT64_MAX, 7, 1);
    CS_CHECK_RC(cs_vclock_update(&b, 1, &m), CS_EOVERFLOW);
    CHECK_VC(&b, 1, 5, 2, 4, 3, 1);
    cs_vclock_free(&b);
    cs_vclock_free(&m);
}

/* CS_VCLOCK_ENTRIES_MAX entries fit; a new node one past it is refused, unchanged. */
CS_TEST(entries_limit)
{
    struct cs_vclock vc, other;
    cs_vclock_init(&vc);
    cs_vclock_init(&other);
    for (uint64_t n = 1; n <= CS_VCLOCK_ENTRIES_MAX; n++)
        CS_CHECK_OK(cs_vclock_tick(&vc, n));
    CS_CHECK_EQ(vc.entries_len, CS_VCLOCK_ENTRIES_MAX);
    CS_CHECK_RC(cs_vclock_tick(&vc, CS_VCLOCK_ENTRIES_MAX + 1), CS_ETOOBIG);
    CS_CHECK_EQ(vc.entries_len, CS_VCLOCK_ENTRIES_MAX);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, CS_VCLOCK_ENTRIES_MAX + 1), 0);
    CS_CHECK_OK(cs_vclock_tick(&vc, 1)); /* existing members still tick */
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 1), 2);

    /* merge: a union of exactly the limit is fine, one more is refused. */
    VC_SET(&other, 1, 9, CS_VCLOCK_ENTRIES_MAX, 9);
    CS_CHECK_OK(cs_vclock_merge(&vc, &other));
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, CS_VCLOCK_ENTRIES_MAX), 9);
    VC_SET(&other, 1, 10, CS_VCLOCK_ENTRIES_MAX + 1, 1);
    CS_CHECK_RC(cs_vclock_merge(&vc, &other), CS_ETOOBIG);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 1), 9);
    CS_CHECK_EQ(vc.entries_len, CS_VCLOCK_ENTRIES_MAX);

    /* update: the tick of a receiver new to a full union is refused too. */
    VC_SET(&other, 1, 10);
    CS_CHECK_RC(cs_vclock_update(&vc, CS_VCLOCK_ENTRIES_MAX + 5, &other), CS_ETOOBIG);
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 1), 9);
    CS_CHECK_OK(cs_vclock_update(&vc, 2, &other));
    CS_CHECK_EQ_U64(cs_vclock_get(&vc, 1), 10);

    /* reserve names the same limit. */
    CS_CHECK_OK(cs_vclock_reserve(&other, CS_VCLOCK_ENTRIES_MAX));
    CS_CHECK_RC(cs_vclock_reserve(&other, CS_VCLOCK_ENTRIES_MAX + 1), CS_ETOOBIG);
    cs_vclock_free(&vc);
    cs_vclock_free(&other);
}

/*
 * prune forgets a retired node only at its final counter, and pruning the
 * same stable entry from every clock keeps every comparison's answer.
 */
CS_TEST(prune_stable_retired_node)
{
    struct cs_vclock a, b;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    VC_SET(&a, 1, 2, 5, 3, 7, 1);
    VC_SET(&b, 1, 3, 5, 3);
    enum cs_vc_order before = cs_vclock_compare(&a, &b);
    CS_CHECK_EQ(before, CS_VC_CONCURRENT);

    CS_CHECK_RC(cs_vclock_prune(&a, 5, 2), CS_ESTATE); /* not its final counter */
    CHECK_VC(&a, 1, 2, 5, 3, 7, 1);
    CS_CHECK_RC(cs_vclock_prune(&a, 6, 1), CS_ESTATE); /* absent, but the node had events */
    CS_CHECK_OK(cs_vclock_prune(&a, 6, 0));            /* absent, no events: nothing to do */
    CS_CHECK_OK(cs_vclock_prune(&a, 5, 3));
    CS_CHECK_OK(cs_vclock_prune(&b, 5, 3));
    CHECK_VC(&a, 1, 2, 7, 1);
    CHECK_VC(&b, 1, 3);
    CS_CHECK_EQ(cs_vclock_compare(&a, &b), before);
    CS_CHECK_OK(cs_vclock_prune(&a, 7, 1)); /* the last entry */
    CS_CHECK_OK(cs_vclock_prune(&a, 1, 2)); /* and the first */
    CS_CHECK_EQ(a.entries_len, 0);
    cs_vclock_free(&a);
    cs_vclock_free(&b);
}

/* copy makes an equal, independent clock. */
CS_TEST(copy_is_deep)
{
    struct cs_vclock a, b;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    VC_SET(&b, 99, 1);
    VC_SET(&a, 1, 1, 2, 2);
    CS_CHECK_OK(cs_vclock_copy(&b, &a));
    CS_CHECK(cs_vclock_equal(&a, &b));
    CS_CHECK_OK(cs_vclock_tick(&a, 1));
    CHECK_VC(&b, 1, 1, 2, 2);
    CS_CHECK_OK(cs_vclock_copy(&b, &b));
    CHECK_VC(&b, 1, 1, 2, 2);
    cs_vclock_free(&a);
    cs_vclock_free(&b);
}

/* The exam shape: init(node_id, nodes) reserves the group, tick and update never allocate. */
CS_TEST(node_api)
{
    struct cs_vclock_node a, b;
    CS_CHECK_RC(cs_vclock_node_init(&a, 1, 0), CS_EINVAL);
    CS_CHECK_RC(cs_vclock_node_init(&a, 1, CS_VCLOCK_ENTRIES_MAX + 1), CS_ETOOBIG);
    cs_vclock_node_free(&a);
    CS_CHECK_OK(cs_vclock_node_init(&a, 1, CS_VCLOCK_ENTRIES_MAX));
    cs_vclock_node_free(&a);
    CS_CHECK_OK(cs_vclock_node_init(&a, 1, 2));
    CS_CHECK_OK(cs_vclock_node_init(&b, 2, 2));
    struct cs_vclock_entry *memory = b.clock.entries;
    CS_CHECK(b.clock.entries_cap >= 2);
    CS_CHECK_OK(cs_vclock_node_tick(&a));
    CS_CHECK_OK(cs_vclock_node_update(&b, &a.clock));
    CS_CHECK_OK(cs_vclock_node_tick(&b));
    CHECK_VC(&b.clock, 1, 1, 2, 2);
    CS_CHECK(b.clock.entries == memory);
    CS_CHECK(cs_vclock_happens_before(&a.clock, &b.clock));
    CS_CHECK(!cs_vclock_concurrent(&a.clock, &b.clock));
    cs_vclock_node_free(&a);
    cs_vclock_node_free(&b);
}

/* The encoding is exactly: version, count, (node id, counter) varints. */
CS_TEST(encode_layout)
{
    struct cs_vclock vc;
    struct cs_buf buf;
    cs_vclock_init(&vc);
    cs_buf_init(&buf, CS_VCLOCK_ENCODED_BYTES_MAX);
    CS_CHECK_OK(cs_vclock_encode(&vc, &buf));
    static const uint8_t empty[] = {1, 0};
    CS_CHECK_EQ(buf.len, sizeof empty);
    CS_CHECK_MEM(buf.data, empty, sizeof empty);

    cs_buf_reset(&buf);
    VC_SET(&vc, 1, 2, 300, 1);
    CS_CHECK_OK(cs_vclock_encode(&vc, &buf));
    static const uint8_t two[] = {1, 2, 1, 2, 0xac, 0x02, 1};
    CS_CHECK_EQ(buf.len, sizeof two);
    CS_CHECK_MEM(buf.data, two, sizeof two);

    struct cs_vclock back;
    cs_vclock_init(&back);
    CS_CHECK_OK(cs_vclock_decode(&back, two, sizeof two));
    CS_CHECK(cs_vclock_equal(&back, &vc));

    /* The largest clock fits CS_VCLOCK_ENCODED_BYTES_MAX. */
    cs_buf_reset(&buf);
    vc_full(&vc, CS_VCLOCK_ENTRIES_MAX, UINT64_MAX - CS_VCLOCK_ENTRIES_MAX + 1);
    for (uint32_t i = 0; i < vc.entries_len; i++)
        vc.entries[i].counter = UINT64_MAX;
    CS_CHECK_OK(cs_vclock_encode(&vc, &buf));
    CS_CHECK(buf.len <= CS_VCLOCK_ENCODED_BYTES_MAX);
    CS_CHECK_OK(cs_vclock_decode(&back, buf.data, buf.len));
    CS_CHECK(cs_vclock_equal(&back, &vc));

    /* A buffer whose limit is too small reports its error. */
    struct cs_buf tight;
    cs_buf_init(&tight, 10);
    CS_CHECK_RC(cs_vclock_encode(&vc, &tight), CS_ETOOBIG);
    cs_buf_free(&tight);
    cs_buf_free(&buf);
    cs_vclock_free(&vc);
    cs_vclock_free(&back);
}

/* decode_rc: decode bytes into a clock holding {42:42} and check it is untouched on error. */
static int decode_rc(const uint8_t *bytes, size_t len)
{
    struct cs_vclock vc;
    cs_vclock_init(&vc);
    VC_SET(&vc, 42, 42);
    int rc = cs_vclock_decode(&vc, bytes, len);
    if (rc != 0) CHECK_VC(&vc, 42, 42);
    cs_vclock_free(&vc);
    return rc;
}

/* Each malformed input gets its own error code and leaves the clock unchanged. */
CS_TEST(decode_rejects)
{
    static const uint8_t good[] = {1, 2, 1, 2, 5, 1};
    CS_CHECK_OK(decode_rc(good, sizeof good));
    for (size_t n = 0; n < sizeof good; n++)
        CS_CHECK_RC(decode_rc(good, n), CS_EDECODE);

    static const uint8_t version0[] = {0, 0};
    static const uint8_t version2[] = {2, 0};
    CS_CHECK_RC(decode_rc(version0, sizeof version0), CS_EVERSION);
    CS_CHECK_RC(decode_rc(version2, sizeof version2), CS_EVERSION);

    static const uint8_t unsorted[] = {1, 2, 5, 1, 1, 2};
    static const uint8_t duplicate[] = {1, 2, 5, 1, 5, 2};
    static const uint8_t zero_counter[] = {1, 2, 1, 0, 5, 1};
    static const uint8_t trailing[] = {1, 1, 1, 2, 0};
    static const uint8_t overlong_varint[] = {1, 1, 0x81, 0x00, 1};
    static const uint8_t count_past_bytes[] = {1, 3, 1, 1, 2, 1};
    CS_CHECK_RC(decode_rc(unsorted, sizeof unsorted), CS_EDECODE);
    CS_CHECK_RC(decode_rc(duplicate, sizeof duplicate), CS_EDECODE);
    CS_CHECK_RC(decode_rc(zero_counter, sizeof zero_counter), CS_EDECODE);
    CS_CHECK_RC(decode_rc(trailing, sizeof trailing), CS_EDECODE);
    CS_CHECK_RC(decode_rc(overlong_varint, sizeof overlong_varint), CS_EDECODE);
    CS_CHECK_RC(decode_rc(count_past_bytes, sizeof count_past_bytes), CS_EDECODE);

    /* The count at the limit decodes; one past it is CS_ETOOBIG even with the bytes there. */
    size_t len = 3 + 2 * (CS_VCLOCK_ENTRIES_MAX + 1) * 2;
    uint8_t *bytes = calloc(1, len);
    CS_CHECK(bytes != NULL);
    for (int extra = 0; extra <= 1; extra++) {
        size_t count = CS_VCLOCK_ENTRIES_MAX + (size_t)extra, pos = 0;
        struct cs_buf buf;
        cs_buf_init_fixed(&buf, bytes, len);
        cs_put_u8(&buf, 1);
        cs_put_uvarint(&buf, count);
        for (size_t i = 0; i < count; i++) {
            cs_put_uvarint(&buf, i);
            cs_put_uvarint(&buf, 1);
        }
        CS_CHECK_OK(cs_buf_error(&buf));
        pos = buf.len;
        CS_CHECK_RC(decode_rc(bytes, pos), extra ? CS_ETOOBIG : 0);
    }
    free(bytes);
}

/* cs_vclock_read stops after one clock, so clocks can be embedded in larger records. */
CS_TEST(read_embedded)
{
    static const uint8_t two_clocks[] = {1, 1, 4, 2, 1, 0, 0xff};
    struct cs_reader r;
    struct cs_vclock a, b;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    cs_reader_init(&r, two_clocks, sizeof two_clocks);
    CS_CHECK_OK(cs_vclock_read(&a, &r));
    CS_CHECK_OK(cs_vclock_read(&b, &r));
    CHECK_VC(&a, 4, 2);
    CS_CHECK_EQ(b.entries_len, 0);
    CS_CHECK_EQ(cs_reader_remaining(&r), 1);
    CS_CHECK_RC(cs_vclock_read(&a, &r), CS_EVERSION);
    CS_CHECK_RC(cs_reader_error(&r), CS_EVERSION); /* recorded on the reader, sticky */
    CHECK_VC(&a, 4, 2);
    cs_vclock_free(&a);
    cs_vclock_free(&b);
}

CS_TEST_MAIN(CS_CASE(tick_and_get), CS_CASE(tick_overflow), CS_CASE(compare_relations),
             CS_CASE(merge_is_entrywise_max), CS_CASE(update_merges_then_ticks),
             CS_CASE(entries_limit), CS_CASE(prune_stable_retired_node), CS_CASE(copy_is_deep),
             CS_CASE(node_api), CS_CASE(encode_layout), CS_CASE(decode_rejects),
             CS_CASE(read_embedded))
