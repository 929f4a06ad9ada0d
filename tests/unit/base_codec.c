/*
 * base_codec.c: the bounded codec's contract. Each test names the rule it
 * checks: limits at the limit and one past it, canonical varints, sticky
 * errors, nothing appended or consumed on failure.
 */
#include <stdlib.h>

#include "consist/codec.h"
#include "testlib.h"

/* Varints round-trip at every length boundary, and their length is as predicted. */
CS_TEST(uvarint_boundaries)
{
    const uint64_t values[] = {0,
                               1,
                               127,
                               128,
                               16383,
                               16384,
                               (1ull << 35) - 1,
                               1ull << 35,
                               (1ull << 63) - 1,
                               1ull << 63,
                               UINT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct cs_buf b;
        cs_buf_init(&b, 64);
        CS_CHECK_OK(cs_put_uvarint(&b, values[i]));
        CS_CHECK_EQ(b.len, cs_uvarint_len(values[i]));
        struct cs_reader r;
        cs_reader_init(&r, b.data, b.len);
        uint64_t v = 0;
        CS_CHECK_OK(cs_get_uvarint(&r, &v));
        CS_CHECK_EQ_U64(v, values[i]);
        CS_CHECK_OK(cs_reader_end(&r));
        cs_buf_free(&b);
    }
    CS_CHECK_EQ(cs_uvarint_len(UINT64_MAX), CS_UVARINT_BYTES_MAX);
}

/* Zigzag keeps small magnitudes short and covers the extremes. */
CS_TEST(svarint_extremes)
{
    const int64_t values[] = {0, -1, 1, -64, 63, -65, INT64_MIN, INT64_MAX};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct cs_buf b;
        cs_buf_init(&b, 64);
        CS_CHECK_OK(cs_put_svarint(&b, values[i]));
        struct cs_reader r;
        cs_reader_init(&r, b.data, b.len);
        int64_t v = 0;
        CS_CHECK_OK(cs_get_svarint(&r, &v));
        CS_CHECK_EQ(v, values[i]);
        cs_buf_free(&b);
    }
    CS_CHECK_EQ_U64(cs_zigzag_encode(-1), 1);
    CS_CHECK_EQ_U64(cs_zigzag_encode(1), 2);
}

/* Overlong, overflowing and truncated varints are refused. */
CS_TEST(uvarint_rejects_noncanonical)
{
    struct cs_reader r;
    uint64_t v = 99;
    const uint8_t overlong[] = {0x80, 0x00};
    cs_reader_init(&r, overlong, sizeof overlong);
    CS_CHECK_RC(cs_get_uvarint(&r, &v), CS_EDECODE);
    CS_CHECK_EQ(v, 99);

    const uint8_t overflow[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02};
    cs_reader_init(&r, overflow, sizeof overflow);
    CS_CHECK_RC(cs_get_uvarint(&r, &v), CS_EDECODE);

    const uint8_t eleven[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00};
    cs_reader_init(&r, eleven, sizeof eleven);
    CS_CHECK_RC(cs_get_uvarint(&r, &v), CS_EDECODE);

    const uint8_t truncated[] = {0x80, 0x80};
    cs_reader_init(&r, truncated, sizeof truncated);
    CS_CHECK_RC(cs_get_uvarint(&r, &v), CS_EDECODE);
    CS_CHECK_EQ(r.pos, 0);

    const uint8_t zero[] = {0x00};
    cs_reader_init(&r, zero, sizeof zero);
    CS_CHECK_OK(cs_get_uvarint(&r, &v));
    CS_CHECK_EQ(v, 0);
}

/* Fixed-width integers are little-endian on the wire. */
CS_TEST(fixed_little_endian)
{
    struct cs_buf b;
    cs_buf_init(&b, 64);
    cs_put_u16le(&b, 0x0102);
    cs_put_u32le(&b, 0x03040506);
    cs_put_u64le(&b, 0x0708090a0b0c0d0eull);
    CS_CHECK_OK(cs_buf_error(&b));
    const uint8_t want[] = {0x02, 0x01, 0x06, 0x05, 0x04, 0x03, 0x0e,
                            0x0d, 0x0c, 0x0b, 0x0a, 0x09, 0x08, 0x07};
    CS_CHECK_EQ(b.len, sizeof want);
    CS_CHECK_MEM(b.data, want, sizeof want);
    struct cs_reader r;
    cs_reader_init(&r, b.data, b.len);
    uint16_t a;
    uint32_t c;
    uint64_t d;
    CS_CHECK_OK(cs_get_u16le(&r, &a));
    CS_CHECK_OK(cs_get_u32le(&r, &c));
    CS_CHECK_OK(cs_get_u64le(&r, &d));
    CS_CHECK_EQ(a, 0x0102);
    CS_CHECK_EQ(c, 0x03040506);
    CS_CHECK_EQ_U64(d, 0x0708090a0b0c0d0eull);
    CS_CHECK_OK(cs_reader_end(&r));
    CS_CHECK_RC(cs_get_u8(&r, (uint8_t *)&a), CS_EDECODE);
    cs_buf_free(&b);
}

