/*
 * table.c: the byte-keyed hash table under every CRDT set and map.
 *
 * Open addressing with linear probing over an array of entry pointers; a
 * deleted slot becomes a tombstone so that deleting never moves entries and
 * a caller may delete while it iterates. Keys live inside the entries, so a
 * slot is one pointer. The hash is fixed (no per-process seed) so that runs
 * replay exactly; see docs/crdt.md on hash flooding.
 *
 * The one idea of the sizing: slots are a large share of a small member's
 * memory, so the table is kept between 2/3 and 4/5 full instead of between
 * 2/5 and 4/5 as power-of-two doubling would. Capacities are therefore any
 * size, and a hash is mapped to a slot by a multiply-shift, not a mask.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

#define TABLE_CAP_MIN 16u
/* Capacities fit a uint32_t: room for the largest table at 2/3 load. */
_Static_assert((uint64_t)CS_CRDT_ELEMENTS_MAX * 3 / 2 + TABLE_CAP_MIN < (UINT64_C(1) << 31),
               "table capacity");
/* A tombstone: a slot that was used, so probing continues past it. No entry
 * lives at address 0, so it never equals a tagged entry (below). */
#define TABLE_TOMB ((void *)(uintptr_t)1)

static uint64_t table_hash(const uint8_t *key, size_t len)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (uint64_t)len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, key + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i + k < len; k++) {
        tail |= (uint64_t)key[i + k] << (8 * k);
    }
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 29;
    return h;
}

int crdt_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) return c < 0 ? -1 : 1;
    if (a_len != b_len) return a_len < b_len ? -1 : 1;
    return 0;
}

size_t crdt_entry_bytes(uint32_t key_len, size_t payload_bytes)
{
    return crdt_entry_payload_offset(key_len) + payload_bytes;
}

struct crdt_entry *crdt_entry_new(const void *key, size_t key_len, size_t payload_bytes)
{
    CS_ASSERT(key_len <= UINT32_MAX);
    struct crdt_entry *e = calloc(1, crdt_entry_bytes((uint32_t)key_len, payload_bytes));
    if (e == NULL) return NULL;
    e->key_len = (uint32_t)key_len;
    if (key_len) memcpy(e->key, key, key_len);
    return e;
}

void crdt_table_init(struct cs_crdt_table *t)
{
    memset(t, 0, sizeof *t);
}

void crdt_table_free(struct cs_crdt_table *t)
{
    free(t->slots);
    crdt_table_init(t);
}

/*
 * A live slot holds an entry's address with 3 bits of its key's hash in the
 * low bits, which are free (malloc aligns to at least 8): a probe skips 7 of
 * 8 foreign slots without touching their entries, so the fuller table costs
 * no extra cache misses.
 */
#define TABLE_TAG_MASK ((uintptr_t)7)

static uintptr_t table_tag(uint64_t hash)
{
    return (uintptr_t)(hash & TABLE_TAG_MASK);
}

static bool slot_live(const void *p)
{
    return p != NULL && p != TABLE_TOMB;
}

static struct crdt_entry *slot_entry(const void *p)
{
    return (struct crdt_entry *)((uintptr_t)p & ~TABLE_TAG_MASK);
}

static void *slot_make(const struct crdt_entry *e, uintptr_t tag)
{
    CS_ASSERT(((uintptr_t)e & TABLE_TAG_MASK) == 0 && e != NULL);
    return (void *)((uintptr_t)e | tag);
}

/*
 * The first slot a hash probes in a table of cap slots: the hash mixed with
 * the capacity, then scaled to [0, cap) by a multiply-shift (no division).
 * The mix matters: a plain multiply-shift maps hash order to slot order in
 * every table, so walking one table while inserting into a smaller, growing
 * one (a copy, a merge into a small state) piles every key onto one cluster,
 * O(n^2); bench_crdt took minutes at 10^5 elements before this was caught.
 */
static uint32_t table_home(uint64_t hash, uint32_t cap)
{
    uint64_t x = hash ^ ((uint64_t)cap * 0x9E3779B97F4A7C15ull);
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ull;
    return (uint32_t)(((x >> 32) * cap) >> 32);
}

/* The slot holding key (of this hash), or the first free slot (NULL) of its
 * probe chain. */
static uint32_t table_probe(const struct cs_crdt_table *t, uint64_t hash, const void *key,
                            size_t key_len, bool *found)
{
    CS_ASSERT(t->cap > 0);
    uintptr_t tag = table_tag(hash);
    uint32_t i = table_home(hash, t->cap);
    for (uint32_t n = 0; n < t->cap; n++, i = i + 1 == t->cap ? 0 : i + 1) {
        void *p = t->slots[i];
        if (p == NULL) {
            *found = false;
            return i;
        }
        if (p == TABLE_TOMB || ((uintptr_t)p & TABLE_TAG_MASK) != tag) continue;
        const struct crdt_entry *e = slot_entry(p);
        if (e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
            *found = true;
            return i;
        }
    }
    CS_UNREACHABLE(); /* load factor < 4/5 guarantees a free slot */
}

