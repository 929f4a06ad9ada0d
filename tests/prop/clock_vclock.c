/*
 * clock_vclock.c: the vector clock's laws on seeded random clocks.
 *
 * Method: each seed runs a random message-passing execution (ticks, sends,
 * receives among up to 6 nodes with arbitrary 64-bit ids) and keeps a pool
 * of the clocks it produced, so the pool holds ordered, equal and concurrent
 * pairs alike; a few fully random clocks are added. Over every pair and
 * triple of the pool the checkers verify:
 *   - compare agrees with the definition (a <= b iff every counter of a is
 *     <= b's, read through cs_vclock_get) and is a partial order:
 *     reflexive, antisymmetric, transitive; the predicates agree with it;
 *   - merge is the least upper bound: the entry-wise max, commutative,
 *     associative, idempotent, >= both arguments, and <= every upper bound;
 *   - update is merge then tick;
 *   - decode(encode(x)) == x, and every proper prefix of an encoding, and
 *     random bytes, are rejected or decode to a clock that re-encodes to
 *     the same bytes.
 * The checkers take the implementation as function pointers, and the last
 * cases plant bugs (a merge that forgets new members, a merge that adds, a
 * compare that ignores a tail) and require the checkers to catch each one.
 * Failures print the seed; CS_SEED=n CS_SEEDS=1 replays one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/clock.h"
#include "testlib.h"

enum { POOL_MAX = 14, NODES_MAX = 6, EVENTS = 40 };

struct vc_impl {
    int (*merge)(struct cs_vclock *dst, const struct cs_vclock *src);
    enum cs_vc_order (*compare)(const struct cs_vclock *a, const struct cs_vclock *b);
};

static const struct vc_impl real_impl = {cs_vclock_merge, cs_vclock_compare};

struct pool {
    struct cs_vclock clocks[POOL_MAX];
    size_t len;
};

static void pool_add(struct pool *p, const struct cs_vclock *vc)
{
    if (p->len == POOL_MAX) return;
    cs_vclock_init(&p->clocks[p->len]);
    CS_CHECK_OK(cs_vclock_copy(&p->clocks[p->len], vc));
    p->len++;
}

static void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->len; i++)
        cs_vclock_free(&p->clocks[i]);
    p->len = 0;
}

/* random_clock: up to 8 entries with ids and counters from small or full ranges. */
static void random_clock(struct cs_rng *rng, struct cs_vclock *vc)
{
    cs_vclock_free(vc);
    size_t n = cs_rng_below(rng, 9);
    for (size_t i = 0; i < n; i++) {
        uint64_t id = cs_rng_chance(rng, 1, 2) ? cs_rng_below(rng, 10) : cs_rng_u64(rng);
        CS_CHECK_OK(cs_vclock_tick(vc, id));
        if (cs_rng_chance(rng, 1, 4)) {
            /* A large counter, set directly: ticking there would take forever. */
            for (uint32_t k = 0; k < vc->entries_len; k++) {
                if (vc->entries[k].node_id == id) vc->entries[k].counter = cs_rng_u64(rng) | 1;
            }
        }
    }
}

/*
 * pool_fill: a random execution. Each event is a local tick, a send (the
 * sender's clock goes into an in-flight bag) or the receive of a random
 * in-flight message; some events' clocks are kept.
 */
static void pool_fill(struct cs_rng *rng, struct pool *p)
{
    struct cs_vclock_node nodes[NODES_MAX];
    struct cs_vclock bag[8];
    size_t nodes_len = 2 + cs_rng_below(rng, NODES_MAX - 1), bag_len = 0;
    for (size_t i = 0; i < nodes_len; i++) {
        uint64_t id = cs_rng_chance(rng, 1, 2) ? i : cs_rng_u64(rng);
        CS_CHECK_OK(cs_vclock_node_init(&nodes[i], id, nodes_len));
    }
    for (size_t i = 0; i < 8; i++)
        cs_vclock_init(&bag[i]);
    struct cs_vclock empty;
    cs_vclock_init(&empty);
    pool_add(p, &empty);
    for (int e = 0; e < EVENTS; e++) {
        struct cs_vclock_node *n = &nodes[cs_rng_below(rng, nodes_len)];
        uint64_t kind = cs_rng_below(rng, 3);
        if (kind == 2 && bag_len > 0) {
            CS_CHECK_OK(cs_vclock_node_update(n, &bag[cs_rng_below(rng, bag_len)]));
        } else {
            CS_CHECK_OK(cs_vclock_node_tick(n));
            if (kind == 1)
                CS_CHECK_OK(cs_vclock_copy(&bag[bag_len < 8 ? bag_len++ : cs_rng_below(rng, 8)],
                                           &n->clock));
        }
        if (cs_rng_chance(rng, 1, 4)) pool_add(p, &n->clock);
    }
    for (int k = 0; k < 3; k++) {
        struct cs_vclock r;
        cs_vclock_init(&r);
        random_clock(rng, &r);
        pool_add(p, &r);
        cs_vclock_free(&r);
    }
    for (size_t i = 0; i < nodes_len; i++)
        cs_vclock_node_free(&nodes[i]);
    for (size_t i = 0; i < 8; i++)
        cs_vclock_free(&bag[i]);
}

