/*
 * bench_crdt.c: merge cost, encoded size, delta size and memory of the CRDTs.
 *
 * Sets (G-Set, LWW-Element-Set, OR-Set), maps and the ranked map are
 * measured at N = 10^3, 10^4, 10^5 elements written round-robin by R = 3,
 * 16, 64 nodes (a G-Set has no node ids: R does not apply). State A holds the N
 * elements; state B is A after 1% of the elements were removed (or, for the
 * grow-only types, changed) and 1% new ones added, all at node 1: the
 * typical anti-entropy case. "merge" is the time to join B into a copy of A
 * (the copy is not timed); "add-delta merge" joins one add's delta into A,
 * "remove-delta merge" one remove's delta (O(n): see docs/crdt.md). For
 * counters, registers and the bounded counter, N does not apply: R nodes
 * each write once. Memory per OR-Set element is the heap the set holds
 * (requested bytes, and the allocator's real usage from mallinfo2: arena
 * bytes in use plus mmapped blocks) divided by N, against the raw member
 * bytes plus one 16-byte dot. Run it with
 * GLIBC_TUNABLES=glibc.malloc.tcache_count=0: glibc counts chunks parked in
 * its thread cache (the table arrays a growing set freed) as in use.
 *
 * Every time is the median of RUNS runs. Physical time is read here, never
 * in src/crdt. Usage: bench_crdt [runs] [max_n] [memory]  (prints markdown;
 * "memory" prints only the OR-Set memory section)
 */
#include <inttypes.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consist/crdt.h"

enum { RUNS_DEFAULT = 5, RUNS_MAX = 15, MEMBER_FMT_BYTES = 15 };

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

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "bench_crdt: %s: %s\n", what, cs_strerror(rc));
        exit(1);
    }
}

/* member-00000042: 15 bytes, like a short user or product id. */
static size_t member(char *buf, size_t i)
{
    return (size_t)snprintf(buf, 32, "member-%08zu", i);
}

static size_t encoded_bytes(int (*encode)(const void *, struct cs_buf *), const void *s)
{
    struct cs_buf b;
    cs_buf_init(&b, 1u << 30);
    check(encode(s, &b), "encode");
    size_t n = b.len;
    cs_buf_free(&b);
    return n;
}

/* Generic views of the three element-holding types under test. */
struct kind {
    const char *name;
    void *(*make)(size_t n, size_t replicas, bool variant);
    void *(*clone)(const void *s);
    void (*merge)(void *dst, const void *src);
    void *(*one_delta)(void *s);
    void *(*remove_delta)(void *s); /* NULL: the type has no remove */
    int (*encode)(const void *s, struct cs_buf *out);
    void (*destroy)(void *s);
};

/* ---- OR-Set ---- */

static void *orset_make(size_t n, size_t replicas, bool variant)
{
    struct cs_orset *s = malloc(sizeof *s);
    cs_orset_init(s);
    char m[32];
    for (size_t i = 0; i < n; i++) {
        check(cs_orset_add(s, 1 + i % replicas, m, member(m, i), NULL), "orset add");
    }
    for (size_t i = 0; variant && i < n / 100; i++) {
        check(cs_orset_remove(s, m, member(m, i * 97 % n), NULL), "orset remove");
        check(cs_orset_add(s, 1, m, member(m, n + i), NULL), "orset add");
    }
    return s;
}

static void *orset_clone(const void *src)
{
    struct cs_orset *s = malloc(sizeof *s);
    cs_orset_init(s);
    check(cs_orset_copy(s, src), "orset copy");
    return s;
}

static void orset_merge(void *d, const void *s)
{
    check(cs_orset_merge(d, s), "orset merge");
}

static void *orset_one_delta(void *s)
{
    struct cs_orset *d = malloc(sizeof *d);
    cs_orset_init(d);
    check(cs_orset_add(s, 2, "fresh-member-xy", 15, d), "orset delta");
    return d;
}

static void *orset_remove_delta(void *s)
{
    struct cs_orset *d = malloc(sizeof *d);
    cs_orset_init(d);
    char m[32];
    check(cs_orset_remove(s, m, member(m, 7), d), "orset remove delta");
    return d;
}

static int orset_encode(const void *s, struct cs_buf *out)
{
    return cs_orset_encode(s, out);
}

static void orset_destroy(void *s)
{
    cs_orset_free(s);
    free(s);
}

/* ---- G-Set ---- */

static void *gset_make(size_t n, size_t replicas, bool variant)
{
    (void)replicas; /* no node ids in a G-Set */
    struct cs_gset *s = malloc(sizeof *s);
    cs_gset_init(s);
    char m[32];
    for (size_t i = 0; i < n + (variant ? n / 100 : 0); i++) {
        check(cs_gset_add(s, m, member(m, i), NULL), "gset add");
    }
    return s;
}

