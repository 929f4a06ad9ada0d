/*
 * consist/resp.h: the Redis wire protocol (RESP2 and RESP3), sans-IO.
 *
 * Three parts, none of which touches a socket:
 *   - a request parser: feed it bytes in any split, take whole commands out
 *     as argv arrays of byte strings (multibulk, as every client library
 *     sends, and inline, as typed into telnet);
 *   - a reply writer for RESP2 and RESP3 into a bounded struct cs_buf;
 *   - a reply reader (pull tokens out of a reply stream), for clients, tests
 *     and tools.
 *
 * The one idea: a peer's declared lengths and counts are claims, not facts.
 * The parser checks each against a named limit and allocates only for bytes
 * that have actually arrived, so memory stays bounded by what a client sent
 * (and by the limits) whatever it claims. Commands are returned as views into
 * the parser's buffer: the common pipelined case copies nothing.
 *
 * A framing error (CS_EPARSE, CS_ETOOBIG) is final: the server replies
 * "-ERR protocol error: <cs_resp_parser_errmsg()>" and closes the connection,
 * because past a desync no later byte can be trusted to start a command.
 *
 * Threading: a parser or writer belongs to one connection; no locking.
 */
#ifndef CONSIST_RESP_H
#define CONSIST_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits ------------------------------------------------------------ */

/* Largest bulk string in a request (Redis proto-max-bulk-len, 512 MiB). */
#define CS_RESP_BULK_BYTES_MAX_DEFAULT (512u * 1024u * 1024u)
/* Most arguments in one command. Redis allows INT_MAX; 1 Mi keeps a
 * fully-populated argv at 16 MiB of views. */
#define CS_RESP_ARGS_MAX_DEFAULT (1024u * 1024u)
/* No configuration may raise args_max past Redis's own bound (INT_MAX). */
#define CS_RESP_ARGS_CEILING 2147483647u
/* Longest inline command line, newline included (Redis PROTO_INLINE_MAX_SIZE). */
#define CS_RESP_INLINE_BYTES_MAX_DEFAULT (64u * 1024u)
/* Most unconsumed bytes buffered per client (Redis client-query-buffer-limit
 * is 1 GiB; a query must hold one maximal bulk plus its framing). */
#define CS_RESP_QUERY_BUFFER_BYTES_MAX_DEFAULT (1024u * 1024u * 1024u)
/* Most digits in a "*<count>" or "$<len>" line: every limit is far below 10^18,
 * so a longer number is garbage, and the header line is bounded with it. */
#define CS_RESP_NUMBER_DIGITS_MAX 18
/* Longest "*<count>\r\n" or "$<len>\r\n" line: marker, sign, digits, CRLF. */
#define CS_RESP_HEADER_LINE_BYTES_MAX (1 + 1 + CS_RESP_NUMBER_DIGITS_MAX + 2)
/* argv space reserved up front for a multibulk, whatever count is declared
 * (Redis caps its preallocation at 1024 too); beyond it argv grows as
 * arguments actually arrive. */
#define CS_RESP_ARGS_PREALLOC_MAX 1024
/* Longest parser error message, NUL included. */
#define CS_RESP_ERRMSG_BYTES_MAX 128

struct cs_resp_limits {
    size_t bulk_bytes_max;         /* one argument, bulk or inline */
    size_t args_max;               /* arguments per command (multibulk or inline) */
    size_t inline_bytes_max;       /* one inline command line, "\n" included */
    size_t query_buffer_bytes_max; /* unconsumed bytes held per client */
};

/* cs_resp_limits_default: the defaults above. */
void cs_resp_limits_default(struct cs_resp_limits *limits);

/*
 * cs_resp_limits_check: 0 if the limits are usable together, else CS_EINVAL:
 * every limit > 0, args_max <= CS_RESP_ARGS_CEILING, and the query buffer
 * can hold one maximal bulk with its framing and one maximal inline line.
 */
int cs_resp_limits_check(const struct cs_resp_limits *limits);

/* ---- request parser ---------------------------------------------------- */

/* One argument: a view of len bytes (not NUL-terminated; may hold any byte). */
struct cs_resp_arg {
    const uint8_t *data;
    size_t len;
};

struct cs_resp_command {
    const struct cs_resp_arg *argv; /* argc views, owned by the parser */
    size_t argc;                    /* 0: no complete command yet */
    size_t wire_bytes;              /* bytes of input the command took */
    bool inline_form;               /* came as an inline line, not a multibulk */
};

