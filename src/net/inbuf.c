/*
 * net/inbuf.c: the bounded input buffer (see inbuf.h).
 *
 * Growth doubles, so a command of n bytes arriving in small reads costs O(n)
 * copying overall; compaction happens only when the tail has no room, so a
 * pipelined stream of small commands is never moved at all once the buffer
 * drains (start == end resets both to zero).
 */
#include "net/inbuf.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/error.h"

void cs_net_inbuf_init(struct cs_net_inbuf *b, size_t bytes_max)
{
    CS_ASSERT(bytes_max > 0);
    *b = (struct cs_net_inbuf){.bytes_max = bytes_max};
}

void cs_net_inbuf_free(struct cs_net_inbuf *b)
{
    free(b->data);
    size_t bytes_max = b->bytes_max;
    *b = (struct cs_net_inbuf){.bytes_max = bytes_max};
}

/* Make room for need more bytes after end: compact first, then grow. */
static int inbuf_make_room(struct cs_net_inbuf *b, size_t need)
{
    /* Drained after a large request: give the memory back rather than keep
     * the high-water mark for the connection's life. Done here, not in
     * consume, because views of the last request live until this call. */
    if (b->start == b->end && b->cap > CS_NET_INBUF_BYTES_KEEP_MAX) {
        free(b->data);
        b->data = NULL;
        b->cap = b->start = b->end = 0;
    }
    size_t used = b->end - b->start;
    if (b->cap - b->end >= need) return 0;
    if (b->start > 0) {
        if (used) memmove(b->data, b->data + b->start, used);
        b->start = 0;
        b->end = used;
        if (b->cap - b->end >= need) return 0;
    }
    /* Callers never ask past bytes_max, so used + need cannot overflow. */
    CS_ASSERT(need <= b->bytes_max && used <= b->bytes_max - need);
    size_t target = used + need;
    size_t cap = b->cap ? b->cap : CS_NET_INBUF_BYTES_INITIAL;
    while (cap < target)
        cap = cap > SIZE_MAX / 2 ? target : cap * 2;
    /* Past bytes_max the extra capacity could never be filled. */
    if (cap > b->bytes_max) cap = b->bytes_max;
    uint8_t *data = realloc(b->data, cap);
    if (data == NULL) return CS_ENOMEM;
    b->data = data;
    b->cap = cap;
    CS_ASSERT(b->cap - b->end >= need);
    return 0;
}

int cs_net_inbuf_reserve(struct cs_net_inbuf *b, size_t want, uint8_t **space, size_t *space_len)
{
    CS_ASSERT(want > 0);
    CS_ASSERT(b->start <= b->end && b->end <= b->cap);
    size_t used = b->end - b->start;
    CS_ASSERT(used <= b->bytes_max);
    size_t room = b->bytes_max - used;
    if (room == 0) return CS_ETOOBIG;
    size_t n = want < room ? want : room;
    int rc = inbuf_make_room(b, n);
    if (rc) return rc;
    *space = b->data + b->end;
    *space_len = n;
    return 0;
}

void cs_net_inbuf_commit(struct cs_net_inbuf *b, size_t n)
{
    CS_ASSERT(n <= b->cap - b->end);
    b->end += n;
    CS_ASSERT(b->end - b->start <= b->bytes_max);
}

int cs_net_inbuf_feed(struct cs_net_inbuf *b, const void *bytes, size_t len)
{
    if (len == 0) return 0;
    if (len > b->bytes_max - (b->end - b->start)) return CS_ETOOBIG;
    int rc = inbuf_make_room(b, len);
    if (rc) return rc;
    memcpy(b->data + b->end, bytes, len);
    b->end += len;
    return 0;
}

void cs_net_inbuf_consume(struct cs_net_inbuf *b, size_t n)
{
    CS_ASSERT(n <= b->end - b->start);
    b->start += n;
    if (b->start == b->end) b->start = b->end = 0;
}
