/*
 * store_log.c: unit tests of the Raft log store API (struct cs_store_log),
 * every case run once on the LMDB backend and once on the WAL backend.
 *
 * Method: a fixture opens a log of the backend under test in a fresh mkdtemp
 * directory; "crash" closes it without a sync and reopens, so each test can
 * check what was durable. Both backends must give the same answers.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/store.h"
#include "testlib.h"

struct fx {
    enum cs_store_log_backend backend;
    char dir[64];
    char sub[96];
    struct cs_store *store;
    struct cs_store_log *log;
};

static enum cs_store_log_backend backend_;

static void fx_open_log(struct fx *f)
{
    struct cs_store_log_options o = {.backend = f->backend};
    if (f->backend == CS_STORE_LOG_BACKEND_LMDB) {
        struct cs_store_options so = {.dir = f->sub};
        CS_CHECK_OK(cs_store_open(&so, &f->store));
        o.store = f->store;
    } else {
        o.dir = f->sub;
        o.segment_bytes = CS_STORE_LOG_SEGMENT_BYTES_MIN;
    }
    CS_CHECK_OK(cs_store_log_open(&o, &f->log));
}

static void fx_close_log(struct fx *f)
{
    cs_store_log_close(f->log);
    f->log = NULL;
    if (f->store != NULL) cs_store_close(f->store);
    f->store = NULL;
}

static void fx_init(struct fx *f)
{
    memset(f, 0, sizeof *f);
    f->backend = backend_;
    snprintf(f->dir, sizeof f->dir, "/tmp/cs_store_log_XXXXXX");
    CS_CHECK(mkdtemp(f->dir) != NULL);
    snprintf(f->sub, sizeof f->sub, "%s/node", f->dir);
    fx_open_log(f);
}

/* Close without syncing and reopen: what was not synced is gone. */
static void fx_crash(struct fx *f)
{
    fx_close_log(f);
    fx_open_log(f);
}

static void fx_free(struct fx *f)
{
    fx_close_log(f);
    cs_test_rmtree(f->dir);
}

static void append_range(struct fx *f, uint64_t group, uint64_t lo, uint64_t hi, uint64_t term)
{
    struct cs_raft_entry es[64];
    char data[64][16];
    size_t n = 0;
    for (uint64_t i = lo; i <= hi; i++) {
        CS_CHECK(n < 64);
        int len = snprintf(data[n], sizeof data[n], "g%llu-i%llu-t%llu", (unsigned long long)group,
                           (unsigned long long)i, (unsigned long long)term);
        es[n] = (struct cs_raft_entry){term, i, CS_RAFT_ENTRY_NORMAL, (uint32_t)len,
                                       (const uint8_t *)data[n]};
        n++;
    }
    CS_CHECK_OK(cs_store_log_append(f->log, group, es, n));
}

static void check_bounds(struct fx *f, uint64_t group, uint64_t first, uint64_t last)
{
    uint64_t a, b;
    cs_store_log_bounds(f->log, group, &a, &b);
    CS_CHECK_EQ_U64(a, first);
    CS_CHECK_EQ_U64(b, last);
}

/* Entries lo..hi read back with the given term and the data append_range wrote. */
static void check_entries(struct fx *f, uint64_t group, uint64_t lo, uint64_t hi, uint64_t term)
{
    struct cs_store_log_entries out;
    CS_CHECK_OK(cs_store_log_read(f->log, group, lo, hi + 1, SIZE_MAX, &out));
    CS_CHECK_EQ(out.len, hi - lo + 1);
    for (size_t j = 0; j < out.len; j++) {
        char want[16];
        int len = snprintf(want, sizeof want, "g%llu-i%llu-t%llu", (unsigned long long)group,
                           (unsigned long long)(lo + j), (unsigned long long)term);
        CS_CHECK_EQ_U64(out.entries[j].index, lo + j);
        CS_CHECK_EQ_U64(out.entries[j].term, term);
        CS_CHECK_EQ(out.entries[j].data_len, len);
        CS_CHECK_MEM(out.entries[j].data, want, (size_t)len);
    }
    cs_store_log_entries_free(&out);
}

