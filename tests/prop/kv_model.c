/*
 * kv_model.c: the key-value state machine against a brute-force model, on
 * seeded random commands.
 *
 * Goal: expiry, PURGE, mod indexes and CHECK behave as specified on every
 * interleaving, not only on the cases the unit tests thought of; and
 * applying is deterministic, also across a snapshot. Method: a handful of
 * keys and a clock that wanders (now_ms goes back as well as forward),
 * random commands of 1..4 ops (GET SET+flags+TTL DEL EXISTS INCRBY CAS
 * EXPIRE/PERSIST TTL PURGE, sometimes led by CHECKs) from three client
 * sessions and one without, with retries of a session's last command (which
 * must replay its first reply and change nothing). A plain model written
 * here from the spec (an array of keys; PURGE sorts the due keys) predicts
 * every result field, which keys are still in the map (expired keys stay
 * until touched), the next expiry and the expiry count; cs_kv_check walks the
 * invariants after every step. A second map fed the same bytes must give the
 * same reply bytes, and a third, restored from the first's snapshot midway,
 * too; all three end with identical snapshots. Each planted bug must make
 * some seed fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/kv.h"
#include "testlib.h"

#define MODEL_KEYS  6
#define MODEL_STEPS 300

static const char *const model_names[MODEL_KEYS] = {"a", "b", "c", "d", "e", "f"};

struct model_key {
    bool present; /* in the map, perhaps expired and not yet removed */
    char value[24];
    uint32_t value_len;
    uint64_t expire_at_ms;
    uint64_t mod_index;
};

struct model {
    struct model_key keys[MODEL_KEYS];
    uint64_t clock_ms;
    uint64_t expired_total;
};

static char model_why[512]; /* the first mismatch, for the failure message */

/* What the runs exercised, so a generator that stopped reaching a case shows. */
static struct {
    uint64_t conflicts, checks_passed, purged, expired, keepttl_kept, retries; /* over runs */
} model_seen;

static bool model_expired(const struct model *m, const struct model_key *k)
{
    return k->present && k->expire_at_ms != 0 && k->expire_at_ms <= m->clock_ms;
}

static bool model_live(const struct model *m, const struct model_key *k)
{
    return k->present && !model_expired(m, k);
}

/* An operation looks at its key: an expired key is removed, and absent. */
static struct model_key *model_touch(struct model *m, uint32_t key)
{
    struct model_key *k = &m->keys[key];
    if (model_expired(m, k)) {
        k->present = false;
        m->expired_total++;
    }
    return k;
}

static uint32_t model_key_of(const struct cs_kv_op *op)
{
    for (uint32_t k = 0; k < MODEL_KEYS; k++) {
        if (op->key_len == 1 && op->key[0] == model_names[k][0]) return k;
    }
    CS_CHECK_MSG(false, "unknown key");
    return 0;
}

static void model_put(struct model_key *k, const uint8_t *v, uint32_t v_len, uint64_t at_ms,
                      uint64_t index)
{
    CS_CHECK(v_len < sizeof k->value);
    k->present = true;
    memcpy(k->value, v, v_len);
    k->value_len = v_len;
    k->expire_at_ms = at_ms;
    k->mod_index = index;
}

static void model_report(const struct model_key *k, struct cs_kv_result *res)
{
    res->found = k->present;
    if (!k->present) return;
    res->mod_index = k->mod_index;
    res->expire_at_ms = k->expire_at_ms;
}

/* A copy of the value as it is now, for a result: later ops may change the key. */
static void model_old_value(const struct model_key *k, struct cs_kv_result *res)
{
    static char copies[CS_KV_OPS_MAX][24];
    static uint32_t next;
    char *copy = copies[next++ % CS_KV_OPS_MAX];
    memcpy(copy, k->value, k->value_len);
    res->value = (const uint8_t *)copy;
    res->value_len = k->value_len;
}

