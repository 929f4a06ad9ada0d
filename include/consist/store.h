/*
 * consist/store.h: a node's durable storage: an ordered byte-key store with
 * write transactions (on LMDB), and the Raft log store built on it or on a
 * segmented write-ahead log.
 *
 * The one idea: nothing is durable until a commit that syncs it returns, and
 * one commit may carry the writes of many Raft groups and of the state
 * machine, so a driver that opens one write transaction per event-loop turn
 * pays one fsync per turn however many groups moved (group commit).
 *
 * PART 1, THE KEY-VALUE STORE (struct cs_store). One LMDB environment per
 * node, in one directory, with a fixed set of named sub-databases
 * (enum cs_store_db). Keys are byte strings of 1..CS_STORE_KEY_BYTES_MAX bytes,
 * values 0..CS_STORE_VALUE_BYTES_MAX bytes. Keys of at most
 * CS_STORE_KEY_INLINE_BYTES_MAX bytes are LMDB keys as they are; longer keys
 * are stored under their first CS_STORE_KEY_INLINE_BYTES_MAX bytes plus a
 * 64-bit hash and a collision sequence number, with the full key kept in the
 * value (docs/storage.md, "Long keys").
 *
 * ORDERING. Iteration returns keys in memcmp order (a shorter key first on a
 * common prefix), EXCEPT that long keys sharing their first
 * CS_STORE_KEY_INLINE_BYTES_MAX bytes form one contiguous run, at the place
 * the run belongs in that order, whose members come in hash order. Keys up
 * to CS_STORE_KEY_INLINE_BYTES_MAX bytes, and long keys with distinct
 * prefixes, are in exact memcmp order. Iterating with after = the key just
 * returned visits every key once. A scan from a stored key returns what
 * follows it in this order; a scan from a key that is not stored returns
 * every key >= it, and when that key is long it starts at the head of its
 * run, so it may also return run members below it (callers wanting an exact
 * bound compare).
 *
 * TRANSACTIONS. A store has at most one open transaction at a time (read-only
 * or write) and is used by one thread. Reads in a write transaction see its
 * own writes. Views returned by get and next are valid until the next
 * put, del, commit or abort in that transaction. A write is durable only once
 * cs_store_commit has returned 0: commit writes and fdatasyncs (LMDB's
 * default, never MDB_NOSYNC). A crash before that loses the whole
 * transaction, never part of it.
 *
 * MAP SIZE. The map starts at map_bytes and doubles when LMDB reports it full
 * (the transaction is replayed from its journal into the larger map, so the
 * caller never sees it) up to map_bytes_max; past that the write returns
 * CS_ENOSPACE and the transaction can only be aborted.
 *
 * PART 2, THE RAFT LOG STORE (struct cs_store_log). Per group: the log entries, the
 * hard state, the latest snapshot. Two backends behind one API: LMDB (the
 * entries in the node's struct cs_store) and WAL (segmented append-only files
 * with a CRC32C per record, entries cached in memory). Writes are buffered:
 * reads see them at once; cs_store_log_sync makes every write to every group
 * durable with one commit (LMDB) or one fdatasync (WAL). docs/storage.md gives
 * the layouts byte by byte and the benchmark that chose the default.
 *
 * Errors: 0 or a negative CS_E code (consist/error.h). LMDB and errno codes
 * are translated: I/O failures are CS_EIO, damaged files CS_ECORRUPT.
 */
#ifndef CONSIST_STORE_H
#define CONSIST_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/error.h"
#include "consist/raft.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- limits ----------------------------------------------------------------- */

/* The longest user key. 64 KiB: far past any key a client sends (Redis's
 * own practical keys are tens of bytes) yet small enough that the long-key
 * value header stays cheap to compare on lookup. */
#define CS_STORE_KEY_BYTES_MAX (64u << 10)
/* Keys up to this length are stored as LMDB keys unchanged. LMDB's default
 * key limit is 511; a long key's stored form is this + 10 bytes. */
