/*
 * sim.c: the simulator's scheduler, nodes, network, clocks and faults.
 *
 * The one idea: everything that happens is an event in one queue, fired one
 * at a time in (time, seq) order, and every choice (a delay, a drop, a torn
 * write) is drawn from a stream forked off the one seeded rng at creation.
 * A node acts only through the ctx of the callback it is in; each action
 * becomes a future event. Crashes are incarnations: an event carries the
 * incarnation it was made for and is dropped if the node has since crashed.
 * Pauses defer a paused node's events to its resume time, in order.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "sim/internal.h"

struct sim_node {
    const struct cs_sim_node_ops *ops;
    void *state;
    struct cs_sim_disk *disk;
    struct cs_rng rng;
    bool up;
    uint64_t incarnation;
    uint64_t paused_until_us;
    uint64_t timer_generation[CS_SIM_TIMERS_MAX];
    bool timer_armed[CS_SIM_TIMERS_MAX];
    uint64_t sync_done_last_us; /* syncs complete in order */
    int64_t clock_offset_us;
    int32_t clock_drift_ppm;
    uint64_t clock_seen_us; /* the monotonic filter: the highest reading handed out */
};

struct cs_sim {
    struct cs_sim_options opts;
    struct sim_queue queue;
    uint64_t now_us;
    uint64_t seq_next;
    uint64_t trace_hash;
    uint32_t messages_in_flight;
    bool started;
    struct cs_rng rng_net;
    struct cs_rng rng_disk;
    struct cs_rng rng_streams[2]; /* enum cs_sim_stream */
    struct cs_sim_link links[CS_SIM_NODES_MAX][CS_SIM_NODES_MAX];
    bool cut[CS_SIM_NODES_MAX][CS_SIM_NODES_MAX];
    struct sim_node nodes[CS_SIM_NODES_MAX];
    cs_sim_reply_fn reply_fn;
    void *reply_arg;
    struct cs_sim_stats stats;
};

void cs_sim_options_default(struct cs_sim_options *opts, uint64_t seed)
{
    memset(opts, 0, sizeof *opts);
    opts->seed = seed;
    opts->nodes_len = 3;
    opts->events_max = 65536;
    opts->messages_in_flight_max = 16384;
    opts->link = (struct cs_sim_link){.latency_min_us = 500, .latency_jitter_us = 1500};
    opts->client_latency_min_us = 200;
    opts->client_latency_jitter_us = 800;
    opts->sync_latency_min_us = 100;
    opts->sync_latency_jitter_us = 900;
}

/* --- trace ------------------------------------------------------------------ */

