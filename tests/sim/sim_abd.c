/*
 * sim_abd.c: the simulator finds bugs. Correct ABD passes every seed under
 * the full nemesis; ABD without the read write-back and a primary-backup
 * register with asynchronous replication are each caught within 1,000 seeds
 * (the checker says not linearizable), and a failing seed replays to the
 * same history byte for byte. The ABD invariant (a replica never falls below
 * what it acknowledged) is shown to catch a planted durability bug.
 *
 * Seed counts: CS_SEEDS overrides the correct-ABD count (default 300).
 */
#include <stdio.h>
#include <string.h>

#include "consist/check.h"
#include "consist/sim.h"
#include "sim/protocols.h"
#include "testlib.h"

static void run_seed(enum cs_sim_protocol protocol, uint64_t seed, struct cs_sim_run_result *r)
{
    struct cs_sim_run_options o;
    cs_sim_run_options_default(&o, seed, protocol);
    cs_test_seed_set(seed);
    CS_CHECK_OK(cs_sim_run(&o, NULL, r));
}

/* Correct ABD: every seed linearizable, no invariant broken, and the runs really had faults. */
CS_TEST(abd_passes_every_seed)
{
    uint64_t seeds = cs_test_seeds(300);
    uint64_t faults = 0, crashes = 0, infos = 0;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        struct cs_sim_run_result r;
        run_seed(CS_SIM_ABD, seed, &r);
        CS_CHECK_MSG(r.verdict == CS_VERDICT_VALID, "seed %llu: %s", (unsigned long long)seed,
                     cs_verdict_name((enum cs_verdict)r.verdict));
        CS_CHECK_EQ_U64(r.stats.invariant_failures, 0);
        CS_CHECK_EQ(r.ops, 200);
        faults += r.faults;
        crashes += r.stats.crashes;
        infos += r.ops_info;
    }
    CS_CHECK(faults > seeds); /* the nemesis was busy */
    CS_CHECK(crashes > 0);    /* including crashes */
    CS_CHECK(infos > 0);      /* and operations ended indeterminate */
}

/* first_failure: the first seed in 1..limit whose history is not linearizable, or 0. */
static uint64_t first_failure(enum cs_sim_protocol protocol, uint64_t limit)
{
    for (uint64_t seed = 1; seed <= limit; seed++) {
        struct cs_sim_run_result r;
        run_seed(protocol, seed, &r);
        if (r.verdict == CS_VERDICT_INVALID) return seed;
    }
    return 0;
}

/* A caught seed replays: same trace, same history bytes, same verdict. */
static void check_replays(enum cs_sim_protocol protocol, uint64_t seed)
{
    struct cs_sim_run_result a, b;
    run_seed(protocol, seed, &a);
    run_seed(protocol, seed, &b);
    CS_CHECK_EQ_U64(a.trace_hash, b.trace_hash);
    CS_CHECK_EQ_U64(a.history_hash, b.history_hash);
    CS_CHECK_EQ(a.verdict, CS_VERDICT_INVALID);
    CS_CHECK_EQ(b.verdict, CS_VERDICT_INVALID);
}

CS_TEST(no_writeback_is_caught)
{
    uint64_t seed = first_failure(CS_SIM_ABD_NO_WRITEBACK, 1000);
    CS_CHECK_MSG(seed != 0, "ABD without write-back passed 1000 seeds");
    printf("no-writeback: first failing seed %llu\n", (unsigned long long)seed);
    check_replays(CS_SIM_ABD_NO_WRITEBACK, seed);
}

CS_TEST(async_backup_is_caught)
{
    uint64_t seed = first_failure(CS_SIM_PRIMARY_ASYNC_BACKUP, 1000);
    CS_CHECK_MSG(seed != 0, "primary-backup with async replication passed 1000 seeds");
    printf("async-backup: first failing seed %llu\n", (unsigned long long)seed);
    check_replays(CS_SIM_PRIMARY_ASYNC_BACKUP, seed);
}

/*
 * The invariant catches a planted durability bug: replicas that acknowledge
 * a store before syncing it, crashed often, come back below what they
 * acknowledged.
 */
