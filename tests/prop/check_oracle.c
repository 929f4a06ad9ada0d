/*
 * check_oracle.c: the checkers agree with brute force on small random
 * histories.
 *
 * Goal: the search's shortcuts (reads placed without branching, unknown ops
 * left to the end, the dead-end test, the memo with its incremental hash)
 * never change a verdict. Method: random histories of at most 7 ops on one
 * key (register, cas-register, kv), with random results, so about half are
 * invalid; each op ok, fail or info. The oracle tries every subset of the ops
 * of unknown outcome and every order of the chosen ops that respects real
 * time (or program order, for sequential consistency), stepping a plain model
 * written here from scratch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/check.h"
#include "testlib.h"

#define ORACLE_OPS_MAX 7

struct oracle_op {
    int process;
    int invoke, complete; /* event positions; complete = INT32_MAX if open */
    enum cs_op_f f;
    enum cs_op_type type;
    int a, b;      /* write/put/append value, cas from/to; -1 = nil */
    int result;    /* read value (-1 nil); kv: index into kv_strings */
    bool included; /* oracle scratch */
};

static const char *const kv_strings[] = {"", "a", "b", "ab", "ba", "aa", "abb"};
#define KV_STRINGS 7

struct oracle {
    struct oracle_op ops[ORACLE_OPS_MAX];
    int n;
    enum cs_model_kind kind;
    bool sequential;
};

/* oracle_step: apply op to state (register value, or kv string). */
static bool oracle_step(const struct oracle *o, const struct oracle_op *op, int *reg, char *kv)
{
    bool known = op->type == CS_TYPE_OK || op->type == CS_TYPE_FAIL;
    if (o->kind == CS_MODEL_KV) {
        switch ((int)op->f) {
        case CS_F_GET:
            return !known || strcmp(kv, kv_strings[op->result]) == 0;
        case CS_F_PUT:
            strcpy(kv, kv_strings[op->a]);
            return true;
        case CS_F_APPEND:
            strcat(kv, kv_strings[op->a]);
            return true;
        default:
            return false;
        }
    }
    switch ((int)op->f) {
    case CS_F_READ:
        return !known || *reg == op->result;
    case CS_F_WRITE:
        *reg = op->a;
        return true;
    case CS_F_CAS:
        if (op->type == CS_TYPE_FAIL) return *reg != op->a;
        if (*reg == op->a) {
            *reg = op->b;
            return true;
        }
        return !known;
    default:
        return false;
    }
}

/* must_precede: a before b in every valid order. */
static bool must_precede(const struct oracle *o, const struct oracle_op *a,
                         const struct oracle_op *b)
{
    if (o->sequential) return a->process == b->process && a->invoke < b->invoke;
    /* An op of unknown outcome stays open to the end: nothing must follow it. */
    bool open = a->type == CS_TYPE_INFO || a->type == CS_TYPE_INVOKE;
    return !open && a->complete < b->invoke;
}

/* search: extend order[0..depth) with included, unplaced ops. */
static bool search(const struct oracle *o, int *order, int depth, int want, bool *placed, int reg,
                   const char *kv)
{
    if (depth == want) return true;
    for (int i = 0; i < o->n; i++) {
        const struct oracle_op *op = &o->ops[i];
        if (!op->included || placed[i]) continue;
        bool ready = true;
        for (int j = 0; j < o->n && ready; j++) {
            if (j != i && o->ops[j].included && !placed[j] && must_precede(o, &o->ops[j], op)) {
                ready = false;
            }
        }
        if (!ready) continue;
        int reg2 = reg;
        char kv2[64];
        strcpy(kv2, kv);
        if (!oracle_step(o, op, &reg2, kv2)) continue;
        placed[i] = true;
        order[depth] = i;
        bool ok = search(o, order, depth + 1, want, placed, reg2, kv2);
        placed[i] = false;
        if (ok) return true;
    }
    return false;
}

