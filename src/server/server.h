/*
 * server.h: consistd's internal contracts: the config, the node (one Raft
 * group, its storage and state machine), the peer transport and the RESP
 * client server, all on one libuv loop.
 *
 * The one idea: every client command becomes a request with a place in its
 * connection's reply queue. A request is finished by whoever can answer it
 * (the apply of its log entry, a ReadIndex confirmation, a forwarded reply
 * from the leader, or its deadline), and replies leave each connection in
 * the order its commands arrived, whatever order they finish in.
 */
#ifndef CS_SERVER_H
#define CS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "consist/codec.h"
#include "consist/frame.h"
#include "consist/kv.h"
#include "consist/raft.h"
#include "consist/resp.h"
#include "consist/store.h"

/* ---- config (config.c) ---------------------------------------------------- */

#define SRV_PEERS_MAX          (CS_RAFT_MEMBERS_MAX - 1)
#define SRV_HOST_BYTES_MAX     64
#define SRV_PATH_BYTES_MAX     512
#define SRV_CONFIG_LINE_MAX    1024 /* one line of consistd.conf */
#define SRV_CONFIG_LINES_MAX   4096 /* lines in consistd.conf */
#define SRV_CLUSTER_ID_MAX     64   /* = CS_HELLO_CLUSTER_ID_BYTES_MAX */
#define SRV_CLIENTS_MAX_LIMIT  65536
#define SRV_PIPELINE_MAX       128         /* unanswered commands per connection: reading pauses */
#define SRV_REPLY_BYTES_MAX    (64u << 20) /* queued reply bytes per connection: then closed */
#define SRV_PEER_QUEUE_MAX     (64u << 20) /* unsent bytes per peer: past it Raft messages drop */
#define SRV_PENDING_WRITES_MAX 8192        /* proposals awaiting apply on this node */
#define SRV_PENDING_READS_MAX  CS_RAFT_READS_MAX
#define SRV_FORWARDS_MAX       8192 /* requests this node forwarded, awaiting the leader */

struct srv_peer_addr {
    uint64_t id;
    char host[SRV_HOST_BYTES_MAX];
    uint16_t port;
};

struct srv_config {
    uint64_t node_id;
    char cluster_id[SRV_CLUSTER_ID_MAX + 1];
    char bind[SRV_HOST_BYTES_MAX];
    uint16_t port;      /* RESP */
    uint16_t peer_port; /* peers */
    uint16_t http_port; /* HTTP/JSON; 0: not served */
    char dir[SRV_PATH_BYTES_MAX];
    uint32_t peers_len;
    struct srv_peer_addr peers[SRV_PEERS_MAX];
    uint32_t election_timeout_ms;
    uint32_t heartbeat_interval_ms;
    uint32_t request_timeout_ms; /* a command not answered by then gets -NOQUORUM / -TRYAGAIN */
    uint32_t clients_max;
    uint32_t snapshot_every; /* applied entries between snapshots (log compaction) */
    bool join;               /* a new node joining a running cluster: no bootstrap membership */
    struct cs_resp_limits resp;
    char log_level[16];
};

void srv_config_default(struct srv_config *c);
/* srv_config_set: one "key value..." setting; 0 or -1 with a message in err. */
int srv_config_set(struct srv_config *c, const char *key, char **vals, int nvals, char *err,
                   size_t err_len);
/* srv_config_load_file: every line of path; 0 or -1 with "file:line: why" in err. */
int srv_config_load_file(struct srv_config *c, const char *path, char *err, size_t err_len);
/* srv_config_parse_addr: "host:port" (IPv4, or localhost) into addr, id untouched; 0 or -1. */
int srv_config_parse_addr(const char *text, struct srv_peer_addr *addr);
/* srv_config_check: the whole config is usable; 0 or -1 and err. */
int srv_config_check(const struct srv_config *c, char *err, size_t err_len);

/* ---- requests ------------------------------------------------------------- */

/* How a command's kv reply becomes a RESP reply. */
enum srv_shape {
    SRV_SHAPE_GET = 1, /* bulk or null */
    SRV_SHAPE_SET,     /* +OK or null (NX/XX miss); with GET: the old value */
    SRV_SHAPE_SUM,     /* DEL, EXISTS: integer, ops summed */
    SRV_SHAPE_INCR,    /* integer */
    SRV_SHAPE_MGET,    /* array of bulks / nulls */
    SRV_SHAPE_MSET,    /* +OK */
    SRV_SHAPE_CAS,     /* :1 swapped, :0 not */
    SRV_SHAPE_EXEC,    /* an array: each queued command's reply; null if a WATCH check failed */
    SRV_SHAPE_INT,     /* EXPIRE, PERSIST: the op's number */
    SRV_SHAPE_TTL,     /* TTL / PTTL: -2 no key, -1 no TTL, else seconds / ms left */
    SRV_SHAPE_WATCH,   /* +OK, after recording each key's mod_index */
    SRV_SHAPE_OK,      /* +OK (membership commands) */
};