#define CS_STORE_KEY_INLINE_BYTES_MAX 480
/* The largest value: a whole Raft snapshot plus its metadata fits. */
#define CS_STORE_VALUE_BYTES_MAX (CS_RAFT_SNAPSHOT_BYTES_MAX + (1u << 20))
/* Long keys with the same prefix and hash: more is CS_ENOSPACE. */
#define CS_STORE_COLLISIONS_MAX 256
/* Bytes of writes one transaction may journal (for replay on map growth). */
#define CS_STORE_TXN_BYTES_MAX (256ull << 20)
/* Hard ceilings on the map. */
#define CS_STORE_MAP_BYTES_MIN     (1ull << 20)
#define CS_STORE_MAP_BYTES_MAX     (1ull << 40)
#define CS_STORE_MAP_BYTES_DEFAULT (64ull << 20)

_Static_assert(CS_STORE_KEY_INLINE_BYTES_MAX + 10 <= 511, "long keys fit LMDB's default key");
_Static_assert(CS_STORE_KEY_INLINE_BYTES_MAX < CS_STORE_KEY_BYTES_MAX, "inline keys are shorter");
_Static_assert(CS_STORE_VALUE_BYTES_MAX < CS_STORE_TXN_BYTES_MAX, "one value fits a txn");

/* The named sub-databases of a node's environment (docs/storage.md). */
enum cs_store_db {
    CS_STORE_DB_META = 0,       /* the store's format version */
    CS_STORE_DB_HARD_STATE = 1, /* group id -> Raft hard state */
    CS_STORE_DB_LOG = 2,        /* (group id, index) -> Raft entry */
    CS_STORE_DB_LOG_META = 3,   /* group id -> compaction point of its log */
    CS_STORE_DB_SNAPSHOT = 4,   /* group id -> latest snapshot (meta + data) */
    CS_STORE_DB_DATA = 5,       /* state machine keys -> values */
    CS_STORE_DB_QUORUM = 6,     /* quorum keyspace data */
    CS_STORE_DB_HINTS = 7,      /* hinted handoff */
    CS_STORE_DB_SAGA = 8,       /* saga log */
};
#define CS_STORE_DB_COUNT 9

/* cs_store_db_name: the sub-database's LMDB name ("data", ...); NULL if unknown. */
const char *cs_store_db_name(enum cs_store_db db);

/* --- the key-value store -------------------------------------------------- */

struct cs_store;
struct cs_store_txn;

struct cs_store_options {
    const char *dir;        /* the environment's directory; created if missing */
    uint64_t map_bytes;     /* initial map; 0: CS_STORE_MAP_BYTES_DEFAULT */
    uint64_t map_bytes_max; /* growth stops here; 0: CS_STORE_MAP_BYTES_MAX */
    /* Bytes of writes one transaction may journal; 0: CS_STORE_TXN_BYTES_MAX, which
     * is also the most allowed. A write past it is CS_ETOOBIG. */
    uint64_t txn_bytes_max;
    /*
     * The long-key hash; NULL for the built-in one. Tests set a weak hash to
     * force collisions. It is part of the on-disk format: every open of one
     * environment must use the same function.
     */
    uint64_t (*long_key_hash)(const void *key, size_t key_len);
};

/*
 * cs_store_open: open (creating if needed) the environment in options->dir.
 * Returns 0 and *out; CS_EINVAL (bad options: no dir, map_bytes outside
 * [CS_STORE_MAP_BYTES_MIN, map_bytes_max], map_bytes_max past
 * CS_STORE_MAP_BYTES_MAX, txn_bytes_max past CS_STORE_TXN_BYTES_MAX); CS_EVERSION (an environment
 * of another format); CS_EIO (the directory or LMDB files cannot be opened); CS_ENOMEM. Free with
 * cs_store_close.
 */
int cs_store_open(const struct cs_store_options *options, struct cs_store **out);

/* cs_store_close: abort any open transaction (losing its writes) and close. */
void cs_store_close(struct cs_store *store);