CS_TEST(append_read_sync_crash)
{
    struct fx f;
    fx_init(&f);
    check_bounds(&f, 7, 1, 0);
    append_range(&f, 7, 1, 10, 1);
    append_range(&f, 8, 1, 3, 2);
    check_bounds(&f, 7, 1, 10);
    check_entries(&f, 7, 1, 10, 1);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    append_range(&f, 7, 11, 12, 1); /* not synced */
    check_bounds(&f, 7, 1, 12);
    fx_crash(&f);
    check_bounds(&f, 7, 1, 10);
    check_bounds(&f, 8, 1, 3);
    check_entries(&f, 7, 1, 10, 1);
    check_entries(&f, 8, 1, 3, 2);
    int rc = -1;
    struct cs_store_txn *txn = cs_store_log_txn(f.log, &rc);
    CS_CHECK_OK(rc);
    CS_CHECK((txn == NULL) == (backend_ == CS_STORE_LOG_BACKEND_WAL)); /* WAL: no LMDB txn */
    uint64_t ids[4];
    size_t n;
    cs_store_log_groups(f.log, ids, 4, &n);
    CS_CHECK_EQ(n, 2);
    CS_CHECK(ids[0] == 7 && ids[1] == 8);
    fx_free(&f);
}

/* An append at index i first deletes i and everything after it. */
CS_TEST(append_replaces_suffix_and_truncate)
{
    struct fx f;
    fx_init(&f);
    append_range(&f, 1, 1, 10, 1);
    append_range(&f, 1, 6, 7, 2);
    check_bounds(&f, 1, 1, 7);
    check_entries(&f, 1, 6, 7, 2);
    check_entries(&f, 1, 1, 5, 1);
    CS_CHECK_OK(cs_store_log_truncate(f.log, 1, 4));
    check_bounds(&f, 1, 1, 3);
    CS_CHECK_OK(cs_store_log_truncate(f.log, 1, 100)); /* past the end: nothing */
    CS_CHECK_OK(cs_store_log_truncate(f.log, 99, 5));  /* unknown group: nothing */
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    check_bounds(&f, 1, 1, 3);
    check_entries(&f, 1, 1, 3, 1);
    append_range(&f, 1, 4, 4, 3);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    check_bounds(&f, 1, 1, 4);
    check_entries(&f, 1, 4, 4, 3);
    fx_free(&f);
}

CS_TEST(append_errors)
{
    struct fx f;
    fx_init(&f);
    struct cs_raft_entry e[2] = {{1, 1, 0, 0, NULL}, {1, 3, 0, 0, NULL}};
    CS_CHECK_RC(cs_store_log_append(f.log, 1, e, 0), CS_EINVAL);
    CS_CHECK_RC(cs_store_log_append(f.log, 1, e, 2), CS_EINVAL); /* not contiguous */
    e[0].index = 2;
    CS_CHECK_RC(cs_store_log_append(f.log, 1, e, 1), CS_EINVAL); /* a gap after 0 */
    e[0].index = 0;
    CS_CHECK_RC(cs_store_log_append(f.log, 1, e, 1), CS_ERANGE); /* index 0 is never an entry */
    static uint8_t big[CS_RAFT_ENTRY_BYTES_MAX + 1];
    e[0] = (struct cs_raft_entry){1, 1, 0, CS_RAFT_ENTRY_BYTES_MAX + 1, big};
    CS_CHECK_RC(cs_store_log_append(f.log, 1, e, 1), CS_ETOOBIG);
    e[0].data_len = CS_RAFT_ENTRY_BYTES_MAX; /* at the limit */
    CS_CHECK_OK(cs_store_log_append(f.log, 1, e, 1));
    e[0] = (struct cs_raft_entry){1, 2, 0, 5, NULL};
    CS_CHECK_RC(cs_store_log_append(f.log, 1, e, 1), CS_EINVAL); /* data NULL with a length */
    check_bounds(&f, 1, 1, 1);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    struct cs_store_log_entries out;
    CS_CHECK_OK(cs_store_log_read(f.log, 1, 1, 2, 0, &out));
    CS_CHECK_EQ(out.len, 1);
    CS_CHECK_EQ(out.entries[0].data_len, CS_RAFT_ENTRY_BYTES_MAX);
    cs_store_log_entries_free(&out);
    fx_free(&f);
}

