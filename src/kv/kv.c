/*
 * kv.c: applying commands, and the client sessions that make them exactly-once.
 *
 * The one idea (thesis §6.3): the state machine, not the client, filters
 * duplicates. Each session remembers the last sequence number it applied and
 * that command's encoded reply; a retry with the same number gets the same
 * bytes back without touching the map. Sessions are bounded: when the table
 * is full the session idle longest (smallest last log index) is evicted,
 * which every replica does alike because it depends only on the log. A
 * client whose session was evicted gets "expired" rather than a second apply.
 *
 * Time and expiry: the map's clock is the largest now_ms of the commands
 * applied, never a clock read here. Every operation looks its key up through
 * kv_live, which removes a key whose TTL has passed, so an expired key is
 * absent to every operation and goes away as soon as anything touches it.
 * WATCH is CHECK: a command's checks are all judged, reading only, before
 * any of its other operations runs, so a failed check applies nothing.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/kv_internal.h"

int cs_kv_new(struct cs_kv **out)
{
    struct cs_kv *kv = calloc(1, sizeof *kv);
    if (!kv) return CS_ENOMEM;
    kv->sessions = calloc(CS_KV_SESSIONS_MAX, sizeof *kv->sessions);
    if (!kv->sessions) {
        free(kv);
        return CS_ENOMEM;
    }
    map_init(&kv->map);
    *out = kv;
    return 0;
}

void kv_sessions_clear(struct cs_kv *kv)
{
    for (uint32_t k = 0; k < kv->sessions_len; k++)
        free(kv->sessions[k].reply);
    kv->sessions_len = 0;
}

void cs_kv_free(struct cs_kv *kv)
{
    if (!kv) return;
    kv_sessions_clear(kv);
    free(kv->sessions);
    map_free(&kv->map);
    free(kv);
}

uint64_t cs_kv_keys(const struct cs_kv *kv)
{
    return kv->map.len;
}

uint64_t cs_kv_sessions(const struct cs_kv *kv)
{
    return kv->sessions_len;
}

uint64_t cs_kv_applied_index(const struct cs_kv *kv)
{
    return kv->applied_index;
}

uint64_t cs_kv_clock_ms(const struct cs_kv *kv)
{
    return kv->clock_ms;
}

uint64_t cs_kv_next_expiry(const struct cs_kv *kv)
{
    const struct kv_item *it = expiry_min(&kv->map.expiry);
    return it ? it->expire_at_ms : 0;
}

uint64_t cs_kv_expired_total(const struct cs_kv *kv)
{
    return kv->expired_total;
}

void cs_kv_set_bugs(struct cs_kv *kv, uint32_t bugs)
{
    kv->bugs = bugs;
}

int cs_kv_get_meta(const struct cs_kv *kv, const void *key, size_t key_len, uint64_t now_ms,
                   struct cs_kv_meta *out)
{
    memset(out, 0, sizeof *out);
    if (key_len < 1 || key_len > CS_KV_KEY_BYTES_MAX) return CS_ENOTFOUND;
    struct kv_item *it = map_find(&kv->map, key, key_len);
    uint64_t clock_ms = now_ms > kv->clock_ms ? now_ms : kv->clock_ms;
    if (!it || kv_item_expired(it, clock_ms)) return CS_ENOTFOUND;
    out->value = kv_item_value(it);
    out->value_len = it->value_len;
    out->mod_index = it->mod_index;
    out->expire_at_ms = it->expire_at_ms;
    return 0;
}

int cs_kv_get(const struct cs_kv *kv, const void *key, size_t key_len, uint64_t now_ms,
              const uint8_t **value, size_t *value_len)
{
    struct cs_kv_meta meta;
    int rc = cs_kv_get_meta(kv, key, key_len, now_ms, &meta);
    if (rc) return rc;
    *value = meta.value;
    *value_len = meta.value_len;
    return 0;
}

/* Parse a whole value as a decimal int64, as Redis does for INCRBY. */
static bool kv_parse_i64(const uint8_t *p, size_t len, int64_t *out)
{
    char text[32];
    if (len == 0 || len >= sizeof text) return false;
    memcpy(text, p, len);
    text[len] = 0;
    if (text[0] == '+' || text[0] == ' ' || (text[0] == '0' && len > 1)) return false;
    if (text[0] == '-' && (len == 1 || text[1] == '0')) return false;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end) return false;
    *out = v;
    return true;
}

/* Remove a key because its time has come (or a write set a time already past). */
static void kv_expire_item(struct cs_kv *kv, struct kv_item *it)
{
    map_del_item(&kv->map, it);
    kv->expired_total++;
}

