/*
 * raft_harness.h: a deterministic in-process Raft cluster for tests.
 *
 * The one idea: one seeded generator decides everything (delays, loss,
 * duplication, partitions, crashes, client traffic, membership changes), the
 * driver follows the Ready contract to the letter against an in-memory
 * "disk" that keeps only what a Ready told it to persist, and after every
 * single event the harness checks the safety invariants of Raft:
 *
 *   election safety      at most one leader per term, ever;
 *   log matching         two logs with an entry of the same index and term
 *                        agree on every entry up to it;
 *   leader completeness  every committed entry is in every leader's log;
 *   state machine safety no two nodes apply different entries at one index;
 *   monotonicity         commit and apply indexes never go back (the durable
 *                        commit not even across crashes);
 *   read safety          a ReadIndex read is served at an index at least the
 *                        highest commit any node knew when it was asked.
 *
 * A crash throws away the node's memory and everything a Ready had not yet
 * handed to the disk; it can strike between two Ready batches. Messages
 * travel encoded (cs_raft_msg_encode/decode), so the codec is on the path.
 * Tests include this header; every function is static.
 */
#ifndef CS_TEST_RAFT_HARNESS_H
#define CS_TEST_RAFT_HARNESS_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/raft.h"
#include "consist/rng.h"

#define H_UNUSED __attribute__((unused))

#define H_NODES_MAX   5
#define H_PACKETS_MAX 4096
#define H_TERMS_MAX   (1u << 16)
#define H_INDEXES_MAX (1u << 16)
#define H_READS_MAX   256
#define H_SNAP_FILLER 200 /* bytes of padding so snapshots take several chunks */
#define H_GROUP_ID    7

struct h_packet {
    uint64_t deliver_ms;
    uint64_t from;
    uint64_t to;
    uint8_t *bytes;
    size_t len;
};

/* What a node's disk holds: only what a Ready handed over. */
struct h_disk {
    struct cs_raft_hard_state hs;
    struct cs_raft_snapshot_meta snap_meta;
    uint8_t *snap_data;
    size_t snap_len;
    struct cs_raft_entry *entries; /* data owned */
    size_t entries_len;
    size_t entries_cap;
};

struct h_node {
    uint64_t id;
    bool up;
    uint64_t restart_ms;
    struct cs_raft *r;
    struct h_disk disk;
    int64_t clock_skew_ms;
    /* The state machine: a hash chain over applied entries. */
    uint64_t sm_index;
    uint64_t sm_hash;
    uint64_t commit_seen; /* highest commit seen while up */
    uint64_t checked_commit;
    int side; /* partition side */
};

/* Faults and traffic, as chances per thousand per 5 ms step unless named. */
struct h_faults {
    uint32_t loss_per_mille;
    uint32_t dup_per_mille;
    uint32_t delay_ms_max;
    uint32_t crash_per_mille;       /* per step, one random node */
    uint32_t crash_ready_per_mille; /* between two Ready batches */
    uint32_t partition_per_mille;
    uint32_t kill_leader_per_mille;      /* per step: crash whichever node leads */
    uint32_t isolate_leader_per_mille;   /* per step: cut the leader (and maybe one more) off */
    uint32_t crash_on_commit_per_mille;  /* a leader whose commit just advanced */
    uint32_t crash_on_elected_per_mille; /* a node that just became leader */
    uint32_t propose_per_mille;
    uint32_t read_per_mille;
    uint32_t conf_per_mille;
    uint32_t transfer_per_mille;
    uint32_t compact_every; /* entries applied between snapshots; 0: never */
};

struct h_read {
    uint64_t ctx;
    uint64_t commit_at_issue;
};

struct h_cluster {
    struct cs_rng rng;
    uint64_t seed;
    uint64_t now_ms;
    uint32_t nodes_len;
    uint32_t voters_initial;
    struct h_node nodes[H_NODES_MAX];
    struct h_packet *packets;
    size_t packets_len;
    struct h_faults faults;
    struct cs_raft_config base; /* per-node configs copy this */
    uint32_t bugs;
    /* Global records for the invariants. */
    uint64_t *leader_of_term; /* [H_TERMS_MAX] */
    uint64_t *committed_hash; /* [H_INDEXES_MAX]: entry hash committed at index, 0 unknown */
    uint64_t *applied_hash;   /* [H_INDEXES_MAX] */
    uint64_t *committed_term; /* [H_INDEXES_MAX]: lowest term in which a node knew it committed */
    uint64_t committed_max;
    uint64_t commit_max_seen;
    struct h_read reads[H_READS_MAX];
    uint32_t reads_len;
    uint64_t read_ctx_next;
    uint64_t command_next;
    uint64_t reads_served;
    uint64_t applied_total;
    uint64_t snapshots_installed;
    uint64_t crashes;
    bool contract_unchecked; /* skip the persistence contract check (to show the others) */
    uint64_t conf_changes;   /* proposed and accepted by a leader */
    uint64_t msgs_sent;      /* messages handed to the network */
    uint64_t fsyncs;         /* Ready batches that wrote to disk (one sync each) */
    uint64_t transfers;
    char violation[256];
};

