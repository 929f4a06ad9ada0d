/*
 * hiredis_client.c: a scripted conversation with one consistd node through
 * hiredis, the C client library most Redis tools are built on
 * (tests/cluster/server_hiredis.sh runs it on a single node and on a
 * follower of a 3-node cluster, where every command is forwarded).
 *
 * The one idea: each step sends what a real client sends and checks the reply
 * against what Redis answers for the same command, byte for byte; the first
 * mismatch ends the run with the step, the command and the reply, exit 1.
 * Steps: PING; binary values holding NUL and CRLF up to the server's value
 * limit (at it OK, one past it an error, the connection still usable), the key
 * limit the same way; INCR/INCRBY/DECR/DECRBY and their errors; MSET/MGET;
 * DEL/EXISTS; CAS; MULTI/EXEC pipelined (and EXECABORT, DISCARD); 1000
 * pipelined SETs then 1000 GETs, in order; HELLO 2 through hiredis and
 * HELLO 3 on a raw socket (hiredis 0.14, Debian's, predates RESP3 and cannot
 * parse a map); unknown commands and wrong arity.
 *
 * Usage: hiredis_client PORT [KEY_PREFIX]. Keys are KEY_PREFIX (default
 * "hc:<pid>:") plus a name, so runs against one server do not collide.
 * Exit: 0 every step passed, 1 a mismatch or lost connection, 2 usage.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/hiredis.h>

/* The server's limits under test (docs/server.md, consist/kv.h). */
#define VALUE_BYTES_MAX  65536u
#define KEY_BYTES_MAX    512u
#define KEYS_PER_CMD_MAX 64u /* MGET / MSET / DEL / EXISTS */

#define ARGS_MAX         (KEYS_PER_CMD_MAX + 2) /* arguments of one scripted command */
#define KEY_NAME_MAX     1024u                  /* prefix + name, and the 513-byte key */
#define PREFIX_BYTES_MAX 64u
#define BURST            1000u /* pipelined SETs, then as many GETs */
#define RAW_REPLY_MAX    4096u /* bytes read from the raw RESP3 socket */
#define TIMEOUT_MS       10000 /* one reply; a hang is a failure */

struct session {
    redisContext *c;
    int port;
    char prefix[PREFIX_BYTES_MAX];
    const char *step; /* what is being checked, for the failure message */
    char last[160];   /* the last command sent, printable */
};

__attribute__((format(printf, 2, 3), noreturn)) static void fail(const struct session *s,
                                                                 const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "FAIL: port %d, step '%s', after %s: ", s->port, s->step, s->last);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* Printable form of a command for messages: arguments cut at 24 bytes. */
static void describe(struct session *s, size_t argc, const char *const *argv, const size_t *lens)
{
    size_t at = 0;
    s->last[0] = '\0';
    for (size_t i = 0; i < argc && at + 40 < sizeof s->last; i++) {
        size_t shown = lens[i] < 24 ? lens[i] : 24;
        at += (size_t)snprintf(s->last + at, sizeof s->last - at, "%s", i ? " " : "");
        for (size_t j = 0; j < shown && at + 2 < sizeof s->last; j++) {
            char ch = argv[i][j];
            s->last[at++] = (ch >= 0x20 && ch < 0x7f) ? ch : '.';
        }
        if (shown < lens[i]) at += (size_t)snprintf(s->last + at, sizeof s->last - at, "...");
        s->last[at] = '\0';
    }
}

static const char *type_name(int type)
{
    switch (type) {
    case REDIS_REPLY_STRING:
        return "bulk string";
    case REDIS_REPLY_ARRAY:
        return "array";
    case REDIS_REPLY_INTEGER:
        return "integer";
    case REDIS_REPLY_NIL:
        return "nil";
    case REDIS_REPLY_STATUS:
        return "status";
    case REDIS_REPLY_ERROR:
        return "error";
    default:
        return "unknown type";
    }
}

/* The next reply (pipelined or not); a lost connection is a failure. */
static redisReply *next_reply(struct session *s)
{
    void *reply = NULL;
    if (redisGetReply(s->c, &reply) != REDIS_OK || reply == NULL) {
        fail(s, "connection error: %s", s->c->errstr[0] ? s->c->errstr : "no reply");
    }
    return reply;
}

