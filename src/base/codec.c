/*
 * codec.c: the bounded binary codec (consist/codec.h).
 *
 * Writers append to a buffer that refuses to pass its limit; readers check
 * every length against what remains before touching a byte. Both keep the
 * first error, so encoders and decoders are written straight through and
 * checked once.
 */
#include "consist/codec.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"

void cs_buf_init(struct cs_buf *buf, size_t bytes_max)
{
    *buf = (struct cs_buf){.bytes_max = bytes_max};
}

void cs_buf_init_fixed(struct cs_buf *buf, uint8_t *mem, size_t cap)
{
    CS_ASSERT(mem != NULL || cap == 0);
    *buf = (struct cs_buf){.data = mem, .cap = cap, .bytes_max = cap, .fixed = true};
}

void cs_buf_free(struct cs_buf *buf)
{
    if (!buf->fixed) {
        free(buf->data);
        buf->data = NULL;
        buf->cap = 0;
    }
    buf->len = 0;
    buf->err = 0;
}

void cs_buf_reset(struct cs_buf *buf)
{
    buf->len = 0;
    buf->err = 0;
}

static int buf_fail(struct cs_buf *buf, int err)
{
    CS_ASSERT(err < 0);
    if (buf->err == 0) buf->err = err;
    return buf->err;
}

int cs_buf_reserve(struct cs_buf *buf, size_t n)
{
    if (buf->err) return buf->err;
    CS_ASSERT(buf->len <= buf->cap);
    CS_ASSERT(buf->len <= buf->bytes_max);
    if (n > buf->bytes_max - buf->len) {
        return buf_fail(buf, buf->fixed ? CS_ENOSPACE : CS_ETOOBIG);
    }
    size_t need = buf->len + n;
    if (need <= buf->cap) return 0;
    if (buf->fixed) return buf_fail(buf, CS_ENOSPACE);
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need) {
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    }
    if (cap > buf->bytes_max) cap = buf->bytes_max;
    uint8_t *data = realloc(buf->data, cap);
    if (data == NULL) return buf_fail(buf, CS_ENOMEM);
    buf->data = data;
    buf->cap = cap;
    CS_ASSERT(buf->cap >= need);
    return 0;
}

