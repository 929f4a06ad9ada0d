/*
 * config.c: consistd's configuration: defaults, a redis.conf-style file
 * ("key value ..." lines, '#' comments, double quotes for values with
 * spaces) and the same keys as command-line flags (--key value ...).
 *
 * The one idea: the file and the flags go through one setter, so every key
 * is spelled, checked and documented once (docs/server.md lists them).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

#define CONFIG_ARGS_MAX 8 /* words on one line */

void srv_config_default(struct srv_config *c)
{
    memset(c, 0, sizeof *c);
    c->node_id = 1;
    snprintf(c->cluster_id, sizeof c->cluster_id, "consist");
    snprintf(c->bind, sizeof c->bind, "127.0.0.1");
    c->port = 7001;
    c->peer_port = 9001;
    c->http_port = 8001;
    snprintf(c->dir, sizeof c->dir, "./data");
    c->election_timeout_ms = 1000;
    c->heartbeat_interval_ms = 100;
    c->request_timeout_ms = 5000;
    c->clients_max = 10000;
    c->snapshot_every = 100000;
    cs_resp_limits_default(&c->resp);
    c->resp.query_buffer_bytes_max = 64u << 20; /* room for one maximal value and framing */
    c->resp.bulk_bytes_max = 16u << 20;
    snprintf(c->log_level, sizeof c->log_level, "notice");
}

static int parse_u64(const char *text, uint64_t lo, uint64_t hi, uint64_t *out)
{
    if (!text[0] || !isdigit((unsigned char)text[0])) return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* "host:port" into addr; "localhost" means 127.0.0.1 (addresses are numeric IPv4). */
int srv_config_parse_addr(const char *text, struct srv_peer_addr *addr)
{
    const char *colon = strrchr(text, ':');
    uint64_t port;
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof addr->host) return -1;
    if (parse_u64(colon + 1, 1, 65535, &port)) return -1;
    memcpy(addr->host, text, (size_t)(colon - text));
    addr->host[colon - text] = 0;
    if (strcmp(addr->host, "localhost") == 0) snprintf(addr->host, sizeof addr->host, "127.0.0.1");
    addr->port = (uint16_t)port;
    return 0;
}

static int set_peer(struct srv_config *c, char **vals, int nvals, char *err, size_t err_len)
{
    /* "peer <id> <host:port>" or "peer <id>=<host:port>" */
    char id_text[32], addr_text[SRV_HOST_BYTES_MAX + 8];
    if (nvals == 2) {
        snprintf(id_text, sizeof id_text, "%s", vals[0]);
        snprintf(addr_text, sizeof addr_text, "%s", vals[1]);
    } else if (nvals == 1 && strchr(vals[0], '=')) {
        const char *eq = strchr(vals[0], '=');
        snprintf(id_text, sizeof id_text, "%.*s", (int)(eq - vals[0]), vals[0]);
        snprintf(addr_text, sizeof addr_text, "%s", eq + 1);
    } else {
        snprintf(err, err_len, "peer wants: <id> <host:port>");
        return -1;
    }
    if (c->peers_len == SRV_PEERS_MAX) {
        snprintf(err, err_len, "more than %d peers", SRV_PEERS_MAX);
        return -1;
    }
    struct srv_peer_addr *a = &c->peers[c->peers_len];
    uint64_t id;
    if (parse_u64(id_text, 1, UINT64_MAX, &id) || srv_config_parse_addr(addr_text, a)) {
        snprintf(err, err_len, "bad peer '%s %s' (want <id> <host:port>, id > 0)", id_text,
                 addr_text);
        return -1;
    }
    for (uint32_t k = 0; k < c->peers_len; k++)
        if (c->peers[k].id == id) {
            snprintf(err, err_len, "peer %s named twice", id_text);
            return -1;
        }
    a->id = id;
    c->peers_len++;
    return 0;
}

