/*
 * crdt_basic.c: the contracts of the counters, G-Set, 2P-Set and LWW types:
 * values after local ops, deltas that reproduce the op when merged
 * elsewhere, the lattice order, encodings that round-trip, and every limit
 * at the limit and one past.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/crdt.h"
#include "testlib.h"

#define M(s) (s), strlen(s)

/* Exam Problem 4: increment / value / merge / state on two replicas. */
CS_TEST(pncounter_exam_api)
{
    struct cs_pncounter a, b, d;
    cs_pncounter_init(&a);
    cs_pncounter_init(&b);
    cs_pncounter_init(&d);
    CS_CHECK_OK(cs_pncounter_increment(&a, 1, 5, NULL));
    CS_CHECK_OK(cs_pncounter_increment(&a, 1, -2, &d));
    CS_CHECK_OK(cs_pncounter_increment(&b, 2, 10, NULL));
    CS_CHECK_EQ(cs_pncounter_value(&a), 3);
    CS_CHECK_OK(cs_pncounter_merge(&b, &d)); /* only the delta: node 1's entry */
    CS_CHECK_EQ(cs_pncounter_value(&b), 13);
    CS_CHECK_OK(cs_pncounter_merge(&a, &b));
    CS_CHECK_OK(cs_pncounter_merge(&b, &a));
    CS_CHECK_OK(cs_pncounter_merge(&b, &a)); /* idempotent */
    CS_CHECK_EQ(cs_pncounter_value(&a), 13);
    CS_CHECK(cs_pncounter_equal(&a, &b));
    struct cs_buf s1, s2;
    cs_buf_init(&s1, 1 << 16);
    cs_buf_init(&s2, 1 << 16);
    CS_CHECK_OK(cs_pncounter_state(&a, &s1));
    CS_CHECK_OK(cs_pncounter_state(&b, &s2));
    CS_CHECK_EQ(s1.len, s2.len);
    CS_CHECK_MEM(s1.data, s2.data, s1.len);
    struct cs_pncounter c;
    cs_pncounter_init(&c);
    CS_CHECK_OK(cs_pncounter_decode(&c, s1.data, s1.len));
    CS_CHECK(cs_pncounter_equal(&a, &c));
    CS_CHECK_RC(cs_pncounter_increment(&a, 0, 1, NULL), CS_EINVAL);
    CS_CHECK_RC(cs_pncounter_increment(&a, 1, 0, NULL), CS_EINVAL);
    CS_CHECK_RC(cs_pncounter_increment(&c, 9, INT64_MIN, NULL), CS_EOVERFLOW);
    CS_CHECK_OK(cs_pncounter_increment(&c, 9, -INT64_MAX, NULL));
    CS_CHECK_RC(cs_pncounter_increment(&c, 9, -1, NULL), CS_EOVERFLOW);
    cs_buf_free(&s1);
    cs_buf_free(&s2);
    cs_pncounter_free(&a);
    cs_pncounter_free(&b);
    cs_pncounter_free(&c);
    cs_pncounter_free(&d);
}

/* G-Counter: order, overflow, node limit at the limit and one past. */
CS_TEST(gcounter_order_and_limits)
{
    struct cs_gcounter a, b;
    cs_gcounter_init(&a);
    cs_gcounter_init(&b);
    CS_CHECK(cs_gcounter_leq(&a, &b));
    CS_CHECK_OK(cs_gcounter_increment(&a, 3, 7, NULL));
    CS_CHECK(!cs_gcounter_leq(&a, &b));
    CS_CHECK(cs_gcounter_leq(&b, &a));
    CS_CHECK_OK(cs_gcounter_increment(&a, 3, INT64_MAX - 7, NULL));
    CS_CHECK_RC(cs_gcounter_increment(&a, 3, 1, NULL), CS_EOVERFLOW);
    for (uint64_t n = 1; n <= CS_CRDT_NODES_MAX; n++) {
        CS_CHECK_OK(cs_gcounter_increment(&b, n, 1, NULL));
    }
    CS_CHECK_EQ_U64(cs_gcounter_value(&b), CS_CRDT_NODES_MAX);
    CS_CHECK_RC(cs_gcounter_increment(&b, CS_CRDT_NODES_MAX + 1, 1, NULL), CS_ETOOBIG);
    struct cs_buf buf;
    cs_buf_init(&buf, 1 << 20);
    CS_CHECK_OK(cs_gcounter_encode(&b, &buf));
    struct cs_gcounter c;
    cs_gcounter_init(&c);
    CS_CHECK_OK(cs_gcounter_decode(&c, buf.data, buf.len));
    CS_CHECK(cs_gcounter_equal(&b, &c));
    cs_gcounter_free(&a);
    cs_gcounter_free(&b);
    cs_gcounter_free(&c);
    cs_buf_free(&buf);
}

