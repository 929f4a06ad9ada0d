/*
 * dots.c: the two dot stores of the causal CRDTs (Almeida et al. section 5).
 *
 * A dot-set map (member -> dots) is the OR-Set and every set nested in an
 * OR-Map; a dot function (dot -> payload) is the MV-Register and every
 * register or counter nested in an OR-Map. Both join with one rule: a dot
 * survives if both stores hold it, or if one holds it and the other's
 * context has never seen it. A dot seen and no longer held was removed, so
 * the join removes it too: that is why no tombstone is needed.
 *
 * The join walks the source table, then the destination table, each once:
 * O(n + m) expected, with dots per member sorted and merged linearly.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

/* ---- dot-set maps ---- */

static size_t elem_payload(uint32_t dots_len)
{
    return (size_t)dots_len * sizeof(struct cs_dot);
}

void crdt_elems_free(struct cs_crdt_table *t)
{
    crdt_keyset_free(t);
}

/* Set e's dots to dots[0..n) (n >= 1), reallocating when the count changes. */
static int elem_set_dots(struct cs_crdt_table *t, struct crdt_entry **e, const struct cs_dot *dots,
                         size_t n)
{
    CS_ASSERT(n >= 1 && n <= CS_CRDT_DOTS_PER_ENTRY_MAX);
    struct crdt_entry *cur = *e;
    if (n > cur->aux) {
        uint32_t slot = crdt_table_slot(t, cur);
        struct crdt_entry *grown = realloc(cur, crdt_entry_bytes(cur->key_len, elem_payload(n)));
        if (grown == NULL) return CS_ENOMEM;
        crdt_table_set_slot(t, slot, grown);
        cur = *e = grown;
    }
    memmove(crdt_elem_dots(cur), dots, n * sizeof *dots);
    cur->aux = (uint32_t)n;
    return 0;
}

static int elem_insert(struct cs_crdt_table *t, const void *key, size_t key_len,
                       const struct cs_dot *dots, size_t n)
{
    CS_ASSERT(n >= 1);
    struct crdt_entry *e = crdt_entry_new(key, key_len, elem_payload((uint32_t)n));
    if (e == NULL) return CS_ENOMEM;
    e->aux = (uint32_t)n;
    memcpy(crdt_elem_dots(e), dots, n * sizeof *dots);
    int rc = crdt_table_insert(t, e);
    if (rc) free(e);
    return rc;
}

static void elem_drop(struct cs_crdt_table *t, struct crdt_entry *e)
{
    crdt_table_delete(t, e);
    free(e);
}

/* Phase one marks the destination members it joined (a high bit of aux, the
 * dot count) so phase two need not look each member up in the source. */
#define ELEM_JOINED 0x80000000u
_Static_assert(CS_CRDT_DOTS_PER_ENTRY_MAX < ELEM_JOINED, "the mark bit is free in a dot count");

static uint32_t elem_dots_len(const struct crdt_entry *e)
{
    return e->aux & ~ELEM_JOINED;
}

static void elems_unmark(struct cs_crdt_table *t)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL)
        e->aux &= ~ELEM_JOINED;
}

/*
 * What phase one saw, for the delta fast path: the destination members it
 * joined, and the dots they held before. Bounded; past the bounds the fast
 * path is simply not taken.
 */
#define JOIN_NOTE_ENTRIES_MAX 64u
#define JOIN_NOTE_DOTS_MAX    256u

struct join_note {
    struct crdt_entry *entries[JOIN_NOTE_ENTRIES_MAX];
    uint32_t entries_len;
    struct cs_dot dots[JOIN_NOTE_DOTS_MAX];
    uint32_t dots_len;
    bool overflow;
};

