/*
 * sim_core.c: the simulator's scheduler, network, partitions, crashes,
 * pauses and clocks, observed through a small ping node. Each test drives a
 * cluster by hand and asserts exact outcomes: who received what, when.
 */
#include <string.h>

#include "consist/sim.h"
#include "testlib.h"

#define PING_NODES 4

/* A node that records what it receives and can be told to send. */
struct ping_node {
    uint32_t received_from[PING_NODES];
    uint64_t last_arrival_us;
    uint32_t seq_seen[64];
    uint32_t seq_len;
    uint32_t timers;
    uint32_t restarts;
    uint64_t timer_local_us;
    uint32_t pings_left;
};

static void ping_on_message(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *bytes,
                            size_t len)
{
    struct ping_node *p = node;
    p->received_from[from]++;
    p->last_arrival_us = ctx->now_us;
    if (len == 4 && p->seq_len < 64) {
        uint32_t seq;
        memcpy(&seq, bytes, 4);
        p->seq_seen[p->seq_len++] = seq;
    }
}

static void ping_on_timer(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    struct ping_node *p = node;
    (void)timer_id;
    p->timers++;
    p->timer_local_us = ctx->now_us;
    if (p->pings_left == 0) return;
    p->pings_left--;
    for (uint32_t to = 0; to < ctx->nodes_len; to++) {
        if (to != ctx->node_id) CS_CHECK_OK(cs_sim_send(ctx, to, "ping", 4));
    }
    CS_CHECK_OK(cs_sim_timer_set(ctx, 0, 1000 + cs_rng_below(ctx->rng, 1000)));
}

static int ping_init(void *node, struct cs_sim_ctx *ctx)
{
    struct ping_node *p = node;
    return p->pings_left ? cs_sim_timer_set(ctx, 0, 1000) : 0;
}

static int ping_on_restart(void *node, struct cs_sim_ctx *ctx)
{
    struct ping_node *p = node;
    (void)ctx;
    p->restarts++;
    return 0;
}

static const struct cs_sim_node_ops ping_ops = {
    .name = "ping",
    .init = ping_init,
    .on_message = ping_on_message,
    .on_timer = ping_on_timer,
    .on_restart = ping_on_restart,
};

struct cluster {
    struct cs_sim *sim;
    struct ping_node nodes[PING_NODES];
};

static void cluster_start(struct cluster *c, const struct cs_sim_options *opts, uint32_t pings)
{
    memset(c->nodes, 0, sizeof c->nodes);
    CS_CHECK_OK(cs_sim_create(opts, &c->sim));
    for (uint32_t i = 0; i < opts->nodes_len; i++) {
        c->nodes[i].pings_left = pings;
        CS_CHECK_OK(cs_sim_node_attach(c->sim, i, &ping_ops, &c->nodes[i]));
    }
    CS_CHECK_OK(cs_sim_start(c->sim));
}

static void lossy_options(struct cs_sim_options *o, uint64_t seed)
{
    cs_sim_options_default(o, seed);
    o->nodes_len = PING_NODES;
    o->link = (struct cs_sim_link){1000, 3000, 100000, 20000, 50000, 50000};
}

/* The same seed replays the same run (trace hash and every counter); another seed differs. */
CS_TEST(same_seed_same_run)
{
    uint64_t hashes[3];
    struct cs_sim_stats stats[3];
    uint64_t seeds[3] = {7, 7, 8};
    for (int r = 0; r < 3; r++) {
        struct cs_sim_options o;
        lossy_options(&o, seeds[r]);
        struct cluster c;
        cluster_start(&c, &o, 50);
        cs_sim_crash(c.sim, 2);
        cs_sim_run_until(c.sim, 30000);
        cs_sim_restart(c.sim, 2);
        cs_sim_run_until(c.sim, 200000);
        hashes[r] = cs_sim_trace_hash(c.sim);
        stats[r] = *cs_sim_stats(c.sim);
        CS_CHECK(stats[r].messages_lost > 0);
        CS_CHECK(stats[r].messages_duplicated > 0);
        cs_sim_destroy(c.sim);
    }
    CS_CHECK_EQ_U64(hashes[0], hashes[1]);
    CS_CHECK(memcmp(&stats[0], &stats[1], sizeof stats[0]) == 0);
    CS_CHECK(hashes[0] != hashes[2]);
}

