/*
 * counter.c: G-Counter and PN-Counter.
 *
 * The one idea: each node owns one entry and only ever raises it, so the join
 * is the pointwise maximum of two sorted arrays (O(n + m)) and the value is a
 * sum. A PN-Counter keeps two such totals per node (increments p and
 * decrements n) in the same entry. A delta is a counter holding just the
 * entry that changed.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

static uint32_t counts_find(const struct cs_crdt_count *e, uint32_t len, uint64_t node, bool *found)
{
    uint32_t lo = 0, hi = len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (e[mid].node < node) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < len && e[lo].node == node;
    return lo;
}

static int counts_reserve(struct cs_crdt_counts *c, size_t need)
{
    if (need <= c->cap) return 0;
    size_t cap = c->cap ? (size_t)c->cap * 2 : 4;
    while (cap < need)
        cap *= 2;
    struct cs_crdt_count *p = realloc(c->entries, cap * sizeof *p);
    if (p == NULL) return CS_ENOMEM;
    c->entries = p;
    c->cap = (uint32_t)cap;
    return 0;
}

/* The entry of node, created zero if missing. */
static int counts_slot(struct cs_crdt_counts *c, uint64_t node, struct cs_crdt_count **out)
{
    bool found;
    uint32_t i = counts_find(c->entries, c->len, node, &found);
    if (!found) {
        if (c->len >= CS_CRDT_NODES_MAX) return CS_ETOOBIG;
        if (counts_reserve(c, (size_t)c->len + 1)) return CS_ENOMEM;
        memmove(c->entries + i + 1, c->entries + i, (c->len - i) * sizeof *c->entries);
        c->entries[i] = (struct cs_crdt_count){node, 0, 0};
        c->len++;
    }
    *out = &c->entries[i];
    return 0;
}

/* In place when every source node is already in dst (the steady state):
 * one linear walk, no allocation. False if a node is missing. */
static bool counts_merge_in_place(struct cs_crdt_counts *dst, const struct cs_crdt_counts *src)
{
    uint32_t i = 0;
    for (uint32_t j = 0; j < src->len; j++) {
        while (i < dst->len && dst->entries[i].node < src->entries[j].node)
            i++;
        if (i == dst->len || dst->entries[i].node != src->entries[j].node) return false;
    }
    i = 0;
    for (uint32_t j = 0; j < src->len; j++) {
        while (dst->entries[i].node < src->entries[j].node)
            i++;
        struct cs_crdt_count *d = &dst->entries[i];
        if (src->entries[j].p > d->p) d->p = src->entries[j].p;
        if (src->entries[j].n > d->n) d->n = src->entries[j].n;
    }
    return true;
}

/* Pointwise max join into fresh memory, then swap (dst unchanged on error). */
static int counts_merge(struct cs_crdt_counts *dst, const struct cs_crdt_counts *src)
{
    if (counts_merge_in_place(dst, src)) return 0;
    size_t max = (size_t)dst->len + src->len;
    struct cs_crdt_count *out = malloc((max + 1) * sizeof *out);
    if (out == NULL) return CS_ENOMEM;
    size_t i = 0, j = 0, n = 0;
    while (i < dst->len || j < src->len) {
        if (j == src->len || (i < dst->len && dst->entries[i].node < src->entries[j].node)) {
            out[n++] = dst->entries[i++];
        } else if (i == dst->len || src->entries[j].node < dst->entries[i].node) {
            out[n++] = src->entries[j++];
        } else {
            struct cs_crdt_count a = dst->entries[i++], b = src->entries[j++];
            out[n++] = (struct cs_crdt_count){a.node, a.p > b.p ? a.p : b.p, a.n > b.n ? a.n : b.n};
        }
    }
    if (n > CS_CRDT_NODES_MAX) {
        free(out);
        return CS_ETOOBIG;
    }
    free(dst->entries);
    dst->entries = out;
    dst->len = (uint32_t)n;
    dst->cap = (uint32_t)(max + 1);
    return 0;
}

static bool counts_leq(const struct cs_crdt_counts *a, const struct cs_crdt_counts *b)
{
    uint32_t j = 0;
    for (uint32_t i = 0; i < a->len; i++) {
        while (j < b->len && b->entries[j].node < a->entries[i].node)
            j++;
        struct cs_crdt_count x = a->entries[i];
        if (j == b->len || b->entries[j].node != x.node) {
            if (x.p || x.n) return false;
            continue;
        }
        if (x.p > b->entries[j].p || x.n > b->entries[j].n) return false;
    }
    return true;
}

