/*
 * history.c: the history container: paired operations, interned strings and
 * list items.
 *
 * The one idea: pair at append time. Each process has at most one open op
 * (a small hash table maps process -> op index), so a completion finds its
 * invoke in O(1) and the container always holds paired ops plus the global
 * event order. Strings are interned so that equal strings have equal ids and
 * the checkers compare values as integers.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "consist/check.h"
#include "consist/error.h"

struct cs_history_open {
    int64_t *process; /* slot -> process */
    uint32_t *op;     /* slot -> op index + 1; 0 = empty, UINT32_MAX = deleted */
    uint32_t cap;     /* power of two */
    uint32_t used;    /* live + deleted */
    uint32_t live;
};

void cs_history_init(struct cs_history *h, uint32_t ops_max)
{
    memset(h, 0, sizeof *h);
    h->ops_max = (ops_max == 0 || ops_max > CS_HISTORY_OPS_MAX) ? CS_HISTORY_OPS_MAX : ops_max;
}

static void open_free(struct cs_history_open *open)
{
    if (open == NULL) return;
    free(open->process);
    free(open->op);
    free(open);
}

void cs_history_free(struct cs_history *h)
{
    free(h->ops);
    free(h->events);
    free(h->string_bytes);
    free(h->string_offsets);
    free(h->string_slots);
    free(h->items);
    open_free(h->open);
    uint32_t ops_max = h->ops_max;
    memset(h, 0, sizeof *h);
    h->ops_max = ops_max;
}

void cs_history_reset(struct cs_history *h)
{
    h->ops_len = 0;
    h->events_len = 0;
    h->string_bytes_len = 0;
    h->strings_len = 0;
    h->items_len = 0;
    if (h->string_slots != NULL) {
        memset(h->string_slots, 0, h->string_slots_cap * sizeof h->string_slots[0]);
    }
    if (h->open != NULL) {
        memset(h->open->op, 0, h->open->cap * sizeof h->open->op[0]);
        h->open->used = 0;
        h->open->live = 0;
    }
}

/* grow: make *arr hold at least need elements of size elem; doubles. */
static int grow(void **arr, uint32_t *cap, uint32_t need, size_t elem)
{
    if (need <= *cap) return 0;
    uint64_t cap_new = *cap ? *cap : 16;
    while (cap_new < need)
        cap_new *= 2;
    if (cap_new > UINT32_MAX) cap_new = UINT32_MAX;
    void *p = realloc(*arr, (size_t)cap_new * elem);
    if (p == NULL) return CS_ENOMEM;
    *arr = p;
    *cap = (uint32_t)cap_new;
    return 0;
}

/* --- strings ------------------------------------------------------------- */

static uint32_t string_len(const struct cs_history *h, uint32_t id)
{
    uint32_t end = id + 1 < h->strings_len ? h->string_offsets[id + 1] : h->string_bytes_len;
    return end - h->string_offsets[id];
}

const char *cs_history_string(const struct cs_history *h, uint32_t id, size_t *len_out)
{
    CS_ASSERT(id < h->strings_len);
    *len_out = string_len(h, id);
    return h->string_bytes + h->string_offsets[id];
}

static int strings_rehash(struct cs_history *h)
{
    uint32_t cap = h->string_slots_cap ? h->string_slots_cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return CS_ENOMEM;
    for (uint32_t id = 0; id < h->strings_len; id++) {
        size_t len;
        const char *s = cs_history_string(h, id, &len);
        uint32_t i = (uint32_t)cs_check_hash_bytes(s, len) & (cap - 1);
        while (slots[i] != 0)
            i = (i + 1) & (cap - 1);
        slots[i] = id + 1;
    }
    free(h->string_slots);
    h->string_slots = slots;
    h->string_slots_cap = cap;
    return 0;
}