static void trace_text(struct cs_sim *sim, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void trace_text(struct cs_sim *sim, const char *fmt, ...)
{
    if (sim->opts.trace_fn == NULL) return;
    char line[256];
    int n = snprintf(line, sizeof line, "%" PRIu64 " ", sim->now_us);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    sim->opts.trace_fn(sim->opts.trace_arg, line);
}

void cs_sim_trace(struct cs_sim *sim, const char *line)
{
    sim->trace_hash = sim_hash_bytes(sim->trace_hash, (const uint8_t *)line, strlen(line));
    trace_text(sim, "%s", line);
}

/* --- creation ----------------------------------------------------------------- */

static bool link_valid(const struct cs_sim_link *l)
{
    return l->reorder_ppm <= 1000000 && l->loss_ppm <= 1000000 && l->duplicate_ppm <= 1000000;
}

int cs_sim_create(const struct cs_sim_options *opts, struct cs_sim **out)
{
    if (opts->nodes_len == 0 || opts->nodes_len > CS_SIM_NODES_MAX) return CS_EINVAL;
    if (opts->events_max > CS_SIM_EVENTS_MAX) return CS_EINVAL;
    if (opts->messages_in_flight_max > CS_SIM_MESSAGES_IN_FLIGHT_MAX) return CS_EINVAL;
    if (!link_valid(&opts->link) || opts->disk_torn_ppm > 1000000) return CS_EINVAL;
    struct cs_sim *sim = calloc(1, sizeof *sim);
    if (sim == NULL) return CS_ENOMEM;
    sim->opts = *opts;
    if (sim->opts.events_max == 0) sim->opts.events_max = 65536;
    if (sim->opts.messages_in_flight_max == 0) sim->opts.messages_in_flight_max = 16384;
    int rc = sim_queue_init(&sim->queue, sim->opts.events_max);
    if (rc != 0) {
        free(sim);
        return rc;
    }
    /* One seed; every stream forked in a fixed order so adding draws to one leaves the rest. */
    struct cs_rng root;
    cs_rng_init(&root, opts->seed);
    cs_rng_fork(&root, &sim->rng_net);
    cs_rng_fork(&root, &sim->rng_disk);
    cs_rng_fork(&root, &sim->rng_streams[CS_SIM_STREAM_NEMESIS]);
    cs_rng_fork(&root, &sim->rng_streams[CS_SIM_STREAM_WORKLOAD]);
    for (uint32_t i = 0; i < CS_SIM_NODES_MAX; i++) {
        cs_rng_fork(&root, &sim->nodes[i].rng);
    }
    for (uint32_t i = 0; i < opts->nodes_len; i++) {
        for (uint32_t j = 0; j < opts->nodes_len; j++)
            sim->links[i][j] = opts->link;
        rc = cs_sim_disk_create(&opts->disk, &sim->nodes[i].disk);
        if (rc != 0) {
            cs_sim_destroy(sim);
            return rc;
        }
    }
    sim->trace_hash = sim_hash_mix(0, opts->seed);
    *out = sim;
    return 0;
}

void cs_sim_destroy(struct cs_sim *sim)
{
    if (sim == NULL) return;
    struct sim_event ev;
    while (sim_queue_pop(&sim->queue, &ev)) {
        if (ev.kind == SIM_EV_MESSAGE) free(ev.u.message.bytes);
    }
    sim_queue_free(&sim->queue);
    for (uint32_t i = 0; i < CS_SIM_NODES_MAX; i++)
        cs_sim_disk_destroy(sim->nodes[i].disk);
    free(sim);
}

int cs_sim_node_attach(struct cs_sim *sim, uint32_t node_id, const struct cs_sim_node_ops *ops,
                       void *state)
{
    if (node_id >= sim->opts.nodes_len || ops == NULL || ops->on_message == NULL) return CS_EINVAL;
    if (sim->started) return CS_ESTATE;
    sim->nodes[node_id].ops = ops;
    sim->nodes[node_id].state = state;
    return 0;
}

/* --- clocks --------------------------------------------------------------------- */

static uint64_t clock_raw(const struct sim_node *n, uint64_t virtual_us)
{
    /* drift is bounded to +-50% and virtual time to ~2^62 us: the product fits in 128 bits. */
    __int128 local = (__int128)virtual_us + n->clock_offset_us +
                     (__int128)virtual_us * n->clock_drift_ppm / 1000000;
    return local < 0 ? 0 : (uint64_t)local;
}

static uint64_t clock_read(struct sim_node *n, uint64_t virtual_us)
{
    uint64_t local = clock_raw(n, virtual_us);
    if (local > n->clock_seen_us) n->clock_seen_us = local;
    return n->clock_seen_us;
}

uint64_t cs_sim_node_clock_us(const struct cs_sim *sim, uint32_t node_id)
{
    CS_ASSERT(node_id < sim->opts.nodes_len);
    const struct sim_node *n = &sim->nodes[node_id];
    uint64_t local = clock_raw(n, sim->now_us);
    return local > n->clock_seen_us ? local : n->clock_seen_us;
}

int cs_sim_clock_set(struct cs_sim *sim, uint32_t node_id, int64_t offset_us, int32_t drift_ppm)
{
    if (node_id >= sim->opts.nodes_len) return CS_EINVAL;
    if (drift_ppm < -500000 || drift_ppm > 500000) return CS_EINVAL;
    /* The reading just before the step is the floor after it: the clock never goes back. */
    clock_read(&sim->nodes[node_id], sim->now_us);
    sim->nodes[node_id].clock_offset_us = offset_us;
    sim->nodes[node_id].clock_drift_ppm = drift_ppm;
    trace_text(sim, "clock n%u offset %" PRId64 " drift %d", node_id, offset_us, drift_ppm);
    sim->trace_hash = sim_hash_mix(sim->trace_hash, (uint64_t)offset_us ^ (uint64_t)drift_ppm);
    return 0;
}

/* virtual_delay: how long local_delay_us of the node's clock takes in virtual time. */
static uint64_t virtual_delay(const struct sim_node *n, uint64_t local_delay_us)
{
    uint64_t rate = (uint64_t)(1000000 + n->clock_drift_ppm); /* >= 500000 */
    unsigned __int128 v = ((unsigned __int128)local_delay_us * 1000000 + rate - 1) / rate;
    return v > UINT64_MAX / 2 ? UINT64_MAX / 2 : (uint64_t)v;
}

/* --- scheduling ------------------------------------------------------------------ */

static int schedule(struct cs_sim *sim, uint64_t time_us, struct sim_event *ev)
{
    CS_ASSERT(time_us >= sim->now_us);
    ev->time_us = time_us;
    ev->seq = sim->seq_next++;
    return sim_queue_push(&sim->queue, ev);
}

static struct cs_sim_ctx ctx_of(struct cs_sim *sim, uint32_t node_id)
{
    struct sim_node *n = &sim->nodes[node_id];
    struct cs_sim_ctx ctx = {sim,     node_id, sim->opts.nodes_len, clock_read(n, sim->now_us),
                             &n->rng, n->disk};
    return ctx;
}

int cs_sim_schedule(struct cs_sim *sim, uint64_t delay_us, cs_sim_call_fn fn, void *arg,
                    uint64_t tag)
{
    struct sim_event ev = {.kind = SIM_EV_CALL};
    ev.u.call.fn = fn;
    ev.u.call.arg = arg;
    ev.u.call.tag = tag;
    return schedule(sim, sim->now_us + delay_us, &ev);
}

static uint64_t client_latency(struct cs_sim *sim)
{
    return sim->opts.client_latency_min_us +
           cs_rng_below(&sim->rng_net, (uint64_t)sim->opts.client_latency_jitter_us + 1);
}

int cs_sim_client_send(struct cs_sim *sim, uint32_t node_id, const struct cs_sim_request *req)
{
    if (node_id >= sim->opts.nodes_len) return CS_EINVAL;
    struct sim_event ev = {.kind = SIM_EV_CLIENT_REQUEST, .node = node_id};
    ev.u.request = *req;
    return schedule(sim, sim->now_us + client_latency(sim), &ev);
}

void cs_sim_set_reply_handler(struct cs_sim *sim, cs_sim_reply_fn fn, void *arg)
{
    sim->reply_fn = fn;
    sim->reply_arg = arg;
}

struct cs_rng *cs_sim_rng(struct cs_sim *sim, enum cs_sim_stream stream)
{
    CS_ASSERT((unsigned)stream < 2);
    return &sim->rng_streams[stream];
}

/* --- node actions ------------------------------------------------------------------ */

static uint64_t link_delay(struct cs_sim *sim, const struct cs_sim_link *l)
{
    uint64_t d =
        l->latency_min_us + cs_rng_below(&sim->rng_net, (uint64_t)l->latency_jitter_us + 1);
    if (l->reorder_ppm && cs_rng_chance(&sim->rng_net, l->reorder_ppm, 1000000)) {
        d += cs_rng_below(&sim->rng_net, (uint64_t)l->reorder_delay_us + 1);
    }
    return d;
}

static void message_schedule(struct cs_sim *sim, uint32_t from, uint32_t to, const void *bytes,
                             size_t bytes_len, const struct cs_sim_link *l)
{
    if (sim->messages_in_flight >= sim->opts.messages_in_flight_max) {
        sim->stats.messages_overflow++;
        return;
    }
    struct sim_event ev = {.kind = SIM_EV_MESSAGE, .node = to};
    ev.u.message.bytes = malloc(bytes_len ? bytes_len : 1);
    if (ev.u.message.bytes == NULL) {
        sim->stats.messages_overflow++; /* the network drops what it cannot buffer */
        return;
    }
    if (bytes_len) memcpy(ev.u.message.bytes, bytes, bytes_len);
    ev.u.message.bytes_len = (uint32_t)bytes_len;
    ev.u.message.from = from;
    if (schedule(sim, sim->now_us + link_delay(sim, l), &ev) != 0) {
        free(ev.u.message.bytes);
        sim->stats.messages_overflow++;
        return;
    }
    sim->messages_in_flight++;
}

int cs_sim_send(struct cs_sim_ctx *ctx, uint32_t to, const void *bytes, size_t bytes_len)
{
    struct cs_sim *sim = ctx->sim;
    uint32_t from = ctx->node_id;
    if (to >= sim->opts.nodes_len || to == from) return CS_EINVAL;
    if (bytes_len > CS_SIM_MESSAGE_BYTES_MAX) return CS_ETOOBIG;
    CS_ASSERT(sim->nodes[from].up);
    sim->stats.messages_sent++;
    if (sim->cut[from][to]) {
        sim->stats.messages_cut++;
        return 0;
    }
    const struct cs_sim_link *l = &sim->links[from][to];
    if (l->loss_ppm && cs_rng_chance(&sim->rng_net, l->loss_ppm, 1000000)) {
        sim->stats.messages_lost++;
        return 0;
    }
    message_schedule(sim, from, to, bytes, bytes_len, l);
    if (l->duplicate_ppm && cs_rng_chance(&sim->rng_net, l->duplicate_ppm, 1000000)) {
        sim->stats.messages_duplicated++;
        message_schedule(sim, from, to, bytes, bytes_len, l);
    }
    return 0;
}

int cs_sim_timer_set(struct cs_sim_ctx *ctx, uint32_t timer_id, uint64_t delay_us)
{
    if (timer_id >= CS_SIM_TIMERS_MAX) return CS_EINVAL;
    struct cs_sim *sim = ctx->sim;
    struct sim_node *n = &sim->nodes[ctx->node_id];
    CS_ASSERT(n->up);
    n->timer_generation[timer_id]++;
    n->timer_armed[timer_id] = true;
    struct sim_event ev = {.kind = SIM_EV_TIMER, .node = ctx->node_id};
    ev.u.timer.incarnation = n->incarnation;
    ev.u.timer.generation = n->timer_generation[timer_id];
    ev.u.timer.timer_id = timer_id;
    return schedule(sim, sim->now_us + virtual_delay(n, delay_us), &ev);
}

int cs_sim_timer_cancel(struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    if (timer_id >= CS_SIM_TIMERS_MAX) return CS_EINVAL;
    struct sim_node *n = &ctx->sim->nodes[ctx->node_id];
    n->timer_generation[timer_id]++;
    n->timer_armed[timer_id] = false;
    return 0;
}

int cs_sim_sync(struct cs_sim_ctx *ctx, uint64_t sync_id)
{
    struct cs_sim *sim = ctx->sim;
    struct sim_node *n = &sim->nodes[ctx->node_id];
    CS_ASSERT(n->up);
    uint64_t done_us = sim->now_us + sim->opts.sync_latency_min_us +
                       cs_rng_below(&sim->rng_disk, (uint64_t)sim->opts.sync_latency_jitter_us + 1);
    if (done_us < n->sync_done_last_us) done_us = n->sync_done_last_us;
    n->sync_done_last_us = done_us;
    struct sim_event ev = {.kind = SIM_EV_SYNC, .node = ctx->node_id};
    ev.u.sync.incarnation = n->incarnation;
    ev.u.sync.mark = cs_sim_disk_mark(n->disk);
    ev.u.sync.sync_id = sync_id;
    sim->stats.syncs++;
    return schedule(sim, done_us, &ev);
}

int cs_sim_reply(struct cs_sim_ctx *ctx, const struct cs_sim_reply *reply)
{
    struct cs_sim *sim = ctx->sim;
    struct sim_event ev = {.kind = SIM_EV_CLIENT_REPLY, .node = ctx->node_id};
    ev.u.reply = *reply;
    return schedule(sim, sim->now_us + client_latency(sim), &ev);
}

/* --- firing events -------------------------------------------------------------------- */

static void check_node(struct cs_sim *sim, uint32_t node_id)
{
    struct sim_node *n = &sim->nodes[node_id];
    if (!n->up || n->ops->check_invariants == NULL) return;
    if (n->ops->check_invariants(n->state) != 0) {
        sim->stats.invariant_failures++;
        trace_text(sim, "INVARIANT n%u", node_id);
    }
}

static void hash_event(struct cs_sim *sim, const struct sim_event *ev, uint64_t a, uint64_t b)
{
    uint64_t h = sim->trace_hash;
    h = sim_hash_mix(h, ev->time_us);
    h = sim_hash_mix(h, (uint64_t)ev->kind << 32 | ev->node);
    h = sim_hash_mix(h, a);
    sim->trace_hash = sim_hash_mix(h, b);
}

/* deferred: true if the event's node is paused; the event then waits for the resume. */
static bool deferred(struct cs_sim *sim, struct sim_event *ev)
{
    struct sim_node *n = &sim->nodes[ev->node];
    if (!n->up || n->paused_until_us <= sim->now_us) return false;
    struct sim_event later = *ev;
    /* Re-queued in pop order, so deferred events keep their relative order. */
    CS_ASSERT(schedule(sim, n->paused_until_us, &later) == 0);
    return true;
}

static void fire_message(struct cs_sim *sim, struct sim_event *ev)
{
    uint32_t to = ev->node, from = ev->u.message.from;
    struct sim_node *n = &sim->nodes[to];
    if (sim->cut[from][to]) {
        sim->stats.messages_cut++;
    } else if (!n->up) {
        sim->stats.messages_to_down++;
    } else {
        if (deferred(sim, ev)) return;
        sim->stats.messages_delivered++;
        trace_text(sim, "msg n%u->n%u %u bytes", from, to, ev->u.message.bytes_len);
        struct cs_sim_ctx ctx = ctx_of(sim, to);
        n->ops->on_message(n->state, &ctx, from, ev->u.message.bytes, ev->u.message.bytes_len);
        check_node(sim, to);
    }
    free(ev->u.message.bytes);
    CS_ASSERT(sim->messages_in_flight > 0);
    sim->messages_in_flight--;
}

static void fire_timer(struct cs_sim *sim, struct sim_event *ev)
{
    struct sim_node *n = &sim->nodes[ev->node];
    uint32_t id = ev->u.timer.timer_id;
    if (!n->up || ev->u.timer.incarnation != n->incarnation) return;
    if (!n->timer_armed[id] || ev->u.timer.generation != n->timer_generation[id]) return;
    if (deferred(sim, ev)) return;
    n->timer_armed[id] = false;
    sim->stats.timers_fired++;
    trace_text(sim, "timer n%u #%u", ev->node, id);
    if (n->ops->on_timer != NULL) {
        struct cs_sim_ctx ctx = ctx_of(sim, ev->node);
        n->ops->on_timer(n->state, &ctx, id);
        check_node(sim, ev->node);
    }
}

static void fire_sync(struct cs_sim *sim, struct sim_event *ev)
{
    struct sim_node *n = &sim->nodes[ev->node];
    if (!n->up || ev->u.sync.incarnation != n->incarnation) return;
    if (deferred(sim, ev)) return;
    cs_sim_disk_make_durable(n->disk, ev->u.sync.mark);
    trace_text(sim, "sync n%u #%" PRIu64, ev->node, ev->u.sync.sync_id);
    if (n->ops->on_sync != NULL) {
        struct cs_sim_ctx ctx = ctx_of(sim, ev->node);
        n->ops->on_sync(n->state, &ctx, ev->u.sync.sync_id);
        check_node(sim, ev->node);
    }
}

static void fire_request(struct cs_sim *sim, struct sim_event *ev)
{
    struct sim_node *n = &sim->nodes[ev->node];
    if (!n->up) return; /* the client will time out */
    if (deferred(sim, ev)) return;
    trace_text(sim, "request n%u id %" PRIu64, ev->node, ev->u.request.id);
    if (n->ops->on_client_request != NULL) {
        struct cs_sim_ctx ctx = ctx_of(sim, ev->node);
        n->ops->on_client_request(n->state, &ctx, &ev->u.request);
        check_node(sim, ev->node);
    }
}

static void fire(struct cs_sim *sim, struct sim_event *ev)
{
    switch ((enum sim_event_kind)ev->kind) {
    case SIM_EV_MESSAGE:
        hash_event(sim, ev, ev->u.message.from,
                   sim_hash_bytes(0, ev->u.message.bytes, ev->u.message.bytes_len));
        fire_message(sim, ev);
        return;
    case SIM_EV_TIMER:
        hash_event(sim, ev, ev->u.timer.timer_id, ev->u.timer.generation);
        fire_timer(sim, ev);
        return;
    case SIM_EV_SYNC:
        hash_event(sim, ev, ev->u.sync.sync_id, ev->u.sync.mark);
        fire_sync(sim, ev);
        return;
    case SIM_EV_CLIENT_REQUEST:
        hash_event(sim, ev, ev->u.request.id, (uint64_t)ev->u.request.value);
        fire_request(sim, ev);
        return;
    case SIM_EV_CLIENT_REPLY:
        hash_event(sim, ev, ev->u.reply.request_id,
                   (uint64_t)ev->u.reply.value ^ ((uint64_t)ev->u.reply.outcome << 60));
        if (sim->reply_fn != NULL) sim->reply_fn(sim->reply_arg, sim, &ev->u.reply);
        return;
    case SIM_EV_CALL:
        hash_event(sim, ev, ev->u.call.tag, 0);
        ev->u.call.fn(ev->u.call.arg, sim, ev->u.call.tag);
        return;
    }
    CS_UNREACHABLE();
}

bool cs_sim_step(struct cs_sim *sim)
{
    CS_ASSERT(sim->started);
    struct sim_event ev;
    if (!sim_queue_pop(&sim->queue, &ev)) return false;
    CS_ASSERT(ev.time_us >= sim->now_us); /* virtual time never goes back */
    sim->now_us = ev.time_us;
    sim->stats.events++;
    fire(sim, &ev);
    if (sim->opts.check_fn != NULL && sim->opts.check_fn(sim->opts.check_arg, sim) != 0) {
        sim->stats.invariant_failures++;
        trace_text(sim, "INVARIANT cluster");
    }
    return true;
}

void cs_sim_run_until(struct cs_sim *sim, uint64_t time_us)
{
    for (;;) {
        const struct sim_event *next = sim_queue_peek(&sim->queue);
        if (next == NULL || next->time_us > time_us) break;
        cs_sim_step(sim);
    }
    if (time_us > sim->now_us) sim->now_us = time_us;
}

int cs_sim_start(struct cs_sim *sim)
{
    if (sim->started) return CS_ESTATE;
    for (uint32_t i = 0; i < sim->opts.nodes_len; i++) {
        if (sim->nodes[i].ops == NULL) return CS_ESTATE;
    }
    sim->started = true;
    for (uint32_t i = 0; i < sim->opts.nodes_len; i++) {
        struct sim_node *n = &sim->nodes[i];
        n->up = true;
        if (n->ops->init != NULL) {
            struct cs_sim_ctx ctx = ctx_of(sim, i);
            int rc = n->ops->init(n->state, &ctx);
            if (rc != 0) return rc;
        }
    }
    return 0;
}

/* --- accessors ------------------------------------------------------------------------ */

uint64_t cs_sim_now_us(const struct cs_sim *sim)
{
    return sim->now_us;
}

uint32_t cs_sim_nodes_len(const struct cs_sim *sim)
{
    return sim->opts.nodes_len;
}

const struct cs_sim_stats *cs_sim_stats(const struct cs_sim *sim)
{
    return &sim->stats;
}

uint64_t cs_sim_trace_hash(const struct cs_sim *sim)
{
    return sim->trace_hash;
}

struct cs_sim_disk *cs_sim_node_disk(struct cs_sim *sim, uint32_t node_id)
{
    CS_ASSERT(node_id < sim->opts.nodes_len);
    return sim->nodes[node_id].disk;
}

bool cs_sim_node_up(const struct cs_sim *sim, uint32_t node_id)
{
    CS_ASSERT(node_id < sim->opts.nodes_len);
    return sim->nodes[node_id].up;
}

bool cs_sim_node_paused(const struct cs_sim *sim, uint32_t node_id)
{
    CS_ASSERT(node_id < sim->opts.nodes_len);
    const struct sim_node *n = &sim->nodes[node_id];
    return n->up && n->paused_until_us > sim->now_us;
}

/* --- faults ------------------------------------------------------------------------------ */

int cs_sim_link_set(struct cs_sim *sim, uint32_t from, uint32_t to, const struct cs_sim_link *link)
{
    if (from >= sim->opts.nodes_len || to >= sim->opts.nodes_len || !link_valid(link)) {
        return CS_EINVAL;
    }
    sim->links[from][to] = *link;
    return 0;
}

void cs_sim_link_get(const struct cs_sim *sim, uint32_t from, uint32_t to, struct cs_sim_link *out)
{
    CS_ASSERT(from < sim->opts.nodes_len && to < sim->opts.nodes_len);
    *out = sim->links[from][to];
}

int cs_sim_partition_cut(struct cs_sim *sim, uint32_t from, uint32_t to)
{
    if (from >= sim->opts.nodes_len || to >= sim->opts.nodes_len || from == to) return CS_EINVAL;
    if (!sim->cut[from][to]) {
        sim->cut[from][to] = true;
        sim->trace_hash = sim_hash_mix(sim->trace_hash, 0xC0700000u | from << 8 | to);
        trace_text(sim, "cut n%u->n%u", from, to);
    }
    return 0;
}

static void cut_masks(struct cs_sim *sim, uint32_t from_mask, uint32_t to_mask)
{
    for (uint32_t i = 0; i < sim->opts.nodes_len; i++) {
        for (uint32_t j = 0; j < sim->opts.nodes_len; j++) {
            if (i != j && (from_mask >> i & 1) && (to_mask >> j & 1))
                cs_sim_partition_cut(sim, i, j);
        }
    }
}

static uint32_t all_mask(const struct cs_sim *sim)
{
    return (uint32_t)((1ull << sim->opts.nodes_len) - 1);
}

void cs_sim_partition_halves(struct cs_sim *sim, uint32_t side_mask)
{
    uint32_t side = side_mask & all_mask(sim), rest = ~side_mask & all_mask(sim);
    sim->stats.partitions++;
    cut_masks(sim, side, rest);
    cut_masks(sim, rest, side);
}

void cs_sim_partition_isolate(struct cs_sim *sim, uint32_t node_id)
{
    CS_ASSERT(node_id < sim->opts.nodes_len);
    cs_sim_partition_halves(sim, 1u << node_id);
}

void cs_sim_partition_bridge(struct cs_sim *sim, uint32_t bridge_id, uint32_t side_mask)
{
    CS_ASSERT(bridge_id < sim->opts.nodes_len);
    uint32_t bridge = 1u << bridge_id;
    uint32_t side = side_mask & all_mask(sim) & ~bridge;
    uint32_t rest = ~side_mask & all_mask(sim) & ~bridge;
    sim->stats.partitions++;
    cut_masks(sim, side, rest);
    cut_masks(sim, rest, side);
}

void cs_sim_partition_one_way(struct cs_sim *sim, uint32_t from_mask, uint32_t to_mask)
{
    sim->stats.partitions++;
    cut_masks(sim, from_mask & all_mask(sim), to_mask & all_mask(sim));
}

bool cs_sim_link_cut(const struct cs_sim *sim, uint32_t from, uint32_t to)
{
    CS_ASSERT(from < sim->opts.nodes_len && to < sim->opts.nodes_len);
    return sim->cut[from][to];
}

void cs_sim_heal(struct cs_sim *sim)
{
    memset(sim->cut, 0, sizeof sim->cut);
    sim->trace_hash = sim_hash_mix(sim->trace_hash, 0x4EA1);
    trace_text(sim, "heal");
}

int cs_sim_crash(struct cs_sim *sim, uint32_t node_id)
{
    if (node_id >= sim->opts.nodes_len) return CS_EINVAL;
    struct sim_node *n = &sim->nodes[node_id];
    if (!n->up) return CS_ESTATE;
    n->up = false;
    n->incarnation++;
    n->paused_until_us = 0;
    memset(n->timer_armed, 0, sizeof n->timer_armed);
    n->sync_done_last_us = 0;
    cs_sim_disk_crash(n->disk, &sim->rng_disk, sim->opts.disk_torn_ppm);
    if (n->ops->on_crash != NULL) n->ops->on_crash(n->state);
    sim->stats.crashes++;
    sim->trace_hash = sim_hash_mix(sim->trace_hash, 0xC4A5 ^ (uint64_t)node_id << 16);
    trace_text(sim, "crash n%u", node_id);
    return 0;
}

int cs_sim_restart(struct cs_sim *sim, uint32_t node_id)
{
    if (node_id >= sim->opts.nodes_len) return CS_EINVAL;
    struct sim_node *n = &sim->nodes[node_id];
    if (n->up || !sim->started) return CS_ESTATE;
    n->up = true;
    sim->stats.restarts++;
    sim->trace_hash = sim_hash_mix(sim->trace_hash, 0x4E57 ^ (uint64_t)node_id << 16);
    trace_text(sim, "restart n%u", node_id);
    if (n->ops->on_restart != NULL) {
        struct cs_sim_ctx ctx = ctx_of(sim, node_id);
        int rc = n->ops->on_restart(n->state, &ctx);
        if (rc != 0) return rc;
        check_node(sim, node_id);
    }
    return 0;
}

int cs_sim_pause(struct cs_sim *sim, uint32_t node_id, uint64_t duration_us)
{
    if (node_id >= sim->opts.nodes_len) return CS_EINVAL;
    struct sim_node *n = &sim->nodes[node_id];
    if (!n->up || n->paused_until_us > sim->now_us) return CS_ESTATE;
    n->paused_until_us = sim->now_us + duration_us;
    sim->stats.pauses++;
    sim->trace_hash = sim_hash_mix(sim->trace_hash, 0xBA05 ^ duration_us);
    trace_text(sim, "pause n%u for %" PRIu64, node_id, duration_us);
    return 0;
}
