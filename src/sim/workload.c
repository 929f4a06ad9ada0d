/*
 * workload.c: simulated clients that issue operations and record a history.
 *
 * The one idea: a client is a closed loop (think, invoke, wait for the reply
 * or the timeout, record, repeat) driven entirely by simulator events, so its
 * timing is as deterministic as the cluster's. Each completion is recorded
 * the moment the client learns it, which is exactly the real-time order the
 * linearizability checker needs. Written values are unique in a run (a
 * counter), which keeps the checker's search narrow. Recording goes through
 * record_invoke/record_complete only, the one seam to the history format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/check.h"
#include "sim/internal.h"

/* Harness call tags: kind in the top byte, client in the next, request id below. */
#define TAG_THINK             1ull
#define TAG_TIMEOUT           2ull
#define TAG_KIND(t)           ((t) >> 56)
#define TAG_CLIENT(t)         ((uint32_t)((t) >> 48) & 0xff)
#define TAG_ID(t)             ((t) & ((1ull << 48) - 1))
#define TAG(kind, client, id) ((kind) << 56 | (uint64_t)(client) << 48 | (id))

_Static_assert(CS_SIM_CLIENTS_MAX <= 256, "a client index fits the tag's byte");
_Static_assert(CS_SIM_SET_ELEMENTS_MAX <= 64, "a set read is a 64-bit mask");

struct wl_client {
    int64_t process;
    bool busy;
    uint64_t request_id; /* of the op in progress */
    struct cs_sim_request req;
    uint32_t last_node;
    uint32_t attempt;
    uint32_t hint; /* redirect from the last reply, UINT32_MAX if none */
};

struct cs_sim_workload {
    struct cs_sim *sim;
    struct cs_sim_workload_options opts;
    struct cs_history *history;
    struct wl_client clients[CS_SIM_CLIENTS_MAX];
    uint32_t key_ids[CS_SIM_KEYS_MAX];
    uint32_t set_next[CS_SIM_KEYS_MAX]; /* next element to add, per key */
    uint32_t invoked;
    uint32_t busy;
    uint64_t request_next; /* request ids: unique, in issue order */
    int64_t value_next;    /* written values: unique, from 1 */
    int error;             /* first recording error; stops new operations */
};

/* --- recording: the one seam to the history format ------------------------------- */

static enum cs_op_f op_f(enum cs_sim_f f)
{
    switch (f) {
    case CS_SIM_F_READ:
        return CS_F_READ;
    case CS_SIM_F_WRITE:
        return CS_F_WRITE;
    case CS_SIM_F_CAS:
        return CS_F_CAS;
    case CS_SIM_F_INCR:
        return CS_F_INCR;
    case CS_SIM_F_ADD:
        return CS_F_ADD;
    }
    CS_UNREACHABLE();
}

static int invoke_value(struct cs_sim_workload *w, const struct cs_sim_request *req,
                        struct cs_value *out)
{
    switch (req->f) {
    case CS_SIM_F_READ:
        *out = cs_value_nil();
        return 0;
    case CS_SIM_F_CAS: {
        struct cs_value pair[2] = {cs_value_int(req->expect), cs_value_int(req->value)};
        return cs_history_value_list(w->history, pair, 2, out);
    }
    case CS_SIM_F_WRITE:
    case CS_SIM_F_INCR:
    case CS_SIM_F_ADD:
        *out = cs_value_int(req->value);
        return 0;
    }
    CS_UNREACHABLE();
}

static void record_invoke(struct cs_sim_workload *w, struct wl_client *c)
{
    if (w->error) return;
    struct cs_value v;
    int rc = invoke_value(w, &c->req, &v);
    uint32_t key = w->opts.kind == CS_SIM_WORKLOAD_REGISTER ? CS_KEY_NONE : w->key_ids[c->req.key];
    if (rc == 0) {
        rc = cs_history_invoke(w->history, c->process, op_f(c->req.f), key, v,
                               (int64_t)cs_sim_now_us(w->sim));
    }
    if (rc != 0) w->error = rc;
}

static int read_result(struct cs_sim_workload *w, const struct cs_sim_reply *reply,
                       struct cs_value *out)
{
    if (reply->value_nil) {
        *out = cs_value_nil();
        return 0;
    }
    if (w->opts.kind != CS_SIM_WORKLOAD_SET) {
        *out = cs_value_int(reply->value);
        return 0;
    }
    struct cs_value items[CS_SIM_SET_ELEMENTS_MAX];
    uint32_t len = 0;
    for (uint32_t e = 0; e < CS_SIM_SET_ELEMENTS_MAX; e++) {
        if ((uint64_t)reply->value >> e & 1) items[len++] = cs_value_int(e);
    }
    return cs_history_value_list(w->history, items, len, out);
}

