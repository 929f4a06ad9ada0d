/*
 * ormap.c: the OR-Map, keys to nested CRDTs, with observed-reset removal
 * (Almeida et al. 2018, section 7.3; Riak's riak_dt_map).
 *
 * The one idea: the whole map, however deep, shares one causal context, and
 * every value is a dot store: counters and registers are dot functions
 * (dot -> a node's running total, a stamped value, a value), sets are
 * dot-set maps, maps are maps of fields. A field exists while its store holds
 * a dot. Removing a field ships the dots it holds as the delta's context and
 * nothing else, so the join erases exactly what the remover had seen: an
 * update concurrent with the remove survives on its own (a counter keeps only
 * the increments the remover did not see), which is "observed-reset".
 *
 * A field is named by (kind, key), stored as the key bytes [kind][key], so
 * two replicas creating the same key with different kinds make two fields
 * instead of a conflict. Nesting depth is bounded by CS_CRDT_DEPTH_MAX and
 * every recursion here is bounded by it.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

/* The value of a field: which member is live depends on the kind in key[0]. */
union field_value {
    struct cs_crdt_dotfun fun;  /* COUNTER, LWWREG, MVREG */
    struct cs_crdt_table table; /* SET (members), MAP (fields) */
};

#define FIELD_KEY_BYTES_MAX (1u + CS_CRDT_MEMBER_BYTES_MAX)

static enum cs_ormap_kind field_kind(const struct crdt_entry *e)
{
    return (enum cs_ormap_kind)e->key[0];
}

static union field_value *field_value(const struct crdt_entry *e)
{
    return crdt_entry_payload(e);
}

static bool kind_is_fun(enum cs_ormap_kind k)
{
    return k == CS_ORMAP_COUNTER || k == CS_ORMAP_LWWREG || k == CS_ORMAP_MVREG;
}

static bool kind_valid(unsigned k)
{
    return k >= CS_ORMAP_COUNTER && k <= CS_ORMAP_MAP;
}

static enum crdt_fun_shape fun_shape(enum cs_ormap_kind k)
{
    return k == CS_ORMAP_COUNTER  ? CRDT_FUN_COUNT
           : k == CS_ORMAP_LWWREG ? CRDT_FUN_STAMPED_VALUE
                                  : CRDT_FUN_VALUE;
}

static void map_free(struct cs_crdt_table *t, uint32_t depth);

static void field_free(struct crdt_entry *e, uint32_t depth)
{
    union field_value *v = field_value(e);
    if (kind_is_fun(field_kind(e))) {
        crdt_fun_free(&v->fun);
    } else if (field_kind(e) == CS_ORMAP_SET) {
        crdt_elems_free(&v->table);
    } else {
        map_free(&v->table, depth + 1);
    }
    free(e);
}

static void map_free(struct cs_crdt_table *t, uint32_t depth)
{
    CS_ASSERT(depth <= CS_CRDT_DEPTH_MAX);
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL)
        field_free(e, depth);
    crdt_table_free(t);
}

static bool field_bottom(const struct crdt_entry *e)
{
    const union field_value *v = field_value(e);
    return kind_is_fun(field_kind(e)) ? v->fun.len == 0 : v->table.len == 0;
}

/* An empty field of the given (kind, key) bytes. */
static struct crdt_entry *field_new(const uint8_t *key, size_t key_len)
{
    struct crdt_entry *e = crdt_entry_new(key, key_len, sizeof(union field_value));
    if (e == NULL) return NULL;
    if (kind_is_fun(field_kind(e))) {
        crdt_fun_init(&field_value(e)->fun);
    } else {
        crdt_table_init(&field_value(e)->table);
    }
    return e;
}

static int map_join(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                    const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                    const struct cs_crdt_table *hints, uint32_t depth);

/* Join src's value into dst's (same kind); src NULL means an empty store. */
static int field_join(struct crdt_entry *dst, const struct cs_crdt_ctx *dst_ctx,
                      const struct crdt_entry *src, const struct cs_crdt_ctx *src_ctx,
                      uint32_t depth)
{
    static const union field_value empty;
    const union field_value *s = src ? field_value(src) : &empty;
    union field_value *d = field_value(dst);
    if (kind_is_fun(field_kind(dst))) return crdt_fun_join(&d->fun, dst_ctx, &s->fun, src_ctx);
    if (field_kind(dst) == CS_ORMAP_SET) {
        return crdt_elems_join(&d->table, dst_ctx, &s->table, src_ctx, NULL);
    }
    return map_join(&d->table, dst_ctx, &s->table, src_ctx, NULL, depth + 1);
}

static void field_drop(struct cs_crdt_table *t, struct crdt_entry *e, uint32_t depth)
{
    crdt_table_delete(t, e);
    field_free(e, depth);
}

/* Phase one marks the destination fields it joined (aux, unused otherwise)
 * so that phase two need not look each field up in the source. */
#define FIELD_JOINED 1u

