/*
 * kv_versions.c: the version-2 encodings, and data of the previous release.
 *
 * Method: version-1 commands, replies and snapshots are written here byte by
 * byte (as the previous release wrote them) and must still decode, apply and
 * restore: a data dir must survive the upgrade. Version-2 snapshots must
 * round-trip TTLs, mod indexes and the clock with identical bytes, and every
 * rule of the new fields must be refused by encoder and decoder alike.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/kv.h"
#include "testlib.h"

static struct cs_kv_op op(uint8_t type, const char *key)
{
    struct cs_kv_op o;
    memset(&o, 0, sizeof o);
    o.type = type;
    o.key = (const uint8_t *)key;
    o.key_len = key ? (uint32_t)strlen(key) : 0;
    return o;
}

static void put_str(struct cs_buf *b, const char *s)
{
    cs_put_bytes(b, s, strlen(s));
}

/* Apply cmd at index with a fresh reply buffer; returns the reply's rc, reply in *out. */
static int apply(struct cs_kv *kv, uint64_t index, const struct cs_kv_command *cmd,
                 struct cs_buf *reply_bytes, struct cs_kv_reply *out)
{
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    CS_CHECK_OK(cs_kv_command_encode(cmd, &enc));
    cs_buf_reset(reply_bytes);
    CS_CHECK_OK(cs_kv_apply(kv, index, enc.data, enc.len, reply_bytes));
    cs_buf_free(&enc);
    CS_CHECK_OK(cs_kv_reply_decode(reply_bytes->data, reply_bytes->len, out));
    return out->rc;
}

/* A version-1 command (client 7, seq 1: SET a "v1", GET a) decodes and applies. */
CS_TEST(v1_command_still_applies)
{
    struct cs_buf w;
    cs_buf_init(&w, 256);
    cs_put_u8(&w, 1);
    cs_put_uvarint(&w, 7);
    cs_put_uvarint(&w, 1);
    cs_put_uvarint(&w, 2);
    cs_put_u8(&w, CS_KV_SET);
    cs_put_u8(&w, 0);
    put_str(&w, "a");
    put_str(&w, "v1");
    cs_put_u8(&w, CS_KV_GET);
    cs_put_u8(&w, 0);
    put_str(&w, "a");
    CS_CHECK_OK(cs_buf_error(&w));
    static struct cs_kv_command cmd;
    CS_CHECK_OK(cs_kv_command_decode(w.data, w.len, &cmd));
    CS_CHECK(cmd.client_id == 7 && cmd.seq == 1 && cmd.now_ms == 0 && cmd.ops_len == 2);
    CS_CHECK(cmd.ops[0].expire_at_ms == 0 && cmd.ops[0].value_len == 2);
    struct cs_kv *kv;
    CS_CHECK_OK(cs_kv_new(&kv));
    struct cs_buf reply;
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    CS_CHECK_OK(cs_kv_apply(kv, 1, w.data, w.len, &reply));
    CS_CHECK_EQ(reply.data[0], 2); /* replies are version 2 */
    struct cs_kv_reply r;
    CS_CHECK_OK(cs_kv_reply_decode(reply.data, reply.len, &r));
    CS_CHECK(r.rc == 0 && r.results_len == 2 && r.results[1].value_len == 2);
    CS_CHECK_EQ_U64(r.results[1].mod_index, 1);
    CS_CHECK_EQ_U64(cs_kv_clock_ms(kv), 0);
    /* Types and flags that came with version 2 are not version-1 operations. */
    uint8_t *type = w.data + 4;
    CS_CHECK_EQ(*type, CS_KV_SET);
    type[1] = CS_KV_SET_KEEPTTL;
    CS_CHECK_RC(cs_kv_command_decode(w.data, w.len, &cmd), CS_EDECODE);
    type[1] = 0;
    type[0] = CS_KV_TTL;
    CS_CHECK_RC(cs_kv_command_decode(w.data, w.len, &cmd), CS_EDECODE);
    w.data[0] = 3;
    CS_CHECK_RC(cs_kv_command_decode(w.data, w.len, &cmd), CS_EVERSION);
    cs_buf_free(&reply);
    cs_buf_free(&w);
    cs_kv_free(kv);
}

/* A version-1 reply: rc svarint, count, per result rc, found, number, value; no version byte. */
static void put_v1_reply(struct cs_buf *w, const char *value)
{
    cs_put_svarint(w, 0);
    cs_put_uvarint(w, 1);
    cs_put_svarint(w, 0);
    cs_put_u8(w, 1);
    cs_put_svarint(w, 0);
    put_str(w, value);
}