/* The key's item if it is live; an expired one is removed here, as it is now absent. */
static struct kv_item *kv_live(struct cs_kv *kv, const struct cs_kv_op *op)
{
    CS_ASSERT(op->key_len >= 1 && op->key_len <= CS_KV_KEY_BYTES_MAX);
    struct kv_item *it = map_find(&kv->map, op->key, op->key_len);
    if (it && kv_item_expired(it, kv->clock_ms)) {
        kv_expire_item(kv, it);
        return NULL;
    }
    return it;
}

static void kv_result_meta(struct cs_kv_result *res, const struct kv_item *it)
{
    res->found = it != NULL;
    if (!it) return;
    res->mod_index = it->mod_index;
    res->expire_at_ms = it->expire_at_ms;
}

static void kv_apply_incrby(struct cs_kv *kv, const struct cs_kv_op *op, uint64_t index,
                            struct cs_kv_result *res)
{
    int64_t v = 0;
    struct kv_item *it = kv_live(kv, op);
    if (it && !kv_parse_i64(kv_item_value(it), it->value_len, &v)) {
        res->rc = CS_EPARSE;
        return;
    }
    int64_t sum;
    if (__builtin_add_overflow(v, op->delta, &sum)) {
        res->rc = CS_EOVERFLOW;
        return;
    }
    char text[24];
    int n = snprintf(text, sizeof text, "%" PRId64, sum);
    CS_ASSERT(n > 0 && (size_t)n < sizeof text);
    uint64_t expire_at_ms = it ? it->expire_at_ms : 0; /* INCRBY keeps the TTL */
    res->rc = map_set(&kv->map, op->key, op->key_len, (const uint8_t *)text, (size_t)n,
                      expire_at_ms, index);
    if (res->rc == 0) res->number = sum;
}

/* Copy the old value into scratch before the map replaces it. */
static void kv_result_value(struct cs_kv_result *res, const struct kv_item *it,
                            struct cs_buf *scratch)
{
    res->found = it != NULL;
    if (!it) return;
    size_t at = scratch->len;
    cs_put_raw(scratch, kv_item_value(it), it->value_len);
    res->value_len = it->value_len;
    res->value = (const uint8_t *)(uintptr_t)at; /* an offset until the scratch stops moving */
}

static void kv_apply_set(struct cs_kv *kv, const struct cs_kv_op *op, uint64_t index,
                         struct cs_kv_result *res, struct cs_buf *scratch)
{
    struct kv_item *it = kv_live(kv, op);
    if (op->flags & CS_KV_SET_GET) kv_result_value(res, it, scratch);
    res->found = it != NULL;
    if ((op->flags & CS_KV_SET_NX) && it) {
        res->rc = CS_EEXIST;
        return;
    }
    if ((op->flags & CS_KV_SET_XX) && !it) {
        res->rc = CS_ENOTFOUND;
        return;
    }
    if (op->expire_at_ms && op->expire_at_ms <= kv->clock_ms) {
        /* Set and at once expired, as Redis does with a time already past: it goes. */
        if (it) kv_expire_item(kv, it);
        return;
    }
    uint64_t expire_at_ms = op->expire_at_ms;
    if ((op->flags & CS_KV_SET_KEEPTTL) && it) expire_at_ms = it->expire_at_ms;
    res->rc =
        map_set(&kv->map, op->key, op->key_len, op->value, op->value_len, expire_at_ms, index);
}

static void kv_apply_expire(struct cs_kv *kv, const struct cs_kv_op *op, uint64_t index,
                            struct cs_kv_result *res)
{
    struct kv_item *it = kv_live(kv, op);
    res->found = it != NULL;
    if (!it) return;
    if (op->flags & CS_KV_EXPIRE_PERSIST) {
        if (it->expire_at_ms == 0) return; /* no TTL to clear: unchanged */
        if (kv->bugs & CS_KV_BUG_PERSIST_STALE_INDEX) {
            it->expire_at_ms = 0; /* the planted bug: the heap keeps its slot */
        } else {
            res->rc = map_set_ttl(&kv->map, it, 0);
        }
    } else if (op->expire_at_ms <= kv->clock_ms) {
        kv_expire_item(kv, it);
        res->number = 1;
        return;
    } else {
        res->rc = map_set_ttl(&kv->map, it, op->expire_at_ms);
        CS_ASSERT(res->rc != 0 || it->expire_at_ms == op->expire_at_ms);
    }
    if (res->rc) return;
    it->mod_index = index;
    res->number = 1;
}

