/*
 * consist/check.h: histories, models, and the consistency checkers.
 *
 * A history is what clients saw: each operation is an invoke event and, later,
 * a completion (ok, fail or info) by the same process. The checkers decide
 * whether some order of those operations, obeying the model's sequential
 * semantics, explains every result:
 *
 *   - linearizable: the order respects real time (an op that completed before
 *     another was invoked comes first). Wing & Gong's search with Lowe's
 *     memoisation of (set of linearized ops, model state), split per key when
 *     the model allows it (P-compositionality, Herlihy & Wing 1990).
 *   - sequential: the order respects each process's program order only.
 *   - session: per session, read-your-writes, monotonic reads, monotonic
 *     writes and writes-follow-reads, judged from the versions ops carry.
 *
 * Semantics of the completion types, which decide verdicts:
 *   - ok:     the operation took effect once, between invoke and completion,
 *             and returned its result.
 *   - fail:   the operation certainly did not take effect; it is dropped.
 *             Exception: a failed `cas` is a real result (the compare failed,
 *             as etcd and Jepsen's cas-register report it): the cas took
 *             effect at some point inside its interval where the register did
 *             not hold the expected value, and left the state unchanged.
 *   - info:   indeterminate: it may take effect at any point after its invoke,
 *             or never. It stays open to the end of the history, and its
 *             result is not checked.
 *   - an invoke never completed is treated as info.
 *
 * Real-time order is the order in which events were appended (the order of
 * lines in a file), as in Jepsen and Porcupine. `time` fields are carried for
 * display (the HTML time line) but do not decide the order.
 *
 * Memory: a struct cs_history owns everything it holds (operations, strings,
 * lists). Values refer to strings and lists by index into their history, so a
 * value is only meaningful with the history it came from.
 *
 * Threading: none inside. A history may be read by several threads at once
 * once built; each check call uses only memory of its own.
 */
#ifndef CONSIST_CHECK_H
#define CONSIST_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- Limits -------------------------------------------------------------- */

/* Operations (invocations) in one history. A larger history is refused whole. */
#define CS_HISTORY_OPS_MAX (1u << 20)
/* Events (invokes plus completions) in one history. */
#define CS_HISTORY_EVENTS_MAX (2u * CS_HISTORY_OPS_MAX)
/* Bytes of all distinct strings (keys, string values, sessions) together. */
#define CS_HISTORY_STRING_BYTES_MAX (64u << 20)
/* Bytes of one string value or key. */
#define CS_HISTORY_STRING_LEN_MAX (1u << 20)
/* Items of all lists (cas pairs, txn micro-ops, set reads) together. */
#define CS_HISTORY_LIST_ITEMS_MAX (1u << 22)
/* Items of one list. */
#define CS_HISTORY_LIST_LEN_MAX 65536u
/* Nesting of lists inside a value ([[:r 1 nil] [:w 2 3]] has depth 2). */
#define CS_HISTORY_VALUE_DEPTH_MAX 8u
/* Bytes of one line of a line-based file (JSONL, Porcupine etcd log). */
#define CS_HISTORY_LINE_BYTES_MAX (1u << 20)
/* Bytes of one EDN map, which may span lines. */
#define CS_HISTORY_EDN_MAP_BYTES_MAX (1u << 20)
/* Processes with an operation open at once. */
#define CS_HISTORY_OPEN_MAX 65536u

/* Default budget of a check when the caller gives none. */
#define CS_CHECK_MEMORY_BYTES_DEFAULT (1ull << 30)

/* --- Values -------------------------------------------------------------- */

enum cs_value_kind {
    CS_VALUE_NONE = 0, /* absent: no value field */
    CS_VALUE_NIL,      /* nil / null */
    CS_VALUE_INT,      /* x is the integer */
    CS_VALUE_STR,      /* x is a string id of the history (cs_history_string) */
    CS_VALUE_LIST,     /* x is the index of the first item, len the item count */
};

/* A value: plain data, 16 bytes, copied freely. */
struct cs_value {
    uint32_t kind; /* enum cs_value_kind */
    uint32_t len;  /* CS_VALUE_LIST: number of items; else 0 */
    int64_t x;
};

static inline struct cs_value cs_value_none(void)
{
    struct cs_value v = {CS_VALUE_NONE, 0, 0};
    return v;
}
static inline struct cs_value cs_value_nil(void)
{
    struct cs_value v = {CS_VALUE_NIL, 0, 0};
    return v;
}
static inline struct cs_value cs_value_int(int64_t x)
{
    struct cs_value v = {CS_VALUE_INT, 0, x};
    return v;
}

