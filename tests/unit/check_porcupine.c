/*
 * check_porcupine.c: every verdict of Porcupine's test histories reproduced.
 *
 * Goal: the checker agrees with Porcupine on all 102 etcd histories and the
 * 6 kv histories (partitioned by key), and on kv c01/c10 without partitioning
 * (Porcupine's kvNoPartition). Method: the expected verdicts are read from
 * VERDICTS.md in the shared data folder (its table rows), so the test follows
 * the data; the counts are asserted too, so a table that lost rows fails.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/check.h"
#include "testlib.h"

#define FILE_BYTES_MAX (8u << 20)

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    char *data = malloc(FILE_BYTES_MAX);
    size_t n = data ? fread(data, 1, FILE_BYTES_MAX, f) : 0;
    fclose(f);
    *len = n;
    return data;
}

struct expected {
    char name[64];
    bool linearizable;
};

/* load_verdicts: rows "| `jepsen/etcd_000.log` | ... | NOT linearizable |". */
static size_t load_verdicts(struct expected *out, size_t out_max, const char *prefix)
{
    char path[512];
    snprintf(path, sizeof path, "%s/histories/porcupine/VERDICTS.md", cs_test_data_dir());
    size_t len;
    char *text = read_all(path, &len);
    CS_CHECK_MSG(text != NULL, "cannot read %s", path);
    size_t count = 0;
    char *save = NULL;
    text[len < FILE_BYTES_MAX ? len : FILE_BYTES_MAX - 1] = 0;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char want[32];
        snprintf(want, sizeof want, "| `%s", prefix);
        if (strncmp(line, want, strlen(want)) != 0) continue;
        char *tick = strchr(line + 3, '`');
        CS_CHECK(tick != NULL && count < out_max);
        size_t name_len = (size_t)(tick - (line + 3));
        CS_CHECK(name_len < sizeof out[count].name);
        memcpy(out[count].name, line + 3, name_len);
        out[count].name[name_len] = 0;
        if (strstr(line, "no test") != NULL) continue; /* etcd_095: empty, untested */
        if (line[3 + strlen(prefix)] == '`') continue; /* the provenance row "kv/" */
        bool bad = strstr(line, "NOT linearizable") != NULL;
        CS_CHECK(bad || strstr(line, "| linearizable |") != NULL);
        out[count].linearizable = !bad;
        count++;
    }
    free(text);
    return count;
}

static enum cs_verdict check_file(const char *name, enum cs_history_format format, bool split)
{
    char path[512];
    snprintf(path, sizeof path, "%s/histories/porcupine/%s", cs_test_data_dir(), name);
    size_t len;
    char *text = read_all(path, &len);
    CS_CHECK_MSG(text != NULL, "cannot read %s", path);
    struct cs_history h;
    cs_history_init(&h, 0);
    struct cs_parse_error err;
    int rc = cs_history_parse(&h, format, text, len, &err);
    CS_CHECK_MSG(rc == 0, "%s:%u: %s", name, err.line, err.message);
    struct cs_model_spec spec = cs_model_default(&h);
    CS_CHECK_EQ(spec.kind,
                format == CS_FORMAT_PORCUPINE_ETCD ? CS_MODEL_CAS_REGISTER : CS_MODEL_KV);
    spec.split_by_key = split;
    struct cs_check_result result;
    CS_CHECK_OK(cs_check_linearizable(&h, &spec, NULL, &result));
    enum cs_verdict verdict = result.verdict;
    if (verdict == CS_VERDICT_INVALID) CS_CHECK(result.stuck_len > 0);
    cs_check_result_free(&result);
    cs_history_free(&h);
    free(text);
    return verdict;
}

CS_TEST(etcd_all_102)
{
    struct expected rows[128];
    size_t n = load_verdicts(rows, 128, "jepsen/etcd_");
    CS_CHECK_EQ(n, 102);
    size_t linearizable = 0;
    for (size_t i = 0; i < n; i++) {
        enum cs_verdict v = check_file(rows[i].name, CS_FORMAT_PORCUPINE_ETCD, true);
        enum cs_verdict want = rows[i].linearizable ? CS_VERDICT_VALID : CS_VERDICT_INVALID;
        CS_CHECK_MSG(v == want, "%s: got %s, expected %s", rows[i].name, cs_verdict_name(v),
                     cs_verdict_name(want));
        linearizable += rows[i].linearizable;
    }
    CS_CHECK_EQ(linearizable, 23);
}

CS_TEST(kv_all_6_partitioned)
{
    struct expected rows[16];
    size_t n = load_verdicts(rows, 16, "kv/");
    CS_CHECK_EQ(n, 6);
    for (size_t i = 0; i < n; i++) {
        enum cs_verdict v = check_file(rows[i].name, CS_FORMAT_PORCUPINE_KV, true);
        enum cs_verdict want = rows[i].linearizable ? CS_VERDICT_VALID : CS_VERDICT_INVALID;
        CS_CHECK_MSG(v == want, "%s: got %s, expected %s", rows[i].name, cs_verdict_name(v),
                     cs_verdict_name(want));
    }
}

CS_TEST(kv_c01_c10_without_partitioning)
{
    static const struct expected rows[] = {
        {"kv/c01-ok.txt", true},
        {"kv/c01-bad.txt", false},
        {"kv/c10-ok.txt", true},
        {"kv/c10-bad.txt", false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        enum cs_verdict v = check_file(rows[i].name, CS_FORMAT_AUTO, false);
        enum cs_verdict want = rows[i].linearizable ? CS_VERDICT_VALID : CS_VERDICT_INVALID;
        CS_CHECK_MSG(v == want, "%s (no partition): got %s, expected %s", rows[i].name,
                     cs_verdict_name(v), cs_verdict_name(want));
    }
}

CS_TEST(formats_detected)
{
    static const char etcd[] = "INFO  jepsen.util - 0\t:invoke\t:read\tnil\n";
    static const char kv[] = "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n";
    static const char json[] = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n";
    static const char edn[] = "; comment\n{:process 0 :type :invoke :f :read}\n";
    CS_CHECK_EQ(cs_history_detect(etcd, sizeof etcd - 1), CS_FORMAT_PORCUPINE_ETCD);
    CS_CHECK_EQ(cs_history_detect(kv, sizeof kv - 1), CS_FORMAT_PORCUPINE_KV);
    CS_CHECK_EQ(cs_history_detect(json, sizeof json - 1), CS_FORMAT_JSONL);
    CS_CHECK_EQ(cs_history_detect(edn, sizeof edn - 1), CS_FORMAT_EDN);
    CS_CHECK_EQ(cs_history_detect("hello", 5), CS_FORMAT_AUTO);
}

CS_TEST_MAIN(CS_CASE(etcd_all_102), CS_CASE(kv_all_6_partitioned),
             CS_CASE(kv_c01_c10_without_partitioning), CS_CASE(formats_detected))