static bool counts_equal(const struct cs_crdt_counts *a, const struct cs_crdt_counts *b)
{
    return a->len == b->len &&
           (a->len == 0 || memcmp(a->entries, b->entries, a->len * sizeof *a->entries) == 0);
}

static int counts_copy(struct cs_crdt_counts *dst, const struct cs_crdt_counts *src)
{
    if (counts_reserve(dst, src->len)) return CS_ENOMEM;
    if (src->len) memcpy(dst->entries, src->entries, src->len * sizeof *src->entries);
    dst->len = src->len;
    return 0;
}

/* The delta of one changed entry: a counter holding only that entry. */
static int counts_delta(struct cs_crdt_counts *delta, const struct cs_crdt_count *entry)
{
    if (delta == NULL) return 0;
    if (counts_reserve(delta, 1)) return CS_ENOMEM;
    delta->entries[0] = *entry;
    delta->len = 1;
    return 0;
}

static int counts_encode(const struct cs_crdt_counts *c, enum cs_crdt_type type, struct cs_buf *out)
{
    crdt_put_header(out, type);
    cs_put_uvarint(out, c->len);
    const struct cs_crdt_counts *k = c;
    for (uint32_t i = 0; i < k->len; i++) {
        cs_put_uvarint(out, k->entries[i].node);
        cs_put_uvarint(out, k->entries[i].p);
        if (type == CS_CRDT_PNCOUNTER) cs_put_uvarint(out, k->entries[i].n);
    }
    return cs_buf_error(out);
}

static int counts_decode_body(struct cs_crdt_counts *c, enum cs_crdt_type type, struct cs_reader *r)
{
    int rc = crdt_get_header(r, type);
    if (rc) return rc;
    uint64_t n;
    size_t item_min = type == CS_CRDT_PNCOUNTER ? 3 : 2;
    if ((rc = cs_get_count(r, &n, CS_CRDT_NODES_MAX, item_min))) return rc;
    if (counts_reserve(c, n)) return CS_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        struct cs_crdt_count e = {0, 0, 0};
        if ((rc = crdt_get_node(r, &e.node))) return rc;
        if ((rc = cs_get_uvarint_max(r, &e.p, INT64_MAX))) return rc;
        if (type == CS_CRDT_PNCOUNTER && (rc = cs_get_uvarint_max(r, &e.n, INT64_MAX))) return rc;
        if (i > 0 && c->entries[i - 1].node >= e.node) return CS_EDECODE;
        if (e.p == 0 && e.n == 0) return CS_EDECODE; /* canonical: no empty entries */
        c->entries[c->len++] = e;
    }
    return crdt_decode_end(r);
}

static int counts_decode(struct cs_crdt_counts *c, enum cs_crdt_type type, const void *data,
                         size_t len)
{
    CS_ASSERT(c->len == 0);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = counts_decode_body(c, type, &r);
    if (rc) c->len = 0;
    return rc;
}

/* Set the entry of next.node to next, and the delta (when wanted) to just it.
 * The delta is built first: a failure then leaves the state untouched. */
static int counts_apply(struct cs_crdt_counts *c, struct cs_crdt_counts *delta,
                        const struct cs_crdt_count *next)
{
    CS_ASSERT(delta != c); /* a delta is a separate state */
    int rc = counts_delta(delta, next);
    if (rc) return rc;
    struct cs_crdt_count *e;
    if ((rc = counts_slot(c, next->node, &e))) return rc;
    CS_ASSERT(e->p <= next->p && e->n <= next->n); /* every mutation inflates */
    *e = *next;
    return 0;
}

#define G(x)  ((x) ? &(x)->counts : NULL)
#define GC(x) (&(x)->counts)

/* ---- G-Counter ---- */

void cs_gcounter_init(struct cs_gcounter *c)
{
    memset(c, 0, sizeof *c);
}

void cs_gcounter_free(struct cs_gcounter *c)
{
    free(c->counts.entries);
    cs_gcounter_init(c);
}

int cs_gcounter_increment(struct cs_gcounter *c, uint64_t node, uint64_t amount,
                          struct cs_gcounter *delta)
{
    if (node == 0 || amount == 0) return CS_EINVAL;
    bool found;
    uint32_t i = counts_find(c->counts.entries, c->counts.len, node, &found);
    struct cs_crdt_count next = found ? c->counts.entries[i] : (struct cs_crdt_count){node, 0, 0};
    if (amount > INT64_MAX || next.p > INT64_MAX - amount) return CS_EOVERFLOW;
    next.p += amount;
    return counts_apply(G(c), G(delta), &next);
}

