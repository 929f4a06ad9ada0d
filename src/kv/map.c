/*
 * map.c: the key-value hash map, and the expiry heap kept in step with it.
 *
 * The one idea: open addressing with linear probing and backward-shift
 * deletion keeps every key within one probe run, with no tombstones, so a
 * long-lived map never degrades. Items hold key, value and metadata in one
 * allocation. Every change of an item goes through this file, which moves
 * the item's slot in the expiry heap with it, so the heap can never point
 * at a freed item or miss a key with a TTL.
 */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

static uint64_t map_hash(const uint8_t *key, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t k = 0; k < len; k++) {
        h ^= key[k];
        h *= 0x100000001b3ull;
    }
    /* FNV-1a leaves similar keys ("key:000000012345") close in the low bits the
     * table indexes by; a full 64-bit mix (murmur3's finalizer) spreads them.
     * With h ^ (h >> 29) alone, probing was a quarter of a node's time at 100k keys. */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

void map_init(struct kv_map *m)
{
    memset(m, 0, sizeof *m);
}

void map_free(struct kv_map *m)
{
    for (size_t k = 0; k < m->cap; k++)
        free(m->slots[k]);
    free(m->slots);
    free(m->hashes);
    expiry_free(&m->expiry);
    memset(m, 0, sizeof *m);
}

int kv_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return a_len < b_len ? -1 : a_len > b_len ? 1 : 0;
}

static bool map_item_is(const struct kv_item *it, const uint8_t *key, size_t key_len)
{
    return it->key_len == key_len && memcmp(it->bytes, key, key_len) == 0;
}

/* The slot holding key (hash h), or the empty slot ending its probe run. Each
 * slot's hash is kept beside it, so a probe touches an item (a cache miss in
 * a large map) only when the whole hash matches. */
static size_t map_slot_h(const struct kv_map *m, uint64_t h, const uint8_t *key, size_t key_len)
{
    CS_ASSERT(m->cap > 0 && (m->cap & (m->cap - 1)) == 0);
    size_t i = (size_t)h & (m->cap - 1);
    while (m->slots[i] && (m->hashes[i] != h || !map_item_is(m->slots[i], key, key_len)))
        i = (i + 1) & (m->cap - 1);
    return i;
}

static size_t map_slot(const struct kv_map *m, const uint8_t *key, size_t key_len)
{
    return map_slot_h(m, map_hash(key, key_len), key, key_len);
}

size_t map_home(const struct kv_map *m, const uint8_t *key, size_t key_len)
{
    CS_ASSERT(m->cap > 0);
    return (size_t)map_hash(key, key_len) & (m->cap - 1);
}

struct kv_item *map_find(const struct kv_map *m, const uint8_t *key, size_t key_len)
{
    if (m->cap == 0) return NULL;
    return m->slots[map_slot(m, key, key_len)];
}

static int map_grow(struct kv_map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 16;
    struct kv_item **old = m->slots;
    uint64_t *old_hashes = m->hashes;
    size_t old_cap = m->cap;
    struct kv_item **slots = calloc(cap, sizeof *slots);
    uint64_t *hashes = calloc(cap, sizeof *hashes);
    if (!slots || !hashes) {
        free(slots);
        free(hashes);
        return CS_ENOMEM;
    }
    m->slots = slots;
    m->hashes = hashes;
    m->cap = cap;
    for (size_t k = 0; k < old_cap; k++) {
        struct kv_item *it = old[k];
        if (!it) continue;
        size_t i = (size_t)old_hashes[k] & (cap - 1);
        while (m->slots[i])
            i = (i + 1) & (cap - 1);
        m->slots[i] = it;
        m->hashes[i] = old_hashes[k];
    }
    free(old);
    free(old_hashes);
    return 0;
}

