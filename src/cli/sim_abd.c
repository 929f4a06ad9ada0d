/*
 * sim_abd.c: `consist sim abd`, seeded runs of the ABD quorum register (and
 * of two planted bugs) in the simulator, each history checked for
 * linearizability.
 *
 *   consist sim abd --seeds N [--seed-start S] [--bug no-writeback|async-backup]
 *   consist sim abd --seed S [--bug ...] [--history OUT] [--trace]
 *
 * Every failing seed is printed with the command that replays it; the last
 * line is "N passed, M failed". A single --seed run that is not
 * linearizable also prints the checker's explanation. Exit 0 when all passed, 1 when any failed
 * (or the checker ran out of budget: that seed is reported "unknown"), 2 on
 * usage errors, 3 when the history cannot be written.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "consist/check.h"
#include "consist/sim.h"

struct abd_args {
    unsigned long long seeds;
    unsigned long long seed_start;
    bool single;
    const char *bug;
    const char *history_path;
    bool trace;
    struct cs_sim_run_options run;
};

static int parse_protocol(const char *bug, enum cs_sim_protocol *out)
{
    if (bug == NULL) {
        *out = CS_SIM_ABD;
    } else if (strcmp(bug, "no-writeback") == 0) {
        *out = CS_SIM_ABD_NO_WRITEBACK;
    } else if (strcmp(bug, "async-backup") == 0) {
        *out = CS_SIM_PRIMARY_ASYNC_BACKUP;
    } else {
        fprintf(stderr, "consist sim abd: --bug wants no-writeback or async-backup, got '%s'\n",
                bug);
        return -1;
    }
    return 0;
}

/* With --trace, every simulated event: "<virtual us> <what>". */
static void print_trace_line(void *arg, const char *line)
{
    fprintf(arg, "trace %s\n", line);
}

static int parse_args(int argc, char **argv, struct abd_args *a)
{
    unsigned long long nodes = 3, clients = 4, ops = 0, check_steps = 0;
    bool faults = true;
    a->seeds = 1;
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = cli_parse_seed_flag(flag, val, &a->seeds, &a->seed_start, &a->single);
        if (rc < 0) return -1;
        if (rc > 0) {
            i++;
            continue;
        }
        if (strcmp(flag, "--bug") == 0 && val != NULL) {
            a->bug = val, i++;
        } else if (strcmp(flag, "--history") == 0 && val != NULL) {
            a->history_path = val, i++;
        } else if (strcmp(flag, "--nodes") == 0) {
            rc = cli_parse_u64(flag, val, &nodes), i++;
        } else if (strcmp(flag, "--clients") == 0) {
            rc = cli_parse_u64(flag, val, &clients), i++;
        } else if (strcmp(flag, "--ops") == 0) {
            rc = cli_parse_u64(flag, val, &ops), i++;
        } else if (strcmp(flag, "--no-faults") == 0) {
            faults = false;
        } else if (strcmp(flag, "--check-steps") == 0) {
            rc = cli_parse_u64(flag, val, &check_steps), i++;
        } else if (strcmp(flag, "--trace") == 0) {
            a->trace = true;
        } else {
            fprintf(stderr, "consist sim abd: unknown or incomplete argument '%s'\n", flag);
            return -1;
        }
        if (rc != 0) return -1;
    }
    enum cs_sim_protocol protocol;
    if (parse_protocol(a->bug, &protocol) != 0) return -1;
    if (a->single) a->seeds = 1;
    if ((a->history_path != NULL || a->trace) && !a->single) {
        fprintf(stderr, "consist sim abd: --history and --trace need --seed S (one run)\n");
        return -1;
    }
    if (nodes < 1 || nodes > CS_SIM_NODES_MAX || clients < 1 || clients > CS_SIM_CLIENTS_MAX ||
        ops > 1000000) {
        fprintf(stderr, "consist sim abd: --nodes 1..%d, --clients 1..%d, --ops up to 1000000\n",
                CS_SIM_NODES_MAX, CS_SIM_CLIENTS_MAX);
        return -1;
    }
    cs_sim_run_options_default(&a->run, a->seed_start, protocol);
    a->run.nodes_len = (uint32_t)nodes;
    a->run.clients_len = (uint32_t)clients;
    if (ops) a->run.ops_max = (uint32_t)ops;
    a->run.faults = faults;
    if (check_steps) a->run.check_steps_max = check_steps;
    if (a->trace) {
        a->run.trace_fn = print_trace_line;
        a->run.trace_arg = stdout;
    }
    return 0;
}