/* --- Operations ---------------------------------------------------------- */

enum cs_op_type {
    CS_TYPE_INVOKE = 0, /* still open: no completion seen */
    CS_TYPE_OK,
    CS_TYPE_FAIL,
    CS_TYPE_INFO,
};

enum cs_op_f {
    CS_F_READ = 0, /* register, counter, set: result is what was read */
    CS_F_WRITE,    /* register: value is written */
    CS_F_CAS,      /* cas-register: value is the list [expected new] */
    CS_F_INCR,     /* counter: value is the (signed) amount, 1 if absent */
    CS_F_ADD,      /* set: value is the element */
    CS_F_REMOVE,   /* set: value is the element */
    CS_F_TRANSFER, /* recorded and written back; no model checks it yet */
    CS_F_GET,      /* kv: result is the string (or nil) read */
    CS_F_PUT,      /* kv: value is the string stored */
    CS_F_APPEND,   /* kv: value is the string appended */
    CS_F_TXN,      /* multi-register: value is a list of [f key value] with
                      f "r" or "w"; the result carries the reads' values */
    CS_F_COUNT_,
};

#define CS_KEY_NONE     UINT32_MAX /* the op names no key */
#define CS_SESSION_NONE UINT32_MAX /* the op names no session */
#define CS_VERSION_NONE UINT64_MAX /* the op carries no version */
#define CS_TIME_NONE    INT64_MIN  /* the event carries no time */
#define CS_EVENT_NONE   UINT32_MAX /* no completion event (still open) */

/* One operation: its invoke and completion paired. */
struct cs_op {
    int64_t process;
    int64_t invoke_time;     /* CS_TIME_NONE if not given */
    int64_t complete_time;   /* CS_TIME_NONE if not given or still open */
    struct cs_value value;   /* as invoked */
    struct cs_value result;  /* as completed: what the op returned (a read's value) */
    uint64_t version;        /* CS_VERSION_NONE, else the version read or written */
    uint32_t key;            /* string id, or CS_KEY_NONE */
    uint32_t session;        /* string id, or CS_SESSION_NONE */
    uint32_t invoke_event;   /* position of the invoke in the event order */
    uint32_t complete_event; /* position of the completion, or CS_EVENT_NONE */
    uint8_t f;               /* enum cs_op_f */
    uint8_t type;            /* enum cs_op_type: the completion's type */
};

/* One event, as a simulator or a reader appends it. */
struct cs_event {
    int64_t process;
    int64_t time;          /* CS_TIME_NONE if unknown */
    struct cs_value value; /* invoke: the argument; completion: the result */
    uint64_t version;      /* CS_VERSION_NONE if none */
    uint32_t key;          /* string id from cs_history_intern, or CS_KEY_NONE */
    uint32_t session;      /* string id, or CS_SESSION_NONE */
    uint8_t type;          /* enum cs_op_type */
    uint8_t f;             /* enum cs_op_f */
};

/* --- The history container ----------------------------------------------- */

struct cs_history_open; /* private: process -> open op */

struct cs_history {
    struct cs_op *ops; /* ops[0..ops_len), in invoke order */
    uint32_t ops_len;
    uint32_t ops_cap;
    uint32_t ops_max; /* <= CS_HISTORY_OPS_MAX */
    uint32_t events_len;
    uint32_t *events; /* events[i] = op index << 1 | (1 if completion) */
    uint32_t events_cap;
    /* Strings, interned: id -> bytes. */
    char *string_bytes;
    uint32_t string_bytes_len, string_bytes_cap;
    uint32_t *string_offsets; /* id -> offset; string id i spans [off[i], off[i+1]) */
    uint32_t strings_len, strings_cap;
    uint32_t *string_slots; /* open-addressing table of ids + 1, 0 = empty */
    uint32_t string_slots_cap;
    /* List items, in one array. */
    struct cs_value *items;
    uint32_t items_len, items_cap;
    struct cs_history_open *open;
};

/*
 * cs_history_init: an empty history holding at most ops_max operations
 * (0 means CS_HISTORY_OPS_MAX; larger is clamped to it). Never fails: memory
 * is allocated as events arrive. Free with cs_history_free.
 */
void cs_history_init(struct cs_history *h, uint32_t ops_max);

/* cs_history_free: release all memory; h may be initialised again. */
void cs_history_free(struct cs_history *h);

/* cs_history_reset: forget every op and string, keep ops_max. */
void cs_history_reset(struct cs_history *h);

