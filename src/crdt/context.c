/*
 * context.c: the causal context of the dot-based CRDTs: which dots a replica
 * has seen.
 *
 * The one idea: almost every context is a version vector (node -> highest
 * contiguous counter); only dots that arrived past a gap (a delta delivered
 * before its predecessors) sit in a sorted "cloud", and every add or join
 * compacts the cloud back into the vector as soon as the gap fills. The cloud
 * is bounded (CS_CRDT_CLOUD_DOTS_MAX): a replica whose gaps never fill must be
 * repaired by a full-state merge, which fills them.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

void crdt_ctx_init(struct cs_crdt_ctx *c)
{
    memset(c, 0, sizeof *c);
}

void crdt_ctx_free(struct cs_crdt_ctx *c)
{
    free(c->vv);
    free(c->cloud);
    crdt_ctx_init(c);
}

void crdt_ctx_clear(struct cs_crdt_ctx *c)
{
    c->vv_len = 0;
    c->cloud_len = 0;
}

static int dots_reserve(struct cs_dot **dots, uint32_t *cap, size_t need)
{
    if (need <= *cap) return 0;
    size_t cap_new = *cap ? (size_t)*cap * 2 : 4;
    while (cap_new < need)
        cap_new *= 2;
    struct cs_dot *p = realloc(*dots, cap_new * sizeof *p);
    if (p == NULL) return CS_ENOMEM;
    *dots = p;
    *cap = (uint32_t)cap_new;
    return 0;
}

/* Index of node in vv, or where it would go (*found false). */
static uint32_t vv_find(const struct cs_crdt_ctx *c, uint64_t node, bool *found)
{
    uint32_t lo = 0, hi = c->vv_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (c->vv[mid].node_id < node) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < c->vv_len && c->vv[lo].node_id == node;
    return lo;
}