/* cs_store_map_bytes: the current map size (grows on demand). */
uint64_t cs_store_map_bytes(const struct cs_store *store);

/*
 * cs_store_txn_begin: begin a transaction, write unless read_only.
 * Returns 0 and *out; CS_EBUSY if the store already has one open; CS_EIO;
 * CS_ENOMEM. End it with cs_store_commit or cs_store_abort.
 */
int cs_store_txn_begin(struct cs_store *store, bool read_only, struct cs_store_txn **out);

/*
 * cs_store_commit: make every write of txn durable (written and synced) and
 * end txn, which is freed whatever the result. Returns 0 only once the data
 * is on stable storage; CS_ENOSPACE (the map cannot grow enough: nothing was
 * written); CS_EIO (the outcome on disk is unknown until the next open).
 * Committing a read-only transaction just ends it.
 */
int cs_store_commit(struct cs_store_txn *txn);

/* cs_store_abort: end txn, dropping its writes. */
void cs_store_abort(struct cs_store_txn *txn);

/*
 * cs_store_put: set key -> value (both copied) in db. Returns 0;
 * CS_ETOOBIG (key empty or past CS_STORE_KEY_BYTES_MAX, value past
 * CS_STORE_VALUE_BYTES_MAX, or the transaction's writes past txn_bytes_max;
 * the transaction is unharmed); CS_EINVAL (unknown db, read-only txn);
 * CS_ENOSPACE (map at map_bytes_max, or CS_STORE_COLLISIONS_MAX long keys
 * share a hash); CS_ECORRUPT; CS_EIO; CS_ENOMEM. After CS_ENOSPACE, CS_EIO or
 * CS_ECORRUPT the transaction is failed: only cs_store_abort is useful.
 */
int cs_store_put(struct cs_store_txn *txn, enum cs_store_db db, const void *key, size_t key_len,
                 const void *value, size_t value_len);

/* cs_store_del: remove key from db. 0; CS_ENOTFOUND; errors as cs_store_put. */
int cs_store_del(struct cs_store_txn *txn, enum cs_store_db db, const void *key, size_t key_len);

/*
 * cs_store_get: key's value as a view (*value, *value_len), valid until the
 * next write in txn or its end. 0; CS_ENOTFOUND; CS_ETOOBIG (bad key length);
 * CS_EINVAL; CS_ECORRUPT; CS_EIO.
 */
int cs_store_get(struct cs_store_txn *txn, enum cs_store_db db, const void *key, size_t key_len,
                 const uint8_t **value, size_t *value_len);

/*
 * cs_store_next: the first entry of db whose key is > after (after == NULL:
 * the first entry; inclusive: >= after), in the ORDERING above, as views valid
 * as for get. 0; CS_ENOTFOUND past the end; CS_ETOOBIG (after_len 0 or past
 * CS_STORE_KEY_BYTES_MAX); CS_EINVAL; CS_ECORRUPT; CS_EIO.
 * Iterate with after = the key just returned and inclusive false. A run of
 * long keys sharing a prefix is walked whole on every step, so iteration
 * inside such a run costs O(run) per step: runs are expected to be tiny.
 */
int cs_store_next(struct cs_store_txn *txn, enum cs_store_db db, const void *after,
                  size_t after_len, bool inclusive, const uint8_t **key, size_t *key_len,
                  const uint8_t **value, size_t *value_len);

/* cs_store_count: live keys in db (as txn sees them) into *out. 0; CS_EINVAL; CS_EIO. */
int cs_store_count(struct cs_store_txn *txn, enum cs_store_db db, uint64_t *out);

/* --- the Raft log store --------------------------------------------------- */

