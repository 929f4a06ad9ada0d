/*
 * http.c: the HTTP/JSON port: /v1/kv/{key} (GET, PUT, DELETE), /v1/cluster,
 * /healthz and /metrics, on the sans-IO parser of consist/http.h.
 *
 * The one idea: a connection has at most one request in the node at a time
 * and reads nothing more until it is answered, so responses leave in
 * request order with no reply queue, and a client that pipelines only fills
 * its own parser buffer (bounded by the parser's limits). Bad requests get
 * a 4xx with a JSON body; a framing error gets its status and the
 * connection closes.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/http.h"
#include "server.h"

#define HTTP_READ_BYTES        (64u << 10)
#define HTTP_RESPONSE_MAX      (CS_KV_VALUE_BYTES_MAX * 8 + 4096) /* JSON-escaped value + head */
#define HTTP_KV_PREFIX         "/v1/kv/"
#define HTTP_CONNECTIONS_MAX   1024
#define HTTP_TTL_MS_MAX        (1ull << 40) /* ?ttl_ms= of a PUT: about 35 years */
#define HTTP_METRICS_BYTES_MAX (64u << 10)

struct http_conn {
    uv_tcp_t tcp;
    struct srv_http *server;
    struct cs_http_parser *parser;
    struct cs_buf out; /* the response being built */
    uint64_t req_id;   /* != 0: a request is in the node */
    bool keep_alive;
    bool reading;
    bool dead;
    bool dirty;
    struct http_conn *dirty_next;
    char key_echo[CS_KV_KEY_BYTES_MAX + 1]; /* the key, for the JSON answer */
    size_t key_len;
    uint8_t op;             /* CS_KV_GET, CS_KV_SET, CS_KV_DEL */
    uint64_t session_index; /* the request's ?session= token */
    uint8_t kind;           /* SRV_KIND_* of the request in the node */
    uint64_t start_ns;
};

struct http_write {
    uv_write_t req;
    struct http_conn *conn;
    uint8_t bytes[];
};

struct srv_http {
    uv_loop_t *loop;
    const struct srv_config *config;
    struct srv_node *node;
    uv_tcp_t listener;
    uint32_t connections;
    struct http_conn *dirty;
    uint64_t requests;
    uint64_t errors_4xx;
    uint64_t errors_5xx;
};

static void http_process(struct http_conn *c);
static int http_read_start(struct http_conn *c);

static void http_mark_dirty(struct http_conn *c)
{
    if (c->dirty) return;
    c->dirty = true;
    c->dirty_next = c->server->dirty;
    c->server->dirty = c;
}

static void http_on_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    c->server->connections--;
    cs_http_parser_free(c->parser);
    cs_buf_free(&c->out);
    free(c);
}

static void http_maybe_free(struct http_conn *c)
{
    if (!c->dead || c->req_id || c->dirty || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, http_on_closed);
}

static void http_kill(struct http_conn *c)
{
    c->dead = true;
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    http_maybe_free(c);
}

static void http_write_done(uv_write_t *req, int status)
{
    struct http_write *w = req->data;
    struct http_conn *c = w->conn;
    free(w);
    if (status != 0) http_kill(c);
}

/* Send c->out; then read on (keep-alive) or close. */
static void http_send(struct http_conn *c)
{
    size_t len = c->out.len;
    struct http_write *w = c->dead ? NULL : malloc(sizeof *w + len);
    if (w) {
        memcpy(w->bytes, c->out.data, len);
        w->conn = c;
        w->req.data = w;
        uv_buf_t buf = uv_buf_init((char *)w->bytes, (unsigned)len);
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, http_write_done) != 0) {
            free(w);
            c->dead = true;
        } else {
            srv_metrics.bytes_out[SRV_IFACE_HTTP] += len;
        }
    }
    cs_buf_reset(&c->out);
    if (!c->keep_alive) c->dead = true;
    if (c->dead) {
        http_kill(c);
        return;
    }
    http_process(c);
}

