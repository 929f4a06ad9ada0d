/*
 * consist/sim.h: the deterministic simulator every protocol core is tested in.
 *
 * The one idea: a whole cluster runs in one thread, in virtual time, and one
 * seed decides everything. The simulator owns an event queue (a bounded
 * binary heap ordered by (time_us, seq): ties break by the order in which the
 * events were scheduled, never by memory addresses) and one struct cs_rng
 * seeded from cs_sim_options.seed. At creation it forks, in a fixed order, a
 * stream for the network, the disks, the nemesis, the workload and one per
 * node, so one node's draws never shift another's. The same seed therefore
 * gives the same run, byte for byte; cs_sim_trace_hash() proves it.
 *
 * Units: virtual time is uint64_t MICROSECONDS since the start of the run
 * (names end in _us). Probabilities are parts per million (names end in _ppm).
 *
 * How a protocol plugs in (Raft, the quorum coordinator, the saga engine):
 *   1. Write a sans-IO node: a struct of your own plus a const
 *      struct cs_sim_node_ops (the vtable below). The node never reads a clock
 *      or a random source and never does I/O: every callback receives a
 *      struct cs_sim_ctx carrying the node's local time (ctx->now_us, already
 *      skewed and drifted) and its own rng (ctx->rng), and the node acts only
 *      by calling cs_sim_send, cs_sim_timer_set/cancel, cs_sim_disk_* on
 *      ctx->disk, cs_sim_sync and cs_sim_reply on that ctx.
 *   2. Create the simulator (cs_sim_create), attach one node per id
 *      (cs_sim_node_attach), start it (cs_sim_start: calls init on each node).
 *   3. Drive clients with a workload (cs_sim_workload_*) or by hand with
 *      cs_sim_client_send, schedule faults with a nemesis (cs_sim_nemesis_*)
 *      or by hand (cs_sim_crash, cs_sim_partition_*, ...), and step:
 *      cs_sim_step fires exactly one event, cs_sim_run_until many.
 *   4. Assert invariants after every step: ops->check_invariants per node and
 *      cs_sim_options.check_fn for cluster-wide properties (e.g. election
 *      safety); record the history and give it to the checker.
 * An etcd-style Ready/Advance core is adapted in a few lines: in each
 * callback, step the core, then walk its Ready batch: disk writes become
 * cs_sim_disk_put + cs_sim_sync (send the messages that depend on them from
 * on_sync), messages become cs_sim_send, and tick() is driven by a periodic
 * cs_sim_timer_set.
 *
 * Memory: the simulator owns its queue, messages in flight and disks; the
 * history and node state belong to the caller (attach passes a pointer the
 * simulator never frees). Not thread-safe: one simulator per thread.
 *
 * docs/sim.md has the fault catalogue, a worked wiring example and how to
 * replay a seed.
 */
#ifndef CONSIST_SIM_H
#define CONSIST_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"
#include "consist/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- limits --------------------------------------------------------------- */

/* Nodes in one simulated cluster; node ids are 0..nodes_len-1. */
#define CS_SIM_NODES_MAX 16
/* The largest message a node may send; cs_sim_send refuses more with CS_ETOOBIG. */
#define CS_SIM_MESSAGE_BYTES_MAX 65536
/* Timer ids per node are 0..CS_SIM_TIMERS_MAX-1; setting a set timer re-arms it. */
#define CS_SIM_TIMERS_MAX 16
/* Hard ceiling on cs_sim_options.events_max (queued events). */
#define CS_SIM_EVENTS_MAX (1u << 20)
/* Hard ceiling on cs_sim_options.messages_in_flight_max. */
#define CS_SIM_MESSAGES_IN_FLIGHT_MAX (1u << 18)
/* Clients (workload processes running at once). */
#define CS_SIM_CLIENTS_MAX 64
/* Keys a workload spreads its operations over. */
#define CS_SIM_KEYS_MAX 64
/* Disk limits (per node): key and value sizes, live keys, unsynced writes. */
#define CS_SIM_DISK_KEY_BYTES_MAX   512
#define CS_SIM_DISK_VALUE_BYTES_MAX (1u << 20)
#define CS_SIM_DISK_ENTRIES_MAX     (1u << 20)
#define CS_SIM_DISK_PENDING_MAX     (1u << 16)
/* The set workload uses elements 0..63 per key; a set read returns a bitmask. */
#define CS_SIM_SET_ELEMENTS_MAX 64

