/*
 * node.c: a Raft node's lifecycle, roles, time and the Ready batch.
 *
 * The one idea: every input only changes memory and queues messages; nothing
 * leaves the node until the driver asks for a Ready, and the Ready always
 * carries the hard state and entries the queued messages depend on, so the
 * driver can honour "durable before sent" by doing the batch in order.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

bool node_bug(const struct cs_raft *r, uint32_t bug)
{
    return (r->config.bugs & bug) != 0;
}

static const struct {
    uint32_t bug;
    const char *name;
} node_bug_names[] = {
    {CS_RAFT_BUG_COMMIT_OLD_TERM, "commit-old-term"},
    {CS_RAFT_BUG_VOTE_NO_LOG_CHECK, "vote-no-log-check"},
    {CS_RAFT_BUG_REPLY_BEFORE_PERSIST, "reply-before-persist"},
};

uint32_t cs_raft_bug_parse(const char *name)
{
    for (size_t k = 0; k < sizeof node_bug_names / sizeof node_bug_names[0]; k++) {
        if (strcmp(name, node_bug_names[k].name) == 0) return node_bug_names[k].bug;
    }
    return 0;
}

const char *cs_raft_bug_names(void)
{
    return "commit-old-term|vote-no-log-check|reply-before-persist";
}

const char *cs_raft_role_name(enum cs_raft_role role)
{
    switch (role) {
    case CS_RAFT_FOLLOWER:
        return "follower";
    case CS_RAFT_PRE_CANDIDATE:
        return "pre-candidate";
    case CS_RAFT_CANDIDATE:
        return "candidate";
    case CS_RAFT_LEADER:
        return "leader";
    }
    return "?";
}

void cs_raft_config_default(struct cs_raft_config *config, uint64_t id, uint64_t group_id,
                            uint64_t rng_seed)
{
    memset(config, 0, sizeof *config);
    config->id = id;
    config->group_id = group_id;
    config->election_timeout_ms = 300;
    config->heartbeat_interval_ms = 50;
    config->inflight_max = 16;
    config->msg_entries_max = 64;
    config->msg_bytes_max = 1u << 20;
    config->chunk_bytes = 64u << 10;
    config->uncommitted_max = 4096;
    config->catchup_lag_max = 16;
    config->pre_vote = true;
    config->check_quorum = true;
    config->lease_reads = false;
    config->clock_drift_ms_max = 30;
    cs_rng_init(&config->rng, rng_seed);
}

static bool node_config_valid(const struct cs_raft_config *c)
{
    return c->id != CS_RAFT_NONE && c->election_timeout_ms > 0 && c->heartbeat_interval_ms > 0 &&
           c->heartbeat_interval_ms < c->election_timeout_ms && c->inflight_max >= 1 &&
           c->inflight_max <= CS_RAFT_INFLIGHT_MAX && c->msg_entries_max >= 1 &&
           c->msg_entries_max <= CS_RAFT_MSG_ENTRIES_MAX && c->chunk_bytes >= 1 &&
           c->chunk_bytes <= CS_RAFT_CHUNK_BYTES_MAX && c->msg_bytes_max >= 1 &&
           c->uncommitted_max >= 1 && (!c->lease_reads || c->check_quorum) &&
           c->clock_drift_ms_max < c->election_timeout_ms;
}

static int node_restore_check(const struct cs_raft_restore *rs)
{
    const struct cs_raft_snapshot *s = &rs->snapshot;
    if (s->data_len > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    if (s->meta.conf.members_len > CS_RAFT_MEMBERS_MAX) return CS_EINVAL;
    if (s->meta.term > rs->hard_state.term) return CS_EINVAL;
    uint64_t prev_term = s->meta.term;
    for (size_t k = 0; k < rs->entries_len; k++) {
        const struct cs_raft_entry *e = &rs->entries[k];
        if (e->index != s->meta.index + 1 + k) return CS_EINVAL;
        if (e->term < prev_term || e->term > rs->hard_state.term) return CS_EINVAL;
        if (e->data_len > CS_RAFT_ENTRY_BYTES_MAX) return CS_EINVAL;
        prev_term = e->term;
    }
    if (rs->hard_state.commit > s->meta.index + rs->entries_len) return CS_EINVAL;
    return 0;
}

int cs_raft_new(const struct cs_raft_config *config, const struct cs_raft_restore *restore,
                uint64_t now_ms, struct cs_raft **out)
{
    if (!node_config_valid(config)) return CS_EINVAL;
    int rc = node_restore_check(restore);
    if (rc) return rc;
    struct cs_raft *r = calloc(1, sizeof *r);
    if (!r) return CS_ENOMEM;
    r->config = *config;
    r->pending = calloc(CS_RAFT_READS_MAX, sizeof *r->pending);
    r->ready_reads = calloc(CS_RAFT_READS_MAX, sizeof *r->ready_reads);
    r->outbox = calloc(CS_RAFT_OUTBOX_MAX, sizeof *r->outbox);
    r->ready_msgs = calloc(CS_RAFT_OUTBOX_MAX, sizeof *r->ready_msgs);
    if (!r->pending || !r->ready_reads || !r->outbox || !r->ready_msgs) goto nomem;

    const struct cs_raft_snapshot *s = &restore->snapshot;
    r->snap_meta = s->meta;
    if (s->data_len) {
        r->snap_data = malloc(s->data_len);
        if (!r->snap_data) goto nomem;
        memcpy(r->snap_data, s->data, s->data_len);
        r->snap_data_len = s->data_len;
    }
    log_init(&r->log, s->meta.index, s->meta.term);
    r->log.release = config->release;
    r->log.release_ctx = config->release_ctx;
    for (size_t k = 0; k < restore->entries_len; k++) {
        const struct cs_raft_entry *e = &restore->entries[k];
        if (log_append(&r->log, e->term, e->type, e->data, e->data_len)) goto nomem;
    }
    r->log.stable = log_last_index(&r->log);
    r->term = restore->hard_state.term;
    r->vote = restore->hard_state.vote;
    r->commit =
        restore->hard_state.commit > s->meta.index ? restore->hard_state.commit : s->meta.index;
    r->applied = s->meta.index;
    r->hs_reported = (struct cs_raft_hard_state){r->term, r->vote, r->commit};
    r->now_ms = now_ms;
    membership_reload(r);
    node_become_follower(r, r->term, CS_RAFT_NONE);
    *out = r;
    return 0;
nomem:
    cs_raft_free(r);
    return CS_ENOMEM;
}

static void node_outbox_clear(struct cs_raft *r)
{
    for (uint32_t k = 0; k < r->outbox_len; k++) {
        free(r->outbox[k].owned);
        r->outbox[k].owned = NULL;
    }
    r->outbox_len = 0;
}

void cs_raft_free(struct cs_raft *r)
{
    if (!r) return;
    if (r->outbox) node_outbox_clear(r);
    log_free(&r->log);
    free(r->snap_data);
    free(r->recv_data);
    free(r->pending);
    free(r->ready_reads);
    free(r->outbox);
    free(r->ready_msgs);
    free(r);
}

uint32_t node_quorum(const struct cs_raft *r)
{
    return cs_raft_conf_voters(&r->conf) / 2 + 1;
}

void node_reset_election_timer(struct cs_raft *r)
{
    uint64_t t = r->config.election_timeout_ms;
    r->election_deadline_ms = r->now_ms + t + cs_rng_below(&r->config.rng, t);
}

void node_become_follower(struct cs_raft *r, uint64_t term, uint64_t leader)
{
    CS_ASSERT(term >= r->term);
    if (term > r->term) {
        r->term = term;
        r->vote = CS_RAFT_NONE;
    }
    if (r->role == CS_RAFT_LEADER) read_drop_all(r);
    r->role = CS_RAFT_FOLLOWER;
    r->leader = leader;
    r->transfer_target = CS_RAFT_NONE;
    r->campaign_transfer = false;
    if (leader != CS_RAFT_NONE) r->leader_contact_ms = r->now_ms;
    node_reset_election_timer(r);
}

void node_become_pre_candidate(struct cs_raft *r)
{
    CS_ASSERT(r->role != CS_RAFT_LEADER);
    r->role = CS_RAFT_PRE_CANDIDATE;
    r->leader = CS_RAFT_NONE;
    r->granted_len = 0;
    r->refused_len = 0;
    node_reset_election_timer(r);
}

void node_become_candidate(struct cs_raft *r)
{
    CS_ASSERT(r->role != CS_RAFT_LEADER);
    r->role = CS_RAFT_CANDIDATE;
    r->term++;
    r->vote = r->config.id;
    r->leader = CS_RAFT_NONE;
    r->granted_len = 0;
    r->refused_len = 0;
    node_reset_election_timer(r);
}

void node_become_leader(struct cs_raft *r)
{
    CS_ASSERT(r->role == CS_RAFT_CANDIDATE);
    CS_ASSERT(r->vote == r->config.id);
    r->role = CS_RAFT_LEADER;
    r->leader = r->config.id;
    r->transfer_target = CS_RAFT_NONE;
    r->lease_until_ms = 0;
    r->pending_len = 0;
    membership_rebuild_progress(r, true);
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        struct raft_progress *pr = &r->progress[k];
        pr->recent_active = pr->id == r->config.id;
    }
    r->heartbeat_deadline_ms = r->now_ms + r->config.heartbeat_interval_ms;
    r->check_quorum_deadline_ms = r->now_ms + r->config.election_timeout_ms;
    /* An entry of the new term: commits the old ones (Figure 8 rule) and lets
     * ReadIndex learn the commit index (§6.4, step 1). */
    if (log_append(&r->log, r->term, CS_RAFT_ENTRY_NORMAL, NULL, 0) == 0) {
        struct raft_progress *self = replication_progress(r, r->config.id);
        if (self) self->match = log_last_index(&r->log);
    }
    replication_maybe_commit(r);
    replication_broadcast_append(r, true);
}