static void map_unmark(struct cs_crdt_table *t)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL)
        e->aux = 0;
}

/* What phase one joined, for the delta fast path (bounded; past the bounds
 * phase two simply runs). */
#define MAP_NOTE_ENTRIES_MAX 64u
#define MAP_NOTE_DOTS_MAX    256u

struct map_note {
    struct crdt_entry *entries[MAP_NOTE_ENTRIES_MAX];
    uint32_t entries_len;
    struct cs_dot dots[MAP_NOTE_DOTS_MAX];
    uint32_t dots_len;
    bool overflow;
};

static void note_dot(struct map_note *note, struct cs_dot d)
{
    if (note->dots_len == MAP_NOTE_DOTS_MAX) {
        note->overflow = true;
        return;
    }
    note->dots[note->dots_len++] = d;
}

/* Note every dot under field e (stops early once the note overflows). */
static void note_field_dots(const struct crdt_entry *e, struct map_note *note)
{
    const union field_value *v = field_value(e);
    if (kind_is_fun(field_kind(e))) {
        for (uint32_t i = 0; i < v->fun.len && !note->overflow; i++)
            note_dot(note, v->fun.items[i].dot);
        return;
    }
    uint32_t slot = 0;
    struct crdt_entry *x;
    while (!note->overflow && (x = crdt_table_next(&v->table, &slot)) != NULL) {
        if (field_kind(e) == CS_ORMAP_SET) {
            for (uint32_t i = 0; i < x->aux; i++)
                note_dot(note, crdt_elem_dots(x)[i]);
        } else {
            note_field_dots(x, note);
        }
    }
}

static void note_joined(struct map_note *note, struct crdt_entry *f)
{
    f->aux = FIELD_JOINED;
    if (note->entries_len == MAP_NOTE_ENTRIES_MAX) {
        note->overflow = true;
        return;
    }
    note->entries[note->entries_len++] = f;
}

static int map_join_source(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                           const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                           uint32_t depth, struct map_note *note)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    int rc;
    while ((e = crdt_table_next(src, &slot)) != NULL) {
        struct crdt_entry *f = crdt_table_find(dst, e->key, e->key_len);
        if (f != NULL) {
            note_field_dots(f, note); /* what it held before the join */
            if ((rc = field_join(f, dst_ctx, e, src_ctx, depth))) return rc;
            if (field_bottom(f)) {
                field_drop(dst, f, depth);
            } else {
                note_joined(note, f);
            }
            continue;
        }
        if ((f = field_new(e->key, e->key_len)) == NULL) return CS_ENOMEM;
        rc = field_join(f, dst_ctx, e, src_ctx, depth);
        if (rc == 0 && !field_bottom(f)) {
            if ((rc = crdt_table_insert(dst, f)) == 0) {
                note_joined(note, f);
                continue;
            }
        }
        field_free(f, depth);
        if (rc) return rc;
    }
    return 0;
}

/*
 * Fields a remove's delta names as hints: filter each now by the source's
 * context, as phase two would, and note it as joined so that the fast path
 * can skip the walk. A wrong hint costs a lookup and a filter that changes
 * nothing: the fast path still checks every dot of the context.
 */
static int map_join_hints(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                          const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                          const struct cs_crdt_table *hints, uint32_t depth, struct map_note *note)
{
    uint32_t slot = 0;
    struct crdt_entry *h;
    while ((h = crdt_table_next(hints, &slot)) != NULL) {
        if (crdt_table_find(src, h->key, h->key_len) != NULL) continue; /* joined already */
        struct crdt_entry *f = crdt_table_find(dst, h->key, h->key_len);
        if (f == NULL || f->aux == FIELD_JOINED) continue;
        note_field_dots(f, note);
        int rc = field_join(f, dst_ctx, NULL, src_ctx, depth);
        if (rc) return rc;
        if (field_bottom(f)) {
            field_drop(dst, f, depth);
        } else {
            note_joined(note, f);
        }
    }
    return 0;
}

static int map_join(struct cs_crdt_table *dst, const struct cs_crdt_ctx *dst_ctx,
                    const struct cs_crdt_table *src, const struct cs_crdt_ctx *src_ctx,
                    const struct cs_crdt_table *hints, uint32_t depth)
{
    if (depth >= CS_CRDT_DEPTH_MAX) return CS_ETOOBIG;
    struct map_note note;
    note.entries_len = note.dots_len = 0;
    note.overflow = false;
    int rc = map_join_source(dst, dst_ctx, src, src_ctx, depth, &note);
    if (rc == 0 && hints != NULL)
        rc = map_join_hints(dst, dst_ctx, src, src_ctx, hints, depth, &note);
    bool src_saw_nothing = src_ctx->vv_len == 0 && src_ctx->cloud_len == 0;
    if (rc || src_saw_nothing) {
        map_unmark(dst);
        return rc;
    }
    /* The delta fast path: no field phase one left alone can lose a dot. */
    if (!note.overflow && crdt_ctx_harmless(src_ctx, dst_ctx, note.dots, note.dots_len)) {
        for (uint32_t i = 0; i < note.entries_len; i++)
            note.entries[i]->aux = 0;
        return 0;
    }
    /* Fields only the destination holds: drop what the source saw removed. */
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(dst, &slot)) != NULL) {
        if (e->aux == FIELD_JOINED) {
            e->aux = 0;
            continue;
        }
        if ((rc = field_join(e, dst_ctx, NULL, src_ctx, depth))) {
            map_unmark(dst);
            return rc;
        }
        if (field_bottom(e)) field_drop(dst, e, depth);
    }
    return 0;
}

