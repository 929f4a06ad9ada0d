/*
 * raft_sim.c: `consist sim raft`, the Raft core and the key-value state
 * machine under the deterministic simulator, each history checked for
 * linearizability.
 *
 *   consist sim raft --seeds N [--seed-start S] [--nodes 3|5] [--bug NAME]
 *   consist sim raft --seed S [--bug NAME] [--trace]
 *
 * The one idea: a thin driver turns each Ready batch into simulator calls
 * without bending the contract: the batch's disk writes are issued and a
 * sync started; everything that depends on them (sending, applying, serving
 * reads) waits in a bounded queue until that sync completes, in batch order;
 * batches with no writes queue behind any sync still running. A crash loses
 * the queue, as a real process would. Clients are the simulator's kv
 * workload (read / write / cas per key): writes and cas become kv commands,
 * reads go through ReadIndex.
 *
 * Faults: the simulator's nemesis, crashes of leaders at the moments the
 * commit rule is about, membership changes, and in a quarter of the seeds a
 * leader-churn schedule that plays Figure 8 of the Raft paper as faults (see
 * rs_maybe_churn). After every event the cluster is checked for election
 * safety, commit safety, leader completeness, state machine safety and the
 * persistence contract; at the end the history goes to the
 * linearizability checker. Prints each failing seed with how to replay it
 * (and its trace hash: a replay prints the same line), and ends with
 * "N passed, M failed". Exit 0 all passed, 1 any failed, 2 usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "consist/check.h"
#include "consist/kv.h"
#include "consist/raft.h"
#include "consist/sim.h"

#define RS_GROUP              1
#define RS_TICK_US            10000
#define RS_POST_MAX           4096 /* deferred actions per node */
#define RS_PENDING_MAX        256  /* client requests waiting for commit or a read */
#define RS_COMPACT_EVERY      64
#define RS_INDEXES_MAX        (1u << 16)
#define RS_TERMS_MAX          (1u << 16)
#define RS_VIRTUAL_US_MAX     60000000ull
#define RS_EVENTS_MAX         20000000ull
#define RS_SNAPSHOT_BYTES_MAX (512u << 10)
#define RS_LIVENESS_US        2000000 /* after the faults stop, service must be back by then */
#define RS_OP_TIMEOUT_US      500000  /* a client gives an operation up (records info) */

/* One action deferred until a sync completes. */
struct rs_post {
    uint64_t sync_id; /* run once this sync (and all before it) completed */
    uint8_t kind;     /* 0 send, 1 apply, 2 read */
    uint32_t to;      /* send: sim node */
    uint64_t index;   /* apply: entry index; read: index to reach */
    uint64_t term;    /* apply: entry term */
    uint64_t ctx;     /* read: the request id */
    uint8_t *bytes;   /* send: encoded message; apply: entry data */
    uint32_t len;
    uint8_t msg_type; /* send: for the persistence check */
    bool msg_reject;
};

struct rs_pending {
    bool used;
    bool is_read;
    bool read_released;
    struct cs_sim_request req;
    uint64_t index; /* write: its entry; read: the index to reach */
    uint64_t term;
};

/*
 * The leader-churn schedule (see rs_churn_* below): cut a leader off with a
 * minority right after it appends, cut its successor off right after it is
 * elected, let the rest elect a third leader, heal.
 */
enum rs_churn_stage {
    RS_CHURN_IDLE = 0,
    RS_CHURN_OLD_CUT = 1, /* the old leader and a minority are cut off */
    RS_CHURN_NEW_CUT = 2, /* its successor is isolated; the others elect again */
};

struct rs_churn {
    bool on; /* this seed runs the schedule */
    enum rs_churn_stage stage;
    uint64_t cycle;       /* numbers the cycles; stale end events are ignored */
    uint32_t old_leader;  /* sim id of the leader cut off in stage 1 */
    uint32_t new_leader;  /* sim id of its successor, isolated in stage 2 */
    bool crash_committer; /* this cycle ends with step 4's crash */
    uint64_t old_term;
    uint64_t next_us;     /* no new cycle before this virtual time */
    uint64_t cycles;      /* cycles started */
    uint64_t cycles_full; /* cycles that reached stage 2 */
};

struct rs_cluster;

struct rs_node {
    struct rs_cluster *cluster;
    uint32_t sim_id;
    struct cs_raft *r;
    struct cs_kv *kv;
    uint64_t sync_next;
    uint64_t sync_done;
    struct rs_post *post; /* [RS_POST_MAX] ring */
    uint32_t post_start;
    uint32_t post_len;
    uint64_t checked_commit; /* committed entries up to here were recorded */
    struct rs_pending pending[RS_PENDING_MAX];
};

struct rs_cluster {
    uint32_t nodes_len;
    uint32_t bugs;
    uint32_t msg_entries_max; /* drawn per seed: 1 separates entries of different terms */
    uint32_t inflight_max;
    struct cs_sim *sim;      /* for the leader-focused faults below */
    uint64_t conf_changes;   /* membership changes leaders accepted */
    uint64_t faults_stop_us; /* no leader-focused crash after this */
    struct rs_churn churn;   /* the leader-churn schedule, in churn seeds */
    struct rs_node nodes[CS_SIM_NODES_MAX];
    uint64_t *leader_of_term; /* [RS_TERMS_MAX] */
    uint64_t *applied_hash;   /* [RS_INDEXES_MAX] */
    uint64_t *committed_hash; /* [RS_INDEXES_MAX]: entry committed at index, 0 unknown */
    uint64_t *committed_term; /* [RS_INDEXES_MAX]: lowest term a node knew it committed in */
    uint64_t committed_max;
    char violation[200];
};

static uint64_t rs_hash(const void *data, size_t len, uint64_t term)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ term;
    for (size_t k = 0; k < len; k++)
        h = (h ^ p[k]) * 0x100000001b3ull;
    return h | 1;
}

/* --- the disk: "e"+index (big-endian) -> entry, "hs" -> hard state, "snap" -> snapshot */

static void rs_entry_key(uint64_t index, uint8_t key[9])
{
    key[0] = 'e';
    for (int k = 0; k < 8; k++)
        key[1 + k] = (uint8_t)(index >> (56 - 8 * k));
}

static uint64_t rs_entry_key_index(const uint8_t key[9])
{
    uint64_t index = 0;
    for (int k = 0; k < 8; k++)
        index = index << 8 | key[1 + k];
    return index;
}

/*
 * Delete every entry at or after from (>= 1), the highest first: a crash
 * keeps a prefix of the issued writes, so any prefix of these deletes
 * leaves a log without a hole (lowest first could keep from + 1 and drop from).
 */
static void rs_disk_drop_suffix(struct cs_sim_disk *d, uint64_t from)
{
    uint8_t key[9];
    rs_entry_key(from - 1, key);
    const uint8_t *next, *value;
    size_t next_len, value_len;
    uint64_t last = 0;
    while (cs_sim_disk_next(d, key, 9, &next, &next_len, &value, &value_len) == 0 &&
           next_len == 9 && next[0] == 'e') {
        memcpy(key, next, 9);
        last = rs_entry_key_index(key);
    }
    for (uint64_t index = last; index >= from && index > 0; index--) {
        rs_entry_key(index, key);
        (void)cs_sim_disk_del(d, key, 9); /* CS_ENOTFOUND: nothing there */
    }
}

/* Delete every entry up to upto, the lowest first (any prefix of the deletes
 * leaves the log after them contiguous). */
static void rs_disk_drop_prefix(struct cs_sim_disk *d, uint64_t upto)
{
    uint8_t after[9] = {'e'};
    const uint8_t *key, *value;
    size_t key_len, value_len;
    size_t after_len = 1; /* "e": before every entry key */
    while (cs_sim_disk_next(d, after, after_len, &key, &key_len, &value, &value_len) == 0) {
        if (key_len != 9 || key[0] != 'e') break;
        uint8_t copy[9];
        memcpy(copy, key, 9);
        if (rs_entry_key_index(copy) > upto) break;
        cs_sim_disk_del(d, copy, 9);
        memcpy(after, copy, 9);
        after_len = 9;
    }
}

