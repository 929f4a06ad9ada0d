/*
 * raft_rules.c: one test per Raft rule, driving single nodes with crafted
 * messages and reading what comes out of their Ready batches.
 *
 * Method: a node is built from a chosen durable state (term, vote, log); a
 * test steps messages or ticks into it, then drains its Ready into a small
 * record (messages by type, the hard state, persisted and applied entries)
 * and checks the rule: vote handling, append handling with conflict hints,
 * the Figure 8 commit rule, pre-vote, check-quorum, ReadIndex, snapshots,
 * membership changes and leadership transfer.
 */
#include <stdlib.h>
#include <string.h>

#include "consist/raft.h"
#include "testlib.h"

#define GROUP 9

/* What one drain of a node produced. */
struct out {
    struct cs_raft_msg msgs[64];
    size_t msgs_len;
    struct cs_raft_hard_state hs;
    bool hs_changed;
    size_t persisted;
    uint64_t applied_last;
    size_t applied;
    struct cs_raft_read reads[8];
    size_t reads_len;
    bool snapshot;
    bool msgs_with_hs; /* a message went out in the same batch as a hard state change */
};

static void drain(struct cs_raft *r, struct out *o)
{
    memset(o, 0, sizeof *o);
    while (cs_raft_has_ready(r)) {
        struct cs_raft_ready rd;
        cs_raft_ready(r, &rd);
        if (rd.hard_state_changed) {
            o->hs = rd.hard_state;
            o->hs_changed = true;
            if (rd.msgs_len) o->msgs_with_hs = true;
        }
        o->persisted += rd.entries_len;
        o->snapshot |= rd.snapshot != NULL;
        for (size_t k = 0; k < rd.msgs_len && o->msgs_len < 64; k++) {
            o->msgs[o->msgs_len] = rd.msgs[k];
            o->msgs[o->msgs_len].entries = NULL; /* not valid after advance */
            o->msgs[o->msgs_len].chunk = NULL;
            o->msgs_len++;
        }
        o->applied += rd.committed_len;
        if (rd.committed_len) o->applied_last = rd.committed[rd.committed_len - 1].index;
        for (size_t k = 0; k < rd.reads_len && o->reads_len < 8; k++)
            o->reads[o->reads_len++] = rd.reads[k];
        cs_raft_advance(r, &rd);
    }
}

static const struct cs_raft_msg *find(const struct out *o, uint8_t type, uint64_t to)
{
    for (size_t k = 0; k < o->msgs_len; k++) {
        if (o->msgs[k].type == type && (to == 0 || o->msgs[k].to == to)) return &o->msgs[k];
    }
    return NULL;
}

static const struct cs_raft_conf *conf_of(const struct cs_raft *r)
{
    static struct cs_raft_status st;
    cs_raft_status(r, &st);
    return &st.conf;
}

static bool node_lease_reads; /* the next nodes built use lease reads */
/* A driver's release hook: counts and frees what the node drops. */
static size_t node_released;
static void count_and_free(void *ctx, void *p)
{
    (*(size_t *)ctx)++;
    free(p);
}
static void (*node_release)(void *ctx, void *p);

/* A node id of a group of voters 1..voters, with a log of the given terms. */
static struct cs_raft *node(uint64_t id, uint32_t voters, const uint64_t *terms, size_t n,
                            uint64_t term, uint64_t vote)
{
    struct cs_raft_config cfg;
    cs_raft_config_default(&cfg, id, GROUP, id * 7919);
    cfg.election_timeout_ms = 100;
    cfg.heartbeat_interval_ms = 20;
    cfg.lease_reads = node_lease_reads;
    cfg.clock_drift_ms_max = 10;
    cfg.release = node_release;
    cfg.release_ctx = &node_released;
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    for (uint32_t k = 0; k < voters; k++) {
        rs.snapshot.meta.conf.members[rs.snapshot.meta.conf.members_len++] =
            (struct cs_raft_member){k + 1, true};
    }
    static struct cs_raft_entry entries[64];
    static uint8_t payload[64];
    for (size_t k = 0; k < n; k++) {
        payload[k] = (uint8_t)(id * 16 + k);
        entries[k] = (struct cs_raft_entry){
            .term = terms[k], .index = k + 1, .data = &payload[k], .data_len = 1};
    }
    rs.entries = entries;
    rs.entries_len = n;
    rs.hard_state = (struct cs_raft_hard_state){term, vote, 0};
    struct cs_raft *r = NULL;
    CS_CHECK_OK(cs_raft_new(&cfg, &rs, 0, &r));
    return r;
}

static struct cs_raft_msg msg(uint8_t type, uint64_t from, uint64_t to, uint64_t term)
{
    struct cs_raft_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.group_id = GROUP;
    m.from = from;
    m.to = to;
    m.term = term;
    return m;
}

static struct cs_raft_status status(const struct cs_raft *r)
{
    struct cs_raft_status st;
    cs_raft_status(r, &st);
    return st;
}

