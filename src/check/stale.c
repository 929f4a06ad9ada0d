/*
 * stale.c: a read that no write can explain, found before any search.
 *
 * For a register, a read of v is explained by its producer: the op that set
 * v last (a write of v, a cas to v, or the initial value). A producer p is
 * overwritten for read r when some op w that certainly changed the state to
 * another value (an ok write, an ok cas) was invoked after p completed and
 * completed before r was invoked: every linearization puts p before w before
 * r. If every producer of v is overwritten for r, r cannot be linearized, and
 * the history is not linearizable, whatever the order of the rest. The
 * search would find that too, but only after trying every order of the ops
 * before r, which on long histories with many info ops is out of reach.
 *
 * Producers of unknown outcome complete at the end, so they are never
 * overwritten. Reads whose value has more than CS_STALE_PRODUCERS_MAX
 * producers are left to the search (the test would cost too much and
 * rarely succeed).
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/model.h"
#include "consist/error.h"

#define CS_STALE_PRODUCERS_MAX 64u

struct stale_blocker {
    uint64_t invoke, complete, value;
};

struct stale_producer {
    uint64_t value;
    uint64_t complete; /* UINT64_MAX: unknown outcome; 0: the initial value */
};

/* The earliest completion among blockers invoked after a point, twice: the
 * best, and the best whose value differs from the best's. */
struct stale_suffix {
    uint64_t complete1, value1, complete2;
};

static int cmp_blocker(const void *a, const void *b)
{
    const struct stale_blocker *x = a, *y = b;
    return x->invoke < y->invoke ? -1 : x->invoke > y->invoke;
}

static int cmp_producer(const void *a, const void *b)
{
    const struct stale_producer *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    return x->complete < y->complete ? -1 : x->complete > y->complete;
}

static uint64_t position(const struct cs_op *op, bool invoke)
{
    /* Events shifted by one: 0 stands for "before everything". */
    if (invoke) return (uint64_t)op->invoke_event + 1;
    return op->complete_event == CS_EVENT_NONE ? UINT64_MAX : (uint64_t)op->complete_event + 1;
}

/* overwritten_by: the earliest completion of a blocker invoked after t
 * whose value is not v (UINT64_MAX if none). */
static uint64_t overwritten_by(const struct stale_blocker *b, const struct stale_suffix *suf,
                               uint32_t n, uint64_t t, uint64_t v)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (b[mid].invoke <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == n) return UINT64_MAX;
    return suf[lo].value1 != v ? suf[lo].complete1 : suf[lo].complete2;
}

static void build_suffix(const struct stale_blocker *b, struct stale_suffix *suf, uint32_t n)
{
    struct stale_suffix cur = {UINT64_MAX, UINT64_MAX, UINT64_MAX};
    for (uint32_t k = n; k-- > 0;) {
        uint64_t c = b[k].complete, v = b[k].value;
        if (c < cur.complete1) {
            if (v != cur.value1) cur.complete2 = cur.complete1;
            cur.complete1 = c;
            cur.value1 = v;
        } else if (v != cur.value1 && c < cur.complete2) {
            cur.complete2 = c;
        }
        suf[k] = cur;
    }
}

int cs_check_stale_read(const struct cs_history *h, const struct cs_cop *cops, uint32_t n,
                        uint64_t initial, uint32_t *read_out)
{
    struct stale_blocker *b = malloc((n ? n : 1) * sizeof *b);
    struct stale_suffix *suf = malloc((n ? n : 1) * sizeof *suf);
    struct stale_producer *p = malloc(((size_t)n + 1) * sizeof *p);
    if (!b || !suf || !p) {
        free(b);
        free(suf);
        free(p);
        return CS_ENOMEM;
    }
    uint32_t nb = 0, np = 0;
    p[np++] = (struct stale_producer){initial, 0};
    for (uint32_t i = 0; i < n; i++) {
        const struct cs_cop *c = &cops[i];
        const struct cs_op *op = &h->ops[c->op];
        bool changes = c->code == CS_COP_WRITE || (c->code == CS_COP_CAS && !c->cas_failed);
        if (!changes) continue;
        uint64_t value = c->code == CS_COP_WRITE ? c->a : c->b;
        p[np++] = (struct stale_producer){value, c->unknown ? UINT64_MAX : position(op, false)};
        if (!c->unknown)
            b[nb++] = (struct stale_blocker){position(op, true), position(op, false), value};
    }
    qsort(b, nb, sizeof *b, cmp_blocker);
    qsort(p, np, sizeof *p, cmp_producer);
    build_suffix(b, suf, nb);
    int found = 0;
    for (uint32_t i = 0; i < n && !found; i++) {
        const struct cs_cop *r = &cops[i];
        if (r->code != CS_COP_READ || r->unknown) continue;
        uint64_t r_invoke = position(&h->ops[r->op], true);
        /* The producers of r's value: a run of p, found by binary search. */
        uint32_t lo = 0, hi = np;
        while (lo < hi) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (p[mid].value < r->a)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint32_t end = lo;
        while (end < np && p[end].value == r->a && end - lo <= CS_STALE_PRODUCERS_MAX)
            end++;
        if (end - lo > CS_STALE_PRODUCERS_MAX) continue;
        bool explained = false;
        for (uint32_t k = lo; k < end && !explained; k++) {
            explained = p[k].complete == UINT64_MAX ||
                        overwritten_by(b, suf, nb, p[k].complete, r->a) >= r_invoke;
        }
        if (!explained) {
            *read_out = i;
            found = 1;
        }
    }
    free(b);
    free(suf);
    free(p);
    return found;
}
