/*
 * clock_dvvset.c: dotted version vector sets on seeded random replication.
 *
 * Method: each seed runs 2-4 replicas of one key. Clients read a replica
 * (taking its context), and later write through a random replica with that
 * context; replicas sync in random directions. Every write has a unique
 * value and its dot is recorded with the context it was made on. Checked:
 *   - no lost update, no false conflict: once every replica has synced with
 *     every other, each holds exactly the writes whose dot no other write's
 *     context contains (the maximal writes of the causal order);
 *   - the replicas converge (all equal);
 *   - sync is commutative, associative and idempotent on the states seen;
 *   - decode(encode(x)) == x for every state, and every proper prefix of
 *     an encoding is rejected.
 * The checker takes event and sync as function pointers; the last case
 * plants bugs (a sync that ships the context without the values, a write
 * that ignores its context) and requires the checker to catch both.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/clock.h"
#include "testlib.h"

enum { REPLICAS_MAX = 4, WRITES_MAX = 30, READS_MAX = 6 };

struct dvv_impl {
    int (*event)(struct cs_dvvset *set, const struct cs_vclock *context, uint64_t node_id,
                 const void *value, size_t value_len, struct cs_dot *dot_out);
    int (*sync)(struct cs_dvvset *set, const struct cs_dvvset *other);
};

static const struct dvv_impl real_impl = {cs_dvvset_event, cs_dvvset_sync};

struct write {
    struct cs_dot dot;
    struct cs_vclock context;
};

struct world {
    struct cs_dvvset replicas[REPLICAS_MAX];
    uint64_t replica_ids[REPLICAS_MAX];
    size_t replicas_len;
    struct write writes[WRITES_MAX];
    size_t writes_len;
    struct cs_vclock reads[READS_MAX]; /* contexts clients hold */
    size_t reads_len;
};

static void world_init(struct world *w, struct cs_rng *rng)
{
    memset(w, 0, sizeof *w);
    w->replicas_len = 2 + cs_rng_below(rng, REPLICAS_MAX - 1);
    for (size_t i = 0; i < w->replicas_len; i++) {
        cs_dvvset_init(&w->replicas[i]);
        w->replica_ids[i] = cs_rng_chance(rng, 1, 2) ? i + 1 : cs_rng_u64(rng);
    }
    for (size_t i = 0; i < READS_MAX; i++)
        cs_vclock_init(&w->reads[i]);
}

static void world_free(struct world *w)
{
    for (size_t i = 0; i < w->replicas_len; i++)
        cs_dvvset_free(&w->replicas[i]);
    for (size_t i = 0; i < w->writes_len; i++)
        cs_vclock_free(&w->writes[i].context);
    for (size_t i = 0; i < READS_MAX; i++)
        cs_vclock_free(&w->reads[i]);
}

static void do_write(const struct dvv_impl *impl, struct world *w, struct cs_rng *rng)
{
    size_t r = cs_rng_below(rng, w->replicas_len);
    struct write *wr = &w->writes[w->writes_len];
    cs_vclock_init(&wr->context);
    if (w->reads_len > 0 && cs_rng_chance(rng, 3, 4)) {
        CS_CHECK_OK(cs_vclock_copy(&wr->context, &w->reads[cs_rng_below(rng, w->reads_len)]));
    }
    char value[16];
    int len = snprintf(value, sizeof value, "w%zu", w->writes_len);
    CS_CHECK_OK(impl->event(&w->replicas[r], &wr->context, w->replica_ids[r], value, (size_t)len,
                            &wr->dot));
    w->writes_len++;
}

/* maximal: no write's context contains this write's dot. */
static bool maximal(const struct world *w, size_t k)
{
    for (size_t j = 0; j < w->writes_len; j++) {
        const struct cs_dot d = w->writes[k].dot;
        if (cs_vclock_get(&w->writes[j].context, d.node_id) >= d.counter) return false;
    }
    return true;
}

static const char *check_algebra(const struct dvv_impl *impl, const struct cs_dvvset *a,
                                 const struct cs_dvvset *b, const struct cs_dvvset *c)
{
    const char *broken = NULL;
    struct cs_dvvset ab, ba, t, abc, a_bc;
    struct cs_dvvset *tmp[] = {&ab, &ba, &t, &abc, &a_bc};
    for (int i = 0; i < 5; i++)
        cs_dvvset_init(tmp[i]);
    CS_CHECK_OK(cs_dvvset_copy(&ab, a));
    CS_CHECK_OK(impl->sync(&ab, b));
    CS_CHECK_OK(cs_dvvset_copy(&ba, b));
    CS_CHECK_OK(impl->sync(&ba, a));
    if (!cs_dvvset_equal(&ab, &ba)) broken = "sync commutative";
    CS_CHECK_OK(cs_dvvset_copy(&t, &ab));
    CS_CHECK_OK(impl->sync(&t, &ab));
    if (!broken && !cs_dvvset_equal(&t, &ab)) broken = "sync idempotent";
    CS_CHECK_OK(cs_dvvset_copy(&abc, &ab));
    CS_CHECK_OK(impl->sync(&abc, c));
    CS_CHECK_OK(cs_dvvset_copy(&t, b));
    CS_CHECK_OK(impl->sync(&t, c));
    CS_CHECK_OK(cs_dvvset_copy(&a_bc, a));
    CS_CHECK_OK(impl->sync(&a_bc, &t));
    if (!broken && !cs_dvvset_equal(&abc, &a_bc)) broken = "sync associative";
    for (int i = 0; i < 5; i++)
        cs_dvvset_free(tmp[i]);
    return broken;
}