/* --- the disk: a small ordered byte store with buffered writes ------------ */

/*
 * One node's disk: byte keys -> byte values, iterated in key order
 * (memcmp order, shorter key first on a common prefix). put and del are
 * buffered: reads see them at once, but they become durable only when a sync
 * covering them completes. A crash (cs_sim_disk_crash) keeps the durable
 * state plus a random prefix of the buffered writes in the order they were
 * issued (pages that happened to reach the platter), and may tear the last
 * surviving put: its value is cut to a shorter prefix. Synced data is never
 * lost or torn. A protocol that must survive tearing checksums its values
 * and never overwrites its only durable copy in place (see src/sim/abd.c).
 *
 * The interface is LMDB-shaped (put, del, get, cursor-next, sync) so that a
 * later LMDB-backed store can implement the same calls; an LMDB store simply
 * never tears.
 */
struct cs_sim_disk;

struct cs_sim_disk_limits {
    uint32_t key_bytes_max;   /* <= CS_SIM_DISK_KEY_BYTES_MAX */
    uint32_t value_bytes_max; /* <= CS_SIM_DISK_VALUE_BYTES_MAX */
    uint32_t entries_max;     /* live keys, <= CS_SIM_DISK_ENTRIES_MAX */
    uint32_t pending_max;     /* unsynced writes, <= CS_SIM_DISK_PENDING_MAX */
};

/*
 * cs_sim_disk_create: an empty disk. Zero limits take the maxima above.
 * Returns 0, CS_EINVAL (a limit past its maximum) or CS_ENOMEM. Free with
 * cs_sim_disk_destroy.
 */
int cs_sim_disk_create(const struct cs_sim_disk_limits *limits, struct cs_sim_disk **out);
void cs_sim_disk_destroy(struct cs_sim_disk *disk);

/*
 * cs_sim_disk_put: buffer key -> value (copied). Returns 0, CS_ETOOBIG (key
 * empty or longer than key_bytes_max, value longer than value_bytes_max),
 * CS_ENOSPACE (entries_max live keys, or pending_max unsynced writes: sync
 * first) or CS_ENOMEM. On error nothing changes.
 */
int cs_sim_disk_put(struct cs_sim_disk *disk, const void *key, size_t key_len, const void *value,
                    size_t value_len);

/* cs_sim_disk_del: buffer removal of key. 0, CS_ENOTFOUND, CS_ETOOBIG, CS_ENOSPACE, CS_ENOMEM. */
int cs_sim_disk_del(struct cs_sim_disk *disk, const void *key, size_t key_len);

/*
 * cs_sim_disk_get: the current value of key, as a view (*value, *value_len)
 * valid until the next put, del, sync or crash on this disk. 0 or CS_ENOTFOUND.
 */
int cs_sim_disk_get(const struct cs_sim_disk *disk, const void *key, size_t key_len,
                    const uint8_t **value, size_t *value_len);

/*
 * cs_sim_disk_next: the first entry whose key is strictly greater than
 * after (after == NULL: the first entry), as views valid as for get.
 * 0 or CS_ENOTFOUND past the last key. Iterate with after = the key just seen.
 */
int cs_sim_disk_next(const struct cs_sim_disk *disk, const void *after, size_t after_len,
                     const uint8_t **key, size_t *key_len, const uint8_t **value,
                     size_t *value_len);

/* cs_sim_disk_len: live keys, as reads see them. */
size_t cs_sim_disk_len(const struct cs_sim_disk *disk);

/* cs_sim_disk_pending: writes issued and not yet durable. */
size_t cs_sim_disk_pending(const struct cs_sim_disk *disk);

/*
 * cs_sim_disk_mark: the position after the last write issued; passing it to
 * cs_sim_disk_make_durable later makes every write issued before this call
 * durable. (The simulator calls both around a sync; nodes use cs_sim_sync.)
 */
