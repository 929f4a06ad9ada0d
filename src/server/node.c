/*
 * node.c: one consistd node: a Raft group, its durable log (the WAL of
 * src/store), the kv state machine, and the tables of requests waiting on
 * them, driven from one libuv loop.
 *
 * The one idea: the Ready batch is drained once per loop turn, after every
 * socket read of that turn has been stepped or proposed, so one fdatasync
 * covers every write that arrived in the turn (group commit). In each batch
 * the order is the Ready contract's: persist entries and hard state, sync,
 * only then send, then apply and answer, then advance. A client hears "OK"
 * only from the apply of its entry, which a majority has synced. Reads are
 * batched the same way: the reads of a turn share one ReadIndex round, issued
 * at the end of the turn, so no read is served from a round older than it.
 *
 * Storage (docs/storage.md): the Raft log, hard state and snapshots live in
 * the WAL under <dir>/wal; the state machine is rebuilt on start from the
 * latest snapshot and the log after it, so a turn costs one sync. LMDB under
 * <dir>/lmdb holds the node's identity, so a data directory cannot be started
 * as another node or in another cluster.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/assert.h"
#include "base/log.h"
#include "consist/store.h"
#include "server.h"

#define NODE_GROUP_ID      1
#define NODE_TICK_MS       10
#define NODE_EXPIRE_MS     50
#define NODE_PURGE_MS      250  /* at most one PURGE proposal per this many ms */
#define NODE_RECLAIM_BATCH 4096 /* released pointers that make a batch for a worker */
#define NODE_READY_ROUNDS  64   /* Ready batches drained in one turn */
#define NODE_RESTORE_BYTES (8u << 20)
#define NODE_IDENTITY_KEY  "identity"
#define NODE_DRAINED_MAX   4 /* hooks run after each turn: RESP, HTTP */
/* Reads that share one ReadIndex round; a fuller batch is issued at once. */
#define NODE_READ_BATCH_MAX 256
/* ReadIndex rounds in flight; past it reads gather until one is served. Few, so that
 * the reads arriving during a round share the next one (etcd keeps one in flight). */
#define NODE_READ_BATCHES_MAX 4

/* Who is waiting for a request: a local client, or a follower that forwarded it. */
struct node_origin {
    srv_done_fn done; /* local: non-NULL */
    void *ctx;
    uint64_t req_id;
    uint64_t peer;        /* remote: the follower's id */
    uint64_t peer_req_id; /* remote: its id there */
    uint64_t deadline_ms;
};

struct node_write {
    uint64_t index;
    uint64_t term;
    bool live; /* false once answered (by deadline) */
    bool conf; /* a membership change: answered with an empty reply once committed */
    struct node_origin origin;
};

struct node_read {
    bool used;
    uint64_t batch_id;         /* its ReadIndex round; 0 while it gathers */
    uint64_t wait_index;       /* a session read waiting until this node applied it; else 0 */
    uint64_t wait_deadline_ms; /* then it becomes a linearizable read */
    struct cs_kv_command cmd;
    struct node_origin origin;
    uint8_t *keys; /* the copied key bytes cmd's ops point into */
};

/*
 * The reads of one loop turn (local and forwarded) share one ReadIndex round,
 * issued at the end of the turn: a round issued after every one of them
 * arrived, so each is linearizable at the round's index (thesis §6.4).
 */
struct node_read_batch {
    uint64_t id;    /* the round's ctx; ids are issued in order from 1 */
    uint64_t term;  /* the leader's term when issued: another term never confirms it */
    bool confirmed; /* the leader knows index is safe */
    uint64_t index; /* serve once applied >= index */
    uint32_t len;   /* 0: served or failed */
    uint32_t slots[NODE_READ_BATCH_MAX]; /* n->reads slots, in arrival order */
};

struct node_forward {
    bool used;
    bool is_read;
    uint64_t leader; /* where it went */
    struct node_origin origin;
};

struct srv_node {
    uv_loop_t *loop;
    struct srv_config config;
    struct cs_raft *raft;
    struct cs_kv *kv;
    struct cs_store *meta;
    struct cs_store_log *log;
    struct srv_peers *peers;
    uv_timer_t tick_timer;
    uv_prepare_t prepare;
    uv_check_t check;
    uint32_t drained_len;
    void (*drained[NODE_DRAINED_MAX])(void *ctx);
    void *drained_ctx[NODE_DRAINED_MAX];
    uint64_t req_next;
    uint64_t last_expire_ms;
    uint64_t last_leader;
    uint64_t leader_changes;
    uint64_t syncs;
    uint64_t synced_term, synced_vote; /* the durable hard state's term and vote */
    uint64_t start_ms;
    bool handles_started;
    uint64_t applied_since_snapshot;
    struct srv_snapshot_job *snap; /* the background snapshot running, or NULL */
    struct srv_reclaim reclaim;    /* what the core and the WAL drop, freed off the loop */
    uint64_t snapshots;            /* snapshots made here and in effect */
    uint64_t snap_started_ns;
    bool closing;
    struct cs_buf reply_buf;
    /* Proposals in log order. */
    struct node_write *writes;
    size_t writes_head, writes_len;
    /* ReadIndex requests and forwards, direct-mapped by request id. */
    struct node_read *reads;
    struct node_forward *forwards;
    /* Reads not yet given a round, in arrival order: each gathering read once. */
    uint32_t gather[SRV_PENDING_READS_MAX];
    uint32_t gather_len;
    /* Rounds in flight: ids [batch_first, batch_next), at id % NODE_READ_BATCHES_MAX. */
    struct node_read_batch *batches;
    uint64_t batch_first, batch_next;
    uint64_t read_rounds;      /* ReadIndex rounds issued */
    uint32_t session_waits;    /* reads slots holding a waiting session read */
    uint64_t session_local;    /* session reads served by this node's own state */
    uint64_t session_upgraded; /* session reads that waited too long: made linearizable */
    uint64_t last_purge_ms;
    uint64_t purges; /* PURGE entries proposed here */
    bool answered;   /* a request finished since the drained hooks last ran */
};

/* ---- answering ------------------------------------------------------------ */

static void node_send_forward_reply(struct srv_node *n, const struct node_origin *o,
                                    const struct srv_result *res, const uint8_t *reply_bytes,
                                    size_t reply_len, uint8_t kind);
static void node_route(struct srv_node *n, const struct cs_kv_command *cmd, enum srv_read read,
                       uint64_t min_index, const struct node_origin *o);
static void node_learn_peers(struct srv_node *n);
static void node_forwards_orphaned(struct srv_node *n, uint64_t leader);

/* Finish a request; reply_bytes (an apply's encoded reply) lets a remote origin skip re-encoding.
 */
static void node_finish(struct srv_node *n, const struct node_origin *o,
                        const struct srv_result *res, const uint8_t *reply_bytes, size_t reply_len)
{
    n->answered = true;
    if (o->done) {
        o->done(o->ctx, o->req_id, res);
    } else if (o->peer) {
        node_send_forward_reply(n, o, res, reply_bytes, reply_len, SRV_FORWARD_KIND_APPLY);
    }
}

static void node_fail(struct srv_node *n, const struct node_origin *o, const char *code,
                      const char *msg)
{
    struct srv_result res = {.err_code = code, .err_msg = msg, .reply = NULL};
    node_finish(n, o, &res, NULL, 0);
}

/* ---- storage -------------------------------------------------------------- */

static void node_fatal(const char *what, int rc)
{
    /* A node that cannot persist must not go on: it would acknowledge what it may forget. */
    CS_LOGE("fatal: %s: %s", what, cs_strerror(rc));
    fprintf(stderr, "consistd: fatal: %s: %s\n", what, cs_strerror(rc));
    exit(1);
}

