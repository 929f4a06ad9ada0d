/*
 * linear.c: linearizability by Wing & Gong's search with Lowe's memo,
 * per key where the model allows (P-compositionality).
 *
 * The history of one partition becomes a doubly linked list of call and
 * return entries in real-time order (an op whose outcome is unknown returns
 * after everything). The search walks the list: at a call it tries to
 * linearize the op now (the model must accept it, and the configuration
 * (ops done, state) must be new), lifting the op's two entries out of the
 * list; at a return whose op is not yet linearized it backtracks. All on an
 * explicit stack no deeper than the partition's op count.
 *
 * Five facts keep it fast and sound:
 *   - ops with unknown outcome always step (their results are not checked),
 *     so once every op with a known outcome is placed the rest can follow at
 *     the end: the search stops there instead of placing them one by one;
 *   - candidates are tried known outcome first, unknown after: the same
 *     space, but an info op rarely needs to go early, so valid histories
 *     finish sooner;
 *   - a pure op (a read, a failed cas: accepted means the state is kept)
 *     that may go next and is accepted goes next, without branching: any
 *     linearization that places it later stays one when it moves up to here,
 *     since nothing it precedes changes and real time allows it. So reads,
 *     usually most of a history, never multiply the search;
 *   - after each step that changed the state, the pending entries are walked
 *     once: a pending read that no op allowed before it can satisfy means a
 *     dead end now, not after exploring every order of the ops before it;
 *   - the memo key's hash is kept incrementally (Zobrist), so a step costs a
 *     model step, a few word operations and one probe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/memo.h"
#include "check/model.h"
#include "consist/error.h"

#define LIN_BUDGET_CHECK_STEPS 4096u
/* How far the dead-end test walks the pending entries. A read far ahead can
 * doom a whole subtree (finding that early is what refutes Porcupine's
 * c50-bad in a few dozen steps), so the whole list is walked every
 * LIN_DEAD_END_FULL_EVERY levels, and after every step when the partition
 * has ops of unknown outcome (their orders are what the search would
 * otherwise exhaust before reaching the read: a hot-key history went from
 * 21 M steps to 195 k). Otherwise a short walk. */
#define LIN_DEAD_END_ENTRIES_SHORT 64u
#define LIN_DEAD_END_ENTRIES_FULL  4096u
#define LIN_DEAD_END_FULL_EVERY    8u

struct lin_frame {
    uint64_t state;    /* state before the op */
    uint32_t entry;    /* the op's call entry */
    bool forced;       /* a pure op placed without branching: pop past it */
    bool unknown_pass; /* placed in the pass over ops of unknown outcome */
};

struct lin_search {
    struct cs_model_ctx *m;
    struct cs_check_work *work;
    const struct cs_cop *cops; /* ops with known outcome first, then unknown */
    uint32_t n;
    uint32_t known; /* cops[0..known) have a known outcome */
    /* Entries 1..2n; 0 is the head, 2n + 1 the tail. */
    uint32_t *next, *prev;
    uint32_t *entry_op;     /* entry -> cop index << 1 | 1 if return */
    uint32_t *ret_of;       /* cop -> its return entry */
    uint64_t *bits;         /* ops with a known outcome placed */
    uint64_t *bits_unknown; /* ops of unknown outcome placed */
    uint64_t *zobrist;
    struct lin_frame *stack;
    uint32_t depth;
    /* The search's position, besides the stack. */
    uint64_t state;
    uint64_t hash;     /* Zobrist hash of the known ops placed */
    uint32_t required; /* known ops not yet placed */
    bool unknown_pass; /* trying ops of unknown outcome at this level */
    /* The longest prefix seen: ops in order, and the state after it. */
    uint32_t *best;
    uint32_t best_len;
    uint32_t best_low; /* stack frames below this are unchanged since best */
    uint64_t best_state;
    uint32_t best_dead; /* op the dead-end test found stuck after best, or UINT32_MAX */
    struct cs_memo memo;
};

