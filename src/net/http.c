/*
 * net/http.c: the HTTP/1.1 request parser, sans-IO (see consist/http.h).
 *
 * The one idea: find the head's end first, enforcing the size limits while
 * scanning, then parse the bounded head in one pass. The head is at most
 * head_bytes_max bytes, so parsing it again when a body arrives later costs
 * little and keeps the resumable state to four numbers. The Content-Length
 * is checked against body_bytes_max as soon as the head is in, so a 413 is
 * sent before a byte of an oversized body is buffered. Percent-decoding
 * happens in place (a decoded string is never longer), once, when the whole
 * request is in.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/http.h"
#include "net/inbuf.h"

/* Most digits of a Content-Length: every body limit is far below 10^18. */
#define HTTP_CONTENT_LENGTH_DIGITS_MAX 18

struct cs_http_parser {
    struct cs_http_limits limits;
    struct cs_net_inbuf in;
    size_t line_start;              /* head scan: start of the line being looked at */
    size_t scanned;                 /* head scan: bytes already searched for LF */
    size_t lines;                   /* complete head lines seen (request line included) */
    size_t head_len;                /* 0 until the head is complete, then its bytes */
    size_t content_length;          /* of the request whose head is complete */
    bool continue_pending;          /* "100 Continue" is owed for the awaited body */
    struct cs_http_header *headers; /* headers_max of them */
    struct cs_http_param *params;   /* query_params_max of them */
    int err;                        /* sticky */
    int status;                     /* HTTP status for err */
    char errmsg[CS_HTTP_ERRMSG_BYTES_MAX];
};

/* Internal result: more bytes are needed. */
enum { HTTP_NEED = 1 };

void cs_http_limits_default(struct cs_http_limits *limits)
{
    *limits = (struct cs_http_limits){
        .request_line_bytes_max = CS_HTTP_REQUEST_LINE_BYTES_MAX_DEFAULT,
        .head_bytes_max = CS_HTTP_HEAD_BYTES_MAX_DEFAULT,
        .headers_max = CS_HTTP_HEADERS_MAX_DEFAULT,
        .body_bytes_max = CS_HTTP_BODY_BYTES_MAX_DEFAULT,
        .query_params_max = CS_HTTP_QUERY_PARAMS_MAX_DEFAULT,
    };
}

int cs_http_limits_check(const struct cs_http_limits *limits)
{
    if (limits->request_line_bytes_max < 16) return CS_EINVAL;
    if (limits->head_bytes_max < limits->request_line_bytes_max) return CS_EINVAL;
    if (limits->head_bytes_max > CS_HTTP_HEAD_BYTES_CEILING) return CS_EINVAL;
    if (limits->headers_max == 0 || limits->query_params_max == 0) return CS_EINVAL;
    if (limits->body_bytes_max == 0 || limits->body_bytes_max > ((size_t)1 << 40)) {
        return CS_EINVAL;
    }
    return 0;
}

int cs_http_parser_new(const struct cs_http_limits *limits, struct cs_http_parser **out)
{
    struct cs_http_limits defaults;
    if (limits == NULL) {
        cs_http_limits_default(&defaults);
        limits = &defaults;
    }
    if (cs_http_limits_check(limits)) return CS_EINVAL;
    struct cs_http_parser *p = calloc(1, sizeof *p);
    if (p == NULL) return CS_ENOMEM;
    p->limits = *limits;
    /* Arrays sized by the configured limits (not by anything a client sent). */
    p->headers = calloc(limits->headers_max, sizeof *p->headers);
    p->params = calloc(limits->query_params_max, sizeof *p->params);
    if (p->headers == NULL || p->params == NULL) {
        free(p->headers);
        free(p->params);
        free(p);
        return CS_ENOMEM;
    }
    cs_net_inbuf_init(&p->in, limits->head_bytes_max + limits->body_bytes_max);
    *out = p;
    return 0;
}

void cs_http_parser_free(struct cs_http_parser *p)
{
    if (p == NULL) return;
    cs_net_inbuf_free(&p->in);
    free(p->headers);
    free(p->params);
    free(p);
}

__attribute__((format(printf, 3, 4))) static int http_fail(struct cs_http_parser *p, int status,
                                                           const char *fmt, ...)
{
    CS_ASSERT(p->err == 0);
    CS_ASSERT(status >= 400 && status <= 599);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    p->status = status;
    p->err = status == 413 || status == 414 || status == 431 ? CS_ETOOBIG : CS_EPARSE;
    return p->err;
}

