/*
 * lmdb.c: the key-value store (struct cs_store) on LMDB.
 *
 * The one idea: LMDB gives ordered keys, atomic transactions and a synced
 * commit; this file adds what LMDB does not: keys past its 511-byte limit
 * (stored as prefix + hash + collision number, full key in the value) and a
 * map that grows by itself (every write is journaled in the transaction, so
 * when LMDB reports MDB_MAP_FULL the transaction is aborted, the map doubled
 * and the journal replayed, invisibly to the caller).
 */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"
#include "base/log.h"
#include "consist/codec.h"
#include "store/internal.h"

/* A long key's stored form: inline prefix, u64 hash, u16 collision number. */
#define LONG_KEY_BYTES (CS_STORE_KEY_INLINE_BYTES_MAX + 10)
#define LONG_RUN_BYTES (CS_STORE_KEY_INLINE_BYTES_MAX + 8)
/* The format written into the meta database. */
#define STORE_FORMAT_KEY     "format"
#define STORE_FORMAT_VERSION 1

_Static_assert(CS_STORE_COLLISIONS_MAX <= 65536, "a collision number is a u16");

static const char *const store_db_names[CS_STORE_DB_COUNT] = {
    "meta", "hard_state", "log", "log_meta", "snapshot", "data", "quorum", "hints", "saga",
};

struct cs_store {
    MDB_env *env;
    MDB_dbi dbis[CS_STORE_DB_COUNT];
    uint64_t map_bytes;
    uint64_t map_bytes_max;
    uint64_t txn_bytes_max;
    uint64_t (*hash)(const void *key, size_t key_len);
    struct cs_store_txn *open_txn; /* at most one */
};

enum journal_op { JOURNAL_PUT = 1, JOURNAL_DEL = 2 };

struct cs_store_txn {
    struct cs_store *store;
    MDB_txn *txn;
    bool read_only;
    int failed;            /* sticky error after which only abort helps */
    struct cs_buf journal; /* writes since begin, replayed after map growth */
};

const char *cs_store_db_name(enum cs_store_db db)
{
    if ((unsigned)db >= CS_STORE_DB_COUNT) return NULL;
    return store_db_names[db];
}

