/*
 * raft_internal.h: the node's state, shared by the files of src/raft.
 *
 * One file per concern: log.c (the in-memory log and its stable mark),
 * node.c (lifecycle, roles, time, the Ready batch, message dispatch),
 * election.c (pre-vote, vote, tally), replication.c (append, commit,
 * snapshots to and from followers), read.c (ReadIndex and leases),
 * membership.c (configuration changes, leadership transfer), codec.c (the
 * wire encoding). Internal functions are named after their file.
 */
#ifndef CS_RAFT_INTERNAL_H
#define CS_RAFT_INTERNAL_H

#include "base/assert.h"
#include "consist/raft.h"

/* The log after the snapshot: entries[k].index == snap_index + 1 + k. */
struct raft_log {
    struct cs_raft_entry *entries; /* each entry's data is owned (malloc) */
    size_t len;
    size_t cap;
    uint64_t snap_index;
    uint64_t snap_term;
    uint64_t stable; /* entries up to here are durable (acknowledged by advance) */
    void (*release)(void *ctx, void *p); /* NULL: free() (struct cs_raft_config) */
    void *release_ctx;
};

/* raft_release: hand bytes the node no longer needs to the driver's release, or free them. */
void raft_release(const struct raft_log *log, void *p);

void log_init(struct raft_log *log, uint64_t snap_index, uint64_t snap_term);
void log_free(struct raft_log *log);
uint64_t log_last_index(const struct raft_log *log);
uint64_t log_last_term(const struct raft_log *log);
/* log_term: term of the entry at index; false if compacted or past the end. */
bool log_term(const struct raft_log *log, uint64_t index, uint64_t *term_out);
const struct cs_raft_entry *log_at(const struct raft_log *log, uint64_t index);
/* log_append: one entry at last+1 (data copied). CS_ENOMEM. */
int log_append(struct raft_log *log, uint64_t term, uint8_t type, const void *data,
               uint32_t data_len);
/* log_truncate: drop every entry at or after index (> snap_index). */
void log_truncate(struct raft_log *log, uint64_t index);
/* log_compact: drop entries up to index (in the log), which becomes the snapshot point. */
void log_compact(struct raft_log *log, uint64_t index);
/* log_reset: drop everything; the log now starts after (index, term). */
void log_reset(struct raft_log *log, uint64_t index, uint64_t term);
/* log_up_to_date: is (term, index) at least as up to date as the log's last entry (§3.6.1)? */
bool log_up_to_date(const struct raft_log *log, uint64_t term, uint64_t index);

enum raft_progress_state {
    PROGRESS_PROBE = 0,     /* one append at a time until the match is found */
    PROGRESS_REPLICATE = 1, /* pipelined appends, up to inflight_max */
    PROGRESS_SNAPSHOT = 2,  /* sending the snapshot in chunks, one at a time */
};

/* The leader's view of one member. */
struct raft_progress {
    uint64_t id;
    bool voter;
    uint8_t state;
    bool probe_sent;    /* PROBE: an append is out; wait for its reply or a heartbeat reply */
    bool recent_active; /* heard from since the last check-quorum round */
    bool chunk_sent;    /* SNAPSHOT: a chunk is out */
    uint64_t match;
    uint64_t next;
    uint64_t acked_seq;   /* highest heartbeat round it confirmed */
    uint64_t snap_index;  /* SNAPSHOT: which snapshot is being sent */
    uint64_t snap_offset; /* SNAPSHOT: bytes the follower has */
    uint32_t inflight_start;
    uint32_t inflight_len;
    uint64_t inflight[CS_RAFT_INFLIGHT_MAX]; /* last index of each append in flight */
};

/* A message in the outbox, with its own copies of entries and chunk bytes. */
struct raft_outmsg {
    struct cs_raft_msg msg;
    void *owned; /* entries array + data, or chunk bytes; freed at advance */
};

struct raft_pending_read {
    uint64_t seq;   /* heartbeat round that confirms it; 0: waiting for a term commit */
    uint64_t index; /* commit index when it was taken */
    struct cs_raft_read read;
};

#define RAFT_ROUNDS_MAX 64 /* heartbeat round send times remembered for leases */

struct cs_raft {
    struct cs_raft_config config;
    enum cs_raft_role role;
    uint64_t term;
    uint64_t vote;
    uint64_t commit;
    uint64_t applied;
    uint64_t leader;
    uint64_t now_ms;
    struct raft_log log;

    /* Membership: the latest configuration in the log (used at once, §4.1). */
    struct cs_raft_conf conf;
    uint64_t conf_index; /* index of the entry that set conf; snapshot index if from it */
    struct raft_progress progress[CS_RAFT_MEMBERS_MAX]; /* leader: parallel to conf */

