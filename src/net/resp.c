/*
 * net/resp.c: the RESP request parser, sans-IO (see consist/resp.h).
 *
 * The one idea: the parser is resumable at every byte and trusts nothing it
 * has not seen. It keeps its place as offsets from the start of the current
 * command in the query buffer (net/inbuf.h), so input may arrive in any
 * split and the buffer may move between reads; a multibulk's argument
 * offsets are recorded as their bulks complete, so no byte is scanned twice.
 * Memory for arguments grows with the arguments that arrived, from at most
 * CS_RESP_ARGS_PREALLOC_MAX up front, never from the declared count.
 *
 * Accepted grammar (as Redis's processMultibulkBuffer/processInlineBuffer,
 * and stricter where Redis is lax):
 *   multibulk: "*" count CRLF, then count times "$" len CRLF <len bytes> CRLF.
 *     count <= 0 is an empty command (skipped); numbers are canonical decimal
 *     (no "+", no leading zero, no "-0"); the CRLF after each bulk is checked
 *     (Redis skips it unchecked, which lets a desync go unnoticed).
 *   inline: any line not starting with "*", ended by LF (a CR before it is
 *     dropped), split on whitespace with Redis's quoting: "..." with \n \r
 *     \t \b \a \\ \" \xHH escapes, '...' with \' only; a closing quote must be
 *     followed by whitespace or the end. Blank lines are skipped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/resp.h"
#include "net/inbuf.h"

struct cs_resp_parser {
    struct cs_resp_limits limits;
    struct cs_net_inbuf in;   /* the query buffer */
    size_t scan;              /* resume offset from in.start, inside the current command */
    size_t inline_scanned;    /* inline: bytes from in.start already searched for LF */
    uint64_t args_declared;   /* multibulk count; 0 while no multibulk is open */
    uint64_t args_done;       /* bulks complete in the open multibulk */
    int64_t bulk_len;         /* -1: a "$" line is expected next; else its length */
    size_t *offs;             /* offsets from in.start of the args_done bulks */
    struct cs_resp_arg *argv; /* the command handed out */
    size_t argv_cap;          /* capacity of offs and of argv, in arguments */
    int err;                  /* sticky framing error, 0 while healthy */
    char errmsg[CS_RESP_ERRMSG_BYTES_MAX];
};

/* Internal step results besides 0 and CS_E codes. */
enum { RESP_NEED = 1, RESP_SKIP = 2 };

/* 18 digits hold any length or count below 10^18, far above every limit. */
_Static_assert(CS_RESP_NUMBER_DIGITS_MAX == 18, "10^18 - 1 fits an int64 with room");
_Static_assert(CS_RESP_ARGS_PREALLOC_MAX >= 8, "prealloc covers small commands");

void cs_resp_limits_default(struct cs_resp_limits *limits)
{
    *limits = (struct cs_resp_limits){
        .bulk_bytes_max = CS_RESP_BULK_BYTES_MAX_DEFAULT,
        .args_max = CS_RESP_ARGS_MAX_DEFAULT,
        .inline_bytes_max = CS_RESP_INLINE_BYTES_MAX_DEFAULT,
        .query_buffer_bytes_max = CS_RESP_QUERY_BUFFER_BYTES_MAX_DEFAULT,
    };
}

int cs_resp_limits_check(const struct cs_resp_limits *limits)
{
    if (limits->bulk_bytes_max == 0 || limits->args_max == 0) return CS_EINVAL;
    if (limits->inline_bytes_max < 2) return CS_EINVAL;
    if (limits->bulk_bytes_max > (size_t)INT64_MAX / 2) return CS_EINVAL;
    if (limits->args_max > CS_RESP_ARGS_CEILING) return CS_EINVAL;
    /* One maximal bulk with its "*1\r\n$<len>\r\n" and trailing CRLF. */
    size_t framing = 2 * CS_RESP_HEADER_LINE_BYTES_MAX + 2;
    if (limits->query_buffer_bytes_max < limits->bulk_bytes_max + framing) return CS_EINVAL;
    if (limits->query_buffer_bytes_max < limits->inline_bytes_max) return CS_EINVAL;
    return 0;
}

