/*
 * rankmap.c: the ranked map, member -> PN-Counter score, for leaderboards.
 *
 * The one idea: the CRDT is a grow-only map of PN-Counters (join = per-member
 * counter join), and beside it sits an index, a skiplist ordered by
 * (score, member bytes) whose links carry spans (how many nodes a link skips)
 * as in Redis's zset. A score change, local or from a merge, unlinks and
 * relinks one node in O(log n); rank is the sum of spans along the search
 * path. A node's height comes from a hash of its member, so the index is the
 * same on every replica and in every run.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

#define RANK_LEVELS_MAX 32

struct rank_link {
    struct cs_rankmap_node *forward;
    uint64_t span; /* nodes from this one to forward (or to the end) */
};

struct cs_rankmap_node {
    struct crdt_entry *entry; /* NULL for the head sentinel */
    int64_t score;
    struct cs_rankmap_node *backward;
    uint32_t level;
    struct rank_link links[];
};

/* The payload of a member's table entry. */
struct rank_payload {
    struct cs_pncounter counter;
    struct cs_rankmap_node *node;
};

static struct rank_payload *payload_of(const struct crdt_entry *e)
{
    return crdt_entry_payload(e);
}

static uint32_t level_of(const uint8_t *member, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ member[i]) * 0x100000001b3ull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    uint32_t level = 1;
    while (level < RANK_LEVELS_MAX && (h & 3) == 0) { /* p = 1/4 per level */
        level++;
        h >>= 2;
    }
    return level;
}

static struct cs_rankmap_node *node_new(uint32_t level)
{
    return calloc(1, sizeof(struct cs_rankmap_node) + level * sizeof(struct rank_link));
}

int cs_rankmap_init(struct cs_rankmap *m)
{
    memset(m, 0, sizeof *m);
    m->head = node_new(RANK_LEVELS_MAX);
    if (m->head == NULL) return CS_ENOMEM;
    m->head->level = RANK_LEVELS_MAX;
    m->level = 1;
    return 0;
}

static void rankmap_clear(struct cs_rankmap *m)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&m->table, &slot)) != NULL) {
        cs_pncounter_free(&payload_of(e)->counter);
        free(payload_of(e)->node);
        free(e);
    }
    crdt_table_free(&m->table);
    if (m->head) memset(m->head->links, 0, RANK_LEVELS_MAX * sizeof(struct rank_link));
    m->tail = NULL;
    m->length = 0;
    m->level = 1;
}

void cs_rankmap_free(struct cs_rankmap *m)
{
    rankmap_clear(m);
    free(m->head);
    memset(m, 0, sizeof *m);
}

/* (score, member) order of a node against a probe. */
static int node_cmp(const struct cs_rankmap_node *n, int64_t score, const uint8_t *member,
                    size_t len)
{
    if (n->score != score) return n->score < score ? -1 : 1;
    return crdt_key_cmp(n->entry->key, n->entry->key_len, member, len);
}

static void sl_link(struct cs_rankmap *m, struct cs_rankmap_node *x)
{
    struct cs_rankmap_node *update[RANK_LEVELS_MAX];
    uint64_t rank[RANK_LEVELS_MAX];
    struct cs_rankmap_node *p = m->head;
    for (int i = (int)m->level - 1; i >= 0; i--) {
        rank[i] = i == (int)m->level - 1 ? 0 : rank[i + 1];
        while (p->links[i].forward &&
               node_cmp(p->links[i].forward, x->score, x->entry->key, x->entry->key_len) < 0) {
            rank[i] += p->links[i].span;
            p = p->links[i].forward;
        }
        update[i] = p;
    }
    if (x->level > m->level) {
        for (uint32_t i = m->level; i < x->level; i++) {
            rank[i] = 0;
            update[i] = m->head;
            m->head->links[i].span = m->length;
        }
        m->level = x->level;
    }
    for (uint32_t i = 0; i < x->level; i++) {
        x->links[i].forward = update[i]->links[i].forward;
        update[i]->links[i].forward = x;
        x->links[i].span = update[i]->links[i].span - (rank[0] - rank[i]);
        update[i]->links[i].span = rank[0] - rank[i] + 1;
    }
    for (uint32_t i = x->level; i < m->level; i++)
        update[i]->links[i].span++;
    x->backward = update[0] == m->head ? NULL : update[0];
    if (x->links[0].forward) {
        x->links[0].forward->backward = x;
    } else {
        m->tail = x;
    }
    m->length++;
}

