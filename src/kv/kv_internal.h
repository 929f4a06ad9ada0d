/*
 * kv_internal.h: the state machine's parts, shared by the files of src/kv.
 *
 * map.c (the hash map of keys to values, which keeps the expiry heap in step),
 * expiry.c (the heap of keys with a TTL, ordered by expire_at_ms), codec.c
 * (commands and replies on the wire), kv.c (applying commands, client
 * sessions), snapshot.c (the whole state as bytes and back), check.c (the
 * invariants, walked in full for tests).
 */
#ifndef CS_KV_INTERNAL_H
#define CS_KV_INTERNAL_H

#include "base/assert.h"
#include "consist/kv.h"

/* One key and its value, in one allocation: key bytes then value bytes. */
struct kv_item {
    uint64_t expire_at_ms; /* 0 = no TTL */
    uint64_t mod_index;    /* log index that last created or changed it */
    uint32_t expiry_slot;  /* 1 + its place in the expiry heap; 0 when expire_at_ms is 0 */
    uint32_t key_len;
    uint32_t value_len;
    uint8_t bytes[];
};

static inline const uint8_t *kv_item_value(const struct kv_item *it)
{
    return it->bytes + it->key_len;
}

/* A key is absent once the clock reaches its expire_at_ms. */
static inline bool kv_item_expired(const struct kv_item *it, uint64_t clock_ms)
{
    return it->expire_at_ms != 0 && it->expire_at_ms <= clock_ms;
}

/*
 * The keys with a TTL, as a binary min-heap ordered by (expire_at_ms, key):
 * a total order, so the k smallest are the same keys on every replica
 * whatever shape its heap has (one applied the log, another restored a
 * snapshot). Each item knows its slot, so removal and update are O(log n).
 */
struct kv_expiry {
    struct kv_item **heap;
    uint32_t len;
    uint32_t cap;
};

void expiry_free(struct kv_expiry *e);
/* expiry_reserve: room for n items, so later inserts cannot fail. CS_ENOMEM. */
int expiry_reserve(struct kv_expiry *e, uint32_t n);
/* expiry_set: give it (in the map) the TTL at_ms, 0 to clear; room must be reserved. */
void expiry_set(struct kv_expiry *e, struct kv_item *it, uint64_t at_ms);
/* expiry_replace: new_it takes old_it's slot (the map reallocated the item). */
void expiry_replace(struct kv_expiry *e, const struct kv_item *old_it, struct kv_item *new_it);
static inline struct kv_item *expiry_min(const struct kv_expiry *e)
{
    return e->len ? e->heap[0] : NULL;
}
/* expiry_before: a < b in the heap's order. */
bool expiry_before(const struct kv_item *a, const struct kv_item *b);

/* Open addressing, linear probing, power-of-two capacity, backward-shift delete. */
struct kv_map {
    struct kv_item **slots;
    uint64_t *hashes; /* each slot's key hash, beside it: probes compare hashes first */
    size_t cap;
    size_t len;
    size_t bytes; /* key + value bytes held */
    struct kv_expiry expiry;
};

void map_init(struct kv_map *m);
void map_free(struct kv_map *m);
struct kv_item *map_find(const struct kv_map *m, const uint8_t *key, size_t key_len);
/*
 * map_set: insert or replace key with value, expire_at_ms (0 = none) and
 * mod_index; the expiry heap follows. CS_ENOMEM (nothing changed); CS_ENOSPACE
 * past CS_KV_KEYS_MAX or CS_KV_DATA_BYTES_MAX.
 */
int map_set(struct kv_map *m, const uint8_t *key, size_t key_len, const uint8_t *value,
            size_t value_len, uint64_t expire_at_ms, uint64_t mod_index);
/* map_set_ttl: change a present item's TTL in place (0 clears it). CS_ENOMEM (nothing changed). */
int map_set_ttl(struct kv_map *m, struct kv_item *it, uint64_t expire_at_ms);
bool map_del(struct kv_map *m, const uint8_t *key, size_t key_len);
/* map_del_item: remove a present item (freed: it must not be used after). */
void map_del_item(struct kv_map *m, struct kv_item *it);
/* map_sorted: every item, sorted by key (caller frees the array). NULL on ENOMEM. */
struct kv_item **map_sorted(const struct kv_map *m);
int kv_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);
/* map_home: the slot a key hashes to (for the invariant walk). */
size_t map_home(const struct kv_map *m, const uint8_t *key, size_t key_len);

struct kv_session {
    uint64_t client_id;
    uint64_t seq;        /* last applied */
    uint64_t last_index; /* log index of that command: the oldest session is evicted first */
    uint8_t *reply;      /* its encoded reply (current version), replayed to a retry */
    uint32_t reply_len;
};

struct cs_kv {
    struct kv_map map;
    struct kv_session *sessions; /* sorted by client_id */
    uint32_t sessions_len;
    uint64_t applied_index;
    uint64_t clock_ms;      /* max now_ms over applied commands: expiry is judged by it */
    uint64_t expired_total; /* a metric, not replicated state */
    uint32_t bugs;          /* enum cs_kv_bug: planted by tests only */
};

void kv_sessions_clear(struct cs_kv *kv);

#define KV_REPLY_VERSION 2
int kv_encode_reply(const struct cs_kv_reply *reply, struct cs_buf *out);
/* kv_reply_decode_version: decode a reply of exactly that version (1 or 2). */
int kv_reply_decode_version(const uint8_t *data, size_t len, int version,
                            struct cs_kv_reply *reply);

#endif /* CS_KV_INTERNAL_H */
