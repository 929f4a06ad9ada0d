/*
 * nemesis.c: faults scheduled from the seed.
 *
 * The one idea: at most one fault is active at a time, and each fault is a
 * pair of events, start and end, drawn from the nemesis's own rng stream.
 * One fault at a time keeps the cluster able to make progress between faults
 * (a majority is always reachable after the end), so a failing seed points at
 * a protocol bug rather than at a cluster that was simply never available.
 * Clock changes are the exception: they persist, as real skew does.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/assert.h"
#include "sim/internal.h"

enum nemesis_tag {
    NEMESIS_START = 1,
    NEMESIS_END = 2,
};

struct cs_sim_nemesis {
    struct cs_sim *sim;
    struct cs_sim_nemesis_options opts;
    uint32_t active;  /* the enum cs_sim_fault in progress, 0 if none */
    uint32_t target;  /* its node */
    uint32_t started; /* faults begun */
    bool stopped;
    struct cs_sim_link saved_links[CS_SIM_NODES_MAX]; /* a slowed node's links, to restore */
};

static void nemesis_call(void *arg, struct cs_sim *sim, uint64_t tag);

static uint64_t draw_between(struct cs_rng *rng, uint64_t lo, uint64_t hi)
{
    return lo + cs_rng_below(rng, hi - lo + 1);
}

static uint32_t pick_node(struct cs_sim_nemesis *n, struct cs_rng *rng)
{
    uint32_t nodes = cs_sim_nodes_len(n->sim);
    if (n->opts.focus_ppm && cs_rng_chance(rng, n->opts.focus_ppm, 1000000)) {
        return n->opts.focus_node;
    }
    return (uint32_t)cs_rng_below(rng, nodes);
}

/* A random side holding fewer than half the nodes, at least one. */
static uint32_t minority_mask(struct cs_sim_nemesis *n, struct cs_rng *rng, uint32_t first)
{
    uint32_t nodes = cs_sim_nodes_len(n->sim);
    uint32_t size = 1 + (uint32_t)cs_rng_below(rng, (nodes - 1) / 2 > 0 ? (nodes - 1) / 2 : 1);
    uint32_t mask = 1u << first;
    for (uint32_t picked = 1; picked < size;) {
        uint32_t node = (uint32_t)cs_rng_below(rng, nodes);
        if (mask >> node & 1) continue;
        mask |= 1u << node;
        picked++;
    }
    return mask;
}

static void trace_fault(struct cs_sim_nemesis *n, const char *what, uint32_t node, uint64_t x)
{
    char line[96];
    snprintf(line, sizeof line, "nemesis %s n%u %" PRIu64, what, node, x);
    cs_sim_trace(n->sim, line);
}

static void fault_slow(struct cs_sim_nemesis *n, struct cs_rng *rng, uint32_t node)
{
    uint32_t nodes = cs_sim_nodes_len(n->sim);
    struct cs_sim_link slow = {.latency_min_us = 5000,
                               .latency_jitter_us = 20000,
                               .reorder_ppm = 200000,
                               .reorder_delay_us = 50000,
                               .loss_ppm = (uint32_t)cs_rng_below(rng, 300000),
                               .duplicate_ppm = 50000};
    for (uint32_t to = 0; to < nodes; to++) {
        if (to == node) continue;
        CS_ASSERT(cs_sim_link_set(n->sim, node, to, &slow) == 0);
    }
}

/* fault_begin: start `fault` on node; false if it cannot apply now (the node is down). */
static bool fault_begin(struct cs_sim_nemesis *n, struct cs_rng *rng, uint32_t fault, uint32_t node,
                        uint64_t duration_us)
{
    struct cs_sim *sim = n->sim;
    uint32_t nodes = cs_sim_nodes_len(sim);
    switch ((enum cs_sim_fault)fault) {
    case CS_SIM_FAULT_PARTITION_HALVES:
        cs_sim_partition_halves(sim, minority_mask(n, rng, node));
        return true;
    case CS_SIM_FAULT_PARTITION_ISOLATE:
        cs_sim_partition_isolate(sim, node);
        return true;
    case CS_SIM_FAULT_PARTITION_BRIDGE: {
        if (nodes < 3) return false;
        uint32_t bridge = (node + 1 + (uint32_t)cs_rng_below(rng, nodes - 1)) % nodes;
        cs_sim_partition_bridge(sim, bridge, minority_mask(n, rng, node) & ~(1u << bridge));
        return true;
    }
    case CS_SIM_FAULT_PARTITION_ONE_WAY: {
        uint32_t all = (uint32_t)((1ull << nodes) - 1);
        if (cs_rng_chance(rng, 1, 2)) {
            cs_sim_partition_one_way(sim, 1u << node, all); /* it can hear, not speak */
        } else {
            cs_sim_partition_one_way(sim, all, 1u << node); /* it can speak, not hear */
        }
        return true;
    }
    case CS_SIM_FAULT_CRASH:
        return cs_sim_crash(sim, node) == 0;
    case CS_SIM_FAULT_PAUSE:
        return cs_sim_pause(sim, node, duration_us) == 0;
    case CS_SIM_FAULT_CLOCK: {
        int64_t span = n->opts.clock_offset_max_us;
        int64_t offset = span ? (int64_t)cs_rng_below(rng, (uint64_t)(2 * span + 1)) - span : 0;
        int32_t dspan = n->opts.clock_drift_max_ppm;
        int32_t drift = dspan ? (int32_t)cs_rng_below(rng, (uint64_t)(2 * dspan + 1)) - dspan : 0;
        CS_ASSERT(cs_sim_clock_set(sim, node, offset, drift) == 0);
        return true;
    }
    case CS_SIM_FAULT_SLOW:
        fault_slow(n, rng, node);
        return true;
    }
    CS_UNREACHABLE();
}

