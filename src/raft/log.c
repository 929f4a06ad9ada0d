/*
 * log.c: the node's in-memory Raft log after its snapshot.
 *
 * The one idea: the log is an array addressed by index - snap_index - 1, and
 * a single mark, stable, says how much of it the driver has made durable.
 * Everything past stable is handed out in the next Ready; a truncation below
 * stable pulls the mark back so the replacement is persisted too.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

void log_init(struct raft_log *log, uint64_t snap_index, uint64_t snap_term)
{
    memset(log, 0, sizeof *log);
    log->snap_index = snap_index;
    log->snap_term = snap_term;
    log->stable = snap_index;
    CS_ASSERT(log_last_index(log) == snap_index); /* (terms may pass indexes: failed elections) */
}

void raft_release(const struct raft_log *log, void *p)
{
    if (p == NULL) return;
    if (log->release)
        log->release(log->release_ctx, p);
    else
        free(p);
}

static void log_free_range(struct raft_log *log, size_t from, size_t to)
{
    CS_ASSERT(from <= to && to <= log->len);
    for (size_t k = from; k < to; k++) {
        raft_release(log, (void *)(uintptr_t)log->entries[k].data); /* the log owns it */
        log->entries[k].data = NULL;
    }
}

void log_free(struct raft_log *log)
{
    log->release = NULL; /* the node is going: its bytes are freed here */
    log_free_range(log, 0, log->len);
    free(log->entries);
    memset(log, 0, sizeof *log);
}

uint64_t log_last_index(const struct raft_log *log)
{
    return log->snap_index + log->len;
}

uint64_t log_last_term(const struct raft_log *log)
{
    return log->len ? log->entries[log->len - 1].term : log->snap_term;
}

bool log_term(const struct raft_log *log, uint64_t index, uint64_t *term_out)
{
    if (index == log->snap_index) {
        *term_out = log->snap_term;
        return true;
    }
    if (index < log->snap_index || index > log_last_index(log)) return false;
    const struct cs_raft_entry *e = &log->entries[index - log->snap_index - 1];
    CS_ASSERT(e->index == index);
    *term_out = e->term;
    return true;
}

const struct cs_raft_entry *log_at(const struct raft_log *log, uint64_t index)
{
    if (index <= log->snap_index || index > log_last_index(log)) return NULL;
    const struct cs_raft_entry *e = &log->entries[index - log->snap_index - 1];
    CS_ASSERT(e->index == index);
    return e;
}

int log_append(struct raft_log *log, uint64_t term, uint8_t type, const void *data,
               uint32_t data_len)
{
    CS_ASSERT(term >= log_last_term(log));
    CS_ASSERT(data_len <= CS_RAFT_ENTRY_BYTES_MAX);
    if (log->len == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 64;
        struct cs_raft_entry *grown = realloc(log->entries, cap * sizeof *grown);
        if (!grown) return CS_ENOMEM;
        log->entries = grown;
        log->cap = cap;
    }
    uint8_t *copy = NULL;
    if (data_len) {
        copy = malloc(data_len);
        if (!copy) return CS_ENOMEM;
        memcpy(copy, data, data_len);
    }
    struct cs_raft_entry *e = &log->entries[log->len];
    e->term = term;
    e->index = log_last_index(log) + 1;
    e->type = type;
    e->data = copy;
    e->data_len = data_len;
    log->len++;
    return 0;
}

void log_truncate(struct raft_log *log, uint64_t index)
{
    CS_ASSERT(index > log->snap_index);
    CS_ASSERT(index <= log_last_index(log));
    size_t keep = (size_t)(index - log->snap_index - 1);
    log_free_range(log, keep, log->len);
    log->len = keep;
    if (log->stable >= index) log->stable = index - 1;
    CS_ASSERT(log_last_index(log) == index - 1);
}

void log_compact(struct raft_log *log, uint64_t index)
{
    CS_ASSERT(index > log->snap_index);
    CS_ASSERT(index <= log_last_index(log));
    size_t drop = (size_t)(index - log->snap_index);
    uint64_t term = log->entries[drop - 1].term;
    log_free_range(log, 0, drop);
    memmove(log->entries, log->entries + drop, (log->len - drop) * sizeof *log->entries);
    log->len -= drop;
    log->snap_index = index;
    log->snap_term = term;
    if (log->stable < index) log->stable = index;
}

void log_reset(struct raft_log *log, uint64_t index, uint64_t term)
{
    log_free_range(log, 0, log->len);
    log->len = 0;
    log->snap_index = index;
    log->snap_term = term;
    log->stable = index;
}

bool log_up_to_date(const struct raft_log *log, uint64_t term, uint64_t index)
{
    uint64_t last_term = log_last_term(log);
    return term > last_term || (term == last_term && index >= log_last_index(log));
}
