/*
 * wal.c: the Raft log store's WAL backend: segmented append-only files with
 * a CRC32C per record, every group's log cached in memory, snapshots in one
 * file per group.
 *
 * The one idea: the files are only ever appended to, and each turn's records
 * (of every group) go out in one write + one fdatasync, so an append costs a
 * sequential write instead of LMDB's copy-on-write page tree. Recovery
 * replays the segments in order into the in-memory logs; a record means what
 * it did when written (an ENTRY at index i replaces everything from i on), so
 * replay needs no other state than the group table it rebuilds.
 *
 * Files in the directory:
 *   wal-<seq, 16 hex>.log   segments, seq 1, 2, ...; the last one is appended to
 *   snap-<group, 16 hex>.snap  the group's latest snapshot, replaced atomically
 * A segment is rolled over at a sync once it passes segment_bytes; a new
 * segment begins by restating every group's compaction point and hard state,
 * so older segments are needed only for entries, and are deleted once every
 * entry in them is at or below its group's (synced) compaction point.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/assert.h"
#include "consist/codec.h"
#include "store/internal.h"

/* Unsynced records are written out (without sync) past this many bytes. */
#define WAL_PENDING_FLUSH_BYTES (8u << 20)
#define WAL_PENDING_BYTES_MAX   (WAL_PENDING_FLUSH_BYTES + 2 * CS_WAL_RECORD_BYTES_MAX)
#define WAL_PATH_BYTES_MAX      4096

/* The highest entry index a segment holds for one group. */
struct wal_seg_group {
    uint64_t id;
    uint64_t max_index;
};

struct wal_segment {
    uint64_t seq;
    struct wal_seg_group *groups; /* sorted by id: highest entry index in this segment */
    size_t len;
    size_t cap;
};

struct wal {
    struct log_backend base;
    char dir[WAL_PATH_BYTES_MAX];
    int dir_fd;
    int fd; /* the last segment, open for appending */
    uint64_t segment_bytes;
    uint64_t cache_bytes_max; /* appends past this many cached bytes are refused */
    uint64_t file_bytes;      /* bytes of the last segment written to the file */
    struct wal_segment *segs; /* oldest first; the last is being appended to */
    size_t segs_len;
    size_t segs_cap;
    struct cs_buf pending; /* encoded records not yet written */
    struct log_groups *groups;
    int failed; /* sticky CS_EIO after a failed write or sync (fsyncgate) */
    void (*release)(void *ctx, void *p); /* cs_store_log_options.release */
    void *release_ctx;
};

static struct wal *wal_of(struct log_backend *b)
{
    return (struct wal *)b;
}

static int wal_path(const struct wal *w, char *out, const char *prefix, uint64_t n,
                    const char *suffix)
{
    int len = snprintf(out, WAL_PATH_BYTES_MAX, "%s/%s%016" PRIx64 "%s", w->dir, prefix, n, suffix);
    return len < 0 || len >= WAL_PATH_BYTES_MAX ? CS_EINVAL : 0;
}

/* --- the in-memory log of a group ------------------------------------------- */

static struct wal_entry *wal_at(struct log_group *g, uint64_t index)
{
    CS_DEBUG_ASSERT(index > g->compact_index && index <= g->last_index);
    return &g->entries[g->head + (index - g->compact_index - 1)];
}

/* Drop entries after last (last >= compact_index). */
/* Bytes the cache drops: to the owner's release hook if it set one, else free(). */
static void wal_release(const struct wal *w, void *p)
{
    if (w != NULL && w->release != NULL)
        w->release(w->release_ctx, p);
    else
        free(p);
}

static void wal_mem_truncate(const struct wal *w, struct log_group *g, uint64_t last)
{
    CS_ASSERT(last >= g->compact_index);
    for (uint64_t i = last + 1; i <= g->last_index; i++) {
        g->cached_bytes -= wal_at(g, i)->data_len;
        wal_release(w, wal_at(g, i)->data);
    }
    if (last < g->last_index) g->last_index = last;
    if (g->last_index == g->compact_index) g->head = 0;
}

