/*
 * lamport.c: the Lamport clock (Lamport 1978, rules IR1 and IR2).
 *
 * One counter per process: a local event or a send ticks it, a receive jumps
 * it past the sender's time. That is all it takes for time to be consistent
 * with causality. The counter saturates rather than wraps: a wrapped Lamport
 * time would order a new event before its own causes.
 */
#include "base/assert.h"
#include "consist/clock.h"

void cs_lamport_init(struct cs_lamport *clock)
{
    CS_ASSERT(clock != NULL);
    clock->time = 0;
}

int cs_lamport_tick(struct cs_lamport *clock, uint64_t *time_out)
{
    CS_ASSERT(clock != NULL);
    CS_ASSERT(time_out != NULL);
    if (clock->time == CS_LAMPORT_TIME_MAX) return CS_EOVERFLOW;
    clock->time++;
    *time_out = clock->time;
    return 0;
}

int cs_lamport_send(struct cs_lamport *clock, uint64_t *time_out)
{
    return cs_lamport_tick(clock, time_out);
}

int cs_lamport_receive(struct cs_lamport *clock, uint64_t remote_time, uint64_t *time_out)
{
    CS_ASSERT(clock != NULL);
    CS_ASSERT(time_out != NULL);
    uint64_t seen = clock->time > remote_time ? clock->time : remote_time;
    if (seen == CS_LAMPORT_TIME_MAX) return CS_EOVERFLOW;
    clock->time = seen + 1;
    CS_ASSERT(clock->time > remote_time);
    *time_out = clock->time;
    return 0;
}
