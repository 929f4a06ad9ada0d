/*
 * sim_disk.c: the simulated disk keeps key order, hides nothing from reads,
 * loses exactly the unsynced writes in a crash (a prefix may survive, the
 * last may tear), never loses synced data, and refuses each limit one past it.
 */
#include <string.h>

#include "consist/sim.h"
#include "testlib.h"

static struct cs_sim_disk *disk_new(uint32_t pending_max, uint32_t entries_max)
{
    struct cs_sim_disk_limits l = {8, 16, entries_max, pending_max};
    struct cs_sim_disk *d = NULL;
    CS_CHECK_OK(cs_sim_disk_create(&l, &d));
    return d;
}

static void check_value(struct cs_sim_disk *d, const char *key, const char *want)
{
    const uint8_t *v;
    size_t len;
    if (want == NULL) {
        CS_CHECK_RC(cs_sim_disk_get(d, key, strlen(key), &v, &len), CS_ENOTFOUND);
        return;
    }
    CS_CHECK_OK(cs_sim_disk_get(d, key, strlen(key), &v, &len));
    CS_CHECK_EQ_U64(len, strlen(want));
    CS_CHECK_MEM(v, want, len);
}

/* Iteration visits keys in memcmp order, shorter first on a shared prefix, and sees buffered
 * writes. */
CS_TEST(ordered_iteration)
{
    struct cs_sim_disk *d = disk_new(64, 64);
    const char *keys[] = {"b", "a", "ab", "c", "aa"};
    for (int i = 0; i < 5; i++)
        CS_CHECK_OK(cs_sim_disk_put(d, keys[i], strlen(keys[i]), "v", 1));
    CS_CHECK_OK(cs_sim_disk_del(d, "c", 1));
    CS_CHECK_RC(cs_sim_disk_del(d, "c", 1), CS_ENOTFOUND);
    const char *want[] = {"a", "aa", "ab", "b"};
    const uint8_t *k = NULL, *v;
    size_t klen = 0, vlen;
    for (int i = 0; i < 4; i++) {
        CS_CHECK_OK(cs_sim_disk_next(d, k, klen, &k, &klen, &v, &vlen));
        CS_CHECK_EQ_U64(klen, strlen(want[i]));
        CS_CHECK_MEM(k, want[i], klen);
    }
    CS_CHECK_RC(cs_sim_disk_next(d, k, klen, &k, &klen, &v, &vlen), CS_ENOTFOUND);
    CS_CHECK_EQ_U64(cs_sim_disk_len(d), 4);
    cs_sim_disk_destroy(d);
}

/* A crash without a surviving prefix returns the disk to its last synced state exactly. */
CS_TEST(crash_loses_unsynced_only)
{
    struct cs_sim_disk *d = disk_new(64, 64);
    CS_CHECK_OK(cs_sim_disk_put(d, "x", 1, "one", 3));
    CS_CHECK_OK(cs_sim_disk_put(d, "y", 1, "two", 3));
    cs_sim_disk_make_durable(d, cs_sim_disk_mark(d));
    CS_CHECK_EQ_U64(cs_sim_disk_pending(d), 0);
    CS_CHECK_OK(cs_sim_disk_put(d, "x", 1, "ONE", 3));
    CS_CHECK_OK(cs_sim_disk_del(d, "y", 1));
    CS_CHECK_OK(cs_sim_disk_put(d, "z", 1, "new", 3));
    check_value(d, "x", "ONE");
    check_value(d, "y", NULL);
    cs_sim_disk_crash(d, NULL, 0);
    check_value(d, "x", "one");
    check_value(d, "y", "two");
    check_value(d, "z", NULL);
    CS_CHECK_EQ_U64(cs_sim_disk_pending(d), 0);
    cs_sim_disk_destroy(d);
}

/* A sync mark covers exactly the writes before it; a later write stays volatile. */
CS_TEST(sync_mark_is_a_prefix)
{
    struct cs_sim_disk *d = disk_new(64, 64);
    CS_CHECK_OK(cs_sim_disk_put(d, "a", 1, "1", 1));
    uint64_t mark = cs_sim_disk_mark(d);
    CS_CHECK_OK(cs_sim_disk_put(d, "b", 1, "2", 1));
    cs_sim_disk_make_durable(d, mark);
    cs_sim_disk_make_durable(d, mark); /* a repeated completion is harmless */
    CS_CHECK_EQ_U64(cs_sim_disk_pending(d), 1);
    cs_sim_disk_crash(d, NULL, 0);
    check_value(d, "a", "1");
    check_value(d, "b", NULL);
    cs_sim_disk_destroy(d);
}