void node_send(struct cs_raft *r, const struct cs_raft_msg *msg)
{
    CS_ASSERT(msg->to != r->config.id);
    CS_ASSERT(msg->to != CS_RAFT_NONE);
    CS_ASSERT(!r->in_ready);
    if (r->outbox_len == CS_RAFT_OUTBOX_MAX) {
        r->msgs_dropped++; /* the network may lose it anyway: safe, and bounded */
        return;
    }
    struct raft_outmsg *o = &r->outbox[r->outbox_len];
    o->msg = *msg;
    o->msg.group_id = r->config.group_id;
    o->msg.from = r->config.id;
    o->owned = NULL;
    size_t bytes = msg->entries_len * sizeof(struct cs_raft_entry) + msg->chunk_len;
    for (uint32_t k = 0; k < msg->entries_len; k++)
        bytes += msg->entries[k].data_len;
    if (bytes) {
        uint8_t *block = malloc(bytes);
        if (!block) {
            r->msgs_dropped++;
            return;
        }
        struct cs_raft_entry *entries = (struct cs_raft_entry *)(void *)block;
        uint8_t *data = block + msg->entries_len * sizeof(struct cs_raft_entry);
        for (uint32_t k = 0; k < msg->entries_len; k++) {
            entries[k] = msg->entries[k];
            if (entries[k].data_len) memcpy(data, msg->entries[k].data, entries[k].data_len);
            entries[k].data = entries[k].data_len ? data : NULL;
            data += entries[k].data_len;
        }
        if (msg->chunk_len) memcpy(data, msg->chunk, msg->chunk_len);
        o->msg.entries = msg->entries_len ? entries : NULL;
        o->msg.chunk = msg->chunk_len ? data : NULL;
        o->owned = block;
    }
    r->outbox_len++;
}

