/*
 * memo.c: the visited-configuration set of the searches (see memo.h).
 */
#include "check/memo.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/error.h"

#define MEMO_NONE UINT64_MAX

void cs_memo_init(struct cs_memo *memo, uint32_t words_known, uint32_t words_unknown)
{
    CS_ASSERT(words_known > 0);
    memset(memo, 0, sizeof *memo);
    memo->words_known = words_known;
    memo->words_unknown = words_unknown;
}

void cs_memo_free(struct cs_memo *memo)
{
    free(memo->slots);
    free(memo->arena);
    memset(memo, 0, sizeof *memo);
}

static int memo_grow(struct cs_memo *memo)
{
    uint64_t cap = memo->cap ? memo->cap * 2 : 4096;
    struct cs_memo_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL) return CS_ENOMEM;
    for (uint64_t i = 0; i < memo->cap; i++) {
        const struct cs_memo_slot *s = &memo->slots[i];
        if (s->hash == 0) continue;
        uint64_t j = s->hash & (cap - 1);
        while (slots[j].hash != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    memo->memory_bytes += (cap - memo->cap) * sizeof *slots;
    free(memo->slots);
    memo->slots = slots;
    memo->cap = cap;
    return 0;
}

/* arena_take: room for words more; returns the offset, or MEMO_NONE. */
static uint64_t arena_take(struct cs_memo *memo, uint64_t words)
{
    if (memo->arena_len + words > memo->arena_cap) {
        uint64_t cap = memo->arena_cap ? memo->arena_cap * 2 : 4096u * (words + 1);
        while (cap < memo->arena_len + words)
            cap *= 2;
        uint64_t *arena = realloc(memo->arena, cap * sizeof *arena);
        if (arena == NULL) return MEMO_NONE;
        memo->memory_bytes += (cap - memo->arena_cap) * sizeof *arena;
        memo->arena = arena;
        memo->arena_cap = cap;
    }
    uint64_t at = memo->arena_len;
    memo->arena_len += words;
    return at;
}

static bool subset(const uint64_t *a, const uint64_t *b, uint32_t words)
{
    for (uint32_t i = 0; i < words; i++) {
        if (a[i] & ~b[i]) return false;
    }
    return true;
}

/* variant_add: record unknown as a new head of the slot's list, after
 * unlinking the recorded sets it is a subset of. */
static int variant_add(struct cs_memo *memo, uint64_t slot, const uint64_t *unknown)
{
    uint32_t wu = memo->words_unknown;
    uint64_t at = arena_take(memo, 1u + wu);
    if (at == MEMO_NONE) return CS_ENOMEM;
    if (wu > 0) memcpy(memo->arena + at + 1, unknown, wu * sizeof(uint64_t));
    uint64_t *link = &memo->slots[slot].variants;
    while (*link != MEMO_NONE) {
        if (subset(unknown, memo->arena + *link + 1, wu)) {
            *link = memo->arena[*link]; /* dominated by the new one */
        } else {
            link = &memo->arena[*link];
        }
    }
    memo->arena[at] = memo->slots[slot].variants;
    memo->slots[slot].variants = at;
    return 1;
}

int cs_memo_insert(struct cs_memo *memo, const uint64_t *known, const uint64_t *unknown,
                   uint64_t state, uint64_t hash)
{
    if (hash == 0) hash = 1;
    if ((memo->len + 1) * 2 > memo->cap) {
        int rc = memo_grow(memo);
        if (rc) return rc;
    }
    uint64_t mask = memo->cap - 1;
    uint64_t i = hash & mask;
    size_t bytes = memo->words_known * sizeof(uint64_t);
    for (; memo->slots[i].hash != 0; i = (i + 1) & mask) {
        const struct cs_memo_slot *s = &memo->slots[i];
        if (s->hash != hash || s->state != state) continue;
        if (memcmp(memo->arena + s->bits, known, bytes) != 0) continue;
        for (uint64_t v = s->variants; v != MEMO_NONE; v = memo->arena[v]) {
            if (subset(memo->arena + v + 1, unknown, memo->words_unknown)) return 0;
        }
        return variant_add(memo, i, unknown);
    }
    uint64_t at = arena_take(memo, memo->words_known);
    if (at == MEMO_NONE) return CS_ENOMEM;
    memcpy(memo->arena + at, known, bytes);
    memo->slots[i].hash = hash;
    memo->slots[i].state = state;
    memo->slots[i].bits = at;
    memo->slots[i].variants = MEMO_NONE;
    memo->len++;
    CS_DEBUG_ASSERT(memo->len * 2 <= memo->cap);
    return variant_add(memo, i, unknown);
}