/* Elect node 1 of voters 1..n by answering its pre-votes and votes. */
static struct cs_raft *leader(uint32_t voters, const uint64_t *terms, size_t n, uint64_t term)
{
    struct cs_raft *r = node(1, voters, terms, n, term, 0);
    struct out o;
    cs_raft_tick(r, 1000);
    drain(r, &o);
    if (voters > 1) CS_CHECK(find(&o, CS_RAFT_MSG_PRE_VOTE, 2) != NULL);
    for (uint64_t p = 2; p <= voters; p++) {
        struct cs_raft_msg m = msg(CS_RAFT_MSG_PRE_VOTE_RESP, p, 1, term + 1);
        CS_CHECK_OK(cs_raft_step(r, &m));
    }
    drain(r, &o);
    for (uint64_t p = 2; p <= voters; p++) {
        struct cs_raft_msg m = msg(CS_RAFT_MSG_VOTE_RESP, p, 1, term + 1);
        CS_CHECK_OK(cs_raft_step(r, &m));
    }
    CS_CHECK_EQ(status(r).role, CS_RAFT_LEADER);
    drain(r, &o);
    return r;
}

static void ack(struct cs_raft *r, uint64_t from, uint64_t index, uint64_t seq)
{
    struct cs_raft_msg m = msg(CS_RAFT_MSG_APPEND_RESP, from, 1, status(r).term);
    m.index = index;
    m.seq = seq;
    CS_CHECK_OK(cs_raft_step(r, &m));
}

/* The election timeout is random in [t, 2t) and differs between seeds. */
CS_TEST(election_timeout_is_randomized)
{
    uint64_t first[4];
    for (uint64_t id = 1; id <= 4; id++) {
        struct cs_raft *r = node(id, 5, NULL, 0, 0, 0);
        uint64_t t = 0;
        for (t = 0; t < 300 && status(r).role == CS_RAFT_FOLLOWER; t++)
            cs_raft_tick(r, t);
        CS_CHECK(t - 1 >= 100 && t - 1 < 200);
        first[id - 1] = t;
        cs_raft_free(r);
    }
    CS_CHECK(first[0] != first[1] || first[1] != first[2] || first[2] != first[3]);
}

/* Pre-vote asks for term + 1 without changing the node's own term or vote. */
CS_TEST(pre_vote_keeps_term)
{
    struct cs_raft *r = node(1, 3, (uint64_t[]){1}, 1, 1, 0);
    cs_raft_tick(r, 1000);
    struct out o;
    drain(r, &o);
    const struct cs_raft_msg *m = find(&o, CS_RAFT_MSG_PRE_VOTE, 2);
    CS_CHECK(m != NULL);
    CS_CHECK_EQ(m->term, 2);
    CS_CHECK_EQ(m->log_term, 1);
    CS_CHECK_EQ(m->index, 1);
    CS_CHECK_EQ(status(r).term, 1);
    CS_CHECK_EQ(status(r).role, CS_RAFT_PRE_CANDIDATE);
    CS_CHECK(!o.hs_changed);
    /* A refusal by a quorum ends the attempt at the same term. */
    struct cs_raft_msg no = msg(CS_RAFT_MSG_PRE_VOTE_RESP, 2, 1, 1);
    no.reject = true;
    CS_CHECK_OK(cs_raft_step(r, &no));
    no.from = 3;
    CS_CHECK_OK(cs_raft_step(r, &no));
    CS_CHECK_EQ(status(r).role, CS_RAFT_FOLLOWER);
    CS_CHECK_EQ(status(r).term, 1);
    cs_raft_free(r);
}

/* Votes: one per term, only to a candidate whose log is at least as up to date. */
CS_TEST(vote_needs_up_to_date_log_and_is_persisted_before_sent)
{
    struct cs_raft *r = node(2, 3, (uint64_t[]){1, 2}, 2, 2, 0);
    struct out o;
    struct cs_raft_msg v = msg(CS_RAFT_MSG_VOTE, 1, 2, 3);
    v.log_term = 1; /* older last term */
    v.index = 5;
    CS_CHECK_OK(cs_raft_step(r, &v));
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_VOTE_RESP, 1)->reject);
    v.log_term = 2; /* same term, shorter log */
    v.index = 1;
    CS_CHECK_OK(cs_raft_step(r, &v));
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_VOTE_RESP, 1)->reject);
    v.index = 2; /* up to date: granted, and the vote is in the same batch as the reply */
    CS_CHECK_OK(cs_raft_step(r, &v));
    drain(r, &o);
    CS_CHECK(!find(&o, CS_RAFT_MSG_VOTE_RESP, 1)->reject);
    CS_CHECK(o.hs_changed && o.msgs_with_hs);
    CS_CHECK_EQ(o.hs.vote, 1);
    CS_CHECK_EQ(o.hs.term, 3);
    struct cs_raft_msg other = v; /* a second candidate in the same term is refused */
    other.from = 3;
    CS_CHECK_OK(cs_raft_step(r, &other));
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_VOTE_RESP, 3)->reject);
    CS_CHECK_OK(cs_raft_step(r, &v)); /* the same candidate again: granted again */
    drain(r, &o);
    CS_CHECK(!find(&o, CS_RAFT_MSG_VOTE_RESP, 1)->reject);
    cs_raft_free(r);
}