struct entry_key {
    uint64_t position;
    uint32_t entry_op;
};

static int cmp_entry_key(const void *a, const void *b)
{
    const struct entry_key *x = a, *y = b;
    return x->position < y->position ? -1 : x->position > y->position;
}

static void lin_free(struct lin_search *s)
{
    free(s->next);
    free(s->prev);
    free(s->entry_op);
    free(s->ret_of);
    free(s->bits);
    free(s->bits_unknown);
    free(s->zobrist);
    free(s->stack);
    free(s->best);
    cs_memo_free(&s->memo);
}

/* lin_build: entries in real-time order, linked. */
static int lin_build(struct lin_search *s, const struct cs_history *h)
{
    uint32_t n = s->n;
    uint32_t words_known = (s->known + 63) / 64;
    uint32_t words_unknown = (n - s->known + 63) / 64;
    struct entry_key *keys = malloc(((size_t)2 * n + 1) * sizeof *keys);
    s->next = malloc(((size_t)2 * n + 2) * sizeof *s->next);
    s->prev = malloc(((size_t)2 * n + 2) * sizeof *s->prev);
    s->entry_op = malloc(((size_t)2 * n + 2) * sizeof *s->entry_op);
    s->ret_of = malloc(((size_t)n + 1) * sizeof *s->ret_of);
    s->bits = calloc(words_known ? words_known : 1, sizeof *s->bits);
    s->bits_unknown = calloc(words_unknown ? words_unknown : 1, sizeof *s->bits_unknown);
    s->zobrist = malloc(((size_t)n + 1) * sizeof *s->zobrist);
    s->stack = malloc(((size_t)n + 1) * sizeof *s->stack);
    s->best = malloc(((size_t)n + 1) * sizeof *s->best);
    if (!keys || !s->next || !s->prev || !s->entry_op || !s->ret_of || !s->bits ||
        !s->bits_unknown || !s->zobrist || !s->stack || !s->best) {
        free(keys);
        return CS_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_op *op = &h->ops[s->cops[i].op];
        keys[2 * i].position = op->invoke_event;
        keys[2 * i].entry_op = i << 1;
        keys[2 * i + 1].position = s->cops[i].unknown || op->complete_event == CS_EVENT_NONE
                                       ? (1ull << 32) + i
                                       : op->complete_event;
        keys[2 * i + 1].entry_op = i << 1 | 1u;
        bool known = i < s->known;
        CS_ASSERT(known == !s->cops[i].unknown);
        s->zobrist[i] = known ? cs_check_mix64(0x9e3779b97f4a7c15ull * (i + 1)) : 0;
    }
    qsort(keys, (size_t)2 * n, sizeof *keys, cmp_entry_key);
    for (uint32_t e = 1; e <= 2 * n; e++) {
        s->entry_op[e] = keys[e - 1].entry_op;
        if (keys[e - 1].entry_op & 1u) s->ret_of[keys[e - 1].entry_op >> 1] = e;
    }
    for (uint32_t e = 0; e <= 2 * n + 1; e++) {
        s->next[e] = e + 1;
        s->prev[e] = e - 1;
    }
    free(keys);
    cs_memo_init(&s->memo, words_known ? words_known : 1, words_unknown);
    return 0;
}

/* flip: add or remove op i from the placed sets. */
static void flip(struct lin_search *s, uint32_t i)
{
    if (i < s->known) {
        s->bits[i / 64] ^= 1ull << (i % 64);
    } else {
        i -= s->known;
        s->bits_unknown[i / 64] ^= 1ull << (i % 64);
    }
}

static void lift(struct lin_search *s, uint32_t call)
{
    uint32_t ret = s->ret_of[s->entry_op[call] >> 1];
    s->next[s->prev[call]] = s->next[call];
    s->prev[s->next[call]] = s->prev[call];
    s->next[s->prev[ret]] = s->next[ret];
    s->prev[s->next[ret]] = s->prev[ret];
}