CS_TEST(compact_term_and_read_ranges)
{
    struct fx f;
    fx_init(&f);
    append_range(&f, 2, 1, 5, 1);
    append_range(&f, 2, 6, 9, 2);
    uint64_t term;
    CS_CHECK_OK(cs_store_log_term(f.log, 2, 0, &term)); /* the empty prefix */
    CS_CHECK_EQ(term, 0);
    CS_CHECK_OK(cs_store_log_term(f.log, 2, 7, &term));
    CS_CHECK_EQ(term, 2);
    CS_CHECK_RC(cs_store_log_term(f.log, 2, 10, &term), CS_ERANGE);
    CS_CHECK_RC(cs_store_log_compact(f.log, 2, 10), CS_ERANGE);
    CS_CHECK_OK(cs_store_log_compact(f.log, 2, 6));
    CS_CHECK_OK(cs_store_log_compact(f.log, 2, 6)); /* equal: no-op */
    CS_CHECK_RC(cs_store_log_compact(f.log, 2, 5), CS_ERANGE);
    check_bounds(&f, 2, 7, 9);
    CS_CHECK_OK(cs_store_log_term(f.log, 2, 6, &term)); /* the compaction point keeps its term */
    CS_CHECK_EQ(term, 2);
    CS_CHECK_RC(cs_store_log_term(f.log, 2, 5, &term), CS_ERANGE);
    CS_CHECK_RC(cs_store_log_term(f.log, 3, 1, &term), CS_ERANGE);
    struct cs_store_log_entries out;
    CS_CHECK_RC(cs_store_log_read(f.log, 2, 6, 8, SIZE_MAX, &out), CS_ERANGE);
    CS_CHECK_RC(cs_store_log_read(f.log, 2, 7, 11, SIZE_MAX, &out), CS_ERANGE);
    CS_CHECK_RC(cs_store_log_read(f.log, 2, 9, 8, SIZE_MAX, &out), CS_ERANGE);
    CS_CHECK_OK(cs_store_log_read(f.log, 2, 8, 8, SIZE_MAX, &out));
    CS_CHECK_EQ(out.len, 0);
    /* bytes_max stops after the entry that reaches it. */
    CS_CHECK_OK(cs_store_log_read(f.log, 2, 7, 10, 1, &out));
    CS_CHECK_EQ(out.len, 1);
    cs_store_log_entries_free(&out);
    CS_CHECK_RC(cs_store_log_append(f.log, 2, &(struct cs_raft_entry){3, 6, 0, 0, NULL}, 1),
                CS_ERANGE);
    CS_CHECK_RC(cs_store_log_truncate(f.log, 2, 6), CS_ERANGE);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    check_bounds(&f, 2, 7, 9);
    check_entries(&f, 2, 7, 9, 2);
    CS_CHECK_OK(cs_store_log_term(f.log, 2, 6, &term));
    CS_CHECK_EQ(term, 2);
    /* Compact everything: the log is empty but keeps its place. */
    CS_CHECK_OK(cs_store_log_compact(f.log, 2, 9));
    check_bounds(&f, 2, 10, 9);
    append_range(&f, 2, 10, 10, 4);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    check_bounds(&f, 2, 10, 10);
    check_entries(&f, 2, 10, 10, 4);
    fx_free(&f);
}

CS_TEST(hard_state_save_load)
{
    struct fx f;
    fx_init(&f);
    struct cs_raft_hard_state hs;
    CS_CHECK_RC(cs_store_log_hard_state_load(f.log, 5, &hs), CS_ENOTFOUND);
    CS_CHECK_OK(cs_store_log_hard_state_save(f.log, 5, &(struct cs_raft_hard_state){3, 2, 1}));
    CS_CHECK_OK(cs_store_log_sync(f.log));
    CS_CHECK_OK(cs_store_log_hard_state_save(f.log, 5, &(struct cs_raft_hard_state){4, 0, 1}));
    CS_CHECK_OK(cs_store_log_hard_state_load(f.log, 5, &hs));
    CS_CHECK_EQ(hs.term, 4);
    fx_crash(&f); /* the second save was not synced */
    CS_CHECK_OK(cs_store_log_hard_state_load(f.log, 5, &hs));
    CS_CHECK(hs.term == 3 && hs.vote == 2 && hs.commit == 1);
    fx_free(&f);
}

static struct cs_raft_snapshot make_snap(uint64_t index, uint64_t term, const char *data)
{
    struct cs_raft_snapshot s = {.meta = {.index = index, .term = term},
                                 .data_len = strlen(data),
                                 .data = (const uint8_t *)data};
    s.meta.conf.members_len = 2;
    s.meta.conf.members[0] = (struct cs_raft_member){1, true};
    s.meta.conf.members[1] = (struct cs_raft_member){9, false};
    return s;
}