/* Groups one log store holds. */
#define CS_STORE_LOG_GROUPS_MAX 4096
/* Entries one read returns. */
#define CS_STORE_LOG_READ_ENTRIES_MAX 4096
/* Entries one group may hold between compactions (the WAL caches them). */
#define CS_STORE_LOG_GROUP_ENTRIES_MAX (1u << 20)
/* WAL segment size: roll over to a new file past this many bytes. */
#define CS_STORE_LOG_SEGMENT_BYTES_MIN     (64u << 10)
#define CS_STORE_LOG_SEGMENT_BYTES_MAX     (1u << 30)
#define CS_STORE_LOG_SEGMENT_BYTES_DEFAULT (64u << 20)
/* WAL: entry data bytes cached in memory, all groups together. */
#define CS_STORE_LOG_CACHE_BYTES_DEFAULT (1ull << 30)
#define CS_STORE_LOG_CACHE_BYTES_MAX     (64ull << 30)
/* Segments a WAL directory may hold. */
#define CS_STORE_LOG_SEGMENTS_MAX 4096

enum cs_store_log_backend {
    CS_STORE_LOG_BACKEND_LMDB = 1, /* entries in the node's cs_store (docs/storage.md) */
    CS_STORE_LOG_BACKEND_WAL = 2,  /* segmented append-only files, CRC32C per record */
};

struct cs_store_log;

struct cs_store_log_options {
    enum cs_store_log_backend backend;
    struct cs_store *store; /* LMDB: the node's store, not owned, outlives the log */
    const char *dir;        /* WAL: directory of segments and snapshots; created if missing */
    uint64_t segment_bytes; /* WAL: 0 -> CS_STORE_LOG_SEGMENT_BYTES_DEFAULT */
    /* WAL: appends past this many cached entry bytes (all groups) are
     * CS_ENOSPACE until compaction frees some; 0 -> CS_STORE_LOG_CACHE_BYTES_DEFAULT,
     * at most CS_STORE_LOG_CACHE_BYTES_MAX. Recovery loads what is there. */
    uint64_t cache_bytes_max;
    /* WAL: where the cached entry bytes that compaction or truncation drops go:
     * release(release_ctx, p) instead of free(p), so the owner can free them
     * later or on another thread. NULL: free(). Not used during recovery. */
    void (*release)(void *ctx, void *p);
    void *release_ctx;
};

/*
 * cs_store_log_open: open a log store and recover its state. WAL recovery replays
 * every segment in order; a torn tail (a last record cut short or failing its
 * CRC with nothing valid after it, as a crash mid-write leaves) is truncated
 * away; damage anywhere else is CS_ECORRUPT and nothing is opened.
 * Returns 0 and *out; CS_EINVAL (bad options); CS_ECORRUPT; CS_EVERSION;
 * CS_EIO; CS_ENOMEM; CS_ENOSPACE (past a CS_STORE_LOG_*_MAX limit).
 */
int cs_store_log_open(const struct cs_store_log_options *options, struct cs_store_log **out);

/*
 * cs_store_log_close: close. Writes not yet synced are not durable: they are
 * lost (the WAL may have written part of a large unsynced batch to its file,
 * which then survives, as after a crash).
 */
void cs_store_log_close(struct cs_store_log *log);

/*
 * cs_store_log_append: store entries[0..len) of group (copied), first deleting
 * every entry at or after entries[0].index, as THE READY CONTRACT asks.
 * Entries must be contiguous and entries[0].index must be in
 * [first_index, last_index + 1]. Returns 0; CS_EINVAL (not contiguous, a gap,
 * len 0, data NULL with a length); CS_ERANGE (entries[0].index at or below
 * the compaction point); CS_ETOOBIG (an entry past CS_RAFT_ENTRY_BYTES_MAX);
 * CS_ENOSPACE (CS_STORE_LOG_GROUPS_MAX, CS_STORE_LOG_GROUP_ENTRIES_MAX, the
 * WAL's cache_bytes_max, or the store's map); CS_EBUSY (LMDB: the store has another transaction
 * open); CS_EIO; CS_ENOMEM. After a refusal for an argument or a limit nothing has changed. FAILED
 * STATE (every writing call): after CS_EIO, CS_ENOMEM or a full map in the middle of a write, the
 * log store is failed: every later write and sync returns that error (reads may too); close and
 * reopen to recover the last synced state.
 */
