/*
 * check_planted.c: each checker catches a bug planted in histories we
 * generate, and accepts the same histories unplanted.
 *
 * Method: per seed, run a sequential execution of a model (register,
 * cas-register, kv, counter, set) with one linearization point per op, then
 * give each op an invoke before and a completion after its point, on
 * processes that never overlap themselves; some ops become info (applied or
 * not) and some fail (not applied). That history is linearizable by
 * construction, so the checkers must say valid. Then one read is corrupted to
 * return what no execution could (a value never written, a count beyond all
 * increments, a version older than the session's own write): linearizability,
 * sequential consistency and the session check must each say invalid.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/check.h"
#include "testlib.h"

#define GEN_OPS_MAX   48
#define GEN_PROCS_MAX 64
#define GEN_KEYS      3

struct gen_op {
    int64_t invoke_time, complete_time;
    int64_t process;
    enum cs_op_f f;
    uint32_t key; /* 0..GEN_KEYS-1 */
    int64_t arg, arg2;
    int64_t result; /* read results; -1 = nil */
    int result_set[32];
    int result_set_len;
    uint64_t version;
    enum cs_op_type type;
};

struct gen {
    struct gen_op ops[GEN_OPS_MAX];
    int n;
    enum cs_model_kind kind;
};

/* The model state per key: register value (-1 nil), counter, set bits, kv
 * string as a list of appended tokens. */
struct gen_state {
    int64_t reg[GEN_KEYS];
    uint64_t version[GEN_KEYS];
    uint32_t set[GEN_KEYS];
    int64_t counter[GEN_KEYS];
    char kv[GEN_KEYS][256];
};

static void gen_apply(struct gen *g, struct gen_state *s, struct gen_op *op, bool applied)
{
    struct cs_rng *rng = cs_test_rng();
    uint32_t k = op->key;
    switch (g->kind) {
    case CS_MODEL_REGISTER:
    case CS_MODEL_CAS_REGISTER:
        if (cs_rng_chance(rng, 1, 2)) {
            op->f = CS_F_READ;
            op->result = s->reg[k];
            op->version = s->version[k];
        } else if (g->kind == CS_MODEL_CAS_REGISTER && cs_rng_chance(rng, 1, 2)) {
            op->f = CS_F_CAS;
            op->arg = cs_rng_chance(rng, 1, 2) ? s->reg[k] : (int64_t)cs_rng_below(rng, 4);
            op->arg2 = (int64_t)cs_rng_below(rng, 4);
            bool match = op->arg == s->reg[k];
            if (applied && match) {
                s->reg[k] = op->arg2;
                s->version[k]++;
            }
            /* A cas whose compare failed is a definite fail. */
            if (applied && !match) op->type = CS_TYPE_FAIL;
        } else {
            op->f = CS_F_WRITE;
            op->arg = (int64_t)cs_rng_below(rng, 4);
            if (applied) {
                s->reg[k] = op->arg;
                s->version[k]++;
                op->version = s->version[k];
            }
        }
        break;
    case CS_MODEL_KV:
        if (cs_rng_chance(rng, 1, 2)) {
            op->f = CS_F_GET;
        } else {
            op->f = cs_rng_chance(rng, 1, 4) ? CS_F_PUT : CS_F_APPEND;
            op->arg = (int64_t)cs_rng_below(rng, 10);
            if (applied) {
                char token[8];
                snprintf(token, sizeof token, "%c", (char)('a' + op->arg));
                if (op->f == CS_F_PUT) s->kv[k][0] = 0;
                if (strlen(s->kv[k]) + 2 < sizeof s->kv[k]) strcat(s->kv[k], token);
            }
        }
        break;
    case CS_MODEL_COUNTER:
        if (cs_rng_chance(rng, 1, 2)) {
            op->f = CS_F_READ;
            op->result = s->counter[k];
        } else {
            op->f = CS_F_INCR;
            op->arg = 1 + (int64_t)cs_rng_below(rng, 3);
            if (applied) s->counter[k] += op->arg;
        }
        break;
    case CS_MODEL_SET:
        if (cs_rng_chance(rng, 1, 3)) {
            op->f = CS_F_READ;
            op->result_set_len = 0;
            for (int e = 0; e < 8; e++) {
                if (s->set[k] & (1u << e)) op->result_set[op->result_set_len++] = e;
            }
        } else {
            op->f = cs_rng_chance(rng, 2, 3) ? CS_F_ADD : CS_F_REMOVE;
            op->arg = (int64_t)cs_rng_below(rng, 8);
            if (applied && op->f == CS_F_ADD) s->set[k] |= 1u << op->arg;
            if (applied && op->f == CS_F_REMOVE) s->set[k] &= ~(1u << op->arg);
        }
        break;
    case CS_MODEL_MULTI_REGISTER:
    case CS_MODEL_COUNT_:
        CS_CHECK(false);
    }
}

