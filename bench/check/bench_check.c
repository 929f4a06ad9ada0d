/*
 * bench_check.c: how long the linearizability checker takes on Porcupine's
 * histories, beside Porcupine's own figures on this machine class.
 *
 * Usage: bench_check [DATA_DIR] [RUNS]  (DATA_DIR defaults to $CS_DATA).
 * Each history is parsed once, then checked RUNS times (default 7); the
 * median check time is printed per history, with totals for the 102 etcd
 * histories. Parsing is timed separately and reported on its own line.
 *
 * Usage: bench_check --compare BUDGET_MS RUNS FILE...
 * Each file is checked twice over: as cs_check_linearizable does it (the
 * zones test where written values are unique) and by the search alone
 * (CS_CHECK_SEARCH_ONLY), each with a wall-clock budget of BUDGET_MS per
 * check. Medians of RUNS runs; a search run that takes over a second is not
 * repeated (its single time is printed). Where zones say invalid, the
 * verdict is certified by the search alone on the sub-history of the
 * clusters the explanation names (their writes and every read of their
 * values): a linearization of the whole would restrict to one of that part,
 * so "invalid" there proves "invalid" for the whole, even when the search on
 * the whole runs out of budget.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check/internal.h"
#include "consist/check.h"

#define BENCH_FILE_BYTES_MAX (8u << 20)
#define BENCH_RUNS_MAX       64

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *data = malloc(BENCH_FILE_BYTES_MAX);
    *len = data ? fread(data, 1, BENCH_FILE_BYTES_MAX, f) : 0;
    fclose(f);
    return data;
}

/* bench_one: median check time of one file in ms; -1 on error. */
static double bench_one(const char *path, bool split, int runs, double *parse_ms,
                        enum cs_verdict *verdict)
{
    size_t len;
    char *text = read_all(path, &len);
    if (text == NULL) return -1;
    struct cs_history h;
    cs_history_init(&h, 0);
    struct cs_parse_error err;
    double t0 = now_ms();
    int rc = cs_history_parse(&h, CS_FORMAT_AUTO, text, len, &err);
    *parse_ms = now_ms() - t0;
    free(text);
    if (rc) {
        fprintf(stderr, "%s:%u: %s\n", path, err.line, err.message);
        cs_history_free(&h);
        return -1;
    }
    struct cs_model_spec spec = cs_model_default(&h);
    spec.split_by_key = split;
    double times[BENCH_RUNS_MAX];
    for (int r = 0; r < runs; r++) {
        struct cs_check_result result;
        double s = now_ms();
        rc = cs_check_linearizable(&h, &spec, NULL, &result);
        times[r] = now_ms() - s;
        *verdict = result.verdict;
        cs_check_result_free(&result);
        if (rc) break;
    }
    cs_history_free(&h);
    if (rc) return -1;
    qsort(times, (size_t)runs, sizeof times[0], cmp_double);
    return times[runs / 2];
}

static uint64_t clock_ms(void *ctx)
{
    (void)ctx;
    return (uint64_t)now_ms();
}

/* compare_one: median time of one way of checking h; -1 on error. */
static double compare_one(const struct cs_history *h, unsigned flags, uint64_t budget_ms, int runs,
                          struct cs_check_result *last)
{
    struct cs_model_spec spec = cs_model_default(h);
    double times[BENCH_RUNS_MAX];
    int done = 0;
    for (int r = 0; r < runs; r++) {
        struct cs_check_budget budget = {0, 0, 0, clock_ms, NULL};
        budget.deadline_ms = clock_ms(NULL) + budget_ms;
        if (r > 0) cs_check_result_free(last);
        double s = now_ms();
        int rc = cs_check_linearizable_flags(h, &spec, &budget, flags, last);
        times[done++] = now_ms() - s;
        if (rc) return -1;
        if (times[r] > 1000) break;
    }
    qsort(times, (size_t)done, sizeof times[0], cmp_double);
    return times[done / 2];
}

static bool value_in(struct cs_value v, const struct cs_value *set, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        if (set[i].kind == v.kind && set[i].x == v.x) return true;
    }
    return false;
}

/* certify: the search's verdict on the clusters r names (ints and nil only). */
static enum cs_verdict certify(const struct cs_history *h, const struct cs_check_result *r,
                               uint32_t *ops_out)
{
    struct cs_value values[16];
    uint32_t nv = 0;
    for (uint32_t i = 0; i < r->stuck_len && nv < 16; i++) {
        const struct cs_op *op = &h->ops[r->stuck[i]];
        values[nv++] = op->f == CS_F_WRITE ? op->value : op->result;
    }
    struct cs_history sub;
    cs_history_init(&sub, 0);
    bool *in = calloc(h->ops_len ? h->ops_len : 1, sizeof *in);
    if (in == NULL) return CS_VERDICT_UNKNOWN;
    *ops_out = 0;
    for (uint32_t i = 0; i < h->ops_len; i++) {
        const struct cs_op *op = &h->ops[i];
        if (op->key != r->key || op->type == CS_TYPE_FAIL) continue;
        in[i] = op->f == CS_F_WRITE ? value_in(op->value, values, nv)
                                    : op->type == CS_TYPE_OK && value_in(op->result, values, nv);
        *ops_out += in[i];
    }
    int rc = 0;
    for (uint32_t e = 0; e < h->events_len && rc == 0; e++) {
        uint32_t index = h->events[e] >> 1;
        const struct cs_op *op = &h->ops[index];
        if (!in[index]) continue;
        if ((h->events[e] & 1u) == 0)
            rc = cs_history_invoke(&sub, op->process, (enum cs_op_f)op->f, CS_KEY_NONE, op->value,
                                   op->invoke_time);
        else
            rc = cs_history_complete(&sub, op->process, (enum cs_op_type)op->type,
                                     (enum cs_op_f)op->f, op->result, op->complete_time);
    }
    free(in);
    enum cs_verdict v = CS_VERDICT_UNKNOWN;
    struct cs_model_spec spec = cs_model_default(h);
    struct cs_check_result sr;
    if (rc == 0 && cs_check_linearizable_flags(&sub, &spec, NULL, CS_CHECK_SEARCH_ONLY, &sr) == 0)
        v = sr.verdict;
    cs_check_result_free(&sr);
    cs_history_free(&sub);
    return v;
}

