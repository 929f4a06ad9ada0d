/*
 * crdt_ormap.c: the OR-Map's contract: nested fields of every kind, deltas
 * that carry one change, observed-reset removal (a concurrent update
 * survives, what the remover saw does not), (kind, key) naming, removal that
 * leaves nothing behind, and the nesting limit at the limit and one past.
 */
#include <string.h>

#include "consist/crdt.h"
#include "testlib.h"

#define K(s, kind) ((struct cs_ormap_key){(s), strlen(s), (kind)})

/* Every kind at depth 1 and 2 reads back what was written, and deltas replay it elsewhere. */
CS_TEST(nested_fields_and_deltas)
{
    struct cs_ormap a, b, d;
    cs_ormap_init(&a);
    cs_ormap_init(&b);
    cs_ormap_init(&d);
    struct cs_ormap_key cart[2] = {K("cart", CS_ORMAP_MAP), K("apples", CS_ORMAP_COUNTER)};
    struct cs_ormap_key name[1] = {K("name", CS_ORMAP_LWWREG)};
    struct cs_ormap_key tags[2] = {K("cart", CS_ORMAP_MAP), K("tags", CS_ORMAP_SET)};
    struct cs_ormap_key note[1] = {K("note", CS_ORMAP_MVREG)};
    CS_CHECK_OK(cs_ormap_counter_add(&a, 1, cart, 2, 3, &d));
    CS_CHECK_OK(cs_ormap_merge(&b, &d));
    CS_CHECK_OK(cs_ormap_counter_add(&a, 1, cart, 2, -1, &d));
    CS_CHECK_OK(cs_ormap_merge(&b, &d));
    CS_CHECK_OK(cs_ormap_lwwreg_set(&a, 1, name, 1, (struct cs_crdt_stamp){10, 1}, "ann", 3, &d));
    CS_CHECK_OK(cs_ormap_merge(&b, &d));
    CS_CHECK_OK(cs_ormap_set_add(&a, 1, tags, 2, "red", 3, &d));
    CS_CHECK_OK(cs_ormap_merge(&b, &d));
    CS_CHECK_OK(cs_ormap_mvreg_write(&a, 1, note, 1, "hi", 2, &d));
    CS_CHECK_OK(cs_ormap_merge(&b, &d));
    CS_CHECK(cs_ormap_equal(&a, &b));
    int64_t v;
    CS_CHECK_OK(cs_ormap_counter_value(&b, cart, 2, &v));
    CS_CHECK_EQ(v, 2);
    const uint8_t *s;
    size_t len;
    CS_CHECK_OK(cs_ormap_lwwreg_get(&b, name, 1, &s, &len));
    CS_CHECK_EQ(len, 3);
    CS_CHECK_OK(cs_ormap_set_contains(&b, tags, 2, "red", 3));
    CS_CHECK_RC(cs_ormap_set_contains(&b, tags, 2, "blue", 4), CS_ENOTFOUND);
    CS_CHECK_OK(cs_ormap_mvreg_values_len(&b, note, 1, &len));
    CS_CHECK_EQ(len, 1);
    CS_CHECK_OK(cs_ormap_len(&b, NULL, 0, &len));
    CS_CHECK_EQ(len, 3); /* cart, name, note */
    CS_CHECK_OK(cs_ormap_len(&b, cart, 1, &len));
    CS_CHECK_EQ(len, 2); /* apples, tags */
    /* Iteration lists the same fields with their kinds, and a nested set's members. */
    struct cs_crdt_iter it = CS_CRDT_ITER_INIT;
    const uint8_t *k;
    size_t k_len;
    enum cs_ormap_kind kind;
    int kinds_seen = 0, n = 0, rc;
    while ((rc = cs_ormap_next(&b, cart, 1, &it, &k, &k_len, &kind)) == 1) {
        kinds_seen |= 1 << kind;
        n++;
    }
    CS_CHECK_EQ(rc, 0);
    CS_CHECK_EQ(n, 2);
    CS_CHECK_EQ(kinds_seen, (1 << CS_ORMAP_COUNTER) | (1 << CS_ORMAP_SET));
    it = (struct cs_crdt_iter)CS_CRDT_ITER_INIT;
    CS_CHECK_EQ(cs_ormap_next(&b, tags, 2, &it, &k, &k_len, &kind), 1);
    CS_CHECK_EQ(k_len, 3);
    CS_CHECK_MEM(k, "red", 3);
    CS_CHECK_EQ(cs_ormap_next(&b, tags, 2, &it, &k, &k_len, &kind), 0);
    CS_CHECK_RC(cs_ormap_next(&b, name, 1, &it, &k, &k_len, &kind), CS_EINVAL);
    /* An older LWW write loses and produces an empty delta. */
    CS_CHECK_OK(cs_ormap_lwwreg_set(&a, 2, name, 1, (struct cs_crdt_stamp){9, 2}, "bob", 3, &d));
    CS_CHECK_EQ(d.table.len, 0);
    CS_CHECK_OK(cs_ormap_lwwreg_get(&a, name, 1, &s, &len));
    CS_CHECK_MEM(s, "ann", 3);
    /* The same key with another kind is another field. */
    struct cs_ormap_key name_set[1] = {K("name", CS_ORMAP_SET)};
    CS_CHECK_OK(cs_ormap_set_add(&a, 2, name_set, 1, "x", 1, NULL));
    CS_CHECK_OK(cs_ormap_len(&a, NULL, 0, &len));
    CS_CHECK_EQ(len, 4);
    CS_CHECK_RC(cs_ormap_counter_add(&a, 1, name, 1, 1, NULL), CS_EINVAL); /* kind mismatch */
    cs_ormap_free(&a);
    cs_ormap_free(&b);
    cs_ormap_free(&d);
}