static int map_copy(struct cs_crdt_table *dst, const struct cs_crdt_table *src)
{
    /* Joining into an empty store under an empty context copies. */
    struct cs_crdt_ctx none;
    crdt_ctx_init(&none);
    return map_join(dst, &none, src, &none, NULL, 0);
}

static bool map_equal(const struct cs_crdt_table *a, const struct cs_crdt_table *b);

static bool field_equal(const struct crdt_entry *x, const struct crdt_entry *y)
{
    const union field_value *a = field_value(x), *b = field_value(y);
    if (kind_is_fun(field_kind(x))) return crdt_fun_equal(&a->fun, &b->fun);
    if (field_kind(x) == CS_ORMAP_SET) return crdt_elems_equal(&a->table, &b->table);
    return map_equal(&a->table, &b->table);
}

static bool map_equal(const struct cs_crdt_table *a, const struct cs_crdt_table *b)
{
    if (a->len != b->len) return false;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(a, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(b, e->key, e->key_len);
        if (f == NULL || !field_equal(e, f)) return false;
    }
    return true;
}

/* Every dot under t into v: the context of a remove. */
static int map_dots_into(const struct cs_crdt_table *t, struct crdt_dotvec *v);

static int field_dots_into(const struct crdt_entry *e, struct crdt_dotvec *v)
{
    const union field_value *fv = field_value(e);
    if (kind_is_fun(field_kind(e))) return crdt_fun_dots_into(&fv->fun, v);
    if (field_kind(e) == CS_ORMAP_SET) return crdt_elems_dots_into(&fv->table, v);
    return map_dots_into(&fv->table, v);
}

static int map_dots_into(const struct cs_crdt_table *t, struct crdt_dotvec *v)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        int rc = field_dots_into(e, v);
        if (rc) return rc;
    }
    return 0;
}

/* A state never holds a dot its context has not seen. */
static bool map_within_ctx(const struct cs_crdt_table *t, const struct cs_crdt_ctx *ctx)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        const union field_value *fv = field_value(e);
        bool ok = kind_is_fun(field_kind(e))      ? crdt_fun_within(&fv->fun, ctx)
                  : field_kind(e) == CS_ORMAP_SET ? crdt_elems_within(&fv->table, ctx)
                                                  : map_within_ctx(&fv->table, ctx);
        if (!ok) return false;
    }
    return true;
}

static size_t map_mem_bytes(const struct cs_crdt_table *t)
{
    size_t bytes = crdt_table_mem_bytes(t);
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        const union field_value *v = field_value(e);
        bytes += crdt_entry_bytes(e->key_len, sizeof *v);
        if (kind_is_fun(field_kind(e))) {
            bytes += crdt_fun_mem_bytes(&v->fun);
        } else if (field_kind(e) == CS_ORMAP_SET) {
            bytes += crdt_elems_mem_bytes(&v->table);
        } else {
            bytes += map_mem_bytes(&v->table);
        }
    }
    return bytes;
}

/* ---- encoding: count, sorted (kind u8, key bytes, value by kind) ---- */

static int map_encode(const struct cs_crdt_table *t, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(t, &all)) return CS_ENOMEM;
    cs_put_uvarint(out, t->len);
    int rc = 0;
    for (uint32_t i = 0; i < t->len && rc == 0; i++) {
        const struct crdt_entry *e = all[i];
        const union field_value *v = field_value(e);
        cs_put_u8(out, e->key[0]);
        cs_put_bytes(out, e->key + 1, e->key_len - 1);
        if (kind_is_fun(field_kind(e))) {
            rc = crdt_fun_encode(&v->fun, fun_shape(field_kind(e)), out);
        } else if (field_kind(e) == CS_ORMAP_SET) {
            rc = crdt_elems_encode(&v->table, out);
        } else {
            rc = map_encode(&v->table, out);
        }
    }
    free(all);
    return rc ? rc : cs_buf_error(out);
}