static void sl_unlink(struct cs_rankmap *m, struct cs_rankmap_node *x)
{
    struct cs_rankmap_node *update[RANK_LEVELS_MAX];
    struct cs_rankmap_node *p = m->head;
    for (int i = (int)m->level - 1; i >= 0; i--) {
        while (p->links[i].forward &&
               node_cmp(p->links[i].forward, x->score, x->entry->key, x->entry->key_len) < 0) {
            p = p->links[i].forward;
        }
        update[i] = p;
    }
    CS_ASSERT(update[0]->links[0].forward == x);
    for (uint32_t i = 0; i < m->level; i++) {
        if (update[i]->links[i].forward == x) {
            update[i]->links[i].span += x->links[i].span - 1;
            update[i]->links[i].forward = x->links[i].forward;
        } else {
            update[i]->links[i].span--;
        }
    }
    if (x->links[0].forward) {
        x->links[0].forward->backward = x->backward;
    } else {
        m->tail = x->backward;
    }
    while (m->level > 1 && m->head->links[m->level - 1].forward == NULL)
        m->level--;
    m->length--;
    memset(x->links, 0, x->level * sizeof(struct rank_link));
    x->backward = NULL;
}

/* Re-index e after its counter changed. */
static void rank_reindex(struct cs_rankmap *m, struct crdt_entry *e)
{
    struct rank_payload *pl = payload_of(e);
    int64_t score = cs_pncounter_value(&pl->counter);
    if (score == pl->node->score) return;
    sl_unlink(m, pl->node);
    pl->node->score = score;
    sl_link(m, pl->node);
}

/* The entry of member, created (with a zero score, indexed) if missing. */
static int rank_entry(struct cs_rankmap *m, const void *member, size_t len, struct crdt_entry **out)
{
    struct crdt_entry *e = crdt_table_find(&m->table, member, len);
    if (e == NULL) {
        e = crdt_entry_new(member, len, sizeof(struct rank_payload));
        if (e == NULL) return CS_ENOMEM;
        struct rank_payload *pl = payload_of(e);
        cs_pncounter_init(&pl->counter);
        uint32_t level = level_of(e->key, e->key_len);
        pl->node = node_new(level);
        int rc = pl->node ? crdt_table_insert(&m->table, e) : CS_ENOMEM;
        if (rc) {
            free(pl->node);
            free(e);
            return rc;
        }
        pl->node->entry = e;
        pl->node->level = level;
        sl_link(m, pl->node);
    }
    *out = e;
    return 0;
}

int cs_rankmap_incr(struct cs_rankmap *m, uint64_t node, const void *member, size_t member_len,
                    int64_t amount, struct cs_rankmap *delta)
{
    int rc = crdt_member_check(member, member_len);
    if (rc) return rc;
    if (node == 0 || amount == 0) return CS_EINVAL;
    struct crdt_entry *e;
    if ((rc = rank_entry(m, member, member_len, &e))) return rc;
    struct cs_pncounter one;
    cs_pncounter_init(&one);
    rc = cs_pncounter_increment(&payload_of(e)->counter, node, amount, &one);
    if (rc == 0 && delta) {
        rankmap_clear(delta);
        struct crdt_entry *d;
        rc = rank_entry(delta, member, member_len, &d);
        if (rc == 0) rc = cs_pncounter_merge(&payload_of(d)->counter, &one);
        if (rc == 0) rank_reindex(delta, d);
    }
    cs_pncounter_free(&one);
    rank_reindex(m, e);
    return rc;
}

int cs_rankmap_score(const struct cs_rankmap *m, const void *member, size_t member_len,
                     int64_t *score)
{
    const struct crdt_entry *e = crdt_table_find(&m->table, member, member_len);
    if (e == NULL) return CS_ENOTFOUND;
    *score = payload_of(e)->node->score;
    return 0;
}

