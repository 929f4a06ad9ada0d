/*
 * wal_codec.c: the WAL's on-disk record format: encode one record, and scan
 * a whole segment image from memory.
 *
 * The one idea: a crash can only damage the end of the last segment, so the
 * scanner separates the two kinds of bad bytes. Bytes that can be a write
 * cut short (a record running past the end, a last record failing its CRC,
 * zeros after the last good record) are a torn tail, reported so recovery can
 * cut them off; a bad record with real data after it can only be corruption,
 * and is refused. The length field has a CRC of its own, so a damaged length
 * is never mistaken for a record cut short.
 *
 * Record: u32le payload_len | u32le crc32c(payload_len bytes) |
 *         u32le crc32c(payload) | payload (docs/storage.md).
 */
#include <string.h>

#include "base/assert.h"
#include "consist/codec.h"
#include "store/internal.h"

#define ENTRY_FIXED_BYTES 26 /* type, group, index, term, entry type */
#define TRUNCATE_BYTES    17
#define COMPACT_BYTES     25
#define HARD_STATE_BYTES  33

_Static_assert(ENTRY_FIXED_BYTES + CS_RAFT_ENTRY_BYTES_MAX <= CS_WAL_RECORD_BYTES_MAX,
               "an entry record fits the record limit");

int cs_wal_header_encode(uint64_t segment_seq, struct cs_buf *out)
{
    cs_put_u32le(out, CS_WAL_MAGIC);
    cs_put_u16le(out, CS_WAL_VERSION);
    cs_put_u16le(out, 0);
    return cs_put_u64le(out, segment_seq);
}

static size_t wal_payload_len(const struct cs_wal_record *rec)
{
    switch (rec->type) {
    case CS_WAL_ENTRY:
        return ENTRY_FIXED_BYTES + rec->data_len;
    case CS_WAL_TRUNCATE:
        return TRUNCATE_BYTES;
    case CS_WAL_COMPACT:
        return COMPACT_BYTES;
    case CS_WAL_HARD_STATE:
        return HARD_STATE_BYTES;
    default:
        return 0;
    }
}

int cs_wal_record_encode(const struct cs_wal_record *rec, struct cs_buf *out)
{
    size_t payload_len = wal_payload_len(rec);
    if (payload_len == 0) return CS_EINVAL;
    if (rec->type == CS_WAL_ENTRY && rec->data_len > CS_RAFT_ENTRY_BYTES_MAX) return CS_ETOOBIG;
    int rc = cs_buf_reserve(out, CS_WAL_RECORD_HEAD_BYTES + payload_len);
    if (rc != 0) return rc;
    uint8_t len_bytes[4];
    for (int i = 0; i < 4; i++)
        len_bytes[i] = (uint8_t)(payload_len >> (8 * i));
    cs_put_raw(out, len_bytes, 4);
    cs_put_u32le(out, cs_crc32c(0, len_bytes, 4));
    size_t crc_at = out->len;
    cs_put_u32le(out, 0); /* the payload CRC, filled in below */
    size_t payload_at = out->len;
    cs_put_u8(out, rec->type);
    cs_put_u64le(out, rec->group_id);
    switch (rec->type) {
    case CS_WAL_ENTRY:
        cs_put_u64le(out, rec->index);
        cs_put_u64le(out, rec->term);
        cs_put_u8(out, rec->entry_type);
        if (rec->data_len > 0) cs_put_raw(out, rec->data, rec->data_len);
        break;
    case CS_WAL_TRUNCATE:
        cs_put_u64le(out, rec->index);
        break;
    case CS_WAL_COMPACT:
        cs_put_u64le(out, rec->index);
        cs_put_u64le(out, rec->term);
        break;
    case CS_WAL_HARD_STATE:
        cs_put_u64le(out, rec->term);
        cs_put_u64le(out, rec->vote);
        cs_put_u64le(out, rec->commit);
        break;
    default:
        CS_UNREACHABLE();
    }
    rc = cs_buf_error(out);
    if (rc != 0) return rc;
    CS_ASSERT(out->len - payload_at == payload_len);
    uint32_t crc = cs_crc32c(0, out->data + payload_at, payload_len);
    for (int i = 0; i < 4; i++)
        out->data[crc_at + i] = (uint8_t)(crc >> (8 * i));
    return 0;
}

