/*
 * fuzz_net_resp.c: the RESP request parser on arbitrary bytes.
 *
 * The first input byte picks the limits (defaults, or small ones so the
 * limit paths are reached) and the seed of a random split; the rest is the
 * client's byte stream. The stream is parsed three ways: in reads as large
 * as the parser allows, one byte at a time, and in random reads. All three
 * must take the same commands and end with the same error and message
 * (parsing does not depend on how TCP cut the stream). Every command must
 * respect the limits, and re-encoded as a multibulk must parse back to the
 * same argv. Memory must stay within the limits.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "consist/resp.h"
#include "consist/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct outcome {
    uint64_t hash; /* FNV-1a over every command's argc, lengths and bytes */
    size_t commands;
    int rc;
    char errmsg[CS_RESP_ERRMSG_BYTES_MAX];
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

/* Re-encode cmd as a multibulk and parse it with default limits: same argv. */
static void check_reencode(const struct cs_resp_command *cmd)
{
    struct cs_buf enc;
    cs_buf_init(&enc, SIZE_MAX);
    struct cs_resp_writer w;
    cs_resp_writer_init(&w, &enc, 2);
    cs_resp_write_array(&w, cmd->argc);
    for (size_t i = 0; i < cmd->argc; i++)
        cs_resp_write_bulk(&w, cmd->argv[i].data, cmd->argv[i].len);
    CS_ASSERT(cs_buf_error(&enc) == 0);
    struct cs_resp_parser *p;
    CS_ASSERT(cs_resp_parser_new(NULL, &p) == 0);
    CS_ASSERT(cs_resp_parser_feed(p, enc.data, enc.len) == 0);
    struct cs_resp_command back;
    CS_ASSERT(cs_resp_parser_next(p, &back) == 0);
    CS_ASSERT(back.argc == cmd->argc);
    CS_ASSERT(back.wire_bytes == enc.len);
    for (size_t i = 0; i < cmd->argc; i++) {
        CS_ASSERT(back.argv[i].len == cmd->argv[i].len);
        CS_ASSERT(memcmp(back.argv[i].data, cmd->argv[i].data, back.argv[i].len) == 0);
    }
    cs_resp_parser_free(p);
    cs_buf_free(&enc);
}

/* mode 0: reads as large as allowed; 1: one byte; 2: random sizes from rng. */
static struct outcome run(const struct cs_resp_limits *l, const uint8_t *in, size_t len, int mode,
                          struct cs_rng *rng)
{
    struct outcome o = {.hash = 0xcbf29ce484222325ull};
    struct cs_resp_parser *p;
    CS_ASSERT(cs_resp_parser_new(l, &p) == 0);
    size_t at = 0;
    for (;;) {
        struct cs_resp_command cmd;
        o.rc = cs_resp_parser_next(p, &cmd);
        if (o.rc) break;
        if (cmd.argc > 0) {
            CS_ASSERT(cmd.argc <= l->args_max);
            o.hash = fnv(o.hash, &cmd.argc, sizeof cmd.argc);
            for (size_t i = 0; i < cmd.argc; i++) {
                CS_ASSERT(cmd.argv[i].len <= l->bulk_bytes_max);
                if (cmd.inline_form) CS_ASSERT(cmd.argv[i].len < l->inline_bytes_max);
                o.hash = fnv(o.hash, &cmd.argv[i].len, sizeof cmd.argv[i].len);
                o.hash = fnv(o.hash, cmd.argv[i].data, cmd.argv[i].len);
            }
            if (mode == 0) check_reencode(&cmd);
            o.commands++;
            continue;
        }
        if (at == len) break;
        size_t want = mode == 0 ? len - at : mode == 1 ? 1 : 1 + cs_rng_below(rng, len - at);
        uint8_t *space;
        size_t space_len;
        o.rc = cs_resp_parser_reserve(p, want, &space, &space_len);
        if (o.rc) break;
        CS_ASSERT(space_len >= 1 && space_len <= want);
        memcpy(space, in + at, space_len);
        cs_resp_parser_commit(p, space_len);
        at += space_len;
        CS_ASSERT(cs_resp_parser_buffered(p) <= l->query_buffer_bytes_max);
        /* Memory: the query buffer (grown by doubling past what arrived) and
         * argv: the preallocation, then 24 bytes an argument that arrived
         * (each takes >= 2 input bytes), doubled. Never the declared sizes. */
        size_t argv_prealloc = CS_RESP_ARGS_PREALLOC_MAX * 24;
        CS_ASSERT(cs_resp_parser_memory(p) <=
                  4096 + 2 * (16 * 1024 + at) + argv_prealloc + 48 * at);
    }
    CS_ASSERT(o.rc == 0 || o.rc == CS_EPARSE || o.rc == CS_ETOOBIG);
    CS_ASSERT((o.rc != 0) == (cs_resp_parser_errmsg(p)[0] != '\0'));
    strcpy(o.errmsg, cs_resp_parser_errmsg(p));
    cs_resp_parser_free(p);
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    struct cs_resp_limits l;
    cs_resp_limits_default(&l);
    if (data[0] & 1) {
        l = (struct cs_resp_limits){.bulk_bytes_max = 16,
                                    .args_max = 6,
                                    .inline_bytes_max = 24,
                                    .query_buffer_bytes_max = 96};
    }
    CS_ASSERT(cs_resp_limits_check(&l) == 0);
    struct cs_rng rng;
    cs_rng_init(&rng, data[0]);
    struct outcome whole = run(&l, data + 1, size - 1, 0, &rng);
    struct outcome bytes = run(&l, data + 1, size - 1, 1, &rng);
    struct outcome random = run(&l, data + 1, size - 1, 2, &rng);
    CS_ASSERT(whole.hash == bytes.hash && whole.hash == random.hash);
    CS_ASSERT(whole.commands == bytes.commands && whole.commands == random.commands);
    CS_ASSERT(whole.rc == bytes.rc && whole.rc == random.rc);
    CS_ASSERT(strcmp(whole.errmsg, bytes.errmsg) == 0 && strcmp(whole.errmsg, random.errmsg) == 0);
    return 0;
}
