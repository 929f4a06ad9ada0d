/*
 * metrics.c: consistd's counters and latency histograms, and their
 * Prometheus text rendering for GET /metrics.
 *
 * The one idea: a node is one loop on one thread, so its metrics are one
 * process-wide struct updated with plain increments, and a histogram is a
 * fixed array of cumulative-on-render buckets: recording costs a short scan
 * of fixed bounds, never an allocation, and memory is the same after a
 * billion requests as after one.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/assert.h"
#include "server.h"

struct srv_metrics srv_metrics;

/* Bucket upper bounds in microseconds (Prometheus "le"), then +Inf. */
static const uint64_t metrics_bounds_us[SRV_HIST_BUCKETS - 1] = {
    50,    100,   250,    500,    1000,   2500,    5000,   10000,
    25000, 50000, 100000, 250000, 500000, 1000000, 2500000};

void srv_hist_observe(struct srv_hist *h, uint64_t us)
{
    uint32_t b = 0;
    while (b < SRV_HIST_BUCKETS - 1 && us > metrics_bounds_us[b])
        b++;
    h->buckets[b]++;
    h->count++;
    h->sum_us += us;
}

void srv_metrics_error(const char *code)
{
    int e = strcmp(code, "TRYAGAIN") == 0   ? SRV_ERR_TRYAGAIN
            : strcmp(code, "NOQUORUM") == 0 ? SRV_ERR_NOQUORUM
            : strcmp(code, "ERR") == 0      ? SRV_ERR_ERR
                                            : SRV_ERR_OTHER;
    srv_metrics.errors[e]++;
}