uint64_t cs_sim_disk_mark(const struct cs_sim_disk *disk);
void cs_sim_disk_make_durable(struct cs_sim_disk *disk, uint64_t mark);

/*
 * cs_sim_disk_crash: lose the buffered writes as a crash would. With rng
 * NULL every unsynced write is lost; otherwise a uniformly random prefix of
 * them survives and, with probability torn_ppm, the last surviving put is
 * torn. Afterwards reads show exactly the durable state.
 */
void cs_sim_disk_crash(struct cs_sim_disk *disk, struct cs_rng *rng, uint32_t torn_ppm);

/* --- client requests and replies ------------------------------------------ */

/* Operation names, as in the history format ("f"). */
enum cs_sim_f {
    CS_SIM_F_READ = 0,
    CS_SIM_F_WRITE = 1, /* register/kv: set value */
    CS_SIM_F_CAS = 2,   /* register: if current == expect then value */
    CS_SIM_F_INCR = 3,  /* counter: add value */
    CS_SIM_F_ADD = 4,   /* set: add element value (0..CS_SIM_SET_ELEMENTS_MAX-1) */
};

/* A client's request, delivered to a node by on_client_request. */
struct cs_sim_request {
    uint64_t id;     /* unique in the run; echo it in the reply */
    uint32_t client; /* the client slot that sent it */
    uint32_t key;    /* 0 for single-register workloads */
    enum cs_sim_f f;
    int64_t value;  /* write/cas new value, incr delta, add element */
    int64_t expect; /* cas only */
};

/* How an operation ended, as in the history format ("type"). */
enum cs_sim_outcome {
    CS_SIM_OK = 0,   /* happened; value holds a read's result */
    CS_SIM_FAIL = 1, /* certainly did not happen (a cas that did not match, a refusal) */
    CS_SIM_INFO = 2, /* may or may not have happened (also what a timeout records) */
};

struct cs_sim_reply {
    uint64_t request_id;
    enum cs_sim_outcome outcome;
    int error;      /* CS_E code for FAIL/INFO, 0 for OK */
    bool value_nil; /* a read of a never-written register */
    int64_t value;  /* read result; for the set workload a bitmask of elements */
    /*
     * Where to go instead (a refusal from a follower naming the leader): the
     * node id PLUS ONE, so that a zeroed reply means "no hint".
     */
    uint32_t redirect;
};

/* --- the node interface ----------------------------------------------------- */

struct cs_sim;

/*
 * What a node's callback receives. Valid only during that callback; the
 * node must not keep the pointer. now_us is the node's LOCAL clock (virtual
 * time through its skew and drift), the only time a node may use.
 */
struct cs_sim_ctx {
    struct cs_sim *sim;       /* opaque: pass ctx, not this, to cs_sim_* calls */
    uint32_t node_id;         /* this node */
    uint32_t nodes_len;       /* cluster size */
    uint64_t now_us;          /* local clock */
    struct cs_rng *rng;       /* this node's own stream */
    struct cs_sim_disk *disk; /* this node's disk (cs_sim_disk_* calls) */
};

/*
 * A sans-IO node. Every callback is optional except on_message; a NULL
 * callback ignores its event. The node pointer is what was attached.
 */
struct cs_sim_node_ops {
    const char *name;
    /* Once, at cs_sim_start, on an empty disk. Non-zero stops the start. */
    int (*init)(void *node, struct cs_sim_ctx *ctx);
    /* A message from node `from`; bytes are valid during the call only. */
    void (*on_message)(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *bytes,
                       size_t bytes_len);
    /* Timer timer_id (set with cs_sim_timer_set) fired. */
    void (*on_timer)(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id);
    /* A client request; answer it (now or later) with cs_sim_reply. */
    void (*on_client_request)(void *node, struct cs_sim_ctx *ctx, const struct cs_sim_request *req);
    /* The sync started by cs_sim_sync(ctx, sync_id) completed: the writes before it are durable. */
    void (*on_sync)(void *node, struct cs_sim_ctx *ctx, uint64_t sync_id);
    /*
     * The node crashed: drop all volatile state (it will never see its timers,
     * syncs or pending requests again). The disk has already lost its
     * unsynced writes. No ctx: a crashed node cannot act.
     */
    void (*on_crash)(void *node);
    /* The node restarts: rebuild volatile state from ctx->disk. Non-zero is a bug. */
    int (*on_restart)(void *node, struct cs_sim_ctx *ctx);
    /*
     * Invariants of this node, run after every event that touched it:
     * CS_ASSERT inside, or return non-zero (the run records a violation).
     */
    int (*check_invariants)(void *node);
};