/* leq: the definition, through cs_vclock_get only. */
static bool leq(const struct cs_vclock *a, const struct cs_vclock *b)
{
    for (uint32_t i = 0; i < a->entries_len; i++) {
        if (a->entries[i].counter > cs_vclock_get(b, a->entries[i].node_id)) return false;
    }
    return true;
}

static enum cs_vc_order model_compare(const struct cs_vclock *a, const struct cs_vclock *b)
{
    bool ab = leq(a, b), ba = leq(b, a);
    if (ab && ba) return CS_VC_EQUAL;
    if (ab) return CS_VC_BEFORE;
    if (ba) return CS_VC_AFTER;
    return CS_VC_CONCURRENT;
}

static bool impl_leq(const struct vc_impl *impl, const struct cs_vclock *a,
                     const struct cs_vclock *b)
{
    enum cs_vc_order o = impl->compare(a, b);
    return o == CS_VC_EQUAL || o == CS_VC_BEFORE;
}

/* check_order: the partial-order laws; returns the first law broken, or NULL. */
static const char *check_order(const struct vc_impl *impl, const struct pool *p)
{
    for (size_t i = 0; i < p->len; i++) {
        const struct cs_vclock *a = &p->clocks[i];
        if (impl->compare(a, a) != CS_VC_EQUAL) return "reflexive";
        for (size_t j = 0; j < p->len; j++) {
            const struct cs_vclock *b = &p->clocks[j];
            enum cs_vc_order o = impl->compare(a, b);
            if (o != model_compare(a, b)) return "compare matches the definition";
            if (impl_leq(impl, a, b) && impl_leq(impl, b, a) && !cs_vclock_equal(a, b)) {
                return "antisymmetric";
            }
            if (cs_vclock_happens_before(a, b) != (o == CS_VC_BEFORE)) return "happens_before";
            if (cs_vclock_concurrent(a, b) != (o == CS_VC_CONCURRENT)) return "concurrent";
            if (cs_vclock_descends(b, a) != impl_leq(impl, a, b)) return "descends";
            for (size_t k = 0; k < p->len; k++) {
                const struct cs_vclock *c = &p->clocks[k];
                if (impl_leq(impl, a, b) && impl_leq(impl, b, c) && !impl_leq(impl, a, c)) {
                    return "transitive";
                }
            }
        }
    }
    return NULL;
}

/* merged: out := impl merge of a and b (out initialised). */
static void merged(const struct vc_impl *impl, struct cs_vclock *out, const struct cs_vclock *a,
                   const struct cs_vclock *b)
{
    CS_CHECK_OK(cs_vclock_copy(out, a));
    CS_CHECK_OK(impl->merge(out, b));
}

static bool is_entrywise_max(const struct cs_vclock *m, const struct cs_vclock *a,
                             const struct cs_vclock *b)
{
    const struct cs_vclock *sides[] = {a, b, m};
    for (int s = 0; s < 3; s++) {
        for (uint32_t i = 0; i < sides[s]->entries_len; i++) {
            uint64_t id = sides[s]->entries[i].node_id;
            uint64_t x = cs_vclock_get(a, id), y = cs_vclock_get(b, id);
            if (cs_vclock_get(m, id) != (x > y ? x : y)) return false;
        }
    }
    return true;
}