/* The parser: opaque, one per connection. */
struct cs_resp_parser;

/*
 * cs_resp_parser_new: an empty parser with a copy of limits (NULL: the
 * defaults), in *out; free it with cs_resp_parser_free. Allocates only the
 * parser itself until bytes arrive. Returns 0, CS_EINVAL (limits fail
 * cs_resp_limits_check) or CS_ENOMEM.
 */
int cs_resp_parser_new(const struct cs_resp_limits *limits, struct cs_resp_parser **out);

/* cs_resp_parser_free: release the parser and all its memory (NULL is a no-op). */
void cs_resp_parser_free(struct cs_resp_parser *p);

/*
 * cs_resp_parser_set_limits: change a live parser's limits (CONFIG SET, or
 * Redis-style tighter limits until a client authenticates), best between
 * commands. They apply to every header parsed from now on. Returns 0, or
 * CS_EINVAL with the parser unchanged: the limits fail cs_resp_limits_check,
 * or the command already open does not fit them (its count, its pending
 * bulk, or the bytes already buffered).
 */
int cs_resp_parser_set_limits(struct cs_resp_parser *p, const struct cs_resp_limits *limits);

/*
 * cs_resp_parser_feed: copy len bytes of input in.
 * Returns 0, CS_ETOOBIG (the unconsumed bytes would pass
 * query_buffer_bytes_max; nothing is copied, the error is sticky: close the
 * client, as Redis does) or CS_ENOMEM. Invalidates views from earlier commands.
 */
int cs_resp_parser_feed(struct cs_resp_parser *p, const void *bytes, size_t len);

/*
 * cs_resp_parser_reserve / _commit: receive without an extra copy, as a
 * libuv alloc_cb/read_cb pair: reserve gives space for up to want bytes
 * (less near the query limit), the read fills n <= *space_len of them, commit
 * makes them input. Drain cs_resp_parser_next first: a reserve that finds the
 * query buffer full of one unfinished command fails with CS_ETOOBIG
 * (sticky). Returns 0, CS_ETOOBIG or CS_ENOMEM. Invalidates earlier views.
 */
int cs_resp_parser_reserve(struct cs_resp_parser *p, size_t want, uint8_t **space,
                           size_t *space_len);
void cs_resp_parser_commit(struct cs_resp_parser *p, size_t n);

/*
 * cs_resp_parser_next: take the next complete command.
 * Returns 0 with cmd->argc > 0 when a command was taken, 0 with
 * cmd->argc == 0 when more bytes are needed, or a sticky framing error:
 * CS_EPARSE (malformed) or CS_ETOOBIG (a limit passed), with the reason in
 * cs_resp_parser_errmsg; also CS_ENOMEM (sticky as well). Empty commands
 * ("*0\r\n", "*-1\r\n", blank inline lines) are skipped, as Redis does.
 *
 * Lifetime: cmd->argv is valid until the next call on the parser; the bytes
 * the views point at stay valid across further _next calls, until the next
 * _feed, _reserve or _free. So a server may take every command in a read
 * (keeping the argv it needs), then reply, then read again.
 */
int cs_resp_parser_next(struct cs_resp_parser *p, struct cs_resp_command *cmd);

/* cs_resp_parser_errmsg: why the parser failed ("" if it has not). Static per parser. */
const char *cs_resp_parser_errmsg(const struct cs_resp_parser *p);

/* cs_resp_parser_buffered: unconsumed input bytes (the client's query buffer length). */
size_t cs_resp_parser_buffered(const struct cs_resp_parser *p);

/* cs_resp_parser_memory: bytes the parser has allocated (buffer and argv). */
size_t cs_resp_parser_memory(const struct cs_resp_parser *p);

/* ---- reply writer ------------------------------------------------------ */

/* The longest error message written (longer ones are cut), code word included. */
#define CS_RESP_ERROR_BYTES_MAX 512

/*
 * A reply writer: appends replies to out, in protocol version 2 or 3
 * (HELLO 3 switches a connection to RESP3). Output is bounded by
 * out->bytes_max: past it out's sticky error (CS_ETOOBIG, or CS_ENOSPACE for
 * a fixed buffer) is returned by every write and the server closes the client,
 * as Redis does past its output buffer limit. Writers return 0 or that error.
 */
struct cs_resp_writer {
    struct cs_buf *out;
    int proto; /* 2 or 3 */
};

