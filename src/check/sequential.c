/*
 * sequential.c: sequential consistency (Lamport 1979) for small histories,
 * and the cycle of required orderings that proves a violation.
 *
 * The search is the linearizability search with real time replaced by
 * program order: the candidates at each step are the next op of each
 * process. It keeps the memo of (ops placed, state) and the rule that a pure
 * op that may go next and is accepted goes next without branching. An op of
 * unknown outcome has two alternatives: it takes effect now, or never.
 * The state spans every key: sequential consistency is not compositional, so
 * the history is never split.
 *
 * When the search says no, a proof a reader can follow is sought in the
 * graph of orderings every sequential order must respect: program order,
 * reads-from (the only write of the value read comes before the read), and
 * from-read (a read of the initial value comes before every write of that
 * key; a read of w's value comes before the writes its process made after
 * w). A cycle in that graph is the proof (Shasha & Snir 1988).
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/memo.h"
#include "check/model.h"
#include "consist/error.h"

#define SEQ_BUDGET_CHECK_STEPS 4096u
/* Histories up to this many ops get the ordering graph built (it may have
 * quadratically many from-read edges). */
#define CS_CHECK_CYCLE_OPS_MAX 4096u

struct seq_frame {
    uint64_t state;
    uint32_t op; /* cop index placed */
    uint32_t proc;
    uint8_t alt; /* 0: took effect, 1: skipped (unknown outcome only) */
    bool forced;
};

struct seq_search {
    struct cs_model_ctx *m;
    const struct cs_cop *cops; /* grouped by process, in program order */
    uint32_t n, procs;
    uint32_t *proc_start; /* procs + 1 */
    uint32_t *pos;        /* per process: ops placed */
    uint64_t *bits, *zobrist;
    struct seq_frame *stack;
    uint32_t depth;
    uint32_t *best; /* cop indices */
    uint32_t best_len, best_low;
    uint64_t best_state;
    struct cs_memo memo;
};

struct proc_sort {
    int64_t process;
    uint32_t invoke_event;
    uint32_t op;
};

static int cmp_proc_sort(const void *a, const void *b)
{
    const struct proc_sort *x = a, *y = b;
    if (x->process != y->process) return x->process < y->process ? -1 : 1;
    return x->invoke_event < y->invoke_event ? -1 : x->invoke_event > y->invoke_event;
}

static void seq_free(struct seq_search *s)
{
    free(s->proc_start);
    free(s->pos);
    free(s->bits);
    free(s->zobrist);
    free(s->stack);
    free(s->best);
    cs_memo_free(&s->memo);
}

static bool cop_pure(const struct cs_cop *c)
{
    return !c->unknown && (c->code == CS_COP_READ || (c->code == CS_COP_CAS && c->cas_failed));
}

static void seq_record_best(struct seq_search *s, uint64_t state)
{
    for (uint32_t d = s->best_low; d < s->depth; d++)
        s->best[d] = s->stack[d].op;
    s->best_len = s->depth;
    s->best_low = s->depth;
    s->best_state = state;
}

