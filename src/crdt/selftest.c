/*
 * selftest.c: the CRDT property suite, callable from ctest and from
 * `consist selftest crdt`, so both run exactly the same code.
 *
 * The one idea: every type is driven through one generic harness (a table of
 * function pointers) over a simulated network that the seed controls: 2..7
 * replicas, random operations, their deltas and occasional full states sent
 * to random peers, each copy possibly dropped or duplicated and delivered in
 * random order, every message passing through the encoder and decoder. When
 * the operations stop, everything pending is delivered and one full-state
 * exchange repairs what was dropped; then every replica must hold the same
 * state and value. Along the way: each mutation must be an inflation, each
 * merge must move up, join must be commutative, associative and idempotent,
 * the OR-Set must agree with a reference model that tracks causal history
 * explicitly, the bounded counter must never read below zero nor let a
 * replica spend rights it does not have, and counters must equal the sum of
 * the operations that were applied.
 *
 * Three planted bugs (the exam's DistributedCounter, an OR-Set merge that
 * forgets its causal context, bounded-counter deltas that hold only the entry
 * that changed) run under the same schedules to show that the checks can fail.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/rng.h"
#include "crdt/internal.h"

#define ST_REPLICAS_MIN 2u
#define ST_REPLICAS_MAX 7u
#define ST_OPS          40u  /* operations per type per seed */
#define ST_OPS_MAX      128u /* model bitsets hold this many */
#define ST_MESSAGES_MAX 512u /* in-flight messages; a send past it is dropped */
#define ST_MEMBERS      8u   /* universe of set members */
#define ST_STATE_BYTES  4096u
#define ST_ENCODED_MAX  (1u << 20)
#define ST_TRACE_BYTES  2048u
#define ST_DROP_PERCENT 10u
#define ST_DUP_PERCENT  10u

_Static_assert(ST_OPS <= ST_OPS_MAX, "the OR-Set model tracks at most ST_OPS_MAX ops");

/* ---- the OR-Set reference model: causal history, explicitly ---- */

struct st_bits {
    uint64_t w[ST_OPS_MAX / 64];
};

struct st_model_op {
    bool is_add;
    uint8_t member;
    struct st_bits covers; /* add ops of member this op saw live (and so replaces/removes) */
};

struct st_model {
    struct st_model_op ops[ST_OPS_MAX];
    uint32_t ops_len;
    struct st_bits seen[ST_REPLICAS_MAX]; /* ops each replica's state reflects */
};

static void bits_set(struct st_bits *b, uint32_t i)
{
    b->w[i / 64] |= 1ull << (i % 64);
}

static bool bits_get(const struct st_bits *b, uint32_t i)
{
    return (b->w[i / 64] >> (i % 64)) & 1;
}

static void bits_or(struct st_bits *d, const struct st_bits *s)
{
    for (size_t i = 0; i < ST_OPS_MAX / 64; i++)
        d->w[i] |= s->w[i];
}

/* Add ops of member live at replica r: seen, and covered by no seen op. */
static struct st_bits model_live(const struct st_model *m, uint32_t r, uint8_t member)
{
    struct st_bits covered = {{0}}, live = {{0}};
    for (uint32_t i = 0; i < m->ops_len; i++) {
        if (bits_get(&m->seen[r], i)) bits_or(&covered, &m->ops[i].covers);
    }
    for (uint32_t i = 0; i < m->ops_len; i++) {
        const struct st_model_op *op = &m->ops[i];
        if (op->is_add && op->member == member && bits_get(&m->seen[r], i) &&
            !bits_get(&covered, i)) {
            bits_set(&live, i);
        }
    }
    return live;
}

static bool bits_any(const struct st_bits *b)
{
    for (size_t i = 0; i < ST_OPS_MAX / 64; i++) {
        if (b->w[i]) return true;
    }
    return false;
}

/* ---- the harness ---- */

struct st_run;

struct st_type {
    const char *name;
    const char *schedule; /* whose random stream it draws: planted bugs share the real type's */
    bool planted;         /* a deliberately broken type: only convergence and models are checked */
    void (*init)(void *s);
    void (*free)(void *s);
    int (*copy)(void *dst, const void *src);
    int (*merge)(void *dst, const void *src);
    bool (*equal)(const void *a, const void *b);
    bool (*leq)(const void *a, const void *b);
    int (*encode)(const void *s, struct cs_buf *out);
    int (*decode)(void *s, const void *data, size_t len);
    /* One random operation at replica r. 0: applied, delta filled; 1: no
     * effect (nothing to send); else a CS_E code. May set run->fail. */
    int (*op)(struct st_run *run, uint32_t r, void *state, void *delta);
    /* A digest of the value (not the state) for "equal values". */
    uint64_t (*digest)(const void *s);
    /* Invariants of one replica's state; NULL or a message. */
    const char *(*check)(struct st_run *run, uint32_t r, const void *s);
    bool orset_model; /* ops feed the OR-Set model; contains() is compared */
    bool (*contains)(const void *s, const void *member, size_t len);
    bool counts; /* the value must equal run->expected after quiescence */
    int64_t (*value)(const void *s);
};

struct st_msg {
    uint32_t from, to;
    bool full;
    struct cs_buf bytes;
    struct st_bits ops; /* model: the ops this message carries */
};

struct st_run {
    const struct st_type *type;
    struct cs_rng rng;
    uint64_t seed;
    uint32_t replicas;
    uint32_t step;
    void *states[ST_REPLICAS_MAX];
    struct st_msg msgs[ST_MESSAGES_MAX];
    uint32_t msgs_len;
    struct st_model model;
    int64_t expected;
    uint64_t hlc; /* a fake hybrid clock for LWW stamps */
    char trace[ST_TRACE_BYTES];
    size_t trace_len;
    bool failed;
    char failure[CS_CRDT_SELFTEST_MESSAGE_BYTES];
};

/* Append one schedule event to the trace (kept as a ring of its tail). */
__attribute__((format(printf, 2, 3))) static void st_trace(struct st_run *run, const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (run->trace_len + len + 2 >= ST_TRACE_BYTES) {
        size_t keep = ST_TRACE_BYTES / 2;
        memmove(run->trace, run->trace + run->trace_len - keep, keep);
        run->trace_len = keep;
    }
    memcpy(run->trace + run->trace_len, line, len);
    run->trace_len += len;
    run->trace[run->trace_len++] = ';';
    run->trace[run->trace_len] = '\0';
}

