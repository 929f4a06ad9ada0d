/*
 * orset.c: the add-wins observed-remove set without tombstones (Bieniusa et
 * al. 2012, as delta-state in Almeida et al. 2018 and Riak's ORSWOT).
 *
 * The one idea: a member is present while it holds at least one dot. An add
 * mints a fresh dot and replaces the member's observed dots; a remove drops
 * the member and ships the dots it had as the delta's context. The join keeps
 * a dot unless the other side has seen it and no longer holds it, so a
 * concurrent add (a dot the remover never saw) survives, and a removed member
 * leaves nothing behind but its dots inside the compact version vector.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

void cs_orset_init(struct cs_orset *s)
{
    crdt_ctx_init(&s->ctx);
    crdt_table_init(&s->table);
    crdt_table_init(&s->hints);
}

void cs_orset_free(struct cs_orset *s)
{
    crdt_ctx_free(&s->ctx);
    crdt_elems_free(&s->table);
    crdt_keyset_free(&s->hints);
}

static void orset_clear(struct cs_orset *s)
{
    crdt_ctx_clear(&s->ctx);
    crdt_elems_free(&s->table);
    crdt_keyset_free(&s->hints);
}

int cs_orset_add(struct cs_orset *s, uint64_t node, const void *member, size_t member_len,
                 struct cs_orset *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    if (node == 0) return CS_EINVAL;
    CS_ASSERT(delta != s); /* a delta is a separate state */
    if (delta) orset_clear(delta);
    struct cs_dot dot;
    if ((rc = crdt_ctx_next(&s->ctx, node, &dot))) return rc;
    return crdt_elems_add(&s->table, &s->ctx, dot, member, member_len, delta ? &delta->table : NULL,
                          delta ? &delta->ctx : NULL);
}

int cs_orset_remove(struct cs_orset *s, const void *member, size_t member_len,
                    struct cs_orset *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    struct crdt_entry *e = crdt_table_find(&s->table, member, member_len);
    if (e == NULL) return CS_ENOTFOUND;
    if (delta) {
        orset_clear(delta);
        for (uint32_t i = 0; i < e->aux; i++) {
            if ((rc = crdt_ctx_add(&delta->ctx, crdt_elem_dots(e)[i]))) return rc;
        }
        struct crdt_entry *hint;
        bool created;
        if ((rc = crdt_keyset_upsert(&delta->hints, member, member_len, 0, &hint, &created))) {
            return rc;
        }
    }
    /* The context keeps the dots: that alone records the removal. */
    crdt_table_delete(&s->table, e);
    free(e);
    return 0;
}

bool cs_orset_contains(const struct cs_orset *s, const void *member, size_t member_len)
{
    return crdt_table_find(&s->table, member, member_len) != NULL;
}

size_t cs_orset_len(const struct cs_orset *s)
{
    return s->table.len;
}

bool cs_orset_next(const struct cs_orset *s, struct cs_crdt_iter *it, const uint8_t **member,
                   size_t *member_len)
{
    struct crdt_entry *e = crdt_table_next(&s->table, &it->slot);
    if (e == NULL) return false;
    *member = e->key;
    *member_len = e->key_len;
    return true;
}

int cs_orset_merge(struct cs_orset *dst, const struct cs_orset *src)
{
    int rc = crdt_elems_join(&dst->table, &dst->ctx, &src->table, &src->ctx, &src->hints);
    if (rc) return rc;
    return crdt_ctx_join(&dst->ctx, &src->ctx);
}

bool cs_orset_leq(const struct cs_orset *a, const struct cs_orset *b)
{
    CRDT_LEQ_BY_JOIN(cs_orset, a, b);
}

bool cs_orset_equal(const struct cs_orset *a, const struct cs_orset *b)
{
    return crdt_ctx_equal(&a->ctx, &b->ctx) && crdt_elems_equal(&a->table, &b->table);
}

int cs_orset_copy(struct cs_orset *dst, const struct cs_orset *src)
{
    int rc = crdt_ctx_copy(&dst->ctx, &src->ctx);
    if (rc == 0) rc = crdt_elems_copy(&dst->table, &src->table);
    if (rc == 0) rc = crdt_keyset_copy(&dst->hints, &src->hints, 0);
    return rc;
}

/* Hints: count, then member names, strictly ascending. */
static int hints_encode(const struct cs_crdt_table *hints, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(hints, &all)) return CS_ENOMEM;
    cs_put_uvarint(out, hints->len);
    for (uint32_t i = 0; i < hints->len; i++)
        cs_put_bytes(out, all[i]->key, all[i]->key_len);
    free(all);
    return cs_buf_error(out);
}

static int hints_decode(struct cs_crdt_table *hints, struct cs_reader *r)
{
    uint64_t n;
    int rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, 1);
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t i = 0; rc == 0 && i < n; i++) {
        const uint8_t *m;
        size_t m_len;
        if ((rc = cs_get_bytes(r, &m, &m_len, CS_CRDT_MEMBER_BYTES_MAX))) break;
        if (i > 0 && crdt_key_cmp(prev, prev_len, m, m_len) >= 0) return CS_EDECODE;
        prev = m;
        prev_len = m_len;
        struct crdt_entry *e;
        bool created;
        rc = crdt_keyset_upsert(hints, m, m_len, 0, &e, &created);
    }
    return rc;
}

/* header, context, members, hints. */
int cs_orset_encode(const struct cs_orset *s, struct cs_buf *out)
{
    crdt_put_header(out, CS_CRDT_ORSET);
    crdt_ctx_encode(&s->ctx, out);
    int rc = crdt_elems_encode(&s->table, out);
    return rc ? rc : hints_encode(&s->hints, out);
}

int cs_orset_decode(struct cs_orset *s, const void *data, size_t len)
{
    CS_ASSERT(s->table.len == 0);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = crdt_get_header(&r, CS_CRDT_ORSET);
    if (rc == 0) rc = crdt_ctx_decode(&s->ctx, &r);
    if (rc == 0) rc = crdt_elems_decode(&s->table, &r);
    if (rc == 0 && !crdt_elems_within(&s->table, &s->ctx)) rc = CS_EDECODE;
    if (rc == 0) rc = hints_decode(&s->hints, &r);
    if (rc == 0) rc = crdt_decode_end(&r);
    if (rc) orset_clear(s);
    return rc;
}

size_t cs_orset_mem_bytes(const struct cs_orset *s)
{
    return crdt_ctx_mem_bytes(&s->ctx) + crdt_elems_mem_bytes(&s->table) +
           crdt_keyset_mem_bytes(&s->hints, 0);
}
