/*
 * clock_lamport.c: the Lamport clock's three rules and its overflow limit.
 * Method: drive one clock through ticks, sends and receives and check each
 * time against the rules (tick +1, receive max+1); then park the clock at
 * CS_LAMPORT_TIME_MAX - 1 to test the limit and one past it.
 */
#include "consist/clock.h"
#include "testlib.h"

/* A new clock is at 0; each tick and send advances it by exactly one. */
CS_TEST(tick_and_send_count_events)
{
    struct cs_lamport c;
    uint64_t t = 99;
    cs_lamport_init(&c);
    CS_CHECK_EQ_U64(c.time, 0);
    CS_CHECK_OK(cs_lamport_tick(&c, &t));
    CS_CHECK_EQ_U64(t, 1);
    CS_CHECK_OK(cs_lamport_send(&c, &t));
    CS_CHECK_EQ_U64(t, 2);
    CS_CHECK_OK(cs_lamport_tick(&c, &t));
    CS_CHECK_EQ_U64(t, 3);
    CS_CHECK_EQ_U64(c.time, 3);
}

/* Receive jumps past the larger of the two times, whichever side it is on. */
CS_TEST(receive_takes_max_plus_one)
{
    struct cs_lamport c;
    uint64_t t;
    cs_lamport_init(&c);
    CS_CHECK_OK(cs_lamport_receive(&c, 10, &t)); /* remote ahead */
    CS_CHECK_EQ_U64(t, 11);
    CS_CHECK_OK(cs_lamport_receive(&c, 4, &t)); /* local ahead */
    CS_CHECK_EQ_U64(t, 12);
    CS_CHECK_OK(cs_lamport_receive(&c, 12, &t)); /* equal */
    CS_CHECK_EQ_U64(t, 13);
    CS_CHECK_OK(cs_lamport_receive(&c, 0, &t));
    CS_CHECK_EQ_U64(t, 14);
}

/* A message's send time is always below its receive time (clock condition). */
CS_TEST(send_before_receive)
{
    struct cs_lamport a, b;
    uint64_t sent, received;
    cs_lamport_init(&a);
    cs_lamport_init(&b);
    for (int i = 0; i < 5; i++)
        CS_CHECK_OK(cs_lamport_tick(&b, &received));
    CS_CHECK_OK(cs_lamport_send(&a, &sent));
    CS_CHECK_OK(cs_lamport_receive(&b, sent, &received));
    CS_CHECK(sent < received);
    CS_CHECK_OK(cs_lamport_send(&b, &sent));
    CS_CHECK_OK(cs_lamport_receive(&a, sent, &received));
    CS_CHECK(sent < received);
    CS_CHECK_EQ_U64(received, 8);
}

/* The clock reaches CS_LAMPORT_TIME_MAX and refuses to pass it, unchanged. */
CS_TEST(overflow_at_limit)
{
    struct cs_lamport c = {.time = CS_LAMPORT_TIME_MAX - 1};
    uint64_t t = 7;
    CS_CHECK_OK(cs_lamport_tick(&c, &t));
    CS_CHECK_EQ_U64(t, CS_LAMPORT_TIME_MAX);
    t = 7;
    CS_CHECK_RC(cs_lamport_tick(&c, &t), CS_EOVERFLOW);
    CS_CHECK_RC(cs_lamport_send(&c, &t), CS_EOVERFLOW);
    CS_CHECK_RC(cs_lamport_receive(&c, 3, &t), CS_EOVERFLOW);
    CS_CHECK_EQ_U64(c.time, CS_LAMPORT_TIME_MAX);
    CS_CHECK_EQ_U64(t, 7);

    /* A receive whose max is one below the limit still succeeds; at the limit it fails. */
    struct cs_lamport d = {.time = 5};
    CS_CHECK_OK(cs_lamport_receive(&d, CS_LAMPORT_TIME_MAX - 1, &t));
    CS_CHECK_EQ_U64(t, CS_LAMPORT_TIME_MAX);
    struct cs_lamport e = {.time = 5};
    CS_CHECK_RC(cs_lamport_receive(&e, CS_LAMPORT_TIME_MAX, &t), CS_EOVERFLOW);
    CS_CHECK_EQ_U64(e.time, 5);
}

CS_TEST_MAIN(CS_CASE(tick_and_send_count_events), CS_CASE(receive_takes_max_plus_one),
             CS_CASE(send_before_receive), CS_CASE(overflow_at_limit))
