/*
 * sim_workload.c: the four workloads record histories the checker can judge.
 * A single-copy store (one node, trivially linearizable) must give a valid
 * history for every workload kind; the same store with a planted stale read
 * must be caught. Also: a timed-out write becomes info under a fresh process
 * number while a timed-out read fails (it had no effect), a failed compare is recorded as a failed
 * cas, and keys are recorded.
 */
#include <string.h>

#include "consist/check.h"
#include "consist/sim.h"
#include "testlib.h"

/* One node holding every key; `stale` answers reads with the value before the last change. */
struct local_store {
    bool stale;
    bool mute;      /* never answer: every op times out */
    uint32_t refer; /* if non-zero, refuse every request and redirect to node refer - 1 */
    bool nil[CS_SIM_KEYS_MAX], prev_nil[CS_SIM_KEYS_MAX];
    int64_t value[CS_SIM_KEYS_MAX], prev[CS_SIM_KEYS_MAX];
};

static void local_change(struct local_store *s, uint32_t k, int64_t v)
{
    s->prev[k] = s->value[k];
    s->prev_nil[k] = s->nil[k];
    s->value[k] = v;
    s->nil[k] = false;
}

static void local_on_request(void *node, struct cs_sim_ctx *ctx, const struct cs_sim_request *req)
{
    struct local_store *s = node;
    if (s->mute) return;
    if (s->refer) {
        struct cs_sim_reply no = {.request_id = req->id,
                                  .outcome = CS_SIM_FAIL,
                                  .error = CS_ENOTLEADER,
                                  .redirect = s->refer};
        CS_CHECK_OK(cs_sim_reply(ctx, &no));
        return;
    }
    uint32_t k = req->key;
    struct cs_sim_reply r = {.request_id = req->id, .outcome = CS_SIM_OK};
    switch (req->f) {
    case CS_SIM_F_READ:
        r.value_nil = s->stale ? s->prev_nil[k] : s->nil[k];
        r.value = s->stale ? s->prev[k] : s->value[k];
        break;
    case CS_SIM_F_WRITE:
        local_change(s, k, req->value);
        break;
    case CS_SIM_F_CAS:
        if (s->nil[k] || s->value[k] != req->expect) {
            r.outcome = CS_SIM_FAIL;
            r.error = CS_ECONFLICT;
        } else {
            local_change(s, k, req->value);
        }
        break;
    case CS_SIM_F_INCR:
        local_change(s, k, s->value[k] + req->value);
        s->nil[k] = false;
        break;
    case CS_SIM_F_ADD:
        local_change(s, k, s->value[k] | (int64_t)(1ull << req->value));
        break;
    }
    CS_CHECK_OK(cs_sim_reply(ctx, &r));
}

static void local_on_message(void *node, struct cs_sim_ctx *ctx, uint32_t from, const uint8_t *b,
                             size_t len)
{
    (void)node, (void)ctx, (void)from, (void)b, (void)len;
}

static const struct cs_sim_node_ops local_ops = {
    .name = "local", .on_message = local_on_message, .on_client_request = local_on_request};

static enum cs_model_kind model_of(enum cs_sim_workload_kind kind)
{
    switch (kind) {
    case CS_SIM_WORKLOAD_REGISTER: /* with cas */
    case CS_SIM_WORKLOAD_KV:
        return CS_MODEL_CAS_REGISTER;
    case CS_SIM_WORKLOAD_COUNTER:
        return CS_MODEL_COUNTER;
    case CS_SIM_WORKLOAD_SET:
        return CS_MODEL_SET;
    }
    return CS_MODEL_REGISTER;
}

