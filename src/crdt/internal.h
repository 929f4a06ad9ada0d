/*
 * internal.h: what the CRDT files share and users never see: the byte-keyed
 * hash table every set and map is built on, the causal-context operations,
 * dot-store joins, and the encoding header.
 *
 * The one idea: every set and map is a hash table of entries keyed by byte
 * strings, so a merge walks each side once (O(n + m) expected), while
 * encodings sort entries so that every state has exactly one encoding.
 */
#ifndef CS_CRDT_INTERNAL_H
#define CS_CRDT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/assert.h"
#include "consist/codec.h"
#include "consist/crdt.h"

/*
 * An entry of a table: a header, the key bytes padded to 8, then a payload
 * whose layout the owning type decides. One allocation per entry.
 */
struct crdt_entry {
    uint32_t key_len;
    uint32_t aux; /* per type: dots of an OR-Set member, 2P-Set removed flag */
    uint8_t key[];
};

static inline size_t crdt_entry_payload_offset(uint32_t key_len)
{
    return sizeof(struct crdt_entry) + (((size_t)key_len + 7u) & ~(size_t)7u);
}

static inline void *crdt_entry_payload(const struct crdt_entry *e)
{
    return (uint8_t *)(uintptr_t)e + crdt_entry_payload_offset(e->key_len);
}

/* A zeroed entry holding a copy of key and payload_bytes of payload; NULL on ENOMEM. */
struct crdt_entry *crdt_entry_new(const void *key, size_t key_len, size_t payload_bytes);
/* Heap bytes an entry of this shape uses. */
size_t crdt_entry_bytes(uint32_t key_len, size_t payload_bytes);
int crdt_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

/* ---- table ---- */
void crdt_table_init(struct cs_crdt_table *t);
/* Frees the slot array only; the owner frees entries first. */
void crdt_table_free(struct cs_crdt_table *t);
struct crdt_entry *crdt_table_find(const struct cs_crdt_table *t, const void *key, size_t key_len);
/* Insert e (its key absent). CS_ETOOBIG past CS_CRDT_ELEMENTS_MAX, CS_ENOMEM. */
int crdt_table_insert(struct cs_crdt_table *t, struct crdt_entry *e);
/* Remove e from the table (does not free it). Never rehashes: safe while iterating. */
void crdt_table_delete(struct cs_crdt_table *t, const struct crdt_entry *e);
/* The slot index holding e (present), for crdt_table_set_slot after a realloc. */
uint32_t crdt_table_slot(const struct cs_crdt_table *t, const struct crdt_entry *e);
void crdt_table_set_slot(struct cs_crdt_table *t, uint32_t slot, struct crdt_entry *e);
/* Next live entry from *slot on, or NULL; advances *slot past it. */
struct crdt_entry *crdt_table_next(const struct cs_crdt_table *t, uint32_t *slot);
/* Entries sorted by key into a new array (caller frees). CS_ENOMEM. */
int crdt_table_sorted(const struct cs_crdt_table *t, struct crdt_entry ***out);
size_t crdt_table_mem_bytes(const struct cs_crdt_table *t);
int crdt_table_reserve(struct cs_crdt_table *t, size_t len);

/* ---- fixed-payload sets (G-Set, 2P-Set, LWW-Element-Set) ---- */
/* Free every entry, then the table. */
void crdt_keyset_free(struct cs_crdt_table *t);
int crdt_keyset_copy(struct cs_crdt_table *dst, const struct cs_crdt_table *src,
                     size_t payload_bytes);
/* Same keys, aux and payload bytes. */
bool crdt_keyset_equal(const struct cs_crdt_table *a, const struct cs_crdt_table *b,
                       size_t payload_bytes);
size_t crdt_keyset_mem_bytes(const struct cs_crdt_table *t, size_t payload_bytes);
/* The entry of key, created (zeroed payload, aux 0) if missing; *created says which. */
int crdt_keyset_upsert(struct cs_crdt_table *t, const void *key, size_t key_len,
                       size_t payload_bytes, struct crdt_entry **out, bool *created);
/* Validate a member length: CS_ETOOBIG past CS_CRDT_MEMBER_BYTES_MAX. */
static inline int crdt_member_check(const void *member, size_t member_len)
{
    if (member_len > CS_CRDT_MEMBER_BYTES_MAX) return CS_ETOOBIG;
    if (member == NULL && member_len > 0) return CS_EINVAL;
    return 0;
}