/* Members at CS_CRDT_MEMBER_BYTES_MAX are fine; one byte more is CS_ETOOBIG, in every set. */
CS_TEST(member_limit)
{
    uint8_t *big = calloc(1, CS_CRDT_MEMBER_BYTES_MAX + 1);
    CS_CHECK(big != NULL);
    struct cs_gset g;
    struct cs_twopset t;
    struct cs_orset o;
    struct cs_lwwset l;
    cs_gset_init(&g);
    cs_twopset_init(&t);
    cs_orset_init(&o);
    cs_lwwset_init(&l);
    struct cs_crdt_stamp st = {1, 1};
    CS_CHECK_OK(cs_gset_add(&g, big, CS_CRDT_MEMBER_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_gset_add(&g, big, CS_CRDT_MEMBER_BYTES_MAX + 1, NULL), CS_ETOOBIG);
    CS_CHECK_OK(cs_twopset_add(&t, big, CS_CRDT_MEMBER_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_twopset_add(&t, big, CS_CRDT_MEMBER_BYTES_MAX + 1, NULL), CS_ETOOBIG);
    CS_CHECK_OK(cs_orset_add(&o, 1, big, CS_CRDT_MEMBER_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_orset_add(&o, 1, big, CS_CRDT_MEMBER_BYTES_MAX + 1, NULL), CS_ETOOBIG);
    CS_CHECK_OK(cs_lwwset_add(&l, big, CS_CRDT_MEMBER_BYTES_MAX, st, NULL));
    CS_CHECK_RC(cs_lwwset_add(&l, big, CS_CRDT_MEMBER_BYTES_MAX + 1, st, NULL), CS_ETOOBIG);
    struct cs_rankmap rm;
    CS_CHECK_OK(cs_rankmap_init(&rm));
    CS_CHECK_OK(cs_rankmap_incr(&rm, 1, big, CS_CRDT_MEMBER_BYTES_MAX, 1, NULL));
    CS_CHECK_RC(cs_rankmap_incr(&rm, 1, big, CS_CRDT_MEMBER_BYTES_MAX + 1, 1, NULL), CS_ETOOBIG);
    cs_rankmap_free(&rm);
    struct cs_buf buf;
    cs_buf_init(&buf, 1 << 20);
    CS_CHECK_OK(cs_orset_encode(&o, &buf));
    struct cs_orset o2;
    cs_orset_init(&o2);
    CS_CHECK_OK(cs_orset_decode(&o2, buf.data, buf.len));
    CS_CHECK(cs_orset_equal(&o, &o2));
    cs_gset_free(&g);
    cs_twopset_free(&t);
    cs_orset_free(&o);
    cs_orset_free(&o2);
    cs_lwwset_free(&l);
    cs_buf_free(&buf);
    free(big);
}

/* G-Set and 2P-Set: union joins, deltas, a removed 2P member never returns. */
CS_TEST(gset_twopset)
{
    struct cs_gset a, b, d;
    cs_gset_init(&a);
    cs_gset_init(&b);
    cs_gset_init(&d);
    CS_CHECK_OK(cs_gset_add(&a, M("x"), &d));
    CS_CHECK_OK(cs_gset_add(&b, M("y"), NULL));
    CS_CHECK_OK(cs_gset_merge(&b, &d));
    CS_CHECK(cs_gset_contains(&b, M("x")));
    CS_CHECK(cs_gset_leq(&a, &b));
    CS_CHECK(!cs_gset_leq(&b, &a));
    CS_CHECK_EQ(cs_gset_len(&b), 2);
    struct cs_twopset t, u, td;
    cs_twopset_init(&t);
    cs_twopset_init(&u);
    cs_twopset_init(&td);
    CS_CHECK_OK(cs_twopset_add(&t, M("x"), NULL));
    CS_CHECK_OK(cs_twopset_copy(&u, &t));
    CS_CHECK_RC(cs_twopset_remove(&t, M("nope"), NULL), CS_ENOTFOUND);
    CS_CHECK_OK(cs_twopset_remove(&t, M("x"), &td));
    CS_CHECK_RC(cs_twopset_add(&t, M("x"), NULL), CS_ESTATE);
    CS_CHECK_OK(cs_twopset_merge(&u, &td));
    CS_CHECK(!cs_twopset_contains(&u, M("x")));
    CS_CHECK(cs_twopset_equal(&t, &u));
    CS_CHECK_EQ(cs_twopset_len(&u), 0);
    struct cs_crdt_iter it = CS_CRDT_ITER_INIT;
    const uint8_t *m;
    size_t m_len;
    CS_CHECK(!cs_twopset_next(&u, &it, &m, &m_len)); /* the tombstone is not listed */
    cs_gset_free(&a);
    cs_gset_free(&b);
    cs_gset_free(&d);
    cs_twopset_free(&t);
    cs_twopset_free(&u);
    cs_twopset_free(&td);
}

/* LWW: the highest stamp wins, node id breaks equal HLC values, add wins an exact tie. */
CS_TEST(lww_register_and_set)
{
    struct cs_lwwreg r, s;
    cs_lwwreg_init(&r);
    cs_lwwreg_init(&s);
    const uint8_t *v;
    size_t v_len;
    CS_CHECK_RC(cs_lwwreg_get(&r, &v, &v_len), CS_ENOTFOUND);
    CS_CHECK_OK(cs_lwwreg_set(&r, (struct cs_crdt_stamp){100, 2}, M("two"), NULL));
    CS_CHECK_OK(cs_lwwreg_set(&s, (struct cs_crdt_stamp){100, 1}, M("one"), NULL));
    CS_CHECK_OK(cs_lwwreg_merge(&s, &r));
    CS_CHECK_OK(cs_lwwreg_get(&s, &v, &v_len));
    CS_CHECK_EQ(v_len, 3);
    CS_CHECK_MEM(v, "two", 3);
    CS_CHECK(cs_lwwreg_leq(&r, &s));
    CS_CHECK_RC(cs_lwwreg_set(&s, (struct cs_crdt_stamp){0, 1}, M("z"), NULL), CS_EINVAL);
    struct cs_lwwset a, b;
    cs_lwwset_init(&a);
    cs_lwwset_init(&b);
    CS_CHECK_OK(cs_lwwset_add(&a, M("m"), (struct cs_crdt_stamp){5, 1}, NULL));
    CS_CHECK_OK(cs_lwwset_remove(&b, M("m"), (struct cs_crdt_stamp){6, 1}, NULL));
    CS_CHECK_OK(cs_lwwset_merge(&a, &b));
    CS_CHECK(!cs_lwwset_contains(&a, M("m")));
    CS_CHECK_OK(cs_lwwset_add(&a, M("m"), (struct cs_crdt_stamp){6, 1}, NULL));
    CS_CHECK(cs_lwwset_contains(&a, M("m"))); /* exact tie: add wins */
    CS_CHECK_EQ(cs_lwwset_len(&a), 1);
    struct cs_crdt_iter it = CS_CRDT_ITER_INIT;
    const uint8_t *m;
    size_t m_len;
    CS_CHECK(cs_lwwset_next(&a, &it, &m, &m_len) && m_len == 1 && m[0] == 'm');
    CS_CHECK(!cs_lwwset_next(&a, &it, &m, &m_len));
    cs_lwwreg_free(&r);
    cs_lwwreg_free(&s);
    cs_lwwset_free(&a);
    cs_lwwset_free(&b);
}

/* OR-Set: concurrent add wins over remove; remove leaves the state at its baseline size. */
CS_TEST(orset_add_wins_no_tombstones)
{
    struct cs_orset a, b, d;
    cs_orset_init(&a);
    cs_orset_init(&b);
    cs_orset_init(&d);
    CS_CHECK_OK(cs_orset_add(&a, 1, M("x"), NULL));
    CS_CHECK_OK(cs_orset_merge(&b, &a));
    CS_CHECK_OK(cs_orset_remove(&a, M("x"), NULL));
    CS_CHECK_OK(cs_orset_add(&b, 2, M("x"), NULL)); /* concurrent re-add */
    CS_CHECK_OK(cs_orset_merge(&a, &b));
    CS_CHECK(cs_orset_contains(&a, M("x")));
    CS_CHECK_RC(cs_orset_remove(&a, M("zz"), NULL), CS_ENOTFOUND);
    /* Baseline: encoded size with no members; many adds and removes come back to it
     * except for the version vector, which has one entry per writer. */
    CS_CHECK_OK(cs_orset_remove(&a, M("x"), &d));
    CS_CHECK_OK(cs_orset_merge(&b, &d));
    CS_CHECK(!cs_orset_contains(&b, M("x")));
    struct cs_buf buf;
    cs_buf_init(&buf, 1 << 20);
    CS_CHECK_OK(cs_orset_encode(&a, &buf));
    size_t baseline = buf.len;
    for (int i = 0; i < 1000; i++) {
        char m[16];
        snprintf(m, sizeof m, "m%d", i);
        CS_CHECK_OK(cs_orset_add(&a, 1, M(m), NULL));
    }
    for (int i = 0; i < 1000; i++) {
        char m[16];
        snprintf(m, sizeof m, "m%d", i);
        CS_CHECK_OK(cs_orset_remove(&a, M(m), NULL));
    }
    cs_buf_reset(&buf);
    CS_CHECK_OK(cs_orset_encode(&a, &buf));
    /* Node 1's counter grew from 1 to 1001: one varint byte longer, nothing else. */
    CS_CHECK_MSG(buf.len <= baseline + 1, "%zu > %zu", buf.len, baseline);
    CS_CHECK_EQ(cs_orset_len(&a), 0);
    CS_CHECK_EQ(a.ctx.cloud_len, 0);
    cs_orset_free(&a);
    cs_orset_free(&b);
    cs_orset_free(&d);
    cs_buf_free(&buf);
}

/* MV-Register: concurrent writes both kept; a write that saw both replaces them. */
CS_TEST(mvreg_siblings)
{
    struct cs_mvreg a, b, d;
    cs_mvreg_init(&a);
    cs_mvreg_init(&b);
    cs_mvreg_init(&d);
    CS_CHECK_OK(cs_mvreg_write(&a, 1, M("A"), NULL));
    CS_CHECK_OK(cs_mvreg_write(&b, 2, M("B"), NULL));
    CS_CHECK_OK(cs_mvreg_merge(&a, &b));
    CS_CHECK_EQ(cs_mvreg_values_len(&a), 2);
    CS_CHECK_OK(cs_mvreg_write(&a, 1, M("C"), &d));
    CS_CHECK_EQ(cs_mvreg_values_len(&a), 1);
    CS_CHECK_OK(cs_mvreg_merge(&b, &d));
    CS_CHECK_EQ(cs_mvreg_values_len(&b), 1);
    const uint8_t *v;
    size_t v_len;
    CS_CHECK_OK(cs_mvreg_value(&b, 0, &v, &v_len));
    CS_CHECK_EQ(v_len, 1);
    CS_CHECK_MEM(v, "C", 1);
    CS_CHECK(cs_mvreg_equal(&a, &b));
    CS_CHECK(cs_mvreg_leq(&d, &a));
    cs_mvreg_free(&a);
    cs_mvreg_free(&b);
    cs_mvreg_free(&d);
}

/* Register values of CS_CRDT_VALUE_BYTES_MAX are fine; one byte more is CS_ETOOBIG. */
CS_TEST(value_limit)
{
    static uint8_t v[CS_CRDT_VALUE_BYTES_MAX + 1];
    struct cs_lwwreg r;
    struct cs_mvreg m;
    struct cs_ormap o;
    cs_lwwreg_init(&r);
    cs_mvreg_init(&m);
    cs_ormap_init(&o);
    struct cs_crdt_stamp st = {5, 1};
    struct cs_ormap_key lww[1] = {{"k", 1, CS_ORMAP_LWWREG}};
    struct cs_ormap_key mv[1] = {{"k", 1, CS_ORMAP_MVREG}};
    CS_CHECK_OK(cs_lwwreg_set(&r, st, v, CS_CRDT_VALUE_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_lwwreg_set(&r, st, v, CS_CRDT_VALUE_BYTES_MAX + 1, NULL), CS_ETOOBIG);
    CS_CHECK_OK(cs_mvreg_write(&m, 1, v, CS_CRDT_VALUE_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_mvreg_write(&m, 1, v, CS_CRDT_VALUE_BYTES_MAX + 1, NULL), CS_ETOOBIG);
    CS_CHECK_OK(cs_ormap_lwwreg_set(&o, 1, lww, 1, st, v, CS_CRDT_VALUE_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_ormap_lwwreg_set(&o, 1, lww, 1, (struct cs_crdt_stamp){6, 1}, v,
                                    CS_CRDT_VALUE_BYTES_MAX + 1, NULL),
                CS_ETOOBIG);
    CS_CHECK_OK(cs_ormap_mvreg_write(&o, 1, mv, 1, v, CS_CRDT_VALUE_BYTES_MAX, NULL));
    CS_CHECK_RC(cs_ormap_mvreg_write(&o, 1, mv, 1, v, CS_CRDT_VALUE_BYTES_MAX + 1, NULL),
                CS_ETOOBIG);
    /* The largest values survive encoding. */
    struct cs_buf b;
    cs_buf_init(&b, 1 << 20);
    CS_CHECK_OK(cs_mvreg_encode(&m, &b));
    struct cs_mvreg back;
    cs_mvreg_init(&back);
    CS_CHECK_OK(cs_mvreg_decode(&back, b.data, b.len));
    CS_CHECK(cs_mvreg_equal(&m, &back));
    cs_buf_free(&b);
    cs_mvreg_free(&back);
    cs_lwwreg_free(&r);
    cs_mvreg_free(&m);
    cs_ormap_free(&o);
}

CS_TEST_MAIN(CS_CASE(value_limit), CS_CASE(pncounter_exam_api), CS_CASE(gcounter_order_and_limits),
             CS_CASE(member_limit), CS_CASE(gset_twopset), CS_CASE(lww_register_and_set),
             CS_CASE(orset_add_wins_no_tombstones), CS_CASE(mvreg_siblings))