/*
 * cs_history_intern: the id of the string bytes[0..len), adding it if new.
 * Use ids as keys, sessions and CS_VALUE_STR values.
 * Returns 0, CS_ETOOBIG (len > CS_HISTORY_STRING_LEN_MAX, or the total would
 * pass CS_HISTORY_STRING_BYTES_MAX), CS_ENOMEM.
 */
int cs_history_intern(struct cs_history *h, const char *bytes, size_t len, uint32_t *id_out);

/* cs_history_string: the bytes of string id (not NUL-terminated) and length. */
const char *cs_history_string(const struct cs_history *h, uint32_t id, size_t *len_out);

/* cs_value_str: a string value; its bytes are interned into h. Same codes. */
int cs_history_value_str(struct cs_history *h, const char *bytes, size_t len, struct cs_value *out);

/*
 * cs_history_value_list: a list value holding a copy of items[0..len).
 * Returns 0, CS_ETOOBIG (len > CS_HISTORY_LIST_LEN_MAX or the total passes
 * CS_HISTORY_LIST_ITEMS_MAX), CS_ENOMEM.
 */
int cs_history_value_list(struct cs_history *h, const struct cs_value *items, uint32_t len,
                          struct cs_value *out);

/* cs_history_item: item i of a list value (i < v.len). */
static inline struct cs_value cs_history_item(const struct cs_history *h, struct cs_value v,
                                              uint32_t i)
{
    return h->items[(uint64_t)v.x + i];
}

/*
 * cs_history_append: add one event. An invoke opens an op for its process; a
 * completion (ok, fail, info) closes that process's open op, and its f must
 * match. The completion's value becomes the op's result; its version, if
 * given, replaces the invoke's.
 * Returns 0; CS_ESTATE (an invoke while the process has an op open, or a
 * completion with none open, or f differs); CS_EINVAL (bad type or f);
 * CS_ETOOBIG (past ops_max or CS_HISTORY_OPEN_MAX); CS_ENOMEM.
 * On error the history is unchanged.
 */
int cs_history_append(struct cs_history *h, const struct cs_event *ev);

/* Convenience wrappers of cs_history_append for programs that build
 * histories (the simulator): key and session are string ids or *_NONE. */
int cs_history_invoke(struct cs_history *h, int64_t process, enum cs_op_f f, uint32_t key,
                      struct cs_value value, int64_t time);
int cs_history_complete(struct cs_history *h, int64_t process, enum cs_op_type type, enum cs_op_f f,
                        struct cs_value result, int64_t time);

/* Names: "invoke", "read", ... (static strings); parse returns -1 if unknown. */
const char *cs_op_type_name(enum cs_op_type type);
const char *cs_op_f_name(enum cs_op_f f);
int cs_op_f_parse(const char *name, size_t len);

/* --- Reading and writing ------------------------------------------------- */

enum cs_history_format {
    CS_FORMAT_AUTO = 0,
    CS_FORMAT_JSONL,          /* DESIGN.md "History format" */
    CS_FORMAT_EDN,            /* Jepsen: one map per op, may span lines */
    CS_FORMAT_PORCUPINE_ETCD, /* "INFO  jepsen.util - P\t:type\t:f\tvalue" lines */
    CS_FORMAT_PORCUPINE_KV,   /* EDN maps with :f :get/:put/:append */
};

/* Where a reader stopped: file name as given, 1-based line, and why. */
struct cs_parse_error {
    uint32_t line;
    char message[160];
};

/* cs_history_format_name / _parse: "jsonl", "edn", "porcupine-etcd",
 * "porcupine-kv", "auto"; parse returns -1 if unknown. */
const char *cs_history_format_name(enum cs_history_format format);
int cs_history_format_parse(const char *name);

/*
 * cs_history_detect: the format of text[0..len) judged from its first
 * non-blank, non-comment line. CS_FORMAT_AUTO if none fits.
 */
enum cs_history_format cs_history_detect(const char *text, size_t len);

/*
 * cs_history_parse: append the events of text[0..len) in the given format
 * (CS_FORMAT_AUTO: detect) to h, which must be empty. In the Porcupine etcd
 * log, ":timed-out" is no value: an info op's result stays unknown, and a
 * `fail :read :timed-out` becomes a failed read (which the checkers drop, as
 * it neither changed nor saw the state). `:nemesis` events of EDN are skipped.
 * Returns 0; CS_EPARSE (malformed: err names the line and what was wrong);
 * CS_ETOOBIG (a limit passed: the history is emptied, never half-read);
 * CS_ESTATE (events do not pair: err names the line); CS_ENOMEM.
 * On any error h is left empty.
 */