CS_TEST(invariant_catches_ack_before_sync)
{
    uint64_t violations = 0;
    for (uint64_t seed = 1; seed <= 40 && violations == 0; seed++) {
        cs_test_seed_set(seed);
        struct cs_sim_options so;
        cs_sim_options_default(&so, seed);
        so.sync_latency_min_us = 5000; /* a wide window between ack and durability */
        struct cs_sim *sim;
        CS_CHECK_OK(cs_sim_create(&so, &sim));
        struct sim_abd_node nodes[3];
        for (uint32_t i = 0; i < 3; i++) {
            sim_abd_node_init(&nodes[i], true);
            nodes[i].ack_before_sync = true;
            CS_CHECK_OK(cs_sim_node_attach(sim, i, &sim_abd_ops, &nodes[i]));
        }
        CS_CHECK_OK(cs_sim_start(sim));
        struct cs_history h;
        cs_history_init(&h, 200);
        struct cs_sim_workload_options wo = {.kind = CS_SIM_WORKLOAD_REGISTER,
                                             .clients_len = 3,
                                             .ops_max = 200,
                                             .read_ppm = 300000,
                                             .op_timeout_us = 200000,
                                             .think_max_us = 2000};
        struct cs_sim_workload *w;
        CS_CHECK_OK(cs_sim_workload_start(sim, &wo, &h, &w));
        for (uint32_t round = 0; round < 20; round++) {
            cs_sim_run_until(sim, cs_sim_now_us(sim) + 3000);
            uint32_t victim = round % 3;
            CS_CHECK_OK(cs_sim_crash(sim, victim));
            cs_sim_run_until(sim, cs_sim_now_us(sim) + 1000);
            CS_CHECK_OK(cs_sim_restart(sim, victim));
        }
        violations = cs_sim_stats(sim)->invariant_failures;
        cs_sim_destroy(sim);
        cs_sim_workload_destroy(w);
        cs_history_free(&h);
    }
    CS_CHECK_MSG(violations > 0, "acknowledging before sync was never noticed");
}

/* The primary-backup invariant flags an epoch that goes back and a written register read as nil. */
CS_TEST(pb_invariant_flags_planted_states)
{
    struct sim_pb_node n;
    sim_pb_node_init(&n);
    n.up = true;
    n.epoch = 5;
    CS_CHECK_EQ(sim_pb_ops.check_invariants(&n), 0);
    n.epoch = 4; /* planted: an epoch forgotten without a crash */
    CS_CHECK(sim_pb_ops.check_invariants(&n) != 0);
    CS_CHECK_EQ(sim_pb_ops.check_invariants(&n), 0); /* judged against the last check */
    n.version = 3;
    n.nil = true; /* planted: a written register that reads nil */
    CS_CHECK(sim_pb_ops.check_invariants(&n) != 0);
}

/* The wire decoder refuses truncations, unknown types and trailing bytes, and round-trips. */
CS_TEST(abd_message_decoder)
{
    struct sim_abd_msg m = {3, 77, {5, 2, 99}, false, -4}, back;
    uint8_t mem[64];
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, mem, sizeof mem);
    CS_CHECK_OK(sim_abd_msg_encode(&m, &buf));
    CS_CHECK_OK(sim_abd_msg_decode(buf.data, buf.len, &back));
    CS_CHECK(back.type == 3 && back.op_id == 77 && back.ts.counter == 5 && back.ts.node == 2);
    CS_CHECK(back.ts.op_id == 99 && !back.nil && back.value == -4);
    for (size_t len = 0; len < buf.len; len++) {
        CS_CHECK_RC(sim_abd_msg_decode(buf.data, len, &back), CS_EDECODE);
    }
    mem[buf.len] = 0;
    CS_CHECK_RC(sim_abd_msg_decode(buf.data, buf.len + 1, &back), CS_EDECODE);
    mem[0] = 9;
    CS_CHECK_RC(sim_abd_msg_decode(buf.data, buf.len, &back), CS_EDECODE);
    struct cs_rng *rng = cs_test_rng();
    for (int i = 0; i < 20000; i++) {
        uint8_t junk[24];
        size_t len = (size_t)cs_rng_below(rng, sizeof junk + 1);
        for (size_t j = 0; j < len; j++)
            junk[j] = (uint8_t)cs_rng_u64(rng);
        int rc = sim_abd_msg_decode(junk, len, &back);
        CS_CHECK(rc == 0 || rc == CS_EDECODE);
    }
}

CS_TEST_MAIN(CS_CASE(abd_message_decoder), CS_CASE(invariant_catches_ack_before_sync),
             CS_CASE(pb_invariant_flags_planted_states), CS_CASE(abd_passes_every_seed),
             CS_CASE(no_writeback_is_caught), CS_CASE(async_backup_is_caught))