/* The planted bug reply-before-persist sends the grant in a batch without the vote. */
CS_TEST(bug_reply_before_persist_defers_the_vote)
{
    struct cs_raft_config cfg;
    cs_raft_config_default(&cfg, 2, GROUP, 1);
    cfg.bugs = CS_RAFT_BUG_REPLY_BEFORE_PERSIST;
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    rs.snapshot.meta.conf.members_len = 3;
    for (uint32_t k = 0; k < 3; k++)
        rs.snapshot.meta.conf.members[k] = (struct cs_raft_member){k + 1, true};
    struct cs_raft *r = NULL;
    CS_CHECK_OK(cs_raft_new(&cfg, &rs, 0, &r));
    struct cs_raft_msg v = msg(CS_RAFT_MSG_VOTE, 1, 2, 1);
    CS_CHECK_OK(cs_raft_step(r, &v));
    struct cs_raft_ready rd;
    cs_raft_ready(r, &rd);
    CS_CHECK_EQ(rd.msgs_len, 1);
    CS_CHECK(!rd.hard_state_changed);
    cs_raft_advance(r, &rd);
    cs_raft_ready(r, &rd);
    CS_CHECK(rd.hard_state_changed);
    CS_CHECK_EQ(rd.hard_state.vote, 1);
    cs_raft_advance(r, &rd);
    cs_raft_free(r);
}

/* Append handler: a short log and a conflicting term are rejected with hints. */
CS_TEST(append_rejects_with_conflict_hints)
{
    struct cs_raft *r = node(2, 3, (uint64_t[]){1, 2, 2, 2}, 4, 3, 0);
    struct out o;
    struct cs_raft_msg a = msg(CS_RAFT_MSG_APPEND, 1, 2, 3);
    a.index = 7; /* past our last index 4 */
    a.log_term = 3;
    CS_CHECK_OK(cs_raft_step(r, &a));
    drain(r, &o);
    const struct cs_raft_msg *resp = find(&o, CS_RAFT_MSG_APPEND_RESP, 1);
    CS_CHECK(resp && resp->reject);
    CS_CHECK_EQ(resp->hint_index, 5);
    CS_CHECK_EQ(resp->hint_term, 0);
    a.index = 4; /* we have term 2 there, leader says 3 */
    CS_CHECK_OK(cs_raft_step(r, &a));
    drain(r, &o);
    resp = find(&o, CS_RAFT_MSG_APPEND_RESP, 1);
    CS_CHECK(resp && resp->reject);
    CS_CHECK_EQ(resp->hint_term, 2);
    CS_CHECK_EQ(resp->hint_index, 2); /* first index of term 2: skip the whole term */
    CS_CHECK_EQ(status(r).leader, 1);
    cs_raft_free(r);
}

/* Append handler: conflicting entries are replaced, commit follows the leader up to the new
 * entries. */
CS_TEST(append_truncates_conflict_and_commits)
{
    struct cs_raft *r = node(2, 3, (uint64_t[]){1, 2, 2}, 3, 3, 0);
    struct out o;
    struct cs_raft_entry e[2] = {{.term = 3, .index = 3}, {.term = 3, .index = 4}};
    struct cs_raft_msg a = msg(CS_RAFT_MSG_APPEND, 1, 2, 3);
    a.index = 2;
    a.log_term = 2;
    a.commit = 9;
    a.entries = e;
    a.entries_len = 2;
    CS_CHECK_OK(cs_raft_step(r, &a));
    drain(r, &o);
    const struct cs_raft_msg *resp = find(&o, CS_RAFT_MSG_APPEND_RESP, 1);
    CS_CHECK(resp && !resp->reject);
    CS_CHECK_EQ(resp->index, 4);
    CS_CHECK_EQ(o.persisted, 2); /* the replacement and the new entry, persisted in that batch */
    CS_CHECK_EQ(status(r).commit, 4); /* min(leader commit 9, last new 4) */
    CS_CHECK_EQ(o.applied_last, 4);
    struct cs_raft_entry got;
    CS_CHECK_OK(cs_raft_entry_at(r, 3, &got));
    CS_CHECK_EQ(got.term, 3);
    /* A stale leader (term 2) is told our term. */
    struct cs_raft_msg stale = msg(CS_RAFT_MSG_APPEND, 3, 2, 2);
    CS_CHECK_OK(cs_raft_step(r, &stale));
    drain(r, &o);
    resp = find(&o, CS_RAFT_MSG_APPEND_RESP, 3);
    CS_CHECK(resp && resp->reject && resp->term == 3);
    cs_raft_free(r);
}

