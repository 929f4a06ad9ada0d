/*
 * selftest.c: `consist selftest NAME`, the seeded property suites a user can
 * run for as many seeds as they like. Each suite registers under "selftest"
 * and ends with the line "N passed, M failed".
 */
#include "cli.h"

static int selftest_run(int argc, char **argv)
{
    return cli_dispatch_sub("selftest", argc, argv);
}

CS_CLI_COMMAND(selftest_command, NULL, "selftest", "<suite> --seeds N [--seed-start S]",
               "run a seeded property suite", selftest_run)