int cs_history_parse(struct cs_history *h, enum cs_history_format format, const char *text,
                     size_t len, struct cs_parse_error *err);

/*
 * cs_history_write_jsonl: append h as JSONL (one event a line, in event
 * order) to out. Reading it back gives the same history.
 * Returns 0 or the buffer's error (CS_ENOSPACE, CS_ENOMEM).
 */
int cs_history_write_jsonl(const struct cs_history *h, struct cs_buf *out);

/* cs_history_write_value: append v as JSON to out (strings escaped). */
int cs_history_write_value(const struct cs_history *h, struct cs_value v, struct cs_buf *out);

/* --- Models -------------------------------------------------------------- */

enum cs_model_kind {
    CS_MODEL_REGISTER = 0,   /* read, write; initial nil */
    CS_MODEL_CAS_REGISTER,   /* read, write, cas; initial nil unless given */
    CS_MODEL_KV,             /* get, put, append on strings; initial "" */
    CS_MODEL_COUNTER,        /* incr, read; initial 0 */
    CS_MODEL_SET,            /* add, remove, read (result: list of elements) */
    CS_MODEL_MULTI_REGISTER, /* txn of reads and writes over registers */
    CS_MODEL_COUNT_,
};

/*
 * What the checker checks against. Ops with a key are checked as one model
 * instance per key; split_by_key lets linearizability check each key alone
 * (sound because linearizability is compositional); false checks the whole
 * history as one object (Porcupine's kvNoPartition), much slower.
 */
struct cs_model_spec {
    enum cs_model_kind kind;
    struct cs_value initial; /* CS_VALUE_NONE: the model's default */
    bool split_by_key;
};

/* cs_model_name / _parse: "register", "cas-register", "kv", "counter",
 * "set", "multi-register"; parse returns -1 if unknown. */
const char *cs_model_name(enum cs_model_kind kind);
int cs_model_parse(const char *name);

/* cs_model_default: the model a format implies (etcd: cas-register; kv: kv;
 * otherwise judged from the ops' f), split by key. */
struct cs_model_spec cs_model_default(const struct cs_history *h);

/* --- Checking ------------------------------------------------------------ */

enum cs_verdict {
    CS_VERDICT_VALID = 0,   /* exit code 0 */
    CS_VERDICT_INVALID = 1, /* exit code 1 */
    CS_VERDICT_UNKNOWN = 2, /* budget exhausted: exit code 2; never a guess */
};

enum cs_consistency {
    CS_CONSISTENCY_LINEARIZABLE = 0,
    CS_CONSISTENCY_SEQUENTIAL,
    CS_CONSISTENCY_SESSION,
};

/*
 * A budget. Time comes from the caller (the library reads no clock): if
 * now_ms is set, the search calls it every few thousand steps and stops with
 * CS_VERDICT_UNKNOWN once it reaches deadline_ms. steps_max (0: none) and
 * memory_bytes_max (0: CS_CHECK_MEMORY_BYTES_DEFAULT) bound the search
 * likewise.
 */
struct cs_check_budget {
    uint64_t steps_max;
    uint64_t memory_bytes_max;
    uint64_t deadline_ms;
    uint64_t (*now_ms)(void *ctx);
    void *now_ctx;
};

/* Kinds of edges in a cycle of required orderings (sequential consistency). */
enum cs_edge_kind {
    CS_EDGE_PROGRAM = 0, /* same process, earlier first */
    CS_EDGE_READS_FROM,  /* a write before the read that returned its value */
    CS_EDGE_FROM_READ,   /* a read before the write that overwrote what it read */
    CS_EDGE_REAL_TIME,   /* completed before the other was invoked */
};

enum cs_session_guarantee {
    CS_SESSION_READ_YOUR_WRITES = 0,
    CS_SESSION_MONOTONIC_READS,
    CS_SESSION_MONOTONIC_WRITES,
    CS_SESSION_WRITES_FOLLOW_READS,
};

/* Which procedure decided a linearizability verdict. */
enum cs_check_procedure {
    CS_PROCEDURE_SEARCH = 0, /* Wing & Gong's search with Lowe's memo */
    CS_PROCEDURE_STALE_READ, /* the stale-read test before the search */
    CS_PROCEDURE_ZONES,      /* a register whose written values are all distinct:
                                Gibbons & Korach's zones, O(n log n), no search */
};

