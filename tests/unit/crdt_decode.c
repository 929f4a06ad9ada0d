/*
 * crdt_decode.c: every CRDT decoder rejects malformed input with a CS_E
 * code and leaves its state empty: each truncation of a valid encoding,
 * a wrong version, a wrong type tag, trailing bytes, counts past their
 * limits, unsorted and duplicate entries, non-canonical contexts, and dots
 * the context never saw. Valid encodings round-trip byte for byte.
 */
#include <string.h>

#include "consist/crdt.h"
#include "testlib.h"

/* One decoder under test: build a small valid state's encoding, decode into a fresh state. */
struct codec_case {
    const char *name;
    void (*build)(struct cs_buf *out);
    int (*decode_fresh)(const uint8_t *data, size_t len, struct cs_buf *reencoded);
};

#define DECODE_FRESH(T)                                                                            \
    static int T##_decode_fresh(const uint8_t *data, size_t len, struct cs_buf *re)                \
    {                                                                                              \
        struct cs_##T s;                                                                           \
        cs_##T##_init(&s);                                                                         \
        int rc = cs_##T##_decode(&s, data, len);                                                   \
        if (rc == 0 && re) rc = cs_##T##_encode(&s, re);                                           \
        struct cs_##T empty;                                                                       \
        cs_##T##_init(&empty);                                                                     \
        if (rc != 0 && !cs_##T##_equal(&s, &empty)) rc = 1; /* not left empty */                   \
        cs_##T##_free(&s);                                                                         \
        cs_##T##_free(&empty);                                                                     \
        return rc;                                                                                 \
    }

DECODE_FRESH(gcounter)
DECODE_FRESH(pncounter)
DECODE_FRESH(gset)
DECODE_FRESH(twopset)
DECODE_FRESH(lwwreg)
DECODE_FRESH(lwwset)
DECODE_FRESH(mvreg)
DECODE_FRESH(orset)
DECODE_FRESH(ormap)
DECODE_FRESH(bcounter)

static int rankmap_decode_fresh(const uint8_t *data, size_t len, struct cs_buf *re)
{
    struct cs_rankmap s;
    if (cs_rankmap_init(&s)) return CS_ENOMEM;
    int rc = cs_rankmap_decode(&s, data, len);
    if (rc == 0 && re) rc = cs_rankmap_encode(&s, re);
    if (rc != 0 && cs_rankmap_len(&s) != 0) rc = 1;
    cs_rankmap_free(&s);
    return rc;
}

static void build_gcounter(struct cs_buf *out)
{
    struct cs_gcounter c;
    cs_gcounter_init(&c);
    cs_gcounter_increment(&c, 1, 5, NULL);
    cs_gcounter_increment(&c, 300, 7, NULL);
    cs_gcounter_encode(&c, out);
    cs_gcounter_free(&c);
}

static void build_pncounter(struct cs_buf *out)
{
    struct cs_pncounter c;
    cs_pncounter_init(&c);
    cs_pncounter_increment(&c, 1, 5, NULL);
    cs_pncounter_increment(&c, 2, -9, NULL);
    cs_pncounter_encode(&c, out);
    cs_pncounter_free(&c);
}

static void build_gset(struct cs_buf *out)
{
    struct cs_gset s;
    cs_gset_init(&s);
    cs_gset_add(&s, "a", 1, NULL);
    cs_gset_add(&s, "bb", 2, NULL);
    cs_gset_encode(&s, out);
    cs_gset_free(&s);
}

static void build_twopset(struct cs_buf *out)
{
    struct cs_twopset s;
    cs_twopset_init(&s);
    cs_twopset_add(&s, "a", 1, NULL);
    cs_twopset_add(&s, "b", 1, NULL);
    cs_twopset_remove(&s, "a", 1, NULL);
    cs_twopset_encode(&s, out);
    cs_twopset_free(&s);
}

static void build_lwwreg(struct cs_buf *out)
{
    struct cs_lwwreg r;
    cs_lwwreg_init(&r);
    cs_lwwreg_set(&r, (struct cs_crdt_stamp){77, 3}, "value", 5, NULL);
    cs_lwwreg_encode(&r, out);
    cs_lwwreg_free(&r);
}

static void build_lwwset(struct cs_buf *out)
{
    struct cs_lwwset s;
    cs_lwwset_init(&s);
    cs_lwwset_add(&s, "a", 1, (struct cs_crdt_stamp){5, 1}, NULL);
    cs_lwwset_remove(&s, "a", 1, (struct cs_crdt_stamp){6, 2}, NULL);
    cs_lwwset_add(&s, "b", 1, (struct cs_crdt_stamp){7, 1}, NULL);
    cs_lwwset_encode(&s, out);
    cs_lwwset_free(&s);
}

static void build_mvreg(struct cs_buf *out)
{
    struct cs_mvreg a, b;
    cs_mvreg_init(&a);
    cs_mvreg_init(&b);
    cs_mvreg_write(&a, 1, "x", 1, NULL);
    cs_mvreg_write(&b, 2, "yy", 2, NULL);
    cs_mvreg_merge(&a, &b);
    cs_mvreg_encode(&a, out);
    cs_mvreg_free(&a);
    cs_mvreg_free(&b);
}

static void build_orset(struct cs_buf *out)
{
    struct cs_orset s, d, delta;
    cs_orset_init(&s);
    cs_orset_init(&d);
    cs_orset_init(&delta);
    cs_orset_add(&s, 1, "a", 1, NULL);
    cs_orset_add(&s, 1, "b", 1, NULL);
    cs_orset_add(&d, 2, "c", 1, NULL);
    cs_orset_add(&d, 2, "c", 1, NULL);
    cs_orset_remove(&d, "c", 1, NULL);
    cs_orset_add(&d, 2, "c", 1, &delta); /* a delta: its context is a cloud dot */
    cs_orset_merge(&s, &delta);
    cs_orset_encode(&s, out);
    cs_orset_free(&s);
    cs_orset_free(&d);
    cs_orset_free(&delta);
}

static void build_ormap(struct cs_buf *out)
{
    struct cs_ormap m;
    cs_ormap_init(&m);
    struct cs_ormap_key p1[2] = {{"m", 1, CS_ORMAP_MAP}, {"c", 1, CS_ORMAP_COUNTER}};
    struct cs_ormap_key p2[1] = {{"s", 1, CS_ORMAP_SET}};
    struct cs_ormap_key p3[1] = {{"r", 1, CS_ORMAP_LWWREG}};
    struct cs_ormap_key p4[2] = {{"m", 1, CS_ORMAP_MAP}, {"v", 1, CS_ORMAP_MVREG}};
    cs_ormap_counter_add(&m, 1, p1, 2, -4, NULL);
    cs_ormap_set_add(&m, 2, p2, 1, "x", 1, NULL);
    cs_ormap_lwwreg_set(&m, 1, p3, 1, (struct cs_crdt_stamp){9, 1}, "val", 3, NULL);
    cs_ormap_mvreg_write(&m, 3, p4, 2, "mv", 2, NULL);
    cs_ormap_encode(&m, out);
    cs_ormap_free(&m);
}

static void build_bcounter(struct cs_buf *out)
{
    struct cs_bcounter c;
    cs_bcounter_init(&c);
    cs_bcounter_increment(&c, 1, 10, NULL);
    cs_bcounter_transfer(&c, 1, 2, 4, NULL);
    cs_bcounter_decrement(&c, 2, 3, NULL);
    cs_bcounter_encode(&c, out);
    cs_bcounter_free(&c);
}

static void build_rankmap(struct cs_buf *out)
{
    struct cs_rankmap m;
    cs_rankmap_init(&m);
    cs_rankmap_incr(&m, 1, "ann", 3, 10, NULL);
    cs_rankmap_incr(&m, 2, "bob", 3, -3, NULL);
    cs_rankmap_encode(&m, out);
    cs_rankmap_free(&m);
}

#define CASE(T)                                                                                    \
    {                                                                                              \
#T, build_##T, T##_decode_fresh                                                            \
    }
static const struct codec_case cases[] = {
    CASE(gcounter), CASE(pncounter), CASE(gset),  CASE(twopset),  CASE(lwwreg),  CASE(lwwset),
    CASE(mvreg),    CASE(orset),     CASE(ormap), CASE(bcounter), CASE(rankmap),
};
#define CASES_LEN (sizeof cases / sizeof cases[0])

static bool is_decode_error(int rc)
{
    return rc == CS_EDECODE || rc == CS_EVERSION || rc == CS_ETOOBIG;
}

/* Valid encodings round-trip exactly; every truncation, bad version, bad tag and
 * trailing byte is refused with a decode error and leaves the state empty. */
CS_TEST(every_decoder_rejects_damage)
{
    for (size_t c = 0; c < CASES_LEN; c++) {
        struct cs_buf good, re;
        cs_buf_init(&good, 1 << 16);
        cs_buf_init(&re, 1 << 16);
        cases[c].build(&good);
        CS_CHECK_OK(cs_buf_error(&good));
        CS_CHECK_MSG(cases[c].decode_fresh(good.data, good.len, &re) == 0, "%s", cases[c].name);
        CS_CHECK_EQ(re.len, good.len);
        CS_CHECK_MEM(re.data, good.data, good.len);
        CS_CHECK_EQ(good.data[0], CS_CRDT_FORMAT_VERSION);
        for (size_t n = 0; n < good.len; n++) {
            int rc = cases[c].decode_fresh(good.data, n, NULL);
            CS_CHECK_MSG(is_decode_error(rc), "%s truncated to %zu: %s", cases[c].name, n,
                         cs_errname(rc));
        }
        uint8_t bad[1 << 12];
        CS_CHECK(good.len + 1 <= sizeof bad);
        memcpy(bad, good.data, good.len);
        bad[0] = CS_CRDT_FORMAT_VERSION + 1;
        CS_CHECK_RC(cases[c].decode_fresh(bad, good.len, NULL), CS_EVERSION);
        bad[0] = CS_CRDT_FORMAT_VERSION;
        bad[1] = (uint8_t)(good.data[1] % 11 + 1); /* the next type's tag */
        CS_CHECK_RC(cases[c].decode_fresh(bad, good.len, NULL), CS_EDECODE);
        bad[1] = good.data[1];
        bad[good.len] = 0;
        CS_CHECK_MSG(cases[c].decode_fresh(bad, good.len + 1, NULL) == CS_EDECODE, "%s trailing",
                     cases[c].name);
        cs_buf_free(&good);
        cs_buf_free(&re);
    }
}

static int decode_bytes(int (*fresh)(const uint8_t *, size_t, struct cs_buf *), const uint8_t *data,
                        size_t len)
{
    return fresh(data, len, NULL);
}

#define HDR(tag) CS_CRDT_FORMAT_VERSION, (tag)

/* Unsorted and duplicate entries, zero and canonical-form violations. */
CS_TEST(unsorted_duplicate_noncanonical)
{
    /* G-Set {"b","a"} and {"a","a"}. */
    const uint8_t gset_unsorted[] = {HDR(CS_CRDT_GSET), 2, 1, 'b', 1, 'a'};
    const uint8_t gset_dup[] = {HDR(CS_CRDT_GSET), 2, 1, 'a', 1, 'a'};
    CS_CHECK_RC(decode_bytes(gset_decode_fresh, gset_unsorted, sizeof gset_unsorted), CS_EDECODE);
    CS_CHECK_RC(decode_bytes(gset_decode_fresh, gset_dup, sizeof gset_dup), CS_EDECODE);
    /* G-Counter with nodes 2, 1; with node 0; with a zero entry. */
    const uint8_t gc_unsorted[] = {HDR(CS_CRDT_GCOUNTER), 2, 2, 1, 1, 1};
    const uint8_t gc_node0[] = {HDR(CS_CRDT_GCOUNTER), 1, 0, 1};
    const uint8_t gc_zero[] = {HDR(CS_CRDT_GCOUNTER), 1, 1, 0};
    CS_CHECK_RC(decode_bytes(gcounter_decode_fresh, gc_unsorted, sizeof gc_unsorted), CS_EDECODE);
    CS_CHECK_RC(decode_bytes(gcounter_decode_fresh, gc_node0, sizeof gc_node0), CS_EDECODE);
    CS_CHECK_RC(decode_bytes(gcounter_decode_fresh, gc_zero, sizeof gc_zero), CS_EDECODE);
    /* 2P-Set flag 2. */
    const uint8_t tp_flag[] = {HDR(CS_CRDT_TWOPSET), 1, 1, 'a', 2};
    CS_CHECK_RC(decode_bytes(twopset_decode_fresh, tp_flag, sizeof tp_flag), CS_EDECODE);
    /* OR-Set context: cloud dot right after the vector (should have been compacted). */
    const uint8_t ctx_adjacent[] = {HDR(CS_CRDT_ORSET), 1, 1, 3, 1, 1, 4, 0};
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, ctx_adjacent, sizeof ctx_adjacent), CS_EDECODE);
    /* OR-Set member holding dot (1,5) its context never saw. */
    const uint8_t unseen_dot[] = {HDR(CS_CRDT_ORSET), 1, 1, 3, 0, 1, 1, 'a', 1, 1, 5};
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, unseen_dot, sizeof unseen_dot), CS_EDECODE);
    /* The same with dot (1,3): valid. */
    const uint8_t seen_dot[] = {HDR(CS_CRDT_ORSET), 1, 1, 3, 0, 1, 1, 'a', 1, 1, 3, 0};
    CS_CHECK_OK(decode_bytes(orset_decode_fresh, seen_dot, sizeof seen_dot));
    /* Remove hints out of order. */
    const uint8_t hints_unsorted[] = {HDR(CS_CRDT_ORSET), 1, 1, 3, 0, 0, 2, 1, 'b', 1, 'a'};
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, hints_unsorted, sizeof hints_unsorted),
                CS_EDECODE);
    /* One dot held by two members: a dot is one add of one member. */
    const uint8_t shared_dot[] = {
        HDR(CS_CRDT_ORSET), 1, 1, 3, 0, 2, 1, 'a', 1, 1, 2, 1, 'b', 1, 1, 2};
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, shared_dot, sizeof shared_dot), CS_EDECODE);
    /* One dot in two OR-Map fields. */
    /* clang-format off */
    const uint8_t map_shared_dot[] = {HDR(CS_CRDT_ORMAP), 1, 1, 1, 0, 2,
                                      CS_ORMAP_COUNTER, 1, 'a', 1, 1, 1, 2,
                                      CS_ORMAP_COUNTER, 1, 'b', 1, 1, 1, 2, 0};
    const uint8_t map_ok[] = {HDR(CS_CRDT_ORMAP), 1, 1, 2, 0, 2,
                              CS_ORMAP_COUNTER, 1, 'a', 1, 1, 1, 2,
                              CS_ORMAP_COUNTER, 1, 'b', 1, 1, 2, 2, 0};
    /* clang-format on */
    CS_CHECK_RC(decode_bytes(ormap_decode_fresh, map_shared_dot, sizeof map_shared_dot),
                CS_EDECODE);
    CS_CHECK_OK(decode_bytes(ormap_decode_fresh, map_ok, sizeof map_ok));
    /* A member with no dots is not canonical (it would be absent). */
    const uint8_t no_dots[] = {HDR(CS_CRDT_ORSET), 1, 1, 3, 0, 1, 1, 'a', 0};
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, no_dots, sizeof no_dots), CS_EDECODE);
    /* OR-Map field kind 9, and an empty field. */
    const uint8_t bad_kind[] = {HDR(CS_CRDT_ORMAP), 1, 1, 1, 0, 1, 9, 1, 'k', 0};
    const uint8_t empty_field[] = {HDR(CS_CRDT_ORMAP), 1, 1, 1, 0, 1, CS_ORMAP_COUNTER, 1, 'k', 0};
    CS_CHECK_RC(decode_bytes(ormap_decode_fresh, bad_kind, sizeof bad_kind), CS_EDECODE);
    CS_CHECK_RC(decode_bytes(ormap_decode_fresh, empty_field, sizeof empty_field), CS_EDECODE);
    /* LWW register "written" flag 2; LWW set member with no stamps. */
    const uint8_t reg_flag[] = {HDR(CS_CRDT_LWWREG), 2};
    const uint8_t set_noflags[] = {HDR(CS_CRDT_LWWSET), 1, 1, 'a', 0};
    CS_CHECK_RC(decode_bytes(lwwreg_decode_fresh, reg_flag, sizeof reg_flag), CS_EDECODE);
    CS_CHECK_RC(decode_bytes(lwwset_decode_fresh, set_noflags, sizeof set_noflags), CS_EDECODE);
    /* Ranked map member with no counter entries. */
    const uint8_t rank_empty[] = {HDR(CS_CRDT_RANKMAP), 1, 1, 'a', 0};
    CS_CHECK_RC(decode_bytes(rankmap_decode_fresh, rank_empty, sizeof rank_empty), CS_EDECODE);
}

