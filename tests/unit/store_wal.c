/*
 * store_wal.c: crash-recovery tests of the WAL backend and unit tests of its
 * record codec.
 *
 * Method: build a real WAL in a mkdtemp directory, then damage its files as a
 * crash or a bad disk would: cut the last record at every byte offset
 * (recovery must keep every earlier record, drop the torn one and leave a
 * file that appends cleanly), flip every byte of a middle record (recovery
 * must refuse with CS_ECORRUPT), remove or cut whole segments.
 */
#define _XOPEN_SOURCE 700
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "consist/codec.h"
#include "consist/store.h"
#include "testlib.h"

static char dir_[64];

static const char *tmpdir_new(void)
{
    snprintf(dir_, sizeof dir_, "/tmp/cs_store_wal_XXXXXX");
    CS_CHECK(mkdtemp(dir_) != NULL);
    return dir_;
}

static void tmpdir_free(void)
{
    cs_test_rmtree(dir_);
}

/* The release hook the next opens use (NULL: free), and what it was given. */
static void (*wal_release)(void *ctx, void *p);
static size_t wal_released;

static void count_and_free(void *ctx, void *p)
{
    (*(size_t *)ctx)++;
    free(p);
}

static int wal_open_rc(const char *dir, struct cs_store_log **log)
{
    struct cs_store_log_options o = {.backend = CS_STORE_LOG_BACKEND_WAL,
                                     .dir = dir,
                                     .segment_bytes = CS_STORE_LOG_SEGMENT_BYTES_MIN,
                                     .release = wal_release,
                                     .release_ctx = &wal_released};
    return cs_store_log_open(&o, log);
}

static struct cs_store_log *wal_open_ok(const char *dir)
{
    struct cs_store_log *log = NULL;
    CS_CHECK_OK(wal_open_rc(dir, &log));
    return log;
}

static void append_one(struct cs_store_log *log, uint64_t group, uint64_t index, size_t len)
{
    uint8_t data[2048];
    CS_CHECK(len <= sizeof data);
    memset(data, (int)(index & 0xff), len);
    struct cs_raft_entry e = {1, index, CS_RAFT_ENTRY_NORMAL, (uint32_t)len, data};
    CS_CHECK_OK(cs_store_log_append(log, group, &e, 1));
}

static void check_log(struct cs_store_log *log, uint64_t group, uint64_t first, uint64_t last)
{
    uint64_t a, b;
    cs_store_log_bounds(log, group, &a, &b);
    CS_CHECK_EQ_U64(a, first);
    CS_CHECK_EQ_U64(b, last);
    for (uint64_t i = first; i <= last; i++) {
        struct cs_store_log_entries out;
        CS_CHECK_OK(cs_store_log_read(log, group, i, i + 1, SIZE_MAX, &out));
        CS_CHECK_EQ(out.len, 1);
        for (uint32_t j = 0; j < out.entries[0].data_len; j++)
            CS_CHECK_EQ(out.entries[0].data[j], i & 0xff);
        cs_store_log_entries_free(&out);
    }
}

static uint8_t *file_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    CS_CHECK(f != NULL);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *data = malloc(*len ? *len : 1);
    CS_CHECK(fread(data, 1, *len, f) == *len);
    fclose(f);
    return data;
}

static void file_write(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    CS_CHECK(f != NULL);
    CS_CHECK(fwrite(data, 1, len, f) == len);
    fclose(f);
}

static void seg_path(char *out, size_t cap, uint64_t seq)
{
    snprintf(out, cap, "%s/wal-%016llx.log", dir_, (unsigned long long)seq);
}

/* Cut the last record at every byte offset: all earlier records survive, the cut
 * one is dropped, the file is trimmed, and the log appends and recovers again. */
