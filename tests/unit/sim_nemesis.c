/*
 * sim_nemesis.c: the nemesis schedules every fault kind it is allowed, from
 * the seed alone (two runs agree), respects its focus node, and heal_all
 * leaves every node up and every link whole.
 */
#include <stdio.h>
#include <string.h>

#include "consist/sim.h"
#include "testlib.h"

static void quiet_on_message(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *b,
                             size_t len)
{
    (void)node, (void)ctx, (void)from, (void)b, (void)len;
}

static const struct cs_sim_node_ops quiet_ops = {.name = "quiet", .on_message = quiet_on_message};

struct fault_log {
    uint32_t started[8]; /* per fault bit */
    uint32_t on_focus;
    uint32_t total;
};

static void log_line(void *arg, const char *line)
{
    struct fault_log *log = arg;
    unsigned long long t, fault;
    unsigned node;
    if (sscanf(line, "%llu nemesis start n%u %llu", &t, &node, &fault) != 3) return;
    for (int bit = 0; bit < 8; bit++) {
        if (fault == 1ull << bit) log->started[bit]++;
    }
    log->on_focus += node == 1;
    log->total++;
}

static uint64_t run_nemesis(uint64_t seed, uint32_t faults, uint32_t focus_ppm,
                            struct fault_log *log)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, seed);
    so.nodes_len = 5;
    so.trace_fn = log_line;
    so.trace_arg = log;
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    static int states[5];
    for (uint32_t i = 0; i < 5; i++)
        CS_CHECK_OK(cs_sim_node_attach(sim, i, &quiet_ops, &states[i]));
    CS_CHECK_OK(cs_sim_start(sim));
    struct cs_sim_nemesis_options no = {.faults = faults,
                                        .interval_min_us = 1000,
                                        .interval_max_us = 5000,
                                        .duration_min_us = 500,
                                        .duration_max_us = 3000,
                                        .focus_node = 1,
                                        .focus_ppm = focus_ppm,
                                        .clock_offset_max_us = 1000,
                                        .clock_drift_max_ppm = 1000,
                                        .stop_us = 2000000};
    struct cs_sim_nemesis *n;
    CS_CHECK_OK(cs_sim_nemesis_start(sim, &no, &n));
    cs_sim_run_until(sim, 1000000);
    CS_CHECK_EQ(cs_sim_nemesis_faults_started(n), log->total);
    cs_sim_nemesis_heal_all(n);
    for (uint32_t i = 0; i < 5; i++) {
        CS_CHECK(cs_sim_node_up(sim, i));
        for (uint32_t j = 0; j < 5; j++)
            CS_CHECK(i == j || !cs_sim_link_cut(sim, i, j));
    }
    uint64_t hash = cs_sim_trace_hash(sim);
    cs_sim_destroy(sim);
    cs_sim_nemesis_destroy(n);
    return hash;
}

/* Every kind happens, and the same seed gives the same schedule. */
CS_TEST(every_fault_kind_deterministically)
{
    struct fault_log a = {0}, b = {0};
    uint64_t ha = run_nemesis(21, CS_SIM_FAULTS_ALL, 0, &a);
    uint64_t hb = run_nemesis(21, CS_SIM_FAULTS_ALL, 0, &b);
    CS_CHECK_EQ_U64(ha, hb);
    CS_CHECK(memcmp(&a, &b, sizeof a) == 0);
    for (int bit = 0; bit < 8; bit++)
        CS_CHECK_MSG(a.started[bit] > 0, "fault bit %d never ran", bit);
}

/* A single allowed kind is the only one run; a 100% focus hits only the focus node. */
CS_TEST(fault_mask_and_focus)
{
    struct fault_log log = {0};
    run_nemesis(5, CS_SIM_FAULT_CRASH, 1000000, &log);
    CS_CHECK(log.total > 10);
    CS_CHECK_EQ(log.started[4], log.total);
    CS_CHECK_EQ(log.on_focus, log.total);
}

CS_TEST(options_checked)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, 1);
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    struct cs_sim_nemesis_options no = {
        .faults = CS_SIM_FAULT_CRASH, .interval_min_us = 0, .interval_max_us = 10};
    struct cs_sim_nemesis *n;
    CS_CHECK_RC(cs_sim_nemesis_start(sim, &no, &n), CS_EINVAL);
    no.interval_min_us = 1;
    no.faults = 0;
    CS_CHECK_RC(cs_sim_nemesis_start(sim, &no, &n), CS_EINVAL);
    no.faults = CS_SIM_FAULT_CRASH;
    no.focus_ppm = 1;
    no.focus_node = 3; /* only 3 nodes */
    CS_CHECK_RC(cs_sim_nemesis_start(sim, &no, &n), CS_EINVAL);
    cs_sim_destroy(sim);
}

CS_TEST_MAIN(CS_CASE(every_fault_kind_deterministically), CS_CASE(fault_mask_and_focus),
             CS_CASE(options_checked))
