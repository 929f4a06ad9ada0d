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
 * GET / KEEPTTL and an expiry time, DEL, EXISTS, INCRBY (values are decimal
 * int64 text), EXPIRE / PERSIST, TTL, and CAS (set to a new value if the
 * current value equals an expected one, or is absent).
 *
 * Time: the state machine reads no clock. Each command carries now_ms, the
 * wall clock of the server that built it; the map keeps clock_ms, the largest
 * now_ms applied so far (so it never runs backwards, whatever the servers'
 * clocks do), and a key whose expire_at_ms is non-zero and <= clock_ms is
 * absent to every operation. Expired keys are removed when an operation
 * touches them and in bulk by PURGE, which the leader proposes when
 * cs_kv_next_expiry says a key is due. A server whose clock runs far ahead
 * moves clock_ms ahead for good: keys expire early, never late.
 *
 * WATCH: each key carries mod_index, the log index of the command that last
 * created or changed it. A command may open with CHECK operations (key,
 * expected mod_index, 0 for "absent"); if any fails, the command applies
 * nothing and its reply is CS_ECONFLICT. One difference from Redis: there
 * are no tombstones, so a key absent at WATCH that is created and deleted
 * again before EXEC passes its check (Redis would abort the EXEC).
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
#define CS_KV_KEYS_MAX           (1u << 20)  /* keys in the map, and so keys with a TTL */
#define CS_KV_DATA_BYTES_MAX     (48u << 20) /* key + value bytes in the map */
#define CS_KV_SNAPSHOT_BYTES_MAX (64u << 20) /* one encoded snapshot */
#define CS_KV_PURGE_KEYS_MAX     1024        /* expired keys one PURGE removes */

/* Per result: rc, found, number, value length, mod_index, expire_at_ms, at most 40 bytes. */
_Static_assert(CS_KV_OPS_MAX *(CS_KV_VALUE_BYTES_MAX + 40) < CS_KV_REPLY_BYTES_MAX,
               "a reply holds every value a batch can return");
_Static_assert(CS_KV_PURGE_KEYS_MAX <= CS_KV_KEYS_MAX, "a purge is bounded by the map");

enum cs_kv_op_type {
    CS_KV_GET = 1,
    CS_KV_SET = 2,
    CS_KV_DEL = 3,
    CS_KV_EXISTS = 4,
    CS_KV_INCRBY = 5,
    CS_KV_CAS = 6,
    /* Since command version 2: */
    CS_KV_EXPIRE = 7, /* set (or with PERSIST clear) a live key's expire_at_ms */
    CS_KV_TTL = 8,    /* read a key's expire_at_ms and mod_index */
    CS_KV_PURGE = 9,  /* no key: remove up to CS_KV_PURGE_KEYS_MAX expired keys */
    CS_KV_CHECK = 10, /* WATCH: the key's mod_index must equal expected_index */
};

/* SET flags. */
#define CS_KV_SET_NX      0x01 /* only if the key does not exist */
#define CS_KV_SET_XX      0x02 /* only if the key exists */
#define CS_KV_SET_GET     0x04 /* reply with the old value */
#define CS_KV_SET_KEEPTTL 0x08 /* keep the key's TTL (expire_at_ms must be 0); since version 2 */
/* CAS flag. */
#define CS_KV_CAS_ABSENT 0x01 /* expect the key to be absent (expected is ignored) */
/* EXPIRE flag. */
#define CS_KV_EXPIRE_PERSIST 0x01 /* clear the TTL (expire_at_ms must be 0) */

/*
 * One operation. Byte fields are views owned by the caller (or the decoder's
 * input). expire_at_ms and expected_index must be 0 on op types that do not
 * use them (CS_EINVAL); other unused fields are ignored.
 *
 * SET: value; expire_at_ms (absolute ms, 0 = no TTL: a plain SET clears the
 *   TTL, KEEPTTL keeps it). An expire_at_ms already <= the map's clock
 *   deletes the key and replies as a successful SET (as Redis does).
 * EXPIRE: expire_at_ms (non-zero), or flag PERSIST and 0.
 * INCRBY: delta; keeps the key's TTL (as Redis does).
 * CAS: expected, value; a swap clears the TTL, as a plain SET does.
 * CHECK: expected_index; only before every other op of a command.
 * PURGE: no key (key_len 0).
 */
