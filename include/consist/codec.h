/*
 * consist/codec.h: the bounded binary codec every consist encoding is built on.
 *
 * The one idea: a reader never trusts a length. Every length, count and
 * varint read from the wire is checked against the bytes that remain and
 * against a maximum the caller names, before anything is indexed or
 * allocated. Errors are sticky: after the first failure every later call on
 * the same reader or buffer fails with the same code, so a decoder may read a
 * whole record and check once at the end.
 *
 * Encodings are canonical: a varint has exactly one accepted encoding (the
 * shortest), so decode(encode(x)) == x and encode(decode(b)) == b.
 */
#ifndef CONSIST_CODEC_H
#define CONSIST_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The longest unsigned LEB128 varint of a 64-bit value. */
#define CS_UVARINT_BYTES_MAX 10

/*
 * A growable byte buffer with a hard size limit.
 *
 * Memory: owned by the buffer unless it was given with cs_buf_init_fixed, in
 * which case the caller owns it and the buffer never grows. cs_buf_free
 * releases owned memory and leaves the buffer empty and reusable.
 */
struct cs_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t bytes_max; /* len never exceeds this */
    int err;          /* first error, sticky; 0 while healthy */
    bool fixed;       /* caller-owned memory: never grown, never freed */
};

/* cs_buf_init: an empty owned buffer that may grow to bytes_max bytes. */
void cs_buf_init(struct cs_buf *buf, size_t bytes_max);

/* cs_buf_init_fixed: a buffer over caller memory mem[0..cap); never grows. */
void cs_buf_init_fixed(struct cs_buf *buf, uint8_t *mem, size_t cap);

/* cs_buf_free: release owned memory; the buffer becomes empty (err cleared). */
void cs_buf_free(struct cs_buf *buf);

/* cs_buf_reset: forget the contents and any error, keep the memory. */
void cs_buf_reset(struct cs_buf *buf);

/*
 * cs_buf_reserve: make room for n more bytes.
 * Returns 0, CS_ETOOBIG (len + n would pass bytes_max), CS_ENOSPACE (fixed
 * buffer full) or CS_ENOMEM; the error is also made sticky.
 */
int cs_buf_reserve(struct cs_buf *buf, size_t n);

/* cs_buf_error: the sticky error, 0 if none. */
static inline int cs_buf_error(const struct cs_buf *buf)
{
    return buf->err;
}

/*
 * Writers. Each appends to buf and returns 0 or the buffer's (sticky) error;
 * on error nothing is appended.
 */
int cs_put_raw(struct cs_buf *buf, const void *data, size_t len);
int cs_put_u8(struct cs_buf *buf, uint8_t v);
int cs_put_u16le(struct cs_buf *buf, uint16_t v);
int cs_put_u32le(struct cs_buf *buf, uint32_t v);
int cs_put_u64le(struct cs_buf *buf, uint64_t v);
int cs_put_uvarint(struct cs_buf *buf, uint64_t v);
/* Zigzag: small magnitudes of either sign encode short. */
int cs_put_svarint(struct cs_buf *buf, int64_t v);
/* A uvarint length followed by the bytes. */
int cs_put_bytes(struct cs_buf *buf, const void *data, size_t len);

/* cs_uvarint_len: bytes cs_put_uvarint would write for v (1..10). */
size_t cs_uvarint_len(uint64_t v);

static inline uint64_t cs_zigzag_encode(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t cs_zigzag_decode(uint64_t v)
{
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/*
 * A reader over caller-owned bytes. It never copies or allocates: views it
 * returns point into the caller's memory and live as long as it does.
 */
struct cs_reader {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int err; /* first error, sticky */
};

void cs_reader_init(struct cs_reader *r, const void *data, size_t len);

static inline size_t cs_reader_remaining(const struct cs_reader *r)
{
    return r->len - r->pos;
}

static inline int cs_reader_error(const struct cs_reader *r)
{
    return r->err;
}

/*
 * Readers. Each returns 0 and sets *out, or returns an error (and leaves *out
 * unchanged): CS_EDECODE when the bytes run out or are not canonical,
 * CS_ETOOBIG when a value passes the caller's maximum.
 */
int cs_get_u8(struct cs_reader *r, uint8_t *out);
int cs_get_u16le(struct cs_reader *r, uint16_t *out);
int cs_get_u32le(struct cs_reader *r, uint32_t *out);
int cs_get_u64le(struct cs_reader *r, uint64_t *out);
/* Rejects overlong (non-shortest) encodings and values past 64 bits. */
int cs_get_uvarint(struct cs_reader *r, uint64_t *out);
/* As cs_get_uvarint, then CS_ETOOBIG if the value exceeds max. */
int cs_get_uvarint_max(struct cs_reader *r, uint64_t *out, uint64_t max);
int cs_get_svarint(struct cs_reader *r, int64_t *out);
/* len raw bytes, as a view. */
int cs_get_raw(struct cs_reader *r, const uint8_t **out, size_t len);
/*
 * A length-prefixed byte string, as a view (*out, *len_out). CS_ETOOBIG if
 * the length exceeds len_max; CS_EDECODE if it exceeds the bytes that remain.
 */
int cs_get_bytes(struct cs_reader *r, const uint8_t **out, size_t *len_out, size_t len_max);
/*
 * A count of items that follow, each at least item_bytes_min bytes long
 * (>= 1). CS_ETOOBIG past count_max; CS_EDECODE when the remaining bytes
 * could not hold that many items. Use it before allocating from a count.
 */
int cs_get_count(struct cs_reader *r, uint64_t *out, uint64_t count_max, size_t item_bytes_min);
/* cs_reader_end: 0 if every byte was consumed without error, else the error or CS_EDECODE. */
int cs_reader_end(const struct cs_reader *r);

/*
 * cs_crc32c: CRC-32C (Castagnoli) of data, continuing from crc (0 to start).
 * Used for frames and records on the wire and on disk.
 */
uint32_t cs_crc32c(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_CODEC_H */