static void http_json_response(struct http_conn *c, int status, const struct cs_buf *body)
{
    cs_http_write_head(&c->out, status, "application/json", body->len, c->keep_alive);
    cs_put_raw(&c->out, body->data, body->len);
    if (status >= 500)
        c->server->errors_5xx++;
    else if (status >= 400)
        c->server->errors_4xx++;
}

static void http_error(struct http_conn *c, int status, const char *message)
{
    cs_http_write_error(&c->out, status, message, c->keep_alive);
    if (status >= 500)
        c->server->errors_5xx++;
    else
        c->server->errors_4xx++;
}

/* ---- /v1/kv ---------------------------------------------------------------- */

static void http_on_done(void *ctx, uint64_t req_id, const struct srv_result *res)
{
    struct http_conn *c = ctx;
    CS_ASSERT(c->req_id == req_id);
    c->req_id = 0;
    srv_hist_observe(&srv_metrics.latency[c->kind], (uv_hrtime() - c->start_ns) / 1000);
    if (res->err_code) srv_metrics_error(res->err_code);
    struct cs_buf body;
    cs_buf_init(&body, HTTP_RESPONSE_MAX);
    struct cs_json j;
    cs_json_init(&j, &body);
    if (res->err_code) {
        int status = strcmp(res->err_code, "TRYAGAIN") == 0   ? 503
                     : strcmp(res->err_code, "NOQUORUM") == 0 ? 504
                                                              : 500;
        http_error(c, status, res->err_msg);
    } else {
        const struct cs_kv_result *r0 = &res->reply->results[0];
        cs_json_object_begin(&j);
        cs_json_key(&j, "key", 3);
        cs_json_string(&j, c->key_echo, c->key_len);
        /* The session token after this request: pass it back as ?session= to read your writes. */
        char token[SRV_TOKEN_BYTES_MAX];
        size_t token_len =
            srv_token_format(token, res->index > c->session_index ? res->index : c->session_index);
        cs_json_key(&j, "session", 7);
        cs_json_string(&j, token, token_len);
        if (c->op == CS_KV_GET && !r0->found) {
            http_error(c, 404, "key not found");
            cs_buf_free(&body);
            http_mark_dirty(c);
            return;
        }
        if (c->op == CS_KV_GET) {
            cs_json_key(&j, "value", 5);
            cs_json_string(&j, r0->value, r0->value_len);
        } else if (c->op == CS_KV_DEL) {
            cs_json_key(&j, "deleted", 7);
            cs_json_int(&j, r0->number);
        } else {
            cs_json_key(&j, "ok", 2);
            cs_json_bool(&j, true);
        }
        cs_json_object_end(&j);
        http_json_response(c, 200, &body);
    }
    cs_buf_free(&body);
    http_mark_dirty(c); /* sent after the turn's Ready batches, by srv_http_flush */
}

