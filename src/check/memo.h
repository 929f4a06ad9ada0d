/*
 * check/memo.h: Lowe's memo of visited search configurations, with
 * dominance for ops of unknown outcome.
 *
 * A configuration is (ops with a known outcome placed, ops of unknown
 * outcome placed, model state), the two sets as bitsets. A configuration
 * that placed fewer unknown ops dominates one with the same known ops and
 * state that placed more: an unknown op may be placed at any later point or
 * never, so whatever the second can still do, the first can too. So a
 * configuration counts as seen when a recorded one has the same known set
 * and state and a subset of its unknown set; this collapses the 2^info ways
 * of having placed info ops.
 *
 * Two levels keep that cheap: a hash table keyed by (known set, state), its
 * hash kept incrementally by the search as the XOR of one random key per
 * known op (Zobrist hashing); and per key a list of the unknown sets seen,
 * none including another (a new set removes the ones it is a subset of).
 * Lists are short, and testing inclusion is a few word operations.
 */
#ifndef CS_CHECK_MEMO_H
#define CS_CHECK_MEMO_H

#include <stdint.h>

struct cs_memo_slot {
    uint64_t hash; /* 0 marks an empty slot (hashes are forced non-zero) */
    uint64_t state;
    uint64_t bits;     /* offset of the known set in the arena, in words */
    uint64_t variants; /* offset of the first unknown-set record, or NONE */
};

struct cs_memo {
    struct cs_memo_slot *slots;
    uint64_t cap; /* power of two */
    uint64_t len;
    /* Known sets, and unknown-set records (one link word, then the set). */
    uint64_t *arena;
    uint64_t arena_len, arena_cap; /* in words */
    uint32_t words_known, words_unknown;
    uint64_t memory_bytes;
};

void cs_memo_init(struct cs_memo *memo, uint32_t words_known, uint32_t words_unknown);
void cs_memo_free(struct cs_memo *memo);

/* cs_memo_insert: 1 if (known, unknown, state) was not dominated and is now
 * recorded, 0 if a recorded configuration dominates it, CS_ENOMEM. hash must
 * combine the known set and the state. unknown may be NULL when
 * words_unknown is 0. */
int cs_memo_insert(struct cs_memo *memo, const uint64_t *known, const uint64_t *unknown,
                   uint64_t state, uint64_t hash);

#endif /* CS_CHECK_MEMO_H */
