/*
 * hlc.c: the hybrid logical clock (Kulkarni, Demirbas et al., "Logical
 * Physical Clocks", OPODIS 2014, figure 5).
 *
 * The idea: keep Lamport's rule, but let the counter be the pair (largest
 * physical time heard of, events since then). The pair then never goes
 * backwards, respects causality, and stays as close to physical time as the
 * clocks it has heard from: within drift_ms_max, which update() enforces by
 * refusing timestamps from further in the future. The caller supplies
 * physical time, so tests and the simulator can skew it at will.
 */
#include "base/assert.h"
#include "consist/clock.h"

_Static_assert(CS_HLC_PHYSICAL_MS_MAX == (UINT64_MAX >> 16), "48 + 16 bits fill a uint64_t");

void cs_hlc_init(struct cs_hlc *hlc, uint64_t drift_ms_max)
{
    CS_ASSERT(hlc != NULL);
    hlc->last.physical_ms = 0;
    hlc->last.logical = 0;
    hlc->drift_ms_max = drift_ms_max;
}

int cs_hlc_compare(struct cs_hlc_ts a, struct cs_hlc_ts b)
{
    if (a.physical_ms != b.physical_ms) return a.physical_ms < b.physical_ms ? -1 : 1;
    if (a.logical != b.logical) return a.logical < b.logical ? -1 : 1;
    return 0;
}

uint64_t cs_hlc_pack(struct cs_hlc_ts ts)
{
    CS_ASSERT(ts.physical_ms <= CS_HLC_PHYSICAL_MS_MAX);
    return (ts.physical_ms << 16) | ts.logical;
}

struct cs_hlc_ts cs_hlc_unpack(uint64_t packed)
{
    struct cs_hlc_ts ts = {.physical_ms = packed >> 16, .logical = (uint16_t)(packed & 0xffff)};
    return ts;
}

/*
 * hlc_commit: the new timestamp has physical part physical_ms and a logical
 * part one past logical_seen (the largest logical among the inputs that share
 * that physical part), or 0 when no input shares it (has_seen false).
 */
static int hlc_commit(struct cs_hlc *hlc, uint64_t physical_ms, bool has_seen,
                      uint16_t logical_seen, struct cs_hlc_ts *out)
{
    if (has_seen && logical_seen == CS_HLC_LOGICAL_MAX) return CS_EOVERFLOW;
    struct cs_hlc_ts next = {.physical_ms = physical_ms,
                             .logical = has_seen ? (uint16_t)(logical_seen + 1) : 0};
    CS_ASSERT(cs_hlc_compare(next, hlc->last) > 0);
    hlc->last = next;
    *out = next;
    return 0;
}

int cs_hlc_now(struct cs_hlc *hlc, uint64_t physical_ms, struct cs_hlc_ts *out)
{
    CS_ASSERT(hlc != NULL);
    CS_ASSERT(out != NULL);
    if (physical_ms > CS_HLC_PHYSICAL_MS_MAX) return CS_ERANGE;
    if (physical_ms > hlc->last.physical_ms) return hlc_commit(hlc, physical_ms, false, 0, out);
    return hlc_commit(hlc, hlc->last.physical_ms, true, hlc->last.logical, out);
}

int cs_hlc_update(struct cs_hlc *hlc, struct cs_hlc_ts remote, uint64_t physical_ms,
                  struct cs_hlc_ts *out)
{
    CS_ASSERT(hlc != NULL);
    CS_ASSERT(out != NULL);
    if (physical_ms > CS_HLC_PHYSICAL_MS_MAX) return CS_ERANGE;
    if (remote.physical_ms > CS_HLC_PHYSICAL_MS_MAX) return CS_ERANGE;
    /* Written without the sum physical_ms + drift_ms_max, which may overflow. */
    if (remote.physical_ms > physical_ms && remote.physical_ms - physical_ms > hlc->drift_ms_max) {
        return CS_ECLOCKDRIFT;
    }
    struct cs_hlc_ts last = hlc->last;
    uint64_t top = physical_ms;
    if (last.physical_ms > top) top = last.physical_ms;
    if (remote.physical_ms > top) top = remote.physical_ms;

    bool from_last = last.physical_ms == top;
    bool from_remote = remote.physical_ms == top;
    if (!from_last && !from_remote) return hlc_commit(hlc, top, false, 0, out);
    uint16_t seen = 0;
    if (from_last) seen = last.logical;
    if (from_remote && remote.logical > seen) seen = remote.logical;
    int rc = hlc_commit(hlc, top, true, seen, out);
    if (rc == 0) CS_ASSERT(cs_hlc_compare(*out, remote) > 0);
    return rc;
}

int cs_hlc_ts_encode(struct cs_hlc_ts ts, struct cs_buf *out)
{
    CS_ASSERT(out != NULL);
    cs_put_u8(out, CS_HLC_ENCODING_VERSION);
    return cs_put_u64le(out, cs_hlc_pack(ts));
}

int cs_hlc_ts_read(struct cs_hlc_ts *out, struct cs_reader *r)
{
    CS_ASSERT(out != NULL);
    CS_ASSERT(r != NULL);
    uint8_t version;
    uint64_t packed;
    int rc = cs_get_u8(r, &version);
    if (rc) return rc;
    if (version != CS_HLC_ENCODING_VERSION) {
        if (r->err == 0) r->err = CS_EVERSION;
        return CS_EVERSION;
    }
    rc = cs_get_u64le(r, &packed);
    if (rc) return rc;
    *out = cs_hlc_unpack(packed);
    return 0;
}

int cs_hlc_ts_decode(struct cs_hlc_ts *out, const void *data, size_t len)
{
    struct cs_reader r;
    struct cs_hlc_ts ts;
    cs_reader_init(&r, data, len);
    int rc = cs_hlc_ts_read(&ts, &r);
    if (rc) return rc;
    rc = cs_reader_end(&r);
    if (rc) return rc;
    *out = ts;
    return 0;
}