void cs_resp_writer_init(struct cs_resp_writer *w, struct cs_buf *out, int proto);

/* +<text>: CR and LF in text become spaces (a reply never breaks the framing). */
int cs_resp_write_simple(struct cs_resp_writer *w, const char *text, size_t len);
/* "+OK". */
int cs_resp_write_ok(struct cs_resp_writer *w);
/*
 * -<CODE> <message>: code is one word of capitals ("ERR", "WRONGTYPE",
 * "TRYAGAIN", "NOQUORUM"); CR and LF in message become spaces; the whole line
 * is cut at CS_RESP_ERROR_BYTES_MAX.
 */
int cs_resp_write_error(struct cs_resp_writer *w, const char *code, const char *message);
/* -ERR protocol error: <reason>  (reply, then close the connection). */
int cs_resp_write_protocol_error(struct cs_resp_writer *w, const char *reason);
/* :<n> */
int cs_resp_write_int(struct cs_resp_writer *w, int64_t n);
/* $<len>\r\n<bytes>\r\n */
int cs_resp_write_bulk(struct cs_resp_writer *w, const void *bytes, size_t len);
/* RESP2 "$-1", RESP3 "_". */
int cs_resp_write_null(struct cs_resp_writer *w);
/* RESP2 "*-1" (a null array, as EXEC after a failed WATCH), RESP3 "_". */
int cs_resp_write_null_array(struct cs_resp_writer *w);
/* *<count>: count elements follow. */
int cs_resp_write_array(struct cs_resp_writer *w, size_t count);
/* RESP3 %<pairs>; RESP2 *<2*pairs> (flattened key, value, ...). */
int cs_resp_write_map(struct cs_resp_writer *w, size_t pairs);
/* RESP3 ~<count>; RESP2 *<count>. */
int cs_resp_write_set(struct cs_resp_writer *w, size_t count);
/* RESP3 ,<d> ("inf", "-inf", "nan"); RESP2 the same text as a bulk string. %.17g round-trips. */
int cs_resp_write_double(struct cs_resp_writer *w, double d);
/* RESP3 #t / #f; RESP2 :1 / :0. */
int cs_resp_write_bool(struct cs_resp_writer *w, bool b);
/* RESP3 =<len+4>\r\n<fmt>:<text> (fmt is three letters, "txt" or "mkd"); RESP2 a bulk. */
int cs_resp_write_verbatim(struct cs_resp_writer *w, const char *fmt, const void *text, size_t len);

/* ---- reply reader ------------------------------------------------------ */

enum cs_resp_type {
    CS_RESP_NONE = 0, /* no complete token yet */
    CS_RESP_SIMPLE,   /* + text */
    CS_RESP_ERROR,    /* - text */
    CS_RESP_INT,      /* : integer */
    CS_RESP_BULK,     /* $ text */
    CS_RESP_NULL,     /* _ , $-1 or *-1 */
    CS_RESP_ARRAY,    /* * count */
    CS_RESP_MAP,      /* % count of pairs */
    CS_RESP_SET,      /* ~ count */
    CS_RESP_DOUBLE,   /* , number */
    CS_RESP_BOOL,     /* # t|f */
    CS_RESP_VERBATIM, /* = fmt:text (text holds the bytes after "fmt:") */
};

/* One token of a reply stream; aggregates are headers, elements follow as tokens. */
struct cs_resp_token {
    enum cs_resp_type type;
    const uint8_t *text; /* SIMPLE, ERROR, BULK, VERBATIM: a view into the input */
    size_t text_len;
    int64_t integer; /* INT; count for ARRAY, MAP, SET; 0/1 for BOOL */
    double number;   /* DOUBLE */
    char format[4];  /* VERBATIM: "txt", NUL-terminated */
};

/*
 * cs_resp_read_token: read one token from data[*pos..len), a contiguous
 * reply stream the caller owns. Returns 0 and advances *pos (tok->type !=
 * CS_RESP_NONE), 0 with tok->type == CS_RESP_NONE and *pos unchanged when the
 * token is incomplete, CS_EDECODE when malformed, CS_ETOOBIG when a length
 * or count passes bytes_max. Allocates nothing; depth is the caller's.
 */
int cs_resp_read_token(const uint8_t *data, size_t len, size_t *pos, size_t bytes_max,
                       struct cs_resp_token *tok);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_RESP_H */
