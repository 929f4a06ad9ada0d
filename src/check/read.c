/*
 * read.c: the three history readers (JSONL, Jepsen EDN, Porcupine's etcd log)
 * and format detection.
 *
 * Each reader is a loop over lines (JSONL, etcd) or maps (EDN) on top of the
 * bounded scanner of scan.c; none recurses. A reader either appends the whole
 * history or, on any error, leaves it empty: a history past its limit is
 * refused, never half-read.
 */
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/scan.h"
#include "consist/error.h"

/* line_bounds: restrict the scanner to the current line; returns the line's
 * end (the newline or the input's end). */
static int line_enter(struct cs_scan *s, const char **line_end)
{
    const char *nl = memchr(s->p, '\n', (size_t)(s->end - s->p));
    *line_end = nl != NULL ? nl : s->end;
    if (*line_end - s->p > (ptrdiff_t)CS_HISTORY_LINE_BYTES_MAX) {
        return cs_scan_fail(s, CS_ETOOBIG, "line longer than %u bytes", CS_HISTORY_LINE_BYTES_MAX);
    }
    return 0;
}

static int expect(struct cs_scan *s, char c)
{
    cs_scan_space(s);
    if (s->p == s->end || *s->p != c) {
        if (s->p == s->end) return cs_scan_fail(s, CS_EPARSE, "expected '%c' at end", c);
        return cs_scan_fail(s, CS_EPARSE, "expected '%c', found '%c'", c, *s->p);
    }
    s->p++;
    return 0;
}

/* read_map: one JSON object or EDN map at p, appended as an event. */
static int read_map(struct cs_scan *s)
{
    const char *start = s->p;
    int rc = expect(s, '{');
    if (rc) return rc;
    struct cs_event_fields b;
    cs_event_fields_init(&b);
    cs_scan_space(s);
    if (s->p < s->end && *s->p == '}') return cs_scan_fail(s, CS_EPARSE, "empty map");
    for (;;) {
        const char *name;
        size_t name_len;
        struct cs_value v;
        rc = cs_scan_name(s, &name, &name_len);
        if (rc == 0 && !s->edn) rc = expect(s, ':');
        if (rc == 0) rc = cs_scan_value(s, &v);
        if (rc == 0) rc = cs_event_set(s, &b, name, name_len, v);
        if (rc) return rc;
        if (s->p - start > (ptrdiff_t)CS_HISTORY_EDN_MAP_BYTES_MAX) {
            return cs_scan_fail(s, CS_ETOOBIG, "map longer than %u bytes",
                                CS_HISTORY_EDN_MAP_BYTES_MAX);
        }
        cs_scan_space(s);
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            if (s->p - start > (ptrdiff_t)CS_HISTORY_EDN_MAP_BYTES_MAX) {
                return cs_scan_fail(s, CS_ETOOBIG, "map longer than %u bytes",
                                    CS_HISTORY_EDN_MAP_BYTES_MAX);
            }
            break;
        }
        if (!s->edn) {
            rc = expect(s, ',');
            if (rc) return rc;
        }
    }
    return cs_event_add(s, &b);
}

/*
 * read_lines: run line_fn on each line of text, the scanner bounded
 * to that line (at most CS_HISTORY_LINE_BYTES_MAX), with line numbers kept for
 * errors. The loop shared by the line-based formats.
 */
static int read_lines(struct cs_history *h, const char *text, size_t len, bool edn,
                      struct cs_parse_error *err, int (*line_fn)(struct cs_scan *s))
{
    struct cs_scan s;
    cs_scan_init(&s, h, text, len, edn, err);
    const char *text_end = s.end;
    int rc = 0;
    while (rc == 0 && s.p < text_end) {
        const char *line_end;
        rc = line_enter(&s, &line_end);
        if (rc) break;
        s.end = line_end;
        rc = line_fn(&s);
        s.end = text_end;
        s.p = line_end;
        if (s.p < s.end) {
            s.p++;
            s.line++;
        }
    }
    cs_scan_free(&s);
    return rc;
}

static int jsonl_line(struct cs_scan *s)
{
    cs_scan_space(s);
    if (s->p == s->end) return 0;
    int rc = read_map(s);
    if (rc == 0) cs_scan_space(s);
    if (rc == 0 && s->p < s->end) rc = cs_scan_fail(s, CS_EPARSE, "junk after the object");
    return rc;
}

int cs_check_read_jsonl(struct cs_history *h, const char *text, size_t len,
                        struct cs_parse_error *err)
{
    return read_lines(h, text, len, false, err, jsonl_line);
}

int cs_check_read_edn(struct cs_history *h, const char *text, size_t len,
                      struct cs_parse_error *err)
{
    struct cs_scan s;
    cs_scan_init(&s, h, text, len, true, err);
    int rc = 0;
    cs_scan_space(&s);
    /* A whole history may be one vector of maps, as Jepsen's history.edn. */
    bool vector = s.p < s.end && *s.p == '[';
    if (vector) s.p++;
    for (;;) {
        cs_scan_space(&s);
        if (s.p == s.end) {
            if (vector) rc = cs_scan_fail(&s, CS_EPARSE, "unterminated vector of ops");
            break;
        }
        if (vector && *s.p == ']') {
            s.p++;
            cs_scan_space(&s);
            if (s.p < s.end) rc = cs_scan_fail(&s, CS_EPARSE, "junk after the vector of ops");
            break;
        }
        rc = read_map(&s);
        if (rc) break;
    }
    cs_scan_free(&s);
    return rc;
}

