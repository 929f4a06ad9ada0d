/*
 * membership.c: single-server membership changes, learners, leadership
 * transfer and log compaction (thesis §4.1-4.3, §3.10, §5.1).
 *
 * The one idea: a configuration is an ordinary log entry, and a node uses the
 * latest configuration in its log, committed or not (§4.1). Changing one
 * server at a time makes any two successive majorities overlap, so at most
 * one change may be uncommitted. New servers join as learners: they receive
 * the log but do not count until promoted, and a learner is promoted only
 * once it has caught up, so adding a server never stalls commits (§4.2.1).
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

bool cs_raft_conf_has(const struct cs_raft_conf *conf, uint64_t id)
{
    for (uint32_t k = 0; k < conf->members_len; k++) {
        if (conf->members[k].id == id) return true;
    }
    return false;
}

bool cs_raft_conf_is_voter(const struct cs_raft_conf *conf, uint64_t id)
{
    for (uint32_t k = 0; k < conf->members_len; k++) {
        if (conf->members[k].id == id) return conf->members[k].voter;
    }
    return false;
}

uint32_t cs_raft_conf_voters(const struct cs_raft_conf *conf)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < conf->members_len; k++)
        n += conf->members[k].voter;
    return n;
}

int cs_raft_conf_encode(const struct cs_raft_conf *conf, struct cs_buf *out)
{
    CS_ASSERT(conf->members_len <= CS_RAFT_MEMBERS_MAX);
    cs_put_uvarint(out, conf->members_len);
    for (uint32_t k = 0; k < conf->members_len; k++) {
        cs_put_uvarint(out, conf->members[k].id);
        cs_put_u8(out, conf->members[k].voter ? 1 : 0);
    }
    return cs_buf_error(out);
}

int cs_raft_conf_decode(const uint8_t *data, size_t len, struct cs_raft_conf *out)
{
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    uint64_t n = 0;
    int rc = cs_get_count(&r, &n, CS_RAFT_MEMBERS_MAX, 2);
    if (rc) return rc;
    memset(out, 0, sizeof *out);
    out->members_len = (uint32_t)n;
    for (uint32_t k = 0; k < out->members_len; k++) {
        uint64_t id = 0;
        uint8_t voter = 0;
        cs_get_uvarint(&r, &id);
        cs_get_u8(&r, &voter);
        if (cs_reader_error(&r)) break;
        /* Sorted, distinct, non-zero ids; voter is 0 or 1. */
        if (id == CS_RAFT_NONE || voter > 1) return CS_EDECODE;
        if (k > 0 && id <= out->members[k - 1].id) return CS_EDECODE;
        out->members[k].id = id;
        out->members[k].voter = voter == 1;
    }
    return cs_reader_end(&r);
}

/* Recompute conf from the log's latest configuration entry, else the snapshot. */
void membership_reload(struct cs_raft *r)
{
    uint64_t last = log_last_index(&r->log);
    for (uint64_t i = last; i > r->log.snap_index; i--) {
        const struct cs_raft_entry *e = log_at(&r->log, i);
        if (e->type != CS_RAFT_ENTRY_CONF) continue;
        struct cs_raft_conf conf;
        CS_ASSERT(cs_raft_conf_decode(e->data, e->data_len, &conf) == 0);
        r->conf = conf;
        r->conf_index = i;
        if (r->role == CS_RAFT_LEADER) membership_rebuild_progress(r, false);
        return;
    }
    r->conf = r->snap_meta.conf;
    r->conf_index = r->log.snap_index;
    if (r->role == CS_RAFT_LEADER) membership_rebuild_progress(r, false);
}

