/*
 * check_models.c: each model and each checker on small histories whose
 * verdict is known by hand, including the semantics that flip verdicts
 * (fail, info, failed cas), the budget, the exam's question 11, and the
 * session guarantees.
 *
 * Method: literal JSONL histories; for each verdict-carrying case a twin
 * that differs in one result, so every assertion can fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/internal.h"
#include "consist/check.h"
#include "testlib.h"

struct run {
    enum cs_verdict verdict;
    struct cs_check_result result;
    struct cs_history h;
};

static void load(struct cs_history *h, const char *text)
{
    struct cs_parse_error err;
    cs_history_init(h, 0);
    int rc = cs_history_parse(h, CS_FORMAT_JSONL, text, strlen(text), &err);
    CS_CHECK_MSG(rc == 0, "line %u: %s", err.line, err.message);
}

static enum cs_verdict lin(const char *text, enum cs_model_kind kind, struct cs_value initial)
{
    struct cs_history h;
    load(&h, text);
    struct cs_model_spec spec = {kind, initial, true};
    struct cs_check_result r;
    int rc = cs_check_linearizable(&h, &spec, NULL, &r);
    CS_CHECK_MSG(rc == 0, "%s: %s", cs_errname(rc), r.detail);
    enum cs_verdict v = r.verdict;
    if (v == CS_VERDICT_INVALID) CS_CHECK(r.stuck_len > 0);
    cs_check_result_free(&r);
    cs_history_free(&h);
    return v;
}

#define I(p, f, v)    "{\"process\":" #p ",\"type\":\"invoke\",\"f\":\"" f "\",\"value\":" v "}\n"
#define OK(p, f, v)   "{\"process\":" #p ",\"type\":\"ok\",\"f\":\"" f "\",\"value\":" v "}\n"
#define FAIL(p, f, v) "{\"process\":" #p ",\"type\":\"fail\",\"f\":\"" f "\",\"value\":" v "}\n"
#define OK_HEAD(p, f) "{\"process\":" #p ",\"type\":\"ok\",\"f\":\"" f "\",\"value\":"
#define INFO(p, f)    "{\"process\":" #p ",\"type\":\"info\",\"f\":\"" f "\"}\n"

/* join: head, then the final value, then the closing of its line. */
static void join(char *text, size_t cap, const char *head, const char *value)
{
    int n = snprintf(text, cap, "%s%s}\n", head, value);
    CS_CHECK(n > 0 && (size_t)n < cap);
}

