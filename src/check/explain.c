/*
 * explain.c: a verdict in words, and as a picture (a self-contained HTML
 * page with one SVG lane per process).
 *
 * Both draw only on the result and the history: which ops were ordered, which
 * could not follow, which form a cycle, which pair broke a session guarantee.
 * Long prefixes are cut to their last CS_EXPLAIN_PREFIX_SHOWN ops (the end is
 * where the trouble is); pictures to CS_HTML_OPS_MAX ops around the failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/model.h"
#include "consist/error.h"

#define CS_EXPLAIN_PREFIX_SHOWN 24u
#define CS_HTML_OPS_MAX         4000u

static int put_text(struct cs_buf *out, const char *s)
{
    return cs_put_raw(out, s, strlen(s));
}

static void put_key(const struct cs_history *h, uint32_t key, struct cs_buf *out)
{
    if (key == CS_KEY_NONE) return;
    size_t len;
    const char *k = cs_history_string(h, key, &len);
    put_text(out, " key ");
    cs_put_raw(out, k, len);
}

/* describe_op: "process 3: write 7 (key x) -> ok". */
static void describe_op(const struct cs_history *h, uint32_t index, struct cs_buf *out)
{
    const struct cs_op *op = &h->ops[index];
    char num[64];
    snprintf(num, sizeof num, "op %u, process %" PRId64 ": ", index, op->process);
    put_text(out, num);
    put_text(out, cs_op_f_name((enum cs_op_f)op->f));
    if (op->value.kind != CS_VALUE_NONE && op->value.kind != CS_VALUE_NIL) {
        cs_put_u8(out, ' ');
        cs_check_value_text(h, op->value, out);
    }
    put_key(h, op->key, out);
    put_text(out, " -> ");
    put_text(out, op->type == CS_TYPE_INVOKE ? "never completed"
                                             : cs_op_type_name((enum cs_op_type)op->type));
    if (op->result.kind != CS_VALUE_NONE && op->f != CS_F_WRITE && op->f != CS_F_PUT &&
        op->f != CS_F_APPEND && op->f != CS_F_CAS) {
        cs_put_u8(out, ' ');
        cs_check_value_text(h, op->result, out);
    }
    if (op->version != CS_VERSION_NONE) {
        snprintf(num, sizeof num, " (version %" PRIu64 ")", op->version);
        put_text(out, num);
    }
    snprintf(num, sizeof num, "  [events %u..", op->invoke_event);
    put_text(out, num);
    if (op->complete_event == CS_EVENT_NONE) {
        put_text(out, "end]");
    } else {
        snprintf(num, sizeof num, "%u]", op->complete_event);
        put_text(out, num);
    }
}

static void explain_search(const struct cs_history *h, const struct cs_check_result *r,
                           struct cs_buf *out)
{
    char line[160];
    bool lin = r->consistency == CS_CONSISTENCY_LINEARIZABLE;
    put_text(out, lin ? "not linearizable" : "not sequentially consistent");
    if (r->key != CS_KEY_NONE) {
        put_text(out, " on");
        put_key(h, r->key, out);
        put_text(out, " (checked on its own: linearizability is compositional)");
    }
    put_text(out, ".\n");
    if (r->cycle_len > 0) {
        put_text(out, "These orderings are all required, and they form a cycle:\n");
        for (uint32_t i = 0; i < r->cycle_len; i++) {
            put_text(out, "  ");
            describe_op(h, r->cycle[i], out);
            snprintf(line, sizeof line, "\n      must precede (%s)\n",
                     cs_edge_kind_name((enum cs_edge_kind)r->cycle_edges[i]));
            put_text(out, line);
        }
        put_text(out, "  ");
        describe_op(h, r->cycle[0], out);
        put_text(out, "\nso no single order of all operations explains what was read.\n");
        return;
    }
    if (r->detail[0] != 0) {
        /* Decided before any search: the detail says why, naming the ops. */
        put_text(out, r->detail);
        put_text(out, ":\n");
        for (uint32_t i = 0; i < r->stuck_len; i++) {
            put_text(out, "  ");
            describe_op(h, r->stuck[i], out);
            cs_put_u8(out, '\n');
        }
        return;
    }
    snprintf(line, sizeof line, "The longest %s prefix found has %u ops",
             lin ? "linearizable" : "sequential", r->prefix_len);
    put_text(out, line);
    uint32_t from = 0;
    if (r->prefix_len > CS_EXPLAIN_PREFIX_SHOWN) {
        from = r->prefix_len - CS_EXPLAIN_PREFIX_SHOWN;
        snprintf(line, sizeof line, "; its last %u, in order:\n", CS_EXPLAIN_PREFIX_SHOWN);
        put_text(out, line);
    } else {
        put_text(out, r->prefix_len ? ", in order:\n" : ".\n");
    }
    for (uint32_t i = from; i < r->prefix_len; i++) {
        snprintf(line, sizeof line, "  %5u. ", i + 1);
        put_text(out, line);
        describe_op(h, r->prefix[i], out);
        cs_put_u8(out, '\n');
    }
    if (r->state_text != NULL) {
        put_text(out, "After it the state is ");
        put_text(out, r->state_text);
        put_text(out, ".\n");
    }
    if (r->dead_op != UINT32_MAX) {
        put_text(out, "From there this op can never be satisfied: no op allowed to precede "
                      "it can produce what it needs:\n  ");
        describe_op(h, r->dead_op, out);
        cs_put_u8(out, '\n');
    }
    put_text(out, lin ? "None of these ops, which may go next by real time, can extend it to "
                        "a full linearization:\n"
                      : "None of these ops, next in their process, can extend it to a full "
                        "sequential order:\n");
    for (uint32_t i = 0; i < r->stuck_len; i++) {
        put_text(out, "  ");
        describe_op(h, r->stuck[i], out);
        cs_put_u8(out, '\n');
    }
}

