/*
 * bench_raft.c: what the Raft core costs per committed entry, in simulation.
 *
 * Method: the in-process cluster of tests/sim/raft_harness.h, no faults, a
 * one-way link delay uniform in [1, d + 1] ms, clients offering a fixed rate
 * to the leader (at most uncommitted_max in flight). It reports commits per
 * simulated second, messages and fsyncs (Ready batches that wrote) per
 * committed entry, and simulated 5 ms steps per wall second WITH every
 * invariant check of the harness on (those checks, not the core, dominate
 * the wall time). The harness moves time in 5 ms steps, so sub-millisecond
 * links cannot be modelled here; `consist sim raft` runs in microseconds.
 */
#include <stdio.h>
#include <time.h>

#include "../../tests/sim/raft_harness.h"

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(uint32_t voters, uint32_t delay_ms, uint32_t per_step)
{
    struct h_cluster c;
    h_cluster_init(&c, 42, voters, voters, 0);
    memset(&c.faults, 0, sizeof c.faults);
    c.faults.delay_ms_max = delay_ms;
    c.faults.compact_every = 1000;
    c.base.msg_entries_max = 64;
    c.base.inflight_max = 8;
    c.base.uncommitted_max = 1024;
    h_cluster_start(&c);
    for (int k = 0; k < 400 && !h_leader(&c); k++)
        h_step(&c); /* elect */
    struct h_node *l = h_leader(&c);
    if (!l) {
        printf("no leader\n");
        h_cluster_free(&c);
        return;
    }
    struct cs_raft_status st;
    cs_raft_status(l->r, &st);
    uint64_t commit0 = st.commit, msgs0 = c.msgs_sent, syncs0 = c.fsyncs, t0 = c.now_ms;
    double w0 = wall_seconds();
    const int steps = 2000; /* 10 simulated seconds */
    for (int k = 0; k < steps; k++) {
        for (uint32_t j = 0; j < per_step; j++) {
            uint8_t cmd[16] = {(uint8_t)j};
            if (cs_raft_propose(l->r, cmd, sizeof cmd, NULL) != 0) break;
        }
        h_drain(&c, l);
        h_step(&c);
    }
    double wall = wall_seconds() - w0;
    cs_raft_status(l->r, &st);
    uint64_t commits = st.commit - commit0;
    double secs = (double)(c.now_ms - t0) / 1000.0;
    printf("%u voters  delay %2u ms  offered %5u/s  commits/s %8.0f  msgs/entry %5.2f  "
           "fsyncs/entry %5.2f  steps/wall-s %8.0f%s\n",
           voters, delay_ms, per_step * 200, (double)commits / secs,
           commits ? (double)(c.msgs_sent - msgs0) / (double)commits : 0.0,
           commits ? (double)(c.fsyncs - syncs0) / (double)commits : 0.0, steps / wall,
           c.violation[0] ? "  VIOLATION" : "");
    h_cluster_free(&c);
}

int main(void)
{
    const uint32_t delays[] = {0, 1, 5, 50};
    for (size_t d = 0; d < sizeof delays / sizeof delays[0]; d++) {
        run(3, delays[d], 10);
        run(3, delays[d], 100);
        run(5, delays[d], 100);
    }
    return 0;
}