__attribute__((format(printf, 2, 3))) static void st_fail(struct st_run *run, const char *fmt, ...)
{
    if (run->failed) return;
    run->failed = true;
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    /* The tail of the trace: the events just before the failure. */
    int head = snprintf(run->failure, sizeof run->failure,
                        "%s; schedule: seed %" PRIu64 ", %u replicas, step %u, drop %u%%, "
                        "dup %u%%, last events: ",
                        what, run->seed, run->replicas, run->step, ST_DROP_PERCENT, ST_DUP_PERCENT);
    if (head < 0 || (size_t)head >= sizeof run->failure - 1) return;
    size_t room = sizeof run->failure - (size_t)head - 1;
    size_t from = run->trace_len > room ? run->trace_len - room : 0;
    memcpy(run->failure + head, run->trace + from, run->trace_len - from);
    run->failure[(size_t)head + run->trace_len - from] = '\0';
}

static uint64_t st_hash(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h ^ (h >> 31);
}

static const char *st_member(uint32_t i)
{
    static const char *const names[ST_MEMBERS] = {"apple", "pear", "fig",  "kiwi",
                                                  "lime",  "plum", "date", ""};
    return names[i % ST_MEMBERS];
}

static struct cs_crdt_stamp st_stamp(struct st_run *run, uint32_t r)
{
    /* Mostly increasing, sometimes stale or equal: ties and late writes happen. */
    run->hlc += cs_rng_below(&run->rng, 3);
    uint64_t back = cs_rng_below(&run->rng, 4);
    return (struct cs_crdt_stamp){(run->hlc > back ? run->hlc - back : 0) + 1, r + 1};
}

/* ---- per-type operations ---- */

static int op_gcounter(struct st_run *run, uint32_t r, void *s, void *d)
{
    uint64_t amount = cs_rng_range(&run->rng, 1, 5);
    st_trace(run, "r%u inc %" PRIu64, r, amount);
    int rc = cs_gcounter_increment(s, r + 1, amount, d);
    if (rc == 0) run->expected += (int64_t)amount;
    return rc;
}

static int op_pncounter(struct st_run *run, uint32_t r, void *s, void *d)
{
    int64_t amount = (int64_t)cs_rng_range(&run->rng, 1, 5);
    if (cs_rng_chance(&run->rng, 1, 2)) amount = -amount;
    st_trace(run, "r%u add %" PRId64, r, amount);
    int rc = cs_pncounter_increment(s, r + 1, amount, d);
    if (rc == 0) run->expected += amount;
    return rc;
}

static int op_gset(struct st_run *run, uint32_t r, void *s, void *d)
{
    const char *m = st_member((uint32_t)cs_rng_below(&run->rng, ST_MEMBERS));
    st_trace(run, "r%u add '%s'", r, m);
    return cs_gset_add(s, m, strlen(m), d);
}

static int op_twopset(struct st_run *run, uint32_t r, void *s, void *d)
{
    const char *m = st_member((uint32_t)cs_rng_below(&run->rng, ST_MEMBERS));
    bool add = cs_rng_chance(&run->rng, 2, 3);
    st_trace(run, "r%u %s '%s'", r, add ? "add" : "rm", m);
    int rc = add ? cs_twopset_add(s, m, strlen(m), d) : cs_twopset_remove(s, m, strlen(m), d);
    return rc == CS_ESTATE || rc == CS_ENOTFOUND ? 1 : rc;
}

static int op_lwwreg(struct st_run *run, uint32_t r, void *s, void *d)
{
    struct cs_crdt_stamp st = st_stamp(run, r);
    const char *v = st_member((uint32_t)cs_rng_below(&run->rng, ST_MEMBERS));
    st_trace(run, "r%u set '%s' @%" PRIu64, r, v, st.hlc);
    return cs_lwwreg_set(s, st, v, strlen(v), d);
}

static int op_lwwset(struct st_run *run, uint32_t r, void *s, void *d)
{
    struct cs_crdt_stamp st = st_stamp(run, r);
    const char *m = st_member((uint32_t)cs_rng_below(&run->rng, ST_MEMBERS));
    bool add = cs_rng_chance(&run->rng, 1, 2);
    st_trace(run, "r%u %s '%s' @%" PRIu64, r, add ? "add" : "rm", m, st.hlc);
    return add ? cs_lwwset_add(s, m, strlen(m), st, d) : cs_lwwset_remove(s, m, strlen(m), st, d);
}

static int op_mvreg(struct st_run *run, uint32_t r, void *s, void *d)
{
    const char *v = st_member((uint32_t)cs_rng_below(&run->rng, ST_MEMBERS));
    st_trace(run, "r%u write '%s'", r, v);
    return cs_mvreg_write(s, r + 1, v, strlen(v), d);
}

/* OR-Set ops also record themselves in the model. */
static int op_orset_generic(struct st_run *run, uint32_t r, void *s, void *d,
                            int (*add)(void *, uint64_t, const void *, size_t, void *),
                            int (*rm)(void *, const void *, size_t, void *))
{
    uint8_t mi = (uint8_t)cs_rng_below(&run->rng, ST_MEMBERS);
    const char *m = st_member(mi);
    bool is_add = cs_rng_chance(&run->rng, 3, 5);
    struct st_model *model = &run->model;
    CS_ASSERT(model->ops_len < ST_OPS_MAX);
    struct st_model_op op = {is_add, mi, model_live(model, r, mi)};
    if (!is_add && !bits_any(&op.covers)) {
        int rc = rm(s, m, strlen(m), d);
        st_trace(run, "r%u rm '%s' (absent)", r, m);
        if (rc != CS_ENOTFOUND)
            st_fail(run, "remove of an absent member returned %s", cs_errname(rc));
        return 1;
    }
    st_trace(run, "r%u %s '%s' #%u", r, is_add ? "add" : "rm", m, model->ops_len);
    int rc = is_add ? add(s, r + 1, m, strlen(m), d) : rm(s, m, strlen(m), d);
    if (rc) return rc;
    model->ops[model->ops_len] = op;
    bits_set(&model->seen[r], model->ops_len);
    model->ops_len++;
    return 0;
}

