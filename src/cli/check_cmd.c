/*
 * check_cmd.c: `consist check FILE`, the checker for users' own histories.
 *
 * Reads the file whole (bounded), detects its format unless told, picks the
 * model the ops imply unless told, runs the asked consistency check under a
 * wall-clock budget (the library reads no clock: this file lends it one),
 * and prints the verdict first, then the explanation.
 *
 * Exit: 0 valid, 1 invalid, 2 unknown within the budget (or a usage error),
 * 3 bad input (the error line names the file and line).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "consist/check.h"
#include "consist/error.h"

#define CHECK_FILE_BYTES_MAX (1ull << 30)
#define CHECK_EXIT_UNKNOWN   2

static uint64_t monotonic_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* read_file: the whole file, or NULL with a message printed. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "consist check: %s: cannot open\n", path);
        return NULL;
    }
    size_t cap = 1u << 16, n = 0;
    char *data = malloc(cap);
    while (data != NULL) {
        n += fread(data + n, 1, cap - n, f);
        if (n < cap) break;
        if (cap >= CHECK_FILE_BYTES_MAX) {
            fprintf(stderr, "consist check: %s: larger than %llu bytes\n", path,
                    (unsigned long long)CHECK_FILE_BYTES_MAX);
            free(data);
            data = NULL;
            break;
        }
        char *bigger = realloc(data, cap * 2);
        if (bigger == NULL) free(data);
        data = bigger;
        cap *= 2;
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (data != NULL && failed) {
        fprintf(stderr, "consist check: %s: read error\n", path);
        free(data);
        return NULL;
    }
    *len = n;
    return data;
}

struct check_options {
    const char *path;
    const char *html;
    int format;
    int model;
    int consistency;
    const char *initial;
    unsigned long long budget_ms;
    bool no_split;
};

static int parse_options(int argc, char **argv, struct check_options *o)
{
    memset(o, 0, sizeof *o);
    o->format = CS_FORMAT_AUTO;
    o->model = -1;
    o->consistency = CS_CONSISTENCY_LINEARIZABLE;
    o->budget_ms = 60000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "--format") == 0 && v) {
            o->format = cs_history_format_parse(v);
        } else if (strcmp(a, "--model") == 0 && v) {
            o->model = cs_model_parse(v);
            if (o->model < 0) o->model = -2;
        } else if (strcmp(a, "--consistency") == 0 && v) {
            o->consistency = cs_consistency_parse(v);
        } else if (strcmp(a, "--html") == 0 && v) {
            o->html = v;
        } else if (strcmp(a, "--initial") == 0 && v) {
            o->initial = v;
        } else if (strcmp(a, "--budget-ms") == 0) {
            if (cli_parse_u64(a, v, &o->budget_ms) != 0) return -1;
        } else if (strcmp(a, "--no-split") == 0) {
            o->no_split = true;
            takes = false;
        } else if (a[0] != '-' && o->path == NULL) {
            o->path = a;
            takes = false;
        } else {
            fprintf(stderr, "consist check: unexpected argument '%s'\n", a);
            return -1;
        }
        if (takes) i++;
    }
    if (o->path == NULL) fprintf(stderr, "consist check: which FILE?\n");
    if (o->format < 0) fprintf(stderr, "consist check: unknown --format\n");
    if (o->model == -2) fprintf(stderr, "consist check: unknown --model\n");
    if (o->consistency < 0) fprintf(stderr, "consist check: unknown --consistency\n");
    return o->path && o->format >= 0 && o->model != -2 && o->consistency >= 0 ? 0 : -1;
}

/* initial_value: --initial V as an integer, nil, or else a string. */
static int initial_value(struct cs_history *h, const char *text, struct cs_value *out)
{
    char *end;
    long long x = strtoll(text, &end, 10);
    if (*text != 0 && *end == 0) {
        *out = cs_value_int(x);
        return 0;
    }
    if (strcmp(text, "nil") == 0 || strcmp(text, "null") == 0) {
        *out = cs_value_nil();
        return 0;
    }
    return cs_history_value_str(h, text, strlen(text), out);
}