static uint32_t cloud_find(const struct cs_crdt_ctx *c, struct cs_dot d, bool *found)
{
    uint32_t lo = 0, hi = c->cloud_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (crdt_dot_cmp(c->cloud[mid], d) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < c->cloud_len && crdt_dot_cmp(c->cloud[lo], d) == 0;
    return lo;
}

static uint64_t vv_get(const struct cs_crdt_ctx *c, uint64_t node)
{
    bool found;
    uint32_t i = vv_find(c, node, &found);
    return found ? c->vv[i].counter : 0;
}

bool crdt_ctx_contains(const struct cs_crdt_ctx *c, struct cs_dot d)
{
    CS_DEBUG_ASSERT(d.counter > 0);
    if (d.counter <= vv_get(c, d.node_id)) return true;
    bool found;
    cloud_find(c, d, &found);
    return found;
}

/* Move cloud dots of node that the vector now reaches into it. */
static void ctx_compact_node(struct cs_crdt_ctx *c, uint32_t vi)
{
    bool found;
    uint32_t at = cloud_find(c, (struct cs_dot){c->vv[vi].node_id, 0}, &found);
    uint32_t end = at;
    CS_ASSERT(c->vv[vi].counter <= CS_CRDT_DOT_COUNTER_MAX); /* + 1 cannot wrap */
    while (end < c->cloud_len && c->cloud[end].node_id == c->vv[vi].node_id &&
           c->cloud[end].counter <= c->vv[vi].counter + 1) {
        if (c->cloud[end].counter == c->vv[vi].counter + 1) c->vv[vi].counter++;
        end++;
    }
    if (end > at) {
        memmove(c->cloud + at, c->cloud + end, (c->cloud_len - end) * sizeof *c->cloud);
        c->cloud_len -= end - at;
    }
}

int crdt_ctx_add(struct cs_crdt_ctx *c, struct cs_dot d)
{
    CS_ASSERT(d.node_id != 0 && d.counter != 0);
    if (crdt_ctx_contains(c, d)) return 0;
    bool found;
    uint32_t vi = vv_find(c, d.node_id, &found);
    uint64_t have = found ? c->vv[vi].counter : 0;
    if (d.counter == have + 1) {
        if (!found) {
            if (c->vv_len >= CS_CRDT_NODES_MAX) return CS_ETOOBIG;
            if (dots_reserve(&c->vv, &c->vv_cap, (size_t)c->vv_len + 1)) return CS_ENOMEM;
            memmove(c->vv + vi + 1, c->vv + vi, (c->vv_len - vi) * sizeof *c->vv);
            c->vv[vi] = (struct cs_dot){d.node_id, 0};
            c->vv_len++;
        }
        c->vv[vi].counter = d.counter;
        ctx_compact_node(c, vi);
        return 0;
    }
    if (c->cloud_len >= CS_CRDT_CLOUD_DOTS_MAX) return CS_ETOOBIG;
    if (dots_reserve(&c->cloud, &c->cloud_cap, (size_t)c->cloud_len + 1)) return CS_ENOMEM;
    uint32_t at = cloud_find(c, d, &found);
    CS_ASSERT(!found);
    memmove(c->cloud + at + 1, c->cloud + at, (c->cloud_len - at) * sizeof *c->cloud);
    c->cloud[at] = d;
    c->cloud_len++;
    return 0;
}

int crdt_ctx_next(const struct cs_crdt_ctx *c, uint64_t node, struct cs_dot *next)
{
    uint64_t top = vv_get(c, node);
    bool found;
    uint32_t at = cloud_find(c, (struct cs_dot){node + 1, 0}, &found);
    if (at > 0 && c->cloud[at - 1].node_id == node && c->cloud[at - 1].counter > top) {
        top = c->cloud[at - 1].counter;
    }
    CS_ASSERT(top <= CS_CRDT_DOT_COUNTER_MAX); /* decoders and this function keep it */
    if (top == CS_CRDT_DOT_COUNTER_MAX) return CS_EOVERFLOW;
    *next = (struct cs_dot){node, top + 1};
    return 0;
}

/*
 * Join: merge the vectors (pointwise max), merge the clouds (union), then
 * drop or absorb every cloud dot the new vector reaches. Built in fresh
 * arrays so that an error leaves dst as it was.
 */
_Static_assert(CS_CRDT_DOT_COUNTER_MAX < UINT64_MAX, "counter + 1 never wraps");
_Static_assert(CS_CRDT_CLOUD_DOTS_MAX <= UINT32_MAX / 2, "cloud lengths fit uint32_t sums");

/* Contexts this small (a delta's) are joined entry by entry, in place. */
#define CTX_JOIN_SMALL 8u

/*
 * Join a small src into dst in place: O(|src| log |dst|) instead of copying
 * dst. Capacity is reserved and limits are checked first, so nothing can fail
 * half way.
 */
static int ctx_join_small(struct cs_crdt_ctx *dst, const struct cs_crdt_ctx *src)
{
    /* A cloud dot (n, 1) opens a vector entry too: room for those as well. */
    if (dots_reserve(&dst->vv, &dst->vv_cap, (size_t)dst->vv_len + src->vv_len + src->cloud_len) ||
        dots_reserve(&dst->cloud, &dst->cloud_cap, (size_t)dst->cloud_len + src->cloud_len)) {
        return CS_ENOMEM;
    }
    for (uint32_t k = 0; k < src->vv_len; k++) {
        bool found;
        uint32_t vi = vv_find(dst, src->vv[k].node_id, &found);
        if (!found) {
            memmove(dst->vv + vi + 1, dst->vv + vi, (dst->vv_len - vi) * sizeof *dst->vv);
            dst->vv[vi] = (struct cs_dot){src->vv[k].node_id, 0};
            dst->vv_len++;
        }
        if (src->vv[k].counter > dst->vv[vi].counter) {
            dst->vv[vi].counter = src->vv[k].counter;
            ctx_compact_node(dst, vi);
        }
    }
    for (uint32_t k = 0; k < src->cloud_len; k++) {
        int rc = crdt_ctx_add(dst, src->cloud[k]);
        CS_ASSERT(rc == 0); /* room and limits were checked by the caller */
    }
    return 0;
}

int crdt_ctx_join(struct cs_crdt_ctx *dst, const struct cs_crdt_ctx *src)
{
    if (src->vv_len == 0 && src->cloud_len == 0) return 0;
    if (src->vv_len + src->cloud_len <= CTX_JOIN_SMALL &&
        dst->vv_len + src->vv_len + src->cloud_len <= CS_CRDT_NODES_MAX &&
        dst->cloud_len + src->cloud_len <= CS_CRDT_CLOUD_DOTS_MAX) {
        return ctx_join_small(dst, src);
    }
    size_t vv_max = (size_t)dst->vv_len + src->vv_len;
    size_t cloud_max = (size_t)dst->cloud_len + src->cloud_len;
    /* A cloud dot (n, 1) may open a new vector entry: room for those too. */
    struct cs_dot *vv = malloc((vv_max + cloud_max + 1) * sizeof *vv);
    struct cs_dot *cloud = malloc((cloud_max + 1) * sizeof *cloud);
    if (vv == NULL || cloud == NULL) {
        free(vv);
        free(cloud);
        return CS_ENOMEM;
    }
    size_t i = 0, j = 0, n = 0;
    while (i < dst->vv_len || j < src->vv_len) {
        if (j == src->vv_len || (i < dst->vv_len && dst->vv[i].node_id < src->vv[j].node_id)) {
            vv[n++] = dst->vv[i++];
        } else if (i == dst->vv_len || src->vv[j].node_id < dst->vv[i].node_id) {
            vv[n++] = src->vv[j++];
        } else {
            uint64_t a = dst->vv[i].counter, b = src->vv[j].counter;
            vv[n++] = (struct cs_dot){dst->vv[i].node_id, a > b ? a : b};
            i++;
            j++;
        }
    }
    size_t vv_len = n;
    if (vv_len > CS_CRDT_NODES_MAX) goto too_big;
    /* Union of clouds, compacted against vv in the same pass (both sorted by node). */
    i = j = n = 0;
    size_t vi = 0;
    while (i < dst->cloud_len || j < src->cloud_len) {
        struct cs_dot d;
        if (j == src->cloud_len ||
            (i < dst->cloud_len && crdt_dot_cmp(dst->cloud[i], src->cloud[j]) < 0)) {
            d = dst->cloud[i++];
        } else if (i == dst->cloud_len || crdt_dot_cmp(src->cloud[j], dst->cloud[i]) < 0) {
            d = src->cloud[j++];
        } else {
            d = dst->cloud[i++];
            j++;
        }
        while (vi < vv_len && vv[vi].node_id < d.node_id)
            vi++;
        if (vi < vv_len && vv[vi].node_id == d.node_id) {
            if (d.counter <= vv[vi].counter) continue;
            if (d.counter == vv[vi].counter + 1) {
                vv[vi].counter++;
                continue;
            }
        } else if (d.counter == 1) {
            /* A new vector entry; insert it in order. */
            if (vv_len >= CS_CRDT_NODES_MAX) goto too_big;
            memmove(vv + vi + 1, vv + vi, (vv_len - vi) * sizeof *vv);
            vv[vi] = (struct cs_dot){d.node_id, 1};
            vv_len++;
            continue;
        }
        cloud[n++] = d;
    }
    if (n > CS_CRDT_CLOUD_DOTS_MAX) goto too_big;
    free(dst->vv);
    free(dst->cloud);
    dst->vv = vv;
    dst->vv_len = (uint32_t)vv_len;
    dst->vv_cap = (uint32_t)(vv_max + cloud_max + 1);
    dst->cloud = cloud;
    dst->cloud_len = (uint32_t)n;
    dst->cloud_cap = (uint32_t)(cloud_max + 1);
    return 0;
too_big:
    free(vv);
    free(cloud);
    return CS_ETOOBIG;
}

bool crdt_ctx_equal(const struct cs_crdt_ctx *a, const struct cs_crdt_ctx *b)
{
    return a->vv_len == b->vv_len && a->cloud_len == b->cloud_len &&
           (a->vv_len == 0 || memcmp(a->vv, b->vv, a->vv_len * sizeof *a->vv) == 0) &&
           (a->cloud_len == 0 || memcmp(a->cloud, b->cloud, a->cloud_len * sizeof *a->cloud) == 0);
}

/* a <= b: every dot of a is in b. b's cloud never touches its vector, so a
 * contiguous run 1..k is covered only by b's vector. */
bool crdt_ctx_leq(const struct cs_crdt_ctx *a, const struct cs_crdt_ctx *b)
{
    for (uint32_t i = 0; i < a->vv_len; i++) {
        if (vv_get(b, a->vv[i].node_id) < a->vv[i].counter) return false;
    }
    for (uint32_t i = 0; i < a->cloud_len; i++) {
        if (!crdt_ctx_contains(b, a->cloud[i])) return false;
    }
    return true;
}

int crdt_ctx_copy(struct cs_crdt_ctx *dst, const struct cs_crdt_ctx *src)
{
    if (dots_reserve(&dst->vv, &dst->vv_cap, src->vv_len) ||
        dots_reserve(&dst->cloud, &dst->cloud_cap, src->cloud_len)) {
        return CS_ENOMEM;
    }
    if (src->vv_len) memcpy(dst->vv, src->vv, src->vv_len * sizeof *src->vv);
    if (src->cloud_len) memcpy(dst->cloud, src->cloud, src->cloud_len * sizeof *src->cloud);
    dst->vv_len = src->vv_len;
    dst->cloud_len = src->cloud_len;
    return 0;
}

/* vv: count, then (node, counter) by ascending node; cloud: count, then
 * (node, counter) by ascending (node, counter). */
int crdt_ctx_encode(const struct cs_crdt_ctx *c, struct cs_buf *out)
{
    cs_put_uvarint(out, c->vv_len);
    for (uint32_t i = 0; i < c->vv_len; i++) {
        cs_put_uvarint(out, c->vv[i].node_id);
        cs_put_uvarint(out, c->vv[i].counter);
    }
    cs_put_uvarint(out, c->cloud_len);
    for (uint32_t i = 0; i < c->cloud_len; i++) {
        cs_put_uvarint(out, c->cloud[i].node_id);
        cs_put_uvarint(out, c->cloud[i].counter);
    }
    return cs_buf_error(out);
}

/* Decodes into an empty context and insists on the canonical (compact) form. */
int crdt_ctx_decode(struct cs_crdt_ctx *c, struct cs_reader *r)
{
    CS_ASSERT(c->vv_len == 0 && c->cloud_len == 0);
    uint64_t n;
    int rc = cs_get_count(r, &n, CS_CRDT_NODES_MAX, 2);
    if (rc) return rc;
    if (dots_reserve(&c->vv, &c->vv_cap, n)) return CS_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        struct cs_dot d;
        if ((rc = crdt_get_node(r, &d.node_id)) ||
            (rc = cs_get_uvarint_max(r, &d.counter, CS_CRDT_DOT_COUNTER_MAX))) {
            return rc;
        }
        if (d.counter == 0) return CS_EDECODE;
        if (i > 0 && c->vv[i - 1].node_id >= d.node_id) return CS_EDECODE;
        c->vv[c->vv_len++] = d;
    }
    if ((rc = cs_get_count(r, &n, CS_CRDT_CLOUD_DOTS_MAX, 2))) return rc;
    if (dots_reserve(&c->cloud, &c->cloud_cap, n)) return CS_ENOMEM;
    for (uint64_t i = 0; i < n; i++) {
        struct cs_dot d;
        if ((rc = crdt_get_node(r, &d.node_id)) ||
            (rc = cs_get_uvarint_max(r, &d.counter, CS_CRDT_DOT_COUNTER_MAX))) {
            return rc;
        }
        if (d.counter == 0) return CS_EDECODE;
        if (i > 0 && crdt_dot_cmp(c->cloud[i - 1], d) >= 0) return CS_EDECODE;
        /* Compact form: not covered by the vector and not right after it. */
        if (d.counter <= vv_get(c, d.node_id) + 1) return CS_EDECODE;
        c->cloud[c->cloud_len++] = d;
    }
    return 0;
}