static bool h_trace; /* set from CS_RAFT_TRACE: one line per event on stderr */

static H_UNUSED void h_trace_msg(const struct h_cluster *c, const char *what,
                                 const struct cs_raft_msg *m)
{
    if (!h_trace) return;
    fprintf(stderr,
            "%6" PRIu64 " %s %s %" PRIu64 "->%" PRIu64 " t=%" PRIu64 " lt=%" PRIu64 " i=%" PRIu64
            " c=%" PRIu64 " n=%u rej=%d hint=%" PRIu64 "/%" PRIu64 "\n",
            c->now_ms, what, cs_raft_msg_type_name(m->type), m->from, m->to, m->term, m->log_term,
            m->index, m->commit, m->entries_len, m->reject, m->hint_term, m->hint_index);
}

static H_UNUSED void h_trace_node(const struct h_cluster *c, const struct cs_raft *r,
                                  const char *what)
{
    if (!h_trace) return;
    struct cs_raft_status st;
    cs_raft_status(r, &st);
    fprintf(stderr,
            "%6" PRIu64 " node %" PRIu64 " %s: %s term %" PRIu64 " vote %" PRIu64 " commit %" PRIu64
            " log %" PRIu64 "..%" PRIu64 "\n",
            c->now_ms, st.id, what, cs_raft_role_name(st.role), st.term, st.vote, st.commit,
            st.first_index, st.last_index);
}

static H_UNUSED uint64_t h_hash(uint64_t h, const void *data, size_t len)
{
    const uint8_t *p = data;
    for (size_t k = 0; k < len; k++) {
        h ^= p[k];
        h *= 0x100000001b3ull;
    }
    return h;
}

static H_UNUSED uint64_t h_entry_hash(const struct cs_raft_entry *e)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = h_hash(h, &e->term, sizeof e->term);
    h = h_hash(h, &e->index, sizeof e->index);
    h = h_hash(h, &e->type, 1);
    h = h_hash(h, e->data, e->data_len);
    return h | 1; /* never 0: 0 means unknown */
}

static H_UNUSED void h_violate(struct h_cluster *c, const char *fmt, ...)
{
    if (c->violation[0]) return;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(c->violation, sizeof c->violation, "t=%" PRIu64 "ms: ", c->now_ms);
    vsnprintf(c->violation + n, sizeof c->violation - (size_t)n, fmt, ap);
    va_end(ap);
}

static H_UNUSED void h_disk_free(struct h_disk *d)
{
    for (size_t k = 0; k < d->entries_len; k++)
        free((void *)(uintptr_t)d->entries[k].data);
    free(d->entries);
    free(d->snap_data);
    memset(d, 0, sizeof *d);
}

static H_UNUSED void h_disk_truncate(struct h_disk *d, uint64_t from_index)
{
    while (d->entries_len > 0 && d->entries[d->entries_len - 1].index >= from_index) {
        d->entries_len--;
        free((void *)(uintptr_t)d->entries[d->entries_len].data);
    }
}

static H_UNUSED void h_disk_append(struct h_disk *d, const struct cs_raft_entry *e)
{
    if (d->entries_len == d->entries_cap) {
        d->entries_cap = d->entries_cap ? d->entries_cap * 2 : 64;
        d->entries = realloc(d->entries, d->entries_cap * sizeof *d->entries);
        if (!d->entries) abort();
    }
    struct cs_raft_entry copy = *e;
    if (e->data_len) {
        uint8_t *p = malloc(e->data_len);
        if (!p) abort();
        memcpy(p, e->data, e->data_len);
        copy.data = p;
    }
    d->entries[d->entries_len++] = copy;
}

/* Drop durable entries the snapshot covers. */
static H_UNUSED void h_disk_set_snapshot(struct h_disk *d, const struct cs_raft_snapshot_meta *m,
                                         const uint8_t *data, size_t len)
{
    free(d->snap_data);
    d->snap_data = malloc(len ? len : 1);
    if (!d->snap_data) abort();
    if (len) memcpy(d->snap_data, data, len);
    d->snap_len = len;
    d->snap_meta = *m;
    size_t drop = 0;
    while (drop < d->entries_len && d->entries[drop].index <= m->index) {
        free((void *)(uintptr_t)d->entries[drop].data);
        drop++;
    }
    if (drop) memmove(d->entries, d->entries + drop, (d->entries_len - drop) * sizeof *d->entries);
    d->entries_len -= drop;
    /* An entry that does not follow the snapshot cannot be kept. */
    if (d->entries_len && d->entries[0].index != m->index + 1) h_disk_truncate(d, 0);
}

/* The state machine's snapshot: index, hash and filler to make several chunks. */
static H_UNUSED size_t h_sm_encode(const struct h_node *n, uint8_t *out)
{
    memcpy(out, &n->sm_index, 8);
    memcpy(out + 8, &n->sm_hash, 8);
    for (size_t k = 0; k < H_SNAP_FILLER; k++)
        out[16 + k] = (uint8_t)(k ^ n->sm_hash);
    return 16 + H_SNAP_FILLER;
}