/*
 * Over many seeded crashes: what survives is always the synced state plus a
 * prefix of the unsynced writes in issue order, and tearing only shortens the
 * last surviving value. Both a whole prefix and a tear must be seen.
 */
CS_TEST(crash_prefix_and_tear)
{
    int saw_prefix = 0, saw_tear = 0, saw_none = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        cs_test_seed_set(seed);
        struct cs_sim_disk *d = disk_new(64, 64);
        CS_CHECK_OK(cs_sim_disk_put(d, "k0", 2, "durable", 7));
        cs_sim_disk_make_durable(d, cs_sim_disk_mark(d));
        const char *vals[] = {"aaaa", "bbbbbb", "cccccccc"};
        for (int i = 0; i < 3; i++) {
            char key[3] = {'k', (char)('1' + i), 0};
            CS_CHECK_OK(cs_sim_disk_put(d, key, 2, vals[i], strlen(vals[i])));
        }
        cs_sim_disk_crash(d, cs_test_rng(), 500000);
        check_value(d, "k0", "durable");
        int survived = 0;
        for (int i = 0; i < 3; i++) {
            char key[3] = {'k', (char)('1' + i), 0};
            const uint8_t *v;
            size_t len;
            if (cs_sim_disk_get(d, key, 2, &v, &len) != 0) {
                for (int j = i + 1; j < 3; j++) {
                    char later[3] = {'k', (char)('1' + j), 0};
                    CS_CHECK_RC(cs_sim_disk_get(d, later, 2, &v, &len), CS_ENOTFOUND);
                }
                break;
            }
            survived++;
            CS_CHECK(len <= strlen(vals[i]));
            CS_CHECK(memcmp(v, vals[i], len) == 0);
            if (len < strlen(vals[i])) {
                saw_tear++;
                CS_CHECK_MSG(i == 2 || cs_sim_disk_get(d, (char[]){'k', (char)('2' + i)}, 2, &v,
                                                       &len) == CS_ENOTFOUND,
                             "only the last surviving write may tear");
            }
        }
        saw_prefix += survived == 3;
        saw_none += survived == 0;
        cs_sim_disk_destroy(d);
    }
    CS_CHECK(saw_prefix > 0);
    CS_CHECK(saw_tear > 0);
    CS_CHECK(saw_none > 0);
}

/* Each limit: at the limit accepted, one past refused with its code and no change. */
CS_TEST(limits)
{
    struct cs_sim_disk *d = disk_new(3, 2);
    CS_CHECK_OK(cs_sim_disk_put(d, "12345678", 8, "0123456789abcdef", 16));
    CS_CHECK_RC(cs_sim_disk_put(d, "123456789", 9, "v", 1), CS_ETOOBIG);
    CS_CHECK_RC(cs_sim_disk_put(d, "k", 1, "0123456789abcdefg", 17), CS_ETOOBIG);
    CS_CHECK_RC(cs_sim_disk_put(d, "", 0, "v", 1), CS_ETOOBIG);
    CS_CHECK_OK(cs_sim_disk_put(d, "k2", 2, "v", 1)); /* entries: 2 of 2 */
    CS_CHECK_RC(cs_sim_disk_put(d, "k3", 2, "v", 1), CS_ENOSPACE);
    CS_CHECK_OK(cs_sim_disk_put(d, "k2", 2, "w", 1)); /* overwrite: no new entry; pending 3 of 3 */
    CS_CHECK_RC(cs_sim_disk_put(d, "k2", 2, "x", 1), CS_ENOSPACE);
    check_value(d, "k2", "w");
    cs_sim_disk_make_durable(d, cs_sim_disk_mark(d));
    CS_CHECK_OK(cs_sim_disk_put(d, "k2", 2, "x", 1));
    cs_sim_disk_destroy(d);
    struct cs_sim_disk_limits past = {CS_SIM_DISK_KEY_BYTES_MAX + 1, 0, 0, 0};
    CS_CHECK_RC(cs_sim_disk_create(&past, &d), CS_EINVAL);
    struct cs_sim_disk_limits at = {CS_SIM_DISK_KEY_BYTES_MAX, CS_SIM_DISK_VALUE_BYTES_MAX,
                                    CS_SIM_DISK_ENTRIES_MAX, CS_SIM_DISK_PENDING_MAX};
    CS_CHECK_OK(cs_sim_disk_create(&at, &d));
    cs_sim_disk_destroy(d);
}

CS_TEST_MAIN(CS_CASE(ordered_iteration), CS_CASE(crash_loses_unsynced_only),
             CS_CASE(sync_mark_is_a_prefix), CS_CASE(crash_prefix_and_tear), CS_CASE(limits))