/* The slot holding e (present). */
static uint32_t table_slot_of(const struct cs_crdt_table *t, const struct crdt_entry *e)
{
    bool found;
    uint32_t i = table_probe(t, table_hash(e->key, e->key_len), e->key, e->key_len, &found);
    CS_ASSERT(found && slot_entry(t->slots[i]) == e);
    return i;
}

struct crdt_entry *crdt_table_find(const struct cs_crdt_table *t, const void *key, size_t key_len)
{
    if (t->len == 0) return NULL;
    bool found;
    uint32_t i = table_probe(t, table_hash(key, key_len), key, key_len, &found);
    return found ? slot_entry(t->slots[i]) : NULL;
}

static int table_rehash(struct cs_crdt_table *t, uint32_t cap)
{
    CS_ASSERT(cap >= TABLE_CAP_MIN && cap > t->len);
    void **slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return CS_ENOMEM;
    struct cs_crdt_table fresh = {slots, cap, 0, 0};
    for (uint32_t i = 0; i < t->cap; i++) {
        if (!slot_live(t->slots[i])) continue;
        struct crdt_entry *e = slot_entry(t->slots[i]);
        uint64_t hash = table_hash(e->key, e->key_len);
        bool found;
        uint32_t at = table_probe(&fresh, hash, e->key, e->key_len, &found);
        CS_ASSERT(!found);
        slots[at] = slot_make(e, table_tag(hash));
        fresh.len++;
    }
    CS_ASSERT(fresh.len == t->len);
    fresh.used = fresh.len;
    free(t->slots);
    *t = fresh;
    return 0;
}

/* Slots in use (live or tombstone) stay below 4/5 of the capacity, so probe
 * chains stay short (about 3 slots for a miss at 4/5 with linear probing). */
static bool table_crowded(uint64_t used, uint64_t cap)
{
    return used * 5 >= cap * 4;
}

/* The capacity a rehash picks for len entries: 2/3 full. A table grows by
 * 6/5 each time it fills to 4/5, so a slot costs 10..12 bytes per member
 * (it was 10..20 with doubling); the price is more rehashes while growing,
 * still O(1) amortised (each entry moves about 6 times over a table's life). */
static uint32_t table_cap_for(size_t len)
{
    uint64_t cap = (uint64_t)len + (uint64_t)len / 2 + 1;
    if (cap < TABLE_CAP_MIN) cap = TABLE_CAP_MIN;
    CS_ASSERT(!table_crowded((uint64_t)len + 1, cap) && cap <= UINT32_MAX);
    return (uint32_t)cap;
}

int crdt_table_reserve(struct cs_crdt_table *t, size_t len)
{
    if (len > CS_CRDT_ELEMENTS_MAX) return CS_ETOOBIG;
    if (!table_crowded(t->used > len ? t->used : len, t->cap)) return 0;
    return table_rehash(t, table_cap_for(len));
}

int crdt_table_insert(struct cs_crdt_table *t, struct crdt_entry *e)
{
    if (t->len >= CS_CRDT_ELEMENTS_MAX) return CS_ETOOBIG;
    if (table_crowded((uint64_t)t->used + 1, t->cap)) {
        int rc = crdt_table_reserve(t, (size_t)t->len + 1);
        if (rc) return rc;
    }
    uint64_t hash = table_hash(e->key, e->key_len);
    bool found;
    uint32_t i = table_probe(t, hash, e->key, e->key_len, &found);
    CS_ASSERT(!found);
    t->slots[i] = slot_make(e, table_tag(hash));
    t->len++;
    t->used++;
    return 0;
}

void crdt_table_delete(struct cs_crdt_table *t, const struct crdt_entry *e)
{
    t->slots[table_slot_of(t, e)] = TABLE_TOMB;
    t->len--;
}

uint32_t crdt_table_slot(const struct cs_crdt_table *t, const struct crdt_entry *e)
{
    return table_slot_of(t, e);
}

void crdt_table_set_slot(struct cs_crdt_table *t, uint32_t slot, struct crdt_entry *e)
{
    CS_ASSERT(slot < t->cap && slot_live(t->slots[slot]));
    t->slots[slot] = slot_make(e, (uintptr_t)t->slots[slot] & TABLE_TAG_MASK);
}

struct crdt_entry *crdt_table_next(const struct cs_crdt_table *t, uint32_t *slot)
{
    while (*slot < t->cap) {
        void *p = t->slots[(*slot)++];
        if (slot_live(p)) return slot_entry(p);
    }
    return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct crdt_entry *x = *(const struct crdt_entry *const *)a;
    const struct crdt_entry *y = *(const struct crdt_entry *const *)b;
    return crdt_key_cmp(x->key, x->key_len, y->key, y->key_len);
}

int crdt_table_sorted(const struct cs_crdt_table *t, struct crdt_entry ***out)
{
    struct crdt_entry **all = malloc(((size_t)t->len + 1) * sizeof *all);
    if (all == NULL) return CS_ENOMEM;
    uint32_t slot = 0, n = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL)
        all[n++] = e;
    CS_ASSERT(n == t->len);
    qsort(all, n, sizeof *all, entry_cmp);
    *out = all;
    return 0;
}

size_t crdt_table_mem_bytes(const struct cs_crdt_table *t)
{
    return (size_t)t->cap * sizeof(void *);
}