/* check_lub: merge is the least upper bound; returns the first law broken, or NULL. */
static const char *check_lub(const struct vc_impl *impl, struct cs_rng *rng, const struct pool *p)
{
    const char *broken = NULL;
    struct cs_vclock ab, ba, abc, a_bc, t, upper;
    struct cs_vclock *tmp[] = {&ab, &ba, &abc, &a_bc, &t, &upper};
    for (int i = 0; i < 6; i++)
        cs_vclock_init(tmp[i]);
    for (size_t i = 0; i < p->len && !broken; i++) {
        const struct cs_vclock *a = &p->clocks[i];
        merged(impl, &t, a, a);
        if (!cs_vclock_equal(&t, a)) broken = "idempotent";
        for (size_t j = 0; j < p->len && !broken; j++) {
            const struct cs_vclock *b = &p->clocks[j];
            merged(impl, &ab, a, b);
            merged(impl, &ba, b, a);
            if (!cs_vclock_equal(&ab, &ba))
                broken = "commutative";
            else if (!leq(a, &ab) || !leq(b, &ab))
                broken = ">= both";
            else if (!is_entrywise_max(&ab, a, b))
                broken = "entry-wise max";
            /* Least: a random upper bound of both is above the merge. */
            CS_CHECK_OK(cs_vclock_copy(&upper, &ab));
            for (int k = 0; k < 3; k++) {
                if (ab.entries_len && cs_rng_chance(rng, 1, 2)) {
                    CS_CHECK_OK(cs_vclock_tick(
                        &upper, ab.entries[cs_rng_below(rng, ab.entries_len)].node_id));
                }
            }
            if (!broken && !impl_leq(impl, &ab, &upper)) broken = "least";
            if (!broken && leq(a, &p->clocks[(i + j) % p->len]) &&
                leq(b, &p->clocks[(i + j) % p->len]) && !leq(&ab, &p->clocks[(i + j) % p->len])) {
                broken = "least (pool bound)";
            }
            /* update == merge then tick. */
            CS_CHECK_OK(cs_vclock_copy(&t, a));
            uint64_t id = b->entries_len ? b->entries[0].node_id : 77;
            if (cs_vclock_update(&t, id, b) == 0) {
                CS_CHECK_OK(cs_vclock_tick(&ab, id));
                if (!broken && !cs_vclock_equal(&t, &ab) && impl->merge == cs_vclock_merge) {
                    broken = "update is merge then tick";
                }
            }
            const struct cs_vclock *c = &p->clocks[(i * 7 + j * 3) % p->len];
            merged(impl, &abc, a, b);
            CS_CHECK_OK(impl->merge(&abc, c));
            merged(impl, &a_bc, b, c);
            merged(impl, &t, a, &a_bc);
            if (!broken && !cs_vclock_equal(&abc, &t)) broken = "associative";
        }
    }
    for (int i = 0; i < 6; i++)
        cs_vclock_free(tmp[i]);
    return broken;
}

/* check_codec: round trips, prefixes and random bytes. */
static const char *check_codec(struct cs_rng *rng, const struct pool *p)
{
    const char *broken = NULL;
    struct cs_buf buf, again;
    struct cs_vclock back;
    cs_buf_init(&buf, CS_VCLOCK_ENCODED_BYTES_MAX);
    cs_buf_init(&again, CS_VCLOCK_ENCODED_BYTES_MAX);
    cs_vclock_init(&back);
    for (size_t i = 0; i < p->len && !broken; i++) {
        cs_buf_reset(&buf);
        CS_CHECK_OK(cs_vclock_encode(&p->clocks[i], &buf));
        if (cs_vclock_decode(&back, buf.data, buf.len) != 0)
            broken = "decode(encode(x)) succeeds";
        else if (!cs_vclock_equal(&back, &p->clocks[i]))
            broken = "decode(encode(x)) == x";
        for (size_t n = 0; n < buf.len && !broken; n++) {
            if (cs_vclock_decode(&back, buf.data, n) == 0) broken = "a proper prefix is rejected";
        }
        /* Random corruption: rejected, or canonical. */
        uint8_t noise[48];
        size_t len = cs_rng_below(rng, sizeof noise + 1);
        for (size_t k = 0; k < len; k++)
            noise[k] = (uint8_t)cs_rng_u64(rng);
        if (len && cs_rng_chance(rng, 1, 2)) noise[0] = CS_VCLOCK_ENCODING_VERSION;
        int rc = cs_vclock_decode(&back, noise, len);
        if (rc == 0) {
            cs_buf_reset(&again);
            CS_CHECK_OK(cs_vclock_encode(&back, &again));
            if (again.len != len || memcmp(again.data, noise, len) != 0) broken = "canonical";
        } else if (rc != CS_EDECODE && rc != CS_ETOOBIG && rc != CS_EVERSION) {
            broken = "decode error codes";
        }
    }
    cs_buf_free(&buf);
    cs_buf_free(&again);
    cs_vclock_free(&back);
    return broken;
}

