/*
 * server_config.c: consistd's config (src/server/config.c, compiled in here:
 * consistd's sources are not in libconsist). Defaults are usable; each
 * numeric key at its bounds and one past; peers at SRV_PEERS_MAX and one
 * past; a file line at SRV_CONFIG_LINE_MAX bytes and one past, a file at
 * SRV_CONFIG_LINES_MAX lines and one past; quoting; errors name file:line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "server/config.c"
#include "testlib.h"

static struct srv_config cfg;
static char err[512];

static int set1(const char *key, const char *value)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", value);
    char *vals[1] = {buf};
    return srv_config_set(&cfg, key, vals, 1, err, sizeof err);
}

CS_TEST(defaults_are_usable)
{
    srv_config_default(&cfg);
    CS_CHECK_OK(srv_config_check(&cfg, err, sizeof err));
    CS_CHECK_EQ(cfg.port, 7001);
    CS_CHECK_EQ(cfg.peer_port, 9001);
    CS_CHECK_STR(cfg.dir, "./data");
    CS_CHECK_EQ(cfg.peers_len, 0);
}

CS_TEST(numbers_at_and_past_their_bounds)
{
    srv_config_default(&cfg);
    CS_CHECK_OK(set1("port", "65535"));
    CS_CHECK_EQ(cfg.port, 65535);
    CS_CHECK(set1("port", "65536") != 0);
    CS_CHECK(set1("port", "0") != 0);
    CS_CHECK(set1("port", "-1") != 0);
    CS_CHECK(set1("port", "7001x") != 0);
    CS_CHECK_OK(set1("maxclients", "65536"));
    CS_CHECK(set1("maxclients", "65537") != 0);
    CS_CHECK(set1("node-id", "0") != 0);
    CS_CHECK_OK(set1("node-id", "18446744073709551615"));
    CS_CHECK(set1("node-id", "18446744073709551616") != 0);
    CS_CHECK(set1("no-such-key", "1") != 0);
    CS_CHECK(strstr(err, "unknown setting") != NULL);
    /* The heartbeat must leave room for the election timeout. */
    srv_config_default(&cfg);
    CS_CHECK_OK(set1("heartbeat-interval-ms", "500"));
    CS_CHECK_OK(srv_config_check(&cfg, err, sizeof err)); /* 2 * 500 == 1000: at the limit */
    CS_CHECK_OK(set1("heartbeat-interval-ms", "501"));
    CS_CHECK(srv_config_check(&cfg, err, sizeof err) != 0);
    /* The query buffer must hold one maximal bulk. */
    srv_config_default(&cfg);
    CS_CHECK_OK(set1("client-query-buffer-limit", "1024"));
    CS_CHECK(srv_config_check(&cfg, err, sizeof err) != 0);
}

CS_TEST(peers_at_and_past_the_limit)
{
    srv_config_default(&cfg);
    char id[16], addr[32];
    for (int k = 0; k < SRV_PEERS_MAX; k++) {
        snprintf(id, sizeof id, "%d", k + 2);
        snprintf(addr, sizeof addr, "localhost:%d", 9002 + k);
        char *vals[2] = {id, addr};
        CS_CHECK_OK(srv_config_set(&cfg, "peer", vals, 2, err, sizeof err));
    }
    CS_CHECK_EQ(cfg.peers_len, SRV_PEERS_MAX);
    CS_CHECK_STR(cfg.peers[0].host, "127.0.0.1");
    CS_CHECK_EQ(cfg.peers[0].port, 9002);
    char one_more[] = "99=127.0.0.1:9999";
    char *vals[1] = {one_more};
    CS_CHECK(srv_config_set(&cfg, "peer", vals, 1, err, sizeof err) != 0);
    CS_CHECK_OK(srv_config_check(&cfg, err, sizeof err));
    /* A repeated id, a bad address, and this node's own id are refused. */
    srv_config_default(&cfg);
    char dup[] = "2=127.0.0.1:9002", bad[] = "3=127.0.0.1", self[] = "1=127.0.0.1:9001";
    vals[0] = dup;
    CS_CHECK_OK(srv_config_set(&cfg, "peer", vals, 1, err, sizeof err));
    CS_CHECK(srv_config_set(&cfg, "peer", vals, 1, err, sizeof err) != 0);
    vals[0] = bad;
    CS_CHECK(srv_config_set(&cfg, "peer", vals, 1, err, sizeof err) != 0);
    vals[0] = self;
    CS_CHECK_OK(srv_config_set(&cfg, "peer", vals, 1, err, sizeof err));
    CS_CHECK(srv_config_check(&cfg, err, sizeof err) != 0);
}

static int load_text(const char *text)
{
    char path[] = "/tmp/cs_server_config_XXXXXX";
    int fd = mkstemp(path);
    CS_CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    srv_config_default(&cfg);
    int rc = srv_config_load_file(&cfg, path, err, sizeof err);
    unlink(path);
    return rc;
}

CS_TEST(file_lines_quotes_and_limits)
{
    CS_CHECK_OK(load_text("# comment\n\nport 7005\ncluster-id \"a b\"\npeer 2 127.0.0.1:9002\n"));
    CS_CHECK_EQ(cfg.port, 7005);
    CS_CHECK_STR(cfg.cluster_id, "a b");
    CS_CHECK_EQ(cfg.peers_len, 1);
    CS_CHECK(load_text("port 1\ncluster-id \"open\n") != 0);
    CS_CHECK(strstr(err, ":2:") != NULL);
    CS_CHECK(load_text("port\n") != 0);
    /* A line of SRV_CONFIG_LINE_MAX bytes (newline not counted) is read; one more is refused. */
    size_t cap = (size_t)SRV_CONFIG_LINES_MAX * 4 + SRV_CONFIG_LINE_MAX * 2 + 16;
    char *text = malloc(cap);
    memset(text, 'x', SRV_CONFIG_LINE_MAX);
    text[0] = '#';
    text[SRV_CONFIG_LINE_MAX] = '\n';
    text[SRV_CONFIG_LINE_MAX + 1] = 0;
    CS_CHECK_OK(load_text(text));
    memset(text, 'x', SRV_CONFIG_LINE_MAX + 1);
    text[0] = '#';
    text[SRV_CONFIG_LINE_MAX + 1] = '\n';
    text[SRV_CONFIG_LINE_MAX + 2] = 0;
    CS_CHECK(load_text(text) != 0);
    CS_CHECK(strstr(err, "longer than") != NULL);
    /* SRV_CONFIG_LINES_MAX lines are read; one more is refused. */
    size_t at = 0;
    for (int k = 0; k < SRV_CONFIG_LINES_MAX; k++) {
        memcpy(text + at, "#\n", 2);
        at += 2;
    }
    text[at] = 0;
    CS_CHECK_OK(load_text(text));
    memcpy(text + at, "#\n", 3);
    CS_CHECK(load_text(text) != 0);
    CS_CHECK(strstr(err, "more than") != NULL);
    free(text);
}

CS_TEST_MAIN(CS_CASE(defaults_are_usable), CS_CASE(numbers_at_and_past_their_bounds),
             CS_CASE(peers_at_and_past_the_limit), CS_CASE(file_lines_quotes_and_limits))