static H_UNUSED void h_sm_restore(struct h_cluster *c, struct h_node *n, const uint8_t *data,
                                  size_t len, uint64_t index)
{
    if (index == 0) {
        n->sm_index = 0;
        n->sm_hash = 0;
        return;
    }
    if (len != 16 + H_SNAP_FILLER) {
        h_violate(c, "node %" PRIu64 ": snapshot of %zu bytes", n->id, len);
        return;
    }
    memcpy(&n->sm_index, data, 8);
    memcpy(&n->sm_hash, data + 8, 8);
    if (n->sm_index != index) {
        h_violate(c, "node %" PRIu64 ": snapshot data at %" PRIu64 " says %" PRIu64, n->id, index,
                  n->sm_index);
    }
}

static H_UNUSED void h_node_config(struct h_cluster *c, struct h_node *n,
                                   struct cs_raft_config *cfg)
{
    *cfg = c->base;
    cfg->id = n->id;
    cfg->group_id = H_GROUP_ID;
    cfg->bugs = c->bugs;
    cs_rng_fork(&c->rng, &cfg->rng);
}

static H_UNUSED uint64_t h_node_now(const struct h_cluster *c, const struct h_node *n)
{
    int64_t t = (int64_t)c->now_ms + n->clock_skew_ms;
    return t < 0 ? 0 : (uint64_t)t;
}

static H_UNUSED void h_node_start(struct h_cluster *c, struct h_node *n)
{
    struct cs_raft_config cfg;
    h_node_config(c, n, &cfg);
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    rs.hard_state = n->disk.hs;
    rs.snapshot.meta = n->disk.snap_meta;
    rs.snapshot.data = n->disk.snap_data;
    rs.snapshot.data_len = n->disk.snap_len;
    rs.entries = n->disk.entries;
    rs.entries_len = n->disk.entries_len;
    int rc = cs_raft_new(&cfg, &rs, h_node_now(c, n), &n->r);
    if (rc) {
        h_violate(c, "node %" PRIu64 ": restart failed: %s", n->id, cs_errname(rc));
        n->up = false;
        return;
    }
    h_sm_restore(c, n, n->disk.snap_data, n->disk.snap_len, n->disk.snap_meta.index);
    h_trace_node(c, n->r, "START");
    n->up = true;
    n->commit_seen = 0;
    n->checked_commit = n->disk.snap_meta.index;
}

static H_UNUSED void h_node_crash(struct h_cluster *c, struct h_node *n)
{
    if (!n->up) return;
    h_trace_node(c, n->r, "CRASH");
    cs_raft_free(n->r);
    n->r = NULL;
    n->up = false;
    /* Half are quick process restarts (the node is back while the election
     * it took part in still runs), half long outages (it needs a snapshot). */
    bool quick = cs_rng_chance(&c->rng, 1, 2);
    n->restart_ms =
        c->now_ms + (quick ? 5 + cs_rng_below(&c->rng, 60) : 50 + cs_rng_below(&c->rng, 3000));
    c->crashes++;
}

static H_UNUSED void h_cluster_init(struct h_cluster *c, uint64_t seed, uint32_t nodes_len,
                                    uint32_t voters_initial, uint32_t bugs)
{
    memset(c, 0, sizeof *c);
    h_trace = getenv("CS_RAFT_TRACE") != NULL;
    cs_rng_init(&c->rng, seed);
    c->seed = seed;
    c->nodes_len = nodes_len;
    c->voters_initial = voters_initial;
    c->bugs = bugs;
    c->packets = calloc(H_PACKETS_MAX, sizeof *c->packets);
    c->leader_of_term = calloc(H_TERMS_MAX, sizeof *c->leader_of_term);
    c->committed_hash = calloc(H_INDEXES_MAX, sizeof *c->committed_hash);
    c->applied_hash = calloc(H_INDEXES_MAX, sizeof *c->applied_hash);
    c->committed_term = calloc(H_INDEXES_MAX, sizeof *c->committed_term);
    if (!c->committed_term || !c->packets || !c->leader_of_term || !c->committed_hash ||
        !c->applied_hash)
        abort();
    cs_raft_config_default(&c->base, 1, H_GROUP_ID, 0);
    c->base.election_timeout_ms = 300;
    c->base.heartbeat_interval_ms = 50;
    c->base.chunk_bytes = 64;
    c->base.msg_entries_max = 1 + (uint32_t)cs_rng_below(&c->rng, 4);
    c->base.inflight_max = 1 + (uint32_t)cs_rng_below(&c->rng, 4);
    c->base.uncommitted_max = 64;
    struct cs_raft_conf conf;
    memset(&conf, 0, sizeof conf);
    for (uint32_t k = 0; k < voters_initial; k++) {
        conf.members[conf.members_len++] = (struct cs_raft_member){k + 1, true};
    }
    for (uint32_t k = 0; k < nodes_len; k++) {
        struct h_node *n = &c->nodes[k];
        n->id = k + 1;
        if (k < voters_initial) n->disk.snap_meta.conf = conf; /* bootstrap */
        n->clock_skew_ms = (int64_t)cs_rng_below(&c->rng, 200);
    }
}