static bool oracle_valid(struct oracle *o)
{
    int unknown[ORACLE_OPS_MAX], u = 0;
    for (int i = 0; i < o->n; i++) {
        struct oracle_op *op = &o->ops[i];
        bool dropped = op->type == CS_TYPE_FAIL && op->f != CS_F_CAS;
        op->included = !dropped;
        if (op->type == CS_TYPE_INFO || op->type == CS_TYPE_INVOKE) unknown[u++] = i;
    }
    for (int mask = 0; mask < (1 << u); mask++) {
        int want = 0;
        for (int k = 0; k < u; k++)
            o->ops[unknown[k]].included = (mask >> k) & 1;
        for (int i = 0; i < o->n; i++)
            want += o->ops[i].included;
        int order[ORACLE_OPS_MAX];
        bool placed[ORACLE_OPS_MAX] = {false};
        if (search(o, order, 0, want, placed, -1, "")) return true;
    }
    return false;
}

/* oracle_random: random ops on random processes, events interleaved. */
static void oracle_random(struct oracle *o)
{
    struct cs_rng *rng = cs_test_rng();
    o->n = 2 + (int)cs_rng_below(rng, ORACLE_OPS_MAX - 1);
    int procs = 1 + (int)cs_rng_below(rng, 4);
    int open_op[8], pid[8];
    int next_op = 0, event = 0, completed = 0, next_pid = 100;
    for (int p = 0; p < 8; p++) {
        open_op[p] = -1;
        pid[p] = p;
    }
    while (completed < o->n) {
        int p = (int)cs_rng_below(rng, (uint64_t)procs);
        if (open_op[p] < 0 && next_op < o->n) {
            struct oracle_op *op = &o->ops[next_op];
            memset(op, 0, sizeof *op);
            op->process = pid[p];
            op->invoke = event++;
            op->complete = INT32_MAX;
            uint64_t r = cs_rng_below(rng, 3);
            if (o->kind == CS_MODEL_KV) {
                op->f = r == 0 ? CS_F_GET : r == 1 ? CS_F_PUT : CS_F_APPEND;
                op->a = 1 + (int)cs_rng_below(rng, 2);
                op->result = (int)cs_rng_below(rng, KV_STRINGS);
            } else {
                op->f = r == 0                                     ? CS_F_READ
                        : (r == 1 || o->kind == CS_MODEL_REGISTER) ? CS_F_WRITE
                                                                   : CS_F_CAS;
                op->a = (int)cs_rng_below(rng, 3) - 1;
                op->b = (int)cs_rng_below(rng, 3);
                op->result = (int)cs_rng_below(rng, 3) - 1;
            }
            open_op[p] = next_op++;
        } else if (open_op[p] >= 0) {
            struct oracle_op *op = &o->ops[open_op[p]];
            uint64_t t = cs_rng_below(rng, 10);
            op->type = t < 6 ? CS_TYPE_OK : t < 8 ? CS_TYPE_INFO : CS_TYPE_FAIL;
            op->complete = event++;
            open_op[p] = -1;
            completed++;
            /* After info a Jepsen process never returns: the slot goes on
               under a fresh process id. */
            if (op->type == CS_TYPE_INFO) pid[p] = next_pid++;
        } else if (next_op == o->n && cs_rng_chance(rng, 1, 8)) {
            /* Nothing left to start on this process: leave the rest open. */
            for (int q = 0; q < procs; q++) {
                if (open_op[q] >= 0) {
                    o->ops[open_op[q]].type = CS_TYPE_INVOKE;
                    open_op[q] = -1;
                    completed++;
                }
            }
        }
    }
}

static struct cs_value int_or_nil(int x)
{
    return x < 0 ? cs_value_nil() : cs_value_int(x);
}