static void *gset_clone(const void *src)
{
    struct cs_gset *s = malloc(sizeof *s);
    cs_gset_init(s);
    check(cs_gset_copy(s, src), "gset copy");
    return s;
}

static void gset_merge(void *d, const void *s)
{
    check(cs_gset_merge(d, s), "gset merge");
}

static void *gset_one_delta(void *s)
{
    struct cs_gset *d = malloc(sizeof *d);
    cs_gset_init(d);
    check(cs_gset_add(s, "fresh-member-xy", 15, d), "gset delta");
    return d;
}

static int gset_encode(const void *s, struct cs_buf *out)
{
    return cs_gset_encode(s, out);
}

static void gset_destroy(void *s)
{
    cs_gset_free(s);
    free(s);
}

/* ---- LWW-Element-Set ---- */

static void *lwwset_make(size_t n, size_t replicas, bool variant)
{
    struct cs_lwwset *s = malloc(sizeof *s);
    cs_lwwset_init(s);
    char m[32];
    for (size_t i = 0; i < n; i++) {
        struct cs_crdt_stamp st = {1000 + i, 1 + i % replicas};
        check(cs_lwwset_add(s, m, member(m, i), st, NULL), "lwwset add");
    }
    for (size_t i = 0; variant && i < n / 100; i++) {
        struct cs_crdt_stamp st = {1000 + n + i, 1};
        check(cs_lwwset_remove(s, m, member(m, i * 97 % n), st, NULL), "lwwset remove");
        check(cs_lwwset_add(s, m, member(m, n + i), st, NULL), "lwwset add");
    }
    return s;
}

static void *lwwset_clone(const void *src)
{
    struct cs_lwwset *s = malloc(sizeof *s);
    cs_lwwset_init(s);
    check(cs_lwwset_copy(s, src), "lwwset copy");
    return s;
}

static void lwwset_merge(void *d, const void *s)
{
    check(cs_lwwset_merge(d, s), "lwwset merge");
}

static void *lwwset_one_delta(void *s)
{
    struct cs_lwwset *d = malloc(sizeof *d);
    cs_lwwset_init(d);
    struct cs_crdt_stamp st = {UINT64_C(1) << 40, 2};
    check(cs_lwwset_add(s, "fresh-member-xy", 15, st, d), "lwwset delta");
    return d;
}

static void *lwwset_remove_delta(void *s)
{
    struct cs_lwwset *d = malloc(sizeof *d);
    cs_lwwset_init(d);
    struct cs_crdt_stamp st = {UINT64_C(1) << 41, 2};
    char m[32];
    check(cs_lwwset_remove(s, m, member(m, 7), st, d), "lwwset remove delta");
    return d;
}

static int lwwset_encode(const void *s, struct cs_buf *out)
{
    return cs_lwwset_encode(s, out);
}

static void lwwset_destroy(void *s)
{
    cs_lwwset_free(s);
    free(s);
}

/* ---- OR-Map of counters ---- */

static void *ormap_make(size_t n, size_t replicas, bool variant)
{
    struct cs_ormap *m = malloc(sizeof *m);
    cs_ormap_init(m);
    char k[32];
    struct cs_ormap_key path = {k, 0, CS_ORMAP_COUNTER};
    for (size_t i = 0; i < n; i++) {
        path.key_len = member(k, i);
        check(cs_ormap_counter_add(m, 1 + i % replicas, &path, 1, 1, NULL), "ormap add");
    }
    for (size_t i = 0; variant && i < n / 100; i++) {
        path.key_len = member(k, i * 97 % n);
        check(cs_ormap_remove(m, &path, 1, NULL), "ormap remove");
        path.key_len = member(k, n + i);
        check(cs_ormap_counter_add(m, 1, &path, 1, 1, NULL), "ormap add");
    }
    return m;
}

static void *ormap_clone(const void *src)
{
    struct cs_ormap *m = malloc(sizeof *m);
    cs_ormap_init(m);
    check(cs_ormap_copy(m, src), "ormap copy");
    return m;
}

static void ormap_merge(void *d, const void *s)
{
    check(cs_ormap_merge(d, s), "ormap merge");
}

static void *ormap_one_delta(void *s)
{
    struct cs_ormap *d = malloc(sizeof *d);
    cs_ormap_init(d);
    struct cs_ormap_key path = {"fresh-member-xy", 15, CS_ORMAP_COUNTER};
    check(cs_ormap_counter_add(s, 2, &path, 1, 1, d), "ormap delta");
    return d;
}