/* etcd_prefix: "INFO" ws "jepsen.util" ws "-" ws; p moves past it. */
static int etcd_prefix(struct cs_scan *s)
{
    static const char *const words[] = {"INFO", "jepsen.util", "-"};
    for (int i = 0; i < 3; i++) {
        cs_scan_space(s);
        size_t n = strlen(words[i]);
        if ((size_t)(s->end - s->p) < n || memcmp(s->p, words[i], n) != 0) {
            return cs_scan_fail(s, CS_EPARSE, "expected '%s'", words[i]);
        }
        s->p += n;
    }
    return 0;
}

static bool is_word(const struct cs_history *h, struct cs_value v, const char *word)
{
    if (v.kind != CS_VALUE_STR) return false;
    size_t len;
    const char *s = cs_history_string(h, (uint32_t)v.x, &len);
    return len == strlen(word) && memcmp(s, word, len) == 0;
}

/* etcd_line: "INFO  jepsen.util - P\t:type\t:f\tvalue". */
static int etcd_line(struct cs_scan *s)
{
    struct cs_event_fields b;
    cs_event_fields_init(&b);
    struct cs_value process, type, f, value;
    int rc = etcd_prefix(s);
    if (rc == 0) rc = cs_scan_value(s, &process);
    if (rc == 0) rc = cs_event_set(s, &b, "process", 7, process);
    if (rc == 0) rc = cs_scan_value(s, &type);
    if (rc == 0) rc = cs_event_set(s, &b, "type", 4, type);
    if (rc == 0) rc = cs_scan_value(s, &f);
    if (rc == 0) rc = cs_event_set(s, &b, "f", 1, f);
    if (rc == 0) rc = cs_scan_value(s, &value);
    if (rc) return rc;
    if (b.skip) return cs_scan_fail(s, CS_EPARSE, "nemesis lines are not expected in an etcd log");
    cs_scan_space(s);
    if (s->p < s->end) return cs_scan_fail(s, CS_EPARSE, "junk after the value");
    /* ":timed-out" is no value: the outcome is unknown (info) or, for a read,
       certainly had no effect (fail). */
    if (value.kind == CS_VALUE_STR) {
        if (!is_word(s->h, value, "timed-out") || is_word(s->h, type, "invoke")) {
            return cs_scan_fail(s, CS_EPARSE, "unexpected value");
        }
        value = cs_value_none();
    }
    b.ev.value = value;
    return cs_event_add(s, &b);
}

static int etcd_line_skip_space(struct cs_scan *s)
{
    s->edn = false; /* no ';' comments or ',' spacing inside etcd lines */
    cs_scan_space(s);
    s->edn = true;
    return s->p < s->end ? etcd_line(s) : 0;
}

int cs_check_read_etcd(struct cs_history *h, const char *text, size_t len,
                       struct cs_parse_error *err)
{
    return read_lines(h, text, len, true, err, etcd_line_skip_space);
}

/* --- detection and dispatch ---------------------------------------------- */

static const char *skip_blank(const char *p, const char *end)
{
    while (p < end) {
        if (*p == ';') {
            while (p < end && *p != '\n')
                p++;
        } else if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ',') {
            p++;
        } else {
            break;
        }
    }
    return p;
}

static bool window_has(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    for (; p + n <= end && *p != '}'; p++) {
        if (memcmp(p, needle, n) == 0) return true;
    }
    return false;
}

enum cs_history_format cs_history_detect(const char *text, size_t len)
{
    if (text == NULL || len == 0) return CS_FORMAT_AUTO;
    const char *end = text + len;
    const char *p = skip_blank(text, end);
    if (end - p >= 4 && memcmp(p, "INFO", 4) == 0) return CS_FORMAT_PORCUPINE_ETCD;
    if (p < end && *p == '[') p = skip_blank(p + 1, end);
    if (p == end || *p != '{') return CS_FORMAT_AUTO;
    const char *q = skip_blank(p + 1, end);
    if (q < end && *q == '"') return CS_FORMAT_JSONL;
    if (q == end || *q != ':') return CS_FORMAT_AUTO;
    if (window_has(q, end, ":f :get") || window_has(q, end, ":f :put") ||
        window_has(q, end, ":f :append")) {
        return CS_FORMAT_PORCUPINE_KV;
    }
    return CS_FORMAT_EDN;
}

int cs_history_parse(struct cs_history *h, enum cs_history_format format, const char *text,
                     size_t len, struct cs_parse_error *err)
{
    if (h->ops_len != 0 || h->strings_len != 0) return CS_EINVAL;
    if (err != NULL) memset(err, 0, sizeof *err);
    if (format == CS_FORMAT_AUTO) format = cs_history_detect(text, len);
    int rc;
    switch (format) {
    case CS_FORMAT_JSONL:
        rc = cs_check_read_jsonl(h, text, len, err);
        break;
    case CS_FORMAT_EDN:
    case CS_FORMAT_PORCUPINE_KV:
        rc = cs_check_read_edn(h, text, len, err);
        break;
    case CS_FORMAT_PORCUPINE_ETCD:
        rc = cs_check_read_etcd(h, text, len, err);
        break;
    case CS_FORMAT_AUTO:
    default:
        if (err != NULL) {
            err->line = 1;
            snprintf(err->message, sizeof err->message, "unrecognised history format");
        }
        rc = CS_EPARSE;
        break;
    }
    if (rc) cs_history_reset(h);
    return rc;
}

static const char *const format_names[] = {"auto", "jsonl", "edn", "porcupine-etcd",
                                           "porcupine-kv"};

const char *cs_history_format_name(enum cs_history_format format)
{
    return (unsigned)format < 5 ? format_names[format] : "?";
}

int cs_history_format_parse(const char *name)
{
    for (int i = 0; i < 5; i++) {
        if (strcmp(name, format_names[i]) == 0) return i;
    }
    return -1;
}
