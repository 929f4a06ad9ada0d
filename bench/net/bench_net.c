/*
 * bench_net.c: parse throughput of the wire codecs, without sockets.
 *
 * What a server's read loop does, minus the kernel: a pipelined stream of
 * requests is delivered in reads of a fixed size through reserve/commit (the
 * libuv alloc_cb/read_cb path), and after each read every complete request
 * is taken. Workloads: RESP SET with 256-byte values (redis-benchmark -t set
 * -d 256), RESP GET, HTTP PUT of 256 bytes, peer frames of 256 bytes. Each
 * is run `runs` times; the median and the spread are printed.
 *
 *   bench_net [--commands N] [--runs R] [--read-bytes B]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "consist/frame.h"
#include "consist/http.h"
#include "consist/resp.h"
#include "consist/rng.h"

#define RUNS_MAX 101

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A stream of n commands built by the RESP writer (as a client library sends them). */
static void build_resp(struct cs_buf *out, size_t n, bool set, struct cs_rng *rng)
{
    struct cs_resp_writer w;
    cs_resp_writer_init(&w, out, 2);
    uint8_t value[256];
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (uint8_t)('a' + i % 26);
    for (size_t i = 0; i < n; i++) {
        char key[32];
        int key_len =
            snprintf(key, sizeof key, "key:%012llu", (unsigned long long)cs_rng_below(rng, 100000));
        cs_resp_write_array(&w, set ? 3 : 2);
        cs_resp_write_bulk(&w, set ? "SET" : "GET", 3);
        cs_resp_write_bulk(&w, key, (size_t)key_len);
        if (set) cs_resp_write_bulk(&w, value, sizeof value);
    }
}

static void build_http(struct cs_buf *out, size_t n, struct cs_rng *rng)
{
    char body[256];
    memset(body, 'v', sizeof body);
    for (size_t i = 0; i < n; i++) {
        char head[256];
        int len = snprintf(head, sizeof head,
                           "PUT /v1/kv/key:%012llu?consistency=linearizable HTTP/1.1\r\n"
                           "Host: localhost:8001\r\nUser-Agent: wrk\r\n"
                           "Content-Type: application/octet-stream\r\nContent-Length: 256\r\n\r\n",
                           (unsigned long long)cs_rng_below(rng, 100000));
        cs_put_raw(out, head, (size_t)len);
        cs_put_raw(out, body, sizeof body);
    }
}

static void build_frames(struct cs_buf *out, size_t n, struct cs_rng *rng)
{
    uint8_t payload[256];
    memset(payload, 'p', sizeof payload);
    for (size_t i = 0; i < n; i++) {
        cs_frame_encode(out, CS_FRAME_RAFT, cs_rng_below(rng, 8), payload, sizeof payload,
                        CS_FRAME_PAYLOAD_BYTES_MAX_DEFAULT);
    }
}

enum workload { RESP, HTTP, FRAME };

/* One pass over the stream; returns items parsed (checked against n). */
static size_t parse_once(enum workload kind, const struct cs_buf *in, size_t read_bytes)
{
    struct cs_resp_parser *resp = NULL;
    struct cs_http_parser *http = NULL;
    struct cs_frame_decoder *frame = NULL;
    if (kind == RESP && cs_resp_parser_new(NULL, &resp)) abort();
    if (kind == HTTP && cs_http_parser_new(NULL, &http)) abort();
    if (kind == FRAME && cs_frame_decoder_new(CS_FRAME_PAYLOAD_BYTES_MAX_DEFAULT, &frame)) abort();
    size_t at = 0, items = 0, checksum = 0;
    while (at < in->len) {
        uint8_t *space;
        size_t space_len, want = in->len - at < read_bytes ? in->len - at : read_bytes;
        int rc = kind == RESP   ? cs_resp_parser_reserve(resp, want, &space, &space_len)
                 : kind == HTTP ? cs_http_parser_reserve(http, want, &space, &space_len)
                                : cs_frame_decoder_reserve(frame, want, &space, &space_len);
        if (rc) abort();
        memcpy(space, in->data + at, space_len); /* stands in for recv() */
        at += space_len;
        if (kind == RESP) {
            cs_resp_parser_commit(resp, space_len);
            struct cs_resp_command cmd;
            while (cs_resp_parser_next(resp, &cmd) == 0 && cmd.argc > 0) {
                checksum += cmd.argv[cmd.argc - 1].len;
                items++;
            }
        } else if (kind == HTTP) {
            cs_http_parser_commit(http, space_len);
            struct cs_http_request req;
            while (cs_http_parser_next(http, &req) == 0 && req.method_len > 0) {
                checksum += req.body_len;
                items++;
            }
        } else {
            cs_frame_decoder_commit(frame, space_len);
            struct cs_frame f;
            while (cs_frame_decoder_next(frame, &f) == 0 && f.type != 0) {
                checksum += f.payload_len;
                items++;
            }
        }
    }
    cs_resp_parser_free(resp);
    cs_http_parser_free(http);
    cs_frame_decoder_free(frame);
    if (checksum == 0) abort();
    return items;
}