/* gen_run: ops with linearization points at 100, 200, ...; each on a process
 * free at its invoke; windows up to 250 wide, so ops overlap. */
static void gen_run(struct gen *g, struct gen_state *s)
{
    struct cs_rng *rng = cs_test_rng();
    int64_t busy_until[GEN_PROCS_MAX];
    int procs = 3 + (int)cs_rng_below(rng, 4);
    for (int p = 0; p < GEN_PROCS_MAX; p++)
        busy_until[p] = INT64_MIN;
    memset(s, 0, sizeof *s);
    for (int k = 0; k < GEN_KEYS; k++)
        s->reg[k] = -1;
    g->n = 16 + (int)cs_rng_below(rng, GEN_OPS_MAX - 16);
    for (int i = 0; i < g->n; i++) {
        struct gen_op *op = &g->ops[i];
        memset(op, 0, sizeof *op);
        int64_t point = 100 * (int64_t)(i + 1);
        op->invoke_time = point - 1 - (int64_t)cs_rng_below(rng, 250);
        op->complete_time = point + 1 + (int64_t)cs_rng_below(rng, 250);
        int p = (int)cs_rng_below(rng, (uint64_t)procs);
        while (p < GEN_PROCS_MAX && busy_until[p] >= op->invoke_time)
            p++;
        CS_CHECK(p < GEN_PROCS_MAX);
        op->key = (uint32_t)cs_rng_below(rng, GEN_KEYS);
        op->type = CS_TYPE_OK;
        op->result = -1;
        uint64_t fate = cs_rng_below(rng, 20);
        bool applied = fate != 0; /* 1 in 20 never happens */
        gen_apply(g, s, op, applied);
        if (op->f == CS_F_GET) {
            /* kv results are strings: remember them via result_set as chars. */
            op->result_set_len = (int)strlen(s->kv[op->key]);
            if (op->result_set_len > 32) {
                op->result_set_len = 32;
                op->type = CS_TYPE_INFO; /* too long to keep: its result goes unchecked */
            }
            for (int c = 0; c < op->result_set_len; c++)
                op->result_set[c] = s->kv[op->key][c];
        }
        bool pure = op->f == CS_F_READ || op->f == CS_F_GET;
        if (!applied && !pure && op->type == CS_TYPE_OK) {
            /* A failed cas claims its compare failed: only info is safe. */
            bool fail = op->f != CS_F_CAS && cs_rng_chance(rng, 1, 2);
            op->type = fail ? CS_TYPE_FAIL : CS_TYPE_INFO;
        } else if (applied && !pure && op->type == CS_TYPE_OK && fate == 1) {
            op->type = CS_TYPE_INFO; /* happened, but the client never learnt it */
        }
        /* An info op's process is gone for good, as in Jepsen. */
        busy_until[p] = op->type == CS_TYPE_INFO ? INT64_MAX : op->complete_time;
        op->process = p;
    }
}

struct event {
    int64_t time;
    int op;
    bool completion;
};

static int cmp_event(const void *a, const void *b)
{
    const struct event *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->completion - y->completion;
}

static struct cs_value result_value(struct cs_history *h, const struct gen *g,
                                    const struct gen_op *op)
{
    struct cs_value v = cs_value_nil();
    if (g->kind == CS_MODEL_SET) {
        struct cs_value items[32];
        for (int e = 0; e < op->result_set_len; e++)
            items[e] = cs_value_int(op->result_set[e]);
        CS_CHECK_OK(cs_history_value_list(h, items, (uint32_t)op->result_set_len, &v));
    } else if (op->f == CS_F_GET) {
        char text[33];
        for (int c = 0; c < op->result_set_len; c++)
            text[c] = (char)op->result_set[c];
        CS_CHECK_OK(cs_history_value_str(h, text, (size_t)op->result_set_len, &v));
    } else if (op->result >= 0 || g->kind == CS_MODEL_COUNTER) {
        v = cs_value_int(op->result);
    }
    return v;
}