/* Progress parallel to conf.members, keeping what is known of old members. */
void membership_rebuild_progress(struct cs_raft *r, bool fresh)
{
    struct raft_progress old[CS_RAFT_MEMBERS_MAX];
    memcpy(old, r->progress, sizeof old);
    uint64_t last = log_last_index(&r->log);
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        struct raft_progress *pr = &r->progress[k];
        const struct cs_raft_member *m = &r->conf.members[k];
        bool found = false;
        for (uint32_t j = 0; j < CS_RAFT_MEMBERS_MAX && !fresh; j++) {
            if (old[j].id == m->id) {
                *pr = old[j];
                found = true;
                break;
            }
        }
        if (!found) {
            memset(pr, 0, sizeof *pr);
            pr->id = m->id;
            pr->next = last + 1;
            pr->state = PROGRESS_PROBE;
            if (m->id == r->config.id) pr->match = last;
        }
        pr->voter = m->voter;
    }
    for (uint32_t k = r->conf.members_len; k < CS_RAFT_MEMBERS_MAX; k++) {
        memset(&r->progress[k], 0, sizeof r->progress[k]);
    }
}

/* A committed configuration that leaves the leader out ends its term (§4.2.2). */
void membership_on_commit(struct cs_raft *r)
{
    if (r->role != CS_RAFT_LEADER || r->conf_index > r->commit) return;
    if (!cs_raft_conf_is_voter(&r->conf, r->config.id)) {
        node_become_follower(r, r->term, CS_RAFT_NONE);
    }
}

int cs_raft_propose_conf(struct cs_raft *r, enum cs_raft_conf_change change, uint64_t node_id,
                         uint64_t *index_out)
{
    CS_ASSERT(!r->in_ready);
    if (r->role != CS_RAFT_LEADER) return CS_ENOTLEADER;
    if (node_id == CS_RAFT_NONE) return CS_EINVAL;
    if (r->conf_index > r->commit || r->transfer_target != CS_RAFT_NONE) return CS_EBUSY;
    /* §4.1: until an entry of this term commits, an old leader's change may
     * still be uncommitted elsewhere; a new change must wait. */
    if (!read_committed_in_term(r)) return CS_EBUSY;
    struct cs_raft_conf conf = r->conf;
    uint32_t at = 0;
    while (at < conf.members_len && conf.members[at].id < node_id)
        at++;
    bool present = at < conf.members_len && conf.members[at].id == node_id;
    switch (change) {
    case CS_RAFT_ADD_LEARNER:
        if (present) return CS_EEXIST;
        if (conf.members_len == CS_RAFT_MEMBERS_MAX) return CS_ETOOBIG;
        memmove(&conf.members[at + 1], &conf.members[at],
                (conf.members_len - at) * sizeof conf.members[0]);
        conf.members[at] = (struct cs_raft_member){node_id, false};
        conf.members_len++;
        break;
    case CS_RAFT_PROMOTE: {
        if (!present || conf.members[at].voter) return CS_ENOTFOUND;
        struct raft_progress *pr = replication_progress(r, node_id);
        CS_ASSERT(pr != NULL);
        if (pr->match + r->config.catchup_lag_max < log_last_index(&r->log)) return CS_EBUSY;
        conf.members[at].voter = true;
        break;
    }
    case CS_RAFT_REMOVE:
        if (!present) return CS_ENOTFOUND;
        if (conf.members[at].voter && cs_raft_conf_voters(&conf) == 1) return CS_EINVAL;
        memmove(&conf.members[at], &conf.members[at + 1],
                (conf.members_len - at - 1) * sizeof conf.members[0]);
        conf.members_len--;
        break;
    default:
        return CS_EINVAL;
    }
    uint8_t mem[8 + CS_RAFT_MEMBERS_MAX * 12];
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, mem, sizeof mem);
    CS_ASSERT(cs_raft_conf_encode(&conf, &buf) == 0);
    int rc = log_append(&r->log, r->term, CS_RAFT_ENTRY_CONF, buf.data, (uint32_t)buf.len);
    if (rc) return rc;
    membership_reload(r);
    struct raft_progress *self = replication_progress(r, r->config.id);
    if (self) self->match = log_last_index(&r->log);
    if (index_out) *index_out = log_last_index(&r->log);
    replication_maybe_commit(r);
    if (r->role == CS_RAFT_LEADER) replication_broadcast_append(r, false);
    return 0;
}