static void run(const char *name, enum workload kind, const struct cs_buf *in, size_t n,
                size_t runs, size_t read_bytes)
{
    double secs[RUNS_MAX];
    for (size_t r = 0; r < runs; r++) {
        double t0 = now_s();
        size_t items = parse_once(kind, in, read_bytes);
        secs[r] = now_s() - t0;
        if (items != n) {
            fprintf(stderr, "%s: parsed %zu of %zu\n", name, items, n);
            exit(1);
        }
    }
    qsort(secs, runs, sizeof secs[0], cmp_double);
    double median = secs[runs / 2];
    printf("%-24s %8zu B/read  %10.2f M items/s  %8.0f MB/s  (median of %zu; min %.2f max %.2f "
           "M/s)\n",
           name, read_bytes, (double)n / median / 1e6, (double)in->len / median / 1e6, runs,
           (double)n / secs[runs - 1] / 1e6, (double)n / secs[0] / 1e6);
}

int main(int argc, char **argv)
{
    size_t n = 200000, runs = 11, read_bytes = 16 * 1024;
    for (int i = 1; i + 1 < argc; i += 2) {
        size_t v = (size_t)strtoull(argv[i + 1], NULL, 10);
        if (strcmp(argv[i], "--commands") == 0)
            n = v;
        else if (strcmp(argv[i], "--runs") == 0)
            runs = v;
        else if (strcmp(argv[i], "--read-bytes") == 0)
            read_bytes = v;
    }
    if (runs == 0 || runs > RUNS_MAX || n == 0 || read_bytes == 0) {
        fprintf(stderr, "usage: bench_net [--commands N] [--runs 1..%d] [--read-bytes B]\n",
                RUNS_MAX);
        return 2;
    }
    struct cs_rng rng;
    cs_rng_init(&rng, 42);
    struct cs_buf set, get, http, frames;
    cs_buf_init(&set, SIZE_MAX);
    cs_buf_init(&get, SIZE_MAX);
    cs_buf_init(&http, SIZE_MAX);
    cs_buf_init(&frames, SIZE_MAX);
    build_resp(&set, n, true, &rng);
    build_resp(&get, n, false, &rng);
    build_http(&http, n, &rng);
    build_frames(&frames, n, &rng);
    printf("%zu items per stream; SET stream %.1f MB, %zu bytes/command\n", n,
           (double)set.len / 1e6, set.len / n);
    run("resp SET 256B", RESP, &set, n, runs, read_bytes);
    run("resp SET 256B", RESP, &set, n, runs, 1024 * 1024);
    run("resp GET", RESP, &get, n, runs, read_bytes);
    run("http PUT 256B", HTTP, &http, n, runs, read_bytes);
    run("frame 256B", FRAME, &frames, n, runs, read_bytes);
    cs_buf_free(&set);
    cs_buf_free(&get);
    cs_buf_free(&http);
    cs_buf_free(&frames);
    return 0;
}
