/*
 * protocols.h: the protocols under test that ship with the simulator, as
 * sans-IO nodes: ABD's quorum register (abd.c) and a primary-backup register
 * with asynchronous replication (primary_backup.c). The harness in run.c
 * allocates their states and attaches them; nothing else uses them.
 */
#ifndef CS_SIM_PROTOCOLS_H
#define CS_SIM_PROTOCOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/sim.h"

/* --- ABD ------------------------------------------------------------------- */

/* Operations one coordinator runs at once; more are refused (fail, not started). */
#define SIM_ABD_OPS_MAX 16
/* Acks a replica holds back until its state is durable; more are dropped (the coordinator retries).
 */
#define SIM_ABD_ACKS_MAX 64
/* Syncs a replica has in flight. */
#define SIM_ABD_SYNCS_MAX 32
/* Messages a node sends to itself within one callback. */
#define SIM_ABD_INBOX_MAX 8
/* Resend rounds before a coordinator gives an operation up (the client records info). */
#define SIM_ABD_RETRIES_MAX 20

/*
 * A timestamp: (counter, node, op_id), ordered lexicographically; (0, 0, 0)
 * is the initial nil. Textbook ABD's (counter, writer) is unique only while a
 * writer runs one write at a time; a coordinator here runs several at once
 * and forgets its counter in a crash, so the op's id (a 64-bit draw) breaks
 * the remaining ties: two writes never share a timestamp.
 */
struct sim_abd_ts {
    uint64_t counter;
    uint32_t node;
    uint64_t op_id;
};

struct sim_abd_ack {
    uint32_t to;
    uint64_t op_id;
    struct sim_abd_ts needed; /* send once durable_ts >= needed */
};

struct sim_abd_op {
    bool active;
    bool storing; /* phase 2 (store) rather than phase 1 (query) */
    uint64_t op_id;
    struct cs_sim_request req;
    uint32_t replied_mask;
    uint32_t retries;
    struct sim_abd_ts best_ts; /* query phase: the highest seen; store phase: what is stored */
    bool best_nil;
    int64_t best_value;
};

struct sim_abd_msg {
    uint8_t type;
    uint64_t op_id;
    struct sim_abd_ts ts;
    bool nil;
    int64_t value;
};

struct sim_abd_node {
    /* configuration, kept across crashes */
    bool writeback;       /* false plants the no-writeback bug */
    bool ack_before_sync; /* true plants a durability bug (tests of the invariant) */
    uint32_t id;
    uint32_t nodes_len;
    /* replica state (volatile copy of the disk) */
    struct sim_abd_ts ts;
    bool nil;
    int64_t value;
    struct sim_abd_ts durable_ts;
    uint32_t slot_next;
    uint64_t sync_next;
    struct {
        uint64_t sync_id;
        struct sim_abd_ts ts;
    } syncs[SIM_ABD_SYNCS_MAX];
    uint32_t syncs_len;
    struct sim_abd_ack acks[SIM_ABD_ACKS_MAX];
    uint32_t acks_len;
    /* coordinator state */
    struct sim_abd_op ops[SIM_ABD_OPS_MAX];
    bool ticking;
    /* messages to self, delivered after the current callback */
    struct sim_abd_msg inbox[SIM_ABD_INBOX_MAX];
    uint32_t inbox_len;
    /* ghost state for invariants: survives crashes, never read by the protocol */
    struct sim_abd_ts ghost_acked_max; /* highest ts this replica acknowledged as stored */
    struct sim_abd_ts ghost_last_ts;   /* ts at the previous check (this incarnation) */
    bool up;
};

extern const struct cs_sim_node_ops sim_abd_ops;

/* sim_abd_node_init: a fresh node state before attach. */
void sim_abd_node_init(struct sim_abd_node *node, bool writeback);

/*
 * sim_abd_msg_encode / _decode: the wire format, exposed for tests.
 * decode returns 0 or CS_EDECODE (bad type, truncated, trailing bytes).
 */
int sim_abd_msg_encode(const struct sim_abd_msg *msg, struct cs_buf *out);
int sim_abd_msg_decode(const uint8_t *bytes, size_t len, struct sim_abd_msg *out);

/* --- primary-backup with asynchronous replication --------------------------- */

struct sim_pb_node {
    uint32_t id;
    uint32_t nodes_len;
    uint64_t epoch;
    uint32_t primary;
    uint64_t version;
    bool nil;
    int64_t value;
    uint64_t heard_us; /* local time the primary was last heard */
    uint64_t sync_next;
    /* writes waiting for their sync before the client hears ok */
    struct {
        uint64_t sync_id;
        uint64_t request_id;
        int64_t value;
    } waiting[SIM_ABD_OPS_MAX];
    uint32_t waiting_len;
    bool up;
    uint64_t ghost_epoch_last; /* epoch at the previous check (this incarnation) */
};

extern const struct cs_sim_node_ops sim_pb_ops;
void sim_pb_node_init(struct sim_pb_node *node);

#endif /* CS_SIM_PROTOCOLS_H */