static void membership_send_timeout_now(struct cs_raft *r, uint64_t target)
{
    struct cs_raft_msg msg = {.type = CS_RAFT_MSG_TIMEOUT_NOW, .to = target, .term = r->term};
    node_send(r, &msg);
}

int cs_raft_transfer_leadership(struct cs_raft *r, uint64_t target)
{
    CS_ASSERT(!r->in_ready);
    if (r->role != CS_RAFT_LEADER) return CS_ENOTLEADER;
    if (target == r->config.id) return CS_EINVAL;
    if (!cs_raft_conf_is_voter(&r->conf, target)) return CS_ENOTFOUND;
    if (r->transfer_target != CS_RAFT_NONE) return CS_EBUSY;
    r->transfer_target = target;
    r->transfer_deadline_ms = r->now_ms + r->config.election_timeout_ms;
    struct raft_progress *pr = replication_progress(r, target);
    CS_ASSERT(pr != NULL);
    if (pr->match == log_last_index(&r->log)) {
        membership_send_timeout_now(r, target);
    } else {
        replication_send_append(r, pr, true);
    }
    return 0;
}

void membership_on_caught_up(struct cs_raft *r, struct raft_progress *pr)
{
    if (r->transfer_target == pr->id && pr->match == log_last_index(&r->log)) {
        membership_send_timeout_now(r, pr->id);
    }
}

void membership_on_timeout_now(struct cs_raft *r, const struct cs_raft_msg *m)
{
    (void)m;
    if (r->role == CS_RAFT_LEADER) return;
    if (!cs_raft_conf_is_voter(&r->conf, r->config.id)) return;
    r->campaign_transfer = true; /* skip pre-vote; voters skip stickiness */
    election_campaign(r);
}

int cs_raft_snapshot_meta_at(const struct cs_raft *r, uint64_t index,
                             struct cs_raft_snapshot_meta *out)
{
    if (index <= r->log.snap_index || index > r->applied) return CS_ERANGE;
    /* The configuration as of index: the latest at or below it. */
    struct cs_raft_conf conf = r->snap_meta.conf;
    for (uint64_t i = index; i > r->log.snap_index; i--) {
        const struct cs_raft_entry *e = log_at(&r->log, i);
        if (e->type == CS_RAFT_ENTRY_CONF) {
            CS_ASSERT(cs_raft_conf_decode(e->data, e->data_len, &conf) == 0);
            break;
        }
    }
    uint64_t term = 0;
    CS_ASSERT(log_term(&r->log, index, &term));
    *out = (struct cs_raft_snapshot_meta){.index = index, .term = term, .conf = conf};
    return 0;
}

int cs_raft_compact_take(struct cs_raft *r, uint64_t index, void *data, size_t len)
{
    CS_ASSERT(!r->in_ready);
    CS_ASSERT(data != NULL || len == 0);
    if (len > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    struct cs_raft_snapshot_meta meta;
    int rc = cs_raft_snapshot_meta_at(r, index, &meta);
    if (rc != 0) return rc;
    raft_release(&r->log, r->snap_data);
    r->snap_data = data;
    r->snap_data_len = len;
    r->snap_meta = meta;
    log_compact(&r->log, index);
    CS_ASSERT(r->log.snap_index == index);
    return 0;
}

int cs_raft_compact(struct cs_raft *r, uint64_t index, const void *data, size_t len)
{
    if (index <= r->log.snap_index || index > r->applied) return CS_ERANGE;
    if (len > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return CS_ENOMEM;
    if (len) memcpy(copy, data, len);
    int rc = cs_raft_compact_take(r, index, copy, len);
    CS_ASSERT(rc == 0); /* its index and length were checked above */
    return rc;
}

void cs_raft_snapshot_meta(const struct cs_raft *r, struct cs_raft_snapshot_meta *out)
{
    *out = r->snap_meta;
    CS_ASSERT(out->index == r->log.snap_index);
}
