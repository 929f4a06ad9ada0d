/*
 * consist/crdt.h: conflict-free replicated data types, state-based and
 * delta-state.
 *
 * The one idea: every type is a join-semilattice. A replica mutates its own
 * state locally and gets back a *delta*, a small state of the same type that
 * holds just the change; shipping either the delta or the whole state and
 * joining it anywhere, any number of times, in any order, makes replicas
 * converge (Almeida, Shoker, Baquero, "Delta State Replicated Data Types",
 * 2018). There is therefore one merge per type: a delta is merged exactly
 * like a full state.
 *
 * The causal types (MV-Register, OR-Set, OR-Map) keep *dots* (node, counter)
 * on live data only, plus a causal context (a version vector and a bounded
 * cloud of out-of-order dots). A remove records nothing: the removed dots are
 * simply absent while still covered by the context, so removing leaves no
 * tombstone behind (Bieniusa et al., "An optimized conflict-free replicated
 * set", 2012; Riak's ORSWOT).
 *
 * Conventions shared by every type below:
 *   - Structs are caller-allocated; fields are private. X_init makes an empty
 *     (bottom) state, X_free releases it and leaves it empty and reusable.
 *   - A mutation takes an optional `delta` (NULL: none wanted). When given it
 *     must be an initialised state of the same type, distinct from the state;
 *     its contents are replaced by the delta of this mutation. On error the
 *     state is still a valid state (normally unchanged; an add that ran out of
 *     memory half way may have recorded its dot as seen, like an add then a
 *     remove) and the delta's contents are unspecified.
 *   - X_merge(dst, src) joins src (a full state or a delta) into dst; src is
 *     not changed. On error (CS_ENOMEM, CS_ETOOBIG) dst may hold a state
 *     between the old dst and the join, which is still a valid state: merge
 *     again to finish.
 *   - X_leq(a, b) is the lattice order: a <= b iff merging a into b leaves b
 *     unchanged. X_equal is state equality (not just equal values).
 *   - X_encode appends a canonical, versioned encoding (docs/formats.md) to a
 *     cs_buf and returns 0 or the buffer's error. X_decode fills an
 *     initialised, empty state from bytes it does not keep; on any error the
 *     state is left empty. Decoders return CS_EVERSION (unknown version),
 *     CS_EDECODE (truncated, wrong type tag, unsorted or duplicate entries,
 *     trailing bytes, non-canonical form), CS_ETOOBIG (a count or length past
 *     its named limit) or CS_ENOMEM.
 *   - X_mem_bytes is the heap memory the state holds, in bytes.
 *   - Members, keys and register values are byte strings; a member or key
 *     longer than CS_CRDT_MEMBER_BYTES_MAX is refused with CS_ETOOBIG.
 *   - Node ids are uint64_t and must be nonzero.
 *   - Nothing is thread-safe: one thread per state at a time.
 */
#ifndef CONSIST_CRDT_H
#define CONSIST_CRDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/clock.h"
#include "consist/codec.h"
#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */

/* Longest member of a set, key of a map, member of a ranked map. */
#define CS_CRDT_MEMBER_BYTES_MAX 1024u
/* Longest register value. */
#define CS_CRDT_VALUE_BYTES_MAX (64u * 1024u)
/* Distinct node ids in one state (counter entries, version vector entries). */
#define CS_CRDT_NODES_MAX 1024u
/* Members of one set, keys of one map (per nesting level). */
#define CS_CRDT_ELEMENTS_MAX (1u << 22)
/* Out-of-order dots a causal context may hold before it must be repaired by
 * a full-state merge (a delta lost for good leaves a permanent gap). */
#define CS_CRDT_CLOUD_DOTS_MAX (1u << 16)
/* Dots one element or register may hold (concurrent writes kept). */
#define CS_CRDT_DOTS_PER_ENTRY_MAX CS_CRDT_NODES_MAX
/* Depth of nested OR-Maps: a path is at most this many keys long. */
#define CS_CRDT_DEPTH_MAX 4u
/* Highest dot counter: a node's events are numbered 1..this. Decoders refuse
 * more; a node that reached it gets CS_EOVERFLOW (far beyond any real run,
 * but it keeps counter + 1 from ever wrapping). */
