/*
 * bench_check.c: how long the linearizability checker takes on Porcupine's
 * histories, beside Porcupine's own figures on this machine class.
 *
 * Usage: bench_check [DATA_DIR] [RUNS]  (DATA_DIR defaults to $CS_DATA).
 * Each history is parsed once, then checked RUNS times (default 7); the
 * median check time is printed per history, with totals for the 102 etcd
 * histories. Parsing is timed separately and reported on its own line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv)
{
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