static int node_identity_check(struct srv_node *n)
{
    struct cs_store_txn *txn = NULL;
    int rc = cs_store_txn_begin(n->meta, false, &txn);
    if (rc) return rc;
    char want[16 + SRV_CLUSTER_ID_MAX + 2];
    int want_len =
        snprintf(want, sizeof want, "%016" PRIx64 "/%s", n->config.node_id, n->config.cluster_id);
    const uint8_t *v;
    size_t v_len;
    rc = cs_store_get(txn, CS_STORE_DB_META, NODE_IDENTITY_KEY, strlen(NODE_IDENTITY_KEY), &v,
                      &v_len);
    if (rc == CS_ENOTFOUND) {
        rc = cs_store_put(txn, CS_STORE_DB_META, NODE_IDENTITY_KEY, strlen(NODE_IDENTITY_KEY), want,
                          (size_t)want_len);
        if (rc) {
            cs_store_abort(txn);
            return rc;
        }
        return cs_store_commit(txn);
    }
    if (rc == 0 && (v_len != (size_t)want_len || memcmp(v, want, v_len) != 0)) {
        fprintf(stderr, "consistd: %s belongs to node/cluster %.*s, not %s\n", n->config.dir,
                (int)v_len, (const char *)v, want);
        rc = CS_EDENIED;
    }
    cs_store_abort(txn);
    return rc;
}

/* Read the whole durable log after the snapshot into one array (entries view into blocks). */
struct node_log_image {
    struct cs_raft_entry *entries;
    size_t len;
    struct cs_store_log_entries *blocks;
    size_t blocks_len;
};

static void node_log_image_free(struct node_log_image *img)
{
    for (size_t k = 0; k < img->blocks_len; k++)
        cs_store_log_entries_free(&img->blocks[k]);
    free(img->blocks);
    free(img->entries);
}

static int node_log_image_load(struct srv_node *n, struct node_log_image *img)
{
    uint64_t first, last;
    cs_store_log_bounds(n->log, NODE_GROUP_ID, &first, &last);
    memset(img, 0, sizeof *img);
    if (last < first) return 0;
    size_t total = (size_t)(last - first + 1);
    CS_ASSERT(total <= CS_STORE_LOG_GROUP_ENTRIES_MAX);
    img->entries = calloc(total, sizeof *img->entries);
    img->blocks = calloc(total, sizeof *img->blocks); /* at most one block per entry */
    if (!img->entries || !img->blocks) return CS_ENOMEM;
    for (uint64_t at = first; at <= last;) {
        struct cs_store_log_entries *b = &img->blocks[img->blocks_len];
        int rc = cs_store_log_read(n->log, NODE_GROUP_ID, at, last + 1, NODE_RESTORE_BYTES, b);
        if (rc) return rc;
        img->blocks_len++;
        CS_ASSERT(b->len > 0);
        memcpy(&img->entries[img->len], b->entries, b->len * sizeof *b->entries);
        img->len += b->len;
        at += b->len;
    }
    CS_ASSERT(img->len == total);
    return 0;
}

