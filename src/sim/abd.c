/*
 * abd.c: the ABD quorum register (Attiya, Bar-Noy, Dolev 1995, multi-writer
 * form) as a sans-IO simulator node: the first protocol under test.
 *
 * The one idea: any two majorities intersect. A write first learns the
 * highest timestamp from a majority, then stores (counter + 1, self) at a
 * majority; a read learns the highest (timestamp, value) from a majority and
 * writes it back to a majority before returning, so no later read can see
 * an older value. Every node is both a replica and a coordinator; a node
 * sends to itself through a small inbox drained at the end of each callback.
 *
 * Durability: a replica acknowledges a store only once the state holding a
 * timestamp at least as high is synced. The state lives in two disk slots
 * written alternately, each with a CRC, so a torn write can only damage the
 * slot being written, never the last durable copy.
 *
 * Planted bugs: writeback = false skips the read's second phase;
 * ack_before_sync acknowledges before the sync (the invariant catches it).
 */
#include <string.h>

#include "base/assert.h"
#include "sim/protocols.h"

enum abd_msg_type {
    ABD_QUERY = 1,
    ABD_QUERY_REPLY = 2,
    ABD_STORE = 3,
    ABD_STORE_ACK = 4,
};

#define ABD_TICK_TIMER 0
#define ABD_TICK_US    20000
#define ABD_SLOT_BYTES 33 /* counter u64, node u32, op_id u64, nil u8, value u64, crc u32 */

static int ts_cmp(struct sim_abd_ts a, struct sim_abd_ts b)
{
    if (a.counter != b.counter) return a.counter < b.counter ? -1 : 1;
    if (a.node != b.node) return a.node < b.node ? -1 : 1;
    if (a.op_id != b.op_id) return a.op_id < b.op_id ? -1 : 1;
    return 0;
}

static uint32_t majority(const struct sim_abd_node *n)
{
    return n->nodes_len / 2 + 1;
}

/* --- wire format ------------------------------------------------------------ */

int sim_abd_msg_encode(const struct sim_abd_msg *msg, struct cs_buf *out)
{
    cs_put_u8(out, msg->type);
    cs_put_uvarint(out, msg->op_id);
    if (msg->type == ABD_QUERY_REPLY || msg->type == ABD_STORE) {
        cs_put_uvarint(out, msg->ts.counter);
        cs_put_uvarint(out, msg->ts.node);
        cs_put_u64le(out, msg->ts.op_id);
        cs_put_u8(out, msg->nil ? 1 : 0);
        cs_put_svarint(out, msg->value);
    }
    return cs_buf_error(out);
}

int sim_abd_msg_decode(const uint8_t *bytes, size_t len, struct sim_abd_msg *out)
{
    struct cs_reader r;
    cs_reader_init(&r, bytes, len);
    memset(out, 0, sizeof *out);
    uint64_t node = 0;
    uint8_t nil = 0;
    cs_get_u8(&r, &out->type);
    cs_get_uvarint(&r, &out->op_id);
    if (out->type == ABD_QUERY_REPLY || out->type == ABD_STORE) {
        cs_get_uvarint(&r, &out->ts.counter);
        cs_get_uvarint_max(&r, &node, CS_SIM_NODES_MAX - 1);
        cs_get_u64le(&r, &out->ts.op_id);
        cs_get_u8(&r, &nil);
        cs_get_svarint(&r, &out->value);
    } else if (out->type != ABD_QUERY && out->type != ABD_STORE_ACK) {
        return CS_EDECODE;
    }
    if (cs_reader_end(&r) != 0 || nil > 1) return CS_EDECODE;
    out->ts.node = (uint32_t)node;
    out->nil = nil == 1;
    /* The initial nil has timestamp (0, 0) and only it. */
    bool has_ts = out->type == ABD_QUERY_REPLY || out->type == ABD_STORE;
    if (has_ts && out->nil != (out->ts.counter == 0)) return CS_EDECODE;
    return 0;
}

