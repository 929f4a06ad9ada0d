/*
 * main.c: the `consist` command line. Commands register themselves (cli.h);
 * this file dispatches on the first word and prints help.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CLI_COMMANDS_MAX 64

static const struct cli_command *commands[CLI_COMMANDS_MAX];
static int commands_len;

void cli_register(const struct cli_command *cmd)
{
    if (commands_len == CLI_COMMANDS_MAX) {
        fprintf(stderr, "consist: too many commands (CLI_COMMANDS_MAX %d)\n", CLI_COMMANDS_MAX);
        abort();
    }
    commands[commands_len++] = cmd;
}

static int same_parent(const struct cli_command *cmd, const char *parent)
{
    if (parent == NULL) return cmd->parent == NULL;
    return cmd->parent != NULL && strcmp(cmd->parent, parent) == 0;
}

static const struct cli_command *find(const char *parent, const char *name)
{
    for (int i = 0; i < commands_len; i++) {
        if (same_parent(commands[i], parent) && strcmp(commands[i]->name, name) == 0) {
            return commands[i];
        }
    }
    return NULL;
}

static int by_name(const void *a, const void *b)
{
    const struct cli_command *x = *(const struct cli_command *const *)a;
    const struct cli_command *y = *(const struct cli_command *const *)b;
    return strcmp(x->name, y->name);
}

void cli_usage(FILE *out, const char *parent)
{
    qsort(commands, (size_t)commands_len, sizeof commands[0], by_name);
    fprintf(out, "usage: consist %s%s<command> [args]\n\n", parent ? parent : "",
            parent ? " " : "");
    for (int i = 0; i < commands_len; i++) {
        const struct cli_command *c = commands[i];
        if (!same_parent(c, parent)) continue;
        fprintf(out, "  %s%s%s %s\n      %s\n", parent ? parent : "", parent ? " " : "", c->name,
                c->usage, c->summary);
    }
}

int cli_dispatch_sub(const char *parent, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        cli_usage(argc < 2 ? stderr : stdout, parent);
        return argc < 2 ? CS_CLI_EXIT_USAGE : CS_CLI_EXIT_OK;
    }
    const struct cli_command *cmd = find(parent, argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "consist %s: unknown subcommand '%s'\n", parent, argv[1]);
        cli_usage(stderr, parent);
        return CS_CLI_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}

int cli_parse_u64(const char *flag, const char *text, unsigned long long *out)
{
    if (text == NULL) {
        fprintf(stderr, "consist: %s needs a value\n", flag);
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-') {
        fprintf(stderr, "consist: %s wants a whole number, got '%s'\n", flag, text);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_seed_flag(const char *flag, const char *value, unsigned long long *seeds,
                        unsigned long long *seed_start, bool *single)
{
    unsigned long long *field;
    if (strcmp(flag, "--seeds") == 0) {
        field = seeds;
    } else if (strcmp(flag, "--seed-start") == 0 || strcmp(flag, "--seed") == 0) {
        field = seed_start;
    } else {
        return 0;
    }
    if (cli_parse_u64(flag, value, field) != 0) return -1;
    if (strcmp(flag, "--seed") == 0) *single = true;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr, NULL);
        return CS_CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        cli_usage(stdout, NULL);
        return CS_CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("consist 0.1.0\n");
        return CS_CLI_EXIT_OK;
    }
    const struct cli_command *cmd = find(NULL, argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "consist: unknown command '%s'\n", argv[1]);
        cli_usage(stderr, NULL);
        return CS_CLI_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