static void unlift(struct lin_search *s, uint32_t call)
{
    uint32_t ret = s->ret_of[s->entry_op[call] >> 1];
    s->prev[s->next[ret]] = ret;
    s->next[s->prev[ret]] = ret;
    s->prev[s->next[call]] = call;
    s->next[s->prev[call]] = call;
}

static void record_best(struct lin_search *s, uint64_t state)
{
    s->best_dead = UINT32_MAX;
    for (uint32_t d = s->best_low; d < s->depth; d++) {
        s->best[d] = s->entry_op[s->stack[d].entry] >> 1;
    }
    s->best_len = s->depth;
    s->best_low = s->depth;
    s->best_state = state;
}

/* lin_dead_end: some pending op, among those whose returns are within the
 * first few pending entries (see above), can no longer be satisfied by
 * the ops that may precede it (model.h). Errors count as "not dead". */
static bool lin_dead_end(struct lin_search *s, uint64_t state)
{
    if (cs_model_dead_begin(s->m, state, s->n) != 0) return false;
    const uint32_t tail = 2 * s->n + 1;
    uint32_t walked = 0;
    bool full = s->known < s->n || s->depth % LIN_DEAD_END_FULL_EVERY == 0;
    uint32_t limit = full ? LIN_DEAD_END_ENTRIES_FULL : LIN_DEAD_END_ENTRIES_SHORT;
    for (uint32_t e = s->next[0]; e != tail && walked < limit; e = s->next[e]) {
        const struct cs_cop *c = &s->cops[s->entry_op[e] >> 1];
        walked++;
        if ((s->entry_op[e] & 1u) == 0) {
            cs_model_dead_add(s->m, c);
        } else if (cs_model_dead_check(s->m, c)) {
            /* At the deepest level so far, this op is why the prefix ends. */
            if (s->depth == s->best_len) s->best_dead = s->entry_op[e] >> 1;
            return true;
        }
    }
    return false;
}

static bool cop_pure(const struct cs_cop *c)
{
    return !c->unknown && (c->code == CS_COP_READ || (c->code == CS_COP_CAS && c->cas_failed));
}

/*
 * lin_search_run: the verdict of one partition, or a negative CS_E code.
 *
 * At each level the candidates (calls before the first pending return) are
 * tried in two passes: ops with a known outcome first, then ops of unknown
 * outcome. Both passes try every candidate, so the space searched is the
 * same; the order only lets a valid history finish sooner, since an info op
 * rarely needs to go early.
 */
enum lin_action {
    LIN_PLACED = 1, /* the op went next: start again from the first entry */
    LIN_SKIP,       /* not this op here: try the next entry */
    LIN_UNDO,       /* nothing here extends: undo the last choice */
};

/* lin_try: try to place the op whose call is entry. */
static int lin_try(struct lin_search *s, struct cs_check_work *w, uint32_t entry)
{
    uint32_t i = s->entry_op[entry] >> 1;
    const struct cs_cop *c = &s->cops[i];
    if ((bool)c->unknown != s->unknown_pass) return LIN_SKIP;
    if (++w->steps % LIN_BUDGET_CHECK_STEPS == 0) {
        int rc = cs_check_work_tick(w, s->memo.memory_bytes + cs_model_memory_bytes(s->m));
        if (rc) return rc;
    }
    uint64_t next;
    int ok = cs_model_step(s->m, s->state, c, &next);
    if (ok <= 0) return ok < 0 ? ok : LIN_SKIP;
    bool pure = cop_pure(c);
    flip(s, i);
    s->hash ^= s->zobrist[i];
    int fresh = cs_memo_insert(&s->memo, s->bits, s->bits_unknown, next,
                               s->hash ^ cs_check_mix64(next + 0x51ed27u));
    if (fresh < 0) return fresh;
    if (!fresh) {
        flip(s, i);
        s->hash ^= s->zobrist[i];
        /* A pure op that could go next leads only to a dead end: so does
           every other choice here. */
        return pure ? LIN_UNDO : LIN_SKIP;
    }
    struct lin_frame *f = &s->stack[s->depth++];
    f->state = s->state;
    f->entry = entry;
    f->forced = pure;
    f->unknown_pass = s->unknown_pass;
    s->state = next;
    lift(s, entry);
    s->required -= !c->unknown;
    if (s->depth > s->best_len) record_best(s, s->state);
    s->unknown_pass = false;
    /* A pure op changed neither the state nor what the ops still pending
       can do: no new dead end. Otherwise undo it at once if it made one. */
    if (s->required == 0 || pure || !lin_dead_end(s, s->state)) return LIN_PLACED;
    return LIN_UNDO;
}