int cs_check_explain(const struct cs_history *h, const struct cs_check_result *r,
                     struct cs_buf *out)
{
    if (r->verdict == CS_VERDICT_VALID) {
        put_text(out, r->consistency == CS_CONSISTENCY_SESSION
                          ? "every session kept every guarantee.\n"
                          : "a valid order exists for every operation.\n");
    } else if (r->verdict == CS_VERDICT_UNKNOWN) {
        put_text(out, "the budget ran out before the search finished: no verdict.\n");
    } else if (r->consistency == CS_CONSISTENCY_SESSION) {
        put_text(out, cs_session_guarantee_name(r->guarantee));
        put_text(out, " broken in one session:\n  ");
        describe_op(h, r->cycle[0], out);
        put_text(out, "\n  then, in the same session,\n  ");
        describe_op(h, r->cycle[1], out);
        cs_put_u8(out, '\n');
    } else {
        explain_search(h, r, out);
    }
    return cs_buf_error(out);
}

/* --- HTML ---------------------------------------------------------------- */

static void put_html_escaped(struct cs_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '<':
            put_text(out, "&lt;");
            break;
        case '>':
            put_text(out, "&gt;");
            break;
        case '&':
            put_text(out, "&amp;");
            break;
        case '"':
            put_text(out, "&quot;");
            break;
        default:
            cs_put_u8(out, (uint8_t)s[i]);
            break;
        }
    }
}

enum mark { MARK_NONE = 0, MARK_PREFIX, MARK_STUCK, MARK_CYCLE };

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

struct html_layout {
    uint8_t *mark; /* op -> enum mark */
    uint32_t *ops; /* ops drawn */
    uint32_t ops_len;
    int64_t *procs; /* distinct processes, sorted */
    uint32_t procs_len;
    uint32_t first_event, last_event;
};

