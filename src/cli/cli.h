/*
 * cli.h: how `consist` finds its commands.
 *
 * Each command lives in its own file and registers itself with
 * CS_CLI_COMMAND; a command with a parent ("demo" -> "clocks") is a
 * subcommand. main.c owns nothing but dispatch and help, so adding a command
 * touches one new file and no table.
 *
 * Exit codes: 0 success, 1 the command's negative answer (a check that found
 * a violation, a failing seed), 2 usage error, 3 bad input; commands document
 * their own where they differ.
 */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdbool.h>
#include <stdio.h>

#define CS_CLI_EXIT_OK    0
#define CS_CLI_EXIT_NO    1
#define CS_CLI_EXIT_USAGE 2
#define CS_CLI_EXIT_INPUT 3

struct cli_command {
    const char *parent; /* NULL for a top-level command */
    const char *name;
    const char *usage;                 /* one line: arguments after the name */
    const char *summary;               /* one line: what it does */
    int (*run)(int argc, char **argv); /* argv[0] is the command's name */
};

void cli_register(const struct cli_command *cmd);

#define CS_CLI_COMMAND(ident, parent_, name_, usage_, summary_, run_)                              \
    static const struct cli_command ident = {parent_, name_, usage_, summary_, run_};              \
    __attribute__((constructor)) static void ident##_register(void)                                \
    {                                                                                              \
        cli_register(&ident);                                                                      \
    }

/* cli_dispatch_sub: run the subcommand of parent named by argv[1]. */
int cli_dispatch_sub(const char *parent, int argc, char **argv);

/* cli_usage: print the commands (or a parent's subcommands) to out. */
void cli_usage(FILE *out, const char *parent);

/* Helpers for simple flag parsing: "--name VALUE" forms. */
int cli_parse_u64(const char *flag, const char *text, unsigned long long *out);

/*
 * cli_parse_seed_flag: the seed flags of every seeded run. If flag is
 * --seeds N, --seed-start S or --seed S (one run: the replay of a printed
 * seed, which also sets *single), parses value into its field and returns 1
 * (the caller skips the value). Returns 0 if flag is none of them, -1 on a
 * missing or bad value (already printed).
 */
int cli_parse_seed_flag(const char *flag, const char *value, unsigned long long *seeds,
                        unsigned long long *seed_start, bool *single);

#endif /* CS_CLI_H */
