/*
 * net_http.c: the HTTP/1.1 request parser and the response writers.
 *
 * Method: each request is parsed whole and byte by byte (the transcripts
 * must agree) and compared with the expected method, decoded path, params,
 * body and keep-alive; each error with its status; each limit at its value
 * and one past it, with small limits so the requests stay readable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/http.h"
#include "testlib.h"

struct transcript {
    char text[4096];
    size_t len;
    int rc;
    int status;
};

/* Append prefix, n bytes of p, suffix. */
static void add(struct transcript *t, const char *prefix, const void *p, size_t n,
                const char *suffix)
{
    t->len += (size_t)snprintf(t->text + t->len, sizeof t->text - t->len, "%s%.*s%s", prefix,
                               (int)n, (const char *)p, suffix);
    CS_CHECK(t->len < sizeof t->text - 1);
}

static void add_request(struct transcript *t, const struct cs_http_request *r)
{
    add(t, "", r->method, r->method_len, " ");
    add(t, "", r->path, r->path_len, "");
    for (size_t i = 0; i < r->params_len; i++) {
        add(t, i ? "&" : "?", r->params[i].name, r->params[i].name_len, "=");
        add(t, "", r->params[i].value, r->params[i].value_len, "");
    }
    add(t, " body=", r->body, r->body_len, r->keep_alive ? " ka" : " close");
    add(t, "", "", 0, r->expect_continue ? " 100;" : ";");
}

static struct transcript parse(const struct cs_http_limits *l, const char *in, size_t len,
                               size_t chunk)
{
    struct transcript t = {.rc = 0};
    struct cs_http_parser *p;
    CS_CHECK_OK(cs_http_parser_new(l, &p));
    size_t at = 0;
    for (;;) {
        struct cs_http_request r;
        t.rc = cs_http_parser_next(p, &r);
        if (t.rc) break;
        if (r.method_len) {
            add_request(&t, &r);
            continue;
        }
        if (at == len) break;
        size_t n = len - at < chunk ? len - at : chunk;
        t.rc = cs_http_parser_feed(p, in + at, n);
        if (t.rc) break;
        at += n;
    }
    if (t.rc) {
        t.status = cs_http_parser_status(p);
        t.len += (size_t)snprintf(t.text + t.len, sizeof t.text - t.len, "!%d %s", t.status,
                                  cs_http_parser_errmsg(p));
    }
    cs_http_parser_free(p);
    return t;
}

static void expect_l(const struct cs_http_limits *l, const char *in, const char *want)
{
    size_t len = strlen(in);
    struct transcript whole = parse(l, in, len, len ? len : 1);
    struct transcript bytes = parse(l, in, len, 1);
    CS_CHECK_STR(whole.text, want);
    CS_CHECK_STR(bytes.text, want);
    CS_CHECK_EQ(whole.rc, bytes.rc);
    if (whole.rc) {
        CS_CHECK(whole.rc == (whole.status == 413 || whole.status == 414 || whole.status == 431
                                  ? CS_ETOOBIG
                                  : CS_EPARSE));
    }
}

#define EXPECT(in, want) expect_l(NULL, in, want)

CS_TEST(requests)
{
    EXPECT("GET /v1/kv/a%20b?consistency=linearizable HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /v1/kv/a b?consistency=linearizable body= ka;");
    EXPECT("PUT /v1/kv/k HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhello",
           "PUT /v1/kv/k body=hello ka;");
    EXPECT("GET /healthz HTTP/1.0\r\n\r\n", "GET /healthz body= close;");
    EXPECT("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", "GET / body= ka;");
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\nConnection: foo, close\r\n\r\n", "GET / body= close;");
    /* Bare LF line ends, blank lines before the request, pipelining. */
    EXPECT("\r\n\nGET /a HTTP/1.1\nHost: x\n\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /a body= ka;GET /b body= ka;");
    /* Query decoding: '+' and %XX, empty value, no '=', empty segments. */
    EXPECT("GET /p%2Fq+r?a=1+2%26&b=&c&&d=%3D HTTP/1.1\r\nHost: x\r\n\r\n",
           "GET /p/q+r?a=1 2&&b=&c=&d== body= ka;");
    /* Absolute form. */
    EXPECT("GET http://h:1/v1/x?y=z HTTP/1.1\r\nHost: h\r\n\r\n", "GET /v1/x?y=z body= ka;");
    EXPECT("GET https://h HTTP/1.1\r\nHost: h\r\n\r\n", "GET / body= ka;");
    /* Same Content-Length twice is fine; Expect: 100-continue is reported. */
    EXPECT("PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\n"
           "Expect: 100-Continue\r\n\r\nab",
           "PUT /k body=ab ka 100;");
}