static void http_kv(struct http_conn *c, const struct cs_http_request *req)
{
    const uint8_t *key = req->path + strlen(HTTP_KV_PREFIX);
    size_t key_len = req->path_len - strlen(HTTP_KV_PREFIX);
    if (key_len == 0) return http_error(c, 400, "empty key");
    if (key_len > CS_KV_KEY_BYTES_MAX) return http_error(c, 400, "key longer than 512 bytes");
    if (srv_key_reserved(key, key_len)) return http_error(c, 400, "key reserved for the cluster");
    static struct cs_kv_command cmd;
    memset(&cmd, 0, sizeof cmd);
    cmd.ops_len = 1;
    cmd.ops[0].key = key;
    cmd.ops[0].key_len = (uint32_t)key_len;
    bool is_read = false;
    if (cs_http_name_eq(req->method, req->method_len, "GET")) {
        cmd.ops[0].type = CS_KV_GET;
        is_read = true;
    } else if (cs_http_name_eq(req->method, req->method_len, "PUT")) {
        if (req->body_len > CS_KV_VALUE_BYTES_MAX) {
            return http_error(c, 413, "value longer than 65536 bytes");
        }
        cmd.ops[0].type = CS_KV_SET;
        cmd.ops[0].value = req->body;
        cmd.ops[0].value_len = (uint32_t)req->body_len;
    } else if (cs_http_name_eq(req->method, req->method_len, "DELETE")) {
        cmd.ops[0].type = CS_KV_DEL;
    } else {
        return http_error(c, 405, "use GET, PUT or DELETE on /v1/kv/{key}");
    }
    enum srv_read read = is_read ? SRV_READ_LINEARIZABLE : SRV_WRITE;
    const struct cs_http_param *level = cs_http_request_param(req, "consistency");
    if (level && level->value_len == 7 && memcmp(level->value, "session", 7) == 0) {
        if (is_read) read = SRV_READ_SESSION;
    } else if (level &&
               !(level->value_len == 12 && memcmp(level->value, "linearizable", 12) == 0)) {
        return http_error(c, 400, "consistency: linearizable or session");
    }
    c->session_index = 0;
    const struct cs_http_param *token = cs_http_request_param(req, "session");
    if (token && srv_token_parse(token->value, token->value_len, &c->session_index) != 0) {
        return http_error(c, 400, "session: expected a token " SRV_TOKEN_PREFIX "<index>");
    }
    const struct cs_http_param *ttl = cs_http_request_param(req, "ttl_ms");
    if (ttl) {
        uint64_t ms = 0;
        if (cmd.ops[0].type != CS_KV_SET || srv_parse_u64(ttl->value, ttl->value_len, &ms) != 0 ||
            ms == 0 || ms > HTTP_TTL_MS_MAX) {
            return http_error(c, 400, "ttl_ms: a PUT's time to live, 1..2^40 ms");
        }
        cmd.ops[0].expire_at_ms = srv_wall_ms() + ms;
    }
    c->op = cmd.ops[0].type;
    memcpy(c->key_echo, key, key_len);
    c->key_len = key_len;
    c->req_id = srv_node_next_req_id(c->server->node);
    cmd.now_ms = srv_wall_ms();
    c->kind = (uint8_t)read;
    c->start_ns = uv_hrtime();
    srv_metrics.commands[SRV_IFACE_HTTP][read]++;
    srv_node_submit(c->server->node, &cmd, read, c->session_index, c->req_id, http_on_done, c);
}

/* ---- /v1/cluster, /healthz, /metrics ------------------------------------- */

static void http_cluster(struct http_conn *c)
{
    struct cs_raft_status st;
    struct srv_node_counters k;
    srv_node_status(c->server->node, &st, &k);
    struct cs_buf body;
    cs_buf_init(&body, 1u << 16);
    struct cs_json j;
    cs_json_init(&j, &body);
    cs_json_object_begin(&j);
    cs_json_key(&j, "node", 4);
    cs_json_uint(&j, st.id);
    cs_json_key(&j, "cluster", 7);
    cs_json_string(&j, c->server->config->cluster_id, strlen(c->server->config->cluster_id));
    cs_json_key(&j, "peers_connected", 15);
    cs_json_uint(&j, k.peers_connected);
    cs_json_key(&j, "groups", 6);
    cs_json_array_begin(&j);
    cs_json_object_begin(&j);
    cs_json_key(&j, "group", 5);
    cs_json_uint(&j, 1);
    cs_json_key(&j, "role", 4);
    const char *role = cs_raft_role_name(st.role);
    cs_json_string(&j, role, strlen(role));
    cs_json_key(&j, "term", 4);
    cs_json_uint(&j, st.term);
    cs_json_key(&j, "leader", 6);
    cs_json_uint(&j, st.leader);
    cs_json_key(&j, "commit_index", 12);
    cs_json_uint(&j, st.commit);
    cs_json_key(&j, "applied_index", 13);
    cs_json_uint(&j, st.applied);
    cs_json_key(&j, "last_index", 10);
    cs_json_uint(&j, st.last_index);
    cs_json_key(&j, "snapshot_index", 14);
    cs_json_uint(&j, st.snapshot_index);
    cs_json_key(&j, "members", 7);
    cs_json_array_begin(&j);
    for (uint32_t m = 0; m < st.conf.members_len; m++) {
        cs_json_object_begin(&j);
        cs_json_key(&j, "id", 2);
        cs_json_uint(&j, st.conf.members[m].id);
        cs_json_key(&j, "voter", 5);
        cs_json_bool(&j, st.conf.members[m].voter);
        cs_json_object_end(&j);
    }
    cs_json_array_end(&j);
    cs_json_object_end(&j);
    cs_json_array_end(&j);
    cs_json_object_end(&j);
    http_json_response(c, 200, &body);
    cs_buf_free(&body);
}