/* The built-in long-key hash: FNV-1a 64 with a murmur finaliser for spread. */
static uint64_t store_hash_default(const void *key, size_t key_len)
{
    const uint8_t *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < key_len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

static int store_errno(int rc)
{
    switch (rc) {
    case 0:
        return 0;
    case MDB_NOTFOUND:
        return CS_ENOTFOUND;
    case MDB_MAP_FULL:
        return CS_ENOSPACE;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return CS_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return CS_EVERSION;
    case ENOMEM:
        return CS_ENOMEM;
    case MDB_TXN_FULL:
    case MDB_DBS_FULL:
    case MDB_READERS_FULL:
        return CS_ENOSPACE;
    case MDB_BAD_VALSIZE:
        return CS_ETOOBIG;
    default:
        return CS_EIO;
    }
}

/*
 * Internal calls return either an LMDB code (so MDB_MAP_FULL can be told
 * apart and trigger growth) or, from our own checks, a CS code; the ranges do
 * not overlap (LMDB's are below -30000 or positive errno values).
 */
static bool store_is_cs(int rc)
{
    return rc < 0 && rc >= CS_ERROR_MIN;
}

int store_mkdir_durable(const char *dir)
{
    if (mkdir(dir, 0700) != 0) return errno == EEXIST ? 0 : CS_EIO;
    /* A new directory's own entry lives in its parent: sync that too. */
    char parent[4096];
    size_t len = strlen(dir);
    if (len >= sizeof parent) return CS_EINVAL;
    memcpy(parent, dir, len + 1);
    while (len > 1 && parent[len - 1] == '/')
        parent[--len] = 0;
    char *slash = strrchr(parent, '/');
    if (slash == NULL)
        memcpy(parent, ".", 2);
    else if (slash == parent)
        parent[1] = 0;
    else
        *slash = 0;
    int fd = open(parent, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return CS_EIO;
    int rc = fsync(fd) == 0 ? 0 : CS_EIO;
    close(fd);
    return rc;
}

/* --- open and close --------------------------------------------------------- */

static int store_open_dbs(struct cs_store *store)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(store->env, NULL, 0, &txn);
    if (rc != 0) return store_errno(rc);
    for (int i = 0; i < CS_STORE_DB_COUNT && rc == 0; i++)
        rc = mdb_dbi_open(txn, store_db_names[i], MDB_CREATE, &store->dbis[i]);
    if (rc != 0) goto fail;
    MDB_val k = {sizeof STORE_FORMAT_KEY - 1, (void *)(uintptr_t)STORE_FORMAT_KEY};
    MDB_val v;
    rc = mdb_get(txn, store->dbis[CS_STORE_DB_META], &k, &v);
    if (rc == MDB_NOTFOUND) {
        uint8_t version[8];
        store_le64_put(version, STORE_FORMAT_VERSION);
        v = (MDB_val){sizeof version, version};
        rc = mdb_put(txn, store->dbis[CS_STORE_DB_META], &k, &v, 0);
        if (rc != 0) goto fail;
    } else if (rc != 0) {
        goto fail;
    } else if (v.mv_size != 8 || store_le64_get(v.mv_data) != STORE_FORMAT_VERSION) {
        mdb_txn_abort(txn);
        return CS_EVERSION;
    }
    return store_errno(mdb_txn_commit(txn));
fail:
    mdb_txn_abort(txn);
    return store_errno(rc);
}

int cs_store_open(const struct cs_store_options *options, struct cs_store **out)
{
    uint64_t map_max = options->map_bytes_max ? options->map_bytes_max : CS_STORE_MAP_BYTES_MAX;
    uint64_t map = options->map_bytes ? options->map_bytes : CS_STORE_MAP_BYTES_DEFAULT;
    if (map > map_max && options->map_bytes == 0) map = map_max;
    uint64_t txn_max = options->txn_bytes_max ? options->txn_bytes_max : CS_STORE_TXN_BYTES_MAX;
    if (options->dir == NULL || map_max > CS_STORE_MAP_BYTES_MAX || map < CS_STORE_MAP_BYTES_MIN ||
        map > map_max || txn_max > CS_STORE_TXN_BYTES_MAX)
        return CS_EINVAL;
    int rc = store_mkdir_durable(options->dir);
    if (rc != 0) return rc;

    struct cs_store *store = calloc(1, sizeof *store);
    if (store == NULL) return CS_ENOMEM;
    store->map_bytes_max = map_max;
    store->txn_bytes_max = txn_max;
    store->hash = options->long_key_hash ? options->long_key_hash : store_hash_default;
    rc = mdb_env_create(&store->env);
    if (rc == 0) rc = mdb_env_set_maxdbs(store->env, CS_STORE_DB_COUNT);
    if (rc == 0) rc = mdb_env_set_mapsize(store->env, (size_t)map);
    if (rc == 0) rc = mdb_env_open(store->env, options->dir, MDB_NORDAHEAD, 0600);
    if (rc != 0) {
        rc = rc == MDB_VERSION_MISMATCH || rc == MDB_INVALID ? store_errno(rc) : CS_EIO;
        goto fail;
    }
    CS_ASSERT(mdb_env_get_maxkeysize(store->env) >= LONG_KEY_BYTES);
    MDB_envinfo info;
    mdb_env_info(store->env, &info);
    store->map_bytes = info.me_mapsize; /* an existing environment may be larger */
    rc = store_open_dbs(store);
    if (rc != 0) goto fail;
    *out = store;
    return 0;
fail:
    if (store->env != NULL) mdb_env_close(store->env);
    free(store);
    CS_ASSERT(rc != 0);
    return rc;
}

void cs_store_close(struct cs_store *store)
{
    if (store == NULL) return;
    if (store->open_txn != NULL) cs_store_abort(store->open_txn);
    mdb_env_close(store->env);
    free(store);
}

uint64_t cs_store_map_bytes(const struct cs_store *store)
{
    return store->map_bytes;
}

/* --- transactions ------------------------------------------------------------ */

static int store_mdb_begin(struct cs_store *store, bool read_only, MDB_txn **txn)
{
    int rc = mdb_txn_begin(store->env, NULL, read_only ? MDB_RDONLY : 0, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the file: adopt its size. */
        rc = mdb_env_set_mapsize(store->env, 0);
        if (rc == 0) rc = mdb_txn_begin(store->env, NULL, read_only ? MDB_RDONLY : 0, txn);
    }
    return store_errno(rc);
}

int cs_store_txn_begin(struct cs_store *store, bool read_only, struct cs_store_txn **out)
{
    if (store->open_txn != NULL) return CS_EBUSY;
    struct cs_store_txn *txn = calloc(1, sizeof *txn);
    if (txn == NULL) return CS_ENOMEM;
    int rc = store_mdb_begin(store, read_only, &txn->txn);
    if (rc != 0) {
        free(txn);
        return rc;
    }
    txn->store = store;
    txn->read_only = read_only;
    cs_buf_init(&txn->journal, (size_t)store->txn_bytes_max);
    store->open_txn = txn;
    *out = txn;
    return 0;
}

static void store_txn_end(struct cs_store_txn *txn)
{
    CS_ASSERT(txn->store->open_txn == txn);
    txn->store->open_txn = NULL;
    cs_buf_free(&txn->journal);
    free(txn);
}

void cs_store_abort(struct cs_store_txn *txn)
{
    if (txn->txn != NULL) mdb_txn_abort(txn->txn);
    store_txn_end(txn);
}

static int store_replay(struct cs_store_txn *txn);

/*
 * store_grow: the LMDB transaction hit MDB_MAP_FULL and is dead. Drop it,
 * double the map (capped) and replay the journal into a fresh transaction,
 * until it fits or the cap is reached. Needs no other transaction open in
 * this process, which the one-transaction rule guarantees.
 */
static int store_grow(struct cs_store_txn *txn)
{
    struct cs_store *store = txn->store;
    for (;;) {
        if (txn->txn != NULL) mdb_txn_abort(txn->txn);
        txn->txn = NULL;
        if (store->map_bytes >= store->map_bytes_max) return CS_ENOSPACE;
        uint64_t next = store->map_bytes * 2;
        if (next > store->map_bytes_max) next = store->map_bytes_max;
        int rc = mdb_env_set_mapsize(store->env, (size_t)next);
        if (rc != 0) return store_errno(rc);
        store->map_bytes = next;
        CS_LOGI("store: map grown to %llu bytes", (unsigned long long)next);
        rc = store_mdb_begin(store, false, &txn->txn);
        if (rc != 0) return rc;
        rc = store_replay(txn);
        if (rc != CS_ENOSPACE) return rc;
    }
}

int cs_store_commit(struct cs_store_txn *txn)
{
    int rc = txn->failed;
    if (rc == 0 && txn->read_only) {
        mdb_txn_abort(txn->txn);
        txn->txn = NULL;
    }
    while (rc == 0 && txn->txn != NULL) {
        int mrc = mdb_txn_commit(txn->txn);
        txn->txn = NULL; /* LMDB frees the handle whatever the result */
        if (mrc != MDB_MAP_FULL) {
            rc = store_errno(mrc);
            break;
        }
        /* The commit's own pages did not fit: grow and redo the whole txn. */
        rc = store_grow(txn);
    }
    if (txn->txn != NULL) mdb_txn_abort(txn->txn);
    txn->txn = NULL;
    store_txn_end(txn);
    return rc;
}

/* --- long keys ----------------------------------------------------------------- */

/* A long key's stored value: u32le full key length, the full key, the value. */
struct long_slot {
    bool found; /* the key is stored at found_seq */
    uint32_t found_seq;
    uint32_t free_seq; /* the lowest unused collision number, or COLLISIONS_MAX */
    MDB_val value;     /* found: the stored value */
};

static void store_long_run(const struct cs_store *store, const uint8_t *key, size_t key_len,
                           uint8_t *stored)
{
    memcpy(stored, key, CS_STORE_KEY_INLINE_BYTES_MAX);
    store_be64_put(stored + CS_STORE_KEY_INLINE_BYTES_MAX, store->hash(key, key_len));
}

static bool store_is_long(const MDB_val *k)
{
    return k->mv_size == LONG_KEY_BYTES;
}

/* The full key kept in a long key's stored value. CS_ECORRUPT if it is not there. */
static int store_long_value(const MDB_val *v, const uint8_t **key, size_t *key_len,
                            const uint8_t **value, size_t *value_len)
{
    if (v->mv_size < 4) return CS_ECORRUPT;
    const uint8_t *p = v->mv_data;
    uint32_t len =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    if (len <= CS_STORE_KEY_INLINE_BYTES_MAX || len > CS_STORE_KEY_BYTES_MAX ||
        v->mv_size - 4 < len)
        return CS_ECORRUPT;
    *key = p + 4;
    *key_len = len;
    if (value != NULL) {
        *value = p + 4 + len;
        *value_len = v->mv_size - 4 - len;
    }
    return 0;
}

/* Walk key's run: is it stored, and which collision number is free. */
static int store_long_find(struct cs_store_txn *txn, MDB_dbi dbi, const uint8_t *key,
                           size_t key_len, uint8_t *stored, struct long_slot *slot)
{
    store_long_run(txn->store, key, key_len, stored);
    memset(stored + LONG_RUN_BYTES, 0, 2);
    *slot = (struct long_slot){.free_seq = CS_STORE_COLLISIONS_MAX};
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn->txn, dbi, &cur);
    if (rc != 0) return store_errno(rc);
    MDB_val k = {LONG_KEY_BYTES, stored}, v;
    uint32_t expect_seq = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && store_is_long(&k) && memcmp(k.mv_data, stored, LONG_RUN_BYTES) == 0) {
        const uint8_t *kp = k.mv_data;
        uint32_t seq = (uint32_t)kp[LONG_RUN_BYTES] << 8 | kp[LONG_RUN_BYTES + 1];
        if (seq > expect_seq && slot->free_seq == CS_STORE_COLLISIONS_MAX)
            slot->free_seq = expect_seq; /* a hole left by a delete */
        expect_seq = seq + 1;
        const uint8_t *full;
        size_t full_len;
        if (store_long_value(&v, &full, &full_len, NULL, NULL) != 0) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (full_len == key_len && memcmp(full, key, key_len) == 0) {
            slot->found = true;
            slot->found_seq = seq;
            slot->value = v;
        }
        rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) return store_errno(rc);
    if (slot->free_seq == CS_STORE_COLLISIONS_MAX && expect_seq < CS_STORE_COLLISIONS_MAX)
        slot->free_seq = expect_seq;
    uint32_t seq = slot->found ? slot->found_seq : slot->free_seq;
    stored[LONG_RUN_BYTES] = (uint8_t)(seq >> 8);
    stored[LONG_RUN_BYTES + 1] = (uint8_t)seq;
    return 0;
}

