/*
 * client.c: the RESP server on the client port: connections, the reply
 * queue of each, and the command table.
 *
 * The one idea: each command takes a slot in its connection's queue when it
 * is parsed, and replies leave from the head of the queue only, so a
 * pipeline is answered in order even though a GET (ReadIndex) and a SET
 * (log apply) finish at different moments. The queue is bounded: when it is
 * full the connection stops reading, which is the back-pressure a client
 * that pipelines without reading feels. A framing error takes a slot too
 * (its reply is the protocol error) and closes the connection after it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/assert.h"
#include "base/log.h"
#include "server.h"

#define CLIENT_NAME_BYTES_MAX 128
#define CLIENT_READ_BYTES     (64u << 10)
#define CLIENT_SLOT_REPLY_MAX (CS_KV_REPLY_BYTES_MAX + 4096)
#define CLIENT_WATCH_KEYS_MAX 32 /* keys one connection may WATCH (each a CHECK in EXEC) */

/* The keys a connection WATCHes and the mod_index each had when watched. */
struct client_watch {
    uint32_t len;
    bool broken; /* a WATCH read failed: the next EXEC aborts */
    uint32_t key_len[CLIENT_WATCH_KEYS_MAX];
    uint64_t mod_index[CLIENT_WATCH_KEYS_MAX];
    uint8_t keys[CLIENT_WATCH_KEYS_MAX][CS_KV_KEY_BYTES_MAX];
};

/* A command queued between MULTI and EXEC: its shape and how many ops it added. */
struct client_queued {
    uint8_t shape;
    bool set_get; /* SET ... GET; for SRV_SHAPE_TTL: in milliseconds (PTTL) */
    uint32_t ops_len;
};

/* A transaction: the queued commands, their ops and the bytes the ops point into. */
struct client_multi {
    uint32_t len; /* commands */
    size_t key_at[CS_KV_OPS_MAX], value_at[CS_KV_OPS_MAX], expected_at[CS_KV_OPS_MAX];
    struct client_queued cmds[CS_KV_OPS_MAX];
    struct cs_kv_command cmd; /* ops with offsets into bytes until EXEC resolves them */
    struct cs_buf bytes;
    uint32_t checks; /* EXEC: the WATCH checks in front of the queued ops */
};

struct client_slot {
    bool done;
    uint8_t shape;             /* enum srv_shape */
    bool set_get;              /* SET ... GET: reply with the old value; TTL: milliseconds */
    uint32_t watch_from;       /* SRV_SHAPE_WATCH: its keys' first place in the watch list */
    struct client_multi *exec; /* SRV_SHAPE_EXEC: the transaction, freed with the slot */
    uint64_t req_id;
    uint8_t kind;      /* SRV_KIND_*, for the latency histogram */
    uint64_t start_ns; /* when the command was sent to the node */
    struct cs_buf reply;
};

struct client_conn {
    uv_tcp_t tcp;
    struct srv_clients *server;
    struct cs_resp_parser *parser;
    int proto;
    uint64_t id;
    char name[CLIENT_NAME_BYTES_MAX + 1];
    struct client_multi *multi; /* between MULTI and EXEC/DISCARD */
    struct client_watch *watch; /* WATCHed keys, until EXEC, DISCARD or UNWATCH */
    uint32_t watch_reads;       /* WATCH reads not yet answered: commands wait for them */
    bool held;                  /* client_process stopped for a WATCH read */
    enum srv_read consistency;  /* of reads: SRV_READ_LINEARIZABLE or SRV_READ_SESSION */
    uint64_t session_index;     /* the log index this connection has seen (its token) */
    bool multi_failed;          /* a command was refused while queueing: EXEC aborts */
    struct client_slot slots[SRV_PIPELINE_MAX];
    uint32_t slots_head, slots_len;
    uint32_t pending; /* slots not done: requests out in the node */
    size_t write_bytes;
    bool reading;
    bool close_after_reply;
    bool dead; /* peer gone or closing: free once nothing is pending */
    bool handle_closed;
    bool dirty;
    struct client_conn *dirty_next;
    struct client_conn *all_prev, *all_next;
};

struct client_write {
    uv_write_t req;
    struct client_conn *conn;
    size_t len;
    uint8_t bytes[];
};

struct srv_clients {
    uv_loop_t *loop;
    const struct srv_config *config;
    struct srv_node *node;
    uv_tcp_t listener;
    uint64_t connected;
    uint64_t id_next;
    uint64_t refused;
    struct client_conn *dirty;
};

static void client_process(struct client_conn *c);
static int client_read_start(struct client_conn *c);

/* ---- connection lifetime -------------------------------------------------- */

static void client_multi_free(struct client_multi *m)
{
    if (!m) return;
    cs_buf_free(&m->bytes);
    free(m);
}

static void client_slot_release(struct client_slot *s)
{
    cs_buf_free(&s->reply);
    client_multi_free(s->exec);
    s->exec = NULL;
}

static void client_on_closed(uv_handle_t *h)
{
    struct client_conn *c = h->data;
    c->handle_closed = true;
    for (uint32_t k = 0; k < c->slots_len; k++)
        client_slot_release(&c->slots[(c->slots_head + k) % SRV_PIPELINE_MAX]);
    client_multi_free(c->multi);
    free(c->watch);
    cs_resp_parser_free(c->parser);
    c->server->connected--;
    srv_metrics.clients--;
    free(c);
}

/* Close once no request still points at c (the node answers each within its deadline). */
static void client_maybe_free(struct client_conn *c)
{
    if (!c->dead || c->pending > 0 || c->dirty || uv_is_closing((uv_handle_t *)&c->tcp)) return;
    uv_close((uv_handle_t *)&c->tcp, client_on_closed);
}

static void client_kill(struct client_conn *c)
{
    if (c->dead) return;
    c->dead = true;
    if (c->reading) uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    client_maybe_free(c);
}

static void client_mark_dirty(struct client_conn *c)
{
    if (c->dirty) return;
    c->dirty = true;
    c->dirty_next = c->server->dirty;
    c->server->dirty = c;
}

/* ---- slots and replies ---------------------------------------------------- */

static struct client_slot *client_slot_push(struct client_conn *c, uint8_t shape)
{
    CS_ASSERT(c->slots_len < SRV_PIPELINE_MAX);
    struct client_slot *s = &c->slots[(c->slots_head + c->slots_len) % SRV_PIPELINE_MAX];
    c->slots_len++;
    memset(s, 0, sizeof *s);
    s->shape = shape;
    cs_buf_init(&s->reply, CLIENT_SLOT_REPLY_MAX);
    return s;
}

static void client_slot_done(struct client_conn *c, struct client_slot *s)
{
    CS_ASSERT(!s->done);
    s->done = true;
    client_mark_dirty(c);
}

static void client_write_done(uv_write_t *req, int status)
{
    struct client_write *w = req->data;
    struct client_conn *c = w->conn;
    CS_ASSERT(c->write_bytes >= w->len);
    c->write_bytes -= w->len;
    free(w);
    if (status != 0) client_kill(c);
}

