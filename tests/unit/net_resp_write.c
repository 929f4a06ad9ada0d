/*
 * net_resp_write.c: the RESP reply writer's exact bytes in RESP2 and RESP3,
 * and the reply reader reading them back.
 *
 * Method: each reply type is written in both protocol versions and compared
 * with the literal bytes Redis sends; then a stream of every type is read
 * back token by token with cs_resp_read_token, whole and cut at every byte.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "consist/resp.h"
#include "testlib.h"

static struct cs_buf out;
static struct cs_resp_writer w;

static void start(int proto)
{
    cs_buf_free(&out);
    cs_buf_init(&out, 1 << 20);
    cs_resp_writer_init(&w, &out, proto);
}

static void expect_out(const char *want)
{
    CS_CHECK_EQ(out.len, strlen(want));
    CS_CHECK_MEM(out.data, want, out.len);
    cs_buf_reset(&out);
}

CS_TEST(shapes_resp2)
{
    start(2);
    CS_CHECK_OK(cs_resp_write_ok(&w));
    expect_out("+OK\r\n");
    CS_CHECK_OK(cs_resp_write_simple(&w, "PONG", 4));
    expect_out("+PONG\r\n");
    CS_CHECK_OK(cs_resp_write_int(&w, 0));
    expect_out(":0\r\n");
    CS_CHECK_OK(cs_resp_write_int(&w, INT64_MIN));
    expect_out(":-9223372036854775808\r\n");
    CS_CHECK_OK(cs_resp_write_int(&w, INT64_MAX));
    expect_out(":9223372036854775807\r\n");
    CS_CHECK_OK(cs_resp_write_bulk(&w, "a\r\nb", 4));
    expect_out("$4\r\na\r\nb\r\n");
    CS_CHECK_OK(cs_resp_write_bulk(&w, "", 0));
    expect_out("$0\r\n\r\n");
    CS_CHECK_OK(cs_resp_write_null(&w));
    expect_out("$-1\r\n");
    CS_CHECK_OK(cs_resp_write_null_array(&w));
    expect_out("*-1\r\n");
    CS_CHECK_OK(cs_resp_write_array(&w, 3));
    expect_out("*3\r\n");
    CS_CHECK_OK(cs_resp_write_map(&w, 2));
    expect_out("*4\r\n");
    CS_CHECK_OK(cs_resp_write_set(&w, 5));
    expect_out("*5\r\n");
    CS_CHECK_OK(cs_resp_write_double(&w, 1.5));
    expect_out("$3\r\n1.5\r\n");
    CS_CHECK_OK(cs_resp_write_bool(&w, true));
    expect_out(":1\r\n");
    CS_CHECK_OK(cs_resp_write_verbatim(&w, "txt", "# Server", 8));
    expect_out("$8\r\n# Server\r\n");
}

CS_TEST(shapes_resp3)
{
    start(3);
    CS_CHECK_OK(cs_resp_write_null(&w));
    expect_out("_\r\n");
    CS_CHECK_OK(cs_resp_write_null_array(&w));
    expect_out("_\r\n");
    CS_CHECK_OK(cs_resp_write_map(&w, 2));
    expect_out("%2\r\n");
    CS_CHECK_OK(cs_resp_write_set(&w, 5));
    expect_out("~5\r\n");
    CS_CHECK_OK(cs_resp_write_double(&w, 1.5));
    expect_out(",1.5\r\n");
    CS_CHECK_OK(cs_resp_write_double(&w, -(double)INFINITY));
    expect_out(",-inf\r\n");
    CS_CHECK_OK(cs_resp_write_double(&w, (double)NAN));
    expect_out(",nan\r\n");
    CS_CHECK_OK(cs_resp_write_double(&w, 0.1));
    expect_out(",0.10000000000000001\r\n");
    CS_CHECK_OK(cs_resp_write_bool(&w, false));
    expect_out("#f\r\n");
    CS_CHECK_OK(cs_resp_write_verbatim(&w, "txt", "# Server", 8));
    expect_out("=12\r\ntxt:# Server\r\n");
}

CS_TEST(errors_keep_framing)
{
    start(2);
    CS_CHECK_OK(cs_resp_write_error(&w, "ERR", "unknown command 'FOO'"));
    expect_out("-ERR unknown command 'FOO'\r\n");
    CS_CHECK_OK(cs_resp_write_error(&w, "WRONGTYPE",
                                    "Operation against a key holding the wrong kind of value"));
    expect_out("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n");
    CS_CHECK_OK(cs_resp_write_error(&w, "TRYAGAIN", "no leader known"));
    expect_out("-TRYAGAIN no leader known\r\n");
    CS_CHECK_OK(cs_resp_write_error(&w, "NOQUORUM", "write outcome unknown"));
    expect_out("-NOQUORUM write outcome unknown\r\n");
    /* A client-controlled name with CRLF cannot inject a second reply. */
    CS_CHECK_OK(cs_resp_write_error(&w, "ERR", "unknown command 'a\r\n+OK'"));
    expect_out("-ERR unknown command 'a  +OK'\r\n");
    CS_CHECK_OK(cs_resp_write_simple(&w, "x\ny", 3));
    expect_out("+x y\r\n");
    CS_CHECK_OK(cs_resp_write_protocol_error(&w, "invalid bulk length"));
    expect_out("-ERR protocol error: invalid bulk length\r\n");
    /* A line of CS_RESP_ERROR_BYTES_MAX - 1 characters is whole; one more is cut. */
    char fits[CS_RESP_ERROR_BYTES_MAX];
    memset(fits, 'y', sizeof fits);
    fits[CS_RESP_ERROR_BYTES_MAX - 1 - 4] = '\0'; /* "ERR " + message */
    CS_CHECK_OK(cs_resp_write_error(&w, "ERR", fits));
    CS_CHECK_EQ(out.len, 1 + (CS_RESP_ERROR_BYTES_MAX - 1) + 2);
    CS_CHECK_EQ(out.data[out.len - 3], 'y');
    cs_buf_reset(&out);
    fits[CS_RESP_ERROR_BYTES_MAX - 1 - 4] = 'z';
    fits[CS_RESP_ERROR_BYTES_MAX - 4] = '\0';
    CS_CHECK_OK(cs_resp_write_error(&w, "ERR", fits));
    CS_CHECK_EQ(out.len, 1 + (CS_RESP_ERROR_BYTES_MAX - 1) + 2);
    CS_CHECK_EQ(out.data[out.len - 3], 'y'); /* the 'z' was cut */
    cs_buf_reset(&out);
    /* Long messages are cut at CS_RESP_ERROR_BYTES_MAX, still one line. */
    char longmsg[2000];
    memset(longmsg, 'z', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    CS_CHECK_OK(cs_resp_write_error(&w, "ERR", longmsg));
    CS_CHECK_EQ(out.len, 1 + (CS_RESP_ERROR_BYTES_MAX - 1) + 2);
    CS_CHECK_EQ(memchr(out.data, '\n', out.len), out.data + out.len - 1);
    cs_buf_reset(&out);
}