static const char *check_codec(const struct cs_dvvset *s)
{
    const char *broken = NULL;
    struct cs_buf buf;
    struct cs_dvvset back;
    cs_buf_init(&buf, 1 << 16);
    cs_dvvset_init(&back);
    CS_CHECK_OK(cs_dvvset_encode(s, &buf));
    if (cs_dvvset_decode(&back, buf.data, buf.len) != 0 || !cs_dvvset_equal(&back, s)) {
        broken = "decode(encode(x)) == x";
    }
    for (size_t n = 0; n < buf.len && !broken; n++) {
        if (cs_dvvset_decode(&back, buf.data, n) == 0) broken = "a proper prefix is rejected";
    }
    cs_buf_free(&buf);
    cs_dvvset_free(&back);
    return broken;
}

/* Non-vacuity: runs that ended with siblings, and writes that were superseded. */
static uint64_t runs_with_siblings, writes_superseded;

/* check_final: full sync, then convergence and the maximal-writes oracle. */
static const char *check_final(const struct dvv_impl *impl, struct world *w)
{
    for (size_t i = 1; i < w->replicas_len; i++) {
        CS_CHECK_OK(impl->sync(&w->replicas[0], &w->replicas[i]));
    }
    for (size_t i = 1; i < w->replicas_len; i++) {
        CS_CHECK_OK(impl->sync(&w->replicas[i], &w->replicas[0]));
        if (!cs_dvvset_equal(&w->replicas[i], &w->replicas[0])) return "replicas converge";
    }
    size_t live_len, expected = 0;
    const struct cs_dvvset_sibling *live = cs_dvvset_values(&w->replicas[0], &live_len);
    for (size_t k = 0; k < w->writes_len; k++) {
        bool held = false;
        for (size_t i = 0; i < live_len; i++) {
            held |= live[i].dot.node_id == w->writes[k].dot.node_id &&
                    live[i].dot.counter == w->writes[k].dot.counter;
        }
        if (maximal(w, k) && !held) return "no lost update (a maximal write is kept)";
        if (!maximal(w, k) && held) return "no false conflict (a superseded write is gone)";
        expected += maximal(w, k);
    }
    if (expected != live_len) return "only written values are live";
    runs_with_siblings += live_len > 1;
    writes_superseded += w->writes_len - live_len;
    return NULL;
}

static const char *check_run(const struct dvv_impl *impl, struct cs_rng *rng)
{
    struct world w;
    const char *broken = NULL;
    world_init(&w, rng);
    while (w.writes_len < WRITES_MAX && !broken) {
        uint64_t op = cs_rng_below(rng, 4);
        size_t r = cs_rng_below(rng, w.replicas_len);
        if (op == 0) {
            size_t slot = w.reads_len < READS_MAX ? w.reads_len++ : cs_rng_below(rng, READS_MAX);
            CS_CHECK_OK(cs_vclock_copy(&w.reads[slot], cs_dvvset_join(&w.replicas[r])));
        } else if (op == 1) {
            size_t other = cs_rng_below(rng, w.replicas_len);
            CS_CHECK_OK(impl->sync(&w.replicas[r], &w.replicas[other]));
        } else {
            do_write(impl, &w, rng);
        }
        if (cs_rng_chance(rng, 1, 4)) {
            broken =
                check_algebra(impl, &w.replicas[r], &w.replicas[cs_rng_below(rng, w.replicas_len)],
                              &w.replicas[cs_rng_below(rng, w.replicas_len)]);
        }
        if (!broken && cs_rng_chance(rng, 1, 8)) broken = check_codec(&w.replicas[r]);
    }
    if (!broken) broken = check_final(impl, &w);
    world_free(&w);
    return broken;
}

static const char *run_checks(const struct dvv_impl *impl, uint64_t seeds)
{
    const char *broken = NULL;
    for (uint64_t s = 0; s < seeds && !broken; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        broken = check_run(impl, cs_test_rng());
    }
    return broken;
}

CS_TEST(laws_hold)
{
    uint64_t seeds = cs_test_seeds(1000);
    const char *broken = run_checks(&real_impl, seeds);
    CS_CHECK_MSG(broken == NULL, "law broken: %s", broken);
    CS_CHECK(runs_with_siblings > seeds / 4);
    CS_CHECK(writes_superseded > seeds * 5);
}

/*
 * Planted bug 1: a sync that takes the other replica's context but not its
 * values (as if only the version vector were shipped).
 */
static int sync_context_only(struct cs_dvvset *set, const struct cs_dvvset *other)
{
    struct cs_dvvset context_only;
    cs_dvvset_init(&context_only);
    int rc = cs_vclock_copy(&context_only.context, &other->context);
    if (rc == 0) rc = cs_dvvset_sync(set, &context_only);
    cs_dvvset_free(&context_only);
    return rc;
}

/* Planted bug 2: a write that ignores the context the client read. */
static int event_ignores_context(struct cs_dvvset *set, const struct cs_vclock *context,
                                 uint64_t node_id, const void *value, size_t value_len,
                                 struct cs_dot *dot_out)
{
    struct cs_vclock empty;
    cs_vclock_init(&empty);
    (void)context;
    return cs_dvvset_event(set, &empty, node_id, value, value_len, dot_out);
}

CS_TEST(planted_bugs_are_caught)
{
    static const struct dvv_impl context_only = {cs_dvvset_event, sync_context_only};
    static const struct dvv_impl blind = {event_ignores_context, cs_dvvset_sync};
    const char *caught[2] = {run_checks(&context_only, 30), run_checks(&blind, 30)};
    CS_CHECK(caught[0] != NULL && caught[1] != NULL);
    if (getenv("CS_VERBOSE")) {
        fprintf(stderr, "planted bugs caught by: %s; %s\n", caught[0], caught[1]);
    }
}

CS_TEST_MAIN(CS_CASE(laws_hold), CS_CASE(planted_bugs_are_caught))