int cs_store_log_append(struct cs_store_log *log, uint64_t group_id,
                        const struct cs_raft_entry *entries, size_t len);

/*
 * cs_store_log_truncate: drop every entry of group at or after from_index.
 * 0 (also when nothing is there); CS_ERANGE if from_index is at or below the
 * compaction point; CS_EIO; CS_ENOMEM.
 */
int cs_store_log_truncate(struct cs_store_log *log, uint64_t group_id, uint64_t from_index);

/*
 * cs_store_log_compact: drop every entry of group at or below upto_index, which
 * becomes the compaction point (its term is kept for cs_store_log_term). Returns 0;
 * CS_ERANGE if upto_index is past last_index or below the compaction point
 * (equal is a no-op); CS_EIO; CS_ENOMEM.
 */
int cs_store_log_compact(struct cs_store_log *log, uint64_t group_id, uint64_t upto_index);

/*
 * cs_store_log_bounds: *first_index (compaction point + 1) and *last_index
 * (first_index - 1 when empty). An unknown group has first 1, last 0.
 */
void cs_store_log_bounds(const struct cs_store_log *log, uint64_t group_id, uint64_t *first_index,
                         uint64_t *last_index);

/*
 * cs_store_log_term: the term of the entry at index, or of the compaction point.
 * 0; CS_ERANGE outside [compaction point, last_index]; CS_EIO.
 */
int cs_store_log_term(struct cs_store_log *log, uint64_t group_id, uint64_t index, uint64_t *term);

/* Entries read from a log: owned by the struct until cs_store_log_entries_free. */
struct cs_store_log_entries {
    struct cs_raft_entry *entries; /* data points into bytes */
    size_t len;
    uint8_t *bytes;
    size_t bytes_len;
};

/*
 * cs_store_log_read: the entries of group in [lo, hi), stopping early after the
 * entry that reaches bytes_max data bytes or at CS_STORE_LOG_READ_ENTRIES_MAX
 * entries (always at least one when lo < hi). out is overwritten (free it
 * first). 0; CS_ERANGE (lo below first_index, hi past last_index + 1, lo > hi);
 * CS_ECORRUPT (a stored entry does not decode); CS_EIO; CS_ENOMEM.
 */
int cs_store_log_read(struct cs_store_log *log, uint64_t group_id, uint64_t lo, uint64_t hi,
                      size_t bytes_max, struct cs_store_log_entries *out);
void cs_store_log_entries_free(struct cs_store_log_entries *entries);

/* cs_store_log_hard_state_save: store group's hard state. 0; CS_ENOSPACE; CS_EIO; CS_ENOMEM. */
int cs_store_log_hard_state_save(struct cs_store_log *log, uint64_t group_id,
                                 const struct cs_raft_hard_state *hard_state);
/* cs_store_log_hard_state_load: the last saved hard state. 0; CS_ENOTFOUND; CS_ECORRUPT; CS_EIO. */
int cs_store_log_hard_state_load(struct cs_store_log *log, uint64_t group_id,
                                 struct cs_raft_hard_state *out);

/* A snapshot read back: data owned until cs_store_log_snapshot_free. */
struct cs_store_log_snapshot {
    struct cs_raft_snapshot_meta meta;
    uint8_t *data;
    size_t data_len;
};

/*
 * cs_store_log_snapshot_save: store group's snapshot (copied), replacing the last,
 * and drop every entry at or below its index (all of them if the snapshot
 * is past last_index: the log then restarts after it). Durable after the
 * next cs_store_log_sync returns (WAL: already on return). Returns 0; CS_ERANGE
 * (meta.index 0, or at or below the current snapshot); CS_EINVAL (more than
 * CS_RAFT_MEMBERS_MAX members, data NULL with a length); CS_ETOOBIG (past
 * CS_RAFT_SNAPSHOT_BYTES_MAX); CS_EIO; CS_ENOMEM; CS_ENOSPACE.
 */
