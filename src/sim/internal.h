/*
 * internal.h: what the simulator's files share and nothing outside src/sim
 * may use: the event record, the bounded event queue, and the trace hash.
 */
#ifndef CS_SIM_INTERNAL_H
#define CS_SIM_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include "consist/sim.h"

enum sim_event_kind {
    SIM_EV_MESSAGE = 1,
    SIM_EV_TIMER = 2,
    SIM_EV_SYNC = 3,
    SIM_EV_CLIENT_REQUEST = 4,
    SIM_EV_CLIENT_REPLY = 5,
    SIM_EV_CALL = 6,
};

/* One scheduled event. The queue orders by (time_us, seq); seq is unique. */
struct sim_event {
    uint64_t time_us;
    uint64_t seq;
    uint32_t kind; /* enum sim_event_kind */
    uint32_t node; /* target node (unused by CLIENT_REPLY and CALL) */
    union {
        struct {
            uint8_t *bytes; /* owned by the event */
            uint32_t bytes_len;
            uint32_t from;
        } message;
        struct {
            uint64_t incarnation;
            uint64_t generation;
            uint32_t timer_id;
        } timer;
        struct {
            uint64_t incarnation;
            uint64_t mark;
            uint64_t sync_id;
        } sync;
        struct cs_sim_request request;
        struct cs_sim_reply reply;
        struct {
            cs_sim_call_fn fn;
            void *arg;
            uint64_t tag;
        } call;
    } u;
};

/* A bounded binary min-heap of events. */
struct sim_queue {
    struct sim_event *events;
    uint32_t len;
    uint32_t cap;
};

int sim_queue_init(struct sim_queue *q, uint32_t cap);
void sim_queue_free(struct sim_queue *q);
/* sim_queue_push: copy ev in; 0 or CS_EBUSY when full. */
int sim_queue_push(struct sim_queue *q, const struct sim_event *ev);
/* sim_queue_pop: remove the least event into *out; false when empty. */
bool sim_queue_pop(struct sim_queue *q, struct sim_event *out);
/* sim_queue_peek: the least event, or NULL. */
const struct sim_event *sim_queue_peek(const struct sim_queue *q);

/* sim_hash_mix: fold x into a running 64-bit hash (order-sensitive). */
static inline uint64_t sim_hash_mix(uint64_t h, uint64_t x)
{
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h *= 0xff51afd7ed558ccdull;
    return h ^ (h >> 33);
}

/* sim_hash_bytes: fold bytes into a 64-bit hash, 8 at a time (payloads in the trace hash). */
static inline uint64_t sim_hash_bytes(uint64_t h, const uint8_t *bytes, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, bytes + i, 8);
        h = sim_hash_mix(h, w);
    }
    uint64_t tail = len; /* the length separates "ab" + "" from "a" + "b" */
    for (; i < len; i++)
        tail = tail << 8 | bytes[i];
    return sim_hash_mix(h, tail);
}

#endif /* CS_SIM_INTERNAL_H */
