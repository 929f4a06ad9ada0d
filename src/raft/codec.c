/*
 * codec.c: the bounded binary encoding of Raft messages.
 *
 * The one idea: decoding allocates nothing and trusts no length. Entries land
 * in the caller's array (its size is one more bound), their data and the
 * snapshot chunk stay views into the input, and every count, length and
 * enum is checked against a named limit before it is used. Entry indexes are
 * not sent: entry k of an append is at index + 1 + k by construction, so a
 * decoded message is contiguous by construction too.
 *
 * Layout: version u8, type u8, flags u8, then uvarints group_id from to term
 * log_term index commit seq hint_term hint_index, an entry count and entries
 * (term uvarint, type u8, data bytes), and for a snapshot chunk: meta index,
 * meta term, conf (count, then id uvarint + voter u8 each), chunk_offset,
 * chunk bytes.
 */
#include <string.h>

#include "raft/raft_internal.h"

#define CODEC_VERSION         1
#define CODEC_FLAG_REJECT     0x01
#define CODEC_FLAG_TRANSFER   0x02
#define CODEC_FLAG_CHUNK_DONE 0x04
#define CODEC_FLAGS_ALL       0x07

const char *cs_raft_msg_type_name(uint8_t type)
{
    switch (type) {
    case CS_RAFT_MSG_APPEND:
        return "append";
    case CS_RAFT_MSG_APPEND_RESP:
        return "append-resp";
    case CS_RAFT_MSG_VOTE:
        return "vote";
    case CS_RAFT_MSG_VOTE_RESP:
        return "vote-resp";
    case CS_RAFT_MSG_PRE_VOTE:
        return "pre-vote";
    case CS_RAFT_MSG_PRE_VOTE_RESP:
        return "pre-vote-resp";
    case CS_RAFT_MSG_SNAPSHOT:
        return "snapshot";
    case CS_RAFT_MSG_SNAPSHOT_RESP:
        return "snapshot-resp";
    case CS_RAFT_MSG_TIMEOUT_NOW:
        return "timeout-now";
    default:
        return "?";
    }
}

int cs_raft_msg_encode(const struct cs_raft_msg *m, struct cs_buf *out)
{
    CS_ASSERT(m->type >= 1 && m->type <= CS_RAFT_MSG_TYPE_MAX);
    CS_ASSERT(m->entries_len <= CS_RAFT_MSG_ENTRIES_MAX);
    CS_ASSERT(m->chunk_len <= CS_RAFT_CHUNK_BYTES_MAX);
    size_t start = out->len;
    uint8_t flags = (m->reject ? CODEC_FLAG_REJECT : 0) | (m->transfer ? CODEC_FLAG_TRANSFER : 0) |
                    (m->chunk_done ? CODEC_FLAG_CHUNK_DONE : 0);
    cs_put_u8(out, CODEC_VERSION);
    cs_put_u8(out, m->type);
    cs_put_u8(out, flags);
    const uint64_t fields[] = {m->group_id, m->from,   m->to,  m->term,      m->log_term,
                               m->index,    m->commit, m->seq, m->hint_term, m->hint_index};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        cs_put_uvarint(out, fields[k]);
    cs_put_uvarint(out, m->entries_len);
    for (uint32_t k = 0; k < m->entries_len; k++) {
        const struct cs_raft_entry *e = &m->entries[k];
        CS_ASSERT(e->index == m->index + 1 + k);
        cs_put_uvarint(out, e->term);
        cs_put_u8(out, e->type);
        cs_put_bytes(out, e->data, e->data_len);
    }
    if (m->type == CS_RAFT_MSG_SNAPSHOT) {
        cs_put_uvarint(out, m->snap_meta.index);
        cs_put_uvarint(out, m->snap_meta.term);
        cs_raft_conf_encode(&m->snap_meta.conf, out);
        cs_put_uvarint(out, m->chunk_offset);
        cs_put_bytes(out, m->chunk, m->chunk_len);
    }
    if (!cs_buf_error(out) && out->len - start > CS_RAFT_MSG_BYTES_MAX) {
        out->len = start;
        return CS_ETOOBIG;
    }
    return cs_buf_error(out);
}

