/*
 * log_lmdb.c: the Raft log store's LMDB backend: entries, compaction points,
 * hard states and snapshots as keys of the node's struct cs_store.
 *
 * The one idea: every write of every group goes into one LMDB write
 * transaction, begun at the first write after a sync and committed (with
 * fdatasync) by cs_store_log_sync, so a turn of the event loop costs one
 * commit however many groups it touched; the driver may add its own state
 * machine writes to the same transaction (cs_store_log_txn).
 *
 * Keys are big-endian so LMDB's byte order is (group, index) order:
 *   log       be64 group | be64 index -> u64le term | u8 type | data
 *   log_meta  be64 group -> u64le compact index | u64le compact term
 *   hard_state be64 group -> u64le term | u64le vote | u64le commit
 *   snapshot  be64 group -> snapshot meta (log.c) | data
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "store/internal.h"

#define LOG_KEY_BYTES    16
#define ENTRY_HEAD_BYTES 9
#define HARD_STATE_BYTES 24
#define LOG_META_BYTES   16

struct log_lmdb {
    struct log_backend base;
    struct cs_store *store;
    struct cs_store_txn *txn; /* the open write transaction, NULL after a sync */
    int failed;               /* a failed commit: the cache may not match the disk */
};

static struct log_lmdb *lmdb_of(struct log_backend *b)
{
    return (struct log_lmdb *)b;
}

static void log_key(uint8_t *key, uint64_t group, uint64_t index)
{
    store_be64_put(key, group);
    store_be64_put(key + 8, index);
}

static int lmdb_txn(struct log_lmdb *l, struct cs_store_txn **txn)
{
    if (l->failed != 0) return l->failed;
    if (l->txn == NULL) {
        int rc = cs_store_txn_begin(l->store, false, &l->txn);
        if (rc != 0) return rc;
    }
    *txn = l->txn;
    return 0;
}

/* A transaction to read in: the open write one, else a fresh read-only one. */
static int lmdb_read_txn(struct log_lmdb *l, struct cs_store_txn **txn, bool *temporary)
{
    *temporary = l->txn == NULL;
    if (!*temporary) {
        *txn = l->txn;
        return 0;
    }
    return cs_store_txn_begin(l->store, true, txn);
}

static int lmdb_del_range(struct cs_store_txn *txn, uint64_t group, uint64_t lo, uint64_t hi)
{
    uint8_t key[LOG_KEY_BYTES];
    for (uint64_t i = lo; i <= hi; i++) {
        log_key(key, group, i);
        int rc = cs_store_del(txn, CS_STORE_DB_LOG, key, sizeof key);
        if (rc != 0) return rc == CS_ENOTFOUND ? CS_ECORRUPT : rc;
    }
    return 0;
}

static int lmdb_put_meta(struct cs_store_txn *txn, uint64_t group, uint64_t index, uint64_t term)
{
    uint8_t key[8], value[LOG_META_BYTES];
    store_be64_put(key, group);
    store_le64_put(value, index);
    store_le64_put(value + 8, term);
    return cs_store_put(txn, CS_STORE_DB_LOG_META, key, sizeof key, value, sizeof value);
}

static int lmdb_append(struct log_backend *b, struct log_group *g,
                       const struct cs_raft_entry *entries, size_t len)
{
    struct cs_store_txn *txn;
    int rc = lmdb_txn(lmdb_of(b), &txn);
    if (rc != 0) return rc;
    if (entries[0].index <= g->last_index)
        rc = lmdb_del_range(txn, g->id, entries[0].index, g->last_index);
    uint8_t key[LOG_KEY_BYTES];
    uint8_t *value = NULL;
    size_t value_cap = 0;
    for (size_t i = 0; i < len && rc == 0; i++) {
        size_t need = ENTRY_HEAD_BYTES + entries[i].data_len;
        if (need > value_cap) {
            uint8_t *bigger = realloc(value, need);
            if (bigger == NULL) {
                rc = CS_ENOMEM;
                break;
            }
            value = bigger;
            value_cap = need;
        }
        store_le64_put(value, entries[i].term);
        value[8] = entries[i].type;
        if (entries[i].data_len > 0) memcpy(value + 9, entries[i].data, entries[i].data_len);
        log_key(key, g->id, entries[i].index);
        rc = cs_store_put(txn, CS_STORE_DB_LOG, key, sizeof key, value, need);
    }
    free(value);
    /* A half-applied append would leave the cache wrong: fail the store. */
    if (rc != 0) lmdb_of(b)->failed = rc;
    return rc;
}