static int write_html(const char *path, const struct cs_history *h, const struct cs_check_result *r)
{
    struct cs_buf page;
    cs_buf_init(&page, 1u << 28);
    int rc = cs_check_write_html(h, r, &page);
    FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
    if (f == NULL || fwrite(page.data, 1, page.len, f) != page.len) rc = CS_EIO;
    if (f != NULL && fclose(f) != 0) rc = CS_EIO;
    cs_buf_free(&page);
    if (rc) fprintf(stderr, "consist check: cannot write %s: %s\n", path, cs_strerror(rc));
    return rc;
}

static int run_check(const struct check_options *o, struct cs_history *h, struct cs_check_result *r)
{
    struct cs_model_spec spec = cs_model_default(h);
    if (o->model >= 0) spec.kind = (enum cs_model_kind)o->model;
    spec.split_by_key = !o->no_split;
    if (o->initial != NULL && initial_value(h, o->initial, &spec.initial) != 0) return CS_ENOMEM;
    struct cs_check_budget budget = {0, 0, 0, monotonic_ms, NULL};
    budget.deadline_ms = monotonic_ms(NULL) + o->budget_ms;
    switch ((enum cs_consistency)o->consistency) {
    case CS_CONSISTENCY_LINEARIZABLE:
        return cs_check_linearizable(h, &spec, &budget, r);
    case CS_CONSISTENCY_SEQUENTIAL:
        return cs_check_sequential(h, &spec, &budget, r);
    case CS_CONSISTENCY_SESSION:
        return cs_check_session(h, r);
    }
    return CS_EINVAL;
}

static int check_run(int argc, char **argv)
{
    struct check_options o;
    if (parse_options(argc, argv, &o) != 0) return CS_CLI_EXIT_USAGE;
    size_t len;
    char *text = read_file(o.path, &len);
    if (text == NULL) return CS_CLI_EXIT_INPUT;
    struct cs_history h;
    cs_history_init(&h, 0);
    struct cs_parse_error err;
    int rc = cs_history_parse(&h, (enum cs_history_format)o.format, text, len, &err);
    free(text);
    if (rc != 0) {
        printf("bad input\n");
        fprintf(stderr, "consist check: %s:%u: %s (%s)\n", o.path, err.line, err.message,
                cs_errname(rc));
        cs_history_free(&h);
        return CS_CLI_EXIT_INPUT;
    }
    struct cs_check_result r;
    rc = run_check(&o, &h, &r);
    if (rc != 0) {
        printf("bad input\n");
        fprintf(stderr, "consist check: %s: %s (%s)\n", o.path,
                r.detail[0] ? r.detail : cs_strerror(rc), cs_errname(rc));
        cs_check_result_free(&r);
        cs_history_free(&h);
        return CS_CLI_EXIT_INPUT;
    }
    printf("%s: %s, %u ops, %u partition%s, %" PRIu64 " search steps", cs_verdict_name(r.verdict),
           cs_consistency_name(r.consistency), h.ops_len, r.partitions,
           r.partitions == 1 ? "" : "s", r.steps);
    /* Which procedure decided: zones where written values are unique. */
    if (r.partitions_zones > 0)
        printf(", %u partition%s by zones (written values unique)", r.partitions_zones,
               r.partitions_zones == 1 ? "" : "s");
    if (r.verdict == CS_VERDICT_INVALID && r.consistency == CS_CONSISTENCY_LINEARIZABLE)
        printf(", decided by %s", cs_check_procedure_name(r.procedure));
    printf("\n");
    struct cs_buf text_out;
    cs_buf_init(&text_out, 1u << 26);
    cs_check_explain(&h, &r, &text_out);
    fwrite(text_out.data, 1, text_out.len, stdout);
    cs_buf_free(&text_out);
    int exit_code = r.verdict == CS_VERDICT_VALID     ? CS_CLI_EXIT_OK
                    : r.verdict == CS_VERDICT_INVALID ? CS_CLI_EXIT_NO
                                                      : CHECK_EXIT_UNKNOWN;
    if (o.html != NULL && write_html(o.html, &h, &r) != 0) exit_code = CS_CLI_EXIT_INPUT;
    cs_check_result_free(&r);
    cs_history_free(&h);
    return exit_code;
}

CS_CLI_COMMAND(check_command, NULL, "check",
               "FILE [--format jsonl|edn|porcupine-etcd|porcupine-kv] [--model M] "
               "[--consistency linearizable|sequential|session] [--html OUT] [--budget-ms N] "
               "[--initial V] [--no-split]",
               "check a recorded history: valid (0), invalid (1), unknown (2), bad input (3)",
               check_run)