CS_TEST(snapshot_save_load_and_compaction)
{
    struct fx f;
    fx_init(&f);
    struct cs_store_log_snapshot got;
    CS_CHECK_RC(cs_store_log_snapshot_load(f.log, 1, &got), CS_ENOTFOUND);
    append_range(&f, 1, 1, 10, 1);
    struct cs_raft_snapshot s = make_snap(4, 1, "state at 4");
    CS_CHECK_OK(cs_store_log_snapshot_save(f.log, 1, &s));
    check_bounds(&f, 1, 5, 10);
    CS_CHECK_RC(cs_store_log_snapshot_save(f.log, 1, &s), CS_ERANGE); /* not newer */
    s.meta.conf.members_len = CS_RAFT_MEMBERS_MAX + 1;
    s.meta.index = 5;
    CS_CHECK_RC(cs_store_log_snapshot_save(f.log, 1, &s), CS_EINVAL);
    s = make_snap(5, 1, "x");
    s.data_len = CS_RAFT_SNAPSHOT_BYTES_MAX + 1;
    CS_CHECK_RC(cs_store_log_snapshot_save(f.log, 1, &s), CS_ETOOBIG);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    check_bounds(&f, 1, 5, 10);
    check_entries(&f, 1, 5, 10, 1);
    CS_CHECK_OK(cs_store_log_snapshot_load(f.log, 1, &got));
    CS_CHECK_EQ(got.meta.index, 4);
    CS_CHECK_EQ(got.meta.conf.members_len, 2);
    CS_CHECK(got.meta.conf.members[1].id == 9 && !got.meta.conf.members[1].voter);
    CS_CHECK(got.data_len == 10 && memcmp(got.data, "state at 4", 10) == 0);
    cs_store_log_snapshot_free(&got);
    /* A snapshot past the last entry: the log restarts after it. */
    s = make_snap(20, 3, "state at 20");
    CS_CHECK_OK(cs_store_log_snapshot_save(f.log, 1, &s));
    check_bounds(&f, 1, 21, 20);
    uint64_t term;
    CS_CHECK_OK(cs_store_log_term(f.log, 1, 20, &term));
    CS_CHECK_EQ(term, 3);
    append_range(&f, 1, 21, 22, 3);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    check_bounds(&f, 1, 21, 22);
    check_entries(&f, 1, 21, 22, 3);
    CS_CHECK_OK(cs_store_log_snapshot_load(f.log, 1, &got));
    CS_CHECK_EQ(got.meta.index, 20);
    cs_store_log_snapshot_free(&got);
    fx_free(&f);
}

/* CS_STORE_LOG_GROUPS_MAX groups fit, one more does not; reads stop at
 * CS_STORE_LOG_READ_ENTRIES_MAX entries. */
CS_TEST(group_and_read_limits)
{
    struct fx f;
    fx_init(&f);
    struct cs_raft_hard_state hs = {1, 0, 0};
    for (uint64_t g = 1; g <= CS_STORE_LOG_GROUPS_MAX; g++)
        CS_CHECK_OK(cs_store_log_hard_state_save(f.log, g, &hs));
    CS_CHECK_RC(cs_store_log_hard_state_save(f.log, CS_STORE_LOG_GROUPS_MAX + 1, &hs), CS_ENOSPACE);
    CS_CHECK_RC(cs_store_log_append(f.log, CS_STORE_LOG_GROUPS_MAX + 1,
                                    &(struct cs_raft_entry){1, 1, 0, 0, NULL}, 1),
                CS_ENOSPACE);
    static struct cs_raft_entry es[CS_STORE_LOG_READ_ENTRIES_MAX + 1];
    for (size_t i = 0; i < CS_STORE_LOG_READ_ENTRIES_MAX + 1; i++)
        es[i] = (struct cs_raft_entry){1, i + 1, 0, 0, NULL};
    CS_CHECK_OK(cs_store_log_append(f.log, 1, es, CS_STORE_LOG_READ_ENTRIES_MAX + 1));
    struct cs_store_log_entries out;
    CS_CHECK_OK(cs_store_log_read(f.log, 1, 1, CS_STORE_LOG_READ_ENTRIES_MAX + 2, SIZE_MAX, &out));
    CS_CHECK_EQ(out.len, CS_STORE_LOG_READ_ENTRIES_MAX);
    cs_store_log_entries_free(&out);
    CS_CHECK_OK(cs_store_log_read(f.log, 1, 2, CS_STORE_LOG_READ_ENTRIES_MAX + 2, SIZE_MAX, &out));
    CS_CHECK_EQ(out.len, CS_STORE_LOG_READ_ENTRIES_MAX);
    CS_CHECK_EQ_U64(out.entries[out.len - 1].index, CS_STORE_LOG_READ_ENTRIES_MAX + 1);
    cs_store_log_entries_free(&out);
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    size_t n;
    uint64_t ids[1];
    cs_store_log_groups(f.log, ids, 1, &n);
    CS_CHECK_EQ(n, CS_STORE_LOG_GROUPS_MAX);
    fx_free(&f);
}

