/*
 * net_http.c: seeded HTTP request round trips, split at random.
 *
 * Method: per seed, generate a pipeline of requests with random methods,
 * keys of arbitrary bytes (percent-encoded into the path by an encoder
 * written here), query parameters of arbitrary bytes (percent-encoded, with
 * '+' for space), random extra headers in random case and random bodies;
 * feed the bytes in random reads and check every field comes back decoded
 * exactly. A planted bug (a wrong expected key) must make the check fail.
 * CS_SEEDS sets the number of seeds (default 200), CS_SEED the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/http.h"
#include "testlib.h"

#define REQUESTS_MAX    12
#define PARAMS_MAX      4
#define FIELD_BYTES_MAX 40

struct field {
    size_t len;
    uint8_t bytes[FIELD_BYTES_MAX];
};

struct request {
    const char *method;
    struct field key;
    size_t params;
    struct field name[PARAMS_MAX], value[PARAMS_MAX];
    size_t body_len;
    uint8_t body[300];
    bool close;
};

static void random_field(struct cs_rng *rng, struct field *f, bool nonempty)
{
    f->len = (size_t)cs_rng_below(rng, FIELD_BYTES_MAX - 1) + (nonempty ? 1 : 0);
    for (size_t i = 0; i < f->len; i++) {
        /* Mostly text (space and '+' included), sometimes any byte. */
        f->bytes[i] = cs_rng_chance(rng, 1, 4) ? (uint8_t)cs_rng_u64(rng)
                                               : (uint8_t)cs_rng_range(rng, 0x20, 0x7e);
    }
}

/* Percent-encode: unreserved bytes as they are, space as '+' in a query, the rest %XX. */
static void put_encoded(struct cs_buf *out, const struct field *f, bool query)
{
    for (size_t i = 0; i < f->len; i++) {
        uint8_t c = f->bytes[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !query);
        if (plain) {
            cs_put_u8(out, c);
        } else if (c == ' ' && query) {
            cs_put_u8(out, '+');
        } else {
            char esc[4];
            snprintf(esc, sizeof esc, "%%%02X", c);
            cs_put_raw(out, esc, 3);
        }
    }
}

static void random_case(struct cs_rng *rng, char *s)
{
    for (; *s; s++) {
        if (*s >= 'a' && *s <= 'z' && cs_rng_chance(rng, 1, 2)) *s = (char)(*s - 32);
    }
}

static void encode_request(struct cs_rng *rng, struct cs_buf *out, const struct request *r)
{
    cs_put_raw(out, r->method, strlen(r->method));
    cs_put_raw(out, " /v1/kv/", 8);
    put_encoded(out, &r->key, false);
    for (size_t i = 0; i < r->params; i++) {
        cs_put_u8(out, i ? '&' : '?');
        put_encoded(out, &r->name[i], true);
        cs_put_u8(out, '=');
        put_encoded(out, &r->value[i], true);
    }
    char line[128];
    snprintf(line, sizeof line, " HTTP/1.1\r\nhost: localhost\r\n");
    cs_put_raw(out, line, strlen(line));
    char name[32] = "x-request-id";
    random_case(rng, name);
    snprintf(line, sizeof line, "%s: \t%llu  \r\n", name, (unsigned long long)cs_rng_u64(rng));
    cs_put_raw(out, line, strlen(line));
    if (r->close) cs_put_raw(out, "Connection: close\r\n", 19);
    char length[32] = "content-length";
    random_case(rng, length);
    snprintf(line, sizeof line, "%s: %zu\r\n\r\n", length, r->body_len);
    cs_put_raw(out, line, strlen(line));
    cs_put_raw(out, r->body, r->body_len);
}

static bool field_is(const uint8_t *p, size_t len, const struct field *f)
{
    return len == f->len && memcmp(p, f->bytes, len) == 0;
}