CS_TEST(bad_requests)
{
    EXPECT("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", "!400 invalid method");
    EXPECT("GET  / HTTP/1.1\r\n\r\n", "!400 invalid request target");
    EXPECT("GET /\r\n\r\n", "!400 invalid request target");
    EXPECT("GET / HTTP/1.1 \r\n\r\n", "!400 invalid HTTP version");
    EXPECT("GET / http/1.1\r\n\r\n", "!400 invalid HTTP version");
    EXPECT("GET / HTTP/2.0\r\n\r\n", "!505 HTTP version HTTP/2.0 not supported");
    EXPECT("GET x HTTP/1.1\r\nHost: x\r\n\r\n", "!400 request target is not a path");
    EXPECT("GET / HTTP/1.1\r\n\r\n", "!400 missing Host header");
    EXPECT("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "!400 more than one Host header");
    EXPECT("GET / HTTP/1.1\r\nHost : x\r\n\r\n", "!400 invalid header name");
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", "!400 obsolete line folding");
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\nA: b\x01\r\n\r\n", "!400 invalid header value");
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
           "!400 conflicting Content-Length headers");
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
           "!400 invalid Content-Length");
    /* 18 digits are a number (too large here: 413); 19 are not (400). */
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 123456789012345678\r\n\r\n",
           "!413 body of 123456789012345678 bytes, at most 8388608");
    EXPECT("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1234567890123456789\r\n\r\n",
           "!400 invalid Content-Length");
    /* Methods: 16 characters are a method, 17 are not. */
    EXPECT("ABCDEFGHIJKLMNOP / HTTP/1.0\r\n\r\n", "ABCDEFGHIJKLMNOP / body= close;");
    EXPECT("ABCDEFGHIJKLMNOPQ / HTTP/1.0\r\n\r\n", "!400 invalid method");
    EXPECT("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", "!400 invalid percent-encoding in path");
    EXPECT("GET /a?b=%4 HTTP/1.1\r\nHost: x\r\n\r\n", "!400 invalid percent-encoding in query");
    EXPECT("\rGET / HTTP/1.1\r\n", "!400 invalid request line");
    /* Transfer codings: chunked asks for a length, anything else is not implemented. */
    EXPECT("PUT /k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
           "!411 chunked bodies are not accepted");
    EXPECT("PUT /k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n",
           "!501 transfer codings are not supported");
    EXPECT("PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
           "!411 chunked bodies are not accepted");
}

/* Requests exactly as curl 7.88 sent them (captured with a socket listener). */
CS_TEST(curl_requests)
{
    static const char get[] = "GET /v1/kv/user%3A42?consistency=linearizable HTTP/1.1\r\n"
                              "Host: 127.0.0.1:18555\r\nUser-Agent: curl/7.88.1\r\n"
                              "Accept: */*\r\n\r\n";
    static const char put[] = "PUT /v1/kv/big%20key HTTP/1.1\r\nHost: 127.0.0.1:18555\r\n"
                              "User-Agent: curl/7.88.1\r\nAccept: */*\r\nContent-Length: 1500\r\n"
                              "Content-Type: application/x-www-form-urlencoded\r\n\r\n";
    char in[sizeof get + sizeof put + 1500];
    size_t len = 0;
    memcpy(in, get, sizeof get - 1);
    len += sizeof get - 1;
    memcpy(in + len, put, sizeof put - 1);
    len += sizeof put - 1;
    memset(in + len, 'x', 1500);
    len += 1500;
    in[len] = '\0';
    char want[1700];
    snprintf(want, sizeof want,
             "GET /v1/kv/user:42?consistency=linearizable body= ka;PUT /v1/kv/big key body=%s ka;",
             in + len - 1500);
    EXPECT(in, want);
}