static int lmdb_truncate(struct log_backend *b, struct log_group *g, uint64_t from_index)
{
    struct cs_store_txn *txn;
    int rc = lmdb_txn(lmdb_of(b), &txn);
    if (rc != 0) return rc;
    rc = lmdb_del_range(txn, g->id, from_index, g->last_index);
    if (rc != 0) lmdb_of(b)->failed = rc;
    return rc;
}

static int lmdb_compact(struct log_backend *b, struct log_group *g, uint64_t upto_index,
                        uint64_t upto_term)
{
    struct cs_store_txn *txn;
    int rc = lmdb_txn(lmdb_of(b), &txn);
    if (rc != 0) return rc;
    rc = lmdb_del_range(txn, g->id, g->compact_index + 1, upto_index);
    if (rc == 0) rc = lmdb_put_meta(txn, g->id, upto_index, upto_term);
    if (rc != 0) lmdb_of(b)->failed = rc;
    return rc;
}

static int lmdb_term(struct log_backend *b, struct log_group *g, uint64_t index, uint64_t *term)
{
    struct cs_store_txn *txn;
    bool temporary;
    int rc = lmdb_read_txn(lmdb_of(b), &txn, &temporary);
    if (rc != 0) return rc;
    uint8_t key[LOG_KEY_BYTES];
    log_key(key, g->id, index);
    const uint8_t *value;
    size_t value_len;
    rc = cs_store_get(txn, CS_STORE_DB_LOG, key, sizeof key, &value, &value_len);
    if (rc == 0 && value_len < ENTRY_HEAD_BYTES) rc = CS_ECORRUPT;
    if (rc == CS_ENOTFOUND) rc = CS_ECORRUPT; /* log.c checked the bounds */
    if (rc == 0) *term = store_le64_get(value);
    if (temporary) cs_store_abort(txn);
    return rc;
}

/* Walk [lo, hi) once to size the output, then copy. */
static int lmdb_read(struct log_backend *b, struct log_group *g, uint64_t lo, uint64_t hi,
                     size_t bytes_max, struct cs_store_log_entries *out)
{
    struct cs_store_txn *txn;
    bool temporary;
    int rc = lmdb_read_txn(lmdb_of(b), &txn, &temporary);
    if (rc != 0) return rc;
    uint8_t key[LOG_KEY_BYTES];
    size_t n = 0, bytes = 0;
    for (uint64_t i = lo; i < hi && rc == 0; i++) {
        const uint8_t *value;
        size_t value_len;
        log_key(key, g->id, i);
        rc = cs_store_get(txn, CS_STORE_DB_LOG, key, sizeof key, &value, &value_len);
        if (rc == CS_ENOTFOUND ||
            (rc == 0 && (value_len < ENTRY_HEAD_BYTES ||
                         value_len - ENTRY_HEAD_BYTES > CS_RAFT_ENTRY_BYTES_MAX)))
            rc = CS_ECORRUPT;
        if (rc != 0) break;
        n++;
        bytes += value_len - ENTRY_HEAD_BYTES;
        if (bytes >= bytes_max) break;
    }
    if (rc == 0) rc = store_entries_alloc(out, n, bytes);
    size_t pos = 0;
    for (size_t j = 0; j < n && rc == 0; j++) {
        const uint8_t *value;
        size_t value_len;
        log_key(key, g->id, lo + j);
        rc = cs_store_get(txn, CS_STORE_DB_LOG, key, sizeof key, &value, &value_len);
        if (rc != 0) break;
        size_t data_len = value_len - ENTRY_HEAD_BYTES;
        memcpy(out->bytes + pos, value + ENTRY_HEAD_BYTES, data_len);
        out->entries[j] = (struct cs_raft_entry){.term = store_le64_get(value),
                                                 .index = lo + j,
                                                 .type = value[8],
                                                 .data_len = (uint32_t)data_len,
                                                 .data = out->bytes + pos};
        pos += data_len;
    }
    if (temporary) cs_store_abort(txn);
    if (rc != 0) {
        cs_store_log_entries_free(out);
        return rc;
    }
    out->len = n;
    out->bytes_len = bytes;
    return 0;
}

