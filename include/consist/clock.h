/*
 * consist/clock.h: logical clocks. Lamport clocks, vector clocks (version
 * vectors), dotted version vector sets and hybrid logical clocks.
 *
 * The one idea: a clock is a compact summary of a causal history, the set of
 * events that happened before a point. Every comparison here is a question
 * about those sets: a happens-before b iff history(a) is a proper subset of
 * history(b); a and b are concurrent iff neither contains the other. Lamport
 * time is a single number consistent with that order (a -> b implies
 * L(a) < L(b)) but it cannot answer the reverse question; the vector clock
 * answers it exactly; the dotted version vector set keeps one value per
 * concurrent write of a key without the false conflicts of per-value version
 * vectors; the hybrid logical clock is close to physical time yet never goes
 * backwards and never contradicts causality.
 *
 * Nothing here reads the system clock or draws randomness: physical time is a
 * parameter, so a simulator can drive the clocks with virtual time.
 *
 * Conventions:
 * - Node ids are arbitrary uint64_t values chosen by the caller.
 * - Functions return 0 or a negative CS_E code (consist/error.h). A function
 *   that fails leaves every object it was given exactly as it was.
 * - Objects that own memory (struct cs_vclock, struct cs_dvvset) must be
 *   initialised with their _init function and released with _free. They are
 *   plain values: not thread-safe, share between threads only with a lock.
 * - Encodings start with a version byte and are canonical: one value has one
 *   encoding, so decode(encode(x)) == x and encode(decode(b)) == b. Decoders
 *   take untrusted bytes and check every count and length before allocating.
 *   The formats are described in docs/clock.md.
 *
 * References: Lamport, "Time, Clocks, and the Ordering of Events in a
 * Distributed System" (CACM 1978); Fidge 1988 and Mattern 1989 for vector
 * clocks; Preguiça, Baquero, Almeida, Fonte, Gonçalves, "Dotted Version
 * Vectors: Logical Clocks for Optimistic Replication" (arXiv:1011.5808) and
 * Almeida, Baquero, Gonçalves, Preguiça, Fonte, "Scalable and Accurate
 * Causality Tracking for Eventually Consistent Stores" (DAIS 2014) for DVV
 * sets; Kulkarni, Demirbas, Madappa, Avva, Leone, "Logical Physical Clocks"
 * (OPODIS 2014) for the hybrid logical clock.
 */
#ifndef CONSIST_CLOCK_H
#define CONSIST_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Lamport clock                                                             */
/* ------------------------------------------------------------------------ */

/*
 * A Lamport clock: one counter per process. Rules (Lamport 1978, IR1/IR2):
 * every local event and every send ticks the counter; a receive sets it to
 * max(local, remote) + 1. The result is consistent with causality (a -> b
 * implies time(a) < time(b)) but the converse does not hold: two events with
 * time(a) < time(b) may be concurrent. Use a vector clock to tell.
 *
 * The counter never wraps: at CS_LAMPORT_TIME_MAX every operation that would
 * advance it fails with CS_EOVERFLOW and leaves it unchanged.
 */
struct cs_lamport {
    uint64_t time; /* time of the last event here; 0 before the first */
};

#define CS_LAMPORT_TIME_MAX UINT64_MAX

/* cs_lamport_init: a clock at time 0 (no events yet). */
void cs_lamport_init(struct cs_lamport *clock);

/*
 * cs_lamport_tick: a local event. Advances the clock by one and stores the
 * event's time in *time_out. Returns 0 or CS_EOVERFLOW.
 */
int cs_lamport_tick(struct cs_lamport *clock, uint64_t *time_out);

/*
 * cs_lamport_send: a send event; identical to a tick. *time_out is the
 * timestamp to carry on the message. Returns 0 or CS_EOVERFLOW.
 */
int cs_lamport_send(struct cs_lamport *clock, uint64_t *time_out);

/*
 * cs_lamport_receive: a receive of a message stamped remote_time. Sets the
 * clock to max(clock, remote_time) + 1 and stores it in *time_out.
 * Returns 0 or CS_EOVERFLOW (max(...) is already CS_LAMPORT_TIME_MAX).
 */