/* Drop entries at or below upto; past the last entry the log restarts after it. */
static void wal_mem_compact(const struct wal *w, struct log_group *g, uint64_t upto, uint64_t term)
{
    if (upto <= g->compact_index) return;
    if (upto >= g->last_index) {
        wal_mem_truncate(w, g, g->compact_index);
        g->last_index = upto;
        g->head = 0;
    } else {
        for (uint64_t i = g->compact_index + 1; i <= upto; i++) {
            g->cached_bytes -= wal_at(g, i)->data_len;
            wal_release(w, wal_at(g, i)->data);
        }
        g->head += upto - g->compact_index;
    }
    g->compact_index = upto;
    g->compact_term = term;
}

/* Append one entry after last_index (data copied). */
static int wal_mem_push(struct log_group *g, uint64_t term, uint8_t type, const uint8_t *data,
                        uint32_t data_len)
{
    size_t n = g->last_index - g->compact_index;
    if (n >= CS_STORE_LOG_GROUP_ENTRIES_MAX) return CS_ENOSPACE;
    if (g->head + n == g->cap) {
        if (g->head > 0) {
            memmove(g->entries, g->entries + g->head, n * sizeof *g->entries);
            g->head = 0;
        }
        if (n == g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 64;
            struct wal_entry *bigger = realloc(g->entries, cap * sizeof *bigger);
            if (bigger == NULL) return CS_ENOMEM;
            g->entries = bigger;
            g->cap = cap;
        }
    }
    uint8_t *copy = NULL;
    if (data_len > 0) {
        copy = malloc(data_len);
        if (copy == NULL) return CS_ENOMEM;
        memcpy(copy, data, data_len);
    }
    g->entries[g->head + n] = (struct wal_entry){term, type, data_len, copy};
    g->cached_bytes += data_len;
    g->last_index++;
    return 0;
}

/* --- segments' group tables (for deleting obsolete segments) ------------ */

static int wal_seg_note(struct wal_segment *seg, uint64_t id, uint64_t index)
{
    size_t lo = 0, hi = seg->len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg->groups[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < seg->len && seg->groups[lo].id == id) {
        if (index > seg->groups[lo].max_index) seg->groups[lo].max_index = index;
        return 0;
    }
    if (seg->len == seg->cap) {
        size_t cap = seg->cap ? seg->cap * 2 : 8;
        struct wal_seg_group *bigger = realloc(seg->groups, cap * sizeof *bigger);
        if (bigger == NULL) return CS_ENOMEM;
        seg->groups = bigger;
        seg->cap = cap;
    }
    memmove(&seg->groups[lo + 1], &seg->groups[lo], (seg->len - lo) * sizeof *seg->groups);
    seg->groups[lo] = (struct wal_seg_group){id, index};
    seg->len++;
    return 0;
}

static int wal_segs_push(struct wal *w, uint64_t seq)
{
    if (w->segs_len == CS_STORE_LOG_SEGMENTS_MAX) return CS_ENOSPACE;
    if (w->segs_len == w->segs_cap) {
        size_t cap = w->segs_cap ? w->segs_cap * 2 : 8;
        struct wal_segment *bigger = realloc(w->segs, cap * sizeof *bigger);
        if (bigger == NULL) return CS_ENOMEM;
        w->segs = bigger;
        w->segs_cap = cap;
    }
    w->segs[w->segs_len++] = (struct wal_segment){.seq = seq};
    return 0;
}

static int wal_write_all(int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return CS_EIO;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* --- replay --------------------------------------------------------------------- */

/* Apply one record to the group table, as it meant when written. */
static int wal_apply(struct log_groups *groups, struct wal_segment *seg,
                     const struct cs_wal_record *rec)
{
    struct log_group *g;
    int rc = store_groups_get(groups, rec->group_id, &g);
    if (rc != 0) return rc;
    switch (rec->type) {
    case CS_WAL_ENTRY:
        if (seg != NULL) {
            rc = wal_seg_note(seg, rec->group_id, rec->index);
            if (rc != 0) return rc;
        }
        if (rec->index <= g->compact_index) {
            /* It replaced everything after it: all that is cached is older. */
            wal_mem_truncate(NULL, g, g->compact_index);
            return 0;
        }
        if (rec->index > g->last_index + 1) return CS_ECORRUPT; /* a gap */
        wal_mem_truncate(NULL, g, rec->index - 1);
        return wal_mem_push(g, rec->term, rec->entry_type, rec->data, rec->data_len);
    case CS_WAL_TRUNCATE:
        wal_mem_truncate(NULL, g,
                         rec->index > g->compact_index ? rec->index - 1 : g->compact_index);
        return 0;
    case CS_WAL_COMPACT:
        wal_mem_compact(NULL, g, rec->index, rec->term);
        return 0;
    case CS_WAL_HARD_STATE:
        g->has_hard_state = true;
        g->hard_state = (struct cs_raft_hard_state){rec->term, rec->vote, rec->commit};
        return 0;
    default:
        return CS_ECORRUPT;
    }
}

struct wal_replay_ctx {
    struct log_groups *groups;
    struct wal_segment *seg;
};

static int wal_replay_record(void *ctx, const struct cs_wal_record *rec)
{
    struct wal_replay_ctx *c = ctx;
    return wal_apply(c->groups, c->seg, rec);
}

static int wal_read_file(int fd, uint8_t **out, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) != 0) return CS_EIO;
    size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (data == NULL) return CS_ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            free(data);
            return CS_EIO;
        }
        got += (size_t)n;
    }
    *out = data;
    *len = size;
    return 0;
}

