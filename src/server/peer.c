/*
 * peer.c: the node-to-node transport: TCP, frames of consist/frame.h, a
 * hello handshake each way, reconnect with bounded backoff, bounded send
 * queues.
 *
 * The one idea: every node dials every peer and sends only on the
 * connection it dialled; it receives only on the connections it accepted.
 * So each direction has one owner, a lost connection is re-dialled by the
 * side that sends on it, and there is never a race over which of two
 * connections between a pair is "the" one. Raft tolerates lost messages, so
 * a full queue or a down link drops frames (counted) rather than blocking.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/log.h"
#include "server.h"

#define PEER_BACKOFF_MS_MIN  50
#define PEER_BACKOFF_MS_MAX  2000
#define PEER_READ_BYTES      (64u << 10)
#define PEER_INBOUND_MAX     64 /* accepted peer connections at once */
#define PEER_FRAME_BYTES_MAX (CS_RAFT_MSG_BYTES_MAX + 64)
#define PEER_BACKLOG_MAX     1024 /* frames held for a link that is down */

_Static_assert(PEER_FRAME_BYTES_MAX <= CS_FRAME_PAYLOAD_BYTES_CEILING, "frames fit the codec");

enum peer_state { PEER_IDLE = 0, PEER_CONNECTING, PEER_HELLO, PEER_READY, PEER_CLOSING };

struct srv_peers;

/* One TCP connection, dialled (out) or accepted (in). */
struct peer_conn {
    uv_tcp_t tcp;
    struct srv_peers *owner;
    struct peer_link *link; /* out: the link it serves; in: NULL */
    struct cs_frame_decoder *decoder;
    uint64_t remote_id; /* after its hello */
    bool hello_seen;
    bool in_use;
};

/* A dialled peer: its address, connection and queue. */
struct peer_link {
    struct srv_peer_addr addr;
    struct srv_peers *owner;
    enum peer_state state;
    struct peer_conn *conn;
    uv_connect_t connect_req;
    uv_timer_t retry_timer;
    uint32_t backoff_ms;
    size_t queued_bytes;                          /* submitted to the socket, not yet written */
    struct peer_write *backlog[PEER_BACKLOG_MAX]; /* waiting for the link, oldest first */
    uint32_t backlog_head, backlog_len;
    size_t backlog_bytes;
};

struct peer_write {
    uv_write_t req;
    struct peer_link *link; /* NULL on an inbound connection */
    size_t len;
    uint8_t bytes[];
};

struct srv_peers {
    uv_loop_t *loop;
    struct srv_node *node;
    const struct srv_config *config;
    uv_tcp_t listener;
    uint32_t links_len;
    struct peer_link links[SRV_PEERS_MAX];
    struct peer_conn *inbound[PEER_INBOUND_MAX];
    uint8_t hello[CS_HELLO_BYTES_MAX + CS_FRAME_HEADER_BYTES];
    size_t hello_len;
    struct cs_hello local;
    uint64_t dropped;
    bool closing;
};

static void peer_dial(struct peer_link *l);
static void peer_link_init(struct srv_peers *p, struct peer_link *l, const struct srv_peer_addr *a);

static void peer_write_done(uv_write_t *req, int status)
{
    struct peer_write *w = req->data;
    if (w->link) {
        CS_ASSERT(w->link->queued_bytes >= w->len);
        w->link->queued_bytes -= w->len;
    }
    (void)status; /* a failed write shows up as a read error or EOF: the link is redialled */
    free(w);
}

/* A frame in one allocation (copied), not yet submitted. */
static struct peer_write *peer_frame_new(struct peer_link *l, const uint8_t *head, size_t head_len,
                                         const void *body, size_t body_len)
{
    size_t len = head_len + body_len;
    struct peer_write *w = malloc(sizeof *w + len);
    if (!w) return NULL;
    memcpy(w->bytes, head, head_len);
    if (body_len) memcpy(w->bytes + head_len, body, body_len);
    w->link = l;
    w->len = len;
    w->req.data = w;
    return w;
}

/* Hand w to the socket; it is freed by peer_write_done (or here on failure). */
static bool peer_frame_submit(struct peer_conn *c, struct peer_write *w)
{
    uv_buf_t buf = uv_buf_init((char *)w->bytes, (unsigned)w->len);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &buf, 1, peer_write_done) != 0) {
        free(w);
        return false;
    }
    if (w->link) w->link->queued_bytes += w->len;
    srv_metrics.bytes_out[SRV_IFACE_PEER] += w->len;
    return true;
}