static int map_decode(struct cs_crdt_table *t, struct cs_reader *r, uint32_t depth)
{
    if (depth >= CS_CRDT_DEPTH_MAX) return CS_ETOOBIG;
    uint64_t n;
    int rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, 3);
    if (rc || (rc = crdt_table_reserve(t, n))) return rc;
    uint8_t key[FIELD_KEY_BYTES_MAX], prev[FIELD_KEY_BYTES_MAX];
    size_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint8_t kind;
        const uint8_t *name;
        size_t name_len;
        if ((rc = cs_get_u8(r, &kind))) return rc;
        if (!kind_valid(kind)) return CS_EDECODE;
        if ((rc = cs_get_bytes(r, &name, &name_len, CS_CRDT_MEMBER_BYTES_MAX))) return rc;
        key[0] = kind;
        if (name_len) memcpy(key + 1, name, name_len);
        if (i > 0 && crdt_key_cmp(prev, prev_len, key, name_len + 1) >= 0) return CS_EDECODE;
        memcpy(prev, key, name_len + 1);
        prev_len = name_len + 1;
        struct crdt_entry *e = field_new(key, name_len + 1);
        if (e == NULL) return CS_ENOMEM;
        union field_value *v = field_value(e);
        if (kind_is_fun((enum cs_ormap_kind)kind)) {
            rc = crdt_fun_decode(&v->fun, fun_shape((enum cs_ormap_kind)kind), r);
        } else if (kind == CS_ORMAP_SET) {
            rc = crdt_elems_decode(&v->table, r);
        } else {
            rc = map_decode(&v->table, r, depth + 1);
        }
        if (rc == 0 && field_bottom(e)) rc = CS_EDECODE; /* canonical: no empty fields */
        if (rc == 0) rc = crdt_table_insert(t, e);
        if (rc) {
            field_free(e, depth);
            return rc;
        }
    }
    return 0;
}

static int dot_sort_cmp(const void *a, const void *b)
{
    return crdt_dot_cmp(*(const struct cs_dot *)a, *(const struct cs_dot *)b);
}

/* Whether every dot is held in one place only (a dot is one write). */
static bool map_dots_unique(const struct cs_crdt_table *t)
{
    struct crdt_dotvec all = {NULL, 0, 0};
    bool ok = map_dots_into(t, &all) == 0;
    if (ok && all.len > 1) {
        qsort(all.dots, all.len, sizeof *all.dots, dot_sort_cmp);
        for (size_t i = 1; i < all.len && ok; i++) {
            ok = crdt_dot_cmp(all.dots[i - 1], all.dots[i]) != 0;
        }
    }
    free(all.dots);
    return ok;
}

/* ---- public: lifecycle, join, order, encoding ---- */

void cs_ormap_init(struct cs_ormap *m)
{
    crdt_ctx_init(&m->ctx);
    crdt_table_init(&m->table);
    crdt_table_init(&m->hints);
}

void cs_ormap_free(struct cs_ormap *m)
{
    crdt_ctx_free(&m->ctx);
    map_free(&m->table, 0);
    crdt_keyset_free(&m->hints);
}

static void ormap_clear(struct cs_ormap *m)
{
    crdt_ctx_clear(&m->ctx);
    map_free(&m->table, 0);
    crdt_keyset_free(&m->hints);
}

static size_t step_key(const struct cs_ormap_key *step, uint8_t *key)
{
    key[0] = (uint8_t)step->kind;
    if (step->key_len) memcpy(key + 1, step->key, step->key_len);
    return step->key_len + 1;
}

/* Name path[0] in a remove's delta: the root field the removed dots live in. */
static int ormap_hint(struct cs_ormap *delta, const struct cs_ormap_key *path)
{
    uint8_t key[FIELD_KEY_BYTES_MAX];
    size_t key_len = step_key(path, key);
    struct crdt_entry *e;
    bool created;
    return crdt_keyset_upsert(&delta->hints, key, key_len, 0, &e, &created);
}

int cs_ormap_merge(struct cs_ormap *dst, const struct cs_ormap *src)
{
    int rc = map_join(&dst->table, &dst->ctx, &src->table, &src->ctx, &src->hints, 0);
    if (rc) return rc;
    return crdt_ctx_join(&dst->ctx, &src->ctx);
}

bool cs_ormap_leq(const struct cs_ormap *a, const struct cs_ormap *b)
{
    CRDT_LEQ_BY_JOIN(cs_ormap, a, b);
}

bool cs_ormap_equal(const struct cs_ormap *a, const struct cs_ormap *b)
{
    return crdt_ctx_equal(&a->ctx, &b->ctx) && map_equal(&a->table, &b->table);
}

int cs_ormap_copy(struct cs_ormap *dst, const struct cs_ormap *src)
{
    ormap_clear(dst);
    int rc = crdt_ctx_copy(&dst->ctx, &src->ctx);
    if (rc == 0) rc = map_copy(&dst->table, &src->table);
    if (rc == 0) rc = crdt_keyset_copy(&dst->hints, &src->hints, 0);
    return rc;
}

/* Hints: count, then (kind, key) of root fields, strictly ascending. */
static int hints_encode(const struct cs_crdt_table *hints, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(hints, &all)) return CS_ENOMEM;
    cs_put_uvarint(out, hints->len);
    for (uint32_t i = 0; i < hints->len; i++) {
        cs_put_u8(out, all[i]->key[0]);
        cs_put_bytes(out, all[i]->key + 1, all[i]->key_len - 1);
    }
    free(all);
    return cs_buf_error(out);
}