/* Replay segment seqs[i]; the last one is opened for appending, its torn tail cut. */
static int wal_replay_segment(struct wal *w, uint64_t seq, bool last)
{
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, path, "wal-", seq, ".log");
    if (rc != 0) return rc;
    int fd = open(path, last ? O_RDWR | O_APPEND : O_RDONLY);
    if (fd < 0) return CS_EIO;
    uint8_t *data = NULL;
    size_t len = 0;
    rc = wal_read_file(fd, &data, &len);
    if (rc == 0) rc = wal_segs_push(w, seq);
    struct cs_wal_scan scan = {0};
    if (rc == 0) {
        struct wal_replay_ctx ctx = {w->groups, &w->segs[w->segs_len - 1]};
        rc = cs_wal_scan_segment(data, len, wal_replay_record, &ctx, &scan);
    }
    free(data);
    if (rc == 0 && scan.valid_len >= CS_WAL_HEADER_BYTES && scan.segment_seq != seq)
        rc = CS_ECORRUPT;
    if (rc == 0 && scan.torn && !last) rc = CS_ECORRUPT; /* synced before the next began */
    if (rc == 0 && last) {
        if (scan.valid_len < CS_WAL_HEADER_BYTES) {
            /* Died while creating it: write the header again. */
            struct cs_buf head;
            uint8_t mem[CS_WAL_HEADER_BYTES];
            cs_buf_init_fixed(&head, mem, sizeof mem);
            cs_wal_header_encode(seq, &head);
            if (ftruncate(fd, 0) != 0) rc = CS_EIO;
            if (rc == 0) rc = wal_write_all(fd, mem, sizeof mem);
            scan.valid_len = CS_WAL_HEADER_BYTES;
        }
        if (rc == 0 && (ftruncate(fd, (off_t)scan.valid_len) != 0 || fdatasync(fd) != 0))
            rc = CS_EIO;
        w->fd = fd;
        w->file_bytes = scan.valid_len;
        if (rc == 0) return 0;
    }
    close(fd);
    if (last) w->fd = -1;
    return rc;
}

/* Pass one: every group's final compaction point, so replay knows it up front. */
static int wal_compact_record(void *ctx, const struct cs_wal_record *rec)
{
    if (rec->type != CS_WAL_COMPACT) return 0;
    struct log_group *g;
    int rc = store_groups_get(ctx, rec->group_id, &g);
    if (rc == 0) wal_mem_compact(NULL, g, rec->index, rec->term);
    return rc;
}

int store_wal_replay_image(const uint8_t *data, size_t len, struct log_groups *groups,
                           struct cs_wal_scan *scan)
{
    int rc = cs_wal_scan_segment(data, len, wal_compact_record, groups, scan);
    if (rc != 0) return rc;
    struct wal_replay_ctx ctx = {groups, NULL};
    return cs_wal_scan_segment(data, len, wal_replay_record, &ctx, scan);
}

/* --- snapshots ---------------------------------------------------------------- */

static int wal_fsync_dir(struct wal *w)
{
    return fsync(w->dir_fd) == 0 ? 0 : CS_EIO;
}

static int wal_snap_read(struct wal *w, uint64_t group, uint8_t **file, size_t *file_len)
{
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, path, "snap-", group, ".snap");
    if (rc != 0) return rc;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? CS_ENOTFOUND : CS_EIO;
    rc = wal_read_file(fd, file, file_len);
    close(fd);
    return rc;
}