/* oracle_history: the same ops through the public API, in event order. */
static void oracle_history(const struct oracle *o, struct cs_history *h)
{
    cs_history_init(h, 0);
    int events = 0;
    for (int i = 0; i < o->n; i++) {
        if (o->ops[i].invoke + 1 > events) events = o->ops[i].invoke + 1;
        if (o->ops[i].complete != INT32_MAX && o->ops[i].complete + 1 > events) {
            events = o->ops[i].complete + 1;
        }
    }
    for (int e = 0; e < events; e++) {
        for (int i = 0; i < o->n; i++) {
            const struct oracle_op *op = &o->ops[i];
            struct cs_value arg = cs_value_nil(), res = cs_value_none();
            if (o->kind == CS_MODEL_KV) {
                if (op->f != CS_F_GET) {
                    const char *s = kv_strings[op->a];
                    CS_CHECK_OK(cs_history_value_str(h, s, strlen(s), &arg));
                    res = arg;
                } else if (op->type == CS_TYPE_OK) {
                    const char *s = kv_strings[op->result];
                    CS_CHECK_OK(cs_history_value_str(h, s, strlen(s), &res));
                }
            } else if (op->f == CS_F_CAS) {
                struct cs_value pair[2] = {int_or_nil(op->a), int_or_nil(op->b)};
                CS_CHECK_OK(cs_history_value_list(h, pair, 2, &arg));
                res = arg;
            } else if (op->f == CS_F_WRITE) {
                arg = int_or_nil(op->a);
                res = arg;
            } else if (op->type == CS_TYPE_OK) {
                res = int_or_nil(op->result);
            }
            if (op->type == CS_TYPE_INFO) res = cs_value_none();
            if (op->invoke == e) {
                CS_CHECK_OK(cs_history_invoke(h, op->process, op->f, CS_KEY_NONE, arg, e));
            } else if (op->complete == e) {
                CS_CHECK_OK(cs_history_complete(h, op->process, op->type, op->f, res, e));
            }
        }
    }
}

static void agree(enum cs_model_kind kind, bool sequential, bool split, uint64_t seeds,
                  uint64_t base)
{
    int valid = 0, invalid = 0;
    for (uint64_t i = 0; i < seeds; i++) {
        cs_test_seed_set(base + i);
        struct oracle o;
        memset(&o, 0, sizeof o);
        o.kind = kind;
        o.sequential = sequential;
        oracle_random(&o);
        struct cs_history h;
        oracle_history(&o, &h);
        struct cs_model_spec spec = {kind, cs_value_none(), split};
        struct cs_check_result r;
        int rc = sequential ? cs_check_sequential(&h, &spec, NULL, &r)
                            : cs_check_linearizable(&h, &spec, NULL, &r);
        CS_CHECK_MSG(rc == 0, "%s: %s", cs_errname(rc), r.detail);
        bool want = oracle_valid(&o);
        if (want != (r.verdict == CS_VERDICT_VALID)) {
            struct cs_buf out;
            cs_buf_init(&out, 1u << 16);
            cs_history_write_jsonl(&h, &out);
            fprintf(stderr, "%.*s", (int)out.len, (const char *)out.data);
            cs_buf_free(&out);
        }
        CS_CHECK_MSG(want == (r.verdict == CS_VERDICT_VALID), "oracle says %s, checker %s",
                     want ? "valid" : "invalid", cs_verdict_name(r.verdict));
        valid += want;
        invalid += !want;
        cs_check_result_free(&r);
        cs_history_free(&h);
    }
    /* Both answers must be common, or the comparison proves little. */
    CS_CHECK(valid > (int)seeds / 10);
    CS_CHECK(invalid > (int)seeds / 10);
}

CS_TEST(linearizable_register_agrees)
{
    agree(CS_MODEL_REGISTER, false, true, cs_test_seeds(1500), cs_test_seed());
}

CS_TEST(linearizable_cas_register_agrees)
{
    agree(CS_MODEL_CAS_REGISTER, false, true, cs_test_seeds(1500), cs_test_seed());
}

CS_TEST(linearizable_kv_agrees)
{
    agree(CS_MODEL_KV, false, true, cs_test_seeds(1500), cs_test_seed());
}

CS_TEST(sequential_cas_register_agrees)
{
    agree(CS_MODEL_CAS_REGISTER, true, true, cs_test_seeds(1500), cs_test_seed());
}

CS_TEST(sequential_kv_agrees)
{
    agree(CS_MODEL_KV, true, true, cs_test_seeds(1500), cs_test_seed());
}

CS_TEST(linearizable_kv_whole_state_agrees)
{
    /* Not split by key: the state is a vector over keys (the product). */
    agree(CS_MODEL_KV, false, false, cs_test_seeds(1500), cs_test_seed());
}

CS_TEST_MAIN(CS_CASE(linearizable_register_agrees), CS_CASE(linearizable_cas_register_agrees),
             CS_CASE(linearizable_kv_agrees), CS_CASE(sequential_cas_register_agrees),
             CS_CASE(sequential_kv_agrees), CS_CASE(linearizable_kv_whole_state_agrees))