/* lin_undo: pop choices up to and including the last one that had
 * alternatives; *entry becomes the entry after it. False once none is left. */
static bool lin_undo(struct lin_search *s, uint32_t *entry)
{
    struct lin_frame f;
    do {
        if (s->depth == 0) return false;
        f = s->stack[--s->depth];
        if (s->depth < s->best_low) s->best_low = s->depth;
        uint32_t j = s->entry_op[f.entry] >> 1;
        s->state = f.state;
        flip(s, j);
        s->hash ^= s->zobrist[j];
        unlift(s, f.entry);
        s->required += !s->cops[j].unknown;
    } while (f.forced);
    s->unknown_pass = f.unknown_pass;
    *entry = s->next[f.entry];
    return true;
}

static int lin_search_run(struct lin_search *s, struct cs_check_work *w, uint64_t state)
{
    const uint32_t head = 0;
    s->required = s->known;
    s->hash = 0;
    s->unknown_pass = false;
    s->state = state;
    s->best_state = state;
    s->best_dead = UINT32_MAX;
    uint32_t entry = s->next[head];
    for (;;) {
        if (s->required == 0) return CS_VERDICT_VALID;
        CS_DEBUG_ASSERT(entry != 2 * s->n + 1);
        int action;
        if ((s->entry_op[entry] & 1u) == 0) {
            action = lin_try(s, w, entry);
            if (action < 0) return action;
        } else if (!s->unknown_pass) {
            /* First return reached in the known pass: now the unknown ops. */
            s->unknown_pass = true;
            action = LIN_PLACED;
        } else {
            /* A return whose op is not placed, after both passes: nothing
               placed so far extends past it. */
            action = LIN_UNDO;
        }
        if (action == LIN_PLACED) {
            entry = s->next[head];
        } else if (action == LIN_SKIP) {
            entry = s->next[entry];
        } else if (!lin_undo(s, &entry)) {
            return CS_VERDICT_INVALID;
        }
    }
}

/* lin_explain: the longest prefix and the ops that could come next. */
static int lin_explain(struct lin_search *s, struct cs_check_result *r)
{
    uint32_t n = s->n;
    r->prefix = malloc((s->best_len ? s->best_len : 1) * sizeof *r->prefix);
    r->stuck = malloc((n ? n : 1) * sizeof *r->stuck);
    uint8_t *placed = calloc(n ? n : 1, 1);
    if (r->prefix == NULL || r->stuck == NULL || placed == NULL) {
        free(placed);
        return CS_ENOMEM;
    }
    for (uint32_t d = 0; d < s->best_len; d++) {
        r->prefix[d] = s->cops[s->best[d]].op;
        placed[s->best[d]] = 1;
    }
    r->prefix_len = s->best_len;
    r->stuck_len = 0;
    r->dead_op = UINT32_MAX;
    if (s->best_dead != UINT32_MAX) r->dead_op = s->cops[s->best_dead].op;
    /* Entries are still in their original order in entry_op[1..2n]. */
    for (uint32_t e = 1; e <= 2 * n; e++) {
        uint32_t i = s->entry_op[e] >> 1;
        if (placed[i]) continue;
        if (s->entry_op[e] & 1u) break;
        r->stuck[r->stuck_len++] = s->cops[i].op;
    }
    free(placed);
    struct cs_buf text;
    cs_buf_init(&text, 1u << 16);
    cs_model_describe(s->m, s->best_state, &text);
    cs_put_u8(&text, 0);
    if (cs_buf_error(&text) == 0) {
        r->state_text = (char *)text.data;
        return 0;
    }
    cs_buf_free(&text);
    return 0;
}