static int hints_decode(struct cs_crdt_table *hints, struct cs_reader *r)
{
    uint64_t n;
    int rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, 2);
    uint8_t key[FIELD_KEY_BYTES_MAX], prev[FIELD_KEY_BYTES_MAX];
    size_t prev_len = 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        uint8_t kind;
        const uint8_t *name;
        size_t name_len;
        if ((rc = cs_get_u8(r, &kind))) break;
        if (!kind_valid(kind)) return CS_EDECODE;
        if ((rc = cs_get_bytes(r, &name, &name_len, CS_CRDT_MEMBER_BYTES_MAX))) break;
        key[0] = kind;
        if (name_len) memcpy(key + 1, name, name_len);
        if (i > 0 && crdt_key_cmp(prev, prev_len, key, name_len + 1) >= 0) return CS_EDECODE;
        memcpy(prev, key, name_len + 1);
        prev_len = name_len + 1;
        struct crdt_entry *e;
        bool created;
        rc = crdt_keyset_upsert(hints, key, name_len + 1, 0, &e, &created);
    }
    return rc;
}

int cs_ormap_encode(const struct cs_ormap *m, struct cs_buf *out)
{
    crdt_put_header(out, CS_CRDT_ORMAP);
    crdt_ctx_encode(&m->ctx, out);
    int rc = map_encode(&m->table, out);
    return rc ? rc : hints_encode(&m->hints, out);
}

int cs_ormap_decode(struct cs_ormap *m, const void *data, size_t len)
{
    CS_ASSERT(m->table.len == 0);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = crdt_get_header(&r, CS_CRDT_ORMAP);
    if (rc == 0) rc = crdt_ctx_decode(&m->ctx, &r);
    if (rc == 0) rc = map_decode(&m->table, &r, 0);
    if (rc == 0 && !map_within_ctx(&m->table, &m->ctx)) rc = CS_EDECODE;
    if (rc == 0 && !map_dots_unique(&m->table)) rc = CS_EDECODE;
    if (rc == 0) rc = hints_decode(&m->hints, &r);
    if (rc == 0) rc = crdt_decode_end(&r);
    if (rc) ormap_clear(m);
    return rc;
}

size_t cs_ormap_mem_bytes(const struct cs_ormap *m)
{
    return crdt_ctx_mem_bytes(&m->ctx) + map_mem_bytes(&m->table) +
           crdt_keyset_mem_bytes(&m->hints, 0);
}

/* ---- paths ---- */

static int path_check(const struct cs_ormap_key *path, size_t path_len, enum cs_ormap_kind leaf)
{
    if (path == NULL || path_len == 0) return CS_EINVAL;
    if (path_len > CS_CRDT_DEPTH_MAX) return CS_ETOOBIG;
    for (size_t i = 0; i < path_len; i++) {
        if (path[i].key_len > CS_CRDT_MEMBER_BYTES_MAX) return CS_ETOOBIG;
        if (path[i].key == NULL && path[i].key_len) return CS_EINVAL;
        if (!kind_valid((unsigned)path[i].kind)) return CS_EINVAL;
        enum cs_ormap_kind want = i + 1 < path_len ? CS_ORMAP_MAP : leaf;
        if (path[i].kind != want) return CS_EINVAL;
    }
    return 0;
}

/*
 * The field at path in t. With create, missing fields are made (empty);
 * parents[i] receives the table that holds step i. NULL if absent (no create)
 * or on ENOMEM/ETOOBIG (*rc set).
 */
static struct crdt_entry *path_walk(struct cs_crdt_table *t, const struct cs_ormap_key *path,
                                    size_t path_len, bool create, struct cs_crdt_table **parents,
                                    int *rc)
{
    uint8_t key[FIELD_KEY_BYTES_MAX];
    struct crdt_entry *e = NULL;
    *rc = 0;
    for (size_t i = 0; i < path_len; i++) {
        size_t key_len = step_key(&path[i], key);
        if (parents) parents[i] = t;
        e = crdt_table_find(t, key, key_len);
        if (e == NULL) {
            if (!create) return NULL;
            if ((e = field_new(key, key_len)) == NULL) {
                *rc = CS_ENOMEM;
                return NULL;
            }
            if ((*rc = crdt_table_insert(t, e))) {
                field_free(e, (uint32_t)i);
                return NULL;
            }
        }
        t = &field_value(e)->table;
    }
    return e;
}

