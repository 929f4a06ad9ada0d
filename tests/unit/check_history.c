/*
 * check_history.c: the history container and its readers and writer.
 *
 * Goal: pairing rules, every named limit at the limit and one past it, the
 * three syntaxes (JSONL, EDN with comments, multi-line maps, :nemesis and
 * :txn; Porcupine's etcd lines), errors that name the line, and a JSONL
 * round trip. Method: small literal inputs whose outcome is known exactly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/check.h"
#include "testlib.h"

static int parse(struct cs_history *h, enum cs_history_format format, const char *text,
                 struct cs_parse_error *err)
{
    return cs_history_parse(h, format, text, strlen(text), err);
}

CS_TEST(pairs_invoke_with_completion)
{
    /* Two processes interleave; each completion closes its own invoke. */
    struct cs_history h;
    cs_history_init(&h, 0);
    uint32_t x;
    CS_CHECK_OK(cs_history_intern(&h, "x", 1, &x));
    CS_CHECK_OK(cs_history_invoke(&h, 1, CS_F_WRITE, x, cs_value_int(7), 10));
    CS_CHECK_OK(cs_history_invoke(&h, 2, CS_F_READ, x, cs_value_nil(), 11));
    CS_CHECK_OK(cs_history_complete(&h, 2, CS_TYPE_OK, CS_F_READ, cs_value_int(7), 12));
    CS_CHECK_OK(cs_history_complete(&h, 1, CS_TYPE_INFO, CS_F_WRITE, cs_value_none(), 13));
    CS_CHECK_EQ(h.ops_len, 2);
    CS_CHECK_EQ(h.events_len, 4);
    CS_CHECK_EQ(h.ops[0].type, CS_TYPE_INFO);
    CS_CHECK_EQ(h.ops[0].complete_event, 3);
    CS_CHECK_EQ(h.ops[1].result.x, 7);
    CS_CHECK_EQ(h.ops[1].invoke_event, 1);
    /* A second invoke while open, a completion with nothing open, wrong f. */
    CS_CHECK_OK(cs_history_invoke(&h, 3, CS_F_WRITE, x, cs_value_int(1), 14));
    CS_CHECK_RC(cs_history_invoke(&h, 3, CS_F_WRITE, x, cs_value_int(1), 15), CS_ESTATE);
    CS_CHECK_RC(cs_history_complete(&h, 4, CS_TYPE_OK, CS_F_WRITE, cs_value_int(1), 16), CS_ESTATE);
    CS_CHECK_RC(cs_history_complete(&h, 3, CS_TYPE_OK, CS_F_READ, cs_value_int(1), 16), CS_ESTATE);
    CS_CHECK_RC(cs_history_complete(&h, 3, CS_TYPE_INVOKE, CS_F_WRITE, cs_value_int(1), 16),
                CS_EINVAL);
    CS_CHECK_EQ(h.ops_len, 3);
    cs_history_free(&h);
}

CS_TEST(ops_max_at_limit_and_one_past)
{
    /* A history of exactly ops_max ops parses; one more is refused whole. */
    char text[4096];
    size_t len = 0;
    for (int i = 0; i < 8; i++) {
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "{\"process\":%d,\"type\":\"invoke\",\"f\":\"read\"}\n"
                                "{\"process\":%d,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n",
                                i, i);
    }
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 8);
    CS_CHECK_OK(cs_history_parse(&h, CS_FORMAT_JSONL, text, len, &err));
    CS_CHECK_EQ(h.ops_len, 8);
    cs_history_free(&h);
    cs_history_init(&h, 7);
    CS_CHECK_RC(cs_history_parse(&h, CS_FORMAT_JSONL, text, len, &err), CS_ETOOBIG);
    CS_CHECK_EQ(h.ops_len, 0); /* refused whole, not half-read */
    CS_CHECK_EQ(err.line, 15);
    CS_CHECK(strstr(err.message, "larger than 7") != NULL);
    cs_history_free(&h);
}

