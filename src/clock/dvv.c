/*
 * dvv.c: dotted version vector sets, the siblings of one key.
 *
 * The one idea (Preguiça, Baquero et al.): separate the last event of a
 * write, its dot, from the history it was written on top of. A version
 * vector alone names a contiguous prefix of each server's events, so two
 * concurrent writes coordinated by one server cannot both be described; a
 * dot names one event, so they can. This file keeps, per key, one version
 * vector for everything seen (the context) and one dot per live value, the
 * "DVVSet" of Almeida et al. A value dies when some write's context contains
 * its dot; sync keeps a value unless the other replica has seen its dot and
 * dropped it.
 *
 * Every operation that can fail checks and allocates first and mutates last,
 * so a failed call leaves the set as it was.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/clock.h"

_Static_assert(CS_DVVSET_SIBLINGS_MAX <= UINT32_MAX, "siblings_len is a uint32_t");

static int dot_compare(struct cs_dot a, struct cs_dot b)
{
    if (a.node_id != b.node_id) return a.node_id < b.node_id ? -1 : 1;
    if (a.counter != b.counter) return a.counter < b.counter ? -1 : 1;
    return 0;
}

static bool context_covers(const struct cs_vclock *context, struct cs_dot dot)
{
    return dot.counter <= cs_vclock_get(context, dot.node_id);
}

/* dvvset_valid: the invariants (sorted unique dots, each in the context). */
static bool dvvset_valid(const struct cs_dvvset *set)
{
    if (set->siblings_len > set->siblings_cap) return false;
    if (set->siblings_len > CS_DVVSET_SIBLINGS_MAX) return false;
    for (uint32_t i = 0; i < set->siblings_len; i++) {
        const struct cs_dvvset_sibling *s = &set->siblings[i];
        if (s->dot.counter == 0) return false;
        if (!context_covers(&set->context, s->dot)) return false;
        if (i > 0 && dot_compare(set->siblings[i - 1].dot, s->dot) >= 0) return false;
        if (s->value_len > CS_DVVSET_VALUE_BYTES_MAX) return false;
        if ((s->value == NULL) != (s->value_len == 0)) return false;
    }
    return true;
}

/* value_dup: an owned copy of len bytes (NULL for 0 bytes); false on ENOMEM. */
static bool value_dup(const void *value, size_t len, uint8_t **out)
{
    *out = NULL;
    if (len == 0) return true;
    *out = malloc(len);
    if (*out == NULL) return false;
    memcpy(*out, value, len);
    return true;
}

static bool value_same(const struct cs_dvvset_sibling *a, const struct cs_dvvset_sibling *b)
{
    return a->value_len == b->value_len &&
           (a->value_len == 0 || memcmp(a->value, b->value, a->value_len) == 0);
}

static int siblings_reserve(struct cs_dvvset *set, size_t siblings_len)
{
    if (siblings_len > CS_DVVSET_SIBLINGS_MAX) return CS_ETOOBIG;
    if (siblings_len <= set->siblings_cap) return 0;
    size_t cap = set->siblings_cap ? (size_t)set->siblings_cap * 2 : 2;
    if (cap < siblings_len) cap = siblings_len;
    if (cap > CS_DVVSET_SIBLINGS_MAX) cap = CS_DVVSET_SIBLINGS_MAX;
    struct cs_dvvset_sibling *siblings = realloc(set->siblings, cap * sizeof *siblings);
    if (siblings == NULL) return CS_ENOMEM;
    set->siblings = siblings;
    set->siblings_cap = (uint32_t)cap;
    return 0;
}

void cs_dvvset_init(struct cs_dvvset *set)
{
    CS_ASSERT(set != NULL);
    cs_vclock_init(&set->context);
    set->siblings = NULL;
    set->siblings_len = 0;
    set->siblings_cap = 0;
}

void cs_dvvset_free(struct cs_dvvset *set)
{
    CS_ASSERT(set != NULL);
    for (uint32_t i = 0; i < set->siblings_len; i++)
        free(set->siblings[i].value);
    free(set->siblings);
    cs_vclock_free(&set->context);
    cs_dvvset_init(set);
}

