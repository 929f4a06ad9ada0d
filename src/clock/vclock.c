/*
 * vclock.c: vector clocks with dynamic membership, as sorted sparse arrays.
 *
 * The one idea: keep the entries sorted by node id with no zero counters, so
 * the representation is canonical and every binary operation (compare,
 * merge) is one linear walk over both arrays, like the merge step of merge
 * sort. Merge runs in place from the back, so it needs no scratch memory:
 * entries only ever move towards the end.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/clock.h"

_Static_assert(CS_VCLOCK_ENTRIES_MAX <= UINT32_MAX, "entries_len is a uint32_t");
_Static_assert(CS_VCLOCK_ENTRIES_MAX < (1 << 21), "the count fits the 3 bytes budgeted");

/* vclock_valid: the representation invariant (sorted, unique, no zero counter). */
static bool vclock_valid(const struct cs_vclock *vc)
{
    if (vc->entries_len > vc->entries_cap) return false;
    if (vc->entries_len > CS_VCLOCK_ENTRIES_MAX) return false;
    for (uint32_t i = 0; i < vc->entries_len; i++) {
        if (vc->entries[i].counter == 0) return false;
        if (i > 0 && vc->entries[i - 1].node_id >= vc->entries[i].node_id) return false;
    }
    return true;
}

const char *cs_vc_order_name(enum cs_vc_order order)
{
    switch (order) {
    case CS_VC_EQUAL:
        return "equal";
    case CS_VC_BEFORE:
        return "happens-before";
    case CS_VC_AFTER:
        return "happens-after";
    case CS_VC_CONCURRENT:
        return "concurrent-with";
    }
    CS_UNREACHABLE();
}

void cs_vclock_init(struct cs_vclock *vc)
{
    CS_ASSERT(vc != NULL);
    vc->entries = NULL;
    vc->entries_len = 0;
    vc->entries_cap = 0;
}

void cs_vclock_free(struct cs_vclock *vc)
{
    CS_ASSERT(vc != NULL);
    free(vc->entries);
    cs_vclock_init(vc);
}

int cs_vclock_reserve(struct cs_vclock *vc, size_t entries_len)
{
    CS_ASSERT(vc != NULL);
    if (entries_len > CS_VCLOCK_ENTRIES_MAX) return CS_ETOOBIG;
    if (entries_len <= vc->entries_cap) return 0;
    /* Grow geometrically, but never past the limit. */
    size_t cap = vc->entries_cap ? (size_t)vc->entries_cap * 2 : 4;
    if (cap < entries_len) cap = entries_len;
    if (cap > CS_VCLOCK_ENTRIES_MAX) cap = CS_VCLOCK_ENTRIES_MAX;
    struct cs_vclock_entry *entries = realloc(vc->entries, cap * sizeof *entries);
    if (entries == NULL) return CS_ENOMEM;
    vc->entries = entries;
    vc->entries_cap = (uint32_t)cap;
    return 0;
}

int cs_vclock_copy(struct cs_vclock *dst, const struct cs_vclock *src)
{
    CS_ASSERT(dst != NULL && src != NULL);
    CS_DEBUG_ASSERT(vclock_valid(src));
    if (dst == src) return 0;
    int rc = cs_vclock_reserve(dst, src->entries_len);
    if (rc) return rc;
    if (src->entries_len) {
        memcpy(dst->entries, src->entries, src->entries_len * sizeof *src->entries);
    }
    dst->entries_len = src->entries_len;
    return 0;
}

