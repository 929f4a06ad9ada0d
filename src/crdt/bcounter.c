/*
 * bcounter.c: the Bounded Counter, a counter that never goes below zero
 * (Balegas, Serra, Preguica, Fonseca, Najafzadeh, Shapiro, "Extending
 * eventually consistent cloud databases for enforcing numeric invariants",
 * SRDS 2015).
 *
 * The one idea: a decrement spends *rights*, and rights are escrowed per
 * replica. R[i][i] counts i's increments (each grants i rights), R[i][j]
 * counts rights i transferred to j, U[i] counts i's decrements. Every entry
 * only grows, so the join is a pointwise max. A replica refuses a decrement
 * or a transfer past its own rights, computed from its own entries, which no
 * other replica can lower; hence sum(U) <= sum(R[i][i]) in every state any
 * replica ever holds, and the value never reads below zero.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

void cs_bcounter_init(struct cs_bcounter *c)
{
    memset(c, 0, sizeof *c);
}

void cs_bcounter_free(struct cs_bcounter *c)
{
    free(c->rights);
    free(c->used);
    cs_bcounter_init(c);
}

static int rights_cmp(const struct cs_crdt_transfer *a, uint64_t from, uint64_t to)
{
    if (a->from != from) return a->from < from ? -1 : 1;
    if (a->to != to) return a->to < to ? -1 : 1;
    return 0;
}

static uint32_t rights_find(const struct cs_bcounter *c, uint64_t from, uint64_t to, bool *found)
{
    uint32_t lo = 0, hi = c->rights_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (rights_cmp(&c->rights[mid], from, to) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < c->rights_len && rights_cmp(&c->rights[lo], from, to) == 0;
    return lo;
}

static uint64_t rights_get(const struct cs_bcounter *c, uint64_t from, uint64_t to)
{
    bool found;
    uint32_t i = rights_find(c, from, to, &found);
    return found ? c->rights[i].amount : 0;
}

static uint32_t used_find(const struct cs_bcounter *c, uint64_t node, bool *found)
{
    uint32_t lo = 0, hi = c->used_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->used[mid].node < node) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < c->used_len && c->used[lo].node == node;
    return lo;
}

static uint64_t used_get(const struct cs_bcounter *c, uint64_t node)
{
    bool found;
    uint32_t i = used_find(c, node, &found);
    return found ? c->used[i].p : 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t cs_bcounter_rights(const struct cs_bcounter *c, uint64_t node)
{
    uint64_t gained = 0, lost = used_get(c, node);
    for (uint32_t i = 0; i < c->rights_len; i++) {
        const struct cs_crdt_transfer *t = &c->rights[i];
        if (t->to == node) gained = sat_add(gained, t->amount); /* own increments and receipts */
        if (t->from == node && t->to != node) lost = sat_add(lost, t->amount);
    }
    return gained > lost ? gained - lost : 0;
}

uint64_t cs_bcounter_value(const struct cs_bcounter *c)
{
    uint64_t incs = 0, decs = 0;
    for (uint32_t i = 0; i < c->rights_len; i++) {
        if (c->rights[i].from == c->rights[i].to) incs = sat_add(incs, c->rights[i].amount);
    }
    for (uint32_t i = 0; i < c->used_len; i++)
        decs = sat_add(decs, c->used[i].p);
    /* A replica's state always has decs <= incs (see above); a delta alone
     * may not, and reads as zero. */
    return decs <= incs ? incs - decs : 0;
}

/* Set R[from][to] (or, with used, U[from]) to amount, keeping order. */
static int rights_put(struct cs_bcounter *c, uint64_t from, uint64_t to, uint64_t amount)
{
    bool found;
    uint32_t i = rights_find(c, from, to, &found);
    if (!found) {
        if (c->rights_len >= CS_CRDT_TRANSFERS_MAX) return CS_ETOOBIG;
        if (c->rights_len == c->rights_cap) {
            uint32_t cap = c->rights_cap ? c->rights_cap * 2 : 4;
            struct cs_crdt_transfer *p = realloc(c->rights, cap * sizeof *p);
            if (p == NULL) return CS_ENOMEM;
            c->rights = p;
            c->rights_cap = cap;
        }
        memmove(c->rights + i + 1, c->rights + i, (c->rights_len - i) * sizeof *c->rights);
        c->rights_len++;
    }
    CS_ASSERT(!found || c->rights[i].amount <= amount);
    c->rights[i] = (struct cs_crdt_transfer){from, to, amount};
    return 0;
}

