/*
 * scan.c: bounded scanner for JSON and EDN values, and the mapping from map
 * fields to history events shared by the JSONL and EDN readers.
 *
 * No recursion: open lists live on an explicit stack no deeper than
 * CS_HISTORY_VALUE_DEPTH_MAX; their items wait in one scratch array and are
 * copied into the history when the list closes.
 */
#include "check/scan.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/error.h"

void cs_scan_init(struct cs_scan *s, struct cs_history *h, const char *text, size_t len, bool edn,
                  struct cs_parse_error *err)
{
    memset(s, 0, sizeof *s);
    if (text == NULL) { /* an empty input may come as NULL */
        CS_ASSERT(len == 0);
        text = "";
    }
    s->p = text;
    s->end = text + len;
    s->h = h;
    s->err = err;
    s->line = 1;
    s->edn = edn;
}

void cs_scan_free(struct cs_scan *s)
{
    free(s->items);
    free(s->text);
    s->items = NULL;
    s->text = NULL;
}

int cs_scan_fail(struct cs_scan *s, int rc, const char *fmt, ...)
{
    CS_ASSERT(rc < 0);
    if (s->err != NULL) {
        s->err->line = s->line;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->err->message, sizeof s->err->message, fmt, ap);
        va_end(ap);
    }
    return rc;
}

void cs_scan_space(struct cs_scan *s)
{
    while (s->p < s->end) {
        char c = *s->p;
        if (c == '\n') {
            s->line++;
        } else if (c == ';' && s->edn) {
            while (s->p < s->end && *s->p != '\n')
                s->p++;
            continue;
        } else if (!(c == ' ' || c == '\t' || c == '\r' || (c == ',' && s->edn))) {
            return;
        }
        s->p++;
    }
}

static bool is_delimiter(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',' || c == '[' || c == ']' ||
           c == '(' || c == ')' || c == '{' || c == '}' || c == '"' || c == ';' || c == ':';
}

static int scan_int(struct cs_scan *s, struct cs_value *out)
{
    bool negative = false;
    if (*s->p == '-') {
        negative = true;
        s->p++;
    }
    if (s->p == s->end || *s->p < '0' || *s->p > '9') {
        return cs_scan_fail(s, CS_EPARSE, "expected a digit");
    }
    uint64_t v = 0;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        uint64_t d = (uint64_t)(*s->p - '0');
        if (v > (limit - d) / 10) return cs_scan_fail(s, CS_EPARSE, "integer out of range");
        v = v * 10 + d;
        s->p++;
    }
    if (s->p < s->end && (*s->p == '.' || *s->p == 'e' || *s->p == 'E')) {
        return cs_scan_fail(s, CS_EPARSE, "only integer numbers are supported");
    }
    if (s->p < s->end && !is_delimiter(*s->p) && *s->p != '}') {
        return cs_scan_fail(s, CS_EPARSE, "junk after a number");
    }
    *out = cs_value_int(negative ? (int64_t)(0 - v) : (int64_t)v);
    return 0;
}

