/*
 * bench_raft.c: what the Raft core costs per committed entry, in the
 * project's simulator (virtual time in microseconds), with no faults.
 *
 *   bench_raft [--runs N] [--quick] [--verbose]
 *
 * The one idea: a compact driver of its own runs each node's Ready loop
 * against cs_sim_* exactly as the contract in consist/raft.h asks (persist
 * entries and hard state to the node's sim disk, cs_sim_sync, and only when
 * that sync completes send the batch's messages and apply its committed
 * entries), and a closed-loop client pool keeps a fixed number of proposals
 * in flight at the leader, so the figures are those of a saturated cluster.
 *
 * Two disk disciplines:
 *   group: a node takes no new Ready while its sync runs (etcd's raftNode
 *          loop before async storage writes); everything that arrives
 *          meanwhile lands in the next batch, so one sync covers many
 *          entries: this is group commit.
 *   batch: a sync per Ready, several in flight (what `consist sim raft`
 *          does); shown for contrast.
 * Beside the main grid (3 and 5 voters x 0.1, 1, 50 ms links) a few rows
 * vary one thing each: link jitter (which reorders), the client window,
 * inflight_max and the fsync latency, to show what binds.
 * The simulator charges no CPU time, so what limits throughput is the
 * latencies, the client window, inflight_max x msg_entries_max per round
 * trip and the sync discipline; RESULTS.md says which binds where.
 * Reported per configuration, medians over seeds: commits per simulated
 * second, messages and syncs per committed entry, entries per append and
 * per leader sync, mean commit latency seen by clients, and simulated events
 * per wall second (the simulator plus this driver plus the core).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/assert.h"
#include "consist/raft.h"
#include "consist/sim.h"

#define BR_GROUP          1
#define BR_TICK_US        10000
#define BR_POST_MAX       16384 /* deferred sends and applies per node */
#define BR_WINDOW_MAX     4096  /* client proposals in flight */
#define BR_COMMAND_BYTES  16    /* request id, proposer, padding */
#define BR_COMPACT_KEEP   8192  /* entries kept behind the applied index */
#define BR_COMPACT_EVERY  4096  /* compact once this many more have applied */
#define BR_RETRY_US       1000  /* a refused client retries after this */
#define BR_ELECT_US_MAX   10000000ull
#define BR_RUNS_MAX       15
#define BR_WAL_RECORD_MAX (1u << 20) /* = CS_SIM_DISK_VALUE_BYTES_MAX */

/* One action deferred until a sync completes. */
struct br_post {
    uint64_t sync_id; /* run once this sync (and all before it) has completed */
    bool is_send;
    uint32_t to;       /* send: sim node */
    uint8_t *bytes;    /* send: the encoded message (owned) */
    uint32_t len;      /* send: its length */
    uint64_t index;    /* apply: entry index */
    uint64_t req_id;   /* apply: the client request it carries, 0 for none */
    uint32_t proposer; /* apply: the sim node that proposed it */
};

struct br_node {
    struct br_world *w;
    uint32_t id; /* sim id; the Raft id is id + 1 */
    struct cs_raft *r;
    uint64_t sync_next;   /* last sync issued */
    uint64_t sync_done;   /* last sync completed */
    struct br_post *post; /* [BR_POST_MAX] ring */
    uint32_t post_start;
    uint32_t post_len;
    uint64_t applied;      /* index the driver has applied up to */
    uint64_t wal_next;     /* index the next appended WAL record must start at */
    uint64_t compacted;    /* snapshot index */
    uint64_t syncs;        /* syncs this node issued */
    uint64_t snapshots_in; /* snapshots installed from a leader (0 expected) */
};

struct br_config {
    uint32_t nodes;
    uint32_t latency_us; /* node-to-node one way, minimum */
    uint32_t jitter_us;  /* plus uniform [0, jitter] */
    uint32_t sync_us;    /* fsync, minimum */
    uint32_t sync_jitter_us;
    uint32_t window;       /* client proposals in flight */
    uint32_t inflight_max; /* pipelined appends per follower */
    uint32_t msg_entries_max;
    bool group; /* one sync in flight per node */
    uint64_t warmup_us;
    uint64_t measure_us;
};

