/*
 * unique.c: linearizability of a read/write register whose written values
 * are all distinct, decided in O(n log n) by zones instead of a search.
 *
 * The one idea (Gibbons & Korach, "Testing shared memories", 1997; the zone
 * form of Golab, Li & Shah, 2011): when each value is written at most once,
 * every read names its write, so no order has to be guessed. The write of a
 * value and the reads that return it form a cluster. Let done be the earliest
 * completion in the cluster and start its latest invocation:
 *   - done < start: a forward zone [done, start]. The write must take effect
 *     before done and the last read after start, so the value must hold the
 *     register through the whole zone;
 *   - start < done: a backward zone [start, done]. Every op of the cluster is
 *     open throughout it, so the cluster can take effect at one point in it,
 *     and it must take effect somewhere that touches it.
 * The history is linearizable if and only if
 *   (a) every read returns a value some op wrote (or the initial value),
 *   (b) no read completes before its write is invoked,
 *   (c) no two forward zones overlap (two values cannot both hold at once),
 *   (d) no backward zone lies inside a forward zone (there the other value
 *       must hold the whole time, so the cluster has nowhere to go).
 * Necessity is the argument above; sufficiency is the theorem: order the
 * forward zones by position and drop each backward cluster into a gap.
 *
 * The semantics of the history carry over: the initial value is a cluster
 * whose write is virtual, done and invoked before every event; an info write
 * nobody read may never have happened and is dropped; an info write that was
 * read did happen, and its completion is at the end (+inf); info reads carry
 * no value and are dropped before this file sees them. fail ops are dropped
 * by the caller.
 *
 * Positions are event indices shifted by one (0 is "before everything",
 * UINT64_MAX "never completed"); events are distinct, so no two zone ends
 * coincide and the comparisons below need no tie rules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/model.h"
#include "consist/error.h"

#define ZONES_OP_NONE UINT32_MAX

/* A cluster: one written value, its write and the reads that returned it. */
struct zones_cluster {
    uint64_t value;    /* the model word written */
    uint64_t done;     /* earliest completion among its ops */
    uint64_t start;    /* latest invocation among its ops */
    uint32_t write;    /* cop index of the write; ZONES_OP_NONE: initial value */
    uint32_t done_op;  /* cop completing at done (ZONES_OP_NONE: the virtual write) */
    uint32_t start_op; /* cop invoked at start (ZONES_OP_NONE: the virtual write) */
    uint32_t reads;    /* reads that returned the value */
};

/* A zone: [lo, hi] of positions, and its cluster. */
struct zones_zone {
    uint64_t lo, hi;
    uint32_t cluster;
};

static uint64_t invoke_position(const struct cs_history *h, const struct cs_cop *c)
{
    return (uint64_t)h->ops[c->op].invoke_event + 1;
}

static uint64_t complete_position(const struct cs_history *h, const struct cs_cop *c)
{
    const struct cs_op *op = &h->ops[c->op];
    if (c->unknown || op->complete_event == CS_EVENT_NONE) return UINT64_MAX;
    return (uint64_t)op->complete_event + 1;
}