static void put_text(struct cs_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put_text(struct cs_buf *out, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    CS_ASSERT(len > 0 && (size_t)len < sizeof line);
    cs_put_raw(out, line, (size_t)len);
}

static void render_hist(struct cs_buf *out, const char *name, const char *help,
                        const char *labels[], const struct srv_hist *const hists[], size_t len)
{
    put_text(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t k = 0; k < len; k++) {
        const struct srv_hist *h = hists[k];
        const char *sep = labels[k][0] ? "," : "";
        uint64_t cumulative = 0;
        for (uint32_t b = 0; b < SRV_HIST_BUCKETS; b++) {
            cumulative += h->buckets[b];
            if (b < SRV_HIST_BUCKETS - 1)
                put_text(out, "%s_bucket{%s%sle=\"%g\"} %" PRIu64 "\n", name, labels[k], sep,
                         (double)metrics_bounds_us[b] / 1e6, cumulative);
            else
                put_text(out, "%s_bucket{%s%sle=\"+Inf\"} %" PRIu64 "\n", name, labels[k], sep,
                         cumulative);
        }
        CS_ASSERT(cumulative == h->count);
        const char *open = labels[k][0] ? "{" : "", *close = labels[k][0] ? "}" : "";
        put_text(out, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %" PRIu64 "\n", name, open, labels[k],
                 close, (double)h->sum_us / 1e6, name, open, labels[k], close, h->count);
    }
}

static void counter(struct cs_buf *out, const char *name, const char *help, uint64_t v)
{
    put_text(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name, v);
}

static void gauge(struct cs_buf *out, const char *name, const char *help, uint64_t v)
{
    put_text(out, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIu64 "\n", name, help, name, name, v);
}

void srv_metrics_render(struct cs_buf *out, const struct cs_raft_status *st,
                        const struct srv_node_counters *k)
{
    const struct srv_metrics *m = &srv_metrics;
    gauge(out, "consist_raft_term", "The node's current Raft term.", st->term);
    gauge(out, "consist_raft_is_leader", "1 on the leader.", st->role == CS_RAFT_LEADER);
    gauge(out, "consist_raft_commit_index", "Highest log index known committed.", st->commit);
    gauge(out, "consist_raft_applied_index", "Highest log index applied here.", st->applied);
    gauge(out, "consist_raft_snapshot_index", "Index of the latest snapshot.", st->snapshot_index);
    gauge(out, "consist_raft_voters", "Voting members.", k->voters);
    counter(out, "consist_raft_leader_changes_total", "Leaders seen by this node.",
            k->leader_changes);
    counter(out, "consist_raft_read_rounds_total", "ReadIndex rounds (reads share them).",
            k->read_rounds);
    counter(out, "consist_snapshots_total", "Snapshots made here and put in effect.", k->snapshots);
    counter(out, "consist_log_syncs_total", "fdatasync calls on the Raft log.", k->syncs);
    counter(out, "consist_peer_frames_dropped_total",
            "Peer frames dropped (queue full, link down).", k->peer_frames_dropped);
    gauge(out, "consist_peers_connected", "Peers with a completed handshake.", k->peers_connected);
    gauge(out, "consist_keys", "Keys in this node's state machine.", k->keys);
    counter(out, "consist_keys_expired_total", "Keys removed here because their TTL passed.",
            k->expired);
    counter(out, "consist_session_reads_local_total",
            "Session reads served from this node's own state.", k->session_local);
    counter(out, "consist_session_reads_upgraded_total",
            "Session reads that waited too long and became linearizable.", k->session_upgraded);
    gauge(out, "consist_clients", "Connected RESP clients.", m->clients);
    put_text(out, "# HELP consist_commands_total Client commands by interface and kind.\n"
                  "# TYPE consist_commands_total counter\n");
    static const char *const kinds[SRV_KIND_MAX] = {"write", "read_linearizable", "read_session",
                                                    "other"};
    for (int i = 0; i < SRV_IFACE_MAX; i++)
        for (int j = 0; j < SRV_KIND_MAX; j++)
            put_text(out, "consist_commands_total{interface=\"%s\",kind=\"%s\"} %" PRIu64 "\n",
                     i == SRV_IFACE_RESP ? "resp" : "http", kinds[j], m->commands[i][j]);
    put_text(out, "# HELP consist_errors_total Error replies by code.\n"
                  "# TYPE consist_errors_total counter\n");
    static const char *const codes[SRV_ERR_MAX] = {"TRYAGAIN", "NOQUORUM", "ERR", "OTHER"};
    for (int e = 0; e < SRV_ERR_MAX; e++)
        put_text(out, "consist_errors_total{code=\"%s\"} %" PRIu64 "\n", codes[e], m->errors[e]);
    put_text(out,
             "# HELP consist_limits_hit_total Requests or connections refused at a limit.\n"
             "# TYPE consist_limits_hit_total counter\n"
             "consist_limits_hit_total{limit=\"maxclients\"} %" PRIu64 "\n"
             "consist_limits_hit_total{limit=\"protocol\"} %" PRIu64 "\n"
             "consist_limits_hit_total{limit=\"reply_buffer\"} %" PRIu64 "\n",
             m->limit_clients, m->limit_protocol, m->limit_reply_buffer);
    put_text(out, "# HELP consist_bytes_total Bytes read and written, by interface.\n"
                  "# TYPE consist_bytes_total counter\n");
    for (int i = 0; i < SRV_IFACE_MAX + 1; i++) {
        const char *name = i == SRV_IFACE_RESP ? "resp" : i == SRV_IFACE_HTTP ? "http" : "peer";
        put_text(out,
                 "consist_bytes_total{interface=\"%s\",direction=\"in\"} %" PRIu64 "\n"
                 "consist_bytes_total{interface=\"%s\",direction=\"out\"} %" PRIu64 "\n",
                 name, m->bytes_in[i], name, m->bytes_out[i]);
    }
    const char *lat_labels[] = {"kind=\"write\"", "kind=\"read_linearizable\"",
                                "kind=\"read_session\""};
    const struct srv_hist *lat[] = {&m->latency[SRV_KIND_WRITE], &m->latency[SRV_KIND_READ_LIN],
                                    &m->latency[SRV_KIND_READ_SESSION]};
    render_hist(out, "consist_request_duration_seconds",
                "From a command's arrival to its answer, by kind.", lat_labels, lat, 3);
    const char *none[] = {""};
    const struct srv_hist *sync[] = {&m->fsync};
    render_hist(out, "consist_log_fsync_duration_seconds", "One fdatasync of the Raft log.", none,
                sync, 1);
    const struct srv_hist *snap[] = {&m->snapshot};
    render_hist(out, "consist_snapshot_duration_seconds", "A background snapshot, fork to commit.",
                none, snap, 1);
}