/* A byte string at its limit decodes; one byte past the limit is CS_ETOOBIG. */
CS_TEST(bytes_limit)
{
    enum { LIMIT = 300 };
    uint8_t payload[LIMIT + 1];
    for (size_t i = 0; i < sizeof payload; i++) {
        payload[i] = (uint8_t)i;
    }
    struct cs_buf b;
    cs_buf_init(&b, 1024);
    CS_CHECK_OK(cs_put_bytes(&b, payload, LIMIT));
    CS_CHECK_OK(cs_put_bytes(&b, payload, LIMIT + 1));
    struct cs_reader r;
    cs_reader_init(&r, b.data, b.len);
    const uint8_t *p;
    size_t len;
    CS_CHECK_OK(cs_get_bytes(&r, &p, &len, LIMIT));
    CS_CHECK_EQ(len, LIMIT);
    CS_CHECK_MEM(p, payload, LIMIT);
    CS_CHECK_RC(cs_get_bytes(&r, &p, &len, LIMIT), CS_ETOOBIG);
    /* Sticky: the next read fails the same way. */
    CS_CHECK_RC(cs_get_u8(&r, (uint8_t *)&len), CS_ETOOBIG);
    cs_buf_free(&b);
}

/* A declared length longer than the remaining bytes is CS_EDECODE, not a read past the end. */
CS_TEST(bytes_length_past_end)
{
    const uint8_t lie[] = {0x05, 'a', 'b'};
    struct cs_reader r;
    cs_reader_init(&r, lie, sizeof lie);
    const uint8_t *p = NULL;
    size_t len = 0;
    CS_CHECK_RC(cs_get_bytes(&r, &p, &len, 100), CS_EDECODE);
    CS_CHECK(p == NULL);
}

/* A count is checked against its maximum and against the bytes that could hold it. */
CS_TEST(count_limits)
{
    struct cs_buf b;
    cs_buf_init(&b, 64);
    cs_put_uvarint(&b, 10);
    for (int i = 0; i < 10; i++) {
        cs_put_u8(&b, (uint8_t)i);
    }
    struct cs_reader r;
    uint64_t n;
    cs_reader_init(&r, b.data, b.len);
    CS_CHECK_OK(cs_get_count(&r, &n, 10, 1));
    CS_CHECK_EQ(n, 10);
    cs_reader_init(&r, b.data, b.len);
    CS_CHECK_RC(cs_get_count(&r, &n, 9, 1), CS_ETOOBIG);
    cs_reader_init(&r, b.data, b.len);
    CS_CHECK_RC(cs_get_count(&r, &n, 10, 2), CS_EDECODE);
    cs_buf_free(&b);
}

/* A growable buffer stops exactly at bytes_max and appends nothing on failure. */
CS_TEST(buf_limit)
{
    struct cs_buf b;
    cs_buf_init(&b, 8);
    CS_CHECK_OK(cs_put_u64le(&b, 1));
    CS_CHECK_EQ(b.len, 8);
    CS_CHECK_RC(cs_put_u8(&b, 1), CS_ETOOBIG);
    CS_CHECK_EQ(b.len, 8);
    CS_CHECK_RC(cs_put_u8(&b, 1), CS_ETOOBIG);
    cs_buf_reset(&b);
    CS_CHECK_OK(cs_put_u8(&b, 1));
    cs_buf_free(&b);

    /* cs_put_bytes either writes the whole record or nothing. */
    cs_buf_init(&b, 4);
    CS_CHECK_RC(cs_put_bytes(&b, "abcd", 4), CS_ETOOBIG);
    CS_CHECK_EQ(b.len, 0);
    cs_buf_free(&b);
}