int cs_history_intern(struct cs_history *h, const char *bytes, size_t len, uint32_t *id_out)
{
    if (len > CS_HISTORY_STRING_LEN_MAX) return CS_ETOOBIG;
    if ((uint64_t)h->strings_len * 2 + 2 > h->string_slots_cap) {
        int rc = strings_rehash(h);
        if (rc) return rc;
    }
    uint32_t mask = h->string_slots_cap - 1;
    uint32_t i = (uint32_t)cs_check_hash_bytes(bytes, len) & mask;
    for (; h->string_slots[i] != 0; i = (i + 1) & mask) {
        uint32_t id = h->string_slots[i] - 1;
        size_t have_len;
        const char *have = cs_history_string(h, id, &have_len);
        if (have_len == len && memcmp(have, bytes, len) == 0) {
            *id_out = id;
            return 0;
        }
    }
    if ((uint64_t)h->string_bytes_len + len > CS_HISTORY_STRING_BYTES_MAX) return CS_ETOOBIG;
    int rc = grow((void **)&h->string_bytes, &h->string_bytes_cap,
                  h->string_bytes_len + (uint32_t)len + 1, 1);
    if (rc == 0) {
        rc = grow((void **)&h->string_offsets, &h->strings_cap, h->strings_len + 1,
                  sizeof h->string_offsets[0]);
    }
    if (rc) return rc;
    if (len > 0) memcpy(h->string_bytes + h->string_bytes_len, bytes, len);
    h->string_offsets[h->strings_len] = h->string_bytes_len;
    h->string_bytes_len += (uint32_t)len;
    h->string_slots[i] = h->strings_len + 1;
    *id_out = h->strings_len++;
    CS_DEBUG_ASSERT(string_len(h, *id_out) == len);
    return 0;
}

int cs_history_value_str(struct cs_history *h, const char *bytes, size_t len, struct cs_value *out)
{
    uint32_t id;
    int rc = cs_history_intern(h, bytes, len, &id);
    if (rc) return rc;
    out->kind = CS_VALUE_STR;
    out->len = 0;
    out->x = id;
    return 0;
}

int cs_history_value_list(struct cs_history *h, const struct cs_value *items, uint32_t len,
                          struct cs_value *out)
{
    if (len > CS_HISTORY_LIST_LEN_MAX) return CS_ETOOBIG;
    if ((uint64_t)h->items_len + len > CS_HISTORY_LIST_ITEMS_MAX) return CS_ETOOBIG;
    int rc = grow((void **)&h->items, &h->items_cap, h->items_len + len, sizeof h->items[0]);
    if (rc) return rc;
    if (len > 0) memcpy(h->items + h->items_len, items, len * sizeof items[0]);
    out->kind = CS_VALUE_LIST;
    out->len = len;
    out->x = h->items_len;
    h->items_len += len;
    return 0;
}

/* --- open ops: process -> op index --------------------------------------- */

static uint32_t open_slot(const struct cs_history_open *open, int64_t process)
{
    uint32_t mask = open->cap - 1;
    uint32_t i = (uint32_t)cs_check_mix64((uint64_t)process) & mask;
    uint32_t tomb = UINT32_MAX;
    for (;; i = (i + 1) & mask) {
        uint32_t op = open->op[i];
        if (op == 0) return tomb != UINT32_MAX ? tomb : i;
        if (op == UINT32_MAX) {
            if (tomb == UINT32_MAX) tomb = i;
        } else if (open->process[i] == process) {
            return i;
        }
    }
}

static int open_rehash(struct cs_history *h)
{
    struct cs_history_open *old = h->open;
    uint32_t cap = 64;
    if (old != NULL) {
        while (cap < old->live * 4)
            cap *= 2;
    }
    struct cs_history_open *open = calloc(1, sizeof *open);
    if (open == NULL) return CS_ENOMEM;
    open->process = malloc(cap * sizeof open->process[0]);
    open->op = calloc(cap, sizeof open->op[0]);
    if (open->process == NULL || open->op == NULL) {
        open_free(open);
        return CS_ENOMEM;
    }
    open->cap = cap;
    for (uint32_t i = 0; old != NULL && i < old->cap; i++) {
        if (old->op[i] == 0 || old->op[i] == UINT32_MAX) continue;
        uint32_t s = open_slot(open, old->process[i]);
        open->process[s] = old->process[i];
        open->op[s] = old->op[i];
        open->used++;
        open->live++;
    }
    open_free(old);
    h->open = open;
    return 0;
}

/* open_find: the slot of process's open op, or UINT32_MAX. */
static uint32_t open_find(const struct cs_history *h, int64_t process)
{
    if (h->open == NULL) return UINT32_MAX;
    uint32_t s = open_slot(h->open, process);
    uint32_t op = h->open->op[s];
    return (op == 0 || op == UINT32_MAX) ? UINT32_MAX : s;
}

/* --- append -------------------------------------------------------------- */