static int lmdb_hard_state_save(struct log_backend *b, struct log_group *g,
                                const struct cs_raft_hard_state *hs)
{
    struct cs_store_txn *txn;
    int rc = lmdb_txn(lmdb_of(b), &txn);
    if (rc != 0) return rc;
    uint8_t key[8], value[HARD_STATE_BYTES];
    store_be64_put(key, g->id);
    store_le64_put(value, hs->term);
    store_le64_put(value + 8, hs->vote);
    store_le64_put(value + 16, hs->commit);
    rc = cs_store_put(txn, CS_STORE_DB_HARD_STATE, key, sizeof key, value, sizeof value);
    if (rc != 0) lmdb_of(b)->failed = rc;
    return rc;
}

static int lmdb_snapshot_save(struct log_backend *b, struct log_group *g,
                              const struct cs_raft_snapshot *snap)
{
    struct cs_store_txn *txn;
    int rc = lmdb_txn(lmdb_of(b), &txn);
    if (rc != 0) return rc;
    uint8_t *value = malloc(STORE_SNAP_META_BYTES_MAX + snap->data_len);
    if (value == NULL) return CS_ENOMEM;
    size_t meta_len = store_snap_meta_encode(&snap->meta, value);
    if (snap->data_len > 0) memcpy(value + meta_len, snap->data, snap->data_len);
    uint8_t key[8];
    store_be64_put(key, g->id);
    rc = cs_store_put(txn, CS_STORE_DB_SNAPSHOT, key, sizeof key, value, meta_len + snap->data_len);
    free(value);
    uint64_t index = snap->meta.index;
    if (rc == 0 && index > g->compact_index) {
        uint64_t hi = index < g->last_index ? index : g->last_index;
        if (hi > g->compact_index) rc = lmdb_del_range(txn, g->id, g->compact_index + 1, hi);
        if (rc == 0) rc = lmdb_put_meta(txn, g->id, index, snap->meta.term);
    }
    if (rc != 0) lmdb_of(b)->failed = rc;
    return rc;
}

static int lmdb_snapshot_load(struct log_backend *b, struct log_group *g,
                              struct cs_store_log_snapshot *out)
{
    struct cs_store_txn *txn;
    bool temporary;
    int rc = lmdb_read_txn(lmdb_of(b), &txn, &temporary);
    if (rc != 0) return rc;
    uint8_t key[8];
    store_be64_put(key, g->id);
    const uint8_t *value;
    size_t value_len, used = 0;
    rc = cs_store_get(txn, CS_STORE_DB_SNAPSHOT, key, sizeof key, &value, &value_len);
    if (rc == CS_ENOTFOUND) rc = CS_ECORRUPT; /* the table says there is one */
    if (rc == 0) rc = store_snap_meta_decode(value, value_len, &out->meta, &used);
    if (rc == 0) {
        out->data_len = value_len - used;
        out->data = malloc(out->data_len ? out->data_len : 1);
        if (out->data == NULL)
            rc = CS_ENOMEM;
        else if (out->data_len > 0)
            memcpy(out->data, value + used, out->data_len);
    }
    if (temporary) cs_store_abort(txn);
    if (rc != 0) cs_store_log_snapshot_free(out);
    return rc;
}

static int lmdb_sync(struct log_backend *b)
{
    struct log_lmdb *l = lmdb_of(b);
    if (l->failed != 0) return l->failed;
    if (l->txn == NULL) return 0;
    int rc = cs_store_commit(l->txn);
    l->txn = NULL;
    if (rc != 0) l->failed = rc;
    return rc;
}

static struct cs_store_txn *lmdb_txn_get(struct log_backend *b, int *rc)
{
    struct cs_store_txn *txn = NULL;
    *rc = lmdb_txn(lmdb_of(b), &txn);
    return *rc == 0 ? txn : NULL;
}

static void lmdb_close(struct log_backend *b)
{
    struct log_lmdb *l = lmdb_of(b);
    if (l->txn != NULL) cs_store_abort(l->txn);
    free(l);
}