static H_UNUSED void h_cluster_start(struct h_cluster *c)
{
    for (uint32_t k = 0; k < c->nodes_len; k++)
        h_node_start(c, &c->nodes[k]);
}

static H_UNUSED void h_cluster_free(struct h_cluster *c)
{
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        cs_raft_free(c->nodes[k].r);
        h_disk_free(&c->nodes[k].disk);
    }
    for (size_t k = 0; k < c->packets_len; k++)
        free(c->packets[k].bytes);
    free(c->packets);
    free(c->leader_of_term);
    free(c->committed_hash);
    free(c->applied_hash);
    free(c->committed_term);
}

static H_UNUSED struct h_node *h_node_by_id(struct h_cluster *c, uint64_t id)
{
    if (id == 0 || id > c->nodes_len) return NULL;
    return &c->nodes[id - 1];
}

static H_UNUSED void h_send(struct h_cluster *c, const struct cs_raft_msg *m)
{
    struct cs_buf buf;
    cs_buf_init(&buf, CS_RAFT_MSG_BYTES_MAX);
    int rc = cs_raft_msg_encode(m, &buf);
    if (rc) {
        h_violate(c, "encode failed: %s", cs_errname(rc));
        cs_buf_free(&buf);
        return;
    }
    int copies = 1;
    if (cs_rng_chance(&c->rng, c->faults.loss_per_mille, 1000)) copies = 0;
    if (cs_rng_chance(&c->rng, c->faults.dup_per_mille, 1000)) copies++;
    for (int k = 0; k < copies && c->packets_len < H_PACKETS_MAX; k++) {
        struct h_packet *p = &c->packets[c->packets_len++];
        p->deliver_ms = c->now_ms + 1 + cs_rng_below(&c->rng, c->faults.delay_ms_max + 1);
        p->from = m->from;
        p->to = m->to;
        p->len = buf.len;
        p->bytes = malloc(buf.len);
        if (!p->bytes) abort();
        memcpy(p->bytes, buf.data, buf.len);
    }
    cs_buf_free(&buf);
}

static H_UNUSED void h_apply(struct h_cluster *c, struct h_node *n, const struct cs_raft_entry *e)
{
    if (e->index != n->sm_index + 1) {
        h_violate(c, "node %" PRIu64 " applies %" PRIu64 " after %" PRIu64, n->id, e->index,
                  n->sm_index);
        return;
    }
    uint64_t h = h_entry_hash(e);
    if (e->index < H_INDEXES_MAX) {
        uint64_t *slot = &c->applied_hash[e->index];
        if (*slot && *slot != h) {
            h_violate(
                c, "state machine safety: node %" PRIu64 " applies a different entry at %" PRIu64,
                n->id, e->index);
        }
        *slot = h;
    }
    n->sm_index = e->index;
    n->sm_hash = h_hash(n->sm_hash ^ h, e->data, e->data_len);
    c->applied_total++;
}

static H_UNUSED void h_check_reads(struct h_cluster *c, const struct cs_raft_ready *rd)
{
    for (size_t k = 0; k < rd->reads_len; k++) {
        uint64_t ctx = 0;
        if (rd->reads[k].ctx_len != 8) {
            h_violate(c, "read ctx of %u bytes", rd->reads[k].ctx_len);
            continue;
        }
        memcpy(&ctx, rd->reads[k].ctx, 8);
        for (uint32_t j = 0; j < c->reads_len; j++) {
            if (c->reads[j].ctx != ctx) continue;
            if (rd->reads[k].index < c->reads[j].commit_at_issue) {
                h_violate(c,
                          "stale read: served at %" PRIu64 " but %" PRIu64
                          " was committed when it was asked",
                          rd->reads[k].index, c->reads[j].commit_at_issue);
            }
            c->reads[j] = c->reads[--c->reads_len];
            c->reads_served++;
            break;
        }
    }
}

/*
 * The persistence contract, checked on the wire: a vote grant goes out only
 * once the disk holds that vote in that term, an append acknowledgement only
 * once the disk holds the acknowledged entries, and no message carries a
 * term the disk has not reached (pre-votes excepted: they speak of a term
 * to come).
 */
static H_UNUSED void h_check_contract(struct h_cluster *c, const struct h_node *n,
                                      const struct cs_raft_msg *m)
{
    const struct h_disk *d = &n->disk;
    if (c->contract_unchecked) return;
    bool pre = m->type == CS_RAFT_MSG_PRE_VOTE || m->type == CS_RAFT_MSG_PRE_VOTE_RESP;
    if (!pre && m->term > d->hs.term) {
        h_violate(c,
                  "persistence: node %" PRIu64 " sends %s in term %" PRIu64 " with term %" PRIu64
                  " on disk",
                  n->id, cs_raft_msg_type_name(m->type), m->term, d->hs.term);
    }
    if (m->type == CS_RAFT_MSG_VOTE_RESP && !m->reject &&
        (d->hs.term < m->term || (d->hs.term == m->term && d->hs.vote != m->to))) {
        h_violate(c,
                  "persistence: node %" PRIu64 " grants its vote in term %" PRIu64
                  " before the vote is on disk",
                  n->id, m->term);
    }
    if (m->type == CS_RAFT_MSG_APPEND_RESP && !m->reject) {
        uint64_t last = d->entries_len ? d->entries[d->entries_len - 1].index : d->snap_meta.index;
        if (last < m->index) {
            h_violate(c,
                      "persistence: node %" PRIu64 " acknowledges %" PRIu64 " with only %" PRIu64
                      " on disk",
                      n->id, m->index, last);
        }
    }
}

