/*
 * model.c: register, cas-register, kv, counter, set and multi-register, with
 * states as canonical 64-bit words (see model.h), and the product of one
 * model over many keys for checks that may not split by key.
 *
 * Words per model:
 *   register, cas-register: 0 = nil, else 1 + index in the value table;
 *   kv:        pool id of the string's bytes;
 *   counter:   the count as a two's complement word;
 *   set:       pool id of the sorted array of element words;
 *   multi-register, and any product: pool id of the vector of words.
 */
#include "check/model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "consist/error.h"

/* --- pool ---------------------------------------------------------------- */

static int pool_rehash(struct cs_pool *pool)
{
    uint32_t cap = pool->slots_cap ? pool->slots_cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return CS_ENOMEM;
    for (uint32_t id = 0; id < pool->len; id++) {
        uint64_t len;
        const uint8_t *b = cs_pool_get(pool, id, &len);
        uint32_t i = (uint32_t)cs_check_hash_bytes(b, len) & (cap - 1);
        while (slots[i] != 0)
            i = (i + 1) & (cap - 1);
        slots[i] = id + 1;
    }
    pool->memory_bytes += (uint64_t)(cap - pool->slots_cap) * sizeof *slots;
    free(pool->slots);
    pool->slots = slots;
    pool->slots_cap = cap;
    return 0;
}

const uint8_t *cs_pool_get(const struct cs_pool *pool, uint32_t id, uint64_t *len_out)
{
    CS_DEBUG_ASSERT(id < pool->len);
    *len_out = pool->lens[id];
    return pool->bytes + pool->offsets[id];
}

bool cs_pool_find(const struct cs_pool *pool, const void *bytes, uint64_t len, uint32_t *id_out)
{
    if (pool->slots_cap == 0) return false;
    uint32_t mask = pool->slots_cap - 1;
    for (uint32_t i = (uint32_t)cs_check_hash_bytes(bytes, len) & mask; pool->slots[i] != 0;
         i = (i + 1) & mask) {
        uint64_t have_len;
        const uint8_t *have = cs_pool_get(pool, pool->slots[i] - 1, &have_len);
        if (have_len == len && (len == 0 || memcmp(have, bytes, len) == 0)) {
            *id_out = pool->slots[i] - 1;
            return true;
        }
    }
    return false;
}

int cs_pool_intern(struct cs_pool *pool, const void *bytes, uint64_t len, uint32_t *id_out)
{
    if ((uint64_t)pool->len * 2 + 2 > pool->slots_cap) {
        int rc = pool_rehash(pool);
        if (rc) return rc;
    }
    uint32_t mask = pool->slots_cap - 1;
    uint32_t i = (uint32_t)cs_check_hash_bytes(bytes, len) & mask;
    for (; pool->slots[i] != 0; i = (i + 1) & mask) {
        uint64_t have_len;
        const uint8_t *have = cs_pool_get(pool, pool->slots[i] - 1, &have_len);
        if (have_len == len && (len == 0 || memcmp(have, bytes, len) == 0)) {
            *id_out = pool->slots[i] - 1;
            return 0;
        }
    }
    if (pool->len == UINT32_MAX - 1) return CS_ENOMEM;
    /* Entries start 8-byte aligned: vectors of words are read in place. */
    uint64_t start = (pool->bytes_len + 7) & ~(uint64_t)7;
    if (start + len > pool->bytes_cap || pool->bytes == NULL) {
        uint64_t cap = pool->bytes_cap ? pool->bytes_cap : 4096;
        while (cap < start + len)
            cap *= 2;
        uint8_t *b = realloc(pool->bytes, cap);
        if (b == NULL) return CS_ENOMEM;
        pool->memory_bytes += cap - pool->bytes_cap;
        pool->bytes = b;
        pool->bytes_cap = cap;
    }
    if (pool->len == pool->cap) {
        uint32_t cap = pool->cap ? pool->cap * 2 : 1024;
        uint64_t *o = realloc(pool->offsets, cap * sizeof *o);
        if (o != NULL) pool->offsets = o;
        uint64_t *l = o != NULL ? realloc(pool->lens, cap * sizeof *l) : NULL;
        if (l == NULL) return CS_ENOMEM;
        pool->memory_bytes += (uint64_t)(cap - pool->cap) * (sizeof *o + sizeof *l);
        pool->lens = l;
        pool->cap = cap;
    }
    if (len > 0) memcpy(pool->bytes + start, bytes, len);
    pool->offsets[pool->len] = start;
    pool->lens[pool->len] = len;
    pool->bytes_len = start + len;
    pool->slots[i] = pool->len + 1;
    *id_out = pool->len++;
    return 0;
}

void cs_pool_free(struct cs_pool *pool)
{
    free(pool->bytes);
    free(pool->offsets);
    free(pool->lens);
    free(pool->slots);
    memset(pool, 0, sizeof *pool);
}

/* --- tables: scalar value -> word, key -> dense index -------------------- */

static int fail_detail(struct cs_model_ctx *m, uint32_t op_index, const char *why)
{
    const struct cs_op *op = &m->h->ops[op_index];
    snprintf(m->detail, m->detail_len, "op %u (process %" PRId64 ", %s %s): %s", op_index,
             op->process, cs_op_type_name((enum cs_op_type)op->type),
             cs_op_f_name((enum cs_op_f)op->f), why);
    return CS_EINVAL;
}