static int seq_run(struct seq_search *s, struct cs_check_work *w, uint64_t state)
{
    uint32_t required = 0;
    for (uint32_t i = 0; i < s->n; i++)
        required += !s->cops[i].unknown;
    uint64_t hash = 0;
    uint32_t p = 0;
    uint8_t alt = 0;
    s->best_state = state;
    for (;;) {
        if (required == 0) return CS_VERDICT_VALID;
        if (p < s->procs && s->proc_start[p] + s->pos[p] == s->proc_start[p + 1]) {
            p++;
            alt = 0;
            continue;
        }
        if (p < s->procs) {
            uint32_t i = s->proc_start[p] + s->pos[p];
            const struct cs_cop *c = &s->cops[i];
            if (++w->steps % SEQ_BUDGET_CHECK_STEPS == 0) {
                int rc = cs_check_work_tick(w, s->memo.memory_bytes + cs_model_memory_bytes(s->m));
                if (rc) return rc;
            }
            uint64_t next = state;
            int ok = alt == 0 ? cs_model_step(s->m, state, c, &next) : 1;
            if (ok < 0) return ok;
            bool pure = alt == 0 && cop_pure(c);
            uint32_t p_next = c->unknown && alt == 0 ? p : p + 1;
            uint8_t alt_next = c->unknown && alt == 0 ? 1 : 0;
            if (ok) {
                s->bits[i / 64] ^= 1ull << (i % 64);
                hash ^= s->zobrist[i];
                int fresh = cs_memo_insert(&s->memo, s->bits, NULL, next,
                                           hash ^ cs_check_mix64(next + 0x51ed27u));
                if (fresh < 0) return fresh;
                if (fresh) {
                    struct seq_frame *f = &s->stack[s->depth++];
                    f->state = state;
                    f->op = i;
                    f->proc = p;
                    f->alt = alt;
                    f->forced = pure;
                    s->pos[p]++;
                    state = next;
                    required -= !c->unknown;
                    if (s->depth > s->best_len) seq_record_best(s, state);
                    p = 0;
                    alt = 0;
                    continue;
                }
                s->bits[i / 64] ^= 1ull << (i % 64);
                hash ^= s->zobrist[i];
            }
            if (!(ok && pure)) {
                p = p_next;
                alt = alt_next;
                continue;
            }
        }
        /* Every candidate tried (or a pure dead end): undo the last choice
           that had alternatives. */
        struct seq_frame f;
        do {
            if (s->depth == 0) return CS_VERDICT_INVALID;
            f = s->stack[--s->depth];
            if (s->depth < s->best_low) s->best_low = s->depth;
            s->pos[f.proc]--;
            uint32_t j = s->proc_start[f.proc] + s->pos[f.proc];
            s->bits[j / 64] ^= 1ull << (j % 64);
            hash ^= s->zobrist[j];
            state = f.state;
            required += !s->cops[j].unknown;
        } while (f.forced);
        bool unknown = s->cops[s->proc_start[f.proc] + s->pos[f.proc]].unknown;
        p = unknown && f.alt == 0 ? f.proc : f.proc + 1;
        alt = unknown && f.alt == 0 ? 1 : 0;
    }
}

/* --- the ordering graph -------------------------------------------------- */

struct edge {
    uint32_t from, to;
    uint8_t kind;
};

struct graph {
    struct edge *edges;
    uint32_t len, cap;
};

static int graph_add(struct graph *g, uint32_t from, uint32_t to, enum cs_edge_kind kind)
{
    if (g->len == g->cap) {
        uint32_t cap = g->cap ? g->cap * 2 : 256;
        struct edge *e = realloc(g->edges, cap * sizeof *e);
        if (e == NULL) return CS_ENOMEM;
        g->edges = e;
        g->cap = cap;
    }
    g->edges[g->len].from = from;
    g->edges[g->len].to = to;
    g->edges[g->len].kind = (uint8_t)kind;
    g->len++;
    return 0;
}

static bool is_write(const struct cs_op *op)
{
    return op->type == CS_TYPE_OK && (op->f == CS_F_WRITE || op->f == CS_F_PUT);
}

static bool is_read(const struct cs_op *op)
{
    return op->type == CS_TYPE_OK && (op->f == CS_F_READ || op->f == CS_F_GET) &&
           op->result.kind != CS_VALUE_NONE;
}

/* graph_build: nodes are positions in ops[0..n) (process order). */
static int graph_build(const struct cs_history *h, const uint32_t *ops, uint32_t n,
                       struct cs_value initial, struct graph *g)
{
    int rc = 0;
    for (uint32_t a = 0; a + 1 < n && rc == 0; a++) {
        if (h->ops[ops[a]].process == h->ops[ops[a + 1]].process) {
            rc = graph_add(g, a, a + 1, CS_EDGE_PROGRAM);
        }
    }
    for (uint32_t r = 0; r < n && rc == 0; r++) {
        const struct cs_op *read = &h->ops[ops[r]];
        if (!is_read(read)) continue;
        uint32_t source = UINT32_MAX, sources = 0;
        for (uint32_t x = 0; x < n; x++) {
            const struct cs_op *wr = &h->ops[ops[x]];
            if (is_write(wr) && wr->key == read->key &&
                cs_check_values_equal(h, wr->value, read->result)) {
                source = x;
                sources++;
            }
        }
        bool initial_read = sources == 0 && cs_check_values_equal(h, read->result, initial);
        if (sources == 1) rc = graph_add(g, source, r, CS_EDGE_READS_FROM);
        for (uint32_t x = 0; x < n && rc == 0 && (initial_read || sources == 1); x++) {
            const struct cs_op *wr = &h->ops[ops[x]];
            if (!is_write(wr) || wr->key != read->key || x == source) continue;
            /* A later write of the source's process overwrote what r read. */
            bool overwrote =
                sources == 1 && h->ops[ops[source]].process == wr->process && x > source;
            if (initial_read || overwrote) rc = graph_add(g, r, x, CS_EDGE_FROM_READ);
        }
    }
    return rc;
}