static void node_tick_leader(struct cs_raft *r)
{
    if (r->now_ms >= r->heartbeat_deadline_ms) {
        r->heartbeat_deadline_ms = r->now_ms + r->config.heartbeat_interval_ms;
        read_start_round(r);
        replication_broadcast_heartbeat(r);
    }
    if (r->transfer_target != CS_RAFT_NONE && r->now_ms >= r->transfer_deadline_ms) {
        r->transfer_target = CS_RAFT_NONE; /* target never won: take proposals again */
    }
    if (r->config.check_quorum && r->now_ms >= r->check_quorum_deadline_ms) {
        r->check_quorum_deadline_ms = r->now_ms + r->config.election_timeout_ms;
        uint32_t active = 0;
        for (uint32_t k = 0; k < r->conf.members_len; k++) {
            struct raft_progress *pr = &r->progress[k];
            if (pr->voter && (pr->recent_active || pr->id == r->config.id)) active++;
            pr->recent_active = false;
        }
        if (active < node_quorum(r)) node_become_follower(r, r->term, CS_RAFT_NONE);
    }
}

void cs_raft_tick(struct cs_raft *r, uint64_t now_ms)
{
    CS_ASSERT(!r->in_ready);
    if (now_ms < r->now_ms) now_ms = r->now_ms; /* time never goes back for the core */
    r->now_ms = now_ms;
    if (r->role == CS_RAFT_LEADER) {
        node_tick_leader(r);
        return;
    }
    if (now_ms >= r->election_deadline_ms) {
        if (cs_raft_conf_is_voter(&r->conf, r->config.id)) {
            r->campaign_transfer = false;
            election_campaign(r);
        } else {
            node_reset_election_timer(r);
        }
    }
}