int cs_dvvset_copy(struct cs_dvvset *dst, const struct cs_dvvset *src)
{
    CS_ASSERT(dst != NULL && src != NULL);
    CS_DEBUG_ASSERT(dvvset_valid(src));
    if (dst == src) return 0;
    struct cs_dvvset tmp;
    cs_dvvset_init(&tmp);
    int rc = cs_vclock_copy(&tmp.context, &src->context);
    if (rc == 0) rc = siblings_reserve(&tmp, src->siblings_len);
    for (uint32_t i = 0; rc == 0 && i < src->siblings_len; i++) {
        struct cs_dvvset_sibling s = src->siblings[i];
        if (!value_dup(src->siblings[i].value, s.value_len, &s.value)) rc = CS_ENOMEM;
        if (rc == 0) tmp.siblings[tmp.siblings_len++] = s;
    }
    if (rc) {
        cs_dvvset_free(&tmp);
        return rc;
    }
    cs_dvvset_free(dst);
    *dst = tmp;
    CS_DEBUG_ASSERT(cs_dvvset_equal(dst, src));
    return 0;
}

const struct cs_vclock *cs_dvvset_join(const struct cs_dvvset *set)
{
    CS_ASSERT(set != NULL);
    return &set->context;
}

const struct cs_dvvset_sibling *cs_dvvset_values(const struct cs_dvvset *set, size_t *len_out)
{
    CS_ASSERT(set != NULL && len_out != NULL);
    *len_out = set->siblings_len;
    return set->siblings;
}

bool cs_dvvset_covers(const struct cs_dvvset *set, struct cs_dot dot)
{
    CS_ASSERT(set != NULL);
    return dot.counter >= 1 && context_covers(&set->context, dot);
}

void cs_dvvset_discard(struct cs_dvvset *set, const struct cs_vclock *context)
{
    CS_ASSERT(set != NULL && context != NULL);
    uint32_t kept = 0;
    for (uint32_t i = 0; i < set->siblings_len; i++) {
        if (context_covers(context, set->siblings[i].dot)) {
            free(set->siblings[i].value);
        } else {
            set->siblings[kept++] = set->siblings[i];
        }
    }
    set->siblings_len = kept;
    CS_DEBUG_ASSERT(dvvset_valid(set));
}

/* dvvset_insert: add s at its sorted place; room was reserved. */
static void dvvset_insert(struct cs_dvvset *set, struct cs_dvvset_sibling s)
{
    CS_ASSERT(set->siblings_len < set->siblings_cap);
    uint32_t i = set->siblings_len;
    while (i > 0 && dot_compare(set->siblings[i - 1].dot, s.dot) > 0)
        i--;
    CS_ASSERT(i == set->siblings_len || dot_compare(set->siblings[i].dot, s.dot) != 0);
    memmove(&set->siblings[i + 1], &set->siblings[i],
            (set->siblings_len - i) * sizeof *set->siblings);
    set->siblings[i] = s;
    set->siblings_len++;
}

int cs_dvvset_event(struct cs_dvvset *set, const struct cs_vclock *context, uint64_t node_id,
                    const void *value, size_t value_len, struct cs_dot *dot_out)
{
    CS_ASSERT(set != NULL && context != NULL);
    CS_ASSERT(value != NULL || value_len == 0);
    CS_DEBUG_ASSERT(dvvset_valid(set));
    if (value_len > CS_DVVSET_VALUE_BYTES_MAX) return CS_ETOOBIG;

    /* Check every limit before changing anything. */
    uint64_t seen = cs_vclock_get(&set->context, node_id);
    uint64_t theirs = cs_vclock_get(context, node_id);
    if (theirs > seen) seen = theirs;
    if (seen == UINT64_MAX) return CS_EOVERFLOW;
    size_t kept = 0;
    for (uint32_t i = 0; i < set->siblings_len; i++) {
        kept += !context_covers(context, set->siblings[i].dot);
    }
    if (kept + 1 > CS_DVVSET_SIBLINGS_MAX) return CS_ETOOBIG;

    /* Allocate: the merged context, the sibling slot, the value copy. */
    struct cs_vclock merged;
    cs_vclock_init(&merged);
    int rc = cs_vclock_copy(&merged, &set->context);
    if (rc == 0) rc = cs_vclock_update(&merged, node_id, context);
    if (rc == 0) rc = siblings_reserve(set, kept + 1);
    struct cs_dvvset_sibling fresh = {.dot = {node_id, seen + 1}, .value_len = value_len};
    if (rc == 0 && !value_dup(value, value_len, &fresh.value)) rc = CS_ENOMEM;
    if (rc) {
        cs_vclock_free(&merged);
        return rc;
    }

    /* Commit: nothing below can fail. */
    cs_dvvset_discard(set, context);
    cs_vclock_free(&set->context);
    set->context = merged;
    CS_ASSERT(cs_vclock_get(&set->context, node_id) == fresh.dot.counter);
    dvvset_insert(set, fresh);
    if (dot_out != NULL) *dot_out = fresh.dot;
    CS_DEBUG_ASSERT(dvvset_valid(set));
    return 0;
}

