/*
 * consist/raft.h: a sans-IO Raft consensus core, in etcd's Ready/Advance style.
 *
 * The one idea: the core is a pure state machine. It never does I/O, never
 * reads a clock and never draws randomness of its own. The driver feeds it
 * events (cs_raft_step, cs_raft_tick, cs_raft_propose, cs_raft_read_index) and
 * then collects everything the core wants done as one batch, a struct
 * cs_raft_ready, acts on it in a fixed order and acknowledges it with
 * cs_raft_advance. The same core runs under the simulator and the server.
 *
 * Implemented (Ongaro, "Consensus: Bridging Theory and Practice", 2014):
 * election with randomized timeouts (§3.4), pre-vote (§9.6), check-quorum and
 * leader stickiness (§6.2, §4.2.3), log replication with conflict hints for
 * fast backtracking (§5.3 of the paper) and a bounded pipeline, the commit
 * rule for current-term entries only (§3.6.2, Figure 3.7), ReadIndex reads
 * (§6.4) and lease reads behind an option (§6.4.1), snapshots sent in bounded
 * chunks (§5.3), single-server membership changes with learners (§4.1-4.2) and
 * leadership transfer (§3.10). Many groups per node: every message names its
 * group and a node refuses messages for another group.
 *
 * THE READY CONTRACT. After any input call, while cs_raft_has_ready() is true,
 * the driver takes rd = cs_raft_ready() and, in this order:
 *   1. if rd.snapshot is set, restores its state machine from it and stores it
 *      durably, dropping every durable log entry at or below its index;
 *   2. stores rd.entries durably, first deleting every durable entry at or
 *      after rd.entries[0].index (a conflicting suffix the leader replaced);
 *   3. if rd.hard_state_changed, stores rd.hard_state durably;
 *   4. only then sends rd.msgs: a message may depend on the term, vote and
 *      entries of the same batch (a vote reply on the vote, an append
 *      acknowledgement on the entries), and sending it before they are durable
 *      lets a crash make this node vote twice or forget an acknowledged entry;
 *   5. applies rd.committed in order; serves each of rd.reads once its
 *      state machine has applied up to that read's index;
 *   6. calls cs_raft_advance(r, &rd).
 * No input call may be made between cs_raft_ready and cs_raft_advance. All
 * pointers inside rd are owned by the core and valid until cs_raft_advance.
 *
 * Threading: a node is used by one thread at a time. Memory: the node owns
 * copies of everything it is given; cs_raft_free releases it all.
 */
#ifndef CONSIST_RAFT_H
#define CONSIST_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"
#include "consist/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Node ids are non-zero; 0 means "nobody" (no vote, no known leader). */
#define CS_RAFT_NONE 0

/* Limits. Every one is checked; the decoder enforces the wire ones. */
#define CS_RAFT_MEMBERS_MAX        16          /* voters + learners in one group */
#define CS_RAFT_ENTRY_BYTES_MAX    (1u << 20)  /* one command */
#define CS_RAFT_MSG_ENTRIES_MAX    256         /* entries in one append message */
#define CS_RAFT_MSG_BYTES_MAX      (8u << 20)  /* one encoded message */
#define CS_RAFT_CHUNK_BYTES_MAX    (1u << 20)  /* one snapshot chunk */
#define CS_RAFT_SNAPSHOT_BYTES_MAX (64u << 20) /* a whole snapshot */
#define CS_RAFT_OUTBOX_MAX         1024        /* messages in one ready batch */
#define CS_RAFT_INFLIGHT_MAX       64          /* pipelined appends per follower */
#define CS_RAFT_READS_MAX          1024        /* pending ReadIndex requests */
#define CS_RAFT_READ_CTX_BYTES_MAX 64          /* a read's caller context */

_Static_assert(CS_RAFT_ENTRY_BYTES_MAX * 4 < CS_RAFT_MSG_BYTES_MAX, "a message holds 4 entries");
_Static_assert(CS_RAFT_CHUNK_BYTES_MAX < CS_RAFT_MSG_BYTES_MAX, "a chunk fits in a message");