/* A group holds CS_STORE_LOG_GROUP_ENTRIES_MAX entries between compactions, not one
 * more; compaction makes room. (The check is the front end's, shared by both
 * backends; the WAL runs it because it is the cheaper of the two.) */
CS_TEST(group_entries_limit)
{
    backend_ = CS_STORE_LOG_BACKEND_WAL;
    struct fx f;
    fx_init(&f);
    enum { BATCH = 4096 };
    static struct cs_raft_entry es[BATCH];
    for (uint64_t next = 1; next <= CS_STORE_LOG_GROUP_ENTRIES_MAX; next += BATCH) {
        for (size_t i = 0; i < BATCH; i++)
            es[i] = (struct cs_raft_entry){1, next + i, 0, 0, NULL};
        CS_CHECK_OK(cs_store_log_append(f.log, 1, es, BATCH));
    }
    check_bounds(&f, 1, 1, CS_STORE_LOG_GROUP_ENTRIES_MAX);
    struct cs_raft_entry one = {1, CS_STORE_LOG_GROUP_ENTRIES_MAX + 1, 0, 0, NULL};
    CS_CHECK_RC(cs_store_log_append(f.log, 1, &one, 1), CS_ENOSPACE);
    one.index = CS_STORE_LOG_GROUP_ENTRIES_MAX; /* replacing the last keeps the count */
    CS_CHECK_OK(cs_store_log_append(f.log, 1, &one, 1));
    CS_CHECK_OK(cs_store_log_compact(f.log, 1, 10));
    one.index = CS_STORE_LOG_GROUP_ENTRIES_MAX + 1;
    CS_CHECK_OK(cs_store_log_append(f.log, 1, &one, 1));
    fx_free(&f);
}

/* A full map in the middle of a turn fails the log store: later writes and the sync
 * return CS_ENOSPACE, and a reopen finds the last synced state intact. */
CS_TEST(lmdb_full_map_fails_the_log)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cs_store_log_XXXXXX");
    CS_CHECK(mkdtemp(dir) != NULL);
    struct cs_store_options so = {
        .dir = dir, .map_bytes = CS_STORE_MAP_BYTES_MIN, .map_bytes_max = 2u << 20};
    struct cs_store *store;
    CS_CHECK_OK(cs_store_open(&so, &store));
    struct cs_store_log_options o = {.backend = CS_STORE_LOG_BACKEND_LMDB, .store = store};
    struct cs_store_log *log;
    CS_CHECK_OK(cs_store_log_open(&o, &log));
    static uint8_t data[64 << 10];
    struct cs_raft_entry e = {1, 1, 0, sizeof data, data};
    CS_CHECK_OK(cs_store_log_append(log, 1, &e, 1));
    CS_CHECK_OK(cs_store_log_sync(log));
    int rc = 0;
    for (e.index = 2; e.index < 100 && rc == 0; e.index++)
        rc = cs_store_log_append(log, 1, &e, 1);
    CS_CHECK_RC(rc, CS_ENOSPACE);
    CS_CHECK_RC(cs_store_log_hard_state_save(log, 1, &(struct cs_raft_hard_state){1, 0, 0}),
                CS_ENOSPACE);
    CS_CHECK_RC(cs_store_log_sync(log), CS_ENOSPACE);
    cs_store_log_close(log);
    cs_store_close(store);
    CS_CHECK_OK(cs_store_open(&so, &store));
    o.store = store;
    CS_CHECK_OK(cs_store_log_open(&o, &log));
    uint64_t first, last;
    cs_store_log_bounds(log, 1, &first, &last);
    CS_CHECK(first == 1 && last == 1);
    cs_store_log_close(log);
    cs_store_close(store);
    cs_test_rmtree(dir);
}

