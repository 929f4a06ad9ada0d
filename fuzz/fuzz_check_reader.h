/*
 * fuzz_check_reader.h: the one property every history reader's fuzz target
 * checks. Whatever the bytes, the reader returns 0 or a CS_E code, never
 * reads out of bounds, and on error leaves the history empty. What it accepts
 * must write back as JSONL that reads again to the same JSONL (a fixed
 * point), and a bounded check of it must return a verdict or a CS_E code.
 */
#ifndef CS_FUZZ_CHECK_READER_H
#define CS_FUZZ_CHECK_READER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/check.h"

static int fuzz_history_reader(enum cs_history_format format, const uint8_t *data, size_t size)
{
    struct cs_history h;
    cs_history_init(&h, 64);
    struct cs_parse_error err;
    int rc = cs_history_parse(&h, format, (const char *)data, size, &err);
    if (rc != 0) {
        CS_ASSERT(rc < 0 && h.ops_len == 0 && err.line >= 1);
        cs_history_free(&h);
        return 0;
    }
    struct cs_buf a, b;
    cs_buf_init(&a, 1u << 24);
    cs_buf_init(&b, 1u << 24);
    CS_ASSERT(cs_history_write_jsonl(&h, &a) == 0);
    struct cs_history again;
    cs_history_init(&again, 64);
    CS_ASSERT(cs_history_parse(&again, CS_FORMAT_JSONL, (const char *)a.data, a.len, &err) == 0);
    CS_ASSERT(cs_history_write_jsonl(&again, &b) == 0);
    CS_ASSERT(a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0));
    struct cs_model_spec spec = cs_model_default(&h);
    struct cs_check_budget budget = {20000, 1u << 24, 0, NULL, NULL};
    struct cs_check_result result;
    rc = cs_check_linearizable(&h, &spec, &budget, &result);
    CS_ASSERT(rc == 0 || rc == CS_EINVAL);
    cs_check_result_free(&result);
    cs_buf_free(&a);
    cs_buf_free(&b);
    cs_history_free(&again);
    cs_history_free(&h);
    return 0;
}

#endif /* CS_FUZZ_CHECK_READER_H */
