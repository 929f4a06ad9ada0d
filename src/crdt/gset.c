/*
 * gset.c: the grow-only set and the two-phase set.
 *
 * The one idea: both are hash tables of members whose join is a union (the
 * 2P-Set's "removed" flag is or-ed), so merging walks the source once. The
 * 2P-Set is the G-Set plus a grow-only flag per member; a removed member is
 * a tombstone for ever, which is the 2P-Set's definition, not a leak.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

/* Union of src into dst, or-ing aux (the removed flag; always 0 in a G-Set). */
static int flagset_merge(struct cs_crdt_table *dst, const struct cs_crdt_table *src)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(src, &slot)) != NULL) {
        struct crdt_entry *d;
        bool created;
        int rc = crdt_keyset_upsert(dst, e->key, e->key_len, 0, &d, &created);
        if (rc) return rc;
        d->aux |= e->aux;
    }
    return 0;
}

static bool flagset_leq(const struct cs_crdt_table *a, const struct cs_crdt_table *b)
{
    if (a->len > b->len) return false;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(a, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(b, e->key, e->key_len);
        if (f == NULL || (e->aux & ~f->aux) != 0) return false;
    }
    return true;
}

/* A delta of one member with the given flag. */
static int flagset_delta(struct cs_crdt_table *delta, const void *member, size_t member_len,
                         uint32_t flag)
{
    if (delta == NULL) return 0;
    crdt_keyset_free(delta);
    struct crdt_entry *d;
    bool created;
    int rc = crdt_keyset_upsert(delta, member, member_len, 0, &d, &created);
    if (rc == 0) d->aux = flag;
    return rc;
}

static int flagset_encode(const struct cs_crdt_table *t, enum cs_crdt_type type, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(t, &all)) return CS_ENOMEM;
    crdt_put_header(out, type);
    cs_put_uvarint(out, t->len);
    for (uint32_t i = 0; i < t->len; i++) {
        cs_put_bytes(out, all[i]->key, all[i]->key_len);
        if (type == CS_CRDT_TWOPSET) cs_put_u8(out, (uint8_t)all[i]->aux);
    }
    free(all);
    return cs_buf_error(out);
}

static int flagset_decode_body(struct cs_crdt_table *t, enum cs_crdt_type type, struct cs_reader *r)
{
    int rc = crdt_get_header(r, type);
    if (rc) return rc;
    uint64_t n;
    if ((rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, type == CS_CRDT_TWOPSET ? 2 : 1))) {
        return rc;
    }
    if ((rc = crdt_table_reserve(t, n))) return rc;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *m;
        size_t m_len;
        uint8_t flag = 0;
        if ((rc = cs_get_bytes(r, &m, &m_len, CS_CRDT_MEMBER_BYTES_MAX))) return rc;
        if (type == CS_CRDT_TWOPSET && (rc = cs_get_u8(r, &flag))) return rc;
        if (flag > 1) return CS_EDECODE;
        if (i > 0 && crdt_key_cmp(prev, prev_len, m, m_len) >= 0) return CS_EDECODE;
        prev = m;
        prev_len = m_len;
        struct crdt_entry *e;
        bool created;
        if ((rc = crdt_keyset_upsert(t, m, m_len, 0, &e, &created))) return rc;
        e->aux = flag;
    }
    return crdt_decode_end(r);
}

static int flagset_decode(struct cs_crdt_table *t, enum cs_crdt_type type, const void *data,
                          size_t len)
{
    CS_ASSERT(t->len == 0);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = flagset_decode_body(t, type, &r);
    if (rc) crdt_keyset_free(t);
    return rc;
}

/* ---- G-Set ---- */

void cs_gset_init(struct cs_gset *s)
{
    crdt_table_init(&s->table);
}

void cs_gset_free(struct cs_gset *s)
{
    crdt_keyset_free(&s->table);
}

int cs_gset_add(struct cs_gset *s, const void *member, size_t member_len, struct cs_gset *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    if (delta) cs_gset_free(delta);
    if (crdt_table_find(&s->table, member, member_len)) return 0;
    if ((rc = flagset_delta(delta ? &delta->table : NULL, member, member_len, 0))) return rc;
    struct crdt_entry *e;
    bool created;
    return crdt_keyset_upsert(&s->table, member, member_len, 0, &e, &created);
}

bool cs_gset_contains(const struct cs_gset *s, const void *member, size_t member_len)
{
    return crdt_table_find(&s->table, member, member_len) != NULL;
}

size_t cs_gset_len(const struct cs_gset *s)
{
    return s->table.len;
}