CS_TEST(ops_max_constant_at_limit_and_one_past)
{
    /* The real CS_HISTORY_OPS_MAX, built programmatically. */
    struct cs_history h;
    cs_history_init(&h, 0);
    CS_CHECK_EQ(h.ops_max, CS_HISTORY_OPS_MAX);
    for (uint32_t i = 0; i < CS_HISTORY_OPS_MAX; i++) {
        int rc = cs_history_invoke(&h, 1, CS_F_WRITE, CS_KEY_NONE, cs_value_int(i), i);
        if (rc == 0) rc = cs_history_complete(&h, 1, CS_TYPE_OK, CS_F_WRITE, cs_value_int(i), i);
        CS_CHECK_MSG(rc == 0, "op %u: %s", i, cs_errname(rc));
    }
    CS_CHECK_RC(cs_history_invoke(&h, 1, CS_F_WRITE, CS_KEY_NONE, cs_value_int(0), 0), CS_ETOOBIG);
    CS_CHECK_EQ(h.ops_len, CS_HISTORY_OPS_MAX);
    cs_history_free(&h);
}

CS_TEST(string_and_list_limits)
{
    struct cs_history h;
    cs_history_init(&h, 0);
    char *big = malloc(CS_HISTORY_STRING_LEN_MAX + 1);
    CS_CHECK(big != NULL);
    memset(big, 'a', CS_HISTORY_STRING_LEN_MAX + 1);
    uint32_t id;
    CS_CHECK_OK(cs_history_intern(&h, big, CS_HISTORY_STRING_LEN_MAX, &id));
    CS_CHECK_RC(cs_history_intern(&h, big, CS_HISTORY_STRING_LEN_MAX + 1, &id), CS_ETOOBIG);
    free(big);
    struct cs_value *items = calloc(CS_HISTORY_LIST_LEN_MAX + 1, sizeof *items);
    CS_CHECK(items != NULL);
    struct cs_value v;
    CS_CHECK_OK(cs_history_value_list(&h, items, CS_HISTORY_LIST_LEN_MAX, &v));
    CS_CHECK_EQ(v.len, CS_HISTORY_LIST_LEN_MAX);
    CS_CHECK_RC(cs_history_value_list(&h, items, CS_HISTORY_LIST_LEN_MAX + 1, &v), CS_ETOOBIG);
    free(items);
    cs_history_free(&h);
}

CS_TEST(open_ops_at_limit_and_one_past)
{
    struct cs_history h;
    cs_history_init(&h, 0);
    for (uint32_t p = 0; p < CS_HISTORY_OPEN_MAX; p++) {
        CS_CHECK_OK(cs_history_invoke(&h, p, CS_F_READ, CS_KEY_NONE, cs_value_nil(), p));
    }
    CS_CHECK_RC(cs_history_invoke(&h, -1, CS_F_READ, CS_KEY_NONE, cs_value_nil(), 0), CS_ETOOBIG);
    /* Closing one makes room again. */
    CS_CHECK_OK(cs_history_complete(&h, 7, CS_TYPE_OK, CS_F_READ, cs_value_int(1), 1));
    CS_CHECK_OK(cs_history_invoke(&h, -1, CS_F_READ, CS_KEY_NONE, cs_value_nil(), 0));
    CS_CHECK_EQ(h.ops_len, CS_HISTORY_OPEN_MAX + 1);
    cs_history_free(&h);
}

CS_TEST(string_bytes_at_limit_and_one_past)
{
    struct cs_history h;
    cs_history_init(&h, 0);
    char *big = malloc(CS_HISTORY_STRING_LEN_MAX);
    CS_CHECK(big != NULL);
    memset(big, 'a', CS_HISTORY_STRING_LEN_MAX);
    uint32_t id;
    for (uint32_t i = 0; i < CS_HISTORY_STRING_BYTES_MAX / CS_HISTORY_STRING_LEN_MAX; i++) {
        memcpy(big, &i, sizeof i); /* distinct strings */
        CS_CHECK_OK(cs_history_intern(&h, big, CS_HISTORY_STRING_LEN_MAX, &id));
    }
    CS_CHECK_EQ(h.string_bytes_len, CS_HISTORY_STRING_BYTES_MAX);
    CS_CHECK_RC(cs_history_intern(&h, "b", 1, &id), CS_ETOOBIG);
    CS_CHECK_OK(cs_history_intern(&h, big, CS_HISTORY_STRING_LEN_MAX, &id)); /* already there */
    free(big);
    cs_history_free(&h);
}