static int cmp_cluster_value(const void *a, const void *b)
{
    const struct zones_cluster *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

static int cmp_zone_lo(const void *a, const void *b)
{
    const struct zones_zone *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* find_cluster: the cluster of value v in c[0..n) (sorted by value), or n. */
static uint32_t find_cluster(const struct zones_cluster *c, uint32_t n, uint64_t v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c[mid].value < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && c[lo].value == v ? lo : n;
}

/* --- the verdict in words ---------------------------------------------------- */

/* set_stuck: the ops (cop indices, ZONES_OP_NONE skipped, repeats once) as
 * history indices in r->stuck. */
static int set_stuck(struct cs_check_result *r, const struct cs_cop *cops, const uint32_t *list,
                     uint32_t len)
{
    r->stuck = malloc((len ? len : 1) * sizeof *r->stuck);
    if (r->stuck == NULL) return CS_ENOMEM;
    r->stuck_len = 0;
    for (uint32_t i = 0; i < len; i++) {
        if (list[i] == ZONES_OP_NONE) continue;
        bool seen = false;
        for (uint32_t k = 0; k < r->stuck_len; k++)
            seen |= r->stuck[k] == cops[list[i]].op;
        if (!seen) r->stuck[r->stuck_len++] = cops[list[i]].op;
    }
    return 0;
}

/* set_detail: r->detail, cut at its size if it must be (the ops it names
 * are listed in full from r->stuck). */
static void set_detail(struct cs_check_result *r, const char *format, ...)
    __attribute__((format(printf, 2, 3)));
static void set_detail(struct cs_check_result *r, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(r->detail, sizeof r->detail, format, args);
    va_end(args);
}

/* cluster_name: "the initial value" or "the value op N wrote". */
static void cluster_name(const struct zones_cluster *c, const struct cs_cop *cops, char *out,
                         size_t out_len)
{
    if (c->write == ZONES_OP_NONE)
        snprintf(out, out_len, "the initial value");
    else
        snprintf(out, out_len, "the value op %u wrote", cops[c->write].op);
}

/* end_text: one end of a zone: "the start", "the end", "op N's return". */
static void end_text(const struct cs_cop *cops, uint64_t position, uint32_t op, bool returned,
                     char *out, size_t out_len)
{
    if (position == 0)
        snprintf(out, out_len, "the start");
    else if (position == UINT64_MAX)
        snprintf(out, out_len, "the end");
    else
        snprintf(out, out_len, "op %u's %s", cops[op].op, returned ? "return" : "invocation");
}

static int explain_overlap(struct cs_check_result *r, const struct cs_cop *cops,
                           const struct zones_cluster *x, const struct zones_cluster *y)
{
    char xn[40], yn[40], x0[40], x1[40], y0[40], y1[40];
    cluster_name(x, cops, xn, sizeof xn);
    cluster_name(y, cops, yn, sizeof yn);
    end_text(cops, x->done, x->done_op, true, x0, sizeof x0);
    end_text(cops, x->start, x->start_op, false, x1, sizeof x1);
    end_text(cops, y->done, y->done_op, true, y0, sizeof y0);
    end_text(cops, y->start, y->start_op, false, y1, sizeof y1);
    set_detail(r,
               "zones: %s must hold from %s to %s, and %s from %s to %s; the spans "
               "overlap, so one is overwritten while still to be read",
               xn, x0, x1, yn, y0, y1);
    uint32_t list[] = {x->write, x->done_op, x->start_op, y->write, y->done_op, y->start_op};
    return set_stuck(r, cops, list, 6);
}

static int explain_inside(struct cs_check_result *r, const struct cs_cop *cops,
                          const struct zones_cluster *inner, const struct zones_cluster *outer)
{
    char in[40], on[40], i0[40], i1[40], o0[40], o1[40];
    cluster_name(inner, cops, in, sizeof in);
    cluster_name(outer, cops, on, sizeof on);
    end_text(cops, inner->start, inner->start_op, false, i0, sizeof i0);
    end_text(cops, inner->done, inner->done_op, true, i1, sizeof i1);
    end_text(cops, outer->done, outer->done_op, true, o0, sizeof o0);
    end_text(cops, outer->start, outer->start_op, false, o1, sizeof o1);
    set_detail(r,
               "zones: %s can only take effect between %s and %s, all while %s must hold "
               "(from %s to %s)",
               in, i0, i1, on, o0, o1);
    uint32_t list[] = {inner->write, inner->done_op, inner->start_op,
                       outer->write, outer->done_op, outer->start_op};
    return set_stuck(r, cops, list, 6);
}

/* --- the procedure ------------------------------------------------------------ */

/* zones_apply: whether every op is a plain read or write and no write
 * writes the initial value; counts the writes. Costs no memory, so a
 * history with a cas is sent to the search at once. */
static bool zones_apply(const struct cs_cop *cops, uint32_t n, uint64_t initial,
                        uint32_t *writes_out)
{
    uint32_t writes = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_cop *op = &cops[i];
        if (op->code == CS_COP_READ) {
            CS_ASSERT(!op->unknown); /* the caller drops reads without a value */
            continue;
        }
        if (op->code != CS_COP_WRITE || op->a == initial) return false;
        writes++;
    }
    *writes_out = writes;
    return true;
}

/* build_clusters: one cluster per write (sorted by value) plus the initial
 * value's, last. CS_ZONES_NOT_APPLICABLE if two writes share a value. */
static int build_clusters(const struct cs_history *h, const struct cs_cop *cops, uint32_t n,
                          uint64_t initial, struct zones_cluster *c, uint32_t writes)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_cop *op = &cops[i];
        if (op->code != CS_COP_WRITE) continue;
        c[k++] = (struct zones_cluster){
            op->a, complete_position(h, op), invoke_position(h, op), i, i, i, 0};
    }
    CS_ASSERT(k == writes);
    qsort(c, writes, sizeof *c, cmp_cluster_value);
    for (k = 1; k < writes; k++) {
        if (c[k].value == c[k - 1].value) return CS_ZONES_NOT_APPLICABLE;
    }
    c[writes] =
        (struct zones_cluster){initial, 0, 0, ZONES_OP_NONE, ZONES_OP_NONE, ZONES_OP_NONE, 0};
    return 0;
}

/* add_reads: each read joins its write's cluster, widening its zone.
 * Violations of (a) and (b) end it with CS_VERDICT_INVALID. */