/* Write the snapshot file under path (replacing it) and fdatasync it. Reads
 * nothing of w but its directory, so it may run on another thread or in a
 * forked child while the log is in use (cs_store_log_snapshot_stage). */
static int wal_snap_write(const char *path, const struct cs_raft_snapshot *snap)
{
    uint8_t head[WAL_SNAP_HEAD_BYTES_MAX];
    size_t head_len = store_wal_snap_head_encode(snap, head);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return CS_EIO;
    int rc = wal_write_all(fd, head, head_len);
    if (rc == 0 && snap->data_len > 0) rc = wal_write_all(fd, snap->data, snap->data_len);
    if (rc == 0 && fdatasync(fd) != 0) rc = CS_EIO;
    close(fd);
    if (rc != 0) unlink(path);
    return rc;
}

/*
 * Rename the written file at from over the group's snapshot, fsync the
 * directory, and move the compaction point with a record, so replay agrees.
 * The old snapshot first gets a second name (snap-<g>.old): the rename then
 * only drops a name, and freeing a large file's blocks (5-7 ms for 29 MB on
 * ext4, measured) happens when that name is unlinked: here unless keep_old,
 * else in cs_store_log_snapshot_reap, off the owner's thread.
 */
static int wal_snap_install(struct wal *w, struct log_group *g, const char *from,
                            const struct cs_raft_snapshot_meta *meta, bool keep_old)
{
    char path[WAL_PATH_BYTES_MAX], old[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, path, "snap-", g->id, ".snap");
    if (rc == 0) rc = wal_path(w, old, "snap-", g->id, ".old");
    if (rc == 0) {
        unlink(old); /* one not reaped yet: freed here after all */
        if (link(path, old) != 0 && errno != ENOENT) rc = CS_EIO;
    }
    if (rc == 0 && rename(from, path) != 0) rc = CS_EIO;
    if (!keep_old) unlink(old);
    if (rc == 0) rc = wal_fsync_dir(w);
    if (rc != 0) {
        unlink(from);
        return rc;
    }
    if (meta->index > g->compact_index) {
        struct cs_wal_record rec = {
            .type = CS_WAL_COMPACT, .group_id = g->id, .index = meta->index, .term = meta->term};
        rc = cs_wal_record_encode(&rec, &w->pending);
        if (rc != 0) {
            w->failed = CS_EIO; /* the file is ahead of the WAL: reopen */
            return rc;
        }
        wal_mem_compact(w, g, meta->index, meta->term);
    }
    return 0;
}

static int wal_snapshot_save(struct log_backend *b, struct log_group *g,
                             const struct cs_raft_snapshot *snap)
{
    struct wal *w = wal_of(b);
    if (w->failed != 0) return w->failed;
    char tmp[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, tmp, "snap-", g->id, ".tmp");
    if (rc == 0) rc = wal_snap_write(tmp, snap);
    if (rc == 0) rc = wal_snap_install(w, g, tmp, &snap->meta, false);
    return rc;
}

static int wal_snapshot_stage(struct log_backend *b, uint64_t group_id,
                              const struct cs_raft_snapshot *snap)
{
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(wal_of(b), path, "snap-", group_id, ".stage");
    return rc == 0 ? wal_snap_write(path, snap) : rc;
}

static int wal_snapshot_staged_load(struct log_backend *b, uint64_t group_id,
                                    struct cs_store_log_snapshot *out)
{
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(wal_of(b), path, "snap-", group_id, ".stage");
    if (rc != 0) return rc;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? CS_ENOTFOUND : CS_EIO;
    uint8_t *file;
    size_t file_len;
    rc = wal_read_file(fd, &file, &file_len);
    close(fd);
    if (rc != 0) return rc;
    const uint8_t *body;
    size_t body_len;
    rc = store_wal_snap_decode(file, file_len, &out->meta, &body, &body_len);
    if (rc != 0) {
        free(file);
        return rc;
    }
    memmove(file, body, body_len);
    out->data = file;
    out->data_len = body_len;
    return 0;
}

static int wal_snapshot_commit(struct log_backend *b, struct log_group *g,
                               const struct cs_raft_snapshot_meta *meta)
{
    struct wal *w = wal_of(b);
    if (w->failed != 0) return w->failed;
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, path, "snap-", g->id, ".stage");
    return rc == 0 ? wal_snap_install(w, g, path, meta, true) : rc;
}