/* A message for another group or node, or with non-contiguous entries, is refused. */
CS_TEST(step_refuses_foreign_and_malformed)
{
    struct cs_raft *r = node(2, 3, NULL, 0, 1, 0);
    struct cs_raft_msg m = msg(CS_RAFT_MSG_APPEND, 1, 2, 1);
    m.group_id = GROUP + 1;
    CS_CHECK_RC(cs_raft_step(r, &m), CS_EINVAL);
    m = msg(CS_RAFT_MSG_APPEND, 1, 3, 1);
    CS_CHECK_RC(cs_raft_step(r, &m), CS_EINVAL);
    struct cs_raft_entry e[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
    m = msg(CS_RAFT_MSG_APPEND, 1, 2, 1);
    m.entries = e;
    m.entries_len = 2;
    CS_CHECK_RC(cs_raft_step(r, &m), CS_EINVAL);
    m.entries_len = 1;
    m.type = 0;
    CS_CHECK_RC(cs_raft_step(r, &m), CS_EINVAL);
    cs_raft_free(r);
}

/*
 * Figure 8 (§3.6.2): a leader of term 4 holding an entry of term 2 that a
 * majority now stores must not commit it by counting; it commits once an
 * entry of term 4 is on a majority. The planted bug commits it at once.
 */
static void figure8(uint32_t bugs, uint64_t want_commit_after_old)
{
    /* Node 1: [1@1, 2@2]; term 3 passed it by; it is elected in term 4. */
    struct cs_raft_config cfg;
    cs_raft_config_default(&cfg, 1, GROUP, 3);
    cfg.election_timeout_ms = 100;
    cfg.heartbeat_interval_ms = 20;
    cfg.msg_entries_max = 1;
    cfg.bugs = bugs;
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    rs.snapshot.meta.conf.members_len = 3;
    for (uint32_t k = 0; k < 3; k++)
        rs.snapshot.meta.conf.members[k] = (struct cs_raft_member){k + 1, true};
    struct cs_raft_entry entries[2] = {{.term = 1, .index = 1}, {.term = 2, .index = 2}};
    rs.entries = entries;
    rs.entries_len = 2;
    rs.hard_state = (struct cs_raft_hard_state){3, 0, 1};
    struct cs_raft *r = NULL;
    CS_CHECK_OK(cs_raft_new(&cfg, &rs, 0, &r));
    struct out o;
    cs_raft_tick(r, 1000);
    drain(r, &o);
    for (uint64_t p = 2; p <= 3; p++) {
        struct cs_raft_msg m = msg(CS_RAFT_MSG_PRE_VOTE_RESP, p, 1, 4);
        CS_CHECK_OK(cs_raft_step(r, &m));
    }
    drain(r, &o);
    struct cs_raft_msg v = msg(CS_RAFT_MSG_VOTE_RESP, 2, 1, 4);
    CS_CHECK_OK(cs_raft_step(r, &v));
    CS_CHECK_EQ(status(r).role, CS_RAFT_LEADER);
    CS_CHECK_EQ(status(r).last_index, 3); /* its no-op of term 4 */
    drain(r, &o);
    ack(r, 2, 2, 0); /* node 2 now holds the term-2 entry: a majority does */
    CS_CHECK_EQ(status(r).commit, want_commit_after_old);
    ack(r, 2, 3, 0); /* the term-4 entry on a majority commits both */
    CS_CHECK_EQ(status(r).commit, 3);
    cs_raft_free(r);
}

CS_TEST(figure8_commit_rule)
{
    figure8(0, 1);
    figure8(CS_RAFT_BUG_COMMIT_OLD_TERM, 2);
}

/* A leader that hears from no quorum within an election timeout steps down. */
CS_TEST(check_quorum_steps_down)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    uint64_t term = status(r).term;
    struct out o;
    cs_raft_tick(r, 1050); /* within the timeout: still leader */
    drain(r, &o);
    CS_CHECK_EQ(status(r).role, CS_RAFT_LEADER);
    ack(r, 2, 1, 0);
    cs_raft_tick(r, 1110); /* a quorum (itself + node 2) was heard: stays */
    drain(r, &o);
    CS_CHECK_EQ(status(r).role, CS_RAFT_LEADER);
    cs_raft_tick(r, 1220); /* nobody in the next round: steps down, same term */
    drain(r, &o);
    CS_CHECK_EQ(status(r).role, CS_RAFT_FOLLOWER);
    CS_CHECK_EQ(status(r).term, term);
    cs_raft_free(r);
}

/* A follower that hears from its leader ignores (pre-)votes: a partitioned node cannot disrupt. */
CS_TEST(pre_vote_and_stickiness_prevent_disruption)
{
    struct cs_raft *r = node(2, 3, (uint64_t[]){1}, 1, 1, 0);
    struct out o;
    cs_raft_tick(r, 10);
    struct cs_raft_msg hb = msg(CS_RAFT_MSG_APPEND, 1, 2, 1);
    hb.index = 1;
    hb.log_term = 1;
    CS_CHECK_OK(cs_raft_step(r, &hb));
    drain(r, &o);
    /* Node 3 was cut off, campaigned many times with pre-vote: its term stayed 1,
     * so it asks for term 2; its log is as good as ours, but we have a leader. */
    struct cs_raft_msg pv = msg(CS_RAFT_MSG_PRE_VOTE, 3, 2, 2);
    pv.index = 1;
    pv.log_term = 1;
    cs_raft_tick(r, 50);
    CS_CHECK_OK(cs_raft_step(r, &pv));
    drain(r, &o);
    CS_CHECK_EQ(o.msgs_len, 0); /* ignored */
    CS_CHECK_EQ(status(r).term, 1);
    /* Without pre-vote it would have come back with a real vote at a high term: also ignored. */
    struct cs_raft_msg vote = msg(CS_RAFT_MSG_VOTE, 3, 2, 9);
    vote.index = 1;
    vote.log_term = 1;
    CS_CHECK_OK(cs_raft_step(r, &vote));
    CS_CHECK_EQ(status(r).term, 1);
    CS_CHECK_EQ(status(r).leader, 1);
    /* Once the leader is silent past an election timeout, the pre-vote is granted. */
    cs_raft_tick(r, 300);
    CS_CHECK_OK(cs_raft_step(r, &pv));
    drain(r, &o);
    const struct cs_raft_msg *resp = find(&o, CS_RAFT_MSG_PRE_VOTE_RESP, 3);
    CS_CHECK(resp && !resp->reject);
    CS_CHECK_EQ(status(r).term, 1); /* still: pre-votes never move terms */
    cs_raft_free(r);
}