int cs_lamport_receive(struct cs_lamport *clock, uint64_t remote_time, uint64_t *time_out);

/* ------------------------------------------------------------------------ */
/* Vector clock / version vector                                             */
/* ------------------------------------------------------------------------ */

/*
 * A vector clock with dynamic membership: a sparse map node_id -> counter,
 * stored as entries sorted by node_id, strictly ascending. A node absent from
 * the map has counter 0, and a counter of 0 is never stored, so two clocks
 * are equal exactly when their entry arrays are equal (the representation is
 * canonical). The same structure serves as a version vector (one entry per
 * replica that coordinated a write); only the caller's tick rule differs.
 *
 * Limit: a clock holds at most CS_VCLOCK_ENTRIES_MAX entries. An operation
 * that would need more (tick of a new node, merge, update, decode) fails with
 * CS_ETOOBIG and leaves the clock unchanged.
 *
 * Pruning policy: the library never drops an entry on its own. Dropping an
 * entry shrinks a causal history, which can make a concurrent clock look
 * older and silently discard a write (the hazard of Riak's timestamp-based
 * pruning). The one safe removal is cs_vclock_prune: forget a retired node
 * whose final counter every clock in the system already contains (its events
 * are causally stable). Every clock then loses the same entry with the same
 * counter, and every comparison between them keeps its answer. Deciding that
 * a node has retired and that its final counter is stable is the caller's
 * job (membership is agreed through consensus in consist).
 */
#define CS_VCLOCK_ENTRIES_MAX 256

/* The largest encoding: version, count, and two 10-byte varints per entry. */
#define CS_VCLOCK_ENCODED_BYTES_MAX (1 + 3 + CS_VCLOCK_ENTRIES_MAX * 2 * CS_UVARINT_BYTES_MAX)

/* The version byte that opens every vector clock encoding this code writes. */
#define CS_VCLOCK_ENCODING_VERSION 1

struct cs_vclock_entry {
    uint64_t node_id;
    uint64_t counter; /* >= 1: the node's events 1..counter are in the history */
};

struct cs_vclock {
    struct cs_vclock_entry *entries; /* sorted by node_id, strictly ascending; owned */
    uint32_t entries_len;
    uint32_t entries_cap;
};

/* The relation of clock a to clock b. */
enum cs_vc_order {
    CS_VC_EQUAL,      /* same history */
    CS_VC_BEFORE,     /* a happens-before b: history(a) is a proper subset of history(b) */
    CS_VC_AFTER,      /* b happens-before a */
    CS_VC_CONCURRENT, /* neither contains the other */
};

/* cs_vc_order_name: "equal", "happens-before", "happens-after", "concurrent-with". */
const char *cs_vc_order_name(enum cs_vc_order order);

/* cs_vclock_init: an empty clock (every counter 0). Allocates nothing. */
void cs_vclock_init(struct cs_vclock *vc);

/* cs_vclock_free: release the entries; the clock becomes empty and reusable. */
void cs_vclock_free(struct cs_vclock *vc);

/*
 * cs_vclock_reserve: make room for entries_len entries so that operations up
 * to that size never allocate. Returns 0, CS_ETOOBIG (entries_len past
 * CS_VCLOCK_ENTRIES_MAX) or CS_ENOMEM.
 */
int cs_vclock_reserve(struct cs_vclock *vc, size_t entries_len);

/*
 * cs_vclock_copy: make dst equal to src (dst must be initialised; its old
 * contents are replaced). Returns 0 or CS_ENOMEM (dst unchanged).
 */
int cs_vclock_copy(struct cs_vclock *dst, const struct cs_vclock *src);

/* cs_vclock_get: node_id's counter, 0 if absent. O(log n). */
uint64_t cs_vclock_get(const struct cs_vclock *vc, uint64_t node_id);