static void node_bootstrap_conf(const struct srv_config *c, struct cs_raft_conf *conf)
{
    memset(conf, 0, sizeof *conf);
    uint64_t ids[CS_RAFT_MEMBERS_MAX];
    uint32_t len = 0;
    ids[len++] = c->node_id;
    for (uint32_t k = 0; k < c->peers_len; k++)
        ids[len++] = c->peers[k].id;
    /* Members are kept sorted by id. */
    for (uint32_t i = 1; i < len; i++)
        for (uint32_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            uint64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    for (uint32_t k = 0; k < len; k++)
        conf->members[k] = (struct cs_raft_member){.id = ids[k], .voter = true};
    conf->members_len = len;
}

static int node_restore(struct srv_node *n, uint64_t now_ms)
{
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    int rc = cs_store_log_hard_state_load(n->log, NODE_GROUP_ID, &rs.hard_state);
    if (rc && rc != CS_ENOTFOUND) return rc;
    n->synced_term = rs.hard_state.term;
    n->synced_vote = rs.hard_state.vote;
    struct cs_store_log_snapshot snap;
    memset(&snap, 0, sizeof snap);
    rc = cs_store_log_snapshot_load(n->log, NODE_GROUP_ID, &snap);
    if (rc == 0) {
        rs.snapshot.meta = snap.meta;
        rs.snapshot.data = snap.data;
        rs.snapshot.data_len = snap.data_len;
        rc = cs_kv_restore(n->kv, snap.data, snap.data_len);
        if (rc) {
            cs_store_log_snapshot_free(&snap);
            return rc;
        }
    } else if (rc == CS_ENOTFOUND) {
        /* A joining node knows no membership: the leader's log or snapshot brings it. */
        if (!n->config.join) node_bootstrap_conf(&n->config, &rs.snapshot.meta.conf);
    } else {
        return rc;
    }
    struct node_log_image img;
    rc = node_log_image_load(n, &img);
    if (rc == 0) {
        rs.entries = img.entries;
        rs.entries_len = img.len;
        uint64_t last = rs.snapshot.meta.index + img.len;
        if (rs.hard_state.commit > last) rs.hard_state.commit = last;
        if (rs.hard_state.commit < rs.snapshot.meta.index) {
            rs.hard_state.commit = rs.snapshot.meta.index;
        }
        struct cs_raft_config rc_cfg;
        cs_raft_config_default(&rc_cfg, n->config.node_id, NODE_GROUP_ID,
                               n->config.node_id * 0x9e3779b97f4a7c15ull ^ uv_hrtime());
        rc_cfg.election_timeout_ms = n->config.election_timeout_ms;
        rc_cfg.heartbeat_interval_ms = n->config.heartbeat_interval_ms;
        rc_cfg.release = srv_reclaim_release;
        rc_cfg.release_ctx = &n->reclaim;
        rc = cs_raft_new(&rc_cfg, &rs, now_ms, &n->raft);
        CS_LOGI("restored: snapshot %" PRIu64 ", %zu log entries, term %" PRIu64
                ", commit %" PRIu64,
                rs.snapshot.meta.index, img.len, rs.hard_state.term, rs.hard_state.commit);
    }
    node_log_image_free(&img);
    if (snap.data) cs_store_log_snapshot_free(&snap);
    return rc;
}

/* ---- the Ready loop ------------------------------------------------------- */

static bool node_persist(struct srv_node *n, const struct cs_raft_ready *rd)
{
    bool wrote = false;
    int rc;
    if (rd->snapshot) {
        rc = cs_kv_restore(n->kv, rd->snapshot->data, rd->snapshot->data_len);
        if (rc) node_fatal("restoring a snapshot from the leader", rc);
        node_learn_peers(n);
        rc = cs_store_log_snapshot_save(n->log, NODE_GROUP_ID, rd->snapshot);
        if (rc && rc != CS_ERANGE) node_fatal("saving a snapshot", rc);
        wrote = true;
    }
    if (rd->entries_len) {
        rc = cs_store_log_append(n->log, NODE_GROUP_ID, rd->entries, rd->entries_len);
        if (rc) node_fatal("appending to the log", rc);
        wrote = true;
    }
    if (rd->hard_state_changed) {
        rc = cs_store_log_hard_state_save(n->log, NODE_GROUP_ID, &rd->hard_state);
        if (rc) node_fatal("saving the hard state", rc);
        /* A commit index alone needs no sync of its own: a lost one is learned again
         * from the leader. Term and vote must be durable before any message leaves. */
        if (rd->hard_state.term != n->synced_term || rd->hard_state.vote != n->synced_vote) {
            wrote = true;
        }
    }
    if (wrote) {
        n->synced_term = rd->hard_state_changed ? rd->hard_state.term : n->synced_term;
        n->synced_vote = rd->hard_state_changed ? rd->hard_state.vote : n->synced_vote;
        uint64_t sync_ns = uv_hrtime();
        rc = cs_store_log_sync(n->log);
        if (rc) node_fatal("syncing the log", rc);
        n->syncs++;
        srv_hist_observe(&srv_metrics.fsync, (uv_hrtime() - sync_ns) / 1000);
    }
    return wrote;
}

static void node_send(struct srv_node *n, const struct cs_raft_ready *rd)
{
    struct cs_buf b;
    cs_buf_init(&b, CS_RAFT_MSG_BYTES_MAX);
    for (size_t k = 0; k < rd->msgs_len; k++) {
        cs_buf_reset(&b);
        if (cs_raft_msg_encode(&rd->msgs[k], &b) != 0) continue; /* counted as a drop by Raft */
        (void)srv_peers_send(n->peers, rd->msgs[k].to, CS_FRAME_RAFT, NODE_GROUP_ID, b.data, b.len);
    }
    cs_buf_free(&b);
}

static const char *node_kv_error(int rc)
{
    switch (rc) {
    case CS_EDECODE:
        return "command could not be decoded";
    case CS_ENOSPACE:
        return "the store is full";
    case CS_ERANGE:
        return "a retried command whose reply is forgotten";
    case CS_ENOTFOUND:
        return "client session expired";
    default:
        return cs_strerror(rc);
    }
}

/* A whole command's reply rc the client gets as a reply, not an error: a
 * replayed duplicate, or a transaction whose WATCH check failed (nothing applied). */
static bool node_kv_reply_ok(int rc)
{
    return rc == 0 || rc == CS_EEXIST || rc == CS_ECONFLICT;
}

/* Answer the proposals at or below index, given the entry that landed there. */
static void node_writes_settle(struct srv_node *n, const struct cs_raft_entry *e,
                               const uint8_t *reply_bytes, size_t reply_len)
{
    while (n->writes_len > 0) {
        struct node_write *w = &n->writes[n->writes_head];
        if (w->index > e->index) break;
        if (w->live && w->conf && w->index == e->index && w->term == e->term) {
            CS_ASSERT(e->type == CS_RAFT_ENTRY_CONF);
            static const struct cs_kv_reply empty; /* nothing to report but success */
            struct srv_result res = {.reply = &empty, .index = e->index};
            node_finish(n, &w->origin, &res, NULL, 0);
        } else if (w->live) {
            if (w->index == e->index && w->term == e->term && reply_bytes) {
                struct cs_kv_reply reply;
                int rc = cs_kv_reply_decode(reply_bytes, reply_len, &reply);
                struct srv_result res = {.reply = &reply, .index = e->index};
                if (rc || !node_kv_reply_ok(reply.rc)) {
                    res = (struct srv_result){.err_code = "ERR",
                                              .err_msg = node_kv_error(rc ? rc : reply.rc)};
                }
                node_finish(n, &w->origin, &res, reply_bytes, reply_len);
            } else {
                node_fail(n, &w->origin, "TRYAGAIN", "write lost to a new leader, not applied");
            }
        }
        n->writes_head = (n->writes_head + 1) % SRV_PENDING_WRITES_MAX;
        n->writes_len--;
    }
}

/* The replicated key holding member id's peer address. */
static size_t node_peer_key(uint64_t id, char out[64])
{
    int len = snprintf(out, 64, SRV_KEY_RESERVED_PREFIX "peer:%" PRIu64, id);
    CS_ASSERT(len > 0 && len < 64);
    return (size_t)len;
}

bool srv_key_reserved(const uint8_t *key, size_t len)
{
    size_t plen = strlen(SRV_KEY_RESERVED_PREFIX);
    return len >= plen && memcmp(key, SRV_KEY_RESERVED_PREFIX, plen) == 0;
}

/* Dial every member whose address the log has replicated (added at run time). */
static void node_learn_peers(struct srv_node *n)
{
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    for (uint32_t k = 0; k < st.conf.members_len; k++) {
        uint64_t id = st.conf.members[k].id;
        if (id == n->config.node_id) continue;
        char key[64];
        size_t key_len = node_peer_key(id, key);
        const uint8_t *v;
        size_t v_len;
        if (cs_kv_get(n->kv, key, key_len, 0, &v, &v_len) != 0) continue; /* from the config */
        char text[SRV_HOST_BYTES_MAX + 8];
        struct srv_peer_addr addr = {.id = id};
        if (v_len >= sizeof text) continue;
        memcpy(text, v, v_len);
        text[v_len] = 0;
        if (srv_config_parse_addr(text, &addr) != 0) continue;
        int rc = srv_peers_set(n->peers, &addr);
        if (rc != 0) CS_LOGW("peer %" PRIu64 " not added: %s", id, cs_strerror(rc));
    }
}

static void node_apply(struct srv_node *n, const struct cs_raft_ready *rd)
{
    for (size_t k = 0; k < rd->committed_len; k++) {
        const struct cs_raft_entry *e = &rd->committed[k];
        const uint8_t *reply_bytes = NULL;
        size_t reply_len = 0;
        if (e->type == CS_RAFT_ENTRY_NORMAL && e->data_len > 0) {
            cs_buf_reset(&n->reply_buf);
            int rc = cs_kv_apply(n->kv, e->index, e->data, e->data_len, &n->reply_buf);
            if (rc) node_fatal("applying a committed entry", rc);
            reply_bytes = n->reply_buf.data;
            reply_len = n->reply_buf.len;
        }
        if (e->type == CS_RAFT_ENTRY_CONF) node_learn_peers(n);
        node_writes_settle(n, e, reply_bytes, reply_len);
        n->applied_since_snapshot++;
    }
}

static void node_read_free(struct node_read *r)
{
    free(r->keys);
    /* Not memset: cmd is about 6 KB, and a free slot is known by used alone. */
    r->keys = NULL;
    r->used = false;
    r->batch_id = r->wait_index = r->wait_deadline_ms = 0;
    r->cmd.ops_len = 0;
}

/* What this node has applied: no-op and configuration entries advance Raft, not kv. */
static uint64_t node_applied(struct srv_node *n)
{
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    uint64_t applied = cs_kv_applied_index(n->kv);
    return st.applied > applied ? st.applied : applied;
}

/* Answer r from this node's state, which reflects index applied (the caller's node_applied:
 * the same for every read it serves in one go, since serving applies nothing). */
static void node_read_serve(struct srv_node *n, struct node_read *r, uint64_t applied)
{
    static struct cs_kv_reply reply; /* one thread; only results[0..ops_len) are set and read */
    reply.rc = 0;
    reply.results_len = r->cmd.ops_len;
    uint64_t now_ms = srv_wall_ms();
    for (uint32_t k = 0; k < r->cmd.ops_len; k++) {
        const struct cs_kv_op *op = &r->cmd.ops[k];
        CS_ASSERT(srv_op_is_read(op->type));
        struct cs_kv_meta meta;
        int rc = cs_kv_get_meta(n->kv, op->key, op->key_len, now_ms, &meta);
        struct cs_kv_result *out = &reply.results[k];
        out->rc = rc;
        out->found = rc == 0;
        out->number = rc == 0 ? 1 : 0;
        out->mod_index = meta.mod_index;
        out->expire_at_ms = meta.expire_at_ms;
        bool value = op->type == CS_KV_GET && rc == 0;
        out->value = value ? meta.value : NULL;
        out->value_len = value ? (uint32_t)meta.value_len : 0;
    }
    struct srv_result res = {.reply = &reply, .index = applied};
    if (r->origin.done) {
        node_finish(n, &r->origin, &res, NULL, 0);
    } else if (r->origin.peer) {
        node_send_forward_reply(n, &r->origin, &res, NULL, 0, SRV_FORWARD_KIND_READ);
    }
    node_read_free(r);
}

/* Session reads that this node can now serve, or that waited long enough to
 * become linearizable reads (which any node can have answered by the leader). */
static void node_sessions_serve(struct srv_node *n)
{
    if (n->session_waits == 0) return;
    uint64_t applied = node_applied(n);
    uint64_t now_ms = uv_now(n->loop);
    for (uint32_t k = 0; k < SRV_PENDING_READS_MAX && n->session_waits > 0; k++) {
        struct node_read *r = &n->reads[k];
        if (!r->used || r->wait_index == 0) continue;
        if (r->wait_index <= applied) {
            n->session_waits--;
            n->session_local++;
            node_read_serve(n, r, applied);
        } else if (r->wait_deadline_ms <= now_ms) {
            static struct cs_kv_command cmd; /* too large for a callback's stack */
            cmd = r->cmd;
            uint8_t *keys = r->keys; /* cmd's keys point here until routed */
            struct node_origin o = r->origin;
            r->keys = NULL; /* freed below, once routed */
            node_read_free(r);
            n->session_waits--;
            n->session_upgraded++;
            node_route(n, &cmd, SRV_READ_LINEARIZABLE, 0, &o);
            free(keys);
        }
    }
}

static struct node_read_batch *node_batch(struct srv_node *n, uint64_t id)
{
    if (id < n->batch_first || id >= n->batch_next) return NULL;
    struct node_read_batch *b = &n->batches[id % NODE_READ_BATCHES_MAX];
    CS_ASSERT(b->id == id);
    return b;
}

/* The read of batch b at position k, or NULL once it was answered (by its deadline). */
static struct node_read *node_batch_read(struct srv_node *n, const struct node_read_batch *b,
                                         uint32_t k)
{
    struct node_read *r = &n->reads[b->slots[k]];
    return r->used && r->batch_id == b->id ? r : NULL;
}

static void node_reads_confirm(struct srv_node *n, const struct cs_raft_ready *rd)
{
    for (size_t k = 0; k < rd->reads_len; k++) {
        uint64_t id;
        if (rd->reads[k].ctx_len != sizeof id) continue;
        memcpy(&id, rd->reads[k].ctx, sizeof id);
        struct node_read_batch *b = node_batch(n, id);
        if (!b || b->confirmed || b->len == 0) continue;
        b->confirmed = true;
        b->index = rd->reads[k].index;
    }
}

/* Serve each confirmed batch whose index is applied, every read in arrival order;
 * fail the batches a lost leadership will never confirm; retire finished ones. */
static void node_reads_serve_ready(struct srv_node *n)
{
    if (n->batch_first == n->batch_next) return;
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    uint64_t applied = cs_kv_applied_index(n->kv);
    if (st.applied > applied) applied = st.applied; /* as node_applied, from st */
    for (uint64_t id = n->batch_first; id < n->batch_next; id++) {
        struct node_read_batch *b = node_batch(n, id);
        bool serve = b->confirmed && b->index <= applied;
        /* A deposed leader's core dropped the round (§6.4): it never confirms. */
        bool lost = !b->confirmed && (st.role != CS_RAFT_LEADER || st.term != b->term);
        if (b->len == 0 || (!serve && !lost)) continue;
        for (uint32_t k = 0; k < b->len; k++) {
            struct node_read *r = node_batch_read(n, b, k);
            if (!r) continue;
            if (serve) {
                node_read_serve(n, r, applied);
            } else {
                node_fail(n, &r->origin, "TRYAGAIN", "leader changed");
                node_read_free(r);
            }
        }
        b->len = 0;
    }
    /* Retire from the front the batches with no read left to answer. */
    while (n->batch_first < n->batch_next) {
        struct node_read_batch *b = node_batch(n, n->batch_first);
        bool live = false;
        for (uint32_t k = 0; k < b->len && !live; k++)
            live = node_batch_read(n, b, k) != NULL;
        if (live) break;
        b->len = 0;
        n->batch_first++;
    }
}

/* Give the reads gathered so far ReadIndex rounds of at most NODE_READ_BATCH_MAX reads each,
 * at the end of a turn, while fewer than NODE_READ_BATCHES_MAX rounds are in flight. */
static void node_reads_issue(struct srv_node *n)
{
    while (n->gather_len > 0 && n->batch_next - n->batch_first < NODE_READ_BATCHES_MAX) {
        uint64_t id = n->batch_next;
        struct node_read_batch *b = &n->batches[id % NODE_READ_BATCHES_MAX];
        struct cs_raft_status st;
        cs_raft_status(n->raft, &st);
        *b = (struct node_read_batch){.id = id, .term = st.term};
        b->len = n->gather_len < NODE_READ_BATCH_MAX ? n->gather_len : NODE_READ_BATCH_MAX;
        for (uint32_t k = 0; k < b->len; k++) {
            struct node_read *r = &n->reads[n->gather[k]];
            CS_ASSERT(r->used && r->batch_id == 0);
            r->batch_id = id;
            b->slots[k] = n->gather[k];
        }
        n->gather_len -= b->len;
        memmove(n->gather, n->gather + b->len, n->gather_len * sizeof *n->gather);
        int rc = cs_raft_read_index(n->raft, &id, sizeof id);
        if (rc) {
            for (uint32_t k = 0; k < b->len; k++) {
                struct node_read *r = &n->reads[b->slots[k]];
                node_fail(n, &r->origin, "TRYAGAIN",
                          rc == CS_ENOTLEADER ? "leader changed" : "reads busy");
                node_read_free(r);
            }
            b->len = 0;
            continue;
        }
        n->batch_next++;
        n->read_rounds++;
    }
}

/* Forget a gathering read (at its deadline): it must not be given a round. */
static void node_gather_remove(struct srv_node *n, uint32_t slot)
{
    for (uint32_t k = 0; k < n->gather_len; k++) {
        if (n->gather[k] != slot) continue;
        n->gather_len--;
        memmove(n->gather + k, n->gather + k + 1, (n->gather_len - k) * sizeof *n->gather);
        return;
    }
    CS_UNREACHABLE();
}

/* The background snapshot is back: the core takes its bytes, the store commits
 * the staged file. A snapshot installed from the leader meanwhile overtakes it. */
static void node_snapshot_done(void *ctx, int rc, const struct cs_raft_snapshot_meta *meta,
                               struct cs_store_log_snapshot *loaded)
{
    struct srv_node *n = ctx;
    uint64_t t0 = uv_hrtime();
    n->snap = NULL;
    if (rc == 0 && n->closing) rc = CS_EBUSY;
    if (rc == 0) {
        rc = cs_raft_compact_take(n->raft, meta->index, loaded->data, loaded->data_len);
        if (rc == 0) loaded->data = NULL;
    }
    if (rc == 0) {
        struct cs_raft_snapshot_meta now;
        cs_raft_snapshot_meta(n->raft, &now);
        CS_ASSERT(now.index == meta->index && now.term == meta->term);
        rc = cs_store_log_snapshot_commit(n->log, NODE_GROUP_ID, meta);
        if (rc != 0 && rc != CS_ERANGE) node_fatal("committing a snapshot", rc);
    } else {
        cs_store_log_snapshot_unstage(n->log, NODE_GROUP_ID);
    }
    if (rc == 0) {
        n->snapshots++;
        srv_hist_observe(&srv_metrics.snapshot, (uv_hrtime() - n->snap_started_ns) / 1000);
        /* The compacted entries, the old snapshot's bytes and its file go to a worker. */
        srv_reclaim_flush(&n->reclaim, n->log, NODE_GROUP_ID);
        CS_LOGI("snapshot at %" PRIu64 " (%zu bytes) in effect; %.1f ms on the loop", meta->index,
                loaded->data_len, (double)(uv_hrtime() - t0) / 1e6);
    } else {
        CS_LOGW("snapshot at %" PRIu64 " dropped: %s", meta->index, cs_strerror(rc));
    }
}

/* Every snapshot_every applied entries, a snapshot is made in a forked child
 * (snapshot.c): the loop pays for the fork, not for encoding and syncing. */
static void node_maybe_snapshot(struct srv_node *n)
{
    /* The first snapshot comes up to 3/8 of the interval later on some nodes
     * (by id), and they stay apart after: nodes sharing a machine then do not
     * all fork and encode at once. */
    uint64_t every = n->config.snapshot_every;
    if (n->snapshots == 0) every += every / 8 * (n->config.node_id % 4);
    if (n->applied_since_snapshot < every || n->snap != NULL || n->closing) return;
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    if (st.applied <= st.snapshot_index) return;
    struct cs_raft_snapshot_meta meta;
    int rc = cs_raft_snapshot_meta_at(n->raft, st.applied, &meta);
    CS_ASSERT(rc == 0); /* applied is past the snapshot and still in the core's log */
    n->snap_started_ns = uv_hrtime();
    rc = srv_snapshot_start(&n->snap, n->loop, n->log, NODE_GROUP_ID, &meta, n->kv,
                            node_snapshot_done, n);
    if (rc != 0) {
        CS_LOGW("snapshot not started: %s", cs_strerror(rc));
        return; /* try again at the next turn that applies something */
    }
    n->applied_since_snapshot = 0;
}

static void node_run_drained(struct srv_node *n)
{
    n->answered = false;
    for (uint32_t k = 0; k < n->drained_len; k++)
        n->drained[k](n->drained_ctx[k]);
}

static void node_drain(struct srv_node *n)
{
    node_reads_issue(n); /* the turn's reads share one round, sent with this batch */
    bool any = false;
    for (int round = 0; round < NODE_READY_ROUNDS && cs_raft_has_ready(n->raft); round++) {
        struct cs_raft_ready rd;
        cs_raft_ready(n->raft, &rd);
        node_persist(n, &rd); /* durable before anything that depends on it leaves */
        node_send(n, &rd);
        node_apply(n, &rd);
        node_reads_confirm(n, &rd);
        cs_raft_advance(n->raft, &rd);
        node_reads_serve_ready(n);
        any = true;
    }
    /* A forwarded reply from the leader finishes a request with no Ready batch here:
     * its client must not wait for the next one. */
    if (!any) {
        if (n->answered) node_run_drained(n);
        return;
    }
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    if (st.leader != n->last_leader) {
        CS_LOGI("leader is now %" PRIu64 " (term %" PRIu64 ")", st.leader, st.term);
        n->last_leader = st.leader;
        n->leader_changes++;
        if (st.leader != CS_RAFT_NONE) node_forwards_orphaned(n, st.leader);
    }
    node_sessions_serve(n);
    node_maybe_snapshot(n);
    if (n->reclaim.len >= NODE_RECLAIM_BATCH) srv_reclaim_flush(&n->reclaim, NULL, 0);
    node_run_drained(n);
}

static void node_on_prepare(uv_prepare_t *h)
{
    node_drain(h->data);
}

static void node_on_check(uv_check_t *h)
{
    node_drain(h->data);
}

/* ---- deadlines ------------------------------------------------------------ */

static void node_expire(struct srv_node *n, uint64_t now_ms)
{
    for (size_t k = 0; k < n->writes_len; k++) {
        struct node_write *w = &n->writes[(n->writes_head + k) % SRV_PENDING_WRITES_MAX];
        if (w->live && w->origin.deadline_ms <= now_ms) {
            w->live = false;
            node_fail(n, &w->origin, "NOQUORUM",
                      "no majority within the timeout; the write may still take effect");
        }
    }
    for (uint32_t k = 0; k < SRV_PENDING_READS_MAX; k++) {
        struct node_read *r = &n->reads[k];
        if (r->used && r->wait_index == 0 && r->origin.deadline_ms <= now_ms) {
            if (r->batch_id == 0) node_gather_remove(n, k);
            node_fail(n, &r->origin, "NOQUORUM", "read not confirmed by a majority in time");
            node_read_free(r);
        }
    }
    for (uint32_t k = 0; k < SRV_FORWARDS_MAX; k++) {
        struct node_forward *f = &n->forwards[k];
        if (f->used && f->origin.deadline_ms <= now_ms) {
            f->used = false;
            node_fail(n, &f->origin, "NOQUORUM",
                      "the leader did not answer in time; a write may still take effect");
        }
    }
}

/* As the leader, propose one small op of the node's own (no client, no
 * session): 0 and its index, or the codec's or cs_raft_propose's code. */
static int node_propose_op(struct srv_node *n, const struct cs_kv_op *op, uint64_t *index)
{
    CS_ASSERT(op->key_len <= 64 && op->value_len <= SRV_HOST_BYTES_MAX + 8);
    struct cs_kv_command cmd = {.now_ms = srv_wall_ms(), .ops_len = 1};
    cmd.ops[0] = *op;
    uint8_t mem[256];
    struct cs_buf b;
    cs_buf_init_fixed(&b, mem, sizeof mem);
    int rc = cs_kv_command_encode(&cmd, &b);
    return rc == 0 ? cs_raft_propose(n->raft, b.data, b.len, index) : rc;
}

/* The leader removes expired keys by proposing a PURGE (keys expire by the
 * clock the log carries, so every replica removes the same ones at the same
 * point); until then reads and writes already treat them as absent. */
static void node_maybe_purge(struct srv_node *n)
{
    uint64_t due = cs_kv_next_expiry(n->kv);
    uint64_t now_ms = srv_wall_ms();
    if (due == 0 || due > now_ms) return;
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    if (st.role != CS_RAFT_LEADER) return;
    struct cs_kv_op purge = {.type = CS_KV_PURGE};
    uint64_t index;
    if (node_propose_op(n, &purge, &index) == 0) n->purges++;
}

static void node_on_tick(uv_timer_t *t)
{
    struct srv_node *n = t->data;
    uint64_t now_ms = uv_now(n->loop);
    cs_raft_tick(n->raft, now_ms);
    if (now_ms - n->last_expire_ms >= NODE_EXPIRE_MS) {
        n->last_expire_ms = now_ms;
        node_expire(n, now_ms);
        node_sessions_serve(n);
        node_run_drained(n); /* send the expired answers now */
    }
    if (now_ms - n->last_purge_ms >= NODE_PURGE_MS) {
        n->last_purge_ms = now_ms;
        node_maybe_purge(n);
    }
}

/* ---- submitting ----------------------------------------------------------- */

static bool node_copy_read(struct node_read *r, const struct cs_kv_command *cmd)
{
    size_t total = 0;
    for (uint32_t k = 0; k < cmd->ops_len; k++)
        total += cmd->ops[k].key_len;
    r->keys = malloc(total ? total : 1);
    if (!r->keys) return false;
    /* The header and the ops in use only: the whole struct is 64 ops (about 6 KB). */
    r->cmd.client_id = cmd->client_id;
    r->cmd.seq = cmd->seq;
    r->cmd.now_ms = cmd->now_ms;
    r->cmd.ops_len = cmd->ops_len;
    memcpy(r->cmd.ops, cmd->ops, cmd->ops_len * sizeof cmd->ops[0]);
    size_t at = 0;
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        memcpy(r->keys + at, cmd->ops[k].key, cmd->ops[k].key_len);
        r->cmd.ops[k].key = r->keys + at;
        at += cmd->ops[k].key_len;
    }
    return true;
}