/* A group's whole durable state as a struct cs_raft_restore, across read chunks. */
CS_TEST(restore_load)
{
    struct fx f;
    fx_init(&f);
    struct cs_store_log_restore r;
    CS_CHECK_OK(cs_store_log_restore_load(f.log, 1, &r)); /* a group never seen */
    CS_CHECK(r.restore.entries_len == 0 && r.restore.snapshot.meta.index == 0);
    cs_store_log_restore_free(&r);
    size_t n = CS_STORE_LOG_READ_ENTRIES_MAX + 100;
    uint64_t last = 0;
    for (uint64_t lo = 1; lo <= n; lo += 50) {
        append_range(&f, 1, lo, lo + 49, 2);
        last = lo + 49;
    }
    struct cs_raft_snapshot s = make_snap(30, 2, "state at 30");
    CS_CHECK_OK(cs_store_log_snapshot_save(f.log, 1, &s));
    CS_CHECK_OK(cs_store_log_hard_state_save(f.log, 1, &(struct cs_raft_hard_state){2, 1, 40}));
    CS_CHECK_OK(cs_store_log_sync(f.log));
    fx_crash(&f);
    CS_CHECK_OK(cs_store_log_restore_load(f.log, 1, &r));
    CS_CHECK(r.restore.hard_state.term == 2 && r.restore.hard_state.commit == 40);
    CS_CHECK_EQ(r.restore.snapshot.meta.index, 30);
    CS_CHECK(r.restore.snapshot.data_len == 11 &&
             memcmp(r.restore.snapshot.data, "state at 30", 11) == 0);
    CS_CHECK_EQ(r.restore.entries_len, last - 30); /* more than one read's worth */
    CS_CHECK(r.restore.entries_len > CS_STORE_LOG_READ_ENTRIES_MAX);
    for (size_t i = 0; i < r.restore.entries_len; i++) {
        char want[32];
        int len = snprintf(want, sizeof want, "g1-i%zu-t2", 31 + i);
        CS_CHECK_EQ_U64(r.restore.entries[i].index, 31 + i);
        CS_CHECK(r.restore.entries[i].data_len == (uint32_t)len);
        CS_CHECK_MEM(r.restore.entries[i].data, want, (size_t)len);
    }
    cs_store_log_restore_free(&r);
    /* Compacted past the snapshot: Raft could not restart from it. */
    CS_CHECK_OK(cs_store_log_compact(f.log, 1, 35));
    CS_CHECK_RC(cs_store_log_restore_load(f.log, 1, &r), CS_ESTATE);
    fx_free(&f);
}

/* The WAL's cache of entry bytes (all groups) holds cache_bytes_max, not one more;
 * a replaced suffix and a compaction give their bytes back. */
CS_TEST(wal_cache_bytes_limit)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cs_store_log_XXXXXX");
    CS_CHECK(mkdtemp(dir) != NULL);
    struct cs_store_log_options o = {
        .backend = CS_STORE_LOG_BACKEND_WAL, .dir = dir, .cache_bytes_max = 4096};
    struct cs_store_log *log;
    CS_CHECK_OK(cs_store_log_open(&o, &log));
    static uint8_t data[1024];
    struct cs_raft_entry e[2] = {{1, 1, 0, 1024, data}, {1, 2, 0, 1024, data}};
    CS_CHECK_OK(cs_store_log_append(log, 1, e, 2));
    e[0].index = 1; /* group 2: another 2048 bytes reaches the limit exactly */
    e[1].index = 2;
    CS_CHECK_OK(cs_store_log_append(log, 2, e, 2));
    struct cs_raft_entry one = {1, 3, 0, 1, data};
    CS_CHECK_RC(cs_store_log_append(log, 1, &one, 1), CS_ENOSPACE);
    one = (struct cs_raft_entry){2, 2, 0, 1024, data}; /* replaces entry 2: same bytes */
    CS_CHECK_OK(cs_store_log_append(log, 1, &one, 1));
    CS_CHECK_OK(cs_store_log_compact(log, 1, 1));
    one = (struct cs_raft_entry){2, 3, 0, 1024, data};
    CS_CHECK_OK(cs_store_log_append(log, 1, &one, 1));
    cs_store_log_close(log);
    o.cache_bytes_max = CS_STORE_LOG_CACHE_BYTES_MAX + 1;
    CS_CHECK_RC(cs_store_log_open(&o, &log), CS_EINVAL);
    cs_test_rmtree(dir);
}

