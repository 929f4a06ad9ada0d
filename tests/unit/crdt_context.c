/*
 * crdt_context.c: the causal context stays compact. Deltas delivered out of
 * order park their dots in the cloud; once the gap fills, the cloud drains
 * into the version vector. A lost delta leaves the gap until a full-state
 * merge repairs it. The cloud limit holds at the limit and one past.
 */
#include <stdio.h>
#include <string.h>

#include "consist/crdt.h"
#include "testlib.h"

/* Five adds at node 1, their deltas delivered to b in reverse order. */
CS_TEST(out_of_order_deltas_compact)
{
    struct cs_orset a, b, deltas[5];
    cs_orset_init(&a);
    cs_orset_init(&b);
    for (int i = 0; i < 5; i++) {
        char m[8];
        snprintf(m, sizeof m, "m%d", i);
        cs_orset_init(&deltas[i]);
        CS_CHECK_OK(cs_orset_add(&a, 1, m, strlen(m), &deltas[i]));
    }
    for (int i = 4; i >= 1; i--)
        CS_CHECK_OK(cs_orset_merge(&b, &deltas[i]));
    CS_CHECK_EQ(b.ctx.vv_len, 0); /* dot (1,1) still missing */
    CS_CHECK_EQ(b.ctx.cloud_len, 4);
    CS_CHECK_EQ(cs_orset_len(&b), 4);
    CS_CHECK_OK(cs_orset_merge(&b, &deltas[0]));
    CS_CHECK_EQ(b.ctx.cloud_len, 0);
    CS_CHECK_EQ(b.ctx.vv_len, 1);
    CS_CHECK_EQ_U64(b.ctx.vv[0].counter, 5);
    CS_CHECK(cs_orset_equal(&a, &b));
    /* Lose delta 0 for good at a third replica: the gap stays until a full state. */
    struct cs_orset c;
    cs_orset_init(&c);
    for (int i = 1; i < 5; i++)
        CS_CHECK_OK(cs_orset_merge(&c, &deltas[i]));
    CS_CHECK_EQ(c.ctx.cloud_len, 4);
    CS_CHECK_OK(cs_orset_merge(&c, &a));
    CS_CHECK_EQ(c.ctx.cloud_len, 0);
    CS_CHECK(cs_orset_equal(&a, &c));
    for (int i = 0; i < 5; i++)
        cs_orset_free(&deltas[i]);
    cs_orset_free(&a);
    cs_orset_free(&b);
    cs_orset_free(&c);
}

/* The cloud holds CS_CRDT_CLOUD_DOTS_MAX dots; one more gap is CS_ETOOBIG. */
CS_TEST(cloud_limit)
{
    struct cs_orset s, d;
    cs_orset_init(&s);
    cs_orset_init(&d);
    /* A delta with dots (1,2), (1,4), ... : every other dot, so none compact. */
    struct cs_orset w;
    cs_orset_init(&w);
    uint32_t n = 0;
    for (uint32_t i = 0; n < CS_CRDT_CLOUD_DOTS_MAX; i++) {
        char m[16];
        snprintf(m, sizeof m, "%u", i);
        CS_CHECK_OK(cs_orset_add(&w, 1, m, strlen(m), &d));
        if (i % 2 == 1) {
            CS_CHECK_OK(cs_orset_merge(&s, &d));
            n++;
        }
    }
    CS_CHECK_EQ(s.ctx.cloud_len, CS_CRDT_CLOUD_DOTS_MAX);
    CS_CHECK_OK(cs_orset_add(&w, 1, "x", 1, NULL));
    CS_CHECK_OK(cs_orset_add(&w, 1, "y", 1, &d));
    CS_CHECK_RC(cs_orset_merge(&s, &d), CS_ETOOBIG);
    /* A full state repairs every gap. */
    CS_CHECK_OK(cs_orset_merge(&s, &w));
    CS_CHECK_EQ(s.ctx.cloud_len, 0);
    CS_CHECK(cs_orset_equal(&s, &w));
    cs_orset_free(&s);
    cs_orset_free(&d);
    cs_orset_free(&w);
}

/* Dot counters stop at CS_CRDT_DOT_COUNTER_MAX: decoding one more is CS_ETOOBIG, and a
 * node whose counter reached the limit gets CS_EOVERFLOW instead of a wrapped dot. */
CS_TEST(dot_counter_limit)
{
    for (uint64_t extra = 0; extra <= 1; extra++) {
        struct cs_buf b;
        cs_buf_init(&b, 256);
        cs_put_u8(&b, CS_CRDT_FORMAT_VERSION);
        cs_put_u8(&b, CS_CRDT_ORSET);
        cs_put_uvarint(&b, 1);
        cs_put_uvarint(&b, 1);
        cs_put_uvarint(&b, CS_CRDT_DOT_COUNTER_MAX + extra);
        cs_put_uvarint(&b, 0);
        cs_put_uvarint(&b, 0);
        cs_put_uvarint(&b, 0);
        struct cs_orset s;
        cs_orset_init(&s);
        CS_CHECK_RC(cs_orset_decode(&s, b.data, b.len), extra ? CS_ETOOBIG : 0);
        if (!extra) {
            CS_CHECK_RC(cs_orset_add(&s, 1, "x", 1, NULL), CS_EOVERFLOW);
            CS_CHECK_OK(cs_orset_add(&s, 2, "x", 1, NULL));
            CS_CHECK(cs_orset_contains(&s, "x", 1));
        }
        cs_orset_free(&s);
        cs_buf_free(&b);
    }
}

CS_TEST_MAIN(CS_CASE(out_of_order_deltas_compact), CS_CASE(cloud_limit), CS_CASE(dot_counter_limit))