/* Remove up to CS_KV_PURGE_KEYS_MAX expired keys, soonest first: the same keys on every replica. */
static int64_t kv_purge(struct cs_kv *kv)
{
    int64_t removed = 0;
    while (removed < CS_KV_PURGE_KEYS_MAX) {
        struct kv_item *it = expiry_min(&kv->map.expiry);
        if (!it) break;
        bool due = kv_item_expired(it, kv->clock_ms) || (kv->bugs & CS_KV_BUG_PURGE_IGNORES_CLOCK);
        if (!due) break;
        CS_ASSERT(it->expiry_slot == 1); /* the heap's root */
        kv_expire_item(kv, it);
        removed++;
    }
    return removed;
}

static void kv_apply_op(struct cs_kv *kv, const struct cs_kv_op *op, uint64_t index,
                        struct cs_kv_result *res, struct cs_buf *scratch)
{
    struct kv_item *it = NULL;
    switch ((enum cs_kv_op_type)op->type) {
    case CS_KV_GET:
        it = kv_live(kv, op);
        kv_result_value(res, it, scratch);
        kv_result_meta(res, it);
        if (!it) res->rc = CS_ENOTFOUND;
        return;
    case CS_KV_EXISTS:
    case CS_KV_TTL:
    case CS_KV_CHECK: /* every check passed already: report the key as it is */
        it = kv_live(kv, op);
        kv_result_meta(res, it);
        if (op->type == CS_KV_EXISTS) res->number = it != NULL;
        return;
    case CS_KV_DEL:
        it = kv_live(kv, op);
        if (it) map_del_item(&kv->map, it);
        res->number = it != NULL;
        if (!it) res->rc = CS_ENOTFOUND;
        return;
    case CS_KV_INCRBY:
        kv_apply_incrby(kv, op, index, res);
        return;
    case CS_KV_SET:
        kv_apply_set(kv, op, index, res, scratch);
        return;
    case CS_KV_EXPIRE:
        kv_apply_expire(kv, op, index, res);
        return;
    case CS_KV_CAS: {
        it = kv_live(kv, op);
        bool match = (op->flags & CS_KV_CAS_ABSENT)
                         ? it == NULL
                         : it && kv_key_cmp(kv_item_value(it), it->value_len, op->expected,
                                            op->expected_len) == 0;
        res->found = it != NULL;
        if (!match) {
            res->rc = CS_ECONFLICT;
            return;
        }
        res->rc = map_set(&kv->map, op->key, op->key_len, op->value, op->value_len, 0, index);
        return;
    }
    case CS_KV_PURGE:
        res->number = kv_purge(kv);
        return;
    }
    CS_UNREACHABLE();
}

/* WATCH: do the command's leading CHECKs all hold? Reads only, so a failure changes nothing. */
static bool kv_checks_pass(const struct cs_kv *kv, const struct cs_kv_command *cmd)
{
    for (uint32_t k = 0; k < cmd->ops_len && cmd->ops[k].type == CS_KV_CHECK; k++) {
        const struct cs_kv_op *op = &cmd->ops[k];
        const struct kv_item *it = map_find(&kv->map, op->key, op->key_len);
        bool live =
            it && (!kv_item_expired(it, kv->clock_ms) || (kv->bugs & CS_KV_BUG_CHECK_SEES_EXPIRED));
        if ((live ? it->mod_index : 0) != op->expected_index) return false;
    }
    return true;
}

/* The session's slot (sorted by client id), or where it would go. */
static uint32_t kv_session_find(const struct cs_kv *kv, uint64_t client_id, bool *found)
{
    uint32_t lo = 0, hi = kv->sessions_len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (kv->sessions[mid].client_id < client_id) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    *found = lo < kv->sessions_len && kv->sessions[lo].client_id == client_id;
    return lo;
}

static void kv_session_evict_oldest(struct cs_kv *kv)
{
    CS_ASSERT(kv->sessions_len > 0);
    uint32_t oldest = 0;
    for (uint32_t k = 1; k < kv->sessions_len; k++) {
        if (kv->sessions[k].last_index < kv->sessions[oldest].last_index) oldest = k;
    }
    free(kv->sessions[oldest].reply);
    memmove(&kv->sessions[oldest], &kv->sessions[oldest + 1],
            (kv->sessions_len - oldest - 1) * sizeof kv->sessions[0]);
    kv->sessions_len--;
}