/* run_checks: every checker over seeds; returns the first law broken, or NULL. */
static const char *run_checks(const struct vc_impl *impl, uint64_t seeds)
{
    const char *broken = NULL;
    for (uint64_t s = 0; s < seeds && !broken; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct pool p = {.len = 0};
        pool_fill(cs_test_rng(), &p);
        broken = check_order(impl, &p);
        if (!broken) broken = check_lub(impl, cs_test_rng(), &p);
        if (!broken && impl == &real_impl) broken = check_codec(cs_test_rng(), &p);
        pool_free(&p);
    }
    return broken;
}

/* The pools hold every relation, or the laws above would be checked vacuously. */
CS_TEST(pools_hold_every_relation)
{
    size_t seen[4] = {0};
    for (uint64_t s = 0; s < 20; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct pool p = {.len = 0};
        pool_fill(cs_test_rng(), &p);
        for (size_t i = 0; i < p.len; i++) {
            for (size_t j = 0; j < p.len; j++) {
                if (i != j) seen[cs_vclock_compare(&p.clocks[i], &p.clocks[j])]++;
            }
        }
        pool_free(&p);
    }
    if (getenv("CS_VERBOSE")) {
        fprintf(stderr, "equal %zu before %zu after %zu concurrent %zu\n", seen[0], seen[1],
                seen[2], seen[3]);
    }
    CS_CHECK(seen[CS_VC_EQUAL] > 0);
    CS_CHECK(seen[CS_VC_BEFORE] > 100);
    CS_CHECK(seen[CS_VC_AFTER] > 100);
    CS_CHECK(seen[CS_VC_CONCURRENT] > 100);
}

CS_TEST(laws_hold)
{
    const char *broken = run_checks(&real_impl, cs_test_seeds(1000));
    CS_CHECK_MSG(broken == NULL, "law broken: %s", broken);
}

/* Planted bug 1: merge that only raises members dst already has. */
static int merge_forgets_members(struct cs_vclock *dst, const struct cs_vclock *src)
{
    for (uint32_t i = 0; i < dst->entries_len; i++) {
        uint64_t theirs = cs_vclock_get(src, dst->entries[i].node_id);
        if (theirs > dst->entries[i].counter) dst->entries[i].counter = theirs;
    }
    return 0;
}

/* Planted bug 2: merge that adds counters (a common confusion with G-Counter). */
static int merge_adds(struct cs_vclock *dst, const struct cs_vclock *src)
{
    int rc = cs_vclock_merge(dst, src);
    for (uint32_t i = 0; rc == 0 && i < dst->entries_len; i++) {
        uint64_t theirs = cs_vclock_get(src, dst->entries[i].node_id);
        if (theirs && theirs != dst->entries[i].counter) dst->entries[i].counter += theirs;
    }
    return rc;
}

/* Planted bug 3: compare that stops at the shorter clock, missing tail entries. */
static enum cs_vc_order compare_ignores_tail(const struct cs_vclock *a, const struct cs_vclock *b)
{
    struct cs_vclock x = *a, y = *b;
    uint32_t n = a->entries_len < b->entries_len ? a->entries_len : b->entries_len;
    x.entries_len = n;
    y.entries_len = n;
    return cs_vclock_compare(&x, &y);
}

CS_TEST(planted_bugs_are_caught)
{
    static const struct vc_impl forgets = {merge_forgets_members, cs_vclock_compare};
    static const struct vc_impl adds = {merge_adds, cs_vclock_compare};
    static const struct vc_impl tail = {cs_vclock_merge, compare_ignores_tail};
    const char *caught[3] = {run_checks(&forgets, 20), run_checks(&adds, 20),
                             run_checks(&tail, 20)};
    CS_CHECK(caught[0] != NULL && caught[1] != NULL && caught[2] != NULL);
    if (getenv("CS_VERBOSE")) {
        for (int i = 0; i < 3; i++)
            fprintf(stderr, "planted bug %d caught by: %s\n", i, caught[i]);
    }
}

CS_TEST_MAIN(CS_CASE(pools_hold_every_relation), CS_CASE(laws_hold),
             CS_CASE(planted_bugs_are_caught))
