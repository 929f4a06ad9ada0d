/*
 * raft_codec.c: Raft messages survive encode/decode exactly, and the decoder
 * refuses every truncation and every count past its limit.
 *
 * Method: seeded random messages of every type (entries, conflict hints,
 * snapshot chunks with configurations); each is encoded, decoded, compared
 * field by field and re-encoded to the same bytes; every proper prefix of the
 * encoding must fail to decode.
 */
#include <stdlib.h>
#include <string.h>

#include "consist/raft.h"
#include "testlib.h"

static uint8_t payload[4096];

static void random_msg(struct cs_rng *rng, struct cs_raft_msg *m, struct cs_raft_entry *entries)
{
    memset(m, 0, sizeof *m);
    m->type = (uint8_t)cs_rng_range(rng, 1, CS_RAFT_MSG_TYPE_MAX);
    m->group_id = cs_rng_u64(rng) >> cs_rng_below(rng, 64);
    m->from = 1 + cs_rng_below(rng, 9);
    m->to = 1 + cs_rng_below(rng, 9);
    m->term = 1 + (cs_rng_u64(rng) >> cs_rng_below(rng, 64)) / 2;
    m->log_term = cs_rng_below(rng, m->term + 1);
    m->index = cs_rng_below(rng, 1u << 30);
    m->commit = cs_rng_below(rng, 1u << 30);
    m->seq = cs_rng_u64(rng) >> cs_rng_below(rng, 64);
    m->hint_term = cs_rng_below(rng, 100);
    m->hint_index = cs_rng_below(rng, 1000);
    m->reject = cs_rng_chance(rng, 1, 2);
    m->transfer = cs_rng_chance(rng, 1, 2);
    if (m->type == CS_RAFT_MSG_APPEND) {
        m->entries_len = (uint32_t)cs_rng_below(rng, 8);
        uint64_t term = m->log_term;
        for (uint32_t k = 0; k < m->entries_len; k++) {
            term += cs_rng_below(rng, 2);
            if (term > m->term) term = m->term;
            entries[k] = (struct cs_raft_entry){
                .term = term, .index = m->index + 1 + k, .type = (uint8_t)cs_rng_below(rng, 2)};
            entries[k].data_len = (uint32_t)cs_rng_below(rng, 40);
            entries[k].data = entries[k].data_len ? payload + cs_rng_below(rng, 1000) : NULL;
        }
        m->entries = m->entries_len ? entries : NULL;
    }
    if (m->type == CS_RAFT_MSG_SNAPSHOT) {
        m->snap_meta.index = cs_rng_below(rng, 1u << 20);
        m->snap_meta.term = cs_rng_below(rng, 50);
        uint32_t n = (uint32_t)cs_rng_below(rng, CS_RAFT_MEMBERS_MAX + 1);
        for (uint32_t k = 0; k < n; k++) {
            m->snap_meta.conf.members[k] =
                (struct cs_raft_member){k * 3 + 1, cs_rng_chance(rng, 1, 2)};
        }
        m->snap_meta.conf.members_len = n;
        m->chunk_len = (uint32_t)cs_rng_below(rng, 200);
        m->chunk = m->chunk_len ? payload : NULL;
        m->chunk_offset = cs_rng_below(rng, 100);
        m->index = m->chunk_offset + m->chunk_len + cs_rng_below(rng, 100);
        m->chunk_done = cs_rng_chance(rng, 1, 2);
    }
    if (m->type == CS_RAFT_MSG_SNAPSHOT_RESP) m->chunk_done = cs_rng_chance(rng, 1, 2);
}

static void check_same(const struct cs_raft_msg *a, const struct cs_raft_msg *b)
{
    CS_CHECK_EQ(a->type, b->type);
    CS_CHECK_EQ_U64(a->group_id, b->group_id);
    CS_CHECK_EQ_U64(a->term, b->term);
    CS_CHECK_EQ_U64(a->seq, b->seq);
    CS_CHECK_EQ_U64(a->index, b->index);
    CS_CHECK_EQ(a->reject, b->reject);
    CS_CHECK_EQ(a->transfer, b->transfer);
    CS_CHECK_EQ(a->chunk_done, b->chunk_done);
    CS_CHECK_EQ(a->entries_len, b->entries_len);
    for (uint32_t k = 0; k < a->entries_len; k++) {
        CS_CHECK_EQ_U64(a->entries[k].term, b->entries[k].term);
        CS_CHECK_EQ_U64(a->entries[k].index, b->entries[k].index);
        CS_CHECK_EQ(a->entries[k].data_len, b->entries[k].data_len);
        if (a->entries[k].data_len) {
            CS_CHECK_MEM(a->entries[k].data, b->entries[k].data, a->entries[k].data_len);
        }
    }
    CS_CHECK_EQ(a->chunk_len, b->chunk_len);
    CS_CHECK_EQ(a->snap_meta.conf.members_len, b->snap_meta.conf.members_len);
}