/* The output limit holds: exactly full is fine, one byte past is refused. */
CS_TEST(output_limit)
{
    uint8_t mem[9];
    struct cs_buf fixed;
    cs_buf_init_fixed(&fixed, mem, sizeof mem);
    struct cs_resp_writer fw;
    cs_resp_writer_init(&fw, &fixed, 2);
    CS_CHECK_OK(cs_resp_write_bulk(&fw, "abc", 3)); /* "$3\r\nabc\r\n" is 9 bytes */
    CS_CHECK_EQ(fixed.len, 9);
    cs_buf_reset(&fixed);
    CS_CHECK_RC(cs_resp_write_bulk(&fw, "abcd", 4), CS_ENOSPACE);
    CS_CHECK_EQ(fixed.len, 0);                       /* no partial reply */
    CS_CHECK_RC(cs_resp_write_ok(&fw), CS_ENOSPACE); /* sticky */
    struct cs_buf bounded;
    cs_buf_init(&bounded, 5);
    cs_resp_writer_init(&fw, &bounded, 3);
    CS_CHECK_OK(cs_resp_write_ok(&fw));
    CS_CHECK_RC(cs_resp_write_ok(&fw), CS_ETOOBIG);
    cs_buf_free(&bounded);
}

/* One reply of every type, as the writer makes it, described as the reader must see it. */
static void write_everything(int proto)
{
    start(proto);
    cs_resp_write_map(&w, 2);
    cs_resp_write_bulk(&w, "role", 4);
    cs_resp_write_simple(&w, "leader", 6);
    cs_resp_write_bulk(&w, "term", 4);
    cs_resp_write_array(&w, 6);
    cs_resp_write_int(&w, -42);
    cs_resp_write_null(&w);
    cs_resp_write_double(&w, 2.25);
    cs_resp_write_bool(&w, true);
    cs_resp_write_verbatim(&w, "txt", "a\r\nb", 4);
    cs_resp_write_error(&w, "NOQUORUM", "x");
    CS_CHECK_OK(cs_buf_error(&out));
}

