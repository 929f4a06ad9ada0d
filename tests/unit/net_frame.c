/*
 * net_frame.c: the peer frame codec and the hello handshake.
 *
 * Method: exact header bytes for a known frame; decode in every split; every
 * single-bit flip of a frame caught by a checksum; each limit at its value
 * and one past it; garbage costs no more than a header of buffering; hello
 * round trips and each refusal of cs_hello_check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/frame.h"
#include "testlib.h"

#define MAX 1000

static size_t encode(uint8_t *out, uint8_t type, uint64_t group, const char *payload)
{
    struct cs_buf b;
    cs_buf_init_fixed(&b, out, 2048);
    CS_CHECK_OK(cs_frame_encode(&b, type, group, payload, strlen(payload), MAX));
    return b.len;
}

/* Feed bytes in chunks; collect "type/group/payload;" text. Returns the decoder's rc. */
static int decode_chunked(const uint8_t *bytes, size_t len, size_t chunk, char *text, size_t cap)
{
    struct cs_frame_decoder *d;
    CS_CHECK_OK(cs_frame_decoder_new(MAX, &d));
    size_t at = 0, t = 0;
    text[0] = '\0';
    int rc = 0;
    for (;;) {
        struct cs_frame f;
        rc = cs_frame_decoder_next(d, &f);
        if (rc) break;
        if (f.type) {
            t += (size_t)snprintf(text + t, cap - t, "%u/%llu/%.*s;", f.type,
                                  (unsigned long long)f.group_id, (int)f.payload_len,
                                  (const char *)f.payload);
            CS_CHECK(t < cap);
            continue;
        }
        if (at == len) break;
        size_t n = len - at < chunk ? len - at : chunk;
        rc = cs_frame_decoder_feed(d, bytes + at, n);
        if (rc) break;
        at += n;
    }
    cs_frame_decoder_free(d);
    return rc;
}

CS_TEST(header_layout)
{
    uint8_t f[64];
    size_t len = encode(f, CS_FRAME_RAFT, 0x0102030405060708ull, "abc");
    CS_CHECK_EQ(len, CS_FRAME_HEADER_BYTES + 3);
    static const uint8_t fields[] = {3, 0, 0, 0, CS_FRAME_RAFT, 0, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1};
    CS_CHECK_MEM(f + 8, fields, sizeof fields);
    uint32_t payload_crc = cs_crc32c(0, "abc", 3);
    CS_CHECK_EQ(f[4] | f[5] << 8 | f[6] << 16 | (uint32_t)f[7] << 24, payload_crc);
    uint32_t header_crc = cs_crc32c(0, f + 4, 20);
    CS_CHECK_EQ(f[0] | f[1] << 8 | f[2] << 16 | (uint32_t)f[3] << 24, header_crc);
    CS_CHECK_MEM(f + 24, "abc", 3);
}

CS_TEST(decode_any_split)
{
    uint8_t stream[512];
    size_t len = encode(stream, CS_FRAME_HELLO, 0, "hi");
    len += encode(stream + len, CS_FRAME_RAFT, 7, "");
    len += encode(stream + len, CS_FRAME_RAFT, UINT64_MAX, "payload");
    const char *want = "1/0/hi;2/7/;2/18446744073709551615/payload;";
    for (size_t chunk = 1; chunk <= len; chunk++) {
        char text[256];
        CS_CHECK_OK(decode_chunked(stream, len, chunk, text, sizeof text));
        CS_CHECK_STR(text, want);
    }
}