struct br_world {
    const struct br_config *cfg;
    struct cs_sim *sim;
    struct br_node nodes[CS_SIM_NODES_MAX];
    uint32_t leader; /* sim id clients send to */
    uint64_t req_next;
    uint64_t sent_us[BR_WINDOW_MAX]; /* per client slot: when its op was sent */
    /* Counted from the start of the measurement. */
    bool measuring;
    uint64_t ops_done;
    uint64_t ops_latency_us;
    uint64_t refused;
    uint64_t appends;                                /* append messages sent carrying entries */
    uint64_t append_entries;                         /* entries in them */
    uint64_t overflow;                               /* deferred queue full: the run is void */
    uint64_t msgs_by_type[CS_RAFT_MSG_TYPE_MAX + 1]; /* for --verbose */
    uint64_t empty_appends; /* appends with no entries: heartbeats, commit updates */
    uint64_t rejects;       /* rejected appends (reordered links cause them) */
};

struct br_result {
    double commits_per_s;
    double msgs_per_entry;
    double syncs_per_entry; /* cluster-wide */
    double entries_per_leader_sync;
    double entries_per_append;
    double latency_ms; /* mean, client send to reply */
    double events_per_wall_s;
    uint64_t events;
    uint64_t leader_changes;
    uint64_t refused;
    uint64_t anomalies; /* snapshots installed, queue overflows: 0 in a clean run */
};

static bool br_verbose; /* --verbose: per-run message breakdown on stderr */

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the node's disk: a WAL of one record per batch, plus hard state ------------------ */

/*
 * A record is "w" + first index (big-endian) -> u32 count, then per entry
 * uvarint term, u8 type, uvarint length, bytes: one put per Ready, as a
 * write-ahead log appends one record per batch. Keys sort by first index.
 */
static void br_wal_key(uint64_t first, uint8_t key[9])
{
    key[0] = 'w';
    for (int k = 0; k < 8; k++)
        key[1 + k] = (uint8_t)(first >> (56 - 8 * k));
}

static uint64_t br_wal_key_first(const uint8_t *key)
{
    uint64_t first = 0;
    for (int k = 0; k < 8; k++)
        first = first << 8 | key[1 + k];
    return first;
}

static uint32_t br_wal_count(const uint8_t *value)
{
    return (uint32_t)value[0] | (uint32_t)value[1] << 8 | (uint32_t)value[2] << 16 |
           (uint32_t)value[3] << 24;
}

/* One Ready's entries as one WAL record, following the previous one. */
static void br_wal_append(struct br_node *n, struct cs_sim_disk *d,
                          const struct cs_raft_entry *entries, size_t len)
{
    /* Only a new leader replaces a suffix; without faults the leader of the
     * whole measurement never does, so a gap or an overlap is a driver bug. */
    CS_ASSERT(entries[0].index == n->wal_next);
    struct cs_buf b;
    cs_buf_init(&b, BR_WAL_RECORD_MAX);
    cs_put_u32le(&b, (uint32_t)len);
    for (size_t k = 0; k < len; k++) {
        cs_put_uvarint(&b, entries[k].term);
        cs_put_u8(&b, entries[k].type);
        cs_put_bytes(&b, entries[k].data, entries[k].data_len);
    }
    /* A batch is bounded by the leader's uncommitted_max (<= BR_WINDOW_MAX
     * small commands), far below one record's limit. */
    CS_ASSERT(cs_buf_error(&b) == 0);
    uint8_t key[9];
    br_wal_key(entries[0].index, key);
    CS_ASSERT(cs_sim_disk_put(d, key, 9, b.data, b.len) == 0);
    cs_buf_free(&b);
    n->wal_next = entries[len - 1].index + 1;
}