/* Remember the reply bytes reply_out[from..) for the client's seq. */
static int kv_session_record(struct cs_kv *kv, const struct cs_kv_command *cmd, uint64_t index,
                             const uint8_t *reply, size_t reply_len)
{
    bool found = false;
    uint32_t at = kv_session_find(kv, cmd->client_id, &found);
    if (!found) {
        if (kv->sessions_len == CS_KV_SESSIONS_MAX) {
            kv_session_evict_oldest(kv);
            at = kv_session_find(kv, cmd->client_id, &found);
        }
        memmove(&kv->sessions[at + 1], &kv->sessions[at],
                (kv->sessions_len - at) * sizeof kv->sessions[0]);
        memset(&kv->sessions[at], 0, sizeof kv->sessions[at]);
        kv->sessions[at].client_id = cmd->client_id;
        kv->sessions_len++;
    }
    struct kv_session *s = &kv->sessions[at];
    uint8_t *copy = malloc(reply_len ? reply_len : 1);
    if (!copy) return CS_ENOMEM;
    memcpy(copy, reply, reply_len);
    free(s->reply);
    s->reply = copy;
    s->reply_len = (uint32_t)reply_len;
    s->seq = cmd->seq;
    s->last_index = index;
    return 0;
}

static int kv_reply_rc_only(struct cs_buf *out, int rc)
{
    struct cs_kv_reply reply = {.rc = rc};
    return kv_encode_reply(&reply, out);
}

/* A known session's verdict on cmd: 0 to apply, else the reply is written. */
static int kv_session_check(struct cs_kv *kv, const struct cs_kv_command *cmd,
                            struct cs_buf *reply_out, bool *done)
{
    *done = false;
    if (cmd->client_id == 0) return 0;
    bool found = false;
    uint32_t at = kv_session_find(kv, cmd->client_id, &found);
    if (!found) {
        if (cmd->seq <= 1) return 0;
        *done = true; /* evicted: applying could apply a retry twice */
        return kv_reply_rc_only(reply_out, CS_ENOTFOUND);
    }
    const struct kv_session *s = &kv->sessions[at];
    if (cmd->seq > s->seq) return 0;
    *done = true;
    if (cmd->seq < s->seq) return kv_reply_rc_only(reply_out, CS_ERANGE);
    /*
     * A duplicate: replay the first reply, marked as such, except a failed
     * CHECK's, which replays as it was (nothing was applied either time, and
     * EXEC must still answer null).
     */
    struct cs_kv_reply first;
    int rc = cs_kv_reply_decode(s->reply, s->reply_len, &first);
    CS_ASSERT(rc == 0);
    if (first.rc != CS_ECONFLICT) first.rc = CS_EEXIST;
    return kv_encode_reply(&first, reply_out);
}

int cs_kv_apply(struct cs_kv *kv, uint64_t index, const uint8_t *cmd_bytes, size_t cmd_len,
                struct cs_buf *reply_out)
{
    CS_ASSERT(index > kv->applied_index);
    kv->applied_index = index;
    struct cs_kv_command cmd;
    if (cs_kv_command_decode(cmd_bytes, cmd_len, &cmd) != 0) {
        return kv_reply_rc_only(reply_out, CS_EDECODE);
    }
    if (cmd.now_ms > kv->clock_ms) kv->clock_ms = cmd.now_ms; /* the clock never runs back */
    CS_ASSERT(kv->clock_ms >= cmd.now_ms);
    bool done = false;
    int rc = kv_session_check(kv, &cmd, reply_out, &done);
    if (done || rc) return rc;
    struct cs_kv_reply reply;
    memset(&reply, 0, sizeof reply);
    struct cs_buf scratch;
    cs_buf_init(&scratch, CS_KV_REPLY_BYTES_MAX);
    if (!kv_checks_pass(kv, &cmd)) {
        reply.rc = CS_ECONFLICT;
    } else {
        reply.results_len = cmd.ops_len;
        for (uint32_t k = 0; k < cmd.ops_len; k++) {
            kv_apply_op(kv, &cmd.ops[k], index, &reply.results[k], &scratch);
            if (reply.results[k].rc == CS_ENOMEM) rc = CS_ENOMEM;
        }
    }
    if (!rc) rc = cs_buf_error(&scratch);
    for (uint32_t k = 0; k < reply.results_len && !rc; k++) {
        struct cs_kv_result *res = &reply.results[k];
        if (res->value_len) res->value = scratch.data + (uintptr_t)res->value;
    }
    size_t start = reply_out->len;
    if (!rc) rc = kv_encode_reply(&reply, reply_out);
    if (!rc && cmd.client_id != 0) {
        rc = kv_session_record(kv, &cmd, index, reply_out->data + start, reply_out->len - start);
    }
    cs_buf_free(&scratch);
    return rc;
}
