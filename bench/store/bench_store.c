/*
 * bench_store.c: what one durable Raft log append costs on each log store
 * backend, to decide where the log lives (docs/storage.md).
 *
 * For each backend (LMDB, WAL) and batch size (1, 16, 128 entries of 256 B
 * per sync): append the batch to one group and sync, many times, in a fresh
 * temporary directory under /tmp; report the median over several runs of
 * microseconds per sync and entries per second. A second table spreads each
 * batch over 8 groups (the group commit the server does every loop turn).
 * raw-file rows are the floor: the same bytes appended to a plain file with
 * one fdatasync each.
 *
 *   bench_store [--syncs N] [--runs R]
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "consist/store.h"

#define ENTRY_BYTES 256
#define BATCH_MAX   128
#define RUNS_MAX    32

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_store: %s: %s\n", what, cs_strerror(rc));
    exit(1);
}

/* One run: seconds for syncs batches of batch entries over groups groups. */
static double run_once(enum cs_store_log_backend backend, int batch, int groups, int syncs)
{
    char dir[64], sub[96];
    snprintf(dir, sizeof dir, "/tmp/cs_bench_store_XXXXXX");
    if (mkdtemp(dir) == NULL) die("mkdtemp", CS_EIO);
    snprintf(sub, sizeof sub, "%s/node", dir);
    struct cs_store *store = NULL;
    struct cs_store_log_options o = {.backend = backend};
    if (backend == CS_STORE_LOG_BACKEND_LMDB) {
        struct cs_store_options so = {.dir = sub, .map_bytes = 256u << 20};
        int rc = cs_store_open(&so, &store);
        if (rc != 0) die("cs_store_open", rc);
        o.store = store;
    } else {
        o.dir = sub;
    }
    struct cs_store_log *log;
    int rc = cs_store_log_open(&o, &log);
    if (rc != 0) die("cs_store_log_open", rc);
    static uint8_t data[ENTRY_BYTES];
    memset(data, 0x5a, sizeof data);
    struct cs_raft_entry es[BATCH_MAX];
    uint64_t next[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    double start = now_s();
    for (int s = 0; s < syncs; s++) {
        int per = batch / groups;
        for (int g = 0; g < groups; g++) {
            int n = g + 1 == groups ? batch - per * (groups - 1) : per;
            if (n == 0) continue;
            for (int i = 0; i < n; i++)
                es[i] = (struct cs_raft_entry){1, next[g] + (uint64_t)i, 0, ENTRY_BYTES, data};
            rc = cs_store_log_append(log, (uint64_t)g + 1, es, (size_t)n);
            if (rc != 0) die("append", rc);
            next[g] += (uint64_t)n;
        }
        rc = cs_store_log_sync(log);
        if (rc != 0) die("sync", rc);
    }
    double elapsed = now_s() - start;
    cs_store_log_close(log);
    cs_store_close(store);
    nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return elapsed;
}

/* The floor: the same bytes appended to a plain file, one fdatasync per batch. */
static double run_raw(int batch, int syncs)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/cs_bench_raw_XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) die("mkstemp", CS_EIO);
    static uint8_t buf[BATCH_MAX * (ENTRY_BYTES + 38)];
    size_t len = (size_t)batch * (ENTRY_BYTES + 38); /* a WAL record's size */
    double start = now_s();
    for (int s = 0; s < syncs; s++) {
        if (write(fd, buf, len) != (ssize_t)len || fdatasync(fd) != 0) die("raw write", CS_EIO);
    }
    double elapsed = now_s() - start;
    close(fd);
    unlink(path);
    return elapsed;
}

/*
 * Runs are interleaved (every configuration once, then again) so that a
 * disk whose latency drifts over minutes affects every row alike.
 */
static void table(int groups, int syncs, int runs)
{
    static const int batches[] = {1, 16, 128};
    enum { ROWS = 9 };
    static double t[ROWS][RUNS_MAX];
    for (int r = 0; r < runs; r++) {
        for (int k = 0; k < 3; k++) {
            t[k][r] = run_once(CS_STORE_LOG_BACKEND_LMDB, batches[k], groups, syncs);
            t[3 + k][r] = run_once(CS_STORE_LOG_BACKEND_WAL, batches[k], groups, syncs);
            t[6 + k][r] = run_raw(batches[k], syncs);
        }
    }
    printf("\n%d group(s), %d syncs per run, median of %d interleaved runs, %d B entries\n", groups,
           syncs, runs, ENTRY_BYTES);
    printf("%-10s %6s %12s %12s %12s %14s\n", "store", "batch", "us/sync", "min us", "max us",
           "entries/s");
    static const char *const names[] = {"lmdb", "wal", "raw-file"};
    for (int row = 0; row < ROWS; row++) {
        if (row >= 6 && groups > 1) continue; /* the floor does not depend on groups */
        qsort(t[row], (size_t)runs, sizeof t[row][0], cmp_double);
        double med = t[row][runs / 2];
        int batch = batches[row % 3];
        printf("%-10s %6d %12.1f %12.1f %12.1f %14.0f\n", names[row / 3], batch, med / syncs * 1e6,
               t[row][0] / syncs * 1e6, t[row][runs - 1] / syncs * 1e6,
               (double)syncs * batch / med);
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    int syncs = 300, runs = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--syncs") == 0)
            syncs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0)
            runs = atoi(argv[i + 1]);
    }
    if (syncs < 1 || runs < 1 || runs > RUNS_MAX) {
        fprintf(stderr, "usage: bench_store [--syncs N>0] [--runs 1..%d]\n", RUNS_MAX);
        return 2;
    }
    table(1, syncs, runs);
    table(8, syncs, runs);
    return 0;
}