CS_TEST(v1_reply_decodes)
{
    struct cs_buf w;
    cs_buf_init(&w, 64);
    put_v1_reply(&w, "x");
    struct cs_kv_reply r;
    CS_CHECK_OK(cs_kv_reply_decode(w.data, w.len, &r));
    CS_CHECK(r.results_len == 1 && r.results[0].found && r.results[0].value_len == 1);
    CS_CHECK_EQ_U64(r.results[0].mod_index, 0);
    cs_buf_reset(&w);
    cs_put_svarint(&w, CS_ENOTFOUND); /* an odd first byte: version 1 too */
    cs_put_uvarint(&w, 0);
    CS_CHECK_OK(cs_kv_reply_decode(w.data, w.len, &r));
    CS_CHECK_RC(r.rc, CS_ENOTFOUND);
    w.data[0] = 4; /* even and not 2: no version */
    CS_CHECK_RC(cs_kv_reply_decode(w.data, w.len, &r), CS_EVERSION);
    CS_CHECK_RC(cs_kv_reply_decode(w.data, 0, &r), CS_EDECODE);
    cs_buf_free(&w);
}

/* A version-1 snapshot: applied 7, keys a and b, one session with a version-1 reply. */
static void put_v1_snapshot(struct cs_buf *w, uint64_t applied)
{
    cs_put_u8(w, 1);
    cs_put_uvarint(w, applied);
    cs_put_uvarint(w, 2);
    put_str(w, "a");
    put_str(w, "1");
    put_str(w, "b");
    put_str(w, "2");
    cs_put_uvarint(w, 1);
    cs_put_uvarint(w, 9); /* client */
    cs_put_uvarint(w, 4); /* seq */
    cs_put_uvarint(w, 6); /* last index */
    struct cs_buf reply;
    cs_buf_init(&reply, 64);
    put_v1_reply(&reply, "old");
    cs_put_bytes(w, reply.data, reply.len);
    cs_buf_free(&reply);
}

CS_TEST(v1_snapshot_restores)
{
    struct cs_buf w, snap, again, reply;
    cs_buf_init(&w, 256);
    cs_buf_init(&snap, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&again, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    put_v1_snapshot(&w, 7);
    struct cs_kv *kv, *copy;
    CS_CHECK_OK(cs_kv_new(&kv));
    CS_CHECK_OK(cs_kv_new(&copy));
    CS_CHECK_OK(cs_kv_restore(kv, w.data, w.len));
    CS_CHECK_OK(cs_kv_check(kv));
    struct cs_kv_meta meta;
    CS_CHECK_OK(cs_kv_get_meta(kv, "b", 1, 0, &meta));
    CS_CHECK(meta.mod_index == 7 && meta.expire_at_ms == 0 && meta.value_len == 1);
    CS_CHECK_EQ_U64(cs_kv_clock_ms(kv), 0);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(kv), 0);
    /* The session's old reply replays to a retry. */
    static struct cs_kv_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.client_id = 9;
    cmd.seq = 4;
    cmd.ops_len = 1;
    cmd.ops[0] = op(CS_KV_GET, "a");
    struct cs_kv_reply r;
    CS_CHECK_RC(apply(kv, 8, &cmd, &reply, &r), CS_EEXIST);
    CS_CHECK(r.results_len == 1 && r.results[0].value_len == 3);
    CS_CHECK_MEM(r.results[0].value, "old", 3);
    /* The next snapshot is version 2 and canonical: it restores to the same bytes. */
    CS_CHECK_OK(cs_kv_snapshot(kv, &snap));
    CS_CHECK_EQ(snap.data[0], 2);
    CS_CHECK_OK(cs_kv_restore(copy, snap.data, snap.len));
    CS_CHECK_OK(cs_kv_snapshot(copy, &again));
    CS_CHECK_EQ(again.len, snap.len);
    CS_CHECK_MEM(again.data, snap.data, snap.len);
    /* A v1 snapshot with keys at applied index 0 gives them no valid mod_index: refused. */
    cs_buf_reset(&w);
    put_v1_snapshot(&w, 0);
    CS_CHECK_RC(cs_kv_restore(copy, w.data, w.len), CS_EDECODE);
    CS_CHECK_EQ(cs_kv_keys(copy), 2);
    cs_kv_free(kv);
    cs_kv_free(copy);
    cs_buf_free(&w);
    cs_buf_free(&snap);
    cs_buf_free(&again);
    cs_buf_free(&reply);
}

