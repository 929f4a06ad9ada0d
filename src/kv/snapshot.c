/*
 * snapshot.c: the whole key-value state as bytes, and back.
 *
 * The one idea: the encoding is canonical (keys sorted, sessions sorted by
 * client id, every session reply in the current reply version), so two
 * replicas in the same state produce the same bytes and a snapshot can be
 * compared byte for byte. Restore builds the new state aside and swaps it in
 * only when every byte has been checked, so a bad snapshot leaves the old
 * state untouched.
 *
 * Layout v2: version u8 (2), applied index uvarint, clock_ms uvarint, key
 * count, keys ascending (key bytes, value bytes, expire_at_ms uvarint,
 * mod_index uvarint), session count, sessions ascending by client id
 * (client id, seq, last index, reply bytes: a v2 reply).
 * Layout v1 (the previous release; still restored): no clock, keys without
 * the two numbers (each gets mod_index = the applied index, no TTL),
 * session replies in reply version 1 (re-encoded as v2 on restore, so the
 * next snapshot is canonical v2).
 */
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

#define KV_SNAPSHOT_VERSION 2

int cs_kv_snapshot(const struct cs_kv *kv, struct cs_buf *out)
{
    struct kv_item **items = map_sorted(&kv->map);
    if (!items) return CS_ENOMEM;
    size_t start = out->len;
    cs_put_u8(out, KV_SNAPSHOT_VERSION);
    cs_put_uvarint(out, kv->applied_index);
    cs_put_uvarint(out, kv->clock_ms);
    cs_put_uvarint(out, kv->map.len);
    for (size_t k = 0; k < kv->map.len && !cs_buf_error(out); k++) {
        const struct kv_item *it = items[k];
        CS_ASSERT(it->mod_index >= 1 && it->mod_index <= kv->applied_index);
        cs_put_bytes(out, it->bytes, it->key_len);
        cs_put_bytes(out, kv_item_value(it), it->value_len);
        cs_put_uvarint(out, it->expire_at_ms);
        cs_put_uvarint(out, it->mod_index);
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

static int kv_restore_keys(struct cs_reader *r, int version, uint64_t applied, struct kv_map *map)
{
    uint64_t n = 0;
    int rc = cs_get_count(r, &n, CS_KV_KEYS_MAX, version == 1 ? 2 : 4);
    if (rc) return rc;
    const uint8_t *prev = NULL;
    size_t prev_len = 0;
    for (uint64_t k = 0; k < n; k++) {
        const uint8_t *key = NULL, *value = NULL;
        size_t key_len = 0, value_len = 0;
        uint64_t expire_at_ms = 0, mod_index = applied;
        cs_get_bytes(r, &key, &key_len, CS_KV_KEY_BYTES_MAX);
        cs_get_bytes(r, &value, &value_len, CS_KV_VALUE_BYTES_MAX);
        if (version >= 2) {
            cs_get_uvarint(r, &expire_at_ms);
            cs_get_uvarint(r, &mod_index);
        }
        rc = cs_reader_error(r);
        if (rc) return rc;
        if (key_len == 0 || mod_index == 0 || mod_index > applied) return CS_EDECODE;
        if (prev && kv_key_cmp(prev, prev_len, key, key_len) >= 0) return CS_EDECODE;
        rc = map_set(map, key, key_len, value, value_len, expire_at_ms, mod_index);
        if (rc == CS_ENOSPACE) return CS_ETOOBIG;
        if (rc) return rc;
        prev = key;
        prev_len = key_len;
    }
    return 0;
}

/* A session's reply, checked and copied in the current reply version. */
static int kv_restore_reply(const uint8_t *reply, size_t reply_len, int version,
                            struct kv_session *s)
{
    struct cs_kv_reply check;
    if (kv_reply_decode_version(reply, reply_len, version, &check) != 0) {
        return CS_EDECODE; /* a duplicate would replay it: it must decode */
    }
    struct cs_buf copy;
    cs_buf_init(&copy, CS_KV_REPLY_BYTES_MAX);
    int rc = kv_encode_reply(&check, &copy);
    if (rc) {
        cs_buf_free(&copy);
        return rc == CS_ETOOBIG ? CS_ETOOBIG : CS_ENOMEM;
    }
    if (version == KV_REPLY_VERSION &&
        (copy.len != reply_len || memcmp(copy.data, reply, reply_len) != 0)) {
        cs_buf_free(&copy);
        return CS_EDECODE; /* not the one encoding of its content: not canonical */
    }
    s->reply = copy.data; /* the buffer's memory, handed over */
    s->reply_len = (uint32_t)copy.len;
    return 0;
}

static int kv_restore_sessions(struct cs_reader *r, int version, struct kv_session *sessions,
                               uint32_t *len)
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
        rc = kv_restore_reply(reply, reply_len, version, s);
        if (rc) return rc;
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
    uint64_t applied = 0, clock_ms = 0;
    int rc = cs_get_u8(&r, &version);
    if (rc) return rc;
    if (version != 1 && version != KV_SNAPSHOT_VERSION) return CS_EVERSION;
    cs_get_uvarint(&r, &applied);
    if (version >= 2) cs_get_uvarint(&r, &clock_ms);
    rc = cs_reader_error(&r);
    if (rc) return rc;
    struct kv_map map;
    map_init(&map);
    struct kv_session *sessions = calloc(CS_KV_SESSIONS_MAX, sizeof *sessions);
    uint32_t sessions_len = 0;
    if (!sessions) return CS_ENOMEM;
    rc = kv_restore_keys(&r, version, applied, &map);
    if (!rc) rc = kv_restore_sessions(&r, version, sessions, &sessions_len);
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
    kv->clock_ms = clock_ms;
    return 0;
}