static struct cs_http_limits small(void)
{
    struct cs_http_limits l;
    cs_http_limits_default(&l);
    l.request_line_bytes_max = 32;
    l.head_bytes_max = 64;
    l.headers_max = 3;
    l.body_bytes_max = 4;
    l.query_params_max = 2;
    return l;
}

CS_TEST(request_line_limit)
{
    struct cs_http_limits l = small();
    /* 32 bytes with CRLF: accepted; 33: 414, with or without the line end. */
    const char *at = "GET /aaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n";
    CS_CHECK_EQ(strchr(at, '\n') - at + 1, 32);
    expect_l(&l, at, "GET /aaaaaaaaaaaaaaaa body= close;");
    expect_l(&l, "GET /aaaaaaaaaaaaaaaaa HTTP/1.0\r\n\r\n",
             "!414 request line longer than 32 bytes");
    expect_l(&l, "GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "!414 request line longer than 32 bytes");
}

CS_TEST(head_limits)
{
    struct cs_http_limits l = small();
    /* 64 bytes of head: accepted; 65: 431. */
    const char *at = "GET / HTTP/1.1\r\nHost: x\r\nA: 0123456789\r\nB: 01234567890123456\r\n\r\n";
    CS_CHECK_EQ(strlen(at), 64);
    expect_l(&l, at, "GET / body= ka;");
    expect_l(&l, "GET / HTTP/1.1\r\nHost: x\r\nA: 0123456789\r\nB: 012345678901234567\r\n\r\n",
             "!431 header section longer than 64 bytes");
    expect_l(&l, "GET / HTTP/1.1\r\nHost: x\r\nA: 0123456789\r\nB: 0123456789012345678901234",
             "!431 header section longer than 64 bytes");
    /* 3 headers: accepted; 4: 431. */
    expect_l(&l, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\n\r\n", "GET / body= ka;");
    expect_l(&l, "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
             "!431 more than 3 header fields");
}

CS_TEST(body_limit)
{
    struct cs_http_limits l = small();
    expect_l(&l, "PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd",
             "PUT /k body=abcd ka;");
    /* 413 comes from the head alone: no body byte is needed (or buffered). */
    expect_l(&l, "PUT /k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n",
             "!413 body of 5 bytes, at most 4");
}

CS_TEST(params_limit)
{
    struct cs_http_limits l = small();
    expect_l(&l, "GET /?a=1&b=2 HTTP/1.0\r\n\r\n", "GET /?a=1&b=2 body= close;");
    expect_l(&l, "GET /?a=1&b=2&c HTTP/1.0\r\n\r\n", "!414 more than 2 query parameters");
}

CS_TEST(lookups_and_head_done)
{
    struct cs_http_parser *p;
    CS_CHECK_OK(cs_http_parser_new(NULL, &p));
    const char *head = "PUT /v1/kv/x?consistency=session HTTP/1.1\r\nHOST: h\r\nContent-Length: "
                       "3\r\nExpect: 100-continue\r\n\r\n";
    CS_CHECK_OK(cs_http_parser_feed(p, head, strlen(head)));
    struct cs_http_request r;
    CS_CHECK(!cs_http_parser_take_continue(p));
    CS_CHECK_OK(cs_http_parser_next(p, &r));
    CS_CHECK_EQ(r.method_len, 0);
    CS_CHECK(cs_http_parser_head_done(p));
    CS_CHECK(cs_http_parser_take_continue(p)); /* owed once */
    CS_CHECK(!cs_http_parser_take_continue(p));
    CS_CHECK_OK(cs_http_parser_feed(p, "a", 1));
    CS_CHECK_OK(cs_http_parser_next(p, &r));
    CS_CHECK_EQ(r.method_len, 0);
    CS_CHECK(!cs_http_parser_take_continue(p)); /* not again for the same request */
    CS_CHECK_OK(cs_http_parser_feed(p, "bc", 2));
    CS_CHECK_OK(cs_http_parser_next(p, &r));
    CS_CHECK_EQ(r.method_len, 3);
    CS_CHECK(!cs_http_parser_head_done(p));
    const struct cs_http_header *h = cs_http_request_header(&r, "host");
    CS_CHECK(h != NULL && h->value_len == 1 && h->value[0] == 'h');
    CS_CHECK(cs_http_request_header(&r, "accept") == NULL);
    const struct cs_http_param *q = cs_http_request_param(&r, "consistency");
    CS_CHECK(q != NULL && q->value_len == 7 && memcmp(q->value, "session", 7) == 0);
    CS_CHECK(cs_http_request_param(&r, "Consistency") == NULL);
    CS_CHECK(r.expect_continue);
    CS_CHECK_EQ(r.version_minor, 1);
    cs_http_parser_free(p);
}

CS_TEST(buffer_limit_and_stickiness)
{
    struct cs_http_limits l = small();
    struct cs_http_parser *p;
    CS_CHECK_OK(cs_http_parser_new(&l, &p));
    char junk[69];
    memset(junk, 'x', sizeof junk);
    CS_CHECK_OK(cs_http_parser_feed(p, junk, 68)); /* head max + body max */
    CS_CHECK_RC(cs_http_parser_feed(p, junk, 1), CS_ETOOBIG);
    CS_CHECK_EQ(cs_http_parser_status(p), 413);
    struct cs_http_request r;
    CS_CHECK_RC(cs_http_parser_next(p, &r), CS_ETOOBIG);
    cs_http_parser_free(p);
    l.request_line_bytes_max = 8;
    CS_CHECK_RC(cs_http_limits_check(&l), CS_EINVAL);
    cs_http_limits_default(&l);
    l.head_bytes_max = CS_HTTP_HEAD_BYTES_CEILING;
    CS_CHECK_OK(cs_http_limits_check(&l));
    l.head_bytes_max = CS_HTTP_HEAD_BYTES_CEILING + 1;
    CS_CHECK_RC(cs_http_limits_check(&l), CS_EINVAL);
    CS_CHECK_RC(cs_http_parser_new(&l, &p), CS_EINVAL);
}

CS_TEST(response_writers)
{
    struct cs_buf out;
    cs_buf_init(&out, 4096);
    CS_CHECK_OK(cs_http_write_head(&out, 200, "text/plain", 2, true));
    const char *want = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                       "Connection: keep-alive\r\n\r\n";
    CS_CHECK_EQ(out.len, strlen(want));
    CS_CHECK_MEM(out.data, want, out.len);
    cs_buf_reset(&out);
    CS_CHECK_OK(cs_http_write_error(&out, 413, "body \"big\"\n", false));
    const char *body = "{\"error\":\"Content Too Large\",\"message\":\"body \\\"big\\\"\\n\","
                       "\"status\":413}";
    char full[512];
    snprintf(full, sizeof full,
             "HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
             strlen(body), body);
    CS_CHECK_EQ(out.len, strlen(full));
    CS_CHECK_MEM(out.data, full, out.len);
    /* Error messages are cut at 256 bytes. */
    cs_buf_reset(&out);
    char longmsg[301];
    memset(longmsg, 'm', 300);
    longmsg[300] = '\0';
    CS_CHECK_OK(cs_http_write_error(&out, 400, longmsg, true));
    cs_put_u8(&out, 0);
    const char *msg = strstr((const char *)out.data, "\"message\":\"");
    CS_CHECK(msg != NULL);
    CS_CHECK(strspn(msg + 11, "m") == 256);
    CS_CHECK(memcmp(msg + 11 + 256, "\",", 2) == 0);
    CS_CHECK_STR(cs_http_reason(431), "Request Header Fields Too Large");
    CS_CHECK_STR(cs_http_reason(999), "Unknown");
    cs_buf_free(&out);
}

CS_TEST_MAIN(CS_CASE(requests), CS_CASE(curl_requests), CS_CASE(bad_requests),
             CS_CASE(request_line_limit), CS_CASE(head_limits), CS_CASE(body_limit),
             CS_CASE(params_limit), CS_CASE(lookups_and_head_done),
             CS_CASE(buffer_limit_and_stickiness), CS_CASE(response_writers))