static void note_entry(struct join_note *note, struct crdt_entry *e, const struct cs_dot *old,
                       uint32_t old_len)
{
    if (note->entries_len == JOIN_NOTE_ENTRIES_MAX ||
        note->dots_len + old_len > JOIN_NOTE_DOTS_MAX) {
        note->overflow = true;
        return;
    }
    note->entries[note->entries_len++] = e;
    if (old_len) memcpy(note->dots + note->dots_len, old, old_len * sizeof *old);
    note->dots_len += old_len;
}

/* Members the source holds: join dot sets, or take the unseen dots. */
static int elems_join_source(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                             const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                             struct join_note *note)
{
    struct cs_dot scratch[2 * CS_CRDT_DOTS_PER_ENTRY_MAX];
    uint32_t slot = 0;
    struct crdt_entry *e;
    int rc;
    while ((e = crdt_table_next(src, &slot)) != NULL) {
        struct crdt_entry *f = crdt_table_find(dst, e->key, e->key_len);
        size_t n;
        if (f != NULL) {
            n = crdt_dots_join(crdt_elem_dots(f), elem_dots_len(f), dst_ctx, crdt_elem_dots(e),
                               e->aux, src_ctx, scratch);
            /* The old dots, noted before they are overwritten. */
            if (n == 0) {
                note_entry(note, NULL, crdt_elem_dots(f), elem_dots_len(f));
                elem_drop(dst, f);
                continue;
            }
            if (n > CS_CRDT_DOTS_PER_ENTRY_MAX) return CS_ETOOBIG;
            struct cs_dot old[CS_CRDT_DOTS_PER_ENTRY_MAX];
            uint32_t old_len = elem_dots_len(f);
            memcpy(old, crdt_elem_dots(f), old_len * sizeof *old);
            f->aux = old_len;
            if ((rc = elem_set_dots(dst, &f, scratch, n))) return rc;
            f->aux |= ELEM_JOINED;
            note_entry(note, f, old, old_len);
            continue;
        }
        n = crdt_dots_join(NULL, 0, dst_ctx, crdt_elem_dots(e), e->aux, src_ctx, scratch);
        if (n == 0) continue;
        if ((rc = elem_insert(dst, e->key, e->key_len, scratch, n))) return rc;
        f = crdt_table_find(dst, e->key, e->key_len);
        f->aux |= ELEM_JOINED;
        note_entry(note, f, NULL, 0);
    }
    return 0;
}

/*
 * The delta fast path: members phase one did not join cannot lose a dot when
 * the source is small and every dot its context covers is harmless (the new
 * dot of an add is unseen here; its replaced dots belonged to the member phase
 * one joined). Phase two, a walk over the whole destination, is then skipped:
 * merging an add's delta is O(delta) instead of O(set).
 */
static bool elems_phase_two_needed(const struct cs_crdt_table *src,
                                   const struct cs_crdt_ctx *src_ctx,
                                   const struct cs_crdt_ctx *dst_ctx, const struct join_note *note)
{
    if (note->overflow || src->len > JOIN_NOTE_ENTRIES_MAX) return true;
    return !crdt_ctx_harmless(src_ctx, dst_ctx, note->dots, note->dots_len);
}

static void note_unmark(struct join_note *note)
{
    for (uint32_t i = 0; i < note->entries_len; i++) {
        if (note->entries[i]) note->entries[i]->aux &= ~ELEM_JOINED;
    }
}

/*
 * Members a remove's delta names as hints: do to each, now, what phase two
 * would (drop the dots the source's context has seen), and note it as joined
 * so the fast path can skip the walk. A wrong hint costs a lookup, nothing
 * more: the fast path still checks every dot of the context.
 */