static uint32_t order_log[8];
static uint32_t order_len;

static void record_tag(void *arg, struct cs_sim *sim, uint64_t tag)
{
    (void)arg;
    (void)sim;
    order_log[order_len++] = (uint32_t)tag;
}

/* Events at the same virtual time fire in the order they were scheduled; the queue bound holds. */
CS_TEST(ties_break_by_schedule_order_and_queue_is_bounded)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 1);
    o.events_max = 4;
    struct cluster c;
    cluster_start(&c, &o, 0);
    order_len = 0;
    CS_CHECK_OK(cs_sim_schedule(c.sim, 10, record_tag, NULL, 3));
    CS_CHECK_OK(cs_sim_schedule(c.sim, 5, record_tag, NULL, 1));
    CS_CHECK_OK(cs_sim_schedule(c.sim, 10, record_tag, NULL, 4));
    CS_CHECK_OK(cs_sim_schedule(c.sim, 5, record_tag, NULL, 2)); /* 4 of 4 */
    CS_CHECK_RC(cs_sim_schedule(c.sim, 1, record_tag, NULL, 9), CS_EBUSY);
    while (cs_sim_step(c.sim)) {
    }
    CS_CHECK_EQ(order_len, 4);
    for (uint32_t i = 0; i < 4; i++)
        CS_CHECK_EQ(order_log[i], i + 1);
    CS_CHECK_EQ_U64(cs_sim_now_us(c.sim), 10);
    cs_sim_destroy(c.sim);
}

/* Messages: the size limit holds at and past CS_SIM_MESSAGE_BYTES_MAX; self-sends are refused. */
static void big_on_timer(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    static uint8_t big[CS_SIM_MESSAGE_BYTES_MAX + 1];
    (void)node;
    (void)timer_id;
    CS_CHECK_OK(cs_sim_send(ctx, 1, big, CS_SIM_MESSAGE_BYTES_MAX));
    CS_CHECK_RC(cs_sim_send(ctx, 1, big, CS_SIM_MESSAGE_BYTES_MAX + 1), CS_ETOOBIG);
    CS_CHECK_RC(cs_sim_send(ctx, ctx->node_id, big, 1), CS_EINVAL);
    CS_CHECK_RC(cs_sim_send(ctx, ctx->nodes_len, big, 1), CS_EINVAL);
    CS_CHECK_RC(cs_sim_timer_set(ctx, CS_SIM_TIMERS_MAX, 1), CS_EINVAL);
}

static int big_init(void *node, struct cs_sim_ctx *ctx)
{
    (void)node;
    return ctx->node_id == 0 ? cs_sim_timer_set(ctx, 0, 1) : 0;
}

CS_TEST(message_limits)
{
    static const struct cs_sim_node_ops big_ops = {
        .init = big_init, .on_message = ping_on_message, .on_timer = big_on_timer};
    struct cs_sim_options o;
    cs_sim_options_default(&o, 1);
    o.nodes_len = 2;
    struct cs_sim *sim;
    struct ping_node nodes[2] = {0};
    CS_CHECK_OK(cs_sim_create(&o, &sim));
    for (uint32_t i = 0; i < 2; i++)
        CS_CHECK_OK(cs_sim_node_attach(sim, i, &big_ops, &nodes[i]));
    CS_CHECK_OK(cs_sim_start(sim));
    cs_sim_run_until(sim, 100000);
    CS_CHECK_EQ(nodes[1].received_from[0], 1);
    cs_sim_destroy(sim);
    o.nodes_len = CS_SIM_NODES_MAX + 1;
    CS_CHECK_RC(cs_sim_create(&o, &sim), CS_EINVAL);
}