static int lane_of(const struct html_layout *l, int64_t process)
{
    uint32_t lo = 0, hi = l->procs_len;
    while (lo < hi) {
        uint32_t mid = (lo + hi) / 2;
        if (l->procs[mid] < process)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (int)lo;
}

static int html_layout(const struct cs_history *h, const struct cs_check_result *r,
                       struct html_layout *l)
{
    memset(l, 0, sizeof *l);
    l->mark = calloc(h->ops_len ? h->ops_len : 1, 1);
    l->ops = malloc((h->ops_len ? h->ops_len : 1) * sizeof *l->ops);
    l->procs = malloc((h->ops_len ? h->ops_len : 1) * sizeof *l->procs);
    if (!l->mark || !l->ops || !l->procs) return CS_ENOMEM;
    for (uint32_t i = 0; i < r->prefix_len; i++)
        l->mark[r->prefix[i]] = MARK_PREFIX;
    for (uint32_t i = 0; i < r->stuck_len; i++)
        l->mark[r->stuck[i]] = MARK_STUCK;
    if (r->dead_op != UINT32_MAX) l->mark[r->dead_op] = MARK_STUCK;
    for (uint32_t i = 0; i < r->cycle_len; i++)
        l->mark[r->cycle[i]] = MARK_CYCLE;
    /* Draw the failing key only, and at most CS_HTML_OPS_MAX ops ending a
       little after the first op that could not be placed. */
    uint32_t focus = r->stuck_len ? r->stuck[0] : r->cycle_len ? r->cycle[0] : h->ops_len;
    uint32_t end = focus < h->ops_len ? focus + CS_HTML_OPS_MAX / 4 : h->ops_len;
    if (end > h->ops_len) end = h->ops_len;
    uint32_t start = end > CS_HTML_OPS_MAX ? end - CS_HTML_OPS_MAX : 0;
    for (uint32_t i = start; i < end; i++) {
        if (r->key != CS_KEY_NONE && h->ops[i].key != r->key) continue;
        l->ops[l->ops_len++] = i;
        l->procs[l->procs_len++] = h->ops[i].process;
    }
    qsort(l->procs, l->procs_len, sizeof *l->procs, cmp_i64);
    uint32_t n = 0;
    for (uint32_t i = 0; i < l->procs_len; i++) {
        if (n == 0 || l->procs[n - 1] != l->procs[i]) l->procs[n++] = l->procs[i];
    }
    l->procs_len = n;
    l->first_event = l->ops_len ? h->ops[l->ops[0]].invoke_event : 0;
    l->last_event = h->events_len;
    return 0;
}

static void html_op(const struct cs_history *h, const struct html_layout *l, uint32_t index,
                    struct cs_buf *out)
{
    static const char *const fills[] = {"#9ab", "#5a5", "#d33", "#e80"};
    const struct cs_op *op = &h->ops[index];
    double span = (double)(l->last_event - l->first_event + 1);
    double x0 = 160.0 + 1170.0 * (double)(op->invoke_event - l->first_event) / span;
    uint32_t ce = op->complete_event == CS_EVENT_NONE ? l->last_event : op->complete_event;
    double x1 = 160.0 + 1170.0 * (double)(ce - l->first_event + 1) / span;
    double y = 40.0 + 34.0 * lane_of(l, op->process);
    char buf[256];
    bool open = op->type == CS_TYPE_INFO || op->type == CS_TYPE_INVOKE;
    snprintf(buf, sizeof buf,
             "<g><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"24\" rx=\"3\" "
             "fill=\"%s\" stroke=\"#333\"%s/>",
             x0, y, x1 - x0 > 2.0 ? x1 - x0 - 1.0 : 1.0, fills[l->mark[index]],
             open ? " stroke-dasharray=\"4 3\" fill-opacity=\"0.5\"" : "");
    put_text(out, buf);
    if (open && op->complete_event != CS_EVENT_NONE) {
        /* Still open to the end: it may take effect any time after. */
        snprintf(buf, sizeof buf,
                 "<line x1=\"%.1f\" x2=\"1340\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                 "stroke-dasharray=\"2 4\"/>",
                 x1, y + 12.0, y + 12.0);
        put_text(out, buf);
    }
    struct cs_buf label;
    cs_buf_init(&label, 4096);
    describe_op(h, index, &label);
    put_text(out, "<title>");
    put_html_escaped(out, (const char *)label.data, label.len);
    put_text(out, "</title>");
    cs_buf_reset(&label);
    put_text(&label, cs_op_f_name((enum cs_op_f)op->f));
    struct cs_value shown = op->result.kind != CS_VALUE_NONE ? op->result : op->value;
    if (shown.kind != CS_VALUE_NONE) {
        cs_put_u8(&label, ' ');
        cs_check_value_text(h, shown, &label);
    }
    snprintf(buf, sizeof buf,
             "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" clip-path=\"url(#c%u)\">"
             "<clipPath id=\"c%u\"><rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"24\"/>"
             "</clipPath>",
             x0 + 3.0, y + 16.0, index, index, x0, y, x1 - x0);
    put_text(out, buf);
    put_html_escaped(out, (const char *)label.data, label.len > 60 ? 60 : label.len);
    put_text(out, "</text></g>\n");
    cs_buf_free(&label);
}

int cs_check_write_html(const struct cs_history *h, const struct cs_check_result *r,
                        struct cs_buf *out)
{
    struct html_layout l;
    int rc = html_layout(h, r, &l);
    if (rc == 0) {
        char buf[512];
        double height = 80.0 + 34.0 * l.procs_len;
        put_text(out, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                      "<title>consist check</title><style>"
                      "body{font-family:sans-serif;margin:16px}"
                      "pre{background:#f4f4f4;padding:8px;white-space:pre-wrap}"
                      ".k{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px}"
                      "</style></head><body>\n<h2>");
        snprintf(buf, sizeof buf, "%s: %s", cs_verdict_name(r->verdict),
                 cs_consistency_name(r->consistency));
        put_text(out, buf);
        put_text(out, "</h2>\n<div><span class=\"k\" style=\"background:#5a5\"></span>in the "
                      "longest valid prefix<span class=\"k\" style=\"background:#d33\"></span>"
                      "cannot go next<span class=\"k\" style=\"background:#e80\"></span>in the "
                      "cycle<span class=\"k\" style=\"background:#9ab\"></span>other ops "
                      "(dashed: outcome unknown, open to the end)</div>\n");
        snprintf(buf, sizeof buf,
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1350\" height=\"%.0f\">\n"
                 "<text x=\"160\" y=\"24\" font-size=\"12\">time (event order) &#8594;</text>\n",
                 height);
        put_text(out, buf);
        for (uint32_t p = 0; p < l.procs_len; p++) {
            snprintf(buf, sizeof buf,
                     "<text x=\"8\" y=\"%.1f\" font-size=\"12\">process %" PRId64 "</text>"
                     "<line x1=\"150\" x2=\"1340\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
                     56.0 + 34.0 * p, l.procs[p], 52.0 + 34.0 * p, 52.0 + 34.0 * p);
            put_text(out, buf);
        }
        for (uint32_t i = 0; i < l.ops_len; i++)
            html_op(h, &l, l.ops[i], out);
        put_text(out, "</svg>\n<pre>");
        struct cs_buf text;
        cs_buf_init(&text, 1u << 24);
        cs_check_explain(h, r, &text);
        put_html_escaped(out, (const char *)text.data, text.len);
        cs_buf_free(&text);
        put_text(out, "</pre>\n</body></html>\n");
        rc = cs_buf_error(out);
    }
    free(l.mark);
    free(l.ops);
    free(l.procs);
    return rc;
}