int cs_rankmap_rank(const struct cs_rankmap *m, const void *member, size_t member_len,
                    uint64_t *rank)
{
    const struct crdt_entry *e = crdt_table_find(&m->table, member, member_len);
    if (e == NULL) return CS_ENOTFOUND;
    const struct cs_rankmap_node *x = payload_of(e)->node, *p = m->head;
    uint64_t ascending = 0; /* 1-based position of x once found */
    for (int i = (int)m->level - 1; i >= 0; i--) {
        while (p->links[i].forward &&
               node_cmp(p->links[i].forward, x->score, e->key, e->key_len) <= 0) {
            ascending += p->links[i].span;
            p = p->links[i].forward;
        }
        if (p == x) break;
    }
    CS_ASSERT(p == x && ascending >= 1 && ascending <= m->length);
    *rank = m->length - ascending;
    return 0;
}

size_t cs_rankmap_len(const struct cs_rankmap *m)
{
    return (size_t)m->length;
}

static struct cs_rankmap_item item_of(const struct cs_rankmap_node *n)
{
    return (struct cs_rankmap_item){n->entry->key, n->entry->key_len, n->score};
}

size_t cs_rankmap_top(const struct cs_rankmap *m, size_t k, struct cs_rankmap_item *items)
{
    size_t n = 0;
    for (const struct cs_rankmap_node *x = m->tail; x != NULL && n < k; x = x->backward) {
        items[n++] = item_of(x);
    }
    return n;
}

size_t cs_rankmap_range_by_score(const struct cs_rankmap *m, int64_t min, int64_t max,
                                 struct cs_rankmap_item *items, size_t items_max)
{
    /* The last node with score <= max, then walk down while score >= min. */
    const struct cs_rankmap_node *p = m->head;
    for (int i = (int)m->level - 1; i >= 0; i--) {
        while (p->links[i].forward && p->links[i].forward->score <= max)
            p = p->links[i].forward;
    }
    size_t n = 0;
    for (; p != m->head && p != NULL && p->score >= min && n < items_max; p = p->backward) {
        items[n++] = item_of(p);
    }
    return n;
}

int cs_rankmap_merge(struct cs_rankmap *dst, const struct cs_rankmap *src)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&src->table, &slot)) != NULL) {
        struct crdt_entry *d;
        int rc = rank_entry(dst, e->key, e->key_len, &d);
        if (rc == 0) rc = cs_pncounter_merge(&payload_of(d)->counter, &payload_of(e)->counter);
        if (rc) return rc;
        rank_reindex(dst, d);
    }
    return 0;
}

bool cs_rankmap_leq(const struct cs_rankmap *a, const struct cs_rankmap *b)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&a->table, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(&b->table, e->key, e->key_len);
        if (f == NULL) {
            if (payload_of(e)->counter.counts.len) return false;
            continue;
        }
        if (!cs_pncounter_leq(&payload_of(e)->counter, &payload_of(f)->counter)) return false;
    }
    return true;
}

bool cs_rankmap_equal(const struct cs_rankmap *a, const struct cs_rankmap *b)
{
    if (a->table.len != b->table.len) return false;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&a->table, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(&b->table, e->key, e->key_len);
        if (f == NULL || !cs_pncounter_equal(&payload_of(e)->counter, &payload_of(f)->counter)) {
            return false;
        }
    }
    return true;
}

int cs_rankmap_copy(struct cs_rankmap *dst, const struct cs_rankmap *src)
{
    rankmap_clear(dst);
    return cs_rankmap_merge(dst, src);
}

/* header, count, sorted (member, entries count, (node, p, n)...). */
int cs_rankmap_encode(const struct cs_rankmap *m, struct cs_buf *out)
{
    struct crdt_entry **all;
    if (crdt_table_sorted(&m->table, &all)) return CS_ENOMEM;
    crdt_put_header(out, CS_CRDT_RANKMAP);
    cs_put_uvarint(out, m->table.len);
    for (uint32_t i = 0; i < m->table.len; i++) {
        const struct cs_crdt_counts *c = &payload_of(all[i])->counter.counts;
        cs_put_bytes(out, all[i]->key, all[i]->key_len);
        cs_put_uvarint(out, c->len);
        for (uint32_t k = 0; k < c->len; k++) {
            cs_put_uvarint(out, c->entries[k].node);
            cs_put_uvarint(out, c->entries[k].p);
            cs_put_uvarint(out, c->entries[k].n);
        }
    }
    free(all);
    return cs_buf_error(out);
}

