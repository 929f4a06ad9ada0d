/*
 * check/memo.h: Lowe's memo of visited search configurations.
 *
 * A configuration is (set of ops already ordered, model state). The set is a
 * bitset of `words` 64-bit words; its hash is kept incrementally by the
 * search as the XOR of one random key per op in the set (Zobrist hashing),
 * so inserting never rehashes the bitset. Open addressing, linear probing;
 * bitsets live in one arena.
 *
 * (Tried and dropped: comparing the bits of info ops by inclusion, since a
 * configuration that placed fewer of them dominates one that placed more.
 * It cut etcd_002's steps 3.5x, but configurations differing only in info
 * ops then share one hash and their probe chains made each step slower than
 * the steps saved; placing known ops first got most of the gain instead.)
 */
#ifndef CS_CHECK_MEMO_H
#define CS_CHECK_MEMO_H

#include <stdint.h>

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
    uint32_t words;
    uint64_t memory_bytes;
};

void cs_memo_init(struct cs_memo *memo, uint32_t words);
void cs_memo_free(struct cs_memo *memo);

/* cs_memo_insert: 1 if (bits, state) was new and is now recorded, 0 if seen
 * before, CS_ENOMEM. hash must combine bits and state. */
int cs_memo_insert(struct cs_memo *memo, const uint64_t *bits, uint64_t state, uint64_t hash);

#endif /* CS_CHECK_MEMO_H */