static int orset_add_v(void *s, uint64_t node, const void *m, size_t len, void *d)
{
    return cs_orset_add(s, node, m, len, d);
}

static int orset_rm_v(void *s, const void *m, size_t len, void *d)
{
    return cs_orset_remove(s, m, len, d);
}

static int op_orset(struct st_run *run, uint32_t r, void *s, void *d)
{
    return op_orset_generic(run, r, s, d, orset_add_v, orset_rm_v);
}

static int op_ormap(struct st_run *run, uint32_t r, void *s, void *d)
{
    static const char *const keys[] = {"a", "b", "c"};
    struct cs_ormap_key path[2];
    size_t path_len = 1 + (size_t)cs_rng_below(&run->rng, 2);
    enum cs_ormap_kind leaf = (enum cs_ormap_kind)cs_rng_range(&run->rng, 1, 4);
    for (size_t i = 0; i < path_len; i++) {
        const char *k = keys[cs_rng_below(&run->rng, 3)];
        path[i] = (struct cs_ormap_key){k, strlen(k), i + 1 < path_len ? CS_ORMAP_MAP : leaf};
    }
    uint32_t what = (uint32_t)cs_rng_below(&run->rng, 6);
    const char *m = st_member((uint32_t)cs_rng_below(&run->rng, 4));
    int rc;
    if (what == 0) {
        /* Remove the leaf field, or (at depth 2) the whole inner map. */
        size_t len = path_len == 2 && cs_rng_chance(&run->rng, 1, 2) ? 1 : path_len;
        st_trace(run, "r%u remove %s%s%s", r, (const char *)path[0].key, len > 1 ? "." : "",
                 len > 1 ? (const char *)path[1].key : "");
        rc = cs_ormap_remove(s, path, len, d);
        return rc == CS_ENOTFOUND ? 1 : rc;
    }
    switch (leaf) {
    case CS_ORMAP_COUNTER: {
        int64_t amount = (int64_t)cs_rng_range(&run->rng, 1, 9) * (what & 1 ? 1 : -1);
        st_trace(run, "r%u counter %s += %" PRId64, r, (const char *)path[path_len - 1].key,
                 amount);
        return cs_ormap_counter_add(s, r + 1, path, path_len, amount, d);
    }
    case CS_ORMAP_LWWREG: {
        struct cs_crdt_stamp st = st_stamp(run, r);
        st_trace(run, "r%u lww %s = '%s'", r, (const char *)path[path_len - 1].key, m);
        rc = cs_ormap_lwwreg_set(s, r + 1, path, path_len, st, m, strlen(m), d);
        /* A losing write leaves an empty delta: nothing to send. */
        return rc == 0 && ((struct cs_ormap *)d)->table.len == 0 ? 1 : rc;
    }
    case CS_ORMAP_MVREG:
        st_trace(run, "r%u mv %s = '%s'", r, (const char *)path[path_len - 1].key, m);
        return cs_ormap_mvreg_write(s, r + 1, path, path_len, m, strlen(m), d);
    case CS_ORMAP_SET:
        if (what < 3) {
            st_trace(run, "r%u set %s rm '%s'", r, (const char *)path[path_len - 1].key, m);
            rc = cs_ormap_set_remove(s, path, path_len, m, strlen(m), d);
            return rc == CS_ENOTFOUND ? 1 : rc;
        }
        st_trace(run, "r%u set %s add '%s'", r, (const char *)path[path_len - 1].key, m);
        return cs_ormap_set_add(s, r + 1, path, path_len, m, strlen(m), d);
    case CS_ORMAP_MAP:
        break;
    }
    CS_UNREACHABLE();
}

static int op_bcounter(struct st_run *run, uint32_t r, void *s, void *d)
{
    uint64_t node = r + 1, amount = cs_rng_range(&run->rng, 1, 6);
    uint32_t what = (uint32_t)cs_rng_below(&run->rng, 5);
    uint64_t rights = cs_bcounter_rights(s, node);
    int rc;
    if (what <= 1) {
        st_trace(run, "r%u inc %" PRIu64, r, amount);
        rc = cs_bcounter_increment(s, node, amount, d);
        if (rc == 0) run->expected += (int64_t)amount;
        return rc;
    }
    if (what <= 3) {
        st_trace(run, "r%u dec %" PRIu64 " (rights %" PRIu64 ")", r, amount, rights);
        rc = cs_bcounter_decrement(s, node, amount, d);
        if (rc == CS_ERANGE) {
            if (rights >= amount) st_fail(run, "decrement refused within rights");
            return 1;
        }
        if (rc == 0 && rights < amount) st_fail(run, "decrement past the replica's rights");
        if (rc == 0 && cs_bcounter_rights(s, node) != rights - amount) {
            st_fail(run, "a decrement did not spend exactly its rights");
        }
        if (rc == 0) run->expected -= (int64_t)amount;
        return rc;
    }
    uint64_t to = cs_rng_range(&run->rng, 1, run->replicas);
    if (to == node) to = to % run->replicas + 1;
    st_trace(run, "r%u give %" PRIu64 " to r%" PRIu64, r, amount, to - 1);
    rc = cs_bcounter_transfer(s, node, to, amount, d);
    if (rc == CS_ERANGE) {
        if (rights >= amount) st_fail(run, "transfer refused within rights");
        return 1;
    }
    if (rc == 0 && rights < amount) st_fail(run, "transfer past the replica's rights");
    return rc;
}

static int op_rankmap(struct st_run *run, uint32_t r, void *s, void *d)
{
    const char *m = st_member((uint32_t)cs_rng_below(&run->rng, ST_MEMBERS));
    int64_t amount = (int64_t)cs_rng_range(&run->rng, 1, 20) - 8;
    if (amount == 0) amount = 1;
    st_trace(run, "r%u zincr '%s' %" PRId64, r, m, amount);
    return cs_rankmap_incr(s, r + 1, m, strlen(m), amount, d);
}

/* ---- digests, values and invariants ---- */

static int64_t value_gcounter(const void *s)
{
    return (int64_t)cs_gcounter_value(s);
}

static int64_t value_pncounter(const void *s)
{
    return cs_pncounter_value(s);
}