enum cs_raft_role {
    CS_RAFT_FOLLOWER = 0,
    CS_RAFT_PRE_CANDIDATE = 1,
    CS_RAFT_CANDIDATE = 2,
    CS_RAFT_LEADER = 3,
};

enum cs_raft_entry_type {
    CS_RAFT_ENTRY_NORMAL = 0, /* a state machine command (empty: a leader's no-op) */
    CS_RAFT_ENTRY_CONF = 1,   /* data is an encoded struct cs_raft_conf */
};

struct cs_raft_member {
    uint64_t id;
    bool voter; /* false: a learner, replicated to but never counted */
};

/* A group's membership. Members are kept sorted by id. */
struct cs_raft_conf {
    uint32_t members_len;
    struct cs_raft_member members[CS_RAFT_MEMBERS_MAX];
};

struct cs_raft_entry {
    uint64_t term;
    uint64_t index;
    uint8_t type; /* enum cs_raft_entry_type */
    uint32_t data_len;
    const uint8_t *data;
};

/* The state that must survive a crash, beside the log. */
struct cs_raft_hard_state {
    uint64_t term;
    uint64_t vote;   /* CS_RAFT_NONE or the node voted for in term */
    uint64_t commit; /* known committed index; never goes back */
};

struct cs_raft_snapshot_meta {
    uint64_t index; /* last log index the snapshot covers */
    uint64_t term;  /* that entry's term */
    struct cs_raft_conf conf;
};

struct cs_raft_snapshot {
    struct cs_raft_snapshot_meta meta;
    size_t data_len;
    const uint8_t *data;
};

enum cs_raft_msg_type {
    CS_RAFT_MSG_APPEND = 1,      /* entries after (log_term, index); also heartbeats */
    CS_RAFT_MSG_APPEND_RESP = 2, /* index: match; or reject with hints */
    CS_RAFT_MSG_VOTE = 3,        /* (log_term, index): candidate's last entry */
    CS_RAFT_MSG_VOTE_RESP = 4,
    CS_RAFT_MSG_PRE_VOTE = 5, /* term: the term the sender would campaign in */
    CS_RAFT_MSG_PRE_VOTE_RESP = 6,
    CS_RAFT_MSG_SNAPSHOT = 7,      /* one chunk of the leader's snapshot; index: total bytes */
    CS_RAFT_MSG_SNAPSHOT_RESP = 8, /* index: bytes held; chunk_done: installed, commit: match */
    CS_RAFT_MSG_TIMEOUT_NOW = 9,   /* leadership transfer: campaign at once */
};
#define CS_RAFT_MSG_TYPE_MAX 9

/*
 * A message. Which fields mean something depends on type (see enum). Entries
 * and chunk bytes are views: owned by the core in a ready batch, by the
 * caller's buffer after cs_raft_msg_decode.
 */
struct cs_raft_msg {
    uint8_t type;
    bool reject;
    bool transfer; /* a vote caused by leadership transfer: skip stickiness */
    bool chunk_done;
    uint64_t group_id;
    uint64_t from;
    uint64_t to;
    uint64_t term;
    uint64_t log_term;
    uint64_t index;
    uint64_t commit;
    uint64_t seq;        /* leader's heartbeat round, echoed in replies (ReadIndex) */
    uint64_t hint_term;  /* reject: follower's term at the conflict, 0 if its log is short */
    uint64_t hint_index; /* reject: first index the leader should try next */
    uint32_t entries_len;
    const struct cs_raft_entry *entries;
    /* CS_RAFT_MSG_SNAPSHOT only. */
    struct cs_raft_snapshot_meta snap_meta;
    uint64_t chunk_offset;
    uint32_t chunk_len;
    const uint8_t *chunk;
};

/* A ReadIndex request that may now be served at or after index. */
struct cs_raft_read {
    uint64_t index;
    uint32_t ctx_len;
    uint8_t ctx[CS_RAFT_READ_CTX_BYTES_MAX];
};

