/*
 * clock_dvvset.c: dotted version vector sets against worked examples and
 * their limits.
 *
 * The examples: the false-conflict scenario of the DVV paper (Preguiça,
 * Baquero et al., as retold in the authors' DVVSet notes: two blind writes
 * at server A, then a write that read only the first), and the scenarios of
 * the authors' DVVSet reference tests (update, join, sync, sync-update,
 * less), restated in this API: the reference's update(new(ctx, v), S, r) is
 * cs_dvvset_event(S, ctx, r, v), and a reference entry {a, 3, [v5, v2]}
 * (counter 3, values newest first) is context {a:3} with siblings (a,3):v5
 * and (a,2):v2. Node ids: a=1, b=2, c=3, d=4, x=24, z=26.
 */
#include <stdlib.h>
#include <string.h>

#include "consist/clock.h"
#include "testlib.h"

enum { A = 1, B = 2, C = 3, D = 4, X = 24, Z = 26 };

struct want_sibling {
    uint64_t node_id;
    uint64_t counter;
    const char *value;
};

static bool context_is(const struct cs_vclock *vc, const uint64_t *pairs, size_t pairs_len)
{
    if (vc->entries_len != pairs_len / 2) return false;
    for (size_t i = 0; i < pairs_len; i += 2) {
        if (vc->entries[i / 2].node_id != pairs[i]) return false;
        if (vc->entries[i / 2].counter != pairs[i + 1]) return false;
    }
    return true;
}

static bool siblings_are(const struct cs_dvvset *set, const struct want_sibling *want,
                         size_t want_len)
{
    size_t len;
    const struct cs_dvvset_sibling *s = cs_dvvset_values(set, &len);
    if (len != want_len) return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i].dot.node_id != want[i].node_id || s[i].dot.counter != want[i].counter) {
            return false;
        }
        size_t n = strlen(want[i].value);
        if (s[i].value_len != n || memcmp(s[i].value, want[i].value, n) != 0) return false;
    }
    return true;
}