static int64_t value_bcounter(const void *s)
{
    return (int64_t)cs_bcounter_value(s);
}

static uint64_t digest_by_value_gcounter(const void *s)
{
    return cs_gcounter_value(s);
}

static uint64_t digest_by_value_pncounter(const void *s)
{
    return (uint64_t)cs_pncounter_value(s);
}

static uint64_t digest_bcounter(const void *s)
{
    return cs_bcounter_value(s);
}

/* Sets: a sum of member hashes is independent of iteration order. */
static uint64_t digest_members(const void *s, bool (*contains)(const void *, const void *, size_t))
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < ST_MEMBERS; i++) {
        const char *m = st_member(i);
        if (contains(s, m, strlen(m))) sum += st_hash(m, strlen(m)) | 1;
    }
    return sum;
}

static bool contains_gset(const void *s, const void *m, size_t len)
{
    return cs_gset_contains(s, m, len);
}

static bool contains_twopset(const void *s, const void *m, size_t len)
{
    return cs_twopset_contains(s, m, len);
}

static bool contains_lwwset(const void *s, const void *m, size_t len)
{
    return cs_lwwset_contains(s, m, len);
}

static bool contains_orset(const void *s, const void *m, size_t len)
{
    return cs_orset_contains(s, m, len);
}

static uint64_t digest_gset(const void *s)
{
    return digest_members(s, contains_gset);
}

static uint64_t digest_twopset(const void *s)
{
    return digest_members(s, contains_twopset);
}

static uint64_t digest_lwwset(const void *s)
{
    return digest_members(s, contains_lwwset);
}

static uint64_t digest_orset(const void *s)
{
    return digest_members(s, contains_orset);
}

static uint64_t digest_lwwreg(const void *s)
{
    const uint8_t *v;
    size_t len;
    return cs_lwwreg_get(s, &v, &len) == 0 ? st_hash(v, len) : 0;
}

static uint64_t digest_mvreg(const void *s)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < cs_mvreg_values_len(s); i++) {
        const uint8_t *v;
        size_t len;
        if (cs_mvreg_value(s, i, &v, &len) == 0) sum += st_hash(v, len);
    }
    return sum;
}

/* The OR-Map's value: every read the harness can make, hashed. */
static uint64_t digest_ormap(const void *s)
{
    static const char *const keys[] = {"a", "b", "c"};
    uint64_t h = 0;
    for (int outer = -1; outer < 3; outer++) {
        for (int k = 0; k < 3; k++) {
            for (int kind = CS_ORMAP_COUNTER; kind <= CS_ORMAP_SET; kind++) {
                struct cs_ormap_key path[2];
                size_t len = 0;
                if (outer >= 0) path[len++] = (struct cs_ormap_key){keys[outer], 1, CS_ORMAP_MAP};
                path[len++] = (struct cs_ormap_key){keys[k], 1, (enum cs_ormap_kind)kind};
                uint64_t x = 0;
                int64_t cv;
                const uint8_t *v;
                size_t vlen;
                if (kind == CS_ORMAP_COUNTER && cs_ormap_counter_value(s, path, len, &cv) == 0) {
                    x = (uint64_t)cv + 1;
                } else if (kind == CS_ORMAP_LWWREG &&
                           cs_ormap_lwwreg_get(s, path, len, &v, &vlen) == 0) {
                    x = st_hash(v, vlen);
                } else if (kind == CS_ORMAP_MVREG &&
                           cs_ormap_mvreg_values_len(s, path, len, &vlen) == 0) {
                    x = vlen + 7;
                } else if (kind == CS_ORMAP_SET) {
                    for (uint32_t i = 0; i < 4; i++) {
                        const char *m = st_member(i);
                        if (cs_ormap_set_contains(s, path, len, m, strlen(m)) == 0) x += i + 1;
                    }
                }
                h = (h ^ x) * 0x100000001b3ull + (uint64_t)(kind * 131 + k * 7 + outer);
            }
        }
    }
    return h;
}

static uint64_t digest_rankmap(const void *s)
{
    struct cs_rankmap_item items[ST_MEMBERS];
    size_t n = cs_rankmap_top(s, ST_MEMBERS, items);
    uint64_t h = n;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ st_hash(items[i].member, items[i].member_len)) * 31 + (uint64_t)items[i].score;
    }
    return h;
}

static const char *check_bcounter(struct st_run *run, uint32_t r, const void *s)
{
    (void)run;
    (void)r;
    const struct cs_bcounter *c = s;
    uint64_t incs = 0, decs = 0;
    for (uint32_t i = 0; i < c->rights_len; i++) {
        if (c->rights[i].from == c->rights[i].to) incs += c->rights[i].amount;
    }
    for (uint32_t i = 0; i < c->used_len; i++)
        decs += c->used[i].p;
    return decs > incs ? "bounded counter below zero" : NULL;
}

static const char *check_rankmap(struct st_run *run, uint32_t r, const void *s)
{
    (void)run;
    (void)r;
    if (!cs_rankmap_check(s)) return "ranked-map index out of order or spans wrong";
    /* Every member's rank agrees with its place in the top list. */
    struct cs_rankmap_item items[ST_MEMBERS];
    size_t n = cs_rankmap_top(s, ST_MEMBERS, items);
    for (size_t i = 0; i < n; i++) {
        uint64_t rank;
        if (cs_rankmap_rank(s, items[i].member, items[i].member_len, &rank) || rank != i) {
            return "rank disagrees with top-K order";
        }
    }
    return NULL;
}

/* ---- planted bug 1: the exam's DistributedCounter ---- */

/*
 * One value per region and a vector clock; merge replaces the whole state
 * when any entry of the incoming clock is newer. Two regions that increment
 * concurrently each see the other as "newer" and throw their own increments
 * away.
 */
struct dcounter {
    uint64_t values[ST_REPLICAS_MAX];
    uint64_t clock[ST_REPLICAS_MAX];
};

static void dc_init(void *s)
{
    memset(s, 0, sizeof(struct dcounter));
}

static void dc_free(void *s)
{
    (void)s;
}

static int dc_copy(void *d, const void *s)
{
    memcpy(d, s, sizeof(struct dcounter));
    return 0;
}

