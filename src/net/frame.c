/*
 * net/frame.c: peer frame codec and hello handshake (see consist/frame.h).
 *
 * The one idea: check the header before trusting its length. The decoder
 * waits for 24 bytes, verifies the header checksum and the length limit, and
 * only then waits for the payload; so garbage on the peer port costs at most
 * 24 bytes of buffering before the connection is dropped, and a valid-looking
 * length can never make the buffer grow past one maximal frame.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/frame.h"
#include "net/inbuf.h"

#define FRAME_ERRMSG_BYTES_MAX 96

_Static_assert(CS_FRAME_PAYLOAD_BYTES_CEILING <= UINT32_MAX, "payload_len is a u32");
_Static_assert(CS_FRAME_PAYLOAD_BYTES_MAX_DEFAULT <= CS_FRAME_PAYLOAD_BYTES_CEILING,
               "default within the ceiling");
_Static_assert(CS_HELLO_CLUSTER_ID_BYTES_MAX < 128, "the cluster id length is a 1-byte varint");

struct cs_frame_decoder {
    struct cs_net_inbuf in;
    size_t payload_bytes_max;
    int err; /* sticky */
    char errmsg[FRAME_ERRMSG_BYTES_MAX];
};

static void frame_store_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void frame_store_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void frame_store_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t frame_load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t frame_load_u64(const uint8_t *p)
{
    return (uint64_t)frame_load_u32(p) | (uint64_t)frame_load_u32(p + 4) << 32;
}

int cs_frame_header_encode(uint8_t header[CS_FRAME_HEADER_BYTES], uint8_t type, uint64_t group_id,
                           const void *payload, size_t len, size_t payload_bytes_max)
{
    CS_ASSERT(payload_bytes_max <= CS_FRAME_PAYLOAD_BYTES_CEILING);
    CS_ASSERT(payload != NULL || len == 0);
    if (type == 0) return CS_EINVAL;
    if (len > payload_bytes_max) return CS_ETOOBIG;
    frame_store_u32(header + 4, cs_crc32c(0, payload, len));
    frame_store_u32(header + 8, (uint32_t)len);
    header[12] = type;
    header[13] = 0;
    frame_store_u16(header + 14, 0);
    frame_store_u64(header + 16, group_id);
    frame_store_u32(header, cs_crc32c(0, header + 4, CS_FRAME_HEADER_BYTES - 4));
    return 0;
}

int cs_frame_encode(struct cs_buf *out, uint8_t type, uint64_t group_id, const void *payload,
                    size_t len, size_t payload_bytes_max)
{
    uint8_t header[CS_FRAME_HEADER_BYTES];
    int rc = cs_frame_header_encode(header, type, group_id, payload, len, payload_bytes_max);
    if (rc) return rc;
    rc = cs_buf_reserve(out, CS_FRAME_HEADER_BYTES + len);
    if (rc) return rc;
    cs_put_raw(out, header, sizeof header);
    cs_put_raw(out, payload, len);
    CS_ASSERT(cs_buf_error(out) == 0);
    return 0;
}

int cs_frame_decoder_new(size_t payload_bytes_max, struct cs_frame_decoder **out)
{
    if (payload_bytes_max == 0 || payload_bytes_max > CS_FRAME_PAYLOAD_BYTES_CEILING) {
        return CS_EINVAL;
    }
    struct cs_frame_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) return CS_ENOMEM;
    d->payload_bytes_max = payload_bytes_max;
    cs_net_inbuf_init(&d->in, CS_FRAME_HEADER_BYTES + payload_bytes_max);
    *out = d;
    return 0;
}

void cs_frame_decoder_free(struct cs_frame_decoder *d)
{
    if (d == NULL) return;
    cs_net_inbuf_free(&d->in);
    free(d);
}

__attribute__((format(printf, 3, 4))) static int frame_fail(struct cs_frame_decoder *d, int rc,
                                                            const char *fmt, ...)
{
    CS_ASSERT(rc < 0);
    CS_ASSERT(d->err == 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->errmsg, sizeof d->errmsg, fmt, ap);
    va_end(ap);
    d->err = rc;
    return rc;
}

int cs_frame_decoder_feed(struct cs_frame_decoder *d, const void *bytes, size_t len)
{
    if (d->err) return d->err;
    int rc = cs_net_inbuf_feed(&d->in, bytes, len);
    if (rc == CS_ETOOBIG) return frame_fail(d, rc, "frame buffer limit exceeded");
    return rc;
}

int cs_frame_decoder_reserve(struct cs_frame_decoder *d, size_t want, uint8_t **space,
                             size_t *space_len)
{
    if (d->err) return d->err;
    int rc = cs_net_inbuf_reserve(&d->in, want, space, space_len);
    if (rc == CS_ETOOBIG) return frame_fail(d, rc, "frame buffer limit exceeded");
    return rc;
}