/* Do one Ready batch by the contract; false if there was none. */
static H_UNUSED bool h_ready_once(struct h_cluster *c, struct h_node *n)
{
    if (!n->up || !cs_raft_has_ready(n->r)) return false;
    struct cs_raft_ready rd;
    cs_raft_ready(n->r, &rd);
    struct h_disk *d = &n->disk;
    if (rd.snapshot) { /* 1. install the snapshot */
        h_sm_restore(c, n, rd.snapshot->data, rd.snapshot->data_len, rd.snapshot->meta.index);
        h_disk_set_snapshot(d, &rd.snapshot->meta, rd.snapshot->data, rd.snapshot->data_len);
        c->snapshots_installed++;
    }
    if (rd.entries_len) { /* 2. entries */
        h_disk_truncate(d, rd.entries[0].index);
        for (size_t k = 0; k < rd.entries_len; k++)
            h_disk_append(d, &rd.entries[k]);
    }
    if (rd.hard_state_changed) { /* 3. hard state */
        if (rd.hard_state.commit < d->hs.commit) {
            h_violate(c, "node %" PRIu64 ": durable commit goes back %" PRIu64 " -> %" PRIu64,
                      n->id, d->hs.commit, rd.hard_state.commit);
        }
        if (rd.hard_state.term < d->hs.term) {
            h_violate(c, "node %" PRIu64 ": durable term goes back", n->id);
        }
        d->hs = rd.hard_state;
    }
    c->fsyncs += rd.snapshot || rd.entries_len || rd.hard_state_changed;
    c->msgs_sent += rd.msgs_len;
    for (size_t k = 0; k < rd.msgs_len; k++) { /* 4. send, after checking the contract */
        h_check_contract(c, n, &rd.msgs[k]);
        h_send(c, &rd.msgs[k]);
    }
    for (size_t k = 0; k < rd.committed_len; k++)
        h_apply(c, n, &rd.committed[k]); /* 5. */
    h_check_reads(c, &rd);
    cs_raft_advance(n->r, &rd);
    return true;
}

static H_UNUSED void h_maybe_compact(struct h_cluster *c, struct h_node *n)
{
    if (!n->up || c->faults.compact_every == 0) return;
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    if (st.applied < st.snapshot_index + c->faults.compact_every) return;
    if (n->sm_index != st.applied) {
        h_violate(c, "node %" PRIu64 ": state machine at %" PRIu64 ", raft applied %" PRIu64, n->id,
                  n->sm_index, st.applied);
        return;
    }
    uint8_t snap[16 + H_SNAP_FILLER];
    size_t len = h_sm_encode(n, snap);
    int rc = cs_raft_compact(n->r, st.applied, snap, len);
    if (rc) {
        h_violate(c, "compact failed: %s", cs_errname(rc));
        return;
    }
    struct cs_raft_snapshot_meta meta;
    cs_raft_snapshot_meta(n->r, &meta);
    h_disk_set_snapshot(&n->disk, &meta, snap, len);
}

/* Run Ready batches until none remain; a crash may strike between two. */
static H_UNUSED void h_drain(struct h_cluster *c, struct h_node *n)
{
    for (int k = 0; k < 64 && n->up; k++) {
        struct cs_raft_status before, after;
        cs_raft_status(n->r, &before);
        if (!h_ready_once(c, n)) break;
        cs_raft_status(n->r, &after);
        bool leader_committed = after.role == CS_RAFT_LEADER && after.commit > before.commit;
        if (leader_committed && cs_rng_chance(&c->rng, c->faults.crash_on_commit_per_mille, 1000)) {
            h_node_crash(c, n);
            return;
        }
        if (cs_rng_chance(&c->rng, c->faults.crash_ready_per_mille, 1000)) {
            h_node_crash(c, n);
            return;
        }
    }
    h_maybe_compact(c, n);
}

/* A node's log as an election sees it: memory while up, the disk while down. */
static H_UNUSED void h_log_last(const struct h_node *n, uint64_t *term, uint64_t *index)
{
    if (n->up) {
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
        return;
    }
    const struct h_disk *d = &n->disk;
    *index = d->entries_len ? d->entries[d->entries_len - 1].index : d->snap_meta.index;
    *term = d->entries_len ? d->entries[d->entries_len - 1].term : d->snap_meta.term;
}

