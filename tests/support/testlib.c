/*
 * testlib.c: the runner behind testlib.h. Each case runs under setjmp so a
 * failed check ends that case only; the seed in use is printed with every
 * failure and with every assertion that aborts the process.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "testlib.h"

#include <ftw.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/assert.h"

static jmp_buf case_jump;
static const char *program_name = "test";
static const char *case_name = "?";
static uint64_t seed_current;
static bool seed_used;
static struct cs_rng test_rng;

static uint64_t env_u64(const char *name, uint64_t fallback)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') return fallback;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0') {
        fprintf(stderr, "%s: %s must be a number, got \"%s\"\n", program_name, name, s);
        exit(2);
    }
    return v;
}

uint64_t cs_test_seed(void)
{
    return env_u64("CS_SEED", 1);
}

uint64_t cs_test_seeds(uint64_t default_count)
{
    return env_u64("CS_SEEDS", default_count);
}

void cs_test_seed_set(uint64_t seed)
{
    seed_current = seed;
    seed_used = true;
    cs_rng_init(&test_rng, seed);
}

struct cs_rng *cs_test_rng(void)
{
    if (!seed_used) cs_test_seed_set(cs_test_seed());
    return &test_rng;
}

const char *cs_test_data_dir(void)
{
    return getenv("CS_DATA");
}

static void print_replay(void)
{
    if (seed_used) {
        fprintf(stderr, "  seed %" PRIu64 " (replay: CS_SEED=%" PRIu64 " CS_SEEDS=1 %s %s)\n",
                seed_current, seed_current, program_name, case_name);
    }
}

void cs_test_fail(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL %s: %s:%d: ", case_name, file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    print_replay();
    longjmp(case_jump, 1);
}

static void assert_hook(void *ctx)
{
    (void)ctx;
    fprintf(stderr, "FAIL %s: assertion failed inside the code under test\n", case_name);
    print_replay();
}

int cs_test_main(int argc, char **argv, const struct cs_test_case *cases, size_t cases_len)
{
    program_name = argv[0];
    const char *only = argc > 1 ? argv[1] : NULL;
    cs_assert_set_hook(assert_hook, NULL);
    int passed = 0, failed = 0;
    for (size_t i = 0; i < cases_len; i++) {
        if (only && strcmp(only, cases[i].name) != 0) continue;
        case_name = cases[i].name;
        seed_used = false;
        if (setjmp(case_jump) == 0) {
            cases[i].fn();
            printf("ok   %s\n", case_name);
            passed++;
        } else {
            printf("FAIL %s\n", case_name);
            failed++;
        }
        fflush(stdout);
    }
    if (only && passed + failed == 0) {
        fprintf(stderr, "%s: no test named %s\n", program_name, only);
        return 2;
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

static int rmtree_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

void cs_test_rmtree(const char *dir)
{
    CS_CHECK_MSG(nftw(dir, rmtree_one, 16, FTW_DEPTH | FTW_PHYS) == 0, "removing %s", dir);
}