static int rs_disk_put_entry(struct cs_sim_disk *d, const struct cs_raft_entry *e)
{
    uint8_t key[9];
    rs_entry_key(e->index, key);
    struct cs_buf b;
    cs_buf_init(&b, CS_SIM_DISK_VALUE_BYTES_MAX);
    cs_put_uvarint(&b, e->term);
    cs_put_u8(&b, e->type);
    cs_put_raw(&b, e->data, e->data_len);
    int rc = cs_buf_error(&b);
    if (!rc) rc = cs_sim_disk_put(d, key, 9, b.data, b.len);
    cs_buf_free(&b);
    return rc;
}

static int rs_disk_put_snapshot(struct cs_sim_disk *d, const struct cs_raft_snapshot_meta *m,
                                const uint8_t *data, size_t len)
{
    struct cs_buf b;
    cs_buf_init(&b, CS_SIM_DISK_VALUE_BYTES_MAX);
    cs_put_uvarint(&b, m->index);
    cs_put_uvarint(&b, m->term);
    cs_raft_conf_encode(&m->conf, &b);
    cs_put_raw(&b, data, len);
    int rc = cs_buf_error(&b);
    if (!rc) rc = cs_sim_disk_put(d, "snap", 4, b.data, b.len);
    cs_buf_free(&b);
    if (!rc) rs_disk_drop_prefix(d, m->index);
    return rc;
}

/* --- deferred actions ------------------------------------------------------- */

static struct rs_post *rs_post_push(struct rs_node *n, uint64_t sync_id)
{
    if (n->post_len == RS_POST_MAX) return NULL;
    struct rs_post *p = &n->post[(n->post_start + n->post_len++) % RS_POST_MAX];
    memset(p, 0, sizeof *p);
    p->sync_id = sync_id;
    return p;
}

static void rs_reply(struct cs_sim_ctx *ctx, const struct cs_sim_request *req,
                     enum cs_sim_outcome outcome, int error, bool nil, int64_t value)
{
    struct cs_sim_reply rep = {.request_id = req->id,
                               .outcome = outcome,
                               .error = error,
                               .value_nil = nil,
                               .value = value};
    (void)cs_sim_reply(ctx, &rep);
}

/* A refusal from a node that is not the leader names the leader it knows. */
static void rs_refuse(struct rs_node *n, struct cs_sim_ctx *ctx, const struct cs_sim_request *req,
                      int error)
{
    struct cs_sim_reply rep = {.request_id = req->id, .outcome = CS_SIM_FAIL, .error = error};
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    if (error == CS_ENOTLEADER && st.leader != CS_RAFT_NONE) rep.redirect = (uint32_t)st.leader;
    (void)cs_sim_reply(ctx, &rep);
}

static void rs_key(uint32_t key, char out[16])
{
    snprintf(out, 16, "k%u", key);
}

static void rs_serve_read(struct rs_node *n, struct cs_sim_ctx *ctx, struct rs_pending *p)
{
    char key[16];
    rs_key(p->req.key, key);
    const uint8_t *v;
    size_t vlen;
    /* The simulated workloads set no TTL: no key can expire, so read at time 0. */
    if (cs_kv_get(n->kv, key, strlen(key), 0, &v, &vlen) != 0) {
        rs_reply(ctx, &p->req, CS_SIM_OK, 0, true, 0);
    } else {
        int64_t x = 0;
        if (vlen == 8) memcpy(&x, v, 8);
        rs_reply(ctx, &p->req, CS_SIM_OK, 0, false, x);
    }
    p->used = false;
}

static void rs_apply(struct rs_node *n, struct cs_sim_ctx *ctx, struct rs_post *p)
{
    struct rs_cluster *c = n->cluster;
    uint64_t h = rs_hash(p->bytes, p->len, p->term);
    if (p->index < RS_INDEXES_MAX) {
        if (c->applied_hash[p->index] && c->applied_hash[p->index] != h && !c->violation[0]) {
            snprintf(c->violation, sizeof c->violation,
                     "state machine safety: node %u applies a different entry at %" PRIu64,
                     n->sim_id, p->index);
        }
        c->applied_hash[p->index] = h;
    }
    if (p->index <= cs_kv_applied_index(n->kv)) return; /* a snapshot covered it */
    struct cs_buf reply;
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    int rc = 0;
    if (p->len > 0) {
        rc = cs_kv_apply(n->kv, p->index, p->bytes, p->len, &reply);
    }
    for (uint32_t k = 0; k < RS_PENDING_MAX; k++) {
        struct rs_pending *q = &n->pending[k];
        if (!q->used || q->is_read || q->index != p->index) continue;
        if (q->term != p->term) {
            rs_reply(ctx, &q->req, CS_SIM_FAIL, CS_ENOTLEADER, false, 0); /* replaced */
        } else {
            struct cs_kv_reply r;
            bool ok = rc == 0 && p->len > 0 && cs_kv_reply_decode(reply.data, reply.len, &r) == 0 &&
                      r.results_len == 1;
            if (!ok) {
                rs_reply(ctx, &q->req, CS_SIM_INFO, CS_EUNKNOWN, false, 0);
            } else if (r.results[0].rc == 0) {
                rs_reply(ctx, &q->req, CS_SIM_OK, 0, false, q->req.value);
            } else {
                rs_reply(ctx, &q->req, CS_SIM_FAIL, r.results[0].rc, false, 0);
            }
        }
        q->used = false;
    }
    cs_buf_free(&reply);
    for (uint32_t k = 0; k < RS_PENDING_MAX; k++) {
        struct rs_pending *q = &n->pending[k];
        if (q->used && q->is_read && q->read_released && cs_kv_applied_index(n->kv) >= q->index) {
            rs_serve_read(n, ctx, q);
        }
    }
}

/* The last durable entry index and term on a disk (the snapshot's if none). */
static void rs_disk_last(struct cs_sim_disk *d, uint64_t *index, uint64_t *term)
{
    *index = 0;
    *term = 0;
    const uint8_t *v, *key;
    size_t vlen, key_len;
    if (cs_sim_disk_get(d, "snap", 4, &v, &vlen) == 0) {
        struct cs_reader r;
        cs_reader_init(&r, v, vlen);
        cs_get_uvarint(&r, index);
        cs_get_uvarint(&r, term);
    }
    uint8_t after[9];
    rs_entry_key(*index, after);
    while (cs_sim_disk_next(d, after, 9, &key, &key_len, &v, &vlen) == 0 && key_len == 9 &&
           key[0] == 'e') {
        memcpy(after, key, 9);
        struct cs_reader r;
        cs_reader_init(&r, v, vlen);
        cs_get_uvarint(&r, term);
        (*index)++;
    }
}

/* The persistence contract on the wire: what a message depends on is on disk. */
static void rs_check_contract(struct rs_node *n, struct cs_sim_ctx *ctx, const struct rs_post *p)
{
    struct rs_cluster *c = n->cluster;
    const uint8_t *v;
    size_t vlen;
    uint64_t term = 0, vote = 0;
    if (c->violation[0]) return;
    if (cs_sim_disk_get(ctx->disk, "hs", 2, &v, &vlen) == 0 && vlen == 24) {
        memcpy(&term, v, 8);
        memcpy(&vote, v + 8, 8);
    }
    bool pre = p->msg_type == CS_RAFT_MSG_PRE_VOTE || p->msg_type == CS_RAFT_MSG_PRE_VOTE_RESP;
    bool bad = !pre && p->term > term;
    if (p->msg_type == CS_RAFT_MSG_VOTE_RESP && !p->msg_reject) {
        /* A later term on disk has replaced the vote legitimately: nothing to see. */
        bad |= term < p->term || (term == p->term && vote != p->to + 1);
    }
    /* A later term on disk may also have replaced the acknowledged suffix: a
     * batch behind this one took a new leader's conflicting entries, while
     * this ack waited for its sync (a paused node catches up in one go). */
    if (p->msg_type == CS_RAFT_MSG_APPEND_RESP && !p->msg_reject && term == p->term) {
        uint64_t last, last_term;
        rs_disk_last(ctx->disk, &last, &last_term);
        bad |= last < p->index;
    }
    if (bad) {
        snprintf(c->violation, sizeof c->violation,
                 "persistence: node %u sends %s (term %" PRIu64 ") before it is durable", n->sim_id,
                 cs_raft_msg_type_name(p->msg_type), p->term);
    }
}