/* Drop every WAL record wholly at or below upto (the snapshot covers it). */
static void br_wal_drop_prefix(struct cs_sim_disk *d, uint64_t upto)
{
    const uint8_t *key, *v;
    size_t key_len, vlen;
    while (cs_sim_disk_next(d, "w", 1, &key, &key_len, &v, &vlen) == 0 && key_len == 9 &&
           key[0] == 'w') {
        if (br_wal_key_first(key) + br_wal_count(v) - 1 > upto) break;
        uint8_t copy[9];
        memcpy(copy, key, 9);
        CS_ASSERT(cs_sim_disk_del(d, copy, 9) == 0);
    }
}

static void br_put_snapshot(struct cs_sim_disk *d, uint64_t index, uint64_t term)
{
    uint8_t v[16];
    memcpy(v, &index, 8);
    memcpy(v + 8, &term, 8);
    CS_ASSERT(cs_sim_disk_put(d, "snap", 4, v, sizeof v) == 0);
    br_wal_drop_prefix(d, index);
}

/* The batch's writes; true if there were any (then a sync must follow). No
 * crashes here, so their order within the batch does not matter. */
static bool br_persist(struct br_node *n, struct cs_sim_ctx *ctx, const struct cs_raft_ready *rd)
{
    bool wrote = false;
    if (rd->snapshot) {
        br_put_snapshot(ctx->disk, rd->snapshot->meta.index, rd->snapshot->meta.term);
        n->applied = rd->snapshot->meta.index;
        n->compacted = rd->snapshot->meta.index;
        n->wal_next = rd->snapshot->meta.index + 1;
        n->snapshots_in++;
        wrote = true;
    }
    if (rd->entries_len) {
        br_wal_append(n, ctx->disk, rd->entries, rd->entries_len);
        wrote = true;
    }
    if (rd->hard_state_changed) {
        const struct cs_raft_hard_state *hs = &rd->hard_state;
        uint8_t v[24];
        memcpy(v, &hs->term, 8);
        memcpy(v + 8, &hs->vote, 8);
        memcpy(v + 16, &hs->commit, 8);
        CS_ASSERT(cs_sim_disk_put(ctx->disk, "hs", 2, v, sizeof v) == 0);
        wrote = true;
    }
    return wrote;
}

/* --- deferred actions -------------------------------------------------------------- */

static struct br_post *br_post_push(struct br_node *n, uint64_t sync_id)
{
    if (n->post_len == BR_POST_MAX) {
        n->w->overflow++;
        return NULL;
    }
    struct br_post *p = &n->post[(n->post_start + n->post_len++) % BR_POST_MAX];
    memset(p, 0, sizeof *p);
    p->sync_id = sync_id;
    return p;
}

static void br_apply(struct br_node *n, struct cs_sim_ctx *ctx, const struct br_post *p)
{
    if (p->index <= n->applied) return; /* a snapshot covered it */
    CS_ASSERT(p->index == n->applied + 1);
    n->applied = p->index;
    if (p->req_id != 0 && p->proposer == n->id) {
        struct cs_sim_reply rep = {.request_id = p->req_id, .outcome = CS_SIM_OK};
        CS_ASSERT(cs_sim_reply(ctx, &rep) == 0);
    }
}

/* Run every deferred action whose sync has completed, in order. */
static void br_post_flush(struct br_node *n, struct cs_sim_ctx *ctx)
{
    while (n->post_len > 0) {
        struct br_post *p = &n->post[n->post_start];
        if (p->sync_id > n->sync_done) break;
        if (p->is_send) {
            (void)cs_sim_send(ctx, p->to, p->bytes, p->len);
            free(p->bytes);
        } else {
            br_apply(n, ctx, p);
        }
        n->post_start = (n->post_start + 1) % BR_POST_MAX;
        n->post_len--;
    }
}