static bool request_matches(const struct cs_http_request *q, const struct request *r)
{
    bool ok =
        q->method_len == strlen(r->method) && memcmp(q->method, r->method, q->method_len) == 0;
    ok = ok && q->path_len == 7 + r->key.len && memcmp(q->path, "/v1/kv/", 7) == 0 &&
         memcmp(q->path + 7, r->key.bytes, r->key.len) == 0;
    ok = ok && q->params_len == r->params;
    for (size_t i = 0; ok && i < r->params; i++) {
        ok = field_is(q->params[i].name, q->params[i].name_len, &r->name[i]) &&
             field_is(q->params[i].value, q->params[i].value_len, &r->value[i]);
    }
    ok = ok && q->body_len == r->body_len && memcmp(q->body, r->body, r->body_len) == 0;
    ok = ok && q->keep_alive == !r->close && cs_http_request_header(q, "X-Request-Id") != NULL;
    return ok;
}

static bool pipeline_matches(struct cs_rng *rng, const struct cs_buf *in,
                             const struct request *reqs, size_t n)
{
    struct cs_http_parser *p;
    CS_CHECK_OK(cs_http_parser_new(NULL, &p));
    size_t at = 0, got = 0;
    bool ok = true;
    while (ok) {
        struct cs_http_request q;
        if (cs_http_parser_next(p, &q) != 0) {
            ok = false;
            break;
        }
        if (q.method_len) {
            ok = got < n && request_matches(&q, &reqs[got]);
            got++;
            continue;
        }
        if (at == in->len) break;
        size_t want = 1 + (size_t)cs_rng_below(rng, cs_rng_chance(rng, 1, 3) ? 16 : in->len - at);
        if (want > in->len - at) want = in->len - at;
        CS_CHECK_OK(cs_http_parser_feed(p, in->data + at, want));
        at += want;
    }
    cs_http_parser_free(p);
    return ok && got == n;
}

static size_t random_pipeline(struct cs_rng *rng, struct request *reqs)
{
    static const char *const methods[] = {"GET", "PUT", "DELETE", "POST", "HEAD"};
    size_t n = (size_t)cs_rng_range(rng, 1, REQUESTS_MAX);
    for (size_t i = 0; i < n; i++) {
        struct request *r = &reqs[i];
        r->method = methods[cs_rng_below(rng, 5)];
        random_field(rng, &r->key, false);
        r->params = (size_t)cs_rng_below(rng, PARAMS_MAX + 1);
        for (size_t k = 0; k < r->params; k++) {
            random_field(rng, &r->name[k], true);
            random_field(rng, &r->value[k], false);
        }
        r->body_len = cs_rng_chance(rng, 1, 2) ? 0 : (size_t)cs_rng_below(rng, sizeof r->body);
        for (size_t k = 0; k < r->body_len; k++)
            r->body[k] = (uint8_t)cs_rng_u64(rng);
        r->close = i + 1 == n && cs_rng_chance(rng, 1, 2);
    }
    return n;
}

CS_TEST(request_round_trip)
{
    static struct request reqs[REQUESTS_MAX];
    uint64_t seeds = cs_test_seeds(200);
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        size_t n = random_pipeline(rng, reqs);
        struct cs_buf b;
        cs_buf_init(&b, SIZE_MAX);
        for (size_t i = 0; i < n; i++)
            encode_request(rng, &b, &reqs[i]);
        CS_CHECK_OK(cs_buf_error(&b));
        CS_CHECK(pipeline_matches(rng, &b, reqs, n));
        cs_buf_free(&b);
    }
}

/* Planted: expecting a different last key byte must fail the comparison. */
CS_TEST(round_trip_check_catches_wrong_key)
{
    static struct request reqs[REQUESTS_MAX];
    cs_test_seed_set(cs_test_seed());
    struct cs_rng *rng = cs_test_rng();
    size_t n = random_pipeline(rng, reqs);
    struct request *last = &reqs[n - 1];
    if (last->key.len == 0) last->key.bytes[last->key.len++] = 'k';
    struct cs_buf b;
    cs_buf_init(&b, SIZE_MAX);
    for (size_t i = 0; i < n; i++)
        encode_request(rng, &b, &reqs[i]);
    CS_CHECK(pipeline_matches(rng, &b, reqs, n));
    last->key.bytes[last->key.len - 1] ^= 1;
    CS_CHECK(!pipeline_matches(rng, &b, reqs, n));
    cs_buf_free(&b);
}

CS_TEST_MAIN(CS_CASE(request_round_trip), CS_CASE(round_trip_check_catches_wrong_key))
