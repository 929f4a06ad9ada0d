/*
 * net_resp.c: the RESP request parser's contract, case by case.
 *
 * Method: each case feeds a literal byte string (whole, and byte by byte,
 * which must give the same commands) and checks the argv, the error code and
 * the error message. Every limit is tested at its value and one past it, and
 * memory is measured after feeding huge declared lengths with few bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/resp.h"
#include "testlib.h"

/* Commands collected from a parse, flattened as "argc:arg|arg|...;" text. */
struct transcript {
    char text[8192];
    size_t len;
    int rc;
};

static void transcript_add(struct transcript *t, const struct cs_resp_command *cmd)
{
    t->len += (size_t)snprintf(t->text + t->len, sizeof t->text - t->len, "%zu:", cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++) {
        CS_CHECK(t->len + cmd->argv[i].len + 2 < sizeof t->text);
        memcpy(t->text + t->len, cmd->argv[i].data, cmd->argv[i].len);
        t->len += cmd->argv[i].len;
        t->text[t->len++] = i + 1 < cmd->argc ? '|' : ';';
    }
    t->text[t->len] = '\0';
}

/* Parse input fed in chunks of chunk bytes (0: all at once). */
static struct transcript parse_chunked(const struct cs_resp_limits *limits, const char *input,
                                       size_t len, size_t chunk)
{
    struct transcript t = {.rc = 0};
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(limits, &p));
    size_t at = 0;
    if (chunk == 0) chunk = len ? len : 1;
    while (t.rc == 0) {
        struct cs_resp_command cmd;
        t.rc = cs_resp_parser_next(p, &cmd);
        if (t.rc) break;
        if (cmd.argc > 0) {
            transcript_add(&t, &cmd);
            continue;
        }
        if (at == len) break;
        size_t n = len - at < chunk ? len - at : chunk;
        t.rc = cs_resp_parser_feed(p, input + at, n);
        at += n;
    }
    if (t.rc) {
        t.len += (size_t)snprintf(t.text + t.len, sizeof t.text - t.len, "!%s",
                                  cs_resp_parser_errmsg(p));
    }
    cs_resp_parser_free(p);
    return t;
}

/* Whole and byte-by-byte parses agree, and equal want (rc and transcript). */
static void expect_parse(const struct cs_resp_limits *limits, const char *input, size_t len,
                         int want_rc, const char *want)
{
    struct transcript whole = parse_chunked(limits, input, len, 0);
    struct transcript bytes = parse_chunked(limits, input, len, 1);
    CS_CHECK_STR(whole.text, want);
    CS_CHECK_RC(whole.rc, want_rc);
    CS_CHECK_STR(bytes.text, want);
    CS_CHECK_RC(bytes.rc, want_rc);
}

#define EXPECT(input, rc, want) expect_parse(NULL, input, sizeof(input) - 1, rc, want)

CS_TEST(multibulk_commands)
{
    EXPECT("*1\r\n$4\r\nPING\r\n", 0, "1:PING;");
    EXPECT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", 0, "3:SET|k|hello;");
    EXPECT("*2\r\n$3\r\nGET\r\n$0\r\n\r\n", 0, "2:GET|;");
    /* Binary bytes, CRLF inside a bulk, pipelined. */
    EXPECT("*2\r\n$4\r\nECHO\r\n$4\r\n\r\n\r\n\r\n*1\r\n$4\r\nPING\r\n", 0,
           "2:ECHO|\r\n\r\n;1:PING;");
}

CS_TEST(inline_commands)
{
    EXPECT("PING\r\n", 0, "1:PING;");
    EXPECT("PING\n", 0, "1:PING;");
    EXPECT("  SET   k  v \t\r\n", 0, "3:SET|k|v;");
    EXPECT("SET k \"hello world\"\r\n", 0, "3:SET|k|hello world;");
    EXPECT("SET k \"a\\x41\\n\\\"\\\\\"\r\n", 0, "3:SET|k|aA\n\"\\;");
    EXPECT("SET k 'it\\'s'\r\n", 0, "3:SET|k|it's;");
    EXPECT("SET k 'a\\nb'\r\n", 0, "3:SET|k|a\\nb;");
    EXPECT("SET k \"\"\r\n", 0, "3:SET|k|;");
    EXPECT("SET k \"unbalanced\r\n", CS_EPARSE, "!unbalanced quotes in request");
    EXPECT("SET k \"a\"b\r\n", CS_EPARSE, "!unbalanced quotes in request");
    /* Inline and multibulk interleave. */
    EXPECT("PING\r\n*1\r\n$4\r\nPING\r\nECHO x\r\n", 0, "1:PING;1:PING;2:ECHO|x;");
}