static void br_defer(struct br_node *n, const struct cs_raft_ready *rd, uint64_t sync_id)
{
    struct br_world *w = n->w;
    for (size_t k = 0; k < rd->msgs_len; k++) {
        const struct cs_raft_msg *m = &rd->msgs[k];
        if (w->measuring && m->type <= CS_RAFT_MSG_TYPE_MAX) w->msgs_by_type[m->type]++;
        if (w->measuring && m->type == CS_RAFT_MSG_APPEND && m->entries_len == 0)
            w->empty_appends++;
        if (w->measuring && m->reject) w->rejects++;
        if (w->measuring && m->type == CS_RAFT_MSG_APPEND && m->entries_len > 0) {
            w->appends++;
            w->append_entries += m->entries_len;
        }
        struct cs_buf b;
        cs_buf_init(&b, CS_SIM_MESSAGE_BYTES_MAX);
        struct br_post *p;
        if (cs_raft_msg_encode(m, &b) != 0 || !(p = br_post_push(n, sync_id))) {
            cs_buf_free(&b);
            continue;
        }
        p->is_send = true;
        p->to = (uint32_t)(m->to - 1);
        p->bytes = b.data; /* the post owns it now */
        p->len = (uint32_t)b.len;
    }
    for (size_t k = 0; k < rd->committed_len; k++) {
        const struct cs_raft_entry *e = &rd->committed[k];
        struct br_post *p = br_post_push(n, sync_id);
        if (!p) return;
        p->index = e->index;
        if (e->type == CS_RAFT_ENTRY_NORMAL && e->data_len == BR_COMMAND_BYTES) {
            memcpy(&p->req_id, e->data, 8);
            memcpy(&p->proposer, e->data + 8, 4);
        }
    }
}

/* Compact the core's log and the WAL once enough has applied (bounded memory). */
static void br_compact(struct br_node *n, struct cs_sim_ctx *ctx)
{
    if (n->applied < n->compacted + BR_COMPACT_KEEP + BR_COMPACT_EVERY) return;
    uint64_t at = n->applied - BR_COMPACT_KEEP;
    uint8_t snap[8];
    memcpy(snap, &at, 8); /* the state machine is a counter: its snapshot is the count */
    if (cs_raft_compact(n->r, at, snap, sizeof snap) != 0) return;
    struct cs_raft_snapshot_meta meta;
    cs_raft_snapshot_meta(n->r, &meta);
    br_put_snapshot(ctx->disk, meta.index, meta.term);
    n->compacted = at; /* durable with the next sync */
}

/* --- the Ready loop ------------------------------------------------------------------- */

static void br_drain(struct br_node *n, struct cs_sim_ctx *ctx)
{
    const struct br_config *cfg = n->w->cfg;
    while (cs_raft_has_ready(n->r)) {
        /* group: wait for the running sync; what arrives meanwhile joins the next batch */
        if (cfg->group && n->sync_done != n->sync_next) break;
        struct cs_raft_ready rd;
        cs_raft_ready(n->r, &rd);
        uint64_t sync_id = n->sync_next; /* behind any sync still running */
        if (br_persist(n, ctx, &rd)) {
            sync_id = ++n->sync_next;
            n->syncs++;
            CS_ASSERT(cs_sim_sync(ctx, sync_id) == 0);
        }
        br_defer(n, &rd, sync_id);
        cs_raft_advance(n->r, &rd);
        br_post_flush(n, ctx); /* what needs no new sync goes now */
    }
    br_compact(n, ctx);
}

static int br_init(void *state, struct cs_sim_ctx *ctx)
{
    struct br_node *n = state;
    const struct br_config *cfg = n->w->cfg;
    struct cs_raft_config rc;
    cs_raft_config_default(&rc, n->id + 1, BR_GROUP, 0);
    cs_rng_fork(ctx->rng, &rc.rng);
    /* Election settles once, before the measurement; slow links get longer timeouts. */
    uint32_t rtt_ms = 2 * (cfg->latency_us + cfg->jitter_us) / 1000;
    rc.election_timeout_ms = 300 + 4 * rtt_ms;
    rc.heartbeat_interval_ms = 50;
    rc.inflight_max = cfg->inflight_max;
    rc.msg_entries_max = cfg->msg_entries_max;
    rc.uncommitted_max = cfg->window;
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    for (uint32_t k = 0; k < cfg->nodes; k++)
        rs.snapshot.meta.conf.members[k] = (struct cs_raft_member){k + 1, true};
    rs.snapshot.meta.conf.members_len = cfg->nodes;
    int err = cs_raft_new(&rc, &rs, ctx->now_us / 1000, &n->r);
    if (err) return err;
    n->wal_next = 1;
    return cs_sim_timer_set(ctx, 0, BR_TICK_US);
}