/* Every partition shape cuts exactly the links it names, and heal restores them all. */
CS_TEST(partition_shapes)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 3);
    o.nodes_len = 5;
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&o, &sim));
    /* Not started: nodes are neither up nor down yet. */
    CS_CHECK_RC(cs_sim_crash(sim, 0), CS_ESTATE);
    CS_CHECK_RC(cs_sim_restart(sim, 0), CS_ESTATE);
    CS_CHECK_RC(cs_sim_pause(sim, 0, 10), CS_ESTATE);
    cs_sim_partition_halves(sim, 0x3); /* {0,1} | {2,3,4} */
    for (uint32_t i = 0; i < 5; i++) {
        for (uint32_t j = 0; j < 5; j++) {
            if (i == j) continue;
            bool across = (i < 2) != (j < 2);
            CS_CHECK_EQ(cs_sim_link_cut(sim, i, j), across);
        }
    }
    cs_sim_heal(sim);
    cs_sim_partition_isolate(sim, 4);
    CS_CHECK(cs_sim_link_cut(sim, 4, 0) && cs_sim_link_cut(sim, 0, 4));
    CS_CHECK(!cs_sim_link_cut(sim, 0, 1));
    cs_sim_heal(sim);
    cs_sim_partition_bridge(sim, 2, 0x3); /* {0,1} | {3,4}, 2 talks to all */
    CS_CHECK(cs_sim_link_cut(sim, 0, 3) && cs_sim_link_cut(sim, 4, 1));
    CS_CHECK(!cs_sim_link_cut(sim, 2, 0) && !cs_sim_link_cut(sim, 2, 4));
    CS_CHECK(!cs_sim_link_cut(sim, 0, 2) && !cs_sim_link_cut(sim, 3, 2));
    CS_CHECK(!cs_sim_link_cut(sim, 0, 1) && !cs_sim_link_cut(sim, 3, 4));
    cs_sim_heal(sim);
    cs_sim_partition_one_way(sim, 0x1, 0x1e); /* 0 can hear, not speak */
    CS_CHECK(cs_sim_link_cut(sim, 0, 1) && !cs_sim_link_cut(sim, 1, 0));
    cs_sim_heal(sim);
    for (uint32_t i = 0; i < 5; i++) {
        for (uint32_t j = 0; j < 5; j++)
            CS_CHECK(i == j || !cs_sim_link_cut(sim, i, j));
    }
    cs_sim_destroy(sim);
}

/* A cut link drops what is sent over it; messages still flow the other way and elsewhere. */
CS_TEST(one_way_cut_drops_one_direction)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 5);
    o.nodes_len = 3;
    struct cluster c;
    cluster_start(&c, &o, 10);
    cs_sim_partition_one_way(c.sim, 0x1, 0x2); /* 0 -> 1 cut */
    cs_sim_run_until(c.sim, 100000);
    CS_CHECK_EQ(c.nodes[1].received_from[0], 0);
    CS_CHECK_EQ(c.nodes[0].received_from[1], 10);
    CS_CHECK_EQ(c.nodes[2].received_from[0], 10);
    CS_CHECK(cs_sim_stats(c.sim)->messages_cut >= 10);
    cs_sim_destroy(c.sim);
}

/* A crashed node receives nothing and its timers die; restart runs recovery; it can act again. */
CS_TEST(crash_and_restart)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 9);
    o.nodes_len = 3;
    struct cluster c;
    cluster_start(&c, &o, 1000);
    cs_sim_run_until(c.sim, 10000);
    CS_CHECK_OK(cs_sim_crash(c.sim, 1));
    CS_CHECK_RC(cs_sim_crash(c.sim, 1), CS_ESTATE);
    uint32_t got = c.nodes[1].received_from[0], timers = c.nodes[1].timers;
    cs_sim_run_until(c.sim, 50000);
    CS_CHECK_EQ(c.nodes[1].received_from[0], got);
    CS_CHECK_EQ(c.nodes[1].timers, timers);
    CS_CHECK(cs_sim_stats(c.sim)->messages_to_down > 0);
    CS_CHECK_OK(cs_sim_restart(c.sim, 1));
    CS_CHECK_RC(cs_sim_restart(c.sim, 1), CS_ESTATE);
    CS_CHECK_EQ(c.nodes[1].restarts, 1);
    cs_sim_run_until(c.sim, 60000);
    CS_CHECK(c.nodes[1].received_from[0] > got);
    cs_sim_destroy(c.sim);
}