/* ---- the node (node.c) ----------------------------------------------------- */

struct srv_node;

/* What finishing a request gives: a kv reply or a RESP error. */
struct srv_result {
    const char *err_code; /* NULL: reply is valid */
    const char *err_msg;
    const struct cs_kv_reply *reply;
    uint64_t index; /* with a reply: the log index it reflects (a session token moves there) */
};

/* How a command is served. */
enum srv_read {
    SRV_WRITE = 0,         /* proposed, answered once applied */
    SRV_READ_LINEARIZABLE, /* ReadIndex on the leader (forwarded there from a follower) */
    SRV_READ_SESSION,      /* by any node that has applied the session's index */
};

int srv_node_open(struct srv_node **out, uv_loop_t *loop, const struct srv_config *config);
void srv_node_close(struct srv_node *n);

/*
 * srv_node_submit: run a kv command for a local client. A read holds only
 * read ops (srv_op_is_read). SRV_READ_SESSION is served here as soon as this
 * node has applied min_index (the session token); one that waits longer
 * than SRV_SESSION_WAIT_MS becomes a linearizable read. done is called
 * exactly once (possibly before return) with (ctx, req_id, result).
 */
#define SRV_SESSION_WAIT_MS 500

/*
 * A session token names the log index a client has seen ("cs1-" and the
 * index in decimal): a session read is served where that index is applied.
 * srv_token_format writes one (NUL-terminated, at most SRV_TOKEN_BYTES_MAX)
 * and returns its length; srv_token_parse: 0 or CS_EPARSE.
 */
#define SRV_TOKEN_PREFIX    "cs1-"
#define SRV_TOKEN_BYTES_MAX 32
size_t srv_token_format(char out[SRV_TOKEN_BYTES_MAX], uint64_t index);
int srv_token_parse(const uint8_t *text, size_t len, uint64_t *index);
/* srv_parse_u64: decimal digits, no sign, no leading zero, fitting 64 bits
 * (token.c). 0 and *out, or CS_EPARSE. */
int srv_parse_u64(const uint8_t *text, size_t len, uint64_t *out);
typedef void (*srv_done_fn)(void *ctx, uint64_t req_id, const struct srv_result *res);
void srv_node_submit(struct srv_node *n, const struct cs_kv_command *cmd, enum srv_read read,
                     uint64_t min_index, uint64_t req_id, srv_done_fn done, void *ctx);

/* Counters for INFO, /metrics and /v1/cluster. */
struct srv_node_counters {
    uint64_t leader_changes;
    uint64_t syncs;
    uint64_t peer_frames_dropped;
    uint32_t peers_connected;
    uint32_t voters;
    uint64_t keys;
    uint64_t expired;
    uint64_t read_rounds;
    uint64_t snapshots;
    uint64_t session_local, session_upgraded;
};
void srv_node_status(struct srv_node *n, struct cs_raft_status *status,
                     struct srv_node_counters *counters);

/* Membership at run time, as the leader (else -TRYAGAIN naming the leader). */
enum srv_admin {
    SRV_ADMIN_ADD = 1, /* add a learner at addr: its address is replicated first */
    SRV_ADMIN_PROMOTE, /* make a caught-up learner a voter */
    SRV_ADMIN_REMOVE,  /* remove a member */
    SRV_ADMIN_TRANSFER /* hand leadership to a voter (answered once started) */
};
/*
 * srv_node_admin: one membership change; done is called once, with an empty
 * reply when the change is committed (transfer: when begun), or an error.
 */
void srv_node_admin(struct srv_node *n, enum srv_admin op, uint64_t id,
                    const struct srv_peer_addr *addr, uint64_t req_id, srv_done_fn done, void *ctx);

/*
 * Keys beginning with SRV_KEY_RESERVED_PREFIX hold the cluster's own
 * replicated metadata (a member's peer address), so clients may not use them.
 */
#define SRV_KEY_RESERVED_PREFIX                                                                    \
    "\xff\xff"                                                                                     \
    "consist:"
bool srv_key_reserved(const uint8_t *key, size_t len);

/* srv_node_info: INFO text (sections server, replication, raft) into out. */
void srv_node_info(struct srv_node *n, struct cs_buf *out);
uint64_t srv_node_dbsize(struct srv_node *n);
uint64_t srv_node_now_ms(struct srv_node *n);
/* srv_wall_ms: wall-clock ms since the epoch: the time key expiry is judged by. */
uint64_t srv_wall_ms(void);
uint64_t srv_node_next_req_id(struct srv_node *n);
/* srv_node_add_drained: fn(ctx) runs after each turn's Ready batches (flush replies there). */
void srv_node_add_drained(struct srv_node *n, void (*fn)(void *ctx), void *ctx);