static int table_grow(struct cs_model_ctx *m)
{
    uint32_t cap = m->value_slots_cap ? m->value_slots_cap * 2 : 256;
    uint32_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return CS_ENOMEM;
    for (uint32_t w = 0; w < m->values_len; w++) {
        struct cs_value v = m->values[w];
        uint32_t i = (uint32_t)cs_check_mix64((uint64_t)v.x * 2 + v.kind) & (cap - 1);
        while (slots[i] != 0)
            i = (i + 1) & (cap - 1);
        slots[i] = w + 1;
    }
    free(m->value_slots);
    m->value_slots = slots;
    m->value_slots_cap = cap;
    return 0;
}

/* scalar_word: nil (or absent) -> 0; an integer or string -> its dense id + 1. */
static int scalar_word(struct cs_model_ctx *m, struct cs_value v, uint64_t *word)
{
    if (v.kind == CS_VALUE_NIL || v.kind == CS_VALUE_NONE) {
        *word = 0;
        return 0;
    }
    if (v.kind != CS_VALUE_INT && v.kind != CS_VALUE_STR) return CS_EINVAL;
    if ((uint64_t)m->values_len * 2 + 2 > m->value_slots_cap) {
        int rc = table_grow(m);
        if (rc) return rc;
    }
    uint32_t mask = m->value_slots_cap - 1;
    uint32_t i = (uint32_t)cs_check_mix64((uint64_t)v.x * 2 + v.kind) & mask;
    for (; m->value_slots[i] != 0; i = (i + 1) & mask) {
        struct cs_value have = m->values[m->value_slots[i] - 1];
        if (have.kind == v.kind && have.x == v.x) {
            *word = m->value_slots[i];
            return 0;
        }
    }
    if (m->values_len == m->values_cap) {
        uint32_t cap = m->values_cap ? m->values_cap * 2 : 256;
        struct cs_value *values = realloc(m->values, cap * sizeof *values);
        if (values == NULL) return CS_ENOMEM;
        m->values = values;
        m->values_cap = cap;
    }
    m->values[m->values_len++] = v;
    m->value_slots[i] = m->values_len;
    *word = m->values_len;
    return 0;
}

/* key_index: a key (any uint32 id, CS_KEY_NONE included) -> dense index. */
static int key_index(struct cs_model_ctx *m, uint32_t key, uint32_t *index)
{
    if ((uint64_t)m->keys_len * 2 + 2 > m->key_slots_cap) {
        uint32_t cap = m->key_slots_cap ? m->key_slots_cap * 2 : 64;
        uint32_t *slots = calloc(cap, sizeof *slots);
        if (slots == NULL) return CS_ENOMEM;
        for (uint32_t d = 0; d < m->keys_len; d++) {
            uint32_t i = (uint32_t)cs_check_mix64(m->key_of_index[d]) & (cap - 1);
            while (slots[i] != 0)
                i = (i + 1) & (cap - 1);
            slots[i] = d + 1;
        }
        free(m->key_slots);
        m->key_slots = slots;
        m->key_slots_cap = cap;
    }
    uint32_t mask = m->key_slots_cap - 1;
    uint32_t i = (uint32_t)cs_check_mix64(key) & mask;
    for (; m->key_slots[i] != 0; i = (i + 1) & mask) {
        if (m->key_of_index[m->key_slots[i] - 1] == key) {
            *index = m->key_slots[i] - 1;
            return 0;
        }
    }
    if (m->keys_len == m->keys_cap) {
        uint32_t cap = m->keys_cap ? m->keys_cap * 2 : 16;
        uint32_t *k = realloc(m->key_of_index, cap * sizeof *k);
        if (k == NULL) return CS_ENOMEM;
        m->key_of_index = k;
        m->keys_cap = cap;
    }
    m->key_of_index[m->keys_len] = key;
    m->key_slots[i] = m->keys_len + 1;
    *index = m->keys_len++;
    return 0;
}

static int scratch_reserve(struct cs_model_ctx *m, uint64_t words)
{
    if (words <= m->scratch_cap && m->scratch != NULL) return 0;
    if (words > UINT32_MAX / 2) return CS_ENOMEM;
    uint32_t cap = m->scratch_cap ? m->scratch_cap : 64;
    while (cap < words)
        cap *= 2;
    uint64_t *s = realloc(m->scratch, cap * sizeof *s);
    if (s == NULL) return CS_ENOMEM;
    m->scratch = s;
    m->scratch_cap = cap;
    return 0;
}

static int bytes_reserve(struct cs_model_ctx *m, uint64_t len)
{
    if (len <= m->bytes_scratch_cap && m->bytes_scratch != NULL) return 0;
    uint64_t cap = m->bytes_scratch_cap ? m->bytes_scratch_cap : 256;
    while (cap < len)
        cap *= 2;
    uint8_t *b = realloc(m->bytes_scratch, cap);
    if (b == NULL) return CS_ENOMEM;
    m->bytes_scratch = b;
    m->bytes_scratch_cap = cap;
    return 0;
}