/* ReadIndex: waits for a quorum to confirm a round started after the read. */
CS_TEST(read_index_needs_a_confirmed_round)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    struct out o;
    ack(r, 2, 1, 0); /* the no-op commits: the leader knows its commit index */
    drain(r, &o);
    CS_CHECK_EQ(status(r).commit, 1);
    uint64_t ctx = 42;
    CS_CHECK_OK(cs_raft_read_index(r, &ctx, sizeof ctx));
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 0);
    const struct cs_raft_msg *hb = find(&o, CS_RAFT_MSG_APPEND, 2);
    CS_CHECK(hb != NULL);
    uint64_t seq = hb->seq;
    ack(r, 2, 1, seq - 1); /* a reply to an older round proves nothing */
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 0);
    ack(r, 3, 1, seq);
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 1);
    CS_CHECK_EQ(o.reads[0].index, 1);
    CS_CHECK_MEM(o.reads[0].ctx, &ctx, sizeof ctx);
    cs_raft_free(r);
}

/* ReadIndex: a leader deposed before confirming never serves the read. */
CS_TEST(read_index_not_served_by_deposed_leader)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    struct out o;
    ack(r, 2, 1, 0);
    drain(r, &o);
    uint64_t ctx = 7;
    CS_CHECK_OK(cs_raft_read_index(r, &ctx, sizeof ctx));
    drain(r, &o);
    uint64_t seq = find(&o, CS_RAFT_MSG_APPEND, 2)->seq;
    struct cs_raft_msg newer = msg(CS_RAFT_MSG_APPEND, 3, 1, status(r).term + 1);
    newer.index = 1;
    newer.log_term = status(r).term;
    CS_CHECK_OK(cs_raft_step(r, &newer));
    CS_CHECK_EQ(status(r).role, CS_RAFT_FOLLOWER);
    ack(r, 2, 1, seq); /* a late confirmation of the old round changes nothing */
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 0);
    CS_CHECK_RC(cs_raft_read_index(r, &ctx, sizeof ctx), CS_ENOTLEADER);
    cs_raft_free(r);
}

/* ReadIndex waits until an entry of the leader's term commits. */
CS_TEST(read_index_waits_for_term_commit)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    struct out o;
    uint64_t ctx = 1;
    CS_CHECK_OK(cs_raft_read_index(r, &ctx, sizeof ctx));
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 0);
    ack(r, 2, 1, 0); /* no-op commits: a round starts now */
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 0);
    uint64_t seq = find(&o, CS_RAFT_MSG_APPEND, 2)->seq;
    ack(r, 2, 1, seq);
    drain(r, &o);
    CS_CHECK_EQ(o.reads_len, 1);
    uint8_t big[CS_RAFT_READ_CTX_BYTES_MAX + 1] = {0};
    CS_CHECK_OK(cs_raft_read_index(r, big, CS_RAFT_READ_CTX_BYTES_MAX));
    CS_CHECK_RC(cs_raft_read_index(r, big, CS_RAFT_READ_CTX_BYTES_MAX + 1), CS_ETOOBIG);
    cs_raft_free(r);
}

/* Lease reads are served at once while a quorum confirmed leadership recently. */
CS_TEST(lease_read_served_without_round)
{
    struct cs_raft_config cfg;
    cs_raft_config_default(&cfg, 1, GROUP, 5);
    cfg.lease_reads = true;
    cfg.check_quorum = false;
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    struct cs_raft *r = NULL;
    CS_CHECK_RC(cs_raft_new(&cfg, &rs, 0, &r), CS_EINVAL); /* leases need check-quorum */
    node_lease_reads = true;
    struct cs_raft *l = leader(3, NULL, 0, 0);
    node_lease_reads = false;
    struct out o;
    ack(l, 2, 1, 0);
    drain(l, &o);
    uint64_t ctx = 5;
    CS_CHECK_OK(cs_raft_read_index(l, &ctx, sizeof ctx)); /* no lease yet: a round */
    drain(l, &o);
    CS_CHECK_EQ(o.reads_len, 0);
    uint64_t seq = find(&o, CS_RAFT_MSG_APPEND, 2)->seq;
    ack(l, 2, 1, seq); /* round confirmed at t=1000: lease until 1000 + 100 - 10 */
    drain(l, &o);
    CS_CHECK_EQ(o.reads_len, 1);
    cs_raft_tick(l, 1080);
    drain(l, &o);
    CS_CHECK_OK(cs_raft_read_index(l, &ctx, sizeof ctx));
    drain(l, &o);
    CS_CHECK_EQ(o.reads_len, 1); /* within the lease: at once */
    cs_raft_tick(l, 1095);
    drain(l, &o);
    CS_CHECK_OK(cs_raft_read_index(l, &ctx, sizeof ctx));
    drain(l, &o);
    CS_CHECK_EQ(o.reads_len, 0); /* past it: back to a round */
    cs_raft_free(l);
}

/* Proposals: only the leader; entries at the size limit pass, one byte more does not. */
CS_TEST(propose_limits)
{
    struct cs_raft *f = node(2, 3, NULL, 0, 1, 0);
    CS_CHECK_RC(cs_raft_propose(f, "x", 1, NULL), CS_ENOTLEADER);
    cs_raft_free(f);
    struct cs_raft *r = leader(1, NULL, 0, 0);
    uint8_t *big = calloc(1, CS_RAFT_ENTRY_BYTES_MAX + 1);
    uint64_t index = 0;
    CS_CHECK_OK(cs_raft_propose(r, big, CS_RAFT_ENTRY_BYTES_MAX, &index));
    CS_CHECK_EQ(index, 2);
    CS_CHECK_RC(cs_raft_propose(r, big, CS_RAFT_ENTRY_BYTES_MAX + 1, NULL), CS_ETOOBIG);
    struct out o;
    drain(r, &o);
    CS_CHECK_EQ(o.applied_last, 2); /* a single voter commits alone */
    free(big);
    cs_raft_free(r);
}