static void elems_join_hints(struct cs_crdt_table *dst, const struct cs_crdt_table *src,
                             const struct cs_crdt_ctx *src_ctx, const struct cs_crdt_table *hints,
                             struct join_note *note)
{
    uint32_t slot = 0;
    struct crdt_entry *h;
    while ((h = crdt_table_next(hints, &slot)) != NULL) {
        if (crdt_table_find(src, h->key, h->key_len) != NULL) continue; /* joined already */
        struct crdt_entry *f = crdt_table_find(dst, h->key, h->key_len);
        if (f == NULL || (f->aux & ELEM_JOINED)) continue;
        struct cs_dot *dots = crdt_elem_dots(f);
        uint32_t len = elem_dots_len(f), kept = 0;
        bool listed = !note->overflow;
        note_entry(note, f, dots, len);
        listed = listed && !note->overflow;
        for (uint32_t i = 0; i < len; i++) {
            if (!crdt_ctx_contains(src_ctx, dots[i])) dots[kept++] = dots[i];
        }
        if (kept == 0) {
            if (listed) note->entries[note->entries_len - 1] = NULL;
            elem_drop(dst, f);
        } else {
            f->aux = kept | ELEM_JOINED;
        }
    }
}

int crdt_elems_join(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                    const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                    const struct cs_crdt_table *hints)
{
    struct join_note note;
    note.entries_len = note.dots_len = 0;
    note.overflow = false;
    int rc = elems_join_source(dst, dst_ctx, src, src_ctx, &note);
    if (rc) {
        elems_unmark(dst);
        return rc;
    }
    if (hints != NULL) elems_join_hints(dst, src, src_ctx, hints, &note);
    if (!elems_phase_two_needed(src, src_ctx, dst_ctx, &note)) {
        note_unmark(&note);
        return 0;
    }
    bool src_saw_nothing = src_ctx->vv_len == 0 && src_ctx->cloud_len == 0;
    /* Members only the destination holds: drop the dots the source saw removed. */
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(dst, &slot)) != NULL) {
        if (e->aux & ELEM_JOINED) {
            e->aux &= ~ELEM_JOINED;
            continue;
        }
        if (src_saw_nothing) continue;
        struct cs_dot *dots = crdt_elem_dots(e);
        uint32_t kept = 0;
        for (uint32_t i = 0; i < e->aux; i++) {
            if (!crdt_ctx_contains(src_ctx, dots[i])) dots[kept++] = dots[i];
        }
        if (kept == 0) {
            elem_drop(dst, e);
        } else {
            e->aux = kept;
        }
    }
    return 0;
}

int crdt_elems_add(struct cs_crdt_table *t, struct cs_crdt_ctx *ctx, struct cs_dot dot,
                   const void *member, size_t member_len, struct cs_crdt_table *delta_tbl,
                   struct cs_crdt_ctx *delta_ctx)
{
    struct crdt_entry *e = crdt_table_find(t, member, member_len);
    int rc;
    if (delta_tbl != NULL) {
        /* The delta: the member with just the new dot; its context covers the
         * dots this add replaces and the new dot. */
        if ((rc = elem_insert(delta_tbl, member, member_len, &dot, 1))) return rc;
        for (uint32_t i = 0; e != NULL && i < e->aux; i++) {
            if ((rc = crdt_ctx_add(delta_ctx, crdt_elem_dots(e)[i]))) return rc;
        }
        if ((rc = crdt_ctx_add(delta_ctx, dot))) return rc;
    }
    if ((rc = crdt_ctx_add(ctx, dot))) return rc;
    if (e != NULL) return elem_set_dots(t, &e, &dot, 1);
    return elem_insert(t, member, member_len, &dot, 1);
}

int crdt_elems_copy(struct cs_crdt_table *dst, const struct cs_crdt_table *src)
{
    crdt_elems_free(dst);
    int rc = crdt_table_reserve(dst, src->len);
    uint32_t slot = 0;
    struct crdt_entry *e;
    while (rc == 0 && (e = crdt_table_next(src, &slot)) != NULL) {
        rc = elem_insert(dst, e->key, e->key_len, crdt_elem_dots(e), e->aux);
    }
    return rc;
}

