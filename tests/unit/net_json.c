/*
 * net_json.c: the JSON writer's exact output: structure, escaping, UTF-8
 * repair, the depth limit at and past its value, and output bounds.
 */
#include <math.h>
#include <string.h>

#include "consist/http.h"
#include "testlib.h"

static void expect_json(struct cs_buf *out, const char *want)
{
    CS_CHECK_EQ(out->len, strlen(want));
    CS_CHECK_MEM(out->data, want, out->len);
    cs_buf_reset(out);
}

CS_TEST(structure)
{
    struct cs_buf out;
    cs_buf_init(&out, 4096);
    struct cs_json j;
    cs_json_init(&j, &out);
    cs_json_object_begin(&j);
    cs_json_key(&j, "leader", 6);
    cs_json_uint(&j, 3);
    cs_json_key(&j, "members", 7);
    cs_json_array_begin(&j);
    cs_json_int(&j, -1);
    cs_json_bool(&j, true);
    cs_json_null(&j);
    cs_json_double(&j, 0.5);
    cs_json_double(&j, (double)NAN);
    cs_json_object_begin(&j);
    cs_json_object_end(&j);
    cs_json_array_begin(&j);
    cs_json_array_end(&j);
    cs_json_array_end(&j);
    cs_json_key(&j, "ok", 2);
    cs_json_bool(&j, false);
    CS_CHECK_OK(cs_json_object_end(&j));
    CS_CHECK_OK(cs_json_finish(&j));
    expect_json(&out, "{\"leader\":3,\"members\":[-1,true,null,0.5,null,{},[]],\"ok\":false}");
    /* An unfinished value is reported. */
    cs_json_init(&j, &out);
    CS_CHECK_RC(cs_json_finish(&j), CS_EINVAL);
    cs_json_array_begin(&j);
    CS_CHECK_RC(cs_json_finish(&j), CS_EINVAL);
    cs_buf_free(&out);
}

CS_TEST(escaping_and_utf8)
{
    struct cs_buf out;
    cs_buf_init(&out, 4096);
    struct cs_json j;
    cs_json_init(&j, &out);
    const char s[] = "q\"b\\n\n\r\t\b\f\x01\x1f\x7f/";
    cs_json_string(&j, s, sizeof s - 1);
    expect_json(&out, "\"q\\\"b\\\\n\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f/\"");
    /* Valid UTF-8 passes: é (2 bytes), € (3), 😀 (4). */
    cs_json_init(&j, &out);
    const char u[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";
    cs_json_string(&j, u, sizeof u - 1);
    expect_json(&out, "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
    /* Invalid: a stray byte, an overlong, a surrogate, a truncated sequence, past U+10FFFF. */
    const char *const bad[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"};
    const char *const want[] = {"\"\\ufffd\"", "\"\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\\ufffd\"",
                                "\"\\ufffd\\ufffd\"", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""};
    for (size_t i = 0; i < 5; i++) {
        cs_json_init(&j, &out);
        cs_json_string(&j, bad[i], strlen(bad[i]));
        expect_json(&out, want[i]);
    }
    /* Binary bytes around valid text. */
    cs_json_init(&j, &out);
    cs_json_string(&j, "a\0b", 3);
    expect_json(&out, "\"a\\u0000b\"");
    cs_buf_free(&out);
}

CS_TEST(depth_limit)
{
    struct cs_buf out;
    cs_buf_init(&out, 4096);
    struct cs_json j;
    cs_json_init(&j, &out);
    for (int i = 0; i < CS_JSON_DEPTH_MAX; i++)
        CS_CHECK_OK(cs_json_array_begin(&j));
    CS_CHECK_RC(cs_json_array_begin(&j), CS_ETOOBIG);
    CS_CHECK_RC(cs_json_null(&j), CS_ETOOBIG); /* sticky */
    CS_CHECK_RC(cs_json_finish(&j), CS_ETOOBIG);
    cs_buf_reset(&out);
    cs_json_init(&j, &out);
    for (int i = 0; i < CS_JSON_DEPTH_MAX; i++)
        CS_CHECK_OK(cs_json_array_begin(&j));
    for (int i = 0; i < CS_JSON_DEPTH_MAX; i++)
        CS_CHECK_OK(cs_json_array_end(&j));
    CS_CHECK_OK(cs_json_finish(&j));
    CS_CHECK_EQ(out.len, 2 * CS_JSON_DEPTH_MAX);
    cs_buf_free(&out);
}

CS_TEST(output_bound)
{
    uint8_t mem[8];
    struct cs_buf out;
    cs_buf_init_fixed(&out, mem, sizeof mem);
    struct cs_json j;
    cs_json_init(&j, &out);
    CS_CHECK_OK(cs_json_string(&j, "abcdef", 6)); /* 8 bytes: exactly full */
    CS_CHECK_OK(cs_json_finish(&j));
    cs_buf_reset(&out);
    cs_json_init(&j, &out);
    CS_CHECK_RC(cs_json_string(&j, "abcdefg", 7), CS_ENOSPACE);
    CS_CHECK_RC(cs_json_finish(&j), CS_ENOSPACE);
}

CS_TEST_MAIN(CS_CASE(structure), CS_CASE(escaping_and_utf8), CS_CASE(depth_limit),
             CS_CASE(output_bound))