/* stale_verdict: invalid because of a read no write explains (stale.c). */
static int stale_verdict(struct cs_check_result *r, uint32_t key, uint32_t op)
{
    r->key = key;
    r->stuck = malloc(sizeof *r->stuck);
    if (r->stuck == NULL) return CS_ENOMEM;
    r->stuck[0] = op;
    r->stuck_len = 1;
    snprintf(r->detail, sizeof r->detail,
             "op %u read a value that every op able to set it (and the initial value) had "
             "certainly overwritten before the read began",
             op);
    return CS_VERDICT_INVALID;
}

/* check_partition: ops[0..n) (history indices) as one object. */
static int check_partition(struct cs_check_work *w, const uint32_t *ops, uint32_t n, uint32_t key,
                           bool product, struct cs_check_result *r)
{
    struct cs_model_ctx m;
    struct lin_search s;
    memset(&s, 0, sizeof s);
    int rc = cs_model_init(&m, w->h, w->spec, product, r->detail, sizeof r->detail);
    struct cs_cop *cops = NULL;
    if (rc == 0) {
        cops = malloc((n ? n : 1) * sizeof *cops);
        if (cops == NULL) rc = CS_ENOMEM;
    }
    /* Known outcomes first, unknown after (memo.h); unknown reads constrain
       nothing and are left out. */
    uint32_t known = 0, kept = 0;
    for (uint32_t i = 0; rc == 0 && i < n; i++) {
        rc = cs_model_compile(&m, ops[i], &cops[kept]);
        if (rc || (cops[kept].unknown && cops[kept].code == CS_COP_READ)) continue;
        known += !cops[kept].unknown;
        kept++;
    }
    struct cs_cop *ordered = rc == 0 ? malloc((kept ? kept : 1) * sizeof *ordered) : NULL;
    if (rc == 0 && ordered == NULL) rc = CS_ENOMEM;
    if (rc == 0) {
        uint32_t k = 0, u = known;
        for (uint32_t i = 0; i < kept; i++)
            ordered[cops[i].unknown ? u++ : k++] = cops[i];
        free(cops);
        cops = ordered;
    }
    uint64_t state = 0;
    if (rc == 0) rc = cs_model_initial(&m, &state);
    s.m = &m;
    s.cops = cops;
    s.n = kept;
    s.known = known;
    bool is_register = m.kind == CS_MODEL_REGISTER || m.kind == CS_MODEL_CAS_REGISTER;
    if (rc == 0 && is_register && !m.product && !(w->flags & CS_CHECK_SEARCH_ONLY)) {
        /* Written values unique: zones decide without a search (unique.c). */
        int zones = cs_check_zones(w->h, cops, kept, state, w->flags, r);
        if (zones != CS_ZONES_NOT_APPLICABLE) {
            rc = zones;
            if (rc >= 0) r->partitions_zones++;
            if (rc == CS_VERDICT_INVALID) {
                r->key = key;
                r->procedure = CS_PROCEDURE_ZONES;
            }
            goto done;
        }
    }
    if (rc == 0 && is_register && !m.product) {
        uint32_t stale;
        rc = cs_check_stale_read(w->h, cops, kept, state, &stale);
        if (rc == 1) {
            rc = stale_verdict(r, key, cops[stale].op);
            r->procedure = CS_PROCEDURE_STALE_READ;
            goto done;
        }
    }
    if (rc == 0) rc = lin_build(&s, w->h);
    if (rc == 0) {
        rc = lin_search_run(&s, w, state);
        /* Out of budget or of memory mid-search: no verdict, never a wrong one. */
        if (rc == CS_EBUDGET || rc == CS_ENOMEM) rc = CS_VERDICT_UNKNOWN;
    }
    uint64_t memory = s.memo.memory_bytes + cs_model_memory_bytes(&m);
    if (memory > r->memory_bytes_peak) r->memory_bytes_peak = memory;
    if (rc == CS_VERDICT_INVALID) {
        r->key = key;
        int erc = lin_explain(&s, r);
        if (erc) rc = erc;
    }
done:
    lin_free(&s);
    free(cops);
    cs_model_free(&m);
    return rc;
}

