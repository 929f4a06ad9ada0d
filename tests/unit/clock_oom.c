/*
 * clock_oom.c: allocation failure at every point of every allocating clock
 * operation leaves its objects exactly as they were (SQLite's OOM loop).
 *
 * Method: this executable interposes malloc, calloc and realloc (glibc's
 * __libc_* functions do the real work), failing the n-th allocation after
 * the fault is armed, and optionally every one after it. For n = 1, 2, ...
 * each operation runs on a fresh copy of its inputs until it succeeds; every
 * failing run must return CS_ENOMEM and leave the destination equal to a
 * snapshot taken before the fault was armed (ASan's leak checker, where it
 * runs, catches anything a failed path forgot to free). A sanitizer build
 * owns malloc itself, so there the interposer is compiled out and the cases
 * only check that the operations succeed.
 */
#include <stdlib.h>
#include <string.h>

#include "consist/clock.h"
#include "testlib.h"

#if defined(__SANITIZE_ADDRESS__)
#define CLOCK_OOM_INTERPOSE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CLOCK_OOM_INTERPOSE 0
#endif
#endif
#ifndef CLOCK_OOM_INTERPOSE
#define CLOCK_OOM_INTERPOSE 1
#endif

/* Fault state: fail when countdown reaches 0; keep failing if persistent. */
static int64_t fault_countdown = -1;
static bool fault_persistent;
static uint64_t faults_injected;

__attribute__((unused)) static bool fault_hit(void)
{
    if (fault_countdown < 0) return false;
    if (fault_countdown > 0) {
        fault_countdown--;
        return false;
    }
    faults_injected++;
    if (!fault_persistent) fault_countdown = -1;
    return true;
}

static void fault_arm(int64_t n, bool persistent)
{
    fault_countdown = n;
    fault_persistent = persistent;
}

static void fault_disarm(void)
{
    fault_countdown = -1;
}

#if CLOCK_OOM_INTERPOSE
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);

void *malloc(size_t size)
{
    return fault_hit() ? NULL : __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    return fault_hit() ? NULL : __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size)
{
    return fault_hit() ? NULL : __libc_realloc(ptr, size);
}
#endif

/* One allocating operation: run it on dst (and src) and return its code. */
struct oom_case {
    const char *name;
    int (*vclock_op)(struct cs_vclock *dst, const struct cs_vclock *src);
    int (*dvv_op)(struct cs_dvvset *dst, const struct cs_dvvset *src);
};

static int vc_tick_new(struct cs_vclock *dst, const struct cs_vclock *src)
{
    (void)src;
    return cs_vclock_tick(dst, 1000);
}

static int vc_update_new(struct cs_vclock *dst, const struct cs_vclock *src)
{
    return cs_vclock_update(dst, 2000, src);
}

static int vc_decode(struct cs_vclock *dst, const struct cs_vclock *src)
{
    static const uint8_t bytes[] = {1, 3, 1, 1, 2, 2, 3, 3};
    (void)src;
    return cs_vclock_decode(dst, bytes, sizeof bytes);
}

static int dvv_event(struct cs_dvvset *dst, const struct cs_dvvset *src)
{
    return cs_dvvset_event(dst, cs_dvvset_join(src), 77, "new", 3, NULL);
}

static int dvv_decode(struct cs_dvvset *dst, const struct cs_dvvset *src)
{
    static const uint8_t bytes[] = {1, 1, 1, 5, 2, 2, 5, 1, 2, 'v', '1', 5, 2, 2, 'h', 'i'};
    (void)src;
    return cs_dvvset_decode(dst, bytes, sizeof bytes);
}

/* fill_vclock: a clock with entries at ids start, start+2, ... (so merges interleave). */
static void fill_vclock(struct cs_vclock *vc, uint64_t start, int n)
{
    for (int i = 0; i < n; i++)
        CS_CHECK_OK(cs_vclock_tick(vc, start + 2 * (uint64_t)i));
}

static void fill_dvvset(struct cs_dvvset *s, uint64_t node_id, int n)
{
    struct cs_vclock empty;
    cs_vclock_init(&empty);
    for (int i = 0; i < n; i++)
        CS_CHECK_OK(cs_dvvset_event(s, &empty, node_id + (uint64_t)i % 2, "v", 1, NULL));
}

/*
 * run_vclock_case: the OOM loop for one vector clock operation, in one mode.
 * Returns the number of runs that failed cleanly, or -1 when a run broke the
 * contract (another code, or a changed clock).
 */
