/*
 * main.c: the consistd process: read the config (a file and flags), open
 * the node, listen, run one libuv loop until SIGINT or SIGTERM.
 *
 * The one idea: nothing needs flushing on the way out. Every write a client
 * was told about is already synced (the node syncs before it answers), so a
 * clean stop and a kill -9 leave the same durable state; a clean stop only
 * closes the files so the next start needs no recovery of a torn tail.
 *
 *   consistd [/path/to/consistd.conf] [--key value ...]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "server.h"

#define MAIN_FLAG_VALUES_MAX 4

struct main_state {
    uv_loop_t *loop;
    struct srv_node *node;
    struct srv_clients *clients;
    struct srv_http *http;
    uv_signal_t sigint, sigterm;
};

static void main_usage(FILE *out)
{
    fprintf(out, "usage: consistd [consistd.conf] [--key value ...]\n"
                 "  --node-id N          this node's id (default 1)\n"
                 "  --cluster-id NAME    peers of another cluster are refused (default consist)\n"
                 "  --bind ADDR          IPv4 address to listen on (default 127.0.0.1)\n"
                 "  --port N             RESP client port (default 7001)\n"
                 "  --http-port N        HTTP/JSON port (default 8001; 0: none)\n"
                 "  --peer-port N        peer port (default 9001)\n"
                 "  --peer ID HOST:PORT  a peer; repeat for each (none: a one-node cluster)\n"
                 "  --dir PATH           data directory (default ./data)\n"
                 "  --join               join a running cluster: no membership of its own;\n"
                 "                       then RAFT ADD <id> <host:peer-port> on the leader\n"
                 "  --election-timeout-ms, --heartbeat-interval-ms, --request-timeout-ms,\n"
                 "  --maxclients, --snapshot-every, --proto-max-bulk-len,\n"
                 "  --client-query-buffer-limit, --max-args, --max-inline-bytes, --loglevel\n"
                 "See docs/server.md and consistd.conf.example.\n");
}

static int main_mkdirs(const char *path)
{
    char buf[SRV_PATH_BYTES_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

static int main_parse(int argc, char **argv, struct srv_config *c)
{
    char err[512];
    int k = 1;
    if (k < argc && argv[k][0] != '-') {
        if (srv_config_load_file(c, argv[k], err, sizeof err)) {
            fprintf(stderr, "consistd: %s\n", err);
            return 3;
        }
        k++;
    }
    while (k < argc) {
        if (strcmp(argv[k], "-h") == 0 || strcmp(argv[k], "--help") == 0) {
            main_usage(stdout);
            exit(0);
        }
        if (strncmp(argv[k], "--", 2) != 0) {
            fprintf(stderr, "consistd: unexpected argument '%s'\n", argv[k]);
            main_usage(stderr);
            return 2;
        }
        const char *key = argv[k] + 2;
        char *vals[MAIN_FLAG_VALUES_MAX];
        int n = 0;
        k++;
        while (k < argc && strncmp(argv[k], "--", 2) != 0 && n < MAIN_FLAG_VALUES_MAX)
            vals[n++] = argv[k++];
        if (srv_config_set(c, key, vals, n, err, sizeof err)) {
            fprintf(stderr, "consistd: --%s: %s\n", key, err);
            return 2;
        }
    }
    if (srv_config_check(c, err, sizeof err)) {
        fprintf(stderr, "consistd: %s\n", err);
        return 2;
    }
    return 0;
}

static void main_on_signal(uv_signal_t *h, int signum)
{
    struct main_state *m = h->data;
    fprintf(stderr, "consistd: signal %d, stopping\n", signum);
    uv_stop(m->loop);
}

static void main_log_level(const char *name)
{
    enum cs_log_level level = CS_LOG_INFO;
    if (strcmp(name, "notice") == 0 || strcmp(name, "verbose") == 0)
        level = CS_LOG_INFO;
    else if (strcmp(name, "warning") == 0)
        level = CS_LOG_WARN;
    else
        (void)cs_log_level_parse(name, &level);
    cs_log_set_level(level);
}

int main(int argc, char **argv)
{
    static struct srv_config config;
    srv_config_default(&config);
    int rc = main_parse(argc, argv, &config);
    if (rc) return rc;
    main_log_level(config.log_level);
    if (main_mkdirs(config.dir) != 0) {
        fprintf(stderr, "consistd: cannot create %s: %s\n", config.dir, strerror(errno));
        return 1;
    }
    /* A peer or client that vanishes must cost a write error (EPIPE), not the process. */
    signal(SIGPIPE, SIG_IGN);
    static struct main_state m;
    m.loop = uv_default_loop();
    rc = srv_node_open(&m.node, m.loop, &config);
    if (rc) {
        fprintf(stderr, "consistd: cannot start the node in %s: %s\n", config.dir, cs_strerror(rc));
        return 1;
    }
    rc = srv_clients_open(&m.clients, m.loop, &config, m.node);
    if (rc) return 1;
    if (config.http_port != 0 && srv_http_open(&m.http, m.loop, &config, m.node) != 0) return 1;
    uv_signal_init(m.loop, &m.sigint);
    uv_signal_init(m.loop, &m.sigterm);
    m.sigint.data = m.sigterm.data = &m;
    uv_signal_start(&m.sigint, main_on_signal, SIGINT);
    uv_signal_start(&m.sigterm, main_on_signal, SIGTERM);
    fprintf(stderr,
            "consistd: node %llu of cluster '%s': RESP on %s:%u, HTTP on %u, peers on %u, "
            "%u peer(s), data in %s\n",
            (unsigned long long)config.node_id, config.cluster_id, config.bind, config.port,
            config.http_port, config.peer_port, config.peers_len, config.dir);
    uv_run(m.loop, UV_RUN_DEFAULT);
    srv_clients_close(m.clients);
    srv_node_close(m.node);
    fflush(stderr);
    /* Every acknowledged write is synced already; skip freeing what the loop still holds. */
    _exit(0);
}