CS_TEST(empty_commands_are_skipped)
{
    EXPECT("*0\r\n*-1\r\n\r\n   \n*1\r\n$4\r\nPING\r\n", 0, "1:PING;");
}

CS_TEST(malformed_multibulk)
{
    EXPECT("*abc\r\n", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*01\r\n", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*-0\r\n", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*+1\r\n", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*1\n", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*\r\n", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*1\r\n:5\r\n", CS_EPARSE, "!expected '$', got ':'");
    EXPECT("*1\r\n$-1\r\n", CS_EPARSE, "!invalid bulk length");
    EXPECT("*1\r\n$x\r\n", CS_EPARSE, "!invalid bulk length");
    EXPECT("*1\r\n$1\r\nab\r\n", CS_EPARSE, "!bulk data not followed by CRLF");
    EXPECT("*1\r\n$1\r\na\n\r", CS_EPARSE, "!bulk data not followed by CRLF");
    /* 18 digits at most: a header line cannot grow without end. */
    EXPECT("*1\r\n$1234567890123456789", CS_EPARSE, "!invalid bulk length");
    EXPECT("*1234567890123456789", CS_EPARSE, "!invalid multibulk length");
    EXPECT("*1\r\n$123456789012345678", 0, "");
    EXPECT("*1\r\n$12x", CS_EPARSE, "!invalid bulk length");
    /* Incomplete input is not an error. */
    EXPECT("*2\r\n$3\r\nGET\r\n$1\r\n", 0, "");
}

CS_TEST(errors_are_sticky)
{
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    CS_CHECK_OK(cs_resp_parser_feed(p, "*x\r\n", 4));
    struct cs_resp_command cmd;
    CS_CHECK_RC(cs_resp_parser_next(p, &cmd), CS_EPARSE);
    CS_CHECK_RC(cs_resp_parser_feed(p, "PING\r\n", 6), CS_EPARSE);
    CS_CHECK_RC(cs_resp_parser_next(p, &cmd), CS_EPARSE);
    CS_CHECK_EQ(cmd.argc, 0);
    CS_CHECK_STR(cs_resp_parser_errmsg(p), "invalid multibulk length");
    cs_resp_parser_free(p);
}

static struct cs_resp_limits small_limits(void)
{
    struct cs_resp_limits l;
    cs_resp_limits_default(&l);
    l.bulk_bytes_max = 10;
    l.args_max = 4;
    l.inline_bytes_max = 16;
    l.query_buffer_bytes_max = 200;
    return l;
}

CS_TEST(bulk_limit)
{
    struct cs_resp_limits l = small_limits();
    const char at[] = "*1\r\n$10\r\n0123456789\r\n";
    expect_parse(&l, at, sizeof at - 1, 0, "1:0123456789;");
    const char past[] = "*1\r\n$11\r\n";
    expect_parse(&l, past, sizeof past - 1, CS_ETOOBIG,
                 "!invalid bulk length: 11 bytes, at most 10");
    /* The same limit holds for inline arguments. */
    const char inline_at[] = "E 0123456789\n";
    expect_parse(&l, inline_at, sizeof inline_at - 1, 0, "2:E|0123456789;");
    const char inline_past[] = "E 01234567890\n";
    expect_parse(&l, inline_past, sizeof inline_past - 1, CS_ETOOBIG,
                 "!inline argument of 11 bytes, at most 10");
}

CS_TEST(args_limit)
{
    struct cs_resp_limits l = small_limits();
    const char at[] = "*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n";
    expect_parse(&l, at, sizeof at - 1, 0, "4:a|b|c|d;");
    const char past[] = "*5\r\n";
    expect_parse(&l, past, sizeof past - 1, CS_ETOOBIG,
                 "!invalid multibulk length: 5 arguments, at most 4");
    const char inline_at[] = "a b c d\n";
    expect_parse(&l, inline_at, sizeof inline_at - 1, 0, "4:a|b|c|d;");
    const char inline_past[] = "a b c d e\n";
    expect_parse(&l, inline_past, sizeof inline_past - 1, CS_ETOOBIG,
                 "!too many arguments in inline request, at most 4");
}