CS_TEST(torn_tail_at_every_offset)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    for (uint64_t i = 1; i <= 5; i++)
        append_one(log, 1, i, 40);
    CS_CHECK_OK(cs_store_log_hard_state_save(log, 1, &(struct cs_raft_hard_state){2, 1, 5}));
    CS_CHECK_OK(cs_store_log_sync(log));
    char path[128];
    seg_path(path, sizeof path, 1);
    size_t before_len;
    free(file_read(path, &before_len));
    append_one(log, 1, 6, 40);
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    size_t full_len;
    uint8_t *full = file_read(path, &full_len);
    CS_CHECK_EQ(full_len, before_len + CS_WAL_RECORD_HEAD_BYTES + 26 + 40);
    for (size_t cut = before_len; cut < full_len; cut++) {
        file_write(path, full, cut);
        log = wal_open_ok(dir);
        check_log(log, 1, 1, 5);
        struct cs_raft_hard_state hs;
        CS_CHECK_OK(cs_store_log_hard_state_load(log, 1, &hs));
        CS_CHECK_EQ(hs.commit, 5);
        cs_store_log_close(log);
        size_t now_len;
        free(file_read(path, &now_len));
        CS_CHECK_EQ(now_len, before_len); /* the torn bytes were cut off */
    }
    /* The full file recovers all six; a recovered file takes new appends. */
    file_write(path, full, before_len + 3);
    log = wal_open_ok(dir);
    append_one(log, 1, 6, 40);
    append_one(log, 1, 7, 40);
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    log = wal_open_ok(dir);
    check_log(log, 1, 1, 7);
    cs_store_log_close(log);
    free(full);
    tmpdir_free();
}

/* Any single damaged byte in a record with records after it is corruption. */
CS_TEST(flipped_byte_in_middle_is_corrupt)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    for (uint64_t i = 1; i <= 5; i++)
        append_one(log, 1, i, 30);
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    char path[128];
    seg_path(path, sizeof path, 1);
    size_t len;
    uint8_t *data = file_read(path, &len);
    size_t record = CS_WAL_RECORD_HEAD_BYTES + 26 + 30;
    size_t third = CS_WAL_HEADER_BYTES + 2 * record;
    CS_CHECK_EQ(len, CS_WAL_HEADER_BYTES + 5 * record);
    for (size_t at = third; at < third + record; at++) {
        data[at] ^= 0x5a;
        file_write(path, data, len);
        CS_CHECK_RC(wal_open_rc(dir, &log), CS_ECORRUPT);
        data[at] ^= 0x5a;
    }
    /* The header: magic and flags are corruption, the version says so. */
    data[0] ^= 1;
    file_write(path, data, len);
    CS_CHECK_RC(wal_open_rc(dir, &log), CS_ECORRUPT);
    data[0] ^= 1;
    data[4] = 9;
    file_write(path, data, len);
    CS_CHECK_RC(wal_open_rc(dir, &log), CS_EVERSION);
    data[4] = CS_WAL_VERSION;
    data[8] = 7; /* the sequence number disagrees with the file name */
    file_write(path, data, len);
    CS_CHECK_RC(wal_open_rc(dir, &log), CS_ECORRUPT);
    data[8] = 1;
    file_write(path, data, len);
    log = wal_open_ok(dir); /* restored: fine again */
    check_log(log, 1, 1, 5);
    cs_store_log_close(log);
    free(data);
    tmpdir_free();
}

/* Zeros after the last record (a file extended but not written) are a torn tail. */
CS_TEST(zero_tail_is_torn)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    append_one(log, 3, 1, 10);
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    char path[128];
    seg_path(path, sizeof path, 1);
    size_t len;
    uint8_t *data = file_read(path, &len);
    uint8_t *longer = calloc(1, len + 4096);
    memcpy(longer, data, len);
    file_write(path, longer, len + 4096);
    log = wal_open_ok(dir);
    check_log(log, 3, 1, 1);
    cs_store_log_close(log);
    size_t now;
    free(file_read(path, &now));
    CS_CHECK_EQ(now, len);
    free(longer);
    free(data);
    tmpdir_free();
}

static size_t count_segments(void)
{
    size_t n = 0;
    for (uint64_t seq = 1; seq < 1000; seq++) {
        char path[128];
        seg_path(path, sizeof path, seq);
        n += access(path, F_OK) == 0;
    }
    return n;
}