int srv_config_set(struct srv_config *c, const char *key, char **vals, int nvals, char *err,
                   size_t err_len)
{
    uint64_t v = 0;
    if (strcmp(key, "peer") == 0) return set_peer(c, vals, nvals, err, err_len);
    if (strcmp(key, "join") == 0) { /* a flag, or "join yes|no" in a file */
        if (nvals == 0 || (nvals == 1 && strcmp(vals[0], "yes") == 0)) {
            c->join = true;
        } else if (nvals == 1 && strcmp(vals[0], "no") == 0) {
            c->join = false;
        } else {
            snprintf(err, err_len, "join wants yes or no");
            return -1;
        }
        return 0;
    }
    if (nvals != 1) {
        snprintf(err, err_len, "'%s' wants one value", key);
        return -1;
    }
    const char *s = vals[0];
    struct {
        const char *name;
        uint64_t lo, hi;
        void *dst;
        int width; /* 2, 4 or 8 bytes; 0 for size_t */
    } nums[] = {
        {"node-id", 1, UINT64_MAX, &c->node_id, 8},
        {"port", 1, 65535, &c->port, 2},
        {"peer-port", 1, 65535, &c->peer_port, 2},
        {"http-port", 0, 65535, &c->http_port, 2},
        {"election-timeout-ms", 50, 60000, &c->election_timeout_ms, 4},
        {"heartbeat-interval-ms", 10, 10000, &c->heartbeat_interval_ms, 4},
        {"request-timeout-ms", 100, 600000, &c->request_timeout_ms, 4},
        {"maxclients", 1, SRV_CLIENTS_MAX_LIMIT, &c->clients_max, 4},
        {"snapshot-every", 16, 100000000, &c->snapshot_every, 4},
        {"proto-max-bulk-len", 1, CS_RESP_BULK_BYTES_MAX_DEFAULT, &c->resp.bulk_bytes_max, 0},
        {"client-query-buffer-limit", 1024, 1ull << 30, &c->resp.query_buffer_bytes_max, 0},
        {"max-args", 1, CS_RESP_ARGS_CEILING, &c->resp.args_max, 0},
        {"max-inline-bytes", 16, 1u << 20, &c->resp.inline_bytes_max, 0},
    };
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        if (strcmp(key, nums[k].name) != 0) continue;
        if (parse_u64(s, nums[k].lo, nums[k].hi, &v)) {
            snprintf(err, err_len, "'%s' wants an integer in [%llu, %llu], not '%s'", key,
                     (unsigned long long)nums[k].lo, (unsigned long long)nums[k].hi, s);
            return -1;
        }
        switch (nums[k].width) {
        case 2:
            *(uint16_t *)nums[k].dst = (uint16_t)v;
            break;
        case 4:
            *(uint32_t *)nums[k].dst = (uint32_t)v;
            break;
        case 8:
            *(uint64_t *)nums[k].dst = v;
            break;
        default:
            *(size_t *)nums[k].dst = (size_t)v;
            break;
        }
        return 0;
    }
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } strs[] = {
        {"cluster-id", c->cluster_id, sizeof c->cluster_id},
        {"bind", c->bind, sizeof c->bind},
        {"dir", c->dir, sizeof c->dir},
        {"loglevel", c->log_level, sizeof c->log_level},
    };
    for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) {
        if (strcmp(key, strs[k].name) != 0) continue;
        if (!s[0] || strlen(s) >= strs[k].cap) {
            snprintf(err, err_len, "'%s' wants 1..%zu characters", key, strs[k].cap - 1);
            return -1;
        }
        snprintf(strs[k].dst, strs[k].cap, "%s", s);
        if (strcmp(key, "bind") == 0 && strcmp(s, "localhost") == 0) {
            snprintf(c->bind, sizeof c->bind, "127.0.0.1");
        }
        return 0;
    }
    snprintf(err, err_len, "unknown setting '%s'", key);
    return -1;
}

/* Split a line into words; "..." groups words. Returns the count, or -1. */
static int split_words(char *line, char **words, int words_max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p || *p == '#') return n;
        if (n == words_max) return -1;
        if (*p == '"') {
            char *end = strchr(p + 1, '"');
            if (!end) return -1;
            *end = 0;
            words[n++] = p + 1;
            p = end + 1;
            continue;
        }
        words[n++] = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            p++;
        if (*p) *p++ = 0;
    }
}

int srv_config_load_file(struct srv_config *c, const char *path, char *err, size_t err_len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[SRV_CONFIG_LINE_MAX + 2];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char why[256];
        char *words[CONFIG_ARGS_MAX];
        if (lineno > SRV_CONFIG_LINES_MAX) {
            snprintf(err, err_len, "%s:%d: more than %d lines", path, lineno, SRV_CONFIG_LINES_MAX);
            rc = -1;
        } else if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, err_len, "%s:%d: line longer than %d bytes", path, lineno,
                     SRV_CONFIG_LINE_MAX);
            rc = -1;
        } else {
            int n = split_words(line, words, CONFIG_ARGS_MAX);
            if (n < 0) {
                snprintf(err, err_len, "%s:%d: unbalanced quote or too many words", path, lineno);
                rc = -1;
            } else if (n == 1) {
                snprintf(err, err_len, "%s:%d: '%s' has no value", path, lineno, words[0]);
                rc = -1;
            } else if (n > 1 && srv_config_set(c, words[0], words + 1, n - 1, why, sizeof why)) {
                snprintf(err, err_len, "%s:%d: %s", path, lineno, why);
                rc = -1;
            }
        }
    }
    fclose(f);
    return rc;
}

int srv_config_check(const struct srv_config *c, char *err, size_t err_len)
{
    if (c->heartbeat_interval_ms * 2 > c->election_timeout_ms) {
        snprintf(err, err_len, "heartbeat-interval-ms must be at most half election-timeout-ms");
        return -1;
    }
    for (uint32_t k = 0; k < c->peers_len; k++)
        if (c->peers[k].id == c->node_id) {
            snprintf(err, err_len, "peer %llu is this node's own id",
                     (unsigned long long)c->node_id);
            return -1;
        }
    if (c->port == c->peer_port || c->http_port == c->port || c->http_port == c->peer_port) {
        snprintf(err, err_len, "port, peer-port and http-port must differ");
        return -1;
    }
    if (cs_resp_limits_check(&c->resp) != 0) {
        snprintf(err, err_len,
                 "client-query-buffer-limit must hold proto-max-bulk-len + framing "
                 "and max-inline-bytes");
        return -1;
    }
    return 0;
}