static void wal_snapshot_reap(struct log_backend *b, uint64_t group_id)
{
    char path[WAL_PATH_BYTES_MAX];
    if (wal_path(wal_of(b), path, "snap-", group_id, ".old") == 0) unlink(path);
}

static void wal_snapshot_unstage(struct log_backend *b, uint64_t group_id)
{
    char path[WAL_PATH_BYTES_MAX];
    if (wal_path(wal_of(b), path, "snap-", group_id, ".stage") == 0) unlink(path);
}

static int wal_snapshot_load(struct log_backend *b, struct log_group *g,
                             struct cs_store_log_snapshot *out)
{
    uint8_t *file;
    size_t file_len;
    int rc = wal_snap_read(wal_of(b), g->id, &file, &file_len);
    if (rc == CS_ENOTFOUND) return CS_ECORRUPT; /* the table says there is one */
    if (rc != 0) return rc;
    const uint8_t *body;
    size_t body_len;
    rc = store_wal_snap_decode(file, file_len, &out->meta, &body, &body_len);
    if (rc == 0) {
        /* Reuse the file buffer: move the body to its front. */
        memmove(file, body, body_len);
        out->data = file;
        out->data_len = body_len;
        return 0;
    }
    free(file);
    return rc;
}

/* --- writes ------------------------------------------------------------------- */

static int wal_flush(struct wal *w)
{
    if (w->pending.len == 0) return 0;
    int rc = wal_write_all(w->fd, w->pending.data, w->pending.len);
    if (rc != 0) {
        w->failed = CS_EIO;
        return rc;
    }
    w->file_bytes += w->pending.len;
    cs_buf_reset(&w->pending);
    return 0;
}

static int wal_emit(struct wal *w, const struct cs_wal_record *rec)
{
    if (w->failed != 0) return w->failed;
    int rc = cs_wal_record_encode(rec, &w->pending);
    if (rc == 0 && w->pending.len >= WAL_PENDING_FLUSH_BYTES) rc = wal_flush(w);
    return rc == CS_ETOOBIG ? CS_ENOMEM : rc;
}

static int wal_append(struct log_backend *b, struct log_group *g,
                      const struct cs_raft_entry *entries, size_t len)
{
    struct wal *w = wal_of(b);
    if (w->failed != 0) return w->failed;
    /* The cache after this append: all groups, less the suffix it replaces. */
    uint64_t cached = 0, adding = 0;
    for (size_t i = 0; i < w->groups->len; i++)
        cached += w->groups->items[i].cached_bytes;
    for (uint64_t i = entries[0].index; i <= g->last_index; i++)
        cached -= wal_at(g, i)->data_len;
    for (size_t i = 0; i < len; i++)
        adding += entries[i].data_len;
    if (cached + adding > w->cache_bytes_max) return CS_ENOSPACE;
    size_t pending_len = w->pending.len;
    bool flushed = false;
    int rc = wal_seg_note(&w->segs[w->segs_len - 1], g->id, entries[len - 1].index);
    for (size_t i = 0; i < len && rc == 0; i++) {
        struct cs_wal_record rec = {.type = CS_WAL_ENTRY,
                                    .group_id = g->id,
                                    .index = entries[i].index,
                                    .term = entries[i].term,
                                    .entry_type = entries[i].type,
                                    .data_len = entries[i].data_len,
                                    .data = entries[i].data};
        rc = cs_wal_record_encode(&rec, &w->pending);
        if (rc == 0 && w->pending.len >= WAL_PENDING_FLUSH_BYTES) {
            rc = wal_flush(w);
            flushed = true;
        }
    }
    if (rc != 0 && !flushed) {
        /* Nothing reached the file: forget the records, the group is unchanged. */
        w->pending.len = pending_len;
        w->pending.err = 0;
        return rc == CS_ETOOBIG ? CS_ENOMEM : rc;
    }
    if (rc == 0) {
        wal_mem_truncate(w, g, entries[0].index - 1);
        for (size_t i = 0; i < len && rc == 0; i++)
            rc = wal_mem_push(g, entries[i].term, entries[i].type, entries[i].data,
                              entries[i].data_len);
    }
    /* Records in the file that the cache lacks: nothing consistent remains. */
    if (rc != 0) w->failed = CS_EIO;
    return rc;
}

