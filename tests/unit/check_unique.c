/*
 * check_unique.c: the zones test (src/check/unique.c) on tiny hand-made
 * register histories, one per condition: a read of a value never written, a
 * read that returns before its write is invoked, overlapping forward zones, a
 * backward zone inside a forward zone, reads of the initial value, info
 * writes read and not read, info reads, and the cases it must leave to the
 * search (a repeated value, a write of the initial value, a cas).
 *
 * Method: each history is written as events in real-time order; every case
 * is checked twice, by the zones test and by the search alone, and both must
 * give the expected verdict, so each assertion can fail on either side.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/internal.h"
#include "consist/check.h"
#include "consist/error.h"
#include "testlib.h"

/*
 * build: events from a compact text, one token per event, in order:
 *   i<p>w<v>  process p invokes write v     i<p>r     p invokes read
 *   o<p>w     p's write returns ok          o<p>r<v>  p's read returns v ('n': nil)
 *   f<p>w     p's write fails               n<p>w / n<p>r  p's op returns info
 * key names the key of every op ("" for none).
 */
static void build(struct cs_history *h, const char *text, const char *key)
{
    cs_history_init(h, 0);
    uint32_t key_id = CS_KEY_NONE;
    if (key[0] != 0) CS_CHECK_OK(cs_history_intern(h, key, strlen(key), &key_id));
    const char *p = text;
    while (*p != 0) {
        if (*p == ' ') {
            p++;
            continue;
        }
        char kind = *p++;
        char *end;
        long process = strtol(p, &end, 10);
        p = end;
        enum cs_op_f f = *p++ == 'w' ? CS_F_WRITE : CS_F_READ;
        struct cs_value v = cs_value_none();
        if (*p == 'n') {
            v = cs_value_nil();
            p++;
        } else if (*p >= '0' && *p <= '9') {
            v = cs_value_int(strtol(p, &end, 10));
            p = end;
        }
        int rc;
        if (kind == 'i') {
            struct cs_event ev = {process,         CS_TIME_NONE, v,
                                  CS_VERSION_NONE, key_id,       CS_SESSION_NONE,
                                  CS_TYPE_INVOKE,  (uint8_t)f};
            rc = cs_history_append(h, &ev);
        } else {
            enum cs_op_type type = kind == 'o'   ? CS_TYPE_OK
                                   : kind == 'f' ? CS_TYPE_FAIL
                                                 : CS_TYPE_INFO;
            /* A write's completion carries the value of the process's open op. */
            struct cs_value result = v;
            for (uint32_t k = h->ops_len; f == CS_F_WRITE && type != CS_TYPE_INFO && k-- > 0;) {
                if (h->ops[k].process == process) {
                    result = h->ops[k].value;
                    break;
                }
            }
            struct cs_event ev = {process, CS_TIME_NONE,    result,        CS_VERSION_NONE,
                                  key_id,  CS_SESSION_NONE, (uint8_t)type, (uint8_t)f};
            rc = cs_history_append(h, &ev);
        }
        CS_CHECK_MSG(rc == 0, "event before \"%s\": %s", p, cs_errname(rc));
    }
}

struct verdicts {
    enum cs_verdict zones, search;
    enum cs_check_procedure procedure;
    uint32_t partitions_zones;
    char detail[256];
    uint32_t stuck[8];
    uint32_t stuck_len;
};

static struct verdicts check_both(const char *text, const char *key, enum cs_model_kind kind,
                                  struct cs_value initial, unsigned flags)
{
    struct cs_history h;
    build(&h, text, key);
    struct cs_model_spec spec = {kind, initial, true};
    struct verdicts out;
    memset(&out, 0, sizeof out);
    struct cs_check_result r;
    CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, flags, &r));
    out.zones = r.verdict;
    out.procedure = r.procedure;
    out.partitions_zones = r.partitions_zones;
    memcpy(out.detail, r.detail, sizeof out.detail);
    for (uint32_t i = 0; i < r.stuck_len && i < 8; i++)
        out.stuck[out.stuck_len++] = r.stuck[i];
    if (r.verdict == CS_VERDICT_INVALID) {
        /* The explanation names the conflict in words. */
        struct cs_buf text_out;
        cs_buf_init(&text_out, 1u << 16);
        CS_CHECK_OK(cs_check_explain(&h, &r, &text_out));
        CS_CHECK(text_out.len > 0);
        cs_buf_free(&text_out);
    }
    cs_check_result_free(&r);
    CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, CS_CHECK_SEARCH_ONLY, &r));
    out.search = r.verdict;
    CS_CHECK_EQ(r.partitions_zones, 0u);
    cs_check_result_free(&r);
    cs_history_free(&h);
    return out;
}

static struct verdicts reg(const char *text)
{
    return check_both(text, "", CS_MODEL_REGISTER, cs_value_none(), 0);
}

static bool has_stuck(const struct verdicts *v, uint32_t op)
{
    for (uint32_t i = 0; i < v->stuck_len; i++) {
        if (v->stuck[i] == op) return true;
    }
    return false;
}

