/*
 * consist/http.h: HTTP/1.1 requests in, JSON responses out, sans-IO.
 *
 * The request parser takes bytes in any split and hands out whole requests:
 * method, percent-decoded path, decoded query parameters, headers, and a
 * Content-Length body. The one idea: every part of a request has a named
 * limit, checked as soon as the bytes that could break it arrive, and each
 * breach maps to the status code a client can act on: 414 (request line or
 * query), 431 (header section), 413 (body, refused from its Content-Length
 * before a byte of it is buffered), 505 (version), 411/501 (transfer
 * codings), 400 for the rest. After any error the server sends that status
 * with cs_http_write_error and closes the connection.
 *
 * Transfer-Encoding is refused: "chunked" with 411 Length Required (send
 * Content-Length instead, RFC 9112 6.3), any other coding with 501. This
 * also removes the Content-Length/Transfer-Encoding request smuggling
 * ambiguity.
 *
 * The JSON writer builds response bodies into a bounded struct cs_buf with
 * correct escaping; strings that are not valid UTF-8 get U+FFFD for each bad
 * byte, so every body is valid JSON whatever bytes a key holds.
 */
#ifndef CONSIST_HTTP_H
#define CONSIST_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */

/* Longest request line, CRLF included (past it: 414). nginx's large buffer is 8 KiB. */
#define CS_HTTP_REQUEST_LINE_BYTES_MAX_DEFAULT (8u * 1024u)
/* Longest head: request line, headers and the blank line (past it: 431). */
#define CS_HTTP_HEAD_BYTES_MAX_DEFAULT (16u * 1024u)
/* No configuration may raise head_bytes_max past this (a head is parsed twice at worst). */
#define CS_HTTP_HEAD_BYTES_CEILING (1024u * 1024u)
/* Most header fields (past it: 431). */
#define CS_HTTP_HEADERS_MAX_DEFAULT 64
/* Largest Content-Length (past it: 413); the server lowers it to its value limit. */
#define CS_HTTP_BODY_BYTES_MAX_DEFAULT (8u * 1024u * 1024u)
/* Most query parameters (past it: 414). */
#define CS_HTTP_QUERY_PARAMS_MAX_DEFAULT 32
/* Longest method name (past it: 400; the longest standard one has 7). */
#define CS_HTTP_METHOD_BYTES_MAX 16
/* Longest parser error message, NUL included. */
#define CS_HTTP_ERRMSG_BYTES_MAX 128

struct cs_http_limits {
    size_t request_line_bytes_max;
    size_t head_bytes_max;
    size_t headers_max;
    size_t body_bytes_max;
    size_t query_params_max;
};

void cs_http_limits_default(struct cs_http_limits *limits);

/*
 * cs_http_limits_check: 0, or CS_EINVAL unless 16 <= request line <= head <=
 * CS_HTTP_HEAD_BYTES_CEILING, 1 <= body <= 1 TiB, and the counts >= 1.
 */
int cs_http_limits_check(const struct cs_http_limits *limits);

/* ---- request parser ---------------------------------------------------- */

struct cs_http_header {
    const char *name; /* as sent; compare with cs_http_name_eq */
    size_t name_len;
    const char *value; /* leading and trailing blanks removed */
    size_t value_len;
};

struct cs_http_param {
    const uint8_t *name; /* percent-decoded, '+' as space */
    size_t name_len;
    const uint8_t *value; /* "" when the parameter has no '=' */
    size_t value_len;
};

struct cs_http_request {
    const char *method; /* a token, e.g. "GET"; 0 length: no request yet */
    size_t method_len;
    const uint8_t *path; /* percent-decoded ('+' kept); starts with '/' */
    size_t path_len;
    const struct cs_http_param *params;
    size_t params_len;
    const struct cs_http_header *headers;
    size_t headers_len;
    const uint8_t *body;
    size_t body_len;
    int version_minor;    /* HTTP/1.<version_minor>: 0 or 1 */
    bool keep_alive;      /* HTTP/1.1 unless "Connection: close"; 1.0 only with keep-alive */
    bool expect_continue; /* "Expect: 100-continue": send "100 Continue" before the body */
};

struct cs_http_parser;

/* cs_http_parser_new: a parser with a copy of limits (NULL: defaults). 0, CS_EINVAL, CS_ENOMEM. */
int cs_http_parser_new(const struct cs_http_limits *limits, struct cs_http_parser **out);
void cs_http_parser_free(struct cs_http_parser *p);

/*
 * cs_http_parser_feed, _reserve, _commit: input, as cs_resp_parser_feed and
 * friends. At most head_bytes_max + body_bytes_max unconsumed bytes are held;
 * past that, CS_ETOOBIG with status 413 (sticky).
 */
int cs_http_parser_feed(struct cs_http_parser *p, const void *bytes, size_t len);
int cs_http_parser_reserve(struct cs_http_parser *p, size_t want, uint8_t **space,
                           size_t *space_len);