/* --- applying writes (MDB_* codes, so MDB_MAP_FULL can be told apart) ----- */

static int store_key_check(size_t key_len)
{
    return key_len == 0 || key_len > CS_STORE_KEY_BYTES_MAX ? CS_ETOOBIG : 0;
}

/* Returns an MDB code, or a CS code (negative, above MDB's range) for ours. */
static int store_apply_put(struct cs_store_txn *txn, MDB_dbi dbi, const uint8_t *key,
                           size_t key_len, const uint8_t *value, size_t value_len)
{
    if (key_len <= CS_STORE_KEY_INLINE_BYTES_MAX) {
        MDB_val k = {key_len, (void *)(uintptr_t)key};
        MDB_val v = {value_len, (void *)(uintptr_t)value};
        return mdb_put(txn->txn, dbi, &k, &v, 0);
    }
    uint8_t stored[LONG_KEY_BYTES];
    struct long_slot slot;
    int rc = store_long_find(txn, dbi, key, key_len, stored, &slot);
    if (rc != 0) return rc;
    if (!slot.found && slot.free_seq >= CS_STORE_COLLISIONS_MAX) return CS_ENOSPACE;
    MDB_val k = {LONG_KEY_BYTES, stored};
    MDB_val v = {4 + key_len + value_len, NULL};
    rc = mdb_put(txn->txn, dbi, &k, &v, MDB_RESERVE);
    if (rc != 0) return rc;
    uint8_t *p = v.mv_data;
    p[0] = (uint8_t)key_len;
    p[1] = (uint8_t)(key_len >> 8);
    p[2] = (uint8_t)(key_len >> 16);
    p[3] = (uint8_t)(key_len >> 24);
    memcpy(p + 4, key, key_len);
    if (value_len > 0) memcpy(p + 4 + key_len, value, value_len);
    return 0;
}

