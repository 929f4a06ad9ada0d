/*
 * cluster_cmd.c: `consist cluster up|status|down`, a local consistd cluster
 * in one command.
 *
 * The one idea: `up` is the parent of the nodes and stays in the
 * foreground, so Ctrl-C stops the whole cluster and nothing is left behind;
 * it writes <dir>/cluster.pids (node id, pid, RESP port per line) so that
 * `status` and `down`, run from another terminal, find the same nodes.
 * Node i listens for RESP on base+i-1 (7000+i by default), HTTP on
 * base+1000+i-1 and peers on base+2000+i-1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define CLUSTER_NODES_MAX   15
#define CLUSTER_PATH_MAX    1024
#define CLUSTER_INFO_BYTES  8192
#define CLUSTER_WAIT_MS_MAX 30000
#define CLUSTER_STOP_MS_MAX 5000
#define CLUSTER_PIDS_FILE   "cluster.pids"

struct cluster_opts {
    unsigned long long n;
    unsigned long long base_port;
    const char *dir;
    const char *bin;
};

struct cluster_node {
    unsigned id;
    pid_t pid;
    unsigned port;
};

static volatile sig_atomic_t cluster_stop_requested;

static void cluster_on_signal(int sig)
{
    (void)sig;
    cluster_stop_requested = 1;
}

static long long cluster_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cluster_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* INFO from the RESP port into out (NUL-terminated); 0 or -1. One second at most. */
static int cluster_info(unsigned port, char *out, size_t out_len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static const char req[] = "*1\r\n$4\r\nINFO\r\n";
    size_t got = 0;
    int rc = -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        while (got + 1 < out_len) {
            ssize_t r = read(fd, out + got, out_len - 1 - got);
            if (r <= 0) break;
            got += (size_t)r;
            out[got] = 0;
            char *crlf = strstr(out, "\r\n");
            if (out[0] == '$' && crlf && got >= (size_t)(crlf - out) + 2 + (size_t)atol(out + 1)) {
                rc = 0;
                break;
            }
            if (out[0] == '-' && crlf) break;
        }
    }
    close(fd);
    if (got < out_len) out[got] = 0;
    return rc;
}

static unsigned long long cluster_info_field(const char *info, const char *name)
{
    const char *p = strstr(info, name);
    return p ? strtoull(p + strlen(name), NULL, 10) : 0;
}

static int cluster_parse(int argc, char **argv, struct cluster_opts *o)
{
    o->n = 3;
    o->base_port = 7001;
    o->dir = "./data";
    o->bin = getenv("CONSISTD");
    for (int k = 1; k < argc; k++) {
        const char *f = argv[k];
        const char *v = k + 1 < argc ? argv[k + 1] : NULL;
        if (strcmp(f, "-n") == 0) {
            if (cli_parse_u64(f, v, &o->n)) return CS_CLI_EXIT_USAGE;
        } else if (strcmp(f, "--base-port") == 0) {
            if (cli_parse_u64(f, v, &o->base_port)) return CS_CLI_EXIT_USAGE;
        } else if (strcmp(f, "--dir") == 0 && v) {
            o->dir = v;
        } else if (strcmp(f, "--bin") == 0 && v) {
            o->bin = v;
        } else {
            fprintf(stderr, "consist cluster: unknown or incomplete flag '%s'\n", f);
            return CS_CLI_EXIT_USAGE;
        }
        k++;
    }
    if (o->n < 1 || o->n > CLUSTER_NODES_MAX) {
        fprintf(stderr, "consist cluster: -n must be 1..%d\n", CLUSTER_NODES_MAX);
        return CS_CLI_EXIT_USAGE;
    }
    if (o->base_port < 1024 || o->base_port + 2000 + o->n > 65535) {
        fprintf(stderr, "consist cluster: --base-port must leave room for base+2000+n <= 65535\n");
        return CS_CLI_EXIT_USAGE;
    }
    if (strlen(o->dir) > CLUSTER_PATH_MAX - 64) {
        fprintf(stderr, "consist cluster: --dir is too long\n");
        return CS_CLI_EXIT_USAGE;
    }
    return 0;
}

