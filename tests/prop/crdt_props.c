/*
 * crdt_props.c: the CRDT property suite (src/crdt/selftest.c) over a small
 * number of seeds, plus the proof that it can fail: both planted bugs, the
 * exam's DistributedCounter and an OR-Set merge that forgets its causal
 * context, must be caught for some seed, while the real types pass every
 * seed. `consist selftest crdt --seeds N` runs the same suite for more seeds.
 */
#include <stdio.h>
#include <string.h>

#include "consist/crdt.h"
#include "testlib.h"

/* Every type converges and obeys the laws for CS_SEEDS seeds (default 40). */
CS_TEST(suite_passes)
{
    uint64_t seeds = cs_test_seeds(40);
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = cs_test_seed() + i;
        cs_test_seed_set(seed);
        struct cs_crdt_selftest_report report;
        int rc = cs_crdt_selftest_run(seed, &report);
        CS_CHECK_MSG(rc == 0, "seed %llu type %s: %s", (unsigned long long)seed, report.type,
                     report.message);
        CS_CHECK_EQ(report.types_run, 11);
    }
}

/* The same seed gives the same run (the failure text included). */
CS_TEST(deterministic)
{
    struct cs_crdt_selftest_report a, b;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        int ra = cs_crdt_selftest_run_type(seed, "distributed-counter", &a);
        int rb = cs_crdt_selftest_run_type(seed, "distributed-counter", &b);
        CS_CHECK_EQ(ra, rb);
        CS_CHECK_STR(a.message, b.message);
    }
}

/*
 * Exam Debug Exercise 2: the DistributedCounter replaces its state wholesale
 * when any incoming vector-clock entry is newer, so concurrent increments are
 * lost. Under the suite's schedules it must diverge for some seed (printed),
 * and the PN-Counter, under the very same schedules, never does.
 */
CS_TEST(distributed_counter_diverges)
{
    uint64_t first_bad = 0;
    uint32_t bad = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        struct cs_crdt_selftest_report report;
        if (cs_crdt_selftest_run_type(seed, "distributed-counter", &report) != 0) {
            if (first_bad == 0) {
                first_bad = seed;
                printf("DistributedCounter diverges at seed %llu: %s\n", (unsigned long long)seed,
                       report.message);
            }
            bad++;
        }
        CS_CHECK_MSG(cs_crdt_selftest_run_type(seed, "pncounter", &report) == 0, "seed %llu %s: %s",
                     (unsigned long long)seed, report.type, report.message);
    }
    CS_CHECK_MSG(first_bad != 0, "the planted DistributedCounter bug was never caught");
    printf("DistributedCounter failed %u of 50 seeds; the PN-Counter none\n", bad);
}

/* An OR-Set merge that drops the source's causal context resurrects removed members. */
CS_TEST(forgetful_orset_caught)
{
    uint32_t bad = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        struct cs_crdt_selftest_report report;
        if (cs_crdt_selftest_run_type(seed, "orset-forgetful", &report) != 0) {
            if (bad++ == 0)
                printf("forgetful OR-Set caught at seed %llu: %s\n", (unsigned long long)seed,
                       report.message);
        }
    }
    CS_CHECK_MSG(bad > 0, "the planted OR-Set bug was never caught");
}

/* Bounded-counter deltas of just the changed entry let a replica read below zero. */
CS_TEST(partial_bcounter_deltas_caught)
{
    uint32_t bad = 0;
    for (uint64_t seed = 1; seed <= 300 && bad == 0; seed++) {
        struct cs_crdt_selftest_report report;
        if (cs_crdt_selftest_run_type(seed, "bcounter-partial-delta", &report) != 0) {
            bad++;
            printf("partial bounded-counter deltas caught at seed %llu: %s\n",
                   (unsigned long long)seed, report.message);
            CS_CHECK(strstr(report.message, "below zero") != NULL);
        }
    }
    CS_CHECK_MSG(bad > 0, "the planted bounded-counter bug was never caught");
}

CS_TEST_MAIN(CS_CASE(suite_passes), CS_CASE(deterministic), CS_CASE(distributed_counter_diverges),
             CS_CASE(forgetful_orset_caught), CS_CASE(partial_bcounter_deltas_caught))
