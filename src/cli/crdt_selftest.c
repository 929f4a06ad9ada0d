/*
 * crdt_selftest.c: `consist selftest crdt --seeds N [--seed-start S] [--type T]`.
 *
 * Runs the CRDT property suite (src/crdt/selftest.c, the code ctest runs)
 * for N consecutive seeds, prints every failing seed with the type and the
 * schedule that broke it, and ends with exactly "N passed, M failed". Exit 0
 * only if nothing failed, 1 if a seed failed, 2 on a usage error. The same
 * seed always replays the same run. --type runs one type, or a planted bug
 * ("distributed-counter", "orset-forgetful") to watch the checks fail.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "consist/crdt.h"

static int crdt_selftest_usage(void)
{
    fprintf(stderr, "usage: consist selftest crdt --seeds N [--seed-start S] [--type T]\n");
    return CS_CLI_EXIT_USAGE;
}

static int crdt_selftest_main(int argc, char **argv)
{
    unsigned long long seeds = 0, start = 1;
    bool have_seeds = false;
    const char *type = NULL;
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--seeds") == 0) {
            if (cli_parse_u64("--seeds", value, &seeds)) return CS_CLI_EXIT_USAGE;
            have_seeds = true;
        } else if (strcmp(argv[i], "--seed-start") == 0) {
            if (cli_parse_u64("--seed-start", value, &start)) return CS_CLI_EXIT_USAGE;
        } else if (strcmp(argv[i], "--type") == 0) {
            if (value == NULL) return crdt_selftest_usage();
            type = value;
        } else {
            return crdt_selftest_usage();
        }
        i++;
    }
    if (!have_seeds) return crdt_selftest_usage();
    unsigned long long passed = 0, failed = 0;
    for (unsigned long long k = 0; k < seeds; k++) {
        uint64_t seed = (uint64_t)(start + k);
        struct cs_crdt_selftest_report report;
        int rc = type ? cs_crdt_selftest_run_type(seed, type, &report)
                      : cs_crdt_selftest_run(seed, &report);
        if (rc == CS_ENOTFOUND) {
            fprintf(stderr, "consist selftest crdt: unknown type '%s'\n", type);
            return CS_CLI_EXIT_USAGE;
        }
        if (rc == 0) {
            passed++;
            continue;
        }
        failed++;
        printf("seed %" PRIu64 " FAILED type %s: %s\n", seed, report.type, report.message);
        printf("  replay: consist selftest crdt --seeds 1 --seed-start %" PRIu64 " --type %s\n",
               seed, report.type);
    }
    printf("%llu passed, %llu failed\n", passed, failed);
    return failed == 0 ? CS_CLI_EXIT_OK : CS_CLI_EXIT_NO;
}

CS_CLI_COMMAND(crdt_selftest_command, "selftest", "crdt", "--seeds N [--seed-start S] [--type T]",
               "CRDT property suite: convergence, lattice laws, OR-Set model, bounded counter",
               crdt_selftest_main)