int cs_http_parser_feed(struct cs_http_parser *p, const void *bytes, size_t len)
{
    if (p->err) return p->err;
    int rc = cs_net_inbuf_feed(&p->in, bytes, len);
    if (rc == CS_ETOOBIG) return http_fail(p, 413, "request buffer limit exceeded");
    return rc;
}

int cs_http_parser_reserve(struct cs_http_parser *p, size_t want, uint8_t **space,
                           size_t *space_len)
{
    if (p->err) return p->err;
    int rc = cs_net_inbuf_reserve(&p->in, want, space, space_len);
    if (rc == CS_ETOOBIG) return http_fail(p, 413, "request buffer limit exceeded");
    return rc;
}

void cs_http_parser_commit(struct cs_http_parser *p, size_t n)
{
    cs_net_inbuf_commit(&p->in, n);
}

int cs_http_parser_status(const struct cs_http_parser *p)
{
    return p->status;
}

const char *cs_http_parser_errmsg(const struct cs_http_parser *p)
{
    return p->errmsg;
}

bool cs_http_parser_head_done(const struct cs_http_parser *p)
{
    return p->head_len > 0;
}

bool cs_http_parser_take_continue(struct cs_http_parser *p)
{
    bool pending = p->continue_pending;
    p->continue_pending = false;
    CS_ASSERT(!pending || p->head_len > 0);
    return pending;
}

size_t cs_http_parser_memory(const struct cs_http_parser *p)
{
    return sizeof *p + cs_net_inbuf_memory(&p->in) + p->limits.headers_max * sizeof *p->headers +
           p->limits.query_params_max * sizeof *p->params;
}

static uint8_t http_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? (uint8_t)(c + 32) : c;
}

bool cs_http_name_eq(const char *a, size_t a_len, const char *name)
{
    size_t n = strlen(name);
    if (a_len != n) return false;
    for (size_t i = 0; i < n; i++) {
        if (http_lower((uint8_t)a[i]) != http_lower((uint8_t)name[i])) return false;
    }
    return true;
}

const struct cs_http_header *cs_http_request_header(const struct cs_http_request *req,
                                                    const char *name)
{
    for (size_t i = 0; i < req->headers_len; i++) {
        const struct cs_http_header *h = &req->headers[i];
        if (cs_http_name_eq(h->name, h->name_len, name)) return h;
    }
    return NULL;
}

const struct cs_http_param *cs_http_request_param(const struct cs_http_request *req,
                                                  const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->params_len; i++) {
        const struct cs_http_param *q = &req->params[i];
        if (q->name_len == n && memcmp(q->name, name, n) == 0) return q;
    }
    return NULL;
}

/* RFC 9110 tchar, as a table: header names are scanned a byte at a time. */
static const bool http_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

static bool http_is_tchar(uint8_t c)
{
    return http_tchar[c];
}

/*
 * Find the end of the head, enforcing the request line, head and header
 * count limits on the way. 0 (p->head_len set), HTTP_NEED, or an error.
 */
static int http_find_head(struct cs_http_parser *p)
{
    const struct cs_http_limits *l = &p->limits;
    for (;;) {
        const uint8_t *base = cs_net_inbuf_head(&p->in);
        size_t avail = cs_net_inbuf_len(&p->in);
        /* Empty lines before a request line are ignored (RFC 9112 2.2). */
        if (p->lines == 0 && p->line_start == 0 && avail > 0 &&
            (base[0] == '\n' || base[0] == '\r')) {
            if (base[0] == '\n') {
                cs_net_inbuf_consume(&p->in, 1);
                continue;
            }
            if (avail == 1) return HTTP_NEED;
            if (base[1] != '\n') return http_fail(p, 400, "invalid request line");
            cs_net_inbuf_consume(&p->in, 2);
            continue;
        }
        if (avail == 0) return HTTP_NEED;
        size_t from = p->scanned > p->line_start ? p->scanned : p->line_start;
        const uint8_t *nl = memchr(base + from, '\n', avail - from);
        if (nl == NULL) {
            p->scanned = avail;
            if (p->lines == 0 && avail >= l->request_line_bytes_max) {
                return http_fail(p, 414, "request line longer than %zu bytes",
                                 l->request_line_bytes_max);
            }
            if (avail >= l->head_bytes_max) {
                return http_fail(p, 431, "header section longer than %zu bytes", l->head_bytes_max);
            }
            return HTTP_NEED;
        }
        size_t end = (size_t)(nl - base) + 1;
        if (p->lines == 0 && end > l->request_line_bytes_max) {
            return http_fail(p, 414, "request line longer than %zu bytes",
                             l->request_line_bytes_max);
        }
        if (end > l->head_bytes_max) {
            return http_fail(p, 431, "header section longer than %zu bytes", l->head_bytes_max);
        }
        size_t line_len = end - 1 - p->line_start;
        bool blank = line_len == 0 || (line_len == 1 && base[p->line_start] == '\r');
        if (blank && p->lines > 0) {
            p->head_len = end;
            return 0;
        }
        p->lines++;
        if (p->lines - 1 > l->headers_max) {
            return http_fail(p, 431, "more than %zu header fields", l->headers_max);
        }
        p->line_start = end;
        p->scanned = end;
    }
}