static int wal_truncate(struct log_backend *b, struct log_group *g, uint64_t from_index)
{
    struct wal *w = wal_of(b);
    struct cs_wal_record rec = {.type = CS_WAL_TRUNCATE, .group_id = g->id, .index = from_index};
    int rc = wal_emit(w, &rec);
    if (rc == 0) wal_mem_truncate(w, g, from_index - 1);
    return rc;
}

static int wal_compact(struct log_backend *b, struct log_group *g, uint64_t upto_index,
                       uint64_t upto_term)
{
    struct wal *w = wal_of(b);
    struct cs_wal_record rec = {
        .type = CS_WAL_COMPACT, .group_id = g->id, .index = upto_index, .term = upto_term};
    int rc = wal_emit(w, &rec);
    if (rc == 0) wal_mem_compact(w, g, upto_index, upto_term);
    return rc;
}

static int wal_term(struct log_backend *b, struct log_group *g, uint64_t index, uint64_t *term)
{
    (void)b;
    *term = wal_at(g, index)->term;
    return 0;
}

static int wal_read(struct log_backend *b, struct log_group *g, uint64_t lo, uint64_t hi,
                    size_t bytes_max, struct cs_store_log_entries *out)
{
    (void)b;
    size_t n = 0, bytes = 0;
    for (uint64_t i = lo; i < hi; i++) {
        n++;
        bytes += wal_at(g, i)->data_len;
        if (bytes >= bytes_max) break;
    }
    int rc = store_entries_alloc(out, n, bytes);
    if (rc != 0) return rc;
    size_t pos = 0;
    for (size_t j = 0; j < n; j++) {
        const struct wal_entry *e = wal_at(g, lo + j);
        if (e->data_len > 0) memcpy(out->bytes + pos, e->data, e->data_len);
        out->entries[j] =
            (struct cs_raft_entry){e->term, lo + j, e->type, e->data_len, out->bytes + pos};
        pos += e->data_len;
    }
    out->len = n;
    out->bytes_len = bytes;
    return 0;
}

static int wal_hard_state_save(struct log_backend *b, struct log_group *g,
                               const struct cs_raft_hard_state *hs)
{
    struct cs_wal_record rec = {.type = CS_WAL_HARD_STATE,
                                .group_id = g->id,
                                .term = hs->term,
                                .vote = hs->vote,
                                .commit = hs->commit};
    return wal_emit(wal_of(b), &rec);
}

/* --- sync, roll over, delete obsolete segments -------------------------- */

/* Create segment seq with its header and the restated state of every group. */
static int wal_segment_create(struct wal *w, uint64_t seq)
{
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, path, "wal-", seq, ".log");
    if (rc != 0) return rc;
    struct cs_buf head;
    cs_buf_init(&head, (size_t)CS_STORE_LOG_GROUPS_MAX * 100 + CS_WAL_HEADER_BYTES);
    cs_wal_header_encode(seq, &head);
    for (size_t i = 0; i < w->groups->len; i++) {
        const struct log_group *g = &w->groups->items[i];
        if (g->compact_index > 0) {
            struct cs_wal_record rec = {.type = CS_WAL_COMPACT,
                                        .group_id = g->id,
                                        .index = g->compact_index,
                                        .term = g->compact_term};
            cs_wal_record_encode(&rec, &head);
        }
        if (g->has_hard_state) {
            struct cs_wal_record rec = {.type = CS_WAL_HARD_STATE,
                                        .group_id = g->id,
                                        .term = g->hard_state.term,
                                        .vote = g->hard_state.vote,
                                        .commit = g->hard_state.commit};
            cs_wal_record_encode(&rec, &head);
        }
    }
    rc = cs_buf_error(&head);
    int fd = -1;
    if (rc == 0) rc = wal_segs_push(w, seq);
    if (rc == 0) {
        fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0600);
        if (fd < 0) rc = CS_EIO;
    }
    if (rc == 0) rc = wal_write_all(fd, head.data, head.len);
    if (rc == 0 && fdatasync(fd) != 0) rc = CS_EIO;
    if (rc == 0) rc = wal_fsync_dir(w);
    if (rc == 0) {
        if (w->fd >= 0) close(w->fd);
        w->fd = fd;
        w->file_bytes = head.len;
    } else if (fd >= 0) {
        close(fd);
    }
    cs_buf_free(&head);
    return rc;
}

