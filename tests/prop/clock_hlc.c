/*
 * clock_hlc.c: the hybrid logical clock's guarantees on seeded random runs.
 *
 * Method: each seed simulates 2-5 nodes whose physical clocks read true
 * time plus a fixed skew within +-skew_ms (never going backwards on one
 * node) and exchange messages in random order. drift_ms_max is 2 * skew_ms,
 * the worst gap two correct clocks can show. Checked after every event:
 *   - monotonic: a node's timestamps strictly increase;
 *   - causal: a receive's timestamp is above the message's;
 *   - bounded drift: physical_ms - local physical time <= drift_ms_max,
 *     physical_ms is never behind local physical time, and no correct
 *     remote is ever refused;
 *   - packed order == pair order, for every pair of timestamps seen and for
 *     random pairs near the field boundaries;
 *   - a remote from beyond the bound is refused with CS_ECLOCKDRIFT and the
 *     clock is unchanged.
 * The checker takes update and pack as function pointers; the last case
 * plants bugs (an update that ignores the remote, a pack with the fields
 * swapped) and requires the checker to catch them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "consist/clock.h"
#include "testlib.h"

enum { NODES_MAX = 5, EVENTS = 300, INFLIGHT_MAX = 16 };

struct hlc_impl {
    int (*update)(struct cs_hlc *hlc, struct cs_hlc_ts remote, uint64_t physical_ms,
                  struct cs_hlc_ts *out);
    uint64_t (*pack)(struct cs_hlc_ts ts);
};

static const struct hlc_impl real_impl = {cs_hlc_update, cs_hlc_pack};

static int sign(int64_t x)
{
    return (x > 0) - (x < 0);
}

static int packed_order(const struct hlc_impl *impl, struct cs_hlc_ts a, struct cs_hlc_ts b)
{
    uint64_t x = impl->pack(a), y = impl->pack(b);
    return (x > y) - (x < y);
}

/* check_pack: packed order equals pair order on boundary-heavy random pairs. */
static const char *check_pack(const struct hlc_impl *impl, struct cs_rng *rng)
{
    for (int i = 0; i < 200; i++) {
        struct cs_hlc_ts a, b;
        a.physical_ms = cs_rng_chance(rng, 1, 2) ? cs_rng_below(rng, 4) : cs_rng_u64(rng) >> 16;
        b.physical_ms = cs_rng_chance(rng, 1, 3) ? a.physical_ms : a.physical_ms ^ 1;
        a.logical = (uint16_t)(cs_rng_chance(rng, 1, 2) ? cs_rng_below(rng, 3) : cs_rng_u64(rng));
        b.logical = (uint16_t)(cs_rng_chance(rng, 1, 2) ? UINT16_MAX : cs_rng_u64(rng));
        if (packed_order(impl, a, b) != cs_hlc_compare(a, b)) return "packed order == pair order";
        struct cs_hlc_ts back = cs_hlc_unpack(impl->pack(a));
        if (cs_hlc_compare(back, a) != 0) return "unpack(pack(x)) == x";
    }
    return NULL;
}

struct message {
    struct cs_hlc_ts ts;
};

