/*
 * consist/rng.h: a seeded pseudo-random generator with explicit state.
 *
 * Every random choice in consist (election timeouts, simulated faults,
 * property-test operations) comes from a struct cs_rng the caller owns, so a
 * seed replays a run exactly. There is no global generator. The algorithm is
 * xoshiro256** seeded through splitmix64: fast, 256 bits of state, and
 * statistically strong enough for simulation (not for cryptography).
 */
#ifndef CONSIST_RNG_H
#define CONSIST_RNG_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cs_rng {
    uint64_t s[4];
};

/* cs_rng_init: seed the generator; any seed, including 0, is valid. */
void cs_rng_init(struct cs_rng *rng, uint64_t seed);

/* cs_rng_u64: the next 64 uniformly random bits. */
uint64_t cs_rng_u64(struct cs_rng *rng);

/* cs_rng_below: uniform in [0, bound), without modulo bias. bound must be > 0. */
uint64_t cs_rng_below(struct cs_rng *rng, uint64_t bound);

/* cs_rng_range: uniform in [lo, hi] inclusive; requires lo <= hi. */
uint64_t cs_rng_range(struct cs_rng *rng, uint64_t lo, uint64_t hi);

/* cs_rng_chance: true with probability numerator/denominator (denominator > 0). */
bool cs_rng_chance(struct cs_rng *rng, uint64_t numerator, uint64_t denominator);

/* cs_rng_unit: uniform double in [0, 1). */
double cs_rng_unit(struct cs_rng *rng);

/*
 * cs_rng_fork: seed child from parent so that the two streams are independent;
 * advances parent by one draw. Lets a simulator give each node its own stream
 * without one node's draws shifting another's.
 */
void cs_rng_fork(struct cs_rng *parent, struct cs_rng *child);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_RNG_H */
