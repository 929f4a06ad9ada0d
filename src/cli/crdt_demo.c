/*
 * crdt_demo.c: `consist demo counter-divergence [--seed S]`, the exam's
 * Debug Exercise 2 in words.
 *
 * First a two-region walk-through of the buggy DistributedCounter (one value
 * per region, the whole state replaced when any vector-clock entry of the
 * incoming state is newer) beside a PN-Counter fed the same increments; then
 * the property suite's random schedules: the first seed on which the buggy
 * counter diverges, and the PN-Counter converging under that same schedule.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "consist/crdt.h"

#define DEMO_SEEDS_MAX 10000u

/* The exam's counter, for the walk-through (the suite has its own copy). */
struct demo_dcounter {
    uint64_t values[2];
    uint64_t clock[2];
};

static void demo_dc_merge(struct demo_dcounter *dst, const struct demo_dcounter *src)
{
    for (int i = 0; i < 2; i++) {
        if (src->clock[i] > dst->clock[i]) {
            *dst = *src;
            return;
        }
    }
}

static uint64_t demo_dc_value(const struct demo_dcounter *c)
{
    return c->values[0] + c->values[1];
}

static int demo_walkthrough(void)
{
    struct demo_dcounter eu = {{0, 0}, {0, 0}}, us = {{0, 0}, {0, 0}};
    struct cs_pncounter pn_eu, pn_us;
    cs_pncounter_init(&pn_eu);
    cs_pncounter_init(&pn_us);
    printf("Two regions, EU and US, count page views during a partition.\n");
    eu.values[0] += 3, eu.clock[0]++;
    us.values[1] += 5, us.clock[1]++;
    int rc = cs_pncounter_increment(&pn_eu, 1, 3, NULL);
    if (rc == 0) rc = cs_pncounter_increment(&pn_us, 2, 5, NULL);
    printf("  EU counts 3, US counts 5: the true total is 8.\n");
    struct demo_dcounter eu_before = eu;
    demo_dc_merge(&eu, &us);
    demo_dc_merge(&us, &eu_before);
    printf("  DistributedCounter: EU receives US's state; US's clock entry [US:1] is newer than\n"
           "  EU's [US:0], so EU replaces its whole state with US's and forgets its own 3.\n"
           "  US receives EU's state; [EU:1] is newer than [EU:0], so US takes EU's state and\n"
           "  forgets its own 5. EU now reads %" PRIu64 ", US reads %" PRIu64
           ": the replicas swapped\n"
           "  states, disagree, and each lost updates. The clocks were concurrent: neither state\n"
           "  dominated, so neither should have replaced the other.\n",
           demo_dc_value(&eu), demo_dc_value(&us));
    struct cs_pncounter eu_copy;
    cs_pncounter_init(&eu_copy);
    if (rc == 0) rc = cs_pncounter_copy(&eu_copy, &pn_eu);
    if (rc == 0) rc = cs_pncounter_merge(&pn_eu, &pn_us);
    if (rc == 0) rc = cs_pncounter_merge(&pn_us, &eu_copy);
    if (rc == 0) {
        printf("  PN-Counter: each region keeps its own entry and merge takes the maximum of each\n"
               "  entry, never a whole state. EU reads %" PRId64 ", US reads %" PRId64 ".\n\n",
               cs_pncounter_value(&pn_eu), cs_pncounter_value(&pn_us));
    }
    cs_pncounter_free(&pn_eu);
    cs_pncounter_free(&pn_us);
    cs_pncounter_free(&eu_copy);
    return rc;
}

static int demo_counter_divergence(int argc, char **argv)
{
    unsigned long long from = 1;
    if (argc == 3 && strcmp(argv[1], "--seed") == 0) {
        if (cli_parse_u64("--seed", argv[2], &from)) return CS_CLI_EXIT_USAGE;
    } else if (argc != 1) {
        fprintf(stderr, "usage: consist demo counter-divergence [--seed S]\n");
        return CS_CLI_EXIT_USAGE;
    }
    if (demo_walkthrough() != 0) {
        fprintf(stderr, "consist demo counter-divergence: out of memory\n");
        return CS_CLI_EXIT_NO;
    }
    struct cs_crdt_selftest_report bad, good;
    uint64_t seed = from;
    for (; seed < from + DEMO_SEEDS_MAX; seed++) {
        if (cs_crdt_selftest_run_type(seed, "distributed-counter", &bad) != 0) break;
    }
    if (seed == from + DEMO_SEEDS_MAX) {
        printf("The DistributedCounter did not diverge in %u seeds from %llu.\n", DEMO_SEEDS_MAX,
               from);
        return CS_CLI_EXIT_NO;
    }
    printf("Random schedules (the property suite): replicas increment, ship their states to\n"
           "random peers, messages are duplicated, reordered and dropped, and a final\n"
           "full-state exchange should repair everything.\n");
    printf("  seed %" PRIu64 ": the DistributedCounter diverges: %s\n", seed, bad.message);
    int rc = cs_crdt_selftest_run_type(seed, "pncounter", &good);
    if (rc == 0) {
        printf("  seed %" PRIu64 ": the PN-Counter, under the same schedule, converges: every\n"
               "  replica holds the same state and reads the sum of all increments.\n",
               seed);
    } else {
        printf("  seed %" PRIu64 ": the PN-Counter FAILED too: %s\n", seed, good.message);
    }
    printf("Replay: consist selftest crdt --seeds 1 --seed-start %" PRIu64
           " --type distributed-counter\n",
           seed);
    return rc == 0 ? CS_CLI_EXIT_OK : CS_CLI_EXIT_NO;
}

CS_CLI_COMMAND(crdt_demo_command, "demo", "counter-divergence", "[--seed S]",
               "the exam's buggy DistributedCounter diverges; a PN-Counter does not",
               demo_counter_divergence)
