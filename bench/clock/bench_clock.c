/*
 * bench_clock.c: the cost of vector clock operations by clock size.
 *
 * For 3, 16 and 128 entries: nanoseconds per compare (two ordered clocks
 * that agree on every member but the last, so compare must walk both arrays
 * to the end: its worst case), per merge (steady state: the destination
 * already holds every member, so the cost is the walk, not allocation), per
 * copy + merge where half of the members are new to the destination (the
 * general path), per encode and per decode, and the encoded size with small node ids and
 * counters (ids 1..n, counters < 128) and with random 64-bit ids and large
 * counters. Each figure is the median of RUNS timed runs. Physical time is
 * read here, in the benchmark, never in src/clock.
 *
 * Usage: bench_clock [runs]   (prints a markdown table)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "consist/clock.h"
#include "consist/rng.h"

enum { RUNS_DEFAULT = 7, RUNS_MAX = 31, OPS_PER_RUN = 4000000 };

static volatile uint64_t sink;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return v[n / 2];
}

/* make_clock: n entries; small ids 1..n and counters < 128, or random ids and counters. */
static void make_clock(struct cs_vclock *vc, size_t n, bool small, struct cs_rng *rng)
{
    cs_vclock_free(vc);
    uint64_t id = 0;
    for (size_t i = 0; i < n; i++) {
        id = small ? i + 1 : id + 1 + (cs_rng_u64(rng) >> 8);
        if (cs_vclock_tick(vc, id) != 0) abort();
        vc->entries[vc->entries_len - 1].counter =
            small ? 2 + cs_rng_below(rng, 126) : 2 + (cs_rng_u64(rng) >> 1);
    }
}

enum op { OP_COMPARE, OP_MERGE, OP_MERGE_NEW, OP_ENCODE, OP_DECODE, OP_COUNT };

/*
 * time_op: ns per op. OP_MERGE_NEW starts each iteration from a copy of half
 * (every other member of b), so half of b's members are new to it and the
 * general merge path runs; the copy is part of its cost.
 */
static double time_op(enum op op, struct cs_vclock *a, struct cs_vclock *b,
                      const struct cs_vclock *half, size_t iterations)
{
    struct cs_buf buf;
    cs_buf_init(&buf, CS_VCLOCK_ENCODED_BYTES_MAX);
    if (cs_vclock_encode(b, &buf) != 0) abort();
    size_t encoded_len = buf.len;
    uint64_t acc = 0, start = now_ns();
    for (size_t i = 0; i < iterations; i++) {
        switch (op) {
        case OP_COMPARE:
            acc += cs_vclock_compare(a, b);
            break;
        case OP_MERGE:
            acc += (uint64_t)cs_vclock_merge(a, b);
            break;
        case OP_MERGE_NEW:
            acc += (uint64_t)cs_vclock_copy(a, half);
            acc += (uint64_t)cs_vclock_merge(a, b);
            break;
        case OP_ENCODE:
            cs_buf_reset(&buf);
            acc += (uint64_t)cs_vclock_encode(b, &buf);
            break;
        case OP_DECODE:
            acc += (uint64_t)cs_vclock_decode(a, buf.data, encoded_len);
            break;
        case OP_COUNT:
            abort();
        }
    }
    uint64_t elapsed = now_ns() - start;
    sink += acc;
    cs_buf_free(&buf);
    return (double)elapsed / (double)iterations;
}

static size_t encoded_bytes(const struct cs_vclock *vc)
{
    struct cs_buf buf;
    cs_buf_init(&buf, CS_VCLOCK_ENCODED_BYTES_MAX);
    if (cs_vclock_encode(vc, &buf) != 0) abort();
    size_t len = buf.len;
    cs_buf_free(&buf);
    return len;
}

static void bench_size(size_t n, int runs, struct cs_rng *rng)
{
    struct cs_vclock a, b, half, big;
    cs_vclock_init(&a);
    cs_vclock_init(&b);
    cs_vclock_init(&half);
    cs_vclock_init(&big);
    make_clock(&b, n, true, rng);
    make_clock(&big, n, false, rng);
    for (uint32_t i = 0; i < b.entries_len; i += 2) {
        if (cs_vclock_tick(&half, b.entries[i].node_id) != 0) abort();
    }
    size_t iterations = OPS_PER_RUN / n;
    double ns[OP_COUNT][RUNS_MAX];
    for (int r = 0; r < runs; r++) {
        for (int op = 0; op < OP_COUNT; op++) {
            /* a: b with its last counter one lower, so a happens-before b. */
            if (cs_vclock_copy(&a, &b) != 0) abort();
            a.entries[a.entries_len - 1].counter = b.entries[b.entries_len - 1].counter - 1;
            if (op == OP_COMPARE && cs_vclock_compare(&a, &b) != CS_VC_BEFORE) abort();
            size_t count = op == OP_COMPARE ? iterations * 4 : iterations;
            ns[op][r] = time_op((enum op)op, &a, &b, &half, count);
        }
    }
    printf("| %3zu | %8.1f | %8.1f | %8.1f | %8.1f | %8.1f | %5zu | %5zu |\n", n,
           median(ns[OP_COMPARE], runs), median(ns[OP_MERGE], runs), median(ns[OP_MERGE_NEW], runs),
           median(ns[OP_ENCODE], runs), median(ns[OP_DECODE], runs), encoded_bytes(&b),
           encoded_bytes(&big));
    cs_vclock_free(&a);
    cs_vclock_free(&b);
    cs_vclock_free(&half);
    cs_vclock_free(&big);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : RUNS_DEFAULT;
    if (runs < 1 || runs > RUNS_MAX) {
        fprintf(stderr, "usage: bench_clock [runs 1..%d]\n", RUNS_MAX);
        return 2;
    }
    struct cs_rng rng;
    cs_rng_init(&rng, 1);
    printf("vector clock, median of %d runs (ns per operation; bytes per encoding)\n\n", runs);
    printf("| entries | compare ns | merge ns (same members) | copy + merge ns (half new) | "
           "encode ns | decode ns | bytes (small ids) | bytes (random 64-bit ids) |\n");
    printf("|---|---|---|---|---|---|---|---|\n");
    static const size_t sizes[] = {3, 16, 128};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        bench_size(sizes[i], runs, &rng);
    return 0;
}