static int write_history(const char *path, const struct cs_history *h)
{
    struct cs_buf buf;
    cs_buf_init(&buf, 1u << 30);
    int rc = cs_history_write_jsonl(h, &buf);
    FILE *f = rc == 0 ? fopen(path, "wb") : NULL;
    if (f == NULL || fwrite(buf.data, 1, buf.len, f) != buf.len || fclose(f) != 0) {
        fprintf(stderr, "consist sim abd: cannot write %s\n", path);
        cs_buf_free(&buf);
        return -1;
    }
    cs_buf_free(&buf);
    return 0;
}

static void print_replay(const struct abd_args *a, uint64_t seed)
{
    printf("  replay: consist sim abd --seed %llu", (unsigned long long)seed);
    if (a->bug != NULL) printf(" --bug %s", a->bug);
    if (a->run.nodes_len != 3) printf(" --nodes %u", a->run.nodes_len);
    if (a->run.clients_len != 4) printf(" --clients %u", a->run.clients_len);
    printf(" --ops %u%s --history seed-%llu.jsonl\n", a->run.ops_max,
           a->run.faults ? "" : " --no-faults", (unsigned long long)seed);
}

/* explain: the checker's account of a violation, in words (single-seed runs). */
static void explain(const struct cs_sim_run_options *run, const struct cs_history *h)
{
    struct cs_model_spec model = {CS_MODEL_REGISTER, cs_value_none(), true};
    struct cs_check_budget budget = {.steps_max = run->check_steps_max};
    struct cs_check_result result;
    struct cs_buf text;
    cs_buf_init(&text, 1u << 20);
    if (cs_check_linearizable(h, &model, &budget, &result) == 0 &&
        result.verdict == CS_VERDICT_INVALID && cs_check_explain(h, &result, &text) == 0) {
        printf("%.*s", (int)text.len, (const char *)text.data);
    }
    cs_check_result_free(&result);
    cs_buf_free(&text);
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sim_abd_run(int argc, char **argv)
{
    struct abd_args a = {0};
    if (parse_args(argc, argv, &a) != 0) return CS_CLI_EXIT_USAGE;
    unsigned long long passed = 0, failed = 0, unknown = 0;
    double start = wall_seconds();
    for (unsigned long long i = 0; i < a.seeds; i++) {
        uint64_t seed = a.seed_start + i;
        a.run.seed = seed;
        struct cs_history h;
        cs_history_init(&h, a.run.ops_max);
        struct cs_sim_run_result r;
        int rc = cs_sim_run(&a.run, &h, &r);
        if (rc != 0) {
            fprintf(stderr, "consist sim abd: seed %llu: %s\n", (unsigned long long)seed,
                    cs_strerror(rc));
            cs_history_free(&h);
            return CS_CLI_EXIT_INPUT;
        }
        bool ok = r.verdict == CS_VERDICT_VALID && r.stats.invariant_failures == 0;
        if (a.single || !ok) {
            printf("seed %llu: %s%s (ops %u: %u ok, %u fail, %u info; faults %u; crashes %llu; "
                   "events %llu; virtual %.3f s; trace %016llx; history %016llx)\n",
                   (unsigned long long)seed, cs_verdict_name((enum cs_verdict)r.verdict),
                   r.stats.invariant_failures ? ", INVARIANT VIOLATED" : "", r.ops, r.ops_ok,
                   r.ops_fail, r.ops_info, r.faults, (unsigned long long)r.stats.crashes,
                   (unsigned long long)r.stats.events, (double)r.end_us / 1e6,
                   (unsigned long long)r.trace_hash, (unsigned long long)r.history_hash);
        }
        if (!ok) print_replay(&a, seed);
        if (a.single && r.verdict == CS_VERDICT_INVALID) explain(&a.run, &h);
        if (a.history_path != NULL && write_history(a.history_path, &h) != 0) {
            cs_history_free(&h);
            return CS_CLI_EXIT_INPUT;
        }
        cs_history_free(&h);
        passed += ok;
        failed += !ok;
        unknown += r.verdict == CS_VERDICT_UNKNOWN;
    }
    /* Timing goes to stderr, flushed before the summary so the summary is always last. */
    fflush(stdout);
    fprintf(stderr, "%llu seeds in %.2f s\n", a.seeds, wall_seconds() - start);
    if (unknown) {
        printf(
            "%llu of the failed are unknown: the checker's budget ran out (raise --check-steps)\n",
            unknown);
    }
    printf("%llu passed, %llu failed\n", passed, failed);
    return failed ? CS_CLI_EXIT_NO : CS_CLI_EXIT_OK;
}

CS_CLI_COMMAND(sim_abd_command, "sim", "abd",
               "--seeds N [--seed-start S] | --seed S [--history OUT] "
               "[--bug no-writeback|async-backup] [--nodes N] [--clients N] [--ops N] "
               "[--no-faults] [--trace]",
               "ABD quorum register (or a planted bug) over seeded faults, each run checked",
               sim_abd_run)