static void http_healthz(struct http_conn *c)
{
    struct cs_raft_status st;
    struct srv_node_counters k;
    srv_node_status(c->server->node, &st, &k);
    struct cs_buf body;
    cs_buf_init(&body, 1024);
    struct cs_json j;
    cs_json_init(&j, &body);
    cs_json_object_begin(&j);
    cs_json_key(&j, "status", 6);
    /* Healthy = this node can serve: it knows a leader (it forwards to it). */
    const char *status = st.leader ? "ok" : "no_leader";
    cs_json_string(&j, status, strlen(status));
    cs_json_key(&j, "leader", 6);
    cs_json_uint(&j, st.leader);
    cs_json_object_end(&j);
    http_json_response(c, st.leader ? 200 : 503, &body);
    cs_buf_free(&body);
}

static void http_metrics(struct http_conn *c)
{
    struct cs_raft_status st;
    struct srv_node_counters k;
    srv_node_status(c->server->node, &st, &k);
    struct cs_buf text;
    cs_buf_init(&text, HTTP_METRICS_BYTES_MAX);
    srv_metrics_render(&text, &st, &k);
    char http_text[512];
    int len = snprintf(http_text, sizeof http_text,
                       "# HELP consist_http_requests_total HTTP requests.\n"
                       "# TYPE consist_http_requests_total counter\n"
                       "consist_http_requests_total %" PRIu64 "\n"
                       "# HELP consist_http_errors_total HTTP error responses by class.\n"
                       "# TYPE consist_http_errors_total counter\n"
                       "consist_http_errors_total{class=\"4xx\"} %" PRIu64 "\n"
                       "consist_http_errors_total{class=\"5xx\"} %" PRIu64 "\n",
                       c->server->requests, c->server->errors_4xx, c->server->errors_5xx);
    CS_ASSERT(len > 0 && (size_t)len < sizeof http_text);
    cs_put_raw(&text, http_text, (size_t)len);
    if (cs_buf_error(&text)) {
        cs_buf_free(&text);
        return http_error(c, 500, "metrics text too long");
    }
    cs_http_write_head(&c->out, 200, "text/plain; version=0.0.4", text.len, c->keep_alive);
    cs_put_raw(&c->out, text.data, text.len);
    cs_buf_free(&text);
}

static bool path_is(const struct cs_http_request *req, const char *path)
{
    size_t n = strlen(path);
    return req->path_len == n && memcmp(req->path, path, n) == 0;
}

static void http_route(struct http_conn *c, const struct cs_http_request *req)
{
    bool get = cs_http_name_eq(req->method, req->method_len, "GET");
    c->server->requests++;
    if (req->path_len >= strlen(HTTP_KV_PREFIX) &&
        memcmp(req->path, HTTP_KV_PREFIX, strlen(HTTP_KV_PREFIX)) == 0) {
        http_kv(c, req);
    } else if (path_is(req, "/v1/cluster") || path_is(req, "/healthz") ||
               path_is(req, "/metrics")) {
        if (!get) return http_error(c, 405, "use GET");
        if (path_is(req, "/v1/cluster"))
            http_cluster(c);
        else if (path_is(req, "/healthz"))
            http_healthz(c);
        else
            http_metrics(c);
    } else {
        http_error(c, 404, "no such path (/v1/kv/{key}, /v1/cluster, /healthz, /metrics)");
    }
}

