/*
 * run.c: one seeded run of a protocol under test, from cluster to verdict.
 *
 * The one idea: a run is a pure function of its options. Build the cluster
 * and its faulty world from the seed, let clients work while the nemesis
 * injects faults, stop the faults, let every operation finish (or time out),
 * then hand the history to the linearizability checker. The configuration
 * is chosen to make the races that expose register bugs common: reads
 * overlap writes (several clients, short think times), latencies vary by an
 * order of magnitude (a write reaches one replica long before the others),
 * and the nemesis favours the node that matters most (the primary).
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/check.h"
#include "sim/internal.h"
#include "sim/protocols.h"

/* A run ends after this much virtual time even if operations are still open. */
#define RUN_VIRTUAL_US_MAX (120ull * 1000 * 1000)
/* Events fired in one run, at most (a livelock guard). */
#define RUN_EVENTS_MAX (20ull * 1000 * 1000)
/* Bytes of a run's JSONL history, at most. */
#define RUN_HISTORY_BYTES_MAX (64u << 20)

void cs_sim_run_options_default(struct cs_sim_run_options *opts, uint64_t seed,
                                enum cs_sim_protocol protocol)
{
    memset(opts, 0, sizeof *opts);
    opts->seed = seed;
    opts->protocol = protocol;
    opts->nodes_len = 3;
    opts->clients_len = 4;
    opts->ops_max = 200;
    opts->faults = true;
    opts->check_steps_max = 10u * 1000 * 1000;
}

/* Primary-backup clients stay with the node that answered and move on when refused. */
static uint32_t route_sticky(void *arg, struct cs_rng *rng, uint32_t client, uint32_t last_node,
                             uint32_t attempt, uint32_t hint)
{
    (void)hint;
    uint32_t nodes_len = *(const uint32_t *)arg;
    (void)rng;
    (void)client;
    if (last_node == UINT32_MAX) return 0;
    return attempt == 0 ? last_node : (last_node + 1) % nodes_len;
}

static void world_options(const struct cs_sim_run_options *o, struct cs_sim_options *so)
{
    cs_sim_options_default(so, o->seed);
    so->nodes_len = o->nodes_len;
    so->events_max = 1u << 16;
    /* 1-5 ms per hop, and one message in ten takes up to 30 ms more. */
    so->link = (struct cs_sim_link){.latency_min_us = 1000,
                                    .latency_jitter_us = 4000,
                                    .reorder_ppm = 250000,
                                    .reorder_delay_us = 50000,
                                    .loss_ppm = o->faults ? 10000 : 0,
                                    .duplicate_ppm = o->faults ? 10000 : 0};
    so->client_latency_min_us = 200;
    so->client_latency_jitter_us = 1000;
    so->sync_latency_min_us = 200;
    so->sync_latency_jitter_us = 2000;
    so->disk_torn_ppm = o->faults ? 500000 : 0;
    so->disk.pending_max = 1024;
    so->disk.entries_max = 1024;
    so->trace_fn = o->trace_fn;
    so->trace_arg = o->trace_arg;
}

static void nemesis_options(const struct cs_sim_run_options *o, struct cs_sim_nemesis_options *no)
{
    memset(no, 0, sizeof *no);
    no->faults = CS_SIM_FAULTS_ALL;
    no->interval_min_us = 20000;
    no->interval_max_us = 150000;
    no->duration_min_us = 20000;
    no->duration_max_us = 250000;
    /* The primary is the node whose failure matters; ABD has none, so no focus. */
    no->focus_node = 0;
    no->focus_ppm = o->protocol == CS_SIM_PRIMARY_ASYNC_BACKUP ? 600000 : 0;
    no->clock_offset_max_us = 50000;
    no->clock_drift_max_ppm = 50000;
    no->stop_us = RUN_VIRTUAL_US_MAX / 2;
}

static void workload_options(const struct cs_sim_run_options *o, uint32_t *nodes_len,
                             struct cs_sim_workload_options *wo)
{
    memset(wo, 0, sizeof *wo);
    wo->kind = CS_SIM_WORKLOAD_REGISTER;
    wo->clients_len = o->clients_len;
    wo->ops_max = o->ops_max;
    wo->keys_len = 1;
    wo->read_ppm = 600000;
    wo->op_timeout_us = 300000;
    wo->think_min_us = 0;
    wo->think_max_us = 15000;
    if (o->protocol == CS_SIM_PRIMARY_ASYNC_BACKUP) {
        wo->route = route_sticky;
        wo->route_arg = nodes_len;
    }
}

struct run_world {
    struct cs_sim *sim;
    struct cs_sim_workload *workload;
    struct cs_sim_nemesis *nemesis;
    void *states;
};