bool cs_gset_next(const struct cs_gset *s, struct cs_crdt_iter *it, const uint8_t **member,
                  size_t *member_len)
{
    struct crdt_entry *e = crdt_table_next(&s->table, &it->slot);
    if (e == NULL) return false;
    *member = e->key;
    *member_len = e->key_len;
    return true;
}

int cs_gset_merge(struct cs_gset *dst, const struct cs_gset *src)
{
    return flagset_merge(&dst->table, &src->table);
}

bool cs_gset_leq(const struct cs_gset *a, const struct cs_gset *b)
{
    return flagset_leq(&a->table, &b->table);
}

bool cs_gset_equal(const struct cs_gset *a, const struct cs_gset *b)
{
    return crdt_keyset_equal(&a->table, &b->table, 0);
}

int cs_gset_copy(struct cs_gset *dst, const struct cs_gset *src)
{
    return crdt_keyset_copy(&dst->table, &src->table, 0);
}

int cs_gset_encode(const struct cs_gset *s, struct cs_buf *out)
{
    return flagset_encode(&s->table, CS_CRDT_GSET, out);
}

int cs_gset_decode(struct cs_gset *s, const void *data, size_t len)
{
    return flagset_decode(&s->table, CS_CRDT_GSET, data, len);
}

size_t cs_gset_mem_bytes(const struct cs_gset *s)
{
    return crdt_keyset_mem_bytes(&s->table, 0);
}

/* ---- 2P-Set ---- */

void cs_twopset_init(struct cs_twopset *s)
{
    crdt_table_init(&s->table);
}

void cs_twopset_free(struct cs_twopset *s)
{
    crdt_keyset_free(&s->table);
}

int cs_twopset_add(struct cs_twopset *s, const void *member, size_t member_len,
                   struct cs_twopset *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    const struct crdt_entry *e = crdt_table_find(&s->table, member, member_len);
    if (e != NULL && e->aux) return CS_ESTATE;
    if (delta) cs_twopset_free(delta);
    if (e != NULL) return 0;
    if ((rc = flagset_delta(delta ? &delta->table : NULL, member, member_len, 0))) return rc;
    struct crdt_entry *added;
    bool created;
    return crdt_keyset_upsert(&s->table, member, member_len, 0, &added, &created);
}

int cs_twopset_remove(struct cs_twopset *s, const void *member, size_t member_len,
                      struct cs_twopset *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    struct crdt_entry *e = crdt_table_find(&s->table, member, member_len);
    if (e == NULL || e->aux) return CS_ENOTFOUND;
    if ((rc = flagset_delta(delta ? &delta->table : NULL, member, member_len, 1))) return rc;
    e->aux = 1;
    return 0;
}

bool cs_twopset_contains(const struct cs_twopset *s, const void *member, size_t member_len)
{
    const struct crdt_entry *e = crdt_table_find(&s->table, member, member_len);
    return e != NULL && e->aux == 0;
}

size_t cs_twopset_len(const struct cs_twopset *s)
{
    size_t n = 0;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&s->table, &slot)) != NULL)
        n += e->aux == 0;
    return n;
}

bool cs_twopset_next(const struct cs_twopset *s, struct cs_crdt_iter *it, const uint8_t **member,
                     size_t *member_len)
{
    struct crdt_entry *e;
    while ((e = crdt_table_next(&s->table, &it->slot)) != NULL) {
        if (e->aux) continue; /* a tombstone */
        *member = e->key;
        *member_len = e->key_len;
        return true;
    }
    return false;
}

int cs_twopset_merge(struct cs_twopset *dst, const struct cs_twopset *src)
{
    return flagset_merge(&dst->table, &src->table);
}

bool cs_twopset_leq(const struct cs_twopset *a, const struct cs_twopset *b)
{
    return flagset_leq(&a->table, &b->table);
}

bool cs_twopset_equal(const struct cs_twopset *a, const struct cs_twopset *b)
{
    return crdt_keyset_equal(&a->table, &b->table, 0);
}

int cs_twopset_copy(struct cs_twopset *dst, const struct cs_twopset *src)
{
    return crdt_keyset_copy(&dst->table, &src->table, 0);
}

int cs_twopset_encode(const struct cs_twopset *s, struct cs_buf *out)
{
    return flagset_encode(&s->table, CS_CRDT_TWOPSET, out);
}

int cs_twopset_decode(struct cs_twopset *s, const void *data, size_t len)
{
    return flagset_decode(&s->table, CS_CRDT_TWOPSET, data, len);
}

size_t cs_twopset_mem_bytes(const struct cs_twopset *s)
{
    return crdt_keyset_mem_bytes(&s->table, 0);
}