CS_TEST(register_real_time)
{
    /* write 1 completes before the read begins: the read must see 1. */
    const char *good =
        I(1, "write", "1") OK(1, "write", "1") I(2, "read", "null") OK(2, "read", "1");
    const char *bad =
        I(1, "write", "1") OK(1, "write", "1") I(2, "read", "null") OK(2, "read", "null");
    CS_CHECK_EQ(lin(good, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_VALID);
    CS_CHECK_EQ(lin(bad, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
    /* Overlapping: either value is fine. */
    const char *overlap =
        I(1, "write", "1") I(2, "read", "null") OK(2, "read", "null") OK(1, "write", "1");
    CS_CHECK_EQ(lin(overlap, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_VALID);
}

CS_TEST(fail_did_not_happen_info_may)
{
    /* A failed write certainly did not happen: reading its value is wrong. */
    const char *failed =
        I(1, "write", "5") FAIL(1, "write", "5") I(2, "read", "null") OK(2, "read", "5");
    CS_CHECK_EQ(lin(failed, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
    /* An info write may take effect at any point after its invoke... */
    const char *info = I(1, "write", "5") INFO(1, "write") I(2, "read", "null") OK(2, "read", "5")
        I(2, "read", "null") OK(2, "read", "5");
    CS_CHECK_EQ(lin(info, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_VALID);
    /* ...even long after it was reported indeterminate, */
    const char *late = I(1, "write", "5") INFO(1, "write") I(2, "read", "null")
        OK(2, "read", "null") I(2, "read", "null") OK(2, "read", "5");
    CS_CHECK_EQ(lin(late, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_VALID);
    /* ...or never; but not before its invoke. */
    const char *never =
        I(1, "write", "5") INFO(1, "write") I(2, "read", "null") OK(2, "read", "null");
    CS_CHECK_EQ(lin(never, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_VALID);
    const char *early = I(2, "read", "null") OK(2, "read", "5") I(1, "write", "5") INFO(1, "write");
    CS_CHECK_EQ(lin(early, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
    /* Once it has been seen it cannot un-happen. */
    const char *flip = I(1, "write", "5") INFO(1, "write") I(2, "read", "null") OK(2, "read", "5")
        I(2, "read", "null") OK(2, "read", "null");
    CS_CHECK_EQ(lin(flip, CS_MODEL_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
}

CS_TEST(cas_register_failed_cas_is_a_result)
{
    /* cas [nil 1] failing while the register is nil is impossible. */
    const char *bad = I(1, "cas", "[null,1]") FAIL(1, "cas", "[null,1]");
    CS_CHECK_EQ(lin(bad, CS_MODEL_CAS_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
    const char *good = I(1, "cas", "[null,1]") OK(1, "cas", "[null,1]") I(1, "read", "null")
        OK(1, "read", "1") I(1, "cas", "[null,2]") FAIL(1, "cas", "[null,2]");
    CS_CHECK_EQ(lin(good, CS_MODEL_CAS_REGISTER, cs_value_none()), CS_VERDICT_VALID);
    /* --initial changes the start. */
    const char *from3 = I(1, "cas", "[3,4]") OK(1, "cas", "[3,4]");
    CS_CHECK_EQ(lin(from3, CS_MODEL_CAS_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
    CS_CHECK_EQ(lin(from3, CS_MODEL_CAS_REGISTER, cs_value_int(3)), CS_VERDICT_VALID);
}

CS_TEST(kv_counter_set_multi_register)
{
    const char *kv = "{\"process\":1,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"a\","
                     "\"value\":\"x\"}\n"
                     "{\"process\":1,\"type\":\"ok\",\"f\":\"append\",\"key\":\"a\","
                     "\"value\":\"x\"}\n"
                     "{\"process\":1,\"type\":\"invoke\",\"f\":\"append\",\"key\":\"a\","
                     "\"value\":\"y\"}\n"
                     "{\"process\":1,\"type\":\"ok\",\"f\":\"append\",\"key\":\"a\","
                     "\"value\":\"y\"}\n"
                     "{\"process\":2,\"type\":\"invoke\",\"f\":\"get\",\"key\":\"a\"}\n"
                     "{\"process\":2,\"type\":\"ok\",\"f\":\"get\",\"key\":\"a\","
                     "\"value\":";
    char text[1024];
    join(text, sizeof text, kv, "\"xy\"");
    CS_CHECK_EQ(lin(text, CS_MODEL_KV, cs_value_none()), CS_VERDICT_VALID);
    join(text, sizeof text, kv, "\"yx\"");
    CS_CHECK_EQ(lin(text, CS_MODEL_KV, cs_value_none()), CS_VERDICT_INVALID);

    const char *counter = I(1, "incr", "2") OK(1, "incr", "2") I(2, "incr", "null")
        OK(2, "incr", "null") I(1, "read", "null") OK_HEAD(1, "read");
    join(text, sizeof text, counter, "3");
    CS_CHECK_EQ(lin(text, CS_MODEL_COUNTER, cs_value_none()), CS_VERDICT_VALID);
    join(text, sizeof text, counter, "2");
    CS_CHECK_EQ(lin(text, CS_MODEL_COUNTER, cs_value_none()), CS_VERDICT_INVALID);

    const char *set = I(1, "add", "1") OK(1, "add", "1") I(1, "add", "2") OK(1, "add", "2")
        I(1, "remove", "1") OK(1, "remove", "1") I(2, "read", "null") OK_HEAD(2, "read");
    join(text, sizeof text, set, "[2]");
    CS_CHECK_EQ(lin(text, CS_MODEL_SET, cs_value_none()), CS_VERDICT_VALID);
    join(text, sizeof text, set, "[2,1]");
    CS_CHECK_EQ(lin(text, CS_MODEL_SET, cs_value_none()), CS_VERDICT_INVALID);

    const char *txn = I(1, "txn", "[[\"w\",\"x\",1],[\"w\",\"y\",2]]")
        OK(1, "txn", "[[\"w\",\"x\",1],[\"w\",\"y\",2]]")
            I(2, "txn", "[[\"r\",\"x\",null],[\"r\",\"y\",null]]") OK_HEAD(2, "txn");
    join(text, sizeof text, txn, "[[\"r\",\"x\",1],[\"r\",\"y\",2]]");
    CS_CHECK_EQ(lin(text, CS_MODEL_MULTI_REGISTER, cs_value_none()), CS_VERDICT_VALID);
    join(text, sizeof text, txn, "[[\"r\",\"x\",1],[\"r\",\"y\",null]]");
    CS_CHECK_EQ(lin(text, CS_MODEL_MULTI_REGISTER, cs_value_none()), CS_VERDICT_INVALID);
}

CS_TEST(unsupported_op_is_an_error)
{
    struct cs_history h;
    load(&h, I(1, "cas", "[1,2]") OK(1, "cas", "[1,2]"));
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_result r;
    CS_CHECK_RC(cs_check_linearizable(&h, &spec, NULL, &r), CS_EINVAL);
    CS_CHECK(strstr(r.detail, "cas-register") != NULL);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

CS_TEST(budget_gives_unknown_never_a_guess)
{
    /* Twelve concurrent writes, then reads of 1 and then 2 with nothing in
       between: impossible, but refuting it means trying the writes' orders
       (2^12 subsets, memoised). A budget of 100 steps stops it with unknown;
       no budget gives invalid. */
    char text[16384];
    size_t len = 0;
    for (int p = 0; p < 12; p++) {
        len += (size_t)snprintf(text + len, sizeof text - len, I(% d, "write", "%d"), p, p);
    }
    for (int p = 0; p < 12; p++) {
        len += (size_t)snprintf(text + len, sizeof text - len, OK(% d, "write", "%d"), p, p);
    }
    len += (size_t)snprintf(text + len, sizeof text - len,
                            I(99, "read", "null") OK(99, "read", "1") I(99, "read", "null")
                                OK(99, "read", "2"));
    struct cs_history h;
    load(&h, text);
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_budget budget = {100, 0, 0, NULL, NULL};
    struct cs_check_result r;
    /* Written values are unique, so the zones test would decide at once:
       this is about the search, so ask it alone. */
    CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, &budget, CS_CHECK_SEARCH_ONLY, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_UNKNOWN);
    cs_check_result_free(&r);
    CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, CS_CHECK_SEARCH_ONLY, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    cs_check_result_free(&r);
    /* By default the zones test answers within the same budget. */
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, &budget, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    CS_CHECK_EQ(r.procedure, CS_PROCEDURE_ZONES);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

/* The exam's question 11: P1 writes x=1 then reads y=0; P2 writes y=1 then
 * reads x=0 (both registers start at 0). */
static const char q11[] =
    "{\"process\":1,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"x\",\"value\":1}\n"
    "{\"process\":2,\"type\":\"invoke\",\"f\":\"write\",\"key\":\"y\",\"value\":1}\n"
    "{\"process\":1,\"type\":\"ok\",\"f\":\"write\",\"key\":\"x\",\"value\":1}\n"
    "{\"process\":2,\"type\":\"ok\",\"f\":\"write\",\"key\":\"y\",\"value\":1}\n"
    "{\"process\":1,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"y\"}\n"
    "{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"x\"}\n"
    "{\"process\":1,\"type\":\"ok\",\"f\":\"read\",\"key\":\"y\",\"value\":0}\n"
    "{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"key\":\"x\",\"value\":0}\n";

CS_TEST(exam_q11_neither_linearizable_nor_sequential)
{
    struct cs_history h;
    load(&h, q11);
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_int(0), true};
    struct cs_check_result r;
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    cs_check_result_free(&r);
    CS_CHECK_OK(cs_check_sequential(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    /* The proof: w(x,1) -po-> r(y)=0 -fr-> w(y,1) -po-> r(x)=0 -fr-> w(x,1). */
    CS_CHECK_EQ(r.cycle_len, 4);
    int po = 0, fr = 0;
    for (uint32_t i = 0; i < r.cycle_len; i++) {
        po += r.cycle_edges[i] == CS_EDGE_PROGRAM;
        fr += r.cycle_edges[i] == CS_EDGE_FROM_READ;
        uint32_t a = r.cycle[i], b = r.cycle[(i + 1) % r.cycle_len];
        if (r.cycle_edges[i] == CS_EDGE_PROGRAM) {
            CS_CHECK_EQ(h.ops[a].process, h.ops[b].process);
        } else {
            CS_CHECK_EQ(h.ops[a].f, CS_F_READ);
            CS_CHECK_EQ(h.ops[b].f, CS_F_WRITE);
            CS_CHECK_EQ(h.ops[a].key, h.ops[b].key);
        }
    }
    CS_CHECK_EQ(po, 2);
    CS_CHECK_EQ(fr, 2);
    struct cs_buf text;
    cs_buf_init(&text, 1u << 16);
    CS_CHECK_OK(cs_check_explain(&h, &r, &text));
    cs_put_u8(&text, 0);
    CS_CHECK(strstr((const char *)text.data, "from-read") != NULL);
    CS_CHECK(strstr((const char *)text.data, "program order") != NULL);
    cs_buf_free(&text);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

CS_TEST(sequential_but_not_linearizable)
{
    /* A stale read after a completed write: fine for sequential consistency
       (the read's process can be ordered first), not linearizable. */
    const char *stale =
        I(1, "write", "1") OK(1, "write", "1") I(2, "read", "null") OK(2, "read", "null");
    struct cs_history h;
    load(&h, stale);
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_result r;
    CS_CHECK_OK(cs_check_sequential(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_VALID);
    cs_check_result_free(&r);
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

static enum cs_verdict session(const char *text, enum cs_session_guarantee *g)
{
    struct cs_history h;
    load(&h, text);
    struct cs_check_result r;
    CS_CHECK_OK(cs_check_session(&h, &r));
    enum cs_verdict v = r.verdict;
    *g = r.guarantee;
    if (v == CS_VERDICT_INVALID) CS_CHECK_EQ(r.cycle_len, 2);
    cs_check_result_free(&r);
    cs_history_free(&h);
    return v;
}

#define SI(p, f)                                                                                   \
    "{\"process\":" #p ",\"type\":\"invoke\",\"f\":\"" f "\",\"key\":\"k\",\"session\":\"s\"}\n"
#define SOK(p, f, ver)                                                                             \
    "{\"process\":" #p ",\"type\":\"ok\",\"f\":\"" f "\",\"key\":\"k\",\"version\":" #ver "}\n"

CS_TEST(session_guarantees_each_caught)
{
    enum cs_session_guarantee g;
    CS_CHECK_EQ(session(SI(1, "write") SOK(1, "write", 3) SI(1, "read") SOK(1, "read", 3)
                            SI(1, "read") SOK(1, "read", 4) SI(1, "write") SOK(1, "write", 5),
                        &g),
                CS_VERDICT_VALID);
    CS_CHECK_EQ(session(SI(1, "write") SOK(1, "write", 3) SI(1, "read") SOK(1, "read", 2), &g),
                CS_VERDICT_INVALID);
    CS_CHECK_EQ(g, CS_SESSION_READ_YOUR_WRITES);
    CS_CHECK_EQ(session(SI(1, "read") SOK(1, "read", 4) SI(1, "read") SOK(1, "read", 2), &g),
                CS_VERDICT_INVALID);
    CS_CHECK_EQ(g, CS_SESSION_MONOTONIC_READS);
    CS_CHECK_EQ(session(SI(1, "write") SOK(1, "write", 4) SI(1, "write") SOK(1, "write", 4), &g),
                CS_VERDICT_INVALID);
    CS_CHECK_EQ(g, CS_SESSION_MONOTONIC_WRITES);
    CS_CHECK_EQ(session(SI(1, "read") SOK(1, "read", 6) SI(1, "write") SOK(1, "write", 5), &g),
                CS_VERDICT_INVALID);
    CS_CHECK_EQ(g, CS_SESSION_WRITES_FOLLOW_READS);
    /* Different sessions do not constrain each other. */
    CS_CHECK_EQ(
        session(SI(1, "read") SOK(
                    1, "read", 6) "{\"process\":2,\"type\":\"invoke\",\"f\":\"read\",\"key\":\"k\","
                                  "\"session\":\"t\"}\n" SOK(2, "read", 2),
                &g),
        CS_VERDICT_VALID);
}

CS_TEST(explanation_and_html_name_the_failure)
{
    /* Two long concurrent writes; inside them reads of 1, then 2, then 1.
       Each value has a producer no write certainly overwrote, so only the
       search can refute it. */
    const char *bad = I(1, "write", "1") I(2, "write", "2") I(3, "read", "null") OK(3, "read", "1")
        I(3, "read", "null") OK(3, "read", "2") I(3, "read", "null") OK(3, "read", "1")
            OK(1, "write", "1") OK(2, "write", "2");
    struct cs_history h;
    load(&h, bad);
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_result r;
    /* The search's explanation (values are unique: zones would answer). */
    CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, CS_CHECK_SEARCH_ONLY, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    /* ops: 0 w1, 1 w2, 2 r1, 3 r2, 4 r1. Best prefix w1 r1 w2 (state 2);
       then r2 could go, but the last read of 1 is already doomed. */
    CS_CHECK_EQ(r.prefix_len, 3);
    CS_CHECK_EQ(r.prefix[2], 1);
    CS_CHECK_EQ(r.stuck_len, 1);
    CS_CHECK_EQ(r.stuck[0], 3);
    CS_CHECK_EQ(r.dead_op, 4);
    CS_CHECK_STR(r.state_text, "2");
    struct cs_buf out;
    cs_buf_init(&out, 1u << 20);
    CS_CHECK_OK(cs_check_explain(&h, &r, &out));
    cs_put_u8(&out, 0);
    CS_CHECK(strstr((const char *)out.data, "op 4, process 3: read -> ok 1") != NULL);
    cs_buf_reset(&out);
    CS_CHECK_OK(cs_check_write_html(&h, &r, &out));
    cs_put_u8(&out, 0);
    CS_CHECK(strstr((const char *)out.data, "<svg") != NULL);
    CS_CHECK(strstr((const char *)out.data, "#d33") != NULL);
    cs_buf_free(&out);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

CS_TEST(stale_read_refuted_before_search)
{
    /* write 1, then write 2, then a read of 1: the only producer of 1 was
       certainly overwritten before the read began. No search step needed;
       the explanation says so and names the read. */
    const char *bad = I(1, "write", "1") OK(1, "write", "1") I(1, "write", "2") OK(1, "write", "2")
        I(2, "read", "null") OK(2, "read", "1");
    struct cs_history h;
    load(&h, bad);
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_result r;
    /* Without zones (values are unique), the stale-read test decides. */
    CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, CS_CHECK_SEARCH_ONLY, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    CS_CHECK_EQ(r.procedure, CS_PROCEDURE_STALE_READ);
    CS_CHECK_EQ(r.steps, 0);
    CS_CHECK_EQ(r.stuck_len, 1);
    CS_CHECK_EQ(r.stuck[0], 2);
    struct cs_buf out;
    cs_buf_init(&out, 1u << 20);
    CS_CHECK_OK(cs_check_explain(&h, &r, &out));
    cs_put_u8(&out, 0);
    CS_CHECK(strstr((const char *)out.data, "overwritten") != NULL);
    cs_buf_free(&out);
    cs_check_result_free(&r);
    cs_history_free(&h);
    /* The same read concurrent with the second write is fine. */
    const char *ok = I(1, "write", "1") OK(1, "write", "1") I(1, "write", "2") I(2, "read", "null")
        OK(2, "read", "1") OK(1, "write", "2");
    load(&h, ok);
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_VALID);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

CS_TEST_MAIN(CS_CASE(register_real_time), CS_CASE(fail_did_not_happen_info_may),
             CS_CASE(cas_register_failed_cas_is_a_result), CS_CASE(kv_counter_set_multi_register),
             CS_CASE(unsupported_op_is_an_error), CS_CASE(budget_gives_unknown_never_a_guess),
             CS_CASE(exam_q11_neither_linearizable_nor_sequential),
             CS_CASE(sequential_but_not_linearizable), CS_CASE(session_guarantees_each_caught),
             CS_CASE(explanation_and_html_name_the_failure),
             CS_CASE(stale_read_refuted_before_search))
