/*
 * check/model.h: the models the checkers search over, as a small interface.
 *
 * The one idea: a model state is one 64-bit word, canonical for its value.
 * Scalars are their own word (a counter) or a dense id (a register's value);
 * composite states (a kv string, a set, a vector of registers) are interned
 * into a pool so that equal states get equal ids. So the interface's `equal`
 * is `==` and its `hash` is a mix of the word, and the search never copies or
 * compares states of variable size.
 *
 * Ops are compiled once, before the search, into struct cs_cop: the model's
 * op code and its arguments as words, so a step is a few compares.
 */
#ifndef CS_CHECK_MODEL_H
#define CS_CHECK_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "consist/check.h"

/* An interning pool of byte sequences -> dense ids, with a memory account. */
struct cs_pool {
    uint8_t *bytes;
    uint64_t bytes_len, bytes_cap;
    uint64_t *offsets; /* id -> start, 8-byte aligned */
    uint64_t *lens;    /* id -> length in bytes */
    uint32_t len, cap;
    uint32_t *slots; /* id + 1, 0 = empty */
    uint32_t slots_cap;
    uint64_t memory_bytes; /* what the pool holds, for the budget */
};

enum cs_cop_code {
    CS_COP_READ = 0,
    CS_COP_WRITE,
    CS_COP_CAS,
    CS_COP_INCR,
    CS_COP_ADD,
    CS_COP_REMOVE,
    CS_COP_APPEND,
    CS_COP_TXN,
};

/* A compiled op. */
struct cs_cop {
    uint64_t a, b; /* arguments as words (see model.c per code) */
    uint32_t op;   /* index into h->ops */
    uint32_t key;  /* dense key index in a product state; 0 otherwise */
    uint32_t mops; /* CS_COP_TXN: first micro-op in ctx->mops */
    uint16_t mops_len;
    uint8_t code;    /* enum cs_cop_code */
    uint8_t unknown; /* info or never completed: result not checked */
    uint8_t cas_failed;
};

struct cs_model_trans {
    uint64_t state;
    uint64_t next;
    uint32_t op; /* cop's op index + 1; 0 = empty */
    int32_t ok;  /* the step's answer: 1 or 0 */
};

/* A txn micro-op: read or write of one register. */
struct cs_mop {
    uint64_t word; /* value written, or value the read returned */
    uint32_t reg;
    uint8_t write;
    uint8_t unknown; /* a read whose value is not known (nil in an invoke) */
};

struct cs_model_ctx {
    const struct cs_history *h;
    enum cs_model_kind kind;
    struct cs_pool pool;
    /* Scalar values (register contents, set elements) -> word: value table. */
    struct cs_value *values; /* word - 1 -> value; word 0 is nil */
    uint32_t values_len, values_cap;
    uint32_t *value_slots;
    uint32_t value_slots_cap;
    /* Keys -> dense index (product states, multi-register registers). */
    uint32_t *key_of_index; /* dense -> history string id */
    uint32_t *key_slots;    /* (history id, dense + 1) pairs */
    uint32_t keys_len, keys_cap, key_slots_cap;
    bool product;         /* state is a vector over keys of per-key states */
    uint64_t initial_one; /* initial state of one instance */
    struct cs_mop *mops;
    uint32_t mops_len, mops_cap;
    uint64_t *scratch; /* vectors under construction */
    uint32_t scratch_cap;
    uint8_t *bytes_scratch;
    uint64_t bytes_scratch_cap;
    /* Transition cache: (state, op) -> next state, for the steps that must
       build and intern a state (append, set add/remove, txn, product). */
    struct cs_model_trans *trans;
    uint32_t trans_len, trans_cap;
    /* Dead-end test scratch: a set of (key, word) stamped by generation,
       the distinct lengths of candidate appends, and a list of candidates
       to look at one by one (kv puts, register cas). */
    uint64_t *dead_keys;
    uint32_t *dead_gens;
    uint32_t dead_cap, dead_gen;
    uint64_t dead_state;
    uint64_t dead_lengths[8];
    uint32_t dead_lengths_len;
    bool dead_unsure; /* too many distinct lengths: say "not dead" */
    const struct cs_cop **dead_list;
    uint32_t dead_list_len, dead_list_cap;
    char *detail; /* where errors are explained (result->detail) */
    size_t detail_len;
};