#define CS_CRDT_DOT_COUNTER_MAX (UINT64_C(1) << 62)
/* Bounded-counter rights-transfer entries (pairs of nodes). */
#define CS_CRDT_TRANSFERS_MAX (4u * CS_CRDT_NODES_MAX)

/* Encoding format version, the first byte of every encoding. */
#define CS_CRDT_FORMAT_VERSION 1u

/* The second byte of every encoding: which type follows. Values are stable. */
enum cs_crdt_type {
    CS_CRDT_GCOUNTER = 1,
    CS_CRDT_PNCOUNTER = 2,
    CS_CRDT_GSET = 3,
    CS_CRDT_TWOPSET = 4,
    CS_CRDT_LWWREG = 5,
    CS_CRDT_LWWSET = 6,
    CS_CRDT_MVREG = 7,
    CS_CRDT_ORSET = 8,
    CS_CRDT_ORMAP = 9,
    CS_CRDT_BCOUNTER = 10,
    CS_CRDT_RANKMAP = 11,
};

/* ---- shared building blocks -------------------------------------------- */

/* struct cs_dot, the counter-th event of node node_id (both >= 1), is the
 * clock module's: one definition for dotted version vectors and CRDTs. */

/*
 * A causal context: the set of dots a replica has seen, as a version vector
 * (every dot (n, 1..vv[n])) plus a sorted cloud of dots past a gap. Kept
 * compact: a cloud dot is never covered by, nor adjacent to, the vector.
 */
struct cs_crdt_ctx {
    struct cs_dot *vv; /* sorted by node; counter = highest contiguous */
    uint32_t vv_len, vv_cap;
    struct cs_dot *cloud; /* sorted by (node, counter) */
    uint32_t cloud_len, cloud_cap;
};

/* A byte-keyed hash table of entries owned by the state (private). */
struct cs_crdt_table {
    void **slots;
    uint32_t cap, len, used;
};

/*
 * An LWW timestamp: a packed HLC value (physical ms << 16 | logical) and the
 * writer's node id, ordered by (hlc, node). hlc must be nonzero.
 */
struct cs_crdt_stamp {
    uint64_t hlc;
    uint64_t node;
};

/* cs_crdt_stamp_cmp: -1, 0 or 1 as a is before, equal to or after b. */
int cs_crdt_stamp_cmp(struct cs_crdt_stamp a, struct cs_crdt_stamp b);

/* An iterator over the members of a set or map, in no particular order. */
struct cs_crdt_iter {
    uint32_t slot;
};
#define CS_CRDT_ITER_INIT                                                                          \
    {                                                                                              \
        0                                                                                          \
    }

/* ---- G-Counter: grow-only counter, one monotonic entry per node -------- */

struct cs_crdt_count {
    uint64_t node;
    uint64_t p; /* increments by node */
    uint64_t n; /* decrements by node (PN-Counter only) */
};

/* The entries array both counters share (private). */
struct cs_crdt_counts {
    struct cs_crdt_count *entries; /* sorted by node */
    uint32_t len, cap;
};

struct cs_gcounter {
    struct cs_crdt_counts counts;
};

void cs_gcounter_init(struct cs_gcounter *c);
void cs_gcounter_free(struct cs_gcounter *c);
/* Add amount (> 0) to node's entry. CS_EINVAL (amount 0 or node 0),
 * CS_EOVERFLOW (entry would pass INT64_MAX), CS_ETOOBIG (CS_CRDT_NODES_MAX), CS_ENOMEM. */
int cs_gcounter_increment(struct cs_gcounter *c, uint64_t node, uint64_t amount,
                          struct cs_gcounter *delta);
/* The sum of all entries, saturating at UINT64_MAX. */
uint64_t cs_gcounter_value(const struct cs_gcounter *c);
int cs_gcounter_merge(struct cs_gcounter *dst, const struct cs_gcounter *src);
bool cs_gcounter_leq(const struct cs_gcounter *a, const struct cs_gcounter *b);
bool cs_gcounter_equal(const struct cs_gcounter *a, const struct cs_gcounter *b);
/* Replace dst (initialised) with a deep copy of src. CS_ENOMEM. */
int cs_gcounter_copy(struct cs_gcounter *dst, const struct cs_gcounter *src);
int cs_gcounter_encode(const struct cs_gcounter *c, struct cs_buf *out);
int cs_gcounter_decode(struct cs_gcounter *c, const void *data, size_t len);
size_t cs_gcounter_mem_bytes(const struct cs_gcounter *c);

