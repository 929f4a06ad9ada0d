/*
 * net_codec.c: seeded round trips through the wire codecs, split at random.
 *
 * Method: per seed, generate random commands (binary, empty and long
 * arguments), encode them as a pipeline of multibulks (as client libraries
 * do) or of quoted inline lines (with an encoder written here, independent
 * of the parser), feed the bytes in random-sized reads, and compare the
 * parsed argv with the originals. The same for peer frames through the
 * stream decoder, and for random replies through the writer and reader.
 * The comparisons are checked to catch a planted corruption. CS_SEEDS sets
 * the number of seeds (default 200), CS_SEED the first.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/frame.h"
#include "consist/resp.h"
#include "testlib.h"

#define COMMANDS_MAX  24
#define ARGS_MAX      12
#define ARG_BYTES_MAX 3000

struct command {
    size_t argc;
    size_t len[ARGS_MAX];
    uint8_t *arg[ARGS_MAX];
};

static void random_bytes(struct cs_rng *rng, uint8_t *p, size_t n, bool printable)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = printable ? (uint8_t)cs_rng_range(rng, 0x21, 0x7e) : (uint8_t)cs_rng_u64(rng);
    }
}

static size_t random_length(struct cs_rng *rng, size_t bytes_max)
{
    /* Mostly short, sometimes empty, sometimes long. */
    if (cs_rng_chance(rng, 1, 10)) return 0;
    if (cs_rng_chance(rng, 1, 10)) return (size_t)cs_rng_below(rng, bytes_max);
    return (size_t)cs_rng_range(rng, 1, 40);
}

/* Inline lines must stay under 64 KiB: 12 arguments of 1000 bytes, 4 bytes each escaped. */
#define INLINE_ARG_BYTES_MAX 1000
_Static_assert(ARGS_MAX *(INLINE_ARG_BYTES_MAX * 4 + 3) + 2 < CS_RESP_INLINE_BYTES_MAX_DEFAULT,
               "inline commands fit the inline limit");

static size_t random_commands(struct cs_rng *rng, struct command *cmds, bool printable,
                              size_t arg_bytes_max)
{
    size_t n = (size_t)cs_rng_range(rng, 1, COMMANDS_MAX);
    for (size_t c = 0; c < n; c++) {
        cmds[c].argc = (size_t)cs_rng_range(rng, 1, ARGS_MAX);
        for (size_t i = 0; i < cmds[c].argc; i++) {
            cmds[c].len[i] = random_length(rng, arg_bytes_max);
            cmds[c].arg[i] = malloc(cmds[c].len[i] + 1);
            CS_CHECK(cmds[c].arg[i] != NULL);
            random_bytes(rng, cmds[c].arg[i], cmds[c].len[i], printable);
        }
    }
    return n;
}

static void free_commands(struct command *cmds, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        for (size_t i = 0; i < cmds[c].argc; i++)
            free(cmds[c].arg[i]);
    }
}

static void encode_multibulk(struct cs_buf *out, const struct command *cmds, size_t n)
{
    struct cs_resp_writer w;
    cs_resp_writer_init(&w, out, 2);
    for (size_t c = 0; c < n; c++) {
        cs_resp_write_array(&w, cmds[c].argc);
        for (size_t i = 0; i < cmds[c].argc; i++) {
            cs_resp_write_bulk(&w, cmds[c].arg[i], cmds[c].len[i]);
        }
    }
    CS_CHECK_OK(cs_buf_error(out));
}

/* Inline: every argument double-quoted, with \xHH for anything unsafe. */
static void encode_inline(struct cs_buf *out, const struct command *cmds, size_t n)
{
    for (size_t c = 0; c < n; c++) {
        for (size_t i = 0; i < cmds[c].argc; i++) {
            cs_put_raw(out, i ? " \"" : "\"", i ? 2 : 1);
            for (size_t k = 0; k < cmds[c].len[i]; k++) {
                uint8_t b = cmds[c].arg[i][k];
                if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') {
                    cs_put_u8(out, b);
                } else {
                    char esc[5];
                    snprintf(esc, sizeof esc, "\\x%02x", b);
                    cs_put_raw(out, esc, 4);
                }
            }
            cs_put_u8(out, '"');
        }
        cs_put_raw(out, "\r\n", 2);
    }
    CS_CHECK_OK(cs_buf_error(out));
}

/*
 * Parse bytes in random reads; true if exactly the commands come out, in
 * order, with no error and nothing left over.
 */
