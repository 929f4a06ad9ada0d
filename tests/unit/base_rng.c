/*
 * base_rng.c: the generator is deterministic per seed, its bounded draws stay
 * in range and are roughly uniform, and forks are independent of each other.
 */
#include "consist/rng.h"
#include "testlib.h"

/* The same seed gives the same stream; different seeds differ at once. */
CS_TEST(same_seed_same_stream)
{
    struct cs_rng a, b, c;
    cs_rng_init(&a, 42);
    cs_rng_init(&b, 42);
    cs_rng_init(&c, 43);
    int differ = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = cs_rng_u64(&a);
        CS_CHECK_EQ_U64(x, cs_rng_u64(&b));
        differ += x != cs_rng_u64(&c);
    }
    CS_CHECK(differ > 990);
}

/* cs_rng_below stays below its bound, and every value of a small range appears about equally. */
CS_TEST(below_uniform)
{
    struct cs_rng r;
    cs_rng_init(&r, 7);
    int counts[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t v = cs_rng_below(&r, 10);
        CS_CHECK(v < 10);
        counts[v]++;
    }
    for (int i = 0; i < 10; i++) {
        CS_CHECK_MSG(counts[i] > 9000 && counts[i] < 11000, "bucket %d has %d", i, counts[i]);
    }
    CS_CHECK_EQ_U64(cs_rng_below(&r, 1), 0);
    uint64_t big = cs_rng_below(&r, UINT64_MAX);
    CS_CHECK(big < UINT64_MAX);
}

/* Ranges are inclusive at both ends; chance honours 0 and certainty. */
CS_TEST(range_and_chance)
{
    struct cs_rng r;
    cs_rng_init(&r, 9);
    int saw_lo = 0, saw_hi = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t v = cs_rng_range(&r, 5, 8);
        CS_CHECK(v >= 5 && v <= 8);
        saw_lo |= v == 5;
        saw_hi |= v == 8;
        CS_CHECK(!cs_rng_chance(&r, 0, 3));
        CS_CHECK(cs_rng_chance(&r, 3, 3));
        double u = cs_rng_unit(&r);
        CS_CHECK(u >= 0.0 && u < 1.0);
    }
    CS_CHECK(saw_lo && saw_hi);
}

/* A forked stream differs from its parent's continuation. */
CS_TEST(fork_independent)
{
    struct cs_rng parent, child;
    cs_rng_init(&parent, 1);
    cs_rng_fork(&parent, &child);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        same += cs_rng_u64(&parent) == cs_rng_u64(&child);
    }
    CS_CHECK(same == 0);
}

CS_TEST_MAIN(CS_CASE(same_seed_same_stream), CS_CASE(below_uniform), CS_CASE(range_and_chance),
             CS_CASE(fork_independent))