/* Does the node hold the entry with hash h at index (a snapshot past it counts)? */
static H_UNUSED bool h_log_has(const struct h_node *n, uint64_t index, uint64_t h)
{
    if (n->up) {
        struct cs_raft_status st;
        cs_raft_status(n->r, &st);
        if (index <= st.snapshot_index) return true;
        struct cs_raft_entry e;
        return cs_raft_entry_at(n->r, index, &e) == 0 && h_entry_hash(&e) == h;
    }
    const struct h_disk *d = &n->disk;
    if (index <= d->snap_meta.index) return true;
    for (size_t k = 0; k < d->entries_len; k++) {
        if (d->entries[k].index == index) return h_entry_hash(&d->entries[k]) == h;
    }
    return false;
}

/*
 * Commit safety: when a leader counts index committed, no node lacking that
 * entry may be electable, i.e. have a log at least as up to date as those of
 * a quorum of voters (§3.6.3: this is what Leader Completeness rests on).
 * Checked at the moment of commit, it catches an unsafe commit before the
 * unlucky schedule that would expose it has to happen.
 */
static H_UNUSED void h_check_commit_safety(struct h_cluster *c, const struct h_node *leader,
                                           uint64_t index, uint64_t h)
{
    struct cs_raft_status st;
    cs_raft_status(leader->r, &st);
    uint32_t quorum = cs_raft_conf_voters(&st.conf) / 2 + 1;
    for (uint32_t x = 0; x < c->nodes_len; x++) {
        const struct h_node *cand = &c->nodes[x];
        if (!cs_raft_conf_is_voter(&st.conf, cand->id) || h_log_has(cand, index, h)) continue;
        uint64_t cand_term, cand_index;
        h_log_last(cand, &cand_term, &cand_index);
        uint32_t votes = 0;
        for (uint32_t v = 0; v < c->nodes_len; v++) {
            const struct h_node *voter = &c->nodes[v];
            if (!cs_raft_conf_is_voter(&st.conf, voter->id)) continue;
            uint64_t vt, vi;
            h_log_last(voter, &vt, &vi);
            if (cand_term > vt || (cand_term == vt && cand_index >= vi)) votes++;
        }
        if (votes >= quorum) {
            h_violate(c,
                      "commit safety: leader %" PRIu64 " of term %" PRIu64 " commits %" PRIu64
                      " but node %" PRIu64 ", lacking it, is electable",
                      leader->id, st.term, index, cand->id);
            return;
        }
    }
}

/* Pairwise log matching over the entries both nodes hold in memory. */
static H_UNUSED void h_check_log_matching(struct h_cluster *c, struct h_node *a, struct h_node *b)
{
    struct cs_raft_status sa, sb;
    cs_raft_status(a->r, &sa);
    cs_raft_status(b->r, &sb);
    uint64_t lo = sa.first_index > sb.first_index ? sa.first_index : sb.first_index;
    uint64_t hi = sa.last_index < sb.last_index ? sa.last_index : sb.last_index;
    uint64_t match = 0;
    for (uint64_t i = hi; i >= lo && i > 0; i--) {
        struct cs_raft_entry ea, eb;
        if (cs_raft_entry_at(a->r, i, &ea) || cs_raft_entry_at(b->r, i, &eb)) break;
        if (ea.term == eb.term) {
            match = i;
            break;
        }
    }
    for (uint64_t i = lo; i <= match; i++) {
        struct cs_raft_entry ea, eb;
        if (cs_raft_entry_at(a->r, i, &ea) || cs_raft_entry_at(b->r, i, &eb)) return;
        if (h_entry_hash(&ea) != h_entry_hash(&eb)) {
            h_violate(c,
                      "log matching: nodes %" PRIu64 " and %" PRIu64 " differ at %" PRIu64
                      " below a common entry at %" PRIu64,
                      a->id, b->id, i, match);
            return;
        }
    }
}

