/*
 * write.c: values and histories back to text (JSON, JSONL), and value
 * equality.
 *
 * Values nest (a txn is a list of lists), so these walk them with a depth
 * limit of CS_HISTORY_VALUE_DEPTH_MAX: the readers never build deeper values,
 * and programmatic ones past it are refused with CS_ETOOBIG.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "consist/error.h"

static int put_text(struct cs_buf *out, const char *s)
{
    return cs_put_raw(out, s, strlen(s));
}

static int put_json_string(struct cs_buf *out, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    cs_put_u8(out, '"');
    size_t run = 0; /* bytes copied as they are, flushed in one call */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            run++;
            continue;
        }
        cs_put_raw(out, s + i - run, run);
        run = 0;
        char esc[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            esc[2] = 0;
        } else if (c == '\n') {
            esc[1] = 'n';
            esc[2] = 0;
        }
        put_text(out, esc);
    }
    cs_put_raw(out, s + len - run, run);
    return cs_put_u8(out, '"');
}

static int write_value(const struct cs_history *h, struct cs_value v, struct cs_buf *out,
                       uint32_t depth)
{
    char num[24];
    switch ((enum cs_value_kind)v.kind) {
    case CS_VALUE_NONE:
    case CS_VALUE_NIL:
        return put_text(out, "null");
    case CS_VALUE_INT:
        snprintf(num, sizeof num, "%" PRId64, v.x);
        return put_text(out, num);
    case CS_VALUE_STR: {
        size_t len;
        const char *s = cs_history_string(h, (uint32_t)v.x, &len);
        return put_json_string(out, s, len);
    }
    case CS_VALUE_LIST:
        if (depth == CS_HISTORY_VALUE_DEPTH_MAX) return CS_ETOOBIG;
        cs_put_u8(out, '[');
        for (uint32_t i = 0; i < v.len; i++) {
            if (i > 0) cs_put_u8(out, ',');
            int rc = write_value(h, cs_history_item(h, v, i), out, depth + 1);
            if (rc) return rc;
        }
        return cs_put_u8(out, ']');
    }
    return CS_EINVAL;
}

int cs_history_write_value(const struct cs_history *h, struct cs_value v, struct cs_buf *out)
{
    int rc = write_value(h, v, out, 0);
    return rc ? rc : cs_buf_error(out);
}

int cs_check_value_text(const struct cs_history *h, struct cs_value v, struct cs_buf *out)
{
    if (v.kind == CS_VALUE_NONE) return put_text(out, "?");
    if (v.kind == CS_VALUE_NIL) return put_text(out, "nil");
    return cs_history_write_value(h, v, out);
}

static bool values_equal(const struct cs_history *h, struct cs_value a, struct cs_value b,
                         uint32_t depth)
{
    if (a.kind != b.kind) return false;
    if (a.kind != CS_VALUE_LIST) return a.x == b.x;
    if (a.len != b.len || depth == CS_HISTORY_VALUE_DEPTH_MAX) return false;
    for (uint32_t i = 0; i < a.len; i++) {
        if (!values_equal(h, cs_history_item(h, a, i), cs_history_item(h, b, i), depth + 1)) {
            return false;
        }
    }
    return true;
}

bool cs_check_values_equal(const struct cs_history *h, struct cs_value a, struct cs_value b)
{
    return values_equal(h, a, b, 0);
}

static void write_field_id(const struct cs_history *h, const char *name, uint32_t id,
                           struct cs_buf *out)
{
    size_t len;
    const char *s = cs_history_string(h, id, &len);
    put_text(out, name);
    put_json_string(out, s, len);
}

static int write_event(const struct cs_history *h, const struct cs_op *op, bool completion,
                       struct cs_buf *out)
{
    char num[48];
    snprintf(num, sizeof num, "{\"process\":%" PRId64, op->process);
    put_text(out, num);
    put_text(out, ",\"type\":\"");
    put_text(out, completion ? cs_op_type_name((enum cs_op_type)op->type) : "invoke");
    put_text(out, "\",\"f\":\"");
    put_text(out, cs_op_f_name((enum cs_op_f)op->f));
    cs_put_u8(out, '"');
    if (op->key != CS_KEY_NONE) write_field_id(h, ",\"key\":", op->key, out);
    struct cs_value v = completion ? op->result : op->value;
    if (v.kind != CS_VALUE_NONE) {
        put_text(out, ",\"value\":");
        int rc = cs_history_write_value(h, v, out);
        if (rc) return rc;
    }
    int64_t time = completion ? op->complete_time : op->invoke_time;
    if (time != CS_TIME_NONE) {
        snprintf(num, sizeof num, ",\"time\":%" PRId64, time);
        put_text(out, num);
    }
    if (!completion && op->session != CS_SESSION_NONE) {
        write_field_id(h, ",\"session\":", op->session, out);
    }
    /* The version goes where the reader will take it from: the completion if
       there is one, else the invoke. */
    bool version_here = completion || op->complete_event == CS_EVENT_NONE;
    if (op->version != CS_VERSION_NONE && version_here) {
        snprintf(num, sizeof num, ",\"version\":%" PRIu64, op->version);
        put_text(out, num);
    }
    put_text(out, "}\n");
    return cs_buf_error(out);
}

int cs_history_write_jsonl(const struct cs_history *h, struct cs_buf *out)
{
    for (uint32_t e = 0; e < h->events_len; e++) {
        uint32_t index = h->events[e] >> 1;
        CS_ASSERT(index < h->ops_len);
        int rc = write_event(h, &h->ops[index], (h->events[e] & 1u) != 0, out);
        if (rc) return rc;
    }
    return cs_buf_error(out);
}