/* Fill the free read slot r with a copy of cmd for o; false (o answered) without memory. */
static bool node_read_claim(struct srv_node *n, struct node_read *r,
                            const struct cs_kv_command *cmd, const struct node_origin *o)
{
    CS_ASSERT(!r->used);
    if (!node_copy_read(r, cmd)) {
        node_fail(n, o, "ERR", "out of memory");
        return false;
    }
    r->used = true;
    r->origin = *o;
    return true;
}

/* As the leader: propose a write or start a ReadIndex read for o. */
static void node_lead(struct srv_node *n, const struct cs_kv_command *cmd, bool is_read,
                      const struct node_origin *o)
{
    if (is_read) {
        struct node_read *r = &n->reads[o->req_id % SRV_PENDING_READS_MAX];
        if (r->used) {
            node_fail(n, o, "TRYAGAIN", "too many reads in flight");
            return;
        }
        if (!node_read_claim(n, r, cmd, o)) return;
        CS_ASSERT(n->gather_len < SRV_PENDING_READS_MAX); /* each used slot gathers once */
        n->gather[n->gather_len++] = (uint32_t)(o->req_id % SRV_PENDING_READS_MAX);
        return;
    }
    if (n->writes_len == SRV_PENDING_WRITES_MAX) {
        node_fail(n, o, "TRYAGAIN", "too many writes in flight");
        return;
    }
    struct cs_buf b;
    cs_buf_init(&b, CS_KV_COMMAND_BYTES_MAX);
    int rc = cs_kv_command_encode(cmd, &b);
    uint64_t index = 0;
    if (rc == 0) rc = cs_raft_propose(n->raft, b.data, b.len, &index);
    cs_buf_free(&b);
    if (rc) {
        const char *code = rc == CS_ENOTLEADER || rc == CS_EBUSY ? "TRYAGAIN" : "ERR";
        node_fail(n, o, code, cs_strerror(rc));
        return;
    }
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    /* Proposals at or past index from an earlier term of ours were replaced: the log
     * holds a different entry there now (our new one), so they certainly failed. */
    while (n->writes_len > 0) {
        struct node_write *tail =
            &n->writes[(n->writes_head + n->writes_len - 1) % SRV_PENDING_WRITES_MAX];
        if (tail->index < index) break;
        CS_ASSERT(tail->term < st.term);
        if (tail->live) node_fail(n, &tail->origin, "TRYAGAIN", "write lost to a new leader");
        n->writes_len--;
    }
    struct node_write *w = &n->writes[(n->writes_head + n->writes_len) % SRV_PENDING_WRITES_MAX];
    *w = (struct node_write){.index = index, .term = st.term, .live = true, .origin = *o};
    n->writes_len++;
}

