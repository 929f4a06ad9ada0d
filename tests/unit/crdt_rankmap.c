/*
 * crdt_rankmap.c: the ranked map against a brute-force model: after random
 * increments on two replicas and merges, every score, rank, top-K list and
 * score range matches what sorting all members gives, and the skiplist's
 * order and spans check out after every operation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/crdt.h"
#include "testlib.h"

#define MEMBERS 300

struct model_row {
    char name[16];
    int64_t score;
    bool present;
};

static int row_desc(const void *a, const void *b)
{
    const struct model_row *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    size_t lx = strlen(x->name), ly = strlen(y->name), n = lx < ly ? lx : ly;
    int c = memcmp(x->name, y->name, n);
    if (c != 0) return -c;
    return lx > ly ? -1 : lx < ly ? 1 : 0;
}

/* Random increments on two replicas, merged both ways, compared with a sort. */
CS_TEST(matches_sorted_model)
{
    cs_test_seed_set(cs_test_seed());
    struct cs_rng *rng = cs_test_rng();
    struct cs_rankmap a, b, d;
    CS_CHECK_OK(cs_rankmap_init(&a));
    CS_CHECK_OK(cs_rankmap_init(&b));
    CS_CHECK_OK(cs_rankmap_init(&d));
    static struct model_row rows[MEMBERS];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < MEMBERS; i++)
        snprintf(rows[i].name, sizeof rows[i].name, "p%d", i);
    for (int step = 0; step < 3000; step++) {
        int i = (int)cs_rng_below(rng, MEMBERS);
        int64_t amount = (int64_t)cs_rng_range(rng, 0, 40) - 20;
        if (amount == 0) amount = 7;
        bool on_a = cs_rng_chance(rng, 1, 2);
        CS_CHECK_OK(cs_rankmap_incr(on_a ? &a : &b, on_a ? 1 : 2, rows[i].name,
                                    strlen(rows[i].name), amount, &d));
        CS_CHECK_OK(cs_rankmap_merge(on_a ? &b : &a, &d)); /* ship the delta */
        rows[i].score += amount;
        rows[i].present = true;
        if (step % 500 == 0) CS_CHECK(cs_rankmap_check(&a) && cs_rankmap_check(&b));
    }
    CS_CHECK(cs_rankmap_equal(&a, &b));
    CS_CHECK(cs_rankmap_check(&a));
    size_t n = 0;
    static struct model_row sorted[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        if (rows[i].present) sorted[n++] = rows[i];
    }
    qsort(sorted, n, sizeof sorted[0], row_desc);
    CS_CHECK_EQ(cs_rankmap_len(&a), n);
    static struct cs_rankmap_item items[MEMBERS];
    CS_CHECK_EQ(cs_rankmap_top(&a, MEMBERS, items), n);
    for (size_t r = 0; r < n; r++) {
        CS_CHECK_EQ(items[r].member_len, strlen(sorted[r].name));
        CS_CHECK_MEM(items[r].member, sorted[r].name, items[r].member_len);
        CS_CHECK_EQ(items[r].score, sorted[r].score);
        uint64_t rank;
        CS_CHECK_OK(cs_rankmap_rank(&a, sorted[r].name, strlen(sorted[r].name), &rank));
        CS_CHECK_EQ_U64(rank, r);
    }
    /* A score range: members with lo <= score <= hi, descending. */
    int64_t lo = -10, hi = 10;
    size_t got = cs_rankmap_range_by_score(&a, lo, hi, items, MEMBERS), want = 0;
    for (size_t r = 0; r < n; r++) {
        if (sorted[r].score < lo || sorted[r].score > hi) continue;
        CS_CHECK(want < got);
        CS_CHECK_EQ(items[want].score, sorted[r].score);
        CS_CHECK_MEM(items[want].member, sorted[r].name, items[want].member_len);
        want++;
    }
    CS_CHECK_EQ(got, want);
    CS_CHECK_EQ(cs_rankmap_top(&a, 3, items), 3 < n ? 3 : n);
    uint64_t rank;
    CS_CHECK_RC(cs_rankmap_rank(&a, "nobody", 6, &rank), CS_ENOTFOUND);
    /* Round trip keeps scores and index. */
    struct cs_buf buf;
    cs_buf_init(&buf, 1 << 22);
    CS_CHECK_OK(cs_rankmap_encode(&a, &buf));
    struct cs_rankmap c;
    CS_CHECK_OK(cs_rankmap_init(&c));
    CS_CHECK_OK(cs_rankmap_decode(&c, buf.data, buf.len));
    CS_CHECK(cs_rankmap_equal(&a, &c));
    CS_CHECK(cs_rankmap_check(&c));
    cs_buf_free(&buf);
    cs_rankmap_free(&a);
    cs_rankmap_free(&b);
    cs_rankmap_free(&c);
    cs_rankmap_free(&d);
}

CS_TEST_MAIN(CS_CASE(matches_sorted_model))