static void client_flush(struct client_conn *c)
{
    size_t total = 0;
    uint32_t ready = 0;
    while (ready < c->slots_len) {
        struct client_slot *s = &c->slots[(c->slots_head + ready) % SRV_PIPELINE_MAX];
        if (!s->done) break;
        total += s->reply.len;
        ready++;
    }
    if (ready == 0) return;
    struct client_write *w = c->dead ? NULL : malloc(sizeof *w + total);
    size_t at = 0;
    for (uint32_t k = 0; k < ready; k++) {
        struct client_slot *s = &c->slots[c->slots_head];
        if (w && s->reply.len) memcpy(w->bytes + at, s->reply.data, s->reply.len);
        at += s->reply.len;
        client_slot_release(s);
        c->slots_head = (c->slots_head + 1) % SRV_PIPELINE_MAX;
        c->slots_len--;
    }
    if (w) {
        w->conn = c;
        w->len = total;
        w->req.data = w;
        uv_buf_t buf = uv_buf_init((char *)w->bytes, (unsigned)total);
        if (c->write_bytes + total > SRV_REPLY_BYTES_MAX ||
            uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, client_write_done) != 0) {
            if (c->write_bytes + total > SRV_REPLY_BYTES_MAX) srv_metrics.limit_reply_buffer++;
            free(w);
            client_kill(c); /* a client that does not read its replies is dropped, as Redis does */
            return;
        }
        c->write_bytes += total;
        srv_metrics.bytes_out[SRV_IFACE_RESP] += total;
    }
    if (c->close_after_reply && c->slots_len == 0) {
        client_kill(c);
        return;
    }
    /* Room again, or the WATCH that held the commands answered: take what is buffered. */
    if (!c->dead && (!c->reading || (c->held && c->watch_reads == 0))) client_process(c);
}

static void client_on_drained(void *ctx)
{
    struct srv_clients *s = ctx;
    /* Bounded: each connection is on the list at most once. */
    while (s->dirty) {
        struct client_conn *c = s->dirty;
        s->dirty = c->dirty_next;
        c->dirty = false;
        client_flush(c);
        client_maybe_free(c);
    }
}

/* ---- formatting a kv reply ------------------------------------------------ */

/* One command's reply from its results[0..len) (a whole reply, or its part of an EXEC). */
static void client_format_one(struct cs_resp_writer *wp, uint8_t shape, bool set_get,
                              const struct cs_kv_result *results, uint32_t len)
{
    struct cs_resp_writer w = *wp;
    const struct cs_kv_result *r0 = &results[0];
    CS_ASSERT(len >= 1);
    switch ((enum srv_shape)shape) {
    case SRV_SHAPE_GET:
        if (r0->found)
            cs_resp_write_bulk(&w, r0->value, r0->value_len);
        else
            cs_resp_write_null(&w);
        return;
    case SRV_SHAPE_SET:
        if (set_get) {
            if (r0->found)
                cs_resp_write_bulk(&w, r0->value, r0->value_len);
            else
                cs_resp_write_null(&w);
        } else if (r0->rc == 0) {
            cs_resp_write_ok(&w);
        } else if (r0->rc == CS_EEXIST || r0->rc == CS_ENOTFOUND) {
            cs_resp_write_null(&w);
        } else {
            cs_resp_write_error(&w, "ERR", cs_strerror(r0->rc));
        }
        return;
    case SRV_SHAPE_SUM: {
        int64_t sum = 0;
        for (uint32_t k = 0; k < len; k++)
            sum += results[k].number;
        cs_resp_write_int(&w, sum);
        return;
    }
    case SRV_SHAPE_INCR:
        if (r0->rc == 0)
            cs_resp_write_int(&w, r0->number);
        else if (r0->rc == CS_EOVERFLOW)
            cs_resp_write_error(&w, "ERR", "increment or decrement would overflow");
        else if (r0->rc == CS_EPARSE)
            cs_resp_write_error(&w, "ERR", "value is not an integer or out of range");
        else
            cs_resp_write_error(&w, "ERR", cs_strerror(r0->rc));
        return;
    case SRV_SHAPE_MGET:
        cs_resp_write_array(&w, len);
        for (uint32_t k = 0; k < len; k++) {
            if (results[k].found) {
                cs_resp_write_bulk(&w, results[k].value, results[k].value_len);
            } else {
                cs_resp_write_null(&w);
            }
        }
        return;
    case SRV_SHAPE_MSET:
        for (uint32_t k = 0; k < len; k++) {
            if (results[k].rc != 0) {
                cs_resp_write_error(&w, "ERR", cs_strerror(results[k].rc));
                return;
            }
        }
        cs_resp_write_ok(&w);
        return;
    case SRV_SHAPE_EXEC:
        CS_UNREACHABLE();
    case SRV_SHAPE_CAS:
        if (r0->rc == 0)
            cs_resp_write_int(&w, 1);
        else if (r0->rc == CS_ECONFLICT)
            cs_resp_write_int(&w, 0);
        else
            cs_resp_write_error(&w, "ERR", cs_strerror(r0->rc));
        return;
    case SRV_SHAPE_INT:
        if (r0->rc == 0 || r0->rc == CS_ENOTFOUND)
            cs_resp_write_int(&w, r0->number);
        else
            cs_resp_write_error(&w, "ERR", cs_strerror(r0->rc));
        return;
    case SRV_SHAPE_TTL: {
        /* -2: no such key; -1: no TTL; else what is left, rounded as Redis does. */
        int64_t left = -2;
        if (r0->found && r0->expire_at_ms == 0) {
            left = -1;
        } else if (r0->found) {
            uint64_t now_ms = srv_wall_ms();
            uint64_t ms = r0->expire_at_ms > now_ms ? r0->expire_at_ms - now_ms : 0;
            left = set_get ? (int64_t)ms : (int64_t)((ms + 500) / 1000);
        }
        cs_resp_write_int(&w, left);
        return;
    }
    case SRV_SHAPE_OK:
    case SRV_SHAPE_WATCH:
        CS_UNREACHABLE(); /* answered whole by client_format */
    }
    CS_UNREACHABLE();
}

static void client_format(struct client_conn *c, struct client_slot *s, const struct cs_kv_reply *r)
{
    struct cs_resp_writer w;
    cs_resp_writer_init(&w, &s->reply, c->proto);
    if (s->shape == SRV_SHAPE_OK) { /* a membership change: no results */
        cs_resp_write_ok(&w);
        return;
    }
    if (s->shape == SRV_SHAPE_WATCH) {
        /* The watched keys' mod_index, in the order they were listed. */
        CS_ASSERT(c->watch != NULL && s->watch_from + r->results_len <= c->watch->len);
        for (uint32_t k = 0; k < r->results_len; k++)
            c->watch->mod_index[s->watch_from + k] = r->results[k].mod_index;
        cs_resp_write_ok(&w);
        return;
    }
    if (s->shape != SRV_SHAPE_EXEC) {
        client_format_one(&w, s->shape, s->set_get, r->results, r->results_len);
        return;
    }
    /* EXEC: null when a watched key changed (nothing was applied), else one
     * reply per queued command, each from its own run of results. */
    CS_ASSERT(s->exec != NULL);
    if (r->rc == CS_ECONFLICT) {
        cs_resp_write_null_array(&w);
        return;
    }
    cs_resp_write_array(&w, s->exec->len);
    uint32_t at = s->exec->checks;
    for (uint32_t k = 0; k < s->exec->len; k++) {
        const struct client_queued *q = &s->exec->cmds[k];
        CS_ASSERT(at + q->ops_len <= r->results_len);
        client_format_one(&w, q->shape, q->set_get, r->results + at, q->ops_len);
        at += q->ops_len;
    }
}

