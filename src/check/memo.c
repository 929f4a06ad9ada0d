/*
 * memo.c: the visited-configuration set of the searches (see memo.h).
 */
#include "check/memo.h"

#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/error.h"

void cs_memo_init(struct cs_memo *memo, uint32_t words)
{
    CS_ASSERT(words > 0);
    memset(memo, 0, sizeof *memo);
    memo->words = words;
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

static int arena_reserve(struct cs_memo *memo)
{
    if (memo->arena_len + memo->words <= memo->arena_cap) return 0;
    uint64_t cap = memo->arena_cap ? memo->arena_cap * 2 : 4096u * memo->words;
    uint64_t *arena = realloc(memo->arena, cap * sizeof *arena);
    if (arena == NULL) return CS_ENOMEM;
    memo->memory_bytes += (cap - memo->arena_cap) * sizeof *arena;
    memo->arena = arena;
    memo->arena_cap = cap;
    return 0;
}

int cs_memo_insert(struct cs_memo *memo, const uint64_t *bits, uint64_t state, uint64_t hash)
{
    if (hash == 0) hash = 1;
    if ((memo->len + 1) * 2 > memo->cap) {
        int rc = memo_grow(memo);
        if (rc) return rc;
    }
    uint64_t mask = memo->cap - 1;
    uint64_t i = hash & mask;
    size_t bytes = memo->words * sizeof(uint64_t);
    for (; memo->slots[i].hash != 0; i = (i + 1) & mask) {
        const struct cs_memo_slot *s = &memo->slots[i];
        if (s->hash == hash && s->state == state &&
            memcmp(memo->arena + s->bits, bits, bytes) == 0) {
            return 0;
        }
    }
    int rc = arena_reserve(memo);
    if (rc) return rc;
    memcpy(memo->arena + memo->arena_len, bits, bytes);
    memo->slots[i].hash = hash;
    memo->slots[i].state = state;
    memo->slots[i].bits = memo->arena_len;
    memo->arena_len += memo->words;
    memo->len++;
    CS_DEBUG_ASSERT(memo->len * 2 <= memo->cap);
    return 1;
}