/* run_local: one seeded run of a workload against the local store; returns the verdict. */
static enum cs_verdict run_local(enum cs_sim_workload_kind kind, uint64_t seed, bool stale,
                                 struct cs_history *h)
{
    cs_test_seed_set(seed);
    struct cs_sim_options so;
    cs_sim_options_default(&so, seed);
    so.nodes_len = 1;
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    struct local_store store;
    memset(&store, 0, sizeof store);
    memset(store.nil, 1, sizeof store.nil);
    memset(store.prev_nil, 1, sizeof store.prev_nil);
    if (kind == CS_SIM_WORKLOAD_COUNTER || kind == CS_SIM_WORKLOAD_SET) {
        memset(store.nil, 0, sizeof store.nil); /* counters start at 0, sets empty */
        memset(store.prev_nil, 0, sizeof store.prev_nil);
    }
    store.stale = stale;
    CS_CHECK_OK(cs_sim_node_attach(sim, 0, &local_ops, &store));
    CS_CHECK_OK(cs_sim_start(sim));
    struct cs_sim_workload_options wo = {.kind = kind,
                                         .clients_len = 5,
                                         .ops_max = 150,
                                         .keys_len = 3,
                                         .read_ppm = 400000,
                                         .cas_ppm = 400000,
                                         .op_timeout_us = 100000,
                                         .think_max_us = 3000};
    struct cs_sim_workload *w;
    CS_CHECK_OK(cs_sim_workload_start(sim, &wo, h, &w));
    while (!cs_sim_workload_done(w) && cs_sim_step(sim)) {
    }
    CS_CHECK(cs_sim_workload_done(w));
    CS_CHECK_OK(cs_sim_workload_error(w));
    CS_CHECK_EQ(cs_sim_workload_invoked(w), 150);
    cs_sim_destroy(sim);
    cs_sim_workload_destroy(w);
    struct cs_model_spec model = {model_of(kind), cs_value_none(), true};
    if (kind == CS_SIM_WORKLOAD_COUNTER) model.initial = cs_value_int(0);
    struct cs_check_budget budget = {.steps_max = 10u * 1000 * 1000};
    struct cs_check_result result;
    int rc = cs_check_linearizable(h, &model, &budget, &result);
    CS_CHECK_MSG(rc == 0, "kind %d: %s: %s", (int)kind, cs_errname(rc), result.detail);
    enum cs_verdict v = result.verdict;
    cs_check_result_free(&result);
    return v;
}

/* Every workload kind against a single copy is linearizable; a stale read is caught. */
CS_TEST(each_kind_valid_and_stale_caught)
{
    for (int kind = CS_SIM_WORKLOAD_REGISTER; kind <= CS_SIM_WORKLOAD_SET; kind++) {
        uint32_t caught = 0;
        for (uint64_t seed = 1; seed <= 10; seed++) {
            struct cs_history h;
            cs_history_init(&h, 1000);
            CS_CHECK_MSG(run_local((enum cs_sim_workload_kind)kind, seed, false, &h) ==
                             CS_VERDICT_VALID,
                         "kind %d seed %llu not valid", kind, (unsigned long long)seed);
            cs_history_free(&h);
            cs_history_init(&h, 1000);
            caught +=
                run_local((enum cs_sim_workload_kind)kind, seed, true, &h) == CS_VERDICT_INVALID;
            cs_history_free(&h);
        }
        CS_CHECK_MSG(caught > 0, "stale reads of kind %d never caught", kind);
    }
}

/* kv histories carry keys and cas pairs, and a failed compare is a failed cas. */
CS_TEST(kv_history_shape)
{
    struct cs_history h;
    cs_history_init(&h, 1000);
    run_local(CS_SIM_WORKLOAD_KV, 3, false, &h);
    uint32_t keyed = 0, cas_ok = 0, cas_fail = 0;
    for (uint32_t i = 0; i < h.ops_len; i++) {
        const struct cs_op *op = &h.ops[i];
        keyed += op->key != CS_KEY_NONE;
        if (op->f == CS_F_CAS) {
            CS_CHECK_EQ(op->value.kind, CS_VALUE_LIST);
            CS_CHECK_EQ(op->value.len, 2);
            cas_ok += op->type == CS_TYPE_OK;
            cas_fail += op->type == CS_TYPE_FAIL;
        }
    }
    CS_CHECK_EQ(keyed, h.ops_len);
    CS_CHECK(cas_ok > 0 && cas_fail > 0);
    cs_history_free(&h);
}

