/*
 * consist/frame.h: peer frames and the hello handshake, sans-IO.
 *
 * Nodes talk over TCP in frames: a fixed 24-byte header (two CRC32Cs, the
 * payload length, a type, a group id) and a payload. The one idea: the
 * header carries its own checksum, so a corrupt or foreign header (a length
 * off by a bit, an HTTP client on the peer port) is caught the moment its 24
 * bytes arrive, before the decoder waits for, or buffers, a payload the
 * length merely claims. The payload has its own checksum, checked before the
 * frame is handed out. Every length is checked against a named limit.
 *
 * Layout, all integers little-endian (docs/protocol.md has the table):
 *   0  u32 header_crc   CRC32C of bytes 4..23
 *   4  u32 payload_crc  CRC32C of the payload
 *   8  u32 payload_len  <= the decoder's payload_bytes_max
 *   12 u8  type         != 0 (enum cs_frame_type)
 *   13 u8  flags        0 (reserved)
 *   14 u16 reserved     0
 *   16 u64 group_id     the Raft group (0: the node itself, as for hello)
 *   24 payload
 *
 * The first frame each way on a connection is a HELLO naming the cluster,
 * the node and the protocol versions it speaks; cs_hello_check refuses a
 * peer of another cluster or with no common version.
 */
#ifndef CONSIST_FRAME_H
#define CONSIST_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CS_FRAME_HEADER_BYTES 24
/* Default largest payload a decoder accepts (a batch of entries or a snapshot chunk). */
#define CS_FRAME_PAYLOAD_BYTES_MAX_DEFAULT (16u * 1024u * 1024u)
/* No configuration may raise payload_bytes_max past this (payload_len is a u32). */
#define CS_FRAME_PAYLOAD_BYTES_CEILING (1024u * 1024u * 1024u)

/* Frame types. Types the decoder does not know are passed up: the transport decides. */
enum cs_frame_type {
    CS_FRAME_HELLO = 1, /* payload: struct cs_hello (cs_hello_encode) */
    CS_FRAME_RAFT = 2,  /* payload: one Raft message of the group (src/raft encoding) */
    CS_FRAME_PING = 3,  /* empty payload; liveness on idle connections */
};

/* A decoded frame; payload is a view into the decoder's buffer. */
struct cs_frame {
    uint8_t type; /* 0: no complete frame yet */
    uint64_t group_id;
    const uint8_t *payload;
    size_t payload_len;
};

/*
 * cs_frame_header_encode: the 24 header bytes for a frame of payload[0..len),
 * into header (so a transport can send header and payload as two buffers,
 * without copying the payload). Returns 0, CS_EINVAL (type 0) or CS_ETOOBIG
 * (len > payload_bytes_max, which must be <= CS_FRAME_PAYLOAD_BYTES_CEILING).
 */
int cs_frame_header_encode(uint8_t header[CS_FRAME_HEADER_BYTES], uint8_t type, uint64_t group_id,
                           const void *payload, size_t len, size_t payload_bytes_max);

/*
 * cs_frame_encode: append header and payload to out. Returns 0, CS_EINVAL,
 * CS_ETOOBIG (as above) or out's error (nothing appended then).
 */
int cs_frame_encode(struct cs_buf *out, uint8_t type, uint64_t group_id, const void *payload,
                    size_t len, size_t payload_bytes_max);

/* The stream decoder: opaque, one per connection. */
struct cs_frame_decoder;

/*
 * cs_frame_decoder_new: a decoder accepting payloads up to payload_bytes_max
 * (1..CS_FRAME_PAYLOAD_BYTES_CEILING, else CS_EINVAL), in *out. Its buffer
 * holds at most one maximal frame: CS_FRAME_HEADER_BYTES + payload_bytes_max.
 * Returns 0, CS_EINVAL or CS_ENOMEM.
 */
int cs_frame_decoder_new(size_t payload_bytes_max, struct cs_frame_decoder **out);

