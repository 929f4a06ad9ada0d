/*
 * bench_sim.c: how fast the simulator runs, in simulated events per wall
 * second (median of several runs).
 *
 *   raw:  a 5-node cluster of gossiping nodes over lossy, reordering links,
 *         10 s of virtual time: the scheduler, network and timers alone.
 *   abd:  whole `consist sim abd` runs (cluster, workload, nemesis, and the
 *         linearizability check of each history): seeds per second too.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consist/sim.h"

#define RUNS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

struct gossip {
    uint64_t received;
};

static void gossip_on_message(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *b,
                              size_t len)
{
    struct gossip *g = node;
    (void)from;
    g->received++;
    /* Forward one in four messages to a random peer: steady traffic without blow-up. */
    if (cs_rng_below(ctx->rng, 4) == 0) {
        uint32_t to = (ctx->node_id + 1 + (uint32_t)cs_rng_below(ctx->rng, ctx->nodes_len - 1)) %
                      ctx->nodes_len;
        cs_sim_send(ctx, to, b, len);
    }
}

static void gossip_on_timer(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    (void)node;
    uint8_t msg[32] = {0};
    for (uint32_t to = 0; to < ctx->nodes_len; to++) {
        if (to != ctx->node_id) cs_sim_send(ctx, to, msg, sizeof msg);
    }
    cs_sim_timer_set(ctx, timer_id, 1000);
}

static int gossip_init(void *node, struct cs_sim_ctx *ctx)
{
    (void)node;
    return cs_sim_timer_set(ctx, 0, 1000);
}

static const struct cs_sim_node_ops gossip_ops = {
    .init = gossip_init, .on_message = gossip_on_message, .on_timer = gossip_on_timer};

static double bench_raw(uint64_t seed, uint64_t *events_out)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, seed);
    o.nodes_len = 5;
    o.link = (struct cs_sim_link){1000, 4000, 100000, 20000, 10000, 10000};
    struct cs_sim *sim;
    struct gossip nodes[5] = {0};
    if (cs_sim_create(&o, &sim) != 0) abort();
    for (uint32_t i = 0; i < 5; i++)
        cs_sim_node_attach(sim, i, &gossip_ops, &nodes[i]);
    cs_sim_start(sim);
    double t0 = now_s();
    cs_sim_run_until(sim, 10ull * 1000 * 1000);
    double dt = now_s() - t0;
    *events_out = cs_sim_stats(sim)->events;
    cs_sim_destroy(sim);
    return dt;
}

int main(void)
{
    double raw_rate[RUNS], abd_rate[RUNS], abd_seeds[RUNS];
    uint64_t raw_events = 0, abd_events = 0;
    for (int r = 0; r < RUNS; r++) {
        double dt = bench_raw((uint64_t)r + 1, &raw_events);
        raw_rate[r] = (double)raw_events / dt;
    }
    const uint64_t seeds = 500;
    for (int r = 0; r < RUNS; r++) {
        uint64_t events = 0;
        double t0 = now_s();
        for (uint64_t s = 1; s <= seeds; s++) {
            struct cs_sim_run_options o;
            struct cs_sim_run_result res;
            cs_sim_run_options_default(&o, s, CS_SIM_ABD);
            if (cs_sim_run(&o, NULL, &res) != 0) abort();
            events += res.stats.events;
        }
        double dt = now_s() - t0;
        abd_events = events;
        abd_rate[r] = (double)events / dt;
        abd_seeds[r] = (double)seeds / dt;
    }
    printf(
        "raw scheduler (5 nodes, 10 s virtual, %llu events/run): %.2f M events/s (median of %d)\n",
        (unsigned long long)raw_events, median(raw_rate, RUNS) / 1e6, RUNS);
    printf("abd runs incl. check (%llu seeds, %llu events): %.2f M events/s, %.0f seeds/s "
           "(median of %d)\n",
           (unsigned long long)seeds, (unsigned long long)abd_events, median(abd_rate, RUNS) / 1e6,
           median(abd_seeds, RUNS), RUNS);
    return 0;
}