/* Snapshots: a follower assembles chunks in order and installs the result. */
CS_TEST(snapshot_chunks_install)
{
    struct cs_raft *r = node(2, 3, (uint64_t[]){1}, 1, 2, 0);
    struct out o;
    uint8_t data[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    struct cs_raft_msg c = msg(CS_RAFT_MSG_SNAPSHOT, 1, 2, 2);
    c.snap_meta.index = 20;
    c.snap_meta.term = 2;
    c.snap_meta.conf.members_len = 3;
    for (uint32_t k = 0; k < 3; k++)
        c.snap_meta.conf.members[k] = (struct cs_raft_member){k + 1, true};
    c.index = sizeof data;
    c.chunk_offset = 4; /* out of order: refused, restart from 0 */
    c.chunk = data + 4;
    c.chunk_len = 4;
    CS_CHECK_OK(cs_raft_step(r, &c));
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_SNAPSHOT_RESP, 1)->reject);
    c.chunk_offset = 0;
    c.chunk = data;
    CS_CHECK_OK(cs_raft_step(r, &c));
    drain(r, &o);
    CS_CHECK_EQ(find(&o, CS_RAFT_MSG_SNAPSHOT_RESP, 1)->index, 4);
    CS_CHECK(!o.snapshot);
    c.chunk_offset = 4;
    c.chunk = data + 4;
    c.chunk_len = 6;
    c.chunk_done = true;
    CS_CHECK_OK(cs_raft_step(r, &c));
    drain(r, &o);
    CS_CHECK(o.snapshot);
    const struct cs_raft_msg *resp = find(&o, CS_RAFT_MSG_SNAPSHOT_RESP, 1);
    CS_CHECK(resp->chunk_done);
    CS_CHECK_EQ(resp->commit, 20);
    struct cs_raft_status st = status(r);
    CS_CHECK_EQ(st.snapshot_index, 20);
    CS_CHECK_EQ(st.last_index, 20);
    CS_CHECK_EQ(st.applied, 20);
    cs_raft_free(r);
}

/* Compaction, then a lagging follower is caught up by snapshot chunks. */
CS_TEST(leader_sends_snapshot_to_lagging_follower)
{
    node_release = count_and_free; /* the dropped bytes go through the driver's hook */
    node_released = 0;
    struct cs_raft *r = leader(3, NULL, 0, 0);
    node_release = NULL;
    struct out o;
    ack(r, 2, 1, 0);
    drain(r, &o);
    for (int k = 0; k < 5; k++)
        CS_CHECK_OK(cs_raft_propose(r, "abc", 3, NULL));
    drain(r, &o);
    ack(r, 2, 6, 0);
    drain(r, &o);
    CS_CHECK_EQ(o.applied_last, 6);
    CS_CHECK_RC(cs_raft_compact(r, 7, "s", 1), CS_ERANGE);
    struct cs_raft_snapshot_meta at, after;
    CS_CHECK_RC(cs_raft_snapshot_meta_at(r, 7, &at), CS_ERANGE);
    CS_CHECK_OK(cs_raft_snapshot_meta_at(r, 6, &at));
    CS_CHECK_EQ(at.index, 6);
    CS_CHECK_EQ(at.term, status(r).term);
    CS_CHECK_EQ(at.conf.members_len, 3);
    /* Taken without a copy: the node now owns the buffer (ASan would see a leak or a double free).
     */
    char *data = malloc(8);
    CS_CHECK(data != NULL);
    memcpy(data, "snapshot", 8);
    size_t released = node_released;
    CS_CHECK_OK(cs_raft_compact_take(r, 6, data, 8));
    /* Entries 1..6 (the leader's no-op has no data) went to the hook, not to free(). */
    CS_CHECK_EQ(node_released - released, 5);
    cs_raft_snapshot_meta(r, &after);
    CS_CHECK(after.index == at.index && after.term == at.term &&
             after.conf.members_len == at.conf.members_len);
    CS_CHECK_RC(cs_raft_compact(r, 6, "snapshot", 8), CS_ERANGE);
    CS_CHECK_RC(cs_raft_snapshot_meta_at(r, 6, &at), CS_ERANGE);
    /* Node 3 answers with a short log: it needs index 1, which is gone. */
    struct cs_raft_msg rej = msg(CS_RAFT_MSG_APPEND_RESP, 3, 1, status(r).term);
    rej.reject = true;
    rej.index = 6;
    rej.hint_index = 1;
    CS_CHECK_OK(cs_raft_step(r, &rej));
    drain(r, &o);
    const struct cs_raft_msg *chunk = find(&o, CS_RAFT_MSG_SNAPSHOT, 3);
    CS_CHECK(chunk != NULL);
    CS_CHECK_EQ(chunk->snap_meta.index, 6);
    CS_CHECK_EQ(chunk->index, 8);
    CS_CHECK(chunk->chunk_done);
    CS_CHECK_EQ(chunk->chunk_len, 8); /* the taken buffer, whole */
    struct cs_raft_msg done = msg(CS_RAFT_MSG_SNAPSHOT_RESP, 3, 1, status(r).term);
    done.chunk_done = true;
    done.index = 8;
    done.commit = 6;
    CS_CHECK_OK(cs_raft_step(r, &done));
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_APPEND, 3) != NULL); /* back to appends from 7 */
    cs_raft_free(r);
}