static int add_reads(const struct cs_history *h, const struct cs_cop *cops, uint32_t n,
                     struct zones_cluster *c, uint32_t writes, struct cs_check_result *r)
{
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_cop *op = &cops[i];
        if (op->code != CS_COP_READ) continue;
        uint32_t k = op->a == c[writes].value ? writes : find_cluster(c, writes, op->a);
        if (k == writes && op->a != c[writes].value) {
            set_detail(r, "zones: op %u read a value no op wrote (or only a failed one)", op->op);
            uint32_t list[] = {i};
            return set_stuck(r, cops, list, 1) ? CS_ENOMEM : CS_VERDICT_INVALID;
        }
        struct zones_cluster *z = &c[k];
        uint64_t inv = invoke_position(h, op), comp = complete_position(h, op);
        CS_ASSERT(comp != UINT64_MAX && comp > inv);
        if (z->write != ZONES_OP_NONE && comp < invoke_position(h, &cops[z->write])) {
            set_detail(r,
                       "zones: op %u returned before op %u, the only write of the value it "
                       "read, was invoked",
                       op->op, cops[z->write].op);
            uint32_t list[] = {i, z->write};
            return set_stuck(r, cops, list, 2) ? CS_ENOMEM : CS_VERDICT_INVALID;
        }
        z->reads++;
        if (comp < z->done) {
            z->done = comp;
            z->done_op = i;
        }
        if (inv > z->start) {
            z->start = inv;
            z->start_op = i;
        }
    }
    return 0;
}

/* check_zones: conditions (c) and (d) over the clusters that constrain.
 * zones has room for one zone per cluster: forward zones fill it from the
 * front, backward zones from the back. */
static int check_zones(const struct cs_cop *cops, const struct zones_cluster *c, uint32_t clusters,
                       struct zones_zone *zones, unsigned flags, struct cs_check_result *r)
{
    uint32_t nf = 0, nb = 0;
    for (uint32_t k = 0; k < clusters; k++) {
        const struct zones_cluster *z = &c[k];
        bool unknown_write = z->write != ZONES_OP_NONE && cops[z->write].unknown;
        /* Never read: the initial value constrains nothing; an info write may
           never have happened. */
        if (z->reads == 0 && (z->write == ZONES_OP_NONE || unknown_write)) continue;
        CS_ASSERT(z->done != z->start); /* a completion and an invoke: distinct events */
        if (z->done < z->start)
            zones[nf++] = (struct zones_zone){z->done, z->start, k};
        else
            zones[clusters - 1 - nb++] = (struct zones_zone){z->start, z->done, k};
    }
    CS_ASSERT(nf + nb <= clusters);
    const struct zones_zone *fwd = zones, *bwd = zones + clusters - nb;
    qsort(zones, nf, sizeof *zones, cmp_zone_lo);
    /* Sorted by lo, disjoint iff each ends before the next begins. */
    for (uint32_t k = 1; k < nf; k++) {
        if (fwd[k].lo < fwd[k - 1].hi) {
            int rc = explain_overlap(r, cops, &c[fwd[k - 1].cluster], &c[fwd[k].cluster]);
            return rc ? rc : CS_VERDICT_INVALID;
        }
    }
    if (flags & CS_CHECK_PLANT_ZONES_NO_BACKWARD) return CS_VERDICT_VALID;
    /* The forward zones are disjoint and sorted, so the only one that can
       hold a backward zone [lo, hi] is the last to begin before lo. */
    for (uint32_t k = 0; k < nb; k++) {
        uint32_t lo = 0, hi = nf;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (fwd[mid].lo < bwd[k].lo)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == 0 || fwd[lo - 1].hi < bwd[k].hi) continue;
        int rc = explain_inside(r, cops, &c[bwd[k].cluster], &c[fwd[lo - 1].cluster]);
        return rc ? rc : CS_VERDICT_INVALID;
    }
    return CS_VERDICT_VALID;
}

int cs_check_zones(const struct cs_history *h, const struct cs_cop *cops, uint32_t n,
                   uint64_t initial, unsigned flags, struct cs_check_result *r)
{
    uint32_t writes;
    if (!zones_apply(cops, n, initial, &writes)) return CS_ZONES_NOT_APPLICABLE;
    size_t clusters = (size_t)writes + 1;
    struct zones_cluster *c = malloc(clusters * sizeof *c);
    struct zones_zone *zones = malloc(clusters * sizeof *zones);
    int rc = c && zones ? 0 : CS_ENOMEM;
    if (rc == 0) rc = build_clusters(h, cops, n, initial, c, writes);
    if (rc == 0) rc = add_reads(h, cops, n, c, writes, r);
    if (rc == 0) rc = check_zones(cops, c, writes + 1, zones, flags, r);
    free(c);
    free(zones);
    return rc;
}
