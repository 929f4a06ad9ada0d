/*
 * cmd_demo.c: `consist demo NAME`, worked scenarios that print what each
 * mechanism does in words. Each demo registers itself under the parent "demo".
 */
#include "cli.h"

static int demo_run(int argc, char **argv)
{
    return cli_dispatch_sub("demo", argc, argv);
}

CS_CLI_COMMAND(demo_command, NULL, "demo", "<scenario>", "run a worked scenario and explain it",
               demo_run)