static int append_invoke(struct cs_history *h, const struct cs_event *ev)
{
    if (open_find(h, ev->process) != UINT32_MAX) return CS_ESTATE;
    if (h->ops_len >= h->ops_max) return CS_ETOOBIG;
    if (h->open != NULL && h->open->live >= CS_HISTORY_OPEN_MAX) return CS_ETOOBIG;
    if (h->open == NULL || (h->open->used + 1) * 2 > h->open->cap) {
        int rc = open_rehash(h);
        if (rc) return rc;
    }
    int rc = grow((void **)&h->ops, &h->ops_cap, h->ops_len + 1, sizeof h->ops[0]);
    if (rc == 0) {
        rc = grow((void **)&h->events, &h->events_cap, h->events_len + 1, sizeof h->events[0]);
    }
    if (rc) return rc;
    struct cs_op *op = &h->ops[h->ops_len];
    memset(op, 0, sizeof *op);
    op->process = ev->process;
    op->invoke_time = ev->time;
    op->complete_time = CS_TIME_NONE;
    op->value = ev->value;
    op->result = cs_value_none();
    op->version = ev->version;
    op->key = ev->key;
    op->session = ev->session;
    op->invoke_event = h->events_len;
    op->complete_event = CS_EVENT_NONE;
    op->f = ev->f;
    op->type = CS_TYPE_INVOKE;
    uint32_t s = open_slot(h->open, ev->process);
    if (h->open->op[s] == 0) h->open->used++;
    h->open->process[s] = ev->process;
    h->open->op[s] = h->ops_len + 1;
    h->open->live++;
    h->events[h->events_len++] = h->ops_len << 1;
    h->ops_len++;
    return 0;
}

static int append_completion(struct cs_history *h, const struct cs_event *ev)
{
    uint32_t s = open_find(h, ev->process);
    if (s == UINT32_MAX) return CS_ESTATE;
    uint32_t index = h->open->op[s] - 1;
    struct cs_op *op = &h->ops[index];
    CS_ASSERT(op->type == CS_TYPE_INVOKE);
    if (op->f != ev->f) return CS_ESTATE;
    int rc = grow((void **)&h->events, &h->events_cap, h->events_len + 1, sizeof h->events[0]);
    if (rc) return rc;
    op->type = ev->type;
    op->result = ev->value;
    op->complete_time = ev->time;
    op->complete_event = h->events_len;
    if (ev->version != CS_VERSION_NONE) op->version = ev->version;
    if (op->session == CS_SESSION_NONE) op->session = ev->session;
    h->open->op[s] = UINT32_MAX;
    h->open->live--;
    h->events[h->events_len++] = index << 1 | 1u;
    return 0;
}

int cs_history_append(struct cs_history *h, const struct cs_event *ev)
{
    if (ev->f >= CS_F_COUNT_) return CS_EINVAL;
    switch ((enum cs_op_type)ev->type) {
    case CS_TYPE_INVOKE:
        return append_invoke(h, ev);
    case CS_TYPE_OK:
    case CS_TYPE_FAIL:
    case CS_TYPE_INFO:
        return append_completion(h, ev);
    }
    return CS_EINVAL;
}

int cs_history_invoke(struct cs_history *h, int64_t process, enum cs_op_f f, uint32_t key,
                      struct cs_value value, int64_t time)
{
    struct cs_event ev = {process,         time,           value,     CS_VERSION_NONE, key,
                          CS_SESSION_NONE, CS_TYPE_INVOKE, (uint8_t)f};
    return cs_history_append(h, &ev);
}

int cs_history_complete(struct cs_history *h, int64_t process, enum cs_op_type type, enum cs_op_f f,
                        struct cs_value result, int64_t time)
{
    if (type == CS_TYPE_INVOKE) return CS_EINVAL;
    struct cs_event ev = {process,         time,          result,    CS_VERSION_NONE, CS_KEY_NONE,
                          CS_SESSION_NONE, (uint8_t)type, (uint8_t)f};
    return cs_history_append(h, &ev);
}

/* --- names --------------------------------------------------------------- */

static const char *const op_type_names[] = {"invoke", "ok", "fail", "info"};
static const char *const op_f_names[CS_F_COUNT_] = {
    "read", "write", "cas", "incr", "add", "remove", "transfer", "get", "put", "append", "txn"};

const char *cs_op_type_name(enum cs_op_type type)
{
    return (unsigned)type < 4 ? op_type_names[type] : "?";
}

const char *cs_op_f_name(enum cs_op_f f)
{
    return (unsigned)f < CS_F_COUNT_ ? op_f_names[f] : "?";
}

int cs_op_f_parse(const char *name, size_t len)
{
    for (int f = 0; f < CS_F_COUNT_; f++) {
        if (strlen(op_f_names[f]) == len && memcmp(op_f_names[f], name, len) == 0) return f;
    }
    return -1;
}