static void rs_post_run(struct rs_node *n, struct cs_sim_ctx *ctx, struct rs_post *p)
{
    if (p->kind == 0) {
        rs_check_contract(n, ctx, p);
        (void)cs_sim_send(ctx, p->to, p->bytes, p->len);
    } else if (p->kind == 1) {
        rs_apply(n, ctx, p);
    } else {
        for (uint32_t k = 0; k < RS_PENDING_MAX; k++) {
            struct rs_pending *q = &n->pending[k];
            if (!q->used || !q->is_read || q->req.id != p->ctx) continue;
            q->read_released = true;
            q->index = p->index;
            if (cs_kv_applied_index(n->kv) >= q->index) rs_serve_read(n, ctx, q);
        }
    }
}

/* Run every deferred action whose sync has completed, in order. */
static void rs_post_flush(struct rs_node *n, struct cs_sim_ctx *ctx)
{
    while (n->post_len > 0) {
        struct rs_post *p = &n->post[n->post_start];
        if (p->sync_id > n->sync_done) break;
        rs_post_run(n, ctx, p);
        free(p->bytes);
        p->bytes = NULL;
        n->post_start = (n->post_start + 1) % RS_POST_MAX;
        n->post_len--;
    }
}

static void rs_post_clear(struct rs_node *n)
{
    while (n->post_len > 0) {
        free(n->post[n->post_start].bytes);
        n->post_start = (n->post_start + 1) % RS_POST_MAX;
        n->post_len--;
    }
}

/* --- the Ready loop ------------------------------------------------------------- */

static void rs_compact(struct rs_node *n, struct cs_sim_ctx *ctx)
{
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    uint64_t at = cs_kv_applied_index(n->kv);
    if (at < st.snapshot_index + RS_COMPACT_EVERY || at > st.applied) return;
    struct cs_buf snap;
    cs_buf_init(&snap, RS_SNAPSHOT_BYTES_MAX);
    if (cs_kv_snapshot(n->kv, &snap) == 0 && cs_raft_compact(n->r, at, snap.data, snap.len) == 0) {
        struct cs_raft_snapshot_meta meta;
        cs_raft_snapshot_meta(n->r, &meta);
        if (rs_disk_put_snapshot(ctx->disk, &meta, snap.data, snap.len) == 0) {
            (void)cs_sim_sync(ctx, ++n->sync_next);
        }
    }
    cs_buf_free(&snap);
}

static void rs_disk_put_hard_state(struct cs_sim_disk *d, uint64_t term, uint64_t vote,
                                   uint64_t commit)
{
    uint8_t hs[24];
    memcpy(hs, &term, 8);
    memcpy(hs + 8, &vote, 8);
    memcpy(hs + 16, &commit, 8);
    (void)cs_sim_disk_put(d, "hs", 2, hs, sizeof hs);
}

/*
 * One batch's writes, ordered so that any prefix of them (what a crash
 * keeps) is a state cs_raft_new accepts: term and vote first (an entry or
 * snapshot of term T is never durable without a term >= T), with the commit
 * index already on disk; then snapshot and entries; then the new commit index
 * (never durable ahead of the entries it covers).
 */
static bool rs_persist(struct rs_node *n, struct cs_sim_ctx *ctx, const struct cs_raft_ready *rd)
{
    bool wrote = false;
    const struct cs_raft_hard_state *hs = &rd->hard_state;
    uint64_t commit_durable = 0;
    if (rd->hard_state_changed) {
        const uint8_t *v;
        size_t vlen;
        if (cs_sim_disk_get(ctx->disk, "hs", 2, &v, &vlen) == 0 && vlen == 24) {
            memcpy(&commit_durable, v + 16, 8);
        }
        if (commit_durable > hs->commit) commit_durable = hs->commit;
        rs_disk_put_hard_state(ctx->disk, hs->term, hs->vote, commit_durable);
        wrote = true;
    }
    if (rd->snapshot) {
        (void)cs_kv_restore(n->kv, rd->snapshot->data, rd->snapshot->data_len);
        rs_disk_put_snapshot(ctx->disk, &rd->snapshot->meta, rd->snapshot->data,
                             rd->snapshot->data_len);
        wrote = true;
    }
    if (rd->entries_len) {
        rs_disk_drop_suffix(ctx->disk, rd->entries[0].index);
        for (size_t k = 0; k < rd->entries_len; k++)
            rs_disk_put_entry(ctx->disk, &rd->entries[k]);
        wrote = true;
    }
    if (rd->hard_state_changed && hs->commit != commit_durable) {
        rs_disk_put_hard_state(ctx->disk, hs->term, hs->vote, hs->commit);
    }
    return wrote;
}

/* A full queue would lose an apply: say so loudly rather than diverge. */
static void rs_overflow(struct rs_node *n)
{
    struct rs_cluster *c = n->cluster;
    if (!c->violation[0]) {
        snprintf(c->violation, sizeof c->violation, "node %u: deferred queue full", n->sim_id);
    }
}

static void rs_defer_batch(struct rs_node *n, const struct cs_raft_ready *rd, uint64_t sync_id)
{
    for (size_t k = 0; k < rd->msgs_len; k++) {
        struct cs_buf b;
        cs_buf_init(&b, CS_SIM_MESSAGE_BYTES_MAX);
        struct rs_post *p = NULL;
        if (cs_raft_msg_encode(&rd->msgs[k], &b) == 0 && (p = rs_post_push(n, sync_id))) {
            p->kind = 0;
            p->to = (uint32_t)(rd->msgs[k].to - 1);
            p->msg_type = rd->msgs[k].type;
            p->msg_reject = rd->msgs[k].reject;
            p->term = rd->msgs[k].term;
            p->index = rd->msgs[k].index;
            p->bytes = b.data; /* the post owns it now */
            p->len = (uint32_t)b.len;
        } else {
            cs_buf_free(&b);
        }
    }
    for (size_t k = 0; k < rd->committed_len; k++) {
        const struct cs_raft_entry *e = &rd->committed[k];
        struct rs_post *p = rs_post_push(n, sync_id);
        if (!p) {
            rs_overflow(n);
            return;
        }
        p->kind = 1;
        p->index = e->index;
        p->term = e->term;
        p->len = e->type == CS_RAFT_ENTRY_NORMAL ? e->data_len : 0;
        p->bytes = p->len ? malloc(p->len) : NULL;
        if (p->len) memcpy(p->bytes, e->data, p->len);
    }
    for (size_t k = 0; k < rd->reads_len; k++) {
        struct rs_post *p = rs_post_push(n, sync_id);
        if (!p) {
            rs_overflow(n);
            return;
        }
        p->kind = 2;
        p->index = rd->reads[k].index;
        memcpy(&p->ctx, rd->reads[k].ctx, sizeof p->ctx);
    }
}

/*
 * Leader-focused faults, beside the simulator's nemesis: a node that has just
 * won an election (its no-op only on its own disk), just appended entries or
 * just advanced its commit index is crashed now and then, within a sync and
 * a hop, and restarted soon after. These are
 * the moments whose interleavings the commit rule is about (Figure 8).
 */
#define RS_CRASH_ON_ELECTED_PPM 200000
#define RS_CRASH_ON_COMMIT_PPM  20000
#define RS_CRASH_ON_APPEND_PPM  10000

static void rs_restart_event(void *arg, struct cs_sim *sim, uint64_t tag)
{
    (void)arg;
    if (!cs_sim_node_up(sim, (uint32_t)tag)) (void)cs_sim_restart(sim, (uint32_t)tag);
}

static void rs_crash_event(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct rs_cluster *c = arg;
    if (!cs_sim_node_up(sim, (uint32_t)tag) || cs_sim_crash(sim, (uint32_t)tag) != 0) return;
    uint64_t down_us = 20000 + cs_rng_below(cs_sim_rng(sim, CS_SIM_STREAM_NEMESIS), 400000);
    (void)cs_sim_schedule(sim, down_us, rs_restart_event, c, tag);
}