#define EXPECT(v, verdict)                                                                         \
    do {                                                                                           \
        CS_CHECK_EQ((v).zones, (verdict));                                                         \
        CS_CHECK_EQ((v).search, (verdict));                                                        \
        CS_CHECK_EQ((v).partitions_zones, 1u);                                                     \
        CS_CHECK_EQ((v).procedure, CS_PROCEDURE_ZONES);                                            \
    } while (0)

CS_TEST(sequential_valid_and_stale)
{
    struct verdicts v = reg("i1w1 o1w i1w2 o1w i2r o2r2");
    EXPECT(v, CS_VERDICT_VALID);
    /* The read began after write 2 returned: reading 1 is a lost update. */
    v = reg("i1w1 o1w i1w2 o1w i2r o2r1");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "can only take effect") != NULL);
    CS_CHECK(has_stuck(&v, 1) && has_stuck(&v, 2));
}

CS_TEST(read_of_value_never_written)
{
    struct verdicts v = reg("i1w1 o1w i2r o2r7");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "no op wrote") != NULL);
    CS_CHECK(v.stuck_len == 1 && v.stuck[0] == 1);
    /* A failed write certainly did not happen: its value was never written. */
    v = reg("i1w7 f1w i2r o2r7");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "no op wrote") != NULL);
}

CS_TEST(read_returns_before_its_write_is_invoked)
{
    struct verdicts v = reg("i2r o2r5 i1w5 o1w");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "before op 1") != NULL);
    CS_CHECK(has_stuck(&v, 0) && has_stuck(&v, 1));
    /* Overlapping the write is fine. */
    v = reg("i2r i1w5 o2r5 o1w");
    EXPECT(v, CS_VERDICT_VALID);
}

CS_TEST(forward_zones_overlap)
{
    /* Value 1 must hold from op 1's return to op 3's invoke, value 2 from op 2's
       return to op 4's invoke; those spans overlap. */
    struct verdicts v = reg("i1w1 i2w2 i3r o3r1 o1w i4r o4r2 o2w i5r o5r1 i6r o6r2");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "overlap") != NULL);
    /* Without the second read of 1, value 1 need not outlive value 2: 1, 2. */
    v = reg("i1w1 i2w2 i3r o3r1 o1w i4r o4r2 o2w i6r o6r2");
    EXPECT(v, CS_VERDICT_VALID);
}

CS_TEST(backward_zone_inside_forward_zone)
{
    /* Write 2 starts and ends while value 1 must hold (written before, read after). */
    struct verdicts v = reg("i1w1 o1w i2w2 o2w i3r o3r1");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "can only take effect") != NULL);
    CS_CHECK(has_stuck(&v, 0) && has_stuck(&v, 1) && has_stuck(&v, 2));
    /* Write 2 overlapping the read of 1 can go after it. */
    v = reg("i1w1 o1w i2w2 i3r o3r1 o2w");
    EXPECT(v, CS_VERDICT_VALID);
    /* The planted bug (no backward-zone condition) misses the first. */
    v = check_both("i1w1 o1w i2w2 o2w i3r o3r1", "", CS_MODEL_REGISTER, cs_value_none(),
                   CS_CHECK_PLANT_ZONES_NO_BACKWARD);
    CS_CHECK_EQ(v.zones, CS_VERDICT_VALID);
    CS_CHECK_EQ(v.search, CS_VERDICT_INVALID);
}

CS_TEST(reads_of_the_initial_value)
{
    /* nil read while write 1 is open: fine; nil read after it returned: not. */
    struct verdicts v = reg("i1w1 i2r o2rn o1w i3r o3r1");
    EXPECT(v, CS_VERDICT_VALID);
    v = reg("i1w1 o1w i2r o2rn");
    EXPECT(v, CS_VERDICT_INVALID);
    CS_CHECK(strstr(v.detail, "initial value") != NULL);
    /* Write 1 took effect before a read of 1 returned, and that was before
       the nil read began: the write's zone lies inside the initial value's. */
    v = reg("i1w1 i2r o2r1 i3r o3rn o1w");
    EXPECT(v, CS_VERDICT_INVALID);
    /* With --initial 0, reads of 0 are reads of the initial value. */
    v = check_both("i1w1 i2r o2r0 o1w i3r o3r1", "", CS_MODEL_REGISTER, cs_value_int(0), 0);
    EXPECT(v, CS_VERDICT_VALID);
}

CS_TEST(info_writes)
{
    /* An info write never read may never have happened: dropped. */
    struct verdicts v = reg("i1w1 o1w i2w2 n2w i3r o3r1");
    EXPECT(v, CS_VERDICT_VALID);
    /* One that was read happened, at any point after its invoke. */
    v = reg("i1w1 o1w i2w2 n2w i3r o3r2 i4r o4r2");
    EXPECT(v, CS_VERDICT_VALID);
    /* Read, then a read of the older value after it: the info write is not
       undone. */
    v = reg("i1w1 o1w i2w2 n2w i3r o3r2 i4r o4r1");
    EXPECT(v, CS_VERDICT_INVALID);
    /* Still a read that returned before its invoke is wrong. */
    v = reg("i3r o3r2 i2w2 n2w");
    EXPECT(v, CS_VERDICT_INVALID);
    /* An info read has no value and constrains nothing. */
    v = reg("i1w1 o1w i3r n3r i4r o4r1");
    EXPECT(v, CS_VERDICT_VALID);
}