static const char *read_all(const uint8_t *data, size_t len, size_t *pos, char *desc,
                            size_t desc_cap)
{
    size_t d = 0;
    desc[0] = '\0';
    for (;;) {
        struct cs_resp_token tok;
        int rc = cs_resp_read_token(data, len, pos, 1 << 20, &tok);
        CS_CHECK_OK(rc);
        if (tok.type == CS_RESP_NONE) break;
        int n;
        switch (tok.type) {
        case CS_RESP_SIMPLE:
        case CS_RESP_ERROR:
        case CS_RESP_BULK:
        case CS_RESP_VERBATIM:
            n = snprintf(desc + d, desc_cap - d, "%d'%.*s' ", (int)tok.type, (int)tok.text_len,
                         (const char *)tok.text);
            break;
        case CS_RESP_DOUBLE:
            n = snprintf(desc + d, desc_cap - d, "%d=%g ", (int)tok.type, tok.number);
            break;
        case CS_RESP_NONE:
        case CS_RESP_INT:
        case CS_RESP_NULL:
        case CS_RESP_ARRAY:
        case CS_RESP_MAP:
        case CS_RESP_SET:
        case CS_RESP_BOOL:
        default:
            n = snprintf(desc + d, desc_cap - d, "%d#%lld ", (int)tok.type, (long long)tok.integer);
            break;
        }
        d += (size_t)n;
        CS_CHECK(d < desc_cap);
    }
    return desc;
}

CS_TEST(round_trip_through_reader)
{
    static const char *const want[4] = {
        [2] = "6#4 4'role' 1'leader' 4'term' 6#6 3#-42 5#0 4'2.25' 3#1 4'a\r\nb' 2'NOQUORUM x' ",
        [3] = "7#2 4'role' 1'leader' 4'term' 6#6 3#-42 5#0 9=2.25 10#1 11'a\r\nb' 2'NOQUORUM x' ",
    };
    for (int proto = 2; proto <= 3; proto++) {
        write_everything(proto);
        char desc[512];
        size_t pos = 0;
        CS_CHECK_STR(read_all(out.data, out.len, &pos, desc, sizeof desc), want[proto]);
        CS_CHECK_EQ(pos, out.len);
        /* Cut anywhere: the reader stops before the cut and resumes after it. */
        for (size_t cut = 0; cut < out.len; cut++) {
            char first[512], rest[512];
            pos = 0;
            read_all(out.data, cut, &pos, first, sizeof first);
            CS_CHECK(pos <= cut);
            read_all(out.data, out.len, &pos, rest, sizeof rest);
            CS_CHECK_EQ(pos, out.len);
            char joined[1024];
            snprintf(joined, sizeof joined, "%s%s", first, rest);
            CS_CHECK_STR(joined, want[proto]);
        }
    }
    cs_buf_free(&out);
}

CS_TEST(reader_rejects_malformed)
{
    static const char *const bad[] = {"?x\r\n",       ":1x\r\n", ":01\r\n",       "$-2\r\n",
                                      "$1\r\nab\r\n", "#x\r\n",  "_x\r\n",        ",1e\r\n",
                                      ",0x10\r\n",    "*-2\r\n", "=3\r\ntxt\r\n", "+a\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct cs_resp_token tok;
        size_t pos = 0;
        int rc = cs_resp_read_token((const uint8_t *)bad[i], strlen(bad[i]), &pos, 100, &tok);
        CS_CHECK_MSG(rc == CS_EDECODE, "%s: rc %d", bad[i], rc);
        CS_CHECK_EQ(pos, 0);
    }
    struct cs_resp_token tok;
    size_t pos = 0;
    /* A double of 64 characters is read; 65 are refused. */
    char dbl[80] = ",1."; /* text after the ',' : "1." and 62 digits */
    memset(dbl + 3, '5', 62);
    memcpy(dbl + 65, "\r\n", 3);
    CS_CHECK_OK(cs_resp_read_token((const uint8_t *)dbl, strlen(dbl), &pos, 100, &tok));
    CS_CHECK_EQ(tok.type, CS_RESP_DOUBLE);
    pos = 0;
    memcpy(dbl + 65, "5\r\n", 4);
    CS_CHECK_RC(cs_resp_read_token((const uint8_t *)dbl, strlen(dbl), &pos, 100, &tok), CS_EDECODE);
    CS_CHECK_RC(cs_resp_read_token((const uint8_t *)"$101\r\n", 6, &pos, 100, &tok), CS_ETOOBIG);
    CS_CHECK_RC(cs_resp_read_token((const uint8_t *)"*101\r\n", 6, &pos, 100, &tok), CS_ETOOBIG);
    CS_CHECK_OK(cs_resp_read_token((const uint8_t *)"*100\r\n", 6, &pos, 100, &tok));
    CS_CHECK_EQ(tok.type, CS_RESP_ARRAY);
}

CS_TEST_MAIN(CS_CASE(shapes_resp2), CS_CASE(shapes_resp3), CS_CASE(errors_keep_framing),
             CS_CASE(output_limit), CS_CASE(round_trip_through_reader),
             CS_CASE(reader_rejects_malformed))
