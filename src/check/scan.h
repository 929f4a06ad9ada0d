/*
 * check/scan.h: the bounded value scanner shared by the JSON and EDN readers.
 *
 * One scanner reads both syntaxes (the differences are small: EDN has
 * keywords, commas as whitespace, `;` comments, `(..)` and `#{..}`). Nested
 * lists are read without recursion: an explicit stack of at most
 * CS_HISTORY_VALUE_DEPTH_MAX open lists whose items wait in one scratch
 * array until their list closes.
 */
#ifndef CS_CHECK_SCAN_H
#define CS_CHECK_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/check.h"

struct cs_scan {
    const char *p;
    const char *end;
    struct cs_history *h;
    struct cs_parse_error *err;
    uint32_t line; /* current 1-based line */
    bool edn;
    struct cs_value *items; /* scratch for open lists */
    uint32_t items_len, items_cap;
    char *text; /* scratch for unescaped strings */
    uint32_t text_cap;
};

void cs_scan_init(struct cs_scan *s, struct cs_history *h, const char *text, size_t len, bool edn,
                  struct cs_parse_error *err);
void cs_scan_free(struct cs_scan *s);

/* cs_scan_fail: record message at the current line; returns rc. */
int cs_scan_fail(struct cs_scan *s, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cs_scan_space: skip whitespace (EDN: also commas and ; comments) within
 * [p, end), counting newlines. */
void cs_scan_space(struct cs_scan *s);

/* cs_scan_value: read one value at p. Returns 0, CS_EPARSE, CS_ETOOBIG, CS_ENOMEM. */
int cs_scan_value(struct cs_scan *s, struct cs_value *out);

/* cs_scan_name: read a map key: a JSON string or an EDN keyword; the bytes
 * point into the input (JSON keys with escapes are refused). */
int cs_scan_name(struct cs_scan *s, const char **name, size_t *len);

/* A map's fields on their way to an event: type and f are judged only at the
 * end, since `:process :nemesis` may come after them. */
struct cs_event_fields {
    struct cs_event ev;
    struct cs_value type;
    struct cs_value f;
    uint32_t seen; /* bits: process, type, f */
    bool skip;     /* a nemesis event */
};

void cs_event_fields_init(struct cs_event_fields *b);

/*
 * cs_event_set: record field name=v (process, type, f, key, value, time,
 * session, version; other names are ignored, as Jepsen adds its own).
 * Returns 0 or CS_EPARSE with the reason.
 */
int cs_event_set(struct cs_scan *s, struct cs_event_fields *b, const char *name, size_t len,
                 struct cs_value v);

/* cs_event_add: check the fields and append the event (a nemesis event is
 * skipped); pairing errors become messages naming the process. */
int cs_event_add(struct cs_scan *s, struct cs_event_fields *b);

#endif /* CS_CHECK_SCAN_H */