/* Drop empty fields along path from the leaf up: the state stays canonical. */
static void path_prune(struct cs_crdt_table *root, const struct cs_ormap_key *path, size_t path_len)
{
    struct cs_crdt_table *parents[CS_CRDT_DEPTH_MAX];
    int rc;
    struct crdt_entry *leaf = path_walk(root, path, path_len, false, parents, &rc);
    if (leaf == NULL) path_len = 0;
    for (size_t i = path_len; i-- > 0;) {
        uint8_t key[FIELD_KEY_BYTES_MAX];
        size_t key_len = step_key(&path[i], key);
        struct crdt_entry *e = crdt_table_find(parents[i], key, key_len);
        if (e == NULL || !field_bottom(e)) return;
        field_drop(parents[i], e, (uint32_t)i);
    }
}

static const struct crdt_entry *path_find(const struct cs_ormap *m, const struct cs_ormap_key *path,
                                          size_t path_len, enum cs_ormap_kind leaf, int *rc)
{
    if ((*rc = path_check(path, path_len, leaf))) return NULL;
    const struct crdt_entry *e =
        path_walk((struct cs_crdt_table *)(uintptr_t)&m->table, path, path_len, false, NULL, rc);
    if (e == NULL) *rc = CS_ENOTFOUND;
    return e;
}

/* ---- mutations ---- */

/* Start a mutation: validate, reset the delta. */
static int op_begin(const struct cs_ormap *m, struct cs_ormap *delta,
                    const struct cs_ormap_key *path, size_t path_len, enum cs_ormap_kind leaf)
{
    CS_ASSERT(delta != m); /* a delta is a separate state */
    int rc = path_check(path, path_len, leaf);
    if (rc == 0 && delta) ormap_clear(delta);
    return rc;
}

/*
 * Replace the items of a dot function: drop those selected (all, or those of
 * one node), add item; dropped dots go to delta_ctx. The new dot is above
 * every dot of its node, so the item lands in order.
 */
static int fun_replace(struct cs_crdt_dotfun *f, bool only_node,
                       const struct cs_crdt_fun_item *item, struct cs_crdt_ctx *delta_ctx)
{
    struct cs_crdt_dotfun fresh;
    crdt_fun_init(&fresh);
    int rc = 0;
    bool placed = false;
    for (uint32_t i = 0; i < f->len && rc == 0; i++) {
        const struct cs_crdt_fun_item *it = &f->items[i];
        if (!placed && crdt_dot_cmp(item->dot, it->dot) < 0) {
            rc = crdt_fun_push(&fresh, item);
            placed = true;
            if (rc) break;
        }
        if (!only_node || it->dot.node_id == item->dot.node_id) {
            if (delta_ctx) rc = crdt_ctx_add(delta_ctx, it->dot);
        } else {
            rc = crdt_fun_push(&fresh, it);
        }
    }
    if (rc == 0 && !placed) rc = crdt_fun_push(&fresh, item);
    if (rc) {
        crdt_fun_free(&fresh);
        return rc;
    }
    crdt_fun_free(f);
    *f = fresh;
    return 0;
}

/* Apply a dot-function write at path in m (and the same shape in delta). */
static int fun_write(struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                     bool only_node, const struct cs_crdt_fun_item *item, struct cs_ormap *delta)
{
    int rc;
    struct crdt_entry *e = path_walk(&m->table, path, path_len, true, NULL, &rc);
    if (e == NULL) return rc;
    if (delta) {
        struct crdt_entry *d = path_walk(&delta->table, path, path_len, true, NULL, &rc);
        if (d == NULL || (rc = crdt_fun_push(&field_value(d)->fun, item))) goto fail;
        /* The delta's context: the replaced dots (collected below) and the new one. */
        for (uint32_t i = 0; i < field_value(e)->fun.len; i++) {
            const struct cs_dot dot = field_value(e)->fun.items[i].dot;
            if ((!only_node || dot.node_id == item->dot.node_id) &&
                (rc = crdt_ctx_add(&delta->ctx, dot))) {
                goto fail;
            }
        }
        if ((rc = crdt_ctx_add(&delta->ctx, item->dot))) goto fail;
    }
    if ((rc = crdt_ctx_add(&m->ctx, item->dot))) goto fail;
    if ((rc = fun_replace(&field_value(e)->fun, only_node, item, NULL))) goto fail;
    return 0;
fail:
    CS_ASSERT(rc != 0);
    path_prune(&m->table, path, path_len);
    if (delta) ormap_clear(delta);
    return rc;
}

int cs_ormap_counter_add(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                         size_t path_len, int64_t amount, struct cs_ormap *delta)
{
    int rc = op_begin(m, delta, path, path_len, CS_ORMAP_COUNTER);
    if (rc) return rc;
    if (node == 0 || amount == 0) return CS_EINVAL;
    /* The node's running total: the sum of its items (several only after a
     * remove it has not yet seen everywhere). */
    int64_t base = 0;
    const struct crdt_entry *e = path_find(m, path, path_len, CS_ORMAP_COUNTER, &rc);
    for (uint32_t i = 0; e != NULL && i < field_value(e)->fun.len; i++) {
        const struct cs_crdt_fun_item *it = &field_value(e)->fun.items[i];
        if (it->dot.node_id != node) continue;
        if (__builtin_add_overflow(base, it->count, &base)) return CS_EOVERFLOW;
    }
    struct cs_crdt_fun_item item;
    memset(&item, 0, sizeof item);
    if (__builtin_add_overflow(base, amount, &item.count)) return CS_EOVERFLOW;
    if ((rc = crdt_ctx_next(&m->ctx, node, &item.dot))) return rc;
    return fun_write(m, path, path_len, true, &item, delta);
}