static void abd_send(struct sim_abd_node *n, struct cs_sim_ctx *ctx, uint32_t to,
                     const struct sim_abd_msg *msg)
{
    if (to == n->id) {
        /* A full inbox drops the message, as a network may; the retry tick recovers. */
        if (n->inbox_len < SIM_ABD_INBOX_MAX) n->inbox[n->inbox_len++] = *msg;
        return;
    }
    uint8_t mem[64];
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, mem, sizeof mem);
    CS_ASSERT(sim_abd_msg_encode(msg, &buf) == 0);
    CS_ASSERT(cs_sim_send(ctx, to, buf.data, buf.len) == 0);
}

/* --- disk: two alternating CRC'd slots -------------------------------------------- */

static void slot_key(uint32_t slot, char key[2])
{
    key[0] = 's';
    key[1] = (char)('0' + slot);
}

static void slot_encode(const struct sim_abd_node *n, uint8_t out[ABD_SLOT_BYTES])
{
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, out, ABD_SLOT_BYTES);
    cs_put_u64le(&buf, n->ts.counter);
    cs_put_u32le(&buf, n->ts.node);
    cs_put_u64le(&buf, n->ts.op_id);
    cs_put_u8(&buf, n->nil ? 1 : 0);
    cs_put_u64le(&buf, (uint64_t)n->value);
    cs_put_u32le(&buf, cs_crc32c(0, out, ABD_SLOT_BYTES - 4));
    CS_ASSERT(buf.err == 0 && buf.len == ABD_SLOT_BYTES);
}

/* slot_decode: 0, or CS_ECORRUPT for a missing, torn or damaged slot. */
static int slot_decode(const uint8_t *bytes, size_t len, struct sim_abd_node *into)
{
    if (len != ABD_SLOT_BYTES) return CS_ECORRUPT;
    struct cs_reader r;
    cs_reader_init(&r, bytes, len);
    uint64_t counter = 0, op_id = 0, value = 0;
    uint32_t node = 0, crc = 0;
    uint8_t nil = 0;
    cs_get_u64le(&r, &counter);
    cs_get_u32le(&r, &node);
    cs_get_u64le(&r, &op_id);
    cs_get_u8(&r, &nil);
    cs_get_u64le(&r, &value);
    cs_get_u32le(&r, &crc);
    if (cs_reader_end(&r) != 0 || crc != cs_crc32c(0, bytes, ABD_SLOT_BYTES - 4)) {
        return CS_ECORRUPT;
    }
    into->ts = (struct sim_abd_ts){counter, node, op_id};
    into->nil = nil == 1;
    into->value = (int64_t)value;
    return 0;
}

/* persist: write the state to the next slot and sync it. False if the disk is saturated. */
static bool persist(struct sim_abd_node *n, struct cs_sim_ctx *ctx)
{
    if (n->syncs_len == SIM_ABD_SYNCS_MAX) return false;
    uint8_t slot[ABD_SLOT_BYTES];
    char key[2];
    slot_encode(n, slot);
    slot_key(n->slot_next, key);
    if (cs_sim_disk_put(ctx->disk, key, sizeof key, slot, sizeof slot) != 0) return false;
    n->slot_next ^= 1;
    uint64_t id = n->sync_next++;
    n->syncs[n->syncs_len].sync_id = id;
    n->syncs[n->syncs_len].ts = n->ts;
    n->syncs_len++;
    CS_ASSERT(cs_sim_sync(ctx, id) == 0);
    return true;
}

/* --- replica --------------------------------------------------------------------- */

static void ack_store(struct sim_abd_node *n, struct cs_sim_ctx *ctx, uint32_t to, uint64_t op_id,
                      struct sim_abd_ts ts)
{
    if (ts_cmp(ts, n->ghost_acked_max) > 0) n->ghost_acked_max = ts;
    struct sim_abd_msg ack = {.type = ABD_STORE_ACK, .op_id = op_id};
    abd_send(n, ctx, to, &ack);
}