static bool node_msg_valid(const struct cs_raft *r, const struct cs_raft_msg *m)
{
    if (m->type < 1 || m->type > CS_RAFT_MSG_TYPE_MAX) return false;
    if (m->group_id != r->config.group_id || m->to != r->config.id) return false;
    if (m->from == CS_RAFT_NONE || m->from == r->config.id) return false;
    if (m->entries_len > CS_RAFT_MSG_ENTRIES_MAX || m->chunk_len > CS_RAFT_CHUNK_BYTES_MAX) {
        return false;
    }
    for (uint32_t k = 0; k < m->entries_len; k++) {
        if (m->entries[k].index != m->index + 1 + k) return false;
        if (m->entries[k].term > m->term) return false;
        if (k > 0 && m->entries[k].term < m->entries[k - 1].term) return false;
        if (k == 0 && m->entries[k].term < m->log_term) return false;
        if (m->entries[k].data_len > CS_RAFT_ENTRY_BYTES_MAX) return false;
    }
    return true;
}

static bool node_is_vote_request(const struct cs_raft_msg *m)
{
    return m->type == CS_RAFT_MSG_VOTE || m->type == CS_RAFT_MSG_PRE_VOTE;
}

/* A follower that heard from a live leader within an election timeout ignores
 * vote requests (§4.2.3): a removed or partitioned server cannot disrupt it. */
static bool node_in_lease(const struct cs_raft *r)
{
    if (!r->config.check_quorum || r->leader == CS_RAFT_NONE) return false;
    if (r->role == CS_RAFT_LEADER) return true;
    return r->now_ms < r->leader_contact_ms + r->config.election_timeout_ms;
}