int cs_store_log_snapshot_save(struct cs_store_log *log, uint64_t group_id,
                               const struct cs_raft_snapshot *snapshot);
/* cs_store_log_snapshot_load: the latest snapshot. 0; CS_ENOTFOUND; CS_ECORRUPT; CS_EIO; CS_ENOMEM.
 */
int cs_store_log_snapshot_load(struct cs_store_log *log, uint64_t group_id,
                               struct cs_store_log_snapshot *out);
void cs_store_log_snapshot_free(struct cs_store_log_snapshot *snapshot);

/*
 * Staged saves: a large snapshot saved without stalling the log's owner. The
 * WAL backend only (the LMDB backend answers CS_EINVAL to all four).
 *
 * cs_store_log_snapshot_stage writes snapshot to the group's staging file
 * and syncs it. It reads nothing of log but its directory and backend, so it
 * may run on another thread, or in a forked child, while the owner goes on
 * using log; one staged save per group at a time. Nothing is in effect yet:
 * a crash leaves the previous snapshot, and the next open deletes the
 * staging file. Returns 0; CS_ERANGE (meta.index 0); CS_EINVAL (as
 * cs_store_log_snapshot_save, or no staging in this backend); CS_ETOOBIG; CS_EIO.
 *
 * cs_store_log_snapshot_staged_load reads the staging file back, checking
 * every byte (same thread rules as stage). 0 with *out owned until
 * cs_store_log_snapshot_free; CS_ENOTFOUND; CS_ECORRUPT; CS_EIO; CS_ENOMEM.
 *
 * cs_store_log_snapshot_commit (the owner's thread) makes the staged file
 * the group's snapshot, atomically, and compacts as cs_store_log_snapshot_save
 * does; meta must be the staged snapshot's. CS_ERANGE when meta.index is at
 * or below the current snapshot (one arrived meanwhile; the staging file is
 * deleted); CS_EIO; CS_ENOMEM; CS_ENOSPACE.
 *
 * cs_store_log_snapshot_unstage deletes the staging file, if any.
 *
 * cs_store_log_snapshot_reap deletes the snapshot a commit replaced (kept
 * under a second name so that the commit does not wait for a large file's
 * blocks to be freed). Same thread rules as stage; if never called, the next
 * commit or open deletes it.
 */
int cs_store_log_snapshot_stage(struct cs_store_log *log, uint64_t group_id,
                                const struct cs_raft_snapshot *snapshot);
int cs_store_log_snapshot_staged_load(struct cs_store_log *log, uint64_t group_id,
                                      struct cs_store_log_snapshot *out);
int cs_store_log_snapshot_commit(struct cs_store_log *log, uint64_t group_id,
                                 const struct cs_raft_snapshot_meta *meta);
void cs_store_log_snapshot_unstage(struct cs_store_log *log, uint64_t group_id);
void cs_store_log_snapshot_reap(struct cs_store_log *log, uint64_t group_id);

/* Everything a group restarts from, owned until cs_store_log_restore_free. */
struct cs_store_log_restore {
    struct cs_raft_restore restore; /* for cs_raft_new; its pointers point below */
    struct cs_store_log_snapshot snapshot;
    struct cs_raft_entry *entries;
    uint8_t *bytes;
};

/*
 * cs_store_log_restore_load: group's durable state as a struct
 * cs_raft_restore: its hard state (zero if none), its latest snapshot
 * (index 0 and no data if none) and every entry after it. Returns 0;
 * CS_ESTATE (the log was compacted past the snapshot without one: Raft could
 * not restart from it); CS_ECORRUPT; CS_EIO; CS_ENOMEM. out is overwritten.
 */
int cs_store_log_restore_load(struct cs_store_log *log, uint64_t group_id,
                              struct cs_store_log_restore *out);
void cs_store_log_restore_free(struct cs_store_log_restore *restore);