/* Queue one command (binary-safe). Nothing is sent until a reply is read. */
static void append_argv(struct session *s, size_t argc, const char **argv, const size_t *lens)
{
    if (argc == 0 || argc > ARGS_MAX) fail(s, "bad script: %zu arguments", argc);
    describe(s, argc, argv, lens);
    if (redisAppendCommandArgv(s->c, (int)argc, argv, lens) != REDIS_OK) {
        fail(s, "cannot queue the command: %s", s->c->errstr);
    }
}

/* Queue a command of NUL-terminated words; the list ends with NULL. */
static void append_words(struct session *s, const char *first, ...)
{
    const char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX];
    size_t argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w != NULL; w = va_arg(ap, const char *)) {
        if (argc == ARGS_MAX) fail(s, "bad script: more than %u arguments", ARGS_MAX);
        argv[argc] = w;
        lens[argc] = strlen(w);
        argc++;
    }
    va_end(ap);
    append_argv(s, argc, argv, lens);
}

#define CMD(s, ...) (append_words((s), __VA_ARGS__, (const char *)NULL), next_reply(s))

static void expect_type(struct session *s, const redisReply *r, int type)
{
    if (r->type == type) return;
    if (r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STATUS) {
        fail(s, "want %s, got %s '%s'", type_name(type), type_name(r->type), r->str);
    }
    fail(s, "want %s, got %s", type_name(type), type_name(r->type));
}

static void expect_status(struct session *s, redisReply *r, const char *want)
{
    expect_type(s, r, REDIS_REPLY_STATUS);
    if (strcmp(r->str, want) != 0) fail(s, "want +%s, got +%s", want, r->str);
    freeReplyObject(r);
}

static void expect_int(struct session *s, redisReply *r, long long want)
{
    expect_type(s, r, REDIS_REPLY_INTEGER);
    if (r->integer != want) fail(s, "want :%lld, got :%lld", want, r->integer);
    freeReplyObject(r);
}

static void check_bulk(struct session *s, const redisReply *r, const void *want, size_t want_len)
{
    expect_type(s, r, REDIS_REPLY_STRING);
    if (r->len != want_len) fail(s, "want %zu bytes, got %zu", want_len, r->len);
    if (memcmp(r->str, want, want_len) != 0) {
        size_t i = 0;
        while (((const char *)want)[i] == r->str[i])
            i++;
        fail(s, "bulk differs at byte %zu of %zu", i, want_len);
    }
}

static void expect_bulk(struct session *s, redisReply *r, const void *want, size_t want_len)
{
    check_bulk(s, r, want, want_len);
    freeReplyObject(r);
}

static void expect_str(struct session *s, redisReply *r, const char *want)
{
    expect_bulk(s, r, want, strlen(want));
}

static void expect_nil(struct session *s, redisReply *r)
{
    expect_type(s, r, REDIS_REPLY_NIL);
    freeReplyObject(r);
}

/* An error reply that begins with `prefix` (code and start of message). */
static void expect_error(struct session *s, redisReply *r, const char *prefix)
{
    expect_type(s, r, REDIS_REPLY_ERROR);
    if (strncmp(r->str, prefix, strlen(prefix)) != 0) {
        fail(s, "want -%s..., got -%s", prefix, r->str);
    }
    freeReplyObject(r);
}

/* Prefix + name. Up to four live at once: a ring of buffers (a test tool). */
static const char *key(struct session *s, const char *name)
{
    static char ring[4][KEY_NAME_MAX];
    static unsigned next;
    char *k = ring[next++ % 4];
    int n = snprintf(k, KEY_NAME_MAX, "%s%s", s->prefix, name);
    if (n < 0 || (size_t)n >= KEY_NAME_MAX) fail(s, "bad script: key name too long");
    return k;
}

static void step_ping(struct session *s)
{
    s->step = "PING";
    expect_status(s, CMD(s, "PING"), "PONG");
    expect_str(s, CMD(s, "PING", "hello"), "hello");
    expect_str(s, CMD(s, "ECHO", "a b"), "a b");
}

/* SET then GET of a binary value, compared byte for byte. */
static void set_get(struct session *s, const char *k, const char *value, size_t value_len)
{
    const char *argv[3] = {"SET", k, value};
    size_t lens[3] = {3, strlen(k), value_len};
    append_argv(s, 3, argv, lens);
    expect_status(s, next_reply(s), "OK");
    expect_bulk(s, CMD(s, "GET", k), value, value_len);
}