static int store_apply_del(struct cs_store_txn *txn, MDB_dbi dbi, const uint8_t *key,
                           size_t key_len)
{
    if (key_len <= CS_STORE_KEY_INLINE_BYTES_MAX) {
        MDB_val k = {key_len, (void *)(uintptr_t)key};
        return mdb_del(txn->txn, dbi, &k, NULL);
    }
    uint8_t stored[LONG_KEY_BYTES];
    struct long_slot slot;
    int rc = store_long_find(txn, dbi, key, key_len, stored, &slot);
    if (rc != 0) return rc;
    if (!slot.found) return MDB_NOTFOUND;
    MDB_val k = {LONG_KEY_BYTES, stored};
    return mdb_del(txn->txn, dbi, &k, NULL);
}

/* One journal record: u8 op, u8 db, u32le key_len, u32le value_len, key, value. */
static int store_journal(struct cs_store_txn *txn, uint8_t op, enum cs_store_db db, const void *key,
                         size_t key_len, const void *value, size_t value_len)
{
    struct cs_buf *j = &txn->journal;
    size_t before = j->len;
    cs_put_u8(j, op);
    cs_put_u8(j, (uint8_t)db);
    cs_put_u32le(j, (uint32_t)key_len);
    cs_put_u32le(j, (uint32_t)value_len);
    cs_put_raw(j, key, key_len);
    if (value_len > 0) cs_put_raw(j, value, value_len);
    int rc = cs_buf_error(j);
    if (rc != 0) {
        /* Undo the partial record; the journal stays usable. */
        j->len = before;
        j->err = 0;
    }
    return rc;
}

