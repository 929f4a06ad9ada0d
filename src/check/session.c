/*
 * session.c: the four session guarantees of Terry et al. (1994), judged per
 * session and per key from the versions that ops carry.
 *
 * One pass per session in invoke order, keeping for each key the highest
 * version the session has written and read so far:
 *   read-your-writes:    a read returns at least the version last written;
 *   monotonic reads:     a read returns at least the version last read;
 *   monotonic writes:    a write gets a version above the last written;
 *   writes-follow-reads: a write gets a version above the last read.
 * Only ok ops with a session and a version count; others say nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "check/model.h"
#include "consist/error.h"

struct session_key {
    uint32_t stamp; /* session group + 1 that wrote these fields */
    uint32_t write_op, read_op;
    uint64_t write_version, read_version;
    bool has_write, has_read;
};

static bool is_read(const struct cs_op *op)
{
    return op->f == CS_F_READ || op->f == CS_F_GET;
}

/* Ops sorted by (session, invoke event), packed in one key. */
struct session_sort {
    uint64_t session_invoke;
    uint32_t op;
};

static int cmp_sort(const void *a, const void *b)
{
    uint64_t x = ((const struct session_sort *)a)->session_invoke;
    uint64_t y = ((const struct session_sort *)b)->session_invoke;
    return x < y ? -1 : x > y;
}

static void violation(struct cs_check_result *r, enum cs_session_guarantee g, uint32_t before,
                      uint32_t after)
{
    r->guarantee = g;
    r->cycle[0] = before;
    r->cycle[1] = after;
    r->cycle_edges[0] = CS_EDGE_PROGRAM;
    r->cycle_edges[1] = CS_EDGE_PROGRAM;
    r->cycle_len = 2;
}

/* session_step: apply op to its key's record; 1 if a guarantee broke. */
static int session_step(const struct cs_history *h, struct session_key *k, uint32_t index,
                        struct cs_check_result *r)
{
    const struct cs_op *op = &h->ops[index];
    uint64_t v = op->version;
    if (is_read(op)) {
        if (k->has_write && v < k->write_version) {
            violation(r, CS_SESSION_READ_YOUR_WRITES, k->write_op, index);
            return 1;
        }
        if (k->has_read && v < k->read_version) {
            violation(r, CS_SESSION_MONOTONIC_READS, k->read_op, index);
            return 1;
        }
        k->has_read = true;
        k->read_version = v;
        k->read_op = index;
        return 0;
    }
    if (k->has_write && v <= k->write_version) {
        violation(r, CS_SESSION_MONOTONIC_WRITES, k->write_op, index);
        return 1;
    }
    if (k->has_read && v <= k->read_version) {
        violation(r, CS_SESSION_WRITES_FOLLOW_READS, k->read_op, index);
        return 1;
    }
    k->has_write = true;
    k->write_version = v;
    k->write_op = index;
    return 0;
}

int cs_check_session(const struct cs_history *h, struct cs_check_result *r)
{
    struct cs_check_work w;
    static const struct cs_model_spec no_model = {CS_MODEL_REGISTER, {0, 0, 0}, true};
    cs_check_work_init(&w, h, &no_model, NULL, r, CS_CONSISTENCY_SESSION);
    struct session_sort *order = malloc((h->ops_len ? h->ops_len : 1) * sizeof *order);
    struct session_key *keys = calloc(h->strings_len + 1, sizeof *keys);
    r->cycle = malloc(2 * sizeof *r->cycle);
    r->cycle_edges = malloc(2);
    if (!order || !keys || !r->cycle || !r->cycle_edges) {
        free(order);
        free(keys);
        return cs_check_work_finish(&w, CS_ENOMEM);
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < h->ops_len; i++) {
        const struct cs_op *op = &h->ops[i];
        if (op->type != CS_TYPE_OK || op->session == CS_SESSION_NONE) continue;
        if (op->version == CS_VERSION_NONE) continue;
        order[n].session_invoke = (uint64_t)op->session << 32 | op->invoke_event;
        order[n].op = i;
        n++;
    }
    qsort(order, n, sizeof *order, cmp_sort);
    int verdict = CS_VERDICT_VALID;
    uint32_t group = 0;
    for (uint32_t i = 0; i < n && verdict == CS_VERDICT_VALID; i++) {
        const struct cs_op *op = &h->ops[order[i].op];
        if (i == 0 || op->session != h->ops[order[i - 1].op].session) group++;
        w.steps++;
        uint32_t key = op->key == CS_KEY_NONE ? h->strings_len : op->key;
        struct session_key *k = &keys[key];
        if (k->stamp != group) {
            memset(k, 0, sizeof *k);
            k->stamp = group;
        }
        if (session_step(h, k, order[i].op, r)) verdict = CS_VERDICT_INVALID;
    }
    r->partitions = group;
    if (verdict == CS_VERDICT_VALID) r->cycle_len = 0;
    free(order);
    free(keys);
    return cs_check_work_finish(&w, verdict);
}