/* TTLs, mod indexes, the clock and expired-but-present keys survive a v2 round trip. */
CS_TEST(v2_snapshot_round_trip)
{
    struct cs_kv *kv, *copy;
    CS_CHECK_OK(cs_kv_new(&kv));
    CS_CHECK_OK(cs_kv_new(&copy));
    struct cs_buf reply, snap, again;
    cs_buf_init(&reply, CS_KV_REPLY_BYTES_MAX);
    cs_buf_init(&snap, CS_KV_SNAPSHOT_BYTES_MAX);
    cs_buf_init(&again, CS_KV_SNAPSHOT_BYTES_MAX);
    static struct cs_kv_command cmd;
    struct cs_kv_reply r;
    uint64_t index = 0;
    for (uint32_t k = 0; k < 50; k++) {
        char key[16];
        snprintf(key, sizeof key, "key%02u", (k * 17) % 50);
        memset(&cmd, 0, sizeof cmd);
        cmd.client_id = 1 + k % 3;
        cmd.seq = 1 + k / 3;
        cmd.now_ms = 100 + k;
        cmd.ops_len = 1;
        cmd.ops[0] = op(CS_KV_SET, key);
        cmd.ops[0].value = (const uint8_t *)key;
        cmd.ops[0].value_len = 5;
        cmd.ops[0].expire_at_ms = k % 4 ? 140 + k : 0; /* some already expired by the end */
        CS_CHECK_OK(apply(kv, ++index, &cmd, &reply, &r));
    }
    CS_CHECK_OK(cs_kv_snapshot(kv, &snap));
    CS_CHECK_OK(cs_kv_restore(copy, snap.data, snap.len));
    CS_CHECK_OK(cs_kv_check(copy));
    CS_CHECK_EQ(cs_kv_keys(copy), cs_kv_keys(kv));
    CS_CHECK_EQ_U64(cs_kv_clock_ms(copy), 149);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(copy), cs_kv_next_expiry(kv));
    CS_CHECK_EQ_U64(cs_kv_applied_index(copy), index);
    for (uint32_t k = 0; k < 50; k++) {
        char key[16];
        snprintf(key, sizeof key, "key%02u", k);
        struct cs_kv_meta m1, m2;
        int rc1 = cs_kv_get_meta(kv, key, 5, 0, &m1);
        CS_CHECK_RC(cs_kv_get_meta(copy, key, 5, 0, &m2), rc1);
        CS_CHECK(m1.mod_index == m2.mod_index && m1.expire_at_ms == m2.expire_at_ms);
    }
    CS_CHECK_OK(cs_kv_snapshot(copy, &again));
    CS_CHECK_EQ(again.len, snap.len);
    CS_CHECK_MEM(again.data, snap.data, snap.len);
    /* Every truncation is refused and leaves the copy as it was. */
    for (size_t cut = 0; cut < snap.len; cut += 5) {
        CS_CHECK(cs_kv_restore(copy, snap.data, cut) != 0);
        CS_CHECK_EQ(cs_kv_keys(copy), cs_kv_keys(kv));
    }
    cs_kv_free(kv);
    cs_kv_free(copy);
    cs_buf_free(&reply);
    cs_buf_free(&snap);
    cs_buf_free(&again);
}

/* A v2 snapshot with one key whose mod_index is given: only 1..applied is accepted. */
CS_TEST(v2_snapshot_mod_index_range)
{
    struct cs_kv *kv;
    CS_CHECK_OK(cs_kv_new(&kv));
    struct cs_buf w;
    cs_buf_init(&w, 64);
    const uint64_t mods[] = {0, 1, 5, 6};
    const int want[] = {CS_EDECODE, 0, 0, CS_EDECODE};
    for (size_t k = 0; k < 4; k++) {
        cs_buf_reset(&w);
        cs_put_u8(&w, 2);
        cs_put_uvarint(&w, 5);   /* applied */
        cs_put_uvarint(&w, 100); /* clock */
        cs_put_uvarint(&w, 1);
        put_str(&w, "k");
        put_str(&w, "v");
        cs_put_uvarint(&w, 90); /* expire_at_ms: already past, still there */
        cs_put_uvarint(&w, mods[k]);
        cs_put_uvarint(&w, 0); /* sessions */
        CS_CHECK_RC(cs_kv_restore(kv, w.data, w.len), want[k]);
    }
    CS_CHECK_EQ(cs_kv_keys(kv), 1);
    CS_CHECK_EQ_U64(cs_kv_next_expiry(kv), 90);
    const uint8_t *v;
    size_t v_len;
    CS_CHECK_RC(cs_kv_get(kv, "k", 1, 0, &v, &v_len), CS_ENOTFOUND);
    w.data[0] = 3;
    CS_CHECK_RC(cs_kv_restore(kv, w.data, w.len), CS_EVERSION);
    cs_buf_free(&w);
    cs_kv_free(kv);
}