static void model_purge(struct model *m, struct cs_kv_result *res)
{
    int64_t removed = 0;
    while (removed < CS_KV_PURGE_KEYS_MAX) { /* the soonest (time, then name) first */
        struct model_key *next = NULL;
        for (uint32_t k = 0; k < MODEL_KEYS; k++) {
            struct model_key *c = &m->keys[k];
            if (model_expired(m, c) && (!next || c->expire_at_ms < next->expire_at_ms)) next = c;
        }
        if (!next) break;
        next->present = false;
        removed++;
    }
    m->expired_total += (uint64_t)removed;
    model_seen.purged += (uint64_t)removed;
    res->number = removed;
}

static void model_set(struct model *m, const struct cs_kv_op *op, uint64_t index,
                      struct cs_kv_result *res)
{
    struct model_key *k = model_touch(m, model_key_of(op));
    res->found = k->present;
    if ((op->flags & CS_KV_SET_GET) && k->present) model_old_value(k, res);
    if ((op->flags & CS_KV_SET_NX) && k->present) {
        res->rc = CS_EEXIST;
    } else if ((op->flags & CS_KV_SET_XX) && !k->present) {
        res->rc = CS_ENOTFOUND;
    } else if (op->expire_at_ms && op->expire_at_ms <= m->clock_ms) {
        if (k->present) m->expired_total++;
        k->present = false;
    } else {
        uint64_t at =
            (op->flags & CS_KV_SET_KEEPTTL) && k->present ? k->expire_at_ms : op->expire_at_ms;
        model_seen.keepttl_kept += (op->flags & CS_KV_SET_KEEPTTL) && at != 0;
        model_put(k, op->value, op->value_len, at, index);
    }
}

static void model_incrby(struct model *m, const struct cs_kv_op *op, uint64_t index,
                         struct cs_kv_result *res)
{
    struct model_key *k = model_touch(m, model_key_of(op));
    long long v = 0;
    if (k->present) {
        char text[32];
        memcpy(text, k->value, k->value_len);
        text[k->value_len] = 0;
        char *end = NULL;
        v = strtoll(text, &end, 10);
        if (k->value_len == 0 || *end) {
            res->rc = CS_EPARSE;
            return;
        }
    }
    char text[24];
    int n = snprintf(text, sizeof text, "%lld", v + op->delta);
    model_put(k, (const uint8_t *)text, (uint32_t)n, k->present ? k->expire_at_ms : 0, index);
    res->number = v + op->delta;
}

static void model_expire(struct model *m, const struct cs_kv_op *op, uint64_t index,
                         struct cs_kv_result *res)
{
    struct model_key *k = model_touch(m, model_key_of(op));
    res->found = k->present;
    if (!k->present) return;
    if (op->flags & CS_KV_EXPIRE_PERSIST) {
        if (k->expire_at_ms == 0) return;
        k->expire_at_ms = 0;
    } else if (op->expire_at_ms <= m->clock_ms) {
        k->present = false;
        m->expired_total++;
    } else {
        k->expire_at_ms = op->expire_at_ms;
    }
    k->mod_index = index;
    res->number = 1;
}

static void model_op(struct model *m, const struct cs_kv_op *op, uint64_t index,
                     struct cs_kv_result *res)
{
    struct model_key *k = NULL;
    switch ((enum cs_kv_op_type)op->type) {
    case CS_KV_GET:
    case CS_KV_EXISTS:
    case CS_KV_TTL:
    case CS_KV_CHECK:
        k = model_touch(m, model_key_of(op));
        model_report(k, res);
        if (op->type == CS_KV_EXISTS) res->number = k->present;
        if (op->type == CS_KV_GET && !k->present) res->rc = CS_ENOTFOUND;
        if (op->type == CS_KV_GET && k->present) model_old_value(k, res);
        return;
    case CS_KV_DEL:
        k = model_touch(m, model_key_of(op));
        res->number = k->present;
        if (!k->present) res->rc = CS_ENOTFOUND;
        k->present = false;
        return;
    case CS_KV_SET:
        model_set(m, op, index, res);
        return;
    case CS_KV_INCRBY:
        model_incrby(m, op, index, res);
        return;
    case CS_KV_CAS: {
        k = model_touch(m, model_key_of(op));
        bool match = (op->flags & CS_KV_CAS_ABSENT)
                         ? !k->present
                         : k->present && k->value_len == op->expected_len &&
                               memcmp(k->value, op->expected, op->expected_len) == 0;
        res->found = k->present;
        if (match) model_put(k, op->value, op->value_len, 0, index);
        if (!match) res->rc = CS_ECONFLICT;
        return;
    }
    case CS_KV_EXPIRE:
        model_expire(m, op, index, res);
        return;
    case CS_KV_PURGE:
        model_purge(m, res);
        return;
    }
    CS_CHECK_MSG(false, "unknown op type %d", op->type);
}