static int used_put(struct cs_bcounter *c, uint64_t node, uint64_t amount)
{
    bool found;
    uint32_t i = used_find(c, node, &found);
    if (!found) {
        if (c->used_len >= CS_CRDT_NODES_MAX) return CS_ETOOBIG;
        if (c->used_len == c->used_cap) {
            uint32_t cap = c->used_cap ? c->used_cap * 2 : 4;
            struct cs_crdt_count *p = realloc(c->used, cap * sizeof *p);
            if (p == NULL) return CS_ENOMEM;
            c->used = p;
            c->used_cap = cap;
        }
        memmove(c->used + i + 1, c->used + i, (c->used_len - i) * sizeof *c->used);
        c->used_len++;
    }
    CS_ASSERT(!found || c->used[i].p <= amount);
    c->used[i] = (struct cs_crdt_count){node, amount, 0};
    return 0;
}

/*
 * The delta of an operation is the replica's whole state. A smaller delta
 * (just node's row) can reach a replica before the increments whose rights
 * it spent, and transitively so through transfers, and then the replica
 * reads below zero until the rest arrives (the property suite found this,
 * seed 1522). A whole state is causally closed: every right it spends comes
 * with the increments that created it. It is O(replicas^2) entries at most.
 */
static int bcounter_delta(const struct cs_bcounter *c, struct cs_bcounter *delta)
{
    if (delta == NULL) return 0;
    return cs_bcounter_copy(delta, c);
}

/* Raise R[from][to] by amount. */
static int rights_raise(struct cs_bcounter *c, uint64_t from, uint64_t to, uint64_t amount)
{
    uint64_t cur = rights_get(c, from, to);
    if (amount > INT64_MAX || cur > INT64_MAX - amount) return CS_EOVERFLOW;
    return rights_put(c, from, to, cur + amount);
}

int cs_bcounter_increment(struct cs_bcounter *c, uint64_t node, uint64_t amount,
                          struct cs_bcounter *delta)
{
    if (node == 0 || amount == 0) return CS_EINVAL;
    int rc = rights_raise(c, node, node, amount);
    return rc ? rc : bcounter_delta(c, delta);
}

int cs_bcounter_decrement(struct cs_bcounter *c, uint64_t node, uint64_t amount,
                          struct cs_bcounter *delta)
{
    if (node == 0 || amount == 0) return CS_EINVAL;
    if (cs_bcounter_rights(c, node) < amount) return CS_ERANGE;
    uint64_t cur = used_get(c, node);
    CS_ASSERT(amount <= INT64_MAX && cur <= INT64_MAX - amount); /* rights bound both */
    int rc = used_put(c, node, cur + amount);
    return rc ? rc : bcounter_delta(c, delta);
}

int cs_bcounter_transfer(struct cs_bcounter *c, uint64_t from, uint64_t to, uint64_t amount,
                         struct cs_bcounter *delta)
{
    if (from == 0 || to == 0 || amount == 0 || from == to) return CS_EINVAL;
    if (cs_bcounter_rights(c, from) < amount) return CS_ERANGE;
    int rc = rights_raise(c, from, to, amount);
    return rc ? rc : bcounter_delta(c, delta);
}

int cs_bcounter_merge(struct cs_bcounter *dst, const struct cs_bcounter *src)
{
    /* Entries are few (pairs of replicas); a put per source entry keeps it simple. */
    for (uint32_t i = 0; i < src->rights_len; i++) {
        const struct cs_crdt_transfer *t = &src->rights[i];
        if (rights_get(dst, t->from, t->to) >= t->amount) continue;
        int rc = rights_put(dst, t->from, t->to, t->amount);
        if (rc) return rc;
    }
    for (uint32_t i = 0; i < src->used_len; i++) {
        if (used_get(dst, src->used[i].node) >= src->used[i].p) continue;
        int rc = used_put(dst, src->used[i].node, src->used[i].p);
        if (rc) return rc;
    }
    return 0;
}