int cs_ormap_lwwreg_set(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                        size_t path_len, struct cs_crdt_stamp stamp, const void *value,
                        size_t value_len, struct cs_ormap *delta)
{
    int rc = op_begin(m, delta, path, path_len, CS_ORMAP_LWWREG);
    if (rc) return rc;
    if (node == 0 || !crdt_stamp_valid(stamp) || (value == NULL && value_len)) return CS_EINVAL;
    if (value_len > CS_CRDT_VALUE_BYTES_MAX) return CS_ETOOBIG;
    const struct crdt_entry *e = path_find(m, path, path_len, CS_ORMAP_LWWREG, &rc);
    for (uint32_t i = 0; e != NULL && i < field_value(e)->fun.len; i++) {
        if (cs_crdt_stamp_cmp(field_value(e)->fun.items[i].stamp, stamp) >= 0) return 0; /* loses */
    }
    struct cs_crdt_fun_item item;
    memset(&item, 0, sizeof item);
    if ((rc = crdt_ctx_next(&m->ctx, node, &item.dot))) return rc;
    item.stamp = stamp;
    item.value = (uint8_t *)(uintptr_t)value;
    item.value_len = (uint32_t)value_len;
    return fun_write(m, path, path_len, false, &item, delta);
}

int cs_ormap_mvreg_write(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                         size_t path_len, const void *value, size_t value_len,
                         struct cs_ormap *delta)
{
    int rc = op_begin(m, delta, path, path_len, CS_ORMAP_MVREG);
    if (rc) return rc;
    if (node == 0 || (value == NULL && value_len)) return CS_EINVAL;
    if (value_len > CS_CRDT_VALUE_BYTES_MAX) return CS_ETOOBIG;
    struct cs_crdt_fun_item item;
    memset(&item, 0, sizeof item);
    if ((rc = crdt_ctx_next(&m->ctx, node, &item.dot))) return rc;
    item.value = (uint8_t *)(uintptr_t)value;
    item.value_len = (uint32_t)value_len;
    return fun_write(m, path, path_len, false, &item, delta);
}

int cs_ormap_set_add(struct cs_ormap *m, uint64_t node, const struct cs_ormap_key *path,
                     size_t path_len, const void *member, size_t member_len, struct cs_ormap *delta)
{
    int rc = op_begin(m, delta, path, path_len, CS_ORMAP_SET);
    if (rc || (rc = crdt_member_check(member, member_len))) return rc;
    if (node == 0) return CS_EINVAL;
    struct crdt_entry *e = path_walk(&m->table, path, path_len, true, NULL, &rc);
    if (e == NULL) return rc;
    struct crdt_entry *d = NULL;
    if (delta && (d = path_walk(&delta->table, path, path_len, true, NULL, &rc)) == NULL) {
        path_prune(&m->table, path, path_len);
        return rc;
    }
    struct cs_dot dot;
    if ((rc = crdt_ctx_next(&m->ctx, node, &dot))) {
        path_prune(&m->table, path, path_len);
        if (delta) ormap_clear(delta);
        return rc;
    }
    rc = crdt_elems_add(&field_value(e)->table, &m->ctx, dot, member, member_len,
                        d ? &field_value(d)->table : NULL, delta ? &delta->ctx : NULL);
    if (rc) {
        path_prune(&m->table, path, path_len);
        if (delta) ormap_clear(delta);
    }
    return rc;
}

int cs_ormap_set_remove(struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                        const void *member, size_t member_len, struct cs_ormap *delta)
{
    int rc = op_begin(m, delta, path, path_len, CS_ORMAP_SET);
    if (rc || (rc = crdt_member_check(member, member_len))) return rc;
    struct crdt_entry *e = path_walk(&m->table, path, path_len, false, NULL, &rc);
    if (e == NULL) return CS_ENOTFOUND;
    struct cs_crdt_table *set = &field_value(e)->table;
    struct crdt_entry *x = crdt_table_find(set, member, member_len);
    if (x == NULL) return CS_ENOTFOUND;
    for (uint32_t i = 0; delta && i < x->aux; i++) {
        if ((rc = crdt_ctx_add(&delta->ctx, crdt_elem_dots(x)[i]))) return rc;
    }
    if (delta && (rc = ormap_hint(delta, path))) return rc;
    crdt_table_delete(set, x);
    free(x);
    path_prune(&m->table, path, path_len);
    return 0;
}