/* A paused node's messages wait and arrive, in order, when it resumes; its clock has moved on. */
CS_TEST(pause_defers_in_order)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 11);
    o.nodes_len = 2;
    o.link = (struct cs_sim_link){1000, 0, 0, 0, 0, 0}; /* fixed latency keeps send order */
    struct cluster c;
    cluster_start(&c, &o, 0);
    CS_CHECK_OK(cs_sim_pause(c.sim, 1, 50000));
    CS_CHECK_RC(cs_sim_pause(c.sim, 1, 10), CS_ESTATE);
    CS_CHECK(cs_sim_node_paused(c.sim, 1));
    /* Node 0 sends 5 numbered messages, one per ms, from a harness call acting as node 0. */
    for (uint32_t i = 0; i < 5; i++) {
        cs_sim_run_until(c.sim, 1000 * (i + 1));
        struct cs_sim_ctx ctx = {c.sim, 0, 2, cs_sim_node_clock_us(c.sim, 0), NULL, NULL};
        CS_CHECK_OK(cs_sim_send(&ctx, 1, &i, 4));
    }
    cs_sim_run_until(c.sim, 49999);
    CS_CHECK_EQ(c.nodes[1].seq_len, 0);
    cs_sim_run_until(c.sim, 50000);
    CS_CHECK_EQ(c.nodes[1].seq_len, 5);
    for (uint32_t i = 0; i < 5; i++)
        CS_CHECK_EQ(c.nodes[1].seq_seen[i], i);
    CS_CHECK_EQ_U64(c.nodes[1].last_arrival_us, 50000);
    cs_sim_destroy(c.sim);
}

/* Clocks: offset and drift shape local readings, timers run on local time, readings never go back.
 */
CS_TEST(clock_skew_drift_and_monotonic)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 13);
    o.nodes_len = 2;
    struct cluster c;
    cluster_start(&c, &o, 0);
    CS_CHECK_OK(cs_sim_clock_set(c.sim, 1, 5000, 100000)); /* +5 ms, 10% fast */
    cs_sim_run_until(c.sim, 100000);
    CS_CHECK_EQ_U64(cs_sim_node_clock_us(c.sim, 0), 100000);
    CS_CHECK_EQ_U64(cs_sim_node_clock_us(c.sim, 1), 100000 + 5000 + 10000);
    /* A backward step: the reading stands still rather than going back. */
    CS_CHECK_OK(cs_sim_clock_set(c.sim, 1, -20000, 100000));
    CS_CHECK_EQ_U64(cs_sim_node_clock_us(c.sim, 1), 115000);
    CS_CHECK_RC(cs_sim_clock_set(c.sim, 1, 0, 500001), CS_EINVAL);
    CS_CHECK_OK(cs_sim_clock_set(c.sim, 1, 0, 500000));
    /* A 1500 us local timer on a clock running 1.5x fires after 1000 us of virtual time. */
    struct cs_sim_ctx ctx = {c.sim, 1, 2, 0, NULL, NULL};
    CS_CHECK_OK(cs_sim_timer_set(&ctx, 3, 1500));
    cs_sim_run_until(c.sim, 100999);
    CS_CHECK_EQ(c.nodes[1].timers, 0);
    cs_sim_run_until(c.sim, 101000);
    CS_CHECK_EQ(c.nodes[1].timers, 1);
    cs_sim_destroy(c.sim);
}