/* text_put: append code point c as UTF-8 (raw input bytes use text_byte). */
static int text_put(struct cs_scan *s, uint32_t *len, uint32_t c)
{
    if (*len + 4 > CS_HISTORY_STRING_LEN_MAX) {
        return cs_scan_fail(s, CS_ETOOBIG, "string longer than %u bytes",
                            CS_HISTORY_STRING_LEN_MAX);
    }
    if (*len + 4 > s->text_cap) {
        uint32_t cap = s->text_cap ? s->text_cap * 2 : 256;
        char *t = realloc(s->text, cap);
        if (t == NULL) return CS_ENOMEM;
        s->text = t;
        s->text_cap = cap;
    }
    /* UTF-8 encode the code point. */
    if (c < 0x80) {
        s->text[(*len)++] = (char)c;
    } else if (c < 0x800) {
        s->text[(*len)++] = (char)(0xc0 | c >> 6);
        s->text[(*len)++] = (char)(0x80 | (c & 0x3f));
    } else if (c < 0x10000) {
        s->text[(*len)++] = (char)(0xe0 | c >> 12);
        s->text[(*len)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        s->text[(*len)++] = (char)(0x80 | (c & 0x3f));
    } else {
        s->text[(*len)++] = (char)(0xf0 | c >> 18);
        s->text[(*len)++] = (char)(0x80 | ((c >> 12) & 0x3f));
        s->text[(*len)++] = (char)(0x80 | ((c >> 6) & 0x3f));
        s->text[(*len)++] = (char)(0x80 | (c & 0x3f));
    }
    return 0;
}

/* text_byte: append one input byte as it is (input is taken as UTF-8). */
static int text_byte(struct cs_scan *s, uint32_t *len, unsigned char c)
{
    if (c < 0x80) return text_put(s, len, c);
    int rc = text_put(s, len, 0); /* reserves room, writes one byte */
    if (rc == 0) s->text[*len - 1] = (char)c;
    return rc;
}

static int scan_hex4(struct cs_scan *s, uint32_t *out)
{
    if (s->end - s->p < 4) return cs_scan_fail(s, CS_EPARSE, "short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = *s->p++;
        uint32_t d;
        if (c >= '0' && c <= '9') {
            d = (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            d = (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            d = (uint32_t)(c - 'A' + 10);
        } else {
            return cs_scan_fail(s, CS_EPARSE, "bad \\u escape");
        }
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

static int scan_escape(struct cs_scan *s, uint32_t *len)
{
    if (s->p == s->end) return cs_scan_fail(s, CS_EPARSE, "unterminated string");
    char c = *s->p++;
    uint32_t cp;
    switch (c) {
    case '"':
        cp = '"';
        break;
    case '\\':
        cp = '\\';
        break;
    case '/':
        cp = '/';
        break;
    case 'b':
        cp = '\b';
        break;
    case 'f':
        cp = '\f';
        break;
    case 'n':
        cp = '\n';
        break;
    case 'r':
        cp = '\r';
        break;
    case 't':
        cp = '\t';
        break;
    case 'u': {
        int rc = scan_hex4(s, &cp);
        if (rc) return rc;
        if (cp >= 0xd800 && cp < 0xdc00) {
            uint32_t low;
            if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u') {
                return cs_scan_fail(s, CS_EPARSE, "lone surrogate in \\u escape");
            }
            s->p += 2;
            rc = scan_hex4(s, &low);
            if (rc) return rc;
            if (low < 0xdc00 || low > 0xdfff) {
                return cs_scan_fail(s, CS_EPARSE, "bad surrogate pair");
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return cs_scan_fail(s, CS_EPARSE, "lone surrogate in \\u escape");
        }
        break;
    }
    default:
        return cs_scan_fail(s, CS_EPARSE, "bad escape \\%c", c);
    }
    return text_put(s, len, cp);
}

/* scan_string: p at the opening quote. Strings may not span lines. */
static int scan_string(struct cs_scan *s, struct cs_value *out)
{
    CS_ASSERT(*s->p == '"');
    s->p++;
    const char *start = s->p;
    while (s->p < s->end && *s->p != '"' && *s->p != '\\' && *s->p != '\n')
        s->p++;
    if (s->p < s->end && *s->p == '"') {
        size_t len = (size_t)(s->p - start);
        s->p++;
        if (len > CS_HISTORY_STRING_LEN_MAX) {
            return cs_scan_fail(s, CS_ETOOBIG, "string longer than %u bytes",
                                CS_HISTORY_STRING_LEN_MAX);
        }
        int rc = cs_history_value_str(s->h, start, len, out);
        return rc == CS_ETOOBIG ? cs_scan_fail(s, rc, "strings exceed the history limit") : rc;
    }
    uint32_t len = 0;
    for (const char *q = start; q < s->p; q++) {
        int rc = text_byte(s, &len, (unsigned char)*q);
        if (rc) return rc;
    }
    for (;;) {
        if (s->p == s->end || *s->p == '\n') {
            return cs_scan_fail(s, CS_EPARSE, "unterminated string");
        }
        char c = *s->p++;
        if (c == '"') break;
        int rc = c == '\\' ? scan_escape(s, &len) : text_byte(s, &len, (unsigned char)c);
        if (rc) return rc;
    }
    int rc = cs_history_value_str(s->h, s->text ? s->text : "", len, out);
    return rc == CS_ETOOBIG ? cs_scan_fail(s, rc, "strings exceed the history limit") : rc;
}

static bool scan_word(struct cs_scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return false;
    if ((size_t)(s->end - s->p) > n && !is_delimiter(s->p[n]) && s->p[n] != '}') return false;
    s->p += n;
    return true;
}

/* scan_keyword: EDN :name -> a string value "name". */
static int scan_keyword(struct cs_scan *s, struct cs_value *out)
{
    const char *start = ++s->p;
    while (s->p < s->end && !is_delimiter(*s->p) && *s->p != '}')
        s->p++;
    if (s->p == start) return cs_scan_fail(s, CS_EPARSE, "empty keyword");
    int rc = cs_history_value_str(s->h, start, (size_t)(s->p - start), out);
    return rc == CS_ETOOBIG ? cs_scan_fail(s, rc, "strings exceed the history limit") : rc;
}

static int scan_scalar(struct cs_scan *s, struct cs_value *out)
{
    char c = *s->p;
    if (c == '"') return scan_string(s, out);
    if (c == '-' || (c >= '0' && c <= '9')) return scan_int(s, out);
    if (c == ':' && s->edn) return scan_keyword(s, out);
    if (scan_word(s, s->edn ? "nil" : "null")) {
        *out = cs_value_nil();
        return 0;
    }
    return cs_scan_fail(s, CS_EPARSE, "unexpected character '%c'", c);
}

static int items_push(struct cs_scan *s, struct cs_value v)
{
    if (s->items_len == s->items_cap) {
        uint32_t cap = s->items_cap ? s->items_cap * 2 : 64;
        struct cs_value *items = realloc(s->items, cap * sizeof *items);
        if (items == NULL) return CS_ENOMEM;
        s->items = items;
        s->items_cap = cap;
    }
    s->items[s->items_len++] = v;
    return 0;
}

/* scan_open: p at a list opener; returns its closer, or 0 if none here. */
static char scan_open(struct cs_scan *s)
{
    char c = *s->p;
    if (c == '[') {
        s->p++;
        return ']';
    }
    if (s->edn && c == '(') {
        s->p++;
        return ')';
    }
    if (s->edn && c == '#' && s->end - s->p >= 2 && s->p[1] == '{') {
        s->p += 2;
        return '}';
    }
    /* A map inside a value (Jepsen's :error often is one) reads as the list
       of its keys and values. */
    if (c == '{') {
        s->p++;
        return '}';
    }
    return 0;
}

/* scan_tag: skip an EDN tag (#inst, #uuid, #my.ns/Type): the value that
 * follows stands for the tagged one. */
static bool scan_tag(struct cs_scan *s)
{
    if (!s->edn || s->end - s->p < 2 || s->p[0] != '#') return false;
    char c = s->p[1];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
    s->p++;
    while (s->p < s->end && !is_delimiter(*s->p) && *s->p != '}')
        s->p++;
    return true;
}

int cs_scan_value(struct cs_scan *s, struct cs_value *out)
{
    uint32_t starts[CS_HISTORY_VALUE_DEPTH_MAX];
    char closers[CS_HISTORY_VALUE_DEPTH_MAX];
    uint32_t depth = 0;
    bool need_item = false; /* JSON: after a comma */
    for (;;) {
        cs_scan_space(s);
        if (s->p == s->end) return cs_scan_fail(s, CS_EPARSE, "value ends early");
        struct cs_value v;
        int rc;
        if (depth > 0 && *s->p == closers[depth - 1]) {
            if (need_item) return cs_scan_fail(s, CS_EPARSE, "trailing comma");
            s->p++;
            depth--;
            uint32_t n = s->items_len - starts[depth];
            const struct cs_value *items = n > 0 ? s->items + starts[depth] : NULL;
            rc = cs_history_value_list(s->h, items, n, &v);
            if (rc == CS_ETOOBIG) return cs_scan_fail(s, rc, "lists exceed the history limit");
            if (rc) return rc;
            s->items_len = starts[depth];
        } else if (scan_tag(s)) {
            continue;
        } else {
            char closer = scan_open(s);
            if (closer != 0) {
                if (depth == CS_HISTORY_VALUE_DEPTH_MAX) {
                    return cs_scan_fail(s, CS_EPARSE, "lists nested deeper than %u",
                                        CS_HISTORY_VALUE_DEPTH_MAX);
                }
                starts[depth] = s->items_len;
                closers[depth++] = closer;
                need_item = false;
                continue;
            }
            rc = scan_scalar(s, &v);
            if (rc) return rc;
        }
        if (depth == 0) {
            *out = v;
            return 0;
        }
        if (s->items_len - starts[depth - 1] >= CS_HISTORY_LIST_LEN_MAX) {
            return cs_scan_fail(s, CS_ETOOBIG, "list longer than %u items",
                                CS_HISTORY_LIST_LEN_MAX);
        }
        rc = items_push(s, v);
        if (rc) return rc;
        need_item = false;
        if (!s->edn) {
            cs_scan_space(s);
            bool in_object = closers[depth - 1] == '}';
            if (s->p < s->end && (*s->p == ',' || (in_object && *s->p == ':'))) {
                s->p++;
                need_item = true;
            } else if (s->p < s->end && *s->p != closers[depth - 1]) {
                return cs_scan_fail(s, CS_EPARSE, "expected ',' or '%c'", closers[depth - 1]);
            }
        }
    }
}

int cs_scan_name(struct cs_scan *s, const char **name, size_t *len)
{
    cs_scan_space(s);
    if (s->p == s->end) return cs_scan_fail(s, CS_EPARSE, "map ends early");
    char quote = s->edn ? ':' : '"';
    if (*s->p != quote) {
        return cs_scan_fail(s, CS_EPARSE,
                            s->edn ? "map key must be a keyword" : "object key must be a string");
    }
    const char *start = ++s->p;
    if (s->edn) {
        while (s->p < s->end && !is_delimiter(*s->p) && *s->p != '}')
            s->p++;
    } else {
        while (s->p < s->end && *s->p != '"' && *s->p != '\\' && *s->p != '\n')
            s->p++;
        if (s->p == s->end || *s->p != '"') {
            return cs_scan_fail(s, CS_EPARSE, "bad object key");
        }
    }
    *name = start;
    *len = (size_t)(s->p - start);
    if (!s->edn) s->p++;
    if (*len == 0) return cs_scan_fail(s, CS_EPARSE, "empty key");
    return 0;
}

/* --- fields -> events ---------------------------------------------------- */

enum {
    SEEN_PROCESS = 1u << 0,
    SEEN_TYPE = 1u << 1,
    SEEN_F = 1u << 2,
};

void cs_event_fields_init(struct cs_event_fields *b)
{
    memset(b, 0, sizeof *b);
    b->ev.time = CS_TIME_NONE;
    b->ev.value = cs_value_none();
    b->ev.version = CS_VERSION_NONE;
    b->ev.key = CS_KEY_NONE;
    b->ev.session = CS_SESSION_NONE;
}

static bool name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(name, want, len) == 0;
}

static bool str_is(const struct cs_history *h, struct cs_value v, const char *want)
{
    if (v.kind != CS_VALUE_STR) return false;
    size_t len;
    const char *s = cs_history_string(h, (uint32_t)v.x, &len);
    return name_is(s, len, want);
}

/* as_id: a string, or an integer written in decimal, as a string id. */
static int as_id(struct cs_scan *s, struct cs_value v, uint32_t *id, const char *field)
{
    if (v.kind == CS_VALUE_STR) {
        *id = (uint32_t)v.x;
        return 0;
    }
    if (v.kind == CS_VALUE_INT) {
        char text[24];
        int n = snprintf(text, sizeof text, "%lld", (long long)v.x);
        int rc = cs_history_intern(s->h, text, (size_t)n, id);
        return rc == CS_ETOOBIG ? cs_scan_fail(s, rc, "strings exceed the history limit") : rc;
    }
    return cs_scan_fail(s, CS_EPARSE, "%s must be a string or an integer", field);
}

static int set_type(struct cs_scan *s, struct cs_event *ev, struct cs_value v)
{
    static const char *const names[] = {"invoke", "ok", "fail", "info"};
    for (uint8_t t = 0; t < 4; t++) {
        if (str_is(s->h, v, names[t])) {
            ev->type = t;
            return 0;
        }
    }
    return cs_scan_fail(s, CS_EPARSE, "type must be invoke, ok, fail or info");
}

static int set_f(struct cs_scan *s, struct cs_event *ev, struct cs_value v)
{
    if (v.kind == CS_VALUE_STR) {
        size_t len;
        const char *name = cs_history_string(s->h, (uint32_t)v.x, &len);
        int f = cs_op_f_parse(name, len);
        if (f >= 0) {
            ev->f = (uint8_t)f;
            return 0;
        }
    }
    return cs_scan_fail(s, CS_EPARSE,
                        "f must be one of read write cas incr add remove transfer "
                        "get put append txn");
}

int cs_event_set(struct cs_scan *s, struct cs_event_fields *b, const char *name, size_t len,
                 struct cs_value v)
{
    struct cs_event *ev = &b->ev;
    if (name_is(name, len, "process")) {
        if (str_is(s->h, v, "nemesis")) {
            b->skip = true;
        } else if (v.kind != CS_VALUE_INT) {
            return cs_scan_fail(s, CS_EPARSE, "process must be an integer");
        }
        ev->process = v.x;
        b->seen |= SEEN_PROCESS;
    } else if (name_is(name, len, "type")) {
        b->type = v;
        b->seen |= SEEN_TYPE;
    } else if (name_is(name, len, "f")) {
        b->f = v;
        b->seen |= SEEN_F;
    } else if (name_is(name, len, "value")) {
        ev->value = v;
    } else if (name_is(name, len, "key")) {
        return as_id(s, v, &ev->key, "key");
    } else if (name_is(name, len, "session")) {
        return as_id(s, v, &ev->session, "session");
    } else if (name_is(name, len, "time")) {
        /* Only drawn, never decisive: a time that is no integer (an #inst)
           is left out rather than refused. */
        if (v.kind == CS_VALUE_INT) ev->time = v.x;
    } else if (name_is(name, len, "version")) {
        if (v.kind == CS_VALUE_NIL) return 0;
        if (v.kind != CS_VALUE_INT || v.x < 0) {
            return cs_scan_fail(s, CS_EPARSE, "version must be a non-negative integer");
        }
        ev->version = (uint64_t)v.x;
    }
    return 0; /* other fields (index, error, node...) are Jepsen's own; ignored */
}

int cs_event_add(struct cs_scan *s, struct cs_event_fields *b)
{
    if (!(b->seen & SEEN_PROCESS)) return cs_scan_fail(s, CS_EPARSE, "missing process");
    if (b->skip) return 0;
    if (!(b->seen & SEEN_TYPE)) return cs_scan_fail(s, CS_EPARSE, "missing type");
    if (!(b->seen & SEEN_F)) return cs_scan_fail(s, CS_EPARSE, "missing f");
    struct cs_event *ev = &b->ev;
    int rc = set_type(s, ev, b->type);
    if (rc == 0) rc = set_f(s, ev, b->f);
    if (rc) return rc;
    rc = cs_history_append(s->h, ev);
    if (rc == CS_ESTATE) {
        if (ev->type == CS_TYPE_INVOKE) {
            return cs_scan_fail(s, rc, "process %lld invoked while its previous op is open",
                                (long long)ev->process);
        }
        return cs_scan_fail(s, rc, "%s by process %lld matches no open %s invoke",
                            cs_op_type_name((enum cs_op_type)ev->type), (long long)ev->process,
                            cs_op_f_name((enum cs_op_f)ev->f));
    }
    if (rc == CS_ETOOBIG) {
        return cs_scan_fail(s, rc, "history larger than %u operations", s->h->ops_max);
    }
    return rc;
}