/* The batch of work the driver must do; see THE READY CONTRACT above. */
struct cs_raft_ready {
    bool hard_state_changed;
    struct cs_raft_hard_state hard_state;
    const struct cs_raft_snapshot *snapshot; /* NULL unless one must be installed */
    const struct cs_raft_entry *entries;     /* to persist */
    size_t entries_len;
    const struct cs_raft_msg *msgs; /* to send after persisting */
    size_t msgs_len;
    const struct cs_raft_entry *committed; /* to apply, in order */
    size_t committed_len;
    const struct cs_raft_read *reads;
    size_t reads_len;
};

/*
 * Planted bugs, for showing that the checkers catch them. Never set outside
 * tests and `consist sim raft --bug`.
 */
enum cs_raft_bug {
    CS_RAFT_BUG_COMMIT_OLD_TERM = 1u << 0,      /* commit-old-term: Figure 8 rule off */
    CS_RAFT_BUG_VOTE_NO_LOG_CHECK = 1u << 1,    /* vote-no-log-check: no up-to-date check */
    CS_RAFT_BUG_REPLY_BEFORE_PERSIST = 1u << 2, /* reply-before-persist: vote sent unsynced */
};

/* cs_raft_bug_parse: the bug named name ("commit-old-term", ...); 0 if unknown. */
uint32_t cs_raft_bug_parse(const char *name);
/* cs_raft_bug_names: "commit-old-term|vote-no-log-check|reply-before-persist". */
const char *cs_raft_bug_names(void);

struct cs_raft_config {
    uint64_t id;       /* this node, non-zero */
    uint64_t group_id; /* messages for other groups are refused */
    /* A follower campaigns after a random timeout in [t, 2t) without a leader. */
    uint32_t election_timeout_ms;
    uint32_t heartbeat_interval_ms; /* < election_timeout_ms */
    uint32_t inflight_max;          /* 1..CS_RAFT_INFLIGHT_MAX appends in flight */
    uint32_t msg_entries_max;       /* 1..CS_RAFT_MSG_ENTRIES_MAX entries per append */
    uint32_t msg_bytes_max;         /* soft bound on entry bytes per append */
    uint32_t chunk_bytes;           /* 1..CS_RAFT_CHUNK_BYTES_MAX snapshot chunk size */
    uint32_t uncommitted_max;       /* proposals past this many uncommitted: CS_EBUSY */
    uint32_t catchup_lag_max;       /* a learner this close to the leader may be promoted */
    bool pre_vote;
    bool check_quorum;
    /*
     * Lease reads serve ReadIndex without a heartbeat round while the leader
     * holds a lease. SAFE ONLY IF clocks drift less than clock_drift_ms_max
     * between nodes over an election timeout; needs check_quorum.
     */
    bool lease_reads;
    uint32_t clock_drift_ms_max;
    struct cs_rng rng; /* copied: the stream election timeouts are drawn from */
    uint32_t bugs;     /* enum cs_raft_bug bits; 0 in production */
    /*
     * Where the bytes the node drops while it runs go (the data of compacted
     * or replaced log entries, a replaced snapshot): release(release_ctx, p)
     * instead of free(p), so a driver can free them later or on another
     * thread (freeing 100,000 entries at a compaction is a stall otherwise).
     * NULL: free(). cs_raft_free frees what it still holds itself.
     */
    void (*release)(void *ctx, void *p);
    void *release_ctx;
};

/* cs_raft_config_default: sane defaults for id, group and rng seed. */
void cs_raft_config_default(struct cs_raft_config *config, uint64_t id, uint64_t group_id,
                            uint64_t rng_seed);

/* The durable state a node restarts from (all copied; may be freed after). */
struct cs_raft_restore {
    struct cs_raft_hard_state hard_state;
    /* The latest snapshot. A new group is bootstrapped with index 0, term 0 and
     * the initial members; a node that will join later with no members. */
    struct cs_raft_snapshot snapshot;
    const struct cs_raft_entry *entries; /* the durable log after the snapshot */
    size_t entries_len;
};

struct cs_raft;