/*
 * cs_vclock_tick: an event at node_id: its counter + 1 (a new entry with
 * counter 1 if absent). Returns 0, CS_EOVERFLOW (counter at UINT64_MAX),
 * CS_ETOOBIG (a new entry past CS_VCLOCK_ENTRIES_MAX) or CS_ENOMEM.
 */
int cs_vclock_tick(struct cs_vclock *vc, uint64_t node_id);

/*
 * cs_vclock_merge: dst := the least upper bound of dst and src (the
 * entry-wise maximum; the union of the two histories). Returns 0, CS_ETOOBIG
 * (the union has more than CS_VCLOCK_ENTRIES_MAX entries) or CS_ENOMEM.
 */
int cs_vclock_merge(struct cs_vclock *dst, const struct cs_vclock *src);

/*
 * cs_vclock_update: the receive rule, merge then tick: vc := merge(vc,
 * received), then tick node_id. All or nothing. Returns 0, CS_EOVERFLOW,
 * CS_ETOOBIG or CS_ENOMEM.
 */
int cs_vclock_update(struct cs_vclock *vc, uint64_t node_id, const struct cs_vclock *received);

/* cs_vclock_compare: the relation of a to b. O(len(a) + len(b)). */
enum cs_vc_order cs_vclock_compare(const struct cs_vclock *a, const struct cs_vclock *b);

/* cs_vclock_equal: a and b have the same history. */
bool cs_vclock_equal(const struct cs_vclock *a, const struct cs_vclock *b);

/* cs_vclock_happens_before: a -> b (a strictly before b). */
bool cs_vclock_happens_before(const struct cs_vclock *a, const struct cs_vclock *b);

/* cs_vclock_concurrent: neither a -> b nor b -> a, and a != b. */
bool cs_vclock_concurrent(const struct cs_vclock *a, const struct cs_vclock *b);

/*
 * cs_vclock_descends: a contains all of b's history (a == b or b -> a); the
 * test a replica uses to decide that a write supersedes a stored one.
 */
bool cs_vclock_descends(const struct cs_vclock *a, const struct cs_vclock *b);

/*
 * cs_vclock_prune: forget retired node node_id, whose final counter is
 * counter_final (see the pruning policy above). Removes the entry if its
 * counter equals counter_final; does nothing if the node is absent and
 * counter_final is 0. Returns 0, or CS_ESTATE if the clock holds a different
 * counter for the node (the node's events are not stable in this clock, so
 * removing it would change comparisons); the clock is then unchanged.
 */
int cs_vclock_prune(struct cs_vclock *vc, uint64_t node_id, uint64_t counter_final);

/*
 * cs_vclock_encode: append vc's encoding (version 1) to out. Returns 0 or
 * out's error (CS_ETOOBIG, CS_ENOSPACE, CS_ENOMEM); see consist/codec.h.
 */
int cs_vclock_encode(const struct cs_vclock *vc, struct cs_buf *out);

/*
 * cs_vclock_read: read one vector clock encoding from r into vc (replacing
 * its contents), leaving r after it, so clocks can be embedded in larger
 * records. Returns 0, CS_EVERSION (unknown version byte), CS_EDECODE
 * (truncated, non-canonical varint, counter 0, node ids not strictly
 * ascending), CS_ETOOBIG (count past CS_VCLOCK_ENTRIES_MAX) or CS_ENOMEM.
 * On error vc is unchanged and r holds the error.
 */
int cs_vclock_read(struct cs_vclock *vc, struct cs_reader *r);

/*
 * cs_vclock_decode: decode exactly data[0..len) into vc. As cs_vclock_read,
 * plus CS_EDECODE when bytes remain after the clock.
 */
int cs_vclock_decode(struct cs_vclock *vc, const void *data, size_t len);

/*
 * The exam's API shape: a node that owns a clock, created with its id and
 * the group size, ticking on local events and sends, updating on receives.
 * happens_before and concurrent are asked of the clocks
 * (cs_vclock_happens_before(&a.clock, &b.clock)).
 */
struct cs_vclock_node {
    uint64_t node_id;
    struct cs_vclock clock;
};

