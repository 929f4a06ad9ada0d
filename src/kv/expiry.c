/*
 * expiry.c: the index of keys with a TTL, a binary min-heap by expire_at_ms.
 *
 * The one idea: order by (expire_at_ms, key), a total order, so "the next
 * keys to expire" names the same keys on every replica whatever the shape
 * of its heap (shapes differ between a replica that applied the log and one
 * that restored a snapshot). Each item carries its slot, so the map can
 * remove or re-time a key in O(log n) without a search. The heap holds at
 * most one slot per key, so CS_KV_KEYS_MAX bounds it.
 */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

void expiry_free(struct kv_expiry *e)
{
    free(e->heap);
    memset(e, 0, sizeof *e);
}

int expiry_reserve(struct kv_expiry *e, uint32_t n)
{
    CS_ASSERT(n <= CS_KV_KEYS_MAX);
    if (n <= e->cap) return 0;
    uint32_t cap = e->cap ? e->cap : 16;
    while (cap < n)
        cap *= 2;
    if (cap > CS_KV_KEYS_MAX) cap = CS_KV_KEYS_MAX;
    struct kv_item **heap = realloc(e->heap, cap * sizeof *heap);
    if (!heap) return CS_ENOMEM;
    e->heap = heap;
    e->cap = cap;
    return 0;
}

bool expiry_before(const struct kv_item *a, const struct kv_item *b)
{
    if (a->expire_at_ms != b->expire_at_ms) return a->expire_at_ms < b->expire_at_ms;
    return kv_key_cmp(a->bytes, a->key_len, b->bytes, b->key_len) < 0;
}

static void expiry_put(struct kv_expiry *e, uint32_t at, struct kv_item *it)
{
    e->heap[at] = it;
    it->expiry_slot = at + 1;
}

static void expiry_up(struct kv_expiry *e, uint32_t at)
{
    struct kv_item *it = e->heap[at];
    while (at > 0) {
        uint32_t parent = (at - 1) / 2;
        if (!expiry_before(it, e->heap[parent])) break;
        expiry_put(e, at, e->heap[parent]);
        at = parent;
    }
    expiry_put(e, at, it);
}

static void expiry_down(struct kv_expiry *e, uint32_t at)
{
    struct kv_item *it = e->heap[at];
    for (;;) {
        uint32_t child = 2 * at + 1;
        if (child >= e->len) break;
        if (child + 1 < e->len && expiry_before(e->heap[child + 1], e->heap[child])) child++;
        if (!expiry_before(e->heap[child], it)) break;
        expiry_put(e, at, e->heap[child]);
        at = child;
    }
    expiry_put(e, at, it);
}

/* Restore heap order around slot at, whichever way its item moved. */
static void expiry_fix(struct kv_expiry *e, uint32_t at)
{
    if (at > 0 && expiry_before(e->heap[at], e->heap[(at - 1) / 2])) {
        expiry_up(e, at);
    } else {
        expiry_down(e, at);
    }
}

static void expiry_remove(struct kv_expiry *e, struct kv_item *it)
{
    CS_ASSERT(it->expiry_slot >= 1 && it->expiry_slot <= e->len);
    uint32_t at = it->expiry_slot - 1;
    CS_ASSERT(e->heap[at] == it);
    it->expiry_slot = 0;
    e->len--;
    if (at == e->len) return;
    expiry_put(e, at, e->heap[e->len]);
    expiry_fix(e, at);
}

void expiry_set(struct kv_expiry *e, struct kv_item *it, uint64_t at_ms)
{
    if (at_ms == 0) {
        if (it->expiry_slot) expiry_remove(e, it);
        it->expire_at_ms = 0;
        return;
    }
    it->expire_at_ms = at_ms;
    if (it->expiry_slot) {
        expiry_fix(e, it->expiry_slot - 1);
        return;
    }
    CS_ASSERT(e->len < e->cap); /* the caller reserved room before changing anything */
    expiry_put(e, e->len, it);
    e->len++;
    expiry_up(e, e->len - 1);
}

void expiry_replace(struct kv_expiry *e, const struct kv_item *old_it, struct kv_item *new_it)
{
    CS_ASSERT(old_it->expiry_slot >= 1 && old_it->expiry_slot <= e->len);
    CS_ASSERT(e->heap[old_it->expiry_slot - 1] == old_it);
    new_it->expire_at_ms = old_it->expire_at_ms;
    expiry_put(e, old_it->expiry_slot - 1, new_it);
}