/*
 * Delete the oldest segments whose every entry is at or below its group's
 * compaction point. Runs after a sync, so that point is durable: in a COMPACT
 * record of a kept segment or restated at the head of the segment after the
 * one holding it. Recovery reads every compaction point before replaying
 * entries, so the entries it no longer sees are all below it.
 */
static int wal_collect(struct wal *w)
{
    size_t drop = 0;
    while (drop + 1 < w->segs_len) {
        const struct wal_segment *seg = &w->segs[drop];
        bool obsolete = true;
        for (size_t i = 0; i < seg->len && obsolete; i++) {
            const struct log_group *g = store_groups_find(w->groups, seg->groups[i].id);
            obsolete = g != NULL && seg->groups[i].max_index <= g->compact_index;
        }
        if (!obsolete) break;
        char path[WAL_PATH_BYTES_MAX];
        int rc = wal_path(w, path, "wal-", seg->seq, ".log");
        if (rc == 0 && unlink(path) != 0) rc = CS_EIO;
        if (rc != 0) return rc;
        drop++;
    }
    if (drop == 0) return 0;
    for (size_t i = 0; i < drop; i++)
        free(w->segs[i].groups);
    memmove(w->segs, w->segs + drop, (w->segs_len - drop) * sizeof *w->segs);
    w->segs_len -= drop;
    return wal_fsync_dir(w);
}

static int wal_sync(struct log_backend *b)
{
    struct wal *w = wal_of(b);
    if (w->failed != 0) return w->failed;
    int rc = wal_flush(w);
    if (rc == 0 && fdatasync(w->fd) != 0) rc = CS_EIO;
    if (rc != 0) {
        /* After a failed fsync the page cache may have dropped the data: never retry. */
        w->failed = CS_EIO;
        return CS_EIO;
    }
    if (w->file_bytes >= w->segment_bytes) {
        rc = wal_segment_create(w, w->segs[w->segs_len - 1].seq + 1);
        if (rc == 0) rc = wal_collect(w);
        if (rc != 0) w->failed = CS_EIO;
    }
    return rc;
}

static void wal_close(struct log_backend *b)
{
    struct wal *w = wal_of(b);
    if (w->fd >= 0) close(w->fd);
    if (w->dir_fd >= 0) close(w->dir_fd);
    for (size_t i = 0; i < w->segs_len; i++)
        free(w->segs[i].groups);
    free(w->segs);
    cs_buf_free(&w->pending);
    free(w);
}

static const struct log_backend_ops wal_ops = {
    .close = wal_close,
    .append = wal_append,
    .truncate = wal_truncate,
    .compact = wal_compact,
    .term = wal_term,
    .read = wal_read,
    .hard_state_save = wal_hard_state_save,
    .snapshot_save = wal_snapshot_save,
    .snapshot_load = wal_snapshot_load,
    .snapshot_stage = wal_snapshot_stage,
    .snapshot_staged_load = wal_snapshot_staged_load,
    .snapshot_commit = wal_snapshot_commit,
    .snapshot_unstage = wal_snapshot_unstage,
    .snapshot_reap = wal_snapshot_reap,
    .sync = wal_sync,
    .txn = NULL,
};

/* --- open ----------------------------------------------------------------------- */

static int wal_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment seqs and snapshot groups named in the directory. */
static int wal_list(struct wal *w, uint64_t *seqs, size_t *seqs_len, uint64_t *snaps,
                    size_t *snaps_len)
{
    DIR *d = opendir(w->dir);
    if (d == NULL) return CS_EIO;
    *seqs_len = *snaps_len = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        char tail[8];
        uint64_t n;
        if (sscanf(e->d_name, "wal-%16" SCNx64 "%7s", &n, tail) == 2 && strlen(e->d_name) == 24 &&
            strcmp(tail, ".log") == 0) {
            if (*seqs_len == CS_STORE_LOG_SEGMENTS_MAX)
                rc = CS_ENOSPACE;
            else
                seqs[(*seqs_len)++] = n;
        } else if (sscanf(e->d_name, "snap-%16" SCNx64 "%7s", &n, tail) == 2 &&
                   strlen(e->d_name) == 26 && strcmp(tail, ".snap") == 0) {
            if (*snaps_len == CS_STORE_LOG_GROUPS_MAX)
                rc = CS_ENOSPACE;
            else
                snaps[(*snaps_len)++] = n;
        } else if (sscanf(e->d_name, "snap-%16" SCNx64 "%7s", &n, tail) == 2 &&
                   ((strlen(e->d_name) == 25 &&
                     (strcmp(tail, ".tmp") == 0 || strcmp(tail, ".old") == 0)) ||
                    (strlen(e->d_name) == 27 && strcmp(tail, ".stage") == 0))) {
            /* A snapshot save that died before its rename: never in effect. */
            char path[WAL_PATH_BYTES_MAX];
            if (wal_path(w, path, "snap-", n, tail) == 0) unlink(path);
        }
    }
    closedir(d);
    qsort(seqs, *seqs_len, sizeof *seqs, wal_cmp_u64);
    return rc;
}