/* vclock_find: the index of node_id, or of where it would be inserted. */
static uint32_t vclock_find(const struct cs_vclock *vc, uint64_t node_id)
{
    uint32_t lo = 0, hi = vc->entries_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (vc->entries[mid].node_id < node_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    CS_ASSERT(lo <= vc->entries_len);
    return lo;
}

uint64_t cs_vclock_get(const struct cs_vclock *vc, uint64_t node_id)
{
    CS_ASSERT(vc != NULL);
    uint32_t i = vclock_find(vc, node_id);
    if (i < vc->entries_len && vc->entries[i].node_id == node_id) return vc->entries[i].counter;
    return 0;
}

int cs_vclock_tick(struct cs_vclock *vc, uint64_t node_id)
{
    CS_ASSERT(vc != NULL);
    CS_DEBUG_ASSERT(vclock_valid(vc));
    uint32_t i = vclock_find(vc, node_id);
    if (i < vc->entries_len && vc->entries[i].node_id == node_id) {
        if (vc->entries[i].counter == UINT64_MAX) return CS_EOVERFLOW;
        vc->entries[i].counter++;
        return 0;
    }
    int rc = cs_vclock_reserve(vc, (size_t)vc->entries_len + 1);
    if (rc) return rc;
    memmove(&vc->entries[i + 1], &vc->entries[i], (vc->entries_len - i) * sizeof *vc->entries);
    vc->entries[i].node_id = node_id;
    vc->entries[i].counter = 1;
    vc->entries_len++;
    CS_DEBUG_ASSERT(vclock_valid(vc));
    return 0;
}

/* vclock_union_len: the number of distinct node ids in a and b. */
static size_t vclock_union_len(const struct cs_vclock *a, const struct cs_vclock *b)
{
    size_t i = 0, j = 0, n = 0;
    while (i < a->entries_len && j < b->entries_len) {
        uint64_t x = a->entries[i].node_id, y = b->entries[j].node_id;
        i += x <= y;
        j += y <= x;
        n++;
    }
    return n + (a->entries_len - i) + (b->entries_len - j);
}

/*
 * vclock_merge_into: dst := max(dst, src) entry-wise, given room for
 * union_len entries. Walks both arrays from the back, writing the union's
 * largest remaining node id at position k: k never drops below the unread
 * part of dst, so no unread entry is overwritten.
 */
static void vclock_merge_into(struct cs_vclock *dst, const struct cs_vclock *src, size_t union_len)
{
    CS_ASSERT(union_len <= dst->entries_cap);
    size_t i = dst->entries_len, j = src->entries_len, k = union_len;
    while (j > 0) {
        CS_ASSERT(k > 0);
        const struct cs_vclock_entry *s = &src->entries[j - 1];
        if (i > 0 && dst->entries[i - 1].node_id > s->node_id) {
            dst->entries[--k] = dst->entries[--i];
        } else if (i > 0 && dst->entries[i - 1].node_id == s->node_id) {
            struct cs_vclock_entry e = dst->entries[--i];
            if (s->counter > e.counter) e.counter = s->counter;
            dst->entries[--k] = e;
            j--;
        } else {
            dst->entries[--k] = *s;
            j--;
        }
    }
    /* What remains of dst is already in place. */
    CS_ASSERT(k == i);
    dst->entries_len = (uint32_t)union_len;
}

int cs_vclock_merge(struct cs_vclock *dst, const struct cs_vclock *src)
{
    CS_ASSERT(dst != NULL && src != NULL);
    CS_DEBUG_ASSERT(vclock_valid(dst) && vclock_valid(src));
    if (dst == src) return 0;
    /* Fast path: the same members (the steady state of a fixed group) merge in place. */
    if (dst->entries_len == src->entries_len) {
        uint32_t i = 0;
        while (i < dst->entries_len && dst->entries[i].node_id == src->entries[i].node_id)
            i++;
        if (i == dst->entries_len) {
            for (i = 0; i < dst->entries_len; i++) {
                uint64_t theirs = src->entries[i].counter;
                if (theirs > dst->entries[i].counter) dst->entries[i].counter = theirs;
            }
            CS_DEBUG_ASSERT(cs_vclock_descends(dst, src));
            return 0;
        }
    }
    size_t union_len = vclock_union_len(dst, src);
    if (union_len > CS_VCLOCK_ENTRIES_MAX) return CS_ETOOBIG;
    int rc = cs_vclock_reserve(dst, union_len);
    if (rc) return rc;
    vclock_merge_into(dst, src, union_len);
    CS_DEBUG_ASSERT(vclock_valid(dst));
    CS_DEBUG_ASSERT(cs_vclock_descends(dst, src));
    return 0;
}

int cs_vclock_update(struct cs_vclock *vc, uint64_t node_id, const struct cs_vclock *received)
{
    CS_ASSERT(vc != NULL && received != NULL);
    CS_DEBUG_ASSERT(vclock_valid(vc) && vclock_valid(received));
    /* Check that the tick after the merge will succeed before changing anything. */
    uint64_t own = cs_vclock_get(vc, node_id);
    uint64_t theirs = cs_vclock_get(received, node_id);
    uint64_t merged = own > theirs ? own : theirs;
    if (merged == UINT64_MAX) return CS_EOVERFLOW;
    size_t union_len = vc == received ? vc->entries_len : vclock_union_len(vc, received);
    size_t needed = union_len + (merged == 0);
    if (needed > CS_VCLOCK_ENTRIES_MAX) return CS_ETOOBIG;
    int rc = cs_vclock_reserve(vc, needed);
    if (rc) return rc;
    if (vc != received) vclock_merge_into(vc, received, union_len);
    rc = cs_vclock_tick(vc, node_id);
    CS_ASSERT(rc == 0);
    CS_ASSERT(cs_vclock_get(vc, node_id) == merged + 1);
    return 0;
}

enum cs_vc_order cs_vclock_compare(const struct cs_vclock *a, const struct cs_vclock *b)
{
    CS_ASSERT(a != NULL && b != NULL);
    CS_DEBUG_ASSERT(vclock_valid(a) && vclock_valid(b));
    /* a_ahead: some node where a's counter is larger; b_ahead: the reverse. */
    bool a_ahead = false, b_ahead = false;
    /*
     * Fast path: clocks of one group usually list the same members, so walk
     * in lockstep while the node ids agree, without a branch per outcome.
     */
    uint32_t n = a->entries_len < b->entries_len ? a->entries_len : b->entries_len;
    uint32_t i = 0;
    for (; i < n && a->entries[i].node_id == b->entries[i].node_id; i++) {
        a_ahead |= a->entries[i].counter > b->entries[i].counter;
        b_ahead |= b->entries[i].counter > a->entries[i].counter;
    }
    uint32_t j = i;
    while (i < a->entries_len && j < b->entries_len) {
        const struct cs_vclock_entry *x = &a->entries[i], *y = &b->entries[j];
        if (x->node_id < y->node_id) {
            a_ahead = true; /* b's counter for x's node is 0 */
            i++;
        } else if (x->node_id > y->node_id) {
            b_ahead = true;
            j++;
        } else {
            a_ahead |= x->counter > y->counter;
            b_ahead |= y->counter > x->counter;
            i++;
            j++;
        }
        if (a_ahead && b_ahead) return CS_VC_CONCURRENT;
    }
    a_ahead |= i < a->entries_len;
    b_ahead |= j < b->entries_len;
    if (a_ahead && b_ahead) return CS_VC_CONCURRENT;
    if (a_ahead) return CS_VC_AFTER;
    if (b_ahead) return CS_VC_BEFORE;
    return CS_VC_EQUAL;
}

bool cs_vclock_equal(const struct cs_vclock *a, const struct cs_vclock *b)
{
    CS_ASSERT(a != NULL && b != NULL);
    if (a->entries_len != b->entries_len) return false;
    return a->entries_len == 0 ||
           memcmp(a->entries, b->entries, a->entries_len * sizeof *a->entries) == 0;
}

bool cs_vclock_happens_before(const struct cs_vclock *a, const struct cs_vclock *b)
{
    return cs_vclock_compare(a, b) == CS_VC_BEFORE;
}

bool cs_vclock_concurrent(const struct cs_vclock *a, const struct cs_vclock *b)
{
    return cs_vclock_compare(a, b) == CS_VC_CONCURRENT;
}

bool cs_vclock_descends(const struct cs_vclock *a, const struct cs_vclock *b)
{
    enum cs_vc_order order = cs_vclock_compare(a, b);
    return order == CS_VC_EQUAL || order == CS_VC_AFTER;
}

int cs_vclock_prune(struct cs_vclock *vc, uint64_t node_id, uint64_t counter_final)
{
    CS_ASSERT(vc != NULL);
    uint32_t i = vclock_find(vc, node_id);
    bool present = i < vc->entries_len && vc->entries[i].node_id == node_id;
    uint64_t counter = present ? vc->entries[i].counter : 0;
    if (counter != counter_final) return CS_ESTATE;
    if (!present) return 0;
    memmove(&vc->entries[i], &vc->entries[i + 1], (vc->entries_len - i - 1) * sizeof *vc->entries);
    vc->entries_len--;
    CS_DEBUG_ASSERT(vclock_valid(vc));
    return 0;
}

int cs_vclock_encode(const struct cs_vclock *vc, struct cs_buf *out)
{
    CS_ASSERT(vc != NULL && out != NULL);
    CS_DEBUG_ASSERT(vclock_valid(vc));
    cs_put_u8(out, CS_VCLOCK_ENCODING_VERSION);
    cs_put_uvarint(out, vc->entries_len);
    for (uint32_t i = 0; i < vc->entries_len; i++) {
        cs_put_uvarint(out, vc->entries[i].node_id);
        cs_put_uvarint(out, vc->entries[i].counter);
    }
    return cs_buf_error(out);
}

/* vclock_read_fail: record rc on the reader (sticky) and return it. */
static int vclock_read_fail(struct cs_reader *r, int rc)
{
    if (r->err == 0) r->err = rc;
    return r->err;
}

int cs_vclock_read(struct cs_vclock *vc, struct cs_reader *r)
{
    CS_ASSERT(vc != NULL && r != NULL);
    uint8_t version;
    uint64_t count;
    int rc = cs_get_u8(r, &version);
    if (rc) return rc;
    if (version != CS_VCLOCK_ENCODING_VERSION) return vclock_read_fail(r, CS_EVERSION);
    /* Each entry takes at least two bytes: a 1-byte node id and a 1-byte counter. */
    rc = cs_get_count(r, &count, CS_VCLOCK_ENTRIES_MAX, 2);
    if (rc) return rc;

    struct cs_vclock tmp;
    cs_vclock_init(&tmp);
    rc = cs_vclock_reserve(&tmp, (size_t)count);
    if (rc) return vclock_read_fail(r, rc);
    for (uint64_t k = 0; k < count; k++) {
        struct cs_vclock_entry e;
        cs_get_uvarint(r, &e.node_id);
        rc = cs_get_uvarint(r, &e.counter);
        if (rc) goto err;
        if (e.counter == 0) rc = vclock_read_fail(r, CS_EDECODE);
        if (k > 0 && tmp.entries[k - 1].node_id >= e.node_id) rc = vclock_read_fail(r, CS_EDECODE);
        if (rc) goto err;
        tmp.entries[tmp.entries_len++] = e;
    }
    CS_ASSERT(vclock_valid(&tmp));
    cs_vclock_free(vc);
    *vc = tmp;
    return 0;
err:
    CS_ASSERT(rc != 0);
    cs_vclock_free(&tmp);
    return rc;
}

int cs_vclock_decode(struct cs_vclock *vc, const void *data, size_t len)
{
    CS_ASSERT(vc != NULL);
    struct cs_reader r;
    struct cs_vclock tmp;
    cs_reader_init(&r, data, len);
    cs_vclock_init(&tmp);
    int rc = cs_vclock_read(&tmp, &r);
    if (rc == 0) rc = cs_reader_end(&r);
    if (rc) {
        cs_vclock_free(&tmp);
        return rc;
    }
    cs_vclock_free(vc);
    *vc = tmp;
    return 0;
}

int cs_vclock_node_init(struct cs_vclock_node *node, uint64_t node_id, size_t nodes_len)
{
    CS_ASSERT(node != NULL);
    /* Initialised before any check, so cs_vclock_node_free is safe after a failure. */
    node->node_id = node_id;
    cs_vclock_init(&node->clock);
    if (nodes_len == 0) return CS_EINVAL;
    return cs_vclock_reserve(&node->clock, nodes_len);
}

void cs_vclock_node_free(struct cs_vclock_node *node)
{
    CS_ASSERT(node != NULL);
    cs_vclock_free(&node->clock);
}

int cs_vclock_node_tick(struct cs_vclock_node *node)
{
    CS_ASSERT(node != NULL);
    return cs_vclock_tick(&node->clock, node->node_id);
}

int cs_vclock_node_update(struct cs_vclock_node *node, const struct cs_vclock *received)
{
    CS_ASSERT(node != NULL);
    return cs_vclock_update(&node->clock, node->node_id, received);
}