int cs_ormap_remove(struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                    struct cs_ormap *delta)
{
    if (path_len == 0 || path == NULL) return CS_EINVAL;
    int rc = op_begin(m, delta, path, path_len, path[path_len - 1].kind);
    if (rc) return rc;
    struct cs_crdt_table *parents[CS_CRDT_DEPTH_MAX];
    struct crdt_entry *e = path_walk(&m->table, path, path_len, false, parents, &rc);
    if (e == NULL) return CS_ENOTFOUND;
    if (delta) {
        struct crdt_dotvec dots = {NULL, 0, 0};
        rc = field_dots_into(e, &dots);
        if (rc == 0) rc = crdt_ctx_add_dots(&delta->ctx, &dots);
        if (rc == 0) rc = ormap_hint(delta, path);
        free(dots.dots);
        if (rc) return rc;
    }
    field_drop(parents[path_len - 1], e, (uint32_t)(path_len - 1));
    path_prune(&m->table, path, path_len - 1);
    return 0;
}

/* ---- reads ---- */

int cs_ormap_counter_value(const struct cs_ormap *m, const struct cs_ormap_key *path,
                           size_t path_len, int64_t *value)
{
    int rc;
    const struct crdt_entry *e = path_find(m, path, path_len, CS_ORMAP_COUNTER, &rc);
    if (e == NULL) return rc;
    int64_t sum = 0;
    for (uint32_t i = 0; i < field_value(e)->fun.len; i++) {
        int64_t c = field_value(e)->fun.items[i].count;
        if (__builtin_add_overflow(sum, c, &sum)) sum = c > 0 ? INT64_MAX : INT64_MIN;
    }
    *value = sum;
    return 0;
}

int cs_ormap_lwwreg_get(const struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                        const uint8_t **value, size_t *value_len)
{
    int rc;
    const struct crdt_entry *e = path_find(m, path, path_len, CS_ORMAP_LWWREG, &rc);
    if (e == NULL) return rc;
    const struct cs_crdt_dotfun *f = &field_value(e)->fun;
    const struct cs_crdt_fun_item *best = &f->items[0];
    for (uint32_t i = 1; i < f->len; i++) {
        const struct cs_crdt_fun_item *it = &f->items[i];
        int c = cs_crdt_stamp_cmp(it->stamp, best->stamp);
        if (c > 0 ||
            (c == 0 && crdt_key_cmp(it->value, it->value_len, best->value, best->value_len) > 0)) {
            best = it;
        }
    }
    *value = best->value;
    *value_len = best->value_len;
    return 0;
}

int cs_ormap_mvreg_values_len(const struct cs_ormap *m, const struct cs_ormap_key *path,
                              size_t path_len, size_t *values_len)
{
    int rc;
    const struct crdt_entry *e = path_find(m, path, path_len, CS_ORMAP_MVREG, &rc);
    if (e == NULL) return rc;
    *values_len = field_value(e)->fun.len;
    return 0;
}

int cs_ormap_set_contains(const struct cs_ormap *m, const struct cs_ormap_key *path,
                          size_t path_len, const void *member, size_t member_len)
{
    int rc;
    const struct crdt_entry *e = path_find(m, path, path_len, CS_ORMAP_SET, &rc);
    if (e == NULL) return rc;
    return crdt_table_find(&field_value(e)->table, member, member_len) ? 0 : CS_ENOTFOUND;
}

int cs_ormap_next(const struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                  struct cs_crdt_iter *it, const uint8_t **key, size_t *key_len,
                  enum cs_ormap_kind *kind)
{
    const struct cs_crdt_table *t = &m->table;
    bool is_set = false;
    if (path_len > 0) {
        enum cs_ormap_kind leaf = path[path_len - 1].kind;
        if (leaf != CS_ORMAP_SET && leaf != CS_ORMAP_MAP) return CS_EINVAL;
        int rc;
        const struct crdt_entry *e = path_find(m, path, path_len, leaf, &rc);
        if (e == NULL) return rc;
        t = &field_value(e)->table;
        is_set = leaf == CS_ORMAP_SET;
    }
    const struct crdt_entry *x = crdt_table_next(t, &it->slot);
    if (x == NULL) return 0;
    if (is_set) {
        *key = x->key;
        *key_len = x->key_len;
        *kind = (enum cs_ormap_kind)0;
    } else {
        *key = x->key + 1; /* past the kind byte */
        *key_len = x->key_len - 1;
        *kind = field_kind(x);
    }
    return 1;
}

int cs_ormap_len(const struct cs_ormap *m, const struct cs_ormap_key *path, size_t path_len,
                 size_t *len)
{
    if (path_len == 0) {
        *len = m->table.len;
        return 0;
    }
    enum cs_ormap_kind leaf = path[path_len - 1].kind;
    if (leaf != CS_ORMAP_SET && leaf != CS_ORMAP_MAP) return CS_EINVAL;
    int rc;
    const struct crdt_entry *e = path_find(m, path, path_len, leaf, &rc);
    if (e == NULL) return rc;
    *len = field_value(e)->table.len;
    return 0;
}