static void br_on_message(void *state, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *bytes,
                          size_t len)
{
    struct br_node *n = state;
    static struct cs_raft_entry entries[CS_RAFT_MSG_ENTRIES_MAX];
    struct cs_raft_msg m;
    (void)from;
    CS_ASSERT(cs_raft_msg_decode(bytes, len, &m, entries, CS_RAFT_MSG_ENTRIES_MAX) == 0);
    cs_raft_tick(n->r, ctx->now_us / 1000);
    (void)cs_raft_step(n->r, &m);
    br_drain(n, ctx);
}

static void br_on_timer(void *state, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    struct br_node *n = state;
    (void)timer_id;
    cs_raft_tick(n->r, ctx->now_us / 1000);
    br_drain(n, ctx);
    (void)cs_sim_timer_set(ctx, 0, BR_TICK_US);
}

static void br_on_sync(void *state, struct cs_sim_ctx *ctx, uint64_t sync_id)
{
    struct br_node *n = state;
    if (sync_id > n->sync_done) n->sync_done = sync_id;
    br_post_flush(n, ctx);
    br_drain(n, ctx); /* group: the batch that built up during the sync */
}

static void br_on_client_request(void *state, struct cs_sim_ctx *ctx,
                                 const struct cs_sim_request *req)
{
    struct br_node *n = state;
    uint8_t cmd[BR_COMMAND_BYTES] = {0};
    memcpy(cmd, &req->id, 8);
    memcpy(cmd + 8, &n->id, 4);
    int rc = cs_raft_propose(n->r, cmd, sizeof cmd, NULL);
    if (rc) {
        struct cs_sim_reply rep = {.request_id = req->id, .outcome = CS_SIM_FAIL, .error = rc};
        CS_ASSERT(cs_sim_reply(ctx, &rep) == 0);
        return;
    }
    br_drain(n, ctx);
}

static const struct cs_sim_node_ops br_ops = {
    .name = "raft-bench",
    .init = br_init,
    .on_message = br_on_message,
    .on_timer = br_on_timer,
    .on_client_request = br_on_client_request,
    .on_sync = br_on_sync,
};

/* --- the clients: window proposals in flight, each slot sends again on its reply -------- */

static void br_client_send(struct br_world *w, uint32_t slot)
{
    struct cs_sim_request req = {
        .id = ++w->req_next * BR_WINDOW_MAX + slot, .client = slot, .f = CS_SIM_F_WRITE};
    w->sent_us[slot] = cs_sim_now_us(w->sim);
    CS_ASSERT(cs_sim_client_send(w->sim, w->leader, &req) == 0);
}

static void br_client_retry(void *arg, struct cs_sim *sim, uint64_t slot)
{
    (void)sim;
    br_client_send(arg, (uint32_t)slot);
}

static void br_on_reply(void *arg, struct cs_sim *sim, const struct cs_sim_reply *rep)
{
    struct br_world *w = arg;
    uint32_t slot = (uint32_t)(rep->request_id % BR_WINDOW_MAX);
    if (rep->outcome != CS_SIM_OK) {
        w->refused += w->measuring;
        CS_ASSERT(cs_sim_schedule(sim, BR_RETRY_US, br_client_retry, w, slot) == 0);
        return;
    }
    if (w->measuring) {
        w->ops_done++;
        w->ops_latency_us += cs_sim_now_us(sim) - w->sent_us[slot];
    }
    br_client_send(w, slot);
}

/* --- one run ------------------------------------------------------------------------------ */

static int br_leader(struct br_world *w, uint64_t *term)
{
    for (uint32_t k = 0; k < w->cfg->nodes; k++) {
        struct cs_raft_status st;
        cs_raft_status(w->nodes[k].r, &st);
        if (st.role == CS_RAFT_LEADER) {
            *term = st.term;
            return (int)k;
        }
    }
    return -1;
}