static int intern_words(struct cs_model_ctx *m, const uint64_t *words, uint64_t len, uint64_t *id)
{
    uint32_t id32;
    int rc = cs_pool_intern(&m->pool, words, len * sizeof *words, &id32);
    *id = id32;
    return rc;
}

/* --- compile -------------------------------------------------------------- */

/* kv_word: a string (nil: "") -> pool id. */
static int kv_word(struct cs_model_ctx *m, struct cs_value v, uint64_t *word)
{
    const char *s = "";
    size_t len = 0;
    if (v.kind == CS_VALUE_STR) {
        s = cs_history_string(m->h, (uint32_t)v.x, &len);
    } else if (v.kind != CS_VALUE_NIL && v.kind != CS_VALUE_NONE) {
        return CS_EINVAL;
    }
    uint32_t id;
    int rc = cs_pool_intern(&m->pool, s, len, &id);
    *word = id;
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* set_word: a list of scalars -> pool id of its sorted, unique words. */
static int set_word(struct cs_model_ctx *m, struct cs_value v, uint64_t *word)
{
    if (v.kind == CS_VALUE_NIL) {
        v.len = 0;
    } else if (v.kind != CS_VALUE_LIST) {
        return CS_EINVAL;
    }
    int rc = scratch_reserve(m, v.len);
    for (uint32_t i = 0; rc == 0 && i < v.len; i++) {
        rc = scalar_word(m, cs_history_item(m->h, v, i), &m->scratch[i]);
    }
    if (rc) return rc;
    qsort(m->scratch, v.len, sizeof m->scratch[0], cmp_u64);
    uint32_t n = 0;
    for (uint32_t i = 0; i < v.len; i++) {
        if (n == 0 || m->scratch[n - 1] != m->scratch[i]) m->scratch[n++] = m->scratch[i];
    }
    return intern_words(m, m->scratch, n, word);
}

static bool str_is(const struct cs_history *h, struct cs_value v, const char *a, const char *b)
{
    if (v.kind != CS_VALUE_STR) return false;
    size_t len;
    const char *s = cs_history_string(h, (uint32_t)v.x, &len);
    return (strlen(a) == len && memcmp(s, a, len) == 0) ||
           (strlen(b) == len && memcmp(s, b, len) == 0);
}

/* compile_txn: [[f k v] ...] -> micro-ops; reads take the completion's v. */
static int compile_txn(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *c)
{
    const struct cs_op *op = &m->h->ops[op_index];
    struct cs_value in = op->value;
    struct cs_value out = op->result;
    if (in.kind != CS_VALUE_LIST) return fail_detail(m, op_index, "txn value must be a list");
    bool have_out = !c->unknown && out.kind == CS_VALUE_LIST && out.len == in.len;
    if (!c->unknown && !have_out) {
        return fail_detail(m, op_index, "ok txn must return its micro-ops with read values");
    }
    if (in.len > UINT16_MAX) return fail_detail(m, op_index, "txn too long");
    if (m->mops_len + in.len > m->mops_cap) {
        uint32_t cap = m->mops_cap ? m->mops_cap : 256;
        while (cap < m->mops_len + in.len)
            cap *= 2;
        struct cs_mop *mops = realloc(m->mops, cap * sizeof *mops);
        if (mops == NULL) return CS_ENOMEM;
        m->mops = mops;
        m->mops_cap = cap;
    }
    c->mops = m->mops_len;
    c->mops_len = (uint16_t)in.len;
    for (uint32_t i = 0; i < in.len; i++) {
        struct cs_value mop = cs_history_item(m->h, in, i);
        if (mop.kind != CS_VALUE_LIST || mop.len != 3) {
            return fail_detail(m, op_index, "txn micro-op must be [f key value]");
        }
        struct cs_value f = cs_history_item(m->h, mop, 0);
        struct cs_mop *d = &m->mops[m->mops_len + i];
        memset(d, 0, sizeof *d);
        d->write = str_is(m->h, f, "w", "write");
        if (!d->write && !str_is(m->h, f, "r", "read")) {
            return fail_detail(m, op_index, "txn micro-op f must be r or w");
        }
        uint64_t kword;
        int rc = scalar_word(m, cs_history_item(m->h, mop, 1), &kword);
        if (rc == 0) rc = key_index(m, (uint32_t)kword, &d->reg);
        struct cs_value v = cs_history_item(m->h, mop, 2);
        if (!d->write) {
            d->unknown = !have_out;
            if (have_out) v = cs_history_item(m->h, cs_history_item(m->h, out, i), 2);
        }
        if (rc == 0) rc = scalar_word(m, v, &d->word);
        if (rc == CS_EINVAL) return fail_detail(m, op_index, "txn values must be scalars");
        if (rc) return rc;
    }
    m->mops_len += in.len;
    c->code = CS_COP_TXN;
    return 0;
}

static int compile_register(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *c)
{
    const struct cs_op *op = &m->h->ops[op_index];
    int rc;
    switch (op->f) {
    case CS_F_READ:
    case CS_F_GET:
        c->code = CS_COP_READ;
        if (op->result.kind == CS_VALUE_NONE) c->unknown = 1;
        rc = c->unknown ? 0 : scalar_word(m, op->result, &c->a);
        break;
    case CS_F_WRITE:
    case CS_F_PUT:
        c->code = CS_COP_WRITE;
        rc = scalar_word(m, op->value, &c->a);
        break;
    case CS_F_CAS:
        if (m->kind != CS_MODEL_CAS_REGISTER) {
            return fail_detail(m, op_index, "cas needs the cas-register model");
        }
        if (op->value.kind != CS_VALUE_LIST || op->value.len != 2) {
            return fail_detail(m, op_index, "cas value must be [expected new]");
        }
        c->code = CS_COP_CAS;
        c->cas_failed = op->type == CS_TYPE_FAIL;
        rc = scalar_word(m, cs_history_item(m->h, op->value, 0), &c->a);
        if (rc == 0) rc = scalar_word(m, cs_history_item(m->h, op->value, 1), &c->b);
        break;
    default:
        return fail_detail(m, op_index, "not an operation of a register");
    }
    return rc == CS_EINVAL ? fail_detail(m, op_index, "register values must be scalars") : rc;
}

static int compile_kv(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *c)
{
    const struct cs_op *op = &m->h->ops[op_index];
    int rc;
    switch (op->f) {
    case CS_F_GET:
    case CS_F_READ:
        c->code = CS_COP_READ;
        if (op->result.kind == CS_VALUE_NONE) c->unknown = 1;
        rc = c->unknown ? 0 : kv_word(m, op->result, &c->a);
        break;
    case CS_F_PUT:
    case CS_F_WRITE:
        c->code = CS_COP_WRITE;
        rc = kv_word(m, op->value, &c->a);
        break;
    case CS_F_APPEND:
        c->code = CS_COP_APPEND;
        rc = kv_word(m, op->value, &c->a);
        break;
    default:
        return fail_detail(m, op_index, "not an operation of kv (get, put, append)");
    }
    return rc == CS_EINVAL ? fail_detail(m, op_index, "kv values must be strings") : rc;
}

static int compile_counter(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *c)
{
    const struct cs_op *op = &m->h->ops[op_index];
    if (op->f == CS_F_INCR || op->f == CS_F_ADD) {
        c->code = CS_COP_INCR;
        if (op->value.kind == CS_VALUE_INT) {
            c->a = (uint64_t)op->value.x;
        } else if (op->value.kind == CS_VALUE_NIL || op->value.kind == CS_VALUE_NONE) {
            c->a = 1;
        } else {
            return fail_detail(m, op_index, "counter amounts must be integers");
        }
        return 0;
    }
    if (op->f != CS_F_READ) return fail_detail(m, op_index, "not an operation of a counter");
    c->code = CS_COP_READ;
    if (op->result.kind == CS_VALUE_NONE) {
        c->unknown = 1;
    } else if (op->result.kind == CS_VALUE_INT) {
        c->a = (uint64_t)op->result.x;
    } else {
        return fail_detail(m, op_index, "a counter read must return an integer");
    }
    return 0;
}

static int compile_set(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *c)
{
    const struct cs_op *op = &m->h->ops[op_index];
    int rc;
    if (op->f == CS_F_ADD || op->f == CS_F_REMOVE) {
        c->code = op->f == CS_F_ADD ? CS_COP_ADD : CS_COP_REMOVE;
        rc = scalar_word(m, op->value, &c->a);
    } else if (op->f == CS_F_READ) {
        c->code = CS_COP_READ;
        if (op->result.kind == CS_VALUE_NONE) c->unknown = 1;
        rc = c->unknown ? 0 : set_word(m, op->result, &c->a);
    } else {
        return fail_detail(m, op_index, "not an operation of a set (add, remove, read)");
    }
    return rc == CS_EINVAL ? fail_detail(m, op_index, "set elements must be scalars") : rc;
}

int cs_model_compile(struct cs_model_ctx *m, uint32_t op_index, struct cs_cop *c)
{
    const struct cs_op *op = &m->h->ops[op_index];
    memset(c, 0, sizeof *c);
    c->op = op_index;
    c->unknown = cs_op_unknown(op);
    if (m->product) {
        int rc = key_index(m, op->key, &c->key);
        if (rc) return rc;
    }
    switch (m->kind) {
    case CS_MODEL_REGISTER:
    case CS_MODEL_CAS_REGISTER:
        return compile_register(m, op_index, c);
    case CS_MODEL_KV:
        return compile_kv(m, op_index, c);
    case CS_MODEL_COUNTER:
        return compile_counter(m, op_index, c);
    case CS_MODEL_SET:
        return compile_set(m, op_index, c);
    case CS_MODEL_MULTI_REGISTER:
        if (op->f != CS_F_TXN) return fail_detail(m, op_index, "multi-register takes txn ops");
        return compile_txn(m, op_index, c);
    case CS_MODEL_COUNT_:
        break;
    }
    CS_UNREACHABLE();
}

/* --- init ------------------------------------------------------------------ */

int cs_model_init(struct cs_model_ctx *m, const struct cs_history *h,
                  const struct cs_model_spec *spec, bool product, char *detail, size_t detail_len)
{
    memset(m, 0, sizeof *m);
    m->h = h;
    m->kind = spec->kind;
    m->product = product && spec->kind != CS_MODEL_MULTI_REGISTER;
    m->detail = detail;
    m->detail_len = detail_len;
    struct cs_value init = spec->initial;
    int rc = 0;
    switch (spec->kind) {
    case CS_MODEL_REGISTER:
    case CS_MODEL_CAS_REGISTER:
        rc = scalar_word(m, init, &m->initial_one);
        break;
    case CS_MODEL_KV:
        rc = kv_word(m, init, &m->initial_one);
        break;
    case CS_MODEL_COUNTER:
        if (init.kind == CS_VALUE_INT) {
            m->initial_one = (uint64_t)init.x;
        } else if (init.kind != CS_VALUE_NONE && init.kind != CS_VALUE_NIL) {
            rc = CS_EINVAL;
        }
        break;
    case CS_MODEL_SET:
        if (init.kind == CS_VALUE_NONE) init = cs_value_nil();
        rc = set_word(m, init, &m->initial_one);
        break;
    case CS_MODEL_MULTI_REGISTER:
        if (init.kind != CS_VALUE_NONE && init.kind != CS_VALUE_NIL) rc = CS_EINVAL;
        break;
    case CS_MODEL_COUNT_:
    default:
        rc = CS_EINVAL;
        break;
    }
    if (rc == CS_EINVAL) {
        snprintf(detail, detail_len, "the initial value does not fit the %s model",
                 cs_model_name(spec->kind));
    }
    return rc;
}

void cs_model_free(struct cs_model_ctx *m)
{
    cs_pool_free(&m->pool);
    free(m->values);
    free(m->value_slots);
    free(m->key_of_index);
    free(m->key_slots);
    free(m->mops);
    free(m->scratch);
    free(m->bytes_scratch);
    free(m->trans);
    free(m->dead_keys);
    free(m->dead_gens);
    free(m->dead_list);
    memset(m, 0, sizeof *m);
}

int cs_model_initial(struct cs_model_ctx *m, uint64_t *state)
{
    if (m->kind == CS_MODEL_MULTI_REGISTER || m->product) {
        uint32_t n = m->keys_len;
        uint64_t fill = m->kind == CS_MODEL_MULTI_REGISTER ? 0 : m->initial_one;
        int rc = scratch_reserve(m, n);
        if (rc) return rc;
        for (uint32_t i = 0; i < n; i++)
            m->scratch[i] = fill;
        return intern_words(m, m->scratch, n, state);
    }
    *state = m->initial_one;
    return 0;
}

uint64_t cs_model_memory_bytes(const struct cs_model_ctx *m)
{
    return m->pool.memory_bytes;
}

/* --- step ------------------------------------------------------------------ */

static int step_append(struct cs_model_ctx *m, uint64_t s, uint64_t a, uint64_t *next)
{
    uint64_t len_s, len_a;
    const uint8_t *bs = cs_pool_get(&m->pool, (uint32_t)s, &len_s);
    cs_pool_get(&m->pool, (uint32_t)a, &len_a);
    int rc = bytes_reserve(m, len_s + len_a);
    if (rc) return rc;
    /* Both parts are copied out before interning, which may move the pool. */
    memcpy(m->bytes_scratch, bs, len_s);
    memcpy(m->bytes_scratch + len_s, cs_pool_get(&m->pool, (uint32_t)a, &len_a), len_a);
    uint32_t id;
    rc = cs_pool_intern(&m->pool, m->bytes_scratch, len_s + len_a, &id);
    *next = id;
    return rc ? rc : 1;
}

static int step_set(struct cs_model_ctx *m, uint64_t s, const struct cs_cop *c, uint64_t *next)
{
    uint64_t len;
    const uint64_t *elems =
        (const uint64_t *)(const void *)cs_pool_get(&m->pool, (uint32_t)s, &len);
    uint64_t n = len / sizeof(uint64_t);
    int rc = scratch_reserve(m, n + 1);
    if (rc) return rc;
    elems = (const uint64_t *)(const void *)cs_pool_get(&m->pool, (uint32_t)s, &len);
    uint64_t out = 0;
    bool placed = false;
    for (uint64_t i = 0; i < n; i++) {
        if (elems[i] == c->a) {
            placed = true;
            if (c->code == CS_COP_REMOVE) continue;
        } else if (!placed && elems[i] > c->a && c->code == CS_COP_ADD) {
            m->scratch[out++] = c->a;
            placed = true;
        }
        m->scratch[out++] = elems[i];
    }
    if (!placed && c->code == CS_COP_ADD) m->scratch[out++] = c->a;
    rc = intern_words(m, m->scratch, out, next);
    return rc ? rc : 1;
}

static int step_txn(struct cs_model_ctx *m, uint64_t s, const struct cs_cop *c, uint64_t *next)
{
    uint64_t len;
    const uint8_t *vec = cs_pool_get(&m->pool, (uint32_t)s, &len);
    uint64_t n = len / sizeof(uint64_t);
    int rc = scratch_reserve(m, n);
    if (rc) return rc;
    vec = cs_pool_get(&m->pool, (uint32_t)s, &len);
    memcpy(m->scratch, vec, len);
    for (uint32_t i = 0; i < c->mops_len; i++) {
        const struct cs_mop *d = &m->mops[c->mops + i];
        CS_DEBUG_ASSERT(d->reg < n);
        if (d->write) {
            m->scratch[d->reg] = d->word;
        } else if (!d->unknown && !c->unknown && m->scratch[d->reg] != d->word) {
            return 0;
        }
    }
    rc = intern_words(m, m->scratch, n, next);
    return rc ? rc : 1;
}

/* step_one: one instance of the model (one key). */
static int step_one(struct cs_model_ctx *m, uint64_t s, const struct cs_cop *c, uint64_t *next)
{
    switch ((enum cs_cop_code)c->code) {
    case CS_COP_READ:
        *next = s;
        return c->unknown || s == c->a;
    case CS_COP_WRITE:
        *next = c->a;
        return 1;
    case CS_COP_CAS:
        if (c->unknown) {
            *next = s == c->a ? c->b : s;
            return 1;
        }
        if (c->cas_failed) {
            *next = s;
            return s != c->a;
        }
        *next = c->b;
        return s == c->a;
    case CS_COP_INCR:
        *next = s + c->a;
        return 1;
    case CS_COP_ADD:
    case CS_COP_REMOVE:
        return step_set(m, s, c, next);
    case CS_COP_APPEND:
        return step_append(m, s, c->a, next);
    case CS_COP_TXN:
        return step_txn(m, s, c, next);
    }
    CS_UNREACHABLE();
}

static int trans_grow(struct cs_model_ctx *m)
{
    uint32_t cap = m->trans_cap ? m->trans_cap * 2 : 4096;
    struct cs_model_trans *t = calloc(cap, sizeof *t);
    if (t == NULL) return CS_ENOMEM;
    for (uint32_t i = 0; i < m->trans_cap; i++) {
        const struct cs_model_trans *e = &m->trans[i];
        if (e->op == 0) continue;
        uint32_t j = (uint32_t)cs_check_mix64(e->state * 31 + e->op) & (cap - 1);
        while (t[j].op != 0)
            j = (j + 1) & (cap - 1);
        t[j] = *e;
    }
    m->pool.memory_bytes += (uint64_t)(cap - m->trans_cap) * sizeof *t;
    free(m->trans);
    m->trans = t;
    m->trans_cap = cap;
    return 0;
}

static int step_product(struct cs_model_ctx *m, uint64_t state, const struct cs_cop *c,
                        uint64_t *next);

/* step_cached: steps that build a state go through the transition cache, so
 * the search pays for building and interning a state once per (state, op). */
static int step_cached(struct cs_model_ctx *m, uint64_t state, const struct cs_cop *c,
                       uint64_t *next)
{
    if ((m->trans_len + 1) * 2 > m->trans_cap) {
        int rc = trans_grow(m);
        if (rc) return rc;
    }
    uint32_t mask = m->trans_cap - 1;
    uint32_t op = c->op + 1;
    uint32_t i = (uint32_t)cs_check_mix64(state * 31 + op) & mask;
    for (; m->trans[i].op != 0; i = (i + 1) & mask) {
        if (m->trans[i].op == op && m->trans[i].state == state) {
            *next = m->trans[i].next;
            return m->trans[i].ok;
        }
    }
    int ok = m->product ? step_product(m, state, c, next) : step_one(m, state, c, next);
    if (ok < 0) return ok;
    /* The inner step never touches the cache: slot i is still free. */
    m->trans[i].state = state;
    m->trans[i].op = op;
    m->trans[i].ok = ok;
    m->trans[i].next = ok ? *next : 0;
    m->trans_len++;
    return ok;
}

int cs_model_step(struct cs_model_ctx *m, uint64_t state, const struct cs_cop *c, uint64_t *next)
{
    bool simple = c->code == CS_COP_READ || c->code == CS_COP_WRITE || c->code == CS_COP_CAS ||
                  c->code == CS_COP_INCR;
    if (!m->product && simple) return step_one(m, state, c, next);
    return step_cached(m, state, c, next);
}

static int step_product(struct cs_model_ctx *m, uint64_t state, const struct cs_cop *c,
                        uint64_t *next)
{
    uint64_t len;
    const uint64_t *vec =
        (const uint64_t *)(const void *)cs_pool_get(&m->pool, (uint32_t)state, &len);
    CS_DEBUG_ASSERT(c->key < len / sizeof(uint64_t));
    uint64_t inner;
    int ok = step_one(m, vec[c->key], c, &inner);
    if (ok <= 0) return ok;
    /* Reads leave the vector as it is: no interning on the hot read path. */
    if (c->code == CS_COP_READ) {
        *next = state;
        return 1;
    }
    uint64_t n = len / sizeof(uint64_t);
    int rc = scratch_reserve(m, n);
    if (rc) return rc;
    vec = (const uint64_t *)(const void *)cs_pool_get(&m->pool, (uint32_t)state, &len);
    memcpy(m->scratch, vec, len);
    m->scratch[c->key] = inner;
    rc = intern_words(m, m->scratch, n, next);
    return rc ? rc : 1;
}

/* --- pruning ---------------------------------------------------------------- */

static uint64_t component(struct cs_model_ctx *m, uint64_t state, uint32_t key)
{
    if (!m->product) return state;
    uint64_t len, w;
    const uint8_t *b = cs_pool_get(&m->pool, (uint32_t)state, &len);
    CS_DEBUG_ASSERT((uint64_t)key * sizeof w < len);
    memcpy(&w, b + (uint64_t)key * sizeof w, sizeof w);
    return w;
}

/* dead_slot: the slot of (key, word) in the generation's set, or of the
 * empty slot where it would go. */
static uint32_t dead_slot(const struct cs_model_ctx *m, uint64_t k)
{
    uint32_t mask = m->dead_cap - 1;
    uint32_t i = (uint32_t)cs_check_mix64(k) & mask;
    while (m->dead_gens[i] == m->dead_gen && m->dead_keys[i] != k)
        i = (i + 1) & mask;
    return i;
}

static uint64_t dead_key(uint32_t key, uint64_t word, uint64_t tag)
{
    return (word * 0x100000001b3ull) ^ ((uint64_t)key << 40) ^ tag;
}

static bool dead_has(const struct cs_model_ctx *m, uint64_t k)
{
    return m->dead_gens[dead_slot(m, k)] == m->dead_gen;
}

int cs_model_dead_begin(struct cs_model_ctx *m, uint64_t state, uint32_t cands_max)
{
    uint64_t need = 2ull * cands_max + 16;
    if (m->dead_cap < need) {
        uint32_t cap = 64;
        while (cap < need)
            cap *= 2;
        uint64_t *keys = malloc(cap * sizeof *keys);
        uint32_t *gens = calloc(cap, sizeof *gens);
        const struct cs_cop **puts = malloc(cap * sizeof *puts);
        if (keys == NULL || gens == NULL || puts == NULL) {
            free(keys);
            free(gens);
            free(puts);
            return CS_ENOMEM;
        }
        free(m->dead_keys);
        free(m->dead_gens);
        free(m->dead_list);
        m->dead_keys = keys;
        m->dead_gens = gens;
        m->dead_list = puts;
        m->dead_cap = cap;
        m->dead_list_cap = cap;
        m->dead_gen = 0;
    }
    if (++m->dead_gen == 0) { /* wrapped: forget every stamp */
        memset(m->dead_gens, 0, m->dead_cap * sizeof *m->dead_gens);
        m->dead_gen = 1;
    }
    m->dead_state = state;
    m->dead_lengths_len = 0;
    m->dead_unsure = false;
    m->dead_list_len = 0;
    return 0;
}

static void dead_insert(struct cs_model_ctx *m, uint64_t k)
{
    uint32_t i = dead_slot(m, k);
    m->dead_keys[i] = k;
    m->dead_gens[i] = m->dead_gen;
}

void cs_model_dead_add(struct cs_model_ctx *m, const struct cs_cop *c)
{
    switch (m->kind) {
    case CS_MODEL_REGISTER:
    case CS_MODEL_CAS_REGISTER:
        /* Tag 0: some candidate may produce the value; tag 2: a write does. */
        if (c->code == CS_COP_WRITE) {
            dead_insert(m, dead_key(c->key, c->a, 0));
            dead_insert(m, dead_key(c->key, c->a, 2));
        } else if (c->code == CS_COP_CAS && c->a != c->b && !c->cas_failed) {
            dead_insert(m, dead_key(c->key, c->b, 0));
            CS_ASSERT(m->dead_list_len < m->dead_list_cap);
            m->dead_list[m->dead_list_len++] = c;
        }
        return;
    case CS_MODEL_KV:
        if (c->code == CS_COP_WRITE) {
            CS_ASSERT(m->dead_list_len < m->dead_list_cap);
            m->dead_list[m->dead_list_len++] = c;
        } else if (c->code == CS_COP_APPEND) {
            uint64_t len;
            cs_pool_get(&m->pool, (uint32_t)c->a, &len);
            dead_insert(m, dead_key(c->key, c->a, 1));
            uint32_t i = 0;
            while (i < m->dead_lengths_len && m->dead_lengths[i] != len)
                i++;
            if (i == m->dead_lengths_len) {
                if (i == sizeof m->dead_lengths / sizeof m->dead_lengths[0]) {
                    m->dead_unsure = true;
                } else {
                    m->dead_lengths[m->dead_lengths_len++] = len;
                }
            }
        }
        return;
    case CS_MODEL_COUNTER:
    case CS_MODEL_SET:
    case CS_MODEL_MULTI_REGISTER:
    case CS_MODEL_COUNT_:
        return;
    }
}

/* is_prefix: a[0..la) starts b[0..lb). */
static bool is_prefix(const uint8_t *a, uint64_t la, const uint8_t *b, uint64_t lb)
{
    return la <= lb && (la == 0 || memcmp(a, b, la) == 0);
}

static bool kv_dead(struct cs_model_ctx *m, uint64_t s, const struct cs_cop *r)
{
    if (s == r->a || m->dead_unsure) return false;
    uint64_t len_s, len_r, len_c;
    const uint8_t *bs = cs_pool_get(&m->pool, (uint32_t)s, &len_s);
    const uint8_t *br = cs_pool_get(&m->pool, (uint32_t)r->a, &len_r);
    for (uint32_t i = 0; i < m->dead_list_len; i++) {
        const struct cs_cop *c = m->dead_list[i];
        if (c->key != r->key) continue;
        const uint8_t *bc = cs_pool_get(&m->pool, (uint32_t)c->a, &len_c);
        if (is_prefix(bc, len_c, br, len_r)) return false;
    }
    if (!is_prefix(bs, len_s, br, len_r)) return true;
    /* The state extends toward r's string: some candidate must append what
       comes next. Look the next chunk up for each length appends have. */
    for (uint32_t i = 0; i < m->dead_lengths_len; i++) {
        uint64_t len = m->dead_lengths[i];
        if (len_s + len > len_r) continue;
        uint32_t id;
        if (cs_pool_find(&m->pool, br + len_s, len, &id) && dead_has(m, dead_key(r->key, id, 1))) {
            return false;
        }
    }
    return true;
}

/* register_dead: r needs value r->a. The last op to change the state
 * before r must produce it: a write of it, or a cas to it whose expected
 * value is the state now or is itself produced by some candidate. */
static bool register_dead(struct cs_model_ctx *m, uint64_t s, const struct cs_cop *r)
{
    if (s == r->a || dead_has(m, dead_key(r->key, r->a, 2))) return false;
    if (!dead_has(m, dead_key(r->key, r->a, 0))) return true;
    for (uint32_t i = 0; i < m->dead_list_len; i++) {
        const struct cs_cop *c = m->dead_list[i];
        if (c->key != r->key || c->b != r->a) continue;
        if (c->a == s || dead_has(m, dead_key(r->key, c->a, 0))) return false;
    }
    return true;
}

bool cs_model_dead_check(struct cs_model_ctx *m, const struct cs_cop *r)
{
    if (r->unknown) return false;
    uint64_t s = component(m, m->dead_state, r->key);
    switch (m->kind) {
    case CS_MODEL_REGISTER:
    case CS_MODEL_CAS_REGISTER: {
        bool needs = r->code == CS_COP_READ || (r->code == CS_COP_CAS && !r->cas_failed);
        return needs && register_dead(m, s, r);
    }
    case CS_MODEL_KV:
        return r->code == CS_COP_READ && kv_dead(m, s, r);
    case CS_MODEL_COUNTER:
    case CS_MODEL_SET:
    case CS_MODEL_MULTI_REGISTER:
    case CS_MODEL_COUNT_:
        break;
    }
    return false;
}

/* --- describe -------------------------------------------------------------- */

static int put_text(struct cs_buf *out, const char *s)
{
    return cs_put_raw(out, s, strlen(s));
}

static int describe_scalar(struct cs_model_ctx *m, uint64_t w, struct cs_buf *out)
{
    if (w == 0) return put_text(out, "nil");
    return cs_check_value_text(m->h, m->values[w - 1], out);
}

static int describe_one(struct cs_model_ctx *m, uint64_t s, struct cs_buf *out)
{
    char num[32];
    uint64_t len;
    switch (m->kind) {
    case CS_MODEL_REGISTER:
    case CS_MODEL_CAS_REGISTER:
        return describe_scalar(m, s, out);
    case CS_MODEL_KV: {
        const uint8_t *b = cs_pool_get(&m->pool, (uint32_t)s, &len);
        cs_put_u8(out, '"');
        cs_put_raw(out, b, len);
        return cs_put_u8(out, '"');
    }
    case CS_MODEL_COUNTER:
        snprintf(num, sizeof num, "%" PRId64, (int64_t)s);
        return put_text(out, num);
    case CS_MODEL_SET:
    case CS_MODEL_MULTI_REGISTER: {
        const uint8_t *b = cs_pool_get(&m->pool, (uint32_t)s, &len);
        uint64_t n = len / sizeof(uint64_t);
        put_text(out, m->kind == CS_MODEL_SET ? "#{" : "{");
        for (uint64_t i = 0; i < n; i++) {
            uint64_t w;
            memcpy(&w, b + i * sizeof w, sizeof w);
            if (i > 0) put_text(out, ", ");
            if (m->kind == CS_MODEL_MULTI_REGISTER) {
                describe_scalar(m, m->key_of_index[i], out);
                put_text(out, "=");
            }
            describe_scalar(m, w, out);
        }
        return put_text(out, "}");
    }
    case CS_MODEL_COUNT_:
        break;
    }
    return CS_EINVAL;
}

int cs_model_describe(struct cs_model_ctx *m, uint64_t state, struct cs_buf *out)
{
    if (!m->product) return describe_one(m, state, out);
    uint64_t len;
    const uint8_t *b = cs_pool_get(&m->pool, (uint32_t)state, &len);
    uint64_t n = len / sizeof(uint64_t);
    put_text(out, "{");
    for (uint64_t i = 0; i < n; i++) {
        uint64_t w;
        memcpy(&w, b + i * sizeof w, sizeof w);
        if (i > 0) put_text(out, ", ");
        uint32_t key = m->key_of_index[i];
        if (key == CS_KEY_NONE) {
            put_text(out, "(no key)");
        } else {
            size_t klen;
            const char *k = cs_history_string(m->h, key, &klen);
            cs_put_raw(out, k, klen);
        }
        put_text(out, ": ");
        describe_one(m, w, out);
    }
    return put_text(out, "}");
}
