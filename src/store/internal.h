/*
 * internal.h: what the store's files share and nobody else sees: the Raft
 * log store's group table and the calls between the log front end (log.c)
 * and its two backends (log_lmdb.c, wal.c).
 *
 * The one idea: log.c checks every argument and keeps each group's bounds;
 * a backend only persists and reads what log.c has already validated, so the
 * two backends cannot disagree on what is legal.
 */
#ifndef CS_STORE_INTERNAL_H
#define CS_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/store.h"

/* Big-endian u64, so that byte order of keys is numeric order. */
static inline void store_be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static inline uint64_t store_be64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

static inline void store_le64_put(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t store_le64_get(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* store_mkdir_durable: create dir (0700) if missing and sync its parent. 0 or CS_EIO. */
int store_mkdir_durable(const char *dir);

/*
 * store_last_at_or_below: the last entry of db whose key is <= key (a short
 * key), as views. 0 or CS_ENOTFOUND; CS_EIO. For the log's "last index of a
 * group" without walking it.
 */
int store_last_at_or_below(struct cs_store_txn *txn, enum cs_store_db db, const void *key,
                           size_t key_len, const uint8_t **found, size_t *found_len);

/* One cached WAL entry. */
struct wal_entry {
    uint64_t term;
    uint8_t type;
    uint32_t data_len;
    uint8_t *data; /* owned; NULL when data_len is 0 */
};

/* A group of the log store: its bounds and, for the WAL, its entries. */
struct log_group {
    uint64_t id;
    uint64_t compact_index; /* first_index - 1 */
    uint64_t compact_term;
    uint64_t last_index;
    bool has_hard_state;
    struct cs_raft_hard_state hard_state;
    uint64_t snapshot_index; /* 0: none */
    uint64_t cached_bytes;   /* WAL only: data bytes of the cached entries */
    /* WAL only: entries compact_index+1 .. last_index at entries[head ..]. */
    struct wal_entry *entries;
    size_t head;
    size_t cap;
};

/* The group table: sorted by id, at most CS_STORE_LOG_GROUPS_MAX. */
struct log_groups {
    struct log_group *items;
    size_t len;
    size_t cap;
};

struct log_group *store_groups_find(const struct log_groups *groups, uint64_t id);
/* store_groups_get: find or add (zeroed bounds). CS_ENOSPACE; CS_ENOMEM. */
int store_groups_get(struct log_groups *groups, uint64_t id, struct log_group **out);
void store_groups_free(struct log_groups *groups);

/* The backend contract: arguments are already checked by log.c. */
struct log_backend;

int store_log_lmdb_open(struct cs_store *store, struct log_groups *groups,
                        struct log_backend **out);
int store_wal_open(const char *dir, uint64_t segment_bytes, uint64_t cache_bytes_max,
                   struct log_groups *groups, void (*release)(void *ctx, void *p),
                   void *release_ctx, struct log_backend **out);

/*
 * store_wal_replay_image: recovery of one segment image from memory into groups,
 * as cs_store_log_open does for a directory (compaction points first, then
 * every record in order). For the fuzz target. Codes as cs_wal_scan_segment,
 * plus CS_ECORRUPT for a gap in a group's log, CS_ENOSPACE and CS_ENOMEM.
 */
int store_wal_replay_image(const uint8_t *data, size_t len, struct log_groups *groups,
                           struct cs_wal_scan *scan);

struct log_backend_ops {
    void (*close)(struct log_backend *b);
    int (*append)(struct log_backend *b, struct log_group *g, const struct cs_raft_entry *entries,
                  size_t len);
    int (*truncate)(struct log_backend *b, struct log_group *g, uint64_t from_index);
    int (*compact)(struct log_backend *b, struct log_group *g, uint64_t upto_index,
                   uint64_t upto_term);
    int (*term)(struct log_backend *b, struct log_group *g, uint64_t index, uint64_t *term);
    int (*read)(struct log_backend *b, struct log_group *g, uint64_t lo, uint64_t hi,
                size_t bytes_max, struct cs_store_log_entries *out);
    int (*hard_state_save)(struct log_backend *b, struct log_group *g,
                           const struct cs_raft_hard_state *hs);
    int (*snapshot_save)(struct log_backend *b, struct log_group *g,
                         const struct cs_raft_snapshot *snap);
    int (*snapshot_load)(struct log_backend *b, struct log_group *g,
                         struct cs_store_log_snapshot *out);
    /* Staged saves (cs_store_log_snapshot_stage); NULL: the backend has none. */
    int (*snapshot_stage)(struct log_backend *b, uint64_t group_id,
                          const struct cs_raft_snapshot *snap);
    int (*snapshot_staged_load)(struct log_backend *b, uint64_t group_id,
                                struct cs_store_log_snapshot *out);
    int (*snapshot_commit)(struct log_backend *b, struct log_group *g,
                           const struct cs_raft_snapshot_meta *meta);
    void (*snapshot_unstage)(struct log_backend *b, uint64_t group_id);
    void (*snapshot_reap)(struct log_backend *b, uint64_t group_id);
    int (*sync)(struct log_backend *b);
    struct cs_store_txn *(*txn)(struct log_backend *b, int *rc);
};

struct log_backend {
    const struct log_backend_ops *ops;
};

/* Snapshot metadata codec shared by both backends (docs/storage.md). */
#define STORE_SNAP_META_BYTES_MAX (8 + 8 + 4 + CS_RAFT_MEMBERS_MAX * 9)
size_t store_snap_meta_encode(const struct cs_raft_snapshot_meta *meta, uint8_t *out);
/* store_snap_meta_decode: 0 and *used, or CS_ECORRUPT. */
int store_snap_meta_decode(const uint8_t *data, size_t len, struct cs_raft_snapshot_meta *meta,
                           size_t *used);

/*
 * The WAL backend's snapshot file (docs/storage.md): a 24-byte header, the
 * meta, the data. store_wal_snap_head_encode writes header and meta for snap into
 * out[0..WAL_SNAP_HEAD_BYTES_MAX) and returns their length (the data follows
 * in the file). store_wal_snap_decode checks a whole file image: 0 with the meta and
 * a view of the data; CS_ECORRUPT; CS_EVERSION.
 */
#define WAL_SNAP_HEAD_BYTES_MAX (24 + STORE_SNAP_META_BYTES_MAX)
size_t store_wal_snap_head_encode(const struct cs_raft_snapshot *snap, uint8_t *out);
int store_wal_snap_decode(const uint8_t *data, size_t len, struct cs_raft_snapshot_meta *meta,
                          const uint8_t **body, size_t *body_len);

/* Entries output: allocate room for n entries and bytes data bytes. */
int store_entries_alloc(struct cs_store_log_entries *out, size_t n, size_t bytes);

#endif /* CS_STORE_INTERNAL_H */