int cs_put_raw(struct cs_buf *buf, const void *data, size_t len)
{
    int rc = cs_buf_reserve(buf, len);
    if (rc) return rc;
    if (len) memcpy(buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}

int cs_put_u8(struct cs_buf *buf, uint8_t v)
{
    return cs_put_raw(buf, &v, 1);
}

static void store_le(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint64_t load_le(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static int put_le(struct cs_buf *buf, uint64_t v, size_t n)
{
    uint8_t tmp[8];
    CS_ASSERT(n <= sizeof tmp);
    store_le(tmp, v, n);
    return cs_put_raw(buf, tmp, n);
}

int cs_put_u16le(struct cs_buf *buf, uint16_t v)
{
    return put_le(buf, v, 2);
}

int cs_put_u32le(struct cs_buf *buf, uint32_t v)
{
    return put_le(buf, v, 4);
}

int cs_put_u64le(struct cs_buf *buf, uint64_t v)
{
    return put_le(buf, v, 8);
}

size_t cs_uvarint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    CS_ASSERT(n <= CS_UVARINT_BYTES_MAX);
    return n;
}

int cs_put_uvarint(struct cs_buf *buf, uint64_t v)
{
    /* Fast path: room for the longest varint already reserved, write in place. */
    if (buf->err == 0 && buf->cap - buf->len >= CS_UVARINT_BYTES_MAX &&
        buf->bytes_max - buf->len >= CS_UVARINT_BYTES_MAX) {
        uint8_t *p = buf->data + buf->len;
        size_t n = 0;
        while (v >= 0x80) {
            p[n++] = (uint8_t)(v | 0x80);
            v >>= 7;
        }
        p[n++] = (uint8_t)v;
        buf->len += n;
        return 0;
    }
    uint8_t tmp[CS_UVARINT_BYTES_MAX];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    CS_ASSERT(n <= CS_UVARINT_BYTES_MAX);
    return cs_put_raw(buf, tmp, n);
}

int cs_put_svarint(struct cs_buf *buf, int64_t v)
{
    return cs_put_uvarint(buf, cs_zigzag_encode(v));
}

int cs_put_bytes(struct cs_buf *buf, const void *data, size_t len)
{
    /* Reserve the whole record first so a failure appends nothing. */
    int rc = cs_buf_reserve(buf, cs_uvarint_len(len) + len);
    if (rc) return rc;
    cs_put_uvarint(buf, len);
    return cs_put_raw(buf, data, len);
}

void cs_reader_init(struct cs_reader *r, const void *data, size_t len)
{
    CS_ASSERT(data != NULL || len == 0);
    *r = (struct cs_reader){.data = data, .len = len};
}

static int reader_fail(struct cs_reader *r, int err)
{
    CS_ASSERT(err < 0);
    if (r->err == 0) r->err = err;
    return r->err;
}

int cs_get_raw(struct cs_reader *r, const uint8_t **out, size_t len)
{
    if (r->err) return r->err;
    CS_ASSERT(r->pos <= r->len);
    if (len > r->len - r->pos) return reader_fail(r, CS_EDECODE);
    *out = r->data + r->pos;
    r->pos += len;
    return 0;
}

int cs_get_u8(struct cs_reader *r, uint8_t *out)
{
    const uint8_t *p;
    int rc = cs_get_raw(r, &p, 1);
    if (rc) return rc;
    *out = p[0];
    return 0;
}

static int get_le(struct cs_reader *r, uint64_t *out, size_t n)
{
    const uint8_t *p;
    int rc = cs_get_raw(r, &p, n);
    if (rc) return rc;
    *out = load_le(p, n);
    return 0;
}

int cs_get_u16le(struct cs_reader *r, uint16_t *out)
{
    uint64_t v;
    int rc = get_le(r, &v, 2);
    if (rc == 0) *out = (uint16_t)v;
    return rc;
}

int cs_get_u32le(struct cs_reader *r, uint32_t *out)
{
    uint64_t v;
    int rc = get_le(r, &v, 4);
    if (rc == 0) *out = (uint32_t)v;
    return rc;
}

int cs_get_u64le(struct cs_reader *r, uint64_t *out)
{
    return get_le(r, out, 8);
}

int cs_get_uvarint(struct cs_reader *r, uint64_t *out)
{
    if (r->err) return r->err;
    /* Fast path: one-byte values are the common case (counts, small ids). */
    if (r->pos < r->len && r->data[r->pos] < 0x80) {
        *out = r->data[r->pos++];
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < CS_UVARINT_BYTES_MAX; i++) {
        if (r->pos + i >= r->len) return reader_fail(r, CS_EDECODE);
        uint8_t b = r->data[r->pos + i];
        /* The tenth byte may carry only the top bit of a 64-bit value. */
        if (i == CS_UVARINT_BYTES_MAX - 1 && b > 1) return reader_fail(r, CS_EDECODE);
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            /* A zero final byte after the first means a longer form than needed. */
            if (b == 0 && i > 0) return reader_fail(r, CS_EDECODE);
            r->pos += i + 1;
            *out = v;
            return 0;
        }
    }
    return reader_fail(r, CS_EDECODE);
}

int cs_get_uvarint_max(struct cs_reader *r, uint64_t *out, uint64_t max)
{
    uint64_t v;
    int rc = cs_get_uvarint(r, &v);
    if (rc) return rc;
    if (v > max) return reader_fail(r, CS_ETOOBIG);
    *out = v;
    return 0;
}

int cs_get_svarint(struct cs_reader *r, int64_t *out)
{
    uint64_t v;
    int rc = cs_get_uvarint(r, &v);
    if (rc) return rc;
    *out = cs_zigzag_decode(v);
    return 0;
}

int cs_get_bytes(struct cs_reader *r, const uint8_t **out, size_t *len_out, size_t len_max)
{
    uint64_t len;
    int rc = cs_get_uvarint_max(r, &len, len_max);
    if (rc) return rc;
    rc = cs_get_raw(r, out, (size_t)len);
    if (rc) return rc;
    *len_out = (size_t)len;
    return 0;
}

int cs_get_count(struct cs_reader *r, uint64_t *out, uint64_t count_max, size_t item_bytes_min)
{
    CS_ASSERT(item_bytes_min >= 1);
    uint64_t n;
    int rc = cs_get_uvarint_max(r, &n, count_max);
    if (rc) return rc;
    if (n > cs_reader_remaining(r) / item_bytes_min) return reader_fail(r, CS_EDECODE);
    *out = n;
    return 0;
}

int cs_reader_end(const struct cs_reader *r)
{
    if (r->err) return r->err;
    return r->pos == r->len ? 0 : CS_EDECODE;
}

/*
 * CRC-32C, reflected polynomial 0x82F63B78. On x86-64 with SSE4.2 the crc32
 * instruction does eight bytes a step (chosen once at run time); elsewhere a
 * 256-entry table built on first use does one.
 */
static uint32_t crc32c_table[256];
static int crc32c_ready;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) {
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        }
        crc32c_table[i] = c;
    }
    __atomic_store_n(&crc32c_ready, 1, __ATOMIC_RELEASE);
}

static uint32_t crc32c_sw(uint32_t crc, const uint8_t *p, size_t len)
{
    if (!__atomic_load_n(&crc32c_ready, __ATOMIC_ACQUIRE)) crc32c_init();
    for (size_t i = 0; i < len; i++) {
        crc = crc32c_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    }
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p,
                                                            size_t len)
{
    uint64_t c = crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t word;
        memcpy(&word, p, 8);
        c = __builtin_ia32_crc32di(c, word);
    }
    crc = (uint32_t)c;
    for (; len > 0; p++, len--) {
        crc = __builtin_ia32_crc32qi(crc, *p);
    }
    return crc;
}
#endif

uint32_t cs_crc32c(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
#if defined(__x86_64__)
    static int hw = -1;
    int use_hw = __atomic_load_n(&hw, __ATOMIC_RELAXED);
    if (use_hw < 0) {
        use_hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
        __atomic_store_n(&hw, use_hw, __ATOMIC_RELAXED);
    }
    if (use_hw) return ~crc32c_hw(crc, p, len);
#endif
    return ~crc32c_sw(crc, p, len);
}