/* Decode a payload whose CRC matched. CS_ECORRUPT if it is not a record. */
static int wal_payload_decode(const uint8_t *p, size_t len, struct cs_wal_record *rec)
{
    struct cs_reader r;
    cs_reader_init(&r, p, len);
    *rec = (struct cs_wal_record){0};
    cs_get_u8(&r, &rec->type);
    cs_get_u64le(&r, &rec->group_id);
    switch (rec->type) {
    case CS_WAL_ENTRY: {
        if (len < ENTRY_FIXED_BYTES || len - ENTRY_FIXED_BYTES > CS_RAFT_ENTRY_BYTES_MAX)
            return CS_ECORRUPT;
        cs_get_u64le(&r, &rec->index);
        cs_get_u64le(&r, &rec->term);
        cs_get_u8(&r, &rec->entry_type);
        rec->data_len = (uint32_t)(len - ENTRY_FIXED_BYTES);
        cs_get_raw(&r, &rec->data, rec->data_len);
        if (rec->index == 0) return CS_ECORRUPT;
        break;
    }
    case CS_WAL_TRUNCATE:
        cs_get_u64le(&r, &rec->index);
        if (rec->index == 0) return CS_ECORRUPT;
        break;
    case CS_WAL_COMPACT:
        cs_get_u64le(&r, &rec->index);
        cs_get_u64le(&r, &rec->term);
        break;
    case CS_WAL_HARD_STATE:
        cs_get_u64le(&r, &rec->term);
        cs_get_u64le(&r, &rec->vote);
        cs_get_u64le(&r, &rec->commit);
        break;
    default:
        return CS_ECORRUPT;
    }
    return cs_reader_end(&r) == 0 ? 0 : CS_ECORRUPT;
}

static bool wal_all_zero(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0) return false;
    return true;
}

static uint32_t wal_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int cs_wal_scan_segment(const uint8_t *data, size_t len,
                        int (*on_record)(void *ctx, const struct cs_wal_record *record), void *ctx,
                        struct cs_wal_scan *scan)
{
    *scan = (struct cs_wal_scan){0};
    if (len < CS_WAL_HEADER_BYTES) {
        /* A crash while the segment was being created. */
        scan->torn = len > 0;
        return 0;
    }
    if (wal_u32(data) != CS_WAL_MAGIC) return CS_ECORRUPT;
    uint16_t version = (uint16_t)(data[4] | data[5] << 8);
    if (version != CS_WAL_VERSION) return CS_EVERSION;
    if (data[6] != 0 || data[7] != 0) return CS_ECORRUPT;
    scan->segment_seq = store_le64_get(data + 8);
    size_t pos = CS_WAL_HEADER_BYTES;
    scan->valid_len = pos;
    while (pos < len) {
        const uint8_t *p = data + pos;
        size_t rem = len - pos;
        if (rem < CS_WAL_RECORD_HEAD_BYTES || wal_all_zero(p, rem)) {
            scan->torn = true; /* a head cut short, or zeros past the last write */
            break;
        }
        if (cs_crc32c(0, p, 4) != wal_u32(p + 4)) return CS_ECORRUPT;
        uint32_t payload_len = wal_u32(p);
        if (payload_len == 0 || payload_len > CS_WAL_RECORD_BYTES_MAX) return CS_ECORRUPT;
        if (rem - CS_WAL_RECORD_HEAD_BYTES < payload_len) {
            scan->torn = true; /* the record runs past the end: cut short */
            break;
        }
        const uint8_t *payload = p + CS_WAL_RECORD_HEAD_BYTES;
        size_t end = pos + CS_WAL_RECORD_HEAD_BYTES + payload_len;
        if (cs_crc32c(0, payload, payload_len) != wal_u32(p + 8)) {
            /* Torn only if nothing was written after it. */
            if (end == len || wal_all_zero(data + end, len - end)) {
                scan->torn = true;
                break;
            }
            return CS_ECORRUPT;
        }
        struct cs_wal_record rec;
        int rc = wal_payload_decode(payload, payload_len, &rec);
        if (rc != 0) return rc;
        if (on_record != NULL) {
            rc = on_record(ctx, &rec);
            if (rc != 0) return rc;
        }
        scan->records++;
        pos = end;
        scan->valid_len = pos;
    }
    CS_ASSERT(scan->valid_len <= len);
    CS_ASSERT(scan->torn == (scan->valid_len < len));
    return 0;
}

