/*
 * check_unique.c: the zones test and the general search agree on every
 * generated unique-value register history, and the agreement is strong
 * enough to catch a planted bug in the zones test.
 *
 * Method: per seed, a sequential execution of a register with one
 * linearization point per op (writes of fresh values 1, 2, 3, ...; reads of
 * the current value, nil at first), then an invoke before and a completion
 * after each point, up to GEN_WIDTH_MAX points away, so ops overlap a lot;
 * processes never overlap themselves. Some writes become info (applied or
 * not), some fail (not applied), some reads become info (no value). Half of
 * the histories then have reads re-pointed at a random value (written,
 * failed, not yet written, or nil), which makes many invalid. Each history
 * is checked by cs_check_linearizable (which must choose zones) and by the
 * search alone: the verdicts must be equal. Where zones say invalid, the
 * clusters the explanation names (their writes and all reads of their
 * values) must alone be refuted by the search too: the explanation is a
 * proof, not a pointer. With the backward-zone condition
 * removed from the zones test (CS_CHECK_PLANT_ZONES_NO_BACKWARD), the same
 * comparison must find disagreements.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/internal.h"
#include "consist/check.h"
#include "consist/error.h"
#include "testlib.h"

#define GEN_OPS_MIN   2
#define GEN_OPS_MAX   14
#define GEN_WIDTH_MAX 5 /* how far an endpoint may be from its point, in points */
#define GEN_EVENTS    (2 * GEN_OPS_MAX)

struct gen_op {
    enum cs_op_f f;
    enum cs_op_type type;
    int64_t value;        /* write: value; read: value returned, 0 = nil */
    int invoke, complete; /* event slots */
    int64_t process;
};

struct gen_event {
    int time; /* 2 * point + tie-break */
    int op;
    bool completion;
};

static int cmp_event(const void *a, const void *b)
{
    const struct gen_event *x = a, *y = b;
    if (x->time != y->time) return x->time < y->time ? -1 : 1;
    return x->op < y->op ? -1 : x->op > y->op;
}

/* gen_history: a random unique-value register history into h. */
static void gen_history(struct cs_rng *rng, struct cs_history *h)
{
    struct gen_op ops[GEN_OPS_MAX];
    struct gen_event ev[GEN_EVENTS];
    int n = (int)cs_rng_range(rng, GEN_OPS_MIN, GEN_OPS_MAX);
    int64_t state = 0, next_value = 1;
    int64_t written[GEN_OPS_MAX + 1];
    int written_len = 0;
    int ne = 0;
    for (int i = 0; i < n; i++) {
        struct gen_op *o = &ops[i];
        o->type = CS_TYPE_OK;
        if (cs_rng_chance(rng, 1, 2)) {
            o->f = CS_F_WRITE;
            o->value = next_value++;
            written[written_len++] = o->value;
            uint64_t fate = cs_rng_below(rng, 10);
            if (fate == 0) {
                o->type = CS_TYPE_FAIL;
            } else if (fate <= 2) {
                o->type = CS_TYPE_INFO;
                if (cs_rng_chance(rng, 1, 2)) state = o->value;
            } else {
                state = o->value;
            }
        } else {
            o->f = CS_F_READ;
            o->value = state;
            if (cs_rng_chance(rng, 1, 10)) o->type = CS_TYPE_INFO;
        }
        /* Times in units of 1/4 point, so endpoints of different ops rarely
           tie (ties are broken by op index, consistently). */
        int point = 4 * (i + 1);
        ev[ne++] =
            (struct gen_event){point - 1 - (int)cs_rng_below(rng, 4 * GEN_WIDTH_MAX), i, false};
        ev[ne++] =
            (struct gen_event){point + 1 + (int)cs_rng_below(rng, 4 * GEN_WIDTH_MAX), i, true};
    }
    int reads[GEN_OPS_MAX], reads_len = 0;
    for (int i = 0; i < n; i++) {
        if (ops[i].f == CS_F_READ && ops[i].type == CS_TYPE_OK) reads[reads_len++] = i;
    }
    if (reads_len > 0 && cs_rng_chance(rng, 1, 2)) {
        /* Corrupt: re-point one or two known reads. */
        int times = 1 + (int)cs_rng_below(rng, 2);
        for (int t = 0; t < times; t++) {
            struct gen_op *o = &ops[reads[cs_rng_below(rng, (uint64_t)reads_len)]];
            uint64_t pick = cs_rng_below(rng, (uint64_t)written_len + 2);
            o->value = pick < (uint64_t)written_len    ? written[pick]
                       : pick == (uint64_t)written_len ? 0
                                                       : next_value; /* never written */
        }
    }
    qsort(ev, (size_t)ne, sizeof ev[0], cmp_event);
    /* Processes: an op takes the lowest process free at its invoke; info ops
       keep theirs to the end, as in Jepsen. */
    int64_t busy_until_event[GEN_OPS_MAX]; /* per process: index of freeing event, -1 free */
    int procs = 0;
    for (int e = 0; e < ne; e++) {
        struct gen_op *o = &ops[ev[e].op];
        if (!ev[e].completion) {
            int p = 0;
            while (p < procs && busy_until_event[p] != -1)
                p++;
            if (p == procs) procs++;
            busy_until_event[p] = o->type == CS_TYPE_INFO ? INT64_MAX : ev[e].op;
            o->process = p;
            struct cs_value v = o->f == CS_F_WRITE ? cs_value_int(o->value) : cs_value_none();
            CS_CHECK_OK(cs_history_invoke(h, o->process, o->f, CS_KEY_NONE, v, ev[e].time));
        } else if (o->type == CS_TYPE_INFO) {
            continue; /* open to the end */
        } else {
            busy_until_event[o->process] = -1;
            struct cs_value v = o->f == CS_F_WRITE ? cs_value_int(o->value)
                                : o->value == 0    ? cs_value_nil()
                                                   : cs_value_int(o->value);
            CS_CHECK_OK(cs_history_complete(h, o->process, o->type, o->f, v, ev[e].time));
        }
    }
    /* Close info ops at the very end, as a recorder would. */
    for (int i = 0; i < n; i++) {
        if (ops[i].type != CS_TYPE_INFO) continue;
        CS_CHECK_OK(cs_history_complete(h, ops[i].process, CS_TYPE_INFO, ops[i].f, cs_value_none(),
                                        CS_TIME_NONE));
    }
}