/*
 * cs_raft_new: a node from its config and durable state, as a follower.
 * Returns 0 and sets *out; CS_EINVAL for a bad config or inconsistent state
 * (entries not contiguous after the snapshot, commit past the log);
 * CS_ENOMEM.
 */
int cs_raft_new(const struct cs_raft_config *config, const struct cs_raft_restore *restore,
                uint64_t now_ms, struct cs_raft **out);

void cs_raft_free(struct cs_raft *r);

/*
 * cs_raft_tick: time is now_ms (never less than before). Drives election and
 * heartbeat timeouts, check-quorum and transfer deadlines.
 */
void cs_raft_tick(struct cs_raft *r, uint64_t now_ms);

/*
 * cs_raft_step: take one message addressed to this node. The message is
 * copied as needed. Returns 0; CS_EINVAL when it names another group or
 * node, or is malformed (unknown type, entries not contiguous).
 */
int cs_raft_step(struct cs_raft *r, const struct cs_raft_msg *msg);

/*
 * cs_raft_propose: append a command (copied) as the leader. Sets *index_out
 * to its log index (it is committed when it appears in ready.committed with
 * that index and this term). CS_ENOTLEADER; CS_EBUSY while a leadership
 * transfer is in progress or uncommitted_max entries wait; CS_ETOOBIG past
 * CS_RAFT_ENTRY_BYTES_MAX; CS_ENOMEM.
 */
int cs_raft_propose(struct cs_raft *r, const void *data, size_t len, uint64_t *index_out);

enum cs_raft_conf_change {
    CS_RAFT_ADD_LEARNER = 1, /* add a non-voting member */
    CS_RAFT_PROMOTE = 2,     /* make a caught-up learner a voter */
    CS_RAFT_REMOVE = 3,      /* remove a voter or learner (may be the leader) */
};

/*
 * cs_raft_propose_conf: one membership change (thesis §4.1), as the leader.
 * A new configuration is used as soon as it is in the log; only one may be
 * uncommitted at a time. CS_ENOTLEADER; CS_EBUSY while another change is
 * uncommitted, a transfer runs, or a learner to promote has not caught up;
 * CS_EEXIST adding a member; CS_ENOTFOUND promoting or removing a stranger;
 * CS_ETOOBIG past CS_RAFT_MEMBERS_MAX; CS_EINVAL removing the last voter.
 */
int cs_raft_propose_conf(struct cs_raft *r, enum cs_raft_conf_change change, uint64_t node_id,
                         uint64_t *index_out);

/*
 * cs_raft_read_index: ask for a linearizable read (thesis §6.4). ctx (copied,
 * at most CS_RAFT_READ_CTX_BYTES_MAX) comes back in a ready's reads with the
 * index the state machine must reach before the read is served. Never needs
 * a clock unless lease_reads is on. CS_ENOTLEADER; CS_EBUSY with
 * CS_RAFT_READS_MAX reads pending; CS_ETOOBIG for a long ctx. A read whose
 * leader is deposed before confirming is dropped: the caller retries on a
 * timeout of its own.
 */
int cs_raft_read_index(struct cs_raft *r, const void *ctx, size_t ctx_len);

/*
 * cs_raft_transfer_leadership: hand leadership to target (thesis §3.10): stop
 * taking proposals, bring it up to date, tell it to campaign now. Abandoned
 * after an election timeout. CS_ENOTLEADER; CS_ENOTFOUND if target is not a
 * voter; CS_EINVAL for self; CS_EBUSY if a transfer runs.
 */
int cs_raft_transfer_leadership(struct cs_raft *r, uint64_t target);

/*
 * cs_raft_compact: the driver has a snapshot of its state machine at index
 * (<= applied). The node keeps a copy of data to send to slow followers and
 * drops its log up to index; the driver persists the same snapshot and
 * deletes its log prefix itself. CS_ERANGE if index is not in (snapshot
 * index, applied]; CS_ETOOBIG past CS_RAFT_SNAPSHOT_BYTES_MAX; CS_ENOMEM.
 */