int cs_check_partitions(struct cs_check_work *w, struct cs_check_result *r, bool split,
                        int (*check)(struct cs_check_work *, const uint32_t *, uint32_t, uint32_t,
                                     bool, struct cs_check_result *))
{
    const struct cs_history *h = w->h;
    uint32_t *order = malloc((h->ops_len ? h->ops_len : 1) * sizeof *order);
    if (order == NULL) return CS_ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->ops_len; i++) {
        if (!cs_op_dropped(&h->ops[i])) order[n++] = i;
    }
    int rc = 0;
    bool unknown = false;
    if (!split) {
        r->partitions = 1;
        rc = check(w, order, n, CS_KEY_NONE, true, r);
        free(order);
        return rc;
    }
    /* Group by key, stably: a counting sort over key ids (CS_KEY_NONE last). */
    uint32_t buckets = h->strings_len + 2;
    uint32_t *start = calloc(buckets, sizeof *start);
    uint32_t *grouped = malloc((n ? n : 1) * sizeof *grouped);
    if (start == NULL || grouped == NULL) {
        free(start);
        free(grouped);
        free(order);
        return CS_ENOMEM;
    }
#define BUCKET_OF(op) ((op)->key == CS_KEY_NONE ? h->strings_len : (op)->key)
    for (uint32_t i = 0; i < n; i++)
        start[BUCKET_OF(&h->ops[order[i]]) + 1]++;
    for (uint32_t b = 1; b < buckets; b++)
        start[b] += start[b - 1];
    for (uint32_t i = 0; i < n; i++)
        grouped[start[BUCKET_OF(&h->ops[order[i]])]++] = order[i];
#undef BUCKET_OF
    uint32_t from = 0;
    for (uint32_t b = 0; b + 1 < buckets && rc >= 0; b++) {
        uint32_t to = start[b];
        if (to == from) continue;
        uint32_t key = b == h->strings_len ? CS_KEY_NONE : b;
        r->partitions++;
        rc = check(w, grouped + from, to - from, key, false, r);
        if (rc == CS_VERDICT_INVALID) break;
        if (rc == CS_VERDICT_UNKNOWN) unknown = true;
        from = to;
    }
    free(start);
    free(grouped);
    free(order);
    if (rc >= 0 && rc != CS_VERDICT_INVALID) rc = unknown ? CS_VERDICT_UNKNOWN : CS_VERDICT_VALID;
    return rc;
}

int cs_check_linearizable_flags(const struct cs_history *h, const struct cs_model_spec *model,
                                const struct cs_check_budget *budget, unsigned flags,
                                struct cs_check_result *result)
{
    struct cs_check_work w;
    cs_check_work_init(&w, h, model, budget, result, CS_CONSISTENCY_LINEARIZABLE);
    w.flags = flags;
    bool split = model->split_by_key && model->kind != CS_MODEL_MULTI_REGISTER;
    int rc = cs_check_partitions(&w, result, split, check_partition);
    if (rc == CS_VERDICT_VALID && result->partitions > 0 &&
        result->partitions_zones == result->partitions)
        result->procedure = CS_PROCEDURE_ZONES;
    return cs_check_work_finish(&w, rc);
}

int cs_check_linearizable(const struct cs_history *h, const struct cs_model_spec *model,
                          const struct cs_check_budget *budget, struct cs_check_result *result)
{
    return cs_check_linearizable_flags(h, model, budget, 0, result);
}
