/*
 * check.c: what every checker shares: the budget, the result, names, and
 * the model a history implies.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "check/internal.h"
#include "consist/error.h"

void cs_check_work_init(struct cs_check_work *w, const struct cs_history *h,
                        const struct cs_model_spec *spec, const struct cs_check_budget *budget,
                        struct cs_check_result *result, enum cs_consistency consistency)
{
    memset(w, 0, sizeof *w);
    memset(result, 0, sizeof *result);
    result->consistency = consistency;
    result->key = CS_KEY_NONE;
    result->dead_op = UINT32_MAX;
    result->verdict = CS_VERDICT_UNKNOWN;
    w->h = h;
    w->spec = spec;
    w->budget = budget != NULL ? budget : &w->budget_none;
    w->result = result;
    w->memory_bytes_max =
        w->budget->memory_bytes_max ? w->budget->memory_bytes_max : CS_CHECK_MEMORY_BYTES_DEFAULT;
}

int cs_check_work_tick(struct cs_check_work *w, uint64_t memory_bytes)
{
    const struct cs_check_budget *b = w->budget;
    if (b->steps_max != 0 && w->steps >= b->steps_max) return CS_EBUDGET;
    if (memory_bytes > w->memory_bytes_max) return CS_EBUDGET;
    if (b->now_ms != NULL && b->now_ms(b->now_ctx) >= b->deadline_ms) return CS_EBUDGET;
    return 0;
}

int cs_check_work_finish(struct cs_check_work *w, int rc)
{
    w->result->steps = w->steps;
    if (rc < 0) return rc;
    CS_ASSERT(rc <= CS_VERDICT_UNKNOWN);
    w->result->verdict = (enum cs_verdict)rc;
    return 0;
}

void cs_check_result_free(struct cs_check_result *r)
{
    free(r->prefix);
    free(r->stuck);
    free(r->cycle);
    free(r->cycle_edges);
    free(r->state_text);
    r->prefix = r->stuck = r->cycle = NULL;
    r->cycle_edges = NULL;
    r->state_text = NULL;
    r->prefix_len = r->stuck_len = r->cycle_len = 0;
}

/* --- names ----------------------------------------------------------------- */

static const char *const model_names[CS_MODEL_COUNT_] = {
    "register", "cas-register", "kv", "counter", "set", "multi-register"};

const char *cs_model_name(enum cs_model_kind kind)
{
    return (unsigned)kind < CS_MODEL_COUNT_ ? model_names[kind] : "?";
}

int cs_model_parse(const char *name)
{
    for (int i = 0; i < CS_MODEL_COUNT_; i++) {
        if (strcmp(name, model_names[i]) == 0) return i;
    }
    return -1;
}

struct cs_model_spec cs_model_default(const struct cs_history *h)
{
    uint32_t seen = 0;
    for (uint32_t i = 0; i < h->ops_len; i++)
        seen |= 1u << h->ops[i].f;
    struct cs_model_spec spec = {CS_MODEL_REGISTER, cs_value_none(), true};
    if (seen & (1u << CS_F_TXN)) {
        spec.kind = CS_MODEL_MULTI_REGISTER;
    } else if (seen & (1u << CS_F_GET | 1u << CS_F_PUT | 1u << CS_F_APPEND)) {
        spec.kind = CS_MODEL_KV;
    } else if (seen & (1u << CS_F_CAS)) {
        spec.kind = CS_MODEL_CAS_REGISTER;
    } else if (seen & (1u << CS_F_ADD | 1u << CS_F_REMOVE)) {
        spec.kind = CS_MODEL_SET;
    } else if (seen & (1u << CS_F_INCR)) {
        spec.kind = CS_MODEL_COUNTER;
    }
    return spec;
}

const char *cs_verdict_name(enum cs_verdict verdict)
{
    switch (verdict) {
    case CS_VERDICT_VALID:
        return "valid";
    case CS_VERDICT_INVALID:
        return "invalid";
    case CS_VERDICT_UNKNOWN:
        return "unknown";
    }
    return "?";
}

static const char *const consistency_names[] = {"linearizable", "sequential", "session"};

const char *cs_consistency_name(enum cs_consistency consistency)
{
    return (unsigned)consistency < 3 ? consistency_names[consistency] : "?";
}

int cs_consistency_parse(const char *name)
{
    for (int i = 0; i < 3; i++) {
        if (strcmp(name, consistency_names[i]) == 0) return i;
    }
    return -1;
}

const char *cs_session_guarantee_name(enum cs_session_guarantee guarantee)
{
    switch (guarantee) {
    case CS_SESSION_READ_YOUR_WRITES:
        return "read-your-writes";
    case CS_SESSION_MONOTONIC_READS:
        return "monotonic reads";
    case CS_SESSION_MONOTONIC_WRITES:
        return "monotonic writes";
    case CS_SESSION_WRITES_FOLLOW_READS:
        return "writes-follow-reads";
    }
    return "?";
}

const char *cs_check_procedure_name(enum cs_check_procedure procedure)
{
    switch (procedure) {
    case CS_PROCEDURE_SEARCH:
        return "search";
    case CS_PROCEDURE_STALE_READ:
        return "stale-read test";
    case CS_PROCEDURE_ZONES:
        return "zones";
    }
    return "?";
}

const char *cs_edge_kind_name(enum cs_edge_kind kind)
{
    switch (kind) {
    case CS_EDGE_PROGRAM:
        return "program order";
    case CS_EDGE_READS_FROM:
        return "reads-from";
    case CS_EDGE_FROM_READ:
        return "from-read";
    case CS_EDGE_REAL_TIME:
        return "real time";
    }
    return "?";
}