/* With no answers, every op ends at its timeout: writes as info, retiring the process; reads fail.
 */
CS_TEST(timeouts_are_info_with_fresh_processes)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, 4);
    so.nodes_len = 1;
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    struct local_store store = {.mute = true};
    CS_CHECK_OK(cs_sim_node_attach(sim, 0, &local_ops, &store));
    CS_CHECK_OK(cs_sim_start(sim));
    struct cs_history h;
    cs_history_init(&h, 20);
    struct cs_sim_workload_options wo = {.kind = CS_SIM_WORKLOAD_REGISTER,
                                         .clients_len = 2,
                                         .ops_max = 20,
                                         .read_ppm = 500000,
                                         .op_timeout_us = 7000};
    struct cs_sim_workload *w;
    CS_CHECK_OK(cs_sim_workload_start(sim, &wo, &h, &w));
    while (!cs_sim_workload_done(w) && cs_sim_step(sim)) {
    }
    CS_CHECK_EQ(h.ops_len, 20);
    uint32_t writes = 0, reads = 0;
    for (uint32_t i = 0; i < h.ops_len; i++) {
        const struct cs_op *op = &h.ops[i];
        CS_CHECK_EQ(op->complete_time - op->invoke_time, 7000);
        /* A timed-out read had no effect: recorded failed. A write stays open (info). */
        CS_CHECK_EQ(op->type, op->f == CS_F_READ ? CS_TYPE_FAIL : CS_TYPE_INFO);
        writes += op->f == CS_F_WRITE;
        reads += op->f == CS_F_READ;
        if (op->type != CS_TYPE_INFO) continue;
        /* No op after an info reuses its process number. */
        for (uint32_t j = i + 1; j < h.ops_len; j++)
            CS_CHECK(h.ops[j].process != op->process);
    }
    CS_CHECK(writes > 0 && reads > 0);
    cs_sim_destroy(sim);
    cs_sim_workload_destroy(w);
    cs_history_free(&h);
}

/* Options are checked: clients and keys at their limits are accepted, one past refused. */
CS_TEST(workload_limits)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, 1);
    so.nodes_len = 1;
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    struct local_store store = {.mute = true};
    CS_CHECK_OK(cs_sim_node_attach(sim, 0, &local_ops, &store));
    CS_CHECK_OK(cs_sim_start(sim));
    struct cs_history h;
    cs_history_init(&h, 10);
    struct cs_sim_workload_options wo = {.kind = CS_SIM_WORKLOAD_KV,
                                         .clients_len = CS_SIM_CLIENTS_MAX + 1,
                                         .ops_max = 10,
                                         .keys_len = CS_SIM_KEYS_MAX,
                                         .op_timeout_us = 1000};
    struct cs_sim_workload *w = NULL;
    CS_CHECK_RC(cs_sim_workload_start(sim, &wo, &h, &w), CS_EINVAL);
    wo.clients_len = CS_SIM_CLIENTS_MAX;
    wo.keys_len = CS_SIM_KEYS_MAX + 1;
    CS_CHECK_RC(cs_sim_workload_start(sim, &wo, &h, &w), CS_EINVAL);
    wo.keys_len = CS_SIM_KEYS_MAX;
    CS_CHECK_OK(cs_sim_workload_start(sim, &wo, &h, &w));
    while (cs_sim_step(sim)) {
    }
    CS_CHECK(cs_sim_workload_done(w));
    cs_sim_destroy(sim);
    cs_sim_workload_destroy(w);
    cs_history_free(&h);
}