/* Term rules common to every message; returns false if m is to be dropped. */
static bool node_step_term(struct cs_raft *r, const struct cs_raft_msg *m)
{
    if (m->term > r->term) {
        if (node_is_vote_request(m) && !m->transfer && node_in_lease(r)) return false;
        if (m->type == CS_RAFT_MSG_PRE_VOTE) return true; /* pre-vote never moves terms */
        if (m->type == CS_RAFT_MSG_PRE_VOTE_RESP && !m->reject) return true;
        bool from_leader = m->type == CS_RAFT_MSG_APPEND || m->type == CS_RAFT_MSG_SNAPSHOT ||
                           m->type == CS_RAFT_MSG_TIMEOUT_NOW;
        node_become_follower(r, m->term, from_leader ? m->from : CS_RAFT_NONE);
        return true;
    }
    if (m->term < r->term) {
        if (m->type == CS_RAFT_MSG_APPEND || m->type == CS_RAFT_MSG_SNAPSHOT) {
            /* A stale leader (say, healed from a partition) learns our term. */
            struct cs_raft_msg resp = {
                .type = CS_RAFT_MSG_APPEND_RESP, .to = m->from, .term = r->term, .reject = true};
            node_send(r, &resp);
        } else if (m->type == CS_RAFT_MSG_PRE_VOTE) {
            struct cs_raft_msg resp = {
                .type = CS_RAFT_MSG_PRE_VOTE_RESP, .to = m->from, .term = r->term, .reject = true};
            node_send(r, &resp);
        }
        return false;
    }
    return true;
}

int cs_raft_step(struct cs_raft *r, const struct cs_raft_msg *m)
{
    CS_ASSERT(!r->in_ready);
    if (!node_msg_valid(r, m)) return CS_EINVAL;
    if (!node_step_term(r, m)) return 0;
    switch ((enum cs_raft_msg_type)m->type) {
    case CS_RAFT_MSG_APPEND:
        replication_on_append(r, m);
        break;
    case CS_RAFT_MSG_APPEND_RESP:
        replication_on_append_resp(r, m);
        break;
    case CS_RAFT_MSG_VOTE:
    case CS_RAFT_MSG_PRE_VOTE:
        election_on_request(r, m);
        break;
    case CS_RAFT_MSG_VOTE_RESP:
    case CS_RAFT_MSG_PRE_VOTE_RESP:
        election_on_response(r, m);
        break;
    case CS_RAFT_MSG_SNAPSHOT:
        replication_on_snapshot(r, m);
        break;
    case CS_RAFT_MSG_SNAPSHOT_RESP:
        replication_on_snapshot_resp(r, m);
        break;
    case CS_RAFT_MSG_TIMEOUT_NOW:
        membership_on_timeout_now(r, m);
        break;
    }
    CS_ASSERT(r->commit <= log_last_index(&r->log) || node_bug(r, ~0u));
    return 0;
}

static struct cs_raft_hard_state node_hard_state(const struct cs_raft *r)
{
    return (struct cs_raft_hard_state){r->term, r->vote, r->commit};
}

static bool node_hs_differs(const struct cs_raft_hard_state *a, const struct cs_raft_hard_state *b)
{
    return a->term != b->term || a->vote != b->vote || a->commit != b->commit;
}

static uint64_t node_apply_to(const struct cs_raft *r)
{
    uint64_t last = log_last_index(&r->log);
    return r->commit < last ? r->commit : last;
}

bool cs_raft_has_ready(const struct cs_raft *r)
{
    struct cs_raft_hard_state hs = node_hard_state(r);
    return node_hs_differs(&hs, &r->hs_reported) || r->install_pending ||
           r->log.stable < log_last_index(&r->log) || r->outbox_len > 0 ||
           node_apply_to(r) > r->applied || r->ready_reads_len > 0;
}