/* Segments roll over past segment_bytes; compaction lets old ones be deleted; state
 * restated at each segment's head survives the deletion. */
CS_TEST(segments_roll_over_and_are_collected)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    for (uint64_t i = 1; i <= 300; i++) {
        append_one(log, 1, i, 1000);
        append_one(log, 2, i, 10);
        if (i % 10 == 0) CS_CHECK_OK(cs_store_log_sync(log));
    }
    CS_CHECK_OK(cs_store_log_hard_state_save(log, 1, &(struct cs_raft_hard_state){7, 1, 300}));
    CS_CHECK_OK(cs_store_log_sync(log));
    size_t segs = count_segments();
    CS_CHECK(segs >= 4);
    CS_CHECK_OK(cs_store_log_compact(log, 1, 290));
    CS_CHECK_OK(cs_store_log_compact(log, 2, 290));
    CS_CHECK_OK(cs_store_log_sync(log));
    /* Collection happens at the next roll over. */
    for (uint64_t i = 301; i <= 380; i++) {
        append_one(log, 1, i, 1000);
        CS_CHECK_OK(cs_store_log_sync(log));
    }
    CS_CHECK(count_segments() < segs);
    cs_store_log_close(log);
    log = wal_open_ok(dir);
    check_log(log, 1, 291, 380);
    check_log(log, 2, 291, 300);
    struct cs_raft_hard_state hs;
    CS_CHECK_OK(cs_store_log_hard_state_load(log, 1, &hs));
    CS_CHECK(hs.term == 7 && hs.commit == 300);
    uint64_t term;
    CS_CHECK_OK(cs_store_log_term(log, 2, 290, &term));
    CS_CHECK_EQ(term, 1);
    cs_store_log_close(log);
    tmpdir_free();
}

/* A missing middle segment, or a torn segment that is not the last, is corruption. */
CS_TEST(missing_or_torn_middle_segment_is_corrupt)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    for (uint64_t i = 1; i <= 200; i++) {
        append_one(log, 1, i, 1000);
        CS_CHECK_OK(cs_store_log_sync(log));
    }
    cs_store_log_close(log);
    CS_CHECK(count_segments() >= 3);
    char path[128];
    seg_path(path, sizeof path, 1);
    size_t len;
    uint8_t *first = file_read(path, &len);
    file_write(path, first, len - 5);
    CS_CHECK_RC(wal_open_rc(dir, &log), CS_ECORRUPT);
    file_write(path, first, len);
    seg_path(path, sizeof path, 2);
    size_t len2;
    uint8_t *second = file_read(path, &len2);
    CS_CHECK(unlink(path) == 0);
    CS_CHECK_RC(wal_open_rc(dir, &log), CS_ECORRUPT);
    file_write(path, second, len2);
    log = wal_open_ok(dir);
    check_log(log, 1, 1, 200);
    cs_store_log_close(log);
    free(first);
    free(second);
    tmpdir_free();
}

/* A crash while a new segment was being created leaves a short file: recovered;
 * a leftover snapshot temp file is removed and not taken for a snapshot. */
CS_TEST(torn_segment_header_is_rewritten)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    append_one(log, 1, 1, 10);
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    char path[128];
    seg_path(path, sizeof path, 2);
    file_write(path, (const uint8_t *)"CWA", 3);
    char tmp[128]; /* and a snapshot save that died before its rename */
    snprintf(tmp, sizeof tmp, "%s/snap-%016llx.tmp", dir, 1ull);
    file_write(tmp, (const uint8_t *)"partial", 7);
    log = wal_open_ok(dir);
    CS_CHECK(access(tmp, F_OK) != 0);
    struct cs_store_log_snapshot none;
    CS_CHECK_RC(cs_store_log_snapshot_load(log, 1, &none), CS_ENOTFOUND);
    append_one(log, 1, 2, 10);
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    log = wal_open_ok(dir);
    check_log(log, 1, 1, 2);
    cs_store_log_close(log);
    tmpdir_free();
}