int cs_resp_parser_new(const struct cs_resp_limits *limits, struct cs_resp_parser **out)
{
    struct cs_resp_limits defaults;
    if (limits == NULL) {
        cs_resp_limits_default(&defaults);
        limits = &defaults;
    }
    if (cs_resp_limits_check(limits)) return CS_EINVAL;
    struct cs_resp_parser *p = calloc(1, sizeof *p);
    if (p == NULL) return CS_ENOMEM;
    p->limits = *limits;
    cs_net_inbuf_init(&p->in, limits->query_buffer_bytes_max);
    p->bulk_len = -1;
    *out = p;
    return 0;
}

int cs_resp_parser_set_limits(struct cs_resp_parser *p, const struct cs_resp_limits *limits)
{
    if (cs_resp_limits_check(limits)) return CS_EINVAL;
    if (limits->query_buffer_bytes_max < cs_net_inbuf_len(&p->in)) return CS_EINVAL;
    /* A command already open must fit the new limits (its count and pending bulk). */
    if (p->args_declared > limits->args_max) return CS_EINVAL;
    if (p->bulk_len > 0 && (uint64_t)p->bulk_len > limits->bulk_bytes_max) return CS_EINVAL;
    p->limits = *limits;
    p->in.bytes_max = limits->query_buffer_bytes_max;
    return 0;
}

void cs_resp_parser_free(struct cs_resp_parser *p)
{
    if (p == NULL) return;
    cs_net_inbuf_free(&p->in);
    free(p->offs);
    free(p->argv);
    free(p);
}

__attribute__((format(printf, 3, 4))) static int resp_fail(struct cs_resp_parser *p, int rc,
                                                           const char *fmt, ...)
{
    CS_ASSERT(rc == CS_EPARSE || rc == CS_ETOOBIG);
    CS_ASSERT(p->err == 0);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->errmsg, sizeof p->errmsg, fmt, ap);
    va_end(ap);
    p->err = rc;
    return rc;
}

int cs_resp_parser_feed(struct cs_resp_parser *p, const void *bytes, size_t len)
{
    if (p->err) return p->err;
    int rc = cs_net_inbuf_feed(&p->in, bytes, len);
    if (rc == CS_ETOOBIG) {
        return resp_fail(p, rc, "query buffer limit of %zu bytes exceeded",
                         p->limits.query_buffer_bytes_max);
    }
    return rc;
}

int cs_resp_parser_reserve(struct cs_resp_parser *p, size_t want, uint8_t **space,
                           size_t *space_len)
{
    if (p->err) return p->err;
    int rc = cs_net_inbuf_reserve(&p->in, want, space, space_len);
    if (rc == CS_ETOOBIG) {
        return resp_fail(p, rc, "query buffer limit of %zu bytes exceeded",
                         p->limits.query_buffer_bytes_max);
    }
    return rc;
}

void cs_resp_parser_commit(struct cs_resp_parser *p, size_t n)
{
    cs_net_inbuf_commit(&p->in, n);
}

const char *cs_resp_parser_errmsg(const struct cs_resp_parser *p)
{
    return p->errmsg;
}

size_t cs_resp_parser_buffered(const struct cs_resp_parser *p)
{
    return cs_net_inbuf_len(&p->in);
}

size_t cs_resp_parser_memory(const struct cs_resp_parser *p)
{
    return sizeof *p + cs_net_inbuf_memory(&p->in) +
           p->argv_cap * (sizeof p->offs[0] + sizeof p->argv[0]);
}

/* Room for need arguments in offs and argv; need <= args_max. */
static int resp_argv_reserve(struct cs_resp_parser *p, size_t need)
{
    CS_ASSERT(need <= p->limits.args_max);
    if (need <= p->argv_cap) return 0;
    size_t cap = p->argv_cap ? p->argv_cap : 8;
    while (cap < need)
        cap *= 2;
    if (cap > p->limits.args_max) cap = p->limits.args_max;
    size_t *offs = realloc(p->offs, cap * sizeof *offs);
    if (offs == NULL) return CS_ENOMEM;
    p->offs = offs;
    struct cs_resp_arg *argv = realloc(p->argv, cap * sizeof *argv);
    if (argv == NULL) return CS_ENOMEM;
    p->argv = argv;
    p->argv_cap = cap;
    return 0;
}