/*
 * cs_sim_send: send bytes (copied) to node `to` through the simulated
 * network. Delivery is not guaranteed: loss, partitions, a crashed receiver
 * and an overfull network drop silently. Returns 0, CS_EINVAL (bad node, or
 * to == self) or CS_ETOOBIG (more than CS_SIM_MESSAGE_BYTES_MAX).
 */
int cs_sim_send(struct cs_sim_ctx *ctx, uint32_t to, const void *bytes, size_t bytes_len);

/*
 * cs_sim_timer_set: fire on_timer(timer_id) once after delay_us of the
 * node's LOCAL clock (drift stretches it in virtual time); re-arms a set
 * timer. Returns 0 or CS_EINVAL (timer_id >= CS_SIM_TIMERS_MAX).
 */
int cs_sim_timer_set(struct cs_sim_ctx *ctx, uint32_t timer_id, uint64_t delay_us);
/* cs_sim_timer_cancel: disarm timer_id; 0 or CS_EINVAL. Cancelling an idle timer is fine. */
int cs_sim_timer_cancel(struct cs_sim_ctx *ctx, uint32_t timer_id);

/*
 * cs_sim_sync: make every disk write issued so far durable; on_sync(sync_id)
 * reports completion after the disk's latency. Syncs complete in issue
 * order. A crash first cancels it (and loses the writes). Returns 0 or
 * CS_EBUSY (event queue full: a harness sizing bug).
 */
int cs_sim_sync(struct cs_sim_ctx *ctx, uint64_t sync_id);

/*
 * cs_sim_reply: answer a client request; reaches the client after the
 * client link's latency. Replying twice, or to an unknown id, is ignored by
 * the client. Returns 0 or CS_EBUSY.
 */
int cs_sim_reply(struct cs_sim_ctx *ctx, const struct cs_sim_reply *reply);

/* --- the network, clocks, disks: configuration and faults ----------------- */

/*
 * One direction of one link. A message takes latency_min_us plus a uniform
 * draw in [0, latency_jitter_us]; with reorder_ppm it is also held back a
 * uniform [0, reorder_delay_us] more (a heavy tail that overtakes
 * messages). With loss_ppm it is dropped; with duplicate_ppm it is
 * delivered twice (independent delays).
 */
struct cs_sim_link {
    uint32_t latency_min_us;
    uint32_t latency_jitter_us;
    uint32_t reorder_ppm;
    uint32_t reorder_delay_us;
    uint32_t loss_ppm;
    uint32_t duplicate_ppm;
};

struct cs_sim_stats {
    uint64_t events;             /* events fired */
    uint64_t messages_sent;      /* cs_sim_send calls accepted */
    uint64_t messages_delivered; /* on_message calls */
    uint64_t messages_lost;      /* dropped by loss_ppm */
    uint64_t messages_cut;       /* dropped by a partition */
    uint64_t messages_to_down;   /* receiver crashed */
    uint64_t messages_overflow;  /* messages_in_flight_max reached */
    uint64_t messages_duplicated;
    uint64_t timers_fired;
    uint64_t syncs;
    uint64_t crashes;
    uint64_t restarts;
    uint64_t pauses;
    uint64_t partitions;
    uint64_t invariant_failures;
};