static int dc_merge(void *d, const void *s)
{
    struct dcounter *dst = d;
    const struct dcounter *src = s;
    for (uint32_t i = 0; i < ST_REPLICAS_MAX; i++) {
        if (src->clock[i] > dst->clock[i]) {
            *dst = *src; /* the bug: wholesale replacement */
            return 0;
        }
    }
    return 0;
}

static bool dc_equal(const void *a, const void *b)
{
    return memcmp(a, b, sizeof(struct dcounter)) == 0;
}

static bool dc_leq(const void *a, const void *b)
{
    const struct dcounter *x = a, *y = b;
    for (uint32_t i = 0; i < ST_REPLICAS_MAX; i++) {
        if (x->clock[i] > y->clock[i]) return false;
    }
    return true;
}

static int dc_encode(const void *s, struct cs_buf *out)
{
    const struct dcounter *c = s;
    for (uint32_t i = 0; i < ST_REPLICAS_MAX; i++) {
        cs_put_uvarint(out, c->values[i]);
        cs_put_uvarint(out, c->clock[i]);
    }
    return cs_buf_error(out);
}

static int dc_decode(void *s, const void *data, size_t len)
{
    struct dcounter *c = s;
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    for (uint32_t i = 0; i < ST_REPLICAS_MAX; i++) {
        cs_get_uvarint(&r, &c->values[i]);
        cs_get_uvarint(&r, &c->clock[i]);
    }
    return cs_reader_end(&r);
}

/* Draws what op_pncounter draws, so both run the same schedule; it can only
 * count up, so it adds the magnitude. */
static int dc_op(struct st_run *run, uint32_t r, void *s, void *d)
{
    struct dcounter *c = s;
    uint64_t amount = cs_rng_range(&run->rng, 1, 5);
    (void)cs_rng_chance(&run->rng, 1, 2);
    c->values[r] += amount;
    c->clock[r]++;
    run->expected += (int64_t)amount;
    st_trace(run, "r%u inc %" PRIu64, r, amount);
    return dc_copy(d, s); /* state-based: the "delta" is the whole state */
}

static uint64_t dc_digest(const void *s)
{
    const struct dcounter *c = s;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < ST_REPLICAS_MAX; i++)
        sum += c->values[i];
    return sum;
}

static int64_t dc_value(const void *s)
{
    return (int64_t)dc_digest(s);
}

/* ---- planted bug 2: an OR-Set whose merge forgets the causal context ---- */

/* Unions the members' dots as if neither side had seen anything (then joins
 * the contexts as usual): a dot one side removed comes back from the other. */
static int forgetful_merge(void *d, const void *s)
{
    struct cs_orset *dst = d;
    const struct cs_orset *src = s;
    struct cs_crdt_ctx nothing;
    crdt_ctx_init(&nothing);
    int rc = crdt_elems_join(&dst->table, &nothing, &src->table, &nothing, NULL); /* the bug */
    return rc ? rc : crdt_ctx_join(&dst->ctx, &src->ctx);
}

/* ---- planted bug 3: bounded-counter deltas holding only what changed ---- */

/*
 * The natural delta (just the entry an operation raised) can reach a replica
 * before the increments whose rights it spends; that replica then reads
 * below zero. The library ships whole states instead; this runs the same
 * schedules with the trimmed deltas to show the floor check catches it.
 */
static bool transfer_in(const struct cs_bcounter *c, const struct cs_crdt_transfer *t)
{
    for (uint32_t i = 0; i < c->rights_len; i++) {
        const struct cs_crdt_transfer *x = &c->rights[i];
        if (x->from == t->from && x->to == t->to && x->amount >= t->amount) return true;
    }
    return false;
}

static bool used_in(const struct cs_bcounter *c, const struct cs_crdt_count *u)
{
    for (uint32_t i = 0; i < c->used_len; i++) {
        if (c->used[i].node == u->node && c->used[i].p >= u->p) return true;
    }
    return false;
}

static int op_bcounter_partial(struct st_run *run, uint32_t r, void *s, void *d)
{
    struct cs_bcounter before;
    cs_bcounter_init(&before);
    int rc = cs_bcounter_copy(&before, s);
    if (rc == 0) rc = op_bcounter(run, r, s, d);
    if (rc == 0) {
        struct cs_bcounter *delta = d;
        uint32_t kept = 0;
        for (uint32_t i = 0; i < delta->rights_len; i++) {
            if (!transfer_in(&before, &delta->rights[i])) delta->rights[kept++] = delta->rights[i];
        }
        delta->rights_len = kept;
        kept = 0;
        for (uint32_t i = 0; i < delta->used_len; i++) {
            if (!used_in(&before, &delta->used[i])) delta->used[kept++] = delta->used[i];
        }
        delta->used_len = kept;
    }
    cs_bcounter_free(&before);
    return rc;
}

/* ---- the type table ---- */

#define ST_VOID(T)                                                                                 \
    static void T##_vinit(void *s)                                                                 \
    {                                                                                              \
        cs_##T##_init(s);                                                                          \
    }                                                                                              \
    static void T##_vfree(void *s)                                                                 \
    {                                                                                              \
        cs_##T##_free(s);                                                                          \
    }                                                                                              \
    static int T##_vcopy(void *d, const void *s)                                                   \
    {                                                                                              \
        return cs_##T##_copy(d, s);                                                                \
    }                                                                                              \
    static int T##_vmerge(void *d, const void *s)                                                  \
    {                                                                                              \
        return cs_##T##_merge(d, s);                                                               \
    }                                                                                              \
    static bool T##_vequal(const void *a, const void *b)                                           \
    {                                                                                              \
        return cs_##T##_equal(a, b);                                                               \
    }                                                                                              \
    static bool T##_vleq(const void *a, const void *b)                                             \
    {                                                                                              \
        return cs_##T##_leq(a, b);                                                                 \
    }                                                                                              \
    static int T##_vencode(const void *s, struct cs_buf *out)                                      \
    {                                                                                              \
        return cs_##T##_encode(s, out);                                                            \
    }                                                                                              \
    static int T##_vdecode(void *s, const void *data, size_t len)                                  \
    {                                                                                              \
        return cs_##T##_decode(s, data, len);                                                      \
    }