CS_TEST(corrupt_snapshot_file_is_refused)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    append_one(log, 4, 1, 10);
    struct cs_raft_snapshot s = {
        .meta = {.index = 1, .term = 1}, .data_len = 3, .data = (const uint8_t *)"abc"};
    CS_CHECK_OK(cs_store_log_snapshot_save(log, 4, &s));
    CS_CHECK_OK(cs_store_log_sync(log));
    cs_store_log_close(log);
    char path[128];
    snprintf(path, sizeof path, "%s/snap-%016llx.snap", dir, 4ull);
    size_t len;
    uint8_t *data = file_read(path, &len);
    for (size_t at = 0; at < len; at++) {
        data[at] ^= 0x10;
        file_write(path, data, len);
        int rc = wal_open_rc(dir, &log);
        CS_CHECK_MSG(rc == CS_ECORRUPT || rc == CS_EVERSION, "byte %zu: %s", at, cs_errname(rc));
        data[at] ^= 0x10;
    }
    file_write(path, data, len);
    log = wal_open_ok(dir);
    struct cs_store_log_snapshot got;
    CS_CHECK_OK(cs_store_log_snapshot_load(log, 4, &got));
    CS_CHECK(got.data_len == 3 && memcmp(got.data, "abc", 3) == 0);
    cs_store_log_snapshot_free(&got);
    cs_store_log_close(log);
    free(data);
    tmpdir_free();
}

/* A staged save: written in a forked child while the parent keeps appending,
 * not in effect until committed (a crash before that keeps the old snapshot and
 * drops the staging file), then exactly like cs_store_log_snapshot_save; one
 * that an installed snapshot overtook is refused with CS_ERANGE. */