/* --- snapshot files ----------------------------------------------------------- */

/* Snapshot file: u32 magic, u32 version, u64 data_len, u32 meta_len, u32 crc. */
#define SNAP_MAGIC        0x504e5343u /* "CSNP" */
#define SNAP_VERSION      1
#define SNAP_HEADER_BYTES 24

_Static_assert(SNAP_HEADER_BYTES + STORE_SNAP_META_BYTES_MAX == WAL_SNAP_HEAD_BYTES_MAX,
               "the head buffer fits header and meta");

size_t store_wal_snap_head_encode(const struct cs_raft_snapshot *snap, uint8_t *out)
{
    size_t meta_len = store_snap_meta_encode(&snap->meta, out + SNAP_HEADER_BYTES);
    uint32_t crc = cs_crc32c(0, out + SNAP_HEADER_BYTES, meta_len);
    if (snap->data_len > 0) crc = cs_crc32c(crc, snap->data, snap->data_len);
    struct cs_buf hb;
    cs_buf_init_fixed(&hb, out, SNAP_HEADER_BYTES);
    cs_put_u32le(&hb, SNAP_MAGIC);
    cs_put_u32le(&hb, SNAP_VERSION);
    cs_put_u64le(&hb, snap->data_len);
    cs_put_u32le(&hb, (uint32_t)meta_len);
    cs_put_u32le(&hb, crc);
    CS_ASSERT(cs_buf_error(&hb) == 0 && hb.len == SNAP_HEADER_BYTES);
    return SNAP_HEADER_BYTES + meta_len;
}

/* Decode a snapshot file image. CS_ECORRUPT unless every byte checks. */
int store_wal_snap_decode(const uint8_t *data, size_t len, struct cs_raft_snapshot_meta *meta,
                          const uint8_t **body, size_t *body_len)
{
    if (len < SNAP_HEADER_BYTES) return CS_ECORRUPT;
    struct cs_reader r;
    cs_reader_init(&r, data, len);
    uint32_t magic, version, meta_len, crc;
    uint64_t data_len;
    cs_get_u32le(&r, &magic);
    cs_get_u32le(&r, &version);
    cs_get_u64le(&r, &data_len);
    cs_get_u32le(&r, &meta_len);
    cs_get_u32le(&r, &crc);
    if (magic != SNAP_MAGIC) return CS_ECORRUPT;
    if (version != SNAP_VERSION) return CS_EVERSION;
    if (meta_len > STORE_SNAP_META_BYTES_MAX || data_len > CS_RAFT_SNAPSHOT_BYTES_MAX ||
        len - SNAP_HEADER_BYTES != meta_len + data_len)
        return CS_ECORRUPT;
    if (cs_crc32c(0, data + SNAP_HEADER_BYTES, len - SNAP_HEADER_BYTES) != crc) return CS_ECORRUPT;
    size_t used;
    int rc = store_snap_meta_decode(data + SNAP_HEADER_BYTES, meta_len, meta, &used);
    if (rc != 0 || used != meta_len) return CS_ECORRUPT;
    *body = data + SNAP_HEADER_BYTES + meta_len;
    *body_len = (size_t)data_len;
    return 0;
}