static void *ormap_remove_delta(void *s)
{
    struct cs_ormap *d = malloc(sizeof *d);
    cs_ormap_init(d);
    char k[32];
    struct cs_ormap_key path = {k, member(k, 7), CS_ORMAP_COUNTER};
    check(cs_ormap_remove(s, &path, 1, d), "ormap remove delta");
    return d;
}

static int ormap_encode(const void *s, struct cs_buf *out)
{
    return cs_ormap_encode(s, out);
}

static void ormap_destroy(void *s)
{
    cs_ormap_free(s);
    free(s);
}

/* ---- ranked map ---- */

static void *rankmap_make(size_t n, size_t replicas, bool variant)
{
    struct cs_rankmap *m = malloc(sizeof *m);
    check(cs_rankmap_init(m), "rankmap init");
    char k[32];
    for (size_t i = 0; i < n; i++) {
        int64_t score = (int64_t)((i * 2654435761u) % 100000);
        check(cs_rankmap_incr(m, 1 + i % replicas, k, member(k, i), score + 1, NULL), "zincr");
    }
    for (size_t i = 0; variant && i < n / 100; i++) {
        check(cs_rankmap_incr(m, 1, k, member(k, i * 97 % n), 17, NULL), "zincr");
        check(cs_rankmap_incr(m, 1, k, member(k, n + i), 5, NULL), "zincr");
    }
    return m;
}

static void *rankmap_clone(const void *src)
{
    struct cs_rankmap *m = malloc(sizeof *m);
    check(cs_rankmap_init(m), "rankmap init");
    check(cs_rankmap_copy(m, src), "rankmap copy");
    return m;
}

static void rankmap_merge(void *d, const void *s)
{
    check(cs_rankmap_merge(d, s), "rankmap merge");
}

static void *rankmap_one_delta(void *s)
{
    struct cs_rankmap *d = malloc(sizeof *d);
    check(cs_rankmap_init(d), "rankmap init");
    check(cs_rankmap_incr(s, 2, "fresh-member-xy", 15, 3, d), "rankmap delta");
    return d;
}

static int rankmap_encode(const void *s, struct cs_buf *out)
{
    return cs_rankmap_encode(s, out);
}

static void rankmap_destroy(void *s)
{
    cs_rankmap_free(s);
    free(s);
}

static const struct kind kinds[] = {
    {"G-Set", gset_make, gset_clone, gset_merge, gset_one_delta, NULL, gset_encode, gset_destroy},
    {"LWW-Element-Set", lwwset_make, lwwset_clone, lwwset_merge, lwwset_one_delta,
     lwwset_remove_delta, lwwset_encode, lwwset_destroy},
    {"OR-Set", orset_make, orset_clone, orset_merge, orset_one_delta, orset_remove_delta,
     orset_encode, orset_destroy},
    {"OR-Map (counters)", ormap_make, ormap_clone, ormap_merge, ormap_one_delta, ormap_remove_delta,
     ormap_encode, ormap_destroy},
    {"ranked map", rankmap_make, rankmap_clone, rankmap_merge, rankmap_one_delta, NULL,
     rankmap_encode, rankmap_destroy},
};

static void bench_kind(const struct kind *k, size_t n, size_t replicas, int runs)
{
    void *a = k->make(n, replicas, false);
    void *b = k->make(n, replicas, true);
    double merge_ms[RUNS_MAX], delta_us[RUNS_MAX], remove_us[RUNS_MAX];
    size_t delta_bytes = 0;
    for (int r = 0; r < runs; r++) {
        void *dst = k->clone(a);
        uint64_t t0 = now_ns();
        k->merge(dst, b);
        merge_ms[r] = (double)(now_ns() - t0) / 1e6;
        void *src = k->clone(a);
        void *delta = k->one_delta(src);
        delta_bytes = encoded_bytes(k->encode, delta);
        t0 = now_ns();
        k->merge(dst, delta);
        delta_us[r] = (double)(now_ns() - t0) / 1e3;
        k->destroy(delta);
        remove_us[r] = 0;
        if (k->remove_delta) {
            delta = k->remove_delta(src);
            t0 = now_ns();
            k->merge(dst, delta);
            remove_us[r] = (double)(now_ns() - t0) / 1e3;
            k->destroy(delta);
        }
        k->destroy(src);
        k->destroy(dst);
    }
    char removal[32] = "-";
    if (k->remove_delta) snprintf(removal, sizeof removal, "%.1f", median(remove_us, runs));
    printf("| %s | %zu | %zu | %.3f | %.1f | %s | %zu | %zu |\n", k->name, n, replicas,
           median(merge_ms, runs), median(delta_us, runs), removal, encoded_bytes(k->encode, a),
           delta_bytes);
    k->destroy(a);
    k->destroy(b);
}