size_t crdt_ctx_mem_bytes(const struct cs_crdt_ctx *c)
{
    return ((size_t)c->vv_cap + c->cloud_cap) * sizeof(struct cs_dot);
}

static int dot_qsort_cmp(const void *a, const void *b)
{
    return crdt_dot_cmp(*(const struct cs_dot *)a, *(const struct cs_dot *)b);
}

/* Sort, then build a compact context of the dots (runs from 1 go to the
 * vector), then join it: O(k log k) for k dots instead of k cloud inserts. */
int crdt_ctx_add_dots(struct cs_crdt_ctx *ctx, struct crdt_dotvec *v)
{
    if (v->len == 0) return 0;
    qsort(v->dots, v->len, sizeof *v->dots, dot_qsort_cmp);
    struct cs_crdt_ctx tmp;
    crdt_ctx_init(&tmp);
    int rc = 0;
    tmp.vv = malloc(v->len * sizeof *tmp.vv);
    tmp.cloud = malloc(v->len * sizeof *tmp.cloud);
    if (tmp.vv == NULL || tmp.cloud == NULL) rc = CS_ENOMEM;
    tmp.vv_cap = tmp.cloud_cap = (uint32_t)v->len;
    for (size_t i = 0; rc == 0 && i < v->len; i++) {
        struct cs_dot d = v->dots[i];
        if (i > 0 && crdt_dot_cmp(v->dots[i - 1], d) == 0) continue;
        struct cs_dot *last = tmp.vv_len ? &tmp.vv[tmp.vv_len - 1] : NULL;
        if (last && last->node_id == d.node_id && last->counter + 1 == d.counter &&
            (tmp.cloud_len == 0 || tmp.cloud[tmp.cloud_len - 1].node_id != d.node_id)) {
            last->counter++;
        } else if (d.counter == 1) {
            if (tmp.vv_len >= CS_CRDT_NODES_MAX)
                rc = CS_ETOOBIG;
            else
                tmp.vv[tmp.vv_len++] = d;
        } else if (tmp.cloud_len >= CS_CRDT_CLOUD_DOTS_MAX) {
            rc = CS_ETOOBIG;
        } else {
            tmp.cloud[tmp.cloud_len++] = d;
        }
    }
    if (rc == 0) rc = crdt_ctx_join(ctx, &tmp);
    crdt_ctx_free(&tmp);
    return rc;
}
