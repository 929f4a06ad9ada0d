/*
 * net/resp_write.c: RESP2/RESP3 reply writer (see consist/resp.h).
 *
 * The one idea: a reply can never break the framing. Lengths are computed
 * from the bytes written, never passed by the caller separately, and the
 * line types (simple strings, errors) have CR and LF replaced, as Redis's
 * addReplyErrorFormat does. RESP3-only types degrade to their RESP2 shapes
 * (map to a flat array, boolean to an integer, double and verbatim to bulk
 * strings, null to $-1), so command code writes each reply once.
 *
 * Output goes to a struct cs_buf whose bytes_max is the client's output
 * limit; its error is sticky, so a command may write a whole reply and the
 * server check once.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "consist/resp.h"

/* Digits of a uint64 plus sign: 20 + 1. */
#define RESP_INT_CHARS_MAX 21
/* A header line: marker, number, CRLF. */
#define RESP_HEADER_CHARS_MAX (1 + RESP_INT_CHARS_MAX + 2)

void cs_resp_writer_init(struct cs_resp_writer *w, struct cs_buf *out, int proto)
{
    CS_ASSERT(out != NULL);
    CS_ASSERT(proto == 2 || proto == 3);
    *w = (struct cs_resp_writer){.out = out, .proto = proto};
}

/* Decimal digits of v, written backwards ending at end; returns the first char. */
static char *resp_format_u64(char *end, uint64_t v)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    return p;
}

/* Format <marker><n>\r\n into tmp; returns its first byte, *len its length. */
static const char *resp_format_header(char tmp[RESP_HEADER_CHARS_MAX], char marker, int64_t n,
                                      size_t *len)
{
    char *end = tmp + RESP_HEADER_CHARS_MAX - 2;
    uint64_t magnitude = n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n;
    char *p = resp_format_u64(end, magnitude);
    if (n < 0) *--p = '-';
    *--p = marker;
    end[0] = '\r';
    end[1] = '\n';
    *len = (size_t)(end + 2 - p);
    return p;
}

/* <marker><n>\r\n, the header of every length-prefixed type. */
static int resp_write_header(struct cs_resp_writer *w, char marker, int64_t n)
{
    char tmp[RESP_HEADER_CHARS_MAX];
    size_t len;
    const char *p = resp_format_header(tmp, marker, n, &len);
    return cs_put_raw(w->out, p, len);
}

/*
 * <marker><prefix_len + len>\r\n<prefix><bytes>\r\n in one reservation, so
 * a reply past the output limit leaves no partial reply behind.
 */
static int resp_write_blob(struct cs_resp_writer *w, char marker, const char *prefix,
                           size_t prefix_len, const void *bytes, size_t len)
{
    CS_ASSERT(len <= (size_t)INT64_MAX - prefix_len);
    char tmp[RESP_HEADER_CHARS_MAX];
    size_t header_len;
    const char *header = resp_format_header(tmp, marker, (int64_t)(prefix_len + len), &header_len);
    if (len > SIZE_MAX - header_len - prefix_len - 2) return CS_ETOOBIG;
    int rc = cs_buf_reserve(w->out, header_len + prefix_len + len + 2);
    if (rc) return rc;
    uint8_t *p = w->out->data + w->out->len;
    memcpy(p, header, header_len);
    p += header_len;
    if (prefix_len) memcpy(p, prefix, prefix_len);
    p += prefix_len;
    if (len) memcpy(p, bytes, len);
    memcpy(p + len, "\r\n", 2);
    w->out->len += header_len + prefix_len + len + 2;
    return 0;
}

static int resp_write_count(struct cs_resp_writer *w, char marker, size_t count)
{
    CS_ASSERT(count <= (size_t)INT64_MAX);
    return resp_write_header(w, marker, (int64_t)count);
}

/* A line type: marker, text with CR/LF replaced, CRLF. */
static int resp_write_line(struct cs_resp_writer *w, char marker, const char *text, size_t len)
{
    int rc = cs_buf_reserve(w->out, len + 3);
    if (rc) return rc;
    uint8_t *p = w->out->data + w->out->len;
    *p++ = (uint8_t)marker;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        p[i] = (uint8_t)(c == '\r' || c == '\n' ? ' ' : c);
    }
    p[len] = '\r';
    p[len + 1] = '\n';
    w->out->len += len + 3;
    return 0;
}