/* print_disagreement: the history and both verdicts, to replay by hand. */
static void print_disagreement(const struct cs_history *h, const struct cs_check_result *zones,
                               const struct cs_check_result *search)
{
    struct cs_buf out;
    cs_buf_init(&out, 1u << 20);
    cs_history_write_jsonl(h, &out);
    cs_check_explain(h, zones, &out);
    fprintf(stderr, "zones: %s, search: %s\n%.*s", cs_verdict_name(zones->verdict),
            cs_verdict_name(search->verdict), (int)out.len, (const char *)out.data);
    cs_buf_free(&out);
}

static bool value_in(struct cs_value v, const struct cs_value *set, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        if (set[i].kind == v.kind && set[i].x == v.x) return true;
    }
    return false;
}

/* named_clusters_refuted: the search on the ops of the clusters r names. */
static bool named_clusters_refuted(const struct cs_history *h, const struct cs_check_result *r)
{
    struct cs_value values[8];
    uint32_t nv = 0;
    for (uint32_t i = 0; i < r->stuck_len && nv < 8; i++) {
        const struct cs_op *op = &h->ops[r->stuck[i]];
        values[nv++] = op->f == CS_F_WRITE ? op->value : op->result;
    }
    bool in[GEN_OPS_MAX] = {false};
    CS_CHECK(h->ops_len <= GEN_OPS_MAX);
    for (uint32_t i = 0; i < h->ops_len; i++) {
        const struct cs_op *op = &h->ops[i];
        if (op->type == CS_TYPE_FAIL) continue;
        in[i] = op->f == CS_F_WRITE ? value_in(op->value, values, nv)
                                    : op->type == CS_TYPE_OK && value_in(op->result, values, nv);
    }
    struct cs_history sub;
    cs_history_init(&sub, 0);
    for (uint32_t e = 0; e < h->events_len; e++) {
        uint32_t index = h->events[e] >> 1;
        const struct cs_op *op = &h->ops[index];
        if (!in[index]) continue;
        if ((h->events[e] & 1u) == 0)
            CS_CHECK_OK(cs_history_invoke(&sub, op->process, (enum cs_op_f)op->f, CS_KEY_NONE,
                                          op->value, op->invoke_time));
        else
            CS_CHECK_OK(cs_history_complete(&sub, op->process, (enum cs_op_type)op->type,
                                            (enum cs_op_f)op->f, op->result, op->complete_time));
    }
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_result sr;
    CS_CHECK_OK(cs_check_linearizable_flags(&sub, &spec, NULL, CS_CHECK_SEARCH_ONLY, &sr));
    bool refuted = sr.verdict == CS_VERDICT_INVALID;
    cs_check_result_free(&sr);
    cs_history_free(&sub);
    return refuted;
}