static int rankmap_decode_body(struct cs_rankmap *m, struct cs_reader *r)
{
    int rc = crdt_get_header(r, CS_CRDT_RANKMAP);
    uint64_t n;
    if (rc || (rc = cs_get_count(r, &n, CS_CRDT_ELEMENTS_MAX, 2))) return rc;
    if ((rc = crdt_table_reserve(&m->table, n))) return rc;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *key;
        size_t key_len;
        uint64_t entries;
        if ((rc = cs_get_bytes(r, &key, &key_len, CS_CRDT_MEMBER_BYTES_MAX))) return rc;
        if (i > 0 && crdt_key_cmp(prev, prev_len, key, key_len) >= 0) return CS_EDECODE;
        prev = key;
        prev_len = key_len;
        if ((rc = cs_get_count(r, &entries, CS_CRDT_NODES_MAX, 3))) return rc;
        if (entries == 0) return CS_EDECODE;
        struct crdt_entry *e;
        if ((rc = rank_entry(m, key, key_len, &e))) return rc;
        struct cs_crdt_counts *c = &payload_of(e)->counter.counts;
        struct cs_crdt_count *arr = malloc(entries * sizeof *arr);
        if (arr == NULL) return CS_ENOMEM;
        c->entries = arr;
        c->cap = (uint32_t)entries;
        for (uint64_t k = 0; k < entries; k++) {
            struct cs_crdt_count x;
            if ((rc = crdt_get_node(r, &x.node)) || (rc = cs_get_uvarint_max(r, &x.p, INT64_MAX)) ||
                (rc = cs_get_uvarint_max(r, &x.n, INT64_MAX))) {
                return rc;
            }
            if ((x.p == 0 && x.n == 0) || (k > 0 && arr[k - 1].node >= x.node)) return CS_EDECODE;
            arr[c->len++] = x;
        }
        rank_reindex(m, e);
    }
    return crdt_decode_end(r);
}

int cs_rankmap_decode(struct cs_rankmap *m, const void *data, size_t len)
{
    CS_ASSERT(m->table.len == 0 && m->head != NULL);
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    int rc = rankmap_decode_body(m, &r);
    if (rc) rankmap_clear(m);
    return rc;
}

size_t cs_rankmap_mem_bytes(const struct cs_rankmap *m)
{
    size_t bytes = crdt_table_mem_bytes(&m->table) + sizeof(struct cs_rankmap_node) +
                   RANK_LEVELS_MAX * sizeof(struct rank_link);
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(&m->table, &slot)) != NULL) {
        const struct rank_payload *pl = payload_of(e);
        bytes += crdt_entry_bytes(e->key_len, sizeof *pl) + cs_pncounter_mem_bytes(&pl->counter) +
                 sizeof(struct cs_rankmap_node) + pl->node->level * sizeof(struct rank_link);
    }
    return bytes;
}

bool cs_rankmap_check(const struct cs_rankmap *m)
{
    if (m->length != m->table.len) return false;
    /* Level 0 visits every node in order with matching scores. */
    uint64_t count = 0;
    const struct cs_rankmap_node *prev = NULL;
    for (const struct cs_rankmap_node *x = m->head->links[0].forward; x; x = x->links[0].forward) {
        if (x->backward != prev) return false;
        if (x->score != cs_pncounter_value(&payload_of(x->entry)->counter)) return false;
        if (payload_of(x->entry)->node != x) return false;
        if (prev && node_cmp(prev, x->score, x->entry->key, x->entry->key_len) >= 0) return false;
        prev = x;
        count++;
    }
    if (count != m->length || m->tail != prev) return false;
    /* Every level's spans add up to the position of each node it reaches. */
    for (uint32_t i = 0; i < m->level; i++) {
        uint64_t pos = 0;
        for (const struct cs_rankmap_node *x = m->head; x->links[i].forward;
             x = x->links[i].forward) {
            pos += x->links[i].span;
            uint64_t actual = 0;
            for (const struct cs_rankmap_node *y = x->links[i].forward; y; y = y->backward)
                actual++;
            if (actual != pos) return false;
        }
    }
    return true;
}
