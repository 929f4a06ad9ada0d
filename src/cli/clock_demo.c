/*
 * clock_demo.c: `consist demo clocks`, the exam scenario in words.
 *
 * Four nodes. A sends M1; B receives M1 and sends M2; C receives M1 and then
 * M2; D has one local event D1 and hears from no one. Every event is stamped
 * with a vector clock and a Lamport time; the demo prints both, names the
 * relation of each pair of messages from the vector clocks, and then shows
 * what Lamport time alone would have said: it orders D1 before M2 although
 * the two are concurrent. The same scenario is checked by
 * tests/unit/clock_exam.c and tests/cli/clock_demo.sh.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#include "cli.h"
#include "consist/clock.h"

enum { DEMO_NODES = 4 };

static const char demo_names[DEMO_NODES] = {'A', 'B', 'C', 'D'};

struct demo_node {
    struct cs_vclock_node vc;
    struct cs_lamport lamport;
};

/* A message (or event) as the demo remembers it: its name, clock and Lamport time. */
struct demo_stamp {
    const char *name;
    struct cs_vclock clock;
    uint64_t lamport_time;
};

static int demo_failed(const char *what, int rc)
{
    fprintf(stderr, "consist demo clocks: %s: %s\n", what, cs_strerror(rc));
    return CS_CLI_EXIT_NO;
}

/* demo_print: one line per event: node, what happened, full vector, Lamport time. */
static void demo_print(const struct demo_node *node, const char *what)
{
    char vector[64];
    int used = 0;
    for (int i = 0; i < DEMO_NODES; i++) {
        used += snprintf(vector + used, sizeof vector - (size_t)used, "%s%c:%" PRIu64, i ? " " : "",
                         demo_names[i], cs_vclock_get(&node->vc.clock, (uint64_t)i));
    }
    printf("  %c  %-12s [%s]   %" PRIu64 "\n", demo_names[node->vc.node_id], what, vector,
           node->lamport.time);
}

/* demo_event: a send (the stamp travels as a message) or a local event, remembered in stamp. */
static int demo_event(struct demo_node *node, struct demo_stamp *msg, const char *what,
                      bool is_send)
{
    int rc = cs_vclock_node_tick(&node->vc);
    if (rc == 0 && is_send) rc = cs_lamport_send(&node->lamport, &msg->lamport_time);
    if (rc == 0 && !is_send) rc = cs_lamport_tick(&node->lamport, &msg->lamport_time);
    if (rc == 0) rc = cs_vclock_copy(&msg->clock, &node->vc.clock);
    if (rc) return rc;
    demo_print(node, what);
    return 0;
}

static int demo_receive(struct demo_node *node, const struct demo_stamp *msg, const char *what)
{
    uint64_t t;
    int rc = cs_vclock_node_update(&node->vc, &msg->clock);
    if (rc == 0) rc = cs_lamport_receive(&node->lamport, msg->lamport_time, &t);
    if (rc) return rc;
    demo_print(node, what);
    return 0;
}

static void demo_relation(const struct demo_stamp *x, const struct demo_stamp *y)
{
    enum cs_vc_order order = cs_vclock_compare(&x->clock, &y->clock);
    printf("  %s %s %s\n", x->name, cs_vc_order_name(order), y->name);
}

static int demo_scenario(struct demo_node *nodes, struct demo_stamp *m1, struct demo_stamp *m2,
                         struct demo_stamp *d1)
{
    struct demo_node *a = &nodes[0], *b = &nodes[1], *c = &nodes[2], *d = &nodes[3];
    printf("events (vector clock [A B C D], then Lamport time):\n");
    int rc = demo_event(a, m1, "send M1", true);
    if (rc == 0) rc = demo_receive(b, m1, "receive M1");
    if (rc == 0) rc = demo_event(b, m2, "send M2", true);
    if (rc == 0) rc = demo_receive(c, m1, "receive M1");
    if (rc == 0) rc = demo_event(d, d1, "event D1", false);
    if (rc == 0) rc = demo_receive(c, m2, "receive M2");
    return rc;
}

static void demo_explain(const struct demo_stamp *m1, const struct demo_stamp *m2,
                         const struct demo_stamp *d1)
{
    printf("\nrelations, from the vector clocks:\n");
    demo_relation(m1, m2);
    demo_relation(m1, d1);
    demo_relation(m2, d1);

    printf("\nwhat Lamport time alone would say:\n");
    printf("  L(M1)=%" PRIu64 " < L(M2)=%" PRIu64 ": right, M1 happens-before M2\n",
           m1->lamport_time, m2->lamport_time);
    printf("  L(D1)=%" PRIu64 " < L(M2)=%" PRIu64
           ": suggests D1 before M2, yet M2 concurrent-with D1\n",
           d1->lamport_time, m2->lamport_time);
    printf("  L(M1)=%" PRIu64 " = L(D1)=%" PRIu64 ": a tie, which says nothing either way\n",
           m1->lamport_time, d1->lamport_time);
    printf("Lamport order is consistent with causality (a -> b implies L(a) < L(b)),\n"
           "but L(a) < L(b) does not imply a -> b: it cannot detect concurrency.\n"
           "Vector clocks can: a -> b iff V(a) < V(b) entry by entry.\n");
}

static int clock_demo_run(int argc, char **argv)
{
    (void)argv;
    if (argc > 1) {
        fprintf(stderr, "usage: consist demo clocks\n");
        return CS_CLI_EXIT_USAGE;
    }
    struct demo_node nodes[DEMO_NODES];
    struct demo_stamp m1 = {.name = "M1"}, m2 = {.name = "M2"}, d1 = {.name = "D1"};
    cs_vclock_init(&m1.clock);
    cs_vclock_init(&m2.clock);
    cs_vclock_init(&d1.clock);
    int rc = 0;
    for (int i = 0; i < DEMO_NODES; i++) {
        int init_rc = cs_vclock_node_init(&nodes[i].vc, (uint64_t)i, DEMO_NODES);
        if (rc == 0) rc = init_rc;
        cs_lamport_init(&nodes[i].lamport);
    }
    if (rc == 0) rc = demo_scenario(nodes, &m1, &m2, &d1);
    if (rc == 0) demo_explain(&m1, &m2, &d1);
    for (int i = 0; i < DEMO_NODES; i++)
        cs_vclock_node_free(&nodes[i].vc);
    cs_vclock_free(&m1.clock);
    cs_vclock_free(&m2.clock);
    cs_vclock_free(&d1.clock);
    return rc ? demo_failed("scenario", rc) : CS_CLI_EXIT_OK;
}

CS_CLI_COMMAND(clock_demo_command, "demo", "clocks", "",
               "the exam scenario: vector clocks vs Lamport time on four nodes", clock_demo_run)