static void rankmap_vinit_(void *s)
{
    /* The sentinel's allocation failing is out of memory in a test: stop. */
    CS_ASSERT(cs_rankmap_init(s) == 0);
}

ST_VOID(gcounter)
ST_VOID(pncounter)
ST_VOID(gset)
ST_VOID(twopset)
ST_VOID(lwwreg)
ST_VOID(lwwset)
ST_VOID(mvreg)
ST_VOID(orset)
ST_VOID(ormap)
ST_VOID(bcounter)

static void rankmap_vfree(void *s)
{
    cs_rankmap_free(s);
}
static int rankmap_vcopy(void *d, const void *s)
{
    return cs_rankmap_copy(d, s);
}
static int rankmap_vmerge(void *d, const void *s)
{
    return cs_rankmap_merge(d, s);
}
static bool rankmap_vequal(const void *a, const void *b)
{
    return cs_rankmap_equal(a, b);
}
static bool rankmap_vleq(const void *a, const void *b)
{
    return cs_rankmap_leq(a, b);
}
static int rankmap_vencode(const void *s, struct cs_buf *out)
{
    return cs_rankmap_encode(s, out);
}
static int rankmap_vdecode(void *s, const void *data, size_t len)
{
    return cs_rankmap_decode(s, data, len);
}

#define ST_FNS(T)                                                                                  \
    T##_vinit, T##_vfree, T##_vcopy, T##_vmerge, T##_vequal, T##_vleq, T##_vencode, T##_vdecode

static const struct st_type st_types[] = {
    {"gcounter", "gcounter", false, ST_FNS(gcounter), op_gcounter, digest_by_value_gcounter, NULL,
     false, NULL, true, value_gcounter},
    {"pncounter", "pncounter", false, ST_FNS(pncounter), op_pncounter, digest_by_value_pncounter,
     NULL, false, NULL, true, value_pncounter},
    {"gset", "gset", false, ST_FNS(gset), op_gset, digest_gset, NULL, false, NULL, false, NULL},
    {"twopset", "twopset", false, ST_FNS(twopset), op_twopset, digest_twopset, NULL, false, NULL,
     false, NULL},
    {"lwwreg", "lwwreg", false, ST_FNS(lwwreg), op_lwwreg, digest_lwwreg, NULL, false, NULL, false,
     NULL},
    {"lwwset", "lwwset", false, ST_FNS(lwwset), op_lwwset, digest_lwwset, NULL, false, NULL, false,
     NULL},
    {"mvreg", "mvreg", false, ST_FNS(mvreg), op_mvreg, digest_mvreg, NULL, false, NULL, false,
     NULL},
    {"orset", "orset", false, ST_FNS(orset), op_orset, digest_orset, NULL, true, contains_orset,
     false, NULL},
    {"ormap", "ormap", false, ST_FNS(ormap), op_ormap, digest_ormap, NULL, false, NULL, false,
     NULL},
    {"bcounter", "bcounter", false, ST_FNS(bcounter), op_bcounter, digest_bcounter, check_bcounter,
     false, NULL, true, value_bcounter},
    {"rankmap", "rankmap", false, rankmap_vinit_, rankmap_vfree, rankmap_vcopy, rankmap_vmerge,
     rankmap_vequal, rankmap_vleq, rankmap_vencode, rankmap_vdecode, op_rankmap, digest_rankmap,
     check_rankmap, false, NULL, false, NULL},
};

static const struct st_type st_planted_dcounter = {"distributed-counter",
                                                   "pncounter",
                                                   true,
                                                   dc_init,
                                                   dc_free,
                                                   dc_copy,
                                                   dc_merge,
                                                   dc_equal,
                                                   dc_leq,
                                                   dc_encode,
                                                   dc_decode,
                                                   dc_op,
                                                   dc_digest,
                                                   NULL,
                                                   false,
                                                   NULL,
                                                   true,
                                                   dc_value};

static const struct st_type st_planted_bcounter = {"bcounter-partial-delta",
                                                   "bcounter",
                                                   true,
                                                   bcounter_vinit,
                                                   bcounter_vfree,
                                                   bcounter_vcopy,
                                                   bcounter_vmerge,
                                                   bcounter_vequal,
                                                   bcounter_vleq,
                                                   bcounter_vencode,
                                                   bcounter_vdecode,
                                                   op_bcounter_partial,
                                                   digest_bcounter,
                                                   check_bcounter,
                                                   false,
                                                   NULL,
                                                   true,
                                                   value_bcounter};

static const struct st_type st_planted_orset = {
    "orset-forgetful", "orset",      true,       orset_vinit,    orset_vfree,   orset_vcopy,
    forgetful_merge,   orset_vequal, orset_vleq, orset_vencode,  orset_vdecode, op_orset,
    digest_orset,      NULL,         true,       contains_orset, false,         NULL};

/* ---- the run ---- */

/* Scratch states come from here: every state type fits in ST_STATE_BYTES. */
_Static_assert(sizeof(struct cs_ormap) <= ST_STATE_BYTES, "state size");
_Static_assert(sizeof(struct cs_rankmap) <= ST_STATE_BYTES, "state size");
_Static_assert(sizeof(struct dcounter) <= ST_STATE_BYTES, "state size");

union st_slot {
    uint8_t bytes[ST_STATE_BYTES];
    uint64_t align;
    void *ptr;
};

static void *st_new(const struct st_type *t)
{
    union st_slot *s = malloc(sizeof *s);
    CS_ASSERT(s != NULL);
    t->init(s);
    return s;
}

static void st_delete(const struct st_type *t, void *s)
{
    if (s == NULL) return;
    t->free(s);
    free(s);
}

/* Encode s, decode it back, and check the round trip; returns the bytes in out. */
static bool st_roundtrip(struct st_run *run, const void *s, struct cs_buf *out)
{
    const struct st_type *t = run->type;
    cs_buf_reset(out);
    int rc = t->encode(s, out);
    if (rc) {
        st_fail(run, "encode failed: %s", cs_errname(rc));
        return false;
    }
    void *back = st_new(t);
    rc = t->decode(back, out->data, out->len);
    bool ok = rc == 0 && t->equal(back, s);
    if (ok) {
        struct cs_buf again;
        cs_buf_init(&again, ST_ENCODED_MAX);
        ok = t->encode(back, &again) == 0 && again.len == out->len &&
             memcmp(again.data, out->data, out->len) == 0;
        cs_buf_free(&again);
    }
    st_delete(t, back);
    if (!ok) st_fail(run, "encoding does not round-trip (decode: %s)", cs_errname(rc));
    return ok;
}