/* A refusal's redirect sends the client's next op to the named node. */
CS_TEST(redirect_is_followed)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, 8);
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    struct local_store stores[3];
    memset(stores, 0, sizeof stores);
    stores[0].refer = stores[1].refer = 3; /* "ask node 2" */
    memset(stores[2].nil, 1, sizeof stores[2].nil);
    for (uint32_t i = 0; i < 3; i++)
        CS_CHECK_OK(cs_sim_node_attach(sim, i, &local_ops, &stores[i]));
    CS_CHECK_OK(cs_sim_start(sim));
    struct cs_history h;
    cs_history_init(&h, 100);
    struct cs_sim_workload_options wo = {.kind = CS_SIM_WORKLOAD_REGISTER,
                                         .clients_len = 3,
                                         .ops_max = 100,
                                         .read_ppm = 500000,
                                         .op_timeout_us = 50000};
    struct cs_sim_workload *w;
    CS_CHECK_OK(cs_sim_workload_start(sim, &wo, &h, &w));
    while (!cs_sim_workload_done(w) && cs_sim_step(sim)) {
    }
    uint32_t fails = 0;
    for (uint32_t i = 0; i < h.ops_len; i++) {
        if (h.ops[i].type != CS_TYPE_FAIL) continue;
        fails++;
        /* The same process's next op followed the redirect to node 2, which serves it. */
        for (uint32_t j = i + 1; j < h.ops_len; j++) {
            if (h.ops[j].process != h.ops[i].process) continue;
            CS_CHECK_EQ(h.ops[j].type, CS_TYPE_OK);
            break;
        }
    }
    CS_CHECK(fails > 10);
    cs_sim_destroy(sim);
    cs_sim_workload_destroy(w);
    cs_history_free(&h);
}

/* The set workload adds at most CS_SIM_SET_ELEMENTS_MAX elements per key, then only reads. */
CS_TEST(set_elements_bounded)
{
    struct cs_sim_options so;
    cs_sim_options_default(&so, 2);
    so.nodes_len = 1;
    struct cs_sim *sim;
    CS_CHECK_OK(cs_sim_create(&so, &sim));
    struct local_store store;
    memset(&store, 0, sizeof store);
    CS_CHECK_OK(cs_sim_node_attach(sim, 0, &local_ops, &store));
    CS_CHECK_OK(cs_sim_start(sim));
    struct cs_history h;
    cs_history_init(&h, 100);
    struct cs_sim_workload_options wo = {.kind = CS_SIM_WORKLOAD_SET,
                                         .clients_len = 2,
                                         .ops_max = 100,
                                         .keys_len = 1,
                                         .read_ppm = 0,
                                         .op_timeout_us = 50000};
    struct cs_sim_workload *w;
    CS_CHECK_OK(cs_sim_workload_start(sim, &wo, &h, &w));
    while (!cs_sim_workload_done(w) && cs_sim_step(sim)) {
    }
    uint32_t adds = 0;
    for (uint32_t i = 0; i < h.ops_len; i++)
        adds += h.ops[i].f == CS_F_ADD;
    CS_CHECK_EQ(adds, CS_SIM_SET_ELEMENTS_MAX);
    const struct cs_op *last = &h.ops[h.ops_len - 1];
    CS_CHECK_EQ(last->f, CS_F_READ);
    CS_CHECK_EQ(last->result.kind, CS_VALUE_LIST);
    CS_CHECK_EQ(last->result.len, CS_SIM_SET_ELEMENTS_MAX);
    cs_sim_destroy(sim);
    cs_sim_workload_destroy(w);
    cs_history_free(&h);
}

CS_TEST_MAIN(CS_CASE(set_elements_bounded), CS_CASE(redirect_is_followed),
             CS_CASE(each_kind_valid_and_stale_caught), CS_CASE(kv_history_shape),
             CS_CASE(timeouts_are_info_with_fresh_processes), CS_CASE(workload_limits))