static int codec_get_entries(struct cs_reader *rd, struct cs_raft_msg *m,
                             struct cs_raft_entry *entries, size_t entries_cap)
{
    uint64_t n = 0;
    /* An entry is at least 3 bytes: term, type, an empty data length. */
    int rc = cs_get_count(rd, &n, CS_RAFT_MSG_ENTRIES_MAX, 3);
    if (rc) return rc;
    if (n > entries_cap) return CS_ETOOBIG;
    uint64_t prev_term = m->log_term;
    for (uint64_t k = 0; k < n; k++) {
        struct cs_raft_entry *e = &entries[k];
        uint64_t term = 0;
        uint8_t type = 0;
        const uint8_t *data = NULL;
        size_t len = 0;
        cs_get_uvarint(rd, &term);
        cs_get_u8(rd, &type);
        rc = cs_get_bytes(rd, &data, &len, CS_RAFT_ENTRY_BYTES_MAX);
        if (rc) return rc;
        if (type > CS_RAFT_ENTRY_CONF) return CS_EDECODE;
        if (term < prev_term || term > m->term) return CS_EDECODE;
        if (m->index + 1 + k <= m->index) return CS_EDECODE; /* index overflow */
        e->term = term;
        e->index = m->index + 1 + k;
        e->type = type;
        e->data = len ? data : NULL;
        e->data_len = (uint32_t)len;
        prev_term = term;
    }
    m->entries_len = (uint32_t)n;
    m->entries = n ? entries : NULL;
    return 0;
}

static int codec_get_chunk(struct cs_reader *rd, struct cs_raft_msg *m)
{
    cs_get_uvarint(rd, &m->snap_meta.index);
    cs_get_uvarint(rd, &m->snap_meta.term);
    uint64_t n = 0;
    int rc = cs_get_count(rd, &n, CS_RAFT_MEMBERS_MAX, 2);
    if (rc) return rc;
    m->snap_meta.conf.members_len = (uint32_t)n;
    for (uint32_t k = 0; k < n; k++) {
        uint64_t id = 0;
        uint8_t voter = 0;
        cs_get_uvarint(rd, &id);
        rc = cs_get_u8(rd, &voter);
        if (rc) return rc;
        if (id == CS_RAFT_NONE || voter > 1) return CS_EDECODE;
        if (k > 0 && id <= m->snap_meta.conf.members[k - 1].id) return CS_EDECODE;
        m->snap_meta.conf.members[k] = (struct cs_raft_member){id, voter == 1};
    }
    cs_get_uvarint(rd, &m->chunk_offset);
    const uint8_t *chunk = NULL;
    size_t len = 0;
    rc = cs_get_bytes(rd, &chunk, &len, CS_RAFT_CHUNK_BYTES_MAX);
    if (rc) return rc;
    m->chunk = len ? chunk : NULL;
    m->chunk_len = (uint32_t)len;
    /* index carries the snapshot's total size. */
    if (m->index > CS_RAFT_SNAPSHOT_BYTES_MAX) return CS_ETOOBIG;
    if (m->chunk_offset > m->index || m->chunk_len > m->index - m->chunk_offset) {
        return CS_EDECODE;
    }
    return 0;
}

int cs_raft_msg_decode(const uint8_t *data, size_t len, struct cs_raft_msg *m,
                       struct cs_raft_entry *entries, size_t entries_cap)
{
    memset(m, 0, sizeof *m);
    if (len > CS_RAFT_MSG_BYTES_MAX) return CS_ETOOBIG;
    struct cs_reader rd;
    cs_reader_init(&rd, data, len);
    uint8_t version = 0, type = 0, flags = 0;
    cs_get_u8(&rd, &version);
    cs_get_u8(&rd, &type);
    int rc = cs_get_u8(&rd, &flags);
    if (rc) return rc;
    if (version != CODEC_VERSION) return CS_EVERSION;
    if (type < 1 || type > CS_RAFT_MSG_TYPE_MAX || (flags & ~CODEC_FLAGS_ALL)) return CS_EDECODE;
    m->type = type;
    m->reject = flags & CODEC_FLAG_REJECT;
    m->transfer = flags & CODEC_FLAG_TRANSFER;
    m->chunk_done = flags & CODEC_FLAG_CHUNK_DONE;
    uint64_t *fields[] = {&m->group_id, &m->from,   &m->to,  &m->term,      &m->log_term,
                          &m->index,    &m->commit, &m->seq, &m->hint_term, &m->hint_index};
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        cs_get_uvarint(&rd, fields[k]);
    if (cs_reader_error(&rd)) return cs_reader_error(&rd);
    rc = codec_get_entries(&rd, m, entries, entries_cap);
    if (rc) return rc;
    if (m->type == CS_RAFT_MSG_SNAPSHOT) {
        rc = codec_get_chunk(&rd, m);
        if (rc) return rc;
    } else if (m->chunk_done && m->type != CS_RAFT_MSG_SNAPSHOT_RESP) {
        return CS_EDECODE;
    }
    return cs_reader_end(&rd);
}