static void node_forward(struct srv_node *n, uint64_t leader, const struct cs_kv_command *cmd,
                         bool is_read, const struct node_origin *o)
{
    struct node_forward *f = &n->forwards[o->req_id % SRV_FORWARDS_MAX];
    if (f->used) {
        node_fail(n, o, "TRYAGAIN", "too many forwarded commands in flight");
        return;
    }
    struct cs_buf b;
    cs_buf_init(&b, CS_KV_COMMAND_BYTES_MAX + 16);
    int rc = srv_forward_encode(&b, o->req_id, is_read, cmd);
    bool sent = rc == 0 &&
                srv_peers_send(n->peers, leader, SRV_FRAME_FORWARD, NODE_GROUP_ID, b.data, b.len);
    cs_buf_free(&b);
    if (!sent) {
        node_fail(n, o, "TRYAGAIN", "the leader is not reachable from this node");
        return;
    }
    f->used = true;
    f->is_read = is_read;
    f->leader = leader;
    f->origin = *o;
}

/* The leader a forward went to is no longer the leader: its answer may never
 * come, so its client is answered now rather than at the deadline. A read had
 * no effect (-TRYAGAIN); a write may still be applied by the new leader if the
 * old one replicated it, so its fate is unknown (-NOQUORUM). */
static void node_forwards_orphaned(struct srv_node *n, uint64_t leader)
{
    for (uint32_t k = 0; k < SRV_FORWARDS_MAX; k++) {
        struct node_forward *f = &n->forwards[k];
        if (!f->used || f->leader == leader) continue;
        f->used = false;
        if (f->is_read)
            node_fail(n, &f->origin, "TRYAGAIN", "leader changed before the read was answered");
        else
            node_fail(n, &f->origin, "NOQUORUM",
                      "leader changed before the write was answered; it may still take effect");
    }
}

