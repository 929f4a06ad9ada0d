/*
 * disk.c: the simulated disk, an ordered byte store whose writes are durable
 * only once synced.
 *
 * The one idea: keep two sorted maps, `durable` (what survives a crash) and
 * `current` (what reads see: durable plus the buffered writes), and a log of
 * the buffered writes in issue order. A sync completion replays a prefix of
 * the log into `durable`; a crash replays a random prefix (maybe tearing its
 * last put) and then copies `durable` over `current`. Maps are sorted arrays
 * of single allocations (key then value): small stores, simple invariants.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/sim.h"

struct disk_entry {
    uint32_t key_len;
    uint32_t value_len;
    uint8_t bytes[]; /* key, then value */
};

struct disk_map {
    struct disk_entry **entries;
    size_t len;
    size_t cap;
};

struct disk_write {
    struct disk_entry *entry; /* key and (for a put) value */
    bool is_put;
};

struct cs_sim_disk {
    struct cs_sim_disk_limits limits;
    struct disk_map durable;
    struct disk_map current;
    struct disk_write *pending; /* ring-free: a plain array, drained from the front */
    size_t pending_len;
    uint64_t pending_first; /* write number of pending[0] */
};

static int entry_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    size_t n = a_len < b_len ? a_len : b_len;
    int c = n ? memcmp(a, b, n) : 0;
    if (c != 0) return c;
    return (a_len > b_len) - (a_len < b_len);
}

/* map_find: index of key, or of where it would go; *found says which. */
static size_t map_find(const struct disk_map *map, const uint8_t *key, size_t key_len, bool *found)
{
    size_t lo = 0, hi = map->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct disk_entry *e = map->entries[mid];
        int c = entry_cmp(e->bytes, e->key_len, key, key_len);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = false;
    return lo;
}

static struct disk_entry *entry_new(const void *key, size_t key_len, const void *value,
                                    size_t value_len)
{
    struct disk_entry *e = malloc(sizeof *e + key_len + value_len);
    if (e == NULL) return NULL;
    e->key_len = (uint32_t)key_len;
    e->value_len = (uint32_t)value_len;
    memcpy(e->bytes, key, key_len);
    if (value_len) memcpy(e->bytes + key_len, value, value_len);
    return e;
}

static struct disk_entry *entry_copy(const struct disk_entry *e)
{
    return entry_new(e->bytes, e->key_len, e->bytes + e->key_len, e->value_len);
}

static int map_reserve(struct disk_map *map, size_t need)
{
    if (need <= map->cap) return 0;
    size_t cap = map->cap ? map->cap * 2 : 16;
    while (cap < need)
        cap *= 2;
    struct disk_entry **grown = realloc(map->entries, cap * sizeof *grown);
    if (grown == NULL) return CS_ENOMEM;
    map->entries = grown;
    map->cap = cap;
    return 0;
}

static void map_clear(struct disk_map *map)
{
    for (size_t i = 0; i < map->len; i++)
        free(map->entries[i]);
    map->len = 0;
}

static void map_free(struct disk_map *map)
{
    map_clear(map);
    free(map->entries);
    map->entries = NULL;
    map->cap = 0;
}

/* map_apply: apply one write to map, taking ownership of `owned` (a copy made by the caller). */
static void map_apply(struct disk_map *map, struct disk_entry *owned, bool is_put)
{
    bool found;
    size_t i = map_find(map, owned->bytes, owned->key_len, &found);
    if (!is_put) {
        free(owned);
        if (!found) return;
        free(map->entries[i]);
        memmove(&map->entries[i], &map->entries[i + 1], (map->len - i - 1) * sizeof(void *));
        map->len--;
        return;
    }
    if (found) {
        free(map->entries[i]);
        map->entries[i] = owned;
        return;
    }
    CS_ASSERT(map->len < map->cap); /* reserved by the caller */
    memmove(&map->entries[i + 1], &map->entries[i], (map->len - i) * sizeof(void *));
    map->entries[i] = owned;
    map->len++;
}

