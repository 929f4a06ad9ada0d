/*
 * election.c: pre-vote, vote and the tally (thesis §3.4, §3.6.1, §9.6).
 *
 * The one idea: a node first asks, without changing any term, whether it
 * could win (pre-vote); only a node that could win bumps its term. A node cut
 * off by a partition therefore never inflates terms and cannot depose a
 * healthy leader when it comes back.
 */
#include <string.h>

#include "raft/raft_internal.h"

static void election_send_requests(struct cs_raft *r, bool pre)
{
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        const struct cs_raft_member *m = &r->conf.members[k];
        if (!m->voter || m->id == r->config.id) continue;
        struct cs_raft_msg msg = {
            .type = pre ? CS_RAFT_MSG_PRE_VOTE : CS_RAFT_MSG_VOTE,
            .to = m->id,
            .term = pre ? r->term + 1 : r->term,
            .log_term = log_last_term(&r->log),
            .index = log_last_index(&r->log),
            .transfer = r->campaign_transfer,
        };
        node_send(r, &msg);
    }
}

static bool election_recorded(const uint64_t *ids, uint32_t len, uint64_t id)
{
    for (uint32_t k = 0; k < len; k++) {
        if (ids[k] == id) return true;
    }
    return false;
}

/* Record one answer; returns +1 won, -1 lost, 0 undecided. */
static int election_tally(struct cs_raft *r, uint64_t from, bool granted)
{
    if (!cs_raft_conf_is_voter(&r->conf, from)) return 0;
    if (!election_recorded(r->granted, r->granted_len, from) &&
        !election_recorded(r->refused, r->refused_len, from)) {
        CS_ASSERT(r->granted_len + r->refused_len < CS_RAFT_MEMBERS_MAX);
        if (granted) {
            r->granted[r->granted_len++] = from;
        } else {
            r->refused[r->refused_len++] = from;
        }
    }
    uint32_t quorum = node_quorum(r);
    if (r->granted_len >= quorum) return 1;
    if (r->refused_len >= quorum) return -1;
    return 0;
}

static void election_start_vote(struct cs_raft *r)
{
    node_become_candidate(r);
    int outcome = election_tally(r, r->config.id, true);
    if (outcome > 0) {
        node_become_leader(r);
        return;
    }
    election_send_requests(r, false);
}

void election_campaign(struct cs_raft *r)
{
    CS_ASSERT(r->role != CS_RAFT_LEADER);
    CS_ASSERT(cs_raft_conf_is_voter(&r->conf, r->config.id));
    if (!r->config.pre_vote || r->campaign_transfer) {
        election_start_vote(r);
        return;
    }
    node_become_pre_candidate(r);
    if (election_tally(r, r->config.id, true) > 0) {
        election_start_vote(r);
        return;
    }
    election_send_requests(r, true);
}

void election_on_request(struct cs_raft *r, const struct cs_raft_msg *m)
{
    bool pre = m->type == CS_RAFT_MSG_PRE_VOTE;
    bool log_ok = log_up_to_date(&r->log, m->log_term, m->index);
    if (node_bug(r, CS_RAFT_BUG_VOTE_NO_LOG_CHECK)) log_ok = true;
    bool grant;
    if (pre) {
        /* The candidate's future term must not be behind ours; a live leader
         * was already ruled out by the lease check in node_step_term. */
        grant = m->term > r->term && log_ok;
    } else {
        CS_ASSERT(m->term == r->term);
        bool can_vote =
            r->vote == m->from || (r->vote == CS_RAFT_NONE && r->leader == CS_RAFT_NONE);
        grant = can_vote && log_ok;
    }
    struct cs_raft_msg resp = {
        .type = pre ? CS_RAFT_MSG_PRE_VOTE_RESP : CS_RAFT_MSG_VOTE_RESP,
        .to = m->from,
        /* A granted pre-vote answers in the candidate's future term so the
         * candidate can tell it from stale answers. */
        .term = pre && grant ? m->term : r->term,
        .reject = !grant,
    };
    if (grant && !pre) {
        r->vote = m->from;
        node_reset_election_timer(r);
        if (node_bug(r, CS_RAFT_BUG_REPLY_BEFORE_PERSIST)) r->hs_defer = true;
    }
    node_send(r, &resp);
}

void election_on_response(struct cs_raft *r, const struct cs_raft_msg *m)
{
    bool pre = m->type == CS_RAFT_MSG_PRE_VOTE_RESP;
    if (pre && r->role != CS_RAFT_PRE_CANDIDATE) return;
    if (!pre && r->role != CS_RAFT_CANDIDATE) return;
    /* Pre-vote answers carry term + 1 when granted, our term when refused. */
    if (pre && !m->reject && m->term != r->term + 1) return;
    if (pre && m->reject && m->term != r->term) return;
    if (!pre) CS_ASSERT(m->term == r->term);
    int outcome = election_tally(r, m->from, !m->reject);
    if (outcome > 0) {
        if (pre) {
            election_start_vote(r);
        } else {
            node_become_leader(r);
        }
    } else if (outcome < 0) {
        node_become_follower(r, r->term, CS_RAFT_NONE);
    }
}
