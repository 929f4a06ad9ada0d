/*
 * keyset.c: helpers for sets whose entries carry a fixed-size payload
 * (G-Set: none, 2P-Set: a removed flag in aux, LWW-Element-Set: two stamps),
 * so the three types share copy, equality, memory accounting and upsert.
 */
#include <stdlib.h>
#include <string.h>

#include "crdt/internal.h"

void crdt_keyset_free(struct cs_crdt_table *t)
{
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL)
        free(e);
    crdt_table_free(t);
}

int crdt_keyset_copy(struct cs_crdt_table *dst, const struct cs_crdt_table *src,
                     size_t payload_bytes)
{
    crdt_keyset_free(dst);
    int rc = crdt_table_reserve(dst, src->len);
    if (rc) return rc;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(src, &slot)) != NULL) {
        size_t bytes = crdt_entry_bytes(e->key_len, payload_bytes);
        struct crdt_entry *c = malloc(bytes);
        if (c == NULL) return CS_ENOMEM;
        memcpy(c, e, bytes);
        if ((rc = crdt_table_insert(dst, c))) {
            free(c);
            return rc;
        }
    }
    return 0;
}

bool crdt_keyset_equal(const struct cs_crdt_table *a, const struct cs_crdt_table *b,
                       size_t payload_bytes)
{
    if (a->len != b->len) return false;
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(a, &slot)) != NULL) {
        const struct crdt_entry *f = crdt_table_find(b, e->key, e->key_len);
        if (f == NULL || f->aux != e->aux) return false;
        if (payload_bytes && memcmp(crdt_entry_payload(e), crdt_entry_payload(f), payload_bytes)) {
            return false;
        }
    }
    return true;
}

size_t crdt_keyset_mem_bytes(const struct cs_crdt_table *t, size_t payload_bytes)
{
    size_t bytes = crdt_table_mem_bytes(t);
    uint32_t slot = 0;
    struct crdt_entry *e;
    while ((e = crdt_table_next(t, &slot)) != NULL) {
        bytes += crdt_entry_bytes(e->key_len, payload_bytes);
    }
    return bytes;
}

int crdt_keyset_upsert(struct cs_crdt_table *t, const void *key, size_t key_len,
                       size_t payload_bytes, struct crdt_entry **out, bool *created)
{
    struct crdt_entry *e = crdt_table_find(t, key, key_len);
    *created = e == NULL;
    if (e == NULL) {
        if ((e = crdt_entry_new(key, key_len, payload_bytes)) == NULL) return CS_ENOMEM;
        int rc = crdt_table_insert(t, e);
        if (rc) {
            free(e);
            return rc;
        }
    }
    *out = e;
    return 0;
}