CS_TEST(inline_limit)
{
    struct cs_resp_limits l = small_limits();
    /* 16 bytes with the newline: accepted; 17: refused, with or without a newline. */
    const char at[] = "ECHO 0123456789\n";
    CS_CHECK_EQ(sizeof at - 1, 16);
    expect_parse(&l, at, sizeof at - 1, 0, "2:ECHO|0123456789;");
    const char past[] = "ECHO 01234567890\n";
    expect_parse(&l, past, sizeof past - 1, CS_ETOOBIG, "!too big inline request");
    const char unended[] = "ECHO 01234567890";
    expect_parse(&l, unended, sizeof unended - 1, CS_ETOOBIG, "!too big inline request");
    const char short_unended[] = "ECHO 0123456789";
    expect_parse(&l, short_unended, sizeof short_unended - 1, 0, "");
}

CS_TEST(query_buffer_limit)
{
    struct cs_resp_limits l = small_limits();
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(&l, &p));
    char bytes[201];
    memcpy(bytes, "*4\r\n", 4);
    memset(bytes + 4, '$', sizeof bytes - 4);
    /* Exactly the limit buffers; one byte more is refused and ends the client. */
    CS_CHECK_OK(cs_resp_parser_feed(p, bytes, 4));
    CS_CHECK_OK(cs_resp_parser_feed(p, bytes + 4, 196));
    CS_CHECK_EQ(cs_resp_parser_buffered(p), 200);
    CS_CHECK_RC(cs_resp_parser_feed(p, bytes, 1), CS_ETOOBIG);
    CS_CHECK_STR(cs_resp_parser_errmsg(p), "query buffer limit of 200 bytes exceeded");
    cs_resp_parser_free(p);

    /* Through reserve: space shrinks to what the limit leaves, then fails. */
    CS_CHECK_OK(cs_resp_parser_new(&l, &p));
    uint8_t *space;
    size_t space_len;
    CS_CHECK_OK(cs_resp_parser_reserve(p, 150, &space, &space_len));
    CS_CHECK_EQ(space_len, 150);
    memset(space, 'x', space_len);
    cs_resp_parser_commit(p, space_len);
    CS_CHECK_OK(cs_resp_parser_reserve(p, 150, &space, &space_len));
    CS_CHECK_EQ(space_len, 50);
    memset(space, 'x', space_len);
    cs_resp_parser_commit(p, space_len);
    CS_CHECK_RC(cs_resp_parser_reserve(p, 1, &space, &space_len), CS_ETOOBIG);
    cs_resp_parser_free(p);
}

CS_TEST(limits_check)
{
    struct cs_resp_limits l;
    cs_resp_limits_default(&l);
    CS_CHECK_OK(cs_resp_limits_check(&l));
    l.query_buffer_bytes_max = l.bulk_bytes_max; /* no room for a maximal bulk's framing */
    CS_CHECK_RC(cs_resp_limits_check(&l), CS_EINVAL);
    struct cs_resp_parser *p = NULL;
    CS_CHECK_RC(cs_resp_parser_new(&l, &p), CS_EINVAL);
    cs_resp_limits_default(&l);
    l.args_max = 0;
    CS_CHECK_RC(cs_resp_limits_check(&l), CS_EINVAL);
    l.args_max = CS_RESP_ARGS_CEILING;
    CS_CHECK_OK(cs_resp_limits_check(&l));
    l.args_max = (size_t)CS_RESP_ARGS_CEILING + 1;
    CS_CHECK_RC(cs_resp_limits_check(&l), CS_EINVAL);
}

