/*
 * clock_hlc.c: the hybrid logical clock's rules (Kulkarni et al. 2014,
 * figure 5), its drift bound, its 16-bit logical limit and its encoding.
 * Method: each branch of the update rule gets a hand-computed case; each
 * limit is tested at the limit and one past it, checking that a refused call
 * leaves the clock unchanged.
 */
#include "consist/clock.h"
#include "testlib.h"

static struct cs_hlc_ts ts(uint64_t physical_ms, uint16_t logical)
{
    struct cs_hlc_ts t = {.physical_ms = physical_ms, .logical = logical};
    return t;
}

#define CHECK_TS(got, p, l)                                                                        \
    do {                                                                                           \
        CS_CHECK_EQ_U64((got).physical_ms, (p));                                                   \
        CS_CHECK_EQ((got).logical, (l));                                                           \
    } while (0)

/* now: physical time that advances resets logical; a stalled or backward clock counts up. */
CS_TEST(now_follows_physical_time)
{
    struct cs_hlc h;
    struct cs_hlc_ts t;
    cs_hlc_init(&h, 1000);
    CHECK_TS(h.last, 0, 0);
    CS_CHECK_OK(cs_hlc_now(&h, 100, &t));
    CHECK_TS(t, 100, 0);
    CS_CHECK_OK(cs_hlc_now(&h, 100, &t));
    CHECK_TS(t, 100, 1);
    CS_CHECK_OK(cs_hlc_now(&h, 90, &t)); /* physical clock stepped back */
    CHECK_TS(t, 100, 2);
    CS_CHECK_OK(cs_hlc_now(&h, 101, &t));
    CHECK_TS(t, 101, 0);
    CHECK_TS(h.last, 101, 0);
}

/* update: the four branches of the receive rule. */
CS_TEST(update_branches)
{
    struct cs_hlc h;
    struct cs_hlc_ts t;

    /* Physical time is ahead of both: logical resets. */
    cs_hlc_init(&h, 1000);
    h.last = ts(100, 5);
    CS_CHECK_OK(cs_hlc_update(&h, ts(90, 7), 200, &t));
    CHECK_TS(t, 200, 0);

    /* Remote is ahead: take its physical part, its logical + 1. */
    h.last = ts(100, 5);
    CS_CHECK_OK(cs_hlc_update(&h, ts(150, 7), 120, &t));
    CHECK_TS(t, 150, 8);

    /* Local is ahead: keep it, logical + 1. */
    h.last = ts(300, 5);
    CS_CHECK_OK(cs_hlc_update(&h, ts(150, 9), 120, &t));
    CHECK_TS(t, 300, 6);

    /* Local and remote tie on physical: max of the logicals + 1. */
    h.last = ts(300, 5);
    CS_CHECK_OK(cs_hlc_update(&h, ts(300, 9), 120, &t));
    CHECK_TS(t, 300, 10);
    h.last = ts(300, 12);
    CS_CHECK_OK(cs_hlc_update(&h, ts(300, 9), 300, &t));
    CHECK_TS(t, 300, 13);
    CS_CHECK(cs_hlc_compare(t, ts(300, 9)) > 0);
}

/* A remote exactly drift_ms_max ahead is accepted; one more ms is refused, state unchanged. */
CS_TEST(drift_limit)
{
    struct cs_hlc h;
    struct cs_hlc_ts t = ts(1, 1);
    cs_hlc_init(&h, 500);
    h.last = ts(1000, 3);
    CS_CHECK_RC(cs_hlc_update(&h, ts(1501, 0), 1000, &t), CS_ECLOCKDRIFT);
    CHECK_TS(h.last, 1000, 3);
    CHECK_TS(t, 1, 1);
    CS_CHECK_OK(cs_hlc_update(&h, ts(1500, 0), 1000, &t));
    CHECK_TS(t, 1500, 1);

    /* drift_ms_max 0: only remotes at or behind physical time. */
    cs_hlc_init(&h, 0);
    CS_CHECK_RC(cs_hlc_update(&h, ts(11, 0), 10, &t), CS_ECLOCKDRIFT);
    CS_CHECK_OK(cs_hlc_update(&h, ts(10, 4), 10, &t));
    CHECK_TS(t, 10, 5);

    /* The check must not overflow when drift_ms_max is huge. */
    cs_hlc_init(&h, UINT64_MAX);
    CS_CHECK_OK(cs_hlc_update(&h, ts(CS_HLC_PHYSICAL_MS_MAX, 0), CS_HLC_PHYSICAL_MS_MAX, &t));
    CHECK_TS(t, CS_HLC_PHYSICAL_MS_MAX, 1);
}