static void client_on_done(void *ctx, uint64_t req_id, const struct srv_result *res)
{
    struct client_conn *c = ctx;
    struct client_slot *s = NULL;
    for (uint32_t k = 0; k < c->slots_len && !s; k++) {
        struct client_slot *t = &c->slots[(c->slots_head + k) % SRV_PIPELINE_MAX];
        if (t->req_id == req_id && !t->done) s = t;
    }
    CS_ASSERT(s != NULL); /* a slot leaves the queue only once done */
    if (s->shape == SRV_SHAPE_WATCH) {
        CS_ASSERT(c->watch_reads > 0);
        c->watch_reads--;
    }
    if (s->start_ns)
        srv_hist_observe(&srv_metrics.latency[s->kind], (uv_hrtime() - s->start_ns) / 1000);
    if (res->err_code) {
        struct cs_resp_writer w;
        cs_resp_writer_init(&w, &s->reply, c->proto);
        cs_resp_write_error(&w, res->err_code, res->err_msg);
        srv_metrics_error(res->err_code);
        if (s->shape == SRV_SHAPE_WATCH && c->watch) c->watch->broken = true;
    } else {
        if (res->index > c->session_index) c->session_index = res->index;
        client_format(c, s, res->reply);
    }
    CS_ASSERT(c->pending > 0);
    c->pending--;
    client_slot_done(c, s);
}

/* ---- commands ------------------------------------------------------------- */

struct client_cmd_ctx {
    struct client_conn *c;
    const struct cs_resp_arg *argv;
    size_t argc;
    struct cs_resp_writer w; /* for immediate replies, into the new slot */
    struct client_slot *slot;
    bool queued; /* inside MULTI: the command was queued */
};

static bool arg_is(const struct cs_resp_arg *a, const char *word)
{
    size_t n = strlen(word);
    return a->len == n && strncasecmp((const char *)a->data, word, n) == 0;
}