static void st_send(struct st_run *run, uint32_t from, uint32_t to, bool full, const void *s,
                    const struct st_bits *ops)
{
    uint32_t copies = 1;
    if (cs_rng_chance(&run->rng, ST_DROP_PERCENT, 100)) copies = 0;
    if (copies && cs_rng_chance(&run->rng, ST_DUP_PERCENT, 100)) copies = 2;
    if (copies == 0) st_trace(run, "drop %s r%u->r%u", full ? "state" : "delta", from, to);
    for (uint32_t c = 0; c < copies && run->msgs_len < ST_MESSAGES_MAX; c++) {
        struct st_msg *m = &run->msgs[run->msgs_len];
        cs_buf_init(&m->bytes, ST_ENCODED_MAX);
        if (!st_roundtrip(run, s, &m->bytes)) {
            cs_buf_free(&m->bytes);
            return;
        }
        m->from = from;
        m->to = to;
        m->full = full;
        m->ops = *ops;
        run->msgs_len++;
    }
}

/* The OR-Set model and the replica agree on every member. */
static void st_check_model(struct st_run *run, uint32_t r)
{
    if (!run->type->orset_model) return;
    for (uint8_t i = 0; i < ST_MEMBERS; i++) {
        const char *m = st_member(i);
        struct st_bits live = model_live(&run->model, r, i);
        bool want = bits_any(&live);
        bool have = run->type->contains(run->states[r], m, strlen(m));
        if (want != have) {
            st_fail(run, "replica %u %s '%s' but the causal-history model says %s", r,
                    have ? "holds" : "lacks", m, want ? "present" : "absent");
            return;
        }
    }
}

static void st_check_replica(struct st_run *run, uint32_t r)
{
    if (run->type->check) {
        const char *why = run->type->check(run, r, run->states[r]);
        if (why) st_fail(run, "replica %u: %s", r, why);
    }
    st_check_model(run, r);
}

static void st_deliver(struct st_run *run, uint32_t index)
{
    const struct st_type *t = run->type;
    struct st_msg m = run->msgs[index];
    run->msgs[index] = run->msgs[--run->msgs_len];
    st_trace(run, "deliver %s r%u->r%u", m.full ? "state" : "delta", m.from, m.to);
    void *in = st_new(t);
    void *before = st_new(t);
    int rc = t->decode(in, m.bytes.data, m.bytes.len);
    if (rc == 0) rc = t->copy(before, run->states[m.to]);
    if (rc == 0) rc = t->merge(run->states[m.to], in);
    if (rc) {
        st_fail(run, "merge failed: %s", cs_errname(rc));
    } else if (!t->planted &&
               (!t->leq(before, run->states[m.to]) || !t->leq(in, run->states[m.to]))) {
        st_fail(run, "merge at replica %u did not move up the lattice", m.to);
    }
    bits_or(&run->model.seen[m.to], &m.ops);
    st_check_replica(run, m.to);
    st_delete(t, in);
    st_delete(t, before);
    cs_buf_free(&m.bytes);
}

static void st_local_op(struct st_run *run, uint32_t r)
{
    const struct st_type *t = run->type;
    void *before = st_new(t);
    void *delta = st_new(t);
    int rc = t->copy(before, run->states[r]);
    if (rc == 0) rc = t->op(run, r, run->states[r], delta);
    if (rc < 0) {
        st_fail(run, "operation failed: %s", cs_errname(rc));
    } else if (rc == 0 && !t->planted) {
        if (!t->leq(before, run->states[r]))
            st_fail(run, "a mutation at replica %u was not an inflation", r);
        if (!t->leq(delta, run->states[r]))
            st_fail(run, "a delta is not below its replica's state");
        /* The delta alone takes the old state to the new one (delta-mutator law). */
        if (t->merge(before, delta) == 0 && !t->equal(before, run->states[r])) {
            st_fail(run, "old state joined with the delta differs from the new state");
        }
    }
    if (rc == 0) {
        struct st_bits ops = {{0}};
        if (t->orset_model) bits_set(&ops, run->model.ops_len - 1);
        for (uint32_t to = 0; to < run->replicas && !run->failed; to++) {
            if (to != r) st_send(run, r, to, false, delta, &ops);
        }
    }
    st_check_replica(run, r);
    st_delete(t, before);
    st_delete(t, delta);
}

/* Join laws on three replica states. */
static void st_check_laws(struct st_run *run)
{
    const struct st_type *t = run->type;
    uint32_t ia = (uint32_t)cs_rng_below(&run->rng, run->replicas);
    uint32_t ib = (uint32_t)cs_rng_below(&run->rng, run->replicas);
    uint32_t ic = (uint32_t)cs_rng_below(&run->rng, run->replicas);
    if (t->planted) return; /* drawn first: planted runs keep the real type's schedule */
    const void *a = run->states[ia], *b = run->states[ib], *c = run->states[ic];
    void *ab = st_new(t), *ba = st_new(t), *ab_c = st_new(t), *bc = st_new(t), *a_bc = st_new(t);
    void *aa = st_new(t);
    int rc = 0;
    rc |= t->copy(ab, a) | t->merge(ab, b);
    rc |= t->copy(ba, b) | t->merge(ba, a);
    rc |= t->copy(ab_c, ab) | t->merge(ab_c, c);
    rc |= t->copy(bc, b) | t->merge(bc, c);
    rc |= t->copy(a_bc, a) | t->merge(a_bc, bc);
    rc |= t->copy(aa, a) | t->merge(aa, a);
    if (rc) {
        st_fail(run, "a merge failed while checking the laws");
    } else if (!t->equal(ab, ba)) {
        st_fail(run, "join not commutative (replicas %u, %u)", ia, ib);
    } else if (!t->equal(ab_c, a_bc)) {
        st_fail(run, "join not associative (replicas %u, %u, %u)", ia, ib, ic);
    } else if (!t->equal(aa, a)) {
        st_fail(run, "join not idempotent (replica %u)", ia);
    } else if (!t->leq(a, ab) || !t->leq(b, ab)) {
        st_fail(run, "a join is not an upper bound of its arguments");
    } else if (!t->equal(a, b) && t->leq(a, b) && t->leq(b, a)) {
        st_fail(run, "<= is not antisymmetric");
    }
    st_delete(t, ab);
    st_delete(t, ba);
    st_delete(t, ab_c);
    st_delete(t, bc);
    st_delete(t, a_bc);
    st_delete(t, aa);
}