int cs_sim_disk_create(const struct cs_sim_disk_limits *limits, struct cs_sim_disk **out)
{
    struct cs_sim_disk_limits l = {CS_SIM_DISK_KEY_BYTES_MAX, CS_SIM_DISK_VALUE_BYTES_MAX,
                                   CS_SIM_DISK_ENTRIES_MAX, CS_SIM_DISK_PENDING_MAX};
    if (limits != NULL) {
        if (limits->key_bytes_max > CS_SIM_DISK_KEY_BYTES_MAX ||
            limits->value_bytes_max > CS_SIM_DISK_VALUE_BYTES_MAX ||
            limits->entries_max > CS_SIM_DISK_ENTRIES_MAX ||
            limits->pending_max > CS_SIM_DISK_PENDING_MAX) {
            return CS_EINVAL;
        }
        if (limits->key_bytes_max) l.key_bytes_max = limits->key_bytes_max;
        if (limits->value_bytes_max) l.value_bytes_max = limits->value_bytes_max;
        if (limits->entries_max) l.entries_max = limits->entries_max;
        if (limits->pending_max) l.pending_max = limits->pending_max;
    }
    struct cs_sim_disk *d = calloc(1, sizeof *d);
    if (d == NULL) return CS_ENOMEM;
    d->limits = l;
    *out = d;
    return 0;
}

static void pending_clear(struct cs_sim_disk *d)
{
    for (size_t i = 0; i < d->pending_len; i++)
        free(d->pending[i].entry);
    d->pending_len = 0;
}

void cs_sim_disk_destroy(struct cs_sim_disk *disk)
{
    if (disk == NULL) return;
    pending_clear(disk);
    free(disk->pending);
    map_free(&disk->durable);
    map_free(&disk->current);
    free(disk);
}

/*
 * buffer_write: log the write and apply it to `current`. Every allocation is
 * made before anything changes, so a failure leaves the disk as it was.
 */
static int buffer_write(struct cs_sim_disk *d, const void *key, size_t key_len, const void *value,
                        size_t value_len, bool is_put)
{
    if (d->pending_len == d->limits.pending_max) return CS_ENOSPACE;
    if (d->pending == NULL) {
        d->pending = malloc(d->limits.pending_max * sizeof *d->pending);
        if (d->pending == NULL) return CS_ENOMEM;
    }
    /* The durable map may gain this key too when the write is synced. */
    if (map_reserve(&d->current, d->current.len + 1) != 0) return CS_ENOMEM;
    if (map_reserve(&d->durable, d->durable.len + d->pending_len + 1) != 0) return CS_ENOMEM;
    struct disk_entry *logged = entry_new(key, key_len, value, value_len);
    struct disk_entry *applied = entry_new(key, key_len, value, value_len);
    if (logged == NULL || applied == NULL) {
        free(logged);
        free(applied);
        return CS_ENOMEM;
    }
    d->pending[d->pending_len++] = (struct disk_write){logged, is_put};
    map_apply(&d->current, applied, is_put);
    return 0;
}

int cs_sim_disk_put(struct cs_sim_disk *disk, const void *key, size_t key_len, const void *value,
                    size_t value_len)
{
    CS_ASSERT(disk != NULL);
    if (key_len == 0 || key_len > disk->limits.key_bytes_max) return CS_ETOOBIG;
    if (value_len > disk->limits.value_bytes_max) return CS_ETOOBIG;
    bool found;
    map_find(&disk->current, key, key_len, &found);
    if (!found && disk->current.len >= disk->limits.entries_max) return CS_ENOSPACE;
    return buffer_write(disk, key, key_len, value, value_len, true);
}

int cs_sim_disk_del(struct cs_sim_disk *disk, const void *key, size_t key_len)
{
    CS_ASSERT(disk != NULL);
    if (key_len == 0 || key_len > disk->limits.key_bytes_max) return CS_ETOOBIG;
    bool found;
    map_find(&disk->current, key, key_len, &found);
    if (!found) return CS_ENOTFOUND;
    return buffer_write(disk, key, key_len, NULL, 0, false);
}