static int br_run(const struct br_config *cfg, uint64_t seed, struct br_result *out)
{
    memset(out, 0, sizeof *out);
    struct br_world *w = calloc(1, sizeof *w);
    if (!w) return CS_ENOMEM;
    w->cfg = cfg;
    struct cs_sim_options so;
    cs_sim_options_default(&so, seed);
    so.nodes_len = cfg->nodes;
    so.events_max = 1u << 18;
    so.messages_in_flight_max = 1u << 16;
    memset(&so.link, 0, sizeof so.link); /* no loss, duplication or reordering */
    so.link.latency_min_us = cfg->latency_us;
    so.link.latency_jitter_us = cfg->jitter_us;
    so.client_latency_min_us = 100; /* clients sit 0.1 ms from the leader */
    so.client_latency_jitter_us = 10;
    so.sync_latency_min_us = cfg->sync_us;
    so.sync_latency_jitter_us = cfg->sync_jitter_us;
    int rc = cs_sim_create(&so, &w->sim);
    for (uint32_t k = 0; k < cfg->nodes && !rc; k++) {
        w->nodes[k].w = w;
        w->nodes[k].id = k;
        w->nodes[k].post = calloc(BR_POST_MAX, sizeof(struct br_post));
        if (!w->nodes[k].post) rc = CS_ENOMEM;
        if (!rc) rc = cs_sim_node_attach(w->sim, k, &br_ops, &w->nodes[k]);
    }
    if (!rc) rc = cs_sim_start(w->sim);
    uint64_t term0 = 0;
    int leader = -1;
    while (!rc && leader < 0 && cs_sim_now_us(w->sim) < BR_ELECT_US_MAX) {
        cs_sim_run_until(w->sim, cs_sim_now_us(w->sim) + 10000);
        leader = br_leader(w, &term0);
    }
    if (!rc && leader < 0) rc = CS_ETIMEOUT;
    if (!rc) {
        w->leader = (uint32_t)leader;
        cs_sim_set_reply_handler(w->sim, br_on_reply, w);
        for (uint32_t s = 0; s < cfg->window; s++)
            br_client_send(w, s);
        cs_sim_run_until(w->sim, cs_sim_now_us(w->sim) + cfg->warmup_us);

        struct br_node *l = &w->nodes[w->leader];
        struct cs_raft_status st;
        cs_raft_status(l->r, &st);
        const struct cs_sim_stats *ss = cs_sim_stats(w->sim);
        uint64_t commit0 = st.commit, msgs0 = ss->messages_sent, syncs0 = ss->syncs;
        uint64_t events0 = ss->events, lsyncs0 = l->syncs;
        w->measuring = true;
        double t0 = wall_s();
        cs_sim_run_until(w->sim, cs_sim_now_us(w->sim) + cfg->measure_us);
        double wall = wall_s() - t0;
        w->measuring = false;

        cs_raft_status(l->r, &st);
        uint64_t commits = st.commit - commit0;
        double entries = commits ? (double)commits : 1.0;
        out->commits_per_s = (double)commits * 1e6 / (double)cfg->measure_us;
        out->msgs_per_entry = (double)(ss->messages_sent - msgs0) / entries;
        out->syncs_per_entry = (double)(ss->syncs - syncs0) / entries;
        out->entries_per_leader_sync =
            l->syncs > lsyncs0 ? (double)commits / (double)(l->syncs - lsyncs0) : 0.0;
        out->entries_per_append = w->appends ? (double)w->append_entries / (double)w->appends : 0.0;
        out->latency_ms =
            w->ops_done ? (double)w->ops_latency_us / (double)w->ops_done / 1000.0 : 0.0;
        out->events = ss->events - events0;
        out->events_per_wall_s = (double)out->events / (wall > 1e-9 ? wall : 1e-9);
        out->refused = w->refused;
        out->leader_changes = st.role != CS_RAFT_LEADER || st.term != term0;
        out->anomalies = w->overflow;
        if (br_verbose) {
            for (int t = 1; t <= CS_RAFT_MSG_TYPE_MAX; t++)
                fprintf(stderr, "%s %" PRIu64 " ", cs_raft_msg_type_name((uint8_t)t),
                        w->msgs_by_type[t]);
            fprintf(stderr, "empty %" PRIu64 " rejects %" PRIu64 " ", w->empty_appends, w->rejects);
            fprintf(stderr, "commits %" PRIu64 " overflow %" PRIu64, commits, w->overflow);
            for (uint32_t k = 0; k < cfg->nodes; k++)
                fprintf(stderr, " n%u snapshots %" PRIu64, k, w->nodes[k].snapshots_in);
            fprintf(stderr, "\n");
        }
        for (uint32_t k = 0; k < cfg->nodes; k++)
            out->anomalies += w->nodes[k].snapshots_in;
    }
    cs_sim_destroy(w->sim);
    for (uint32_t k = 0; k < cfg->nodes; k++) {
        struct br_node *n = &w->nodes[k];
        while (n->post && n->post_len > 0) {
            struct br_post *p = &n->post[n->post_start];
            if (p->is_send) free(p->bytes);
            n->post_start = (n->post_start + 1) % BR_POST_MAX;
            n->post_len--;
        }
        free(n->post);
        cs_raft_free(n->r);
    }
    free(w);
    return rc;
}