static int cmp_edge(const void *a, const void *b)
{
    const struct edge *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from;
}

/* graph_cycle: an iterative depth-first search; on a back edge, the cycle is
 * the path on the stack from its target to the top. */
static int graph_cycle(struct graph *g, uint32_t n, const uint32_t *ops, struct cs_check_result *r)
{
    if (g->len > 0) qsort(g->edges, g->len, sizeof *g->edges, cmp_edge);
    uint32_t *first = calloc((size_t)n + 1, sizeof *first);
    uint8_t *color = calloc(n ? n : 1, 1);
    uint32_t *stack = malloc((n ? n : 1) * sizeof *stack);
    uint32_t *cursor = malloc((n ? n : 1) * sizeof *cursor);
    uint8_t *via = malloc(n ? n : 1);
    int rc = (!first || !color || !stack || !cursor || !via) ? CS_ENOMEM : 0;
    for (uint32_t e = 0; rc == 0 && e < g->len; e++)
        first[g->edges[e].from + 1]++;
    for (uint32_t v = 0; rc == 0 && v < n; v++)
        first[v + 1] += first[v];
    for (uint32_t root = 0; rc == 0 && root < n && r->cycle_len == 0; root++) {
        if (color[root]) continue;
        uint32_t depth = 0;
        stack[depth] = root;
        cursor[depth++] = first[root];
        color[root] = 1;
        while (depth > 0 && r->cycle_len == 0) {
            uint32_t v = stack[depth - 1];
            if (cursor[depth - 1] == first[v + 1]) {
                color[v] = 2;
                depth--;
                continue;
            }
            const struct edge *e = &g->edges[cursor[depth - 1]++];
            if (color[e->to] == 0) {
                color[e->to] = 1;
                via[depth - 1] = e->kind;
                stack[depth] = e->to;
                cursor[depth++] = first[e->to];
            } else if (color[e->to] == 1) {
                via[depth - 1] = e->kind;
                uint32_t from = depth - 1;
                while (stack[from] != e->to)
                    from--;
                uint32_t len = depth - from;
                r->cycle = malloc(len * sizeof *r->cycle);
                r->cycle_edges = malloc(len);
                if (r->cycle == NULL || r->cycle_edges == NULL) {
                    rc = CS_ENOMEM;
                    break;
                }
                for (uint32_t k = 0; k < len; k++) {
                    r->cycle[k] = ops[stack[from + k]];
                    r->cycle_edges[k] = via[from + k];
                }
                r->cycle_len = len;
            }
        }
    }
    free(first);
    free(color);
    free(stack);
    free(cursor);
    free(via);
    return rc;
}

/* --- the check ------------------------------------------------------------ */

static int seq_explain(struct seq_search *s, struct cs_check_result *r)
{
    r->prefix = malloc((s->best_len ? s->best_len : 1) * sizeof *r->prefix);
    r->stuck = malloc((s->procs ? s->procs : 1) * sizeof *r->stuck);
    if (r->prefix == NULL || r->stuck == NULL) return CS_ENOMEM;
    for (uint32_t p = 0; p < s->procs; p++)
        s->pos[p] = 0;
    for (uint32_t d = 0; d < s->best_len; d++) {
        r->prefix[d] = s->cops[s->best[d]].op;
        s->pos[s->stack[d].proc]++;
    }
    r->prefix_len = s->best_len;
    for (uint32_t p = 0; p < s->procs; p++) {
        uint32_t i = s->proc_start[p] + s->pos[p];
        if (i < s->proc_start[p + 1]) r->stuck[r->stuck_len++] = s->cops[i].op;
    }
    struct cs_buf text;
    cs_buf_init(&text, 1u << 16);
    cs_model_describe(s->m, s->best_state, &text);
    cs_put_u8(&text, 0);
    if (cs_buf_error(&text) == 0) {
        r->state_text = (char *)text.data;
    } else {
        cs_buf_free(&text);
    }
    return 0;
}

