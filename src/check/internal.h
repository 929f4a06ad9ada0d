/*
 * check/internal.h: helpers shared by the files of src/check, not public.
 */
#ifndef CS_CHECK_INTERNAL_H
#define CS_CHECK_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "consist/check.h"

/* cs_check_mix64: a strong 64-bit finaliser (splitmix64's). */
static inline uint64_t cs_check_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* cs_check_hash_bytes: 8 bytes at a time, each word mixed in by multiply
 * and rotate, then finalised; good enough for table hashing (equality is
 * always confirmed by comparing bytes). */
static inline uint64_t cs_check_hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0x243f6a8885a308d3ull ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ (w * 0x9fb21c651e98df25ull)) * 0xc6a4a7935bd1e995ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t k = 0; i < len; i++, k += 8)
        tail |= (uint64_t)p[i] << k;
    return cs_check_mix64(h ^ tail);
}

/* Shared by the readers: the line-numbered error and the event they build. */
int cs_check_read_jsonl(struct cs_history *h, const char *text, size_t len,
                        struct cs_parse_error *err);
int cs_check_read_edn(struct cs_history *h, const char *text, size_t len,
                      struct cs_parse_error *err);
int cs_check_read_etcd(struct cs_history *h, const char *text, size_t len,
                       struct cs_parse_error *err);

/* cs_check_values_equal: deep equality of two values of one history. */
bool cs_check_values_equal(const struct cs_history *h, struct cs_value a, struct cs_value b);

/* cs_check_value_text: append a short human form of v (for explanations). */
int cs_check_value_text(const struct cs_history *h, struct cs_value v, struct cs_buf *out);

/* The shared context of one check call: inputs, budget accounting, result. */
struct cs_check_work {
    const struct cs_history *h;
    const struct cs_model_spec *spec;
    const struct cs_check_budget *budget; /* never NULL (a zero budget if none given) */
    struct cs_check_budget budget_none;
    struct cs_check_result *result;
    uint64_t steps;
    uint64_t memory_bytes_max;
    unsigned flags; /* CS_CHECK_SEARCH_ONLY, CS_CHECK_PLANT_* */
};

/* Flags of cs_check_linearizable_flags. SEARCH_ONLY: never the zones test
 * (the stale-read test and the search decide). PLANT_ZONES_NO_BACKWARD, for
 * tests only: a zones test that skips "no backward zone inside a forward
 * zone", to show the cross-check with the search catches it. */
#define CS_CHECK_SEARCH_ONLY             1u
#define CS_CHECK_PLANT_ZONES_NO_BACKWARD 2u

/*
 * cs_check_linearizable_flags: cs_check_linearizable with flags, so tests and
 * benchmarks can compare the search with the zones test on one history, and
 * show that the cross-check catches a planted bug. Same returns.
 */
int cs_check_linearizable_flags(const struct cs_history *h, const struct cs_model_spec *model,
                                const struct cs_check_budget *budget, unsigned flags,
                                struct cs_check_result *result);

/* cs_check_work_init: also clears *result and sets its consistency. */
void cs_check_work_init(struct cs_check_work *w, const struct cs_history *h,
                        const struct cs_model_spec *spec, const struct cs_check_budget *budget,
                        struct cs_check_result *result, enum cs_consistency consistency);

/* cs_check_work_tick: CS_EBUDGET once steps, memory or time run out, else 0. */
int cs_check_work_tick(struct cs_check_work *w, uint64_t memory_bytes);

/* cs_check_work_finish: rc >= 0 is a verdict: store it and return 0; a
 * negative rc is returned as it is. */
int cs_check_work_finish(struct cs_check_work *w, int rc);

/* cs_check_partitions: run check over the non-dropped ops, one call per key
 * when split, else one call over all (product state). Combines verdicts:
 * the first invalid partition wins, else unknown if any, else valid. */
int cs_check_partitions(struct cs_check_work *w, struct cs_check_result *r, bool split,
                        int (*check)(struct cs_check_work *, const uint32_t *, uint32_t, uint32_t,
                                     bool, struct cs_check_result *));

#endif /* CS_CHECK_INTERNAL_H */
