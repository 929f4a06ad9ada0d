/*
 * crdt_bcounter.c: the bounded counter never reads below zero: a replica
 * decrements only within its rights (CS_ERANGE past them, nothing changed),
 * transfers move rights, and concurrent decrements on two replicas can never
 * oversell what was stocked.
 */
#include "consist/crdt.h"
#include "testlib.h"

/* Stock 10 at node 1; node 1 hands 4 to node 2; both sell concurrently. */
CS_TEST(escrow_and_transfer)
{
    struct cs_bcounter a, b, d;
    cs_bcounter_init(&a);
    cs_bcounter_init(&b);
    cs_bcounter_init(&d);
    CS_CHECK_OK(cs_bcounter_increment(&a, 1, 10, NULL));
    CS_CHECK_EQ_U64(cs_bcounter_rights(&a, 1), 10);
    CS_CHECK_RC(cs_bcounter_decrement(&b, 2, 1, NULL), CS_ERANGE); /* node 2 has no rights */
    CS_CHECK_OK(cs_bcounter_transfer(&a, 1, 2, 4, &d));
    CS_CHECK_RC(cs_bcounter_transfer(&a, 1, 2, 7, NULL), CS_ERANGE);
    CS_CHECK_RC(cs_bcounter_transfer(&a, 1, 1, 1, NULL), CS_EINVAL);
    CS_CHECK_OK(cs_bcounter_merge(&b, &d));
    CS_CHECK_EQ_U64(cs_bcounter_rights(&b, 2), 4);
    CS_CHECK_EQ_U64(cs_bcounter_rights(&a, 1), 6);
    /* Partitioned: each sells everything it may, and no more. */
    CS_CHECK_OK(cs_bcounter_decrement(&a, 1, 6, NULL));
    CS_CHECK_RC(cs_bcounter_decrement(&a, 1, 1, NULL), CS_ERANGE);
    CS_CHECK_OK(cs_bcounter_decrement(&b, 2, 3, NULL));
    CS_CHECK_OK(cs_bcounter_decrement(&b, 2, 1, NULL));
    CS_CHECK_RC(cs_bcounter_decrement(&b, 2, 1, NULL), CS_ERANGE);
    CS_CHECK_OK(cs_bcounter_merge(&a, &b));
    CS_CHECK_OK(cs_bcounter_merge(&b, &a));
    CS_CHECK(cs_bcounter_equal(&a, &b));
    CS_CHECK_EQ_U64(cs_bcounter_value(&a), 0);
    CS_CHECK_EQ_U64(cs_bcounter_rights(&a, 1), 0);
    CS_CHECK_EQ_U64(cs_bcounter_rights(&a, 2), 0);
    struct cs_buf buf;
    cs_buf_init(&buf, 1 << 16);
    CS_CHECK_OK(cs_bcounter_encode(&a, &buf));
    struct cs_bcounter c;
    cs_bcounter_init(&c);
    CS_CHECK_OK(cs_bcounter_decode(&c, buf.data, buf.len));
    CS_CHECK(cs_bcounter_equal(&a, &c));
    CS_CHECK(cs_bcounter_leq(&d, &c));
    CS_CHECK(!cs_bcounter_leq(&c, &d));
    cs_buf_free(&buf);
    cs_bcounter_free(&a);
    cs_bcounter_free(&b);
    cs_bcounter_free(&c);
    cs_bcounter_free(&d);
}

/* A refused decrement changes nothing, and increments past INT64_MAX overflow cleanly. */
CS_TEST(refusal_changes_nothing)
{
    struct cs_bcounter a, before;
    cs_bcounter_init(&a);
    cs_bcounter_init(&before);
    CS_CHECK_OK(cs_bcounter_increment(&a, 3, 2, NULL));
    CS_CHECK_OK(cs_bcounter_copy(&before, &a));
    CS_CHECK_RC(cs_bcounter_decrement(&a, 3, 3, NULL), CS_ERANGE);
    CS_CHECK(cs_bcounter_equal(&a, &before));
    CS_CHECK_OK(cs_bcounter_increment(&a, 3, INT64_MAX - 2, NULL));
    CS_CHECK_RC(cs_bcounter_increment(&a, 3, 1, NULL), CS_EOVERFLOW);
    CS_CHECK_RC(cs_bcounter_increment(&a, 0, 1, NULL), CS_EINVAL);
    cs_bcounter_free(&a);
    cs_bcounter_free(&before);
}

CS_TEST_MAIN(CS_CASE(escrow_and_transfer), CS_CASE(refusal_changes_nothing))