static struct cs_value arg_value(struct cs_history *h, const struct gen_op *op)
{
    struct cs_value v = cs_value_int(op->arg);
    if (op->f == CS_F_CAS) {
        struct cs_value pair[2] = {op->arg < 0 ? cs_value_nil() : cs_value_int(op->arg),
                                   cs_value_int(op->arg2)};
        CS_CHECK_OK(cs_history_value_list(h, pair, 2, &v));
    } else if (op->f == CS_F_PUT || op->f == CS_F_APPEND) {
        char c = (char)('a' + op->arg);
        CS_CHECK_OK(cs_history_value_str(h, &c, 1, &v));
    } else if (op->f == CS_F_READ || op->f == CS_F_GET) {
        v = cs_value_nil();
    }
    return v;
}

/* gen_history: events in time order into h, through the public API. */
static void gen_history(const struct gen *g, struct cs_history *h)
{
    struct event events[2 * GEN_OPS_MAX];
    int n = 0;
    for (int i = 0; i < g->n; i++) {
        events[n++] = (struct event){g->ops[i].invoke_time, i, false};
        events[n++] = (struct event){g->ops[i].complete_time, i, true};
    }
    qsort(events, (size_t)n, sizeof events[0], cmp_event);
    cs_history_init(h, 0);
    uint32_t keys[GEN_KEYS];
    for (int k = 0; k < GEN_KEYS; k++) {
        char name = (char)('x' + k);
        CS_CHECK_OK(cs_history_intern(h, &name, 1, &keys[k]));
    }
    for (int e = 0; e < n; e++) {
        const struct gen_op *op = &g->ops[events[e].op];
        struct cs_event ev = {op->process,   events[e].time,  arg_value(h, op), CS_VERSION_NONE,
                              keys[op->key], CS_SESSION_NONE, CS_TYPE_INVOKE,   (uint8_t)op->f};
        if (events[e].completion) {
            ev.type = (uint8_t)op->type;
            bool read = op->f == CS_F_READ || op->f == CS_F_GET;
            ev.value = read && op->type == CS_TYPE_OK ? result_value(h, g, op)
                       : op->type == CS_TYPE_INFO     ? cs_value_none()
                                                      : ev.value;
            if (op->type == CS_TYPE_OK && op->version != 0) ev.version = op->version;
        }
        /* One session per process. */
        char sname[24];
        int len = snprintf(sname, sizeof sname, "p%lld", (long long)op->process);
        CS_CHECK_OK(cs_history_intern(h, sname, (size_t)len, &ev.session));
        int rc = cs_history_append(h, &ev);
        CS_CHECK_MSG(rc == 0, "event %d: %s", e, cs_errname(rc));
    }
}

/* corrupt: make one ok read impossible; returns its op index, or -1. */
static int corrupt(struct gen *g)
{
    struct cs_rng *rng = cs_test_rng();
    int start = (int)cs_rng_below(rng, (uint64_t)g->n);
    for (int j = 0; j < g->n; j++) {
        struct gen_op *op = &g->ops[(start + j) % g->n];
        if (op->type != CS_TYPE_OK || (op->f != CS_F_READ && op->f != CS_F_GET)) continue;
        if (g->kind == CS_MODEL_SET) {
            op->result_set[0] = 9; /* never added: elements are 0..7 */
            op->result_set_len = op->result_set_len ? op->result_set_len : 1;
        } else if (op->f == CS_F_GET) {
            op->result_set[0] = 'z'; /* never appended: tokens are a..j */
            op->result_set_len = op->result_set_len ? op->result_set_len : 1;
        } else if (g->kind == CS_MODEL_COUNTER) {
            op->result = 1000; /* beyond all increments */
        } else {
            op->result = 77; /* never written: values are 0..3 */
        }
        return (start + j) % g->n;
    }
    return -1;
}