/* --- medians and the table ---------------------------------------------------------------- */

static int br_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double br_median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, br_cmp);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

#define BR_MEDIAN(field)                                                                           \
    do {                                                                                           \
        for (int k = 0; k < runs; k++)                                                             \
            v[k] = res[k].field;                                                                   \
        med.field = br_median(v, runs);                                                            \
    } while (0)

static int br_row(const struct br_config *cfg, int runs)
{
    struct br_result res[BR_RUNS_MAX], med;
    double v[BR_RUNS_MAX];
    uint64_t changes = 0, refused = 0, anomalies = 0;
    for (int k = 0; k < runs; k++) {
        int rc = br_run(cfg, 1000 + (uint64_t)k, &res[k]);
        if (rc) {
            fprintf(stderr, "run failed: %s\n", cs_errname(rc));
            return rc;
        }
        changes += res[k].leader_changes;
        refused += res[k].refused;
        anomalies += res[k].anomalies;
    }
    memset(&med, 0, sizeof med);
    BR_MEDIAN(commits_per_s);
    double lo = v[0], hi = v[runs - 1];
    BR_MEDIAN(msgs_per_entry);
    BR_MEDIAN(syncs_per_entry);
    BR_MEDIAN(entries_per_leader_sync);
    BR_MEDIAN(entries_per_append);
    BR_MEDIAN(latency_ms);
    BR_MEDIAN(events_per_wall_s);
    printf("| %u | %.1f%s | %.1f %s | %u | %ux%u | %.0f (%.0f-%.0f) | %.2f | %.3f | %.1f | %.1f | "
           "%.2f | %.2f M | %" PRIu64 "/%" PRIu64 "/%" PRIu64 " |\n",
           cfg->nodes, cfg->latency_us / 1000.0, cfg->jitter_us ? " +0-10%" : "",
           cfg->sync_us / 1000.0, cfg->group ? "group" : "batch", cfg->window, cfg->inflight_max,
           cfg->msg_entries_max, med.commits_per_s, lo, hi, med.msgs_per_entry, med.syncs_per_entry,
           med.entries_per_leader_sync, med.entries_per_append, med.latency_ms,
           med.events_per_wall_s / 1e6, changes, refused, anomalies);
    fflush(stdout);
    return 0;
}