/* CRC32C catches every single-bit error: flip each bit of a frame in turn. */
CS_TEST(every_bit_flip_is_caught)
{
    uint8_t f[64];
    size_t len = encode(f, CS_FRAME_RAFT, 42, "some payload");
    for (size_t bit = 0; bit < len * 8; bit++) {
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        char text[128];
        int rc = decode_chunked(f, len, len, text, sizeof text);
        /* A flipped length may also leave the decoder waiting, or exceed the limit:
         * never may a frame come out. */
        CS_CHECK_MSG(rc == CS_ECORRUPT, "bit %zu: rc %d text %s", bit, rc, text);
        CS_CHECK_STR(text, "");
        f[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
}

/* A header with a valid checksum but bad fields: rewrite and re-seal it. */
static void reseal(uint8_t *f)
{
    uint32_t crc = cs_crc32c(0, f + 4, 20);
    for (int i = 0; i < 4; i++)
        f[i] = (uint8_t)(crc >> (8 * i));
}

CS_TEST(bad_fields)
{
    uint8_t f[64];
    char text[128];
    size_t len = encode(f, CS_FRAME_RAFT, 1, "x");
    f[12] = 0;
    reseal(f);
    CS_CHECK_RC(decode_chunked(f, len, 1, text, sizeof text), CS_EDECODE);
    len = encode(f, CS_FRAME_RAFT, 1, "x");
    f[13] = 1;
    reseal(f);
    CS_CHECK_RC(decode_chunked(f, len, 1, text, sizeof text), CS_EDECODE);
    len = encode(f, CS_FRAME_RAFT, 1, "x");
    f[15] = 0x80;
    reseal(f);
    CS_CHECK_RC(decode_chunked(f, len, 1, text, sizeof text), CS_EDECODE);
    uint8_t h[CS_FRAME_HEADER_BYTES];
    CS_CHECK_RC(cs_frame_header_encode(h, 0, 0, "", 0, MAX), CS_EINVAL);
}

CS_TEST(payload_limit)
{
    static uint8_t payload[MAX + 1];
    static uint8_t f[CS_FRAME_HEADER_BYTES + MAX + 1];
    memset(payload, 'p', sizeof payload);
    uint8_t h[CS_FRAME_HEADER_BYTES];
    /* Encoding: at the limit fine, one past refused. */
    CS_CHECK_OK(cs_frame_header_encode(h, CS_FRAME_RAFT, 1, payload, MAX, MAX));
    CS_CHECK_RC(cs_frame_header_encode(h, CS_FRAME_RAFT, 1, payload, MAX + 1, MAX), CS_ETOOBIG);
    /* Decoding: a frame of MAX decodes; a header claiming MAX + 1 is refused at once,
     * before its payload is waited for. */
    struct cs_frame_decoder *d;
    CS_CHECK_OK(cs_frame_decoder_new(MAX, &d));
    CS_CHECK_OK(cs_frame_header_encode(f, CS_FRAME_RAFT, 1, payload, MAX, MAX));
    memcpy(f + CS_FRAME_HEADER_BYTES, payload, MAX);
    CS_CHECK_OK(cs_frame_decoder_feed(d, f, CS_FRAME_HEADER_BYTES + MAX));
    struct cs_frame fr;
    CS_CHECK_OK(cs_frame_decoder_next(d, &fr));
    CS_CHECK_EQ(fr.payload_len, MAX);
    CS_CHECK_OK(cs_frame_header_encode(f, CS_FRAME_RAFT, 1, payload, MAX + 1, MAX + 1));
    CS_CHECK_OK(cs_frame_decoder_feed(d, f, CS_FRAME_HEADER_BYTES));
    CS_CHECK_RC(cs_frame_decoder_next(d, &fr), CS_ETOOBIG);
    CS_CHECK_STR(cs_frame_decoder_errmsg(d), "frame payload of 1001 bytes, at most 1000");
    CS_CHECK_RC(cs_frame_decoder_next(d, &fr), CS_ETOOBIG); /* sticky */
    cs_frame_decoder_free(d);
    /* The decoder's own bounds. */
    CS_CHECK_RC(cs_frame_decoder_new(0, &d), CS_EINVAL);
    CS_CHECK_RC(cs_frame_decoder_new(CS_FRAME_PAYLOAD_BYTES_CEILING + 1u, &d), CS_EINVAL);
    CS_CHECK_OK(cs_frame_decoder_new(CS_FRAME_PAYLOAD_BYTES_CEILING, &d));
    cs_frame_decoder_free(d);
}

CS_TEST(buffer_limit)
{
    struct cs_frame_decoder *d;
    CS_CHECK_OK(cs_frame_decoder_new(MAX, &d));
    static uint8_t junk[CS_FRAME_HEADER_BYTES + MAX + 1];
    CS_CHECK_OK(cs_frame_decoder_feed(d, junk, CS_FRAME_HEADER_BYTES + MAX));
    CS_CHECK_RC(cs_frame_decoder_feed(d, junk, 1), CS_ETOOBIG);
    cs_frame_decoder_free(d);
}

/* An HTTP client on the peer port is refused after 24 bytes, memory small. */
CS_TEST(garbage_is_refused_early)
{
    struct cs_frame_decoder *d;
    CS_CHECK_OK(cs_frame_decoder_new(CS_FRAME_PAYLOAD_BYTES_MAX_DEFAULT, &d));
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    CS_CHECK_OK(cs_frame_decoder_feed(d, http, 23));
    struct cs_frame f;
    CS_CHECK_OK(cs_frame_decoder_next(d, &f));
    CS_CHECK_EQ(f.type, 0);
    CS_CHECK_OK(cs_frame_decoder_feed(d, http + 23, 1));
    CS_CHECK_RC(cs_frame_decoder_next(d, &f), CS_ECORRUPT);
    CS_CHECK_MSG(cs_frame_decoder_memory(d) <= 32 * 1024, "memory %zu", cs_frame_decoder_memory(d));
    cs_frame_decoder_free(d);
}

static struct cs_hello hello(uint64_t node, const char *cluster, uint16_t lo, uint16_t hi)
{
    return (struct cs_hello){.version_min = lo,
                             .version_max = hi,
                             .node_id = node,
                             .cluster_id = (const uint8_t *)cluster,
                             .cluster_id_len = strlen(cluster)};
}

CS_TEST(hello_round_trip)
{
    struct cs_buf b;
    cs_buf_init(&b, CS_HELLO_BYTES_MAX);
    struct cs_hello h = hello(3, "prod-eu", 1, 4), got;
    CS_CHECK_OK(cs_hello_encode(&b, &h));
    CS_CHECK_OK(cs_hello_decode(b.data, b.len, &got));
    CS_CHECK_EQ(got.node_id, 3);
    CS_CHECK_EQ(got.version_min, 1);
    CS_CHECK_EQ(got.version_max, 4);
    CS_CHECK(got.cluster_id_len == 7 && memcmp(got.cluster_id, "prod-eu", 7) == 0);
    /* Every truncation and one trailing byte are refused. */
    for (size_t cut = 0; cut < b.len; cut++) {
        CS_CHECK_RC(cs_hello_decode(b.data, cut, &got), CS_EDECODE);
    }
    cs_put_u8(&b, 0);
    CS_CHECK_RC(cs_hello_decode(b.data, b.len, &got), CS_EDECODE);
    cs_buf_free(&b);
}

CS_TEST(hello_limits)
{
    char id[CS_HELLO_CLUSTER_ID_BYTES_MAX + 2];
    memset(id, 'c', sizeof id - 1);
    id[sizeof id - 1] = '\0';
    struct cs_buf b;
    cs_buf_init(&b, 256);
    /* 65 bytes: refused by the encoder; forced onto the wire, refused by the decoder. */
    struct cs_hello h = hello(1, id, 1, 1), got;
    CS_CHECK_RC(cs_hello_encode(&b, &h), CS_EINVAL);
    cs_put_u16le(&b, 1);
    cs_put_u16le(&b, 1);
    cs_put_u64le(&b, 1);
    cs_put_bytes(&b, id, CS_HELLO_CLUSTER_ID_BYTES_MAX + 1);
    CS_CHECK_RC(cs_hello_decode(b.data, b.len, &got), CS_ETOOBIG);
    cs_buf_reset(&b);
    id[CS_HELLO_CLUSTER_ID_BYTES_MAX] = '\0';
    h = hello(1, id, 1, 1);
    CS_CHECK_OK(cs_hello_encode(&b, &h));
    CS_CHECK_EQ(b.len, CS_HELLO_BYTES_MAX);
    CS_CHECK_OK(cs_hello_decode(b.data, b.len, &got));
    CS_CHECK_EQ(got.cluster_id_len, CS_HELLO_CLUSTER_ID_BYTES_MAX);
    /* Node 0, empty cluster, versions out of order. */
    cs_buf_reset(&b);
    h = hello(0, "c", 1, 1);
    CS_CHECK_RC(cs_hello_encode(&b, &h), CS_EINVAL);
    h = hello(1, "", 1, 1);
    CS_CHECK_RC(cs_hello_encode(&b, &h), CS_EINVAL);
    h = hello(1, "c", 2, 1);
    CS_CHECK_RC(cs_hello_encode(&b, &h), CS_EINVAL);
    cs_put_u16le(&b, 1);
    cs_put_u16le(&b, 1);
    cs_put_u64le(&b, 0);
    cs_put_bytes(&b, "c", 1);
    CS_CHECK_RC(cs_hello_decode(b.data, b.len, &got), CS_EDECODE);
    cs_buf_free(&b);
}

CS_TEST(hello_check)
{
    struct cs_hello me = hello(1, "prod", 1, 3);
    uint16_t v = 0;
    struct cs_hello peer = hello(2, "prod", 2, 5);
    CS_CHECK_OK(cs_hello_check(&me, &peer, &v));
    CS_CHECK_EQ(v, 3);
    peer = hello(2, "prod", 1, 1);
    CS_CHECK_OK(cs_hello_check(&me, &peer, &v));
    CS_CHECK_EQ(v, 1);
    peer = hello(2, "test", 1, 3);
    CS_CHECK_RC(cs_hello_check(&me, &peer, &v), CS_EDENIED);
    peer = hello(2, "pro", 1, 3);
    CS_CHECK_RC(cs_hello_check(&me, &peer, &v), CS_EDENIED);
    peer = hello(1, "prod", 1, 3);
    CS_CHECK_RC(cs_hello_check(&me, &peer, &v), CS_EDENIED);
    peer = hello(2, "prod", 4, 9);
    CS_CHECK_RC(cs_hello_check(&me, &peer, &v), CS_EVERSION);
}

CS_TEST_MAIN(CS_CASE(header_layout), CS_CASE(decode_any_split), CS_CASE(every_bit_flip_is_caught),
             CS_CASE(bad_fields), CS_CASE(payload_limit), CS_CASE(buffer_limit),
             CS_CASE(garbage_is_refused_early), CS_CASE(hello_round_trip), CS_CASE(hello_limits),
             CS_CASE(hello_check))
