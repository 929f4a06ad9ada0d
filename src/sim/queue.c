/*
 * queue.c: the simulator's event queue, a bounded binary min-heap.
 *
 * The one idea: order is (time_us, seq) and seq is assigned once, in the
 * order events are scheduled, so two events at the same virtual time fire in
 * the order they were created, on every machine, every run. The heap holds
 * events by value in one array allocated up front: no allocation per event,
 * and a full queue is an error the caller sees (CS_EBUSY), never growth.
 */
#include <stdlib.h>

#include "base/assert.h"
#include "sim/internal.h"

static bool before(const struct sim_event *a, const struct sim_event *b)
{
    if (a->time_us != b->time_us) return a->time_us < b->time_us;
    return a->seq < b->seq;
}

int sim_queue_init(struct sim_queue *q, uint32_t cap)
{
    CS_ASSERT(cap > 0);
    q->events = malloc((size_t)cap * sizeof *q->events);
    if (q->events == NULL) return CS_ENOMEM;
    q->len = 0;
    q->cap = cap;
    return 0;
}

void sim_queue_free(struct sim_queue *q)
{
    free(q->events);
    q->events = NULL;
    q->len = q->cap = 0;
}

int sim_queue_push(struct sim_queue *q, const struct sim_event *ev)
{
    if (q->len == q->cap) return CS_EBUSY;
    uint32_t i = q->len++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(ev, &q->events[parent])) break;
        q->events[i] = q->events[parent];
        i = parent;
    }
    q->events[i] = *ev;
    return 0;
}

bool sim_queue_pop(struct sim_queue *q, struct sim_event *out)
{
    if (q->len == 0) return false;
    *out = q->events[0];
    struct sim_event last = q->events[--q->len];
    uint32_t i = 0;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= q->len) break;
        if (child + 1 < q->len && before(&q->events[child + 1], &q->events[child])) child++;
        if (!before(&q->events[child], &last)) break;
        q->events[i] = q->events[child];
        i = child;
    }
    if (q->len > 0) q->events[i] = last;
    CS_DEBUG_ASSERT(q->len == 0 || !before(&q->events[0], out));
    return true;
}

const struct sim_event *sim_queue_peek(const struct sim_queue *q)
{
    return q->len ? &q->events[0] : NULL;
}