int cs_raft_compact(struct cs_raft *r, uint64_t index, const void *data, size_t len);

/*
 * cs_raft_compact_take: cs_raft_compact without the copy: on success the node
 * owns data (malloc'd; freed with the node or the next snapshot); on error
 * the caller still does. Same codes.
 */
int cs_raft_compact_take(struct cs_raft *r, uint64_t index, void *data, size_t len);

/*
 * cs_raft_snapshot_meta_at: the metadata a snapshot at index would carry (its
 * term, the configuration as of index), so a driver can write the snapshot
 * elsewhere (another process) before cs_raft_compact*. CS_ERANGE if index is
 * not in (snapshot index, applied].
 */
int cs_raft_snapshot_meta_at(const struct cs_raft *r, uint64_t index,
                             struct cs_raft_snapshot_meta *out);

/* cs_raft_snapshot_meta: the node's latest snapshot point (after cs_raft_compact: what to persist).
 */
void cs_raft_snapshot_meta(const struct cs_raft *r, struct cs_raft_snapshot_meta *out);

bool cs_raft_has_ready(const struct cs_raft *r);
/* cs_raft_ready: fill rd with the pending batch (see THE READY CONTRACT). */
void cs_raft_ready(struct cs_raft *r, struct cs_raft_ready *rd);
/* cs_raft_advance: the batch rd, from the last cs_raft_ready, is done. */
void cs_raft_advance(struct cs_raft *r, const struct cs_raft_ready *rd);

/* Introspection, for drivers, tests and invariant checks. */
struct cs_raft_status {
    uint64_t id;
    enum cs_raft_role role;
    uint64_t term;
    uint64_t vote;
    uint64_t leader; /* CS_RAFT_NONE if unknown */
    uint64_t commit;
    uint64_t applied;
    uint64_t first_index; /* first entry in memory; snapshot index + 1 */
    uint64_t last_index;
    uint64_t snapshot_index;
    uint64_t transfer_target;
    uint64_t msgs_dropped; /* outbox overflows: counted, harmless to safety */
    struct cs_raft_conf conf;
};
void cs_raft_status(const struct cs_raft *r, struct cs_raft_status *out);

/*
 * cs_raft_entry_at: the entry at index if it is in memory: 0 and *out (a view
 * valid until the next input call); CS_ENOTFOUND otherwise.
 */
int cs_raft_entry_at(const struct cs_raft *r, uint64_t index, struct cs_raft_entry *out);

/* Configuration helpers. */
bool cs_raft_conf_is_voter(const struct cs_raft_conf *conf, uint64_t id);
bool cs_raft_conf_has(const struct cs_raft_conf *conf, uint64_t id);
uint32_t cs_raft_conf_voters(const struct cs_raft_conf *conf);
/* Encode / decode a configuration (the data of a CS_RAFT_ENTRY_CONF entry). */
int cs_raft_conf_encode(const struct cs_raft_conf *conf, struct cs_buf *out);
int cs_raft_conf_decode(const uint8_t *data, size_t len, struct cs_raft_conf *out);

/*
 * cs_raft_msg_encode: append msg's bounded binary encoding to out. Returns 0
 * or the buffer's error (CS_ETOOBIG past CS_RAFT_MSG_BYTES_MAX).
 */
int cs_raft_msg_encode(const struct cs_raft_msg *msg, struct cs_buf *out);

/*
 * cs_raft_msg_decode: decode data[0..len) into *msg. Entries go into the
 * caller's array entries[0..entries_cap); entry data and chunk bytes are
 * views into data. CS_EDECODE for malformed or trailing bytes, CS_ETOOBIG for
 * a field past its limit (or more entries than entries_cap), CS_EVERSION for
 * an unknown encoding version.
 */
int cs_raft_msg_decode(const uint8_t *data, size_t len, struct cs_raft_msg *msg,
                       struct cs_raft_entry *entries, size_t entries_cap);

const char *cs_raft_role_name(enum cs_raft_role role);
const char *cs_raft_msg_type_name(uint8_t type);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_RAFT_H */
