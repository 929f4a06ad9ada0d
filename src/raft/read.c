/*
 * read.c: linearizable reads without appending to the log (thesis §6.4).
 *
 * The one idea: a read taken at the leader's commit index is linearizable
 * once the leader proves it was still the leader after the read arrived. It
 * proves that with a heartbeat round: every round has a sequence number, each
 * reply echoes it, and a read waiting on round s is released when a quorum
 * has confirmed some round >= s. Until an entry of its own term commits the
 * leader does not know the true commit index, so reads wait for that first.
 *
 * Lease reads (§6.4.1, lease_reads) skip the round while a quorum confirmed
 * leadership less than an election timeout (minus the allowed clock drift)
 * ago; they are correct only if clocks drift less than clock_drift_ms_max.
 */
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

bool read_committed_in_term(const struct cs_raft *r)
{
    uint64_t term = 0;
    return log_term(&r->log, r->commit, &term) && term == r->term;
}

static void read_release(struct cs_raft *r, const struct raft_pending_read *p)
{
    CS_ASSERT(r->ready_reads_len < CS_RAFT_READS_MAX);
    CS_ASSERT(p->index <= r->commit);
    struct cs_raft_read *out = &r->ready_reads[r->ready_reads_len++];
    *out = p->read;
    out->index = p->index;
}

/* The highest round a quorum of voters (the leader included) has confirmed. */
static uint64_t read_quorum_seq(const struct cs_raft *r)
{
    uint64_t seqs[CS_RAFT_MEMBERS_MAX];
    uint32_t voters = 0;
    for (uint32_t k = 0; k < r->conf.members_len; k++) {
        const struct raft_progress *pr = &r->progress[k];
        if (!pr->voter) continue;
        seqs[voters++] = pr->id == r->config.id ? r->seq : pr->acked_seq;
    }
    if (voters == 0) return 0;
    /* Insertion sort, descending: at most CS_RAFT_MEMBERS_MAX items. */
    for (uint32_t i = 1; i < voters; i++) {
        for (uint32_t j = i; j > 0 && seqs[j] > seqs[j - 1]; j--) {
            uint64_t t = seqs[j];
            seqs[j] = seqs[j - 1];
            seqs[j - 1] = t;
        }
    }
    return seqs[node_quorum(r) - 1];
}

static void read_release_confirmed(struct cs_raft *r)
{
    uint64_t confirmed = read_quorum_seq(r);
    if (r->config.lease_reads) {
        uint32_t slot = confirmed % RAFT_ROUNDS_MAX;
        if (confirmed > 0 && r->round_seq[slot] == confirmed) {
            uint64_t until =
                r->round_ms[slot] + r->config.election_timeout_ms - r->config.clock_drift_ms_max;
            if (until > r->lease_until_ms) r->lease_until_ms = until;
        }
    }
    uint32_t kept = 0;
    for (uint32_t k = 0; k < r->pending_len; k++) {
        struct raft_pending_read *p = &r->pending[k];
        if (p->seq != 0 && p->seq <= confirmed) {
            read_release(r, p);
        } else {
            r->pending[kept++] = *p;
        }
    }
    r->pending_len = kept;
}

void read_start_round(struct cs_raft *r)
{
    CS_ASSERT(r->role == CS_RAFT_LEADER);
    r->seq++;
    r->round_seq[r->seq % RAFT_ROUNDS_MAX] = r->seq;
    r->round_ms[r->seq % RAFT_ROUNDS_MAX] = r->now_ms;
}

void read_on_ack(struct cs_raft *r, struct raft_progress *pr, uint64_t seq)
{
    if (r->role != CS_RAFT_LEADER) return;
    if (seq > r->seq) return; /* not a round of ours (an older term's leader had higher) */
    if (seq > pr->acked_seq) pr->acked_seq = seq;
    if (r->pending_len > 0 || r->config.lease_reads) read_release_confirmed(r);
}

/* The first entry of the term is committed: reads that waited get a round. */
void read_on_term_commit(struct cs_raft *r)
{
    if (!read_committed_in_term(r)) return;
    bool started = false;
    for (uint32_t k = 0; k < r->pending_len; k++) {
        struct raft_pending_read *p = &r->pending[k];
        if (p->seq != 0) continue;
        if (!started) {
            read_start_round(r);
            started = true;
        }
        p->seq = r->seq;
        p->index = r->commit;
    }
    if (started) {
        read_release_confirmed(r); /* a single voter confirms alone */
        replication_broadcast_heartbeat(r);
    }
}

void read_drop_all(struct cs_raft *r)
{
    r->pending_len = 0; /* a deposed leader must not serve them (§6.4) */
    r->lease_until_ms = 0;
}

int cs_raft_read_index(struct cs_raft *r, const void *ctx, size_t ctx_len)
{
    CS_ASSERT(!r->in_ready);
    if (ctx_len > CS_RAFT_READ_CTX_BYTES_MAX) return CS_ETOOBIG;
    if (r->role != CS_RAFT_LEADER) return CS_ENOTLEADER;
    if (r->pending_len + r->ready_reads_len >= CS_RAFT_READS_MAX) return CS_EBUSY;
    struct raft_pending_read p;
    memset(&p, 0, sizeof p);
    p.read.ctx_len = (uint32_t)ctx_len;
    if (ctx_len) memcpy(p.read.ctx, ctx, ctx_len);
    bool term_committed = read_committed_in_term(r);
    if (term_committed && r->config.lease_reads && r->now_ms < r->lease_until_ms) {
        p.index = r->commit;
        read_release(r, &p);
        return 0;
    }
    if (term_committed) {
        read_start_round(r);
        p.seq = r->seq;
        p.index = r->commit;
    }
    r->pending[r->pending_len++] = p;
    if (term_committed) {
        read_release_confirmed(r);
        replication_broadcast_heartbeat(r);
    }
    return 0;
}
