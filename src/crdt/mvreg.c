/*
 * mvreg.c: the multi-value register (Dynamo's siblings, done as a CRDT).
 *
 * The one idea: a register is a dot function, dot -> value, plus a causal
 * context. A write mints a dot and replaces every value this replica has
 * seen; writes that saw each other collapse to the later one, writes that
 * did not are all kept until a write that has seen them all replaces them.
 * Nothing of a replaced value is kept but its dot in the compact context.
 */
#include <string.h>

#include "crdt/internal.h"

void cs_mvreg_init(struct cs_mvreg *r)
{
    crdt_ctx_init(&r->ctx);
    crdt_fun_init(&r->fun);
}

void cs_mvreg_free(struct cs_mvreg *r)
{
    crdt_ctx_free(&r->ctx);
    crdt_fun_free(&r->fun);
}

int cs_mvreg_write(struct cs_mvreg *r, uint64_t node, const void *value, size_t value_len,
                   struct cs_mvreg *delta)
{
    if (node == 0 || (value == NULL && value_len)) return CS_EINVAL;
    if (value_len > CS_CRDT_VALUE_BYTES_MAX) return CS_ETOOBIG;
    CS_ASSERT(delta != r); /* a delta is a separate state */
    struct cs_crdt_fun_item item;
    memset(&item, 0, sizeof item);
    item.value = (uint8_t *)(uintptr_t)value;
    item.value_len = (uint32_t)value_len;
    int rc = crdt_ctx_next(&r->ctx, node, &item.dot);
    if (rc) return rc;
    if (delta) {
        crdt_fun_free(&delta->fun);
        crdt_ctx_clear(&delta->ctx);
        for (uint32_t i = 0; i < r->fun.len; i++) {
            if ((rc = crdt_ctx_add(&delta->ctx, r->fun.items[i].dot))) return rc;
        }
        if ((rc = crdt_ctx_add(&delta->ctx, item.dot)) ||
            (rc = crdt_fun_push(&delta->fun, &item))) {
            return rc;
        }
    }
    struct cs_crdt_dotfun fresh;
    crdt_fun_init(&fresh);
    if ((rc = crdt_fun_push(&fresh, &item)) || (rc = crdt_ctx_add(&r->ctx, item.dot))) {
        crdt_fun_free(&fresh);
        return rc;
    }
    crdt_fun_free(&r->fun);
    r->fun = fresh;
    return 0;
}

size_t cs_mvreg_values_len(const struct cs_mvreg *r)
{
    return r->fun.len;
}

int cs_mvreg_value(const struct cs_mvreg *r, size_t i, const uint8_t **value, size_t *value_len)
{
    if (i >= r->fun.len) return CS_ENOTFOUND;
    *value = r->fun.items[i].value;
    *value_len = r->fun.items[i].value_len;
    return 0;
}

int cs_mvreg_merge(struct cs_mvreg *dst, const struct cs_mvreg *src)
{
    int rc = crdt_fun_join(&dst->fun, &dst->ctx, &src->fun, &src->ctx);
    if (rc) return rc;
    return crdt_ctx_join(&dst->ctx, &src->ctx);
}

bool cs_mvreg_leq(const struct cs_mvreg *a, const struct cs_mvreg *b)
{
    CRDT_LEQ_BY_JOIN(cs_mvreg, a, b);
}

bool cs_mvreg_equal(const struct cs_mvreg *a, const struct cs_mvreg *b)
{
    return crdt_ctx_equal(&a->ctx, &b->ctx) && crdt_fun_equal(&a->fun, &b->fun);
}

int cs_mvreg_copy(struct cs_mvreg *dst, const struct cs_mvreg *src)
{
    int rc = crdt_ctx_copy(&dst->ctx, &src->ctx);
    if (rc == 0) rc = crdt_fun_copy(&dst->fun, &src->fun);
    return rc;
}

/* header, context, items (dot, value bytes). */
int cs_mvreg_encode(const struct cs_mvreg *r, struct cs_buf *out)
{
    crdt_put_header(out, CS_CRDT_MVREG);
    crdt_ctx_encode(&r->ctx, out);
    return crdt_fun_encode(&r->fun, CRDT_FUN_VALUE, out);
}

int cs_mvreg_decode(struct cs_mvreg *r, const void *data, size_t len)
{
    CS_ASSERT(r->fun.len == 0);
    struct cs_reader rd;
    cs_reader_init(&rd, data, len);
    int rc = crdt_get_header(&rd, CS_CRDT_MVREG);
    if (rc == 0) rc = crdt_ctx_decode(&r->ctx, &rd);
    if (rc == 0) rc = crdt_fun_decode(&r->fun, CRDT_FUN_VALUE, &rd);
    if (rc == 0 && !crdt_fun_within(&r->fun, &r->ctx)) rc = CS_EDECODE;
    if (rc == 0) rc = crdt_decode_end(&rd);
    if (rc) {
        crdt_fun_free(&r->fun);
        crdt_ctx_clear(&r->ctx);
    }
    return rc;
}

size_t cs_mvreg_mem_bytes(const struct cs_mvreg *r)
{
    return crdt_ctx_mem_bytes(&r->ctx) + crdt_fun_mem_bytes(&r->fun);
}