/* Called by the peer transport with one decoded Raft or forward frame. */
void srv_node_on_frame(struct srv_node *n, uint64_t from, uint8_t type, uint64_t group_id,
                       const uint8_t *payload, size_t len);

/* ---- metrics (metrics.c) ---------------------------------------------------- */

#define SRV_HIST_BUCKETS 16 /* 50 us .. 2.5 s, then +Inf */

struct srv_hist {
    uint64_t buckets[SRV_HIST_BUCKETS];
    uint64_t count;
    uint64_t sum_us;
};

enum { SRV_IFACE_RESP = 0, SRV_IFACE_HTTP = 1, SRV_IFACE_MAX = 2, SRV_IFACE_PEER = 2 };
/* The first three are the enum srv_read values. */
enum { SRV_KIND_WRITE = 0, SRV_KIND_READ_LIN, SRV_KIND_READ_SESSION, SRV_KIND_OTHER, SRV_KIND_MAX };
enum { SRV_ERR_TRYAGAIN = 0, SRV_ERR_NOQUORUM, SRV_ERR_ERR, SRV_ERR_OTHER, SRV_ERR_MAX };

/* The process's metrics: one loop, one thread, plain increments. */
struct srv_metrics {
    uint64_t commands[SRV_IFACE_MAX][SRV_KIND_MAX];
    uint64_t errors[SRV_ERR_MAX];
    uint64_t clients; /* RESP connections now */
    uint64_t limit_clients, limit_protocol, limit_reply_buffer;
    uint64_t bytes_in[SRV_IFACE_MAX + 1], bytes_out[SRV_IFACE_MAX + 1]; /* + peers */
    struct srv_hist latency[SRV_KIND_OTHER]; /* by kind: write, linearizable, session read */
    struct srv_hist fsync;
    struct srv_hist snapshot;
};
extern struct srv_metrics srv_metrics;

/* srv_hist_observe: count one duration in h. */
void srv_hist_observe(struct srv_hist *h, uint64_t us);
/* srv_metrics_error: count one error reply by its code word. */
void srv_metrics_error(const char *code);
/* srv_metrics_render: the Prometheus text exposition (format 0.0.4) into out. */
void srv_metrics_render(struct cs_buf *out, const struct cs_raft_status *st,
                        const struct srv_node_counters *k);

/* ---- freeing off the loop (reclaim.c) --------------------------------------- */

#define SRV_RECLAIM_PTRS_MAX                                                                       \
    (1u << 22) /* pointers waiting for a worker; past it: freed at once                            \
                */

struct srv_reclaim {
    uv_loop_t *loop;
    void **ptrs; /* released, not yet handed to a worker */
    size_t len, cap;
    uint32_t jobs; /* batches a worker has not finished */
};

void srv_reclaim_init(struct srv_reclaim *rc, uv_loop_t *loop);
/* srv_reclaim_release: the release hook (ctx = the srv_reclaim): remember p for freeing. */
void srv_reclaim_release(void *ctx, void *p);
/*
 * srv_reclaim_flush: free what was released, and delete the snapshot file a
 * commit replaced (cs_store_log_snapshot_reap) if reap_log, on a worker
 * thread. reap_log must stay open until the job is done (jobs == 0).
 */
void srv_reclaim_flush(struct srv_reclaim *rc, struct cs_store_log *reap_log, uint64_t reap_group);
/* srv_reclaim_drain: free what waits, here and now. */
void srv_reclaim_drain(struct srv_reclaim *rc);

/* ---- background snapshots (snapshot.c) -------------------------------------- */

struct srv_snapshot_job;

/*
 * Called once per job, on the loop: rc 0 with loaded holding the staged
 * snapshot read back (take loaded->data and set it NULL to keep it; what is
 * left is freed), else why it failed (CS_EBUSY: stopped). The job is gone
 * once done returns.
 */
typedef void (*srv_snapshot_done_fn)(void *ctx, int rc, const struct cs_raft_snapshot_meta *meta,
                                     struct cs_store_log_snapshot *loaded);

/*
 * srv_snapshot_start: fork a child that encodes kv (as it is now) and stages
 * it with meta in log (cs_store_log_snapshot_stage), then read it back on a
 * worker thread and call done. The caller must apply nothing to kv before
 * the fork returns (it is synchronous) and start no second job before done.
 * 0, or CS_ENOMEM / CS_EIO (nothing started, done is not called).
 */
int srv_snapshot_start(struct srv_snapshot_job **out, uv_loop_t *loop, struct cs_store_log *log,
                       uint64_t group_id, const struct cs_raft_snapshot_meta *meta,
                       const struct cs_kv *kv, srv_snapshot_done_fn done, void *ctx);