/* Observed-reset: removing a counter resets what the remover saw; a concurrent
 * increment survives alone. A concurrent set add survives a map remove. */
CS_TEST(remove_is_observed_reset)
{
    struct cs_ormap a, b, d;
    cs_ormap_init(&a);
    cs_ormap_init(&b);
    cs_ormap_init(&d);
    struct cs_ormap_key c[1] = {K("c", CS_ORMAP_COUNTER)};
    struct cs_ormap_key s[2] = {K("m", CS_ORMAP_MAP), K("s", CS_ORMAP_SET)};
    CS_CHECK_OK(cs_ormap_counter_add(&a, 1, c, 1, 10, NULL));
    CS_CHECK_OK(cs_ormap_set_add(&a, 1, s, 2, "x", 1, NULL));
    CS_CHECK_OK(cs_ormap_merge(&b, &a));
    /* Concurrently: a removes both fields, b adds 5 and a member. */
    CS_CHECK_OK(cs_ormap_remove(&a, c, 1, NULL));
    CS_CHECK_OK(cs_ormap_remove(&a, s, 1, &d)); /* the whole inner map */
    CS_CHECK_OK(cs_ormap_counter_add(&b, 2, c, 1, 5, NULL));
    CS_CHECK_OK(cs_ormap_set_add(&b, 2, s, 2, "y", 1, NULL));
    CS_CHECK_OK(cs_ormap_merge(&a, &b));
    CS_CHECK_OK(cs_ormap_merge(&b, &a));
    CS_CHECK(cs_ormap_equal(&a, &b));
    int64_t v;
    CS_CHECK_OK(cs_ormap_counter_value(&a, c, 1, &v));
    CS_CHECK_EQ(v, 5);
    CS_CHECK_RC(cs_ormap_set_contains(&a, s, 2, "x", 1), CS_ENOTFOUND);
    CS_CHECK_OK(cs_ormap_set_contains(&a, s, 2, "y", 1));
    /* Removing everything leaves only the context: no tombstones. */
    CS_CHECK_OK(cs_ormap_remove(&a, c, 1, NULL));
    CS_CHECK_OK(cs_ormap_remove(&a, s, 1, NULL));
    size_t len;
    CS_CHECK_OK(cs_ormap_len(&a, NULL, 0, &len));
    CS_CHECK_EQ(len, 0);
    CS_CHECK_EQ(a.ctx.cloud_len, 0);
    CS_CHECK_RC(cs_ormap_remove(&a, c, 1, NULL), CS_ENOTFOUND);
    cs_ormap_free(&a);
    cs_ormap_free(&b);
    cs_ormap_free(&d);
}

/* Paths of CS_CRDT_DEPTH_MAX steps work; one more is CS_ETOOBIG; keys at the byte limit. */
CS_TEST(depth_and_key_limits)
{
    struct cs_ormap m;
    cs_ormap_init(&m);
    struct cs_ormap_key path[CS_CRDT_DEPTH_MAX + 1];
    for (size_t i = 0; i <= CS_CRDT_DEPTH_MAX; i++)
        path[i] = K("k", CS_ORMAP_MAP);
    path[CS_CRDT_DEPTH_MAX - 1].kind = CS_ORMAP_COUNTER;
    CS_CHECK_OK(cs_ormap_counter_add(&m, 1, path, CS_CRDT_DEPTH_MAX, 1, NULL));
    path[CS_CRDT_DEPTH_MAX - 1].kind = CS_ORMAP_MAP;
    path[CS_CRDT_DEPTH_MAX].kind = CS_ORMAP_COUNTER;
    CS_CHECK_RC(cs_ormap_counter_add(&m, 1, path, CS_CRDT_DEPTH_MAX + 1, 1, NULL), CS_ETOOBIG);
    static char big[CS_CRDT_MEMBER_BYTES_MAX + 1];
    memset(big, 'k', sizeof big);
    struct cs_ormap_key kb[1] = {{big, CS_CRDT_MEMBER_BYTES_MAX, CS_ORMAP_COUNTER}};
    CS_CHECK_OK(cs_ormap_counter_add(&m, 1, kb, 1, 1, NULL));
    kb[0].key_len++;
    CS_CHECK_RC(cs_ormap_counter_add(&m, 1, kb, 1, 1, NULL), CS_ETOOBIG);
    /* The deepest state encodes and decodes. */
    struct cs_buf buf;
    cs_buf_init(&buf, 1 << 20);
    CS_CHECK_OK(cs_ormap_encode(&m, &buf));
    struct cs_ormap back;
    cs_ormap_init(&back);
    CS_CHECK_OK(cs_ormap_decode(&back, buf.data, buf.len));
    CS_CHECK(cs_ormap_equal(&m, &back));
    CS_CHECK(cs_ormap_leq(&back, &m));
    cs_buf_free(&buf);
    cs_ormap_free(&back);
    cs_ormap_free(&m);
}

CS_TEST_MAIN(CS_CASE(nested_fields_and_deltas), CS_CASE(remove_is_observed_reset),
             CS_CASE(depth_and_key_limits))