void cs_frame_decoder_commit(struct cs_frame_decoder *d, size_t n)
{
    cs_net_inbuf_commit(&d->in, n);
}

const char *cs_frame_decoder_errmsg(const struct cs_frame_decoder *d)
{
    return d->errmsg;
}

size_t cs_frame_decoder_memory(const struct cs_frame_decoder *d)
{
    return sizeof *d + cs_net_inbuf_memory(&d->in);
}

int cs_frame_decoder_next(struct cs_frame_decoder *d, struct cs_frame *frame)
{
    *frame = (struct cs_frame){0};
    if (d->err) return d->err;
    size_t avail = cs_net_inbuf_len(&d->in);
    if (avail < CS_FRAME_HEADER_BYTES) return 0;
    const uint8_t *h = cs_net_inbuf_head(&d->in);
    uint32_t header_crc = cs_crc32c(0, h + 4, CS_FRAME_HEADER_BYTES - 4);
    if (header_crc != frame_load_u32(h)) {
        return frame_fail(d, CS_ECORRUPT, "frame header checksum mismatch");
    }
    uint32_t payload_len = frame_load_u32(h + 8);
    if (h[12] == 0) return frame_fail(d, CS_EDECODE, "frame type 0");
    if (h[13] != 0 || h[14] != 0 || h[15] != 0) {
        return frame_fail(d, CS_EDECODE, "frame reserved bits set");
    }
    if (payload_len > d->payload_bytes_max) {
        return frame_fail(d, CS_ETOOBIG, "frame payload of %u bytes, at most %zu", payload_len,
                          d->payload_bytes_max);
    }
    if (avail - CS_FRAME_HEADER_BYTES < payload_len) return 0;
    const uint8_t *payload = h + CS_FRAME_HEADER_BYTES;
    if (cs_crc32c(0, payload, payload_len) != frame_load_u32(h + 4)) {
        return frame_fail(d, CS_ECORRUPT, "frame payload checksum mismatch");
    }
    frame->type = h[12];
    frame->group_id = frame_load_u64(h + 16);
    frame->payload = payload;
    frame->payload_len = payload_len;
    cs_net_inbuf_consume(&d->in, CS_FRAME_HEADER_BYTES + payload_len);
    CS_ASSERT(frame->type != 0);
    return 0;
}

int cs_hello_encode(struct cs_buf *out, const struct cs_hello *hello)
{
    if (hello->node_id == 0 || hello->version_min == 0) return CS_EINVAL;
    if (hello->version_min > hello->version_max) return CS_EINVAL;
    if (hello->cluster_id_len == 0 || hello->cluster_id_len > CS_HELLO_CLUSTER_ID_BYTES_MAX) {
        return CS_EINVAL;
    }
    size_t before = out->len;
    cs_put_u16le(out, hello->version_min);
    cs_put_u16le(out, hello->version_max);
    cs_put_u64le(out, hello->node_id);
    int rc = cs_put_bytes(out, hello->cluster_id, hello->cluster_id_len);
    if (rc) return rc;
    CS_ASSERT(out->len - before <= CS_HELLO_BYTES_MAX);
    return 0;
}

int cs_hello_decode(const uint8_t *payload, size_t len, struct cs_hello *hello)
{
    struct cs_reader r;
    cs_reader_init(&r, payload, len);
    struct cs_hello h = {0};
    cs_get_u16le(&r, &h.version_min);
    cs_get_u16le(&r, &h.version_max);
    cs_get_u64le(&r, &h.node_id);
    cs_get_bytes(&r, &h.cluster_id, &h.cluster_id_len, CS_HELLO_CLUSTER_ID_BYTES_MAX);
    int rc = cs_reader_end(&r);
    if (rc) return rc;
    if (h.node_id == 0 || h.version_min == 0 || h.version_min > h.version_max) return CS_EDECODE;
    if (h.cluster_id_len == 0) return CS_EDECODE;
    *hello = h;
    return 0;
}

int cs_hello_check(const struct cs_hello *local, const struct cs_hello *remote, uint16_t *version)
{
    CS_ASSERT(local->version_min <= local->version_max);
    CS_ASSERT(remote->version_min <= remote->version_max);
    if (local->cluster_id_len != remote->cluster_id_len ||
        memcmp(local->cluster_id, remote->cluster_id, local->cluster_id_len) != 0) {
        return CS_EDENIED;
    }
    if (local->node_id == remote->node_id) return CS_EDENIED;
    uint16_t low =
        local->version_min > remote->version_min ? local->version_min : remote->version_min;
    uint16_t high =
        local->version_max < remote->version_max ? local->version_max : remote->version_max;
    if (low > high) return CS_EVERSION;
    *version = high;
    return 0;
}