static void step_binary(struct session *s)
{
    static char value[VALUE_BYTES_MAX + 1];
    s->step = "binary values";
    /* Every byte value, NUL and CR LF included, in a pattern that does not
     * repeat with a short period, so a shifted or cut copy cannot match. */
    for (size_t i = 0; i < sizeof value; i++)
        value[i] = (char)((i * 7 + i / 256) & 0xff);
    memcpy(value, "\0\r\n$3\r\n*1\r\n", 11);
    set_get(s, key(s, "bin:small"), value, 11);
    set_get(s, key(s, "bin:empty"), value, 0);
    s->step = "value at the limit";
    set_get(s, key(s, "bin:max"), value, VALUE_BYTES_MAX);

    s->step = "value one past the limit";
    const char *k = key(s, "bin:over");
    const char *argv[3] = {"SET", k, value};
    size_t lens[3] = {3, strlen(k), VALUE_BYTES_MAX + 1};
    append_argv(s, 3, argv, lens);
    expect_error(s, next_reply(s), "ERR value is longer than 65536 bytes");
    expect_status(s, CMD(s, "PING"), "PONG");
    expect_nil(s, CMD(s, "GET", k));
    /* The value at the limit is untouched by the refused one. */
    expect_bulk(s, CMD(s, "GET", key(s, "bin:max")), value, VALUE_BYTES_MAX);

    s->step = "key at the limit and one past";
    char long_key[KEY_BYTES_MAX + 2];
    memset(long_key, 'k', sizeof long_key);
    memcpy(long_key, s->prefix, strlen(s->prefix)); /* this run's own key */
    long_key[KEY_BYTES_MAX] = '\0';
    set_get(s, long_key, "at-limit", 8);
    long_key[KEY_BYTES_MAX] = 'k';
    long_key[KEY_BYTES_MAX + 1] = '\0';
    expect_error(s, CMD(s, "SET", long_key, "v"), "ERR key is longer than 512 bytes");
    expect_error(s, CMD(s, "GET", long_key), "ERR key is longer than 512 bytes");
    expect_status(s, CMD(s, "PING"), "PONG");
    long_key[KEY_BYTES_MAX] = '\0';
    expect_int(s, CMD(s, "DEL", long_key), 1);
}

static void step_counters(struct session *s)
{
    s->step = "INCR INCRBY DECR DECRBY";
    const char *n = key(s, "n");
    expect_int(s, CMD(s, "INCR", n), 1);
    expect_int(s, CMD(s, "INCRBY", n, "41"), 42);
    expect_int(s, CMD(s, "DECR", n), 41);
    expect_int(s, CMD(s, "DECRBY", n, "50"), -9);
    expect_int(s, CMD(s, "INCRBY", n, "-1"), -10);
    expect_str(s, CMD(s, "GET", n), "-10");
    s->step = "counter errors";
    expect_error(s, CMD(s, "INCRBY", n, "abc"), "ERR value is not an integer");
    const char *text = key(s, "text");
    expect_status(s, CMD(s, "SET", text, "abc"), "OK");
    expect_error(s, CMD(s, "INCR", text), "ERR value is not an integer");
    const char *top = key(s, "top");
    expect_status(s, CMD(s, "SET", top, "9223372036854775807"), "OK");
    expect_error(s, CMD(s, "INCR", top), "ERR increment or decrement would overflow");
    expect_str(s, CMD(s, "GET", top), "9223372036854775807");
    expect_str(s, CMD(s, "GET", n), "-10");
}

