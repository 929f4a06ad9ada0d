/*
 * fuzz_net_frame.c: the peer frame decoder and hello decoder on arbitrary bytes.
 *
 * The first byte picks the payload limit (default or 64 bytes) and a split
 * seed; the rest is the peer's stream, decoded in large reads, byte by byte
 * and in random reads, which must yield the same frames and the same final
 * error. Each frame re-encodes to exactly the bytes it came from; each hello
 * payload that decodes re-encodes to exactly its bytes (the encoding is
 * canonical).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/frame.h"
#include "consist/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    uint64_t hash;
    size_t frames;
    int rc;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static void check_frame(const struct cs_frame *f, const uint8_t *wire, size_t payload_max)
{
    uint8_t header[CS_FRAME_HEADER_BYTES];
    CS_ASSERT(f->payload_len <= payload_max);
    CS_ASSERT(cs_frame_header_encode(header, f->type, f->group_id, f->payload, f->payload_len,
                                     payload_max) == 0);
    CS_ASSERT(memcmp(header, wire, CS_FRAME_HEADER_BYTES) == 0);
    CS_ASSERT(memcmp(f->payload, wire + CS_FRAME_HEADER_BYTES, f->payload_len) == 0);
    if (f->type != CS_FRAME_HELLO) return;
    struct cs_hello h;
    if (cs_hello_decode(f->payload, f->payload_len, &h) != 0) return;
    uint8_t mem[CS_HELLO_BYTES_MAX];
    struct cs_buf b;
    cs_buf_init_fixed(&b, mem, sizeof mem);
    CS_ASSERT(cs_hello_encode(&b, &h) == 0);
    CS_ASSERT(b.len == f->payload_len && memcmp(b.data, f->payload, b.len) == 0);
}

static struct outcome run(size_t payload_max, const uint8_t *in, size_t len, int mode,
                          struct cs_rng *rng)
{
    struct outcome o = {.hash = 0xcbf29ce484222325ull};
    struct cs_frame_decoder *d;
    CS_ASSERT(cs_frame_decoder_new(payload_max, &d) == 0);
    size_t at = 0, taken = 0;
    for (;;) {
        struct cs_frame f;
        o.rc = cs_frame_decoder_next(d, &f);
        if (o.rc) break;
        if (f.type) {
            check_frame(&f, in + taken, payload_max);
            taken += CS_FRAME_HEADER_BYTES + f.payload_len;
            o.hash = fnv(o.hash, &f.group_id, sizeof f.group_id);
            o.hash = fnv(o.hash, f.payload, f.payload_len);
            o.frames++;
            continue;
        }
        if (at == len) break;
        size_t want = mode == 0 ? len - at : mode == 1 ? 1 : 1 + cs_rng_below(rng, len - at);
        uint8_t *space;
        size_t space_len;
        o.rc = cs_frame_decoder_reserve(d, want, &space, &space_len);
        if (o.rc) break;
        memcpy(space, in + at, space_len);
        cs_frame_decoder_commit(d, space_len);
        at += space_len;
        CS_ASSERT(at - taken <= CS_FRAME_HEADER_BYTES + payload_max);
        CS_ASSERT(cs_frame_decoder_memory(d) <= 1024 + 2 * (16 * 1024 + at));
    }
    CS_ASSERT(o.rc == 0 || o.rc == CS_ECORRUPT || o.rc == CS_EDECODE || o.rc == CS_ETOOBIG);
    cs_frame_decoder_free(d);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    size_t payload_max = data[0] & 1 ? 64 : CS_FRAME_PAYLOAD_BYTES_MAX_DEFAULT;
    struct cs_rng rng;
    cs_rng_init(&rng, data[0]);
    struct outcome whole = run(payload_max, data + 1, size - 1, 0, &rng);
    struct outcome bytes = run(payload_max, data + 1, size - 1, 1, &rng);
    struct outcome random = run(payload_max, data + 1, size - 1, 2, &rng);
    CS_ASSERT(whole.hash == bytes.hash && whole.hash == random.hash);
    CS_ASSERT(whole.frames == bytes.frames && whole.frames == random.frames);
    CS_ASSERT(whole.rc == bytes.rc && whole.rc == random.rc);
    /* The hello decoder alone, on the raw stream. */
    struct cs_hello h;
    if (cs_hello_decode(data + 1, size - 1, &h) == 0) {
        CS_ASSERT(h.node_id != 0 && h.version_min <= h.version_max);
        CS_ASSERT(h.cluster_id_len >= 1 && h.cluster_id_len <= CS_HELLO_CLUSTER_ID_BYTES_MAX);
    }
    return 0;
}