int map_set(struct kv_map *m, const uint8_t *key, size_t key_len, const uint8_t *value,
            size_t value_len, uint64_t expire_at_ms, uint64_t mod_index)
{
    CS_ASSERT(key_len >= 1 && key_len <= CS_KV_KEY_BYTES_MAX);
    CS_ASSERT(value_len <= CS_KV_VALUE_BYTES_MAX);
    CS_ASSERT(mod_index > 0);
    struct kv_item *old = map_find(m, key, key_len);
    size_t bytes = m->bytes + key_len + value_len - (old ? old->key_len + old->value_len : 0);
    if (bytes > CS_KV_DATA_BYTES_MAX) return CS_ENOSPACE;
    if (!old && m->len >= CS_KV_KEYS_MAX) return CS_ENOSPACE;
    if (!old && (m->len + 1) * 4 > m->cap * 3) {
        int rc = map_grow(m);
        if (rc) return rc;
    }
    /* Room in the heap first: after the item is swapped in, nothing may fail. */
    if (expire_at_ms && !(old && old->expiry_slot)) {
        int rc = expiry_reserve(&m->expiry, m->expiry.len + 1);
        if (rc) return rc;
    }
    struct kv_item *it = malloc(sizeof *it + key_len + value_len);
    if (!it) return CS_ENOMEM;
    it->expire_at_ms = 0;
    it->expiry_slot = 0;
    it->mod_index = mod_index;
    it->key_len = (uint32_t)key_len;
    it->value_len = (uint32_t)value_len;
    memcpy(it->bytes, key, key_len);
    if (value_len) memcpy(it->bytes + key_len, value, value_len);
    uint64_t h = map_hash(key, key_len);
    size_t i = map_slot_h(m, h, key, key_len);
    CS_ASSERT(m->slots[i] == old);
    if (old && old->expiry_slot) expiry_replace(&m->expiry, old, it);
    free(old);
    m->slots[i] = it;
    m->hashes[i] = h;
    if (!old) m->len++;
    m->bytes = bytes;
    expiry_set(&m->expiry, it, expire_at_ms);
    return 0;
}

int map_set_ttl(struct kv_map *m, struct kv_item *it, uint64_t expire_at_ms)
{
    CS_DEBUG_ASSERT(map_find(m, it->bytes, it->key_len) == it);
    if (expire_at_ms && !it->expiry_slot) {
        int rc = expiry_reserve(&m->expiry, m->expiry.len + 1);
        if (rc) return rc;
    }
    expiry_set(&m->expiry, it, expire_at_ms);
    return 0;
}

static void map_del_at(struct kv_map *m, size_t i)
{
    struct kv_item *it = m->slots[i];
    CS_ASSERT(it != NULL);
    if (it->expiry_slot) expiry_set(&m->expiry, it, 0);
    m->bytes -= it->key_len + it->value_len;
    m->len--;
    free(it);
    m->slots[i] = NULL;
    /* Backward shift: pull later members of the probe run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & (m->cap - 1); m->slots[j]; j = (j + 1) & (m->cap - 1)) {
        struct kv_item *x = m->slots[j];
        size_t home = (size_t)m->hashes[j] & (m->cap - 1);
        CS_DEBUG_ASSERT(home == map_home(m, x->bytes, x->key_len));
        /* x may move to the hole if its home is not in (hole, j], cyclically. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        m->slots[hole] = x;
        m->hashes[hole] = m->hashes[j];
        m->slots[j] = NULL;
        hole = j;
    }
}

bool map_del(struct kv_map *m, const uint8_t *key, size_t key_len)
{
    if (m->cap == 0) return false;
    size_t i = map_slot(m, key, key_len);
    if (!m->slots[i]) return false;
    map_del_at(m, i);
    return true;
}

void map_del_item(struct kv_map *m, struct kv_item *it)
{
    size_t i = map_slot(m, it->bytes, it->key_len);
    CS_ASSERT(m->slots[i] == it);
    map_del_at(m, i);
}

static int map_item_cmp(const void *a, const void *b)
{
    const struct kv_item *x = *(const struct kv_item *const *)a;
    const struct kv_item *y = *(const struct kv_item *const *)b;
    return kv_key_cmp(x->bytes, x->key_len, y->bytes, y->key_len);
}

struct kv_item **map_sorted(const struct kv_map *m)
{
    struct kv_item **out = malloc((m->len ? m->len : 1) * sizeof *out);
    if (!out) return NULL;
    size_t n = 0;
    for (size_t k = 0; k < m->cap; k++) {
        if (m->slots[k]) out[n++] = m->slots[k];
    }
    CS_ASSERT(n == m->len);
    qsort(out, n, sizeof *out, map_item_cmp);
    return out;
}