static H_UNUSED void h_check_node(struct h_cluster *c, struct h_node *n)
{
    struct cs_raft_status st;
    cs_raft_status(n->r, &st);
    if (st.commit < n->commit_seen) {
        h_violate(c, "node %" PRIu64 ": commit goes back %" PRIu64 " -> %" PRIu64, n->id,
                  n->commit_seen, st.commit);
    }
    n->commit_seen = st.commit;
    if (st.commit > c->commit_max_seen) c->commit_max_seen = st.commit;
    if (st.role == CS_RAFT_LEADER && st.term < H_TERMS_MAX) {
        uint64_t *slot = &c->leader_of_term[st.term];
        if (*slot && *slot != n->id) {
            h_violate(c, "election safety: nodes %" PRIu64 " and %" PRIu64 " lead term %" PRIu64,
                      *slot, n->id, st.term);
        }
        *slot = n->id;
    }
    /* Record newly committed entries; a different entry at a committed index is a violation. */
    uint64_t top = st.commit < H_INDEXES_MAX ? st.commit : H_INDEXES_MAX - 1;
    uint64_t from = n->checked_commit + 1 > st.first_index ? n->checked_commit + 1 : st.first_index;
    for (uint64_t i = from; i <= top; i++) {
        struct cs_raft_entry e;
        if (cs_raft_entry_at(n->r, i, &e)) break;
        uint64_t h = h_entry_hash(&e);
        if (c->committed_hash[i] && c->committed_hash[i] != h) {
            h_violate(c, "node %" PRIu64 " commits a different entry at %" PRIu64, n->id, i);
        }
        c->committed_hash[i] = h;
        if (st.role == CS_RAFT_LEADER) h_check_commit_safety(c, n, i, h);
        if (!c->committed_term[i] || st.term < c->committed_term[i]) c->committed_term[i] = st.term;
        if (i > c->committed_max) c->committed_max = i;
    }
    if (top > n->checked_commit) n->checked_commit = top;
    if (st.role != CS_RAFT_LEADER) return;
    /* Leader completeness: every entry committed in an earlier term is in its
     * log (unless compacted into its snapshot). A stale leader of an older term
     * cut off by a partition may of course lack what later terms committed. */
    for (uint64_t i = st.first_index; i <= c->committed_max; i++) {
        if (!c->committed_hash[i] || c->committed_term[i] >= st.term) continue;
        struct cs_raft_entry e;
        if (cs_raft_entry_at(n->r, i, &e) || h_entry_hash(&e) != c->committed_hash[i]) {
            h_violate(c,
                      "leader completeness: leader %" PRIu64 " of term %" PRIu64
                      " lacks committed entry %" PRIu64,
                      n->id, st.term, i);
            return;
        }
    }
}

static H_UNUSED void h_check(struct h_cluster *c)
{
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        if (c->nodes[k].up) h_check_node(c, &c->nodes[k]);
    }
    for (uint32_t a = 0; a < c->nodes_len; a++) {
        for (uint32_t b = a + 1; b < c->nodes_len; b++) {
            if (c->nodes[a].up && c->nodes[b].up) {
                h_check_log_matching(c, &c->nodes[a], &c->nodes[b]);
            }
        }
    }
}

static H_UNUSED struct h_node *h_leader(struct h_cluster *c)
{
    struct h_node *best = NULL;
    uint64_t best_term = 0;
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        struct h_node *n = &c->nodes[k];
        if (!n->up) continue;
        struct cs_raft_status st;
        cs_raft_status(n->r, &st);
        if (st.role == CS_RAFT_LEADER && st.term >= best_term) {
            best = n;
            best_term = st.term;
        }
    }
    return best;
}

/* Deliver every packet due by now, in the order they fall due. */
static H_UNUSED void h_deliver_due(struct h_cluster *c)
{
    for (;;) {
        size_t pick = c->packets_len;
        for (size_t k = 0; k < c->packets_len; k++) {
            if (c->packets[k].deliver_ms > c->now_ms) continue;
            if (pick == c->packets_len || c->packets[k].deliver_ms < c->packets[pick].deliver_ms) {
                pick = k;
            }
        }
        if (pick == c->packets_len) return;
        struct h_packet p = c->packets[pick];
        c->packets[pick] = c->packets[--c->packets_len];
        struct h_node *from = h_node_by_id(c, p.from);
        struct h_node *to = h_node_by_id(c, p.to);
        if (to && to->up && from && from->side == to->side) {
            static struct cs_raft_entry entries[CS_RAFT_MSG_ENTRIES_MAX];
            struct cs_raft_msg m;
            int rc = cs_raft_msg_decode(p.bytes, p.len, &m, entries, CS_RAFT_MSG_ENTRIES_MAX);
            if (rc) {
                h_violate(c, "decode of an encoded message failed: %s (type %u)", cs_errname(rc),
                          p.len > 1 ? p.bytes[1] : 0);
            } else {
                cs_raft_tick(to->r, h_node_now(c, to));
                h_trace_msg(c, "recv", &m);
                rc = cs_raft_step(to->r, &m);
                h_trace_node(c, to->r, "after");
                if (rc) h_violate(c, "step refused a message: %s", cs_errname(rc));
                h_drain(c, to);
                h_check(c);
            }
        }
        free(p.bytes);
    }
}

static H_UNUSED void h_client(struct h_cluster *c)
{
    struct h_node *n = &c->nodes[cs_rng_below(&c->rng, c->nodes_len)];
    if (!n->up) return;
    if (cs_rng_chance(&c->rng, c->faults.propose_per_mille, 1000)) {
        uint8_t cmd[24];
        uint64_t id = ++c->command_next;
        memcpy(cmd, &id, 8);
        size_t len = 8 + cs_rng_below(&c->rng, 16);
        memset(cmd + 8, (int)(id & 0xff), len - 8);
        (void)cs_raft_propose(n->r, cmd, len, NULL);
    }
    if (cs_rng_chance(&c->rng, c->faults.read_per_mille, 1000) && c->reads_len < H_READS_MAX) {
        uint64_t ctx = ++c->read_ctx_next;
        if (cs_raft_read_index(n->r, &ctx, sizeof ctx) == 0) {
            c->reads[c->reads_len++] = (struct h_read){ctx, c->commit_max_seen};
        }
    }
    if (cs_rng_chance(&c->rng, c->faults.conf_per_mille, 1000)) {
        uint64_t target = 1 + cs_rng_below(&c->rng, c->nodes_len);
        struct cs_raft_status st;
        cs_raft_status(n->r, &st);
        int rc = CS_EINVAL;
        if (!cs_raft_conf_has(&st.conf, target)) {
            rc = cs_raft_propose_conf(n->r, CS_RAFT_ADD_LEARNER, target, NULL);
        } else if (!cs_raft_conf_is_voter(&st.conf, target)) {
            rc = cs_raft_propose_conf(n->r, CS_RAFT_PROMOTE, target, NULL);
        } else if (cs_raft_conf_voters(&st.conf) > 3) {
            rc = cs_raft_propose_conf(n->r, CS_RAFT_REMOVE, target, NULL);
        }
        c->conf_changes += rc == 0;
    }
    if (cs_rng_chance(&c->rng, c->faults.transfer_per_mille, 1000)) {
        int rc = cs_raft_transfer_leadership(n->r, 1 + cs_rng_below(&c->rng, c->nodes_len));
        c->transfers += rc == 0;
    }
    h_drain(c, n);
    h_check(c);
}