struct cs_sim_options {
    uint64_t seed;
    uint32_t nodes_len;              /* 1..CS_SIM_NODES_MAX */
    uint32_t events_max;             /* queue bound; 0: 65536 */
    uint32_t messages_in_flight_max; /* 0: 16384 */
    struct cs_sim_link link;         /* every node-to-node link at start */
    /* Client <-> node latency: min + uniform [0, jitter]; clients are never partitioned. */
    uint32_t client_latency_min_us;
    uint32_t client_latency_jitter_us;
    /* A sync completes after min + uniform [0, jitter] (and after the previous sync). */
    uint32_t sync_latency_min_us;
    uint32_t sync_latency_jitter_us;
    uint32_t disk_torn_ppm; /* chance a crash tears the last surviving unsynced put */
    struct cs_sim_disk_limits disk;
    /* Cluster invariants, after every event; non-zero records a violation. */
    int (*check_fn)(void *arg, struct cs_sim *sim);
    void *check_arg;
    /* Optional text trace: one line per event (slow; for replaying a seed by eye). */
    void (*trace_fn)(void *arg, const char *line);
    void *trace_arg;
};

/* cs_sim_options_default: a 3-node LAN-ish cluster with no faults, for seed. */
void cs_sim_options_default(struct cs_sim_options *opts, uint64_t seed);

/*
 * cs_sim_create: a simulator at virtual time 0, every link healed, every
 * clock exact. Returns 0, CS_EINVAL (bad option) or CS_ENOMEM.
 */
int cs_sim_create(const struct cs_sim_options *opts, struct cs_sim **out);
void cs_sim_destroy(struct cs_sim *sim);

/* cs_sim_node_attach: node node_id is ops over state (caller-owned). 0, CS_EINVAL, CS_ESTATE
 * (started). */
int cs_sim_node_attach(struct cs_sim *sim, uint32_t node_id, const struct cs_sim_node_ops *ops,
                       void *state);

/* cs_sim_start: call init on every node in id order. 0, CS_ESTATE (a node unattached), or init's
 * error. */
int cs_sim_start(struct cs_sim *sim);

/*
 * cs_sim_step: fire the earliest event (ties: the one scheduled first).
 * Returns true if one fired, false when the queue is empty.
 */
bool cs_sim_step(struct cs_sim *sim);

/* cs_sim_run_until: step while the next event is at or before time_us; then now = time_us. */
void cs_sim_run_until(struct cs_sim *sim, uint64_t time_us);

uint64_t cs_sim_now_us(const struct cs_sim *sim);
uint32_t cs_sim_nodes_len(const struct cs_sim *sim);
const struct cs_sim_stats *cs_sim_stats(const struct cs_sim *sim);
/* A 64-bit hash over every event fired so far (time, kind, node, payload). */
uint64_t cs_sim_trace_hash(const struct cs_sim *sim);
/* The disk of a node (for harness inspection; nodes use ctx->disk). */
struct cs_sim_disk *cs_sim_node_disk(struct cs_sim *sim, uint32_t node_id);
bool cs_sim_node_up(const struct cs_sim *sim, uint32_t node_id);
bool cs_sim_node_paused(const struct cs_sim *sim, uint32_t node_id);
/* cs_sim_node_clock_us: node's local clock reading at the current virtual time. */
uint64_t cs_sim_node_clock_us(const struct cs_sim *sim, uint32_t node_id);

/* cs_sim_link_set: configure the link from -> to. 0 or CS_EINVAL. */
int cs_sim_link_set(struct cs_sim *sim, uint32_t from, uint32_t to, const struct cs_sim_link *link);
/* cs_sim_link_get: the link from -> to (both must be node ids). */
void cs_sim_link_get(const struct cs_sim *sim, uint32_t from, uint32_t to, struct cs_sim_link *out);

/*
 * Partitions. A cut link drops messages sent over it and messages in flight
 * on it when they arrive. Cuts are one-way; each helper adds cuts to those in
 * place (call cs_sim_heal first for a fresh shape). Masks have bit i for node i.
 */
int cs_sim_partition_cut(struct cs_sim *sim, uint32_t from, uint32_t to);
/* side vs the rest, both ways. */
void cs_sim_partition_halves(struct cs_sim *sim, uint32_t side_mask);
/* node alone vs everyone, both ways. */
void cs_sim_partition_isolate(struct cs_sim *sim, uint32_t node_id);
/* side vs rest both ways, except the bridge node, which reaches both sides. */
void cs_sim_partition_bridge(struct cs_sim *sim, uint32_t bridge_id, uint32_t side_mask);
/* messages from nodes in from_mask to nodes in to_mask are cut; the reverse flows. */
void cs_sim_partition_one_way(struct cs_sim *sim, uint32_t from_mask, uint32_t to_mask);
bool cs_sim_link_cut(const struct cs_sim *sim, uint32_t from, uint32_t to);
/* cs_sim_heal: remove every cut. */
void cs_sim_heal(struct cs_sim *sim);

