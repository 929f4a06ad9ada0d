/*
 * lww.c: the last-writer-wins register and the LWW-Element-Set.
 *
 * The one idea: a write carries a stamp (packed HLC, writer node) and the
 * join keeps the highest stamp, so it is a max and trivially a semilattice.
 * Two writes with the very same stamp (one node writing twice within one
 * HLC tick, which a correct HLC never does) are ordered by their value bytes
 * so that the join stays commutative. In the set, a member's latest add is
 * compared with its latest remove; an exact tie goes to the add.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

/* ---- LWW-Register ---- */

void cs_lwwreg_init(struct cs_lwwreg *r)
{
    memset(r, 0, sizeof *r);
}

void cs_lwwreg_free(struct cs_lwwreg *r)
{
    free(r->value);
    cs_lwwreg_init(r);
}

static int lwwreg_assign(struct cs_lwwreg *r, struct cs_crdt_stamp stamp, const void *value,
                         size_t value_len)
{
    uint8_t *copy = malloc(value_len ? value_len : 1);
    if (copy == NULL) return CS_ENOMEM;
    if (value_len) memcpy(copy, value, value_len);
    free(r->value);
    r->value = copy;
    r->value_len = (uint32_t)value_len;
    r->stamp = stamp;
    return 0;
}

/* Whether a write (stamp, value) beats what r holds. */
static bool lwwreg_beats(const struct cs_lwwreg *r, struct cs_crdt_stamp stamp, const void *value,
                         size_t value_len)
{
    int c = cs_crdt_stamp_cmp(stamp, r->stamp);
    if (c != 0) return c > 0;
    return crdt_key_cmp(value, value_len, r->value, r->value_len) > 0;
}

int cs_lwwreg_set(struct cs_lwwreg *r, struct cs_crdt_stamp stamp, const void *value,
                  size_t value_len, struct cs_lwwreg *delta)
{
    if (!crdt_stamp_valid(stamp)) return CS_EINVAL;
    if (value_len > CS_CRDT_VALUE_BYTES_MAX) return CS_ETOOBIG;
    if (value == NULL && value_len) return CS_EINVAL;
    int rc;
    if (delta && (rc = lwwreg_assign(delta, stamp, value, value_len))) return rc;
    if (!lwwreg_beats(r, stamp, value, value_len)) return 0;
    return lwwreg_assign(r, stamp, value, value_len);
}

int cs_lwwreg_get(const struct cs_lwwreg *r, const uint8_t **value, size_t *value_len)
{
    if (r->stamp.hlc == 0) return CS_ENOTFOUND;
    *value = r->value;
    *value_len = r->value_len;
    return 0;
}

int cs_lwwreg_merge(struct cs_lwwreg *dst, const struct cs_lwwreg *src)
{
    if (src->stamp.hlc == 0 || !lwwreg_beats(dst, src->stamp, src->value, src->value_len)) {
        return 0;
    }
    return lwwreg_assign(dst, src->stamp, src->value, src->value_len);
}

bool cs_lwwreg_leq(const struct cs_lwwreg *a, const struct cs_lwwreg *b)
{
    if (a->stamp.hlc == 0) return true;
    return cs_lwwreg_equal(a, b) || !lwwreg_beats(b, a->stamp, a->value, a->value_len);
}

bool cs_lwwreg_equal(const struct cs_lwwreg *a, const struct cs_lwwreg *b)
{
    return cs_crdt_stamp_cmp(a->stamp, b->stamp) == 0 &&
           crdt_key_cmp(a->value, a->value_len, b->value, b->value_len) == 0;
}

int cs_lwwreg_copy(struct cs_lwwreg *dst, const struct cs_lwwreg *src)
{
    if (src->stamp.hlc == 0) {
        cs_lwwreg_free(dst);
        return 0;
    }
    return lwwreg_assign(dst, src->stamp, src->value, src->value_len);
}

/* header, u8 written (0/1), then stamp and value bytes when written. */
int cs_lwwreg_encode(const struct cs_lwwreg *r, struct cs_buf *out)
{
    crdt_put_header(out, CS_CRDT_LWWREG);
    bool written = r->stamp.hlc != 0;
    cs_put_u8(out, written);
    if (written) {
        crdt_put_stamp(out, r->stamp);
        cs_put_bytes(out, r->value, r->value_len);
    }
    return cs_buf_error(out);
}