/*
 * The outcome of a check. Arrays are owned by the result: free with
 * cs_check_result_free. Op indices refer to h->ops.
 *
 * On CS_VERDICT_INVALID:
 *   - linearizable/sequential: key is the failing key (CS_KEY_NONE: the
 *     whole history); prefix[0..prefix_len) is the longest prefix the search
 *     could order, in that order; stuck[0..stuck_len) the ops that could be
 *     next by real time (or program order) but none of which the model
 *     accepts after that prefix.
 *   - sequential, when a cycle of required orderings proves it:
 *     cycle[0..cycle_len) ops, cycle_edges[i] the edge kind from cycle[i] to
 *     cycle[(i+1) % cycle_len].
 *   - session: guarantee and the two ops (cycle[0] earlier, cycle[1] later)
 *     that break it.
 */
struct cs_check_result {
    enum cs_verdict verdict;
    enum cs_consistency consistency;
    uint32_t key;
    uint32_t *prefix;
    uint32_t prefix_len;
    uint32_t *stuck;
    uint32_t stuck_len;
    uint32_t *cycle;
    uint8_t *cycle_edges; /* enum cs_edge_kind */
    uint32_t cycle_len;
    enum cs_session_guarantee guarantee;
    uint64_t steps;             /* search steps taken */
    uint64_t memory_bytes_peak; /* memo table and stacks */
    uint32_t partitions;        /* keys checked separately */
    char *state_text;           /* INVALID: the model's state after prefix, in words (owned) */
    uint32_t dead_op;           /* INVALID, linearizable: an op no op allowed before it can satisfy
                                   after prefix (why the prefix ends there), or UINT32_MAX */
    char detail[256];           /* error context when a check returns CS_EINVAL */
    /* Linearizability: the procedure that decided the verdict (INVALID: of
       the failing partition; VALID: CS_PROCEDURE_ZONES only if every
       partition was decided by zones), and how many partitions zones decided. */
    enum cs_check_procedure procedure;
    uint32_t partitions_zones;
};

/*
 * cs_check_linearizable: is h linearizable under model? Fills *result
 * (initialised here; free with cs_check_result_free even on error).
 * Returns 0 with a verdict (including CS_VERDICT_UNKNOWN past the budget);
 * CS_EINVAL (an op the model does not support, or a malformed value: detail
 * says which op); CS_ENOMEM.
 */
int cs_check_linearizable(const struct cs_history *h, const struct cs_model_spec *model,
                          const struct cs_check_budget *budget, struct cs_check_result *result);

/*
 * cs_check_sequential: is h sequentially consistent under model (one order
 * of all ops, keeping each process's order)? Never splits by key. Meant for
 * small histories: the search is exponential and bounded by the budget.
 * Same returns as cs_check_linearizable.
 */
int cs_check_sequential(const struct cs_history *h, const struct cs_model_spec *model,
                        const struct cs_check_budget *budget, struct cs_check_result *result);

/*
 * cs_check_session: do the session guarantees hold in each session, judged
 * from versions (per key, larger is newer)? Ops without a session or version
 * are ignored. Returns 0 with a verdict, CS_ENOMEM.
 */
int cs_check_session(const struct cs_history *h, struct cs_check_result *result);

/* cs_check_result_free: release the arrays; the result may be reused. */
void cs_check_result_free(struct cs_check_result *result);

/*
 * cs_check_explain: append to out, in words, why the verdict holds: the
 * prefix and the ops that cannot follow it, the cycle, or the broken
 * guarantee. Returns 0 or the buffer's error.
 */
int cs_check_explain(const struct cs_history *h, const struct cs_check_result *result,
                     struct cs_buf *out);

/*
 * cs_check_write_html: append a self-contained HTML page to out: one lane
 * per process, each op a bar from invoke to completion, the prefix and the
 * stuck or cycle ops marked. Returns 0 or the buffer's error.
 */
int cs_check_write_html(const struct cs_history *h, const struct cs_check_result *result,
                        struct cs_buf *out);

/* Names for output: "valid", "invalid", "unknown"; "linearizable", ...;
 * "read-your-writes", ...; "program order", .... Static strings. */
const char *cs_verdict_name(enum cs_verdict verdict);
const char *cs_consistency_name(enum cs_consistency consistency);
int cs_consistency_parse(const char *name);
const char *cs_session_guarantee_name(enum cs_session_guarantee guarantee);
const char *cs_edge_kind_name(enum cs_edge_kind kind);
/* "search", "stale-read test", "zones". */
const char *cs_check_procedure_name(enum cs_check_procedure procedure);

#ifdef __cplusplus
}
#endif

#endif /* CONSIST_CHECK_H */