/* Limits changed on a live parser: tight before AUTH, the defaults after. */
CS_TEST(set_limits_between_commands)
{
    struct cs_resp_parser *p;
    struct cs_resp_limits tight = small_limits(), loose;
    cs_resp_limits_default(&loose);
    CS_CHECK_OK(cs_resp_parser_new(&tight, &p));
    const char five[] = "*5\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n";
    CS_CHECK_OK(cs_resp_parser_feed(p, "*4\r\n", 4));
    struct cs_resp_command cmd;
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    /* Open command of 4 arguments: a limit of 3 would not fit it. */
    struct cs_resp_limits three = tight;
    three.args_max = 3;
    CS_CHECK_RC(cs_resp_parser_set_limits(p, &three), CS_EINVAL);
    CS_CHECK_OK(cs_resp_parser_feed(p, five + 4, 28));
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 4);
    CS_CHECK_OK(cs_resp_parser_set_limits(p, &loose));
    CS_CHECK_OK(cs_resp_parser_feed(p, five, sizeof five - 1));
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 5);
    CS_CHECK_OK(cs_resp_parser_set_limits(p, &tight));
    CS_CHECK_OK(cs_resp_parser_feed(p, five, sizeof five - 1));
    CS_CHECK_RC(cs_resp_parser_next(p, &cmd), CS_ETOOBIG);
    loose.args_max = 0;
    CS_CHECK_RC(cs_resp_parser_set_limits(p, &loose), CS_EINVAL);
    cs_resp_parser_free(p);
}

/*
 * A client declaring the largest count and bulk the limits allow, then
 * sending a trickle: the parser's memory must follow the bytes, not the
 * claims (the defaults allow 1 Mi arguments and 512 MiB bulks).
 */
CS_TEST(memory_follows_bytes_not_claims)
{
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    const char claim[] = "*1048576\r\n$536870912\r\nabc";
    CS_CHECK_OK(cs_resp_parser_feed(p, claim, sizeof claim - 1));
    struct cs_resp_command cmd;
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 0);
    CS_CHECK_MSG(cs_resp_parser_memory(p) < 64 * 1024, "memory %zu", cs_resp_parser_memory(p));
    /* A million declared empty arguments, 20000 sent: argv grows with them only. */
    cs_resp_parser_free(p);
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    CS_CHECK_OK(cs_resp_parser_feed(p, "*1048576\r\n", 10));
    size_t sent = 10;
    for (int i = 0; i < 20000; i++) {
        CS_CHECK_OK(cs_resp_parser_feed(p, "$0\r\n\r\n", 6));
        sent += 6;
        CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
        CS_CHECK_EQ(cmd.argc, 0);
    }
    size_t memory = cs_resp_parser_memory(p);
    CS_CHECK_MSG(memory < 16 * 1024 + 8 * sent, "memory %zu for %zu bytes", memory, sent);
    cs_resp_parser_free(p);
}

/* After a large command the parser gives memory back at the next read. */
CS_TEST(memory_returns_after_large_command)
{
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    size_t value_len = 1 << 20;
    char head[64];
    int head_len = snprintf(head, sizeof head, "*2\r\n$4\r\nECHO\r\n$%zu\r\n", value_len);
    char *value = calloc(1, value_len + 2);
    CS_CHECK(value != NULL);
    memcpy(value + value_len, "\r\n", 2);
    CS_CHECK_OK(cs_resp_parser_feed(p, head, (size_t)head_len));
    CS_CHECK_OK(cs_resp_parser_feed(p, value, value_len + 2));
    struct cs_resp_command cmd;
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 2);
    CS_CHECK(cs_resp_parser_memory(p) > value_len);
    CS_CHECK_OK(cs_resp_parser_feed(p, "PING\r\n", 6));
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 1);
    CS_CHECK_MSG(cs_resp_parser_memory(p) < 64 * 1024, "memory %zu", cs_resp_parser_memory(p));
    free(value);
    /* A command of 5000 arguments, then a small one: argv shrinks back. */
    CS_CHECK_OK(cs_resp_parser_feed(p, "*5000\r\n", 7));
    for (int i = 0; i < 5000; i++)
        CS_CHECK_OK(cs_resp_parser_feed(p, "$1\r\nx\r\n", 7));
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 5000);
    size_t big = cs_resp_parser_memory(p);
    CS_CHECK_OK(cs_resp_parser_feed(p, "*1\r\n$4\r\nPING\r\n", 14));
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 1);
    CS_CHECK_MSG(cs_resp_parser_memory(p) + 5000 * 8 < big, "memory %zu after %zu",
                 cs_resp_parser_memory(p), big);
    cs_resp_parser_free(p);
}