/* The line [at, LF) without its CR, within a head of head_len bytes; sets *next past the LF. */
static size_t http_line(const uint8_t *base, size_t at, size_t head_len, size_t *next)
{
    CS_ASSERT(at < head_len);
    const uint8_t *nl = memchr(base + at, '\n', head_len - at);
    CS_ASSERT(nl != NULL);
    size_t end = (size_t)(nl - base);
    *next = end + 1;
    if (end > at && base[end - 1] == '\r') end--;
    return end - at;
}

static int http_parse_request_line(struct cs_http_parser *p, const uint8_t *line, size_t len,
                                   struct cs_http_request *req, size_t *target_at,
                                   size_t *target_len)
{
    size_t i = 0;
    while (i < len && http_is_tchar(line[i]))
        i++;
    if (i == 0 || i > CS_HTTP_METHOD_BYTES_MAX || i == len || line[i] != ' ') {
        return http_fail(p, 400, "invalid method");
    }
    req->method = (const char *)line;
    req->method_len = i;
    size_t t = ++i;
    while (i < len && line[i] > 0x20 && line[i] < 0x7f)
        i++;
    if (i == t || i == len || line[i] != ' ') return http_fail(p, 400, "invalid request target");
    *target_at = t;
    *target_len = i - t;
    const uint8_t *v = line + i + 1;
    size_t v_len = len - i - 1;
    if (v_len == 8 && memcmp(v, "HTTP/1.", 7) == 0 && (v[7] == '0' || v[7] == '1')) {
        req->version_minor = v[7] - '0';
        return 0;
    }
    if (v_len == 8 && memcmp(v, "HTTP/", 5) == 0 && v[5] >= '0' && v[5] <= '9' && v[6] == '.' &&
        v[7] >= '0' && v[7] <= '9') {
        return http_fail(p, 505, "HTTP version %.8s not supported", (const char *)v);
    }
    return http_fail(p, 400, "invalid HTTP version");
}

/* Does the comma-separated list value contain token (case-insensitive)? */
static bool http_list_has(const char *value, size_t len, const char *token, bool last_only)
{
    bool found = false;
    size_t i = 0;
    while (i <= len) {
        size_t j = i;
        while (j < len && value[j] != ',')
            j++;
        size_t a = i, b = j;
        while (a < b && (value[a] == ' ' || value[a] == '\t'))
            a++;
        while (b > a && (value[b - 1] == ' ' || value[b - 1] == '\t'))
            b--;
        bool eq = cs_http_name_eq(value + a, b - a, token);
        found = last_only ? eq : found || eq;
        i = j + 1;
    }
    return found;
}

/* Facts about the headers a request's framing depends on. */
struct http_framing {
    bool have_length;
    size_t content_length;
    size_t hosts;
    bool transfer_encoding;
    bool chunked_last;
    bool conn_close, conn_keep_alive;
    bool expect_continue;
};

