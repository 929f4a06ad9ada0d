/*
 * raft_cluster.c: seeded fault schedules against an in-process Raft cluster.
 *
 * Goal: show that the core keeps Raft's safety properties under loss,
 * duplication, reordering, partitions, crashes that lose unpersisted state,
 * snapshots, membership changes and leadership transfers, and that it makes
 * progress once the faults stop. Method: raft_harness.h checks every
 * invariant after every event; each seed is a different schedule and is
 * printed on failure (replay with CS_SEED=<seed> CS_SEEDS=1). The planted
 * bugs show the checks can fail: each must be caught within 1,000 seeds.
 */
#include <setjmp.h>

#include "raft_harness.h"
#include "testlib.h"
/* After testlib.h: <stdnoreturn.h> would rename its noreturn attribute. */
#include "base/assert.h"

#define STEPS_PER_SEED 1600 /* 8 s of simulated time */
#define LIVENESS_MS    15000

static jmp_buf assert_escape;
static bool assert_escape_armed;

/* Under a planted bug an internal assertion may fire before an invariant
 * check does; that, too, is the bug being caught. */
static void assert_hook(void *ctx)
{
    (void)ctx;
    if (assert_escape_armed) longjmp(assert_escape, 1);
}

static bool contract_unchecked; /* run seeds without the persistence contract check */

static void run_seed(struct h_cluster *c, uint64_t seed, uint32_t bugs)
{
    struct cs_rng pick;
    cs_rng_init(&pick, seed ^ 0x5eed);
    uint32_t voters = cs_rng_chance(&pick, 1, 2) ? 3 : 5;
    h_cluster_init(c, seed, 5, voters, bugs);
    h_faults_default(&c->faults);
    c->contract_unchecked = contract_unchecked;
    c->faults.compact_every = 4 + (uint32_t)cs_rng_below(&pick, 29);
    /* Half of the seeds crash often and ship one entry per message: the
     * schedules where an old-term entry reaches a majority on its own. */
    if (cs_rng_chance(&pick, 1, 2)) {
        c->faults.crash_per_mille = 15;
        c->faults.crash_ready_per_mille = 50;
        c->faults.kill_leader_per_mille = 4;
        c->faults.isolate_leader_per_mille = 8;
        c->faults.partition_per_mille = 8;
        c->faults.crash_on_commit_per_mille = 50;
        c->faults.crash_on_elected_per_mille = 200;
        c->base.msg_entries_max = 1;
        c->base.inflight_max = 1;
    }
    h_cluster_start(c);
    for (int k = 0; k < STEPS_PER_SEED && !c->violation[0]; k++)
        h_step(c);
}

/* Hundreds of seeds: no invariant breaks, and every run recovers once healed. */
CS_TEST(seeds_hold_invariants)
{
    uint64_t seeds = cs_test_seeds(200);
    uint64_t applied = 0, reads = 0, snaps = 0, crashes = 0, confs = 0, transfers = 0;
    for (uint64_t s = cs_test_seed(); s < cs_test_seed() + seeds; s++) {
        cs_test_seed_set(s);
        struct h_cluster c;
        run_seed(&c, s, 0);
        bool live = !c.violation[0] && h_liveness(&c, LIVENESS_MS);
        applied += c.applied_total;
        reads += c.reads_served;
        snaps += c.snapshots_installed;
        crashes += c.crashes;
        confs += c.conf_changes;
        transfers += c.transfers;
        char violation[sizeof c.violation];
        memcpy(violation, c.violation, sizeof violation);
        h_cluster_free(&c);
        CS_CHECK_MSG(!violation[0], "seed %" PRIu64 ": %s", s, violation);
        CS_CHECK_MSG(live, "seed %" PRIu64 ": no commit within %d ms of healing", s, LIVENESS_MS);
    }
    printf("%" PRIu64 " seeds: %" PRIu64 " entries applied, %" PRIu64 " reads served, %" PRIu64
           " snapshots installed, %" PRIu64 " crashes, %" PRIu64 " membership changes, %" PRIu64
           " transfers\n",
           seeds, applied, reads, snaps, crashes, confs, transfers);
    /* The schedules must actually exercise the machinery they claim to. */
    CS_CHECK(applied > seeds * 100);
    CS_CHECK(reads > seeds);
    CS_CHECK(snaps > 0);
    CS_CHECK(crashes > seeds);
    CS_CHECK(confs > seeds / 4);
    CS_CHECK(transfers > seeds / 4);
}

/*
 * Runs seeds until the bug is caught; returns the first seed that caught it,
 * 0 if none. With CS_RAFT_HUNT_ALL set it runs every seed and prints how many
 * caught the bug (the detection rate).
 */
static uint64_t hunt(uint32_t bug, uint64_t seeds_max, char *why, size_t why_len)
{
    cs_assert_set_hook(assert_hook, NULL);
    bool all = getenv("CS_RAFT_HUNT_ALL") != NULL;
    uint64_t found = 0, caught = 0;
    for (uint64_t s = 1; s <= seeds_max && (all || !found); s++) {
        bool hit = false;
        static struct h_cluster c;
        assert_escape_armed = true;
        if (setjmp(assert_escape) == 0) {
            run_seed(&c, s, bug);
            hit = c.violation[0] != 0;
            if (hit && !found) snprintf(why, why_len, "%s", c.violation);
        } else {
            hit = true;
            if (!found) snprintf(why, why_len, "internal assertion");
        }
        assert_escape_armed = false;
        h_cluster_free(&c);
        if (hit && !found) found = s;
        caught += hit;
    }
    cs_assert_set_hook(NULL, NULL);
    if (all) printf("caught in %" PRIu64 " of %" PRIu64 " seeds\n", caught, seeds_max);
    return found;
}

static void expect_caught(const char *name)
{
    uint32_t bug = cs_raft_bug_parse(name);
    CS_CHECK(bug != 0);
    char why[256] = "";
    uint64_t seed = hunt(bug, 1000, why, sizeof why);
    CS_CHECK_MSG(seed != 0, "bug %s survived 1000 seeds", name);
    printf("bug %s caught at seed %" PRIu64 ": %s\n", name, seed, why);
}

CS_TEST(bug_commit_old_term_is_caught)
{
    expect_caught("commit-old-term");
}

CS_TEST(bug_vote_no_log_check_is_caught)
{
    expect_caught("vote-no-log-check");
}

/* Caught at once by the persistence contract check; without that check, the
 * double vote it allows must still show up as two leaders in one term. */
CS_TEST(bug_reply_before_persist_is_caught)
{
    expect_caught("reply-before-persist");
    contract_unchecked = true;
    expect_caught("reply-before-persist");
    contract_unchecked = false;
}

CS_TEST_MAIN(CS_CASE(seeds_hold_invariants), CS_CASE(bug_commit_old_term_is_caught),
             CS_CASE(bug_vote_no_log_check_is_caught), CS_CASE(bug_reply_before_persist_is_caught))