CS_TEST(list_items_at_limit_and_one_past)
{
    struct cs_history h;
    cs_history_init(&h, 0);
    struct cs_value *items = calloc(CS_HISTORY_LIST_LEN_MAX, sizeof *items);
    CS_CHECK(items != NULL);
    struct cs_value v;
    for (uint32_t i = 0; i < CS_HISTORY_LIST_ITEMS_MAX / CS_HISTORY_LIST_LEN_MAX; i++) {
        CS_CHECK_OK(cs_history_value_list(&h, items, CS_HISTORY_LIST_LEN_MAX, &v));
    }
    CS_CHECK_EQ(h.items_len, CS_HISTORY_LIST_ITEMS_MAX);
    CS_CHECK_RC(cs_history_value_list(&h, items, 1, &v), CS_ETOOBIG);
    CS_CHECK_OK(cs_history_value_list(&h, items, 0, &v));
    free(items);
    cs_history_free(&h);
}

CS_TEST(edn_map_bytes_at_limit_and_one_past)
{
    static const char head[] = "{:process 1 :type :invoke :f :read :value \"";
    static const char tail[] = "\"}";
    size_t len = CS_HISTORY_EDN_MAP_BYTES_MAX + 1;
    char *text = malloc(len + 1);
    CS_CHECK(text != NULL);
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 0);
    for (size_t total = len - 1; total <= len; total++) {
        size_t body = total - (sizeof head - 1) - (sizeof tail - 1);
        memcpy(text, head, sizeof head - 1);
        memset(text + sizeof head - 1, 'x', body);
        memcpy(text + sizeof head - 1 + body, tail, sizeof tail - 1);
        int rc = cs_history_parse(&h, CS_FORMAT_EDN, text, total, &err);
        CS_CHECK_EQ(rc, total == CS_HISTORY_EDN_MAP_BYTES_MAX ? CS_OK : CS_ETOOBIG);
        cs_history_reset(&h);
    }
    free(text);
    cs_history_free(&h);
}

CS_TEST(value_depth_at_limit_and_one_past)
{
    char ok_text[256], bad_text[256];
    char nest_ok[64] = "", nest_bad[80] = "";
    for (uint32_t i = 0; i < CS_HISTORY_VALUE_DEPTH_MAX; i++)
        strcat(nest_ok, "[");
    strcat(nest_ok, "1");
    for (uint32_t i = 0; i < CS_HISTORY_VALUE_DEPTH_MAX; i++)
        strcat(nest_ok, "]");
    snprintf(nest_bad, sizeof nest_bad, "[%s]", nest_ok);
    snprintf(ok_text, sizeof ok_text,
             "{\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":%s}\n", nest_ok);
    snprintf(bad_text, sizeof bad_text,
             "\n{\"process\":1,\"type\":\"invoke\",\"f\":\"txn\",\"value\":%s}\n", nest_bad);
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 0);
    CS_CHECK_OK(parse(&h, CS_FORMAT_JSONL, ok_text, &err));
    cs_history_reset(&h);
    CS_CHECK_RC(parse(&h, CS_FORMAT_JSONL, bad_text, &err), CS_EPARSE);
    CS_CHECK_EQ(err.line, 2);
    CS_CHECK(strstr(err.message, "deeper") != NULL);
    cs_history_free(&h);
}

CS_TEST(line_length_limit)
{
    size_t len = CS_HISTORY_LINE_BYTES_MAX + 2; /* MAX + 1 blanks and a newline */
    char *text = malloc(len);
    CS_CHECK(text != NULL);
    memset(text, ' ', len);
    text[len - 1] = '\n';
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 0);
    /* Exactly the limit of blanks is a (blank) line; one more is refused. */
    CS_CHECK_OK(cs_history_parse(&h, CS_FORMAT_JSONL, text + 1, len - 1, &err));
    CS_CHECK_RC(cs_history_parse(&h, CS_FORMAT_JSONL, text, len, &err), CS_ETOOBIG);
    CS_CHECK_EQ(err.line, 1);
    free(text);
    cs_history_free(&h);
}

