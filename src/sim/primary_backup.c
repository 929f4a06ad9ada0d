/*
 * primary_backup.c: a primary-backup register with asynchronous replication,
 * a deliberately unsafe protocol under test.
 *
 * The one idea (and the bug): the primary acknowledges a write once it is
 * durable on the primary alone and ships it to the backups afterwards. When
 * the backups stop hearing the primary (a crash, a partition, a pause), the
 * next node in id order takes over with whatever it had received: writes the
 * old primary acknowledged are lost, and reads served by either side can go
 * back in time. The simulator must catch this within a bounded number of
 * seeds; see tests/sim/sim_abd.c.
 *
 * Roles: the node that believes itself primary serves reads from its own
 * copy and writes as above; any other node refuses client requests with
 * CS_ENOTLEADER (a definite failure). Heartbeats carry (epoch, primary); a
 * node adopts any higher epoch it hears.
 */
#include <string.h>

#include "base/assert.h"
#include "sim/protocols.h"

enum pb_msg_type {
    PB_HEARTBEAT = 1, /* epoch, primary */
    PB_REPLICATE = 2, /* epoch, primary, version, nil, value */
};

#define PB_TICK_TIMER    0
#define PB_TICK_US       10000
#define PB_SUSPECT_US    60000 /* silence after which the next node takes over */
#define PB_MSG_BYTES_MAX 48

static void pb_broadcast(struct sim_pb_node *n, struct cs_sim_ctx *ctx, uint8_t type)
{
    uint8_t mem[PB_MSG_BYTES_MAX];
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, mem, sizeof mem);
    cs_put_u8(&buf, type);
    cs_put_uvarint(&buf, n->epoch);
    cs_put_uvarint(&buf, n->primary);
    if (type == PB_REPLICATE) {
        cs_put_uvarint(&buf, n->version);
        cs_put_u8(&buf, n->nil ? 1 : 0);
        cs_put_svarint(&buf, n->value);
    }
    CS_ASSERT(buf.err == 0);
    for (uint32_t to = 0; to < n->nodes_len; to++) {
        if (to != n->id) CS_ASSERT(cs_sim_send(ctx, to, buf.data, buf.len) == 0);
    }
}

static void pb_persist(struct sim_pb_node *n, struct cs_sim_ctx *ctx)
{
    uint8_t mem[PB_MSG_BYTES_MAX];
    struct cs_buf buf;
    cs_buf_init_fixed(&buf, mem, sizeof mem);
    cs_put_uvarint(&buf, n->epoch);
    cs_put_uvarint(&buf, n->primary);
    cs_put_uvarint(&buf, n->version);
    cs_put_u8(&buf, n->nil ? 1 : 0);
    cs_put_svarint(&buf, n->value);
    cs_put_u32le(&buf, cs_crc32c(0, mem, buf.len));
    CS_ASSERT(buf.err == 0);
    /* One key, overwritten in place: this protocol is not meant to be careful. */
    CS_ASSERT(cs_sim_disk_put(ctx->disk, "pb", 2, buf.data, buf.len) == 0);
    CS_ASSERT(cs_sim_sync(ctx, n->sync_next++) == 0);
}

static void pb_reply(struct cs_sim_ctx *ctx, uint64_t id, enum cs_sim_outcome outcome, int error,
                     bool nil, int64_t value)
{
    struct cs_sim_reply r = {id, outcome, error, nil, value, 0};
    CS_ASSERT(cs_sim_reply(ctx, &r) == 0);
}

static void pb_on_request(void *node, struct cs_sim_ctx *ctx, const struct cs_sim_request *req)
{
    struct sim_pb_node *n = node;
    if (n->primary != n->id) {
        pb_reply(ctx, req->id, CS_SIM_FAIL, CS_ENOTLEADER, false, 0);
        return;
    }
    if (req->f == CS_SIM_F_READ) {
        pb_reply(ctx, req->id, CS_SIM_OK, 0, n->nil, n->value);
        return;
    }
    if (req->f != CS_SIM_F_WRITE || n->waiting_len == SIM_ABD_OPS_MAX) {
        pb_reply(ctx, req->id, CS_SIM_FAIL, req->f != CS_SIM_F_WRITE ? CS_EINVAL : CS_EBUSY, false,
                 0);
        return;
    }
    n->version++;
    n->nil = false;
    n->value = req->value;
    n->waiting[n->waiting_len].sync_id = n->sync_next;
    n->waiting[n->waiting_len].request_id = req->id;
    n->waiting[n->waiting_len].value = req->value;
    n->waiting_len++;
    pb_persist(n, ctx);
}

static void pb_on_sync(void *node, struct cs_sim_ctx *ctx, uint64_t sync_id)
{
    struct sim_pb_node *n = node;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < n->waiting_len; i++) {
        if (n->waiting[i].sync_id <= sync_id) {
            pb_reply(ctx, n->waiting[i].request_id, CS_SIM_OK, 0, false, n->waiting[i].value);
        } else {
            n->waiting[kept++] = n->waiting[i];
        }
    }
    n->waiting_len = kept;
    /* Replicate after acknowledging: the bug under test. */
    if (n->primary == n->id) pb_broadcast(n, ctx, PB_REPLICATE);
}