/* Seed the group table from the snapshot files: their points bound the logs. */
static int wal_load_snapshots(struct wal *w, const uint64_t *snaps, size_t snaps_len)
{
    for (size_t i = 0; i < snaps_len; i++) {
        uint8_t *file;
        size_t file_len;
        int rc = wal_snap_read(w, snaps[i], &file, &file_len);
        if (rc != 0) return rc;
        struct cs_raft_snapshot_meta meta;
        const uint8_t *body;
        size_t body_len;
        rc = store_wal_snap_decode(file, file_len, &meta, &body, &body_len);
        free(file);
        if (rc != 0) return rc;
        struct log_group *g;
        rc = store_groups_get(w->groups, snaps[i], &g);
        if (rc != 0) return rc;
        g->snapshot_index = meta.index;
        wal_mem_compact(NULL, g, meta.index, meta.term);
    }
    return 0;
}

static int wal_scan_compactions(struct wal *w, uint64_t seq)
{
    char path[WAL_PATH_BYTES_MAX];
    int rc = wal_path(w, path, "wal-", seq, ".log");
    if (rc != 0) return rc;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return CS_EIO;
    uint8_t *data;
    size_t len;
    rc = wal_read_file(fd, &data, &len);
    close(fd);
    if (rc != 0) return rc;
    struct cs_wal_scan scan;
    rc = cs_wal_scan_segment(data, len, wal_compact_record, w->groups, &scan);
    free(data);
    return rc;
}

static int wal_recover(struct wal *w)
{
    uint64_t *seqs = malloc(CS_STORE_LOG_SEGMENTS_MAX * sizeof *seqs);
    uint64_t *snaps = malloc(CS_STORE_LOG_GROUPS_MAX * sizeof *snaps);
    size_t seqs_len = 0, snaps_len = 0;
    int rc = seqs && snaps ? wal_list(w, seqs, &seqs_len, snaps, &snaps_len) : CS_ENOMEM;
    if (rc == 0) rc = wal_load_snapshots(w, snaps, snaps_len);
    for (size_t i = 0; i < seqs_len && rc == 0; i++)
        rc = wal_scan_compactions(w, seqs[i]);
    for (size_t i = 0; i < seqs_len && rc == 0; i++) {
        if (i > 0 && seqs[i] != seqs[i - 1] + 1) rc = CS_ECORRUPT; /* a segment is missing */
        if (rc == 0) rc = wal_replay_segment(w, seqs[i], i + 1 == seqs_len);
    }
    if (rc == 0 && seqs_len == 0) rc = wal_segment_create(w, 1);
    free(seqs);
    free(snaps);
    return rc;
}

int store_wal_open(const char *dir, uint64_t segment_bytes, uint64_t cache_bytes_max,
                   struct log_groups *groups, void (*release)(void *ctx, void *p),
                   void *release_ctx, struct log_backend **out)
{
    if (strlen(dir) + 40 >= WAL_PATH_BYTES_MAX) return CS_EINVAL;
    int rc = store_mkdir_durable(dir);
    if (rc != 0) return rc;
    struct wal *w = calloc(1, sizeof *w);
    if (w == NULL) return CS_ENOMEM;
    w->base.ops = &wal_ops;
    memcpy(w->dir, dir, strlen(dir) + 1);
    w->segment_bytes = segment_bytes;
    w->cache_bytes_max = cache_bytes_max;
    w->groups = groups;
    w->fd = -1;
    cs_buf_init(&w->pending, WAL_PENDING_BYTES_MAX);
    w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
    rc = w->dir_fd < 0 ? CS_EIO : wal_recover(w);
    if (rc != 0) {
        wal_close(&w->base);
        return rc;
    }
    w->release = release; /* from now on; recovery freed its own */
    w->release_ctx = release_ctx;
    *out = &w->base;
    return 0;
}