/* ---- PN-Counter: increments and decrements, two G-Counters in one ------- */

/*
 * The exam's Problem 4 API maps as: increment -> cs_pncounter_increment
 * (negative amounts decrement), value -> cs_pncounter_value, merge ->
 * cs_pncounter_merge, state -> cs_pncounter_state (the encoded state).
 */
struct cs_pncounter {
    struct cs_crdt_counts counts;
};

void cs_pncounter_init(struct cs_pncounter *c);
void cs_pncounter_free(struct cs_pncounter *c);
/* Add amount (nonzero; negative decrements) for node. CS_EINVAL, CS_EOVERFLOW
 * (the node's increment or decrement total would pass INT64_MAX), CS_ETOOBIG, CS_ENOMEM. */
int cs_pncounter_increment(struct cs_pncounter *c, uint64_t node, int64_t amount,
                           struct cs_pncounter *delta);
/* Sum of increments minus sum of decrements, saturating at INT64_MIN/INT64_MAX. */
int64_t cs_pncounter_value(const struct cs_pncounter *c);
int cs_pncounter_merge(struct cs_pncounter *dst, const struct cs_pncounter *src);
bool cs_pncounter_leq(const struct cs_pncounter *a, const struct cs_pncounter *b);
bool cs_pncounter_equal(const struct cs_pncounter *a, const struct cs_pncounter *b);
int cs_pncounter_copy(struct cs_pncounter *dst, const struct cs_pncounter *src);
int cs_pncounter_encode(const struct cs_pncounter *c, struct cs_buf *out);
/* cs_pncounter_state: the exam API's state(): the same bytes as encode. */
int cs_pncounter_state(const struct cs_pncounter *c, struct cs_buf *out);
int cs_pncounter_decode(struct cs_pncounter *c, const void *data, size_t len);
size_t cs_pncounter_mem_bytes(const struct cs_pncounter *c);

/* ---- G-Set: grow-only set of byte strings ------------------------------- */

struct cs_gset {
    struct cs_crdt_table table;
};

void cs_gset_init(struct cs_gset *s);
void cs_gset_free(struct cs_gset *s);
/* Add member. Adding a present member succeeds with an empty delta.
 * CS_ETOOBIG (member length or CS_CRDT_ELEMENTS_MAX), CS_ENOMEM. */
int cs_gset_add(struct cs_gset *s, const void *member, size_t member_len, struct cs_gset *delta);
bool cs_gset_contains(const struct cs_gset *s, const void *member, size_t member_len);
size_t cs_gset_len(const struct cs_gset *s);
/* Next member (a view valid until the set changes); false at the end. */
bool cs_gset_next(const struct cs_gset *s, struct cs_crdt_iter *it, const uint8_t **member,
                  size_t *member_len);
int cs_gset_merge(struct cs_gset *dst, const struct cs_gset *src);
bool cs_gset_leq(const struct cs_gset *a, const struct cs_gset *b);
bool cs_gset_equal(const struct cs_gset *a, const struct cs_gset *b);
int cs_gset_copy(struct cs_gset *dst, const struct cs_gset *src);
int cs_gset_encode(const struct cs_gset *s, struct cs_buf *out);
int cs_gset_decode(struct cs_gset *s, const void *data, size_t len);
size_t cs_gset_mem_bytes(const struct cs_gset *s);

/* ---- 2P-Set: add once, remove once, never re-add ------------------------ */

/* A removed member is kept as a tombstone forever: that is the 2P-Set's
 * definition. Use the OR-Set when members come and go. */
struct cs_twopset {
    struct cs_crdt_table table;
};

void cs_twopset_init(struct cs_twopset *s);
void cs_twopset_free(struct cs_twopset *s);
/* CS_ESTATE if member was removed (it can never come back), CS_ETOOBIG, CS_ENOMEM. */
int cs_twopset_add(struct cs_twopset *s, const void *member, size_t member_len,
                   struct cs_twopset *delta);
/* CS_ENOTFOUND unless member is present (observed-remove precondition). */
int cs_twopset_remove(struct cs_twopset *s, const void *member, size_t member_len,
                      struct cs_twopset *delta);