/* Queue bytes on a connection (copied). */
static bool peer_write(struct peer_conn *c, struct peer_link *l, const uint8_t *head,
                       size_t head_len, const void *body, size_t body_len)
{
    struct peer_write *w = peer_frame_new(l, head, head_len, body, body_len);
    return w && peer_frame_submit(c, w);
}

/*
 * While a link is down its frames wait in a bounded backlog, the oldest
 * dropped first, and leave in order once the peer's hello arrives. Keeping
 * the newest matters: the Raft core counts appends it emitted as in flight,
 * and a follower that never receives the last window of them is not sent
 * another until it answers (see docs/server.md, "Known issue").
 */
static void peer_backlog_drop_oldest(struct peer_link *l)
{
    CS_ASSERT(l->backlog_len > 0);
    struct peer_write *w = l->backlog[l->backlog_head];
    l->backlog_bytes -= w->len;
    free(w);
    l->backlog_head = (l->backlog_head + 1) % PEER_BACKLOG_MAX;
    l->backlog_len--;
    l->owner->dropped++;
}

static void peer_backlog_push(struct peer_link *l, struct peer_write *w)
{
    while (l->backlog_len > 0 &&
           (l->backlog_len == PEER_BACKLOG_MAX || l->backlog_bytes + w->len > SRV_PEER_QUEUE_MAX)) {
        peer_backlog_drop_oldest(l);
    }
    l->backlog[(l->backlog_head + l->backlog_len) % PEER_BACKLOG_MAX] = w;
    l->backlog_len++;
    l->backlog_bytes += w->len;
}

static void peer_backlog_flush(struct peer_link *l)
{
    while (l->backlog_len > 0) {
        struct peer_write *w = l->backlog[l->backlog_head];
        l->backlog_head = (l->backlog_head + 1) % PEER_BACKLOG_MAX;
        l->backlog_len--;
        l->backlog_bytes -= w->len;
        if (!peer_frame_submit(l->conn, w)) l->owner->dropped++;
    }
}

static void peer_conn_free(uv_handle_t *h)
{
    struct peer_conn *c = h->data;
    cs_frame_decoder_free(c->decoder);
    free(c);
}

static void peer_retry(uv_timer_t *t)
{
    peer_dial(t->data);
}

static void peer_conn_close(struct peer_conn *c)
{
    struct srv_peers *p = c->owner;
    if (!c->in_use) return;
    c->in_use = false;
    if (c->link) {
        struct peer_link *l = c->link;
        l->conn = NULL;
        l->state = PEER_IDLE;
        if (!p->closing) {
            uv_timer_start(&l->retry_timer, peer_retry, l->backoff_ms, 0);
            l->backoff_ms =
                l->backoff_ms * 2 > PEER_BACKOFF_MS_MAX ? PEER_BACKOFF_MS_MAX : l->backoff_ms * 2;
        }
    } else {
        for (uint32_t k = 0; k < PEER_INBOUND_MAX; k++)
            if (p->inbound[k] == c) p->inbound[k] = NULL;
    }
    uv_close((uv_handle_t *)&c->tcp, peer_conn_free);
}

static void peer_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
    struct peer_conn *c = h->data;
    uint8_t *space = NULL;
    size_t space_len = 0;
    (void)want;
    if (cs_frame_decoder_reserve(c->decoder, PEER_READ_BYTES, &space, &space_len) != 0) {
        space_len = 0;
    }
    *buf = uv_buf_init((char *)space, (unsigned)space_len);
}

/* The first frame must be a hello from a node of our cluster. */
static bool peer_on_hello(struct peer_conn *c, const struct cs_frame *f)
{
    struct srv_peers *p = c->owner;
    struct cs_hello remote;
    uint16_t version;
    int rc = f->type == CS_FRAME_HELLO ? cs_hello_decode(f->payload, f->payload_len, &remote)
                                       : CS_EDECODE;
    if (rc == 0) rc = cs_hello_check(&p->local, &remote, &version);
    if (rc == 0 && c->link && remote.node_id != c->link->addr.id) rc = CS_EDENIED;
    if (rc) {
        CS_LOGW("peer refused: %s (first frame type %u)", cs_strerror(rc), f->type);
        return false;
    }
    c->hello_seen = true;
    c->remote_id = remote.node_id;
    if (c->link) {
        c->link->state = PEER_READY;
        c->link->backoff_ms = PEER_BACKOFF_MS_MIN;
        CS_LOGI("connected to peer %" PRIu64 " (%u frames waited)", remote.node_id,
                c->link->backlog_len);
        peer_backlog_flush(c->link);
    }
    return true;
}