static int client_parse_i64(const struct cs_resp_arg *a, int64_t *out)
{
    char text[32];
    if (a->len == 0 || a->len >= sizeof text) return -1;
    memcpy(text, a->data, a->len);
    text[a->len] = 0;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || *end != 0 || (text[0] == '0' && a->len > 1) || text[0] == '+' ||
        text[0] == ' ') {
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

static void reply_error(struct client_cmd_ctx *x, const char *code, const char *msg)
{
    srv_metrics_error(code);
    cs_resp_write_error(&x->w, code, msg);
}

static void reply_arity(struct client_cmd_ctx *x)
{
    char msg[96];
    snprintf(msg, sizeof msg, "wrong number of arguments for '%.*s' command",
             (int)(x->argv[0].len > 32 ? 32 : x->argv[0].len), (const char *)x->argv[0].data);
    reply_error(x, "ERR", msg);
}

/* A key is usable: non-empty and within the state machine's limit. */
static bool key_ok(struct client_cmd_ctx *x, const struct cs_resp_arg *a)
{
    if (a->len == 0) {
        reply_error(x, "ERR", "empty keys are not supported");
        return false;
    }
    if (a->len > CS_KV_KEY_BYTES_MAX) {
        reply_error(x, "ERR", "key is longer than 512 bytes (CS_KV_KEY_BYTES_MAX)");
        return false;
    }
    if (srv_key_reserved(a->data, a->len)) {
        reply_error(x, "ERR", "keys starting with \\xff\\xffconsist: are reserved for the cluster");
        return false;
    }
    return true;
}

static bool value_ok(struct client_cmd_ctx *x, const struct cs_resp_arg *a)
{
    if (a->len > CS_KV_VALUE_BYTES_MAX) {
        reply_error(x, "ERR", "value is longer than 65536 bytes (CS_KV_VALUE_BYTES_MAX)");
        return false;
    }
    return true;
}

static void op_set_key(struct cs_kv_op *op, uint8_t type, const struct cs_resp_arg *key)
{
    memset(op, 0, sizeof *op);
    op->type = type;
    op->key = key->data;
    op->key_len = (uint32_t)key->len;
}

/*
 * A command with ops_len zeroed ops, in scratch storage: a cs_kv_command is
 * 64 ops (about 6 KB), and zeroing all of it per GET was a sixth of a node's
 * time at 300k reads/s. Valid until the next call; the node copies or
 * encodes what it keeps before srv_node_submit returns.
 */
static struct cs_kv_command *client_cmd(uint32_t ops_len)
{
    static struct cs_kv_command scratch;
    CS_ASSERT(ops_len >= 1 && ops_len <= CS_KV_OPS_MAX);
    scratch.client_id = scratch.seq = scratch.now_ms = 0;
    scratch.ops_len = ops_len;
    memset(scratch.ops, 0, ops_len * sizeof scratch.ops[0]);
    return &scratch;
}

/* Send cmd to the node; the slot is answered by client_on_done. */
/* Inside MULTI: append cmd's ops (copying their bytes) to the transaction. */
static void multi_queue(struct client_cmd_ctx *x, const struct cs_kv_command *cmd, uint8_t shape)
{
    struct client_multi *m = x->c->multi;
    if (m->cmd.ops_len + cmd->ops_len > CS_KV_OPS_MAX) {
        x->c->multi_failed = true;
        return reply_error(x, "ERR", "transaction too large (CS_KV_OPS_MAX is 64 operations)");
    }
    for (uint32_t k = 0; k < cmd->ops_len; k++) {
        struct cs_kv_op op = cmd->ops[k];
        /* Offsets into m->bytes now; EXEC turns them into pointers (the buffer may move). */
        size_t key_at = m->bytes.len;
        cs_put_raw(&m->bytes, op.key, op.key_len);
        size_t value_at = m->bytes.len;
        if (op.value_len) cs_put_raw(&m->bytes, op.value, op.value_len);
        size_t expected_at = m->bytes.len;
        if (op.expected_len) cs_put_raw(&m->bytes, op.expected, op.expected_len);
        op.key = NULL;
        op.value = NULL;
        op.expected = NULL;
        m->key_at[m->cmd.ops_len] = key_at;
        m->value_at[m->cmd.ops_len] = value_at;
        m->expected_at[m->cmd.ops_len] = expected_at;
        m->cmd.ops[m->cmd.ops_len++] = op;
    }
    if (cs_buf_error(&m->bytes)) {
        x->c->multi_failed = true;
        return reply_error(x, "ERR", "transaction too large (bytes)");
    }
    m->cmds[m->len++] = (struct client_queued){
        .shape = shape, .set_get = x->slot->set_get, .ops_len = cmd->ops_len};
    x->queued = true;
    cs_resp_write_simple(&x->w, "QUEUED", 6);
}

/* Send cmd to the node (reads at the connection's consistency); client_on_done answers. */
static void client_send(struct client_conn *c, struct client_slot *slot, struct cs_kv_command *cmd,
                        bool is_read)
{
    cmd->now_ms = srv_wall_ms();
    enum srv_read read = is_read ? c->consistency : SRV_WRITE;
    slot->req_id = srv_node_next_req_id(c->server->node);
    slot->kind = (uint8_t)read;
    slot->start_ns = uv_hrtime();
    srv_metrics.commands[SRV_IFACE_RESP][read]++;
    c->pending++;
    srv_node_submit(c->server->node, cmd, read, c->session_index, slot->req_id, client_on_done, c);
}

static void submit(struct client_cmd_ctx *x, struct cs_kv_command *cmd, bool is_read, uint8_t shape)
{
    struct client_conn *c = x->c;
    if (c->multi) return multi_queue(x, cmd, shape);
    x->slot->shape = shape;
    client_send(c, x->slot, cmd, is_read);
}

static bool expire_at(struct client_cmd_ctx *x, const struct cs_resp_arg *unit,
                      const struct cs_resp_arg *num, bool positive_only, const char *cmd_name,
                      uint64_t *out);

static void cmd_get(struct client_cmd_ctx *x)
{
    if (x->argc != 2) return reply_arity(x);
    if (!key_ok(x, &x->argv[1])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_GET, &x->argv[1]);
    submit(x, cmd, true, SRV_SHAPE_GET);
}

static void cmd_set(struct client_cmd_ctx *x)
{
    if (x->argc < 3) return reply_arity(x);
    if (!key_ok(x, &x->argv[1]) || !value_ok(x, &x->argv[2])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_SET, &x->argv[1]);
    cmd->ops[0].value = x->argv[2].data;
    cmd->ops[0].value_len = (uint32_t)x->argv[2].len;
    bool has_ttl = false;
    for (size_t k = 3; k < x->argc; k++) {
        const struct cs_resp_arg *a = &x->argv[k];
        if (arg_is(a, "NX")) {
            cmd->ops[0].flags |= CS_KV_SET_NX;
        } else if (arg_is(a, "XX")) {
            cmd->ops[0].flags |= CS_KV_SET_XX;
        } else if (arg_is(a, "GET")) {
            cmd->ops[0].flags |= CS_KV_SET_GET;
        } else if (arg_is(a, "KEEPTTL") && !has_ttl) {
            cmd->ops[0].flags |= CS_KV_SET_KEEPTTL;
            has_ttl = true;
        } else if ((arg_is(a, "EX") || arg_is(a, "PX") || arg_is(a, "EXAT") || arg_is(a, "PXAT")) &&
                   !has_ttl && k + 1 < x->argc) {
            if (!expire_at(x, a, &x->argv[k + 1], true, "set", &cmd->ops[0].expire_at_ms)) return;
            has_ttl = true;
            k++;
        } else {
            return reply_error(x, "ERR", "syntax error");
        }
    }
    if ((cmd->ops[0].flags & CS_KV_SET_NX) && (cmd->ops[0].flags & CS_KV_SET_XX)) {
        return reply_error(x, "ERR", "syntax error");
    }
    x->slot->set_get = (cmd->ops[0].flags & CS_KV_SET_GET) != 0;
    submit(x, cmd, false, SRV_SHAPE_SET);
}

/*
 * The absolute expiry time of "EX s | PX ms | EXAT unix-s | PXAT unix-ms"
 * (unit names the form). Like Redis: the number must be positive when
 * positive_only (SET), and must not overflow a millisecond clock. False
 * after answering the error.
 */
static bool expire_at(struct client_cmd_ctx *x, const struct cs_resp_arg *unit,
                      const struct cs_resp_arg *num, bool positive_only, const char *cmd_name,
                      uint64_t *out)
{
    int64_t v;
    char msg[64];
    snprintf(msg, sizeof msg, "invalid expire time in '%s' command", cmd_name);
    if (client_parse_i64(num, &v) != 0) {
        reply_error(x, "ERR", "value is not an integer or out of range");
        return false;
    }
    if (positive_only && v <= 0) {
        reply_error(x, "ERR", msg);
        return false;
    }
    bool seconds = arg_is(unit, "EX") || arg_is(unit, "EXAT");
    bool relative = arg_is(unit, "EX") || arg_is(unit, "PX");
    const int64_t ms_max = INT64_MAX / 2; /* far beyond any clock, and safe to add to now */
    if (seconds && (v > ms_max / 1000 || v < -ms_max / 1000)) {
        reply_error(x, "ERR", msg);
        return false;
    }
    int64_t ms = seconds ? v * 1000 : v;
    if (ms > ms_max || ms < -ms_max) {
        reply_error(x, "ERR", msg);
        return false;
    }
    int64_t at = relative ? (int64_t)srv_wall_ms() + ms : ms;
    /* At or before now (or before the epoch): already expired; 1 is the earliest time. */
    *out = at <= 0 ? 1 : (uint64_t)at;
    return true;
}

/* SETEX key seconds value, PSETEX key ms value. */
static void setex(struct client_cmd_ctx *x, const char *unit, const char *name)
{
    if (x->argc != 4) return reply_arity(x);
    if (!key_ok(x, &x->argv[1]) || !value_ok(x, &x->argv[3])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_SET, &x->argv[1]);
    cmd->ops[0].value = x->argv[3].data;
    cmd->ops[0].value_len = (uint32_t)x->argv[3].len;
    struct cs_resp_arg u = {.data = (const uint8_t *)unit, .len = strlen(unit)};
    if (!expire_at(x, &u, &x->argv[2], true, name, &cmd->ops[0].expire_at_ms)) return;
    submit(x, cmd, false, SRV_SHAPE_SET);
}

static void cmd_setex(struct client_cmd_ctx *x)
{
    setex(x, "EX", "setex");
}

static void cmd_psetex(struct client_cmd_ctx *x)
{
    setex(x, "PX", "psetex");
}

/* EXPIRE / PEXPIRE / EXPIREAT / PEXPIREAT key time: a time not in the future deletes the key. */
static void expire_cmd(struct client_cmd_ctx *x, const char *unit, const char *name)
{
    if (x->argc != 3) {
        if (x->argc > 3)
            return reply_error(x, "ERR", "expire options (NX XX GT LT) are not supported");
        return reply_arity(x);
    }
    if (!key_ok(x, &x->argv[1])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_EXPIRE, &x->argv[1]);
    struct cs_resp_arg u = {.data = (const uint8_t *)unit, .len = strlen(unit)};
    if (!expire_at(x, &u, &x->argv[2], false, name, &cmd->ops[0].expire_at_ms)) return;
    submit(x, cmd, false, SRV_SHAPE_INT);
}

static void cmd_expire(struct client_cmd_ctx *x)
{
    expire_cmd(x, "EX", "expire");
}

static void cmd_pexpire(struct client_cmd_ctx *x)
{
    expire_cmd(x, "PX", "pexpire");
}

static void cmd_expireat(struct client_cmd_ctx *x)
{
    expire_cmd(x, "EXAT", "expireat");
}

static void cmd_pexpireat(struct client_cmd_ctx *x)
{
    expire_cmd(x, "PXAT", "pexpireat");
}

static void cmd_persist(struct client_cmd_ctx *x)
{
    if (x->argc != 2) return reply_arity(x);
    if (!key_ok(x, &x->argv[1])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_EXPIRE, &x->argv[1]);
    cmd->ops[0].flags = CS_KV_EXPIRE_PERSIST;
    submit(x, cmd, false, SRV_SHAPE_INT);
}

static void ttl_cmd(struct client_cmd_ctx *x, bool ms)
{
    if (x->argc != 2) return reply_arity(x);
    if (!key_ok(x, &x->argv[1])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_TTL, &x->argv[1]);
    x->slot->set_get = ms;
    submit(x, cmd, true, SRV_SHAPE_TTL);
}

static void cmd_ttl(struct client_cmd_ctx *x)
{
    ttl_cmd(x, false);
}

static void cmd_pttl(struct client_cmd_ctx *x)
{
    ttl_cmd(x, true);
}

/* DEL, EXISTS, MGET: one op per key. */
static void cmd_keys(struct client_cmd_ctx *x, uint8_t type, bool is_read, uint8_t shape)
{
    if (x->argc < 2) return reply_arity(x);
    if (x->argc - 1 > CS_KV_OPS_MAX) {
        return reply_error(x, "ERR", "too many keys in one command (CS_KV_OPS_MAX is 64)");
    }
    struct cs_kv_command *cmd = client_cmd((uint32_t)(x->argc - 1));
    for (size_t k = 1; k < x->argc; k++) {
        if (!key_ok(x, &x->argv[k])) return;
        op_set_key(&cmd->ops[k - 1], type, &x->argv[k]);
    }
    submit(x, cmd, is_read, shape);
}

static void cmd_del(struct client_cmd_ctx *x)
{
    cmd_keys(x, CS_KV_DEL, false, SRV_SHAPE_SUM);
}

static void cmd_exists(struct client_cmd_ctx *x)
{
    cmd_keys(x, CS_KV_EXISTS, true, SRV_SHAPE_SUM);
}

static void cmd_mget(struct client_cmd_ctx *x)
{
    cmd_keys(x, CS_KV_GET, true, SRV_SHAPE_MGET);
}

static void cmd_mset(struct client_cmd_ctx *x)
{
    if (x->argc < 3 || (x->argc - 1) % 2 != 0) return reply_arity(x);
    if ((x->argc - 1) / 2 > CS_KV_OPS_MAX) {
        return reply_error(x, "ERR", "too many keys in one command (CS_KV_OPS_MAX is 64)");
    }
    struct cs_kv_command *cmd = client_cmd((uint32_t)((x->argc - 1) / 2));
    for (size_t k = 1; k < x->argc; k += 2) {
        if (!key_ok(x, &x->argv[k]) || !value_ok(x, &x->argv[k + 1])) return;
        struct cs_kv_op *op = &cmd->ops[(k - 1) / 2];
        op_set_key(op, CS_KV_SET, &x->argv[k]);
        op->value = x->argv[k + 1].data;
        op->value_len = (uint32_t)x->argv[k + 1].len;
    }
    submit(x, cmd, false, SRV_SHAPE_MSET);
}

static void incr_by(struct client_cmd_ctx *x, int64_t delta)
{
    if (!key_ok(x, &x->argv[1])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_INCRBY, &x->argv[1]);
    cmd->ops[0].delta = delta;
    submit(x, cmd, false, SRV_SHAPE_INCR);
}

static void cmd_incr(struct client_cmd_ctx *x)
{
    if (x->argc != 2) return reply_arity(x);
    incr_by(x, 1);
}

static void cmd_decr(struct client_cmd_ctx *x)
{
    if (x->argc != 2) return reply_arity(x);
    incr_by(x, -1);
}

static void cmd_incrby(struct client_cmd_ctx *x)
{
    int64_t d;
    if (x->argc != 3) return reply_arity(x);
    if (client_parse_i64(&x->argv[2], &d) != 0) {
        return reply_error(x, "ERR", "value is not an integer or out of range");
    }
    incr_by(x, d);
}

static void cmd_decrby(struct client_cmd_ctx *x)
{
    int64_t d;
    if (x->argc != 3) return reply_arity(x);
    if (client_parse_i64(&x->argv[2], &d) != 0 || d == INT64_MIN) {
        return reply_error(x, "ERR", "value is not an integer or out of range");
    }
    incr_by(x, -d);
}

/* CAS key expected new: set new if the value equals expected (:1), else :0. */
static void cmd_cas(struct client_cmd_ctx *x)
{
    if (x->argc != 4) return reply_arity(x);
    if (!key_ok(x, &x->argv[1]) || !value_ok(x, &x->argv[2]) || !value_ok(x, &x->argv[3])) return;
    struct cs_kv_command *cmd = client_cmd(1);
    op_set_key(&cmd->ops[0], CS_KV_CAS, &x->argv[1]);
    cmd->ops[0].expected = x->argv[2].data;
    cmd->ops[0].expected_len = (uint32_t)x->argv[2].len;
    cmd->ops[0].value = x->argv[3].data;
    cmd->ops[0].value_len = (uint32_t)x->argv[3].len;
    submit(x, cmd, false, SRV_SHAPE_CAS);
}

static void cmd_ping(struct client_cmd_ctx *x)
{
    if (x->argc > 2) return reply_arity(x);
    if (x->argc == 2)
        cs_resp_write_bulk(&x->w, x->argv[1].data, x->argv[1].len);
    else
        cs_resp_write_simple(&x->w, "PONG", 4);
}

static void cmd_echo(struct client_cmd_ctx *x)
{
    if (x->argc != 2) return reply_arity(x);
    cs_resp_write_bulk(&x->w, x->argv[1].data, x->argv[1].len);
}

static void cmd_quit(struct client_cmd_ctx *x)
{
    cs_resp_write_ok(&x->w);
    x->c->close_after_reply = true;
}

static void cmd_select(struct client_cmd_ctx *x)
{
    if (x->argc != 2) return reply_arity(x);
    if (arg_is(&x->argv[1], "0"))
        cs_resp_write_ok(&x->w);
    else
        reply_error(x, "ERR", "DB index is out of range (consist has only db 0)");
}

static void cmd_dbsize(struct client_cmd_ctx *x)
{
    cs_resp_write_int(&x->w, (int64_t)srv_node_dbsize(x->c->server->node));
}

static void write_str(struct cs_resp_writer *w, const char *s)
{
    cs_resp_write_bulk(w, s, strlen(s));
}

static void cmd_hello(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    int proto = c->proto;
    size_t k = 1;
    if (x->argc >= 2) {
        int64_t v;
        if (client_parse_i64(&x->argv[1], &v) != 0 || (v != 2 && v != 3)) {
            return reply_error(x, "NOPROTO", "unsupported protocol version");
        }
        proto = (int)v;
        k = 2;
    }
    for (; k < x->argc; k++) {
        if (arg_is(&x->argv[k], "SETNAME") && k + 1 < x->argc) {
            size_t n = x->argv[k + 1].len;
            if (n > CLIENT_NAME_BYTES_MAX) return reply_error(x, "ERR", "client name too long");
            memcpy(c->name, x->argv[k + 1].data, n);
            c->name[n] = 0;
            k++;
        } else if (arg_is(&x->argv[k], "AUTH") && k + 2 < x->argc) {
            k += 2; /* no authentication yet: any credentials are accepted */
        } else {
            return reply_error(x, "ERR", "syntax error in HELLO");
        }
    }
    c->proto = proto;
    x->w.proto = proto;
    cs_resp_write_map(&x->w, 7);
    write_str(&x->w, "server");
    write_str(&x->w, "consist");
    write_str(&x->w, "version");
    write_str(&x->w, "0.1.0");
    write_str(&x->w, "proto");
    cs_resp_write_int(&x->w, proto);
    write_str(&x->w, "id");
    cs_resp_write_int(&x->w, (int64_t)c->id);
    write_str(&x->w, "mode");
    write_str(&x->w, "standalone");
    write_str(&x->w, "role");
    write_str(&x->w, "master");
    write_str(&x->w, "modules");
    cs_resp_write_array(&x->w, 0);
}

static void cmd_client(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc < 2) return reply_arity(x);
    const struct cs_resp_arg *sub = &x->argv[1];
    if (arg_is(sub, "ID") && x->argc == 2) {
        cs_resp_write_int(&x->w, (int64_t)c->id);
    } else if (arg_is(sub, "GETNAME") && x->argc == 2) {
        if (c->name[0])
            write_str(&x->w, c->name);
        else
            cs_resp_write_null(&x->w);
    } else if (arg_is(sub, "SETNAME") && x->argc == 3) {
        const struct cs_resp_arg *a = &x->argv[2];
        if (a->len > CLIENT_NAME_BYTES_MAX) return reply_error(x, "ERR", "client name too long");
        for (size_t k = 0; k < a->len; k++)
            if (a->data[k] <= ' ' || a->data[k] > '~') {
                return reply_error(x, "ERR",
                                   "Client names cannot contain spaces, newlines or "
                                   "special characters.");
            }
        memcpy(c->name, a->data, a->len);
        c->name[a->len] = 0;
        cs_resp_write_ok(&x->w);
    } else if (arg_is(sub, "SETINFO") && x->argc == 4) {
        cs_resp_write_ok(&x->w); /* library name and version: accepted, not kept */
    } else {
        reply_error(x, "ERR", "unknown CLIENT subcommand (ID, GETNAME, SETNAME, SETINFO)");
    }
}