struct tally {
    uint64_t runs, valid, invalid, disagree;
    uint64_t first_disagree_seed;
};

/* run_seeds: compare the zones test (with flags) and the search. */
static struct tally run_seeds(uint64_t seeds, unsigned flags, bool stop_at_disagreement)
{
    struct tally t = {0, 0, 0, 0, 0};
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    for (uint64_t s = 0; s < seeds; s++) {
        uint64_t seed = cs_test_seed() + s;
        cs_test_seed_set(seed);
        struct cs_rng rng;
        cs_rng_init(&rng, seed);
        struct cs_history h;
        cs_history_init(&h, 0);
        gen_history(&rng, &h);
        struct cs_check_result zones, search;
        CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, flags, &zones));
        CS_CHECK_OK(cs_check_linearizable_flags(&h, &spec, NULL, CS_CHECK_SEARCH_ONLY, &search));
        /* Unique values by construction: zones must have decided (there is no
           partition when every op failed). */
        CS_CHECK_EQ(zones.partitions_zones, zones.partitions);
        CS_CHECK_EQ(search.partitions_zones, 0u);
        CS_CHECK(search.verdict != CS_VERDICT_UNKNOWN);
        t.runs++;
        t.valid += search.verdict == CS_VERDICT_VALID;
        t.invalid += search.verdict == CS_VERDICT_INVALID;
        if (zones.verdict != search.verdict && t.disagree++ == 0) {
            t.first_disagree_seed = seed;
            if (flags == 0) print_disagreement(&h, &zones, &search);
        }
        if (zones.verdict == CS_VERDICT_INVALID && flags == 0) {
            CS_CHECK(zones.stuck_len > 0);
            CS_CHECK_MSG(named_clusters_refuted(&h, &zones), "named clusters linearizable");
        }
        cs_check_result_free(&zones);
        cs_check_result_free(&search);
        cs_history_free(&h);
        if (stop_at_disagreement && t.disagree > 0) break;
    }
    return t;
}

CS_TEST(zones_agree_with_search)
{
    uint64_t seeds = cs_test_seeds(20000);
    struct tally t = run_seeds(seeds, 0, true);
    CS_CHECK_MSG(t.disagree == 0, "zones and search disagree at seed %llu",
                 (unsigned long long)t.first_disagree_seed);
    /* Both verdicts are common, or agreement would prove little. */
    CS_CHECK_MSG(t.valid * 10 > t.runs && t.invalid * 10 > t.runs,
                 "valid %llu invalid %llu of %llu", (unsigned long long)t.valid,
                 (unsigned long long)t.invalid, (unsigned long long)t.runs);
    printf("zones == search on %llu histories (%llu valid, %llu invalid)\n",
           (unsigned long long)t.runs, (unsigned long long)t.valid, (unsigned long long)t.invalid);
}

CS_TEST(planted_bug_caught)
{
    /* Without the backward-zone condition the zones test says valid where
       the search says invalid; the cross-check must notice within the
       seeds ctest runs. */
    struct tally t = run_seeds(cs_test_seeds(20000), CS_CHECK_PLANT_ZONES_NO_BACKWARD, true);
    CS_CHECK_MSG(t.disagree > 0, "planted bug not caught in %llu seeds",
                 (unsigned long long)t.runs);
    printf("planted bug (no backward-zone condition) caught at seed %llu after %llu histories\n",
           (unsigned long long)t.first_disagree_seed, (unsigned long long)t.runs);
}

CS_TEST_MAIN(CS_CASE(zones_agree_with_search), CS_CASE(planted_bug_caught))