static int compare(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: bench_check --compare BUDGET_MS RUNS FILE...\n");
        return 2;
    }
    uint64_t budget_ms = strtoull(argv[2], NULL, 10);
    int runs = atoi(argv[3]);
    if (runs < 1 || runs > BENCH_RUNS_MAX) return 2;
    printf("%-34s %6s %6s %12s %-8s %12s %-8s %10s\n", "history", "ops", "info", "zones_ms",
           "verdict", "search_ms", "verdict", "steps");
    for (int i = 4; i < argc; i++) {
        size_t len;
        char *text = read_all(argv[i], &len);
        if (text == NULL) return 1;
        struct cs_history h;
        cs_history_init(&h, 0);
        struct cs_parse_error err;
        int rc = cs_history_parse(&h, CS_FORMAT_AUTO, text, len, &err);
        free(text);
        if (rc) {
            fprintf(stderr, "%s:%u: %s\n", argv[i], err.line, err.message);
            return 1;
        }
        uint32_t info = 0;
        for (uint32_t k = 0; k < h.ops_len; k++)
            info += h.ops[k].type == CS_TYPE_INFO || h.ops[k].type == CS_TYPE_INVOKE;
        struct cs_check_result zr, sr;
        double zones_ms = compare_one(&h, 0, budget_ms, runs, &zr);
        double search_ms = compare_one(&h, CS_CHECK_SEARCH_ONLY, budget_ms, runs, &sr);
        if (zones_ms < 0 || search_ms < 0) return 1;
        const char *name = strrchr(argv[i], '/');
        printf("%-34s %6u %6u %12.3f %-8s %12.3f %-8s %10llu%s\n", name ? name + 1 : argv[i],
               h.ops_len, info, zones_ms, cs_verdict_name(zr.verdict), search_ms,
               cs_verdict_name(sr.verdict), (unsigned long long)sr.steps,
               zr.partitions_zones == zr.partitions ? "" : "  (zones did not apply)");
        /* A verdict of both must agree; unknown is no verdict. */
        if (zr.verdict != sr.verdict && sr.verdict != CS_VERDICT_UNKNOWN) {
            fprintf(stderr, "%s: zones and search disagree\n", argv[i]);
            return 1;
        }
        if (zr.verdict == CS_VERDICT_INVALID && zr.procedure == CS_PROCEDURE_ZONES) {
            uint32_t sub_ops = 0;
            enum cs_verdict cv = certify(&h, &zr, &sub_ops);
            printf("    certificate: the search alone on the %u ops of the clusters named: %s\n",
                   sub_ops, cs_verdict_name(cv));
            if (cv != CS_VERDICT_INVALID) return 1;
        }
        cs_check_result_free(&zr);
        cs_check_result_free(&sr);
        cs_history_free(&h);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--compare") == 0) return compare(argc, argv);
    const char *data = argc > 1 ? argv[1] : getenv("CS_DATA");
    int runs = argc > 2 ? atoi(argv[2]) : 7;
    if (data == NULL || runs < 1 || runs > BENCH_RUNS_MAX) {
        fprintf(stderr, "usage: bench_check DATA_DIR [RUNS 1..%d]\n", BENCH_RUNS_MAX);
        return 2;
    }
    char path[1024];
    double etcd_total = 0, parse_total = 0, slowest = 0;
    int slowest_index = -1;
    printf("%-28s %12s %10s\n", "history", "check_ms", "verdict");
    for (int i = 0; i <= 102; i++) {
        if (i == 95) continue; /* empty file, no upstream test */
        snprintf(path, sizeof path, "%s/histories/porcupine/jepsen/etcd_%03d.log", data, i);
        double parse_ms;
        enum cs_verdict v = CS_VERDICT_UNKNOWN;
        double ms = bench_one(path, true, runs, &parse_ms, &v);
        if (ms < 0) return 1;
        etcd_total += ms;
        parse_total += parse_ms;
        if (ms > slowest) {
            slowest = ms;
            slowest_index = i;
        }
        printf("etcd_%03d %32.3f %10s\n", i, ms, cs_verdict_name(v));
    }
    printf("etcd total (102 histories) %14.3f ms; slowest etcd_%03d %.3f ms; parse total %.3f ms\n",
           etcd_total, slowest_index, slowest, parse_total);
    static const char *const kv[] = {"c01-ok", "c01-bad", "c10-ok", "c10-bad", "c50-ok", "c50-bad"};
    for (int split = 1; split >= 0; split--) {
        for (int i = 0; i < 6; i++) {
            if (!split && i >= 4) break; /* Porcupine runs no-partition on c01/c10 only */
            snprintf(path, sizeof path, "%s/histories/porcupine/kv/%s.txt", data, kv[i]);
            double parse_ms;
            enum cs_verdict v = CS_VERDICT_UNKNOWN;
            double ms = bench_one(path, split, runs, &parse_ms, &v);
            if (ms < 0) return 1;
            printf("kv %-8s %-14s %12.3f %10s  (parse %.3f ms)\n", kv[i],
                   split ? "partitioned" : "no-partition", ms, cs_verdict_name(v), parse_ms);
        }
    }
    return 0;
}