static int store_replay(struct cs_store_txn *txn)
{
    struct cs_reader r;
    cs_reader_init(&r, txn->journal.data, txn->journal.len);
    while (cs_reader_remaining(&r) > 0) {
        uint8_t op, db;
        uint32_t key_len, value_len;
        const uint8_t *key, *value = NULL;
        cs_get_u8(&r, &op);
        cs_get_u8(&r, &db);
        cs_get_u32le(&r, &key_len);
        cs_get_u32le(&r, &value_len);
        cs_get_raw(&r, &key, key_len);
        if (value_len > 0) cs_get_raw(&r, &value, value_len);
        CS_ASSERT(cs_reader_error(&r) == 0);
        MDB_dbi dbi = txn->store->dbis[db];
        int rc = op == JOURNAL_PUT ? store_apply_put(txn, dbi, key, key_len, value, value_len)
                                   : store_apply_del(txn, dbi, key, key_len);
        if (rc == MDB_NOTFOUND && op == JOURNAL_DEL) rc = 0; /* it was journaled as a hit */
        if (rc != 0) return store_is_cs(rc) ? rc : store_errno(rc);
    }
    return 0;
}

static int store_write_check(struct cs_store_txn *txn, enum cs_store_db db)
{
    if ((unsigned)db >= CS_STORE_DB_COUNT || txn->read_only) return CS_EINVAL;
    return txn->failed;
}

