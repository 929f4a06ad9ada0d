/*
 * consist/kv.h: the replicated key-value state machine behind strict keyspaces.
 *
 * The one idea: a command is a self-contained, bounded byte string (the data
 * of one Raft entry) and applying it is a pure function of the state and the
 * bytes, so every replica that applies the same log holds the same map and
 * gives the same replies. A command carries a client session (client id and
 * sequence number, thesis §6.3): a command retried after a lost reply is
 * recognised, not applied again, and answered with the reply it got the
 * first time. MULTI/EXEC is one command with several operations, applied as
 * one entry, so no other command can interleave with it.
 *
 * Operations follow Redis where the meaning matches: GET, SET with NX / XX /
 * GET, DEL, EXISTS, INCRBY (values are decimal int64 text), and CAS (set to a
 * new value if the current value equals an expected one, or is absent).
 *
 * Memory: the map owns copies of every key and value. Replies are encoded
 * into a caller's cs_buf and decoded into views of those bytes. Threading:
 * one thread at a time per map.
 */
#ifndef CONSIST_KV_H
#define CONSIST_KV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consist/codec.h"
#include "consist/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits: each checked on encode, decode and apply. */
#define CS_KV_KEY_BYTES_MAX      512         /* one key (non-empty) */
#define CS_KV_VALUE_BYTES_MAX    (64u << 10) /* one value */
#define CS_KV_OPS_MAX            64          /* operations in one MULTI/EXEC */
#define CS_KV_COMMAND_BYTES_MAX  (1u << 20)  /* one encoded command = one Raft entry */
#define CS_KV_REPLY_BYTES_MAX    (5u << 20)  /* one encoded reply: 64 values + framing */
#define CS_KV_SESSIONS_MAX       4096        /* clients remembered for exactly-once */
#define CS_KV_KEYS_MAX           (1u << 20)  /* keys in the map */
#define CS_KV_DATA_BYTES_MAX     (48u << 20) /* key + value bytes in the map */
#define CS_KV_SNAPSHOT_BYTES_MAX (64u << 20) /* one encoded snapshot */

_Static_assert(CS_KV_OPS_MAX *(CS_KV_VALUE_BYTES_MAX + 16) < CS_KV_REPLY_BYTES_MAX,
               "a reply holds every value a batch can return");

enum cs_kv_op_type {
    CS_KV_GET = 1,
    CS_KV_SET = 2,
    CS_KV_DEL = 3,
    CS_KV_EXISTS = 4,
    CS_KV_INCRBY = 5,
    CS_KV_CAS = 6,
};

/* SET flags. */
#define CS_KV_SET_NX  0x01 /* only if the key does not exist */
#define CS_KV_SET_XX  0x02 /* only if the key exists */
#define CS_KV_SET_GET 0x04 /* reply with the old value */
/* CAS flag. */
#define CS_KV_CAS_ABSENT 0x01 /* expect the key to be absent (expected is ignored) */

/* One operation. Byte fields are views owned by the caller (or the decoder's input). */
struct cs_kv_op {
    uint8_t type;  /* enum cs_kv_op_type */
    uint8_t flags; /* CS_KV_SET_* or CS_KV_CAS_* */
    uint32_t key_len;
    const uint8_t *key;
    uint32_t value_len; /* SET, CAS: the new value */
    const uint8_t *value;
    uint32_t expected_len; /* CAS */
    const uint8_t *expected;
    int64_t delta; /* INCRBY */
};

/* A command: a session, and one operation (or several for MULTI/EXEC). */
struct cs_kv_command {
    uint64_t client_id; /* 0: no session, no deduplication */
    uint64_t seq;       /* per client, from 1, +1 per new command */
    uint32_t ops_len;   /* 1..CS_KV_OPS_MAX */
    struct cs_kv_op ops[CS_KV_OPS_MAX];
};