bool cs_twopset_contains(const struct cs_twopset *s, const void *member, size_t member_len);
/* Present members (tombstones excluded). */
size_t cs_twopset_len(const struct cs_twopset *s);
/* Next present member (a view valid until the set changes); false at the end. */
bool cs_twopset_next(const struct cs_twopset *s, struct cs_crdt_iter *it, const uint8_t **member,
                     size_t *member_len);
int cs_twopset_merge(struct cs_twopset *dst, const struct cs_twopset *src);
bool cs_twopset_leq(const struct cs_twopset *a, const struct cs_twopset *b);
bool cs_twopset_equal(const struct cs_twopset *a, const struct cs_twopset *b);
int cs_twopset_copy(struct cs_twopset *dst, const struct cs_twopset *src);
int cs_twopset_encode(const struct cs_twopset *s, struct cs_buf *out);
int cs_twopset_decode(struct cs_twopset *s, const void *data, size_t len);
size_t cs_twopset_mem_bytes(const struct cs_twopset *s);

/* ---- LWW-Register: the write with the highest stamp wins ----------------- */

struct cs_lwwreg {
    struct cs_crdt_stamp stamp; /* {0,0} while never written */
    uint8_t *value;
    uint32_t value_len;
};

void cs_lwwreg_init(struct cs_lwwreg *r);
void cs_lwwreg_free(struct cs_lwwreg *r);
/* Write value with stamp; a write whose stamp is not above the current one
 * loses (returns 0, state unchanged, delta holds the losing write).
 * CS_EINVAL (hlc or node 0), CS_ETOOBIG (CS_CRDT_VALUE_BYTES_MAX), CS_ENOMEM. */
int cs_lwwreg_set(struct cs_lwwreg *r, struct cs_crdt_stamp stamp, const void *value,
                  size_t value_len, struct cs_lwwreg *delta);
/* The current value (a view) or CS_ENOTFOUND if never written. */
int cs_lwwreg_get(const struct cs_lwwreg *r, const uint8_t **value, size_t *value_len);
int cs_lwwreg_merge(struct cs_lwwreg *dst, const struct cs_lwwreg *src);
bool cs_lwwreg_leq(const struct cs_lwwreg *a, const struct cs_lwwreg *b);
bool cs_lwwreg_equal(const struct cs_lwwreg *a, const struct cs_lwwreg *b);
int cs_lwwreg_copy(struct cs_lwwreg *dst, const struct cs_lwwreg *src);
int cs_lwwreg_encode(const struct cs_lwwreg *r, struct cs_buf *out);
int cs_lwwreg_decode(struct cs_lwwreg *r, const void *data, size_t len);
size_t cs_lwwreg_mem_bytes(const struct cs_lwwreg *r);

/* ---- LWW-Element-Set: per member, latest add stamp vs latest remove stamp */

/* A member is present iff its add stamp is above its remove stamp; on an
 * exact tie (same hlc and same node) the add wins. Remove stamps are kept
 * (they are what makes a late, older add lose). */
struct cs_lwwset {
    struct cs_crdt_table table;
};

void cs_lwwset_init(struct cs_lwwset *s);
void cs_lwwset_free(struct cs_lwwset *s);
/* CS_EINVAL (zero stamp), CS_ETOOBIG, CS_ENOMEM. */
int cs_lwwset_add(struct cs_lwwset *s, const void *member, size_t member_len,
                  struct cs_crdt_stamp stamp, struct cs_lwwset *delta);
int cs_lwwset_remove(struct cs_lwwset *s, const void *member, size_t member_len,
                     struct cs_crdt_stamp stamp, struct cs_lwwset *delta);
bool cs_lwwset_contains(const struct cs_lwwset *s, const void *member, size_t member_len);
size_t cs_lwwset_len(const struct cs_lwwset *s);
/* Next present member (a view valid until the set changes); false at the end. */
bool cs_lwwset_next(const struct cs_lwwset *s, struct cs_crdt_iter *it, const uint8_t **member,
                    size_t *member_len);