struct cs_kv_op {
    uint8_t type;  /* enum cs_kv_op_type */
    uint8_t flags; /* CS_KV_SET_*, CS_KV_CAS_* or CS_KV_EXPIRE_* */
    uint32_t key_len;
    const uint8_t *key;
    uint32_t value_len; /* SET, CAS: the new value */
    const uint8_t *value;
    uint32_t expected_len; /* CAS */
    const uint8_t *expected;
    int64_t delta;           /* INCRBY */
    uint64_t expire_at_ms;   /* SET, EXPIRE */
    uint64_t expected_index; /* CHECK: 0 = the key must be absent */
};

/* A command: a session, the time it was built, and one operation (or several for MULTI/EXEC). */
struct cs_kv_command {
    uint64_t client_id; /* 0: no session, no deduplication */
    uint64_t seq;       /* per client, from 1, +1 per new command */
    uint64_t now_ms;    /* wall clock of the server that built it; 0 in version-1 commands */
    uint32_t ops_len;   /* 1..CS_KV_OPS_MAX */
    struct cs_kv_op ops[CS_KV_OPS_MAX];
};

/* The outcome of one operation. */
struct cs_kv_result {
    int rc;         /* 0; CS_ENOTFOUND (GET/XX/DEL miss), CS_EEXIST (NX), CS_ECONFLICT (CAS
                     * mismatch), CS_EPARSE (INCRBY on a non-integer), CS_EOVERFLOW, CS_ENOSPACE */
    bool found;     /* GET, SET GET, EXISTS, EXPIRE, TTL, CHECK: the key (had) a live value */
    int64_t number; /* INCRBY: the new value; DEL, EXISTS, EXPIRE: 1 or 0; PURGE: keys removed */
    uint32_t value_len; /* GET, SET GET: the (old) value, a view */
    const uint8_t *value;
    uint64_t mod_index;    /* GET, EXISTS, TTL, CHECK: the key's mod_index; 0 if absent */
    uint64_t expire_at_ms; /* GET, EXISTS, TTL, CHECK: the key's expire_at_ms; 0 = no TTL */
};

/*
 * A command's reply. rc is for the whole command: 0; CS_EEXIST (a
 * duplicate: results are the first reply's, replayed); CS_ERANGE (seq older
 * than the session's last: the result was already returned and forgotten);
 * CS_ENOTFOUND (session expired: seq > 1 for an unknown client);
 * CS_ECONFLICT (a CHECK failed: nothing was applied, results_len is 0; a
 * retry of it replays CS_ECONFLICT, not CS_EEXIST). The map's clock moves
 * for every entry that decodes, whatever its reply.
 */
struct cs_kv_reply {
    int rc;
    uint32_t results_len;
    struct cs_kv_result results[CS_KV_OPS_MAX];
};

/*
 * cs_kv_command_encode: append cmd's encoding (the current version, 2) to
 * out. CS_EINVAL for an op that breaks the rules (unknown type or flag, empty
 * key or a key on PURGE, NX with XX, KEEPTTL or PERSIST with an expire_at_ms,
 * EXPIRE with none, a CHECK after another op, no ops); CS_ETOOBIG past a size
 * limit; or the buffer's error.
 */
int cs_kv_command_encode(const struct cs_kv_command *cmd, struct cs_buf *out);

/*
 * cs_kv_command_decode: decode a version 1 or 2 command into *cmd, whose
 * byte fields become views of data (a version-1 command has now_ms 0 and no
 * TTLs). CS_EDECODE (malformed, trailing bytes, a rule broken), CS_ETOOBIG (a
 * limit passed), CS_EVERSION.
 */
int cs_kv_command_decode(const uint8_t *data, size_t len, struct cs_kv_command *cmd);

/*
 * cs_kv_reply_decode: decode a reply made by cs_kv_apply (version 2, or a
 * version-1 reply of the previous release); values are views of data.
 * CS_EDECODE, CS_ETOOBIG, CS_EVERSION.
 */
int cs_kv_reply_decode(const uint8_t *data, size_t len, struct cs_kv_reply *reply);

struct cs_kv;

/* cs_kv_new: an empty map. CS_ENOMEM. */
int cs_kv_new(struct cs_kv **out);
void cs_kv_free(struct cs_kv *kv);

/*
 * cs_kv_apply: apply one committed command at log index (increasing across
 * calls) and append its encoded reply to reply_out (give it at least
 * CS_KV_REPLY_BYTES_MAX). Deterministic: the same commands give the same
 * state and replies on every replica. The map's clock first moves to the
 * command's now_ms if that is later. An entry that does not decode is
 * applied as a no-op with reply rc CS_EDECODE (it is in the log; every
 * replica must skip it alike). Returns 0, or CS_ENOMEM (the replica must
 * stop: its state may now differ) or the reply buffer's error.
 */