/*
 * cs_store_log_sync: make every write since the last sync, of every group, durable
 * with one commit (LMDB) or one write + fdatasync (WAL). Returns 0 once they
 * are; CS_EIO (what reached the disk is unknown: reopen to find out; the
 * store refuses further writes); CS_ENOSPACE.
 */
int cs_store_log_sync(struct cs_store_log *log);

/*
 * cs_store_log_txn: LMDB backend only: the write transaction cs_store_log_sync will
 * commit, begun if none is open, so the driver can put its state machine
 * writes into the same commit. NULL for the WAL backend or on error (*rc set).
 * While it is open it is the store's one transaction.
 */
struct cs_store_txn *cs_store_log_txn(struct cs_store_log *log, int *rc);

/* cs_store_log_groups: the ids of every group known (sorted) into ids[0..cap); *len = count. */
void cs_store_log_groups(const struct cs_store_log *log, uint64_t *ids, size_t cap, size_t *len);

/* --- the WAL record codec (exposed for tests and the fuzz target) -------- */

/* A segment opens with a 16-byte header: u32 magic, u16 version, u16 flags
 * (0), u64 segment sequence number (also in the file name). */
#define CS_WAL_MAGIC        0x4c415743u /* "CWAL" little-endian */
#define CS_WAL_VERSION      1
#define CS_WAL_HEADER_BYTES 16
/* A record head: u32 payload length, u32 CRC32C of those 4 bytes, u32 CRC32C
 * of the payload. The length has its own CRC so a damaged length is told
 * apart from a record cut short by a crash. */
#define CS_WAL_RECORD_HEAD_BYTES 12
/* The largest record payload: one entry plus its fields. */
#define CS_WAL_RECORD_BYTES_MAX (CS_RAFT_ENTRY_BYTES_MAX + 64)

enum cs_wal_record_type {
    CS_WAL_ENTRY = 1,      /* group, index, term, entry type, data */
    CS_WAL_TRUNCATE = 2,   /* group, from index */
    CS_WAL_COMPACT = 3,    /* group, index, term */
    CS_WAL_HARD_STATE = 4, /* group, term, vote, commit */
};

struct cs_wal_record {
    uint8_t type; /* enum cs_wal_record_type */
    uint64_t group_id;
    uint64_t index; /* ENTRY, TRUNCATE (from), COMPACT */
    uint64_t term;  /* ENTRY, COMPACT, HARD_STATE */
    uint64_t vote;  /* HARD_STATE */
    uint64_t commit;
    uint8_t entry_type;
    uint32_t data_len;
    const uint8_t *data; /* a view into the decoded bytes */
};

/* What decoding a segment image found. */
struct cs_wal_scan {
    uint64_t segment_seq;
    size_t records;   /* valid records */
    size_t valid_len; /* bytes up to the end of the last valid record */
    bool torn;        /* bytes after valid_len that are a torn tail */
};

/*
 * cs_wal_scan_segment: decode a segment image data[0..len) from memory,
 * calling on_record(ctx, &record) for each valid record in order (a non-zero
 * return stops the scan and is returned). The tail after the last valid
 * record is torn (reported in *scan, not an error) when it is a cut-short
 * record or a last record failing its CRC; a bad record followed by a valid
 * one, a bad header or a malformed payload under a good CRC is CS_ECORRUPT;
 * CS_EVERSION for another version. on_record may be NULL.
 */
int cs_wal_scan_segment(const uint8_t *data, size_t len,
                        int (*on_record)(void *ctx, const struct cs_wal_record *record), void *ctx,
                        struct cs_wal_scan *scan);

/* cs_wal_record_encode: append record's framed encoding to out. 0 or out's error. */
int cs_wal_record_encode(const struct cs_wal_record *record, struct cs_buf *out);
/* cs_wal_header_encode: append a segment header for segment seq to out. */
int cs_wal_header_encode(uint64_t segment_seq, struct cs_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_STORE_H */