/* The model's reply to cmd at index; values are copies, good for CS_KV_OPS_MAX results. */
static void model_apply(struct model *m, const struct cs_kv_command *cmd, uint64_t index,
                        struct cs_kv_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    if (cmd->now_ms > m->clock_ms) m->clock_ms = cmd->now_ms;
    for (uint32_t k = 0; k < cmd->ops_len && cmd->ops[k].type == CS_KV_CHECK; k++) {
        const struct model_key *key = &m->keys[model_key_of(&cmd->ops[k])];
        if ((model_live(m, key) ? key->mod_index : 0) != cmd->ops[k].expected_index) {
            reply->rc = CS_ECONFLICT;
            model_seen.conflicts++;
            return;
        }
        model_seen.checks_passed++;
    }
    reply->results_len = cmd->ops_len;
    for (uint32_t k = 0; k < cmd->ops_len; k++)
        model_op(m, &cmd->ops[k], index, &reply->results[k]);
}

/* A time near the clock: none, passed, exactly now, or ahead. */
static uint64_t gen_time(struct cs_rng *rng, const struct model *m, bool nonzero)
{
    uint64_t pick = cs_rng_below(rng, 10);
    if (pick < 3 && !nonzero) return 0;
    if (pick < 4) return m->clock_ms > 20 ? m->clock_ms - cs_rng_below(rng, 20) : 1;
    if (pick < 5) return m->clock_ms ? m->clock_ms : 1;
    return m->clock_ms + cs_rng_range(rng, 1, 60);
}

static char gen_values[CS_KV_OPS_MAX][2][24]; /* the bytes the generated ops point to */

static struct cs_kv_op gen_op(struct cs_rng *rng, const struct model *m, uint32_t slot,
                              uint8_t type)
{
    struct cs_kv_op o;
    memset(&o, 0, sizeof o);
    o.type = type;
    const struct model_key *k = &m->keys[cs_rng_below(rng, MODEL_KEYS)];
    o.key = (const uint8_t *)model_names[k - m->keys];
    o.key_len = 1;
    char *value = gen_values[slot][0], *expected = gen_values[slot][1];
    if (cs_rng_chance(rng, 1, 8)) {
        strcpy(value, "x");
    } else {
        snprintf(value, 24, "%d", (int)cs_rng_below(rng, 20) - 5);
    }
    switch ((enum cs_kv_op_type)type) {
    case CS_KV_SET:
        o.flags = (uint8_t)cs_rng_below(rng, 16);
        if ((o.flags & CS_KV_SET_NX) && (o.flags & CS_KV_SET_XX)) o.flags &= ~CS_KV_SET_XX;
        if (!(o.flags & CS_KV_SET_KEEPTTL)) o.expire_at_ms = gen_time(rng, m, false);
        break;
    case CS_KV_INCRBY:
        o.delta = (int64_t)cs_rng_below(rng, 11) - 5;
        break;
    case CS_KV_CAS:
        o.flags = cs_rng_chance(rng, 1, 3) ? CS_KV_CAS_ABSENT : 0;
        memcpy(expected, k->value, k->value_len); /* the stored value, live or not */
        expected[k->value_len] = 0;
        if (cs_rng_chance(rng, 1, 3)) strcpy(expected, "7");
        o.expected = (const uint8_t *)expected;
        o.expected_len = (uint32_t)strlen(expected);
        break;
    case CS_KV_EXPIRE:
        if (cs_rng_chance(rng, 1, 3)) {
            o.flags = CS_KV_EXPIRE_PERSIST;
        } else {
            o.expire_at_ms = gen_time(rng, m, true);
        }
        break;
    case CS_KV_PURGE:
        o.key = NULL;
        o.key_len = 0;
        break;
    case CS_KV_CHECK: { /* the stored mod_index (live or not), absent, or a wrong one */
        uint64_t pick = cs_rng_below(rng, 5);
        o.expected_index = pick < 3 && k->present ? k->mod_index : pick < 4 ? 0 : 1 + pick;
        break;
    }
    case CS_KV_GET:
    case CS_KV_DEL:
    case CS_KV_EXISTS:
    case CS_KV_TTL:
        break;
    }
    if (type == CS_KV_SET || type == CS_KV_CAS) {
        o.value = (const uint8_t *)value;
        o.value_len = (uint32_t)strlen(value);
    }
    return o;
}