static void rs_maybe_fault(struct rs_node *n, const struct cs_raft_status *before)
{
    struct rs_cluster *c = n->cluster;
    if (!c->sim || cs_sim_now_us(c->sim) >= c->faults_stop_us) return;
    struct cs_raft_status after;
    cs_raft_status(n->r, &after);
    if (after.role != CS_RAFT_LEADER) return;
    uint32_t ppm = 0;
    if (before->role != CS_RAFT_LEADER || before->term != after.term) ppm = RS_CRASH_ON_ELECTED_PPM;
    if (after.commit > before->commit) ppm = RS_CRASH_ON_COMMIT_PPM;
    if (after.last_index > before->last_index && !ppm) ppm = RS_CRASH_ON_APPEND_PPM;
    struct cs_rng *rng = cs_sim_rng(c->sim, CS_SIM_STREAM_NEMESIS);
    if (ppm && cs_rng_chance(rng, ppm, 1000000)) {
        /* Within about a sync and a hop: the new entries may be durable here only. */
        uint64_t delay_us =
            c->msg_entries_max == 1 ? 1000 + cs_rng_below(rng, 4000) : cs_rng_below(rng, 1500);
        (void)cs_sim_schedule(c->sim, delay_us, rs_crash_event, c, n->sim_id);
    }
}

/*
 * The leader-churn schedule, in a quarter of the seeds (the one-entry-per-
 * message ones): the Figure 8 interleaving as a fault schedule, which any
 * Raft must survive. It watches roles and indexes, never the core's rules:
 *   1. a leader L of term t has just appended (the entries are on their way
 *      to its disk, not yet sent): cut L off together with a minority that
 *      is one short of a quorum, so the entries reach only that minority;
 *   2. the majority elects a successor of a higher term: as soon as it has
 *      won (its empty entry of the new term on its own disk only), heal and
 *      isolate it: a node whose last entry has a higher term than L's
 *      entries, and which lacks them, now sits outside;
 *   3. the rest elect a third leader (only L or its minority can win: their
 *      logs are the most up to date), which replicates L's entries to the
 *      others, one per message, before its own term's entry;
 *   4. in half the cycles, the moment that third leader advances its commit
 *      index it crashes (restarting 20-420 ms later) and everything heals;
 *      otherwise everything heals 0.4-1.0 s after step 2. The next cycle
 *      waits 0.2-0.5 s.
 * Step 3 is where the commit rule matters: an older term's entry counted on
 * a quorum is not yet safe, since the isolated successor could still be
 * elected by nodes that hold it but nothing newer; step 4 gives it the
 * chance to be elected and overwrite what was called committed.
 */
#define RS_CHURN_STAGE1_US_MAX 1500000 /* no successor by then: give the cycle up */
#define RS_CHURN_LAST_START_US 2500000 /* before faults_stop_us: cycles end before faults do */

/* Tags name a cycle and a stage: cycle << 8 | stage (or | node). */
static uint64_t rs_churn_tag(const struct rs_churn *ch, uint32_t low)
{
    return ch->cycle << 8 | low;
}

/* End the cycle if it is still at the stage the tag names: heal. */
static void rs_churn_end(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct rs_cluster *c = arg;
    if (c->churn.stage == RS_CHURN_IDLE || tag != rs_churn_tag(&c->churn, c->churn.stage)) return;
    cs_sim_heal(sim);
    c->churn.stage = RS_CHURN_IDLE;
    struct cs_rng *rng = cs_sim_rng(sim, CS_SIM_STREAM_NEMESIS);
    c->churn.next_us = cs_sim_now_us(sim) + 200000 + cs_rng_below(rng, 300001);
}

/* Stage 1: the old leader and (nodes - 1) / 2 - 1 others against the rest. */
static void rs_churn_cut_old(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct rs_cluster *c = arg;
    if (c->churn.stage != RS_CHURN_OLD_CUT || tag != rs_churn_tag(&c->churn, RS_CHURN_OLD_CUT)) {
        return;
    }
    struct cs_rng *rng = cs_sim_rng(sim, CS_SIM_STREAM_NEMESIS);
    uint32_t side = 1u << c->churn.old_leader;
    uint32_t more = (c->nodes_len - 1) / 2 - 1;
    while (more > 0) {
        uint32_t k = (uint32_t)cs_rng_below(rng, c->nodes_len);
        if (side >> k & 1) continue;
        side |= 1u << k;
        more--;
    }
    cs_sim_heal(sim);
    cs_sim_partition_halves(sim, side);
    (void)cs_sim_schedule(sim, RS_CHURN_STAGE1_US_MAX, rs_churn_end, c,
                          rs_churn_tag(&c->churn, RS_CHURN_OLD_CUT));
}

/* Stage 2: the successor alone against everyone, for 0.4-1.0 s. */
static void rs_churn_cut_new(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct rs_cluster *c = arg;
    if (c->churn.stage != RS_CHURN_NEW_CUT || c->churn.cycle != tag >> 8) return;
    cs_sim_heal(sim);
    cs_sim_partition_isolate(sim, (uint32_t)(tag & 0xff));
    struct cs_rng *rng = cs_sim_rng(sim, CS_SIM_STREAM_NEMESIS);
    (void)cs_sim_schedule(sim, 400000 + cs_rng_below(rng, 600001), rs_churn_end, c,
                          rs_churn_tag(&c->churn, RS_CHURN_NEW_CUT));
}

/* Step 4: the committing leader crashes now; heal, the isolated successor rejoins. */
static void rs_churn_crash_committer(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct rs_cluster *c = arg;
    if (c->churn.stage != RS_CHURN_NEW_CUT || c->churn.cycle != tag >> 8) return;
    rs_crash_event(c, sim, tag & 0xff);
    rs_churn_end(c, sim, rs_churn_tag(&c->churn, RS_CHURN_NEW_CUT));
}

/* After a drain: does node n's change of role or commit move the schedule on? */
static void rs_maybe_churn(struct rs_node *n, const struct cs_raft_status *before)
{
    struct rs_cluster *c = n->cluster;
    struct rs_churn *ch = &c->churn;
    if (!ch->on || !c->sim) return;
    uint64_t now = cs_sim_now_us(c->sim);
    struct cs_raft_status after;
    cs_raft_status(n->r, &after);
    if (after.role != CS_RAFT_LEADER) return;
    bool elected = before->role != CS_RAFT_LEADER || before->term != after.term;
    if (ch->stage == RS_CHURN_IDLE) {
        if (elected || after.last_index <= before->last_index || now < ch->next_us ||
            now + RS_CHURN_LAST_START_US >= c->faults_stop_us) {
            return;
        }
        ch->stage = RS_CHURN_OLD_CUT;
        ch->cycle++;
        ch->cycles++;
        ch->old_leader = n->sim_id;
        ch->old_term = after.term;
        /* Now, within this event: the appends wait for the sync, so none is out yet. */
        (void)cs_sim_schedule(c->sim, 0, rs_churn_cut_old, c, rs_churn_tag(ch, RS_CHURN_OLD_CUT));
    } else if (ch->stage == RS_CHURN_OLD_CUT && elected && n->sim_id != ch->old_leader &&
               after.term > ch->old_term) {
        ch->stage = RS_CHURN_NEW_CUT;
        ch->cycles_full++;
        ch->new_leader = n->sim_id;
        ch->crash_committer = cs_rng_chance(cs_sim_rng(c->sim, CS_SIM_STREAM_NEMESIS), 1, 2);
        (void)cs_sim_schedule(c->sim, 0, rs_churn_cut_new, c, rs_churn_tag(ch, n->sim_id));
    } else if (ch->stage == RS_CHURN_NEW_CUT && n->sim_id != ch->new_leader &&
               ch->crash_committer && after.commit > before->commit) {
        (void)cs_sim_schedule(c->sim, 0, rs_churn_crash_committer, c, rs_churn_tag(ch, n->sim_id));
    }
}

/* Take every Ready; before is the status before the input that caused them. */
static void rs_drain(struct rs_node *n, struct cs_sim_ctx *ctx, const struct cs_raft_status *before)
{
    for (int round = 0; round < 64 && cs_raft_has_ready(n->r); round++) {
        struct cs_raft_ready rd;
        cs_raft_ready(n->r, &rd);
        bool wrote = rs_persist(n, ctx, &rd);
        uint64_t sync_id = n->sync_next; /* behind any sync still running */
        if (wrote) {
            sync_id = ++n->sync_next;
            (void)cs_sim_sync(ctx, sync_id);
        }
        rs_defer_batch(n, &rd, sync_id);
        cs_raft_advance(n->r, &rd);
        rs_post_flush(n, ctx); /* what needs no new sync goes now, before the next batch */
    }
    rs_maybe_churn(n, before);
    if (n->cluster->churn.stage == RS_CHURN_IDLE) rs_maybe_fault(n, before);
    rs_compact(n, ctx);
}