/*
 * srv_snapshot_stop: end a job whose child still runs (done is called with
 * CS_EBUSY). A job reading back cannot be interrupted: run the loop until
 * its done comes.
 */
void srv_snapshot_stop(struct srv_snapshot_job *job);

/* ---- the forward codec (forward.c) ----------------------------------------- */

#define SRV_FORWARD_CODE_BYTES_MAX    32  /* an error's code word */
#define SRV_FORWARD_MESSAGE_BYTES_MAX 256 /* an error's message */
#define SRV_FORWARD_KIND_APPLY        0   /* the reply cs_kv_apply wrote */
#define SRV_FORWARD_KIND_READ         1   /* a ReadIndex read's results */

struct srv_forward_reply {
    uint64_t req_id;
    uint64_t index; /* the log index the answer reflects (not for errors) */
    bool is_error;
    char code[SRV_FORWARD_CODE_BYTES_MAX + 1];
    char message[SRV_FORWARD_MESSAGE_BYTES_MAX + 1];
    struct cs_kv_reply reply; /* values are views into the decoded bytes */
};

/* srv_forward_encode: a FORWARD payload into out. 0 or out's / the kv codec's error. */
int srv_forward_encode(struct cs_buf *out, uint64_t req_id, bool is_read,
                       const struct cs_kv_command *cmd);
/* srv_forward_decode: 0; CS_EDECODE (malformed, a read holding a write) or the kv codec's
 * CS_ETOOBIG / CS_EVERSION. cmd's bytes are views into p. */
int srv_forward_decode(const uint8_t *p, size_t len, uint64_t *req_id, bool *is_read,
                       struct cs_kv_command *cmd);
/* FORWARD_REPLY encoders: 0 or out's error. Long code / message are cut to their limits. */
int srv_forward_reply_encode_error(struct cs_buf *out, uint64_t req_id, const char *code,
                                   const char *message);
int srv_forward_reply_encode_apply(struct cs_buf *out, uint64_t req_id, uint64_t index,
                                   const uint8_t *reply, size_t reply_len);
int srv_forward_reply_encode_read(struct cs_buf *out, uint64_t req_id, uint64_t index,
                                  const struct cs_kv_reply *reply);
/* srv_op_is_read: the kv op types a read (ReadIndex, session, forwarded) may hold. */
bool srv_op_is_read(uint8_t type);
/* srv_forward_reply_decode: 0; CS_EDECODE, CS_ETOOBIG, CS_EVERSION on malformed bytes. */
int srv_forward_reply_decode(const uint8_t *p, size_t len, struct srv_forward_reply *out);

/* ---- the peer transport (peer.c) ------------------------------------------ */

/* Server-level frame types, after the codec's own (consist/frame.h). */
#define SRV_FRAME_FORWARD       16 /* a follower's command for the leader */
#define SRV_FRAME_FORWARD_REPLY 17 /* the leader's answer */

struct srv_peers;

int srv_peers_open(struct srv_peers **out, uv_loop_t *loop, const struct srv_config *config,
                   struct srv_node *node);
void srv_peers_close(struct srv_peers *p);
/* srv_peers_send: queue one frame to peer to; false if it was dropped (no
 * connection, queue full). The payload is copied. */
bool srv_peers_send(struct srv_peers *p, uint64_t to, uint8_t type, uint64_t group_id,
                    const void *payload, size_t len);
/*
 * srv_peers_set: dial addr.id at addr from now on (a new member, or one
 * whose address changed). 0, or CS_ENOSPACE past SRV_PEERS_MAX links. A link
 * is never dropped: a removed member's stays idle, since Raft sends it nothing.
 */
int srv_peers_set(struct srv_peers *p, const struct srv_peer_addr *addr);
/* srv_peers_connected: peers with a completed handshake right now. */
uint32_t srv_peers_connected(const struct srv_peers *p);
uint64_t srv_peers_dropped(const struct srv_peers *p);

/* ---- the RESP server (client.c) ------------------------------------------- */

struct srv_clients;

int srv_clients_open(struct srv_clients **out, uv_loop_t *loop, const struct srv_config *config,
                     struct srv_node *node);
void srv_clients_close(struct srv_clients *s);
uint64_t srv_clients_connected(const struct srv_clients *s);

/* ---- the HTTP server (http.c) --------------------------------------------- */

struct srv_http;

int srv_http_open(struct srv_http **out, uv_loop_t *loop, const struct srv_config *config,
                  struct srv_node *node);
/* srv_http_flush: write the responses finished since the last call (after each turn). */
void srv_http_flush(struct srv_http *h);

#endif /* CS_SERVER_H */