/* Bytes per OR-Set element of n members: requested (cs_orset_mem_bytes) and
 * real heap (mallinfo2), and the raw member bytes plus one dot. */
struct orset_memory {
    double raw, requested, heap;
};

static struct orset_memory orset_memory(size_t n)
{
    struct mallinfo2 before = mallinfo2();
    struct cs_orset *s = orset_make(n, 3, false);
    struct mallinfo2 after = mallinfo2();
    struct orset_memory m = {
        .raw = MEMBER_FMT_BYTES + (double)sizeof(struct cs_dot),
        .requested = (double)cs_orset_mem_bytes(s) / (double)n,
        .heap =
            (double)(after.uordblks + after.hblkhd - before.uordblks - before.hblkhd) / (double)n,
    };
    orset_destroy(s);
    return m;
}

static void bench_orset_memory(size_t n)
{
    struct orset_memory m = orset_memory(n);
    printf("| %zu | %.0f | %.1f | %.1f | %.2fx | %.2fx |\n", n, m.raw, m.requested, m.heap,
           m.requested / m.raw, m.heap / m.raw);
}

/* The ratio moves with where N falls between two table growths, so sample N
 * from 10^3 to max_n in steps of 1% and report the worst real-heap ratio. */
static void bench_orset_memory_worst(size_t max_n)
{
    double worst = 0, best = 1e9;
    size_t worst_n = 0, best_n = 0, samples = 0;
    for (size_t n = 1000; n <= max_n; n += n / 100, samples++) {
        struct orset_memory m = orset_memory(n);
        if (m.heap / m.raw > worst) {
            worst = m.heap / m.raw;
            worst_n = n;
        }
        if (m.heap / m.raw < best) {
            best = m.heap / m.raw;
            best_n = n;
        }
    }
    printf("\nOver %zu values of N from 1000 to %zu (steps of 1%%): heap / raw from %.2fx (N = "
           "%zu) to %.2fx (N = %zu).\n",
           samples, max_n, best, best_n, worst, worst_n);
}

