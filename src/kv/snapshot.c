/*
 * snapshot.c: the whole key-value state as bytes, and back.
 *
 * The one idea: the encoding is canonical (keys sorted, sessions sorted by
 * client id), so two replicas in the same state produce the same bytes and a
 * snapshot can be compared byte for byte. Restore builds the new state aside
 * and swaps it in only when every byte has been checked, so a bad snapshot
 * leaves the old state untouched.
 *
 * Layout: version u8, applied index uvarint, key count, keys (key bytes,
 * value bytes) ascending, session count, sessions (client id, seq,
 * last index, reply bytes) ascending by client id.
 */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

#define KV_SNAPSHOT_VERSION 1

int cs_kv_snapshot(const struct cs_kv *kv, struct cs_buf *out)
{
    struct kv_item **items = map_sorted(&kv->map);
    if (!items) return CS_ENOMEM;
    size_t start = out->len;
    cs_put_u8(out, KV_SNAPSHOT_VERSION);
    cs_put_uvarint(out, kv->applied_index);
    cs_put_uvarint(out, kv->map.len);
    for (size_t k = 0; k < kv->map.len && !cs_buf_error(out); k++) {
        cs_put_bytes(out, items[k]->bytes, items[k]->key_len);
        cs_put_bytes(out, kv_item_value(items[k]), items[k]->value_len);
    }
    free(items);
    cs_put_uvarint(out, kv->sessions_len);
    for (uint32_t k = 0; k < kv->sessions_len; k++) {
        const struct kv_session *s = &kv->sessions[k];
        CS_ASSERT(k == 0 || kv->sessions[k - 1].client_id < s->client_id);
        cs_put_uvarint(out, s->client_id);
        cs_put_uvarint(out, s->seq);
        cs_put_uvarint(out, s->last_index);
        cs_put_bytes(out, s->reply, s->reply_len);
    }
    int rc = cs_buf_error(out);
    if (!rc && out->len - start > CS_KV_SNAPSHOT_BYTES_MAX) {
        out->len = start;
        return CS_ETOOBIG;
    }
    return rc;
}

static int kv_restore_keys(struct cs_reader *r, struct kv_map *map)
{
    uint64_t n = 0;
    int rc = cs_get_count(r, &n, CS_KV_KEYS_MAX, 2);
    if (rc) return rc;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t k = 0; k < n; k++) {
        const uint8_t *key = NULL, *value = NULL;
        size_t key_len = 0, value_len = 0;
        cs_get_bytes(r, &key, &key_len, CS_KV_KEY_BYTES_MAX);
        rc = cs_get_bytes(r, &value, &value_len, CS_KV_VALUE_BYTES_MAX);
        if (rc) return rc;
        if (key_len == 0) return CS_EDECODE;
        if (prev && kv_key_cmp(prev, prev_len, key, key_len) >= 0) return CS_EDECODE;
        rc = map_set(map, key, key_len, value, value_len);
        if (rc == CS_ENOSPACE) return CS_ETOOBIG;
        if (rc) return rc;
        prev = key;
        prev_len = key_len;
    }
    return 0;
}

static int kv_restore_sessions(struct cs_reader *r, struct kv_session *sessions, uint32_t *len)
{
    uint64_t n = 0;
    int rc = cs_get_count(r, &n, CS_KV_SESSIONS_MAX, 4);
    if (rc) return rc;
    for (uint64_t k = 0; k < n; k++) {
        struct kv_session *s = &sessions[k];
        const uint8_t *reply = NULL;
        size_t reply_len = 0;
        cs_get_uvarint(r, &s->client_id);
        cs_get_uvarint(r, &s->seq);
        cs_get_uvarint(r, &s->last_index);
        rc = cs_get_bytes(r, &reply, &reply_len, CS_KV_REPLY_BYTES_MAX);
        if (rc) return rc;
        if (s->client_id == 0 || (k > 0 && sessions[k - 1].client_id >= s->client_id)) {
            return CS_EDECODE;
        }
        struct cs_kv_reply check;
        rc = cs_kv_reply_decode(reply, reply_len, &check);
        if (rc) return CS_EDECODE; /* a duplicate would replay it: it must decode */
        s->reply = malloc(reply_len ? reply_len : 1);
        if (!s->reply) return CS_ENOMEM;
        memcpy(s->reply, reply, reply_len);
        s->reply_len = (uint32_t)reply_len;
        *len = (uint32_t)k + 1;
    }
    return 0;
}

int cs_kv_restore(struct cs_kv *kv, const uint8_t *data, size_t len)
{
    if (len > CS_KV_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    uint8_t version = 0;
    uint64_t applied = 0;
    int rc = cs_get_u8(&r, &version);
    if (rc) return rc;
    if (version != KV_SNAPSHOT_VERSION) return CS_EVERSION;
    rc = cs_get_uvarint(&r, &applied);
    if (rc) return rc;
    struct kv_map map;
    map_init(&map);
    struct kv_session *sessions = calloc(CS_KV_SESSIONS_MAX, sizeof *sessions);
    uint32_t sessions_len = 0;
    if (!sessions) return CS_ENOMEM;
    rc = kv_restore_keys(&r, &map);
    if (!rc) rc = kv_restore_sessions(&r, sessions, &sessions_len);
    if (!rc) rc = cs_reader_end(&r);
    if (rc) {
        for (uint32_t k = 0; k < sessions_len; k++)
            free(sessions[k].reply);
        free(sessions);
        map_free(&map);
        return rc;
    }
    kv_sessions_clear(kv);
    free(kv->sessions);
    map_free(&kv->map);
    kv->map = map;
    kv->sessions = sessions;
    kv->sessions_len = sessions_len;
    kv->applied_index = applied;
    return 0;
}