/* consistd beside this binary (build dir or bin/), unless --bin or $CONSISTD says. */
static int cluster_find_bin(const struct cluster_opts *o, char *out, size_t out_len)
{
    if (o->bin) {
        snprintf(out, out_len, "%s", o->bin);
        return access(out, X_OK);
    }
    char self[CLUSTER_PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return -1;
    self[len] = 0;
    char *slash = strrchr(self, '/');
    if (!slash) return -1;
    *slash = 0;
    static const char *const rel[] = {"consistd", "../consistd", "bin/consistd", "../bin/consistd"};
    for (size_t k = 0; k < sizeof rel / sizeof rel[0]; k++) {
        int n = snprintf(out, out_len, "%.*s/%s", (int)(out_len / 2), self, rel[k]);
        if (n > 0 && (size_t)n < out_len && access(out, X_OK) == 0) return 0;
    }
    return -1;
}

static int cluster_read_pids(const char *dir, struct cluster_node *nodes, size_t *len)
{
    char path[CLUSTER_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, CLUSTER_PIDS_FILE);
    FILE *f = fopen(path, "r");
    *len = 0;
    if (!f) {
        fprintf(stderr, "consist cluster: no cluster found in %s (%s)\n", dir, strerror(errno));
        return -1;
    }
    unsigned id, port;
    long pid;
    while (*len < CLUSTER_NODES_MAX && fscanf(f, "%u %ld %u", &id, &pid, &port) == 3)
        nodes[(*len)++] = (struct cluster_node){.id = id, .pid = (pid_t)pid, .port = port};
    fclose(f);
    return 0;
}

static void cluster_stop(struct cluster_node *nodes, size_t len, bool children)
{
    for (size_t k = 0; k < len; k++)
        if (nodes[k].pid > 0) kill(nodes[k].pid, SIGTERM);
    long long deadline = cluster_now_ms() + CLUSTER_STOP_MS_MAX;
    for (size_t k = 0; k < len; k++) {
        while (nodes[k].pid > 0 && cluster_now_ms() < deadline) {
            bool gone = children ? waitpid(nodes[k].pid, NULL, WNOHANG) == nodes[k].pid
                                 : kill(nodes[k].pid, 0) != 0;
            if (gone) break;
            cluster_sleep_ms(20);
        }
        if (nodes[k].pid > 0 && kill(nodes[k].pid, 0) == 0 && cluster_now_ms() >= deadline) {
            kill(nodes[k].pid, SIGKILL); /* past the bound: stop it anyway */
            if (children) waitpid(nodes[k].pid, NULL, 0);
        }
        nodes[k].pid = 0;
    }
}

static pid_t cluster_spawn(const char *bin, const struct cluster_opts *o, unsigned i)
{
    char args[8 + 3 * CLUSTER_NODES_MAX][64];
    char bin_copy[CLUSTER_PATH_MAX];
    char node_dir[CLUSTER_PATH_MAX], log_path[CLUSTER_PATH_MAX];
    char *argv[32 + 3 * CLUSTER_NODES_MAX];
    int argc = 0, a = 0;
    unsigned base = (unsigned)o->base_port;
    snprintf(node_dir, sizeof node_dir, "%s/node%u", o->dir, i);
    snprintf(log_path, sizeof log_path, "%s/node%u.log", o->dir, i);
    snprintf(bin_copy, sizeof bin_copy, "%s", bin);
    argv[argc++] = bin_copy;
#define ARG(...) (snprintf(args[a], sizeof args[a], __VA_ARGS__), argv[argc++] = args[a++])
    ARG("--node-id");
    ARG("%u", i);
    ARG("--port");
    ARG("%u", base + i - 1);
    ARG("--peer-port");
    ARG("%u", base + 2000 + i - 1);
    ARG("--http-port");
    ARG("%u", base + 1000 + i - 1);
    ARG("--dir");
    argv[argc++] = node_dir;
    for (unsigned j = 1; j <= o->n; j++) {
        if (j == i) continue;
        ARG("--peer");
        ARG("%u", j);
        ARG("127.0.0.1:%u", base + 2000 + j - 1);
    }
#undef ARG
    argv[argc] = NULL;
    pid_t pid = fork();
    if (pid == 0) {
        FILE *log = freopen(log_path, "a", stderr);
        if (log) dup2(fileno(stderr), STDOUT_FILENO);
        signal(SIGINT, SIG_IGN); /* the terminal's Ctrl-C reaches `up`, which stops us in order */
        execv(bin, argv);
        fprintf(stderr, "consist cluster: cannot run %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Until some node leads and every node names it, a child dies, or the bound passes. */
static int cluster_wait_leader(struct cluster_node *nodes, size_t len, unsigned *leader_port)
{
    long long deadline = cluster_now_ms() + CLUSTER_WAIT_MS_MAX;
    char info[CLUSTER_INFO_BYTES];
    while (cluster_now_ms() < deadline && !cluster_stop_requested) {
        unsigned long long leader = 0;
        size_t agree = 0;
        for (size_t k = 0; k < len; k++) {
            int status;
            if (waitpid(nodes[k].pid, &status, WNOHANG) == nodes[k].pid) {
                fprintf(stderr, "consist cluster: node %u exited early; see its log\n",
                        nodes[k].id);
                nodes[k].pid = 0;
                return -1;
            }
            if (cluster_info(nodes[k].port, info, sizeof info) != 0) continue;
            unsigned long long l = cluster_info_field(info, "raft_leader:");
            if (l && (leader == 0 || l == leader)) {
                leader = l;
                agree++;
            }
        }
        if (leader && agree == len) {
            for (size_t k = 0; k < len; k++)
                if (nodes[k].id == leader) *leader_port = nodes[k].port;
            return 0;
        }
        cluster_sleep_ms(100);
    }
    return -1;
}

static int cluster_up(int argc, char **argv)
{
    struct cluster_opts o;
    int rc = cluster_parse(argc, argv, &o);
    if (rc) return rc;
    char bin[CLUSTER_PATH_MAX];
    if (cluster_find_bin(&o, bin, sizeof bin) != 0) {
        fprintf(stderr, "consist cluster: consistd not found (use --bin PATH or $CONSISTD)\n");
        return CS_CLI_EXIT_INPUT;
    }
    if (mkdir(o.dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "consist cluster: cannot create %s: %s\n", o.dir, strerror(errno));
        return CS_CLI_EXIT_INPUT;
    }
    struct sigaction sa = {.sa_handler = cluster_on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct cluster_node nodes[CLUSTER_NODES_MAX];
    size_t len = (size_t)o.n;
    char path[CLUSTER_PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", o.dir, CLUSTER_PIDS_FILE);
    FILE *pids = fopen(path, "w");
    if (!pids) {
        fprintf(stderr, "consist cluster: cannot write %s: %s\n", path, strerror(errno));
        return CS_CLI_EXIT_INPUT;
    }
    for (unsigned i = 1; i <= o.n; i++) {
        nodes[i - 1] = (struct cluster_node){
            .id = i, .pid = cluster_spawn(bin, &o, i), .port = (unsigned)o.base_port + i - 1};
        fprintf(pids, "%u %ld %u\n", i, (long)nodes[i - 1].pid, nodes[i - 1].port);
    }
    fclose(pids);
    unsigned leader_port = 0;
    if (cluster_wait_leader(nodes, len, &leader_port) != 0) {
        fprintf(stderr, "consist cluster: no leader within %d ms; stopping\n", CLUSTER_WAIT_MS_MAX);
        cluster_stop(nodes, len, true);
        unlink(path);
        return CS_CLI_EXIT_NO;
    }
    printf("consist cluster up: %zu node(s), data in %s, leader on port %u\n", len, o.dir,
           leader_port);
    for (size_t k = 0; k < len; k++)
        printf(
            "  node %u: redis-cli -p %u   curl localhost:%u/v1/cluster   (peers on %u, pid %ld)\n",
            nodes[k].id, nodes[k].port, nodes[k].port + 1000, nodes[k].port + 2000,
            (long)nodes[k].pid);
    printf("any node takes reads and writes (followers forward to the leader).\n"
           "Ctrl-C stops the cluster; `consist cluster status --dir %s` from another shell.\n",
           o.dir);
    fflush(stdout);
    size_t alive = len;
    while (!cluster_stop_requested && alive > 0) {
        cluster_sleep_ms(100);
        for (size_t k = 0; k < len; k++) {
            if (nodes[k].pid > 0 && waitpid(nodes[k].pid, NULL, WNOHANG) == nodes[k].pid) {
                fprintf(stderr, "consist cluster: node %u exited\n", nodes[k].id);
                nodes[k].pid = 0;
                alive--;
            }
        }
    }
    cluster_stop(nodes, len, true);
    unlink(path);
    printf("consist cluster: stopped\n");
    return CS_CLI_EXIT_OK;
}

/* The nodes a running cluster's directory names: 0, or the exit code to return. */
static int cluster_running(int argc, char **argv, struct cluster_node *nodes, size_t *len)
{
    struct cluster_opts o;
    int rc = cluster_parse(argc, argv, &o);
    if (rc) return rc;
    return cluster_read_pids(o.dir, nodes, len) != 0 ? CS_CLI_EXIT_NO : 0;
}

static int cluster_status(int argc, char **argv)
{
    struct cluster_node nodes[CLUSTER_NODES_MAX];
    size_t len;
    int rc = cluster_running(argc, argv, nodes, &len);
    if (rc) return rc;
    char info[CLUSTER_INFO_BYTES];
    size_t up = 0;
    printf("%-5s %-8s %-6s %-10s %-6s %-7s %-10s %-10s\n", "node", "pid", "port", "role", "term",
           "leader", "commit", "applied");
    for (size_t k = 0; k < len; k++) {
        if (kill(nodes[k].pid, 0) != 0 || cluster_info(nodes[k].port, info, sizeof info) != 0) {
            printf("%-5u %-8ld %-6u %-10s\n", nodes[k].id, (long)nodes[k].pid, nodes[k].port,
                   "down");
            continue;
        }
        up++;
        char role[16] = "?";
        const char *r = strstr(info, "raft_role:");
        if (r) sscanf(r + 10, "%15[a-z_-]", role);
        printf("%-5u %-8ld %-6u %-10s %-6llu %-7llu %-10llu %-10llu\n", nodes[k].id,
               (long)nodes[k].pid, nodes[k].port, role, cluster_info_field(info, "raft_term:"),
               cluster_info_field(info, "raft_leader:"),
               cluster_info_field(info, "raft_commit_index:"),
               cluster_info_field(info, "raft_applied_index:"));
    }
    return up == len ? CS_CLI_EXIT_OK : CS_CLI_EXIT_NO;
}

static int cluster_down(int argc, char **argv)
{
    struct cluster_node nodes[CLUSTER_NODES_MAX];
    size_t len;
    int rc = cluster_running(argc, argv, nodes, &len);
    if (rc) return rc;
    cluster_stop(nodes, len, false);
    printf("consist cluster: stopped %zu node(s)\n", len);
    return CS_CLI_EXIT_OK;
}

static int cluster_run(int argc, char **argv)
{
    return cli_dispatch_sub("cluster", argc, argv);
}

CS_CLI_COMMAND(cluster_command, NULL, "cluster", "up|status|down [flags]",
               "run a local consistd cluster", cluster_run)
CS_CLI_COMMAND(cluster_up_command, "cluster", "up",
               "[-n 3] [--dir ./data] [--base-port 7001] [--bin consistd]",
               "start n nodes, wait for a leader, stop them on Ctrl-C", cluster_up)
CS_CLI_COMMAND(cluster_status_command, "cluster", "status", "[--dir ./data]",
               "role, term, leader and indexes of each node (exit 1 if any is down)",
               cluster_status)
CS_CLI_COMMAND(cluster_down_command, "cluster", "down", "[--dir ./data]",
               "stop the nodes of a cluster started by `up`", cluster_down)