/* --- the simulator's node interface --------------------------------------------- */

/* The durable snapshot, if any: its metadata into rs, its data (copied, *copy) into the kv. */
static int rs_load_snapshot(struct rs_node *n, struct cs_sim_ctx *ctx, struct cs_raft_restore *rs,
                            uint8_t **copy)
{
    const uint8_t *v;
    size_t vlen;
    if (cs_sim_disk_get(ctx->disk, "snap", 4, &v, &vlen) != 0) return 0;
    struct cs_reader r;
    cs_reader_init(&r, v, vlen);
    cs_get_uvarint(&r, &rs->snapshot.meta.index);
    cs_get_uvarint(&r, &rs->snapshot.meta.term);
    uint64_t members = 0;
    int rc = cs_get_count(&r, &members, CS_RAFT_MEMBERS_MAX, 2);
    if (rc) return rc;
    size_t conf_start = r.pos - cs_uvarint_len(members);
    for (uint64_t k = 0; k < members; k++) {
        uint64_t id;
        uint8_t voter;
        cs_get_uvarint(&r, &id);
        cs_get_u8(&r, &voter);
    }
    if (cs_reader_error(&r)) return cs_reader_error(&r);
    rc = cs_raft_conf_decode(v + conf_start, r.pos - conf_start, &rs->snapshot.meta.conf);
    if (rc) return rc;
    size_t data_len = cs_reader_remaining(&r);
    *copy = malloc(data_len ? data_len : 1);
    if (!*copy) return CS_ENOMEM;
    memcpy(*copy, v + r.pos, data_len);
    rs->snapshot.data = *copy;
    rs->snapshot.data_len = data_len;
    return cs_kv_restore(n->kv, *copy, data_len);
}

static void rs_free_entries(struct cs_raft_entry *entries, size_t len)
{
    for (size_t k = 0; k < len; k++)
        free((void *)(uintptr_t)entries[k].data);
    free(entries);
}

/* The durable entries after the snapshot, in order and without gaps (copied). */
static int rs_load_entries(struct cs_sim_ctx *ctx, struct cs_raft_restore *rs)
{
    size_t cap = 64, len = 0;
    struct cs_raft_entry *entries = malloc(cap * sizeof *entries);
    if (!entries) return CS_ENOMEM;
    uint8_t after[9], want[9];
    rs_entry_key(rs->snapshot.meta.index, after);
    const uint8_t *key, *v;
    size_t key_len, vlen;
    int rc = 0;
    while (!rc && cs_sim_disk_next(ctx->disk, after, 9, &key, &key_len, &v, &vlen) == 0 &&
           key_len == 9 && key[0] == 'e') {
        memcpy(after, key, 9);
        rs_entry_key(rs->snapshot.meta.index + 1 + len, want);
        if (memcmp(key, want, 9) != 0) rc = CS_ECORRUPT; /* a hole: the disk lost a middle write */
        struct cs_raft_entry *grown =
            len < cap ? entries : realloc(entries, 2 * cap * sizeof *grown);
        if (!rc && !grown) rc = CS_ENOMEM;
        if (rc) break;
        if (grown != entries) cap *= 2;
        entries = grown;
        struct cs_reader r;
        cs_reader_init(&r, v, vlen);
        struct cs_raft_entry *e = &entries[len];
        memset(e, 0, sizeof *e);
        cs_get_uvarint(&r, &e->term);
        cs_get_u8(&r, &e->type);
        e->index = rs->snapshot.meta.index + 1 + len;
        e->data_len = (uint32_t)cs_reader_remaining(&r);
        uint8_t *copy = e->data_len ? malloc(e->data_len) : NULL;
        if (e->data_len && !copy) rc = CS_ENOMEM;
        if (copy) memcpy(copy, v + r.pos, e->data_len);
        e->data = copy;
        len++;
    }
    rs->entries = entries;
    rs->entries_len = len;
    return rc;
}

/* Build the node's volatile state from its disk (empty at init). */
static int rs_start_core(struct rs_node *n, struct cs_sim_ctx *ctx)
{
    struct rs_cluster *c = n->cluster;
    struct cs_raft_config cfg;
    cs_raft_config_default(&cfg, n->sim_id + 1, RS_GROUP, 0);
    cs_rng_fork(ctx->rng, &cfg.rng);
    cfg.election_timeout_ms = 150;
    cfg.heartbeat_interval_ms = 30;
    cfg.msg_bytes_max = 16u << 10;
    cfg.chunk_bytes = 16u << 10;
    cfg.uncommitted_max = 256;
    cfg.msg_entries_max = c->msg_entries_max;
    cfg.inflight_max = c->inflight_max;
    cfg.bugs = c->bugs;
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        rs.snapshot.meta.conf.members[k] = (struct cs_raft_member){k + 1, true};
    }
    rs.snapshot.meta.conf.members_len = c->nodes_len; /* bootstrap: everyone votes */
    const uint8_t *v;
    size_t vlen;
    if (cs_sim_disk_get(ctx->disk, "hs", 2, &v, &vlen) == 0 && vlen == 24) {
        memcpy(&rs.hard_state.term, v, 8);
        memcpy(&rs.hard_state.vote, v + 8, 8);
        memcpy(&rs.hard_state.commit, v + 16, 8);
    }
    int rc = cs_kv_new(&n->kv);
    if (rc) return rc;
    uint8_t *snap_copy = NULL;
    rc = rs_load_snapshot(n, ctx, &rs, &snap_copy);
    if (!rc) rc = rs_load_entries(ctx, &rs);
    if (!rc) rc = cs_raft_new(&cfg, &rs, ctx->now_us / 1000, &n->r);
    rs_free_entries((struct cs_raft_entry *)(uintptr_t)rs.entries, rs.entries_len);
    free(snap_copy);
    if (rc) return rc;
    n->sync_next = n->sync_done = 0;
    n->checked_commit = rs.snapshot.meta.index;
    memset(n->pending, 0, sizeof n->pending);
    return cs_sim_timer_set(ctx, 0, RS_TICK_US);
}

static int rs_init(void *state, struct cs_sim_ctx *ctx)
{
    return rs_start_core(state, ctx);
}

static int rs_restart(void *state, struct cs_sim_ctx *ctx)
{
    struct rs_node *n = state;
    int rc = rs_start_core(n, ctx);
    if (rc && !n->cluster->violation[0]) {
        /* Durable state the node cannot start from is a storage bug: the run fails. */
        snprintf(n->cluster->violation, sizeof n->cluster->violation,
                 "node %u cannot restart from its disk: %s", n->sim_id, cs_errname(rc));
    }
    return rc;
}

static void rs_crash(void *state)
{
    struct rs_node *n = state;
    cs_raft_free(n->r);
    cs_kv_free(n->kv);
    n->r = NULL;
    n->kv = NULL;
    rs_post_clear(n);
}

static void rs_on_message(void *state, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *bytes,
                          size_t len)
{
    struct rs_node *n = state;
    if (!n->r) return; /* its restart failed: the run stops at that violation */
    static struct cs_raft_entry entries[CS_RAFT_MSG_ENTRIES_MAX];
    struct cs_raft_msg m;
    (void)from;
    if (cs_raft_msg_decode(bytes, len, &m, entries, CS_RAFT_MSG_ENTRIES_MAX) != 0) return;
    struct cs_raft_status before;
    cs_raft_status(n->r, &before);
    cs_raft_tick(n->r, ctx->now_us / 1000);
    (void)cs_raft_step(n->r, &m);
    rs_drain(n, ctx, &before);
}

/*
 * Membership changes during the faults, one server at a time: now and then
 * the leader removes a voter (keeping at least two), adds a node outside the
 * configuration back as a learner, or promotes a learner once caught up.
 */
#define RS_CONF_CHANGE_PPM 10000 /* per leader tick */