CS_TEST(malformed_lines_name_the_line)
{
    static const struct {
        const char *text;
        uint32_t line;
        int rc;
    } cases[] = {
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":1,", 2, CS_EPARSE},
        {"\n\n{\"process\":1,\"type\":\"begin\",\"f\":\"read\"}\n", 3, CS_EPARSE},
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"fly\"}\n", 1, CS_EPARSE},
        {"{\"process\":1,\"type\":\"ok\",\"f\":\"read\"}\n", 1, CS_ESTATE},
        {"{\"process\":\"a\",\"type\":\"invoke\",\"f\":\"read\"}\n", 1, CS_EPARSE},
        {"{\"type\":\"invoke\",\"f\":\"read\"}\n", 1, CS_EPARSE},
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\"} x\n", 1, CS_EPARSE},
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":1.5}\n", 1, CS_EPARSE},
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":[1,]}\n", 1, CS_EPARSE},
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":{\"a\":}}\n", 1, CS_EPARSE},
        {"{\"process\":99999999999999999999,\"type\":\"invoke\",\"f\":\"read\"}\n", 1, CS_EPARSE},
        {"{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"value\":\"ab\n", 1, CS_EPARSE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cs_history h;
        struct cs_parse_error err;
        cs_history_init(&h, 0);
        int rc = parse(&h, CS_FORMAT_JSONL, cases[i].text, &err);
        CS_CHECK_MSG(rc == cases[i].rc, "case %zu: %s (%s)", i, cs_errname(rc), err.message);
        CS_CHECK_MSG(err.line == cases[i].line, "case %zu: line %u", i, err.line);
        CS_CHECK(err.message[0] != 0);
        CS_CHECK_EQ(h.ops_len, 0);
        cs_history_free(&h);
    }
}

CS_TEST(edn_multiline_comments_nemesis_txn)
{
    static const char text[] =
        "; a Jepsen history\n"
        "{:type :invoke, :f :start, :process :nemesis}\n"
        "{:process 0\n"
        " :type :invoke ; the call\n"
        " :f :txn\n"
        " :value [[:r 1 nil] [:w 2 3]]}\n"
        "{:type :info, :f :start, :process :nemesis, :value \"partition\"}\n"
        "{:process 0, :type :ok, :f :txn, :value [[:r 1 nil] [:w 2 3]], :index 7,\n"
        " :time #inst \"2024-01-01T00:00:00Z\", :error {:cause \"x\" :codes [1 2]}}\n";
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 0);
    CS_CHECK_EQ(cs_history_detect(text, sizeof text - 1), CS_FORMAT_EDN);
    int rc = parse(&h, CS_FORMAT_AUTO, text, &err);
    CS_CHECK_MSG(rc == 0, "line %u: %s", err.line, err.message);
    CS_CHECK_EQ(h.ops_len, 1);
    CS_CHECK_EQ(h.ops[0].f, CS_F_TXN);
    CS_CHECK_EQ(h.ops[0].type, CS_TYPE_OK);
    CS_CHECK_EQ(h.ops[0].value.kind, CS_VALUE_LIST);
    CS_CHECK_EQ(h.ops[0].value.len, 2);
    struct cs_value w = cs_history_item(&h, h.ops[0].value, 1);
    CS_CHECK_EQ(w.len, 3);
    CS_CHECK_EQ(cs_history_item(&h, w, 2).x, 3);
    /* An error inside a multi-line map names the line it is on. */
    static const char bad[] = "{:process 0\n :type :invoke\n :f :read\n :value #}\n";
    cs_history_reset(&h);
    CS_CHECK_RC(parse(&h, CS_FORMAT_EDN, bad, &err), CS_EPARSE);
    CS_CHECK_EQ(err.line, 4);
    cs_history_free(&h);
}

CS_TEST(etcd_lines)
{
    static const char text[] = "INFO  jepsen.util - 0\t:invoke\t:cas\t[1 2]\n"
                               "INFO  jepsen.util - 1   :invoke :read   nil\n"
                               "INFO  jepsen.util - 0\t:fail\t:cas\t[1 2]\n"
                               "INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n"
                               "INFO  jepsen.util - 2\t:invoke\t:write\t4\n"
                               "INFO  jepsen.util - 2\t:info\t:write\t:timed-out\n";
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 0);
    int rc = parse(&h, CS_FORMAT_AUTO, text, &err);
    CS_CHECK_MSG(rc == 0, "line %u: %s", err.line, err.message);
    CS_CHECK_EQ(h.ops_len, 3);
    CS_CHECK_EQ(h.ops[0].type, CS_TYPE_FAIL);
    CS_CHECK_EQ(h.ops[0].value.len, 2);
    CS_CHECK_EQ(h.ops[1].type, CS_TYPE_FAIL);
    CS_CHECK_EQ(h.ops[1].result.kind, CS_VALUE_NONE);
    CS_CHECK_EQ(h.ops[2].type, CS_TYPE_INFO);
    cs_history_reset(&h);
    CS_CHECK_RC(parse(&h, CS_FORMAT_PORCUPINE_ETCD, "INFO jepsen.util - 0 :invoke :read\n", &err),
                CS_EPARSE);
    CS_CHECK_RC(parse(&h, CS_FORMAT_PORCUPINE_ETCD, "WARN x\n", &err), CS_EPARSE);
    cs_history_free(&h);
}