/* A cluster invariant runs after every event and each violation is counted. */
static int crash_free(void *arg, struct cs_sim *sim)
{
    (void)arg;
    return cs_sim_node_up(sim, 1) ? 0 : 1;
}

CS_TEST(cluster_invariant_counts_violations)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 17);
    o.check_fn = crash_free;
    struct cluster c;
    cluster_start(&c, &o, 100);
    cs_sim_run_until(c.sim, 20000);
    CS_CHECK_EQ_U64(cs_sim_stats(c.sim)->invariant_failures, 0);
    uint64_t events = cs_sim_stats(c.sim)->events;
    CS_CHECK_OK(cs_sim_crash(c.sim, 1)); /* planted: the invariant says node 1 never crashes */
    cs_sim_run_until(c.sim, 40000);
    uint64_t fired = cs_sim_stats(c.sim)->events - events;
    CS_CHECK(fired > 0);
    CS_CHECK_EQ_U64(cs_sim_stats(c.sim)->invariant_failures, fired);
    cs_sim_destroy(c.sim);
}

/* Option limits at and one past their maxima; the in-flight bound drops the excess. */
static void burst_on_timer(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    (void)node;
    (void)timer_id;
    for (int i = 0; i < 5; i++)
        CS_CHECK_OK(cs_sim_send(ctx, 1, "x", 1));
    CS_CHECK_OK(cs_sim_timer_set(ctx, CS_SIM_TIMERS_MAX - 1, 1000000)); /* the last id is valid */
}

CS_TEST(option_limits_and_in_flight_bound)
{
    struct cs_sim_options o;
    cs_sim_options_default(&o, 1);
    struct cs_sim *sim;
    o.nodes_len = CS_SIM_NODES_MAX;
    CS_CHECK_OK(cs_sim_create(&o, &sim));
    cs_sim_destroy(sim);
    o.nodes_len = 2;
    o.events_max = CS_SIM_EVENTS_MAX;
    CS_CHECK_OK(cs_sim_create(&o, &sim));
    cs_sim_destroy(sim);
    o.events_max = CS_SIM_EVENTS_MAX + 1;
    CS_CHECK_RC(cs_sim_create(&o, &sim), CS_EINVAL);
    o.events_max = 0;
    o.messages_in_flight_max = CS_SIM_MESSAGES_IN_FLIGHT_MAX + 1;
    CS_CHECK_RC(cs_sim_create(&o, &sim), CS_EINVAL);
    o.messages_in_flight_max = 3;
    o.link.loss_ppm = 1000001;
    CS_CHECK_RC(cs_sim_create(&o, &sim), CS_EINVAL);
    o.link.loss_ppm = 0;
    static const struct cs_sim_node_ops burst_ops = {
        .init = big_init, .on_message = ping_on_message, .on_timer = burst_on_timer};
    struct ping_node nodes[2] = {0};
    CS_CHECK_OK(cs_sim_create(&o, &sim));
    for (uint32_t i = 0; i < 2; i++)
        CS_CHECK_OK(cs_sim_node_attach(sim, i, &burst_ops, &nodes[i]));
    CS_CHECK_OK(cs_sim_start(sim));
    cs_sim_run_until(sim, 100000);
    CS_CHECK_EQ(nodes[1].received_from[0], 3);
    CS_CHECK_EQ_U64(cs_sim_stats(sim)->messages_overflow, 2);
    cs_sim_destroy(sim);
}

CS_TEST_MAIN(CS_CASE(option_limits_and_in_flight_bound),
             CS_CASE(cluster_invariant_counts_violations), CS_CASE(same_seed_same_run),
             CS_CASE(ties_break_by_schedule_order_and_queue_is_bounded), CS_CASE(message_limits),
             CS_CASE(partition_shapes), CS_CASE(one_way_cut_drops_one_direction),
             CS_CASE(crash_and_restart), CS_CASE(pause_defers_in_order),
             CS_CASE(clock_skew_drift_and_monotonic))