static void bench_small_types(size_t replicas, int runs)
{
    double t[RUNS_MAX];
    /* PN-Counter: one entry per node; merge of two full counters. */
    struct cs_pncounter pa, pb;
    cs_pncounter_init(&pa);
    cs_pncounter_init(&pb);
    for (size_t i = 0; i < replicas; i++) {
        check(cs_pncounter_increment(&pa, i + 1, 5, NULL), "pn");
        check(cs_pncounter_increment(&pb, i + 1, i % 2 ? -3 : 9, NULL), "pn");
    }
    struct cs_pncounter pd;
    cs_pncounter_init(&pd);
    check(cs_pncounter_increment(&pa, 1, 1, &pd), "pn");
    for (int r = 0; r < runs; r++) {
        struct cs_pncounter c;
        cs_pncounter_init(&c);
        check(cs_pncounter_copy(&c, &pa), "pn copy");
        uint64_t t0 = now_ns();
        for (int k = 0; k < 1000; k++)
            check(cs_pncounter_merge(&c, &pb), "pn merge");
        t[r] = (double)(now_ns() - t0) / 1e3; /* ns per merge */
        cs_pncounter_free(&c);
    }
    printf("| PN-Counter | %zu | %.0f ns | %zu | %zu |\n", replicas, median(t, runs),
           encoded_bytes((int (*)(const void *, struct cs_buf *))cs_pncounter_encode, &pa),
           encoded_bytes((int (*)(const void *, struct cs_buf *))cs_pncounter_encode, &pd));
    /* MV-Register: R concurrent writes kept as siblings. */
    struct cs_mvreg ma, mb, md;
    cs_mvreg_init(&ma);
    cs_mvreg_init(&mb);
    cs_mvreg_init(&md);
    for (size_t i = 0; i < replicas; i++) {
        struct cs_mvreg one;
        cs_mvreg_init(&one);
        check(cs_mvreg_write(&one, i + 1, "value-of-16-byte", 16, NULL), "mv");
        check(cs_mvreg_merge(i % 2 ? &ma : &mb, &one), "mv merge");
        cs_mvreg_free(&one);
    }
    check(cs_mvreg_write(&md, replicas + 1, "x", 1, NULL), "mv");
    struct cs_mvreg mdelta;
    cs_mvreg_init(&mdelta);
    check(cs_mvreg_write(&md, replicas + 1, "y", 1, &mdelta), "mv");
    for (int r = 0; r < runs; r++) {
        uint64_t total = 0;
        for (int k = 0; k < 1000; k++) {
            struct cs_mvreg c;
            cs_mvreg_init(&c);
            check(cs_mvreg_copy(&c, &ma), "mv copy");
            uint64_t t0 = now_ns();
            check(cs_mvreg_merge(&c, &mb), "mv merge");
            total += now_ns() - t0;
            cs_mvreg_free(&c);
        }
        t[r] = (double)total / 1000.0;
    }
    struct cs_mvreg joined;
    cs_mvreg_init(&joined);
    check(cs_mvreg_copy(&joined, &ma), "mv copy");
    check(cs_mvreg_merge(&joined, &mb), "mv merge");
    printf("| MV-Register (%zu siblings) | %zu | %.0f ns | %zu | %zu |\n", replicas, replicas,
           median(t, runs),
           encoded_bytes((int (*)(const void *, struct cs_buf *))cs_mvreg_encode, &joined),
           encoded_bytes((int (*)(const void *, struct cs_buf *))cs_mvreg_encode, &mdelta));
    /* Bounded counter: every node increments and passes rights to the next. */
    struct cs_bcounter ba, bb;
    cs_bcounter_init(&ba);
    cs_bcounter_init(&bb);
    for (size_t i = 0; i < replicas; i++) {
        check(cs_bcounter_increment(&ba, i + 1, 100, NULL), "bc");
        check(cs_bcounter_transfer(&ba, i + 1, (i + 1) % replicas + 1, 10, NULL), "bc");
    }
    check(cs_bcounter_copy(&bb, &ba), "bc copy");
    check(cs_bcounter_decrement(&bb, 1, 5, NULL), "bc");
    for (int r = 0; r < runs; r++) {
        struct cs_bcounter c;
        cs_bcounter_init(&c);
        check(cs_bcounter_copy(&c, &ba), "bc copy");
        uint64_t t0 = now_ns();
        for (int k = 0; k < 1000; k++)
            check(cs_bcounter_merge(&c, &bb), "bc merge");
        t[r] = (double)(now_ns() - t0) / 1e3;
        cs_bcounter_free(&c);
    }
    size_t bytes = encoded_bytes((int (*)(const void *, struct cs_buf *))cs_bcounter_encode, &ba);
    printf("| Bounded Counter | %zu | %.0f ns | %zu | %zu (a delta is the state) |\n", replicas,
           median(t, runs), bytes, bytes);
    cs_pncounter_free(&pa);
    cs_pncounter_free(&pb);
    cs_pncounter_free(&pd);
    cs_mvreg_free(&ma);
    cs_mvreg_free(&mb);
    cs_mvreg_free(&md);
    cs_mvreg_free(&mdelta);
    cs_mvreg_free(&joined);
    cs_bcounter_free(&ba);
    cs_bcounter_free(&bb);
}

static const size_t bench_ns[] = {1000, 10000, 100000};
static const size_t bench_replicas[] = {3, 16, 64};

static void bench_times(int runs, size_t max_n)
{
    printf("## Sets, maps, ranked map (median of %d runs)\n\n", runs);
    printf("| type | N | replicas | merge B into A (ms) | add-delta merge (us) | remove-delta "
           "merge (us) | A encoded (bytes) | one add delta (bytes) |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (size_t i = 0; i < 3 && bench_ns[i] <= max_n; i++) {
            for (size_t r = 0; r < 3; r++)
                bench_kind(&kinds[k], bench_ns[i], bench_replicas[r], runs);
        }
    }
    printf("\n## Counters and registers (median of %d runs)\n\n", runs);
    printf("| type | replicas | merge | state encoded (bytes) | one delta (bytes) |\n"
           "|---|---|---|---|---|\n");
    for (size_t r = 0; r < 3; r++)
        bench_small_types(bench_replicas[r], runs);
    printf("\n");
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : RUNS_DEFAULT;
    if (runs < 1 || runs > RUNS_MAX) runs = RUNS_DEFAULT;
    size_t max_n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 100000;
    bool memory_only = argc > 3 && strcmp(argv[3], "memory") == 0;
    if (!memory_only) bench_times(runs, max_n);
    printf("## OR-Set memory per element (15-byte members, 3 writers)\n\n");
    printf("| N | raw member + dot (bytes) | requested per element | heap per element "
           "(mallinfo2) | requested / raw | heap / raw |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < 3 && bench_ns[i] <= max_n; i++)
        bench_orset_memory(bench_ns[i]);
    bench_orset_memory_worst(max_n);
    return 0;
}