static int http_note_header(struct cs_http_parser *p, const struct cs_http_header *h,
                            struct http_framing *f)
{
    if (cs_http_name_eq(h->name, h->name_len, "content-length")) {
        size_t n = 0;
        if (h->value_len == 0 || h->value_len > HTTP_CONTENT_LENGTH_DIGITS_MAX) {
            return http_fail(p, 400, "invalid Content-Length");
        }
        for (size_t i = 0; i < h->value_len; i++) {
            if (h->value[i] < '0' || h->value[i] > '9') {
                return http_fail(p, 400, "invalid Content-Length");
            }
            n = n * 10 + (size_t)(h->value[i] - '0');
        }
        if (f->have_length && n != f->content_length) {
            return http_fail(p, 400, "conflicting Content-Length headers");
        }
        f->have_length = true;
        f->content_length = n;
    } else if (cs_http_name_eq(h->name, h->name_len, "transfer-encoding")) {
        f->transfer_encoding = true;
        f->chunked_last = http_list_has(h->value, h->value_len, "chunked", true);
    } else if (cs_http_name_eq(h->name, h->name_len, "host")) {
        f->hosts++;
    } else if (cs_http_name_eq(h->name, h->name_len, "connection")) {
        f->conn_close |= http_list_has(h->value, h->value_len, "close", false);
        f->conn_keep_alive |= http_list_has(h->value, h->value_len, "keep-alive", false);
    } else if (cs_http_name_eq(h->name, h->name_len, "expect")) {
        f->expect_continue |= cs_http_name_eq(h->value, h->value_len, "100-continue");
    }
    return 0;
}

static int http_parse_header(struct cs_http_parser *p, const uint8_t *line, size_t len,
                             struct cs_http_header *h)
{
    if (line[0] == ' ' || line[0] == '\t') return http_fail(p, 400, "obsolete line folding");
    size_t i = 0;
    while (i < len && http_is_tchar(line[i]))
        i++;
    if (i == 0 || i == len || line[i] != ':') return http_fail(p, 400, "invalid header name");
    size_t a = i + 1, b = len;
    while (a < b && (line[a] == ' ' || line[a] == '\t'))
        a++;
    while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
        b--;
    for (size_t k = a; k < b; k++) {
        uint8_t c = line[k];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return http_fail(p, 400, "invalid header value");
    }
    *h = (struct cs_http_header){.name = (const char *)line,
                                 .name_len = i,
                                 .value = (const char *)line + a,
                                 .value_len = b - a};
    return 0;
}

/*
 * Parse the complete head (p->head_len bytes) without changing it: request
 * line, headers, framing. Fills req except path and params.
 */
static int http_parse_head(struct cs_http_parser *p, const uint8_t *base,
                           struct cs_http_request *req, size_t *target_at, size_t *target_len)
{
    size_t at = 0, next;
    size_t len = http_line(base, at, p->head_len, &next);
    int rc = http_parse_request_line(p, base, len, req, target_at, target_len);
    if (rc) return rc;
    struct http_framing f = {0};
    size_t n = 0;
    for (at = next; at < p->head_len;) {
        len = http_line(base, at, p->head_len, &next);
        if (len == 0) break;
        CS_ASSERT(n < p->limits.headers_max);
        rc = http_parse_header(p, base + at, len, &p->headers[n]);
        if (rc) return rc;
        rc = http_note_header(p, &p->headers[n], &f);
        if (rc) return rc;
        n++;
        at = next;
    }
    CS_ASSERT(next == p->head_len);
    if (f.transfer_encoding) {
        if (f.chunked_last) return http_fail(p, 411, "chunked bodies are not accepted");
        return http_fail(p, 501, "transfer codings are not supported");
    }
    if (req->version_minor == 1 && f.hosts == 0) return http_fail(p, 400, "missing Host header");
    if (f.hosts > 1) return http_fail(p, 400, "more than one Host header");
    if (f.content_length > p->limits.body_bytes_max) {
        return http_fail(p, 413, "body of %zu bytes, at most %zu", f.content_length,
                         p->limits.body_bytes_max);
    }
    req->headers = p->headers;
    req->headers_len = n;
    req->keep_alive = req->version_minor == 1 ? !f.conn_close : f.conn_keep_alive && !f.conn_close;
    req->expect_continue = f.expect_continue;
    p->content_length = f.content_length;
    return 0;
}