int cs_resp_write_simple(struct cs_resp_writer *w, const char *text, size_t len)
{
    return resp_write_line(w, '+', text, len);
}

int cs_resp_write_ok(struct cs_resp_writer *w)
{
    return cs_put_raw(w->out, "+OK\r\n", 5);
}

int cs_resp_write_error(struct cs_resp_writer *w, const char *code, const char *message)
{
    size_t code_len = strlen(code);
    CS_ASSERT(code_len > 0);
    for (size_t i = 0; i < code_len; i++)
        CS_ASSERT(code[i] >= 'A' && code[i] <= 'Z');
    char line[CS_RESP_ERROR_BYTES_MAX];
    int n = snprintf(line, sizeof line, "%s %s", code, message);
    CS_ASSERT(n >= 0);
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    return resp_write_line(w, '-', line, len);
}

int cs_resp_write_protocol_error(struct cs_resp_writer *w, const char *reason)
{
    char message[CS_RESP_ERROR_BYTES_MAX];
    snprintf(message, sizeof message, "protocol error: %s", reason);
    return cs_resp_write_error(w, "ERR", message);
}

int cs_resp_write_int(struct cs_resp_writer *w, int64_t n)
{
    return resp_write_header(w, ':', n);
}

int cs_resp_write_bulk(struct cs_resp_writer *w, const void *bytes, size_t len)
{
    return resp_write_blob(w, '$', "", 0, bytes, len);
}

int cs_resp_write_null(struct cs_resp_writer *w)
{
    if (w->proto == 3) return cs_put_raw(w->out, "_\r\n", 3);
    return cs_put_raw(w->out, "$-1\r\n", 5);
}

int cs_resp_write_null_array(struct cs_resp_writer *w)
{
    if (w->proto == 3) return cs_put_raw(w->out, "_\r\n", 3);
    return cs_put_raw(w->out, "*-1\r\n", 5);
}

int cs_resp_write_array(struct cs_resp_writer *w, size_t count)
{
    return resp_write_count(w, '*', count);
}

int cs_resp_write_map(struct cs_resp_writer *w, size_t pairs)
{
    if (w->proto == 3) return resp_write_count(w, '%', pairs);
    CS_ASSERT(pairs <= SIZE_MAX / 2);
    return resp_write_count(w, '*', pairs * 2);
}

int cs_resp_write_set(struct cs_resp_writer *w, size_t count)
{
    return resp_write_count(w, w->proto == 3 ? '~' : '*', count);
}

int cs_resp_write_double(struct cs_resp_writer *w, double d)
{
    char text[32];
    int n;
    if (isnan(d)) {
        n = snprintf(text, sizeof text, "nan");
    } else if (isinf(d)) {
        n = snprintf(text, sizeof text, d > 0 ? "inf" : "-inf");
    } else {
        n = snprintf(text, sizeof text, "%.17g", d);
    }
    CS_ASSERT(n > 0 && (size_t)n < sizeof text);
    if (w->proto == 3) return resp_write_line(w, ',', text, (size_t)n);
    return cs_resp_write_bulk(w, text, (size_t)n);
}

int cs_resp_write_bool(struct cs_resp_writer *w, bool b)
{
    if (w->proto == 3) return cs_put_raw(w->out, b ? "#t\r\n" : "#f\r\n", 4);
    return cs_put_raw(w->out, b ? ":1\r\n" : ":0\r\n", 4);
}

int cs_resp_write_verbatim(struct cs_resp_writer *w, const char *fmt, const void *text, size_t len)
{
    CS_ASSERT(strlen(fmt) == 3);
    if (w->proto != 3) return cs_resp_write_bulk(w, text, len);
    char prefix[4] = {fmt[0], fmt[1], fmt[2], ':'};
    return resp_write_blob(w, '=', prefix, sizeof prefix, text, len);
}