/*
 * sync_plan: walk both sorted sibling arrays and count what the join keeps:
 * *kept_len siblings in all, *added_len of them only in other. Returns 0 or
 * CS_ECONFLICT (one dot, two values).
 */
static int sync_plan(const struct cs_dvvset *set, const struct cs_dvvset *other, size_t *kept_len,
                     size_t *added_len)
{
    uint32_t i = 0, j = 0;
    size_t kept = 0, added = 0;
    while (i < set->siblings_len || j < other->siblings_len) {
        int order;
        if (i == set->siblings_len) {
            order = 1;
        } else if (j == other->siblings_len) {
            order = -1;
        } else {
            order = dot_compare(set->siblings[i].dot, other->siblings[j].dot);
        }
        if (order == 0) {
            if (!value_same(&set->siblings[i], &other->siblings[j])) return CS_ECONFLICT;
            kept++;
            i++;
            j++;
        } else if (order < 0) {
            kept += !context_covers(&other->context, set->siblings[i].dot);
            i++;
        } else {
            bool fresh = !context_covers(&set->context, other->siblings[j].dot);
            kept += fresh;
            added += fresh;
            j++;
        }
    }
    *kept_len = kept;
    *added_len = added;
    return 0;
}

/* dvvset_free_values: free the values of n siblings (a failed sync's copies). */
static void dvvset_free_values(struct cs_dvvset_sibling *siblings, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(siblings[k].value);
}

/*
 * sync_commit: build the joined sibling array into next (room for every kept
 * sibling), moving set's survivors, taking other's new ones from copies, and
 * freeing the values of set's siblings that other has superseded.
 */
static void sync_commit(struct cs_dvvset *set, const struct cs_dvvset *other,
                        struct cs_dvvset_sibling *next, const struct cs_dvvset_sibling *copies)
{
    uint32_t i = 0, j = 0;
    size_t n = 0, c = 0;
    while (i < set->siblings_len || j < other->siblings_len) {
        int order;
        if (i == set->siblings_len) {
            order = 1;
        } else if (j == other->siblings_len) {
            order = -1;
        } else {
            order = dot_compare(set->siblings[i].dot, other->siblings[j].dot);
        }
        if (order == 0) {
            next[n++] = set->siblings[i++];
            j++;
        } else if (order < 0) {
            if (context_covers(&other->context, set->siblings[i].dot)) {
                free(set->siblings[i].value);
            } else {
                next[n++] = set->siblings[i];
            }
            i++;
        } else {
            if (!context_covers(&set->context, other->siblings[j].dot)) {
                CS_ASSERT(dot_compare(copies[c].dot, other->siblings[j].dot) == 0);
                next[n++] = copies[c++];
            }
            j++;
        }
    }
    set->siblings_len = (uint32_t)n;
}

int cs_dvvset_sync(struct cs_dvvset *set, const struct cs_dvvset *other)
{
    CS_ASSERT(set != NULL && other != NULL);
    CS_DEBUG_ASSERT(dvvset_valid(set) && dvvset_valid(other));
    if (set == other) return 0;
    size_t kept_len, added_len;
    int rc = sync_plan(set, other, &kept_len, &added_len);
    if (rc) return rc;
    if (kept_len > CS_DVVSET_SIBLINGS_MAX) return CS_ETOOBIG;

    /* Allocate everything first: the merged context, the array, the copies. */
    struct cs_vclock merged;
    cs_vclock_init(&merged);
    struct cs_dvvset_sibling *next = malloc((kept_len ? kept_len : 1) * sizeof *next);
    struct cs_dvvset_sibling *copies = malloc((added_len ? added_len : 1) * sizeof *copies);
    size_t copied = 0;
    rc = next && copies ? 0 : CS_ENOMEM;
    if (rc == 0) rc = cs_vclock_copy(&merged, &set->context);
    if (rc == 0) rc = cs_vclock_merge(&merged, &other->context);
    for (uint32_t j = 0; rc == 0 && j < other->siblings_len; j++) {
        const struct cs_dvvset_sibling *o = &other->siblings[j];
        if (context_covers(&set->context, o->dot)) continue;
        struct cs_dvvset_sibling s = *o;
        if (!value_dup(o->value, o->value_len, &s.value)) rc = CS_ENOMEM;
        if (rc == 0) copies[copied++] = s;
    }
    if (rc) {
        if (copies) dvvset_free_values(copies, copied);
        free(copies);
        free(next);
        cs_vclock_free(&merged);
        return rc;
    }
    CS_ASSERT(copied == added_len);

    /* Commit: nothing below can fail. */
    sync_commit(set, other, next, copies);
    CS_ASSERT(set->siblings_len == kept_len);
    free(copies);
    free(set->siblings);
    set->siblings = next;
    set->siblings_cap = (uint32_t)(kept_len ? kept_len : 1);
    cs_vclock_free(&set->context);
    set->context = merged;
    CS_DEBUG_ASSERT(dvvset_valid(set));
    return 0;
}

