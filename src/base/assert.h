/*
 * assert.h: invariant checks for protocol cores, in three modes.
 *
 * CS_ASSERT is checked in every build: a broken invariant in a replicated
 * store must stop the node, not corrupt data quietly. CS_DEBUG_ASSERT is for
 * checks too costly for production (walking a whole log); it is checked in
 * the debug and test modes and only type-checked in release.
 *
 * Modes (chosen by the build, CS_ASSERT_MODE in CMake):
 *   test     failure runs the registered hook (tests and the simulator print
 *            the seed that replays the run), then aborts;
 *   debug    failure prints a backtrace, runs the hook, aborts;
 *   release  as debug, with CS_DEBUG_ASSERT compiled out.
 */
#ifndef CS_BASE_ASSERT_H
#define CS_BASE_ASSERT_H

#include <stdnoreturn.h>

noreturn void cs_assert_fail(const char *expr, const char *file, int line, const char *func);

/*
 * cs_assert_set_hook: run hook(ctx) after an assertion failure is printed and
 * before the process aborts. One hook per process; NULL removes it.
 */
void cs_assert_set_hook(void (*hook)(void *ctx), void *ctx);

#define CS_ASSERT(expr) ((expr) ? (void)0 : cs_assert_fail(#expr, __FILE__, __LINE__, __func__))

#if defined(CS_ASSERT_MODE_RELEASE)
#define CS_DEBUG_ASSERT(expr) ((void)sizeof(expr))
#else
#define CS_DEBUG_ASSERT(expr) CS_ASSERT(expr)
#endif

/* Marks code that cannot be reached when the invariants hold. */
#define CS_UNREACHABLE() cs_assert_fail("unreachable", __FILE__, __LINE__, __func__)

#endif /* CS_BASE_ASSERT_H */
