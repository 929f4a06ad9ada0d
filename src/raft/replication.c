/*
 * replication.c: appends, heartbeats, the commit rule and snapshot transfer.
 *
 * The one idea: the leader keeps, per follower, a small state machine
 * (probe -> replicate, or snapshot when the entries it needs are compacted).
 * Probing sends one append at a time and uses the follower's conflict hints
 * to skip a whole term per round trip; replicating pipelines up to
 * inflight_max appends. The commit index moves only to an index a quorum
 * holds and whose entry is of the leader's own term (§3.6.2, Figure 3.7).
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

struct raft_progress *replication_progress(struct cs_raft *r, uint64_t id)
{
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        if (r->progress[k].id == id) return &r->progress[k];
    }
    return NULL;
}

static void replication_inflight_free_to(struct raft_progress *pr, uint64_t index)
{
    while (pr->inflight_len > 0 && pr->inflight[pr->inflight_start] <= index) {
        pr->inflight_start = (pr->inflight_start + 1) % CS_RAFT_INFLIGHT_MAX;
        pr->inflight_len--;
    }
}

static void replication_become_probe(struct raft_progress *pr, uint64_t next)
{
    pr->state = PROGRESS_PROBE;
    pr->probe_sent = false;
    pr->inflight_len = 0;
    pr->inflight_start = 0;
    pr->next = next > pr->match + 1 ? next : pr->match + 1;
}

static void replication_send_chunk(struct cs_raft *r, struct raft_progress *pr)
{
    CS_ASSERT(pr->state == PROGRESS_SNAPSHOT);
    if (pr->chunk_sent) return;
    if (pr->snap_index != r->snap_meta.index) {
        pr->snap_index = r->snap_meta.index; /* a newer snapshot: start over */
        pr->snap_offset = 0;
    }
    CS_ASSERT(pr->snap_offset <= r->snap_data_len);
    size_t left = r->snap_data_len - (size_t)pr->snap_offset;
    size_t len = left < r->config.chunk_bytes ? left : r->config.chunk_bytes;
    struct cs_raft_msg msg = {
        .type = CS_RAFT_MSG_SNAPSHOT,
        .to = pr->id,
        .term = r->term,
        .commit = r->commit,
        .seq = r->seq,
        .snap_meta = r->snap_meta,
        .index = r->snap_data_len, /* total bytes */
        .chunk_offset = pr->snap_offset,
        .chunk_len = (uint32_t)len,
        .chunk = r->snap_data ? r->snap_data + pr->snap_offset : NULL,
        .chunk_done = len == left,
    };
    node_send(r, &msg);
    pr->chunk_sent = true;
}

/* Send an append of the n entries after prev (n may be 0: a heartbeat). */
static void replication_send_append_msg(struct cs_raft *r, const struct raft_progress *pr,
                                        uint64_t prev, uint64_t prev_term, uint32_t n)
{
    CS_ASSERT(prev + 1 == pr->next || n == 0);
    struct cs_raft_msg msg = {
        .type = CS_RAFT_MSG_APPEND,
        .to = pr->id,
        .term = r->term,
        .log_term = prev_term,
        .index = prev,
        .commit = r->commit,
        .seq = r->seq,
        .entries_len = n,
        .entries = n ? log_at(&r->log, prev + 1) : NULL,
    };
    node_send(r, &msg);
}

void replication_send_append(struct cs_raft *r, struct raft_progress *pr, bool allow_empty)
{
    CS_ASSERT(r->role == CS_RAFT_LEADER);
    CS_ASSERT(pr->id != r->config.id);
    if (pr->state == PROGRESS_SNAPSHOT) {
        replication_send_chunk(r, pr);
        return;
    }
    if (pr->state == PROGRESS_PROBE && pr->probe_sent) return;
    if (pr->state == PROGRESS_REPLICATE && pr->inflight_len >= r->config.inflight_max) return;
    uint64_t prev = pr->next - 1;
    uint64_t prev_term;
    if (!log_term(&r->log, prev, &prev_term)) {
        CS_ASSERT(prev < r->log.snap_index); /* compacted: only a snapshot helps */
        pr->state = PROGRESS_SNAPSHOT;
        pr->chunk_sent = false;
        pr->snap_index = r->snap_meta.index;
        pr->snap_offset = 0;
        pr->inflight_len = 0;
        replication_send_chunk(r, pr);
        return;
    }
    uint64_t last = log_last_index(&r->log);
    uint32_t n = 0;
    size_t bytes = 0;
    while (pr->next + n <= last && n < r->config.msg_entries_max) {
        const struct cs_raft_entry *e = log_at(&r->log, pr->next + n);
        if (n > 0 && bytes + e->data_len > r->config.msg_bytes_max) break;
        bytes += e->data_len;
        n++;
    }
    if (n == 0 && !allow_empty && pr->state == PROGRESS_REPLICATE) return;
    replication_send_append_msg(r, pr, prev, prev_term, n);
    if (pr->state == PROGRESS_PROBE) {
        pr->probe_sent = true;
    } else if (n > 0) {
        pr->next += n;
        uint32_t slot = (pr->inflight_start + pr->inflight_len) % CS_RAFT_INFLIGHT_MAX;
        pr->inflight[slot] = pr->next - 1;
        pr->inflight_len++;
        CS_ASSERT(pr->inflight_len <= r->config.inflight_max);
    }
}