int cs_pool_intern(struct cs_pool *pool, const void *bytes, uint64_t len, uint32_t *id_out);
/* cs_pool_find: the id of bytes if interned; never adds. */
bool cs_pool_find(const struct cs_pool *pool, const void *bytes, uint64_t len, uint32_t *id_out);
const uint8_t *cs_pool_get(const struct cs_pool *pool, uint32_t id, uint64_t *len_out);
void cs_pool_free(struct cs_pool *pool);

/*
 * cs_model_init: a model context for ops of h under spec. product: the
 * state spans every key (no split). detail receives error text.
 * Returns 0, CS_EINVAL (a bad --initial for the model), CS_ENOMEM.
 */
int cs_model_init(struct cs_model_ctx *m, const struct cs_history *h,
                  const struct cs_model_spec *spec, bool product, char *detail, size_t detail_len);
void cs_model_free(struct cs_model_ctx *m);

/* cs_model_compile: op index -> cop. CS_EINVAL (detail says why), CS_ENOMEM. */
int cs_model_compile(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *out);

/* cs_model_initial: the initial state (after every op is compiled). */
int cs_model_initial(struct cs_model_ctx *m, uint64_t *state);

/* cs_model_step: 1 if op is allowed in state (next set), 0 if not, or a
 * negative CS_E code (CS_ENOMEM). */
int cs_model_step(struct cs_model_ctx *m, uint64_t state, const struct cs_cop *op, uint64_t *next);

/* cs_model_describe: append the state in words. */
int cs_model_describe(struct cs_model_ctx *m, uint64_t state, struct cs_buf *out);

/*
 * The dead-end test: after each step the search walks the pending entries in
 * real-time order, adding each call (an op that may still go before what
 * follows) with cs_model_dead_add, and asking at each return whether that op
 * can still be satisfied with cs_model_dead_check. Sound and incomplete:
 * "dead" means no order of the ops added so far, from state, lets r be
 * accepted (r's op must precede everything invoked after its return).
 *   registers: r needs a value the state does not hold, no candidate writes
 *              it, and no candidate cas to it can fire (its expected value is
 *              neither the state nor written by any candidate);
 *   kv:        r's string is neither the state, nor the state followed by a
 *              candidate's appended string, nor begun by a candidate's put.
 * The candidates are kept in hash sets, so a check costs O(1) for registers
 * and O(distinct append lengths + puts of the key) for kv.
 */
int cs_model_dead_begin(struct cs_model_ctx *m, uint64_t state, uint32_t cands_max);
void cs_model_dead_add(struct cs_model_ctx *m, const struct cs_cop *c);
bool cs_model_dead_check(struct cs_model_ctx *m, const struct cs_cop *r);

/* cs_model_memory_bytes: memory held by interned states, for the budget. */
uint64_t cs_model_memory_bytes(const struct cs_model_ctx *m);

/*
 * cs_check_stale_read (stale.c): for one register (not a product), the index
 * in cops[0..n) of a known read whose value no op can explain: every op that
 * set it, and the initial value, were certainly overwritten before the read
 * was invoked. Returns 1 with *read_out set, 0 if none found, CS_ENOMEM.
 */
int cs_check_stale_read(const struct cs_history *h, const struct cs_cop *cops, uint32_t n,
                        uint64_t initial, uint32_t *read_out);

/*
 * cs_check_zones (unique.c): for one register (not a product) whose cops
 * are all plain reads and writes, every written value distinct and none the
 * initial value, the linearizability verdict by zones in O(n log n);
 * CS_ZONES_NOT_APPLICABLE otherwise (the search decides). On
 * CS_VERDICT_INVALID, r->detail says which clusters conflict and r->stuck
 * names their ops. flags: CS_CHECK_PLANT_* of internal.h (tests only).
 * Returns a verdict, CS_ZONES_NOT_APPLICABLE, or CS_ENOMEM.
 */
#define CS_ZONES_NOT_APPLICABLE 3
int cs_check_zones(const struct cs_history *h, const struct cs_cop *cops, uint32_t n,
                   uint64_t initial, unsigned flags, struct cs_check_result *r);

/* cs_op_dropped: a fail that certainly did not happen (every fail but a
 * failed cas): no checker considers it. */
static inline bool cs_op_dropped(const struct cs_op *op)
{
    return op->type == CS_TYPE_FAIL && op->f != CS_F_CAS;
}

/* cs_op_unknown: info or never completed. */
static inline bool cs_op_unknown(const struct cs_op *op)
{
    return op->type == CS_TYPE_INFO || op->type == CS_TYPE_INVOKE;
}

#endif /* CS_CHECK_MODEL_H */