/* Encoder and decoder refuse the same malformed v2 operations. */
CS_TEST(v2_op_rules)
{
    static struct cs_kv_command cmd;
    struct cs_buf enc;
    cs_buf_init(&enc, CS_KV_COMMAND_BYTES_MAX);
    struct cs_kv_op bad[8];
    bad[0] = op(CS_KV_SET, "k");
    bad[0].flags = CS_KV_SET_KEEPTTL;
    bad[0].expire_at_ms = 5;        /* KEEPTTL with a TTL */
    bad[1] = op(CS_KV_EXPIRE, "k"); /* EXPIRE with no time */
    bad[2] = op(CS_KV_EXPIRE, "k");
    bad[2].flags = CS_KV_EXPIRE_PERSIST;
    bad[2].expire_at_ms = 5;       /* PERSIST with a time */
    bad[3] = op(CS_KV_PURGE, "k"); /* PURGE with a key */
    bad[4] = op(CS_KV_GET, "k");
    bad[4].expire_at_ms = 5; /* a TTL on GET */
    bad[5] = op(CS_KV_TTL, "k");
    bad[5].flags = 1;
    bad[6] = op(CS_KV_PURGE, NULL);
    bad[6].flags = 1;
    bad[7] = op(CS_KV_CHECK + 1, "k");
    memset(&cmd, 0, sizeof cmd);
    cmd.ops_len = 1;
    for (size_t k = 0; k < 8; k++) {
        cmd.ops[0] = bad[k];
        CS_CHECK_MSG(cs_kv_command_encode(&cmd, &enc) == CS_EINVAL, "bad op %zu", k);
    }
    /* The decoder: a PURGE op with flags 1, written by hand. */
    cs_buf_reset(&enc);
    cs_put_u8(&enc, 2);
    cs_put_uvarint(&enc, 0);
    cs_put_uvarint(&enc, 0);
    cs_put_uvarint(&enc, 0);
    cs_put_uvarint(&enc, 1);
    cs_put_u8(&enc, CS_KV_PURGE);
    cs_put_u8(&enc, 0);
    struct cs_kv_command back;
    CS_CHECK_OK(cs_kv_command_decode(enc.data, enc.len, &back));
    CS_CHECK(back.ops[0].type == CS_KV_PURGE && back.ops[0].key_len == 0);
    enc.data[enc.len - 1] = 1;
    CS_CHECK_RC(cs_kv_command_decode(enc.data, enc.len, &back), CS_EDECODE);
    /* An EXPIRE with time 0 and no PERSIST, written by hand. */
    cs_buf_reset(&enc);
    cs_put_u8(&enc, 2);
    cs_put_uvarint(&enc, 0);
    cs_put_uvarint(&enc, 0);
    cs_put_uvarint(&enc, 0);
    cs_put_uvarint(&enc, 1);
    cs_put_u8(&enc, CS_KV_EXPIRE);
    cs_put_u8(&enc, 0);
    put_str(&enc, "k");
    cs_put_uvarint(&enc, 0);
    CS_CHECK_RC(cs_kv_command_decode(enc.data, enc.len, &back), CS_EDECODE);
    enc.data[enc.len - 1] = 9;
    CS_CHECK_OK(cs_kv_command_decode(enc.data, enc.len, &back));
    CS_CHECK_EQ_U64(back.ops[0].expire_at_ms, 9);
    cs_buf_free(&enc);
}

CS_TEST_MAIN(CS_CASE(v1_command_still_applies), CS_CASE(v1_reply_decodes),
             CS_CASE(v1_snapshot_restores), CS_CASE(v2_snapshot_round_trip),
             CS_CASE(v2_snapshot_mod_index_range), CS_CASE(v2_op_rules))
