/*
 * net/inbuf.h: the bounded input buffer under every sans-IO parser in src/net.
 *
 * The one idea: memory follows the bytes that actually arrived, never a
 * length or count a peer declared. The buffer holds the unconsumed bytes
 * [start, end) of one connection; it grows geometrically only when those
 * bytes fill it, and never past bytes_max. Parsers keep their resume state as
 * offsets from start, so compaction (moving the unconsumed bytes to the
 * front) cannot invalidate it; views they hand out point into data and live
 * until the next reserve or feed, the only calls that move memory.
 *
 * Internal to src/net (not a public header).
 */
#ifndef CS_NET_INBUF_H
#define CS_NET_INBUF_H

#include <stddef.h>
#include <stdint.h>

/* The first allocation (Redis reads 16 KiB at a time, PROTO_IOBUF_LEN). */
#define CS_NET_INBUF_BYTES_INITIAL (16u * 1024u)
/* An empty buffer larger than this is freed before the next read (Redis
 * shrinks idle query buffers in its cron for the same reason). */
#define CS_NET_INBUF_BYTES_KEEP_MAX (256u * 1024u)

struct cs_net_inbuf {
    uint8_t *data;
    size_t cap;
    size_t start;     /* first unconsumed byte */
    size_t end;       /* one past the last byte received */
    size_t bytes_max; /* end - start never exceeds this */
};

void cs_net_inbuf_init(struct cs_net_inbuf *b, size_t bytes_max);
void cs_net_inbuf_free(struct cs_net_inbuf *b);

/* Unconsumed bytes. */
static inline size_t cs_net_inbuf_len(const struct cs_net_inbuf *b)
{
    return b->end - b->start;
}

/* The first unconsumed byte; NULL before anything was received (NULL + 0 is undefined). */
static inline uint8_t *cs_net_inbuf_head(const struct cs_net_inbuf *b)
{
    return b->data == NULL ? NULL : b->data + b->start;
}

/*
 * cs_net_inbuf_reserve: room to receive up to want bytes (want > 0).
 * Sets *space and *space_len (1 <= *space_len <= want): less than want only
 * when bytes_max leaves less room. Returns 0, CS_ETOOBIG (the unconsumed
 * bytes already fill bytes_max) or CS_ENOMEM.
 */
int cs_net_inbuf_reserve(struct cs_net_inbuf *b, size_t want, uint8_t **space, size_t *space_len);

/* cs_net_inbuf_commit: n bytes were written at the space reserve returned. */
void cs_net_inbuf_commit(struct cs_net_inbuf *b, size_t n);

/* cs_net_inbuf_feed: copy len bytes in. 0, CS_ETOOBIG (would pass bytes_max; nothing copied),
 * CS_ENOMEM. */
int cs_net_inbuf_feed(struct cs_net_inbuf *b, const void *bytes, size_t len);

/* cs_net_inbuf_consume: the first n unconsumed bytes are done with. */
void cs_net_inbuf_consume(struct cs_net_inbuf *b, size_t n);

/* cs_net_inbuf_memory: bytes allocated. */
static inline size_t cs_net_inbuf_memory(const struct cs_net_inbuf *b)
{
    return b->cap;
}

#endif /* CS_NET_INBUF_H */