bool crdt_elems_equal(const struct cs_crdt_table *a, const struct cs_crdt_table *b)
{
    if (a->len != b->len) return false;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(a, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(b, e->key, e->key_len);
        if (f == NULL || f->aux != e->aux ||
            memcmp(crdt_elem_dots(e), crdt_elem_dots(f), elem_payload(e->aux)) != 0) {
            return false;
        }
    }
    return true;
}

/* count, then sorted (member bytes, dots count, (node, counter)...). */
int crdt_elems_encode(const struct cs_crdt_table *t, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(t, &all)) return CS_ENOMEM;
    cs_put_uvarint(out, t->len);
    for (uint32_t i = 0; i < t->len; i++) {
        cs_put_bytes(out, all[i]->key, all[i]->key_len);
        cs_put_uvarint(out, all[i]->aux);
        const struct cs_dot *dots = crdt_elem_dots(all[i]);
        for (uint32_t k = 0; k < all[i]->aux; k++) {
            cs_put_uvarint(out, dots[k].node_id);
            cs_put_uvarint(out, dots[k].counter);
        }
    }
    free(all);
    return cs_buf_error(out);
}

/* Dots: count in 1..max, each (node, counter) nonzero, strictly ascending. */
static int dots_decode(struct cs_reader *r, struct cs_dot *dots, uint64_t *n)
{
    int rc = cs_get_count(r, n, CS_CRDT_DOTS_PER_ENTRY_MAX, 2);
    if (rc) return rc;
    if (*n == 0) return CS_EDECODE;
    for (uint64_t k = 0; k < *n; k++) {
        if ((rc = crdt_get_node(r, &dots[k].node_id))) return rc;
        if ((rc = cs_get_uvarint_max(r, &dots[k].counter, CS_CRDT_DOT_COUNTER_MAX))) return rc;
        if (dots[k].counter == 0) return CS_EDECODE;
        if (k > 0 && crdt_dot_cmp(dots[k - 1], dots[k]) >= 0) return CS_EDECODE;
    }
    return 0;
}

static int dot_sort_cmp(const void *a, const void *b)
{
    return crdt_dot_cmp(*(const struct cs_dot *)a, *(const struct cs_dot *)b);
}

/* Whether no dot is held by two members (a dot is one add of one member). */
static bool elems_dots_unique(const struct cs_crdt_table *t)
{
    struct crdt_dotvec all = {NULL, 0, 0};
    bool ok = crdt_elems_dots_into(t, &all) == 0;
    if (ok && all.len > 1) {
        qsort(all.dots, all.len, sizeof *all.dots, dot_sort_cmp);
        for (size_t i = 1; i < all.len && ok; i++)
            ok = crdt_dot_cmp(all.dots[i - 1], all.dots[i]) != 0;
    }
    free(all.dots);
    return ok;
}

int crdt_elems_decode(struct cs_crdt_table *t, struct cs_reader *r)
{
    struct cs_dot dots[CS_CRDT_DOTS_PER_ENTRY_MAX];
    uint64_t n;
    int rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, 4);
    if (rc || (rc = crdt_table_reserve(t, n))) return rc;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *m;
        size_t m_len;
        uint64_t dots_len;
        if ((rc = cs_get_bytes(r, &m, &m_len, CS_CRDT_MEMBER_BYTES_MAX))) return rc;
        if (i > 0 && crdt_key_cmp(prev, prev_len, m, m_len) >= 0) return CS_EDECODE;
        prev = m;
        prev_len = m_len;
        if ((rc = dots_decode(r, dots, &dots_len))) return rc;
        if ((rc = elem_insert(t, m, m_len, dots, dots_len))) return rc;
    }
    return elems_dots_unique(t) ? 0 : CS_EDECODE;
}

size_t crdt_elems_mem_bytes(const struct cs_crdt_table *t)
{
    size_t bytes = crdt_table_mem_bytes(t);
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        bytes += crdt_entry_bytes(e->key_len, elem_payload(e->aux));
    }
    return bytes;
}