static void cmd_command(struct client_cmd_ctx *x)
{
    /* Enough for redis-cli and client libraries: no per-command docs yet. */
    if (x->argc >= 2 && arg_is(&x->argv[1], "COUNT")) {
        cs_resp_write_int(&x->w, 0);
    } else if (x->argc >= 2 && arg_is(&x->argv[1], "DOCS")) {
        cs_resp_write_map(&x->w, 0);
    } else {
        cs_resp_write_array(&x->w, 0);
    }
}

static void cmd_config(struct client_cmd_ctx *x)
{
    if (x->argc >= 2 && arg_is(&x->argv[1], "GET")) {
        cs_resp_write_map(&x->w, 0); /* no runtime config yet: nothing matches */
    } else {
        reply_error(x, "ERR", "only CONFIG GET is supported");
    }
}

static void cmd_info(struct client_cmd_ctx *x)
{
    struct cs_buf text;
    cs_buf_init(&text, 1u << 16);
    srv_node_info(x->c->server->node, &text);
    cs_resp_write_verbatim(&x->w, "txt", text.data, text.len);
    cs_buf_free(&text);
}

static void cmd_multi(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc != 1) return reply_arity(x);
    if (c->multi) return reply_error(x, "ERR", "MULTI calls can not be nested");
    c->multi = calloc(1, sizeof *c->multi);
    if (!c->multi) return reply_error(x, "ERR", "out of memory");
    cs_buf_init(&c->multi->bytes, CS_KV_COMMAND_BYTES_MAX / 2);
    c->multi_failed = false;
    cs_resp_write_ok(&x->w);
}