/* cs_frame_decoder_free: release everything (NULL is a no-op). */
void cs_frame_decoder_free(struct cs_frame_decoder *d);

/*
 * cs_frame_decoder_feed: copy bytes in. Take frames with _next first: more
 * than one maximal frame of unconsumed bytes is CS_ETOOBIG (sticky; nothing
 * copied). Returns 0, CS_ETOOBIG or CS_ENOMEM. Invalidates payload views.
 */
int cs_frame_decoder_feed(struct cs_frame_decoder *d, const void *bytes, size_t len);

/* _reserve/_commit: receive in place, as cs_resp_parser_reserve/_commit. */
int cs_frame_decoder_reserve(struct cs_frame_decoder *d, size_t want, uint8_t **space,
                             size_t *space_len);
void cs_frame_decoder_commit(struct cs_frame_decoder *d, size_t n);

/*
 * cs_frame_decoder_next: take the next complete frame. Returns 0 with
 * frame->type != 0 when one was taken, 0 with frame->type == 0 when more
 * bytes are needed, or a sticky error after which the connection must be
 * closed: CS_ECORRUPT (a checksum mismatch), CS_EDECODE (type 0, nonzero
 * reserved bits), CS_ETOOBIG (payload_len past payload_bytes_max); the reason
 * is in cs_frame_decoder_errmsg. The payload view lives until the next
 * _feed, _reserve or _free (later _next calls keep it).
 */
int cs_frame_decoder_next(struct cs_frame_decoder *d, struct cs_frame *frame);

/* cs_frame_decoder_errmsg: why the decoder failed, "" if it has not. */
const char *cs_frame_decoder_errmsg(const struct cs_frame_decoder *d);

/* cs_frame_decoder_memory: bytes allocated by the decoder. */
size_t cs_frame_decoder_memory(const struct cs_frame_decoder *d);

/* ---- hello ------------------------------------------------------------- */

/* The protocol versions this build speaks. */
#define CS_PEER_PROTOCOL_VERSION_MIN 1
#define CS_PEER_PROTOCOL_VERSION_MAX 1
/* Longest cluster id (a name from the config, or a UUID's text). */
#define CS_HELLO_CLUSTER_ID_BYTES_MAX 64
/* Largest hello payload: versions, node id, cluster id with its varint length. */
#define CS_HELLO_BYTES_MAX (2 + 2 + 8 + 1 + CS_HELLO_CLUSTER_ID_BYTES_MAX)

struct cs_hello {
    uint16_t version_min; /* oldest protocol version the sender speaks */
    uint16_t version_max; /* newest */
    uint64_t node_id;     /* != 0 */
    const uint8_t *cluster_id;
    size_t cluster_id_len; /* 1..CS_HELLO_CLUSTER_ID_BYTES_MAX */
};

/*
 * cs_hello_encode: append the hello payload to out (frame it with type
 * CS_FRAME_HELLO, group 0). Layout: u16 version_min, u16 version_max, u64
 * node_id, uvarint length + cluster id bytes. Returns 0, CS_EINVAL (a field
 * out of range) or out's error.
 */
int cs_hello_encode(struct cs_buf *out, const struct cs_hello *hello);

/*
 * cs_hello_decode: parse a hello payload; hello->cluster_id is a view into
 * payload. Returns 0, CS_EDECODE (malformed, trailing bytes, node id 0,
 * versions out of order) or CS_ETOOBIG (cluster id too long).
 */
int cs_hello_decode(const uint8_t *payload, size_t len, struct cs_hello *hello);

/*
 * cs_hello_check: may this node (local) talk to the peer (remote)? Returns 0
 * and the version both speak best in *version, CS_EDENIED (another cluster,
 * or the peer claims this node's own id), or CS_EVERSION (no common version).
 */
int cs_hello_check(const struct cs_hello *local, const struct cs_hello *remote, uint16_t *version);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_FRAME_H */