static int seq_setup(struct seq_search *s, const struct cs_history *h, const uint32_t *ops,
                     uint32_t n, struct cs_cop **cops_out, uint32_t **sorted_out)
{
    struct proc_sort *order = malloc((n ? n : 1) * sizeof *order);
    uint32_t *sorted = malloc((n ? n : 1) * sizeof *sorted);
    struct cs_cop *cops = malloc((n ? n : 1) * sizeof *cops);
    *cops_out = cops;
    *sorted_out = sorted;
    if (!order || !sorted || !cops) {
        free(order);
        return CS_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        order[i].process = h->ops[ops[i]].process;
        order[i].invoke_event = h->ops[ops[i]].invoke_event;
        order[i].op = ops[i];
    }
    qsort(order, n, sizeof *order, cmp_proc_sort);
    uint32_t procs = 0;
    for (uint32_t i = 0; i < n; i++) {
        sorted[i] = order[i].op;
        procs += i == 0 || order[i].process != order[i - 1].process;
    }
    uint32_t words = (n + 63) / 64;
    s->n = n;
    s->procs = procs;
    s->proc_start = malloc(((size_t)procs + 1) * sizeof *s->proc_start);
    s->pos = calloc(procs ? procs : 1, sizeof *s->pos);
    s->bits = calloc(words ? words : 1, sizeof *s->bits);
    s->zobrist = malloc((n ? n : 1) * sizeof *s->zobrist);
    s->stack = malloc((n ? n : 1) * sizeof *s->stack);
    s->best = malloc((n ? n : 1) * sizeof *s->best);
    if (!s->proc_start || !s->pos || !s->bits || !s->zobrist || !s->stack || !s->best) {
        free(order);
        return CS_ENOMEM;
    }
    uint32_t p = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (i == 0 || order[i].process != order[i - 1].process) s->proc_start[p++] = i;
        s->zobrist[i] = cs_check_mix64(0x9e3779b97f4a7c15ull * (i + 1));
    }
    s->proc_start[procs] = n;
    free(order);
    cs_memo_init(&s->memo, words ? words : 1, 0);
    return 0;
}

static int check_sequential(struct cs_check_work *w, const uint32_t *ops, uint32_t n, uint32_t key,
                            bool product, struct cs_check_result *r)
{
    (void)key;
    struct cs_model_ctx m;
    struct seq_search s;
    memset(&s, 0, sizeof s);
    struct cs_cop *cops = NULL;
    uint32_t *sorted = NULL;
    int rc = cs_model_init(&m, w->h, w->spec, product, r->detail, sizeof r->detail);
    if (rc == 0) rc = seq_setup(&s, w->h, ops, n, &cops, &sorted);
    for (uint32_t i = 0; rc == 0 && i < n; i++)
        rc = cs_model_compile(&m, sorted[i], &cops[i]);
    uint64_t state = 0;
    if (rc == 0) rc = cs_model_initial(&m, &state);
    s.m = &m;
    s.cops = cops;
    if (rc == 0) {
        rc = seq_run(&s, w, state);
        if (rc == CS_EBUDGET || rc == CS_ENOMEM) rc = CS_VERDICT_UNKNOWN;
    }
    uint64_t memory = s.memo.memory_bytes + cs_model_memory_bytes(&m);
    if (memory > r->memory_bytes_peak) r->memory_bytes_peak = memory;
    if (rc == CS_VERDICT_INVALID) {
        int erc = seq_explain(&s, r);
        if (erc == 0 && n <= CS_CHECK_CYCLE_OPS_MAX) {
            struct graph g = {NULL, 0, 0};
            struct cs_value initial = w->spec->initial;
            if (initial.kind == CS_VALUE_NONE) initial = cs_value_nil();
            erc = graph_build(w->h, sorted, n, initial, &g);
            if (erc == 0) erc = graph_cycle(&g, n, sorted, r);
            free(g.edges);
        }
        if (erc) rc = erc;
    }
    seq_free(&s);
    free(cops);
    free(sorted);
    cs_model_free(&m);
    return rc;
}

int cs_check_sequential(const struct cs_history *h, const struct cs_model_spec *model,
                        const struct cs_check_budget *budget, struct cs_check_result *result)
{
    /* A linearizable history is sequentially consistent (real time only
       adds constraints), and linearizability is far cheaper to decide. */
    struct cs_model_spec split = *model;
    split.split_by_key = true;
    int rc = cs_check_linearizable(h, &split, budget, result);
    bool linearizable = rc == 0 && result->verdict == CS_VERDICT_VALID;
    uint64_t steps = result->steps;
    cs_check_result_free(result);
    struct cs_check_work w;
    cs_check_work_init(&w, h, model, budget, result, CS_CONSISTENCY_SEQUENTIAL);
    w.steps = steps;
    if (rc != 0) return cs_check_work_finish(&w, rc);
    if (linearizable) {
        result->partitions = 1;
        return cs_check_work_finish(&w, CS_VERDICT_VALID);
    }
    rc = cs_check_partitions(&w, result, false, check_sequential);
    return cs_check_work_finish(&w, rc);
}