/* Back to CS_RESP_ARGS_PREALLOC_MAX slots; the previous argv is dead (see resp.h). */
static void resp_argv_shrink(struct cs_resp_parser *p)
{
    CS_ASSERT(p->args_declared == 0);
    size_t cap = CS_RESP_ARGS_PREALLOC_MAX;
    size_t *offs = realloc(p->offs, cap * sizeof *offs);
    if (offs != NULL) p->offs = offs;
    struct cs_resp_arg *argv = realloc(p->argv, cap * sizeof *argv);
    if (argv != NULL) p->argv = argv;
    /* A failed shrink keeps the larger block, which still holds cap slots. */
    p->argv_cap = cap;
}

/*
 * Parse "<marker><canonical decimal>\r\n" at base[at..avail). Returns 0 with
 * *value and *next (offset after the LF), RESP_NEED, or CS_EPARSE (not a
 * canonical number of at most CS_RESP_NUMBER_DIGITS_MAX digits, or no CRLF
 * right after it). The digit bound also bounds the line: a peer cannot make
 * the parser wait on an endless header.
 */
static int resp_parse_number_line(const uint8_t *base, size_t avail, size_t at, int64_t *value,
                                  size_t *next)
{
    size_t i = at + 1;
    bool negative = i < avail && base[i] == '-';
    if (negative) i++;
    size_t digits_at = i;
    uint64_t v = 0;
    while (i < avail && base[i] >= '0' && base[i] <= '9') {
        v = v * 10 + (uint64_t)(base[i] - '0');
        i++;
        if (i - digits_at > CS_RESP_NUMBER_DIGITS_MAX) return CS_EPARSE;
    }
    if (i == avail) return RESP_NEED;
    if (base[i] != '\r') return CS_EPARSE;
    if (i + 1 == avail) return RESP_NEED;
    if (base[i + 1] != '\n') return CS_EPARSE;
    size_t digits = i - digits_at;
    if (digits == 0) return CS_EPARSE;
    if (base[digits_at] == '0' && (digits > 1 || negative)) return CS_EPARSE;
    CS_ASSERT(i + 2 - at <= CS_RESP_HEADER_LINE_BYTES_MAX);
    *value = negative ? -(int64_t)v : (int64_t)v;
    *next = i + 2;
    return 0;
}

/* "*<count>\r\n" at the start of the command: open the multibulk. */
static int resp_open_multibulk(struct cs_resp_parser *p, const uint8_t *base, size_t avail)
{
    CS_ASSERT(p->args_declared == 0 && p->scan == 0);
    CS_ASSERT(avail > 0 && base[0] == '*');
    int64_t count;
    size_t next;
    int rc = resp_parse_number_line(base, avail, 0, &count, &next);
    if (rc == RESP_NEED) return rc;
    if (rc) return resp_fail(p, rc, "invalid multibulk length");
    if (count <= 0) {
        cs_net_inbuf_consume(&p->in, next);
        return RESP_SKIP;
    }
    if ((uint64_t)count > p->limits.args_max) {
        return resp_fail(p, CS_ETOOBIG, "invalid multibulk length: %lld arguments, at most %zu",
                         (long long)count, p->limits.args_max);
    }
    size_t prealloc =
        (uint64_t)count < CS_RESP_ARGS_PREALLOC_MAX ? (size_t)count : CS_RESP_ARGS_PREALLOC_MAX;
    if (p->argv_cap > CS_RESP_ARGS_PREALLOC_MAX && prealloc < CS_RESP_ARGS_PREALLOC_MAX) {
        resp_argv_shrink(p); /* one huge command must not pin its argv forever */
    }
    rc = resp_argv_reserve(p, prealloc);
    if (rc) return rc;
    p->args_declared = (uint64_t)count;
    p->args_done = 0;
    p->bulk_len = -1;
    p->scan = next;
    return 0;
}