int cs_lwwset_merge(struct cs_lwwset *dst, const struct cs_lwwset *src);
bool cs_lwwset_leq(const struct cs_lwwset *a, const struct cs_lwwset *b);
bool cs_lwwset_equal(const struct cs_lwwset *a, const struct cs_lwwset *b);
int cs_lwwset_copy(struct cs_lwwset *dst, const struct cs_lwwset *src);
int cs_lwwset_encode(const struct cs_lwwset *s, struct cs_buf *out);
int cs_lwwset_decode(struct cs_lwwset *s, const void *data, size_t len);
size_t cs_lwwset_mem_bytes(const struct cs_lwwset *s);

/* ---- dot functions: dot -> payload, the store of registers and counters -- */

/* One write kept by an MV-Register or an OR-Map register/counter (private). */
struct cs_crdt_fun_item {
    struct cs_dot dot;
    struct cs_crdt_stamp stamp; /* LWW registers in OR-Maps */
    int64_t count;              /* counters in OR-Maps: node's running total */
    uint8_t *value;
    uint32_t value_len;
};

struct cs_crdt_dotfun {
    struct cs_crdt_fun_item *items; /* sorted by dot */
    uint32_t len, cap;
};

/* ---- MV-Register: concurrent writes all kept, a later write replaces them */

struct cs_mvreg {
    struct cs_crdt_ctx ctx;
    struct cs_crdt_dotfun fun;
};

void cs_mvreg_init(struct cs_mvreg *r);
void cs_mvreg_free(struct cs_mvreg *r);
/* Write value at node: replaces every value this replica has seen.
 * CS_EINVAL (node 0), CS_ETOOBIG, CS_ENOMEM. */
int cs_mvreg_write(struct cs_mvreg *r, uint64_t node, const void *value, size_t value_len,
                   struct cs_mvreg *delta);
/* Number of concurrent values (0 if never written). */
size_t cs_mvreg_values_len(const struct cs_mvreg *r);
/* The i-th value (views, ordered by dot). CS_ENOTFOUND past the end. */
int cs_mvreg_value(const struct cs_mvreg *r, size_t i, const uint8_t **value, size_t *value_len);
int cs_mvreg_merge(struct cs_mvreg *dst, const struct cs_mvreg *src);
bool cs_mvreg_leq(const struct cs_mvreg *a, const struct cs_mvreg *b);
bool cs_mvreg_equal(const struct cs_mvreg *a, const struct cs_mvreg *b);
int cs_mvreg_copy(struct cs_mvreg *dst, const struct cs_mvreg *src);
int cs_mvreg_encode(const struct cs_mvreg *r, struct cs_buf *out);
int cs_mvreg_decode(struct cs_mvreg *r, const void *data, size_t len);
size_t cs_mvreg_mem_bytes(const struct cs_mvreg *r);

/* ---- OR-Set: add-wins observed-remove set without tombstones ------------- */

struct cs_orset {
    struct cs_crdt_ctx ctx;
    struct cs_crdt_table table; /* member -> its live dots */
    /* Only in a remove's delta: the members whose dots ctx erases, so that a
     * merge finds them without walking the whole set. Not part of the value:
     * equality and order ignore it, and merge does not carry it on. */
    struct cs_crdt_table hints;
};

void cs_orset_init(struct cs_orset *s);
void cs_orset_free(struct cs_orset *s);
/* Add member at node (a fresh dot replaces the member's observed dots).
 * CS_EINVAL (node 0), CS_ETOOBIG, CS_ENOMEM. */
int cs_orset_add(struct cs_orset *s, uint64_t node, const void *member, size_t member_len,
                 struct cs_orset *delta);
/* Remove member: every dot of it this replica has seen. A concurrent add
 * (a dot not seen here) survives: add wins. CS_ENOTFOUND if absent. */
int cs_orset_remove(struct cs_orset *s, const void *member, size_t member_len,
                    struct cs_orset *delta);
bool cs_orset_contains(const struct cs_orset *s, const void *member, size_t member_len);
size_t cs_orset_len(const struct cs_orset *s);
bool cs_orset_next(const struct cs_orset *s, struct cs_crdt_iter *it, const uint8_t **member,
                   size_t *member_len);