static void gen_command(struct cs_rng *rng, const struct model *m, struct cs_kv_command *cmd)
{
    static const uint8_t types[] = {CS_KV_GET,    CS_KV_SET,    CS_KV_SET,    CS_KV_SET,
                                    CS_KV_DEL,    CS_KV_EXISTS, CS_KV_INCRBY, CS_KV_CAS,
                                    CS_KV_EXPIRE, CS_KV_EXPIRE, CS_KV_TTL,    CS_KV_PURGE};
    memset(cmd, 0, sizeof *cmd);
    /* The clock wanders: mostly forward, sometimes a server whose clock is behind. */
    uint64_t step = cs_rng_below(rng, 40);
    cmd->now_ms = m->clock_ms + step >= 20 ? m->clock_ms + step - 20 : 0;
    uint32_t checks = cs_rng_chance(rng, 1, 4) ? (uint32_t)cs_rng_range(rng, 1, 2) : 0;
    cmd->ops_len = checks + (uint32_t)cs_rng_range(rng, checks ? 0 : 1, 3);
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        uint8_t type = k < checks ? CS_KV_CHECK : types[cs_rng_below(rng, sizeof types)];
        cmd->ops[k] = gen_op(rng, m, k, type);
    }
}

static bool same_result(const struct cs_kv_result *got, const struct cs_kv_result *want)
{
    return got->rc == want->rc && got->found == want->found && got->number == want->number &&
           got->mod_index == want->mod_index && got->expire_at_ms == want->expire_at_ms &&
           got->value_len == want->value_len &&
           (want->value_len == 0 || memcmp(got->value, want->value, want->value_len) == 0);
}

/* The map as the model says it is: which keys are in it, what is live, the next expiry. */
static bool same_state(const struct cs_kv *kv, const struct model *m)
{
    uint64_t present = 0, next = 0;
    for (uint32_t k = 0; k < MODEL_KEYS; k++) {
        const struct model_key *key = &m->keys[k];
        present += key->present;
        if (key->present && key->expire_at_ms && (!next || key->expire_at_ms < next)) {
            next = key->expire_at_ms;
        }
        struct cs_kv_meta meta;
        int rc = cs_kv_get_meta(kv, model_names[k], 1, 0, &meta);
        if ((rc == 0) != model_live(m, key)) return false;
        if (rc == 0 &&
            (meta.mod_index != key->mod_index || meta.expire_at_ms != key->expire_at_ms ||
             meta.value_len != key->value_len ||
             memcmp(meta.value, key->value, key->value_len) != 0)) {
            return false;
        }
    }
    return cs_kv_keys(kv) == present && cs_kv_next_expiry(kv) == next &&
           cs_kv_clock_ms(kv) == m->clock_ms && cs_kv_expired_total(kv) == m->expired_total &&
           cs_kv_check(kv) == 0;
}

#define MODEL_CLIENTS 4 /* client 0 has no session */

struct run {
    struct cs_kv *maps[3]; /* checked against the model; fed the same bytes; restored midway */
    struct cs_buf cmd, replies[3], snaps[3];
    struct model model;
    uint64_t seqs[MODEL_CLIENTS];
    struct cs_buf sent[MODEL_CLIENTS], answered[MODEL_CLIENTS]; /* each session's last */
};

static void copy_bytes(struct cs_buf *to, const struct cs_buf *from)
{
    cs_buf_reset(to);
    CS_CHECK_OK(cs_put_raw(to, from->data, from->len));
}

/*
 * The command of this step: a new one from a random client, or a client's
 * last command sent again (a retry after a lost reply). *retry says which.
 */
