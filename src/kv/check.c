/*
 * check.c: the state machine's invariants, walked in full.
 *
 * The one idea: every structure that is kept in step with another (the
 * expiry heap with the map's items, the byte and key counts with the slots,
 * each item's place with its probe run) is checked against the other by a
 * plain walk, with none of the shortcuts the fast paths take. Tests call it
 * after every step of a random run; it is O(keys), so nothing else does.
 */
#include "kv/kv_internal.h"

static bool check_item(const struct cs_kv *kv, const struct kv_item *it)
{
    const struct kv_map *m = &kv->map;
    if (it->key_len < 1 || it->key_len > CS_KV_KEY_BYTES_MAX) return false;
    if (it->value_len > CS_KV_VALUE_BYTES_MAX) return false;
    if (it->mod_index < 1 || it->mod_index > kv->applied_index) return false;
    if (map_find(m, it->bytes, it->key_len) != it) return false; /* reachable from its home */
    if ((it->expire_at_ms != 0) != (it->expiry_slot != 0)) return false;
    if (!it->expiry_slot) return true;
    return it->expiry_slot <= m->expiry.len && m->expiry.heap[it->expiry_slot - 1] == it;
}

static bool check_map(const struct cs_kv *kv)
{
    const struct kv_map *m = &kv->map;
    size_t len = 0, bytes = 0, timed = 0;
    for (size_t k = 0; k < m->cap; k++) {
        const struct kv_item *it = m->slots[k];
        if (!it) continue;
        if (!check_item(kv, it)) return false;
        /* The hash kept beside the slot is the key's (its low bits name the home). */
        if (((size_t)m->hashes[k] & (m->cap - 1)) != map_home(m, it->bytes, it->key_len))
            return false;
        len++;
        bytes += it->key_len + it->value_len;
        timed += it->expire_at_ms != 0;
    }
    if (len != m->len || bytes != m->bytes || len > CS_KV_KEYS_MAX) return false;
    if (bytes > CS_KV_DATA_BYTES_MAX || m->len * 4 > m->cap * 3 + 3) return false;
    if (timed != m->expiry.len || m->expiry.len > m->expiry.cap) return false;
    for (uint32_t k = 0; k < m->expiry.len; k++) {
        const struct kv_item *it = m->expiry.heap[k];
        if (it->expiry_slot != k + 1) return false;
        if (k > 0 && expiry_before(it, m->expiry.heap[(k - 1) / 2])) return false;
    }
    return true;
}

static bool check_sessions(const struct cs_kv *kv)
{
    if (kv->sessions_len > CS_KV_SESSIONS_MAX) return false;
    for (uint32_t k = 0; k < kv->sessions_len; k++) {
        const struct kv_session *s = &kv->sessions[k];
        if (s->client_id == 0 || !s->reply) return false;
        if (k > 0 && kv->sessions[k - 1].client_id >= s->client_id) return false;
    }
    return true;
}

int cs_kv_check(const struct cs_kv *kv)
{
    return check_map(kv) && check_sessions(kv) ? 0 : CS_ECORRUPT;
}
