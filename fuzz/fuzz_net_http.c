/*
 * fuzz_net_http.c: the HTTP/1.1 request parser on arbitrary bytes.
 *
 * The first byte picks the limits (defaults or small) and a split seed; the
 * rest is the client's stream, parsed in large reads, byte by byte and in
 * random reads: the requests taken, the final error, its status and message
 * must not depend on the split. Every request must respect the limits and
 * its path start with '/'; every error must carry one of the documented
 * statuses.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/http.h"
#include "consist/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    uint64_t hash;
    size_t requests;
    int rc, status;
    char errmsg[CS_HTTP_ERRMSG_BYTES_MAX];
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t hash_request(uint64_t h, const struct cs_http_limits *l,
                             const struct cs_http_request *r)
{
    CS_ASSERT(r->method_len >= 1 && r->method_len <= CS_HTTP_METHOD_BYTES_MAX);
    CS_ASSERT(r->path_len >= 1 && r->path[0] == '/');
    CS_ASSERT(r->params_len <= l->query_params_max);
    CS_ASSERT(r->headers_len <= l->headers_max);
    CS_ASSERT(r->body_len <= l->body_bytes_max);
    CS_ASSERT(r->version_minor == 0 || r->version_minor == 1);
    h = fnv(h, r->method, r->method_len);
    h = fnv(h, &r->path_len, sizeof r->path_len);
    h = fnv(h, r->path, r->path_len);
    for (size_t i = 0; i < r->params_len; i++) {
        h = fnv(h, &r->params[i].name_len, sizeof(size_t));
        h = fnv(h, r->params[i].name, r->params[i].name_len);
        h = fnv(h, &r->params[i].value_len, sizeof(size_t));
        h = fnv(h, r->params[i].value, r->params[i].value_len);
    }
    for (size_t i = 0; i < r->headers_len; i++) {
        CS_ASSERT(r->headers[i].name_len >= 1);
        h = fnv(h, r->headers[i].name, r->headers[i].name_len);
        h = fnv(h, r->headers[i].value, r->headers[i].value_len);
    }
    h = fnv(h, &r->body_len, sizeof r->body_len);
    h = fnv(h, r->body, r->body_len);
    bool flags[2] = {r->keep_alive, r->expect_continue};
    return fnv(h, flags, sizeof flags);
}

static struct outcome run(const struct cs_http_limits *l, const uint8_t *in, size_t len, int mode,
                          struct cs_rng *rng)
{
    struct outcome o = {.hash = 0xcbf29ce484222325ull};
    struct cs_http_parser *p;
    CS_ASSERT(cs_http_parser_new(l, &p) == 0);
    size_t at = 0;
    for (;;) {
        struct cs_http_request r;
        o.rc = cs_http_parser_next(p, &r);
        if (o.rc) break;
        if (r.method_len > 0) {
            o.hash = hash_request(o.hash, l, &r);
            o.requests++;
            continue;
        }
        if (at == len) break;
        size_t want = mode == 0 ? len - at : mode == 1 ? 1 : 1 + cs_rng_below(rng, len - at);
        uint8_t *space;
        size_t space_len;
        o.rc = cs_http_parser_reserve(p, want, &space, &space_len);
        if (o.rc) break;
        memcpy(space, in + at, space_len);
        cs_http_parser_commit(p, space_len);
        at += space_len;
        CS_ASSERT(cs_http_parser_memory(p) <=
                  8192 + 2 * (16 * 1024 + at) + l->headers_max * sizeof(struct cs_http_header) +
                      l->query_params_max * sizeof(struct cs_http_param));
    }
    o.status = cs_http_parser_status(p);
    if (o.rc == 0) {
        CS_ASSERT(o.status == 0);
    } else {
        static const int statuses[] = {400, 411, 413, 414, 431, 501, 505};
        bool known = false;
        for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
            known |= o.status == statuses[i];
        }
        CS_ASSERT(known);
        bool too_big = o.status == 413 || o.status == 414 || o.status == 431;
        CS_ASSERT(o.rc == (too_big ? CS_ETOOBIG : CS_EPARSE));
    }
    strcpy(o.errmsg, cs_http_parser_errmsg(p));
    cs_http_parser_free(p);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    struct cs_http_limits l;
    cs_http_limits_default(&l);
    if (data[0] & 1) {
        l = (struct cs_http_limits){.request_line_bytes_max = 40,
                                    .head_bytes_max = 96,
                                    .headers_max = 3,
                                    .body_bytes_max = 8,
                                    .query_params_max = 2};
    }
    CS_ASSERT(cs_http_limits_check(&l) == 0);
    struct cs_rng rng;
    cs_rng_init(&rng, data[0]);
    struct outcome whole = run(&l, data + 1, size - 1, 0, &rng);
    struct outcome bytes = run(&l, data + 1, size - 1, 1, &rng);
    struct outcome random = run(&l, data + 1, size - 1, 2, &rng);
    CS_ASSERT(whole.hash == bytes.hash && whole.hash == random.hash);
    CS_ASSERT(whole.requests == bytes.requests && whole.requests == random.requests);
    CS_ASSERT(whole.rc == bytes.rc && whole.rc == random.rc);
    CS_ASSERT(whole.status == bytes.status && whole.status == random.status);
    CS_ASSERT(strcmp(whole.errmsg, bytes.errmsg) == 0 && strcmp(whole.errmsg, random.errmsg) == 0);
    return 0;
}