static int64_t run_vclock_case(const struct oom_case *c, bool persistent)
{
    int64_t failures = 0;
    for (int64_t n = 0; n < 64; n++) {
        struct cs_vclock dst, src, snapshot;
        cs_vclock_init(&dst);
        cs_vclock_init(&src);
        cs_vclock_init(&snapshot);
        fill_vclock(&dst, 1, 3); /* capacity 4: the next new member must grow it */
        CS_CHECK_OK(cs_vclock_tick(&dst, 7));
        fill_vclock(&src, 2, 9);
        CS_CHECK_OK(cs_vclock_copy(&snapshot, &dst));
        fault_arm(n, persistent);
        int rc = c->vclock_op(&dst, &src);
        fault_disarm();
        if (rc != 0) {
            bool clean = rc == CS_ENOMEM && cs_vclock_equal(&dst, &snapshot);
            failures = clean && failures >= 0 ? failures + 1 : -1;
        }
        cs_vclock_free(&dst);
        cs_vclock_free(&src);
        cs_vclock_free(&snapshot);
        if (rc == 0) break;
    }
    return failures;
}

static int64_t run_dvv_case(const struct oom_case *c, bool persistent)
{
    int64_t failures = 0;
    for (int64_t n = 0; n < 64; n++) {
        struct cs_dvvset dst, src, snapshot;
        cs_dvvset_init(&dst);
        cs_dvvset_init(&src);
        cs_dvvset_init(&snapshot);
        fill_dvvset(&dst, 1, 3);
        fill_dvvset(&src, 2, 4);
        CS_CHECK_OK(cs_dvvset_copy(&snapshot, &dst));
        fault_arm(n, persistent);
        int rc = c->dvv_op(&dst, &src);
        fault_disarm();
        if (rc != 0) {
            bool clean = rc == CS_ENOMEM && cs_dvvset_equal(&dst, &snapshot);
            failures = clean && failures >= 0 ? failures + 1 : -1;
        }
        cs_dvvset_free(&dst);
        cs_dvvset_free(&src);
        cs_dvvset_free(&snapshot);
        if (rc == 0) break;
    }
    return failures;
}

static const struct oom_case cases[] = {
    {"cs_vclock_tick", vc_tick_new, NULL},     {"cs_vclock_merge", cs_vclock_merge, NULL},
    {"cs_vclock_update", vc_update_new, NULL}, {"cs_vclock_copy", cs_vclock_copy, NULL},
    {"cs_vclock_decode", vc_decode, NULL},     {"cs_dvvset_event", NULL, dvv_event},
    {"cs_dvvset_sync", NULL, cs_dvvset_sync},  {"cs_dvvset_copy", NULL, cs_dvvset_copy},
    {"cs_dvvset_decode", NULL, dvv_decode},
};

static int64_t run_case(const struct oom_case *c, bool persistent)
{
    return c->vclock_op ? run_vclock_case(c, persistent) : run_dvv_case(c, persistent);
}

/* Every operation fails cleanly at every allocation, once and persistently, then succeeds. */
CS_TEST(every_allocation_failure_is_clean)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int persistent = 0; persistent <= 1; persistent++) {
            int64_t failures = run_case(&cases[i], persistent);
            CS_CHECK_MSG(failures >= 0, "%s broke its contract under allocation failure",
                         cases[i].name);
            /* Each of these allocates, so with the interposer at least one run must fail. */
            if (CLOCK_OOM_INTERPOSE) {
                CS_CHECK_MSG(failures > 0, "%s never failed", cases[i].name);
            }
        }
    }
    if (CLOCK_OOM_INTERPOSE) CS_CHECK(faults_injected > 0);
}

/* Planted bug: an operation that changes the clock before an allocation that can fail. */
static int tick_then_grow(struct cs_vclock *dst, const struct cs_vclock *src)
{
    CS_CHECK_OK(cs_vclock_tick(dst, dst->entries[0].node_id)); /* no allocation: existing member */
    return cs_vclock_reserve(dst, src->entries_len + 32);
}

CS_TEST(planted_bug_is_caught)
{
    if (!CLOCK_OOM_INTERPOSE) return; /* no faults to inject under a sanitizer */
    static const struct oom_case buggy = {"tick_then_grow", tick_then_grow, NULL};
    CS_CHECK_EQ(run_case(&buggy, false), -1);
}

CS_TEST_MAIN(CS_CASE(every_allocation_failure_is_clean), CS_CASE(planted_bug_is_caught))
