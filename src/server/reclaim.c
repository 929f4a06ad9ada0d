/*
 * reclaim.c: freeing off the event loop.
 *
 * The one idea: after a snapshot the Raft core and the WAL cache drop every
 * compacted entry at once (100,000 of them by default), and the replaced
 * snapshot file's blocks must be freed too; done on the loop that is a stall
 * every client waits behind (measured 15-35 ms for 20,000 entries and a 29 MB
 * file). Both hand what they drop to srv_reclaim_release, which only
 * remembers the pointer; srv_reclaim_flush gives the batch to a libuv worker
 * thread that frees it (malloc is thread-safe) and unlinks the old file.
 * Bounded: past SRV_RECLAIM_PTRS_MAX pointers waiting, a pointer is freed
 * at once, as before.
 */
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "server.h"

struct reclaim_job {
    uv_work_t work;
    struct srv_reclaim *owner;
    void **ptrs;
    size_t len;
    struct cs_store_log *reap_log; /* NULL: no file to delete */
    uint64_t reap_group;
};

void srv_reclaim_init(struct srv_reclaim *rc, uv_loop_t *loop)
{
    memset(rc, 0, sizeof *rc);
    rc->loop = loop;
}

void srv_reclaim_release(void *ctx, void *p)
{
    struct srv_reclaim *rc = ctx;
    if (p == NULL) return;
    if (rc->len == rc->cap) {
        size_t cap = rc->cap ? rc->cap * 2 : 1024;
        void **grown = cap <= SRV_RECLAIM_PTRS_MAX ? realloc(rc->ptrs, cap * sizeof *grown) : NULL;
        if (grown == NULL) {
            free(p); /* at the bound: freed here, as if there were no worker */
            return;
        }
        rc->ptrs = grown;
        rc->cap = cap;
    }
    rc->ptrs[rc->len++] = p;
}

static void reclaim_work(uv_work_t *w)
{
    struct reclaim_job *job = w->data;
    for (size_t k = 0; k < job->len; k++)
        free(job->ptrs[k]);
    if (job->reap_log) cs_store_log_snapshot_reap(job->reap_log, job->reap_group);
}

static void reclaim_done(uv_work_t *w, int status)
{
    struct reclaim_job *job = w->data;
    if (status != 0) reclaim_work(w); /* cancelled: do it here */
    CS_ASSERT(job->owner->jobs > 0);
    job->owner->jobs--;
    free(job->ptrs);
    free(job);
}

void srv_reclaim_flush(struct srv_reclaim *rc, struct cs_store_log *reap_log, uint64_t reap_group)
{
    if (rc->len == 0 && reap_log == NULL) return;
    struct reclaim_job *job = calloc(1, sizeof *job);
    if (job != NULL) {
        *job = (struct reclaim_job){.owner = rc,
                                    .ptrs = rc->ptrs,
                                    .len = rc->len,
                                    .reap_log = reap_log,
                                    .reap_group = reap_group};
        job->work.data = job;
        if (uv_queue_work(rc->loop, &job->work, reclaim_work, reclaim_done) == 0) {
            rc->jobs++;
            rc->ptrs = NULL;
            rc->len = rc->cap = 0;
            return;
        }
        free(job);
    }
    /* No worker to be had: free here. */
    srv_reclaim_drain(rc);
    if (reap_log) cs_store_log_snapshot_reap(reap_log, reap_group);
}

void srv_reclaim_drain(struct srv_reclaim *rc)
{
    for (size_t k = 0; k < rc->len; k++)
        free(rc->ptrs[k]);
    free(rc->ptrs);
    rc->ptrs = NULL;
    rc->len = rc->cap = 0;
}