int cs_orset_merge(struct cs_orset *dst, const struct cs_orset *src);
bool cs_orset_leq(const struct cs_orset *a, const struct cs_orset *b);
bool cs_orset_equal(const struct cs_orset *a, const struct cs_orset *b);
int cs_orset_copy(struct cs_orset *dst, const struct cs_orset *src);
int cs_orset_encode(const struct cs_orset *s, struct cs_buf *out);
int cs_orset_decode(struct cs_orset *s, const void *data, size_t len);
size_t cs_orset_mem_bytes(const struct cs_orset *s);

/* ---- OR-Map: keys to nested CRDTs, remove is observed-reset ---------------- */

/* What a field of an OR-Map holds. A field is named by (kind, key): the same
 * key with two kinds is two fields, so concurrent creation never conflicts. */
enum cs_ormap_kind {
    CS_ORMAP_COUNTER = 1, /* PN counter */
    CS_ORMAP_LWWREG = 2,  /* last-writer-wins register */
    CS_ORMAP_MVREG = 3,   /* multi-value register */
    CS_ORMAP_SET = 4,     /* add-wins OR-Set */
    CS_ORMAP_MAP = 5,     /* nested OR-Map */
};

/* One step of a path into nested maps: all steps but the last are MAPs. */
struct cs_ormap_key {
    const void *key;
    size_t key_len;
    enum cs_ormap_kind kind;
};

struct cs_ormap {
    struct cs_crdt_ctx ctx;
    struct cs_crdt_table table; /* (kind, key) -> field */
    /* Only in a remove's delta: the root fields whose dots ctx erases (see
     * struct cs_orset). Not part of the value. */
    struct cs_crdt_table hints;
};

void cs_ormap_init(struct cs_ormap *m);
void cs_ormap_free(struct cs_ormap *m);
/*
 * Mutations at a path of 1..CS_CRDT_DEPTH_MAX steps; missing intermediate
 * maps are created. Each returns CS_EINVAL (node 0, a path whose inner steps
 * are not MAPs or whose last step has the wrong kind for the operation),
 * CS_ETOOBIG (a limit), CS_ENOMEM.
 */
int cs_ormap_counter_add(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                         size_t path_len, int64_t amount, struct cs_ormap *delta);
/* A write whose stamp is not above the field's current stamp loses (returns 0). */
int cs_ormap_lwwreg_set(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                        size_t path_len, struct cs_crdt_stamp stamp, const void *value,
                        size_t value_len, struct cs_ormap *delta);
int cs_ormap_mvreg_write(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                         size_t path_len, const void *value, size_t value_len,
                         struct cs_ormap *delta);
int cs_ormap_set_add(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                     size_t path_len, const void *member, size_t member_len,
                     struct cs_ormap *delta);
/* CS_ENOTFOUND if the set or the member is absent. */
int cs_ormap_set_remove(struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                        const void *member, size_t member_len, struct cs_ormap *delta);
/* Remove a field (observed-reset: what this replica has seen of it is reset;
 * concurrent updates elsewhere survive on their own). CS_ENOTFOUND if absent. */
int cs_ormap_remove(struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                    struct cs_ormap *delta);
/* Reads: CS_ENOTFOUND when the field is absent, CS_EINVAL for a bad path. */
int cs_ormap_counter_value(const struct cs_ormap *m, const struct cs_ormap_key *path,
                           size_t path_len, int64_t *value);
int cs_ormap_lwwreg_get(const struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                        const uint8_t **value, size_t *value_len);
int cs_ormap_mvreg_values_len(const struct cs_ormap *m, const struct cs_ormap_key *path,
                              size_t path_len, size_t *values_len);
int cs_ormap_set_contains(const struct cs_ormap *m, const struct cs_ormap_key *path,
                          size_t path_len, const void *member, size_t member_len);
/*
 * Next field of the map at path (path_len 0: the root), or next member of the
 * set at path: *key is a view valid until the map changes, *kind the field's
 * kind (CS_ORMAP_SET's members report kind 0). Returns 1 and fills the outputs,
 * 0 at the end, CS_EINVAL for a path that names no map or set, CS_ENOTFOUND
 * if it is absent.
 */
int cs_ormap_next(const struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                  struct cs_crdt_iter *it, const uint8_t **key, size_t *key_len,
                  enum cs_ormap_kind *kind);
