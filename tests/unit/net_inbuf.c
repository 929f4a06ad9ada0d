/*
 * net_inbuf.c: the bounded input buffer under every src/net parser.
 *
 * Method: drive reserve/commit/feed/consume directly and check the byte
 * limit at its value and one past it, that reserve never hands out more
 * than the limit leaves, that compaction keeps unconsumed bytes intact, and
 * that a drained buffer above CS_NET_INBUF_BYTES_KEEP_MAX is released while
 * one at it is kept.
 */
#include <stdlib.h>
#include <string.h>

#include "net/inbuf.h"
#include "testlib.h"

CS_TEST(limit_at_and_past)
{
    struct cs_net_inbuf b;
    cs_net_inbuf_init(&b, 100);
    CS_CHECK_OK(cs_net_inbuf_feed(&b, "0123456789", 10));
    uint8_t *space;
    size_t len;
    CS_CHECK_OK(cs_net_inbuf_reserve(&b, 1000, &space, &len));
    CS_CHECK_EQ(len, 90); /* what the limit leaves */
    memset(space, 'x', len);
    cs_net_inbuf_commit(&b, len);
    CS_CHECK_EQ(cs_net_inbuf_len(&b), 100);
    CS_CHECK_RC(cs_net_inbuf_reserve(&b, 1, &space, &len), CS_ETOOBIG);
    CS_CHECK_RC(cs_net_inbuf_feed(&b, "y", 1), CS_ETOOBIG);
    CS_CHECK_EQ(cs_net_inbuf_len(&b), 100);
    CS_CHECK(cs_net_inbuf_memory(&b) <= 100); /* capacity never passes the limit */
    cs_net_inbuf_free(&b);
}

CS_TEST(compaction_keeps_bytes)
{
    struct cs_net_inbuf b;
    cs_net_inbuf_init(&b, 1 << 20);
    uint8_t block[CS_NET_INBUF_BYTES_INITIAL];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (uint8_t)i;
    CS_CHECK_OK(cs_net_inbuf_feed(&b, block, sizeof block));
    CS_CHECK_EQ(cs_net_inbuf_memory(&b), CS_NET_INBUF_BYTES_INITIAL);
    cs_net_inbuf_consume(&b, 1000);
    /* 1000 bytes free at the front: compaction, not growth. */
    CS_CHECK_OK(cs_net_inbuf_feed(&b, block, 1000));
    CS_CHECK_EQ(cs_net_inbuf_memory(&b), CS_NET_INBUF_BYTES_INITIAL);
    CS_CHECK_MEM(cs_net_inbuf_head(&b), block + 1000, sizeof block - 1000);
    CS_CHECK_MEM(cs_net_inbuf_head(&b) + sizeof block - 1000, block, 1000);
    /* One more byte: growth by doubling. */
    CS_CHECK_OK(cs_net_inbuf_feed(&b, block, 1));
    CS_CHECK_EQ(cs_net_inbuf_memory(&b), 2 * CS_NET_INBUF_BYTES_INITIAL);
    cs_net_inbuf_consume(&b, cs_net_inbuf_len(&b));
    CS_CHECK_EQ(cs_net_inbuf_len(&b), 0);
    cs_net_inbuf_free(&b);
}

/* Fill a fresh buffer to exactly cap bytes, drain it, read again: is memory kept? */
static size_t memory_after_drain(size_t cap)
{
    struct cs_net_inbuf b;
    cs_net_inbuf_init(&b, 1 << 24);
    uint8_t *bytes = calloc(1, cap);
    CS_CHECK(bytes != NULL);
    CS_CHECK_OK(cs_net_inbuf_feed(&b, bytes, cap));
    CS_CHECK_EQ(cs_net_inbuf_memory(&b), cap);
    cs_net_inbuf_consume(&b, cap);
    CS_CHECK_OK(cs_net_inbuf_feed(&b, "x", 1));
    size_t memory = cs_net_inbuf_memory(&b);
    cs_net_inbuf_free(&b);
    free(bytes);
    return memory;
}

CS_TEST(keep_max_at_and_past)
{
    CS_CHECK_EQ(memory_after_drain(CS_NET_INBUF_BYTES_KEEP_MAX), CS_NET_INBUF_BYTES_KEEP_MAX);
    CS_CHECK_EQ(memory_after_drain(2 * CS_NET_INBUF_BYTES_KEEP_MAX), CS_NET_INBUF_BYTES_INITIAL);
}

CS_TEST_MAIN(CS_CASE(limit_at_and_past), CS_CASE(compaction_keeps_bytes),
             CS_CASE(keep_max_at_and_past))