static const struct log_backend_ops lmdb_ops = {
    .close = lmdb_close,
    .append = lmdb_append,
    .truncate = lmdb_truncate,
    .compact = lmdb_compact,
    .term = lmdb_term,
    .read = lmdb_read,
    .hard_state_save = lmdb_hard_state_save,
    .snapshot_save = lmdb_snapshot_save,
    .snapshot_load = lmdb_snapshot_load,
    .sync = lmdb_sync,
    .txn = lmdb_txn_get,
};

/* --- recovery: rebuild the group table --------------------------------- */

/* Every group id with a key in db (keys start with be64 group), added to the table. */
static int lmdb_discover(struct cs_store_txn *txn, enum cs_store_db db, struct log_groups *groups)
{
    uint8_t seek[LOG_KEY_BYTES] = {0};
    size_t seek_len = db == CS_STORE_DB_LOG ? LOG_KEY_BYTES : 8;
    bool first = true;
    for (;;) {
        const uint8_t *key, *value;
        size_t key_len, value_len;
        int rc = cs_store_next(txn, db, first ? NULL : seek, seek_len, true, &key, &key_len, &value,
                               &value_len);
        if (rc == CS_ENOTFOUND) return 0;
        if (rc != 0) return rc;
        if (key_len != seek_len) return CS_ECORRUPT;
        uint64_t id = store_be64_get(key);
        struct log_group *g;
        rc = store_groups_get(groups, id, &g);
        if (rc != 0) return rc;
        if (db == CS_STORE_DB_LOG_META) {
            if (value_len != LOG_META_BYTES) return CS_ECORRUPT;
            g->compact_index = store_le64_get(value);
            g->compact_term = store_le64_get(value + 8);
        } else if (db == CS_STORE_DB_HARD_STATE) {
            if (value_len != HARD_STATE_BYTES) return CS_ECORRUPT;
            g->has_hard_state = true;
            g->hard_state = (struct cs_raft_hard_state){
                store_le64_get(value), store_le64_get(value + 8), store_le64_get(value + 16)};
        } else if (db == CS_STORE_DB_SNAPSHOT) {
            if (value_len < 20) return CS_ECORRUPT;
            g->snapshot_index = store_le64_get(value);
        }
        if (id == UINT64_MAX) return 0;
        memset(seek, 0, sizeof seek);
        store_be64_put(seek, id + 1);
        first = false;
    }
}

/* A group's last index: the highest key under its prefix, else its compaction point. */
static int lmdb_find_last(struct cs_store_txn *txn, struct log_group *g)
{
    uint8_t key[LOG_KEY_BYTES];
    log_key(key, g->id, UINT64_MAX);
    const uint8_t *found;
    size_t found_len;
    int rc = store_last_at_or_below(txn, CS_STORE_DB_LOG, key, sizeof key, &found, &found_len);
    g->last_index = g->compact_index;
    if (rc == CS_ENOTFOUND) return 0;
    if (rc != 0) return rc;
    if (found_len != LOG_KEY_BYTES) return CS_ECORRUPT;
    if (store_be64_get(found) != g->id) return 0;
    uint64_t last = store_be64_get(found + 8);
    if (last > g->compact_index) g->last_index = last;
    return 0;
}

int store_log_lmdb_open(struct cs_store *store, struct log_groups *groups, struct log_backend **out)
{
    struct log_lmdb *l = calloc(1, sizeof *l);
    if (l == NULL) return CS_ENOMEM;
    l->base.ops = &lmdb_ops;
    l->store = store;
    struct cs_store_txn *txn;
    int rc = cs_store_txn_begin(store, true, &txn);
    if (rc != 0) {
        free(l);
        return rc;
    }
    static const enum cs_store_db dbs[] = {CS_STORE_DB_LOG, CS_STORE_DB_LOG_META,
                                           CS_STORE_DB_HARD_STATE, CS_STORE_DB_SNAPSHOT};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0] && rc == 0; i++)
        rc = lmdb_discover(txn, dbs[i], groups);
    for (size_t i = 0; i < groups->len && rc == 0; i++)
        rc = lmdb_find_last(txn, &groups->items[i]);
    cs_store_abort(txn);
    if (rc != 0) {
        free(l);
        return rc;
    }
    *out = &l->base;
    return 0;
}
