/*
 * encoding.c: the pieces every CRDT encoding shares: the two-byte header
 * (format version, then type tag), node ids, LWW stamps, and the strict end.
 *
 * The version byte comes first so that a future format can be told apart
 * before anything else is read; the type tag catches a state decoded as the
 * wrong type.
 */
#include "crdt/internal.h"

int cs_crdt_stamp_cmp(struct cs_crdt_stamp a, struct cs_crdt_stamp b)
{
    if (a.hlc != b.hlc) return a.hlc < b.hlc ? -1 : 1;
    if (a.node != b.node) return a.node < b.node ? -1 : 1;
    return 0;
}

int crdt_put_header(struct cs_buf *out, enum cs_crdt_type type)
{
    cs_put_u8(out, CS_CRDT_FORMAT_VERSION);
    return cs_put_u8(out, (uint8_t)type);
}

int crdt_get_header(struct cs_reader *r, enum cs_crdt_type type)
{
    uint8_t version, tag;
    int rc = cs_get_u8(r, &version);
    if (rc) return rc;
    if (version != CS_CRDT_FORMAT_VERSION) return CS_EVERSION;
    if ((rc = cs_get_u8(r, &tag))) return rc;
    return tag == (uint8_t)type ? 0 : CS_EDECODE;
}

int crdt_get_node(struct cs_reader *r, uint64_t *node)
{
    int rc = cs_get_uvarint(r, node);
    if (rc) return rc;
    return *node == 0 ? CS_EDECODE : 0;
}

int crdt_put_stamp(struct cs_buf *out, struct cs_crdt_stamp s)
{
    cs_put_u64le(out, s.hlc);
    return cs_put_uvarint(out, s.node);
}

int crdt_get_stamp(struct cs_reader *r, struct cs_crdt_stamp *s)
{
    int rc = cs_get_u64le(r, &s->hlc);
    if (rc == 0) rc = crdt_get_node(r, &s->node);
    if (rc == 0 && s->hlc == 0) rc = CS_EDECODE;
    return rc;
}

int crdt_decode_end(struct cs_reader *r)
{
    return cs_reader_end(r);
}

size_t crdt_dots_join(const struct cs_dot *a, size_t a_len, const struct cs_crdt_ctx *a_ctx,
                      const struct cs_dot *b, size_t b_len, const struct cs_crdt_ctx *b_ctx,
                      struct cs_dot *out)
{
    size_t i = 0, j = 0, n = 0;
    while (i < a_len || j < b_len) {
        int c = i == a_len ? 1 : j == b_len ? -1 : crdt_dot_cmp(a[i], b[j]);
        if (c == 0) {
            out[n++] = a[i];
            i++;
            j++;
        } else if (c < 0) {
            if (!crdt_ctx_contains(b_ctx, a[i])) out[n++] = a[i];
            i++;
        } else {
            if (!crdt_ctx_contains(a_ctx, b[j])) out[n++] = b[j];
            j++;
        }
    }
    CS_DEBUG_ASSERT(n <= a_len + b_len);
    return n;
}