static void world_free(struct run_world *w)
{
    cs_sim_destroy(w->sim); /* first: its queue points at the workload and nemesis */
    cs_sim_workload_destroy(w->workload);
    cs_sim_nemesis_destroy(w->nemesis);
    free(w->states);
}

static int world_build(const struct cs_sim_run_options *o, struct cs_history *history,
                       uint32_t *nodes_len, struct run_world *w)
{
    struct cs_sim_options so;
    world_options(o, &so);
    int rc = cs_sim_create(&so, &w->sim);
    if (rc != 0) return rc;
    bool pb = o->protocol == CS_SIM_PRIMARY_ASYNC_BACKUP;
    size_t state_bytes = pb ? sizeof(struct sim_pb_node) : sizeof(struct sim_abd_node);
    w->states = calloc(o->nodes_len, state_bytes);
    if (w->states == NULL) return CS_ENOMEM;
    for (uint32_t i = 0; i < o->nodes_len; i++) {
        void *state = (uint8_t *)w->states + i * state_bytes;
        if (pb) {
            sim_pb_node_init(state);
            rc = cs_sim_node_attach(w->sim, i, &sim_pb_ops, state);
        } else {
            sim_abd_node_init(state, o->protocol == CS_SIM_ABD);
            rc = cs_sim_node_attach(w->sim, i, &sim_abd_ops, state);
        }
        if (rc != 0) return rc;
    }
    rc = cs_sim_start(w->sim);
    if (rc != 0) return rc;
    struct cs_sim_workload_options wo;
    workload_options(o, nodes_len, &wo);
    rc = cs_sim_workload_start(w->sim, &wo, history, &w->workload);
    if (rc != 0 || !o->faults) return rc;
    struct cs_sim_nemesis_options no;
    nemesis_options(o, &no);
    return cs_sim_nemesis_start(w->sim, &no, &w->nemesis);
}

/* run_loop: step until every operation has completed (or a bound is hit). */
static void run_loop(struct run_world *w)
{
    uint64_t events = 0;
    while (!cs_sim_workload_done(w->workload) && events < RUN_EVENTS_MAX &&
           cs_sim_now_us(w->sim) < RUN_VIRTUAL_US_MAX) {
        if (!cs_sim_step(w->sim)) break;
        events++;
    }
}

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

static int run_judge(const struct cs_sim_run_options *o, const struct cs_history *h,
                     struct cs_sim_run_result *result)
{
    struct cs_buf jsonl;
    cs_buf_init(&jsonl, RUN_HISTORY_BYTES_MAX);
    int rc = cs_history_write_jsonl(h, &jsonl);
    if (rc == 0) result->history_hash = fnv1a(jsonl.data, jsonl.len);
    cs_buf_free(&jsonl);
    if (rc != 0) return rc;
    for (uint32_t i = 0; i < h->ops_len; i++) {
        result->ops_ok += h->ops[i].type == CS_TYPE_OK;
        result->ops_fail += h->ops[i].type == CS_TYPE_FAIL;
        result->ops_info += h->ops[i].type == CS_TYPE_INFO || h->ops[i].type == CS_TYPE_INVOKE;
    }
    struct cs_model_spec model = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_budget budget = {.steps_max = o->check_steps_max};
    struct cs_check_result check;
    rc = cs_check_linearizable(h, &model, &budget, &check);
    if (rc == 0) result->verdict = (int)check.verdict;
    cs_check_result_free(&check);
    return rc;
}

int cs_sim_run(const struct cs_sim_run_options *opts, struct cs_history *history,
               struct cs_sim_run_result *result)
{
    if (opts->nodes_len == 0 || opts->nodes_len > CS_SIM_NODES_MAX || opts->clients_len == 0 ||
        opts->clients_len > CS_SIM_CLIENTS_MAX || opts->ops_max == 0 ||
        (unsigned)opts->protocol > CS_SIM_PRIMARY_ASYNC_BACKUP) {
        return CS_EINVAL;
    }
    memset(result, 0, sizeof *result);
    struct cs_history own;
    struct cs_history *h = history;
    if (h == NULL) {
        cs_history_init(&own, opts->ops_max);
        h = &own;
    }
    uint32_t nodes_len = opts->nodes_len;
    struct run_world w = {0};
    int rc = world_build(opts, h, &nodes_len, &w);
    if (rc == 0) {
        run_loop(&w);
        rc = cs_sim_workload_error(w.workload);
        result->ops = cs_sim_workload_invoked(w.workload);
        result->end_us = cs_sim_now_us(w.sim);
        result->trace_hash = cs_sim_trace_hash(w.sim);
        result->stats = *cs_sim_stats(w.sim);
        result->faults = w.nemesis ? cs_sim_nemesis_faults_started(w.nemesis) : 0;
    }
    world_free(&w);
    if (rc == 0) rc = run_judge(opts, h, result);
    if (h == &own) cs_history_free(&own);
    return rc;
}