static void replica_store(struct sim_abd_node *n, struct cs_sim_ctx *ctx, uint32_t from,
                          const struct sim_abd_msg *m)
{
    if (ts_cmp(m->ts, n->ts) > 0) {
        struct sim_abd_ts old_ts = n->ts;
        bool old_nil = n->nil;
        int64_t old_value = n->value;
        n->ts = m->ts;
        n->nil = m->nil;
        n->value = m->value;
        if (!persist(n, ctx)) {
            /* Could not write: forget the store; the coordinator will ask again. */
            n->ts = old_ts;
            n->nil = old_nil;
            n->value = old_value;
            return;
        }
    }
    if (n->ack_before_sync || ts_cmp(n->durable_ts, m->ts) >= 0) {
        ack_store(n, ctx, from, m->op_id, m->ts);
        return;
    }
    if (n->acks_len == SIM_ABD_ACKS_MAX) return; /* dropped; the coordinator retries */
    n->acks[n->acks_len++] = (struct sim_abd_ack){from, m->op_id, m->ts};
}

static void replica_synced(struct sim_abd_node *n, struct cs_sim_ctx *ctx, uint64_t sync_id)
{
    /* Syncs complete in issue order: the first in flight is this one. */
    CS_ASSERT(n->syncs_len > 0);
    CS_ASSERT(n->syncs[0].sync_id == sync_id);
    struct sim_abd_ts ts = n->syncs[0].ts;
    memmove(&n->syncs[0], &n->syncs[1], (n->syncs_len - 1) * sizeof n->syncs[0]);
    n->syncs_len--;
    CS_ASSERT(ts_cmp(ts, n->durable_ts) >= 0);
    n->durable_ts = ts;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n->acks_len; i++) {
        struct sim_abd_ack a = n->acks[i];
        if (ts_cmp(n->durable_ts, a.needed) >= 0) {
            ack_store(n, ctx, a.to, a.op_id, a.needed);
        } else {
            n->acks[kept++] = a;
        }
    }
    n->acks_len = kept;
}

/* --- coordinator ----------------------------------------------------------------- */

static struct sim_abd_op *op_find(struct sim_abd_node *n, uint64_t op_id)
{
    for (uint32_t i = 0; i < SIM_ABD_OPS_MAX; i++) {
        if (n->ops[i].active && n->ops[i].op_id == op_id) return &n->ops[i];
    }
    return NULL;
}

/* op_broadcast: (re)send the op's current phase to every node that has not answered it. */
static void op_broadcast(struct sim_abd_node *n, struct cs_sim_ctx *ctx, struct sim_abd_op *op)
{
    struct sim_abd_msg m = {.type = op->storing ? ABD_STORE : ABD_QUERY, .op_id = op->op_id};
    if (op->storing) {
        m.ts = op->best_ts;
        m.nil = op->best_nil;
        m.value = op->best_value;
    }
    for (uint32_t to = 0; to < n->nodes_len; to++) {
        if (!(op->replied_mask >> to & 1)) abd_send(n, ctx, to, &m);
    }
}

static void op_finish(struct sim_abd_node *n, struct cs_sim_ctx *ctx, struct sim_abd_op *op,
                      enum cs_sim_outcome outcome, int error)
{
    struct cs_sim_reply reply = {.request_id = op->req.id, .outcome = outcome, .error = error};
    if (outcome == CS_SIM_OK && op->req.f == CS_SIM_F_READ) {
        reply.value_nil = op->best_nil;
        reply.value = op->best_value;
    }
    CS_ASSERT(cs_sim_reply(ctx, &reply) == 0);
    op->active = false;
    (void)n;
}

static void op_store_phase(struct sim_abd_node *n, struct cs_sim_ctx *ctx, struct sim_abd_op *op)
{
    CS_ASSERT(!op->storing);
    if (op->req.f == CS_SIM_F_WRITE) {
        op->best_ts = (struct sim_abd_ts){op->best_ts.counter + 1, n->id, op->op_id};
        op->best_nil = false;
        op->best_value = op->req.value;
    } else if (!n->writeback) {
        op_finish(n, ctx, op, CS_SIM_OK, 0); /* the planted bug: no write-back */
        return;
    }
    op->storing = true;
    op->replied_mask = 0;
    op->retries = 0;
    op_broadcast(n, ctx, op);
}

