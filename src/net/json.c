/*
 * net/json.c: a bounded JSON writer for HTTP response bodies (see consist/http.h).
 *
 * The one idea: every body is valid JSON whatever the bytes. Strings are
 * escaped per RFC 8259 and checked as UTF-8 on the way out (keys in this
 * store are arbitrary bytes); a byte that does not start a well-formed
 * sequence becomes U+FFFD. Nesting is bounded by CS_JSON_DEPTH_MAX and
 * tracked in two bit sets, so the writer needs no allocation of its own.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "consist/http.h"

_Static_assert(CS_JSON_DEPTH_MAX <= 64, "one bit per level in a uint64_t");

void cs_json_init(struct cs_json *j, struct cs_buf *out)
{
    CS_ASSERT(out != NULL);
    *j = (struct cs_json){.out = out};
}

static bool json_in_object(const struct cs_json *j)
{
    return j->depth > 0 && (j->in_object >> (j->depth - 1) & 1);
}

/* Before any value: the comma, and check a key was given inside an object. */
static void json_before_value(struct cs_json *j)
{
    if (json_in_object(j)) {
        CS_ASSERT(j->key_pending);
        j->key_pending = false;
        return;
    }
    CS_ASSERT(!j->key_pending);
    if (j->depth == 0) {
        CS_ASSERT(!j->top_started); /* a body is one JSON value */
        j->top_started = true;
    }
    if (j->depth > 0) {
        uint64_t bit = (uint64_t)1 << (j->depth - 1);
        if (j->has_items & bit) cs_put_u8(j->out, ',');
        j->has_items |= bit;
    }
}

static int json_result(const struct cs_json *j)
{
    return j->err ? j->err : cs_buf_error(j->out);
}

static int json_begin(struct cs_json *j, bool object)
{
    if (j->err) return j->err;
    if (j->depth == CS_JSON_DEPTH_MAX) {
        j->err = CS_ETOOBIG;
        return j->err;
    }
    json_before_value(j);
    cs_put_u8(j->out, object ? '{' : '[');
    uint64_t bit = (uint64_t)1 << j->depth;
    j->in_object = object ? j->in_object | bit : j->in_object & ~bit;
    j->has_items &= ~bit;
    j->depth++;
    return json_result(j);
}

static int json_end(struct cs_json *j, bool object)
{
    if (j->err) return j->err;
    CS_ASSERT(j->depth > 0);
    CS_ASSERT(json_in_object(j) == object);
    CS_ASSERT(!j->key_pending);
    j->depth--;
    cs_put_u8(j->out, object ? '}' : ']');
    return json_result(j);
}

int cs_json_object_begin(struct cs_json *j)
{
    return json_begin(j, true);
}

int cs_json_object_end(struct cs_json *j)
{
    return json_end(j, true);
}

int cs_json_array_begin(struct cs_json *j)
{
    return json_begin(j, false);
}

int cs_json_array_end(struct cs_json *j)
{
    return json_end(j, false);
}

/* Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629), or 0. */
static size_t json_utf8_len(const uint8_t *s, size_t len)
{
    uint8_t c = s[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0; /* overlong */
        if (c == 0xed) hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90; /* overlong */
        if (c == 0xf4) hi = 0x8f; /* past U+10FFFF */
    } else {
        return 0;
    }
    if (len < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    }
    return n;
}

static void json_put_string(struct cs_buf *out, const uint8_t *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    cs_put_u8(out, '"');
    size_t run = 0; /* bytes s[i - run, i) to copy as they are */
    for (size_t i = 0; i < len;) {
        uint8_t c = s[i];
        size_t n = c >= 0x20 && c != '"' && c != '\\' && c < 0x7f ? 1 : 0;
        if (c >= 0x80) n = json_utf8_len(s + i, len - i);
        if (n > 0) {
            run += n;
            i += n;
            continue;
        }
        cs_put_raw(out, s + i - run, run);
        run = 0;
        char esc[6] = {'\\', 0};
        size_t esc_len = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            if (c >= 0x80) {
                memcpy(esc, "\\ufffd", 6);
            } else {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
            }
            esc_len = 6;
            break;
        }
        cs_put_raw(out, esc, esc_len);
        i++;
    }
    cs_put_raw(out, s + len - run, run);
    cs_put_u8(out, '"');
}

int cs_json_key(struct cs_json *j, const char *key, size_t len)
{
    if (j->err) return j->err;
    CS_ASSERT(json_in_object(j));
    CS_ASSERT(!j->key_pending);
    uint64_t bit = (uint64_t)1 << (j->depth - 1);
    if (j->has_items & bit) cs_put_u8(j->out, ',');
    j->has_items |= bit;
    json_put_string(j->out, (const uint8_t *)key, len);
    cs_put_u8(j->out, ':');
    j->key_pending = true;
    return json_result(j);
}

int cs_json_string(struct cs_json *j, const void *bytes, size_t len)
{
    if (j->err) return j->err;
    json_before_value(j);
    json_put_string(j->out, bytes, len);
    return json_result(j);
}

static int json_put_text(struct cs_json *j, const char *text, size_t len)
{
    if (j->err) return j->err;
    json_before_value(j);
    cs_put_raw(j->out, text, len);
    return json_result(j);
}

int cs_json_int(struct cs_json *j, int64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", (long long)v);
    return json_put_text(j, text, (size_t)n);
}

int cs_json_uint(struct cs_json *j, uint64_t v)
{
    char text[24];
    int n = snprintf(text, sizeof text, "%llu", (unsigned long long)v);
    return json_put_text(j, text, (size_t)n);
}

int cs_json_double(struct cs_json *j, double v)
{
    if (!isfinite(v)) return json_put_text(j, "null", 4);
    char text[32];
    int n = snprintf(text, sizeof text, "%.17g", v);
    CS_ASSERT(n > 0 && (size_t)n < sizeof text);
    return json_put_text(j, text, (size_t)n);
}

int cs_json_bool(struct cs_json *j, bool v)
{
    return v ? json_put_text(j, "true", 4) : json_put_text(j, "false", 5);
}

int cs_json_null(struct cs_json *j)
{
    return json_put_text(j, "null", 4);
}

int cs_json_finish(const struct cs_json *j)
{
    int rc = json_result(j);
    if (rc) return rc;
    if (j->depth != 0 || j->key_pending || !j->top_started) return CS_EINVAL;
    return 0;
}