/* Map an apply result: grow on MAP_FULL; failures that poison the txn stick. */
static int store_apply_result(struct cs_store_txn *txn, int rc)
{
    if (rc == 0) return 0;
    if (rc == MDB_MAP_FULL) {
        rc = store_grow(txn);
        if (rc == 0) return 0;
    } else if (rc == CS_ENOSPACE) {
        return rc; /* too many collisions: refused before LMDB changed anything */
    } else if (store_is_cs(rc)) {
        /* already a CS code */
    } else {
        rc = store_errno(rc);
    }
    txn->failed = rc;
    return rc;
}

int cs_store_put(struct cs_store_txn *txn, enum cs_store_db db, const void *key, size_t key_len,
                 const void *value, size_t value_len)
{
    int rc = store_write_check(txn, db);
    if (rc != 0) return rc;
    if (store_key_check(key_len) != 0 || value_len > CS_STORE_VALUE_BYTES_MAX) return CS_ETOOBIG;
    size_t journal_len = txn->journal.len;
    rc = store_journal(txn, JOURNAL_PUT, db, key, key_len, value, value_len);
    if (rc != 0) return rc;
    rc = store_apply_put(txn, txn->store->dbis[db], key, key_len, value, value_len);
    if (rc == CS_ENOSPACE) txn->journal.len = journal_len; /* collisions: nothing changed */
    return store_apply_result(txn, rc);
}

int cs_store_del(struct cs_store_txn *txn, enum cs_store_db db, const void *key, size_t key_len)
{
    int rc = store_write_check(txn, db);
    if (rc != 0) return rc;
    if (store_key_check(key_len) != 0) return CS_ETOOBIG;
    size_t journal_len = txn->journal.len;
    rc = store_journal(txn, JOURNAL_DEL, db, key, key_len, NULL, 0);
    if (rc != 0) return rc;
    rc = store_apply_del(txn, txn->store->dbis[db], key, key_len);
    if (rc == MDB_NOTFOUND) {
        txn->journal.len = journal_len;
        return CS_ENOTFOUND;
    }
    return store_apply_result(txn, rc);
}

/* --- reads -------------------------------------------------------------------- */

static int store_read_check(struct cs_store_txn *txn, enum cs_store_db db)
{
    if ((unsigned)db >= CS_STORE_DB_COUNT) return CS_EINVAL;
    return txn->failed;
}

int cs_store_get(struct cs_store_txn *txn, enum cs_store_db db, const void *key, size_t key_len,
                 const uint8_t **value, size_t *value_len)
{
    int rc = store_read_check(txn, db);
    if (rc != 0) return rc;
    if (store_key_check(key_len) != 0) return CS_ETOOBIG;
    MDB_dbi dbi = txn->store->dbis[db];
    if (key_len <= CS_STORE_KEY_INLINE_BYTES_MAX) {
        MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
        rc = mdb_get(txn->txn, dbi, &k, &v);
        if (rc != 0) return store_errno(rc);
        *value = v.mv_data;
        *value_len = v.mv_size;
        return 0;
    }
    uint8_t stored[LONG_KEY_BYTES];
    struct long_slot slot;
    rc = store_long_find(txn, dbi, key, key_len, stored, &slot);
    if (rc != 0) return rc;
    if (!slot.found) return CS_ENOTFOUND;
    const uint8_t *full;
    size_t full_len;
    return store_long_value(&slot.value, &full, &full_len, value, value_len);
}