int crdt_dotvec_push(struct crdt_dotvec *v, struct cs_dot d)
{
    if (v->len == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 16;
        struct cs_dot *p = realloc(v->dots, cap * sizeof *p);
        if (p == NULL) return CS_ENOMEM;
        v->dots = p;
        v->cap = cap;
    }
    v->dots[v->len++] = d;
    return 0;
}

int crdt_elems_dots_into(const struct cs_crdt_table *t, struct crdt_dotvec *v)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        for (uint32_t i = 0; i < e->aux; i++) {
            int rc = crdt_dotvec_push(v, crdt_elem_dots(e)[i]);
            if (rc) return rc;
        }
    }
    return 0;
}

bool crdt_elems_within(const struct cs_crdt_table *t, const struct cs_crdt_ctx *ctx)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        for (uint32_t i = 0; i < e->aux; i++) {
            if (!crdt_ctx_contains(ctx, crdt_elem_dots(e)[i])) return false;
        }
    }
    return true;
}

/* ---- dot functions ---- */

void crdt_fun_init(struct cs_crdt_dotfun *f)
{
    memset(f, 0, sizeof *f);
}

void crdt_fun_free(struct cs_crdt_dotfun *f)
{
    for (uint32_t i = 0; i < f->len; i++)
        free(f->items[i].value);
    free(f->items);
    crdt_fun_init(f);
}

static int fun_reserve(struct cs_crdt_dotfun *f, size_t need)
{
    if (need <= f->cap) return 0;
    size_t cap = f->cap ? (size_t)f->cap * 2 : 2;
    while (cap < need)
        cap *= 2;
    struct cs_crdt_fun_item *p = realloc(f->items, cap * sizeof *p);
    if (p == NULL) return CS_ENOMEM;
    f->items = p;
    f->cap = (uint32_t)cap;
    return 0;
}

static int item_clone(struct cs_crdt_fun_item *dst, const struct cs_crdt_fun_item *src)
{
    *dst = *src;
    dst->value = NULL;
    if (src->value_len == 0) return 0;
    dst->value = malloc(src->value_len);
    if (dst->value == NULL) return CS_ENOMEM;
    memcpy(dst->value, src->value, src->value_len);
    return 0;
}

int crdt_fun_push(struct cs_crdt_dotfun *f, const struct cs_crdt_fun_item *item)
{
    if (f->len >= CS_CRDT_DOTS_PER_ENTRY_MAX) return CS_ETOOBIG;
    CS_ASSERT(f->len == 0 || crdt_dot_cmp(f->items[f->len - 1].dot, item->dot) < 0);
    int rc = fun_reserve(f, (size_t)f->len + 1);
    if (rc || (rc = item_clone(&f->items[f->len], item))) return rc;
    f->len++;
    return 0;
}

static int item_payload_cmp(const struct cs_crdt_fun_item *a, const struct cs_crdt_fun_item *b)
{
    if (a->count != b->count) return a->count < b->count ? -1 : 1;
    int c = cs_crdt_stamp_cmp(a->stamp, b->stamp);
    if (c != 0) return c;
    return crdt_key_cmp(a->value, a->value_len, b->value, b->value_len);
}

/* The dot-store join over sorted items, into a fresh array of clones; dst
 * unchanged on error. Registers hold few items, so cloning is cheap. */