/* Membership: a learner is replicated to but not counted; promotion waits for catch-up. */
CS_TEST(membership_learner_then_voter)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    struct out o;
    uint64_t index = 0;
    CS_CHECK_RC(cs_raft_propose_conf(r, CS_RAFT_ADD_LEARNER, 4, NULL),
                CS_EBUSY); /* no term commit yet */
    ack(r, 2, 1, 0);
    drain(r, &o);
    CS_CHECK_OK(cs_raft_propose_conf(r, CS_RAFT_ADD_LEARNER, 4, &index));
    CS_CHECK_EQ(index, 2);
    CS_CHECK(cs_raft_conf_has(conf_of(r), 4)); /* used at once, uncommitted */
    CS_CHECK(!cs_raft_conf_is_voter(conf_of(r), 4));
    CS_CHECK_RC(cs_raft_propose_conf(r, CS_RAFT_REMOVE, 3, NULL), CS_EBUSY); /* one at a time */
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_APPEND, 4) != NULL);
    ack(r, 4, 2, 0); /* the learner alone does not make a quorum */
    CS_CHECK_EQ(status(r).commit, 1);
    ack(r, 2, 2, 0);
    CS_CHECK_EQ(status(r).commit, 2);
    CS_CHECK_RC(cs_raft_propose_conf(r, CS_RAFT_ADD_LEARNER, 4, NULL), CS_EEXIST);
    CS_CHECK_RC(cs_raft_propose_conf(r, CS_RAFT_PROMOTE, 5, NULL), CS_ENOTFOUND);
    drain(r, &o);
    /* Make the learner lag more than catchup_lag_max entries behind. */
    for (int k = 0; k < 20; k++)
        CS_CHECK_OK(cs_raft_propose(r, "x", 1, NULL));
    drain(r, &o);
    ack(r, 2, 22, 0);
    drain(r, &o);
    CS_CHECK_RC(cs_raft_propose_conf(r, CS_RAFT_PROMOTE, 4, NULL), CS_EBUSY);
    ack(r, 4, 22, 0);
    drain(r, &o);
    CS_CHECK_OK(cs_raft_propose_conf(r, CS_RAFT_PROMOTE, 4, NULL));
    CS_CHECK(cs_raft_conf_is_voter(conf_of(r), 4));
    CS_CHECK_EQ(cs_raft_conf_voters(conf_of(r)), 4);
    cs_raft_free(r);
}

/* Removing the leader: it steps down once the configuration without it commits. */
CS_TEST(membership_remove_leader)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    struct out o;
    ack(r, 2, 1, 0);
    drain(r, &o);
    CS_CHECK_OK(cs_raft_propose_conf(r, CS_RAFT_REMOVE, 1, NULL));
    CS_CHECK_EQ(status(r).role, CS_RAFT_LEADER);
    drain(r, &o);
    ack(r, 2, 2, 0); /* nodes 2 and 3 are the voters now: 2 of 2 needed */
    CS_CHECK_EQ(status(r).role, CS_RAFT_LEADER);
    ack(r, 3, 2, 0);
    CS_CHECK_EQ(status(r).commit, 2);
    CS_CHECK_EQ(status(r).role, CS_RAFT_FOLLOWER);
    cs_raft_free(r);
}

/* Leadership transfer: catch the target up, send TimeoutNow; it campaigns past stickiness. */
CS_TEST(leadership_transfer)
{
    struct cs_raft *r = leader(3, NULL, 0, 0);
    struct out o;
    ack(r, 2, 1, 0);
    drain(r, &o);
    CS_CHECK_RC(cs_raft_transfer_leadership(r, 1), CS_EINVAL);
    CS_CHECK_RC(cs_raft_transfer_leadership(r, 9), CS_ENOTFOUND);
    CS_CHECK_OK(cs_raft_transfer_leadership(r, 3)); /* node 3 is behind */
    CS_CHECK_RC(cs_raft_propose(r, "x", 1, NULL), CS_EBUSY);
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_TIMEOUT_NOW, 3) == NULL);
    ack(r, 3, 1, 0);
    drain(r, &o);
    const struct cs_raft_msg *tn = find(&o, CS_RAFT_MSG_TIMEOUT_NOW, 3);
    CS_CHECK(tn != NULL);
    /* The target campaigns at once, without pre-vote, and its votes skip stickiness. */
    struct cs_raft *t = node(3, 3, (uint64_t[]){1}, 1, 1, 0);
    struct cs_raft_msg hb = msg(CS_RAFT_MSG_APPEND, 1, 3, 1);
    hb.index = 1;
    hb.log_term = 1;
    CS_CHECK_OK(cs_raft_step(t, &hb));
    drain(t, &o);
    struct cs_raft_msg now = msg(CS_RAFT_MSG_TIMEOUT_NOW, 1, 3, 1);
    CS_CHECK_OK(cs_raft_step(t, &now));
    drain(t, &o);
    CS_CHECK_EQ(status(t).role, CS_RAFT_CANDIDATE);
    const struct cs_raft_msg *v = find(&o, CS_RAFT_MSG_VOTE, 2);
    CS_CHECK(v && v->transfer && v->term == 2);
    struct cs_raft *f = node(2, 3, (uint64_t[]){1}, 1, 1, 0);
    CS_CHECK_OK(cs_raft_step(f, &(struct cs_raft_msg){.type = CS_RAFT_MSG_APPEND,
                                                      .group_id = GROUP,
                                                      .from = 1,
                                                      .to = 2,
                                                      .term = 1,
                                                      .index = 1,
                                                      .log_term = 1}));
    struct cs_raft_msg vote = *v;
    vote.to = 2;
    CS_CHECK_OK(cs_raft_step(f, &vote));
    drain(f, &o);
    CS_CHECK(!find(&o, CS_RAFT_MSG_VOTE_RESP, 3)->reject);
    /* Abandoned after an election timeout if the target never wins. */
    cs_raft_tick(r, 1000 + 250);
    CS_CHECK_EQ(status(r).transfer_target, 0);
    cs_raft_free(f);
    cs_raft_free(t);
    cs_raft_free(r);
}