static void rs_maybe_change_membership(struct rs_node *n)
{
    struct rs_cluster *c = n->cluster;
    if (!c->sim || cs_sim_now_us(c->sim) >= c->faults_stop_us) return;
    struct cs_rng *rng = cs_sim_rng(c->sim, CS_SIM_STREAM_NEMESIS);
    if (!cs_rng_chance(rng, RS_CONF_CHANGE_PPM, 1000000)) return;
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    if (st.role != CS_RAFT_LEADER) return;
    uint64_t target = 1 + cs_rng_below(rng, c->nodes_len);
    int rc = CS_EINVAL;
    if (!cs_raft_conf_has(&st.conf, target)) {
        rc = cs_raft_propose_conf(n->r, CS_RAFT_ADD_LEARNER, target, NULL);
    } else if (!cs_raft_conf_is_voter(&st.conf, target)) {
        rc = cs_raft_propose_conf(n->r, CS_RAFT_PROMOTE, target, NULL);
    } else if (cs_raft_conf_voters(&st.conf) > 2) {
        rc = cs_raft_propose_conf(n->r, CS_RAFT_REMOVE, target, NULL);
    }
    c->conf_changes += rc == 0;
}

static void rs_on_timer(void *state, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    struct rs_node *n = state;
    if (!n->r) return;
    (void)timer_id;
    struct cs_raft_status before;
    cs_raft_status(n->r, &before);
    cs_raft_tick(n->r, ctx->now_us / 1000);
    rs_maybe_change_membership(n);
    rs_drain(n, ctx, &before);
    (void)cs_sim_timer_set(ctx, 0, RS_TICK_US);
}

static void rs_on_sync(void *state, struct cs_sim_ctx *ctx, uint64_t sync_id)
{
    struct rs_node *n = state;
    if (!n->r) return;
    if (sync_id > n->sync_done) n->sync_done = sync_id;
    rs_post_flush(n, ctx);
    rs_compact(n, ctx);
}

static struct rs_pending *rs_pending_slot(struct rs_node *n)
{
    for (uint32_t k = 0; k < RS_PENDING_MAX; k++) {
        if (!n->pending[k].used) return &n->pending[k];
    }
    return NULL;
}

static void rs_on_client_request(void *state, struct cs_sim_ctx *ctx,
                                 const struct cs_sim_request *req)
{
    struct rs_node *n = state;
    if (!n->r) return;
    struct rs_pending *p = rs_pending_slot(n);
    struct cs_raft_status before;
    cs_raft_status(n->r, &before);
    if (!p) {
        rs_reply(ctx, req, CS_SIM_FAIL, CS_EBUSY, false, 0);
        return;
    }
    memset(p, 0, sizeof *p);
    p->req = *req;
    if (req->f == CS_SIM_F_READ) {
        int rc = cs_raft_read_index(n->r, &req->id, sizeof req->id);
        if (rc) {
            rs_refuse(n, ctx, req, rc);
            return;
        }
        p->used = true;
        p->is_read = true;
        rs_drain(n, ctx, &before);
        return;
    }
    char key[16];
    rs_key(req->key, key);
    static struct cs_kv_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.ops_len = 1;
    struct cs_kv_op *op = &cmd.ops[0];
    op->key = (const uint8_t *)key;
    op->key_len = (uint32_t)strlen(key);
    op->value = (const uint8_t *)&req->value;
    op->value_len = 8;
    if (req->f == CS_SIM_F_WRITE) {
        op->type = CS_KV_SET;
    } else if (req->f == CS_SIM_F_CAS) {
        op->type = CS_KV_CAS;
        op->expected = (const uint8_t *)&req->expect;
        op->expected_len = 8;
    } else {
        rs_reply(ctx, req, CS_SIM_FAIL, CS_EINVAL, false, 0);
        return;
    }
    uint8_t mem[256];
    struct cs_buf b;
    cs_buf_init_fixed(&b, mem, sizeof mem);
    uint64_t index = 0;
    int rc = cs_kv_command_encode(&cmd, &b);
    if (!rc) rc = cs_raft_propose(n->r, b.data, b.len, &index);
    if (rc) {
        rs_refuse(n, ctx, req, rc);
        return;
    }
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    p->used = true;
    p->index = index;
    p->term = st.term;
    rs_drain(n, ctx, &before);
}

static int rs_check_node(void *state)
{
    (void)state;
    return 0;
}

static const struct cs_sim_node_ops rs_ops = {
    .name = "raft",
    .init = rs_init,
    .on_message = rs_on_message,
    .on_timer = rs_on_timer,
    .on_client_request = rs_on_client_request,
    .on_sync = rs_on_sync,
    .on_crash = rs_crash,
    .on_restart = rs_restart,
    .check_invariants = rs_check_node,
};

/* A node's last log entry as an election sees it: memory while up, disk while down. */
static void rs_log_last(struct rs_cluster *c, struct cs_sim *sim, uint32_t k, uint64_t *index,
                        uint64_t *term)
{
    struct rs_node *n = &c->nodes[k];
    if (!cs_sim_node_up(sim, k) || !n->r) {
        rs_disk_last(cs_sim_node_disk(sim, k), index, term);
        return;
    }
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    struct cs_raft_entry e;
    *index = st.last_index;
    if (cs_raft_entry_at(n->r, st.last_index, &e) == 0) {
        *term = e.term;
    } else {
        struct cs_raft_snapshot_meta m;
        cs_raft_snapshot_meta(n->r, &m);
        *term = m.term;
    }
}

/* Does node k hold the entry of hash h at index (in its log, or under its snapshot)? */
static bool rs_log_has(struct rs_cluster *c, struct cs_sim *sim, uint32_t k, uint64_t index,
                       uint64_t h)
{
    struct rs_node *n = &c->nodes[k];
    if (!cs_sim_node_up(sim, k) || !n->r) {
        /* Down: what its disk holds (a snapshot past the index counts). */
        struct cs_sim_disk *d = cs_sim_node_disk(sim, k);
        uint64_t snap_index = 0, snap_term = 0;
        const uint8_t *v;
        size_t vlen;
        if (cs_sim_disk_get(d, "snap", 4, &v, &vlen) == 0) {
            struct cs_reader r;
            cs_reader_init(&r, v, vlen);
            cs_get_uvarint(&r, &snap_index);
            cs_get_uvarint(&r, &snap_term);
        }
        if (index <= snap_index) return true;
        uint8_t key[9];
        rs_entry_key(index, key);
        if (cs_sim_disk_get(d, key, 9, &v, &vlen) != 0) return false;
        struct cs_reader r;
        cs_reader_init(&r, v, vlen);
        uint64_t term = 0;
        uint8_t type = 0;
        cs_get_uvarint(&r, &term);
        cs_get_u8(&r, &type);
        return rs_hash(v + r.pos, cs_reader_remaining(&r), term) == h;
    }
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    if (index <= st.snapshot_index) return true;
    struct cs_raft_entry e;
    return cs_raft_entry_at(n->r, index, &e) == 0 && rs_hash(e.data, e.data_len, e.term) == h;
}

/*
 * Commit safety (what Leader Completeness rests on): when a leader counts an
 * index committed, no node lacking that entry may have a log at least as up
 * to date as a quorum's. A down node's log is its disk.
 */
static void rs_check_commit_safety(struct rs_cluster *c, struct cs_sim *sim,
                                   const struct cs_raft_status *leader, uint64_t index, uint64_t h)
{
    const struct cs_raft_conf *conf = &leader->conf;
    uint64_t id = leader->id, term = leader->term;
    uint32_t quorum = cs_raft_conf_voters(conf) / 2 + 1;
    for (uint32_t x = 0; x < c->nodes_len && !c->violation[0]; x++) {
        if (!cs_raft_conf_is_voter(conf, x + 1)) continue;
        uint64_t xi, xt;
        rs_log_last(c, sim, x, &xi, &xt);
        if (rs_log_has(c, sim, x, index, h)) continue;
        uint32_t votes = 0;
        for (uint32_t v = 0; v < c->nodes_len; v++) {
            if (!cs_raft_conf_is_voter(conf, v + 1)) continue;
            uint64_t vi, vt;
            rs_log_last(c, sim, v, &vi, &vt);
            votes += xt > vt || (xt == vt && xi >= vi);
        }
        if (votes >= quorum) {
            snprintf(c->violation, sizeof c->violation,
                     "commit safety: leader %" PRIu64 " of term %" PRIu64 " commits %" PRIu64
                     " but node %u, lacking it, is electable",
                     id, term, index, x + 1);
        }
    }
}