static int lwwreg_decode_body(struct cs_lwwreg *r, struct cs_reader *rd)
{
    int rc = crdt_get_header(rd, CS_CRDT_LWWREG);
    uint8_t written;
    if (rc || (rc = cs_get_u8(rd, &written))) return rc;
    if (written > 1) return CS_EDECODE;
    if (written) {
        struct cs_crdt_stamp stamp;
        const uint8_t *v;
        size_t v_len;
        if ((rc = crdt_get_stamp(rd, &stamp))) return rc;
        if ((rc = cs_get_bytes(rd, &v, &v_len, CS_CRDT_VALUE_BYTES_MAX))) return rc;
        if ((rc = lwwreg_assign(r, stamp, v, v_len))) return rc;
    }
    return crdt_decode_end(rd);
}

int cs_lwwreg_decode(struct cs_lwwreg *r, const void *data, size_t len)
{
    CS_ASSERT(r->stamp.hlc == 0);
    struct cs_reader rd;
    cs_reader_init(&rd, data, len);
    int rc = lwwreg_decode_body(r, &rd);
    if (rc) cs_lwwreg_free(r);
    return rc;
}

size_t cs_lwwreg_mem_bytes(const struct cs_lwwreg *r)
{
    return r->value ? (r->value_len ? r->value_len : 1) : 0;
}

/* ---- LWW-Element-Set ---- */

struct lwwset_stamps {
    struct cs_crdt_stamp add; /* {0,0}: never added */
    struct cs_crdt_stamp rm;  /* {0,0}: never removed */
};

static struct cs_crdt_stamp stamp_max(struct cs_crdt_stamp a, struct cs_crdt_stamp b)
{
    return cs_crdt_stamp_cmp(a, b) >= 0 ? a : b;
}

static bool lwwset_present(const struct lwwset_stamps *s)
{
    /* Add-wins on an exact tie. */
    return s->add.hlc != 0 && cs_crdt_stamp_cmp(s->add, s->rm) >= 0;
}

void cs_lwwset_init(struct cs_lwwset *s)
{
    crdt_table_init(&s->table);
}

void cs_lwwset_free(struct cs_lwwset *s)
{
    crdt_keyset_free(&s->table);
}

/* Raise member's add (is_add) or remove stamp to at least stamp. */
static int lwwset_raise(struct cs_crdt_table *t, const void *member, size_t member_len,
                        struct cs_crdt_stamp stamp, bool is_add)
{
    struct crdt_entry *e;
    bool created;
    int rc = crdt_keyset_upsert(t, member, member_len, sizeof(struct lwwset_stamps), &e, &created);
    if (rc) return rc;
    struct lwwset_stamps *st = crdt_entry_payload(e);
    if (is_add) {
        st->add = stamp_max(st->add, stamp);
    } else {
        st->rm = stamp_max(st->rm, stamp);
    }
    return 0;
}

static int lwwset_op(struct cs_lwwset *s, const void *member, size_t member_len,
                     struct cs_crdt_stamp stamp, bool is_add, struct cs_lwwset *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    if (!crdt_stamp_valid(stamp)) return CS_EINVAL;
    if (delta) {
        cs_lwwset_free(delta);
        if ((rc = lwwset_raise(&delta->table, member, member_len, stamp, is_add))) return rc;
    }
    return lwwset_raise(&s->table, member, member_len, stamp, is_add);
}

int cs_lwwset_add(struct cs_lwwset *s, const void *member, size_t member_len,
                  struct cs_crdt_stamp stamp, struct cs_lwwset *delta)
{
    return lwwset_op(s, member, member_len, stamp, true, delta);
}

int cs_lwwset_remove(struct cs_lwwset *s, const void *member, size_t member_len,
                     struct cs_crdt_stamp stamp, struct cs_lwwset *delta)
{
    return lwwset_op(s, member, member_len, stamp, false, delta);
}

bool cs_lwwset_contains(const struct cs_lwwset *s, const void *member, size_t member_len)
{
    const struct crdt_entry *e = crdt_table_find(&s->table, member, member_len);
    return e != NULL && lwwset_present(crdt_entry_payload(e));
}

size_t cs_lwwset_len(const struct cs_lwwset *s)
{
    size_t n = 0;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&s->table, &slot)) != NULL)
        n += lwwset_present(crdt_entry_payload(e));
    return n;
}