/* check_run: one simulated run; returns the first guarantee broken, or NULL. */
static const char *check_run(const struct hlc_impl *impl, struct cs_rng *rng)
{
    struct cs_hlc nodes[NODES_MAX];
    int64_t skew[NODES_MAX];
    uint64_t last_physical[NODES_MAX];
    struct message inflight[INFLIGHT_MAX];
    size_t nodes_len = 2 + cs_rng_below(rng, NODES_MAX - 1), inflight_len = 0;
    uint64_t skew_ms = cs_rng_below(rng, 50), drift_ms_max = 2 * skew_ms;
    uint64_t true_ms = 1000;
    struct cs_hlc_ts prev_seen = {0, 0};
    for (size_t i = 0; i < nodes_len; i++) {
        cs_hlc_init(&nodes[i], drift_ms_max);
        skew[i] = (int64_t)cs_rng_range(rng, 0, 2 * skew_ms) - (int64_t)skew_ms;
        last_physical[i] = 0;
    }
    for (int e = 0; e < EVENTS; e++) {
        true_ms += cs_rng_chance(rng, 1, 3) ? cs_rng_below(rng, 5) : 0;
        size_t n = cs_rng_below(rng, nodes_len);
        uint64_t physical_ms = (uint64_t)((int64_t)true_ms + skew[n]);
        if (physical_ms < last_physical[n]) physical_ms = last_physical[n];
        last_physical[n] = physical_ms;
        struct cs_hlc_ts before = nodes[n].last, out;
        bool receive = inflight_len > 0 && cs_rng_chance(rng, 1, 2);
        if (receive) {
            size_t m = cs_rng_below(rng, inflight_len);
            struct cs_hlc_ts remote = inflight[m].ts;
            inflight[m] = inflight[--inflight_len];
            int rc = impl->update(&nodes[n], remote, physical_ms, &out);
            if (rc == CS_ECLOCKDRIFT) return "correct remotes are accepted";
            CS_CHECK_OK(rc);
            if (cs_hlc_compare(out, remote) <= 0) return "causal: receive > message";
        } else {
            CS_CHECK_OK(cs_hlc_now(&nodes[n], physical_ms, &out));
            if (inflight_len < INFLIGHT_MAX && cs_rng_chance(rng, 2, 3)) {
                inflight[inflight_len++].ts = out;
            }
        }
        if (cs_hlc_compare(out, before) <= 0) return "monotonic";
        if (out.physical_ms > physical_ms + drift_ms_max) return "bounded drift";
        if (out.physical_ms < physical_ms) return "never behind physical time";
        if (packed_order(impl, out, prev_seen) != sign(cs_hlc_compare(out, prev_seen))) {
            return "packed order == pair order (run)";
        }
        prev_seen = out;

        /* A remote from beyond the bound is refused and changes nothing. */
        struct cs_hlc_ts far = {.physical_ms = physical_ms + drift_ms_max + 1, .logical = 0};
        struct cs_hlc_ts keep = nodes[n].last, ignored;
        if (impl->update(&nodes[n], far, physical_ms, &ignored) != CS_ECLOCKDRIFT) {
            return "far remote refused";
        }
        if (cs_hlc_compare(nodes[n].last, keep) != 0) return "refusal leaves the clock unchanged";
    }
    return NULL;
}

static const char *run_checks(const struct hlc_impl *impl, uint64_t seeds)
{
    const char *broken = NULL;
    for (uint64_t s = 0; s < seeds && !broken; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        broken = check_pack(impl, cs_test_rng());
        if (!broken) broken = check_run(impl, cs_test_rng());
    }
    return broken;
}

CS_TEST(guarantees_hold)
{
    const char *broken = run_checks(&real_impl, cs_test_seeds(1000));
    CS_CHECK_MSG(broken == NULL, "guarantee broken: %s", broken);
}

/* Planted bug 1: a receive that ignores the remote timestamp (a plain local tick). */
static int update_ignores_remote(struct cs_hlc *hlc, struct cs_hlc_ts remote, uint64_t physical_ms,
                                 struct cs_hlc_ts *out)
{
    if (remote.physical_ms > physical_ms && remote.physical_ms - physical_ms > hlc->drift_ms_max) {
        return CS_ECLOCKDRIFT;
    }
    return cs_hlc_now(hlc, physical_ms, out);
}

/* Planted bug 2: logical in the high bits. */
static uint64_t pack_swapped(struct cs_hlc_ts ts)
{
    return ((uint64_t)ts.logical << 48) | ts.physical_ms;
}

CS_TEST(planted_bugs_are_caught)
{
    static const struct hlc_impl ignores = {update_ignores_remote, cs_hlc_pack};
    static const struct hlc_impl swapped = {cs_hlc_update, pack_swapped};
    const char *caught[2] = {run_checks(&ignores, 20), run_checks(&swapped, 20)};
    CS_CHECK(caught[0] != NULL && caught[1] != NULL);
    if (getenv("CS_VERBOSE")) {
        fprintf(stderr, "planted bugs caught by: %s; %s\n", caught[0], caught[1]);
    }
}

CS_TEST_MAIN(CS_CASE(guarantees_hold), CS_CASE(planted_bugs_are_caught))