uint64_t cs_gcounter_value(const struct cs_gcounter *c)
{
    uint64_t sum = 0;
    const struct cs_crdt_counts *k = &c->counts;
    for (uint32_t i = 0; i < k->len; i++) {
        if (sum > UINT64_MAX - k->entries[i].p) return UINT64_MAX;
        sum += k->entries[i].p;
    }
    return sum;
}

int cs_gcounter_merge(struct cs_gcounter *dst, const struct cs_gcounter *src)
{
    return counts_merge(G(dst), GC(src));
}

bool cs_gcounter_leq(const struct cs_gcounter *a, const struct cs_gcounter *b)
{
    return counts_leq(GC(a), GC(b));
}

bool cs_gcounter_equal(const struct cs_gcounter *a, const struct cs_gcounter *b)
{
    return counts_equal(GC(a), GC(b));
}

int cs_gcounter_copy(struct cs_gcounter *dst, const struct cs_gcounter *src)
{
    return counts_copy(G(dst), GC(src));
}

int cs_gcounter_encode(const struct cs_gcounter *c, struct cs_buf *out)
{
    return counts_encode(GC(c), CS_CRDT_GCOUNTER, out);
}

int cs_gcounter_decode(struct cs_gcounter *c, const void *data, size_t len)
{
    return counts_decode(G(c), CS_CRDT_GCOUNTER, data, len);
}

size_t cs_gcounter_mem_bytes(const struct cs_gcounter *c)
{
    return (size_t)c->counts.cap * sizeof *c->counts.entries;
}

/* ---- PN-Counter ---- */

void cs_pncounter_init(struct cs_pncounter *c)
{
    memset(c, 0, sizeof *c);
}

void cs_pncounter_free(struct cs_pncounter *c)
{
    free(c->counts.entries);
    cs_pncounter_init(c);
}

int cs_pncounter_increment(struct cs_pncounter *c, uint64_t node, int64_t amount,
                           struct cs_pncounter *delta)
{
    if (node == 0 || amount == 0) return CS_EINVAL;
    uint64_t magnitude = amount > 0 ? (uint64_t)amount : (uint64_t)(-(amount + 1)) + 1;
    bool found;
    uint32_t i = counts_find(c->counts.entries, c->counts.len, node, &found);
    struct cs_crdt_count next = found ? c->counts.entries[i] : (struct cs_crdt_count){node, 0, 0};
    uint64_t *total = amount > 0 ? &next.p : &next.n;
    if (magnitude > INT64_MAX || *total > INT64_MAX - magnitude) return CS_EOVERFLOW;
    *total += magnitude;
    return counts_apply(G(c), G(delta), &next);
}

int64_t cs_pncounter_value(const struct cs_pncounter *c)
{
    int64_t sum = 0;
    const struct cs_crdt_counts *k = &c->counts;
    for (uint32_t i = 0; i < k->len; i++) {
        /* p, n <= INT64_MAX, so p - n fits in int64. */
        int64_t d = (int64_t)k->entries[i].p - (int64_t)k->entries[i].n;
        if (d > 0 && sum > INT64_MAX - d) return INT64_MAX;
        if (d < 0 && sum < INT64_MIN - d) return INT64_MIN;
        sum += d;
    }
    return sum;
}

int cs_pncounter_merge(struct cs_pncounter *dst, const struct cs_pncounter *src)
{
    return counts_merge(G(dst), GC(src));
}

bool cs_pncounter_leq(const struct cs_pncounter *a, const struct cs_pncounter *b)
{
    return counts_leq(GC(a), GC(b));
}

bool cs_pncounter_equal(const struct cs_pncounter *a, const struct cs_pncounter *b)
{
    return counts_equal(GC(a), GC(b));
}

int cs_pncounter_copy(struct cs_pncounter *dst, const struct cs_pncounter *src)
{
    return counts_copy(G(dst), GC(src));
}

int cs_pncounter_encode(const struct cs_pncounter *c, struct cs_buf *out)
{
    return counts_encode(GC(c), CS_CRDT_PNCOUNTER, out);
}

int cs_pncounter_state(const struct cs_pncounter *c, struct cs_buf *out)
{
    return cs_pncounter_encode(c, out);
}

int cs_pncounter_decode(struct cs_pncounter *c, const void *data, size_t len)
{
    return counts_decode(G(c), CS_CRDT_PNCOUNTER, data, len);
}

size_t cs_pncounter_mem_bytes(const struct cs_pncounter *c)
{
    return (size_t)c->counts.cap * sizeof *c->counts.entries;
}