/* Read bulks until the open multibulk is complete (0) or input runs out (RESP_NEED). */
static int resp_read_bulks(struct cs_resp_parser *p, const uint8_t *base, size_t avail)
{
    CS_ASSERT(p->args_declared > 0 && p->args_declared <= p->limits.args_max);
    while (p->args_done < p->args_declared) {
        size_t at = p->scan;
        CS_ASSERT(at <= avail);
        CS_ASSERT(p->args_done <= p->argv_cap);
        CS_ASSERT(p->bulk_len < 0 || (uint64_t)p->bulk_len <= p->limits.bulk_bytes_max);
        if (p->bulk_len < 0) {
            if (at == avail) return RESP_NEED;
            if (base[at] != '$') {
                return resp_fail(p, CS_EPARSE, "expected '$', got '%c'",
                                 base[at] >= 0x20 && base[at] < 0x7f ? base[at] : '?');
            }
            int64_t len;
            size_t next;
            int rc = resp_parse_number_line(base, avail, at, &len, &next);
            if (rc == RESP_NEED) return rc;
            if (rc || len < 0) return resp_fail(p, CS_EPARSE, "invalid bulk length");
            if ((uint64_t)len > p->limits.bulk_bytes_max) {
                return resp_fail(p, CS_ETOOBIG, "invalid bulk length: %lld bytes, at most %zu",
                                 (long long)len, p->limits.bulk_bytes_max);
            }
            p->bulk_len = len;
            p->scan = at = next;
        }
        size_t len = (size_t)p->bulk_len;
        if (avail - at < len + 2) return RESP_NEED;
        if (base[at + len] != '\r' || base[at + len + 1] != '\n') {
            return resp_fail(p, CS_EPARSE, "bulk data not followed by CRLF");
        }
        int rc = resp_argv_reserve(p, (size_t)p->args_done + 1);
        if (rc) return rc;
        p->offs[p->args_done] = at;
        p->argv[p->args_done].len = len;
        p->args_done++;
        p->bulk_len = -1;
        p->scan = at + len + 2;
    }
    return 0;
}

