/*
 * sim_cmd.c: `consist sim PROTOCOL ...`, the deterministic simulator. Each
 * protocol registers its own subcommand under the parent "sim" in its own
 * file (sim_abd.c: `consist sim abd`; Raft adds `consist sim raft`).
 */
#include "cli.h"

static int sim_run(int argc, char **argv)
{
    return cli_dispatch_sub("sim", argc, argv);
}

CS_CLI_COMMAND(sim_command, NULL, "sim", "<protocol> [--seeds N] [--seed S] ...",
               "run a protocol in the deterministic simulator under seeded faults", sim_run)