bool cs_lwwset_next(const struct cs_lwwset *s, struct cs_crdt_iter *it, const uint8_t **member,
                    size_t *member_len)
{
    struct crdt_entry *e;
    while ((e = crdt_table_next(&s->table, &it->slot)) != NULL) {
        if (!lwwset_present(crdt_entry_payload(e))) continue;
        *member = e->key;
        *member_len = e->key_len;
        return true;
    }
    return false;
}

int cs_lwwset_merge(struct cs_lwwset *dst, const struct cs_lwwset *src)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&src->table, &slot)) != NULL) {
        const struct lwwset_stamps *st = crdt_entry_payload(e);
        int rc = 0;
        if (st->add.hlc) rc = lwwset_raise(&dst->table, e->key, e->key_len, st->add, true);
        if (rc == 0 && st->rm.hlc)
            rc = lwwset_raise(&dst->table, e->key, e->key_len, st->rm, false);
        if (rc) return rc;
    }
    return 0;
}

bool cs_lwwset_leq(const struct cs_lwwset *a, const struct cs_lwwset *b)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&a->table, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(&b->table, e->key, e->key_len);
        if (f == NULL) return false;
        const struct lwwset_stamps *x = crdt_entry_payload(e), *y = crdt_entry_payload(f);
        if (cs_crdt_stamp_cmp(x->add, y->add) > 0 || cs_crdt_stamp_cmp(x->rm, y->rm) > 0) {
            return false;
        }
    }
    return true;
}

bool cs_lwwset_equal(const struct cs_lwwset *a, const struct cs_lwwset *b)
{
    return crdt_keyset_equal(&a->table, &b->table, sizeof(struct lwwset_stamps));
}

int cs_lwwset_copy(struct cs_lwwset *dst, const struct cs_lwwset *src)
{
    return crdt_keyset_copy(&dst->table, &src->table, sizeof(struct lwwset_stamps));
}

/* header, count, then sorted (member, u8 flags: 1 add, 2 remove, stamps present). */
int cs_lwwset_encode(const struct cs_lwwset *s, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(&s->table, &all)) return CS_ENOMEM;
    crdt_put_header(out, CS_CRDT_LWWSET);
    cs_put_uvarint(out, s->table.len);
    for (uint32_t i = 0; i < s->table.len; i++) {
        const struct lwwset_stamps *st = crdt_entry_payload(all[i]);
        cs_put_bytes(out, all[i]->key, all[i]->key_len);
        cs_put_u8(out, (uint8_t)((st->add.hlc ? 1 : 0) | (st->rm.hlc ? 2 : 0)));
        if (st->add.hlc) crdt_put_stamp(out, st->add);
        if (st->rm.hlc) crdt_put_stamp(out, st->rm);
    }
    free(all);
    return cs_buf_error(out);
}

static int lwwset_decode_body(struct cs_lwwset *s, struct cs_reader *r)
{
    int rc = crdt_get_header(r, CS_CRDT_LWWSET);
    uint64_t n;
    if (rc || (rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, 11))) return rc;
    if ((rc = crdt_table_reserve(&s->table, n))) return rc;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *m;
        size_t m_len;
        uint8_t flags;
        struct lwwset_stamps st = {{0, 0}, {0, 0}};
        if ((rc = cs_get_bytes(r, &m, &m_len, CS_CRDT_MEMBER_BYTES_MAX))) return rc;
        if ((rc = cs_get_u8(r, &flags))) return rc;
        if (flags == 0 || flags > 3) return CS_EDECODE;
        if ((flags & 1) && (rc = crdt_get_stamp(r, &st.add))) return rc;
        if ((flags & 2) && (rc = crdt_get_stamp(r, &st.rm))) return rc;
        if (i > 0 && crdt_key_cmp(prev, prev_len, m, m_len) >= 0) return CS_EDECODE;
        prev = m;
        prev_len = m_len;
        if (st.add.hlc && (rc = lwwset_raise(&s->table, m, m_len, st.add, true))) return rc;
        if (st.rm.hlc && (rc = lwwset_raise(&s->table, m, m_len, st.rm, false))) return rc;
    }
    return crdt_decode_end(r);
}

int cs_lwwset_decode(struct cs_lwwset *s, const void *data, size_t len)
{
    CS_ASSERT(s->table.len == 0);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = lwwset_decode_body(s, &r);
    if (rc) cs_lwwset_free(s);
    return rc;
}

size_t cs_lwwset_mem_bytes(const struct cs_lwwset *s)
{
    return crdt_keyset_mem_bytes(&s->table, sizeof(struct lwwset_stamps));
}