/* Fields (or set members) at path; path_len 0 means the root map. */
int cs_ormap_len(const struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                 size_t *len);
int cs_ormap_merge(struct cs_ormap *dst, const struct cs_ormap *src);
bool cs_ormap_leq(const struct cs_ormap *a, const struct cs_ormap *b);
bool cs_ormap_equal(const struct cs_ormap *a, const struct cs_ormap *b);
int cs_ormap_copy(struct cs_ormap *dst, const struct cs_ormap *src);
int cs_ormap_encode(const struct cs_ormap *m, struct cs_buf *out);
int cs_ormap_decode(struct cs_ormap *m, const void *data, size_t len);
size_t cs_ormap_mem_bytes(const struct cs_ormap *m);

/* ---- Bounded Counter: never below zero, by escrow of decrement rights ---- */

/*
 * Balegas et al. 2015. Each increment at node i grants i that many rights;
 * a node may decrement only within its own rights and may transfer rights to
 * another node. Rights(i) = incs(i) + received(i) - sent(i) - decs(i), all
 * grow-only, so the state is a join-semilattice and value =
 * sum(incs) - sum(decs) >= 0 under any concurrency.
 */
struct cs_crdt_transfer {
    uint64_t from;
    uint64_t to; /* from == to: increments of from */
    uint64_t amount;
};

struct cs_bcounter {
    struct cs_crdt_transfer *rights; /* sorted by (from, to) */
    uint32_t rights_len, rights_cap;
    struct cs_crdt_count *used; /* node -> decrements (field p) */
    uint32_t used_len, used_cap;
};

void cs_bcounter_init(struct cs_bcounter *c);
void cs_bcounter_free(struct cs_bcounter *c);
/* CS_EINVAL (0 amount or node), CS_EOVERFLOW, CS_ETOOBIG, CS_ENOMEM. */
int cs_bcounter_increment(struct cs_bcounter *c, uint64_t node, uint64_t amount,
                          struct cs_bcounter *delta);
/* CS_ERANGE if node's rights are below amount (nothing changes). */
int cs_bcounter_decrement(struct cs_bcounter *c, uint64_t node, uint64_t amount,
                          struct cs_bcounter *delta);
/* Move amount of from's rights to to. CS_ERANGE if from lacks them; CS_EINVAL if from == to. */
int cs_bcounter_transfer(struct cs_bcounter *c, uint64_t from, uint64_t to, uint64_t amount,
                         struct cs_bcounter *delta);
/* Rights node may spend now, as this replica knows them. */
uint64_t cs_bcounter_rights(const struct cs_bcounter *c, uint64_t node);
/* Increments minus decrements. Never negative in a replica's state; a delta
 * on its own (decrements without the increments they spent) reads 0. */
uint64_t cs_bcounter_value(const struct cs_bcounter *c);
int cs_bcounter_merge(struct cs_bcounter *dst, const struct cs_bcounter *src);
bool cs_bcounter_leq(const struct cs_bcounter *a, const struct cs_bcounter *b);
bool cs_bcounter_equal(const struct cs_bcounter *a, const struct cs_bcounter *b);
int cs_bcounter_copy(struct cs_bcounter *dst, const struct cs_bcounter *src);
int cs_bcounter_encode(const struct cs_bcounter *c, struct cs_buf *out);
int cs_bcounter_decode(struct cs_bcounter *c, const void *data, size_t len);
size_t cs_bcounter_mem_bytes(const struct cs_bcounter *c);

/* ---- Ranked map: member -> PN-Counter score, ordered (leaderboards) ------ */

/*
 * A grow-only map of members to PN-Counters with a skiplist index ordered by
 * (score, member bytes): every update, local or merged, costs O(log n);
 * rank, top-K and score ranges are O(log n + answer). Members are never
 * removed (a score can be brought back to anything by increments).
 * Skiplist levels are derived from a hash of the member, so the structure is
 * the same on every replica and every run.
 */
struct cs_rankmap_node;
struct cs_rankmap {
    struct cs_crdt_table table;   /* member -> entry */
    struct cs_rankmap_node *head; /* skiplist sentinel */
    struct cs_rankmap_node *tail; /* highest (score, member) */
    uint64_t length;              /* nodes in the skiplist, == table.len */
    uint32_t level;               /* levels in use, >= 1 */
};

/* One answer row: views valid until the map changes. */
struct cs_rankmap_item {
    const uint8_t *member;
    size_t member_len;
    int64_t score;
};