static void step_multi_key(struct session *s)
{
    s->step = "MSET MGET";
    char a[KEY_NAME_MAX], b[KEY_NAME_MAX], c[KEY_NAME_MAX], none[KEY_NAME_MAX];
    snprintf(a, sizeof a, "%s", key(s, "m:a"));
    snprintf(b, sizeof b, "%s", key(s, "m:b"));
    snprintf(c, sizeof c, "%s", key(s, "m:c"));
    snprintf(none, sizeof none, "%s", key(s, "m:none"));
    expect_status(s, CMD(s, "MSET", a, "1", b, "two", c, ""), "OK");
    redisReply *r = CMD(s, "MGET", a, none, b, c);
    expect_type(s, r, REDIS_REPLY_ARRAY);
    if (r->elements != 4) fail(s, "want 4 elements, got %zu", r->elements);
    check_bulk(s, r->element[0], "1", 1);
    expect_type(s, r->element[1], REDIS_REPLY_NIL);
    check_bulk(s, r->element[2], "two", 3);
    check_bulk(s, r->element[3], "", 0);
    freeReplyObject(r);
    expect_error(s, CMD(s, "MSET", a, "1", b), "ERR wrong number of arguments");

    s->step = "keys per command at the limit and one past";
    static char many[KEYS_PER_CMD_MAX + 1][KEY_NAME_MAX];
    const char *argv[KEYS_PER_CMD_MAX + 2] = {"MGET"};
    size_t lens[KEYS_PER_CMD_MAX + 2] = {4};
    for (size_t i = 0; i <= KEYS_PER_CMD_MAX; i++) {
        snprintf(many[i], KEY_NAME_MAX, "%smany:%zu", s->prefix, i);
        argv[i + 1] = many[i];
        lens[i + 1] = strlen(many[i]);
    }
    snprintf(many[0], KEY_NAME_MAX, "%s", a); /* one key that exists */
    lens[1] = strlen(a);
    append_argv(s, KEYS_PER_CMD_MAX + 1, argv, lens);
    r = next_reply(s);
    expect_type(s, r, REDIS_REPLY_ARRAY);
    if (r->elements != KEYS_PER_CMD_MAX)
        fail(s, "want %u values, got %zu", KEYS_PER_CMD_MAX, r->elements);
    check_bulk(s, r->element[0], "1", 1);
    for (size_t i = 1; i < KEYS_PER_CMD_MAX; i++)
        expect_type(s, r->element[i], REDIS_REPLY_NIL);
    freeReplyObject(r);
    append_argv(s, KEYS_PER_CMD_MAX + 2, argv, lens);
    expect_error(s, next_reply(s), "ERR too many keys in one command");
    argv[0] = "EXISTS";
    lens[0] = 6;
    append_argv(s, KEYS_PER_CMD_MAX + 1, argv, lens);
    expect_int(s, next_reply(s), 1);
    append_argv(s, KEYS_PER_CMD_MAX + 2, argv, lens);
    expect_error(s, next_reply(s), "ERR too many keys in one command");

    s->step = "DEL EXISTS";
    expect_int(s, CMD(s, "EXISTS", a, b, none, a), 3); /* Redis counts a repeated key twice */
    expect_int(s, CMD(s, "DEL", a, none), 1);
    expect_int(s, CMD(s, "EXISTS", a), 0);
    expect_nil(s, CMD(s, "GET", a));
    expect_int(s, CMD(s, "DEL", a), 0);
    expect_int(s, CMD(s, "DEL", b, c), 2);
}

static void step_cas(struct session *s)
{
    s->step = "CAS";
    const char *k = key(s, "cas");
    expect_int(s, CMD(s, "CAS", k, "v1", "v2"), 0); /* absent: nothing to compare */
    expect_nil(s, CMD(s, "GET", k));
    expect_status(s, CMD(s, "SET", k, "v1"), "OK");
    expect_int(s, CMD(s, "CAS", k, "v1", "v2"), 1);
    expect_int(s, CMD(s, "CAS", k, "v1", "v3"), 0);
    expect_str(s, CMD(s, "GET", k), "v2");
    expect_error(s, CMD(s, "CAS", k, "v2"), "ERR wrong number of arguments");
}