/* Restart: inconsistent durable state is refused. */
CS_TEST(restore_checks_durable_state)
{
    struct cs_raft_config cfg;
    cs_raft_config_default(&cfg, 1, GROUP, 1);
    struct cs_raft_restore rs;
    memset(&rs, 0, sizeof rs);
    struct cs_raft_entry e[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
    rs.entries = e;
    rs.entries_len = 2;
    rs.hard_state.term = 1;
    struct cs_raft *r = NULL;
    CS_CHECK_RC(cs_raft_new(&cfg, &rs, 0, &r), CS_EINVAL);
    e[1].index = 2;
    rs.hard_state.commit = 3;
    CS_CHECK_RC(cs_raft_new(&cfg, &rs, 0, &r), CS_EINVAL);
    rs.hard_state.commit = 2;
    CS_CHECK_OK(cs_raft_new(&cfg, &rs, 0, &r));
    CS_CHECK_EQ(status(r).commit, 2);
    cs_raft_free(r);
    cfg.heartbeat_interval_ms = cfg.election_timeout_ms;
    CS_CHECK_RC(cs_raft_new(&cfg, &rs, 0, &r), CS_EINVAL);
}

/*
 * A follower whose whole in-flight window was lost (its appends dropped, or it
 * restarted) must still be contacted: the heartbeat goes out past a full
 * window, and the follower's answer frees the window or starts a probe.
 * Without this the leader stays silent to it for its whole term.
 */
CS_TEST(heartbeat_passes_a_full_window)
{
    struct cs_raft *r = leader(3, (uint64_t[]){1}, 1, 1);
    struct out o;
    uint64_t last = status(r).last_index;
    ack(r, 2, last, 0);
    ack(r, 3, last, 0);
    drain(r, &o);
    /* Fill node 2's window; every append to it is lost. */
    for (int k = 0; k < 64; k++) {
        uint64_t index;
        uint8_t cmd = (uint8_t)k;
        CS_CHECK_OK(cs_raft_propose(r, &cmd, 1, &index));
        drain(r, &o);
        ack(r, 3, index, 0);
        drain(r, &o);
    }
    /* The window is full: a new proposal sends node 2 nothing. */
    uint64_t index;
    uint8_t cmd = 99;
    CS_CHECK_OK(cs_raft_propose(r, &cmd, 1, &index));
    drain(r, &o);
    CS_CHECK(find(&o, CS_RAFT_MSG_APPEND, 2) == NULL);
    /* The heartbeat still reaches it. */
    cs_raft_tick(r, 1000 + 100);
    drain(r, &o);
    const struct cs_raft_msg *hb = find(&o, CS_RAFT_MSG_APPEND, 2);
    CS_CHECK(hb != NULL);
    /* Node 2 has only the entries it acknowledged: it rejects, and the leader probes from there. */
    struct cs_raft_msg rej = msg(CS_RAFT_MSG_APPEND_RESP, 2, 1, status(r).term);
    rej.reject = true;
    rej.index = hb->index;
    rej.hint_index = last;
    CS_CHECK_OK(cs_raft_step(r, &rej));
    drain(r, &o);
    const struct cs_raft_msg *probe = find(&o, CS_RAFT_MSG_APPEND, 2);
    CS_CHECK(probe != NULL);
    CS_CHECK_EQ(probe->index, last);
    cs_raft_free(r);
}

CS_TEST_MAIN(CS_CASE(election_timeout_is_randomized), CS_CASE(heartbeat_passes_a_full_window),
             CS_CASE(pre_vote_keeps_term),
             CS_CASE(vote_needs_up_to_date_log_and_is_persisted_before_sent),
             CS_CASE(bug_reply_before_persist_defers_the_vote),
             CS_CASE(append_rejects_with_conflict_hints),
             CS_CASE(append_truncates_conflict_and_commits),
             CS_CASE(step_refuses_foreign_and_malformed), CS_CASE(figure8_commit_rule),
             CS_CASE(check_quorum_steps_down), CS_CASE(pre_vote_and_stickiness_prevent_disruption),
             CS_CASE(read_index_needs_a_confirmed_round),
             CS_CASE(read_index_not_served_by_deposed_leader),
             CS_CASE(read_index_waits_for_term_commit), CS_CASE(lease_read_served_without_round),
             CS_CASE(propose_limits), CS_CASE(snapshot_chunks_install),
             CS_CASE(leader_sends_snapshot_to_lagging_follower),
             CS_CASE(membership_learner_then_voter), CS_CASE(membership_remove_leader),
             CS_CASE(leadership_transfer), CS_CASE(restore_checks_durable_state))