static enum cs_verdict verdict_of(const struct cs_history *h, enum cs_model_kind kind,
                                  enum cs_consistency c)
{
    struct cs_model_spec spec = {kind, cs_value_none(), true};
    struct cs_check_result r;
    int rc = c == CS_CONSISTENCY_LINEARIZABLE ? cs_check_linearizable(h, &spec, NULL, &r)
             : c == CS_CONSISTENCY_SEQUENTIAL ? cs_check_sequential(h, &spec, NULL, &r)
                                              : cs_check_session(h, &r);
    CS_CHECK_MSG(rc == 0, "%s: %s", cs_errname(rc), r.detail);
    enum cs_verdict v = r.verdict;
    if (v == CS_VERDICT_INVALID && c != CS_CONSISTENCY_SESSION) {
        CS_CHECK(r.stuck_len > 0 || r.cycle_len > 0);
    }
    cs_check_result_free(&r);
    return v;
}

CS_TEST(generated_valid_corrupted_invalid)
{
    static const enum cs_model_kind kinds[] = {CS_MODEL_REGISTER, CS_MODEL_CAS_REGISTER,
                                               CS_MODEL_KV, CS_MODEL_COUNTER, CS_MODEL_SET};
    uint64_t seeds = cs_test_seeds(300);
    int caught = 0;
    for (uint64_t i = 0; i < seeds; i++) {
        uint64_t seed = cs_test_seed() + i;
        cs_test_seed_set(seed);
        struct gen g;
        struct gen_state s;
        g.kind = kinds[seed % 5];
        gen_run(&g, &s);
        struct cs_history h;
        gen_history(&g, &h);
        if (getenv("CS_DUMP") != NULL) {
            struct cs_buf out;
            cs_buf_init(&out, 1u << 20);
            cs_history_write_jsonl(&h, &out);
            fwrite(out.data, 1, out.len, stderr);
            cs_buf_free(&out);
        }
        CS_CHECK_EQ(verdict_of(&h, g.kind, CS_CONSISTENCY_LINEARIZABLE), CS_VERDICT_VALID);
        if (g.n <= 24) {
            CS_CHECK_EQ(verdict_of(&h, g.kind, CS_CONSISTENCY_SEQUENTIAL), CS_VERDICT_VALID);
        }
        cs_history_free(&h);
        if (corrupt(&g) < 0) continue;
        gen_history(&g, &h);
        CS_CHECK_EQ(verdict_of(&h, g.kind, CS_CONSISTENCY_LINEARIZABLE), CS_VERDICT_INVALID);
        if (g.n <= 24) {
            CS_CHECK_EQ(verdict_of(&h, g.kind, CS_CONSISTENCY_SEQUENTIAL), CS_VERDICT_INVALID);
        }
        cs_history_free(&h);
        caught++;
    }
    CS_CHECK(caught > (int)seeds / 2);
}

CS_TEST(session_stale_read_caught)
{
    /* Register histories carry versions; sessions are processes. Valid as
       generated; a read made older than its session's own last write on the
       key must break read-your-writes (or monotonic reads). */
    uint64_t seeds = cs_test_seeds(300);
    int planted = 0;
    for (uint64_t i = 0; i < seeds; i++) {
        cs_test_seed_set(cs_test_seed() + 1000003 + i);
        struct gen g;
        struct gen_state s;
        g.kind = CS_MODEL_REGISTER;
        gen_run(&g, &s);
        struct cs_history h;
        gen_history(&g, &h);
        CS_CHECK_EQ(verdict_of(&h, g.kind, CS_CONSISTENCY_SESSION), CS_VERDICT_VALID);
        cs_history_free(&h);
        /* Find an ok write, then a later ok read by the same process, key. */
        int target = -1;
        for (int a = 0; a < g.n && target < 0; a++) {
            const struct gen_op *w = &g.ops[a];
            if (w->f != CS_F_WRITE || w->type != CS_TYPE_OK || w->version == 0) continue;
            for (int b = a + 1; b < g.n; b++) {
                struct gen_op *r = &g.ops[b];
                if (r->process == w->process && r->key == w->key && r->f == CS_F_READ &&
                    r->type == CS_TYPE_OK && r->version >= w->version) {
                    r->version = w->version - 1;
                    target = b;
                    break;
                }
            }
        }
        if (target < 0) continue;
        if (g.ops[target].version == 0) continue; /* version 0 reads as "none" */
        gen_history(&g, &h);
        CS_CHECK_EQ(verdict_of(&h, g.kind, CS_CONSISTENCY_SESSION), CS_VERDICT_INVALID);
        cs_history_free(&h);
        planted++;
    }
    CS_CHECK(planted > 0);
}

CS_TEST_MAIN(CS_CASE(generated_valid_corrupted_invalid), CS_CASE(session_stale_read_caught))