/*
 * cs_vclock_node_init: a node node_id in a group of nodes_len nodes, with an
 * empty clock that has room for nodes_len entries (so a fixed group never
 * allocates again). Returns 0, CS_EINVAL (nodes_len 0), CS_ETOOBIG
 * (nodes_len past CS_VCLOCK_ENTRIES_MAX) or CS_ENOMEM. The node is valid to
 * free even when this fails.
 */
int cs_vclock_node_init(struct cs_vclock_node *node, uint64_t node_id, size_t nodes_len);

/* cs_vclock_node_free: release the node's clock. */
void cs_vclock_node_free(struct cs_vclock_node *node);

/* cs_vclock_node_tick: a local event or a send (the clock to send is node->clock). */
int cs_vclock_node_tick(struct cs_vclock_node *node);

/* cs_vclock_node_update: a receive of a message carrying clock received. */
int cs_vclock_node_update(struct cs_vclock_node *node, const struct cs_vclock *received);

/* ------------------------------------------------------------------------ */
/* Dotted version vector set (DVVSet): the siblings of one key               */
/* ------------------------------------------------------------------------ */

/*
 * The state a replica keeps for one key: a causal context (a version vector
 * whose history holds every write this replica has seen for the key) and the
 * live siblings, each a value tagged with the dot (node_id, counter) of the
 * write that produced it. A dot names a single event, so a sibling is
 * superseded exactly when a later write's context contains its dot, and
 * concurrent writes coordinated by the same server stay distinct (with plain
 * version vectors they would share one entry and one of them would be lost or
 * falsely conflict; Preguiça et al., section 3).
 *
 * Invariants: every sibling's dot is in the context (counter <= context[node]);
 * siblings are sorted by (node_id, counter) with no duplicate dot.
 *
 * The operations follow the DVVSet kernel (Almeida et al. 2014) as used for
 * per-key siblings in Riak:
 *   read:   give the client cs_dvvset_values and the context cs_dvvset_join;
 *   write:  cs_dvvset_event(set, client_context, coordinator, value), which
 *           discards the siblings the client had seen and adds one new dot;
 *   replicate / anti-entropy: cs_dvvset_sync(set, other).
 *
 * Limits: CS_DVVSET_SIBLINGS_MAX siblings, values of at most
 * CS_DVVSET_VALUE_BYTES_MAX bytes, a context of at most CS_VCLOCK_ENTRIES_MAX
 * entries. Operations that would pass a limit fail with CS_ETOOBIG.
 */
#define CS_DVVSET_SIBLINGS_MAX     64
#define CS_DVVSET_VALUE_BYTES_MAX  (1u << 20)
#define CS_DVVSET_ENCODING_VERSION 1
#define CS_DVVSET_ENCODED_BYTES_MAX                                                                \
    (1 + CS_VCLOCK_ENCODED_BYTES_MAX + 2 +                                                         \
     CS_DVVSET_SIBLINGS_MAX * (3 * CS_UVARINT_BYTES_MAX + (size_t)CS_DVVSET_VALUE_BYTES_MAX))

/* A dot: the counter-th event of node node_id. */
struct cs_dot {
    uint64_t node_id;
    uint64_t counter; /* >= 1 */
};

struct cs_dvvset_sibling {
    struct cs_dot dot;
    uint8_t *value; /* owned by the set; NULL when value_len is 0 */
    size_t value_len;
};

struct cs_dvvset {
    struct cs_vclock context;           /* every write seen, live or superseded */
    struct cs_dvvset_sibling *siblings; /* owned; sorted by dot */
    uint32_t siblings_len;
    uint32_t siblings_cap;
};

/* cs_dvvset_init: an empty set: no siblings, empty context. Allocates nothing. */
void cs_dvvset_init(struct cs_dvvset *set);

/* cs_dvvset_free: release everything; the set becomes empty and reusable. */
void cs_dvvset_free(struct cs_dvvset *set);

/* cs_dvvset_copy: dst := src (deep copy). Returns 0 or CS_ENOMEM (dst unchanged). */
int cs_dvvset_copy(struct cs_dvvset *dst, const struct cs_dvvset *src);