void replication_broadcast_append(struct cs_raft *r, bool allow_empty)
{
    if (r->role != CS_RAFT_LEADER) return; /* a commit just removed us (§4.2.2) */
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        struct raft_progress *pr = &r->progress[k];
        if (pr->id != r->config.id) replication_send_append(r, pr, allow_empty);
    }
}

/*
 * A heartbeat to a follower whose window is full. If every append in the
 * window was lost (dropped, or the follower restarted), no acknowledgement
 * will ever free it; so the heartbeat goes out regardless, as an empty append
 * after the last entry sent. Its acknowledgement frees the window; a
 * rejection (the follower lacks those entries) starts a probe. It takes no
 * window slot: it carries no entries.
 */
static void replication_send_past_window(struct cs_raft *r, struct raft_progress *pr)
{
    CS_ASSERT(pr->state == PROGRESS_REPLICATE);
    CS_ASSERT(pr->next > pr->match);
    uint64_t prev = pr->next - 1;
    uint64_t prev_term;
    if (!log_term(&r->log, prev, &prev_term)) {
        /* Compacted past what was in flight: the snapshot path takes over. */
        pr->inflight_len = 0;
        replication_send_append(r, pr, true);
        return;
    }
    replication_send_append_msg(r, pr, prev, prev_term, 0);
}

void replication_broadcast_heartbeat(struct cs_raft *r)
{
    CS_ASSERT(r->role == CS_RAFT_LEADER);
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        struct raft_progress *pr = &r->progress[k];
        if (pr->id == r->config.id) continue;
        /* A heartbeat is an append with no entries. Probes and snapshots resend
         * what they were waiting on: the last one may have been lost. */
        if (pr->state == PROGRESS_PROBE) pr->probe_sent = false;
        if (pr->state == PROGRESS_SNAPSHOT) pr->chunk_sent = false;
        if (pr->state == PROGRESS_REPLICATE && pr->inflight_len >= r->config.inflight_max) {
            replication_send_past_window(r, pr);
            continue;
        }
        replication_send_append(r, pr, true);
    }
}

static int replication_cmp_u64_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

bool replication_maybe_commit(struct cs_raft *r)
{
    CS_ASSERT(r->role == CS_RAFT_LEADER);
    uint64_t matches[CS_RAFT_MEMBERS_MAX];
    uint32_t voters = 0;
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        const struct raft_progress *pr = &r->progress[k];
        if (pr->voter) matches[voters++] = pr->match;
    }
    if (voters == 0) return false;
    qsort(matches, voters, sizeof matches[0], replication_cmp_u64_desc);
    uint64_t candidate = matches[node_quorum(r) - 1];
    if (candidate <= r->commit) return false;
    uint64_t term = 0;
    CS_ASSERT(log_term(&r->log, candidate, &term));
    /* Figure 8: counting replicas commits only entries of the current term;
     * older ones commit indirectly, by the Log Matching property. */
    if (term != r->term && !node_bug(r, CS_RAFT_BUG_COMMIT_OLD_TERM)) return false;
    r->commit = candidate;
    read_on_term_commit(r);
    membership_on_commit(r);
    return true;
}

static void replication_reply(struct cs_raft *r, const struct cs_raft_msg *m, bool reject,
                              uint64_t index, uint64_t hint_term, uint64_t hint_index)
{
    struct cs_raft_msg resp = {
        .type = CS_RAFT_MSG_APPEND_RESP,
        .to = m->from,
        .term = r->term,
        .reject = reject,
        .index = index,
        .seq = m->seq,
        .hint_term = hint_term,
        .hint_index = hint_index,
    };
    node_send(r, &resp);
}