static bool parse_matches(struct cs_rng *rng, const uint8_t *bytes, size_t len,
                          const struct command *cmds, size_t n)
{
    struct cs_resp_parser *p;
    CS_CHECK_OK(cs_resp_parser_new(NULL, &p));
    size_t at = 0, got = 0;
    bool ok = true;
    while (ok) {
        struct cs_resp_command cmd;
        if (cs_resp_parser_next(p, &cmd) != 0) {
            ok = false;
            break;
        }
        if (cmd.argc > 0) {
            if (got == n || cmd.argc != cmds[got].argc) {
                ok = false;
                break;
            }
            for (size_t i = 0; i < cmd.argc; i++) {
                ok = ok && cmd.argv[i].len == cmds[got].len[i] &&
                     memcmp(cmd.argv[i].data, cmds[got].arg[i], cmd.argv[i].len) == 0;
            }
            got++;
            continue;
        }
        if (at == len) break;
        size_t want = 1 + (size_t)cs_rng_below(rng, cs_rng_chance(rng, 1, 4) ? 8 : len - at);
        if (want > len - at) want = len - at;
        uint8_t *space;
        size_t space_len;
        CS_CHECK_OK(cs_resp_parser_reserve(p, want, &space, &space_len));
        memcpy(space, bytes + at, space_len);
        cs_resp_parser_commit(p, space_len);
        at += space_len;
    }
    ok = ok && got == n && cs_resp_parser_buffered(p) == 0;
    cs_resp_parser_free(p);
    return ok;
}

CS_TEST(multibulk_round_trip)
{
    uint64_t seeds = cs_test_seeds(200);
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        struct command cmds[COMMANDS_MAX];
        size_t n = random_commands(rng, cmds, false, ARG_BYTES_MAX);
        struct cs_buf b;
        cs_buf_init(&b, SIZE_MAX);
        encode_multibulk(&b, cmds, n);
        CS_CHECK(parse_matches(rng, b.data, b.len, cmds, n));
        cs_buf_free(&b);
        free_commands(cmds, n);
    }
}

CS_TEST(inline_round_trip)
{
    uint64_t seeds = cs_test_seeds(200);
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        struct command cmds[COMMANDS_MAX];
        size_t n = random_commands(rng, cmds, cs_rng_chance(rng, 1, 2), INLINE_ARG_BYTES_MAX);
        struct cs_buf b;
        cs_buf_init(&b, SIZE_MAX);
        encode_inline(&b, cmds, n);
        /* Inline lines have a 64 KiB limit; the generator stays far below it. */
        CS_CHECK(parse_matches(rng, b.data, b.len, cmds, n));
        cs_buf_free(&b);
        free_commands(cmds, n);
    }
}

/* The comparison notices one flipped byte inside one argument (planted corruption). */
CS_TEST(round_trip_check_catches_corruption)
{
    cs_test_seed_set(cs_test_seed());
    struct cs_rng *rng = cs_test_rng();
    struct command cmds[COMMANDS_MAX];
    size_t n = random_commands(rng, cmds, false, ARG_BYTES_MAX);
    struct command *last = &cmds[n - 1];
    if (last->len[last->argc - 1] == 0) { /* malloc gave room for 1 byte */
        last->len[last->argc - 1] = 1;
        last->arg[last->argc - 1][0] = (uint8_t)'x';
    }
    struct cs_buf b;
    cs_buf_init(&b, SIZE_MAX);
    encode_multibulk(&b, cmds, n);
    CS_CHECK(parse_matches(rng, b.data, b.len, cmds, n));
    b.data[b.len - 3] ^= 0x20; /* last byte of the last argument */
    CS_CHECK(!parse_matches(rng, b.data, b.len, cmds, n));
    cs_buf_free(&b);
    free_commands(cmds, n);
}

struct frame_spec {
    uint8_t type;
    uint64_t group;
    size_t len;
    uint8_t payload[512];
};

static bool frames_match(struct cs_rng *rng, const uint8_t *bytes, size_t len,
                         const struct frame_spec *f, size_t n)
{
    struct cs_frame_decoder *d;
    CS_CHECK_OK(cs_frame_decoder_new(512, &d));
    size_t at = 0, got = 0;
    bool ok = true;
    while (ok) {
        struct cs_frame fr;
        if (cs_frame_decoder_next(d, &fr) != 0) {
            ok = false;
            break;
        }
        if (fr.type) {
            ok = got < n && fr.type == f[got].type && fr.group_id == f[got].group &&
                 fr.payload_len == f[got].len &&
                 memcmp(fr.payload, f[got].payload, fr.payload_len) == 0;
            got++;
            continue;
        }
        if (at == len) break;
        size_t want = 1 + (size_t)cs_rng_below(rng, cs_rng_chance(rng, 1, 3) ? 30 : len - at);
        if (want > len - at) want = len - at;
        uint8_t *space;
        size_t space_len;
        CS_CHECK_OK(cs_frame_decoder_reserve(d, want, &space, &space_len));
        memcpy(space, bytes + at, space_len);
        cs_frame_decoder_commit(d, space_len);
        at += space_len;
    }
    cs_frame_decoder_free(d);
    return ok && got == n;
}