static int http_hex(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = http_lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Percent-decode s[0..len) in place; '+' becomes ' ' if plus_space. New length, or -1. */
static ptrdiff_t http_decode(uint8_t *s, size_t len, bool plus_space)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = s[i];
        if (c == '%') {
            if (len - i < 3) return -1;
            int hi = http_hex(s[i + 1]), lo = http_hex(s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (uint8_t)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        s[w++] = c;
    }
    CS_ASSERT(w <= len);
    return (ptrdiff_t)w;
}

/* Split and decode the target in place into req->path and req->params. */
static int http_decode_target(struct cs_http_parser *p, uint8_t *t, size_t len,
                              struct cs_http_request *req)
{
    /* Absolute form (RFC 9112 3.2.2): drop "scheme://authority". */
    if (len >= 7 && (cs_http_name_eq((const char *)t, 7, "http://") ||
                     (len >= 8 && cs_http_name_eq((const char *)t, 8, "https://")))) {
        size_t skip = t[4] == ':' ? 7 : 8;
        uint8_t *slash = memchr(t + skip, '/', len - skip);
        if (slash == NULL) {
            /* "http://host": the path is "/"; reuse the scheme's slash. */
            t += skip - 1;
            len = 1;
        } else {
            len -= (size_t)(slash - t);
            t = slash;
        }
    }
    if (t[0] != '/') return http_fail(p, 400, "request target is not a path");
    uint8_t *q = memchr(t, '?', len);
    size_t path_len = q ? (size_t)(q - t) : len;
    ptrdiff_t n = http_decode(t, path_len, false);
    if (n < 0) return http_fail(p, 400, "invalid percent-encoding in path");
    req->path = t;
    req->path_len = (size_t)n;
    size_t count = 0;
    for (uint8_t *s = q ? q + 1 : NULL, *end = t + len; s != NULL && s < end;) {
        uint8_t *amp = memchr(s, '&', (size_t)(end - s));
        uint8_t *stop = amp ? amp : end;
        if (stop > s) {
            if (count == p->limits.query_params_max) {
                return http_fail(p, 414, "more than %zu query parameters",
                                 p->limits.query_params_max);
            }
            uint8_t *eq = memchr(s, '=', (size_t)(stop - s));
            uint8_t *name_end = eq ? eq : stop;
            ptrdiff_t name_len = http_decode(s, (size_t)(name_end - s), true);
            ptrdiff_t value_len = eq ? http_decode(eq + 1, (size_t)(stop - eq - 1), true) : 0;
            if (name_len < 0 || value_len < 0) {
                return http_fail(p, 400, "invalid percent-encoding in query");
            }
            p->params[count++] = (struct cs_http_param){.name = s,
                                                        .name_len = (size_t)name_len,
                                                        .value = eq ? eq + 1 : name_end,
                                                        .value_len = (size_t)value_len};
        }
        s = amp ? amp + 1 : NULL;
    }
    req->params = p->params;
    req->params_len = count;
    return 0;
}

int cs_http_parser_next(struct cs_http_parser *p, struct cs_http_request *req)
{
    *req = (struct cs_http_request){0};
    if (p->err) return p->err;
    size_t target_at = 0, target_len = 0;
    bool parsed = false;
    if (p->head_len == 0) {
        int rc = http_find_head(p);
        if (rc == HTTP_NEED) return 0;
        if (rc) return rc;
        /* Check the head now: a 413 or 400 must not wait for a body. */
        rc = http_parse_head(p, cs_net_inbuf_head(&p->in), req, &target_at, &target_len);
        if (rc) {
            *req = (struct cs_http_request){0};
            return rc;
        }
        parsed = true;
    }
    uint8_t *base = cs_net_inbuf_head(&p->in);
    CS_ASSERT(p->head_len > 0 && p->head_len <= p->limits.head_bytes_max);
    CS_ASSERT(p->content_length <= p->limits.body_bytes_max);
    size_t total = p->head_len + p->content_length;
    if (cs_net_inbuf_len(&p->in) < total) {
        /* Owed once, when the head is first found complete without its body. */
        if (parsed) p->continue_pending = req->expect_continue;
        *req = (struct cs_http_request){0};
        return 0;
    }
    if (!parsed) {
        /* The body came in a later read and the buffer may have moved: parse
         * the (bounded) head again; the same bytes passed before. */
        int rc = http_parse_head(p, base, req, &target_at, &target_len);
        CS_ASSERT(rc == 0);
    }
    int rc = http_decode_target(p, base + target_at, target_len, req);
    if (rc) {
        *req = (struct cs_http_request){0};
        return rc;
    }
    req->body = base + p->head_len;
    req->body_len = p->content_length;
    cs_net_inbuf_consume(&p->in, total);
    p->head_len = p->content_length = 0;
    p->continue_pending = false;
    p->line_start = p->scanned = p->lines = 0;
    CS_ASSERT(req->method_len > 0);
    return 0;
}