/* The follower's conflict hint (§5.3): skip the whole conflicting term. */
static void replication_reject(struct cs_raft *r, const struct cs_raft_msg *m)
{
    uint64_t last = log_last_index(&r->log);
    if (m->index > last) {
        replication_reply(r, m, true, m->index, 0, last + 1);
        return;
    }
    uint64_t term = 0;
    CS_ASSERT(log_term(&r->log, m->index, &term));
    uint64_t first = m->index;
    uint64_t t = 0;
    while (first - 1 > r->commit && log_term(&r->log, first - 1, &t) && t == term)
        first--;
    replication_reply(r, m, true, m->index, term, first);
}

static void replication_accept_entries(struct cs_raft *r, const struct cs_raft_msg *m)
{
    for (uint32_t k = 0; k < m->entries_len; k++) {
        const struct cs_raft_entry *e = &m->entries[k];
        uint64_t have = 0;
        if (log_term(&r->log, e->index, &have)) {
            if (have == e->term) continue;
            /* A conflict: never below the commit index (Log Matching, §3.5). */
            CS_ASSERT(e->index > r->commit || r->config.bugs != 0);
            if (e->index <= r->log.snap_index) continue;
            log_truncate(&r->log, e->index);
            if (r->conf_index >= e->index) membership_reload(r);
        }
        CS_ASSERT(e->index == log_last_index(&r->log) + 1);
        if (log_append(&r->log, e->term, e->type, e->data, e->data_len)) return; /* no ack */
        if (e->type == CS_RAFT_ENTRY_CONF) membership_reload(r);
    }
}

void replication_on_append(struct cs_raft *r, const struct cs_raft_msg *m)
{
    CS_ASSERT(m->term == r->term);
    if (r->role != CS_RAFT_FOLLOWER || r->leader != m->from) {
        CS_ASSERT(r->role != CS_RAFT_LEADER); /* Election Safety: one leader per term */
        node_become_follower(r, r->term, m->from);
    }
    r->leader_contact_ms = r->now_ms;
    node_reset_election_timer(r);
    if (m->index < r->commit) {
        /* Everything up to commit already matches; say so and let the leader move on. */
        replication_reply(r, m, false, r->commit, 0, 0);
        return;
    }
    uint64_t term = 0;
    if (!log_term(&r->log, m->index, &term) || term != m->log_term) {
        replication_reject(r, m);
        return;
    }
    uint64_t before = log_last_index(&r->log);
    replication_accept_entries(r, m);
    uint64_t last_new = m->index + m->entries_len;
    if (log_last_index(&r->log) < last_new) {
        (void)before; /* out of memory mid-way: no ack; the leader retries */
        return;
    }
    uint64_t commit = m->commit < last_new ? m->commit : last_new;
    if (commit > r->commit) r->commit = commit;
    replication_reply(r, m, false, last_new, 0, 0);
}

static uint64_t replication_next_from_hint(const struct cs_raft *r, const struct cs_raft_msg *m)
{
    if (m->hint_term == 0) return m->hint_index;
    /* Find our last entry of the follower's conflicting term: if we have that
     * term, the logs agree up to its end; else skip the follower's whole term. */
    uint64_t index = m->index < log_last_index(&r->log) ? m->index : log_last_index(&r->log);
    uint64_t t = 0;
    while (index > r->log.snap_index && log_term(&r->log, index, &t) && t > m->hint_term)
        index--;
    if (log_term(&r->log, index, &t) && t == m->hint_term) return index + 1;
    return m->hint_index;
}

void replication_on_append_resp(struct cs_raft *r, const struct cs_raft_msg *m)
{
    if (r->role != CS_RAFT_LEADER) return;
    struct raft_progress *pr = replication_progress(r, m->from);
    if (!pr) return;
    pr->recent_active = true;
    read_on_ack(r, pr, m->seq);
    if (r->role != CS_RAFT_LEADER) return;
    if (m->reject) {
        if (m->index <= pr->match) return; /* stale */
        if (pr->state == PROGRESS_SNAPSHOT) return;
        uint64_t next = replication_next_from_hint(r, m);
        if (next > m->index) next = m->index; /* the rejected prev index itself failed */
        replication_become_probe(pr, next);
        replication_send_append(r, pr, true);
        return;
    }
    if (m->index > pr->match) {
        pr->match = m->index;
        if (pr->next <= pr->match) pr->next = pr->match + 1;
        replication_inflight_free_to(pr, pr->match);
        if (pr->state == PROGRESS_PROBE) {
            pr->state = PROGRESS_REPLICATE;
            pr->inflight_len = 0;
            pr->next = pr->match + 1;
        }
        if (replication_maybe_commit(r)) replication_broadcast_append(r, true);
        if (r->role != CS_RAFT_LEADER) return;
        membership_on_caught_up(r, pr);
    } else if (pr->state == PROGRESS_PROBE) {
        pr->probe_sent = false;
    }
    CS_ASSERT(pr->next > pr->match);
    while (pr->next <= log_last_index(&r->log) && pr->state == PROGRESS_REPLICATE &&
           pr->inflight_len < r->config.inflight_max) {
        replication_send_append(r, pr, false);
    }
    if (pr->state == PROGRESS_PROBE) replication_send_append(r, pr, false);
}