    /* Timers (absolute ms). */
    uint64_t election_deadline_ms;
    uint64_t heartbeat_deadline_ms;
    uint64_t check_quorum_deadline_ms;
    uint64_t leader_contact_ms; /* last message from the current leader */

    /* Candidate tally: member ids that answered, and how. */
    uint64_t granted[CS_RAFT_MEMBERS_MAX];
    uint64_t refused[CS_RAFT_MEMBERS_MAX];
    uint32_t granted_len;
    uint32_t refused_len;

    /* Leadership transfer (leader) and being its target (campaign with transfer flag). */
    uint64_t transfer_target;
    uint64_t transfer_deadline_ms;
    bool campaign_transfer;

    /* Reads. */
    uint64_t seq; /* current heartbeat round */
    uint64_t round_seq[RAFT_ROUNDS_MAX];
    uint64_t round_ms[RAFT_ROUNDS_MAX];
    uint64_t lease_until_ms;
    struct raft_pending_read *pending; /* [CS_RAFT_READS_MAX] */
    uint32_t pending_len;
    struct cs_raft_read *ready_reads; /* [CS_RAFT_READS_MAX] */
    uint32_t ready_reads_len;

    /* Snapshots: ours (to send), one being received, one to install. */
    struct cs_raft_snapshot_meta snap_meta;
    uint8_t *snap_data;
    size_t snap_data_len;
    uint8_t *recv_data;
    size_t recv_len;
    size_t recv_cap;
    struct cs_raft_snapshot_meta recv_meta;
    bool recv_active;
    bool install_pending; /* snap_* must be handed to the driver in the next ready */
    struct cs_raft_snapshot install;

    /* Outbox and Ready bookkeeping. */
    struct raft_outmsg *outbox; /* [CS_RAFT_OUTBOX_MAX] */
    struct cs_raft_msg *ready_msgs;
    uint32_t outbox_len;
    uint64_t msgs_dropped;
    struct cs_raft_hard_state hs_reported; /* last hard state handed out */
    bool hs_defer;                         /* bug reply-before-persist: hold the vote back once */
    bool in_ready;                         /* between cs_raft_ready and cs_raft_advance */
};

/* node.c */
void node_become_follower(struct cs_raft *r, uint64_t term, uint64_t leader);
void node_become_candidate(struct cs_raft *r);
void node_become_pre_candidate(struct cs_raft *r);
void node_become_leader(struct cs_raft *r);
void node_reset_election_timer(struct cs_raft *r);
/* node_send: queue a message (copies entries / chunk). Drops it, counted, if the outbox is full. */
void node_send(struct cs_raft *r, const struct cs_raft_msg *msg);
uint32_t node_quorum(const struct cs_raft *r);
bool node_bug(const struct cs_raft *r, uint32_t bug);

/* election.c */
void election_campaign(struct cs_raft *r);
void election_on_request(struct cs_raft *r, const struct cs_raft_msg *m);
void election_on_response(struct cs_raft *r, const struct cs_raft_msg *m);

/* replication.c */
void replication_send_append(struct cs_raft *r, struct raft_progress *pr, bool allow_empty);
void replication_broadcast_append(struct cs_raft *r, bool allow_empty);
void replication_broadcast_heartbeat(struct cs_raft *r);
void replication_on_append(struct cs_raft *r, const struct cs_raft_msg *m);
void replication_on_append_resp(struct cs_raft *r, const struct cs_raft_msg *m);
void replication_on_snapshot(struct cs_raft *r, const struct cs_raft_msg *m);
void replication_on_snapshot_resp(struct cs_raft *r, const struct cs_raft_msg *m);
bool replication_maybe_commit(struct cs_raft *r);
struct raft_progress *replication_progress(struct cs_raft *r, uint64_t id);

/* read.c */
void read_on_ack(struct cs_raft *r, struct raft_progress *pr, uint64_t seq);
void read_on_term_commit(struct cs_raft *r);
void read_start_round(struct cs_raft *r);
void read_drop_all(struct cs_raft *r);
bool read_committed_in_term(const struct cs_raft *r);

/* membership.c */
void membership_reload(struct cs_raft *r);
void membership_on_commit(struct cs_raft *r);
/* fresh: forget every old progress (a new term of leadership). */
void membership_rebuild_progress(struct cs_raft *r, bool fresh);
void membership_on_caught_up(struct cs_raft *r, struct raft_progress *pr);
void membership_on_timeout_now(struct cs_raft *r, const struct cs_raft_msg *m);

#endif /* CS_RAFT_INTERNAL_H */