static void coordinator_reply(struct sim_abd_node *n, struct cs_sim_ctx *ctx, uint32_t from,
                              const struct sim_abd_msg *m)
{
    struct sim_abd_op *op = op_find(n, m->op_id);
    if (op == NULL) return; /* finished, or from before a crash */
    bool is_query_reply = m->type == ABD_QUERY_REPLY;
    if (is_query_reply == op->storing) return; /* a late reply to the other phase */
    if (op->replied_mask >> from & 1) return;  /* a duplicate */
    op->replied_mask |= 1u << from;
    if (is_query_reply && ts_cmp(m->ts, op->best_ts) > 0) {
        op->best_ts = m->ts;
        op->best_nil = m->nil;
        op->best_value = m->value;
    }
    if ((uint32_t)__builtin_popcount(op->replied_mask) < majority(n)) return;
    if (is_query_reply) {
        op_store_phase(n, ctx, op);
    } else {
        op_finish(n, ctx, op, CS_SIM_OK, 0);
    }
}

static void coordinator_start(struct sim_abd_node *n, struct cs_sim_ctx *ctx,
                              const struct cs_sim_request *req)
{
    if (req->f != CS_SIM_F_READ && req->f != CS_SIM_F_WRITE) {
        struct cs_sim_reply r = {.request_id = req->id, .outcome = CS_SIM_FAIL, .error = CS_EINVAL};
        CS_ASSERT(cs_sim_reply(ctx, &r) == 0);
        return;
    }
    struct sim_abd_op *op = NULL;
    for (uint32_t i = 0; i < SIM_ABD_OPS_MAX && op == NULL; i++) {
        if (!n->ops[i].active) op = &n->ops[i];
    }
    if (op == NULL) {
        struct cs_sim_reply r = {.request_id = req->id, .outcome = CS_SIM_FAIL, .error = CS_EBUSY};
        CS_ASSERT(cs_sim_reply(ctx, &r) == 0);
        return;
    }
    memset(op, 0, sizeof *op);
    op->active = true;
    op->op_id = cs_rng_u64(ctx->rng); /* unique across this node's crashes, from its own stream */
    op->req = *req;
    op->best_nil = true;
    op_broadcast(n, ctx, op);
    if (!n->ticking) {
        n->ticking = true;
        CS_ASSERT(cs_sim_timer_set(ctx, ABD_TICK_TIMER, ABD_TICK_US) == 0);
    }
}

/* --- dispatch -------------------------------------------------------------------- */

static void handle(struct sim_abd_node *n, struct cs_sim_ctx *ctx, uint32_t from,
                   const struct sim_abd_msg *m)
{
    switch ((enum abd_msg_type)m->type) {
    case ABD_QUERY: {
        struct sim_abd_msg r = {ABD_QUERY_REPLY, m->op_id, n->ts, n->nil, n->value};
        abd_send(n, ctx, from, &r);
        return;
    }
    case ABD_STORE:
        replica_store(n, ctx, from, m);
        return;
    case ABD_QUERY_REPLY:
    case ABD_STORE_ACK:
        coordinator_reply(n, ctx, from, m);
        return;
    }
    CS_UNREACHABLE();
}

/* drain: deliver the messages this node sent itself (each may send more, bounded by the inbox). */
static void drain(struct sim_abd_node *n, struct cs_sim_ctx *ctx)
{
    for (uint32_t rounds = 0; n->inbox_len > 0; rounds++) {
        /*
         * Bounded: per op a callback delivers at most query, reply, store and
         * ack to itself, plus the acks a sync releases.
         */
        CS_ASSERT(rounds < 4 * SIM_ABD_OPS_MAX + SIM_ABD_ACKS_MAX);
        struct sim_abd_msg m = n->inbox[0];
        memmove(&n->inbox[0], &n->inbox[1], (n->inbox_len - 1) * sizeof m);
        n->inbox_len--;
        handle(n, ctx, n->id, &m);
    }
}

static void abd_on_message(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *bytes,
                           size_t bytes_len)
{
    struct sim_abd_node *n = node;
    struct sim_abd_msg m;
    if (sim_abd_msg_decode(bytes, bytes_len, &m) != 0) return; /* malformed: ignore */
    handle(n, ctx, from, &m);
    drain(n, ctx);
}

static void abd_on_request(void *node, struct cs_sim_ctx *ctx, const struct cs_sim_request *req)
{
    struct sim_abd_node *n = node;
    coordinator_start(n, ctx, req);
    drain(n, ctx);
}

static void abd_on_sync(void *node, struct cs_sim_ctx *ctx, uint64_t sync_id)
{
    struct sim_abd_node *n = node;
    replica_synced(n, ctx, sync_id);
    drain(n, ctx);
}