/*
 * cs_sim_crash: the node stops; its unsynced disk writes are lost (a random
 * prefix survives, possibly torn), its timers and syncs are cancelled,
 * messages to it are dropped until restart. 0, CS_EINVAL, CS_ESTATE (down).
 */
int cs_sim_crash(struct cs_sim *sim, uint32_t node_id);
/* cs_sim_restart: on_restart over the durable disk. 0, CS_EINVAL, CS_ESTATE (up, or not started),
 * or its error. */
int cs_sim_restart(struct cs_sim *sim, uint32_t node_id);
/*
 * cs_sim_pause: the node stops for duration_us (a GC or VM pause): its
 * events wait and fire in order at resume, with its clock having jumped.
 * 0, CS_EINVAL, CS_ESTATE (down or already paused).
 */
int cs_sim_pause(struct cs_sim *sim, uint32_t node_id, uint64_t duration_us);
/*
 * cs_sim_clock_set: from now on the node's clock reads
 *   local = virtual + offset_us + virtual * drift_ppm / 1e6
 * seen through a monotonic filter: a node's clock never goes back (as
 * CLOCK_MONOTONIC), so a backward step makes it stand still until it catches
 * up. drift_ppm in [-500000, 500000]; the reading must stay >= 0.
 * 0 or CS_EINVAL.
 */
int cs_sim_clock_set(struct cs_sim *sim, uint32_t node_id, int64_t offset_us, int32_t drift_ppm);

/* --- harness events ---------------------------------------------------------- */

/*
 * cs_sim_schedule: call fn(arg, sim, tag) at now + delay_us, in queue order
 * with everything else (workloads and nemeses are built on this).
 * 0 or CS_EBUSY (queue full).
 */
typedef void (*cs_sim_call_fn)(void *arg, struct cs_sim *sim, uint64_t tag);
int cs_sim_schedule(struct cs_sim *sim, uint64_t delay_us, cs_sim_call_fn fn, void *arg,
                    uint64_t tag);

/*
 * cs_sim_client_send: deliver req to node_id after the client latency;
 * dropped if the node is down when it arrives. The reply comes back through
 * the reply handler. 0, CS_EINVAL or CS_EBUSY.
 */
int cs_sim_client_send(struct cs_sim *sim, uint32_t node_id, const struct cs_sim_request *req);
typedef void (*cs_sim_reply_fn)(void *arg, struct cs_sim *sim, const struct cs_sim_reply *reply);
void cs_sim_set_reply_handler(struct cs_sim *sim, cs_sim_reply_fn fn, void *arg);

/* cs_sim_rng: one of the simulator's forked streams, for harness parts. */
enum cs_sim_stream {
    CS_SIM_STREAM_NEMESIS = 0,
    CS_SIM_STREAM_WORKLOAD = 1,
};
struct cs_rng *cs_sim_rng(struct cs_sim *sim, enum cs_sim_stream stream);

/* cs_sim_trace: add a harness line to the trace hash (and trace_fn). */
void cs_sim_trace(struct cs_sim *sim, const char *line);

/* --- workloads ------------------------------------------------------------------ */

enum cs_sim_workload_kind {
    CS_SIM_WORKLOAD_REGISTER = 0, /* one register, read/write (and cas if cas_ppm) */
    CS_SIM_WORKLOAD_KV = 1,       /* keys_len registers, read/write/cas per key */
    CS_SIM_WORKLOAD_COUNTER = 2,  /* incr/read */
    CS_SIM_WORKLOAD_SET = 3,      /* add/read */
};

/*
 * Which node a client sends to. attempt counts the client's consecutive
 * failures (0 after a success); last_node is where it sent last
 * (UINT32_MAX at first); hint is the node the last reply redirected to
 * (UINT32_MAX if none). NULL route: the hint if there is one, else a
 * uniformly random node.
 */