CS_TEST(staged_snapshot_from_a_child)
{
    const char *dir = tmpdir_new();
    struct cs_store_log *log = wal_open_ok(dir);
    for (uint64_t i = 1; i <= 20; i++)
        append_one(log, 2, i, 10);
    CS_CHECK_OK(cs_store_log_sync(log));
    struct cs_raft_snapshot s = {
        .meta = {.index = 12, .term = 1}, .data_len = 5, .data = (const uint8_t *)"state"};
    pid_t pid = fork();
    CS_CHECK(pid >= 0);
    if (pid == 0) _exit(cs_store_log_snapshot_stage(log, 2, &s) == 0 ? 0 : 1);
    for (uint64_t i = 21; i <= 30; i++) /* the owner goes on meanwhile */
        append_one(log, 2, i, 10);
    int status = 0;
    CS_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CS_CHECK_OK(cs_store_log_sync(log));

    struct cs_store_log_snapshot got;
    CS_CHECK_RC(cs_store_log_snapshot_load(log, 2, &got), CS_ENOTFOUND); /* not yet in effect */
    CS_CHECK_OK(cs_store_log_snapshot_staged_load(log, 2, &got));
    CS_CHECK(got.meta.index == 12 && got.meta.term == 1);
    CS_CHECK(got.data_len == 5 && memcmp(got.data, "state", 5) == 0);
    cs_store_log_snapshot_free(&got);

    /* A crash now: the staging file is dropped at open, the log is whole. */
    cs_store_log_close(log);
    char stage[128];
    snprintf(stage, sizeof stage, "%s/snap-%016llx.stage", dir, 2ull);
    CS_CHECK(access(stage, F_OK) == 0);
    log = wal_open_ok(dir);
    CS_CHECK(access(stage, F_OK) != 0);
    CS_CHECK_RC(cs_store_log_snapshot_load(log, 2, &got), CS_ENOTFOUND);
    check_log(log, 2, 1, 30);
    CS_CHECK_RC(cs_store_log_snapshot_staged_load(log, 2, &got), CS_ENOTFOUND);

    /* Staged again, committed: the snapshot and its compaction hold across a reopen.
     * The 12 cached entries it compacts go to the owner's release hook. */
    cs_store_log_close(log);
    wal_release = count_and_free;
    wal_released = 0;
    log = wal_open_ok(dir);
    CS_CHECK_EQ(wal_released, 0); /* recovery frees its own */
    CS_CHECK_OK(cs_store_log_snapshot_stage(log, 2, &s));
    CS_CHECK_OK(cs_store_log_snapshot_commit(log, 2, &s.meta));
    CS_CHECK_EQ(wal_released, 12);
    wal_release = NULL;
    CS_CHECK_OK(cs_store_log_sync(log));
    CS_CHECK(access(stage, F_OK) != 0);
    cs_store_log_close(log);
    log = wal_open_ok(dir);
    CS_CHECK_OK(cs_store_log_snapshot_load(log, 2, &got));
    CS_CHECK(got.meta.index == 12 && got.data_len == 5 && memcmp(got.data, "state", 5) == 0);
    cs_store_log_snapshot_free(&got);
    check_log(log, 2, 13, 30);

    /* Overtaken: a snapshot at 20 was installed while one at 15 was staged. */
    struct cs_raft_snapshot old = {
        .meta = {.index = 15, .term = 1}, .data_len = 3, .data = (const uint8_t *)"old"};
    CS_CHECK_OK(cs_store_log_snapshot_stage(log, 2, &old));
    struct cs_raft_snapshot newer = {
        .meta = {.index = 20, .term = 1}, .data_len = 3, .data = (const uint8_t *)"new"};
    CS_CHECK_OK(cs_store_log_snapshot_save(log, 2, &newer));
    CS_CHECK_RC(cs_store_log_snapshot_commit(log, 2, &old.meta), CS_ERANGE);
    CS_CHECK(access(stage, F_OK) != 0);
    /* A committed one keeps the snapshot it replaced under a second name until reaped. */
    char old_path[128];
    snprintf(old_path, sizeof old_path, "%s/snap-%016llx.old", dir, 2ull);
    struct cs_raft_snapshot newest = {
        .meta = {.index = 25, .term = 1}, .data_len = 3, .data = (const uint8_t *)"nxt"};
    CS_CHECK_OK(cs_store_log_snapshot_stage(log, 2, &newest));
    CS_CHECK_OK(cs_store_log_snapshot_commit(log, 2, &newest.meta));
    size_t old_len = 0;
    uint8_t *old_bytes = file_read(old_path, &old_len);
    CS_CHECK(old_len >= 3 && memcmp(old_bytes + old_len - 3, "new", 3) == 0);
    free(old_bytes);
    cs_store_log_snapshot_reap(log, 2);
    CS_CHECK(access(old_path, F_OK) != 0);
    CS_CHECK_OK(cs_store_log_snapshot_stage(
        log, 2,
        &(struct cs_raft_snapshot){
            .meta = {.index = 28, .term = 1}, .data_len = 3, .data = (const uint8_t *)"end"}));
    CS_CHECK_OK(cs_store_log_snapshot_commit(
        log, 2, &(struct cs_raft_snapshot_meta){.index = 28, .term = 1}));
    CS_CHECK(access(old_path, F_OK) == 0);
    cs_store_log_close(log);
    log = wal_open_ok(dir); /* not reaped: the open deletes it */
    CS_CHECK(access(old_path, F_OK) != 0);
    CS_CHECK_OK(cs_store_log_snapshot_load(log, 2, &got));
    CS_CHECK(got.meta.index == 28 && memcmp(got.data, "end", 3) == 0);
    check_log(log, 2, 29, 30);
    cs_store_log_snapshot_free(&got);
    CS_CHECK_RC(cs_store_log_snapshot_stage(log, 2, &(struct cs_raft_snapshot){0}), CS_ERANGE);
    cs_store_log_close(log);
    tmpdir_free();
}

/* A real process killed with SIGKILL after syncing 1..50 and appending 51..60 without
 * a sync: on both backends recovery finds exactly 1..50 and the hard state synced. */