/* Install a fully received snapshot if it is news to us (§5.3 steps 6-8). */
static void replication_install(struct cs_raft *r)
{
    struct cs_raft_snapshot_meta *meta = &r->recv_meta;
    uint64_t have = 0;
    if (meta->index <= r->commit) return; /* old news */
    raft_release(&r->log, r->snap_data);
    r->snap_data = r->recv_data;
    r->snap_data_len = r->recv_len;
    r->snap_meta = *meta;
    r->recv_data = NULL;
    r->recv_len = r->recv_cap = 0;
    if (log_term(&r->log, meta->index, &have) && have == meta->term) {
        log_compact(&r->log, meta->index); /* keep the matching suffix */
    } else {
        log_reset(&r->log, meta->index, meta->term);
    }
    r->commit = meta->index;
    r->install_pending = true;
    membership_reload(r);
}

static int replication_recv_chunk(struct cs_raft *r, const struct cs_raft_msg *m)
{
    uint64_t total = m->index;
    if (total > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    bool same = r->recv_active && r->recv_meta.index == m->snap_meta.index &&
                r->recv_meta.term == m->snap_meta.term;
    if (!same) {
        if (m->chunk_offset != 0) return CS_ERANGE;
        r->recv_active = true;
        r->recv_meta = m->snap_meta;
        r->recv_len = 0;
    }
    if (m->chunk_offset != r->recv_len) return CS_ERANGE;
    if (m->chunk_offset + m->chunk_len > total) return CS_EINVAL;
    if (r->recv_cap < total) {
        uint8_t *grown = realloc(r->recv_data, total ? total : 1);
        if (!grown) return CS_ENOMEM;
        r->recv_data = grown;
        r->recv_cap = total;
    }
    if (m->chunk_len) memcpy(r->recv_data + r->recv_len, m->chunk, m->chunk_len);
    r->recv_len += m->chunk_len;
    return 0;
}

void replication_on_snapshot(struct cs_raft *r, const struct cs_raft_msg *m)
{
    CS_ASSERT(m->term == r->term);
    if (r->role != CS_RAFT_FOLLOWER || r->leader != m->from) {
        CS_ASSERT(r->role != CS_RAFT_LEADER);
        node_become_follower(r, r->term, m->from);
    }
    r->leader_contact_ms = r->now_ms;
    node_reset_election_timer(r);
    struct cs_raft_msg resp = {
        .type = CS_RAFT_MSG_SNAPSHOT_RESP, .to = m->from, .term = r->term, .seq = m->seq};
    int rc = replication_recv_chunk(r, m);
    if (rc) {
        r->recv_active = false;
        resp.reject = true; /* the leader restarts from offset 0 */
        node_send(r, &resp);
        return;
    }
    resp.index = r->recv_len;
    if (m->chunk_done && r->recv_len == m->index) {
        r->recv_active = false;
        replication_install(r);
        /* Report the match the leader can rely on: everything committed here,
         * which is at least the snapshot. */
        resp.chunk_done = true;
        resp.commit = r->commit;
    }
    node_send(r, &resp);
}

void replication_on_snapshot_resp(struct cs_raft *r, const struct cs_raft_msg *m)
{
    if (r->role != CS_RAFT_LEADER) return;
    struct raft_progress *pr = replication_progress(r, m->from);
    if (!pr) return;
    pr->recent_active = true;
    read_on_ack(r, pr, m->seq);
    if (r->role != CS_RAFT_LEADER || pr->state != PROGRESS_SNAPSHOT) return;
    pr->chunk_sent = false;
    if (m->reject) {
        pr->snap_offset = 0;
    } else if (m->chunk_done) {
        /* The follower holds everything up to the commit it reported. */
        if (m->commit > pr->match) pr->match = m->commit;
        replication_become_probe(pr, pr->match + 1);
        if (replication_maybe_commit(r)) replication_broadcast_append(r, true);
        if (r->role != CS_RAFT_LEADER) return;
    } else {
        pr->snap_offset = m->index;
    }
    replication_send_append(r, pr, true);
}
