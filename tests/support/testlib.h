/*
 * testlib.h: the small test harness every tests/ executable uses.
 *
 * A test file lists its cases with CS_TEST and ends with CS_TEST_MAIN(...).
 * A failed check stops the current case (longjmp back to the runner), prints
 * where and why, and prints the seed that replays it: property tests draw all
 * randomness from cs_test_rng(), seeded from CS_SEED (default 1), and set the
 * current seed with cs_test_seed_set() when they iterate over seeds. The
 * runner ends with the line "N passed, M failed" and exits non-zero on any
 * failure. An optional argument runs only the case of that name.
 */
#ifndef CS_TESTLIB_H
#define CS_TESTLIB_H

#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "consist/error.h"
#include "consist/rng.h"

struct cs_test_case {
    const char *name;
    void (*fn)(void);
};

#define CS_TEST(name) static void name(void)

#define CS_TEST_MAIN(...)                                                                          \
    int main(int argc, char **argv)                                                                \
    {                                                                                              \
        static const struct cs_test_case cases_[] = {__VA_ARGS__};                                 \
        return cs_test_main(argc, argv, cases_, sizeof cases_ / sizeof cases_[0]);                 \
    }
#define CS_CASE(fn)                                                                                \
    {                                                                                              \
#fn, fn                                                                                    \
    }

int cs_test_main(int argc, char **argv, const struct cs_test_case *cases, size_t cases_len);

/* The base seed: CS_SEED from the environment, else 1. */
uint64_t cs_test_seed(void);
/* How many seeds a property test should run: CS_SEEDS, else default_count. */
uint64_t cs_test_seeds(uint64_t default_count);
/* Declare the seed now in use (printed on failure) and reseed cs_test_rng(). */
void cs_test_seed_set(uint64_t seed);
/* The generator seeded with the current seed. */
struct cs_rng *cs_test_rng(void);
/* The shared data folder (../shared/data), from CS_DATA; NULL if unset. */
const char *cs_test_data_dir(void);
/* cs_test_rmtree: remove dir and everything below it (a mkdtemp folder); a check. */
void cs_test_rmtree(const char *dir);

__attribute__((noreturn, format(printf, 3, 4))) void cs_test_fail(const char *file, int line,
                                                                  const char *fmt, ...);

#define CS_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) cs_test_fail(__FILE__, __LINE__, "check failed: %s", #cond);                  \
    } while (0)

#define CS_CHECK_MSG(cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) cs_test_fail(__FILE__, __LINE__, __VA_ARGS__);                                \
    } while (0)

#define CS_CHECK_EQ(a, b)                                                                          \
    do {                                                                                           \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                              \
        if (a_ != b_)                                                                              \
            cs_test_fail(__FILE__, __LINE__, "%s == %s: %" PRId64 " != %" PRId64, #a, #b, a_, b_); \
    } while (0)

#define CS_CHECK_EQ_U64(a, b)                                                                      \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_)                                                                              \
            cs_test_fail(__FILE__, __LINE__, "%s == %s: %" PRIu64 " != %" PRIu64, #a, #b, a_, b_); \
    } while (0)

/* expr must return exactly rc (0 or a CS_E code). */
#define CS_CHECK_RC(expr, rc)                                                                      \
    do {                                                                                           \
        int got_ = (expr), want_ = (rc);                                                           \
        if (got_ != want_)                                                                         \
            cs_test_fail(__FILE__, __LINE__, "%s returned %s (%d), expected %s (%d)", #expr,       \
                         cs_errname(got_), got_, cs_errname(want_), want_);                        \
    } while (0)

#define CS_CHECK_OK(expr) CS_CHECK_RC(expr, 0)

#define CS_CHECK_MEM(a, b, n)                                                                      \
    do {                                                                                           \
        if (memcmp((a), (b), (n)) != 0)                                                            \
            cs_test_fail(__FILE__, __LINE__, "%s and %s differ in their first %zu bytes", #a, #b,  \
                         (size_t)(n));                                                             \
    } while (0)

#define CS_CHECK_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0)                                                                   \
            cs_test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_);        \
    } while (0)

#endif /* CS_TESTLIB_H */