static void pb_on_message(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *bytes,
                          size_t bytes_len)
{
    struct sim_pb_node *n = node;
    struct cs_reader r;
    cs_reader_init(&r, bytes, bytes_len);
    uint8_t type = 0, nil = 0;
    uint64_t epoch = 0, primary = 0, version = 0;
    int64_t value = 0;
    cs_get_u8(&r, &type);
    cs_get_uvarint(&r, &epoch);
    cs_get_uvarint_max(&r, &primary, n->nodes_len - 1);
    if (type == PB_REPLICATE) {
        cs_get_uvarint(&r, &version);
        cs_get_u8(&r, &nil);
        cs_get_svarint(&r, &value);
    } else if (type != PB_HEARTBEAT) {
        return;
    }
    if (cs_reader_end(&r) != 0 || nil > 1 || primary != from) return;
    if (epoch < n->epoch) return; /* from a deposed primary */
    bool changed = epoch > n->epoch;
    n->epoch = epoch;
    n->primary = (uint32_t)primary;
    n->heard_us = ctx->now_us;
    if (type == PB_REPLICATE && (version > n->version || changed)) {
        n->version = version;
        n->nil = nil == 1;
        n->value = value;
        changed = true;
    }
    if (changed) pb_persist(n, ctx);
}

static void pb_on_timer(void *node, struct cs_sim_ctx *ctx, uint32_t timer_id)
{
    struct sim_pb_node *n = node;
    CS_ASSERT(timer_id == PB_TICK_TIMER);
    if (n->primary == n->id) {
        pb_broadcast(n, ctx, PB_HEARTBEAT);
    } else if (ctx->now_us - n->heard_us > PB_SUSPECT_US &&
               (n->primary + 1) % n->nodes_len == n->id) {
        /* Take over with what we have: no catch-up, no quorum. */
        n->epoch++;
        n->primary = n->id;
        n->heard_us = ctx->now_us;
        pb_persist(n, ctx);
        pb_broadcast(n, ctx, PB_HEARTBEAT);
    } else if (ctx->now_us - n->heard_us > 3 * PB_SUSPECT_US) {
        /* The successor is silent too: suspect it as well. */
        n->primary = (n->primary + 1) % n->nodes_len;
        n->heard_us = ctx->now_us;
    }
    CS_ASSERT(cs_sim_timer_set(ctx, PB_TICK_TIMER, PB_TICK_US) == 0);
}

void sim_pb_node_init(struct sim_pb_node *node)
{
    memset(node, 0, sizeof *node);
    node->nil = true;
}

static int pb_init(void *node, struct cs_sim_ctx *ctx)
{
    struct sim_pb_node *n = node;
    n->id = ctx->node_id;
    n->nodes_len = ctx->nodes_len;
    n->primary = 0;
    n->heard_us = ctx->now_us;
    n->up = true;
    return cs_sim_timer_set(ctx, PB_TICK_TIMER, PB_TICK_US);
}

static void pb_on_crash(void *node)
{
    struct sim_pb_node *n = node;
    uint32_t id = n->id, nodes_len = n->nodes_len;
    sim_pb_node_init(n);
    n->id = id;
    n->nodes_len = nodes_len;
}

static int pb_on_restart(void *node, struct cs_sim_ctx *ctx)
{
    struct sim_pb_node *n = node;
    const uint8_t *v;
    size_t len;
    if (cs_sim_disk_get(ctx->disk, "pb", 2, &v, &len) == 0 && len > 4 &&
        cs_crc32c(0, v, len - 4) == (uint32_t)(v[len - 4] | v[len - 3] << 8 | v[len - 2] << 16 |
                                               (uint32_t)v[len - 1] << 24)) {
        struct cs_reader r;
        cs_reader_init(&r, v, len - 4);
        uint64_t primary = 0;
        uint8_t nil = 1;
        cs_get_uvarint(&r, &n->epoch);
        cs_get_uvarint_max(&r, &primary, n->nodes_len - 1);
        cs_get_uvarint(&r, &n->version);
        cs_get_u8(&r, &nil);
        cs_get_svarint(&r, &n->value);
        if (cs_reader_end(&r) != 0) return CS_ECORRUPT;
        n->primary = (uint32_t)primary;
        n->nil = nil == 1;
    }
    n->heard_us = ctx->now_us;
    n->up = true;
    n->ghost_epoch_last = n->epoch;
    return cs_sim_timer_set(ctx, PB_TICK_TIMER, PB_TICK_US);
}

/* Epochs only move forward within an incarnation, and a written register is never nil. */
static int pb_check(void *node)
{
    struct sim_pb_node *n = node;
    if (!n->up) return 0;
    int bad = n->epoch < n->ghost_epoch_last || (n->version > 0 && n->nil);
    n->ghost_epoch_last = n->epoch;
    return bad;
}

const struct cs_sim_node_ops sim_pb_ops = {
    .name = "primary-async-backup",
    .init = pb_init,
    .on_message = pb_on_message,
    .on_timer = pb_on_timer,
    .on_client_request = pb_on_request,
    .on_sync = pb_on_sync,
    .on_crash = pb_on_crash,
    .on_restart = pb_on_restart,
    .check_invariants = pb_check,
};