static void run_command(struct run *r, struct cs_rng *rng, struct cs_kv_command *cmd,
                        uint32_t *client, bool *retry)
{
    *client = (uint32_t)cs_rng_below(rng, MODEL_CLIENTS);
    *retry = *client && r->seqs[*client] && cs_rng_chance(rng, 1, 6);
    if (*retry) {
        copy_bytes(&r->cmd, &r->sent[*client]);
        CS_CHECK_OK(cs_kv_command_decode(r->cmd.data, r->cmd.len, cmd));
        return;
    }
    gen_command(rng, &r->model, cmd);
    cmd->client_id = *client;
    cmd->seq = *client ? ++r->seqs[*client] : 0;
    cs_buf_reset(&r->cmd);
    CS_CHECK_OK(cs_kv_command_encode(cmd, &r->cmd));
    if (*client) copy_bytes(&r->sent[*client], &r->cmd);
}

/* What the map should answer: the model's reply, or for a retry the first reply replayed. */
static void run_expect(struct run *r, const struct cs_kv_command *cmd, uint64_t index,
                       uint32_t client, bool retry, struct cs_kv_reply *want)
{
    if (!retry) {
        model_apply(&r->model, cmd, index, want);
        if (client) copy_bytes(&r->answered[client], &r->replies[0]);
        return;
    }
    if (cmd->now_ms > r->model.clock_ms) r->model.clock_ms = cmd->now_ms;
    const struct cs_buf *first = &r->answered[client];
    CS_CHECK_OK(cs_kv_reply_decode(first->data, first->len, want));
    want->rc = want->rc == CS_ECONFLICT ? CS_ECONFLICT : CS_EEXIST;
}

static bool run_step(struct run *r, struct cs_rng *rng, uint64_t index, uint32_t maps)
{
    static struct cs_kv_command cmd;
    uint32_t client = 0;
    bool retry = false;
    run_command(r, rng, &cmd, &client, &retry);
    for (uint32_t k = 0; k < maps; k++) {
        cs_buf_reset(&r->replies[k]);
        CS_CHECK_OK(cs_kv_apply(r->maps[k], index, r->cmd.data, r->cmd.len, &r->replies[k]));
        if (k > 0 && (r->replies[k].len != r->replies[0].len ||
                      memcmp(r->replies[k].data, r->replies[0].data, r->replies[0].len) != 0)) {
            snprintf(model_why, sizeof model_why, "step %" PRIu64 ": map %u replied otherwise",
                     index, k);
            return false;
        }
    }
    struct cs_kv_reply got, want;
    CS_CHECK_OK(cs_kv_reply_decode(r->replies[0].data, r->replies[0].len, &got));
    run_expect(r, &cmd, index, client, retry, &want);
    model_seen.retries += retry;
    bool same = got.rc == want.rc && got.results_len == want.results_len;
    for (uint32_t k = 0; same && k < got.results_len; k++) {
        same = same_result(&got.results[k], &want.results[k]);
        if (!same) {
            const struct cs_kv_result *g = &got.results[k], *w = &want.results[k];
            snprintf(model_why, sizeof model_why,
                     "step %" PRIu64
                     " op %u (type %d flags %d): rc %d/%d found %d/%d number %" PRId64 "/%" PRId64
                     " mod %" PRIu64 "/%" PRIu64 " expire %" PRIu64 "/%" PRIu64
                     " value_len %u/%u (got/want)",
                     index, k, cmd.ops[k].type, cmd.ops[k].flags, g->rc, w->rc, g->found, w->found,
                     g->number, w->number, g->mod_index, w->mod_index, g->expire_at_ms,
                     w->expire_at_ms, g->value_len, w->value_len);
        }
    }
    if (same && !same_state(r->maps[0], &r->model)) {
        snprintf(model_why, sizeof model_why, "step %" PRIu64 ": state", index);
        same = false;
    }
    if (!same && !model_why[0]) {
        snprintf(model_why, sizeof model_why, "step %" PRIu64 ": reply rc %d want %d", index,
                 got.rc, want.rc);
    }
    return same;
}