/* Record entries node k knows committed; check them against every other record. */
static void rs_check_committed(struct rs_cluster *c, struct cs_sim *sim, uint32_t k,
                               const struct cs_raft_status *st)
{
    struct rs_node *n = &c->nodes[k];
    uint64_t top = st->commit < RS_INDEXES_MAX ? st->commit : RS_INDEXES_MAX - 1;
    uint64_t from =
        n->checked_commit + 1 > st->first_index ? n->checked_commit + 1 : st->first_index;
    for (uint64_t i = from; i <= top && !c->violation[0]; i++) {
        struct cs_raft_entry e;
        if (cs_raft_entry_at(n->r, i, &e)) break;
        uint64_t h = rs_hash(e.data, e.data_len, e.term);
        if (c->committed_hash[i] && c->committed_hash[i] != h) {
            snprintf(c->violation, sizeof c->violation,
                     "node %u commits a different entry at %" PRIu64, k + 1, i);
        }
        bool fresh = c->committed_hash[i] == 0;
        c->committed_hash[i] = h;
        if (!c->committed_term[i] || st->term < c->committed_term[i]) {
            c->committed_term[i] = st->term;
        }
        if (i > c->committed_max) c->committed_max = i;
        if (fresh && st->role == CS_RAFT_LEADER) rs_check_commit_safety(c, sim, st, i, h);
    }
    if (top > n->checked_commit) n->checked_commit = top;
    if (st->role != CS_RAFT_LEADER) return;
    /* Leader completeness: every entry committed in an earlier term is in its log. */
    for (uint64_t i = st->first_index; i <= c->committed_max && !c->violation[0]; i++) {
        if (!c->committed_hash[i] || c->committed_term[i] >= st->term) continue;
        struct cs_raft_entry e;
        if (cs_raft_entry_at(n->r, i, &e) ||
            rs_hash(e.data, e.data_len, e.term) != c->committed_hash[i]) {
            snprintf(c->violation, sizeof c->violation,
                     "leader completeness: leader %" PRIu64 " of term %" PRIu64
                     " lacks committed entry %" PRIu64,
                     st->id, st->term, i);
        }
    }
}

/* Election safety, commit safety and leader completeness, after every event. */
static int rs_check_cluster(void *arg, struct cs_sim *sim)
{
    struct rs_cluster *c = arg;
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        struct rs_node *n = &c->nodes[k];
        if (!cs_sim_node_up(sim, k) || !n->r) continue;
        struct cs_raft_status st;
        cs_raft_status(n->r, &st);
        rs_check_committed(c, sim, k, &st);
        if (st.role != CS_RAFT_LEADER || st.term >= RS_TERMS_MAX) continue;
        uint64_t *slot = &c->leader_of_term[st.term];
        if (*slot && *slot != st.id && !c->violation[0]) {
            snprintf(c->violation, sizeof c->violation,
                     "election safety: nodes %" PRIu64 " and %" PRIu64 " lead term %" PRIu64, *slot,
                     st.id, st.term);
        }
        *slot = st.id;
    }
    return c->violation[0] ? 1 : 0;
}

/* --- one run ------------------------------------------------------------------- */

struct rs_args {
    unsigned long long seeds;
    unsigned long long seed_start;
    unsigned long long nodes;
    unsigned long long ops;
    bool single;
    bool trace;
    bool help;
    uint32_t bugs;
    const char *bug;
};

struct rs_result {
    int verdict;
    char violation[200];
    uint32_t ops_ok, ops_fail, ops_info;
    uint32_t live_ops; /* operations the liveness bound applied to */
    uint64_t conf_changes;
    uint64_t churn_cycles, churn_cycles_full;
    uint64_t end_us;
    uint64_t trace_hash; /* cs_sim_trace_hash at the end: equal runs, equal hashes */
    struct cs_sim_stats stats;
};

static void rs_print_trace(void *arg, const char *line)
{
    fprintf(arg, "trace %s\n", line);
}

static int rs_world(const struct rs_args *a, uint64_t seed, struct rs_cluster *c,
                    struct cs_history *h, struct cs_sim **sim, struct cs_sim_workload **wl,
                    struct cs_sim_nemesis **nem)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, seed);
    so.nodes_len = c->nodes_len;
    so.disk_torn_ppm = 0; /* the log does not checksum its records yet */
    if (c->msg_entries_max == 1) {
        /* Slow links with one entry per message: leaders build unreplicated
         * tails, the raw material of Figure 8 schedules. */
        so.link.latency_min_us = 5000;
        so.link.latency_jitter_us = 20000;
    }
    so.check_fn = rs_check_cluster;
    so.check_arg = c;
    if (a->trace) {
        so.trace_fn = rs_print_trace;
        so.trace_arg = stdout;
    }
    int rc = cs_sim_create(&so, sim);
    c->sim = rc ? NULL : *sim;
    c->faults_stop_us = 6000000;
    for (uint32_t k = 0; k < c->nodes_len && !rc; k++) {
        rc = cs_sim_node_attach(*sim, k, &rs_ops, &c->nodes[k]);
    }
    if (!rc) rc = cs_sim_start(*sim);
    if (rc) return rc;
    struct cs_sim_workload_options wo;
    memset(&wo, 0, sizeof wo);
    wo.kind = CS_SIM_WORKLOAD_KV;
    wo.clients_len = 4;
    wo.ops_max = (uint32_t)a->ops;
    wo.keys_len = 3;
    wo.read_ppm = 500000;
    wo.cas_ppm = 300000;
    wo.op_timeout_us = RS_OP_TIMEOUT_US;
    wo.think_min_us = 10000;
    wo.think_max_us = 60000;
    /* No route function: clients follow the leader hint in refusals, else pick at random. */
    rc = cs_sim_workload_start(*sim, &wo, h, wl);
    if (rc) return rc;
    struct cs_sim_nemesis_options no;
    memset(&no, 0, sizeof no);
    no.faults = CS_SIM_FAULTS_ALL;
    if (c->churn.on) {
        /* The churn schedule owns the partitions: the nemesis's heal would cut it short. */
        no.faults &= ~(uint32_t)(CS_SIM_FAULT_PARTITION_HALVES | CS_SIM_FAULT_PARTITION_ISOLATE |
                                 CS_SIM_FAULT_PARTITION_BRIDGE | CS_SIM_FAULT_PARTITION_ONE_WAY);
    }
    no.interval_min_us = 50000;
    no.interval_max_us = 400000;
    no.duration_min_us = 50000;
    no.duration_max_us = 600000;
    no.clock_offset_max_us = 50000;
    no.clock_drift_max_ppm = 20000;
    no.stop_us = c->faults_stop_us; /* then everything heals and the clients finish */
    return cs_sim_nemesis_start(*sim, &no, nem);
}