/* A fixed buffer over caller memory never grows and reports CS_ENOSPACE. */
CS_TEST(buf_fixed)
{
    uint8_t mem[3];
    struct cs_buf b;
    cs_buf_init_fixed(&b, mem, sizeof mem);
    CS_CHECK_OK(cs_put_u16le(&b, 7));
    CS_CHECK_RC(cs_put_u16le(&b, 7), CS_ENOSPACE);
    CS_CHECK(b.data == mem);
    cs_buf_free(&b);
    CS_CHECK(b.data == mem);
}

/* CRC-32C matches the standard check value and composes across chunks. */
CS_TEST(crc32c_check_value)
{
    CS_CHECK_EQ_U64(cs_crc32c(0, "123456789", 9), 0xE3069283u);
    uint32_t part = cs_crc32c(0, "1234", 4);
    CS_CHECK_EQ_U64(cs_crc32c(part, "56789", 5), 0xE3069283u);
    CS_CHECK_EQ_U64(cs_crc32c(0, "", 0), 0);
}

/* Reference CRC-32C, bit by bit: the fast paths must agree with it on every length and split. */
static uint32_t crc32c_bitwise(uint32_t crc, const uint8_t *p, size_t len)
{
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++) {
            crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
    }
    return ~crc;
}

CS_TEST(crc32c_matches_reference)
{
    uint8_t data[300];
    struct cs_rng *rng = cs_test_rng();
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (uint8_t)cs_rng_u64(rng);
    }
    for (size_t len = 0; len <= sizeof data; len += 7) {
        uint32_t want = crc32c_bitwise(0, data, len);
        CS_CHECK_EQ_U64(cs_crc32c(0, data, len), want);
        size_t split = len / 3;
        CS_CHECK_EQ_U64(cs_crc32c(cs_crc32c(0, data, split), data + split, len - split), want);
        /* Unaligned starts take the byte tail and the 8-byte body in other proportions. */
        if (len > 1)
            CS_CHECK_EQ_U64(cs_crc32c(0, data + 1, len - 1), crc32c_bitwise(0, data + 1, len - 1));
    }
}

/* Every code has a distinct message and name; unknown codes are handled. */
CS_TEST(error_table)
{
    for (int code = 0; code >= CS_ERROR_MIN; code--) {
        CS_CHECK(strcmp(cs_strerror(code), "unknown error") != 0);
        CS_CHECK(strncmp(cs_errname(code), "CS_", 3) == 0);
        for (int other = code - 1; other >= CS_ERROR_MIN; other--) {
            CS_CHECK(strcmp(cs_strerror(code), cs_strerror(other)) != 0);
        }
    }
    CS_CHECK_STR(cs_strerror(CS_ERROR_MIN - 1), "unknown error");
    CS_CHECK_STR(cs_errname(CS_EDECODE), "CS_EDECODE");
}

/* Random bytes: decoding never fails any other way than CS_EDECODE/CS_ETOOBIG. */
CS_TEST(random_bytes_property)
{
    uint64_t seeds = cs_test_seeds(200);
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        uint8_t bytes[32];
        size_t n = (size_t)cs_rng_below(rng, sizeof bytes + 1);
        for (size_t i = 0; i < n; i++) {
            bytes[i] = (uint8_t)cs_rng_u64(rng);
        }
        struct cs_reader r;
        cs_reader_init(&r, bytes, n);
        int rc = 0;
        while (rc == 0 && cs_reader_remaining(&r) > 0) {
            const uint8_t *p;
            size_t len;
            rc = cs_get_bytes(&r, &p, &len, 8);
            if (rc == 0) CS_CHECK(len <= 8 && p >= bytes && p + len <= bytes + n);
        }
        CS_CHECK(rc == 0 || rc == CS_EDECODE || rc == CS_ETOOBIG);
        CS_CHECK(r.pos <= n);
    }
}

CS_TEST_MAIN(CS_CASE(uvarint_boundaries), CS_CASE(svarint_extremes),
             CS_CASE(uvarint_rejects_noncanonical), CS_CASE(fixed_little_endian),
             CS_CASE(bytes_limit), CS_CASE(bytes_length_past_end), CS_CASE(count_limits),
             CS_CASE(buf_limit), CS_CASE(buf_fixed), CS_CASE(crc32c_check_value),
             CS_CASE(crc32c_matches_reference), CS_CASE(error_table),
             CS_CASE(random_bytes_property))
