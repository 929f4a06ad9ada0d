/*
 * fuzz_store_wal.c: WAL recovery on arbitrary bytes, taken as the image of a
 * segment file and decoded from memory (no file is written).
 *
 * Checks, for every input: the scan never reads past the image and says
 * exactly which prefix is valid; recovery's cut (the valid prefix) scans
 * again to the same records with no torn tail; every valid record re-encodes
 * to exactly its bytes (the format is canonical); cutting a clean image
 * anywhere is at worst a torn tail, never corruption; and replaying the image
 * into the group table leaves every group consistent (compaction point <=
 * last index, a bounded number of cached entries).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/codec.h"
#include "consist/store.h"
#include "store/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct reencode {
    const uint8_t *image;
    size_t pos;
    struct cs_buf buf;
};

/* Each record, encoded again, must be the very bytes it was read from. */
static int reencode_record(void *ctx, const struct cs_wal_record *rec)
{
    struct reencode *r = ctx;
    cs_buf_reset(&r->buf);
    CS_ASSERT(cs_wal_record_encode(rec, &r->buf) == 0);
    CS_ASSERT(memcmp(r->buf.data, r->image + r->pos, r->buf.len) == 0);
    r->pos += r->buf.len;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_wal_scan scan;
    int rc = cs_wal_scan_segment(data, size, NULL, NULL, &scan);
    CS_ASSERT(rc == 0 || rc == CS_ECORRUPT || rc == CS_EVERSION);
    if (rc == 0) {
        CS_ASSERT(scan.valid_len <= size);
        CS_ASSERT(scan.torn == (scan.valid_len < size));
        /* What recovery keeps scans clean, record for record. */
        struct reencode r = {.image = data, .pos = CS_WAL_HEADER_BYTES};
        cs_buf_init(&r.buf, CS_WAL_RECORD_BYTES_MAX + CS_WAL_RECORD_HEAD_BYTES);
        struct cs_wal_scan again;
        if (scan.valid_len >= CS_WAL_HEADER_BYTES) {
            CS_ASSERT(cs_wal_scan_segment(data, scan.valid_len, reencode_record, &r, &again) == 0);
            CS_ASSERT(!again.torn && again.records == scan.records);
            CS_ASSERT(r.pos == scan.valid_len);
            /* A clean image cut anywhere is at worst torn. */
            size_t cut = CS_WAL_HEADER_BYTES +
                         (size_t)data[size - 1] * 131 % (scan.valid_len - CS_WAL_HEADER_BYTES + 1);
            CS_ASSERT(cs_wal_scan_segment(data, cut, NULL, NULL, &again) == 0);
            CS_ASSERT(again.records <= scan.records);
        }
        cs_buf_free(&r.buf);
    }
    /* Recovery into a group table. */
    struct log_groups groups = {0};
    rc = store_wal_replay_image(data, size, &groups, &scan);
    CS_ASSERT(rc == 0 || rc == CS_ECORRUPT || rc == CS_EVERSION || rc == CS_ENOSPACE ||
              rc == CS_ENOMEM);
    for (size_t i = 0; i < groups.len; i++) {
        const struct log_group *g = &groups.items[i];
        CS_ASSERT(g->compact_index <= g->last_index);
        CS_ASSERT(g->last_index - g->compact_index <= CS_STORE_LOG_GROUP_ENTRIES_MAX);
        if (i > 0) CS_ASSERT(groups.items[i - 1].id < g->id);
    }
    store_groups_free(&groups);
    return 0;
}