static void abd_on_timer(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    struct sim_abd_node *n = node;
    CS_ASSERT(timer_id == ABD_TICK_TIMER);
    bool any = false;
    for (uint32_t i = 0; i < SIM_ABD_OPS_MAX; i++) {
        struct sim_abd_op *op = &n->ops[i];
        if (!op->active) continue;
        if (++op->retries > SIM_ABD_RETRIES_MAX) {
            op_finish(n, ctx, op, CS_SIM_INFO, CS_ETIMEOUT);
            continue;
        }
        op_broadcast(n, ctx, op);
        any = true;
    }
    n->ticking = any;
    if (any) CS_ASSERT(cs_sim_timer_set(ctx, ABD_TICK_TIMER, ABD_TICK_US) == 0);
    drain(n, ctx);
}

/* --- lifecycle ------------------------------------------------------------------- */

static void volatile_reset(struct sim_abd_node *n)
{
    n->ts = (struct sim_abd_ts){0, 0, 0};
    n->nil = true;
    n->value = 0;
    n->durable_ts = n->ts;
    n->slot_next = 0;
    n->syncs_len = 0;
    n->acks_len = 0;
    n->inbox_len = 0;
    n->ticking = false;
    memset(n->ops, 0, sizeof n->ops);
}

void sim_abd_node_init(struct sim_abd_node *node, bool writeback)
{
    memset(node, 0, sizeof *node);
    node->writeback = writeback;
    volatile_reset(node);
}

static int abd_init(void *node, struct cs_sim_ctx *ctx)
{
    struct sim_abd_node *n = node;
    CS_ASSERT(ctx->nodes_len <= CS_SIM_NODES_MAX);
    n->id = ctx->node_id;
    n->nodes_len = ctx->nodes_len;
    n->up = true;
    return 0;
}

static void abd_on_crash(void *node)
{
    struct sim_abd_node *n = node;
    volatile_reset(n);
    n->up = false;
}

static int abd_on_restart(void *node, struct cs_sim_ctx *ctx)
{
    struct sim_abd_node *n = node;
    struct sim_abd_node slots[2];
    bool valid[2] = {false, false};
    for (uint32_t s = 0; s < 2; s++) {
        char key[2];
        const uint8_t *v;
        size_t len;
        slot_key(s, key);
        valid[s] = cs_sim_disk_get(ctx->disk, key, sizeof key, &v, &len) == 0 &&
                   slot_decode(v, len, &slots[s]) == 0;
    }
    volatile_reset(n);
    for (uint32_t s = 0; s < 2; s++) {
        if (!valid[s] || ts_cmp(slots[s].ts, n->ts) <= 0) continue;
        n->ts = slots[s].ts;
        n->nil = slots[s].nil;
        n->value = slots[s].value;
        n->slot_next = s ^ 1; /* never overwrite the copy we recovered from */
    }
    n->durable_ts = n->ts;
    n->ghost_last_ts = n->ts;
    n->up = true;
    return 0;
}

/*
 * The invariants: a replica's timestamp never goes back within an
 * incarnation; across a crash it never falls below what it acknowledged
 * (the durability promise ABD's quorum intersection rests on); and what is
 * durable never runs ahead of what is held.
 */
static int abd_check(void *node)
{
    struct sim_abd_node *n = node;
    if (!n->up) return 0;
    int bad = 0;
    if (ts_cmp(n->ts, n->ghost_last_ts) < 0) bad = 1;
    if (ts_cmp(n->ts, n->ghost_acked_max) < 0) bad = 1;
    if (ts_cmp(n->durable_ts, n->ts) > 0) bad = 1;
    if (n->nil != (n->ts.counter == 0)) bad = 1;
    n->ghost_last_ts = n->ts;
    return bad;
}

const struct cs_sim_node_ops sim_abd_ops = {
    .name = "abd",
    .init = abd_init,
    .on_message = abd_on_message,
    .on_timer = abd_on_timer,
    .on_client_request = abd_on_request,
    .on_sync = abd_on_sync,
    .on_crash = abd_on_crash,
    .on_restart = abd_on_restart,
    .check_invariants = abd_check,
};