bool cs_bcounter_leq(const struct cs_bcounter *a, const struct cs_bcounter *b)
{
    for (uint32_t i = 0; i < a->rights_len; i++) {
        if (rights_get(b, a->rights[i].from, a->rights[i].to) < a->rights[i].amount) return false;
    }
    for (uint32_t i = 0; i < a->used_len; i++) {
        if (used_get(b, a->used[i].node) < a->used[i].p) return false;
    }
    return true;
}

bool cs_bcounter_equal(const struct cs_bcounter *a, const struct cs_bcounter *b)
{
    return a->rights_len == b->rights_len && a->used_len == b->used_len && cs_bcounter_leq(a, b) &&
           cs_bcounter_leq(b, a);
}

int cs_bcounter_copy(struct cs_bcounter *dst, const struct cs_bcounter *src)
{
    cs_bcounter_free(dst);
    return cs_bcounter_merge(dst, src);
}

/* header, rights count, (from, to, amount)..., used count, (node, amount)... */
int cs_bcounter_encode(const struct cs_bcounter *c, struct cs_buf *out)
{
    crdt_put_header(out, CS_CRDT_BCOUNTER);
    cs_put_uvarint(out, c->rights_len);
    for (uint32_t i = 0; i < c->rights_len; i++) {
        cs_put_uvarint(out, c->rights[i].from);
        cs_put_uvarint(out, c->rights[i].to);
        cs_put_uvarint(out, c->rights[i].amount);
    }
    cs_put_uvarint(out, c->used_len);
    for (uint32_t i = 0; i < c->used_len; i++) {
        cs_put_uvarint(out, c->used[i].node);
        cs_put_uvarint(out, c->used[i].p);
    }
    return cs_buf_error(out);
}

static int bcounter_decode_body(struct cs_bcounter *c, struct cs_reader *r)
{
    int rc = crdt_get_header(r, CS_CRDT_BCOUNTER);
    uint64_t n;
    if (rc || (rc = cs_get_count(r, &n, CS_CRDT_TRANSFERS_MAX, 3))) return rc;
    for (uint64_t i = 0; i < n; i++) {
        struct cs_crdt_transfer t;
        if ((rc = crdt_get_node(r, &t.from)) || (rc = crdt_get_node(r, &t.to))) return rc;
        if ((rc = cs_get_uvarint_max(r, &t.amount, INT64_MAX))) return rc;
        if (t.amount == 0) return CS_EDECODE;
        if (i > 0 && rights_cmp(&c->rights[i - 1], t.from, t.to) >= 0) return CS_EDECODE;
        if ((rc = rights_put(c, t.from, t.to, t.amount))) return rc;
    }
    if ((rc = cs_get_count(r, &n, CS_CRDT_NODES_MAX, 2))) return rc;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t node, amount;
        if ((rc = crdt_get_node(r, &node))) return rc;
        if ((rc = cs_get_uvarint_max(r, &amount, INT64_MAX))) return rc;
        if (amount == 0) return CS_EDECODE;
        if (i > 0 && c->used[i - 1].node >= node) return CS_EDECODE;
        if ((rc = used_put(c, node, amount))) return rc;
    }
    return crdt_decode_end(r);
}

int cs_bcounter_decode(struct cs_bcounter *c, const void *data, size_t len)
{
    CS_ASSERT(c->rights_len == 0 && c->used_len == 0);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = bcounter_decode_body(c, &r);
    if (rc) cs_bcounter_free(c);
    return rc;
}

size_t cs_bcounter_mem_bytes(const struct cs_bcounter *c)
{
    return (size_t)c->rights_cap * sizeof *c->rights + (size_t)c->used_cap * sizeof *c->used;
}
