/*
 * net/resp_read.c: a pull reader for RESP2/RESP3 replies (see consist/resp.h).
 *
 * The one idea: a reply stream is a sequence of tokens, and aggregates are
 * just headers saying how many tokens follow; so the reader needs no
 * allocation, no recursion and no nesting limit of its own. A caller that
 * builds trees bounds its own depth. Used by tests to check the writer, and
 * by clients and tools that talk to a RESP server.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/resp.h"

/* Longest textual double accepted ("%.17g" needs at most 24). */
#define RESP_DOUBLE_CHARS_MAX 64

/* Parse a signed decimal int64 from text[0..len). Canonical: no '+', no leading zeros. */
static int resp_read_int(const uint8_t *text, size_t len, int64_t *out)
{
    size_t i = 0;
    bool negative = len > 0 && text[0] == '-';
    if (negative) i++;
    if (i == len || len - i > 19) return CS_EDECODE;
    if (text[i] == '0' && (len - i > 1 || negative)) return CS_EDECODE;
    uint64_t v = 0;
    for (; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') return CS_EDECODE;
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) return CS_EDECODE;
        v = v * 10 + digit;
    }
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (v > limit) return CS_EDECODE;
    *out = negative ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int resp_read_double(const uint8_t *text, size_t len, double *out)
{
    char tmp[RESP_DOUBLE_CHARS_MAX + 1];
    if (len == 0 || len > RESP_DOUBLE_CHARS_MAX) return CS_EDECODE;
    memcpy(tmp, text, len);
    tmp[len] = '\0';
    if (strcmp(tmp, "inf") == 0) {
        *out = (double)INFINITY;
        return 0;
    }
    if (strcmp(tmp, "-inf") == 0) {
        *out = -(double)INFINITY;
        return 0;
    }
    if (strcmp(tmp, "nan") == 0) {
        *out = (double)NAN;
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        /* strtod would also take hex floats, "infinity", spaces: RESP does not. */
        if (!strchr("0123456789+-.eE", tmp[i])) return CS_EDECODE;
    }
    char *end;
    *out = strtod(tmp, &end);
    if (end != tmp + len) return CS_EDECODE;
    return 0;
}

/* A bulk-like payload of n bytes at data[at..); NONE-incomplete is RESP_INCOMPLETE. */
enum { RESP_INCOMPLETE = 1 };

static int resp_read_payload(const uint8_t *data, size_t len, size_t at, int64_t n,
                             size_t bytes_max, size_t *next)
{
    if (n < 0) return CS_EDECODE;
    if ((uint64_t)n > bytes_max) return CS_ETOOBIG;
    size_t need = (size_t)n + 2;
    if (len - at < need) return RESP_INCOMPLETE;
    if (data[at + (size_t)n] != '\r' || data[at + (size_t)n + 1] != '\n') return CS_EDECODE;
    *next = at + need;
    return 0;
}

static int resp_read_aggregate(char marker, int64_t n, size_t bytes_max, struct cs_resp_token *tok)
{
    if (n == -1 && marker == '*') {
        tok->type = CS_RESP_NULL;
        return 0;
    }
    if (n < 0) return CS_EDECODE;
    if ((uint64_t)n > bytes_max) return CS_ETOOBIG;
    tok->type = marker == '*' ? CS_RESP_ARRAY : marker == '%' ? CS_RESP_MAP : CS_RESP_SET;
    tok->integer = n;
    return 0;
}

/* A token whose value is its header line: every type but $ and =. */
static int resp_read_line_token(char marker, const uint8_t *text, size_t text_len, size_t bytes_max,
                                struct cs_resp_token *tok)
{
    int64_t n;
    int rc;
    switch (marker) {
    case '+':
    case '-':
        tok->type = marker == '+' ? CS_RESP_SIMPLE : CS_RESP_ERROR;
        tok->text = text;
        tok->text_len = text_len;
        return 0;
    case ':':
        tok->type = CS_RESP_INT;
        return resp_read_int(text, text_len, &tok->integer);
    case '_':
        tok->type = CS_RESP_NULL;
        return text_len == 0 ? 0 : CS_EDECODE;
    case '#':
        if (text_len != 1 || (text[0] != 't' && text[0] != 'f')) return CS_EDECODE;
        tok->type = CS_RESP_BOOL;
        tok->integer = text[0] == 't';
        return 0;
    case ',':
        tok->type = CS_RESP_DOUBLE;
        return resp_read_double(text, text_len, &tok->number);
    case '*':
    case '%':
    case '~':
        rc = resp_read_int(text, text_len, &n);
        return rc ? rc : resp_read_aggregate(marker, n, bytes_max, tok);
    default:
        return CS_EDECODE;
    }
}

/* "$" or "=": the header line gives a length, the bytes follow. */
static int resp_read_bulk_token(char marker, const uint8_t *data, size_t len, size_t *next,
                                const uint8_t *text, size_t text_len, size_t bytes_max,
                                struct cs_resp_token *tok)
{
    int64_t n;
    int rc = resp_read_int(text, text_len, &n);
    if (rc) return rc;
    if (marker == '$' && n == -1) {
        tok->type = CS_RESP_NULL;
        return 0;
    }
    size_t payload_at = *next;
    rc = resp_read_payload(data, len, payload_at, n, bytes_max, next);
    if (rc) return rc;
    tok->type = CS_RESP_BULK;
    tok->text = data + payload_at;
    tok->text_len = (size_t)n;
    if (marker == '=') {
        if (n < 4 || tok->text[3] != ':') return CS_EDECODE;
        memcpy(tok->format, tok->text, 3);
        tok->type = CS_RESP_VERBATIM;
        tok->text += 4;
        tok->text_len -= 4;
    }
    return 0;
}

int cs_resp_read_token(const uint8_t *data, size_t len, size_t *pos, size_t bytes_max,
                       struct cs_resp_token *tok)
{
    *tok = (struct cs_resp_token){.type = CS_RESP_NONE};
    size_t at = *pos;
    CS_ASSERT(at <= len);
    if (at == len) return 0;
    const uint8_t *nl = memchr(data + at, '\n', len - at);
    if (nl == NULL) return len - at > bytes_max + 3 ? CS_ETOOBIG : 0;
    size_t line_end = (size_t)(nl - data);
    if (line_end == at || data[line_end - 1] != '\r') return CS_EDECODE;
    const uint8_t *text = data + at + 1;
    size_t text_len = line_end - 1 - (at + 1);
    if (text_len > bytes_max) return CS_ETOOBIG;
    size_t next = line_end + 1;
    char marker = (char)data[at];
    int rc = marker == '$' || marker == '='
                 ? resp_read_bulk_token(marker, data, len, &next, text, text_len, bytes_max, tok)
                 : resp_read_line_token(marker, text, text_len, bytes_max, tok);
    if (rc) {
        *tok = (struct cs_resp_token){.type = CS_RESP_NONE};
        return rc == RESP_INCOMPLETE ? 0 : rc;
    }
    CS_ASSERT(tok->type != CS_RESP_NONE);
    CS_ASSERT(next > at && next <= len);
    *pos = next;
    return 0;
}