/* Views of earlier commands stay valid while later ones are taken. */
CS_TEST(views_survive_next)
{
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    const char in[] = "*2\r\n$3\r\nGET\r\n$1\r\na\r\nECHO \"b c\"\r\n*1\r\n$4\r\nPING\r\n";
    CS_CHECK_OK(cs_resp_parser_feed(p, in, sizeof in - 1));
    struct cs_resp_arg kept[3];
    struct cs_resp_command cmd;
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 2);
    CS_CHECK(!cmd.inline_form);
    CS_CHECK_EQ(cmd.wire_bytes, 20);
    kept[0] = cmd.argv[1];
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 2);
    CS_CHECK(cmd.inline_form);
    kept[1] = cmd.argv[1];
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 1);
    kept[2] = cmd.argv[0];
    CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
    CS_CHECK_EQ(cmd.argc, 0);
    CS_CHECK(kept[0].len == 1 && memcmp(kept[0].data, "a", 1) == 0);
    CS_CHECK(kept[1].len == 3 && memcmp(kept[1].data, "b c", 3) == 0);
    CS_CHECK(kept[2].len == 4 && memcmp(kept[2].data, "PING", 4) == 0);
    CS_CHECK_EQ(cs_resp_parser_buffered(p), 0);
    cs_resp_parser_free(p);
}

/* A large bulk arriving through reserve/commit in uneven reads, buffer growing. */
CS_TEST(large_bulk_through_reserve)
{
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    size_t value_len = 300000;
    char head[32];
    int head_len = snprintf(head, sizeof head, "*2\r\n$4\r\nECHO\r\n$%zu\r\n", value_len);
    size_t total = (size_t)head_len + value_len + 2;
    uint8_t *input = malloc(total);
    CS_CHECK(input != NULL);
    memcpy(input, head, (size_t)head_len);
    for (size_t i = 0; i < value_len; i++)
        input[(size_t)head_len + i] = (uint8_t)(i * 7);
    memcpy(input + total - 2, "\r\n", 2);
    size_t at = 0, read_size = 1;
    struct cs_resp_command cmd = {0};
    while (at < total) {
        uint8_t *space;
        size_t space_len;
        CS_CHECK_OK(cs_resp_parser_reserve(p, read_size, &space, &space_len));
        size_t n = total - at < space_len ? total - at : space_len;
        memcpy(space, input + at, n);
        cs_resp_parser_commit(p, n);
        at += n;
        read_size = read_size * 3 % 70001 + 1;
        CS_CHECK_OK(cs_resp_parser_next(p, &cmd));
        if (at < total) CS_CHECK_EQ(cmd.argc, 0);
    }
    CS_CHECK_EQ(cmd.argc, 2);
    CS_CHECK_EQ(cmd.argv[1].len, value_len);
    CS_CHECK_MEM(cmd.argv[1].data, input + head_len, value_len);
    CS_CHECK_MSG(cs_resp_parser_memory(p) <= 4 * total, "memory %zu", cs_resp_parser_memory(p));
    free(input);
    cs_resp_parser_free(p);
}

/* The whole-vs-bytes comparison must notice a difference (planted: a wrong expectation). */
CS_TEST(transcript_detects_difference)
{
    const char in[] = "*1\r\n$4\r\nPING\r\n";
    struct transcript a = parse_chunked(NULL, in, sizeof in - 1, 0);
    struct transcript b = parse_chunked(NULL, in, sizeof in - 2, 1); /* one byte short */
    CS_CHECK(strcmp(a.text, b.text) != 0);
    CS_CHECK_STR(b.text, "");
}

CS_TEST_MAIN(CS_CASE(multibulk_commands), CS_CASE(inline_commands),
             CS_CASE(empty_commands_are_skipped), CS_CASE(malformed_multibulk),
             CS_CASE(errors_are_sticky), CS_CASE(bulk_limit), CS_CASE(args_limit),
             CS_CASE(inline_limit), CS_CASE(query_buffer_limit), CS_CASE(limits_check),
             CS_CASE(set_limits_between_commands), CS_CASE(memory_follows_bytes_not_claims),
             CS_CASE(memory_returns_after_large_command), CS_CASE(views_survive_next),
             CS_CASE(large_bulk_through_reserve), CS_CASE(transcript_detects_difference))