int cs_sim_disk_get(const struct cs_sim_disk *disk, const void *key, size_t key_len,
                    const uint8_t **value, size_t *value_len)
{
    bool found;
    size_t i = map_find(&disk->current, key, key_len, &found);
    if (!found) return CS_ENOTFOUND;
    const struct disk_entry *e = disk->current.entries[i];
    *value = e->bytes + e->key_len;
    *value_len = e->value_len;
    return 0;
}

int cs_sim_disk_next(const struct cs_sim_disk *disk, const void *after, size_t after_len,
                     const uint8_t **key, size_t *key_len, const uint8_t **value, size_t *value_len)
{
    size_t i = 0;
    if (after != NULL) {
        bool found;
        i = map_find(&disk->current, after, after_len, &found);
        if (found) i++;
    }
    if (i >= disk->current.len) return CS_ENOTFOUND;
    const struct disk_entry *e = disk->current.entries[i];
    *key = e->bytes;
    *key_len = e->key_len;
    *value = e->bytes + e->key_len;
    *value_len = e->value_len;
    return 0;
}

size_t cs_sim_disk_len(const struct cs_sim_disk *disk)
{
    return disk->current.len;
}

size_t cs_sim_disk_pending(const struct cs_sim_disk *disk)
{
    return disk->pending_len;
}

uint64_t cs_sim_disk_mark(const struct cs_sim_disk *disk)
{
    return disk->pending_first + disk->pending_len;
}

/* replay: move the first n pending writes into durable; the log keeps the rest. */
static void replay(struct cs_sim_disk *d, size_t n)
{
    CS_ASSERT(n <= d->pending_len);
    for (size_t i = 0; i < n; i++) {
        map_apply(&d->durable, d->pending[i].entry, d->pending[i].is_put);
    }
    if (n < d->pending_len) {
        memmove(d->pending, d->pending + n, (d->pending_len - n) * sizeof *d->pending);
    }
    d->pending_len -= n;
    d->pending_first += n;
}

void cs_sim_disk_make_durable(struct cs_sim_disk *disk, uint64_t mark)
{
    /* A mark at or below pending_first was made durable by an earlier sync. */
    if (mark <= disk->pending_first) return;
    CS_ASSERT(mark <= disk->pending_first + disk->pending_len);
    replay(disk, (size_t)(mark - disk->pending_first));
}

void cs_sim_disk_crash(struct cs_sim_disk *disk, struct cs_rng *rng, uint32_t torn_ppm)
{
    size_t keep = 0;
    if (rng != NULL && disk->pending_len > 0) {
        keep = (size_t)cs_rng_below(rng, disk->pending_len + 1);
        if (keep > 0 && cs_rng_chance(rng, torn_ppm, 1000000)) {
            struct disk_write *last = &disk->pending[keep - 1];
            /* Tear: the value reached the disk only in part. */
            if (last->is_put && last->entry->value_len > 0) {
                last->entry->value_len = (uint32_t)cs_rng_below(rng, last->entry->value_len);
            }
        }
    }
    replay(disk, keep);
    /* Forget the writes that were lost; write numbers stay unique across crashes. */
    disk->pending_first += disk->pending_len;
    pending_clear(disk);
    map_clear(&disk->current);
    CS_ASSERT(map_reserve(&disk->current, disk->durable.len) == 0);
    for (size_t i = 0; i < disk->durable.len; i++) {
        struct disk_entry *e = entry_copy(disk->durable.entries[i]);
        CS_ASSERT(e != NULL); /* out of memory while recovering: no sane way on */
        disk->current.entries[disk->current.len++] = e;
    }
    CS_ASSERT(disk->current.len == disk->durable.len);
    CS_ASSERT(disk->pending_len == 0);
}