static void cmd_discard(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc != 1) return reply_arity(x);
    if (!c->multi) return reply_error(x, "ERR", "DISCARD without MULTI");
    client_multi_free(c->multi);
    c->multi = NULL;
    free(c->watch);
    c->watch = NULL;
    cs_resp_write_ok(&x->w);
}

/* EXEC: every queued op in one kv command, one Raft entry: applied together, in order. */
static void cmd_exec(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc != 1) return reply_arity(x);
    if (!c->multi) return reply_error(x, "ERR", "EXEC without MULTI");
    struct client_multi *m = c->multi;
    c->multi = NULL;
    struct client_watch *watch = c->watch; /* EXEC ends the watch, whatever happens */
    c->watch = NULL;
    if (c->multi_failed) {
        client_multi_free(m);
        free(watch);
        return reply_error(x, "EXECABORT", "Transaction discarded because of previous errors.");
    }
    if (watch && watch->broken) { /* a WATCH failed: what it saw is unknown */
        client_multi_free(m);
        free(watch);
        cs_resp_write_null_array(&x->w);
        return;
    }
    uint32_t checks = watch ? watch->len : 0;
    if (m->len == 0 && checks == 0) {
        client_multi_free(m);
        cs_resp_write_array(&x->w, 0);
        return;
    }
    if (checks + m->cmd.ops_len > CS_KV_OPS_MAX) {
        client_multi_free(m);
        free(watch);
        return reply_error(x, "EXECABORT",
                           "transaction and its watched keys pass CS_KV_OPS_MAX (64 operations)");
    }
    /* The checks go first: the state machine applies nothing unless all pass. */
    memmove(m->cmd.ops + checks, m->cmd.ops, m->cmd.ops_len * sizeof m->cmd.ops[0]);
    for (uint32_t k = 0; k < m->cmd.ops_len; k++) {
        struct cs_kv_op *op = &m->cmd.ops[checks + k];
        op->key = m->bytes.data + m->key_at[k];
        op->value = op->value_len ? m->bytes.data + m->value_at[k] : NULL;
        op->expected = op->expected_len ? m->bytes.data + m->expected_at[k] : NULL;
    }
    for (uint32_t k = 0; k < checks; k++) {
        struct cs_kv_op *op = &m->cmd.ops[k];
        memset(op, 0, sizeof *op);
        op->type = CS_KV_CHECK;
        op->key = watch->keys[k];
        op->key_len = watch->key_len[k];
        op->expected_index = watch->mod_index[k];
    }
    m->cmd.ops_len += checks;
    m->checks = checks;
    x->slot->exec = m; /* freed with the slot, after the reply is formatted */
    x->slot->shape = SRV_SHAPE_EXEC;
    client_send(c, x->slot, &m->cmd, false); /* encoded before return: watch may go */
    free(watch);
}

/* WATCH key...: remember each key's mod_index (read at the connection's
 * consistency); EXEC applies nothing if any changed. Commands after a WATCH
 * wait for its answer, so EXEC always knows what it checks. */