int crdt_fun_join(struct cs_crdt_dotfun *dst, const struct cs_crdt_ctx *dst_ctx,
                  const struct cs_crdt_dotfun *src, const struct cs_crdt_ctx *src_ctx)
{
    /* Nothing on the source side: drop, in place, what its context saw. */
    if (src->len == 0) {
        uint32_t kept = 0;
        for (uint32_t k = 0; k < dst->len; k++) {
            if (crdt_ctx_contains(src_ctx, dst->items[k].dot)) {
                free(dst->items[k].value);
            } else {
                dst->items[kept++] = dst->items[k];
            }
        }
        dst->len = kept;
        return 0;
    }
    /* The steady state: both hold the same writes. Nothing to build. */
    if (dst->len == src->len) {
        bool same = true;
        for (uint32_t k = 0; k < dst->len && same; k++) {
            same = crdt_dot_cmp(dst->items[k].dot, src->items[k].dot) == 0 &&
                   item_payload_cmp(&dst->items[k], &src->items[k]) >= 0;
        }
        if (same) return 0;
    }
    struct cs_crdt_dotfun out;
    crdt_fun_init(&out);
    int rc = 0;
    uint32_t i = 0, j = 0;
    while (rc == 0 && (i < dst->len || j < src->len)) {
        int c = i == dst->len   ? 1
                : j == src->len ? -1
                                : crdt_dot_cmp(dst->items[i].dot, src->items[j].dot);
        if (c == 0) {
            /* One dot, one write: payloads agree unless a peer is broken or
             * hostile. Keep the larger so the join stays commutative anyway. */
            bool src_wins = item_payload_cmp(&src->items[j], &dst->items[i]) > 0;
            rc = crdt_fun_push(&out, src_wins ? &src->items[j] : &dst->items[i]);
        } else if (c < 0 && !crdt_ctx_contains(src_ctx, dst->items[i].dot)) {
            rc = crdt_fun_push(&out, &dst->items[i]);
        } else if (c > 0 && !crdt_ctx_contains(dst_ctx, src->items[j].dot)) {
            rc = crdt_fun_push(&out, &src->items[j]);
        }
        if (c <= 0) i++;
        if (c >= 0) j++;
    }
    if (rc) {
        crdt_fun_free(&out);
        return rc;
    }
    crdt_fun_free(dst);
    *dst = out;
    return 0;
}

int crdt_fun_copy(struct cs_crdt_dotfun *dst, const struct cs_crdt_dotfun *src)
{
    crdt_fun_free(dst);
    for (uint32_t i = 0; i < src->len; i++) {
        int rc = crdt_fun_push(dst, &src->items[i]);
        if (rc) return rc;
    }
    return 0;
}

bool crdt_fun_equal(const struct cs_crdt_dotfun *a, const struct cs_crdt_dotfun *b)
{
    if (a->len != b->len) return false;
    for (uint32_t i = 0; i < a->len; i++) {
        const struct cs_crdt_fun_item *x = &a->items[i], *y = &b->items[i];
        if (crdt_dot_cmp(x->dot, y->dot) != 0 || cs_crdt_stamp_cmp(x->stamp, y->stamp) != 0 ||
            x->count != y->count ||
            crdt_key_cmp(x->value, x->value_len, y->value, y->value_len) != 0) {
            return false;
        }
    }
    return true;
}

/* count, then per item (node, counter) and the shape's payload. */
int crdt_fun_encode(const struct cs_crdt_dotfun *f, enum crdt_fun_shape shape, struct cs_buf *out)
{
    cs_put_uvarint(out, f->len);
    for (uint32_t i = 0; i < f->len; i++) {
        const struct cs_crdt_fun_item *it = &f->items[i];
        cs_put_uvarint(out, it->dot.node_id);
        cs_put_uvarint(out, it->dot.counter);
        if (shape == CRDT_FUN_COUNT) {
            cs_put_svarint(out, it->count);
            continue;
        }
        if (shape == CRDT_FUN_STAMPED_VALUE) crdt_put_stamp(out, it->stamp);
        cs_put_bytes(out, it->value, it->value_len);
    }
    return cs_buf_error(out);
}