/* One seeded run; false (and model_why) at the first difference from the model or between maps. */
static bool run_seed(uint64_t seed, uint32_t bugs)
{
    cs_test_seed_set(seed);
    struct cs_rng *rng = cs_test_rng();
    static struct run r;
    memset(&r, 0, sizeof r);
    model_why[0] = 0;
    cs_buf_init(&r.cmd, CS_KV_COMMAND_BYTES_MAX);
    for (uint32_t c = 0; c < MODEL_CLIENTS; c++) {
        cs_buf_init(&r.sent[c], CS_KV_COMMAND_BYTES_MAX);
        cs_buf_init(&r.answered[c], CS_KV_REPLY_BYTES_MAX);
    }
    for (uint32_t k = 0; k < 3; k++) {
        CS_CHECK_OK(cs_kv_new(&r.maps[k]));
        cs_kv_set_bugs(r.maps[k], bugs);
        cs_buf_init(&r.replies[k], CS_KV_REPLY_BYTES_MAX);
        cs_buf_init(&r.snaps[k], CS_KV_SNAPSHOT_BYTES_MAX);
    }
    uint64_t cut = cs_rng_range(rng, 1, MODEL_STEPS);
    bool ok = true;
    for (uint64_t index = 1; ok && index <= MODEL_STEPS; index++) {
        if (index == cut) {
            CS_CHECK_OK(cs_kv_snapshot(r.maps[0], &r.snaps[0]));
            CS_CHECK_OK(cs_kv_restore(r.maps[2], r.snaps[0].data, r.snaps[0].len));
        }
        ok = run_step(&r, rng, index, index >= cut ? 3 : 2);
    }
    model_seen.expired += r.model.expired_total;
    for (uint32_t k = 0; ok && k < 3; k++) {
        cs_buf_reset(&r.snaps[k]);
        CS_CHECK_OK(cs_kv_snapshot(r.maps[k], &r.snaps[k]));
        ok = r.snaps[k].len == r.snaps[0].len &&
             memcmp(r.snaps[k].data, r.snaps[0].data, r.snaps[0].len) == 0;
        if (!ok) snprintf(model_why, sizeof model_why, "final snapshot of map %u differs", k);
    }
    for (uint32_t k = 0; k < 3; k++) {
        cs_kv_free(r.maps[k]);
        cs_buf_free(&r.replies[k]);
        cs_buf_free(&r.snaps[k]);
    }
    cs_buf_free(&r.cmd);
    for (uint32_t c = 0; c < MODEL_CLIENTS; c++) {
        cs_buf_free(&r.sent[c]);
        cs_buf_free(&r.answered[c]);
    }
    return ok;
}

CS_TEST(model_agrees)
{
    uint64_t seeds = cs_test_seeds(200);
    memset(&model_seen, 0, sizeof model_seen);
    for (uint64_t s = 0; s < seeds; s++) {
        uint64_t seed = cs_test_seed() + s;
        CS_CHECK_MSG(run_seed(seed, 0), "seed %" PRIu64 ": %s", seed, model_why);
    }
    /* Every case of interest came up, a few times per seed on average. */
    CS_CHECK(model_seen.conflicts >= seeds && model_seen.checks_passed >= seeds);
    CS_CHECK(model_seen.purged >= seeds && model_seen.keepttl_kept >= seeds);
    CS_CHECK(model_seen.retries >= seeds);
    CS_CHECK(model_seen.expired > 2 * model_seen.purged); /* most by touch or a past time */
}

/* Each planted bug makes some seed of the first 50 disagree with the model. */
CS_TEST(planted_bugs_caught)
{
    const uint32_t bugs[] = {CS_KV_BUG_PURGE_IGNORES_CLOCK, CS_KV_BUG_PERSIST_STALE_INDEX,
                             CS_KV_BUG_CHECK_SEES_EXPIRED};
    for (size_t b = 0; b < sizeof bugs / sizeof bugs[0]; b++) {
        bool caught = false;
        for (uint64_t seed = 1; !caught && seed <= 50; seed++)
            caught = !run_seed(seed, bugs[b]);
        CS_CHECK_MSG(caught, "planted bug %#x not caught", bugs[b]);
    }
}

CS_TEST_MAIN(CS_CASE(model_agrees), CS_CASE(planted_bugs_caught))