CS_TEST(left_to_the_search)
{
    /* A value written twice: zones do not apply; the search decides. */
    struct verdicts v = reg("i1w1 o1w i1w2 o1w i1w1 o1w i2r o2r1");
    CS_CHECK_EQ(v.zones, CS_VERDICT_VALID);
    CS_CHECK_EQ(v.search, CS_VERDICT_VALID);
    CS_CHECK_EQ(v.partitions_zones, 0u);
    CS_CHECK_EQ(v.procedure, CS_PROCEDURE_SEARCH);
    /* A write of the initial value (nil, or --initial 1) is not unique either. */
    v = check_both("i1w1 o1w i2r o2r1", "", CS_MODEL_REGISTER, cs_value_int(1), 0);
    CS_CHECK_EQ(v.partitions_zones, 0u);
    CS_CHECK_EQ(v.zones, CS_VERDICT_VALID);
    v = reg("i1wn o1w i2r o2rn");
    CS_CHECK_EQ(v.partitions_zones, 0u);
}

CS_TEST(cas_left_to_the_search)
{
    const char *text = "{\"process\":1,\"type\":\"invoke\",\"f\":\"cas\",\"value\":[null,1]}\n"
                       "{\"process\":1,\"type\":\"ok\",\"f\":\"cas\",\"value\":[null,1]}\n"
                       "{\"process\":2,\"type\":\"invoke\",\"f\":\"read\"}\n"
                       "{\"process\":2,\"type\":\"ok\",\"f\":\"read\",\"value\":1}\n";
    struct cs_history h;
    cs_history_init(&h, 0);
    struct cs_parse_error err;
    CS_CHECK_OK(cs_history_parse(&h, CS_FORMAT_JSONL, text, strlen(text), &err));
    struct cs_model_spec spec = {CS_MODEL_CAS_REGISTER, cs_value_none(), true};
    struct cs_check_result r;
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_VALID);
    CS_CHECK_EQ(r.partitions_zones, 0u);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

CS_TEST(per_key_partitions)
{
    /* Two keys in one history: each partition is decided by zones. */
    struct cs_history h;
    cs_history_init(&h, 0);
    uint32_t x, y;
    CS_CHECK_OK(cs_history_intern(&h, "x", 1, &x));
    CS_CHECK_OK(cs_history_intern(&h, "y", 1, &y));
    CS_CHECK_OK(cs_history_invoke(&h, 1, CS_F_WRITE, x, cs_value_int(1), CS_TIME_NONE));
    CS_CHECK_OK(cs_history_complete(&h, 1, CS_TYPE_OK, CS_F_WRITE, cs_value_int(1), CS_TIME_NONE));
    CS_CHECK_OK(cs_history_invoke(&h, 2, CS_F_WRITE, y, cs_value_int(1), CS_TIME_NONE));
    CS_CHECK_OK(cs_history_complete(&h, 2, CS_TYPE_OK, CS_F_WRITE, cs_value_int(1), CS_TIME_NONE));
    CS_CHECK_OK(cs_history_invoke(&h, 3, CS_F_READ, y, cs_value_none(), CS_TIME_NONE));
    CS_CHECK_OK(cs_history_complete(&h, 3, CS_TYPE_OK, CS_F_READ, cs_value_nil(), CS_TIME_NONE));
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_result r;
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, NULL, &r));
    CS_CHECK_EQ(r.verdict, CS_VERDICT_INVALID);
    CS_CHECK_EQ(r.key, y);
    CS_CHECK_EQ(r.procedure, CS_PROCEDURE_ZONES);
    CS_CHECK_EQ(r.partitions_zones, 2u);
    cs_check_result_free(&r);
    cs_history_free(&h);
}

CS_TEST(procedure_names)
{
    CS_CHECK_STR(cs_check_procedure_name(CS_PROCEDURE_SEARCH), "search");
    CS_CHECK_STR(cs_check_procedure_name(CS_PROCEDURE_STALE_READ), "stale-read test");
    CS_CHECK_STR(cs_check_procedure_name(CS_PROCEDURE_ZONES), "zones");
}

CS_TEST_MAIN(CS_CASE(sequential_valid_and_stale), CS_CASE(read_of_value_never_written),
             CS_CASE(read_returns_before_its_write_is_invoked), CS_CASE(forward_zones_overlap),
             CS_CASE(backward_zone_inside_forward_zone), CS_CASE(reads_of_the_initial_value),
             CS_CASE(info_writes), CS_CASE(left_to_the_search), CS_CASE(cas_left_to_the_search),
             CS_CASE(per_key_partitions), CS_CASE(procedure_names))
