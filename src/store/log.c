/*
 * log.c: the Raft log store's front end (struct cs_store_log): argument
 * checks, each group's bounds, and dispatch to the LMDB or WAL backend.
 *
 * The one idea: every rule about what a log may do (contiguous appends, no
 * write at or below the compaction point, bounds that only a snapshot may
 * jump) is checked here once, so both backends hold exactly the same logs
 * and the property test can compare them entry for entry.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "store/internal.h"

struct cs_store_log {
    struct log_groups groups;
    struct log_backend *backend;
};

/* --- the group table ------------------------------------------------------ */

static size_t log_groups_lower(const struct log_groups *groups, uint64_t id)
{
    size_t lo = 0, hi = groups->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (groups->items[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

struct log_group *store_groups_find(const struct log_groups *groups, uint64_t id)
{
    size_t i = log_groups_lower(groups, id);
    return i < groups->len && groups->items[i].id == id ? &groups->items[i] : NULL;
}

int store_groups_get(struct log_groups *groups, uint64_t id, struct log_group **out)
{
    size_t i = log_groups_lower(groups, id);
    if (i < groups->len && groups->items[i].id == id) {
        *out = &groups->items[i];
        return 0;
    }
    if (groups->len == CS_STORE_LOG_GROUPS_MAX) return CS_ENOSPACE;
    if (groups->len == groups->cap) {
        size_t cap = groups->cap ? groups->cap * 2 : 8;
        if (cap > CS_STORE_LOG_GROUPS_MAX) cap = CS_STORE_LOG_GROUPS_MAX;
        struct log_group *items = realloc(groups->items, cap * sizeof *items);
        if (items == NULL) return CS_ENOMEM;
        groups->items = items;
        groups->cap = cap;
    }
    memmove(&groups->items[i + 1], &groups->items[i], (groups->len - i) * sizeof *groups->items);
    groups->items[i] = (struct log_group){.id = id};
    groups->len++;
    *out = &groups->items[i];
    return 0;
}

void store_groups_free(struct log_groups *groups)
{
    for (size_t i = 0; i < groups->len; i++) {
        struct log_group *g = &groups->items[i];
        uint64_t n = g->last_index - g->compact_index;
        for (uint64_t j = 0; g->entries != NULL && j < n; j++)
            free(g->entries[g->head + j].data);
        free(g->entries);
    }
    free(groups->items);
    *groups = (struct log_groups){0};
}

int store_entries_alloc(struct cs_store_log_entries *out, size_t n, size_t bytes)
{
    *out = (struct cs_store_log_entries){0};
    out->entries = calloc(n ? n : 1, sizeof *out->entries);
    out->bytes = malloc(bytes ? bytes : 1);
    if (out->entries == NULL || out->bytes == NULL) {
        cs_store_log_entries_free(out);
        return CS_ENOMEM;
    }
    return 0;
}

void cs_store_log_entries_free(struct cs_store_log_entries *entries)
{
    free(entries->entries);
    free(entries->bytes);
    *entries = (struct cs_store_log_entries){0};
}

void cs_store_log_snapshot_free(struct cs_store_log_snapshot *snapshot)
{
    free(snapshot->data);
    *snapshot = (struct cs_store_log_snapshot){0};
}

/* --- snapshot metadata codec ------------------------------------------------ */

/* u64le index, u64le term, u32le members, then per member u64le id, u8 voter. */
size_t store_snap_meta_encode(const struct cs_raft_snapshot_meta *meta, uint8_t *out)
{
    CS_ASSERT(meta->conf.members_len <= CS_RAFT_MEMBERS_MAX);
    store_le64_put(out, meta->index);
    store_le64_put(out + 8, meta->term);
    uint32_t n = meta->conf.members_len;
    for (int i = 0; i < 4; i++)
        out[16 + i] = (uint8_t)(n >> (8 * i));
    size_t pos = 20;
    for (uint32_t i = 0; i < n; i++) {
        store_le64_put(out + pos, meta->conf.members[i].id);
        out[pos + 8] = meta->conf.members[i].voter ? 1 : 0;
        pos += 9;
    }
    CS_ASSERT(pos <= STORE_SNAP_META_BYTES_MAX);
    return pos;
}

int store_snap_meta_decode(const uint8_t *data, size_t len, struct cs_raft_snapshot_meta *meta,
                           size_t *used)
{
    if (len < 20) return CS_ECORRUPT;
    *meta = (struct cs_raft_snapshot_meta){0};
    meta->index = store_le64_get(data);
    meta->term = store_le64_get(data + 8);
    uint32_t n = (uint32_t)data[16] | (uint32_t)data[17] << 8 | (uint32_t)data[18] << 16 |
                 (uint32_t)data[19] << 24;
    if (n > CS_RAFT_MEMBERS_MAX || len - 20 < (size_t)n * 9) return CS_ECORRUPT;
    size_t pos = 20;
    for (uint32_t i = 0; i < n; i++) {
        if (data[pos + 8] > 1) return CS_ECORRUPT;
        meta->conf.members[i].id = store_le64_get(data + pos);
        meta->conf.members[i].voter = data[pos + 8] == 1;
        pos += 9;
    }
    meta->conf.members_len = n;
    *used = pos;
    return 0;
}

/* --- the API ---------------------------------------------------------------- */

int cs_store_log_open(const struct cs_store_log_options *options, struct cs_store_log **out)
{
    struct cs_store_log *log = calloc(1, sizeof *log);
    if (log == NULL) return CS_ENOMEM;
    int rc;
    switch (options->backend) {
    case CS_STORE_LOG_BACKEND_LMDB:
        rc = options->store == NULL
                 ? CS_EINVAL
                 : store_log_lmdb_open(options->store, &log->groups, &log->backend);
        break;
    case CS_STORE_LOG_BACKEND_WAL: {
        uint64_t seg =
            options->segment_bytes ? options->segment_bytes : CS_STORE_LOG_SEGMENT_BYTES_DEFAULT;
        uint64_t cache =
            options->cache_bytes_max ? options->cache_bytes_max : CS_STORE_LOG_CACHE_BYTES_DEFAULT;
        if (options->dir == NULL || seg < CS_STORE_LOG_SEGMENT_BYTES_MIN ||
            seg > CS_STORE_LOG_SEGMENT_BYTES_MAX || cache > CS_STORE_LOG_CACHE_BYTES_MAX)
            rc = CS_EINVAL;
        else
            rc = store_wal_open(options->dir, seg, cache, &log->groups, options->release,
                                options->release_ctx, &log->backend);
        break;
    }
    default:
        rc = CS_EINVAL;
        break;
    }
    if (rc != 0) {
        store_groups_free(&log->groups);
        free(log);
        return rc;
    }
    *out = log;
    return 0;
}

void cs_store_log_close(struct cs_store_log *log)
{
    if (log == NULL) return;
    log->backend->ops->close(log->backend);
    store_groups_free(&log->groups);
    free(log);
}

int cs_store_log_append(struct cs_store_log *log, uint64_t group_id,
                        const struct cs_raft_entry *entries, size_t len)
{
    if (len == 0) return CS_EINVAL;
    for (size_t i = 0; i < len; i++) {
        if (entries[i].index != entries[0].index + i) return CS_EINVAL;
        if (entries[i].data_len > CS_RAFT_ENTRY_BYTES_MAX) return CS_ETOOBIG;
        if (entries[i].data_len > 0 && entries[i].data == NULL) return CS_EINVAL;
    }
    struct log_group *g = store_groups_find(&log->groups, group_id);
    uint64_t compact = g ? g->compact_index : 0, last = g ? g->last_index : 0;
    if (entries[0].index <= compact) return CS_ERANGE;
    if (entries[0].index > last + 1) return CS_EINVAL;
    uint64_t kept = entries[0].index - 1 - compact;
    if (kept + len > CS_STORE_LOG_GROUP_ENTRIES_MAX) return CS_ENOSPACE;
    if (g == NULL) {
        int rc = store_groups_get(&log->groups, group_id, &g);
        if (rc != 0) return rc;
    }
    int rc = log->backend->ops->append(log->backend, g, entries, len);
    if (rc != 0) return rc;
    g->last_index = entries[len - 1].index;
    return 0;
}

int cs_store_log_truncate(struct cs_store_log *log, uint64_t group_id, uint64_t from_index)
{
    struct log_group *g = store_groups_find(&log->groups, group_id);
    uint64_t compact = g ? g->compact_index : 0;
    if (from_index <= compact) return CS_ERANGE;
    if (g == NULL || from_index > g->last_index) return 0;
    int rc = log->backend->ops->truncate(log->backend, g, from_index);
    if (rc != 0) return rc;
    g->last_index = from_index - 1;
    return 0;
}

int cs_store_log_compact(struct cs_store_log *log, uint64_t group_id, uint64_t upto_index)
{
    struct log_group *g = store_groups_find(&log->groups, group_id);
    uint64_t compact = g ? g->compact_index : 0, last = g ? g->last_index : 0;
    if (upto_index < compact || upto_index > last) return CS_ERANGE;
    if (upto_index == compact) return 0;
    uint64_t term;
    int rc = log->backend->ops->term(log->backend, g, upto_index, &term);
    if (rc != 0) return rc;
    rc = log->backend->ops->compact(log->backend, g, upto_index, term);
    if (rc != 0) return rc;
    g->compact_index = upto_index;
    g->compact_term = term;
    CS_ASSERT(g->compact_index <= g->last_index);
    return 0;
}

void cs_store_log_bounds(const struct cs_store_log *log, uint64_t group_id, uint64_t *first_index,
                         uint64_t *last_index)
{
    const struct log_group *g = store_groups_find(&log->groups, group_id);
    *first_index = g ? g->compact_index + 1 : 1;
    *last_index = g ? g->last_index : 0;
}

int cs_store_log_term(struct cs_store_log *log, uint64_t group_id, uint64_t index, uint64_t *term)
{
    struct log_group *g = store_groups_find(&log->groups, group_id);
    if (g == NULL) {
        if (index != 0) return CS_ERANGE;
        *term = 0;
        return 0;
    }
    if (index < g->compact_index || index > g->last_index) return CS_ERANGE;
    if (index == g->compact_index) {
        *term = g->compact_term;
        return 0;
    }
    return log->backend->ops->term(log->backend, g, index, term);
}

int cs_store_log_read(struct cs_store_log *log, uint64_t group_id, uint64_t lo, uint64_t hi,
                      size_t bytes_max, struct cs_store_log_entries *out)
{
    *out = (struct cs_store_log_entries){0};
    struct log_group *g = store_groups_find(&log->groups, group_id);
    uint64_t first = g ? g->compact_index + 1 : 1, last = g ? g->last_index : 0;
    if (lo > hi || lo < first || hi > last + 1) return CS_ERANGE;
    if (lo == hi) return 0;
    if (hi - lo > CS_STORE_LOG_READ_ENTRIES_MAX) hi = lo + CS_STORE_LOG_READ_ENTRIES_MAX;
    int rc = log->backend->ops->read(log->backend, g, lo, hi, bytes_max, out);
    if (rc != 0) return rc;
    CS_ASSERT(out->len >= 1 && out->len <= hi - lo);
    CS_ASSERT(out->entries[0].index == lo);
    return 0;
}

int cs_store_log_hard_state_save(struct cs_store_log *log, uint64_t group_id,
                                 const struct cs_raft_hard_state *hard_state)
{
    struct log_group *g;
    int rc = store_groups_get(&log->groups, group_id, &g);
    if (rc != 0) return rc;
    rc = log->backend->ops->hard_state_save(log->backend, g, hard_state);
    if (rc != 0) return rc;
    g->has_hard_state = true;
    g->hard_state = *hard_state;
    return 0;
}

int cs_store_log_hard_state_load(struct cs_store_log *log, uint64_t group_id,
                                 struct cs_raft_hard_state *out)
{
    const struct log_group *g = store_groups_find(&log->groups, group_id);
    if (g == NULL || !g->has_hard_state) return CS_ENOTFOUND;
    *out = g->hard_state; /* both backends load it into the table at open */
    return 0;
}

/* A snapshot at meta became the group's: its point bounds the log. */
static void log_snapshot_took(struct log_group *g, const struct cs_raft_snapshot_meta *meta)
{
    g->snapshot_index = meta->index;
    if (meta->index > g->compact_index) {
        if (meta->index >= g->last_index) g->last_index = meta->index;
        g->compact_index = meta->index;
        g->compact_term = meta->term;
    }
    CS_ASSERT(g->compact_index <= g->last_index);
}

int cs_store_log_snapshot_save(struct cs_store_log *log, uint64_t group_id,
                               const struct cs_raft_snapshot *snapshot)
{
    if (snapshot->data_len > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    if (snapshot->meta.conf.members_len > CS_RAFT_MEMBERS_MAX) return CS_EINVAL;
    if (snapshot->data_len > 0 && snapshot->data == NULL) return CS_EINVAL;
    struct log_group *g = store_groups_find(&log->groups, group_id);
    if (snapshot->meta.index == 0 || (g != NULL && snapshot->meta.index <= g->snapshot_index))
        return CS_ERANGE;
    if (g == NULL) {
        int rc = store_groups_get(&log->groups, group_id, &g);
        if (rc != 0) return rc;
    }
    /* The backend stores it and drops entries <= index (or all of them). */
    int rc = log->backend->ops->snapshot_save(log->backend, g, snapshot);
    if (rc != 0) return rc;
    log_snapshot_took(g, &snapshot->meta);
    return 0;
}

int cs_store_log_snapshot_stage(struct cs_store_log *log, uint64_t group_id,
                                const struct cs_raft_snapshot *snapshot)
{
    if (log->backend->ops->snapshot_stage == NULL) return CS_EINVAL;
    if (snapshot->data_len > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    if (snapshot->meta.conf.members_len > CS_RAFT_MEMBERS_MAX) return CS_EINVAL;
    if (snapshot->data_len > 0 && snapshot->data == NULL) return CS_EINVAL;
    if (snapshot->meta.index == 0) return CS_ERANGE;
    return log->backend->ops->snapshot_stage(log->backend, group_id, snapshot);
}

int cs_store_log_snapshot_staged_load(struct cs_store_log *log, uint64_t group_id,
                                      struct cs_store_log_snapshot *out)
{
    *out = (struct cs_store_log_snapshot){0};
    if (log->backend->ops->snapshot_staged_load == NULL) return CS_EINVAL;
    return log->backend->ops->snapshot_staged_load(log->backend, group_id, out);
}

int cs_store_log_snapshot_commit(struct cs_store_log *log, uint64_t group_id,
                                 const struct cs_raft_snapshot_meta *meta)
{
    if (log->backend->ops->snapshot_commit == NULL) return CS_EINVAL;
    struct log_group *g = store_groups_find(&log->groups, group_id);
    if (meta->index == 0 || (g != NULL && meta->index <= g->snapshot_index)) {
        cs_store_log_snapshot_unstage(log, group_id);
        return CS_ERANGE;
    }
    if (g == NULL) {
        int rc = store_groups_get(&log->groups, group_id, &g);
        if (rc != 0) return rc;
    }
    int rc = log->backend->ops->snapshot_commit(log->backend, g, meta);
    if (rc != 0) return rc;
    log_snapshot_took(g, meta);
    return 0;
}

void cs_store_log_snapshot_reap(struct cs_store_log *log, uint64_t group_id)
{
    if (log->backend->ops->snapshot_reap) log->backend->ops->snapshot_reap(log->backend, group_id);
}

void cs_store_log_snapshot_unstage(struct cs_store_log *log, uint64_t group_id)
{
    if (log->backend->ops->snapshot_unstage)
        log->backend->ops->snapshot_unstage(log->backend, group_id);
}

int cs_store_log_snapshot_load(struct cs_store_log *log, uint64_t group_id,
                               struct cs_store_log_snapshot *out)
{
    *out = (struct cs_store_log_snapshot){0};
    struct log_group *g = store_groups_find(&log->groups, group_id);
    if (g == NULL || g->snapshot_index == 0) return CS_ENOTFOUND;
    int rc = log->backend->ops->snapshot_load(log->backend, g, out);
    if (rc == 0 && out->meta.index != g->snapshot_index) {
        cs_store_log_snapshot_free(out);
        rc = CS_ECORRUPT;
    }
    return rc;
}

void cs_store_log_restore_free(struct cs_store_log_restore *restore)
{
    cs_store_log_snapshot_free(&restore->snapshot);
    free(restore->entries);
    free(restore->bytes);
    *restore = (struct cs_store_log_restore){0};
}

/* Append one read chunk to the restore's entries (data copied into one buffer). */
static int log_restore_take(struct cs_store_log_restore *out, size_t *bytes_len,
                            const struct cs_store_log_entries *chunk)
{
    size_t n = out->restore.entries_len;
    struct cs_raft_entry *entries = realloc(out->entries, (n + chunk->len) * sizeof *entries);
    if (entries == NULL) return CS_ENOMEM;
    out->entries = entries;
    uint8_t *bytes = realloc(out->bytes, *bytes_len + chunk->bytes_len + 1);
    if (bytes == NULL) return CS_ENOMEM;
    out->bytes = bytes;
    memcpy(bytes + *bytes_len, chunk->bytes, chunk->bytes_len);
    for (size_t i = 0; i < chunk->len; i++) {
        entries[n + i] = chunk->entries[i];
        entries[n + i].data = NULL; /* offsets fixed once the buffer stops moving */
    }
    *bytes_len += chunk->bytes_len;
    out->restore.entries_len = n + chunk->len;
    return 0;
}

int cs_store_log_restore_load(struct cs_store_log *log, uint64_t group_id,
                              struct cs_store_log_restore *out)
{
    *out = (struct cs_store_log_restore){0};
    int rc = cs_store_log_hard_state_load(log, group_id, &out->restore.hard_state);
    if (rc == CS_ENOTFOUND) rc = 0;
    if (rc == 0) rc = cs_store_log_snapshot_load(log, group_id, &out->snapshot);
    if (rc == CS_ENOTFOUND) rc = 0;
    if (rc != 0) return rc;
    uint64_t first, last;
    cs_store_log_bounds(log, group_id, &first, &last);
    if (first != out->snapshot.meta.index + 1) {
        cs_store_log_restore_free(out);
        return CS_ESTATE;
    }
    size_t bytes_len = 0;
    for (uint64_t lo = first; lo <= last && rc == 0;) {
        struct cs_store_log_entries chunk;
        rc = cs_store_log_read(log, group_id, lo, last + 1, SIZE_MAX, &chunk);
        if (rc != 0) break;
        rc = log_restore_take(out, &bytes_len, &chunk);
        lo += chunk.len;
        cs_store_log_entries_free(&chunk);
    }
    if (rc != 0) {
        cs_store_log_restore_free(out);
        return rc;
    }
    size_t pos = 0;
    for (size_t i = 0; i < out->restore.entries_len; i++) {
        out->entries[i].data = out->bytes + pos;
        pos += out->entries[i].data_len;
    }
    CS_ASSERT(pos == bytes_len);
    CS_ASSERT(out->restore.entries_len == last - first + 1);
    out->restore.snapshot =
        (struct cs_raft_snapshot){out->snapshot.meta, out->snapshot.data_len, out->snapshot.data};
    out->restore.entries = out->entries;
    return 0;
}

int cs_store_log_sync(struct cs_store_log *log)
{
    return log->backend->ops->sync(log->backend);
}

struct cs_store_txn *cs_store_log_txn(struct cs_store_log *log, int *rc)
{
    *rc = 0;
    if (log->backend->ops->txn == NULL) return NULL;
    return log->backend->ops->txn(log->backend, rc);
}

void cs_store_log_groups(const struct cs_store_log *log, uint64_t *ids, size_t cap, size_t *len)
{
    *len = log->groups.len;
    for (size_t i = 0; i < log->groups.len && i < cap; i++)
        ids[i] = log->groups.items[i].id;
}