/*
 * cs_dvvset_join: the causal context to hand a reader along with the values,
 * which it passes back on its next write. Points into the set: valid until
 * the set is next changed or freed.
 */
const struct cs_vclock *cs_dvvset_join(const struct cs_dvvset *set);

/*
 * cs_dvvset_values: the live siblings, sorted by dot; *len_out gets their
 * number. Points into the set: valid until the set is next changed or freed.
 */
const struct cs_dvvset_sibling *cs_dvvset_values(const struct cs_dvvset *set, size_t *len_out);

/* cs_dvvset_covers: whether the set's context contains dot. */
bool cs_dvvset_covers(const struct cs_dvvset *set, struct cs_dot dot);

/*
 * cs_dvvset_discard: drop every sibling whose dot context contains (the
 * values a client read before writing). The set's own context is unchanged.
 * Never fails.
 */
void cs_dvvset_discard(struct cs_dvvset *set, const struct cs_vclock *context);

/*
 * cs_dvvset_event: a write of value (copied) coordinated by node_id, from a
 * client that had read context (an empty clock for a blind write):
 * discard(set, context); set's context := merge(set's context, context);
 * then a new dot (node_id, context[node_id] + 1) holding the value. The new
 * dot goes to *dot_out if dot_out is not NULL. All or nothing.
 * Returns 0, CS_ETOOBIG (value_len past CS_DVVSET_VALUE_BYTES_MAX, siblings
 * past CS_DVVSET_SIBLINGS_MAX, context past CS_VCLOCK_ENTRIES_MAX),
 * CS_EOVERFLOW (node_id's counter at UINT64_MAX) or CS_ENOMEM.
 */
int cs_dvvset_event(struct cs_dvvset *set, const struct cs_vclock *context, uint64_t node_id,
                    const void *value, size_t value_len, struct cs_dot *dot_out);

/*
 * cs_dvvset_sync: set := the join of two replicas' states for one key. A
 * sibling survives if the other side also holds it or has not seen its dot;
 * the contexts merge. Commutative, associative and idempotent. All or
 * nothing. Returns 0, CS_ETOOBIG (siblings or context past their limits),
 * CS_ECONFLICT (the two sides hold different values under one dot: a dot
 * names one write, so this is corruption or a reused node id) or CS_ENOMEM.
 */
int cs_dvvset_sync(struct cs_dvvset *set, const struct cs_dvvset *other);

/* cs_dvvset_equal: same context and same siblings (dots and value bytes). */
bool cs_dvvset_equal(const struct cs_dvvset *a, const struct cs_dvvset *b);

/* cs_dvvset_encode: append set's encoding (version 1) to out. Returns 0 or out's error. */
int cs_dvvset_encode(const struct cs_dvvset *set, struct cs_buf *out);

/*
 * cs_dvvset_read: read one set encoding from r into set (replacing its
 * contents). Returns 0, CS_EVERSION, CS_EDECODE (truncated, siblings unsorted
 * or duplicated, a dot outside the context, counter 0, a bad context),
 * CS_ETOOBIG (a count or a value length past its limit) or CS_ENOMEM. On
 * error set is unchanged.
 */
int cs_dvvset_read(struct cs_dvvset *set, struct cs_reader *r);

/* cs_dvvset_decode: decode exactly data[0..len); trailing bytes are CS_EDECODE. */
int cs_dvvset_decode(struct cs_dvvset *set, const void *data, size_t len);

/* ------------------------------------------------------------------------ */
/* Hybrid logical clock                                                      */
/* ------------------------------------------------------------------------ */

/*
 * A hybrid logical clock timestamp (Kulkarni et al. 2014): physical_ms is the
 * largest physical time (ms since an epoch the caller picks) this clock has
 * heard of, logical counts events within that millisecond. Timestamps order
 * by (physical_ms, logical), are consistent with causality like Lamport time,
 * and stay within drift_ms_max of the local physical clock.
 *
 * The packed form is one uint64_t: physical_ms in the high 48 bits (good
 * until the year 10889 with a Unix epoch), logical in the low 16; comparing
 * packed values as integers orders exactly like the pairs.
 */