/* MULTI/EXEC as clients send it: the whole block in one write. */
static void step_transactions(struct session *s)
{
    s->step = "MULTI/EXEC pipelined";
    char t[KEY_NAME_MAX], u[KEY_NAME_MAX];
    snprintf(t, sizeof t, "%s", key(s, "tx:t"));
    snprintf(u, sizeof u, "%s", key(s, "tx:u"));
    append_words(s, "MULTI", (const char *)NULL);
    append_words(s, "SET", t, "10", (const char *)NULL);
    append_words(s, "INCRBY", t, "5", (const char *)NULL);
    append_words(s, "CAS", t, "15", "16", (const char *)NULL);
    append_words(s, "MGET", t, u, (const char *)NULL);
    append_words(s, "EXEC", (const char *)NULL);
    expect_status(s, next_reply(s), "OK");
    for (int i = 0; i < 4; i++)
        expect_status(s, next_reply(s), "QUEUED");
    redisReply *r = next_reply(s);
    expect_type(s, r, REDIS_REPLY_ARRAY);
    if (r->elements != 4) fail(s, "EXEC: want 4 replies, got %zu", r->elements);
    expect_type(s, r->element[0], REDIS_REPLY_STATUS);
    if (strcmp(r->element[0]->str, "OK") != 0) fail(s, "EXEC[0]: want +OK");
    expect_type(s, r->element[1], REDIS_REPLY_INTEGER);
    if (r->element[1]->integer != 15) fail(s, "EXEC[1]: want :15");
    expect_type(s, r->element[2], REDIS_REPLY_INTEGER);
    if (r->element[2]->integer != 1) fail(s, "EXEC[2]: want :1");
    const redisReply *m = r->element[3];
    expect_type(s, m, REDIS_REPLY_ARRAY);
    if (m->elements != 2) fail(s, "EXEC[3]: want 2 values, got %zu", m->elements);
    check_bulk(s, m->element[0], "16", 2);
    expect_type(s, m->element[1], REDIS_REPLY_NIL);
    freeReplyObject(r);

    s->step = "EXECABORT";
    append_words(s, "MULTI", (const char *)NULL);
    append_words(s, "SET", u, "never", (const char *)NULL);
    append_words(s, "GET", (const char *)NULL); /* refused while queueing */
    append_words(s, "EXEC", (const char *)NULL);
    expect_status(s, next_reply(s), "OK");
    expect_status(s, next_reply(s), "QUEUED");
    expect_error(s, next_reply(s), "ERR wrong number of arguments");
    expect_error(s, next_reply(s), "EXECABORT");
    expect_nil(s, CMD(s, "GET", u));

    s->step = "DISCARD";
    expect_status(s, CMD(s, "MULTI"), "OK");
    expect_status(s, CMD(s, "SET", u, "never"), "QUEUED");
    expect_status(s, CMD(s, "DISCARD"), "OK");
    expect_nil(s, CMD(s, "GET", u));
    expect_error(s, CMD(s, "EXEC"), "ERR EXEC without MULTI");
    expect_error(s, CMD(s, "DISCARD"), "ERR DISCARD without MULTI");
}

/* BURST SETs and BURST GETs in one pipeline; replies must come in order. */
static void step_burst(struct session *s)
{
    s->step = "pipelined burst";
    char k[KEY_NAME_MAX], v[32];
    for (unsigned i = 0; i < 2 * BURST; i++) {
        unsigned n = i % BURST;
        snprintf(k, sizeof k, "%sburst:%u", s->prefix, n);
        snprintf(v, sizeof v, "value-%u", n * 7919u);
        if (i < BURST) {
            append_words(s, "SET", k, v, (const char *)NULL);
        } else {
            append_words(s, "GET", k, (const char *)NULL);
        }
    }
    for (unsigned i = 0; i < BURST; i++)
        expect_status(s, next_reply(s), "OK");
    for (unsigned n = 0; n < BURST; n++) {
        snprintf(v, sizeof v, "value-%u", n * 7919u);
        redisReply *r = next_reply(s);
        expect_type(s, r, REDIS_REPLY_STRING);
        if (r->len != strlen(v) || memcmp(r->str, v, r->len) != 0) {
            fail(s, "GET %u of the burst: want %s, got %.*s", n, v, (int)r->len, r->str);
        }
        freeReplyObject(r);
    }
}

/* HELLO 2 through hiredis: a flat array of names and values, proto 2. */
static void step_hello2(struct session *s)
{
    s->step = "HELLO 2";
    redisReply *r = CMD(s, "HELLO", "2");
    expect_type(s, r, REDIS_REPLY_ARRAY);
    if (r->elements % 2 != 0) fail(s, "HELLO: odd element count %zu", r->elements);
    bool proto_seen = false;
    for (size_t i = 0; i < r->elements; i += 2) {
        const redisReply *name = r->element[i];
        expect_type(s, name, REDIS_REPLY_STRING);
        if (strcmp(name->str, "proto") == 0) {
            expect_type(s, r->element[i + 1], REDIS_REPLY_INTEGER);
            if (r->element[i + 1]->integer != 2) fail(s, "HELLO 2: proto is not 2");
            proto_seen = true;
        }
    }
    if (!proto_seen) fail(s, "HELLO 2: no proto field");
    freeReplyObject(r);
    expect_error(s, CMD(s, "HELLO", "4"), "NOPROTO");
    expect_status(s, CMD(s, "PING"), "PONG");
}

