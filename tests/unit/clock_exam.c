/*
 * clock_exam.c: the exam scenario, checked event by event.
 *
 * Node A sends M1 (tick, send); node B receives M1 and sends M2 (update,
 * tick, send); node C receives M1 and then M2; node D has one local event D1,
 * concurrent with M2. Every event's vector clock and Lamport time is written
 * out by hand below, then the relations between the messages are checked,
 * including the one Lamport time gets wrong: L(D1) < L(M2), yet D1 and M2
 * are concurrent. (`consist demo clocks` prints the same scenario.)
 */
#include "consist/clock.h"
#include "testlib.h"

enum { NODE_A = 1, NODE_B = 2, NODE_C = 3, NODE_D = 4, NODES = 4 };

static bool vc_is(const struct cs_vclock *vc, const uint64_t *pairs, size_t pairs_len)
{
    if (vc->entries_len != pairs_len / 2) return false;
    for (size_t i = 0; i < pairs_len; i += 2) {
        if (vc->entries[i / 2].node_id != pairs[i]) return false;
        if (vc->entries[i / 2].counter != pairs[i + 1]) return false;
    }
    return true;
}

#define CHECK_VC(vc, ...)                                                                          \
    do {                                                                                           \
        static const uint64_t want_[] = {__VA_ARGS__};                                             \
        CS_CHECK_MSG(vc_is((vc), want_, sizeof want_ / sizeof want_[0]), "%s does not hold {%s}",  \
                     #vc, #__VA_ARGS__);                                                           \
    } while (0)

CS_TEST(exam_scenario)
{
    struct cs_vclock_node a, b, c, d;
    struct cs_lamport la, lb, lc, ld;
    struct cs_vclock m1, m2, d1;
    uint64_t m1_time, m2_time, d1_time, t;
    CS_CHECK_OK(cs_vclock_node_init(&a, NODE_A, NODES));
    CS_CHECK_OK(cs_vclock_node_init(&b, NODE_B, NODES));
    CS_CHECK_OK(cs_vclock_node_init(&c, NODE_C, NODES));
    CS_CHECK_OK(cs_vclock_node_init(&d, NODE_D, NODES));
    cs_lamport_init(&la);
    cs_lamport_init(&lb);
    cs_lamport_init(&lc);
    cs_lamport_init(&ld);
    cs_vclock_init(&m1);
    cs_vclock_init(&m2);
    cs_vclock_init(&d1);

    /* A sends M1. */
    CS_CHECK_OK(cs_vclock_node_tick(&a));
    CS_CHECK_OK(cs_lamport_send(&la, &m1_time));
    CS_CHECK_OK(cs_vclock_copy(&m1, &a.clock));
    CHECK_VC(&m1, NODE_A, 1);
    CS_CHECK_EQ_U64(m1_time, 1);

    /* B receives M1, then sends M2. */
    CS_CHECK_OK(cs_vclock_node_update(&b, &m1));
    CS_CHECK_OK(cs_lamport_receive(&lb, m1_time, &t));
    CHECK_VC(&b.clock, NODE_A, 1, NODE_B, 1);
    CS_CHECK_EQ_U64(t, 2);
    CS_CHECK_OK(cs_vclock_node_tick(&b));
    CS_CHECK_OK(cs_lamport_send(&lb, &m2_time));
    CS_CHECK_OK(cs_vclock_copy(&m2, &b.clock));
    CHECK_VC(&m2, NODE_A, 1, NODE_B, 2);
    CS_CHECK_EQ_U64(m2_time, 3);

    /* C receives M1, then M2. */
    CS_CHECK_OK(cs_vclock_node_update(&c, &m1));
    CS_CHECK_OK(cs_lamport_receive(&lc, m1_time, &t));
    CHECK_VC(&c.clock, NODE_A, 1, NODE_C, 1);
    CS_CHECK_EQ_U64(t, 2);
    CS_CHECK_OK(cs_vclock_node_update(&c, &m2));
    CS_CHECK_OK(cs_lamport_receive(&lc, m2_time, &t));
    CHECK_VC(&c.clock, NODE_A, 1, NODE_B, 2, NODE_C, 2);
    CS_CHECK_EQ_U64(t, 4);

    /* D1: a local event at D that hears from no one. */
    CS_CHECK_OK(cs_vclock_node_tick(&d));
    CS_CHECK_OK(cs_lamport_tick(&ld, &d1_time));
    CS_CHECK_OK(cs_vclock_copy(&d1, &d.clock));
    CHECK_VC(&d1, NODE_D, 1);
    CS_CHECK_EQ_U64(d1_time, 1);

    /* The relations. */
    CS_CHECK_EQ(cs_vclock_compare(&m1, &m2), CS_VC_BEFORE);
    CS_CHECK(cs_vclock_happens_before(&m1, &m2));
    CS_CHECK(cs_vclock_concurrent(&m2, &d1));
    CS_CHECK(cs_vclock_concurrent(&m1, &d1));
    CS_CHECK(cs_vclock_happens_before(&m2, &c.clock));
    CS_CHECK(!cs_vclock_happens_before(&d1, &c.clock) && !cs_vclock_descends(&c.clock, &d1));

    /* Lamport time is consistent with causality... */
    CS_CHECK(m1_time < m2_time);
    /* ...but misleads on concurrency: D1 looks earlier than M2 and tied with M1. */
    CS_CHECK(d1_time < m2_time);
    CS_CHECK(d1_time == m1_time);

    cs_vclock_node_free(&a);
    cs_vclock_node_free(&b);
    cs_vclock_node_free(&c);
    cs_vclock_node_free(&d);
    cs_vclock_free(&m1);
    cs_vclock_free(&m2);
    cs_vclock_free(&d1);
}

CS_TEST_MAIN(CS_CASE(exam_scenario))