static H_UNUSED struct h_node *h_leader(struct h_cluster *c);

static H_UNUSED void h_nemesis(struct h_cluster *c)
{
    if (cs_rng_chance(&c->rng, c->faults.kill_leader_per_mille, 1000)) {
        struct h_node *l = h_leader(c);
        if (l) h_node_crash(c, l);
    }
    if (cs_rng_chance(&c->rng, c->faults.crash_per_mille, 1000)) {
        h_node_crash(c, &c->nodes[cs_rng_below(&c->rng, c->nodes_len)]);
    }
    if (cs_rng_chance(&c->rng, c->faults.isolate_leader_per_mille, 1000)) {
        struct h_node *l = h_leader(c);
        uint32_t other = (uint32_t)cs_rng_below(&c->rng, c->nodes_len * 2);
        for (uint32_t k = 0; k < c->nodes_len; k++) {
            c->nodes[k].side = (l && &c->nodes[k] == l) || k == other ? 1 : 0;
        }
    }
    if (cs_rng_chance(&c->rng, c->faults.partition_per_mille, 1000)) {
        bool heal = cs_rng_chance(&c->rng, 1, 2);
        for (uint32_t k = 0; k < c->nodes_len; k++) {
            c->nodes[k].side = heal ? 0 : (int)cs_rng_below(&c->rng, 2);
        }
    }
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        struct h_node *n = &c->nodes[k];
        if (!n->up && c->now_ms >= n->restart_ms) {
            h_node_start(c, n);
            h_check(c);
        }
    }
}

/* One 5 ms step: faults, client traffic, ticks, deliveries; checks after each event. */
static H_UNUSED void h_step(struct h_cluster *c)
{
    c->now_ms += 5;
    h_nemesis(c);
    h_client(c);
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        struct h_node *n = &c->nodes[k];
        if (!n->up) continue;
        cs_raft_tick(n->r, h_node_now(c, n));
        if (h_trace && cs_raft_has_ready(n->r)) h_trace_node(c, n->r, "tick");
        h_drain(c, n);
        h_check(c);
    }
    h_deliver_due(c);
}

static H_UNUSED void h_faults_default(struct h_faults *f)
{
    memset(f, 0, sizeof *f);
    f->loss_per_mille = 50;
    f->dup_per_mille = 20;
    f->delay_ms_max = 40;
    f->crash_per_mille = 6;
    f->crash_ready_per_mille = 5;
    f->partition_per_mille = 4;
    f->propose_per_mille = 400;
    f->read_per_mille = 100;
    f->conf_per_mille = 20;
    f->transfer_per_mille = 10;
    f->compact_every = 24;
}

/* Heal everything and restart every node: then a leader must commit a new command. */
static H_UNUSED bool h_liveness(struct h_cluster *c, uint64_t within_ms)
{
    struct h_faults quiet = c->faults;
    memset(&c->faults, 0, sizeof c->faults);
    c->faults.delay_ms_max = 10;
    c->faults.compact_every = quiet.compact_every;
    for (uint32_t k = 0; k < c->nodes_len; k++) {
        c->nodes[k].side = 0;
        if (!c->nodes[k].up) h_node_start(c, &c->nodes[k]);
    }
    uint64_t deadline = c->now_ms + within_ms;
    uint64_t index = 0, term = 0;
    while (c->now_ms < deadline && !c->violation[0]) {
        h_step(c);
        struct h_node *l = h_leader(c);
        if (!l) continue;
        struct cs_raft_status st;
        cs_raft_status(l->r, &st);
        if (index == 0 || st.term != term) {
            uint8_t cmd[8] = {0xee};
            if (cs_raft_propose(l->r, cmd, sizeof cmd, &index) != 0) {
                index = 0;
                continue;
            }
            term = st.term;
            h_drain(c, l);
        }
        if (st.term == term && st.commit >= index) {
            c->faults = quiet;
            return true;
        }
    }
    c->faults = quiet;
    return false;
}

#endif /* CS_TEST_RAFT_HARNESS_H */