static void peer_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct peer_conn *c = s->data;
    (void)buf;
    if (nread < 0) {
        peer_conn_close(c);
        return;
    }
    cs_frame_decoder_commit(c->decoder, (size_t)nread);
    srv_metrics.bytes_in[SRV_IFACE_PEER] += (uint64_t)nread;
    for (;;) {
        struct cs_frame f;
        int rc = cs_frame_decoder_next(c->decoder, &f);
        if (rc) {
            CS_LOGW("peer connection closed: %s", cs_frame_decoder_errmsg(c->decoder));
            peer_conn_close(c);
            return;
        }
        if (f.type == 0) return;
        if (!c->hello_seen) {
            if (!peer_on_hello(c, &f)) {
                peer_conn_close(c);
                return;
            }
            continue;
        }
        if (f.type == CS_FRAME_HELLO || f.type == CS_FRAME_PING) continue;
        srv_node_on_frame(c->owner->node, c->remote_id, f.type, f.group_id, f.payload,
                          f.payload_len);
        if (!c->in_use) return;
    }
}

static struct peer_conn *peer_conn_new(struct srv_peers *p, struct peer_link *l)
{
    struct peer_conn *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    if (cs_frame_decoder_new(PEER_FRAME_BYTES_MAX, &c->decoder) != 0) {
        free(c);
        return NULL;
    }
    c->owner = p;
    c->link = l;
    c->in_use = true;
    uv_tcp_init(p->loop, &c->tcp);
    c->tcp.data = c;
    return c;
}

static void peer_on_connect(uv_connect_t *req, int status)
{
    struct peer_link *l = req->data;
    struct peer_conn *c = l->conn;
    if (!c) return;
    if (status != 0) {
        peer_conn_close(c);
        return;
    }
    l->state = PEER_HELLO;
    uv_tcp_nodelay(&c->tcp, 1);
    if (!peer_write(c, l, l->owner->hello, l->owner->hello_len, NULL, 0) ||
        uv_read_start((uv_stream_t *)&c->tcp, peer_alloc, peer_read) != 0) {
        peer_conn_close(c);
    }
}

static void peer_dial(struct peer_link *l)
{
    struct srv_peers *p = l->owner;
    if (p->closing || l->state != PEER_IDLE) return;
    struct sockaddr_in addr;
    if (uv_ip4_addr(l->addr.host, l->addr.port, &addr) != 0) {
        CS_LOGE("peer %" PRIu64 ": bad address %s", l->addr.id, l->addr.host);
        return;
    }
    struct peer_conn *c = peer_conn_new(p, l);
    if (!c) return;
    l->conn = c;
    l->state = PEER_CONNECTING;
    l->connect_req.data = l;
    if (uv_tcp_connect(&l->connect_req, &c->tcp, (const struct sockaddr *)&addr, peer_on_connect) !=
        0) {
        peer_conn_close(c);
    }
}

static void peer_on_accept(uv_stream_t *server, int status)
{
    struct srv_peers *p = server->data;
    if (status != 0) return;
    struct peer_conn *c = peer_conn_new(p, NULL);
    if (!c) return;
    uint32_t slot = PEER_INBOUND_MAX;
    for (uint32_t k = 0; k < PEER_INBOUND_MAX && slot == PEER_INBOUND_MAX; k++)
        if (!p->inbound[k]) slot = k;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 || slot == PEER_INBOUND_MAX) {
        peer_conn_close(c); /* past PEER_INBOUND_MAX: refused */
        return;
    }
    p->inbound[slot] = c;
    uv_tcp_nodelay(&c->tcp, 1);
    if (!peer_write(c, NULL, p->hello, p->hello_len, NULL, 0) ||
        uv_read_start((uv_stream_t *)&c->tcp, peer_alloc, peer_read) != 0) {
        peer_conn_close(c);
    }
}

bool srv_peers_send(struct srv_peers *p, uint64_t to, uint8_t type, uint64_t group_id,
                    const void *payload, size_t len)
{
    struct peer_link *l = NULL;
    for (uint32_t k = 0; k < p->links_len; k++)
        if (p->links[k].addr.id == to) l = &p->links[k];
    uint8_t header[CS_FRAME_HEADER_BYTES];
    if (!l ||
        cs_frame_header_encode(header, type, group_id, payload, len, PEER_FRAME_BYTES_MAX) != 0) {
        p->dropped++;
        return false;
    }
    if (l->state == PEER_READY && l->queued_bytes + len > SRV_PEER_QUEUE_MAX) {
        p->dropped++; /* the peer does not keep up: Raft resends what matters */
        return false;
    }
    struct peer_write *w = peer_frame_new(l, header, sizeof header, payload, len);
    if (!w) {
        p->dropped++;
        return false;
    }
    if (l->state != PEER_READY) {
        peer_backlog_push(l, w);
        return true;
    }
    if (!peer_frame_submit(l->conn, w)) {
        p->dropped++;
        return false;
    }
    return true;
}

