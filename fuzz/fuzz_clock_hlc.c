/*
 * fuzz_clock_hlc.c: the HLC timestamp decoder, then the clock itself driven
 * by arbitrary bytes.
 *
 * The input starts with one timestamp encoding, which must decode (or fail
 * with a decode error) and re-encode to the same bytes. The rest is a
 * program: each 11-byte step is an op byte, a 2-byte physical-time advance
 * and a packed remote timestamp; ops are now or update. Whatever the bytes,
 * every timestamp the clock issues must exceed the previous one and every
 * received one, stay within drift_ms_max of physical time, and order the
 * same packed as paired; refused calls must leave the clock unchanged.
 */
#include <stdint.h>
#include <string.h>

#include "base/assert.h"
#include "consist/clock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { STEP_BYTES = 11, DRIFT_MS_MAX = 1000 };

static void run_program(struct cs_reader *r, struct cs_hlc_ts start)
{
    struct cs_hlc h;
    cs_hlc_init(&h, DRIFT_MS_MAX);
    uint64_t physical_ms = start.physical_ms;
    while (cs_reader_remaining(r) >= STEP_BYTES) {
        uint8_t op;
        uint16_t advance;
        uint64_t packed;
        cs_get_u8(r, &op);
        cs_get_u16le(r, &advance);
        CS_ASSERT(cs_get_u64le(r, &packed) == 0);
        physical_ms += op & 0x80 ? advance : 0;
        if (op & 0x40) physical_ms -= physical_ms >= advance ? advance : physical_ms;
        struct cs_hlc_ts before = h.last, remote = cs_hlc_unpack(packed), out;
        int rc = (op & 1) ? cs_hlc_update(&h, remote, physical_ms, &out)
                          : cs_hlc_now(&h, physical_ms, &out);
        if (rc != 0) {
            CS_ASSERT(rc == CS_ECLOCKDRIFT || rc == CS_EOVERFLOW || rc == CS_ERANGE);
            CS_ASSERT(cs_hlc_compare(h.last, before) == 0);
            continue;
        }
        CS_ASSERT(cs_hlc_compare(out, before) > 0);
        CS_ASSERT((cs_hlc_pack(out) > cs_hlc_pack(before)));
        if (op & 1) CS_ASSERT(cs_hlc_compare(out, remote) > 0);
        CS_ASSERT(out.physical_ms >= physical_ms);
        /* Ahead of physical time only by what some accepted remote carried. */
        if (out.physical_ms > physical_ms && (op & 1) && out.physical_ms == remote.physical_ms) {
            CS_ASSERT(out.physical_ms - physical_ms <= DRIFT_MS_MAX);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cs_reader r;
    struct cs_hlc_ts ts = {0, 0};
    cs_reader_init(&r, data, size);
    int rc = cs_hlc_ts_read(&ts, &r);
    if (rc != 0) {
        CS_ASSERT(rc == CS_EDECODE || rc == CS_EVERSION);
        CS_ASSERT(cs_hlc_ts_decode(&ts, data, size) == rc);
        return 0;
    }
    uint8_t again[CS_HLC_TS_ENCODED_BYTES];
    struct cs_buf out;
    cs_buf_init_fixed(&out, again, sizeof again);
    CS_ASSERT(cs_hlc_ts_encode(ts, &out) == 0);
    CS_ASSERT(out.len == r.pos && memcmp(again, data, out.len) == 0);
    CS_ASSERT((cs_hlc_ts_decode(&ts, data, size) == 0) == (size == CS_HLC_TS_ENCODED_BYTES));
    run_program(&r, ts);
    return 0;
}