void cs_raft_ready(struct cs_raft *r, struct cs_raft_ready *rd)
{
    CS_ASSERT(!r->in_ready);
    memset(rd, 0, sizeof *rd);
    rd->hard_state = node_hard_state(r);
    rd->hard_state_changed = node_hs_differs(&rd->hard_state, &r->hs_reported);
    if (r->hs_defer && rd->hard_state_changed) {
        /* Planted bug: the vote reply goes out before the vote is durable. */
        CS_ASSERT(node_bug(r, CS_RAFT_BUG_REPLY_BEFORE_PERSIST));
        rd->hard_state = r->hs_reported;
        rd->hard_state_changed = false;
    }
    r->hs_defer = false;
    if (r->install_pending) {
        r->install.meta = r->snap_meta;
        r->install.data = r->snap_data;
        r->install.data_len = r->snap_data_len;
        rd->snapshot = &r->install;
    }
    uint64_t last = log_last_index(&r->log);
    if (r->log.stable < last) {
        rd->entries = log_at(&r->log, r->log.stable + 1);
        rd->entries_len = (size_t)(last - r->log.stable);
        CS_ASSERT(rd->entries != NULL);
    }
    for (uint32_t k = 0; k < r->outbox_len; k++)
        r->ready_msgs[k] = r->outbox[k].msg;
    rd->msgs = r->ready_msgs;
    rd->msgs_len = r->outbox_len;
    uint64_t apply_to = node_apply_to(r);
    /* After a snapshot is installed the state machine stands at its index. */
    uint64_t applied = r->install_pending ? r->snap_meta.index : r->applied;
    CS_ASSERT(applied >= r->log.snap_index);
    if (apply_to > applied) {
        rd->committed = log_at(&r->log, applied + 1);
        rd->committed_len = (size_t)(apply_to - applied);
        CS_ASSERT(rd->committed != NULL);
    }
    rd->reads = r->ready_reads;
    rd->reads_len = r->ready_reads_len;
    r->in_ready = true;
}

void cs_raft_advance(struct cs_raft *r, const struct cs_raft_ready *rd)
{
    CS_ASSERT(r->in_ready);
    r->in_ready = false;
    r->hs_reported = rd->hard_state;
    if (rd->snapshot) {
        r->install_pending = false;
        CS_ASSERT(r->applied <= rd->snapshot->meta.index);
        r->applied = rd->snapshot->meta.index;
    }
    if (rd->entries_len) {
        uint64_t last = rd->entries[rd->entries_len - 1].index;
        CS_ASSERT(last <= log_last_index(&r->log));
        r->log.stable = last;
    }
    if (rd->committed_len) {
        uint64_t last = rd->committed[rd->committed_len - 1].index;
        CS_ASSERT(last == r->applied + rd->committed_len); /* r->applied after any snapshot */
        CS_ASSERT(last <= r->commit);
        r->applied = last;
    }
    CS_ASSERT(rd->msgs_len == r->outbox_len);
    node_outbox_clear(r);
    CS_ASSERT(rd->reads_len == r->ready_reads_len);
    r->ready_reads_len = 0;
}

void cs_raft_status(const struct cs_raft *r, struct cs_raft_status *out)
{
    memset(out, 0, sizeof *out);
    out->id = r->config.id;
    out->role = r->role;
    out->term = r->term;
    out->vote = r->vote;
    out->leader = r->leader;
    out->commit = r->commit;
    out->applied = r->applied;
    out->first_index = r->log.snap_index + 1;
    out->last_index = log_last_index(&r->log);
    out->snapshot_index = r->log.snap_index;
    out->transfer_target = r->transfer_target;
    out->msgs_dropped = r->msgs_dropped;
    out->conf = r->conf;
}

int cs_raft_entry_at(const struct cs_raft *r, uint64_t index, struct cs_raft_entry *out)
{
    const struct cs_raft_entry *e = log_at(&r->log, index);
    if (!e) return CS_ENOTFOUND;
    *out = *e;
    return 0;
}

int cs_raft_propose(struct cs_raft *r, const void *data, size_t len, uint64_t *index_out)
{
    CS_ASSERT(!r->in_ready);
    if (r->role != CS_RAFT_LEADER) return CS_ENOTLEADER;
    if (len > CS_RAFT_ENTRY_BYTES_MAX) return CS_ETOOBIG;
    if (r->transfer_target != CS_RAFT_NONE) return CS_EBUSY;
    if (log_last_index(&r->log) - r->commit >= r->config.uncommitted_max) return CS_EBUSY;
    int rc = log_append(&r->log, r->term, CS_RAFT_ENTRY_NORMAL, data, (uint32_t)len);
    if (rc) return rc;
    struct raft_progress *self = replication_progress(r, r->config.id);
    if (self) self->match = log_last_index(&r->log);
    if (index_out) *index_out = log_last_index(&r->log);
    replication_maybe_commit(r);
    replication_broadcast_append(r, false);
    return 0;
}