static bool resp_is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int resp_hex(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/*
 * Unquote one inline token in place starting at line[*i]; the bytes go to
 * line[*w...] (w <= i always: output never outgrows input). Returns 0 with
 * *i past the token, or CS_EPARSE for unbalanced quotes.
 */
static int resp_inline_token(uint8_t *line, size_t n, size_t *i_io, size_t *w_io)
{
    size_t i = *i_io, w = *w_io;
    uint8_t quote = 0;
    for (;;) {
        if (i == n) {
            if (quote) return CS_EPARSE;
            break;
        }
        uint8_t c = line[i];
        if (quote == 0) {
            if (resp_is_space(c)) break;
            if (c == '"' || c == '\'') {
                quote = c;
                i++;
                continue;
            }
            line[w++] = c;
            i++;
            continue;
        }
        if (c == quote) {
            /* A closing quote must end the token. */
            if (i + 1 < n && !resp_is_space(line[i + 1])) return CS_EPARSE;
            i++;
            quote = 0;
            break;
        }
        if (c == '\\' && i + 1 < n) {
            uint8_t e = line[i + 1];
            if (quote == '\'') {
                if (e == '\'') {
                    line[w++] = e;
                    i += 2;
                    continue;
                }
            } else if (e == 'x' && i + 3 < n && resp_hex(line[i + 2]) >= 0 &&
                       resp_hex(line[i + 3]) >= 0) {
                line[w++] = (uint8_t)(resp_hex(line[i + 2]) * 16 + resp_hex(line[i + 3]));
                i += 4;
                continue;
            } else {
                static const char from[] = "nrtba", to[] = "\n\r\t\b\a";
                const char *hit = memchr(from, e, 5);
                line[w++] = hit ? (uint8_t)to[hit - from] : e;
                i += 2;
                continue;
            }
        }
        line[w++] = c;
        i++;
    }
    CS_ASSERT(w <= i);
    *i_io = i;
    *w_io = w;
    return 0;
}

/* An inline command: one line, split in place. 0 (command in argv), RESP_NEED, RESP_SKIP, error. */
static int resp_read_inline(struct cs_resp_parser *p, uint8_t *base, size_t avail, size_t *argc,
                            size_t *wire_bytes)
{
    size_t max = p->limits.inline_bytes_max;
    size_t end = avail < max ? avail : max;
    CS_ASSERT(p->inline_scanned <= end);
    const uint8_t *nl = memchr(base + p->inline_scanned, '\n', end - p->inline_scanned);
    if (nl == NULL) {
        p->inline_scanned = end;
        if (avail >= max) return resp_fail(p, CS_ETOOBIG, "too big inline request");
        return RESP_NEED;
    }
    p->inline_scanned = 0;
    size_t line_len = (size_t)(nl - base);
    *wire_bytes = line_len + 1;
    if (line_len > 0 && base[line_len - 1] == '\r') line_len--;
    size_t n = 0, i = 0;
    for (;;) {
        while (i < line_len && resp_is_space(base[i]))
            i++;
        if (i == line_len) break;
        if (n == p->limits.args_max) {
            return resp_fail(p, CS_ETOOBIG, "too many arguments in inline request, at most %zu",
                             p->limits.args_max);
        }
        int rc = resp_argv_reserve(p, n + 1);
        if (rc) return rc;
        size_t token_at = i, w = i;
        rc = resp_inline_token(base, line_len, &i, &w);
        if (rc) return resp_fail(p, rc, "unbalanced quotes in request");
        if (w - token_at > p->limits.bulk_bytes_max) {
            return resp_fail(p, CS_ETOOBIG, "inline argument of %zu bytes, at most %zu",
                             w - token_at, p->limits.bulk_bytes_max);
        }
        p->argv[n].data = base + token_at;
        p->argv[n].len = w - token_at;
        n++;
    }
    *argc = n;
    if (n == 0) {
        cs_net_inbuf_consume(&p->in, *wire_bytes);
        return RESP_SKIP;
    }
    return 0;
}

static int resp_next(struct cs_resp_parser *p, struct cs_resp_command *cmd)
{
    for (;;) {
        uint8_t *base = cs_net_inbuf_head(&p->in);
        size_t avail = cs_net_inbuf_len(&p->in);
        int rc;
        CS_ASSERT(avail <= p->limits.query_buffer_bytes_max);
        if (p->args_declared == 0) {
            CS_ASSERT(p->scan == 0 && p->args_done == 0 && p->bulk_len < 0);
            if (avail == 0) return 0;
            if (base[0] != '*') {
                size_t argc = 0, wire = 0;
                rc = resp_read_inline(p, base, avail, &argc, &wire);
                if (rc == RESP_SKIP) continue;
                if (rc == RESP_NEED) return 0;
                if (rc) return rc;
                cmd->argv = p->argv;
                cmd->argc = argc;
                cmd->wire_bytes = wire;
                cmd->inline_form = true;
                cs_net_inbuf_consume(&p->in, wire);
                return 0;
            }
            rc = resp_open_multibulk(p, base, avail);
            if (rc == RESP_SKIP) continue;
            if (rc == RESP_NEED) return 0;
            if (rc) return rc;
        }
        rc = resp_read_bulks(p, base, avail);
        if (rc == RESP_NEED) return 0;
        if (rc) return rc;
        CS_ASSERT(p->args_done == p->args_declared);
        size_t argc = (size_t)p->args_done;
        for (size_t k = 0; k < argc; k++)
            p->argv[k].data = base + p->offs[k];
        cmd->argv = p->argv;
        cmd->argc = argc;
        cmd->wire_bytes = p->scan;
        cs_net_inbuf_consume(&p->in, p->scan);
        p->scan = 0;
        p->args_declared = 0;
        p->args_done = 0;
        return 0;
    }
}

int cs_resp_parser_next(struct cs_resp_parser *p, struct cs_resp_command *cmd)
{
    *cmd = (struct cs_resp_command){0};
    if (p->err) return p->err;
    int rc = resp_next(p, cmd);
    /* An allocation failure may leave an inline line half unquoted in place:
     * the command cannot be retried, so it ends the connection too. */
    if (rc == CS_ENOMEM) {
        p->err = rc;
        snprintf(p->errmsg, sizeof p->errmsg, "out of memory");
    }
    CS_ASSERT(rc <= 0);
    return rc;
}