CS_TEST(kill_9_keeps_exactly_what_was_synced)
{
    for (int backend = CS_STORE_LOG_BACKEND_LMDB; backend <= CS_STORE_LOG_BACKEND_WAL; backend++) {
        const char *dir = tmpdir_new();
        char sub[128];
        snprintf(sub, sizeof sub, "%s/node", dir);
        struct cs_store_options so = {.dir = sub};
        struct cs_store_log_options o = {.backend = (enum cs_store_log_backend)backend, .dir = sub};
        pid_t pid = fork();
        CS_CHECK(pid >= 0);
        if (pid == 0) {
            struct cs_store *store = NULL;
            struct cs_store_log *log;
            if (backend == CS_STORE_LOG_BACKEND_LMDB && cs_store_open(&so, &store) != 0) _exit(3);
            o.store = store;
            if (cs_store_log_open(&o, &log) != 0) _exit(4);
            for (uint64_t i = 1; i <= 60; i++) {
                append_one(log, 1, i, 100);
                if (i == 50) {
                    cs_store_log_hard_state_save(log, 1, &(struct cs_raft_hard_state){5, 1, 50});
                    if (cs_store_log_sync(log) != 0) _exit(5);
                }
            }
            cs_store_log_hard_state_save(log, 1, &(struct cs_raft_hard_state){6, 2, 60});
            raise(SIGKILL);
            _exit(6);
        }
        int status;
        CS_CHECK(waitpid(pid, &status, 0) == pid);
        CS_CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "child status %d", status);
        struct cs_store *store = NULL;
        if (backend == CS_STORE_LOG_BACKEND_LMDB) CS_CHECK_OK(cs_store_open(&so, &store));
        o.store = store;
        struct cs_store_log *log;
        CS_CHECK_OK(cs_store_log_open(&o, &log));
        check_log(log, 1, 1, 50);
        struct cs_raft_hard_state hs;
        CS_CHECK_OK(cs_store_log_hard_state_load(log, 1, &hs));
        CS_CHECK(hs.term == 5 && hs.vote == 1 && hs.commit == 50);
        cs_store_log_close(log);
        cs_store_close(store);
        tmpdir_free();
    }
}

/* CS_STORE_LOG_SEGMENTS_MAX segments recover; one more is refused. */
CS_TEST(segments_limit)
{
    const char *dir = tmpdir_new();
    struct cs_buf b;
    cs_buf_init(&b, 64);
    char path[128];
    for (uint64_t seq = 1; seq <= CS_STORE_LOG_SEGMENTS_MAX + 1; seq++) {
        cs_buf_reset(&b);
        CS_CHECK_OK(cs_wal_header_encode(seq, &b));
        if (seq == CS_STORE_LOG_SEGMENTS_MAX + 1) {
            struct cs_store_log *log = wal_open_ok(dir); /* at the limit */
            append_one(log, 1, 1, 10);
            CS_CHECK_OK(cs_store_log_sync(log));
            cs_store_log_close(log);
        }
        seg_path(path, sizeof path, seq);
        file_write(path, b.data, b.len);
    }
    struct cs_store_log *log;
    CS_CHECK_RC(wal_open_rc(dir, &log), CS_ENOSPACE);
    cs_buf_free(&b);
    tmpdir_free();
}

static int count_record(void *ctx, const struct cs_wal_record *rec)
{
    struct cs_wal_record *seen = ctx;
    seen[rec->group_id] = *rec;
    return rec->group_id == 99 ? CS_EBUDGET : 0;
}