CS_TEST(open_rejects_bad_options)
{
    struct cs_store_log *log;
    struct cs_store_log_options o = {.backend = CS_STORE_LOG_BACKEND_LMDB};
    CS_CHECK_RC(cs_store_log_open(&o, &log), CS_EINVAL); /* no store */
    o = (struct cs_store_log_options){.backend = CS_STORE_LOG_BACKEND_WAL};
    CS_CHECK_RC(cs_store_log_open(&o, &log), CS_EINVAL); /* no dir */
    o.dir = "/tmp";
    o.segment_bytes = CS_STORE_LOG_SEGMENT_BYTES_MIN - 1;
    CS_CHECK_RC(cs_store_log_open(&o, &log), CS_EINVAL);
    o.segment_bytes = (uint64_t)CS_STORE_LOG_SEGMENT_BYTES_MAX + 1;
    CS_CHECK_RC(cs_store_log_open(&o, &log), CS_EINVAL);
    o.backend = (enum cs_store_log_backend)9;
    CS_CHECK_RC(cs_store_log_open(&o, &log), CS_EINVAL);
}

/* The LMDB backend's transaction carries the driver's own writes into the same commit. */
CS_TEST(lmdb_shared_txn_group_commit)
{
    backend_ = CS_STORE_LOG_BACKEND_LMDB;
    struct fx f;
    fx_init(&f);
    append_range(&f, 1, 1, 2, 1);
    append_range(&f, 2, 1, 2, 1);
    int rc;
    struct cs_store_txn *t = cs_store_log_txn(f.log, &rc);
    CS_CHECK_OK(rc);
    CS_CHECK(t != NULL);
    CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, "applied", 7, "2", 1));
    struct cs_store_txn *other;
    CS_CHECK_RC(cs_store_txn_begin(f.store, false, &other), CS_EBUSY);
    CS_CHECK_OK(cs_store_log_sync(f.log)); /* one commit: both groups and the data */
    fx_crash(&f);
    check_bounds(&f, 1, 1, 2);
    check_bounds(&f, 2, 1, 2);
    CS_CHECK_OK(cs_store_txn_begin(f.store, true, &t));
    const uint8_t *v;
    size_t vl;
    CS_CHECK_OK(cs_store_get(t, CS_STORE_DB_DATA, "applied", 7, &v, &vl));
    cs_store_abort(t);
    fx_free(&f);
}

#define BOTH(name)                                                                                 \
    static void name##_lmdb(void)                                                                  \
    {                                                                                              \
        backend_ = CS_STORE_LOG_BACKEND_LMDB;                                                      \
        name();                                                                                    \
    }                                                                                              \
    static void name##_wal(void)                                                                   \
    {                                                                                              \
        backend_ = CS_STORE_LOG_BACKEND_WAL;                                                       \
        name();                                                                                    \
    }

BOTH(append_read_sync_crash)
BOTH(append_replaces_suffix_and_truncate)
BOTH(append_errors)
BOTH(compact_term_and_read_ranges)
BOTH(hard_state_save_load)
BOTH(snapshot_save_load_and_compaction)
BOTH(group_and_read_limits)
BOTH(restore_load)

CS_TEST_MAIN(CS_CASE(append_read_sync_crash_lmdb), CS_CASE(append_read_sync_crash_wal),
             CS_CASE(append_replaces_suffix_and_truncate_lmdb),
             CS_CASE(append_replaces_suffix_and_truncate_wal), CS_CASE(append_errors_lmdb),
             CS_CASE(append_errors_wal), CS_CASE(compact_term_and_read_ranges_lmdb),
             CS_CASE(compact_term_and_read_ranges_wal), CS_CASE(hard_state_save_load_lmdb),
             CS_CASE(hard_state_save_load_wal), CS_CASE(snapshot_save_load_and_compaction_lmdb),
             CS_CASE(snapshot_save_load_and_compaction_wal), CS_CASE(group_and_read_limits_lmdb),
             CS_CASE(group_and_read_limits_wal), CS_CASE(restore_load_lmdb),
             CS_CASE(restore_load_wal), CS_CASE(group_entries_limit),
             CS_CASE(lmdb_full_map_fails_the_log), CS_CASE(wal_cache_bytes_limit),
             CS_CASE(open_rejects_bad_options), CS_CASE(lmdb_shared_txn_group_commit))
