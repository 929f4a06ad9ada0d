/*
 * check/memo.h: Lowe's memo of visited search configurations.
 *
 * A configuration is (set of ops already ordered, model state). The set is a
 * bitset in two parts: `words_exact` words for ops with a known outcome, then
 * `words_subset` words for ops whose outcome is unknown (info). Its hash
 * covers the state and the first part only, kept incrementally by the search
 * as the XOR of one random key per op (Zobrist hashing).
 *
 * The second part is compared by inclusion, not equality: a configuration
 * that has placed fewer unknown ops dominates one with the same known ops and
 * state that has placed more (anything the latter can still do, the former
 * can too, since an unknown op may be placed at any later point or never).
 * So a configuration is "seen" when a recorded one has the same known part
 * and state and a subset of its unknown part. Open addressing, linear
 * probing; bitsets live in one arena.
 */
#ifndef CS_CHECK_MEMO_H
#define CS_CHECK_MEMO_H

#include <stdint.h>

/* Recorded configurations with the same known part and state but unknown
 * parts that do not include one another; past this, the oldest is replaced. */
#define CS_MEMO_VARIANTS_MAX 4u

struct cs_memo_slot {
    uint64_t hash; /* 0 marks an empty slot (hashes are forced non-zero) */
    uint64_t state;
    uint64_t bits; /* offset of the bitset in the arena, in words */
};

struct cs_memo {
    struct cs_memo_slot *slots;
    uint64_t cap; /* power of two */
    uint64_t len;
    uint64_t *arena;
    uint64_t arena_len, arena_cap; /* in words */
    uint32_t words_exact;
    uint32_t words_subset;
    uint64_t memory_bytes;
};

void cs_memo_init(struct cs_memo *memo, uint32_t words_exact, uint32_t words_subset);
void cs_memo_free(struct cs_memo *memo);

/* cs_memo_insert: 1 if (bits, state) was new (not dominated) and is now
 * recorded, 0 if dominated by a recorded configuration, CS_ENOMEM. hash must
 * combine the exact part of bits and state. */
int cs_memo_insert(struct cs_memo *memo, const uint64_t *bits, uint64_t state, uint64_t hash);

#endif /* CS_CHECK_MEMO_H */