static void fault_end(struct cs_sim_nemesis *n)
{
    struct cs_sim *sim = n->sim;
    uint32_t nodes = cs_sim_nodes_len(sim);
    switch ((enum cs_sim_fault)n->active) {
    case CS_SIM_FAULT_PARTITION_HALVES:
    case CS_SIM_FAULT_PARTITION_ISOLATE:
    case CS_SIM_FAULT_PARTITION_BRIDGE:
    case CS_SIM_FAULT_PARTITION_ONE_WAY:
        cs_sim_heal(sim);
        break;
    case CS_SIM_FAULT_CRASH:
        if (!cs_sim_node_up(sim, n->target)) CS_ASSERT(cs_sim_restart(sim, n->target) == 0);
        break;
    case CS_SIM_FAULT_PAUSE: /* the pause ends by itself */
    case CS_SIM_FAULT_CLOCK: /* skew persists */
        break;
    case CS_SIM_FAULT_SLOW:
        for (uint32_t to = 0; to < nodes; to++) {
            if (to == n->target) continue;
            CS_ASSERT(cs_sim_link_set(sim, n->target, to, &n->saved_links[to]) == 0);
        }
        break;
    }
    trace_fault(n, "end", n->target, n->active);
    n->active = 0;
}

static void nemesis_start_one(struct cs_sim_nemesis *n)
{
    struct cs_rng *rng = cs_sim_rng(n->sim, CS_SIM_STREAM_NEMESIS);
    uint32_t kinds[8], kinds_len = 0;
    for (uint32_t bit = 0; bit < 8; bit++) {
        if (n->opts.faults >> bit & 1) kinds[kinds_len++] = 1u << bit;
    }
    CS_ASSERT(kinds_len > 0);
    uint32_t fault = kinds[cs_rng_below(rng, kinds_len)];
    uint32_t node = pick_node(n, rng);
    uint64_t duration = draw_between(rng, n->opts.duration_min_us, n->opts.duration_max_us);
    if (fault == CS_SIM_FAULT_SLOW) {
        for (uint32_t to = 0; to < cs_sim_nodes_len(n->sim); to++) {
            cs_sim_link_get(n->sim, node, to, &n->saved_links[to]);
        }
    }
    if (!fault_begin(n, rng, fault, node, duration)) return;
    n->active = fault;
    n->target = node;
    n->started++;
    trace_fault(n, "start", node, fault);
    CS_ASSERT(cs_sim_schedule(n->sim, duration, nemesis_call, n, NEMESIS_END) == 0);
}

static void nemesis_call(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct cs_sim_nemesis *n = arg;
    CS_ASSERT(n->sim == sim);
    if (tag == NEMESIS_END) {
        if (n->active) fault_end(n);
        return;
    }
    CS_ASSERT(tag == NEMESIS_START);
    if (n->stopped) return;
    if (cs_sim_now_us(sim) >= n->opts.stop_us) {
        cs_sim_nemesis_heal_all(n);
        return;
    }
    if (n->active == 0) nemesis_start_one(n);
    struct cs_rng *rng = cs_sim_rng(sim, CS_SIM_STREAM_NEMESIS);
    uint64_t next = draw_between(rng, n->opts.interval_min_us, n->opts.interval_max_us);
    CS_ASSERT(cs_sim_schedule(sim, next, nemesis_call, n, NEMESIS_START) == 0);
}

int cs_sim_nemesis_start(struct cs_sim *sim, const struct cs_sim_nemesis_options *opts,
                         struct cs_sim_nemesis **out)
{
    uint32_t nodes = cs_sim_nodes_len(sim);
    if ((opts->faults & CS_SIM_FAULTS_ALL) == 0 || (opts->faults & ~CS_SIM_FAULTS_ALL) != 0) {
        return CS_EINVAL;
    }
    if (opts->interval_min_us == 0 || opts->interval_min_us > opts->interval_max_us ||
        opts->duration_min_us > opts->duration_max_us || opts->focus_ppm > 1000000 ||
        (opts->focus_ppm && opts->focus_node >= nodes) || opts->clock_offset_max_us < 0 ||
        opts->clock_drift_max_ppm < 0 || opts->clock_drift_max_ppm > 500000) {
        return CS_EINVAL;
    }
    struct cs_sim_nemesis *n = calloc(1, sizeof *n);
    if (n == NULL) return CS_ENOMEM;
    n->sim = sim;
    n->opts = *opts;
    struct cs_rng *rng = cs_sim_rng(sim, CS_SIM_STREAM_NEMESIS);
    uint64_t first = draw_between(rng, opts->interval_min_us, opts->interval_max_us);
    int rc = cs_sim_schedule(sim, first, nemesis_call, n, NEMESIS_START);
    if (rc != 0) {
        free(n);
        return rc;
    }
    *out = n;
    return 0;
}

void cs_sim_nemesis_destroy(struct cs_sim_nemesis *nemesis)
{
    free(nemesis);
}

void cs_sim_nemesis_heal_all(struct cs_sim_nemesis *nemesis)
{
    struct cs_sim *sim = nemesis->sim;
    nemesis->stopped = true;
    if (nemesis->active) fault_end(nemesis);
    cs_sim_heal(sim);
    for (uint32_t i = 0; i < cs_sim_nodes_len(sim); i++) {
        if (!cs_sim_node_up(sim, i)) CS_ASSERT(cs_sim_restart(sim, i) == 0);
    }
}

uint32_t cs_sim_nemesis_faults_started(const struct cs_sim_nemesis *nemesis)
{
    return nemesis->started;
}