/* Counts one past their named limits are CS_ETOOBIG before anything is allocated;
 * lengths past the bytes that remain are CS_EDECODE. */
CS_TEST(counts_and_lengths_past_limits)
{
    struct cs_buf b;
    cs_buf_init(&b, 1 << 16);
    /* G-Counter with CS_CRDT_NODES_MAX + 1 entries claimed. */
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_GCOUNTER);
    cs_put_uvarint(&b, CS_CRDT_NODES_MAX + 1);
    CS_CHECK_RC(decode_bytes(gcounter_decode_fresh, b.data, b.len), CS_ETOOBIG);
    /* A set claiming CS_CRDT_ELEMENTS_MAX + 1 members. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_GSET);
    cs_put_uvarint(&b, (uint64_t)CS_CRDT_ELEMENTS_MAX + 1);
    CS_CHECK_RC(decode_bytes(gset_decode_fresh, b.data, b.len), CS_ETOOBIG);
    /* A set claiming 1000 members in 3 bytes. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_GSET);
    cs_put_uvarint(&b, 1000);
    cs_put_raw(&b, "abc", 3);
    CS_CHECK_RC(decode_bytes(gset_decode_fresh, b.data, b.len), CS_EDECODE);
    /* A member of CS_CRDT_MEMBER_BYTES_MAX decodes; one byte longer is CS_ETOOBIG. */
    static uint8_t member[CS_CRDT_MEMBER_BYTES_MAX + 1];
    for (size_t extra = 0; extra <= 1; extra++) {
        cs_buf_reset(&b);
        cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
        cs_put_u8(&b, CS_CRDT_GSET);
        cs_put_uvarint(&b, 1);
        cs_put_bytes(&b, member, CS_CRDT_MEMBER_BYTES_MAX + extra);
        CS_CHECK_RC(decode_bytes(gset_decode_fresh, b.data, b.len), extra ? CS_ETOOBIG : 0);
    }
    /* An OR-Set member with CS_CRDT_DOTS_PER_ENTRY_MAX + 1 dots. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_ORSET);
    cs_put_uvarint(&b, 0);
    cs_put_uvarint(&b, 0);
    cs_put_uvarint(&b, 1);
    cs_put_bytes(&b, "m", 1);
    cs_put_uvarint(&b, CS_CRDT_DOTS_PER_ENTRY_MAX + 1);
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, b.data, b.len), CS_ETOOBIG);
    /* A bounded counter with CS_CRDT_TRANSFERS_MAX + 1 rights entries. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_BCOUNTER);
    cs_put_uvarint(&b, CS_CRDT_TRANSFERS_MAX + 1);
    CS_CHECK_RC(decode_bytes(bcounter_decode_fresh, b.data, b.len), CS_ETOOBIG);
    /* A register value of CS_CRDT_VALUE_BYTES_MAX + 1 bytes. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_LWWREG);
    cs_put_u8(&b, 1);
    cs_put_u64le(&b, 1);
    cs_put_uvarint(&b, 1);
    cs_put_uvarint(&b, CS_CRDT_VALUE_BYTES_MAX + 1);
    CS_CHECK_RC(decode_bytes(lwwreg_decode_fresh, b.data, b.len), CS_ETOOBIG);
    /* A context cloud of CS_CRDT_CLOUD_DOTS_MAX + 1 dots. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_ORSET);
    cs_put_uvarint(&b, 0);
    cs_put_uvarint(&b, CS_CRDT_CLOUD_DOTS_MAX + 1);
    CS_CHECK_RC(decode_bytes(orset_decode_fresh, b.data, b.len), CS_ETOOBIG);
    /* An OR-Map nested CS_CRDT_DEPTH_MAX + 1 deep. */
    cs_buf_reset(&b);
    cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
    cs_put_u8(&b, CS_CRDT_ORMAP);
    cs_put_uvarint(&b, 1);
    cs_put_uvarint(&b, 1);
    cs_put_uvarint(&b, 1);
    cs_put_uvarint(&b, 0);
    for (unsigned d = 0; d <= CS_CRDT_DEPTH_MAX; d++) {
        cs_put_uvarint(&b, 1);
        cs_put_u8(&b, CS_ORMAP_MAP);
        cs_put_bytes(&b, "k", 1);
    }
    CS_CHECK_RC(decode_bytes(ormap_decode_fresh, b.data, b.len), CS_ETOOBIG);
    cs_buf_free(&b);
}

CS_TEST_MAIN(CS_CASE(every_decoder_rejects_damage), CS_CASE(unsorted_duplicate_noncanonical),
             CS_CASE(counts_and_lengths_past_limits))