struct cs_hlc_ts {
    uint64_t physical_ms; /* <= CS_HLC_PHYSICAL_MS_MAX */
    uint16_t logical;
};

#define CS_HLC_PHYSICAL_MS_MAX  ((UINT64_C(1) << 48) - 1)
#define CS_HLC_LOGICAL_MAX      UINT16_MAX
#define CS_HLC_ENCODING_VERSION 1
#define CS_HLC_TS_ENCODED_BYTES 9 /* version byte + packed u64, little-endian */

struct cs_hlc {
    struct cs_hlc_ts last; /* the last timestamp issued or received */
    uint64_t drift_ms_max; /* refuse remote timestamps further ahead of physical time */
};

/*
 * cs_hlc_init: a clock that has issued nothing ({0, 0}) and refuses remote
 * timestamps more than drift_ms_max ahead of the local physical time.
 */
void cs_hlc_init(struct cs_hlc *hlc, uint64_t drift_ms_max);

/*
 * cs_hlc_now: a local or send event at local physical time physical_ms.
 * The new timestamp is (max(last.physical_ms, physical_ms), logical) with
 * logical = last.logical + 1 if the physical part did not advance, else 0;
 * it is strictly greater than every timestamp this clock issued or received.
 * physical_ms may go backwards (the clock then stays ahead of it).
 * Returns 0, CS_ERANGE (physical_ms past CS_HLC_PHYSICAL_MS_MAX) or
 * CS_EOVERFLOW (logical would pass CS_HLC_LOGICAL_MAX: 65536 events within
 * one millisecond of a physical clock that does not advance); on error the
 * clock is unchanged and the caller should retry once its physical time moves.
 */
int cs_hlc_now(struct cs_hlc *hlc, uint64_t physical_ms, struct cs_hlc_ts *out);

/*
 * cs_hlc_update: a receive of a message stamped remote at local physical
 * time physical_ms: the new timestamp is greater than both last and remote
 * (Kulkarni et al., figure 5). Returns 0, CS_ERANGE (physical_ms or
 * remote.physical_ms past CS_HLC_PHYSICAL_MS_MAX), CS_ECLOCKDRIFT
 * (remote.physical_ms > physical_ms + drift_ms_max: accepting it would drag
 * this clock, and everything it stamps, that far into the future) or
 * CS_EOVERFLOW (as cs_hlc_now). On error the clock is unchanged.
 */
int cs_hlc_update(struct cs_hlc *hlc, struct cs_hlc_ts remote, uint64_t physical_ms,
                  struct cs_hlc_ts *out);

/* cs_hlc_compare: -1, 0 or 1 as a is before, equal to or after b. */
int cs_hlc_compare(struct cs_hlc_ts a, struct cs_hlc_ts b);

/* cs_hlc_pack: the 64-bit form; ts.physical_ms must be <= CS_HLC_PHYSICAL_MS_MAX. */
uint64_t cs_hlc_pack(struct cs_hlc_ts ts);

/* cs_hlc_unpack: the pair from the 64-bit form; every uint64_t is valid. */
struct cs_hlc_ts cs_hlc_unpack(uint64_t packed);

/* cs_hlc_ts_encode: append ts's encoding (CS_HLC_TS_ENCODED_BYTES bytes). */
int cs_hlc_ts_encode(struct cs_hlc_ts ts, struct cs_buf *out);

/*
 * cs_hlc_ts_read: read one timestamp encoding from r. Returns 0,
 * CS_EVERSION or CS_EDECODE (truncated); *out is unchanged on error.
 */
int cs_hlc_ts_read(struct cs_hlc_ts *out, struct cs_reader *r);

/* cs_hlc_ts_decode: decode exactly data[0..len); trailing bytes are CS_EDECODE. */
int cs_hlc_ts_decode(struct cs_hlc_ts *out, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_CLOCK_H */
