/*
 * kv_internal.h: the state machine's parts, shared by the files of src/kv.
 *
 * map.c (the hash map of keys to values), codec.c (commands and replies on
 * the wire), kv.c (applying commands, client sessions), snapshot.c (the whole
 * state as bytes and back).
 */
#ifndef CS_KV_INTERNAL_H
#define CS_KV_INTERNAL_H

#include "base/assert.h"
#include "consist/kv.h"

/* One key and its value, in one allocation: key bytes then value bytes. */
struct kv_item {
    uint32_t key_len;
    uint32_t value_len;
    uint8_t bytes[];
};

static inline const uint8_t *kv_item_value(const struct kv_item *it)
{
    return it->bytes + it->key_len;
}

/* Open addressing, linear probing, power-of-two capacity, backward-shift delete. */
struct kv_map {
    struct kv_item **slots;
    size_t cap;
    size_t len;
    size_t bytes; /* key + value bytes held */
};

void map_init(struct kv_map *m);
void map_free(struct kv_map *m);
struct kv_item *map_find(const struct kv_map *m, const uint8_t *key, size_t key_len);
/* map_set: insert or replace. CS_ENOMEM; CS_ENOSPACE past CS_KV_KEYS_MAX or CS_KV_DATA_BYTES_MAX.
 */
int map_set(struct kv_map *m, const uint8_t *key, size_t key_len, const uint8_t *value,
            size_t value_len);
bool map_del(struct kv_map *m, const uint8_t *key, size_t key_len);
/* map_sorted: every item, sorted by key (caller frees the array). NULL on ENOMEM. */
struct kv_item **map_sorted(const struct kv_map *m);
int kv_key_cmp(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len);

struct kv_session {
    uint64_t client_id;
    uint64_t seq;        /* last applied */
    uint64_t last_index; /* log index of that command: the oldest session is evicted first */
    uint8_t *reply;      /* its encoded reply, replayed to a retry */
    uint32_t reply_len;
};

struct cs_kv {
    struct kv_map map;
    struct kv_session *sessions; /* sorted by client_id */
    uint32_t sessions_len;
    uint64_t applied_index;
};

void kv_sessions_clear(struct cs_kv *kv);
int kv_encode_reply(const struct cs_kv_reply *reply, struct cs_buf *out);

#endif /* CS_KV_INTERNAL_H */