int srv_peers_open(struct srv_peers **out, uv_loop_t *loop, const struct srv_config *config,
                   struct srv_node *node)
{
    struct srv_peers *p = calloc(1, sizeof *p);
    if (!p) return CS_ENOMEM;
    p->loop = loop;
    p->node = node;
    p->config = config;
    p->local = (struct cs_hello){.version_min = CS_PEER_PROTOCOL_VERSION_MIN,
                                 .version_max = CS_PEER_PROTOCOL_VERSION_MAX,
                                 .node_id = config->node_id,
                                 .cluster_id = (const uint8_t *)config->cluster_id,
                                 .cluster_id_len = strlen(config->cluster_id)};
    uint8_t payload[CS_HELLO_BYTES_MAX];
    struct cs_buf b;
    cs_buf_init_fixed(&b, payload, sizeof payload);
    int rc = cs_hello_encode(&b, &p->local);
    if (rc == 0) {
        rc = cs_frame_header_encode(p->hello, CS_FRAME_HELLO, 0, payload, b.len,
                                    PEER_FRAME_BYTES_MAX);
    }
    if (rc) {
        free(p);
        return rc;
    }
    memcpy(p->hello + CS_FRAME_HEADER_BYTES, payload, b.len);
    p->hello_len = CS_FRAME_HEADER_BYTES + b.len;

    struct sockaddr_in addr;
    uv_tcp_init(loop, &p->listener);
    p->listener.data = p;
    if (uv_ip4_addr(config->bind, config->peer_port, &addr) != 0 ||
        uv_tcp_bind(&p->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&p->listener, 128, peer_on_accept) != 0) {
        fprintf(stderr, "consistd: cannot listen for peers on %s:%u\n", config->bind,
                config->peer_port);
        uv_close((uv_handle_t *)&p->listener, NULL);
        p->closing = true;
        *out = p;
        return CS_EIO;
    }
    for (uint32_t k = 0; k < config->peers_len; k++)
        peer_link_init(p, &p->links[p->links_len++], &config->peers[k]);
    *out = p;
    return 0;
}

static void peer_link_init(struct srv_peers *p, struct peer_link *l, const struct srv_peer_addr *a)
{
    l->addr = *a;
    l->owner = p;
    l->backoff_ms = PEER_BACKOFF_MS_MIN;
    uv_timer_init(p->loop, &l->retry_timer);
    l->retry_timer.data = l;
    peer_dial(l);
}

int srv_peers_set(struct srv_peers *p, const struct srv_peer_addr *addr)
{
    CS_ASSERT(addr->id != p->config->node_id);
    for (uint32_t k = 0; k < p->links_len; k++) {
        struct peer_link *l = &p->links[k];
        if (l->addr.id != addr->id) continue;
        if (strcmp(l->addr.host, addr->host) == 0 && l->addr.port == addr->port) return 0;
        CS_LOGI("peer %" PRIu64 " is now at %s:%u", addr->id, addr->host, addr->port);
        l->addr = *addr;
        l->backoff_ms = PEER_BACKOFF_MS_MIN;
        if (l->conn) peer_conn_close(l->conn); /* redialled at the new address */
        return 0;
    }
    if (p->links_len == SRV_PEERS_MAX) return CS_ENOSPACE;
    CS_LOGI("peer %" PRIu64 " added at %s:%u", addr->id, addr->host, addr->port);
    peer_link_init(p, &p->links[p->links_len++], addr);
    return 0;
}

void srv_peers_close(struct srv_peers *p)
{
    if (!p) return;
    bool listening = !p->closing;
    p->closing = true;
    for (uint32_t k = 0; k < p->links_len; k++) {
        if (p->links[k].conn) peer_conn_close(p->links[k].conn);
        uv_close((uv_handle_t *)&p->links[k].retry_timer, NULL);
    }
    for (uint32_t k = 0; k < PEER_INBOUND_MAX; k++)
        if (p->inbound[k]) peer_conn_close(p->inbound[k]);
    if (listening) uv_close((uv_handle_t *)&p->listener, NULL);
    /* p itself stays: the close callbacks still reach it; the process exits next. */
}

uint32_t srv_peers_connected(const struct srv_peers *p)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < p->links_len; k++)
        n += p->links[k].state == PEER_READY;
    return n;
}

uint64_t srv_peers_dropped(const struct srv_peers *p)
{
    return p->dropped;
}