int cs_kv_apply(struct cs_kv *kv, uint64_t index, const uint8_t *cmd, size_t cmd_len,
                struct cs_buf *reply_out);

/*
 * cs_kv_get: read a key without a command (for a read already ordered by
 * ReadIndex). A key expires against the later of now_ms (the caller's clock)
 * and the map's clock, so a read never sees a key that apply already treats
 * as gone. 0 and a view (valid until the next apply or restore), or
 * CS_ENOTFOUND (absent or expired). Changes nothing.
 */
int cs_kv_get(const struct cs_kv *kv, const void *key, size_t key_len, uint64_t now_ms,
              const uint8_t **value, size_t *value_len);

/* What cs_kv_get_meta reports about a live key. */
struct cs_kv_meta {
    const uint8_t *value; /* a view, valid until the next apply or restore */
    size_t value_len;
    uint64_t mod_index;    /* log index of the command that last created or changed it */
    uint64_t expire_at_ms; /* 0 = no TTL */
};

/*
 * cs_kv_get_meta: as cs_kv_get, with the key's mod_index (for WATCH) and
 * expire_at_ms (for TTL / PTTL). 0, or CS_ENOTFOUND (absent or expired; *out
 * is zeroed).
 */
int cs_kv_get_meta(const struct cs_kv *kv, const void *key, size_t key_len, uint64_t now_ms,
                   struct cs_kv_meta *out);

/* Sizes, the last applied index and the clock, for tests and metrics. */
uint64_t cs_kv_keys(const struct cs_kv *kv); /* including expired keys not yet removed */
uint64_t cs_kv_sessions(const struct cs_kv *kv);
uint64_t cs_kv_applied_index(const struct cs_kv *kv);
uint64_t cs_kv_clock_ms(const struct cs_kv *kv); /* the largest now_ms applied */

/*
 * cs_kv_next_expiry: the smallest expire_at_ms of any key in the map, 0 if
 * no key has a TTL. When it is <= the clock, a PURGE would remove something.
 * O(1): the map keeps its keys with a TTL in a binary heap ordered by
 * (expire_at_ms, key), at most CS_KV_KEYS_MAX of them.
 */
uint64_t cs_kv_next_expiry(const struct cs_kv *kv);

/*
 * cs_kv_expired_total: keys this process has removed because their TTL
 * passed (on touch, by PURGE, or by a SET / EXPIRE to a time already past).
 * A metric of this replica, not replicated state: not in snapshots.
 */
uint64_t cs_kv_expired_total(const struct cs_kv *kv);

/*
 * cs_kv_check: walk the whole state and check its invariants (hash map
 * probe runs, byte and key counts, the expiry heap holds exactly the keys
 * with a TTL in heap order, mod_index within [1, applied index], sessions
 * sorted). 0 or CS_ECORRUPT. O(keys): for tests and debugging.
 */
int cs_kv_check(const struct cs_kv *kv);

/*
 * Planted bugs, to show that the tests catch them. Never set outside tests.
 */
enum cs_kv_bug {
    CS_KV_BUG_PURGE_IGNORES_CLOCK = 1u << 0, /* PURGE removes keys with a TTL not yet due */
    CS_KV_BUG_PERSIST_STALE_INDEX = 1u << 1, /* PERSIST leaves the key in the expiry heap */
    CS_KV_BUG_CHECK_SEES_EXPIRED = 1u << 2,  /* CHECK counts an expired key as live */
};

/* cs_kv_set_bugs: plant the bugs of the mask (enum cs_kv_bug) in this map. */
void cs_kv_set_bugs(struct cs_kv *kv, uint32_t bugs);

/*
 * cs_kv_snapshot: append the whole state (the applied index, the clock, keys
 * sorted with their TTL and mod_index, sessions sorted) to out: equal states
 * give equal bytes. CS_ETOOBIG past CS_KV_SNAPSHOT_BYTES_MAX, or the
 * buffer's error.
 */
int cs_kv_snapshot(const struct cs_kv *kv, struct cs_buf *out);

/*
 * cs_kv_restore: replace the state with a snapshot's (version 2, or a
 * version-1 snapshot of the previous release: no TTLs, every key's
 * mod_index the snapshot's applied index, clock 0). On any error the map is
 * left unchanged: CS_EDECODE (malformed, keys or sessions unsorted or
 * repeated), CS_ETOOBIG (a limit passed), CS_EVERSION, CS_ENOMEM.
 */
int cs_kv_restore(struct cs_kv *kv, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* CONSIST_KV_H */