/* A session read this node has caught up with is served from its own state;
 * otherwise it waits a little for the apply to arrive. */
static void node_session_read(struct srv_node *n, const struct cs_kv_command *cmd,
                              uint64_t min_index, const struct node_origin *o)
{
    struct node_read *r = &n->reads[o->req_id % SRV_PENDING_READS_MAX];
    if (r->used) {
        node_route(n, cmd, SRV_READ_LINEARIZABLE, 0, o);
        return;
    }
    if (!node_read_claim(n, r, cmd, o)) return;
    uint64_t applied = node_applied(n);
    if (min_index <= applied) {
        n->session_local++;
        node_read_serve(n, r, applied);
        return;
    }
    r->wait_index = min_index;
    r->wait_deadline_ms = uv_now(n->loop) + SRV_SESSION_WAIT_MS;
    n->session_waits++;
}

static void node_route(struct srv_node *n, const struct cs_kv_command *cmd, enum srv_read read,
                       uint64_t min_index, const struct node_origin *o)
{
    if (read == SRV_READ_SESSION) {
        node_session_read(n, cmd, min_index, o);
        return;
    }
    bool is_read = read == SRV_READ_LINEARIZABLE;
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    if (st.role == CS_RAFT_LEADER) {
        node_lead(n, cmd, is_read, o);
    } else if (st.leader == CS_RAFT_NONE) {
        node_fail(n, o, "TRYAGAIN", "no leader is known; retry shortly");
    } else if (o->peer) {
        node_fail(n, o, "TRYAGAIN", "leader changed while forwarding");
    } else {
        node_forward(n, st.leader, cmd, is_read, o);
    }
}

void srv_node_submit(struct srv_node *n, const struct cs_kv_command *cmd, enum srv_read read,
                     uint64_t min_index, uint64_t req_id, srv_done_fn done, void *ctx)
{
    CS_ASSERT(done != NULL);
    CS_ASSERT(cmd->ops_len >= 1 && cmd->ops_len <= CS_KV_OPS_MAX);
    for (uint32_t k = 0; read != SRV_WRITE && k < cmd->ops_len; k++)
        CS_ASSERT(srv_op_is_read(cmd->ops[k].type));
    struct node_origin o = {.done = done,
                            .ctx = ctx,
                            .req_id = req_id,
                            .deadline_ms = uv_now(n->loop) + n->config.request_timeout_ms};
    node_route(n, cmd, read, min_index, &o);
}

/* ---- membership ------------------------------------------------------------ */

static void node_admin_fail(struct srv_node *n, const struct node_origin *o, int rc)
{
    switch (rc) {
    case CS_EBUSY:
        return node_fail(n, o, "TRYAGAIN",
                         "another membership change or transfer is in progress, or the learner "
                         "has not caught up; retry shortly");
    case CS_EEXIST:
        return node_fail(n, o, "ERR", "already a member");
    case CS_ENOTFOUND:
        return node_fail(n, o, "ERR", "not a member (or, for TRANSFER, not a voter)");
    case CS_EINVAL:
        return node_fail(n, o, "ERR", "not allowed (the last voter, or this node itself)");
    default:
        return node_fail(n, o, "ERR", cs_strerror(rc));
    }
}

static void node_admin_wait(struct srv_node *n, uint64_t index, const struct node_origin *o)
{
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    if (n->writes_len == SRV_PENDING_WRITES_MAX) { /* proposed already: its fate is the log's */
        node_fail(n, o, "NOQUORUM", "proposed; too many writes in flight to wait for it");
        return;
    }
    struct node_write *w = &n->writes[(n->writes_head + n->writes_len) % SRV_PENDING_WRITES_MAX];
    *w = (struct node_write){
        .index = index, .term = st.term, .live = true, .conf = true, .origin = *o};
    n->writes_len++;
}