bool cs_dvvset_equal(const struct cs_dvvset *a, const struct cs_dvvset *b)
{
    CS_ASSERT(a != NULL && b != NULL);
    if (!cs_vclock_equal(&a->context, &b->context)) return false;
    if (a->siblings_len != b->siblings_len) return false;
    for (uint32_t i = 0; i < a->siblings_len; i++) {
        if (dot_compare(a->siblings[i].dot, b->siblings[i].dot) != 0) return false;
        if (!value_same(&a->siblings[i], &b->siblings[i])) return false;
    }
    return true;
}

int cs_dvvset_encode(const struct cs_dvvset *set, struct cs_buf *out)
{
    CS_ASSERT(set != NULL && out != NULL);
    CS_DEBUG_ASSERT(dvvset_valid(set));
    cs_put_u8(out, CS_DVVSET_ENCODING_VERSION);
    cs_vclock_encode(&set->context, out);
    cs_put_uvarint(out, set->siblings_len);
    for (uint32_t i = 0; i < set->siblings_len; i++) {
        const struct cs_dvvset_sibling *s = &set->siblings[i];
        cs_put_uvarint(out, s->dot.node_id);
        cs_put_uvarint(out, s->dot.counter);
        cs_put_bytes(out, s->value, s->value_len);
    }
    return cs_buf_error(out);
}

static int dvvset_read_fail(struct cs_reader *r, int rc)
{
    if (r->err == 0) r->err = rc;
    return r->err;
}

/* dvvset_read_sibling: one sibling, checked against the context and the previous dot. */
static int dvvset_read_sibling(struct cs_dvvset *tmp, struct cs_reader *r)
{
    struct cs_dvvset_sibling s;
    const uint8_t *bytes = NULL;
    cs_get_uvarint(r, &s.dot.node_id);
    cs_get_uvarint(r, &s.dot.counter);
    int rc = cs_get_bytes(r, &bytes, &s.value_len, CS_DVVSET_VALUE_BYTES_MAX);
    if (rc) return rc;
    if (s.dot.counter == 0 || !context_covers(&tmp->context, s.dot)) {
        return dvvset_read_fail(r, CS_EDECODE);
    }
    if (tmp->siblings_len > 0 &&
        dot_compare(tmp->siblings[tmp->siblings_len - 1].dot, s.dot) >= 0) {
        return dvvset_read_fail(r, CS_EDECODE);
    }
    if (!value_dup(bytes, s.value_len, &s.value)) return dvvset_read_fail(r, CS_ENOMEM);
    tmp->siblings[tmp->siblings_len++] = s;
    return 0;
}

int cs_dvvset_read(struct cs_dvvset *set, struct cs_reader *r)
{
    CS_ASSERT(set != NULL && r != NULL);
    uint8_t version;
    uint64_t count;
    int rc = cs_get_u8(r, &version);
    if (rc) return rc;
    if (version != CS_DVVSET_ENCODING_VERSION) return dvvset_read_fail(r, CS_EVERSION);
    struct cs_dvvset tmp;
    cs_dvvset_init(&tmp);
    rc = cs_vclock_read(&tmp.context, r);
    /* A sibling takes at least 3 bytes: node id, counter, value length. */
    if (rc == 0) rc = cs_get_count(r, &count, CS_DVVSET_SIBLINGS_MAX, 3);
    if (rc == 0) rc = siblings_reserve(&tmp, (size_t)count);
    for (uint64_t k = 0; rc == 0 && k < count; k++)
        rc = dvvset_read_sibling(&tmp, r);
    if (rc) {
        cs_dvvset_free(&tmp);
        return dvvset_read_fail(r, rc);
    }
    CS_ASSERT(dvvset_valid(&tmp));
    cs_dvvset_free(set);
    *set = tmp;
    return 0;
}

int cs_dvvset_decode(struct cs_dvvset *set, const void *data, size_t len)
{
    CS_ASSERT(set != NULL);
    struct cs_reader r;
    struct cs_dvvset tmp;
    cs_reader_init(&r, data, len);
    cs_dvvset_init(&tmp);
    int rc = cs_dvvset_read(&tmp, &r);
    if (rc == 0) rc = cs_reader_end(&r);
    if (rc) {
        cs_dvvset_free(&tmp);
        return rc;
    }
    cs_dvvset_free(set);
    *set = tmp;
    return 0;
}