/* CHECK_SET(set, {context pairs}, {siblings}): the set holds exactly this. */
#define CHECK_SET(set, ctx, ...)                                                                   \
    do {                                                                                           \
        static const uint64_t ctx_[] = ctx;                                                        \
        static const struct want_sibling sib_[] = {__VA_ARGS__};                                   \
        CS_CHECK_MSG(context_is(cs_dvvset_join(set), ctx_, sizeof ctx_ / sizeof ctx_[0]),          \
                     "%s: context is not %s", #set, #ctx);                                         \
        CS_CHECK_MSG(siblings_are((set), sib_, sizeof sib_ / sizeof sib_[0]),                      \
                     "%s: siblings are not %s", #set, #__VA_ARGS__);                               \
    } while (0)
#define CTX(...)                                                                                   \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }

/* put: event(set, context, node, string value), which must succeed. */
static void put(struct cs_dvvset *set, const struct cs_vclock *context, uint64_t node_id,
                const char *value)
{
    CS_CHECK_OK(cs_dvvset_event(set, context, node_id, value, strlen(value), NULL));
}

/* create: a fresh set holding one write made with context (reference update/2). */
static void create(struct cs_dvvset *set, const struct cs_vclock *context, uint64_t node_id,
                   const char *value)
{
    cs_dvvset_init(set);
    put(set, context, node_id, value);
}

/* synced: out := sync(x, y). */
static void synced(struct cs_dvvset *out, const struct cs_dvvset *x, const struct cs_dvvset *y)
{
    cs_dvvset_init(out);
    CS_CHECK_OK(cs_dvvset_copy(out, x));
    CS_CHECK_OK(cs_dvvset_sync(out, y));
}

static struct cs_vclock empty_context;

/*
 * The paper's motivating example. Two clients write v1 and v2 to server A
 * without having read anything; a third client that had read only v1
 * writes v3. A version vector per server cannot tell v1 from v2 (both would
 * be (A,1), or v2's (A,2) would claim to follow v1); with dots, v3's context
 * {A:1} supersedes exactly v1, and v2 stays as v3's sibling.
 */
CS_TEST(paper_two_blind_writes_then_one_informed)
{
    struct cs_dvvset s;
    struct cs_dot dot;
    cs_dvvset_init(&s);
    CS_CHECK_OK(cs_dvvset_event(&s, &empty_context, A, "v1", 2, &dot));
    CS_CHECK(dot.node_id == A && dot.counter == 1);
    struct cs_vclock read_v1;
    cs_vclock_init(&read_v1);
    CS_CHECK_OK(cs_vclock_copy(&read_v1, cs_dvvset_join(&s))); /* the client reads v1 */

    CS_CHECK_OK(cs_dvvset_event(&s, &empty_context, A, "v2", 2, &dot));
    CS_CHECK(dot.counter == 2);
    CHECK_SET(&s, CTX(A, 2), {A, 1, "v1"}, {A, 2, "v2"}); /* concurrent: both kept */

    CS_CHECK_OK(cs_dvvset_event(&s, &read_v1, A, "v3", 2, &dot));
    CS_CHECK(dot.counter == 3);
    CHECK_SET(&s, CTX(A, 3), {A, 2, "v2"}, {A, 3, "v3"});
    CS_CHECK(cs_dvvset_covers(&s, (struct cs_dot){A, 1}));
    CS_CHECK(!cs_dvvset_covers(&s, (struct cs_dot){A, 4}));
    CS_CHECK(!cs_dvvset_covers(&s, (struct cs_dot){B, 1}));
    cs_vclock_free(&read_v1);
    cs_dvvset_free(&s);
}

/*
 * The same scenario with one version vector per key, merged on conflict (the
 * "server ids, merge" design the paper argues against): after v2 the two
 * siblings share the merged vector {A:2}, so v3's context {A:1} no longer
 * shows that v1 was read, and v1 survives as a false conflict. The DVV set
 * above drops it.
 */
CS_TEST(paper_version_vector_false_conflict)
{
    struct cs_vclock key_vv, v3_context;
    cs_vclock_init(&key_vv);
    cs_vclock_init(&v3_context);
    CS_CHECK_OK(cs_vclock_tick(&key_vv, A)); /* v1: {A:1} */
    CS_CHECK_OK(cs_vclock_copy(&v3_context, &key_vv));
    CS_CHECK_OK(cs_vclock_tick(&key_vv, A)); /* v2 blind: siblings {v1, v2} share {A:2} */
    /* v3 supersedes the siblings only if its context descends their vector: it does not. */
    bool v1_superseded = cs_vclock_descends(&v3_context, &key_vv);
    CS_CHECK(!v1_superseded);
    cs_vclock_free(&key_vv);
    cs_vclock_free(&v3_context);
}

/* Reference update_test: one server set, writes with older and newer contexts. */
CS_TEST(reference_update)
{
    struct cs_dvvset a0, a1, a2, a3, a4;
    create(&a0, &empty_context, A, "v1");
    CHECK_SET(&a0, CTX(A, 1), {A, 1, "v1"});

    cs_dvvset_init(&a1);
    CS_CHECK_OK(cs_dvvset_copy(&a1, &a0));
    put(&a1, cs_dvvset_join(&a0), A, "v2");
    CHECK_SET(&a1, CTX(A, 2), {A, 2, "v2"});

    cs_dvvset_init(&a2);
    CS_CHECK_OK(cs_dvvset_copy(&a2, &a1));
    put(&a2, cs_dvvset_join(&a1), B, "v3");
    CHECK_SET(&a2, CTX(A, 2, B, 1), {B, 1, "v3"});

    cs_dvvset_init(&a3);
    CS_CHECK_OK(cs_dvvset_copy(&a3, &a1));
    put(&a3, cs_dvvset_join(&a0), B, "v4");
    CHECK_SET(&a3, CTX(A, 2, B, 1), {A, 2, "v2"}, {B, 1, "v4"});

    cs_dvvset_init(&a4);
    CS_CHECK_OK(cs_dvvset_copy(&a4, &a1));
    put(&a4, cs_dvvset_join(&a0), A, "v5");
    CHECK_SET(&a4, CTX(A, 3), {A, 2, "v2"}, {A, 3, "v5"});

    cs_dvvset_free(&a0);
    cs_dvvset_free(&a1);
    cs_dvvset_free(&a2);
    cs_dvvset_free(&a3);
    cs_dvvset_free(&a4);
}

/* Reference join_test: join is the context a reader gets. */
CS_TEST(reference_join)
{
    struct cs_dvvset a, b;
    cs_dvvset_init(&a);
    CS_CHECK_EQ(cs_dvvset_join(&a)->entries_len, 0);
    put(&a, &empty_context, A, "v1");
    CS_CHECK(context_is(cs_dvvset_join(&a), (const uint64_t[]){A, 1}, 2));
    cs_dvvset_init(&b);
    CS_CHECK_OK(cs_dvvset_copy(&b, &a));
    put(&b, cs_dvvset_join(&a), B, "v2");
    CS_CHECK(context_is(cs_dvvset_join(&b), (const uint64_t[]){A, 1, B, 1}, 4));
    cs_dvvset_free(&a);
    cs_dvvset_free(&b);
}

/* Reference sync_test: the join of replicas, in both argument orders. */
CS_TEST(reference_sync)
{
    struct cs_dvvset x, a, y, a1, a3, a4, w, z, r1, r2;
    cs_dvvset_init(&x);
    CS_CHECK_OK(cs_vclock_tick(&x.context, X)); /* {x:1}, no values */
    create(&a, &empty_context, A, "v1");
    create(&y, &empty_context, B, "v2");
    create(&a1, cs_dvvset_join(&a), A, "v2");
    create(&a3, cs_dvvset_join(&a1), B, "v3");
    create(&a4, cs_dvvset_join(&a1), C, "v3");
    cs_dvvset_init(&w);
    CS_CHECK_OK(cs_vclock_tick(&w.context, A)); /* {a:1}: saw v1, holds nothing */
    create(&z, &empty_context, A, "v1");
    put(&z, &empty_context, A, "v2"); /* {a:2} with v1 and v2 */
    CHECK_SET(&z, CTX(A, 2), {A, 1, "v1"}, {A, 2, "v2"});

    synced(&r1, &w, &z);
    synced(&r2, &z, &w);
    CHECK_SET(&r1, CTX(A, 2), {A, 2, "v2"});
    CS_CHECK(cs_dvvset_equal(&r1, &r2));
    cs_dvvset_free(&r1);
    cs_dvvset_free(&r2);

    synced(&r1, &a, &a1);
    synced(&r2, &a1, &a);
    CHECK_SET(&r1, CTX(A, 2), {A, 2, "v2"});
    CS_CHECK(cs_dvvset_equal(&r1, &r2));
    cs_dvvset_free(&r1);
    cs_dvvset_free(&r2);

    synced(&r1, &a4, &a3);
    synced(&r2, &a3, &a4);
    CHECK_SET(&r1, CTX(A, 2, B, 1, C, 1), {B, 1, "v3"}, {C, 1, "v3"});
    CS_CHECK(cs_dvvset_equal(&r1, &r2));
    cs_dvvset_free(&r1);
    cs_dvvset_free(&r2);

    synced(&r1, &x, &a);
    synced(&r2, &a, &x);
    CHECK_SET(&r1, CTX(A, 1, X, 1), {A, 1, "v1"});
    CS_CHECK(cs_dvvset_equal(&r1, &r2));
    cs_dvvset_free(&r1);
    cs_dvvset_free(&r2);

    synced(&r1, &a, &y);
    synced(&r2, &y, &a);
    CHECK_SET(&r1, CTX(A, 1, B, 1), {A, 1, "v1"}, {B, 1, "v2"});
    CS_CHECK(cs_dvvset_equal(&r1, &r2));
    cs_dvvset_free(&r1);
    cs_dvvset_free(&r2);

    /* sync with itself changes nothing. */
    synced(&r1, &z, &z);
    CS_CHECK_OK(cs_dvvset_sync(&r1, &r1));
    CS_CHECK(cs_dvvset_equal(&r1, &z));
    cs_dvvset_free(&r1);

    struct cs_dvvset *all[] = {&x, &a, &y, &a1, &a3, &a4, &w, &z};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cs_dvvset_free(all[i]);
}

/* Reference sync_update_test: Mary writes twice without reading; Peter read the first. */
CS_TEST(reference_sync_update)
{
    struct cs_dvvset s;
    struct cs_vclock peter;
    create(&s, &empty_context, A, "v1");
    cs_vclock_init(&peter);
    CS_CHECK_OK(cs_vclock_copy(&peter, cs_dvvset_join(&s)));
    put(&s, &empty_context, A, "v2");
    CHECK_SET(&s, CTX(A, 2), {A, 1, "v1"}, {A, 2, "v2"});
    put(&s, &peter, A, "v3");
    CHECK_SET(&s, CTX(A, 3), {A, 2, "v2"}, {A, 3, "v3"});
    cs_vclock_free(&peter);
    cs_dvvset_free(&s);
}

static bool less(const struct cs_dvvset *x, const struct cs_dvvset *y)
{
    return cs_vclock_happens_before(cs_dvvset_join(x), cs_dvvset_join(y));
}

/* Reference less_test: one set's history strictly inside another's. */
CS_TEST(reference_less)
{
    struct cs_dvvset a, b, b2, b3, c, d;
    create(&a, &empty_context, A, "v1");
    create(&b, cs_dvvset_join(&a), A, "v2");
    create(&b2, cs_dvvset_join(&a), B, "v2");
    create(&b3, cs_dvvset_join(&a), Z, "v2");
    cs_dvvset_init(&c);
    CS_CHECK_OK(cs_dvvset_copy(&c, &a));
    put(&c, cs_dvvset_join(&b), C, "v3");
    cs_dvvset_init(&d);
    CS_CHECK_OK(cs_dvvset_copy(&d, &b2));
    put(&d, cs_dvvset_join(&c), D, "v4");
    /* v2 at (b,1) was not in C's context: it stays as v4's sibling. */
    CHECK_SET(&d, CTX(A, 2, B, 1, C, 1, D, 1), {B, 1, "v2"}, {D, 1, "v4"});

    CS_CHECK(less(&a, &b));
    CS_CHECK(less(&a, &c));
    CS_CHECK(less(&b, &c));
    CS_CHECK(less(&b, &d));
    CS_CHECK(less(&b2, &d));
    CS_CHECK(less(&a, &d));
    CS_CHECK(!less(&b2, &c));
    CS_CHECK(!less(&b, &b2));
    CS_CHECK(!less(&b2, &b));
    CS_CHECK(!less(&a, &a));
    CS_CHECK(!less(&c, &c));
    CS_CHECK(!less(&d, &b2));
    CS_CHECK(!less(&b3, &d));
    struct cs_dvvset *all[] = {&a, &b, &b2, &b3, &c, &d};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cs_dvvset_free(all[i]);
}

/* discard drops exactly the siblings the context covers and keeps the set's context. */
CS_TEST(discard_keeps_context)
{
    struct cs_dvvset s;
    struct cs_vclock ctx;
    create(&s, &empty_context, A, "v1");
    put(&s, &empty_context, B, "v2");
    put(&s, &empty_context, A, "v3");
    cs_vclock_init(&ctx);
    CS_CHECK_OK(cs_vclock_tick(&ctx, A));
    CS_CHECK_OK(cs_vclock_tick(&ctx, C));
    cs_dvvset_discard(&s, &ctx);
    CHECK_SET(&s, CTX(A, 2, B, 1), {A, 2, "v3"}, {B, 1, "v2"});
    cs_dvvset_discard(&s, cs_dvvset_join(&s));
    CHECK_SET(&s, CTX(A, 2, B, 1), );
    cs_vclock_free(&ctx);
    cs_dvvset_free(&s);
}

/* A write whose context is the set's own (read-modify-write in process) supersedes everything. */
CS_TEST(event_with_own_context)
{
    struct cs_dvvset s;
    create(&s, &empty_context, A, "v1");
    put(&s, &empty_context, B, "v2");
    put(&s, cs_dvvset_join(&s), A, "merged");
    CHECK_SET(&s, CTX(A, 2, B, 1), {A, 2, "merged"});
    /* A zero-length value is a value too. */
    CS_CHECK_OK(cs_dvvset_event(&s, &empty_context, C, NULL, 0, NULL));
    size_t len;
    const struct cs_dvvset_sibling *v = cs_dvvset_values(&s, &len);
    CS_CHECK_EQ(len, 2);
    CS_CHECK(v[1].dot.node_id == C && v[1].value_len == 0 && v[1].value == NULL);
    cs_dvvset_free(&s);
}

/* Siblings: CS_DVVSET_SIBLINGS_MAX fit; one more is refused, unchanged; a covering write fits. */
CS_TEST(siblings_limit)
{
    struct cs_dvvset s, before;
    cs_dvvset_init(&s);
    cs_dvvset_init(&before);
    for (int i = 0; i < CS_DVVSET_SIBLINGS_MAX; i++)
        put(&s, &empty_context, A + (i % 3), "v");
    CS_CHECK_EQ(s.siblings_len, CS_DVVSET_SIBLINGS_MAX);
    CS_CHECK_OK(cs_dvvset_copy(&before, &s));
    CS_CHECK_RC(cs_dvvset_event(&s, &empty_context, A, "w", 1, NULL), CS_ETOOBIG);
    CS_CHECK(cs_dvvset_equal(&s, &before));
    /* A write that read one of them replaces it, so it fits. */
    struct cs_vclock one;
    cs_vclock_init(&one);
    CS_CHECK_OK(cs_vclock_tick(&one, A));
    put(&s, &one, A, "w");
    CS_CHECK_EQ(s.siblings_len, CS_DVVSET_SIBLINGS_MAX);

    /* sync whose result would pass the limit is refused, unchanged. */
    struct cs_dvvset other;
    create(&other, &empty_context, D, "x");
    CS_CHECK_OK(cs_dvvset_copy(&before, &s));
    CS_CHECK_RC(cs_dvvset_sync(&s, &other), CS_ETOOBIG);
    CS_CHECK(cs_dvvset_equal(&s, &before));
    cs_vclock_free(&one);
    cs_dvvset_free(&s);
    cs_dvvset_free(&before);
    cs_dvvset_free(&other);
}

/* Values up to CS_DVVSET_VALUE_BYTES_MAX bytes; one more byte is refused. */
CS_TEST(value_limit)
{
    struct cs_dvvset s;
    cs_dvvset_init(&s);
    uint8_t *big = calloc(1, CS_DVVSET_VALUE_BYTES_MAX + 1);
    CS_CHECK(big != NULL);
    big[CS_DVVSET_VALUE_BYTES_MAX - 1] = 7;
    CS_CHECK_RC(cs_dvvset_event(&s, &empty_context, A, big, CS_DVVSET_VALUE_BYTES_MAX + 1, NULL),
                CS_ETOOBIG);
    CS_CHECK_EQ(s.siblings_len, 0);
    CS_CHECK_EQ(s.context.entries_len, 0);
    CS_CHECK_OK(cs_dvvset_event(&s, &empty_context, A, big, CS_DVVSET_VALUE_BYTES_MAX, NULL));

    /* It round-trips through the encoding. */
    struct cs_buf buf;
    struct cs_dvvset back;
    cs_buf_init(&buf, CS_DVVSET_ENCODED_BYTES_MAX);
    cs_dvvset_init(&back);
    CS_CHECK_OK(cs_dvvset_encode(&s, &buf));
    CS_CHECK_OK(cs_dvvset_decode(&back, buf.data, buf.len));
    CS_CHECK(cs_dvvset_equal(&back, &s));
    CS_CHECK_EQ(back.siblings[0].value[CS_DVVSET_VALUE_BYTES_MAX - 1], 7);
    free(big);
    cs_buf_free(&buf);
    cs_dvvset_free(&back);
    cs_dvvset_free(&s);
}

/* The coordinator's counter cannot pass UINT64_MAX, and the context cannot pass its limit. */
CS_TEST(counter_and_context_limits)
{
    struct cs_dvvset s, before;
    cs_dvvset_init(&s);
    cs_dvvset_init(&before);
    put(&s, &empty_context, A, "v1");
    s.context.entries[0].counter = UINT64_MAX; /* a context that has seen every event of A */
    CS_CHECK_OK(cs_dvvset_copy(&before, &s));
    CS_CHECK_RC(cs_dvvset_event(&s, &empty_context, A, "v2", 2, NULL), CS_EOVERFLOW);
    CS_CHECK(cs_dvvset_equal(&s, &before));
    cs_dvvset_free(&s);

    /* Context full of other nodes: an existing node writes, a new one is refused. */
    struct cs_vclock full;
    cs_vclock_init(&full);
    for (uint64_t n = 1; n <= CS_VCLOCK_ENTRIES_MAX; n++)
        CS_CHECK_OK(cs_vclock_tick(&full, n));
    cs_dvvset_init(&s);
    put(&s, &full, 1, "ok");
    CS_CHECK_OK(cs_dvvset_copy(&before, &s));
    CS_CHECK_RC(cs_dvvset_event(&s, &empty_context, CS_VCLOCK_ENTRIES_MAX + 1, "x", 1, NULL),
                CS_ETOOBIG);
    CS_CHECK(cs_dvvset_equal(&s, &before));
    cs_vclock_free(&full);
    cs_dvvset_free(&s);
    cs_dvvset_free(&before);
}

/* Two replicas holding different values under one dot is corruption: CS_ECONFLICT, unchanged. */
CS_TEST(sync_conflicting_dot)
{
    struct cs_dvvset s, t, before;
    create(&s, &empty_context, A, "v1");
    create(&t, &empty_context, A, "XX");
    cs_dvvset_init(&before);
    CS_CHECK_OK(cs_dvvset_copy(&before, &s));
    CS_CHECK_RC(cs_dvvset_sync(&s, &t), CS_ECONFLICT);
    CS_CHECK(cs_dvvset_equal(&s, &before));
    cs_dvvset_free(&s);
    cs_dvvset_free(&t);
    cs_dvvset_free(&before);
}

/* copy is deep; equal compares contexts, dots and value bytes. */
CS_TEST(copy_and_equal)
{
    struct cs_dvvset s, t;
    create(&s, &empty_context, A, "v1");
    put(&s, &empty_context, B, "v2");
    cs_dvvset_init(&t);
    put(&t, &empty_context, C, "old");
    CS_CHECK_OK(cs_dvvset_copy(&t, &s));
    CS_CHECK(cs_dvvset_equal(&s, &t));
    t.siblings[0].value[0] = 'w';
    CS_CHECK(!cs_dvvset_equal(&s, &t));
    CHECK_SET(&s, CTX(A, 1, B, 1), {A, 1, "v1"}, {B, 1, "v2"});
    cs_dvvset_free(&t);
    CS_CHECK_OK(cs_dvvset_copy(&t, &s));
    CS_CHECK_OK(cs_vclock_tick(&t.context, D));
    CS_CHECK(!cs_dvvset_equal(&s, &t));
    cs_dvvset_free(&s);
    cs_dvvset_free(&t);
}

/* The encoding is: version, the context's own encoding, count, (node, counter, bytes). */
CS_TEST(encode_layout)
{
    struct cs_dvvset s;
    struct cs_buf buf;
    create(&s, &empty_context, A, "v1");
    put(&s, &empty_context, A, "hi");
    cs_buf_init(&buf, 1024);
    CS_CHECK_OK(cs_dvvset_encode(&s, &buf));
    static const uint8_t want[] = {1, 1, 1, A, 2, 2, A, 1, 2, 'v', '1', A, 2, 2, 'h', 'i'};
    CS_CHECK_EQ(buf.len, sizeof want);
    CS_CHECK_MEM(buf.data, want, sizeof want);
    cs_buf_free(&buf);
    cs_dvvset_free(&s);
}

/* decode_rc: decode into a non-empty set and check it is untouched on error. */
static int decode_rc(const uint8_t *bytes, size_t len)
{
    struct cs_dvvset s, before;
    create(&s, &empty_context, 9, "keep");
    cs_dvvset_init(&before);
    CS_CHECK_OK(cs_dvvset_copy(&before, &s));
    int rc = cs_dvvset_decode(&s, bytes, len);
    if (rc != 0) CS_CHECK(cs_dvvset_equal(&s, &before));
    cs_dvvset_free(&s);
    cs_dvvset_free(&before);
    return rc;
}

/* Each malformed input is refused with its own code. */
CS_TEST(decode_rejects)
{
    static const uint8_t good[] = {1, 1, 1, A, 2, 2, A, 1, 2, 'v', '1', A, 2, 0};
    CS_CHECK_OK(decode_rc(good, sizeof good));
    for (size_t n = 0; n < sizeof good; n++)
        CS_CHECK_RC(decode_rc(good, n), CS_EDECODE);

    static const uint8_t version[] = {2, 1, 0, 0};
    static const uint8_t context_version[] = {1, 2, 0, 0};
    static const uint8_t unsorted[] = {1, 1, 1, A, 2, 2, A, 2, 0, A, 1, 0};
    static const uint8_t duplicate[] = {1, 1, 1, A, 2, 2, A, 2, 0, A, 2, 0};
    static const uint8_t outside_context[] = {1, 1, 1, A, 2, 1, A, 3, 0};
    static const uint8_t unknown_node[] = {1, 1, 1, A, 2, 1, B, 1, 0};
    static const uint8_t zero_counter[] = {1, 1, 1, A, 2, 1, A, 0, 0};
    static const uint8_t trailing[] = {1, 1, 0, 0, 0};
    static const uint8_t value_past_bytes[] = {1, 1, 1, A, 2, 1, A, 1, 5, 'a'};
    CS_CHECK_RC(decode_rc(version, sizeof version), CS_EVERSION);
    CS_CHECK_RC(decode_rc(context_version, sizeof context_version), CS_EVERSION);
    CS_CHECK_RC(decode_rc(unsorted, sizeof unsorted), CS_EDECODE);
    CS_CHECK_RC(decode_rc(duplicate, sizeof duplicate), CS_EDECODE);
    CS_CHECK_RC(decode_rc(outside_context, sizeof outside_context), CS_EDECODE);
    CS_CHECK_RC(decode_rc(unknown_node, sizeof unknown_node), CS_EDECODE);
    CS_CHECK_RC(decode_rc(zero_counter, sizeof zero_counter), CS_EDECODE);
    CS_CHECK_RC(decode_rc(trailing, sizeof trailing), CS_EDECODE);
    CS_CHECK_RC(decode_rc(value_past_bytes, sizeof value_past_bytes), CS_EDECODE);

    /* A value length one past the limit: CS_ETOOBIG before any allocation. */
    uint8_t big[16];
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, big, sizeof big);
    static const uint8_t head[] = {1, 1, 1, A, 2, 1, A, 1};
    cs_put_raw(&buf, head, sizeof head);
    cs_put_uvarint(&buf, CS_DVVSET_VALUE_BYTES_MAX + 1);
    CS_CHECK_RC(decode_rc(big, buf.len), CS_ETOOBIG);

    /* Sibling count at the limit decodes; one past it is CS_ETOOBIG. */
    for (int extra = 0; extra <= 1; extra++) {
        size_t count = CS_DVVSET_SIBLINGS_MAX + (size_t)extra;
        struct cs_buf many;
        cs_buf_init(&many, 4096);
        cs_put_u8(&many, 1);
        cs_put_u8(&many, 1);
        cs_put_uvarint(&many, 1);
        cs_put_uvarint(&many, A);
        cs_put_uvarint(&many, count);
        cs_put_uvarint(&many, count);
        for (size_t i = 1; i <= count; i++) {
            cs_put_uvarint(&many, A);
            cs_put_uvarint(&many, i);
            cs_put_bytes(&many, "v", 1);
        }
        CS_CHECK_RC(decode_rc(many.data, many.len), extra ? CS_ETOOBIG : 0);
        cs_buf_free(&many);
    }
}

CS_TEST_MAIN(CS_CASE(paper_two_blind_writes_then_one_informed),
             CS_CASE(paper_version_vector_false_conflict), CS_CASE(reference_update),
             CS_CASE(reference_join), CS_CASE(reference_sync), CS_CASE(reference_sync_update),
             CS_CASE(reference_less), CS_CASE(discard_keeps_context),
             CS_CASE(event_with_own_context), CS_CASE(siblings_limit), CS_CASE(value_limit),
             CS_CASE(counter_and_context_limits), CS_CASE(sync_conflicting_dot),
             CS_CASE(copy_and_equal), CS_CASE(encode_layout), CS_CASE(decode_rejects))