void srv_node_admin(struct srv_node *n, enum srv_admin op, uint64_t id,
                    const struct srv_peer_addr *addr, uint64_t req_id, srv_done_fn done, void *ctx)
{
    struct node_origin o = {.done = done,
                            .ctx = ctx,
                            .req_id = req_id,
                            .deadline_ms = uv_now(n->loop) + n->config.request_timeout_ms};
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    if (st.role != CS_RAFT_LEADER) {
        char msg[96];
        snprintf(msg, sizeof msg, "membership commands go to the leader (node %" PRIu64 ")",
                 st.leader);
        node_fail(n, &o, "TRYAGAIN", msg);
        return;
    }
    if (id == n->config.node_id && op != SRV_ADMIN_REMOVE) return node_admin_fail(n, &o, CS_EINVAL);
    uint64_t index = 0;
    int rc;
    switch (op) {
    case SRV_ADMIN_ADD: {
        CS_ASSERT(addr != NULL && addr->id == id);
        if (cs_raft_conf_has(&st.conf, id)) return node_admin_fail(n, &o, CS_EEXIST);
        /* The address goes in the log first, so every member can reach the new one
         * once it applies the configuration that names it. */
        char key[64], text[SRV_HOST_BYTES_MAX + 8];
        int text_len = snprintf(text, sizeof text, "%s:%u", addr->host, addr->port);
        struct cs_kv_op set = {.type = CS_KV_SET,
                               .key = (const uint8_t *)key,
                               .key_len = (uint32_t)node_peer_key(id, key),
                               .value = (const uint8_t *)text,
                               .value_len = (uint32_t)text_len};
        rc = node_propose_op(n, &set, &index);
        if (rc == 0) rc = srv_peers_set(n->peers, addr);
        if (rc == 0) rc = cs_raft_propose_conf(n->raft, CS_RAFT_ADD_LEARNER, id, &index);
        break;
    }
    case SRV_ADMIN_PROMOTE:
        rc = cs_raft_propose_conf(n->raft, CS_RAFT_PROMOTE, id, &index);
        break;
    case SRV_ADMIN_REMOVE: {
        rc = cs_raft_propose_conf(n->raft, CS_RAFT_REMOVE, id, &index);
        /* Its address goes too (best effort: a stale one is only never dialled). */
        char key[64];
        struct cs_kv_op del = {.type = CS_KV_DEL,
                               .key = (const uint8_t *)key,
                               .key_len = (uint32_t)node_peer_key(id, key)};
        uint64_t del_index;
        if (rc == 0) (void)node_propose_op(n, &del, &del_index);
        break;
    }
    case SRV_ADMIN_TRANSFER:
        rc = cs_raft_transfer_leadership(n->raft, id);
        if (rc == 0) {
            static const struct cs_kv_reply empty;
            struct srv_result res = {.reply = &empty};
            node_finish(n, &o, &res, NULL, 0);
            return;
        }
        break;
    default:
        CS_UNREACHABLE();
    }
    if (rc != 0) return node_admin_fail(n, &o, rc);
    CS_LOGI("membership change %d for node %" PRIu64 " proposed at %" PRIu64, (int)op, id, index);
    node_admin_wait(n, index, &o);
}

/* ---- forwarding between nodes --------------------------------------------- */

static void node_send_forward_reply(struct srv_node *n, const struct node_origin *o,
                                    const struct srv_result *res, const uint8_t *reply_bytes,
                                    size_t reply_len, uint8_t kind)
{
    struct cs_buf b;
    cs_buf_init(&b, CS_KV_REPLY_BYTES_MAX + 64);
    int rc;
    if (res->err_code) {
        rc = srv_forward_reply_encode_error(&b, o->peer_req_id, res->err_code, res->err_msg);
    } else if (kind == SRV_FORWARD_KIND_APPLY) {
        CS_ASSERT(reply_bytes != NULL);
        rc = srv_forward_reply_encode_apply(&b, o->peer_req_id, res->index, reply_bytes, reply_len);
    } else {
        rc = srv_forward_reply_encode_read(&b, o->peer_req_id, res->index, res->reply);
    }
    if (rc == 0) {
        (void)srv_peers_send(n->peers, o->peer, SRV_FRAME_FORWARD_REPLY, NODE_GROUP_ID, b.data,
                             b.len);
    }
    cs_buf_free(&b);
}

static void node_on_forward(struct srv_node *n, uint64_t from, const uint8_t *p, size_t len)
{
    static struct cs_kv_command cmd; /* one thread; too large for the stack of a callback */
    uint64_t req_id = 0;
    bool is_read = false;
    int rc = srv_forward_decode(p, len, &req_id, &is_read, &cmd);
    struct node_origin o = {.peer = from,
                            .peer_req_id = req_id,
                            .req_id = ++n->req_next,
                            .deadline_ms = uv_now(n->loop) + n->config.request_timeout_ms};
    if (rc) {
        CS_LOGW("peer %" PRIu64 ": bad forward: %s", from, cs_strerror(rc));
        if (len >= 8) node_fail(n, &o, "ERR", "forwarded command did not decode");
        return;
    }
    node_route(n, &cmd, is_read ? SRV_READ_LINEARIZABLE : SRV_WRITE, 0, &o);
}

static void node_on_forward_reply(struct srv_node *n, const uint8_t *p, size_t len)
{
    static struct srv_forward_reply fr;
    int rc = srv_forward_reply_decode(p, len, &fr);
    if (len < 8) return; /* not even a request id: nothing to answer */
    /* fr.req_id is decoded first, so it names the request even when the rest is malformed. */
    struct node_forward *f = &n->forwards[fr.req_id % SRV_FORWARDS_MAX];
    if (!f->used || f->origin.req_id != fr.req_id) return; /* answered already, by its deadline */
    struct node_origin o = f->origin;
    f->used = false;
    if (rc) {
        node_fail(n, &o, "ERR", "malformed reply from the leader");
    } else if (fr.is_error) {
        node_fail(n, &o, fr.code, fr.message);
    } else if (!node_kv_reply_ok(fr.reply.rc)) {
        node_fail(n, &o, "ERR", node_kv_error(fr.reply.rc));
    } else {
        struct srv_result res = {.reply = &fr.reply, .index = fr.index};
        node_finish(n, &o, &res, NULL, 0);
    }
}

void srv_node_on_frame(struct srv_node *n, uint64_t from, uint8_t type, uint64_t group_id,
                       const uint8_t *payload, size_t len)
{
    if (group_id != NODE_GROUP_ID) return;
    if (type == CS_FRAME_RAFT) {
        static struct cs_raft_entry entries[CS_RAFT_MSG_ENTRIES_MAX];
        struct cs_raft_msg msg;
        int rc = cs_raft_msg_decode(payload, len, &msg, entries, CS_RAFT_MSG_ENTRIES_MAX);
        if (rc || msg.from != from) {
            CS_LOGW("peer %" PRIu64 ": bad Raft message: %s", from, cs_strerror(rc));
            return;
        }
        (void)cs_raft_step(n->raft, &msg);
    } else if (type == SRV_FRAME_FORWARD) {
        node_on_forward(n, from, payload, len);
    } else if (type == SRV_FRAME_FORWARD_REPLY) {
        node_on_forward_reply(n, payload, len);
    }
}

/* ---- lifecycle and introspection ------------------------------------------ */

void srv_node_add_drained(struct srv_node *n, void (*fn)(void *ctx), void *ctx)
{
    CS_ASSERT(n->drained_len < NODE_DRAINED_MAX);
    n->drained[n->drained_len] = fn;
    n->drained_ctx[n->drained_len] = ctx;
    n->drained_len++;
}