/* Logical reaches CS_HLC_LOGICAL_MAX; one more event in the same ms is CS_EOVERFLOW, unchanged. */
CS_TEST(logical_overflow)
{
    struct cs_hlc h;
    struct cs_hlc_ts t;
    cs_hlc_init(&h, 1000);
    h.last = ts(50, CS_HLC_LOGICAL_MAX - 1);
    CS_CHECK_OK(cs_hlc_now(&h, 50, &t));
    CHECK_TS(t, 50, CS_HLC_LOGICAL_MAX);
    CS_CHECK_RC(cs_hlc_now(&h, 50, &t), CS_EOVERFLOW);
    CS_CHECK_RC(cs_hlc_update(&h, ts(50, 3), 50, &t), CS_EOVERFLOW);
    CS_CHECK_RC(cs_hlc_update(&h, ts(40, 3), 49, &t), CS_EOVERFLOW);
    CHECK_TS(h.last, 50, CS_HLC_LOGICAL_MAX);
    /* Once physical time moves, the clock resumes. */
    CS_CHECK_OK(cs_hlc_now(&h, 51, &t));
    CHECK_TS(t, 51, 0);

    /* A remote at the logical limit overflows too, leaving the clock as it was. */
    h.last = ts(10, 0);
    CS_CHECK_RC(cs_hlc_update(&h, ts(60, CS_HLC_LOGICAL_MAX), 55, &t), CS_EOVERFLOW);
    CHECK_TS(h.last, 10, 0);
}

/* Physical times up to CS_HLC_PHYSICAL_MS_MAX work; one past is CS_ERANGE. */
CS_TEST(physical_range)
{
    struct cs_hlc h;
    struct cs_hlc_ts t;
    cs_hlc_init(&h, 10);
    CS_CHECK_RC(cs_hlc_now(&h, CS_HLC_PHYSICAL_MS_MAX + 1, &t), CS_ERANGE);
    CS_CHECK_RC(cs_hlc_update(&h, ts(5, 0), CS_HLC_PHYSICAL_MS_MAX + 1, &t), CS_ERANGE);
    CS_CHECK_RC(cs_hlc_update(&h, ts(CS_HLC_PHYSICAL_MS_MAX + 1, 0), CS_HLC_PHYSICAL_MS_MAX, &t),
                CS_ERANGE);
    CHECK_TS(h.last, 0, 0);
    CS_CHECK_OK(cs_hlc_now(&h, CS_HLC_PHYSICAL_MS_MAX, &t));
    CHECK_TS(t, CS_HLC_PHYSICAL_MS_MAX, 0);
}

/* The packed form puts physical in the high 48 bits and orders like the pair. */
CS_TEST(pack_layout_and_order)
{
    CS_CHECK_EQ_U64(cs_hlc_pack(ts(1, 2)), 0x10002);
    CS_CHECK_EQ_U64(cs_hlc_pack(ts(CS_HLC_PHYSICAL_MS_MAX, CS_HLC_LOGICAL_MAX)), UINT64_MAX);
    CS_CHECK_EQ_U64(cs_hlc_pack(ts(0, 0)), 0);
    struct cs_hlc_ts u = cs_hlc_unpack(0x123456789abcdef0);
    CHECK_TS(u, 0x123456789abc, 0xdef0);
    /* Logical max of one ms sorts below logical 0 of the next. */
    CS_CHECK(cs_hlc_pack(ts(7, CS_HLC_LOGICAL_MAX)) < cs_hlc_pack(ts(8, 0)));
    CS_CHECK_EQ(cs_hlc_compare(ts(7, CS_HLC_LOGICAL_MAX), ts(8, 0)), -1);
    CS_CHECK_EQ(cs_hlc_compare(ts(8, 1), ts(8, 0)), 1);
    CS_CHECK_EQ(cs_hlc_compare(ts(8, 1), ts(8, 1)), 0);
}

/* Encoding: version byte, then the packed value little-endian; decoders reject bad input. */
CS_TEST(encoding)
{
    struct cs_buf buf;
    cs_buf_init(&buf, 64);
    CS_CHECK_OK(cs_hlc_ts_encode(ts(0x010203040506, 0x0708), &buf));
    static const uint8_t want[] = {1, 0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01};
    CS_CHECK_EQ(buf.len, CS_HLC_TS_ENCODED_BYTES);
    CS_CHECK_MEM(buf.data, want, sizeof want);

    struct cs_hlc_ts t = ts(9, 9);
    CS_CHECK_OK(cs_hlc_ts_decode(&t, want, sizeof want));
    CHECK_TS(t, 0x010203040506, 0x0708);

    t = ts(9, 9);
    for (size_t n = 0; n < sizeof want; n++) {
        CS_CHECK_RC(cs_hlc_ts_decode(&t, want, n), CS_EDECODE);
    }
    uint8_t bad[10];
    memcpy(bad, want, sizeof want);
    bad[0] = 2;
    CS_CHECK_RC(cs_hlc_ts_decode(&t, bad, sizeof want), CS_EVERSION);
    bad[0] = 0;
    CS_CHECK_RC(cs_hlc_ts_decode(&t, bad, sizeof want), CS_EVERSION);
    bad[0] = 1;
    bad[9] = 0;
    CS_CHECK_RC(cs_hlc_ts_decode(&t, bad, sizeof bad), CS_EDECODE); /* trailing byte */
    CHECK_TS(t, 9, 9);

    /* A fixed buffer too small for the encoding reports CS_ENOSPACE. */
    uint8_t small[4];
    struct cs_buf fixed;
    cs_buf_init_fixed(&fixed, small, sizeof small);
    CS_CHECK_RC(cs_hlc_ts_encode(ts(1, 1), &fixed), CS_ENOSPACE);
    cs_buf_free(&buf);
}

CS_TEST_MAIN(CS_CASE(now_follows_physical_time), CS_CASE(update_branches), CS_CASE(drift_limit),
             CS_CASE(logical_overflow), CS_CASE(physical_range), CS_CASE(pack_layout_and_order),
             CS_CASE(encoding))