/* The user view of a stored entry. */
static int store_entry_view(const MDB_val *k, const MDB_val *v, const uint8_t **key,
                            size_t *key_len, const uint8_t **value, size_t *value_len)
{
    if (!store_is_long(k)) {
        if (k->mv_size > CS_STORE_KEY_INLINE_BYTES_MAX) return CS_ECORRUPT;
        *key = k->mv_data;
        *key_len = k->mv_size;
        *value = v->mv_data;
        *value_len = v->mv_size;
        return 0;
    }
    return store_long_value(v, key, key_len, value, value_len);
}

/* Position cur at the first stored key at or after the user bound's place. */
static int store_seek(struct cs_store_txn *txn, MDB_cursor *cur, const uint8_t *after,
                      size_t after_len, bool inclusive, MDB_val *k, MDB_val *v)
{
    if (after == NULL) return mdb_cursor_get(cur, k, v, MDB_FIRST);
    uint8_t stored[LONG_KEY_BYTES];
    size_t stored_len = after_len;
    if (after_len <= CS_STORE_KEY_INLINE_BYTES_MAX) {
        memcpy(stored, after, after_len);
    } else {
        struct long_slot slot;
        MDB_dbi dbi;
        dbi = mdb_cursor_dbi(cur);
        int rc = store_long_find(txn, dbi, after, after_len, stored, &slot);
        if (rc != 0) return rc;
        stored_len = LONG_KEY_BYTES;
        if (!slot.found) {
            /* Absent long bound: start at the head of its prefix's run (every
             * hash), since members of any hash may sort after the bound. */
            memset(stored + CS_STORE_KEY_INLINE_BYTES_MAX, 0,
                   LONG_KEY_BYTES - CS_STORE_KEY_INLINE_BYTES_MAX);
            inclusive = true;
        }
    }
    *k = (MDB_val){stored_len, stored};
    int rc = mdb_cursor_get(cur, k, v, MDB_SET_RANGE);
    if (rc == 0 && !inclusive && k->mv_size == stored_len &&
        memcmp(k->mv_data, stored, stored_len) == 0)
        rc = mdb_cursor_get(cur, k, v, MDB_NEXT);
    return rc;
}

int cs_store_next(struct cs_store_txn *txn, enum cs_store_db db, const void *after,
                  size_t after_len, bool inclusive, const uint8_t **key, size_t *key_len,
                  const uint8_t **value, size_t *value_len)
{
    int rc = store_read_check(txn, db);
    if (rc != 0) return rc;
    if (after != NULL && store_key_check(after_len) != 0) return CS_ETOOBIG;
    MDB_cursor *cur;
    rc = mdb_cursor_open(txn->txn, txn->store->dbis[db], &cur);
    if (rc != 0) return store_errno(rc);
    MDB_val k, v;
    rc = store_seek(txn, cur, after, after_len, inclusive, &k, &v);
    mdb_cursor_close(cur);
    if (rc != 0) return store_is_cs(rc) ? rc : store_errno(rc);
    return store_entry_view(&k, &v, key, key_len, value, value_len);
}

int cs_store_count(struct cs_store_txn *txn, enum cs_store_db db, uint64_t *out)
{
    int rc = store_read_check(txn, db);
    if (rc != 0) return rc;
    MDB_stat st;
    rc = mdb_stat(txn->txn, txn->store->dbis[db], &st);
    if (rc != 0) return store_errno(rc);
    *out = st.ms_entries;
    return 0;
}

int store_last_at_or_below(struct cs_store_txn *txn, enum cs_store_db db, const void *key,
                           size_t key_len, const uint8_t **found, size_t *found_len)
{
    CS_ASSERT(key_len <= CS_STORE_KEY_INLINE_BYTES_MAX);
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn->txn, txn->store->dbis[db], &cur);
    if (rc != 0) return store_errno(rc);
    MDB_val k = {key_len, (void *)(uintptr_t)key}, v;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && (k.mv_size != key_len || memcmp(k.mv_data, key, key_len) != 0))
        rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
    else if (rc == MDB_NOTFOUND)
        rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
    mdb_cursor_close(cur);
    if (rc != 0) return store_errno(rc);
    *found = k.mv_data;
    *found_len = k.mv_size;
    return 0;
}