static void cmd_watch(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc < 2) return reply_arity(x);
    if (c->multi) return reply_error(x, "ERR", "WATCH inside MULTI is not allowed");
    uint32_t have = c->watch ? c->watch->len : 0;
    if (have + (x->argc - 1) > CLIENT_WATCH_KEYS_MAX) {
        return reply_error(x, "ERR", "too many watched keys (CLIENT_WATCH_KEYS_MAX is 32)");
    }
    for (size_t k = 1; k < x->argc; k++)
        if (!key_ok(x, &x->argv[k])) return;
    if (!c->watch && !(c->watch = calloc(1, sizeof *c->watch))) {
        return reply_error(x, "ERR", "out of memory");
    }
    struct cs_kv_command *cmd = client_cmd((uint32_t)(x->argc - 1));
    x->slot->watch_from = c->watch->len;
    for (size_t k = 1; k < x->argc; k++) {
        uint32_t at = c->watch->len++;
        memcpy(c->watch->keys[at], x->argv[k].data, x->argv[k].len);
        c->watch->key_len[at] = (uint32_t)x->argv[k].len;
        c->watch->mod_index[at] = 0;
        op_set_key(&cmd->ops[k - 1], CS_KV_TTL, &x->argv[k]);
    }
    x->slot->shape = SRV_SHAPE_WATCH;
    c->watch_reads++;
    client_send(c, x->slot, cmd, true);
}

static void cmd_unwatch(struct client_cmd_ctx *x)
{
    if (x->argc != 1) return reply_arity(x);
    free(x->c->watch);
    x->c->watch = NULL;
    cs_resp_write_ok(&x->w);
}

/* CONSISTENCY [linearizable|session]: the connection's read level. */
static void cmd_consistency(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc == 1) {
        write_str(&x->w, c->consistency == SRV_READ_SESSION ? "session" : "linearizable");
    } else if (x->argc == 2 && arg_is(&x->argv[1], "linearizable")) {
        c->consistency = SRV_READ_LINEARIZABLE;
        cs_resp_write_ok(&x->w);
    } else if (x->argc == 2 && arg_is(&x->argv[1], "session")) {
        c->consistency = SRV_READ_SESSION;
        cs_resp_write_ok(&x->w);
    } else if (x->argc == 2) {
        reply_error(x, "ERR", "unknown consistency level (linearizable, session)");
    } else {
        reply_arity(x);
    }
}

/* SESSION: the connection's token; SESSION USE token: continue another connection's session. */
static void cmd_session(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc == 1) {
        char token[SRV_TOKEN_BYTES_MAX];
        size_t len = srv_token_format(token, c->session_index);
        cs_resp_write_bulk(&x->w, token, len);
        return;
    }
    if (x->argc != 3 || !arg_is(&x->argv[1], "USE")) {
        return reply_error(x, "ERR", "syntax error (SESSION [USE token])");
    }
    uint64_t index = 0;
    if (srv_token_parse(x->argv[2].data, x->argv[2].len, &index) != 0) {
        return reply_error(x, "ERR",
                           "invalid session token (expected " SRV_TOKEN_PREFIX "<index>)");
    }
    /* Adopting never weakens: the session continues from the later of the two. */
    if (index > c->session_index) c->session_index = index;
    cs_resp_write_ok(&x->w);
}

/*
 * RAFT ADD id host:port | PROMOTE id | REMOVE id | TRANSFER id: membership at
 * run time, sent to the leader. A node joins as a learner (started with
 * --join), is promoted once caught up, and may be removed, the leader too.
 */
static void cmd_raft(struct client_cmd_ctx *x)
{
    struct client_conn *c = x->c;
    if (x->argc < 3) return reply_arity(x);
    const struct cs_resp_arg *sub = &x->argv[1];
    int64_t id;
    if (client_parse_i64(&x->argv[2], &id) != 0 || id <= 0) {
        return reply_error(x, "ERR", "a node id is a positive integer");
    }
    enum srv_admin op;
    struct srv_peer_addr addr = {.id = (uint64_t)id};
    if (arg_is(sub, "ADD") && x->argc == 4) {
        char text[SRV_HOST_BYTES_MAX + 8];
        if (x->argv[3].len >= sizeof text) return reply_error(x, "ERR", "address too long");
        memcpy(text, x->argv[3].data, x->argv[3].len);
        text[x->argv[3].len] = 0;
        if (srv_config_parse_addr(text, &addr) != 0) {
            return reply_error(x, "ERR", "address: want host:port (IPv4 or localhost)");
        }
        op = SRV_ADMIN_ADD;
    } else if (arg_is(sub, "PROMOTE") && x->argc == 3) {
        op = SRV_ADMIN_PROMOTE;
    } else if (arg_is(sub, "REMOVE") && x->argc == 3) {
        op = SRV_ADMIN_REMOVE;
    } else if (arg_is(sub, "TRANSFER") && x->argc == 3) {
        op = SRV_ADMIN_TRANSFER;
    } else {
        return reply_error(x, "ERR",
                           "RAFT ADD id host:port | PROMOTE id | REMOVE id | TRANSFER id");
    }
    x->slot->shape = SRV_SHAPE_OK;
    x->slot->req_id = srv_node_next_req_id(c->server->node);
    c->pending++;
    srv_node_admin(c->server->node, op, (uint64_t)id, op == SRV_ADMIN_ADD ? &addr : NULL,
                   x->slot->req_id, client_on_done, c);
}

struct client_cmd {
    const char *name;
    void (*run)(struct client_cmd_ctx *x);
};

static const struct client_cmd client_cmds[] = {
    {"GET", cmd_get},
    {"SET", cmd_set},
    {"DEL", cmd_del},
    {"EXISTS", cmd_exists},
    {"INCR", cmd_incr},
    {"INCRBY", cmd_incrby},
    {"DECR", cmd_decr},
    {"DECRBY", cmd_decrby},
    {"MGET", cmd_mget},
    {"MSET", cmd_mset},
    {"CAS", cmd_cas},
    {"PING", cmd_ping},
    {"ECHO", cmd_echo},
    {"QUIT", cmd_quit},
    {"SELECT", cmd_select},
    {"DBSIZE", cmd_dbsize},
    {"HELLO", cmd_hello},
    {"CLIENT", cmd_client},
    {"COMMAND", cmd_command},
    {"CONFIG", cmd_config},
    {"INFO", cmd_info},
    {"MULTI", cmd_multi},
    {"EXEC", cmd_exec},
    {"DISCARD", cmd_discard},
    {"WATCH", cmd_watch},
    {"UNWATCH", cmd_unwatch},
    {"CONSISTENCY", cmd_consistency},
    {"SESSION", cmd_session},
    {"SETEX", cmd_setex},
    {"PSETEX", cmd_psetex},
    {"EXPIRE", cmd_expire},
    {"PEXPIRE", cmd_pexpire},
    {"EXPIREAT", cmd_expireat},
    {"PEXPIREAT", cmd_pexpireat},
    {"PERSIST", cmd_persist},
    {"TTL", cmd_ttl},
    {"PTTL", cmd_pttl},
    {"RAFT", cmd_raft},
};