/* The outcome of one operation. */
struct cs_kv_result {
    int rc;             /* 0; CS_ENOTFOUND (GET/XX/DEL miss), CS_EEXIST (NX), CS_ECONFLICT (CAS
                         * mismatch), CS_EPARSE (INCRBY on a non-integer), CS_EOVERFLOW, CS_ENOSPACE */
    bool found;         /* GET, SET GET, EXISTS: the key (had) a value */
    int64_t number;     /* INCRBY: the new value; DEL, EXISTS: 1 or 0 */
    uint32_t value_len; /* GET, SET GET: the (old) value, a view */
    const uint8_t *value;
};

/*
 * A command's reply. rc is for the whole command: 0; CS_EEXIST (a
 * duplicate: results are the first reply's, replayed); CS_ERANGE (seq older
 * than the session's last: the result was already returned and forgotten);
 * CS_ENOTFOUND (session expired: seq > 1 for an unknown client).
 */
struct cs_kv_reply {
    int rc;
    uint32_t results_len;
    struct cs_kv_result results[CS_KV_OPS_MAX];
};

/*
 * cs_kv_command_encode: append cmd's encoding to out. CS_EINVAL for an op
 * that breaks the rules (unknown type or flag, empty key, NX with XX, no
 * ops); CS_ETOOBIG past a size limit; or the buffer's error.
 */
int cs_kv_command_encode(const struct cs_kv_command *cmd, struct cs_buf *out);

/*
 * cs_kv_command_decode: decode into *cmd, whose byte fields become views of
 * data. CS_EDECODE (malformed, trailing bytes, a rule broken), CS_ETOOBIG (a
 * limit passed), CS_EVERSION.
 */
int cs_kv_command_decode(const uint8_t *data, size_t len, struct cs_kv_command *cmd);

/* cs_kv_reply_decode: decode a reply made by cs_kv_apply; values are views of data. */
int cs_kv_reply_decode(const uint8_t *data, size_t len, struct cs_kv_reply *reply);

struct cs_kv;

/* cs_kv_new: an empty map. CS_ENOMEM. */
int cs_kv_new(struct cs_kv **out);
void cs_kv_free(struct cs_kv *kv);

/*
 * cs_kv_apply: apply one committed command at log index (increasing across
 * calls) and append its encoded reply to reply_out (give it at least
 * CS_KV_REPLY_BYTES_MAX). Deterministic: the same commands give the same
 * state and replies on every replica. An entry that does not decode is
 * applied as a no-op with reply rc CS_EDECODE (it is in the log; every
 * replica must skip it alike). Returns 0, or CS_ENOMEM (the replica must
 * stop: its state may now differ) or the reply buffer's error.
 */
int cs_kv_apply(struct cs_kv *kv, uint64_t index, const uint8_t *cmd, size_t cmd_len,
                struct cs_buf *reply_out);

/*
 * cs_kv_get: read a key without a command (for a read already ordered by
 * ReadIndex). 0 and a view (valid until the next apply or restore), or
 * CS_ENOTFOUND.
 */
int cs_kv_get(const struct cs_kv *kv, const void *key, size_t key_len, const uint8_t **value,
              size_t *value_len);

/* Sizes and the last applied index, for tests and metrics. */
uint64_t cs_kv_keys(const struct cs_kv *kv);
uint64_t cs_kv_sessions(const struct cs_kv *kv);
uint64_t cs_kv_applied_index(const struct cs_kv *kv);

/*
 * cs_kv_snapshot: append the whole state (keys sorted, sessions sorted, the
 * applied index) to out: equal states give equal bytes. CS_ETOOBIG past
 * CS_KV_SNAPSHOT_BYTES_MAX, or the buffer's error.
 */
int cs_kv_snapshot(const struct cs_kv *kv, struct cs_buf *out);

/*
 * cs_kv_restore: replace the state with a snapshot's. On any error the map is
 * left unchanged: CS_EDECODE (malformed, keys or sessions unsorted or
 * repeated), CS_ETOOBIG (a limit passed), CS_EVERSION, CS_ENOMEM.
 */
int cs_kv_restore(struct cs_kv *kv, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_KV_H */