/* The codec: every record type round-trips; bad records are refused. */
CS_TEST(codec_round_trip_and_refusals)
{
    struct cs_buf b;
    cs_buf_init(&b, 1u << 22);
    CS_CHECK_OK(cs_wal_header_encode(5, &b));
    struct cs_wal_record recs[4] = {
        {.type = CS_WAL_ENTRY,
         .group_id = 0,
         .index = 3,
         .term = 2,
         .entry_type = 1,
         .data_len = 4,
         .data = (const uint8_t *)"abcd"},
        {.type = CS_WAL_TRUNCATE, .group_id = 1, .index = 9},
        {.type = CS_WAL_COMPACT, .group_id = 2, .index = 8, .term = 3},
        {.type = CS_WAL_HARD_STATE, .group_id = 3, .term = 4, .vote = 5, .commit = 6},
    };
    for (int i = 0; i < 4; i++)
        CS_CHECK_OK(cs_wal_record_encode(&recs[i], &b));
    struct cs_wal_record seen[4] = {0};
    struct cs_wal_scan scan;
    CS_CHECK_OK(cs_wal_scan_segment(b.data, b.len, count_record, seen, &scan));
    CS_CHECK_EQ(scan.records, 4);
    CS_CHECK_EQ(scan.segment_seq, 5);
    CS_CHECK(!scan.torn && scan.valid_len == b.len);
    CS_CHECK(seen[0].data_len == 4 && memcmp(seen[0].data, "abcd", 4) == 0);
    CS_CHECK(seen[0].entry_type == 1 && seen[0].term == 2 && seen[0].index == 3);
    CS_CHECK_EQ(seen[1].index, 9);
    CS_CHECK(seen[2].index == 8 && seen[2].term == 3);
    CS_CHECK(seen[3].term == 4 && seen[3].vote == 5 && seen[3].commit == 6);
    /* A callback's error stops the scan and is returned. */
    struct cs_wal_record stop = {.type = CS_WAL_TRUNCATE, .group_id = 99, .index = 1};
    CS_CHECK_OK(cs_wal_record_encode(&stop, &b));
    struct cs_wal_record big_seen[100];
    CS_CHECK_RC(cs_wal_scan_segment(b.data, b.len, count_record, big_seen, &scan), CS_EBUDGET);
    /* Encoding refusals. */
    struct cs_wal_record bad = {.type = 77};
    CS_CHECK_RC(cs_wal_record_encode(&bad, &b), CS_EINVAL);
    static uint8_t big[CS_RAFT_ENTRY_BYTES_MAX + 1];
    bad = (struct cs_wal_record){
        .type = CS_WAL_ENTRY, .index = 1, .data_len = CS_RAFT_ENTRY_BYTES_MAX + 1, .data = big};
    CS_CHECK_RC(cs_wal_record_encode(&bad, &b), CS_ETOOBIG);
    bad.data_len = CS_RAFT_ENTRY_BYTES_MAX; /* at the limit */
    cs_buf_reset(&b);
    cs_wal_header_encode(1, &b);
    CS_CHECK_OK(cs_wal_record_encode(&bad, &b));
    CS_CHECK_OK(cs_wal_scan_segment(b.data, b.len, NULL, NULL, &scan));
    CS_CHECK_EQ(scan.records, 1);
    /* A record with a good CRC but a bad payload (unknown type, index 0) is corrupt. */
    cs_buf_reset(&b);
    cs_wal_header_encode(1, &b);
    struct cs_wal_record zero = {.type = CS_WAL_TRUNCATE, .group_id = 1, .index = 0};
    CS_CHECK_OK(cs_wal_record_encode(&zero, &b));
    CS_CHECK_RC(cs_wal_scan_segment(b.data, b.len, NULL, NULL, &scan), CS_ECORRUPT);
    /* Short images: empty is fine, a partial header is torn. */
    CS_CHECK_OK(cs_wal_scan_segment(b.data, 0, NULL, NULL, &scan));
    CS_CHECK(!scan.torn && scan.records == 0);
    CS_CHECK_OK(cs_wal_scan_segment(b.data, 7, NULL, NULL, &scan));
    CS_CHECK(scan.torn && scan.valid_len == 0);
    b.data[6] = 1; /* flags must be 0 */
    CS_CHECK_RC(cs_wal_scan_segment(b.data, b.len, NULL, NULL, &scan), CS_ECORRUPT);
    cs_buf_free(&b);
}

CS_TEST_MAIN(CS_CASE(torn_tail_at_every_offset), CS_CASE(flipped_byte_in_middle_is_corrupt),
             CS_CASE(zero_tail_is_torn), CS_CASE(segments_roll_over_and_are_collected),
             CS_CASE(missing_or_torn_middle_segment_is_corrupt),
             CS_CASE(torn_segment_header_is_rewritten), CS_CASE(corrupt_snapshot_file_is_refused),
             CS_CASE(staged_snapshot_from_a_child), CS_CASE(codec_round_trip_and_refusals),
             CS_CASE(kill_9_keeps_exactly_what_was_synced), CS_CASE(segments_limit))