void cs_http_parser_commit(struct cs_http_parser *p, size_t n);

/*
 * cs_http_parser_next: take the next complete request (head and body).
 * Returns 0 with req->method_len > 0 when one was taken; 0 with
 * method_len == 0 when more bytes are needed (then see
 * cs_http_parser_take_continue); or a sticky error:
 * CS_EPARSE (400, 411, 501, 505) or CS_ETOOBIG (413, 414, 431), with the
 * status in cs_http_parser_status and the reason in cs_http_parser_errmsg;
 * CS_ENOMEM. Views in *req are valid until the next call on the parser.
 */
int cs_http_parser_next(struct cs_http_parser *p, struct cs_http_request *req);

/* cs_http_parser_status: the HTTP status for the parser's error, 0 if none. */
int cs_http_parser_status(const struct cs_http_parser *p);
const char *cs_http_parser_errmsg(const struct cs_http_parser *p);

/* cs_http_parser_head_done: the current request's head is parsed and its body awaited. */
bool cs_http_parser_head_done(const struct cs_http_parser *p);

/*
 * cs_http_parser_take_continue: true exactly once per request that asked
 * "Expect: 100-continue" and whose head is in but body is not: the server
 * then writes "HTTP/1.1 100 Continue\r\n\r\n" so the client sends the body
 * (curl otherwise waits a second). A head refused (413 and the like) owes
 * nothing: the error response answers the expectation.
 */
bool cs_http_parser_take_continue(struct cs_http_parser *p);

/* cs_http_parser_memory: bytes allocated by the parser. */
size_t cs_http_parser_memory(const struct cs_http_parser *p);

/* cs_http_name_eq: ASCII case-insensitive comparison of a header name with name. */
bool cs_http_name_eq(const char *a, size_t a_len, const char *name);

/* cs_http_request_header: the first header of that name (case-insensitive), or NULL. */
const struct cs_http_header *cs_http_request_header(const struct cs_http_request *req,
                                                    const char *name);

/* cs_http_request_param: the first query parameter of that exact name, or NULL. */
const struct cs_http_param *cs_http_request_param(const struct cs_http_request *req,
                                                  const char *name);

/* ---- responses --------------------------------------------------------- */

/* cs_http_reason: the reason phrase of a status ("Not Found"); "Unknown" if not known. */
const char *cs_http_reason(int status);

/*
 * cs_http_write_head: append "HTTP/1.1 <status> <reason>", Content-Type,
 * Content-Length and Connection (keep-alive or close) and the blank line.
 * content_type must be a constant without CR or LF. Returns 0 or out's error.
 */
int cs_http_write_head(struct cs_buf *out, int status, const char *content_type,
                       size_t content_length, bool keep_alive);

/*
 * cs_http_write_error: a whole response, status with a JSON body
 * {"error":"<reason phrase>","message":"<message>","status":<status>}.
 * Returns 0 or out's error.
 */
int cs_http_write_error(struct cs_buf *out, int status, const char *message, bool keep_alive);

/* ---- JSON writer ------------------------------------------------------- */

/* Deepest nesting of objects and arrays (past it: CS_ETOOBIG). */
#define CS_JSON_DEPTH_MAX 32

/*
 * A JSON writer appending to out. Values inside an object need a key first
 * (cs_json_key); the writer places commas and colons. Misuse (a value where a
 * key is due, an end that does not match) is a programmer error and
 * asserts. Output errors are sticky in out; cs_json_finish reports them.
 */
struct cs_json {
    struct cs_buf *out;
    uint32_t depth;
    uint64_t in_object; /* bit d: level d+1 is an object */
    uint64_t has_items; /* bit d: level d+1 has at least one item */
    bool key_pending;   /* a key was written; its value is due */
    bool top_started;   /* the one top-level value has begun */
    int err;            /* CS_ETOOBIG past CS_JSON_DEPTH_MAX; sticky */
};

void cs_json_init(struct cs_json *j, struct cs_buf *out);
int cs_json_object_begin(struct cs_json *j);
int cs_json_object_end(struct cs_json *j);
int cs_json_array_begin(struct cs_json *j);
int cs_json_array_end(struct cs_json *j);
int cs_json_key(struct cs_json *j, const char *key, size_t len);
/* A string of any bytes: escaped; invalid UTF-8 bytes become U+FFFD. */
int cs_json_string(struct cs_json *j, const void *bytes, size_t len);
int cs_json_int(struct cs_json *j, int64_t v);
int cs_json_uint(struct cs_json *j, uint64_t v);
/* Finite numbers with 17 significant digits; NaN and infinities are written as null. */
int cs_json_double(struct cs_json *j, double v);
int cs_json_bool(struct cs_json *j, bool v);
int cs_json_null(struct cs_json *j);
/* cs_json_finish: 0 if one complete value was written, else CS_EINVAL, CS_ETOOBIG or out's error.
 */
int cs_json_finish(const struct cs_json *j);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_HTTP_H */