/* ---- causal context ---- */
void crdt_ctx_init(struct cs_crdt_ctx *c);
void crdt_ctx_free(struct cs_crdt_ctx *c);
void crdt_ctx_clear(struct cs_crdt_ctx *c);
bool crdt_ctx_contains(const struct cs_crdt_ctx *c, struct cs_dot d);
/* Add one dot, compacting. CS_ETOOBIG (cloud or nodes limit), CS_ENOMEM. */
int crdt_ctx_add(struct cs_crdt_ctx *c, struct cs_dot d);
/* Join src into dst, compacting. CS_ETOOBIG, CS_ENOMEM (dst unchanged then). */
int crdt_ctx_join(struct cs_crdt_ctx *dst, const struct cs_crdt_ctx *src);
/* The next dot node may issue: one past every dot of node in c.
 * CS_EOVERFLOW past CS_CRDT_DOT_COUNTER_MAX. */
int crdt_ctx_next(const struct cs_crdt_ctx *c, uint64_t node, struct cs_dot *next);
bool crdt_ctx_equal(const struct cs_crdt_ctx *a, const struct cs_crdt_ctx *b);
bool crdt_ctx_leq(const struct cs_crdt_ctx *a, const struct cs_crdt_ctx *b);
int crdt_ctx_copy(struct cs_crdt_ctx *dst, const struct cs_crdt_ctx *src);
int crdt_ctx_encode(const struct cs_crdt_ctx *c, struct cs_buf *out);
int crdt_ctx_decode(struct cs_crdt_ctx *c, struct cs_reader *r);
size_t crdt_ctx_mem_bytes(const struct cs_crdt_ctx *c);

static inline int crdt_dot_cmp(struct cs_dot a, struct cs_dot b)
{
    if (a.node_id != b.node_id) return a.node_id < b.node_id ? -1 : 1;
    if (a.counter != b.counter) return a.counter < b.counter ? -1 : 1;
    return 0;
}

/*
 * The dot-set join of the optimised OR-Set: keep a dot seen by both stores,
 * or held by one side and unseen by the other's context. a and b sorted;
 * out has room for a_len + b_len; returns out's length (sorted).
 */
size_t crdt_dots_join(const struct cs_dot *a, size_t a_len, const struct cs_crdt_ctx *a_ctx,
                      const struct cs_dot *b, size_t b_len, const struct cs_crdt_ctx *b_ctx,
                      struct cs_dot *out);

/* ---- dot-set maps: member -> dots (OR-Set, and sets nested in OR-Maps) ---- */
/* Entry payload: aux dots, sorted by dot. */
static inline struct cs_dot *crdt_elem_dots(const struct crdt_entry *e)
{
    return (struct cs_dot *)crdt_entry_payload(e);
}
void crdt_elems_free(struct cs_crdt_table *t);
/* Join src (with src_ctx) into dst (with dst_ctx); contexts are not changed.
 * hints (may be NULL): members whose dots src_ctx may erase (a remove's delta
 * names them), to find without walking dst. */
int crdt_elems_join(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                    const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                    const struct cs_crdt_table *hints);
/* Add member with one fresh dot, replacing its dots; delta_tbl/delta_ctx get the delta. */
int crdt_elems_add(struct cs_crdt_table *t, struct cs_crdt_ctx *ctx, struct cs_dot dot,
                   const void *member, size_t member_len, struct cs_crdt_table *delta_tbl,
                   struct cs_crdt_ctx *delta_ctx);
int crdt_elems_copy(struct cs_crdt_table *dst, const struct cs_crdt_table *src);
bool crdt_elems_equal(const struct cs_crdt_table *a, const struct cs_crdt_table *b);
int crdt_elems_encode(const struct cs_crdt_table *t, struct cs_buf *out);
int crdt_elems_decode(struct cs_crdt_table *t, struct cs_reader *r);
size_t crdt_elems_mem_bytes(const struct cs_crdt_table *t);
/* A growable array of dots, gathered before a bulk context insert. */
struct crdt_dotvec {
    struct cs_dot *dots;
    size_t len, cap;
};
int crdt_dotvec_push(struct crdt_dotvec *v, struct cs_dot d);
/* Add every dot of v to ctx in one sort and one join (v is sorted in place).
 * CS_ETOOBIG, CS_ENOMEM. */