CS_TEST(maps_inside_values_read_as_lists)
{
    /* Jepsen puts maps in fields such as :error; JSON clients too. */
    static const char text[] = "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\","
                               "\"error\":{\"why\":\"x\",\"n\":[1,{\"k\":2}]}}\n";
    struct cs_history h;
    struct cs_parse_error err;
    cs_history_init(&h, 0);
    int rc = parse(&h, CS_FORMAT_JSONL, text, &err);
    CS_CHECK_MSG(rc == 0, "%s", err.message);
    CS_CHECK_EQ(h.ops_len, 1);
    cs_history_free(&h);
}

CS_TEST(jsonl_round_trip)
{
    static const char text[] =
        "{\"process\":3,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":7,"
        "\"time\":1021,\"session\":\"s1\"}\n"
        "{\"process\":4,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"q\\\"uote\","
        "\"value\":\"a\\u00e9\\n\"}\n"
        "{\"process\":3,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":7,"
        "\"time\":1077,\"version\":5}\n"
        "{\"process\":5,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[null,-3]}\n"
        "{\"process\":5,\"type\":\"fail\",\"f\":\"cas\",\"value\":[null,-3]}\n";
    struct cs_history a, b;
    struct cs_parse_error err;
    cs_history_init(&a, 0);
    cs_history_init(&b, 0);
    CS_CHECK_OK(parse(&a, CS_FORMAT_JSONL, text, &err));
    struct cs_buf out1, out2;
    cs_buf_init(&out1, 1u << 20);
    cs_buf_init(&out2, 1u << 20);
    CS_CHECK_OK(cs_history_write_jsonl(&a, &out1));
    CS_CHECK_OK(cs_history_parse(&b, CS_FORMAT_AUTO, (const char *)out1.data, out1.len, &err));
    CS_CHECK_OK(cs_history_write_jsonl(&b, &out2));
    CS_CHECK_EQ(out1.len, out2.len);
    CS_CHECK_MEM(out1.data, out2.data, out1.len);
    CS_CHECK_EQ(b.ops_len, 3);
    CS_CHECK_EQ(b.ops[0].version, 5);
    CS_CHECK_EQ(b.ops[1].type, CS_TYPE_INVOKE);
    size_t len;
    const char *s = cs_history_string(&b, (uint32_t)b.ops[1].value.x, &len);
    CS_CHECK_EQ(len, 4);
    CS_CHECK_MEM(s, "a\xc3\xa9\n", 4);
    s = cs_history_string(&b, b.ops[0].session, &len);
    CS_CHECK_MEM(s, "s1", 2);
    cs_buf_free(&out1);
    cs_buf_free(&out2);
    cs_history_free(&a);
    cs_history_free(&b);
}

CS_TEST_MAIN(CS_CASE(pairs_invoke_with_completion), CS_CASE(ops_max_at_limit_and_one_past),
             CS_CASE(ops_max_constant_at_limit_and_one_past), CS_CASE(string_and_list_limits),
             CS_CASE(open_ops_at_limit_and_one_past), CS_CASE(string_bytes_at_limit_and_one_past),
             CS_CASE(list_items_at_limit_and_one_past),
             CS_CASE(edn_map_bytes_at_limit_and_one_past),
             CS_CASE(value_depth_at_limit_and_one_past), CS_CASE(line_length_limit),
             CS_CASE(malformed_lines_name_the_line), CS_CASE(edn_multiline_comments_nemesis_txn),
             CS_CASE(etcd_lines), CS_CASE(maps_inside_values_read_as_lists),
             CS_CASE(jsonl_round_trip))