int crdt_fun_decode(struct cs_crdt_dotfun *f, enum crdt_fun_shape shape, struct cs_reader *r)
{
    CS_ASSERT(f->len == 0);
    uint64_t n;
    int rc = cs_get_count(r, &n, CS_CRDT_DOTS_PER_ENTRY_MAX, 3);
    if (rc) return rc;
    for (uint64_t i = 0; i < n; i++) {
        struct cs_crdt_fun_item it;
        memset(&it, 0, sizeof it);
        const uint8_t *v = NULL;
        size_t v_len = 0;
        if ((rc = crdt_get_node(r, &it.dot.node_id)) ||
            (rc = cs_get_uvarint_max(r, &it.dot.counter, CS_CRDT_DOT_COUNTER_MAX))) {
            return rc;
        }
        if (it.dot.counter == 0) return CS_EDECODE;
        if (f->len > 0 && crdt_dot_cmp(f->items[f->len - 1].dot, it.dot) >= 0) return CS_EDECODE;
        if (shape == CRDT_FUN_COUNT) {
            if ((rc = cs_get_svarint(r, &it.count))) return rc;
        } else {
            if (shape == CRDT_FUN_STAMPED_VALUE && (rc = crdt_get_stamp(r, &it.stamp))) return rc;
            if ((rc = cs_get_bytes(r, &v, &v_len, CS_CRDT_VALUE_BYTES_MAX))) return rc;
            it.value = (uint8_t *)(uintptr_t)v;
            it.value_len = (uint32_t)v_len;
        }
        if ((rc = crdt_fun_push(f, &it))) return rc;
    }
    return 0;
}

size_t crdt_fun_mem_bytes(const struct cs_crdt_dotfun *f)
{
    size_t bytes = (size_t)f->cap * sizeof *f->items;
    for (uint32_t i = 0; i < f->len; i++)
        bytes += f->items[i].value_len;
    return bytes;
}

int crdt_fun_dots_into(const struct cs_crdt_dotfun *f, struct crdt_dotvec *v)
{
    for (uint32_t i = 0; i < f->len; i++) {
        int rc = crdt_dotvec_push(v, f->items[i].dot);
        if (rc) return rc;
    }
    return 0;
}

bool crdt_fun_within(const struct cs_crdt_dotfun *f, const struct cs_crdt_ctx *ctx)
{
    for (uint32_t i = 0; i < f->len; i++) {
        if (!crdt_ctx_contains(ctx, f->items[i].dot)) return false;
    }
    return true;
}

static bool dot_in(const struct cs_dot *dots, size_t dots_len, struct cs_dot d)
{
    for (size_t i = 0; i < dots_len; i++) {
        if (crdt_dot_cmp(dots[i], d) == 0) return true;
    }
    return false;
}

/*
 * A dot of the source's context can remove something from a destination
 * member (or field) the first phase did not join only if the destination has
 * seen it (a state holds only dots it has seen) and no joined member held it
 * (within one state a dot is held in one place at most: decoders check it,
 * operations and joins keep it). Nothing here trusts the source to agree with
 * the destination about where a dot lives.
 */
bool crdt_ctx_harmless(const struct cs_crdt_ctx *src_ctx, const struct cs_crdt_ctx *dst_ctx,
                       const struct cs_dot *noted, size_t noted_len)
{
    uint64_t total = src_ctx->cloud_len;
    for (uint32_t i = 0; i < src_ctx->vv_len; i++)
        total += src_ctx->vv[i].counter;
    if (total > CRDT_HARMLESS_DOTS_MAX) return false;
    for (uint32_t i = 0; i < src_ctx->vv_len; i++) {
        for (uint64_t c = 1; c <= src_ctx->vv[i].counter; c++) {
            struct cs_dot d = {src_ctx->vv[i].node_id, c};
            if (crdt_ctx_contains(dst_ctx, d) && !dot_in(noted, noted_len, d)) return false;
        }
    }
    for (uint32_t i = 0; i < src_ctx->cloud_len; i++) {
        struct cs_dot d = src_ctx->cloud[i];
        if (crdt_ctx_contains(dst_ctx, d) && !dot_in(noted, noted_len, d)) return false;
    }
    return true;
}
