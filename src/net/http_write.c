/*
 * net/http_write.c: HTTP/1.1 response heads and JSON error responses.
 *
 * The one idea: a response head is fixed text plus numbers we format, so it
 * cannot carry a client's bytes; the error body goes through the JSON
 * writer, so a message quoting a client's key is still valid JSON.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "consist/http.h"

/* Longest error message placed in an error body. */
#define HTTP_ERROR_MESSAGE_BYTES_MAX 256

const char *cs_http_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 201:
        return "Created";
    case 204:
        return "No Content";
    case 307:
        return "Temporary Redirect";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 411:
        return "Length Required";
    case 412:
        return "Precondition Failed";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 421:
        return "Misdirected Request";
    case 429:
        return "Too Many Requests";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 504:
        return "Gateway Timeout";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

int cs_http_write_head(struct cs_buf *out, int status, const char *content_type,
                       size_t content_length, bool keep_alive)
{
    CS_ASSERT(status >= 100 && status <= 599);
    CS_ASSERT(strpbrk(content_type, "\r\n") == NULL);
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, cs_http_reason(status), content_type, content_length,
                     keep_alive ? "keep-alive" : "close");
    CS_ASSERT(n > 0 && (size_t)n < sizeof head);
    return cs_put_raw(out, head, (size_t)n);
}

int cs_http_write_error(struct cs_buf *out, int status, const char *message, bool keep_alive)
{
    uint8_t body_mem[HTTP_ERROR_MESSAGE_BYTES_MAX * 6 + 128];
    struct cs_buf body;
    cs_buf_init_fixed(&body, body_mem, sizeof body_mem);
    size_t message_len = strlen(message);
    if (message_len > HTTP_ERROR_MESSAGE_BYTES_MAX) message_len = HTTP_ERROR_MESSAGE_BYTES_MAX;
    struct cs_json j;
    cs_json_init(&j, &body);
    const char *reason = cs_http_reason(status);
    cs_json_object_begin(&j);
    cs_json_key(&j, "error", 5);
    cs_json_string(&j, reason, strlen(reason));
    cs_json_key(&j, "message", 7);
    cs_json_string(&j, message, message_len);
    cs_json_key(&j, "status", 6);
    cs_json_int(&j, status);
    cs_json_object_end(&j);
    /* Six bytes per message byte at worst (\u00XX) fit the fixed body. */
    CS_ASSERT(cs_json_finish(&j) == 0);
    int rc = cs_http_write_head(out, status, "application/json", body.len, keep_alive);
    if (rc) return rc;
    return cs_put_raw(out, body.data, body.len);
}