/* Key commands: the only ones a transaction may queue. */
static bool client_cmd_is_kv(const struct client_cmd *cmd)
{
    return cmd->run == cmd_get || cmd->run == cmd_set || cmd->run == cmd_del ||
           cmd->run == cmd_exists || cmd->run == cmd_incr || cmd->run == cmd_incrby ||
           cmd->run == cmd_decr || cmd->run == cmd_decrby || cmd->run == cmd_mget ||
           cmd->run == cmd_mset || cmd->run == cmd_cas || cmd->run == cmd_setex ||
           cmd->run == cmd_psetex || cmd->run == cmd_expire || cmd->run == cmd_pexpire ||
           cmd->run == cmd_expireat || cmd->run == cmd_pexpireat || cmd->run == cmd_persist ||
           cmd->run == cmd_ttl || cmd->run == cmd_pttl;
}

static void client_dispatch(struct client_conn *c, const struct cs_resp_command *cmd)
{
    struct client_cmd_ctx x = {.c = c, .argv = cmd->argv, .argc = cmd->argc};
    x.slot = client_slot_push(c, 0);
    cs_resp_writer_init(&x.w, &x.slot->reply, c->proto);
    const struct client_cmd *found = NULL;
    for (size_t k = 0; k < sizeof client_cmds / sizeof client_cmds[0] && !found; k++)
        if (arg_is(&cmd->argv[0], client_cmds[k].name)) found = &client_cmds[k];
    bool in_multi = c->multi != NULL;
    bool control = found && (found->run == cmd_exec || found->run == cmd_discard ||
                             found->run == cmd_multi || found->run == cmd_quit);
    if (in_multi && found && !control && !client_cmd_is_kv(found)) {
        c->multi_failed = true;
        reply_error(&x, "ERR", "only key commands may be queued inside MULTI");
    } else if (found) {
        found->run(&x);
        if (in_multi && !control && !x.queued) c->multi_failed = true; /* refused: EXEC aborts */
    } else {
        if (in_multi) c->multi_failed = true;
        char msg[128];
        snprintf(msg, sizeof msg, "unknown command '%.*s'",
                 (int)(cmd->argv[0].len > 48 ? 48 : cmd->argv[0].len),
                 (const char *)cmd->argv[0].data);
        reply_error(&x, "ERR", msg);
    }
    if (x.slot->req_id == 0) { /* answered inline */
        srv_metrics.commands[SRV_IFACE_RESP][SRV_KIND_OTHER]++;
        client_slot_done(c, x.slot);
    }
}

/* Take buffered commands while the reply queue has room. */
static void client_process(struct client_conn *c)
{
    while (!c->dead && !c->close_after_reply && c->slots_len < SRV_PIPELINE_MAX &&
           c->watch_reads == 0) {
        struct cs_resp_command cmd;
        int rc = cs_resp_parser_next(c->parser, &cmd);
        if (rc) {
            struct client_slot *s = client_slot_push(c, 0);
            struct cs_resp_writer w;
            cs_resp_writer_init(&w, &s->reply, c->proto);
            cs_resp_write_protocol_error(&w, cs_resp_parser_errmsg(c->parser));
            srv_metrics.limit_protocol++;
            c->close_after_reply = true;
            client_slot_done(c, s);
            break;
        }
        if (cmd.argc == 0) break;
        client_dispatch(c, &cmd);
    }
    c->held = c->watch_reads > 0;
    bool room = c->slots_len < SRV_PIPELINE_MAX && !c->close_after_reply && !c->dead;
    if (room && !c->reading) {
        if (client_read_start(c) == 0) c->reading = true;
    } else if (!room && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = false;
    }
}

static void client_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
    struct client_conn *c = h->data;
    uint8_t *space = NULL;
    size_t space_len = 0;
    (void)want;
    if (cs_resp_parser_reserve(c->parser, CLIENT_READ_BYTES, &space, &space_len) != 0) {
        space_len = 0; /* the query buffer is full: the read fails with UV_ENOBUFS */
    }
    *buf = uv_buf_init((char *)space, (unsigned)space_len);
}

static void client_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct client_conn *c = st->data;
    (void)buf;
    if (nread == UV_ENOBUFS) {
        /* The parser refused more bytes: report its error as a framing error. */
        struct cs_resp_command cmd;
        (void)cs_resp_parser_next(c->parser, &cmd);
        client_process(c);
        client_on_drained(c->server);
        return;
    }
    if (nread < 0) {
        client_kill(c);
        client_maybe_free(c);
        return;
    }
    cs_resp_parser_commit(c->parser, (size_t)nread);
    srv_metrics.bytes_in[SRV_IFACE_RESP] += (uint64_t)nread;
    client_process(c);
    client_on_drained(c->server);
}

static int client_read_start(struct client_conn *c)
{
    return uv_read_start((uv_stream_t *)&c->tcp, client_alloc, client_read);
}

static void client_on_accept(uv_stream_t *server, int status)
{
    struct srv_clients *s = server->data;
    if (status != 0) return;
    struct client_conn *c = calloc(1, sizeof *c);
    if (!c) return;
    c->server = s;
    c->proto = 2;
    c->id = ++s->id_next;
    c->consistency = SRV_READ_LINEARIZABLE;
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    s->connected++;
    srv_metrics.clients++;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        cs_resp_parser_new(&s->config->resp, &c->parser) != 0) {
        c->dead = true;
        client_maybe_free(c);
        return;
    }
    if (s->connected > s->config->clients_max) {
        s->refused++;
        srv_metrics.limit_clients++;
        struct client_slot *sl = client_slot_push(c, 0);
        struct cs_resp_writer w;
        cs_resp_writer_init(&w, &sl->reply, 2);
        cs_resp_write_error(&w, "ERR", "max number of clients reached");
        c->close_after_reply = true;
        client_slot_done(c, sl);
        client_on_drained(s);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (client_read_start(c) != 0) {
        client_kill(c);
        return;
    }
    c->reading = true;
}

int srv_clients_open(struct srv_clients **out, uv_loop_t *loop, const struct srv_config *config,
                     struct srv_node *node)
{
    struct srv_clients *s = calloc(1, sizeof *s);
    if (!s) return CS_ENOMEM;
    s->loop = loop;
    s->config = config;
    s->node = node;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    if (uv_ip4_addr(config->bind, config->port, &addr) != 0 ||
        uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&s->listener, 511, client_on_accept) != 0) {
        fprintf(stderr, "consistd: cannot listen for clients on %s:%u\n", config->bind,
                config->port);
        uv_close((uv_handle_t *)&s->listener, NULL);
        *out = s;
        return CS_EIO;
    }
    srv_node_add_drained(node, client_on_drained, s);
    *out = s;
    return 0;
}

void srv_clients_close(struct srv_clients *s)
{
    if (!s) return;
    if (!uv_is_closing((uv_handle_t *)&s->listener)) uv_close((uv_handle_t *)&s->listener, NULL);
}

uint64_t srv_clients_connected(const struct srv_clients *s)
{
    return s->connected;
}