typedef uint32_t (*cs_sim_route_fn)(void *arg, struct cs_rng *rng, uint32_t client,
                                    uint32_t last_node, uint32_t attempt, uint32_t hint);

struct cs_sim_workload_options {
    enum cs_sim_workload_kind kind;
    uint32_t clients_len; /* 1..CS_SIM_CLIENTS_MAX */
    uint32_t ops_max;     /* operations to invoke in all */
    uint32_t keys_len;    /* kv/counter/set: keys 0..keys_len-1 (>= 1) */
    uint32_t read_ppm;    /* share of reads */
    uint32_t cas_ppm;     /* register/kv: share of cas among non-reads */
    uint64_t op_timeout_us;
    uint64_t think_min_us; /* pause between a client's ops: uniform [min, max] */
    uint64_t think_max_us;
    cs_sim_route_fn route;
    void *route_arg;
};

struct cs_sim_workload;
struct cs_history; /* consist/check.h */

/*
 * cs_sim_workload_start: clients begin issuing operations on sim, recording
 * into history (a cs_history of consist/check.h, caller-owned, empty, must
 * outlive the workload) with virtual times in microseconds. Keys are
 * interned as "k0", "k1", ...; the register workload records no key. A
 * cas records the value [expect, new]; a cas refused for any reason other
 * than a failed compare (error CS_ECONFLICT) is recorded as info, since the
 * checker reads a failed cas as a compare that failed. Installs the
 * simulator's reply handler. A timed-out op is recorded as info and its
 * client continues under a fresh process number (Jepsen's rule: an open
 * operation's process may issue nothing more). Written values are unique
 * per run. 0, CS_EINVAL, CS_ENOMEM, CS_EBUSY.
 */
int cs_sim_workload_start(struct cs_sim *sim, const struct cs_sim_workload_options *opts,
                          struct cs_history *history, struct cs_sim_workload **out);
/* Destroy the simulator first (or never step it again): queued events point at the workload. */
void cs_sim_workload_destroy(struct cs_sim_workload *workload);
/* cs_sim_workload_done: every operation invoked has completed (ok, fail or info). */
bool cs_sim_workload_done(const struct cs_sim_workload *workload);
uint32_t cs_sim_workload_invoked(const struct cs_sim_workload *workload);
/*
 * cs_sim_workload_error: the first error recording the history hit (then the
 * workload stops invoking), 0 if none. CS_ETOOBIG: the history's ops_max.
 */
int cs_sim_workload_error(const struct cs_sim_workload *workload);

/* --- the nemesis ----------------------------------------------------------------- */

/* Fault kinds, as bits of cs_sim_nemesis_options.faults. */
enum cs_sim_fault {
    CS_SIM_FAULT_PARTITION_HALVES = 1u << 0,
    CS_SIM_FAULT_PARTITION_ISOLATE = 1u << 1,
    CS_SIM_FAULT_PARTITION_BRIDGE = 1u << 2,
    CS_SIM_FAULT_PARTITION_ONE_WAY = 1u << 3,
    CS_SIM_FAULT_CRASH = 1u << 4, /* crash, restart after down_* */
    CS_SIM_FAULT_PAUSE = 1u << 5, /* pause for down_* */
    CS_SIM_FAULT_CLOCK = 1u << 6, /* new skew and drift */
    CS_SIM_FAULT_SLOW = 1u << 7,  /* one node's outgoing links get slow and lossy, then recover */
};
#define CS_SIM_FAULTS_ALL 0xffu

struct cs_sim_nemesis_options {
    uint32_t faults;          /* enum cs_sim_fault bits */
    uint64_t interval_min_us; /* between fault starts: uniform [min, max] */
    uint64_t interval_max_us;
    uint64_t duration_min_us; /* how long a partition, crash, pause or slow link lasts */
    uint64_t duration_max_us;
    uint32_t focus_node; /* crashes, pauses and isolations prefer this node... */
    uint32_t focus_ppm;  /* ...with this chance (0: uniform) */
    int64_t clock_offset_max_us;
    int32_t clock_drift_max_ppm;
    uint64_t stop_us; /* no new faults after this virtual time; everything heals */
};