static void record_complete(struct cs_sim_workload *w, struct wl_client *c, enum cs_op_type type,
                            const struct cs_sim_reply *reply)
{
    if (w->error) return;
    struct cs_value v = cs_value_none();
    int rc = 0;
    if (type == CS_TYPE_OK && c->req.f == CS_SIM_F_READ) {
        rc = read_result(w, reply, &v);
    } else if (type != CS_TYPE_INFO) {
        rc = invoke_value(w, &c->req, &v);
    }
    if (rc == 0) {
        rc = cs_history_complete(w->history, c->process, type, op_f(c->req.f), v,
                                 (int64_t)cs_sim_now_us(w->sim));
    }
    if (rc != 0) w->error = rc;
}

/* --- the client loop ---------------------------------------------------------------- */

static void choose_op(struct cs_sim_workload *w, struct cs_rng *rng, struct cs_sim_request *req)
{
    const struct cs_sim_workload_options *o = &w->opts;
    req->key = o->kind == CS_SIM_WORKLOAD_REGISTER ? 0 : (uint32_t)cs_rng_below(rng, o->keys_len);
    req->f = CS_SIM_F_READ;
    req->value = 0;
    req->expect = 0;
    if (cs_rng_chance(rng, o->read_ppm, 1000000)) return;
    switch (o->kind) {
    case CS_SIM_WORKLOAD_REGISTER:
    case CS_SIM_WORKLOAD_KV:
        if (w->value_next > 1 && cs_rng_chance(rng, o->cas_ppm, 1000000)) {
            req->f = CS_SIM_F_CAS;
            /* Expect a recent value: the compare then succeeds often enough to matter. */
            uint64_t back = cs_rng_below(rng, w->value_next < 4 ? (uint64_t)w->value_next - 1 : 3);
            req->expect = w->value_next - 1 - (int64_t)back;
        } else {
            req->f = CS_SIM_F_WRITE;
        }
        req->value = w->value_next++;
        return;
    case CS_SIM_WORKLOAD_COUNTER:
        req->f = CS_SIM_F_INCR;
        req->value = 1 + (int64_t)cs_rng_below(rng, 5);
        return;
    case CS_SIM_WORKLOAD_SET:
        if (w->set_next[req->key] < CS_SIM_SET_ELEMENTS_MAX) {
            req->f = CS_SIM_F_ADD;
            req->value = w->set_next[req->key]++;
        }
        return;
    }
    CS_UNREACHABLE();
}

static void workload_call(void *arg, struct cs_sim *sim, uint64_t tag);

static void client_think(struct cs_sim_workload *w, uint32_t index)
{
    struct cs_rng *rng = cs_sim_rng(w->sim, CS_SIM_STREAM_WORKLOAD);
    uint64_t span = w->opts.think_max_us - w->opts.think_min_us;
    uint64_t think = w->opts.think_min_us + cs_rng_below(rng, span + 1);
    int rc = cs_sim_schedule(w->sim, think, workload_call, w, TAG(TAG_THINK, index, 0));
    if (rc != 0 && w->error == 0) w->error = rc;
}

static void client_invoke(struct cs_sim_workload *w, uint32_t index)
{
    struct wl_client *c = &w->clients[index];
    CS_ASSERT(!c->busy);
    if (w->invoked >= w->opts.ops_max || w->error) return; /* this client is done */
    struct cs_rng *rng = cs_sim_rng(w->sim, CS_SIM_STREAM_WORKLOAD);
    uint32_t n = cs_sim_nodes_len(w->sim);
    uint32_t node;
    if (w->opts.route != NULL) {
        node = w->opts.route(w->opts.route_arg, rng, index, c->last_node, c->attempt, c->hint);
    } else {
        node = c->hint < n ? c->hint : (uint32_t)cs_rng_below(rng, n);
    }
    CS_ASSERT(node < n);
    c->request_id = w->request_next++;
    c->req.id = c->request_id;
    c->req.client = index;
    choose_op(w, rng, &c->req);
    c->busy = true;
    c->last_node = node;
    w->invoked++;
    w->busy++;
    record_invoke(w, c);
    int rc = cs_sim_client_send(w->sim, node, &c->req);
    if (rc == 0) {
        rc = cs_sim_schedule(w->sim, w->opts.op_timeout_us, workload_call, w,
                             TAG(TAG_TIMEOUT, index, c->request_id));
    }
    if (rc != 0 && w->error == 0) w->error = rc;
}

/* client_finish: the op ended as type; an indeterminate op retires its process number. */
static void client_finish(struct cs_sim_workload *w, uint32_t index, enum cs_op_type type,
                          const struct cs_sim_reply *reply)
{
    struct wl_client *c = &w->clients[index];
    CS_ASSERT(c->busy);
    /*
     * A read has no effect, so one whose outcome is unknown can be recorded
     * as failed (dropped) without changing any verdict; an open read would
     * only widen the checker's search (Jepsen records such reads as fail
     * too). A late reply cannot be mistaken: replies match by request id.
     */
    if (type == CS_TYPE_INFO && c->req.f == CS_SIM_F_READ) type = CS_TYPE_FAIL;
    record_complete(w, c, type, reply);
    c->busy = false;
    CS_ASSERT(w->busy > 0);
    w->busy--;
    if (type == CS_TYPE_INFO) c->process += w->opts.clients_len;
    c->attempt = type == CS_TYPE_OK ? 0 : c->attempt + 1;
    c->hint = reply->redirect > 0 && reply->redirect <= cs_sim_nodes_len(w->sim)
                  ? reply->redirect - 1
                  : UINT32_MAX;
    client_think(w, index);
}