int crdt_ctx_add_dots(struct cs_crdt_ctx *ctx, struct crdt_dotvec *v);
/* Append every dot in t to v (the context of a remove). */
int crdt_elems_dots_into(const struct cs_crdt_table *t, struct crdt_dotvec *v);
/* Whether every dot held in t is in ctx (decoders: a state never holds an unseen dot). */
bool crdt_elems_within(const struct cs_crdt_table *t, const struct cs_crdt_ctx *ctx);

/*
 * The delta fast path of a join: true if no dot of src_ctx can be held by a
 * destination entry the first phase did not join, given the dots `noted`
 * that the joined entries held before. Gives up (false) past
 * CRDT_HARMLESS_DOTS_MAX dots in src_ctx: then the caller walks.
 */
#define CRDT_HARMLESS_DOTS_MAX 64u
bool crdt_ctx_harmless(const struct cs_crdt_ctx *src_ctx, const struct cs_crdt_ctx *dst_ctx,
                       const struct cs_dot *noted, size_t noted_len);

/* ---- dot functions ---- */
void crdt_fun_init(struct cs_crdt_dotfun *f);
void crdt_fun_free(struct cs_crdt_dotfun *f);
/* Append an item (dot past every item's dot); takes a copy of value. */
int crdt_fun_push(struct cs_crdt_dotfun *f, const struct cs_crdt_fun_item *item);
int crdt_fun_join(struct cs_crdt_dotfun *dst, const struct cs_crdt_ctx *dst_ctx,
                  const struct cs_crdt_dotfun *src, const struct cs_crdt_ctx *src_ctx);
int crdt_fun_copy(struct cs_crdt_dotfun *dst, const struct cs_crdt_dotfun *src);
bool crdt_fun_equal(const struct cs_crdt_dotfun *a, const struct cs_crdt_dotfun *b);
/* Which payload fields the encoding carries. */
enum crdt_fun_shape { CRDT_FUN_VALUE, CRDT_FUN_STAMPED_VALUE, CRDT_FUN_COUNT };
int crdt_fun_encode(const struct cs_crdt_dotfun *f, enum crdt_fun_shape shape, struct cs_buf *out);
int crdt_fun_decode(struct cs_crdt_dotfun *f, enum crdt_fun_shape shape, struct cs_reader *r);
size_t crdt_fun_mem_bytes(const struct cs_crdt_dotfun *f);
int crdt_fun_dots_into(const struct cs_crdt_dotfun *f, struct crdt_dotvec *v);
bool crdt_fun_within(const struct cs_crdt_dotfun *f, const struct cs_crdt_ctx *ctx);

/* ---- encoding header and helpers ---- */
int crdt_put_header(struct cs_buf *out, enum cs_crdt_type type);
/* CS_EVERSION or CS_EDECODE (wrong type / truncated). */
int crdt_get_header(struct cs_reader *r, enum cs_crdt_type type);
/* Nonzero node id as uvarint. */
int crdt_get_node(struct cs_reader *r, uint64_t *node);
int crdt_get_stamp(struct cs_reader *r, struct cs_crdt_stamp *s);
int crdt_put_stamp(struct cs_buf *out, struct cs_crdt_stamp s);
static inline bool crdt_stamp_valid(struct cs_crdt_stamp s)
{
    return s.hlc != 0 && s.node != 0;
}
/* Finish a decode: trailing bytes are an error. */
int crdt_decode_end(struct cs_reader *r);

/* Deep leq through copy + join + equal: a <= b iff join(a, b) == b. */
#define CRDT_LEQ_BY_JOIN(type, a, b)                                                               \
    do {                                                                                           \
        struct type j_;                                                                            \
        type##_init(&j_);                                                                          \
        bool leq_ =                                                                                \
            type##_copy(&j_, (b)) == 0 && type##_merge(&j_, (a)) == 0 && type##_equal(&j_, (b));   \
        type##_free(&j_);                                                                          \
        return leq_;                                                                               \
    } while (0)

#endif /* CS_CRDT_INTERNAL_H */