static int node_open_storage(struct srv_node *n)
{
    char path[SRV_PATH_BYTES_MAX + 16];
    snprintf(path, sizeof path, "%s/lmdb", n->config.dir);
    struct cs_store_options so = {.dir = path};
    int rc = cs_store_open(&so, &n->meta);
    if (rc) return rc;
    rc = node_identity_check(n);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/wal", n->config.dir);
    struct cs_store_log_options lo = {.backend = CS_STORE_LOG_BACKEND_WAL,
                                      .dir = path,
                                      .release = srv_reclaim_release,
                                      .release_ctx = &n->reclaim};
    return cs_store_log_open(&lo, &n->log);
}

int srv_node_open(struct srv_node **out, uv_loop_t *loop, const struct srv_config *config)
{
    struct srv_node *n = calloc(1, sizeof *n);
    if (!n) return CS_ENOMEM;
    n->loop = loop;
    n->config = *config;
    srv_reclaim_init(&n->reclaim, loop);
    n->start_ms = uv_now(loop);
    n->writes = calloc(SRV_PENDING_WRITES_MAX, sizeof *n->writes);
    n->reads = calloc(SRV_PENDING_READS_MAX, sizeof *n->reads);
    n->forwards = calloc(SRV_FORWARDS_MAX, sizeof *n->forwards);
    n->batches = calloc(NODE_READ_BATCHES_MAX, sizeof *n->batches);
    n->batch_first = n->batch_next = 1; /* id 0 means "gathering" */
    cs_buf_init(&n->reply_buf, CS_KV_REPLY_BYTES_MAX);
    int rc =
        (!n->writes || !n->reads || !n->forwards || !n->batches) ? CS_ENOMEM : cs_kv_new(&n->kv);
    if (rc == 0) rc = node_open_storage(n);
    if (rc == 0) rc = node_restore(n, uv_now(loop));
    if (rc == 0) rc = srv_peers_open(&n->peers, loop, config, n);
    if (rc == 0) node_learn_peers(n); /* members added at run time, from the snapshot */
    if (rc) {
        srv_node_close(n);
        return rc;
    }
    uv_timer_init(loop, &n->tick_timer);
    n->tick_timer.data = n;
    uv_timer_start(&n->tick_timer, node_on_tick, NODE_TICK_MS, NODE_TICK_MS);
    uv_prepare_init(loop, &n->prepare);
    n->prepare.data = n;
    uv_prepare_start(&n->prepare, node_on_prepare);
    uv_check_init(loop, &n->check);
    n->check.data = n;
    uv_check_start(&n->check, node_on_check);
    n->handles_started = true;
    *out = n;
    return 0;
}

void srv_node_close(struct srv_node *n)
{
    if (!n) return;
    n->closing = true;
    if (n->snap) srv_snapshot_stop(n->snap);
    while (n->snap || n->reclaim.jobs > 0) /* workers use the log: wait for them */
        uv_run(n->loop, UV_RUN_ONCE);
    if (n->handles_started) {
        uv_close((uv_handle_t *)&n->tick_timer, NULL);
        uv_close((uv_handle_t *)&n->prepare, NULL);
        uv_close((uv_handle_t *)&n->check, NULL);
    }
    if (n->raft) cs_raft_free(n->raft);
    if (n->peers) srv_peers_close(n->peers);
    if (n->log) cs_store_log_close(n->log);
    if (n->meta) cs_store_close(n->meta);
    if (n->kv) cs_kv_free(n->kv);
    srv_reclaim_drain(&n->reclaim);
    for (uint32_t k = 0; n->reads && k < SRV_PENDING_READS_MAX; k++)
        free(n->reads[k].keys);
    free(n->writes);
    free(n->reads);
    free(n->forwards);
    free(n->batches);
    cs_buf_free(&n->reply_buf);
    free(n);
}

uint64_t srv_node_dbsize(struct srv_node *n)
{
    /* Not counting the members' replicated addresses: they are not the clients' keys. */
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    uint64_t reserved = 0;
    for (uint32_t k = 0; k < st.conf.members_len; k++) {
        char key[64];
        size_t key_len = node_peer_key(st.conf.members[k].id, key);
        const uint8_t *v;
        size_t v_len;
        reserved += cs_kv_get(n->kv, key, key_len, 0, &v, &v_len) == 0;
    }
    uint64_t keys = cs_kv_keys(n->kv);
    return keys >= reserved ? keys - reserved : 0;
}

uint64_t srv_wall_ms(void)
{
    /* Read once per loop iteration: expiry is judged in ms, and at 400k commands a
     * second a clock read per command was a tenth of the node's time. */
    static uint64_t loop_ms = UINT64_MAX, wall_ms;
    uint64_t now = uv_now(uv_default_loop());
    if (now != loop_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        wall_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        loop_ms = now;
    }
    return wall_ms;
}

uint64_t srv_node_now_ms(struct srv_node *n)
{
    return uv_now(n->loop);
}

uint64_t srv_node_next_req_id(struct srv_node *n)
{
    return ++n->req_next;
}

void srv_node_status(struct srv_node *n, struct cs_raft_status *status,
                     struct srv_node_counters *counters)
{
    cs_raft_status(n->raft, status);
    *counters = (struct srv_node_counters){.leader_changes = n->leader_changes,
                                           .syncs = n->syncs,
                                           .peer_frames_dropped = srv_peers_dropped(n->peers),
                                           .peers_connected = srv_peers_connected(n->peers),
                                           .keys = cs_kv_keys(n->kv),
                                           .expired = cs_kv_expired_total(n->kv),
                                           .read_rounds = n->read_rounds,
                                           .snapshots = n->snapshots,
                                           .session_local = n->session_local,
                                           .session_upgraded = n->session_upgraded};
    for (uint32_t k = 0; k < status->conf.members_len; k++)
        counters->voters += status->conf.members[k].voter;
}

void srv_node_info(struct srv_node *n, struct cs_buf *out)
{
    struct cs_raft_status st;
    cs_raft_status(n->raft, &st);
    char text[2048];
    int len = snprintf(
        text, sizeof text,
        "# Server\r\nconsist_version:0.1\r\nnode_id:%" PRIu64 "\r\ncluster_id:%s\r\n"
        "tcp_port:%u\r\npeer_port:%u\r\nuptime_in_ms:%" PRIu64 "\r\n"
        "\r\n# Replication\r\nrole:%s\r\nconnected_peers:%u\r\n"
        "\r\n# Raft\r\nraft_group:%d\r\nraft_role:%s\r\nraft_term:%" PRIu64
        "\r\nraft_leader:%" PRIu64 "\r\nraft_commit_index:%" PRIu64
        "\r\nraft_applied_index:%" PRIu64 "\r\nraft_last_index:%" PRIu64
        "\r\nraft_snapshot_index:%" PRIu64 "\r\nraft_voters:%u\r\nraft_leader_changes:%" PRIu64
        "\r\nraft_syncs:%" PRIu64 "\r\nraft_read_rounds:%" PRIu64 "\r\npeer_frames_dropped:%" PRIu64
        "\r\n\r\n# Keyspace\r\ndb0:keys=%" PRIu64 "\r\n",
        n->config.node_id, n->config.cluster_id, n->config.port, n->config.peer_port,
        uv_now(n->loop) - n->start_ms, st.role == CS_RAFT_LEADER ? "master" : "slave",
        srv_peers_connected(n->peers), NODE_GROUP_ID, cs_raft_role_name(st.role), st.term,
        st.leader, st.commit, st.applied, st.last_index, st.snapshot_index,
        cs_raft_conf_voters(&st.conf), n->leader_changes, n->syncs, n->read_rounds,
        srv_peers_dropped(n->peers), cs_kv_keys(n->kv));
    if (len > 0) cs_put_raw(out, text, (size_t)len < sizeof text ? (size_t)len : sizeof text - 1);
}