static int rs_run(const struct rs_args *a, uint64_t seed, struct rs_result *out)
{
    memset(out, 0, sizeof *out);
    struct rs_cluster *c = calloc(1, sizeof *c);
    if (!c) return CS_ENOMEM;
    c->nodes_len = (uint32_t)a->nodes;
    c->bugs = a->bugs;
    struct cs_rng pick;
    cs_rng_init(&pick, seed ^ 0x7261667473696dull);
    bool single = cs_rng_chance(&pick, 1, 2);
    c->churn.on = single && cs_rng_chance(&pick, 1, 2);
    c->msg_entries_max = single ? 1 : 1 + (uint32_t)cs_rng_below(&pick, 64);
    c->inflight_max = single ? 1 : 1 + (uint32_t)cs_rng_below(&pick, 16);
    c->leader_of_term = calloc(RS_TERMS_MAX, sizeof *c->leader_of_term);
    c->applied_hash = calloc(RS_INDEXES_MAX, sizeof *c->applied_hash);
    c->committed_hash = calloc(RS_INDEXES_MAX, sizeof *c->committed_hash);
    c->committed_term = calloc(RS_INDEXES_MAX, sizeof *c->committed_term);
    int rc = c->leader_of_term && c->applied_hash && c->committed_hash && c->committed_term
                 ? 0
                 : CS_ENOMEM;
    for (uint32_t k = 0; k < c->nodes_len && !rc; k++) {
        c->nodes[k].cluster = c;
        c->nodes[k].sim_id = k;
        c->nodes[k].post = calloc(RS_POST_MAX, sizeof *c->nodes[k].post);
        if (!c->nodes[k].post) rc = CS_ENOMEM;
    }
    struct cs_history h;
    cs_history_init(&h, (uint32_t)a->ops);
    struct cs_sim *sim = NULL;
    struct cs_sim_workload *wl = NULL;
    struct cs_sim_nemesis *nem = NULL;
    if (!rc) rc = rs_world(a, seed, c, &h, &sim, &wl, &nem);
    if (!rc) {
        uint64_t events = 0;
        while (!cs_sim_workload_done(wl) && events++ < RS_EVENTS_MAX &&
               cs_sim_now_us(sim) < RS_VIRTUAL_US_MAX && !c->violation[0]) {
            if (!cs_sim_step(sim)) break;
        }
        out->end_us = cs_sim_now_us(sim);
        out->stats = *cs_sim_stats(sim);
        out->trace_hash = cs_sim_trace_hash(sim);
        rc = cs_sim_workload_error(wl);
    }
    cs_sim_destroy(sim);
    cs_sim_workload_destroy(wl);
    cs_sim_nemesis_destroy(nem);
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        rs_crash(&c->nodes[k]);
        free(c->nodes[k].post);
    }
    memcpy(out->violation, c->violation, sizeof out->violation);
    out->conf_changes = c->conf_changes;
    out->churn_cycles = c->churn.cycles;
    out->churn_cycles_full = c->churn.cycles_full;
    /*
     * Liveness: once the faults stop (everything heals), a leader must be
     * elected and serve: no operation invoked RS_LIVENESS_US after that may
     * time out (each has op_timeout_us to complete).
     */
    uint64_t live_from = c->faults_stop_us + RS_LIVENESS_US;
    for (uint32_t i = 0; i < h.ops_len && !rc && !out->violation[0]; i++) {
        const struct cs_op *op = &h.ops[i];
        if (op->invoke_time < 0 || (uint64_t)op->invoke_time < live_from) continue;
        out->live_ops++;
        /* A refused cas is recorded as info too, but at once: only the slow ones timed out. */
        bool open = op->type == CS_TYPE_INVOKE || op->complete_time < 0;
        if (open || (op->type == CS_TYPE_INFO &&
                     (uint64_t)(op->complete_time - op->invoke_time) >= RS_OP_TIMEOUT_US)) {
            snprintf(out->violation, sizeof out->violation,
                     "liveness: an operation invoked at %.3f s, %.1f s after the faults stopped, "
                     "timed out",
                     (double)op->invoke_time / 1e6, (double)RS_LIVENESS_US / 1e6);
        }
    }
    if (!rc && !out->violation[0]) {
        for (uint32_t i = 0; i < h.ops_len; i++) {
            out->ops_ok += h.ops[i].type == CS_TYPE_OK;
            out->ops_fail += h.ops[i].type == CS_TYPE_FAIL;
            out->ops_info += h.ops[i].type == CS_TYPE_INFO || h.ops[i].type == CS_TYPE_INVOKE;
        }
        struct cs_model_spec model = {CS_MODEL_CAS_REGISTER, cs_value_none(), true};
        struct cs_check_budget budget = {.steps_max = 50000000};
        struct cs_check_result check;
        rc = cs_check_linearizable(&h, &model, &budget, &check);
        if (!rc) out->verdict = (int)check.verdict;
        cs_check_result_free(&check);
    }
    cs_history_free(&h);
    free(c->leader_of_term);
    free(c->applied_hash);
    free(c->committed_hash);
    free(c->committed_term);
    free(c);
    return rc;
}

static int rs_parse(int argc, char **argv, struct rs_args *a)
{
    a->seeds = 1;
    a->nodes = 3;
    a->ops = 800;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = cli_parse_seed_flag(flag, val, &a->seeds, &a->seed_start, &a->single);
        if (rc < 0) return -1;
        if (rc > 0) {
            i++;
            continue;
        }
        if (strcmp(flag, "--nodes") == 0) {
            rc = cli_parse_u64(flag, val, &a->nodes), i++;
        } else if (strcmp(flag, "--ops") == 0) {
            rc = cli_parse_u64(flag, val, &a->ops), i++;
        } else if (strcmp(flag, "--bug") == 0 && val) {
            a->bug = val, i++;
            a->bugs = cs_raft_bug_parse(val);
            if (!a->bugs) {
                fprintf(stderr, "consist sim raft: --bug wants %s, got '%s'\n", cs_raft_bug_names(),
                        val);
                return -1;
            }
        } else if (strcmp(flag, "--trace") == 0) {
            a->trace = true;
        } else if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            a->help = true;
        } else {
            fprintf(stderr, "consist sim raft: unknown argument '%s'\n", flag);
            return -1;
        }
        if (rc) return -1;
    }
    if (a->single) a->seeds = 1;
    if (a->nodes != 3 && a->nodes != 5) {
        fprintf(stderr, "consist sim raft: --nodes wants 3 or 5\n");
        return -1;
    }
    if (a->ops < 1 || a->ops > 100000) {
        fprintf(stderr, "consist sim raft: --ops wants 1..100000\n");
        return -1;
    }
    return 0;
}

static int rs_command(int argc, char **argv)
{
    struct rs_args a;
    memset(&a, 0, sizeof a);
    if (rs_parse(argc, argv, &a) != 0) return CS_CLI_EXIT_USAGE;
    if (a.help) {
        printf("usage: consist sim raft --seeds N [--seed-start S] [--nodes 3|5] [--ops N] "
               "[--bug %s]\n       consist sim raft --seed S [--bug NAME] [--trace]\n",
               cs_raft_bug_names());
        return CS_CLI_EXIT_OK;
    }
    unsigned long long passed = 0, failed = 0, live_ops = 0, conf_changes = 0;
    unsigned long long churn_seeds = 0, churn_cycles = 0, churn_cycles_full = 0;
    for (unsigned long long i = 0; i < a.seeds; i++) {
        uint64_t seed = a.seed_start + i;
        struct rs_result r;
        int rc = rs_run(&a, seed, &r);
        if (rc) {
            fprintf(stderr, "consist sim raft: seed %" PRIu64 ": %s\n", seed, cs_strerror(rc));
            return CS_CLI_EXIT_INPUT;
        }
        bool ok = !r.violation[0] && r.verdict == CS_VERDICT_VALID;
        if (!ok || a.single) {
            printf("seed %" PRIu64 ": %s (ops %u ok, %u fail, %u info; crashes %" PRIu64
                   "; virtual %.2f s; trace %016" PRIx64 ")\n",
                   seed, r.violation[0] ? r.violation : cs_verdict_name((enum cs_verdict)r.verdict),
                   r.ops_ok, r.ops_fail, r.ops_info, r.stats.crashes, (double)r.end_us / 1e6,
                   r.trace_hash);
        }
        if (!ok) {
            printf("  replay: consist sim raft --seed %" PRIu64 " --nodes %llu%s%s\n", seed,
                   a.nodes, a.bug ? " --bug " : "", a.bug ? a.bug : "");
        }
        passed += ok;
        failed += !ok;
        live_ops += r.live_ops;
        conf_changes += r.conf_changes;
        churn_seeds += r.churn_cycles > 0;
        churn_cycles += r.churn_cycles;
        churn_cycles_full += r.churn_cycles_full;
    }
    fprintf(stderr, "%llu membership changes accepted by leaders during the faults\n",
            conf_changes);
    fprintf(stderr,
            "%llu leader-churn cycles in %llu seeds (%llu reached a successor's isolation)\n",
            churn_cycles, churn_seeds, churn_cycles_full);
    fprintf(stderr, "%llu operations were invoked %.1f s or more after the faults stopped\n",
            live_ops, (double)RS_LIVENESS_US / 1e6);
    printf("%llu passed, %llu failed\n", passed, failed);
    return failed ? CS_CLI_EXIT_NO : CS_CLI_EXIT_OK;
}

CS_CLI_COMMAND(
    raft_sim_command, "sim", "raft",
    "--seeds N [--seed-start S] [--nodes 3|5] [--ops N] "
    "[--bug commit-old-term|vote-no-log-check|reply-before-persist] | --seed S [--trace]",
    "Raft + the kv state machine under seeded faults, each history checked", rs_command)