/* CS_ENOMEM (the sentinel). */
int cs_rankmap_init(struct cs_rankmap *m);
void cs_rankmap_free(struct cs_rankmap *m);
/* Add amount (nonzero) to member's score, as node. CS_EINVAL, CS_EOVERFLOW, CS_ETOOBIG, CS_ENOMEM.
 * delta, when given, must have been set up with cs_rankmap_init. */
int cs_rankmap_incr(struct cs_rankmap *m, uint64_t node, const void *member, size_t member_len,
                    int64_t amount, struct cs_rankmap *delta);
/* CS_ENOTFOUND if member was never scored. */
int cs_rankmap_score(const struct cs_rankmap *m, const void *member, size_t member_len,
                     int64_t *score);
/* 0-based rank by descending (score, member): rank 0 is the top. CS_ENOTFOUND. */
int cs_rankmap_rank(const struct cs_rankmap *m, const void *member, size_t member_len,
                    uint64_t *rank);
size_t cs_rankmap_len(const struct cs_rankmap *m);
/* The first k members by descending score into items[0..k); returns how many. */
size_t cs_rankmap_top(const struct cs_rankmap *m, size_t k, struct cs_rankmap_item *items);
/* Members with min <= score <= max, descending, at most items_max; returns how many. */
size_t cs_rankmap_range_by_score(const struct cs_rankmap *m, int64_t min, int64_t max,
                                 struct cs_rankmap_item *items, size_t items_max);
int cs_rankmap_merge(struct cs_rankmap *dst, const struct cs_rankmap *src);
bool cs_rankmap_leq(const struct cs_rankmap *a, const struct cs_rankmap *b);
bool cs_rankmap_equal(const struct cs_rankmap *a, const struct cs_rankmap *b);
int cs_rankmap_copy(struct cs_rankmap *dst, const struct cs_rankmap *src);
int cs_rankmap_encode(const struct cs_rankmap *m, struct cs_buf *out);
int cs_rankmap_decode(struct cs_rankmap *m, const void *data, size_t len);
size_t cs_rankmap_mem_bytes(const struct cs_rankmap *m);
/* Walk the whole index checking order, spans and the table (tests). True if sound. */
bool cs_rankmap_check(const struct cs_rankmap *m);

/* ---- the property suite ---------------------------------------------------- */

#define CS_CRDT_SELFTEST_MESSAGE_BYTES 640u

struct cs_crdt_selftest_report {
    uint32_t types_run;
    bool failed;
    char type[40];                                /* the type that failed */
    char message[CS_CRDT_SELFTEST_MESSAGE_BYTES]; /* what broke, with the schedule */
};

/*
 * cs_crdt_selftest_run: run the whole property suite for one seed: every
 * type over 2..7 replicas, random operations, random delivery of deltas and
 * full states (duplicated, reordered, dropped, then repaired by a full-state
 * exchange), checking convergence, the lattice laws, inflation, the OR-Set
 * reference model and the bounded counter's floor. Deterministic in seed.
 * Stops at the first failing type. Returns 0 if every check held,
 * CS_ECONFLICT if one failed (the report says which and how).
 */
int cs_crdt_selftest_run(uint64_t seed, struct cs_crdt_selftest_report *report);

/*
 * cs_crdt_selftest_run_type: the suite for one type by name ("gcounter",
 * "pncounter", "gset", "twopset", "lwwreg", "lwwset", "mvreg", "orset",
 * "ormap", "bcounter", "rankmap"), or one of the two planted bugs that prove
 * the checks can fail: "distributed-counter" (the exam's DistributedCounter:
 * one value per region, state replaced wholesale when any vector-clock entry
 * of the incoming state is newer; it runs the very schedule "pncounter" runs
 * for the same seed) and "orset-forgetful" (an OR-Set merge that drops the
 * source's causal context; same schedule as "orset") and
 * "bcounter-partial-delta" (bounded-counter deltas holding only the entry
 * that changed, which can read below zero; same schedule as "bcounter").
 * CS_ENOTFOUND for an unknown name, else as cs_crdt_selftest_run.
 */
int cs_crdt_selftest_run_type(uint64_t seed, const char *type,
                              struct cs_crdt_selftest_report *report);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_CRDT_H */
