/*
 * rng.c: xoshiro256** (Blackman and Vigna, 2018) seeded by splitmix64.
 * splitmix64 spreads any 64-bit seed over the 256-bit state, so seeds 0, 1,
 * 2, ... give unrelated streams and the state is never all zero.
 */
#include "consist/rng.h"

#include "base/assert.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void cs_rng_init(struct cs_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        rng->s[i] = splitmix64(&x);
    }
    CS_ASSERT((rng->s[0] | rng->s[1] | rng->s[2] | rng->s[3]) != 0);
}

uint64_t cs_rng_u64(struct cs_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t cs_rng_below(struct cs_rng *rng, uint64_t bound)
{
    CS_ASSERT(bound > 0);
    /* Lemire's multiply-shift with rejection of the biased low region. */
    uint64_t x = cs_rng_u64(rng);
    __uint128_t m = (__uint128_t)x * bound;
    uint64_t low = (uint64_t)m;
    if (low < bound) {
        uint64_t threshold = -bound % bound;
        while (low < threshold) {
            x = cs_rng_u64(rng);
            m = (__uint128_t)x * bound;
            low = (uint64_t)m;
        }
    }
    uint64_t v = (uint64_t)(m >> 64);
    CS_ASSERT(v < bound);
    return v;
}

uint64_t cs_rng_range(struct cs_rng *rng, uint64_t lo, uint64_t hi)
{
    CS_ASSERT(lo <= hi);
    if (lo == 0 && hi == UINT64_MAX) return cs_rng_u64(rng);
    return lo + cs_rng_below(rng, hi - lo + 1);
}

bool cs_rng_chance(struct cs_rng *rng, uint64_t numerator, uint64_t denominator)
{
    CS_ASSERT(denominator > 0);
    if (numerator >= denominator) return true;
    return cs_rng_below(rng, denominator) < numerator;
}

double cs_rng_unit(struct cs_rng *rng)
{
    return (double)(cs_rng_u64(rng) >> 11) * 0x1.0p-53;
}

void cs_rng_fork(struct cs_rng *parent, struct cs_rng *child)
{
    cs_rng_init(child, cs_rng_u64(parent));
}