struct cs_sim_nemesis;

/* 0, CS_EINVAL, CS_ENOMEM, CS_EBUSY. The nemesis draws only from CS_SIM_STREAM_NEMESIS. */
int cs_sim_nemesis_start(struct cs_sim *sim, const struct cs_sim_nemesis_options *opts,
                         struct cs_sim_nemesis **out);
/* As for workloads: queued events point at the nemesis. */
void cs_sim_nemesis_destroy(struct cs_sim_nemesis *nemesis);
/* cs_sim_nemesis_heal_all: end every fault now (restart down nodes, heal links). */
void cs_sim_nemesis_heal_all(struct cs_sim_nemesis *nemesis);
uint32_t cs_sim_nemesis_faults_started(const struct cs_sim_nemesis *nemesis);

/* --- protocols under test: ABD and a primary-backup register ------------------ */

/*
 * The first protocols run here, to prove the simulator finds bugs:
 *   CS_SIM_ABD: Attiya, Bar-Noy and Dolev's multi-writer quorum register
 *     (src/sim/abd.c): a write reads the highest (counter, node) timestamp
 *     from a majority and stores (counter + 1, self) at a majority; a read
 *     queries a majority and writes the highest pair back to a majority
 *     before it returns. Linearizable while a majority is up.
 *   CS_SIM_ABD_NO_WRITEBACK: the same read without the write-back (a planted
 *     bug: a read may return a value a later read does not see).
 *   CS_SIM_PRIMARY_ASYNC_BACKUP: a primary that acknowledges a write once
 *     it is durable locally and replicates it asynchronously; backups take
 *     over when they stop hearing it (src/sim/primary_backup.c). A planted
 *     bug: failover loses acknowledged writes.
 */
enum cs_sim_protocol {
    CS_SIM_ABD = 0,
    CS_SIM_ABD_NO_WRITEBACK = 1,
    CS_SIM_PRIMARY_ASYNC_BACKUP = 2,
};

struct cs_sim_run_options {
    uint64_t seed;
    enum cs_sim_protocol protocol;
    uint32_t nodes_len;       /* 3 or 5 typically; <= CS_SIM_NODES_MAX */
    uint32_t clients_len;     /* <= CS_SIM_CLIENTS_MAX */
    uint32_t ops_max;         /* operations in the run */
    bool faults;              /* run the nemesis */
    uint64_t check_steps_max; /* checker budget (0: none) */
    /* Optional: every event as a line of text, as cs_sim_options.trace_fn. */
    void (*trace_fn)(void *arg, const char *line);
    void *trace_arg;
};

/* cs_sim_run_options_default: the configuration `consist sim abd` uses. */
void cs_sim_run_options_default(struct cs_sim_run_options *opts, uint64_t seed,
                                enum cs_sim_protocol protocol);

struct cs_sim_run_result {
    int verdict;  /* enum cs_verdict of consist/check.h */
    uint32_t ops; /* operations invoked */
    uint32_t ops_ok, ops_fail, ops_info;
    uint64_t end_us;       /* virtual time at the end */
    uint64_t trace_hash;   /* cs_sim_trace_hash at the end */
    uint64_t history_hash; /* hash of the history's JSONL text */
    uint32_t faults;       /* nemesis faults started */
    struct cs_sim_stats stats;
};

/*
 * cs_sim_run: one seeded run of a protocol under test: build the cluster,
 * run the workload under the nemesis until every operation has completed
 * (ok, fail, or info at its timeout), then check the history for
 * linearizability (register model, with the opts' step budget). history
 * (initialised with ops_max >= opts->ops_max and empty, or NULL) receives
 * the run's history. Invariant failures are counted in
 * result->stats.invariant_failures; the run continues so the history can be
 * checked too. Returns 0 with result filled, CS_EINVAL, CS_ENOMEM, or
 * CS_EBUSY (a queue bound hit: a configuration bug).
 */
int cs_sim_run(const struct cs_sim_run_options *opts, struct cs_history *history,
               struct cs_sim_run_result *result);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_SIM_H */