CS_TEST(frame_round_trip)
{
    uint64_t seeds = cs_test_seeds(200);
    static struct frame_spec frames[32];
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        size_t n = (size_t)cs_rng_range(rng, 1, 32);
        struct cs_buf b;
        cs_buf_init(&b, SIZE_MAX);
        for (size_t i = 0; i < n; i++) {
            frames[i].type = (uint8_t)cs_rng_range(rng, 1, 255);
            frames[i].group = cs_rng_chance(rng, 1, 2) ? cs_rng_u64(rng) : cs_rng_below(rng, 4);
            frames[i].len = cs_rng_chance(rng, 1, 5) ? 0 : (size_t)cs_rng_below(rng, 513);
            random_bytes(rng, frames[i].payload, frames[i].len, false);
            CS_CHECK_OK(cs_frame_encode(&b, frames[i].type, frames[i].group, frames[i].payload,
                                        frames[i].len, 512));
        }
        CS_CHECK(frames_match(rng, b.data, b.len, frames, n));
        /* Planted: one flipped bit anywhere must stop the stream before a wrong frame. */
        size_t bit = (size_t)cs_rng_below(rng, b.len * 8);
        b.data[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        CS_CHECK(!frames_match(rng, b.data, b.len, frames, n));
        cs_buf_free(&b);
    }
}

/*
 * Random reply trees written in RESP2 or RESP3 and read back as tokens: the
 * reader sees the tokens the writer meant (a recursive description of what
 * was written is compared with the token stream).
 */
static void write_random_reply(struct cs_rng *rng, struct cs_resp_writer *w, int depth,
                               struct cs_buf *expect)
{
    char line[64];
    int kind = (int)cs_rng_below(rng, depth < 3 ? 6 : 3);
    switch (kind) {
    case 0: {
        int64_t v = (int64_t)cs_rng_u64(rng);
        cs_resp_write_int(w, v);
        snprintf(line, sizeof line, "i%lld;", (long long)v);
        break;
    }
    case 1: {
        uint8_t bytes[64];
        size_t n = (size_t)cs_rng_below(rng, sizeof bytes);
        random_bytes(rng, bytes, n, false);
        cs_resp_write_bulk(w, bytes, n);
        snprintf(line, sizeof line, "b%zu;", n);
        break;
    }
    case 2:
        cs_resp_write_null(w);
        snprintf(line, sizeof line, "n;");
        break;
    default: {
        size_t count = (size_t)cs_rng_below(rng, 4);
        if (kind == 3) cs_resp_write_array(w, count);
        if (kind == 4) cs_resp_write_set(w, count);
        if (kind == 5) cs_resp_write_map(w, count);
        size_t items = kind == 5 ? 2 * count : count;
        snprintf(line, sizeof line, "a%zu;", items);
        cs_put_raw(expect, line, strlen(line));
        for (size_t i = 0; i < items; i++)
            write_random_reply(rng, w, depth + 1, expect);
        return;
    }
    }
    cs_put_raw(expect, line, strlen(line));
}

CS_TEST(reply_round_trip)
{
    uint64_t seeds = cs_test_seeds(200);
    for (uint64_t s = 0; s < seeds; s++) {
        cs_test_seed_set(cs_test_seed() + s);
        struct cs_rng *rng = cs_test_rng();
        struct cs_buf out, expect, seen;
        cs_buf_init(&out, SIZE_MAX);
        cs_buf_init(&expect, SIZE_MAX);
        cs_buf_init(&seen, SIZE_MAX);
        struct cs_resp_writer w;
        cs_resp_writer_init(&w, &out, cs_rng_chance(rng, 1, 2) ? 2 : 3);
        write_random_reply(rng, &w, 0, &expect);
        size_t pos = 0;
        for (;;) {
            struct cs_resp_token t;
            CS_CHECK_OK(cs_resp_read_token(out.data, out.len, &pos, 1 << 20, &t));
            if (t.type == CS_RESP_NONE) break;
            char line[64];
            switch (t.type) {
            case CS_RESP_INT:
                snprintf(line, sizeof line, "i%lld;", (long long)t.integer);
                break;
            case CS_RESP_BULK:
                snprintf(line, sizeof line, "b%zu;", t.text_len);
                break;
            case CS_RESP_NULL:
                snprintf(line, sizeof line, "n;");
                break;
            case CS_RESP_ARRAY:
            case CS_RESP_SET:
                snprintf(line, sizeof line, "a%lld;", (long long)t.integer);
                break;
            case CS_RESP_MAP:
                snprintf(line, sizeof line, "a%lld;", 2 * (long long)t.integer);
                break;
            case CS_RESP_NONE:
            case CS_RESP_SIMPLE:
            case CS_RESP_ERROR:
            case CS_RESP_DOUBLE:
            case CS_RESP_BOOL:
            case CS_RESP_VERBATIM:
            default:
                snprintf(line, sizeof line, "?;");
                break;
            }
            cs_put_raw(&seen, line, strlen(line));
        }
        CS_CHECK_EQ(pos, out.len);
        CS_CHECK_EQ(seen.len, expect.len);
        CS_CHECK_MEM(seen.data, expect.data, seen.len);
        cs_buf_free(&out);
        cs_buf_free(&expect);
        cs_buf_free(&seen);
    }
}

CS_TEST_MAIN(CS_CASE(multibulk_round_trip), CS_CASE(inline_round_trip),
             CS_CASE(round_trip_check_catches_corruption), CS_CASE(frame_round_trip),
             CS_CASE(reply_round_trip))