static void workload_call(void *arg, struct cs_sim *sim, uint64_t tag)
{
    struct cs_sim_workload *w = arg;
    CS_ASSERT(w->sim == sim);
    uint32_t index = TAG_CLIENT(tag);
    CS_ASSERT(index < w->opts.clients_len);
    struct wl_client *c = &w->clients[index];
    if (TAG_KIND(tag) == TAG_THINK) {
        client_invoke(w, index);
        return;
    }
    CS_ASSERT(TAG_KIND(tag) == TAG_TIMEOUT);
    if (!c->busy || c->request_id != TAG_ID(tag)) return; /* answered in time */
    struct cs_sim_reply timeout = {c->request_id, CS_SIM_INFO, CS_ETIMEOUT, false, 0, 0};
    client_finish(w, index, CS_TYPE_INFO, &timeout);
}

static void workload_reply(void *arg, struct cs_sim *sim, const struct cs_sim_reply *reply)
{
    struct cs_sim_workload *w = arg;
    (void)sim;
    /* Find the client waiting for this id; late and duplicate replies find none. */
    for (uint32_t i = 0; i < w->opts.clients_len; i++) {
        struct wl_client *c = &w->clients[i];
        if (!c->busy || c->request_id != reply->request_id) continue;
        enum cs_op_type type = CS_TYPE_OK;
        if (reply->outcome == CS_SIM_INFO) {
            type = CS_TYPE_INFO;
        } else if (reply->outcome == CS_SIM_FAIL) {
            /* The checker reads a failed cas as "compare failed"; any other refusal is unknown. */
            bool compare_failed = reply->error == CS_ECONFLICT;
            type = c->req.f == CS_SIM_F_CAS && !compare_failed ? CS_TYPE_INFO : CS_TYPE_FAIL;
        }
        client_finish(w, i, type, reply);
        return;
    }
}

int cs_sim_workload_start(struct cs_sim *sim, const struct cs_sim_workload_options *opts,
                          struct cs_history *history, struct cs_sim_workload **out)
{
    if (opts->clients_len == 0 || opts->clients_len > CS_SIM_CLIENTS_MAX) return CS_EINVAL;
    if (opts->kind != CS_SIM_WORKLOAD_REGISTER &&
        (opts->keys_len == 0 || opts->keys_len > CS_SIM_KEYS_MAX)) {
        return CS_EINVAL;
    }
    if ((unsigned)opts->kind > CS_SIM_WORKLOAD_SET || opts->read_ppm > 1000000 ||
        opts->cas_ppm > 1000000 || opts->think_min_us > opts->think_max_us ||
        opts->op_timeout_us == 0 || history == NULL || history->ops_len != 0) {
        return CS_EINVAL;
    }
    struct cs_sim_workload *w = calloc(1, sizeof *w);
    if (w == NULL) return CS_ENOMEM;
    w->sim = sim;
    w->opts = *opts;
    w->history = history;
    w->value_next = 1;
    int rc = 0;
    for (uint32_t k = 0; k < opts->keys_len && k < CS_SIM_KEYS_MAX && rc == 0; k++) {
        char name[16];
        int len = snprintf(name, sizeof name, "k%u", k);
        rc = cs_history_intern(history, name, (size_t)len, &w->key_ids[k]);
    }
    for (uint32_t i = 0; i < opts->clients_len && rc == 0; i++) {
        w->clients[i].process = i;
        w->clients[i].last_node = UINT32_MAX;
        w->clients[i].hint = UINT32_MAX;
        rc = cs_sim_schedule(sim, 0, workload_call, w, TAG(TAG_THINK, i, 0));
    }
    if (rc != 0) {
        free(w); /* events already queued point at w: a full queue here is a sizing bug */
        CS_ASSERT(rc != CS_EBUSY);
        return rc;
    }
    cs_sim_set_reply_handler(sim, workload_reply, w);
    *out = w;
    return 0;
}

void cs_sim_workload_destroy(struct cs_sim_workload *workload)
{
    free(workload);
}

bool cs_sim_workload_done(const struct cs_sim_workload *workload)
{
    if (workload->busy != 0) return false;
    return workload->invoked >= workload->opts.ops_max || workload->error != 0;
}

uint32_t cs_sim_workload_invoked(const struct cs_sim_workload *workload)
{
    return workload->invoked;
}

int cs_sim_workload_error(const struct cs_sim_workload *workload)
{
    return workload->error;
}
