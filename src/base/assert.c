/*
 * assert.c: what happens when an invariant breaks. The report goes to stderr
 * directly (not through the log sink, which may be the thing that broke).
 */
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(CS_ASSERT_MODE_DEBUG) || defined(CS_ASSERT_MODE_RELEASE)
#include <execinfo.h>
#include <unistd.h>
#endif

static void (*assert_hook)(void *ctx);
static void *assert_hook_ctx;

void cs_assert_set_hook(void (*hook)(void *ctx), void *ctx)
{
    assert_hook = hook;
    assert_hook_ctx = ctx;
}

noreturn void cs_assert_fail(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "assertion failed: %s\n  at %s:%d in %s()\n", expr, file, line, func);
#if defined(CS_ASSERT_MODE_DEBUG) || defined(CS_ASSERT_MODE_RELEASE)
    void *frames[32];
    int n = backtrace(frames, 32);
    backtrace_symbols_fd(frames, n, STDERR_FILENO);
#endif
    fflush(stderr);
    if (assert_hook) assert_hook(assert_hook_ctx);
    abort();
}