static void st_full_exchange(struct st_run *run)
{
    /* Snapshot every state first, then deliver each to every other replica:
     * one round in which every replica sees every other's whole state. */
    st_trace(run, "full-state exchange");
    for (uint32_t from = 0; from < run->replicas; from++) {
        struct st_bits ops = run->model.seen[from];
        for (uint32_t to = 0; to < run->replicas; to++) {
            if (to == from || run->msgs_len >= ST_MESSAGES_MAX) continue;
            struct st_msg *m = &run->msgs[run->msgs_len];
            cs_buf_init(&m->bytes, ST_ENCODED_MAX);
            if (!st_roundtrip(run, run->states[from], &m->bytes)) {
                cs_buf_free(&m->bytes);
                return;
            }
            *m = (struct st_msg){from, to, true, m->bytes, ops};
            run->msgs_len++;
        }
    }
    while (run->msgs_len > 0 && !run->failed) {
        st_deliver(run, (uint32_t)cs_rng_below(&run->rng, run->msgs_len));
    }
}

static void st_check_converged(struct st_run *run)
{
    const struct st_type *t = run->type;
    uint64_t digest = t->digest(run->states[0]);
    for (uint32_t r = 1; r < run->replicas && !run->failed; r++) {
        if (!t->equal(run->states[0], run->states[r])) {
            st_fail(run, "after quiescence replicas 0 and %u hold different states (values %s)", r,
                    t->digest(run->states[r]) == digest ? "equal" : "differ");
        } else if (t->digest(run->states[r]) != digest) {
            st_fail(run, "equal states but different values at replicas 0 and %u", r);
        }
    }
    for (uint32_t r = 0; r < run->replicas && !run->failed && t->counts; r++) {
        int64_t v = t->value(run->states[r]);
        if (v != run->expected) {
            st_fail(run, "replica %u reads %" PRId64 " but the applied operations sum to %" PRId64,
                    r, v, run->expected);
        }
    }
}

static void st_run_type(struct st_run *run)
{
    const struct st_type *t = run->type;
    run->replicas = (uint32_t)cs_rng_range(&run->rng, ST_REPLICAS_MIN, ST_REPLICAS_MAX);
    for (uint32_t r = 0; r < run->replicas; r++)
        run->states[r] = st_new(t);
    uint32_t ops = 0;
    for (run->step = 0; ops < ST_OPS && !run->failed; run->step++) {
        uint32_t dice = (uint32_t)cs_rng_below(&run->rng, 100);
        uint32_t r = (uint32_t)cs_rng_below(&run->rng, run->replicas);
        if (dice < 45) {
            st_local_op(run, r);
            ops++;
        } else if (dice < 50) {
            uint32_t to = (uint32_t)cs_rng_below(&run->rng, run->replicas);
            if (to != r) st_send(run, r, to, true, run->states[r], &run->model.seen[r]);
        } else if (dice < 95) {
            if (run->msgs_len) st_deliver(run, (uint32_t)cs_rng_below(&run->rng, run->msgs_len));
        } else {
            st_check_laws(run);
        }
    }
    /* Quiesce: deliver what is in flight, in random order. */
    while (run->msgs_len > 0 && !run->failed) {
        st_deliver(run, (uint32_t)cs_rng_below(&run->rng, run->msgs_len));
    }
    if (!run->failed) st_check_laws(run);
    if (!run->failed) st_full_exchange(run);
    if (!run->failed) st_check_converged(run);
    for (uint32_t i = 0; i < run->msgs_len; i++)
        cs_buf_free(&run->msgs[i].bytes);
    run->msgs_len = 0;
    for (uint32_t r = 0; r < run->replicas; r++)
        st_delete(t, run->states[r]);
}

static bool st_run_one(const struct st_type *t, uint64_t seed,
                       struct cs_crdt_selftest_report *report)
{
    struct st_run *run = calloc(1, sizeof *run);
    CS_ASSERT(run != NULL);
    run->type = t;
    run->seed = seed;
    /* One stream per (seed, schedule): a type's run does not depend on which
     * other types ran before it. */
    cs_rng_init(&run->rng,
                seed * 0x9E3779B97F4A7C15ull ^ st_hash(t->schedule, strlen(t->schedule)));
    st_run_type(run);
    bool ok = !run->failed;
    if (!ok) {
        snprintf(report->type, sizeof report->type, "%s", t->name);
        snprintf(report->message, sizeof report->message, "%s", run->failure);
        report->failed = true;
    }
    report->types_run++;
    free(run);
    return ok;
}

int cs_crdt_selftest_run(uint64_t seed, struct cs_crdt_selftest_report *report)
{
    memset(report, 0, sizeof *report);
    for (size_t i = 0; i < sizeof st_types / sizeof st_types[0]; i++) {
        if (!st_run_one(&st_types[i], seed, report)) return CS_ECONFLICT;
    }
    return 0;
}

int cs_crdt_selftest_run_type(uint64_t seed, const char *type,
                              struct cs_crdt_selftest_report *report)
{
    memset(report, 0, sizeof *report);
    const struct st_type *t = NULL;
    for (size_t i = 0; i < sizeof st_types / sizeof st_types[0]; i++) {
        if (strcmp(st_types[i].name, type) == 0) t = &st_types[i];
    }
    if (strcmp(type, st_planted_dcounter.name) == 0) t = &st_planted_dcounter;
    if (strcmp(type, st_planted_orset.name) == 0) t = &st_planted_orset;
    if (strcmp(type, st_planted_bcounter.name) == 0) t = &st_planted_bcounter;
    if (t == NULL) return CS_ENOTFOUND;
    return st_run_one(t, seed, report) ? 0 : CS_ECONFLICT;
}