static void br_header(void)
{
    printf(
        "| voters | link ms | sync ms | window | inflight x entries | commits/s median (min-max) "
        "| msgs/entry | syncs/entry | entries/leader sync | entries/append | latency ms | "
        "events/wall s | leader changes/refused/anomalies |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
}

int main(int argc, char **argv)
{
    int runs = 5;
    bool quick = false;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--runs") && k + 1 < argc) {
            runs = atoi(argv[++k]);
        } else if (!strcmp(argv[k], "--quick")) {
            quick = true;
        } else if (!strcmp(argv[k], "--verbose")) {
            br_verbose = true;
        } else {
            fprintf(stderr, "usage: bench_raft [--runs N (1..%d)] [--quick] [--verbose]\n",
                    BR_RUNS_MAX);
            return 2;
        }
    }
    if (runs < 1 || runs > BR_RUNS_MAX) {
        fprintf(stderr, "--runs: 1..%d\n", BR_RUNS_MAX);
        return 2;
    }
    const uint32_t latencies_us[] = {100, 1000, 50000};
    const double t_start = wall_s();
    /* 0.2 ms fsync: a datacenter NVMe drive with power-loss protection. */
    struct br_config base = {.sync_us = 200,
                             .sync_jitter_us = 50,
                             .window = BR_WINDOW_MAX,
                             .inflight_max = 16,
                             .msg_entries_max = 64,
                             .group = true};
    printf("runs per row %d (seeds 1000..%d), sync %u us + [0, %u], client link 0.1 ms, "
           "inflight_max %u, msg_entries_max %u\n\n",
           runs, 1000 + runs - 1, base.sync_us, base.sync_jitter_us, base.inflight_max,
           base.msg_entries_max);
    br_header();
    const uint32_t voters[] = {3, 5};
    for (size_t vi = 0; vi < 2; vi++) {
        for (size_t li = 0; li < 3; li++) {
            for (int group = 1; group >= 0; group--) {
                if (!group && (voters[vi] != 3 || quick)) continue; /* contrast: 3 voters only */
                struct br_config c = base;
                c.nodes = voters[vi];
                c.latency_us = latencies_us[li];
                c.jitter_us = 0; /* FIFO links, as a TCP stream (jitter reorders) */
                c.group = group;
                /* enough round trips in the window to reach the steady state */
                c.warmup_us = 20ull * 2 * latencies_us[li] + 50000;
                c.measure_us = latencies_us[li] >= 50000 ? 5000000 : quick ? 100000 : 200000;
                if (br_row(&c, runs)) return 1;
            }
        }
    }
    if (!quick) {
        /* Jitter reorders messages on a link (TCP would not): the cost of it. */
        struct br_config j = base;
        j.nodes = 3;
        j.latency_us = 1000;
        j.jitter_us = 100;
        j.warmup_us = 90000;
        j.measure_us = 300000;
        if (br_row(&j, runs)) return 1;
        /* What the client window does, at 1 ms: below saturation and at it. */
        const uint32_t windows[] = {16, 256};
        for (size_t k = 0; k < 2; k++) {
            struct br_config c = base;
            c.nodes = 3;
            c.latency_us = 1000;
            c.window = windows[k];
            c.warmup_us = 90000;
            c.measure_us = 200000;
            if (br_row(&c, runs)) return 1;
        }
        /* The pipeline bound: four times the appends in flight. */
        const uint32_t inflight_latencies_us[] = {1000, 50000};
        for (size_t k = 0; k < 2; k++) {
            struct br_config c = base;
            c.nodes = 3;
            c.latency_us = inflight_latencies_us[k];
            c.inflight_max = 64;
            c.warmup_us = 40ull * inflight_latencies_us[k] + 50000;
            c.measure_us = k ? 5000000 : 200000;
            if (br_row(&c, runs)) return 1;
        }
        /* A 2 ms fsync (a consumer SSD, or a disk without a write cache). */
        for (int group = 1; group >= 0; group--) {
            struct br_config c = base;
            c.nodes = 3;
            c.latency_us = 1000;
            c.sync_us = 2000;
            c.sync_jitter_us = 500;
            c.group = group;
            c.warmup_us = 90000;
            c.measure_us = 200000;
            if (br_row(&c, runs)) return 1;
        }
    }
    printf("\nwhole run %.1f s wall\n", wall_s() - t_start);
    return 0;
}