/* Take the next request if none is in the node; answer what can be answered now. */
static void http_process(struct http_conn *c)
{
    while (!c->dead && c->req_id == 0 && !c->dirty) {
        struct cs_http_request req;
        int rc = cs_http_parser_next(c->parser, &req);
        if (rc) {
            c->keep_alive = false;
            int status = cs_http_parser_status(c->parser);
            http_error(c, status ? status : 400, cs_http_parser_errmsg(c->parser));
            http_send(c);
            return;
        }
        if (req.method_len == 0) {
            if (cs_http_parser_take_continue(c->parser)) {
                static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
                cs_put_raw(&c->out, cont, sizeof cont - 1);
                c->keep_alive = true;
                http_send(c);
                return;
            }
            break;
        }
        c->keep_alive = req.keep_alive;
        http_route(c, &req);
        if (c->dirty) return; /* the node answered at once: srv_http_flush sends it */
        if (c->req_id == 0) {
            http_send(c); /* answered inline; loops on for pipelined requests */
            return;
        }
    }
    bool want = !c->dead && c->req_id == 0;
    if (want && !c->reading) {
        c->reading = http_read_start(c) == 0;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

void srv_http_flush(struct srv_http *h)
{
    /* Bounded: each connection is on the list at most once. */
    while (h->dirty) {
        struct http_conn *c = h->dirty;
        h->dirty = c->dirty_next;
        c->dirty = false;
        http_send(c);
        http_maybe_free(c);
    }
}

static void http_alloc(uv_handle_t *handle, size_t want, uv_buf_t *buf)
{
    struct http_conn *c = handle->data;
    uint8_t *space = NULL;
    size_t space_len = 0;
    (void)want;
    if (cs_http_parser_reserve(c->parser, HTTP_READ_BYTES, &space, &space_len) != 0) {
        space_len = 0; /* full: the read fails with UV_ENOBUFS and the parser has the error */
    }
    *buf = uv_buf_init((char *)space, (unsigned)space_len);
}

static void http_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = st->data;
    (void)buf;
    if (nread < 0 && nread != UV_ENOBUFS) {
        http_kill(c);
        return;
    }
    if (nread > 0) {
        cs_http_parser_commit(c->parser, (size_t)nread);
        srv_metrics.bytes_in[SRV_IFACE_HTTP] += (uint64_t)nread;
    }
    http_process(c);
}

static int http_read_start(struct http_conn *c)
{
    return uv_read_start((uv_stream_t *)&c->tcp, http_alloc, http_read);
}

static void http_on_accept(uv_stream_t *server, int status)
{
    struct srv_http *h = server->data;
    if (status != 0) return;
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->server = h;
    cs_buf_init(&c->out, HTTP_RESPONSE_MAX);
    uv_tcp_init(h->loop, &c->tcp);
    c->tcp.data = c;
    h->connections++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        cs_http_parser_new(NULL, &c->parser) != 0 || h->connections > HTTP_CONNECTIONS_MAX) {
        http_kill(c); /* past HTTP_CONNECTIONS_MAX: closed at once */
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->reading = http_read_start(c) == 0;
    if (!c->reading) http_kill(c);
}

static void http_on_drained(void *ctx)
{
    srv_http_flush(ctx);
}

int srv_http_open(struct srv_http **out, uv_loop_t *loop, const struct srv_config *config,
                  struct srv_node *node)
{
    struct srv_http *h = calloc(1, sizeof *h);
    if (!h) return CS_ENOMEM;
    h->loop = loop;
    h->config = config;
    h->node = node;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &h->listener);
    h->listener.data = h;
    if (uv_ip4_addr(config->bind, config->http_port, &addr) != 0 ||
        uv_tcp_bind(&h->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&h->listener, 128, http_on_accept) != 0) {
        fprintf(stderr, "consistd: cannot listen for HTTP on %s:%u\n", config->bind,
                config->http_port);
        uv_close((uv_handle_t *)&h->listener, NULL);
        *out = h;
        return CS_EIO;
    }
    srv_node_add_drained(node, http_on_drained, h);
    *out = h;
    return 0;
}