CS_TEST(round_trip_and_truncation)
{
    for (uint32_t k = 0; k < sizeof payload; k++)
        payload[k] = (uint8_t)(k * 31);
    uint64_t seeds = cs_test_seeds(2000);
    static struct cs_raft_entry entries[8], decoded[CS_RAFT_MSG_ENTRIES_MAX];
    for (uint64_t s = cs_test_seed(); s < cs_test_seed() + seeds; s++) {
        cs_test_seed_set(s);
        struct cs_raft_msg m, back;
        random_msg(cs_test_rng(), &m, entries);
        struct cs_buf a, b;
        cs_buf_init(&a, CS_RAFT_MSG_BYTES_MAX);
        cs_buf_init(&b, CS_RAFT_MSG_BYTES_MAX);
        CS_CHECK_OK(cs_raft_msg_encode(&m, &a));
        CS_CHECK_OK(cs_raft_msg_decode(a.data, a.len, &back, decoded, CS_RAFT_MSG_ENTRIES_MAX));
        check_same(&m, &back);
        CS_CHECK_OK(cs_raft_msg_encode(&back, &b));
        CS_CHECK_EQ(a.len, b.len);
        CS_CHECK_MEM(a.data, b.data, a.len);
        for (size_t cut = 0; cut < a.len; cut++) {
            CS_CHECK(cs_raft_msg_decode(a.data, cut, &back, decoded, CS_RAFT_MSG_ENTRIES_MAX) != 0);
        }
        if (m.entries_len > 0) {
            CS_CHECK_RC(cs_raft_msg_decode(a.data, a.len, &back, decoded, m.entries_len - 1),
                        CS_ETOOBIG);
        }
        cs_buf_free(&a);
        cs_buf_free(&b);
    }
}

/* CS_RAFT_MSG_ENTRIES_MAX entries decode; one more is refused. An entry of
 * CS_RAFT_ENTRY_BYTES_MAX decodes; one byte more is refused. */
CS_TEST(limits)
{
    static struct cs_raft_entry entries[CS_RAFT_MSG_ENTRIES_MAX + 1];
    static struct cs_raft_entry decoded[CS_RAFT_MSG_ENTRIES_MAX + 1];
    for (uint32_t k = 0; k <= CS_RAFT_MSG_ENTRIES_MAX; k++) {
        entries[k] = (struct cs_raft_entry){.term = 1, .index = 1 + k};
    }
    struct cs_raft_msg m = {.type = CS_RAFT_MSG_APPEND,
                            .term = 1,
                            .entries = entries,
                            .entries_len = CS_RAFT_MSG_ENTRIES_MAX};
    struct cs_buf buf;
    cs_buf_init(&buf, CS_RAFT_MSG_BYTES_MAX);
    CS_CHECK_OK(cs_raft_msg_encode(&m, &buf));
    struct cs_raft_msg back;
    CS_CHECK_OK(cs_raft_msg_decode(buf.data, buf.len, &back, decoded, CS_RAFT_MSG_ENTRIES_MAX + 1));
    CS_CHECK_EQ(back.entries_len, CS_RAFT_MSG_ENTRIES_MAX);
    /* Hand-build one more entry: the count byte(s) say 257. */
    struct cs_buf w;
    cs_buf_init(&w, 4096);
    cs_put_u8(&w, 1);
    cs_put_u8(&w, CS_RAFT_MSG_APPEND);
    cs_put_u8(&w, 0);
    for (int k = 0; k < 10; k++)
        cs_put_uvarint(&w, k == 3 ? 1 : 0);
    cs_put_uvarint(&w, CS_RAFT_MSG_ENTRIES_MAX + 1);
    for (uint32_t k = 0; k <= CS_RAFT_MSG_ENTRIES_MAX; k++) {
        cs_put_uvarint(&w, 1);
        cs_put_u8(&w, 0);
        cs_put_uvarint(&w, 0);
    }
    CS_CHECK_RC(cs_raft_msg_decode(w.data, w.len, &back, decoded, CS_RAFT_MSG_ENTRIES_MAX + 1),
                CS_ETOOBIG);
    uint8_t *big = calloc(1, CS_RAFT_ENTRY_BYTES_MAX + 1);
    CS_CHECK(big != NULL);
    entries[0].data = big;
    entries[0].data_len = CS_RAFT_ENTRY_BYTES_MAX;
    m.entries_len = 1;
    cs_buf_reset(&buf);
    CS_CHECK_OK(cs_raft_msg_encode(&m, &buf));
    CS_CHECK_OK(cs_raft_msg_decode(buf.data, buf.len, &back, decoded, 1));
    entries[0].data_len = CS_RAFT_ENTRY_BYTES_MAX + 1;
    cs_buf_reset(&buf);
    CS_CHECK_OK(
        cs_raft_msg_encode(&m, &buf)); /* the encoder trusts the core; the decoder does not */
    CS_CHECK_RC(cs_raft_msg_decode(buf.data, buf.len, &back, decoded, 1), CS_ETOOBIG);
    uint8_t v0[] = {0};
    CS_CHECK_RC(cs_raft_msg_decode(v0, 1, &back, decoded, 1), CS_EDECODE);
    uint8_t v2[] = {2, 1, 0};
    CS_CHECK_RC(cs_raft_msg_decode(v2, 3, &back, decoded, 1), CS_EVERSION);
    free(big);
    cs_buf_free(&buf);
    cs_buf_free(&w);
}

CS_TEST_MAIN(CS_CASE(round_trip_and_truncation), CS_CASE(limits))