/* Read from a raw socket until `buf` ends with `tail`, within the limits. */
static size_t raw_read_until(struct session *s, int fd, char *buf, const char *tail)
{
    size_t len = 0, tail_len = strlen(tail);
    for (;;) {
        if (len >= tail_len && memcmp(buf + len - tail_len, tail, tail_len) == 0) return len;
        if (len == RAW_REPLY_MAX) fail(s, "more than %u bytes without the end", RAW_REPLY_MAX);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int ready = poll(&p, 1, TIMEOUT_MS);
        if (ready <= 0) fail(s, "no complete reply within %d ms (%zu bytes)", TIMEOUT_MS, len);
        ssize_t got = read(fd, buf + len, RAW_REPLY_MAX - len);
        if (got <= 0) fail(s, "raw socket closed after %zu bytes", len);
        len += (size_t)got;
    }
}

static bool contains(const char *hay, size_t hay_len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= hay_len; i++) {
        if (memcmp(hay + i, needle, n) == 0) return true;
    }
    return false;
}

/* HELLO 3 on a raw socket: a RESP3 map, then RESP3's null and map types. */
static void step_resp3(struct session *s)
{
    s->step = "HELLO 3 (raw RESP3)";
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) fail(s, "socket: %s", strerror(errno));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        fail(s, "connect: %s", strerror(errno));
    }
    char missing[KEY_NAME_MAX + 64];
    int n = snprintf(missing, sizeof missing, "HELLO 3\r\nGET %smissing\r\nPING\r\n", s->prefix);
    snprintf(s->last, sizeof s->last, "HELLO 3, GET missing, PING (raw)");
    if (write(fd, missing, (size_t)n) != n) fail(s, "raw write: %s", strerror(errno));
    char buf[RAW_REPLY_MAX];
    size_t len = raw_read_until(s, fd, buf, "_\r\n+PONG\r\n");
    close(fd);
    if (buf[0] != '%') fail(s, "HELLO 3: want a map ('%%'), got '%c'", buf[0]);
    if (!contains(buf, len, "$5\r\nproto\r\n:3\r\n")) fail(s, "HELLO 3: no proto 3 in the map");
    if (!contains(buf, len, "$6\r\nserver\r\n")) fail(s, "HELLO 3: no server field");
}

static void step_errors(struct session *s)
{
    s->step = "unknown command";
    expect_error(s, CMD(s, "NOSUCHCOMMAND", "x"), "ERR unknown command");
    expect_status(s, CMD(s, "PING"), "PONG");
    s->step = "wrong arity";
    expect_error(s, CMD(s, "GET"), "ERR wrong number of arguments");
    expect_error(s, CMD(s, "SET", key(s, "x")), "ERR wrong number of arguments");
    expect_error(s, CMD(s, "INCRBY", key(s, "x")), "ERR wrong number of arguments");
    expect_error(s, CMD(s, "MGET"), "ERR wrong number of arguments");
    s->step = "usable after errors";
    expect_status(s, CMD(s, "SET", key(s, "after"), "fine"), "OK");
    expect_str(s, CMD(s, "GET", key(s, "after")), "fine");
}

int main(int argc, char **argv)
{
    char *end = NULL;
    long port = argc >= 2 ? strtol(argv[1], &end, 10) : 0;
    if (argc < 2 || argc > 3 || *end != '\0' || port < 1 || port > 65535) {
        fprintf(stderr, "usage: hiredis_client PORT [KEY_PREFIX]\n");
        return 2;
    }
    struct session s = {.port = (int)port, .step = "connect", .last = "(nothing)"};
    int n = argc == 3 ? snprintf(s.prefix, sizeof s.prefix, "%s", argv[2])
                      : snprintf(s.prefix, sizeof s.prefix, "hc:%ld:", (long)getpid());
    if (n < 0 || (size_t)n >= sizeof s.prefix) {
        fprintf(stderr, "hiredis_client: KEY_PREFIX longer than %u bytes\n", PREFIX_BYTES_MAX - 1);
        return 2;
    }
    struct timeval timeout = {.tv_sec = TIMEOUT_MS / 1000, .tv_usec = 0};
    s.c = redisConnectWithTimeout("127.0.0.1", s.port, timeout);
    if (s.c == NULL || s.c->err) fail(&s, "cannot connect: %s", s.c ? s.c->errstr : "no memory");
    if (redisSetTimeout(s.c, timeout) != REDIS_OK) fail(&s, "cannot set the timeout");

    step_ping(&s);
    step_binary(&s);
    step_counters(&s);
    step_multi_key(&s);
    step_cas(&s);
    step_transactions(&s);
    step_burst(&s);
    step_hello2(&s);
    step_resp3(&s);
    step_errors(&s);

    redisFree(s.c);
    printf("hiredis_client: port %d: every step passed\n", s.port);
    return 0;
}
