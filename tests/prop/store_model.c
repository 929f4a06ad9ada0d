/*
 * store_model.c: property tests: both Raft log stores (LMDB and WAL) and an
 * in-memory model under the same random operations; and the LMDB key-value
 * store, the simulator's disk and an in-memory map under the same random
 * writes, syncs and crashes.
 *
 * Method: each seed draws a sequence of operations (appends that overwrite a
 * suffix, truncations, compactions, hard states, snapshots, syncs, crashes);
 * after every one all implementations must agree on everything they expose.
 * A crash closes without syncing: each must come back exactly at its last
 * sync. Each comparison is shown to catch a planted bug in the model (one that
 * forgets to drop a replaced suffix; one that keeps unsynced writes across a
 * crash), so a silent comparator cannot pass.
 */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "consist/sim.h"
#include "consist/store.h"
#include "testlib.h"

/* --- the log model ------------------------------------------------------- */

#define GROUPS    3
#define MODEL_MAX 512
#define DATA_MAX  1000 /* big enough that WAL segments roll over and are collected */

enum planted { PLANT_NONE = 0, PLANT_NO_SUFFIX_DROP = 1, PLANT_KEEP_UNSYNCED = 2 };

struct model_entry {
    uint64_t term;
    uint16_t len;
    uint8_t data[DATA_MAX];
};

struct model_group {
    uint64_t compact, compact_term, last;
    struct model_entry e[MODEL_MAX]; /* e[i] is index i */
    bool has_hs;
    struct cs_raft_hard_state hs;
    uint64_t snap_index;
};

struct model {
    struct model_group g[GROUPS];
};

struct logs {
    char dir[64];
    char lmdb_dir[96], wal_dir[96];
    struct cs_store *store;
    struct cs_store_log *lmdb, *wal;
};

static void logs_open(struct logs *l)
{
    struct cs_store_options so = {.dir = l->lmdb_dir};
    CS_CHECK_OK(cs_store_open(&so, &l->store));
    struct cs_store_log_options o = {.backend = CS_STORE_LOG_BACKEND_LMDB, .store = l->store};
    CS_CHECK_OK(cs_store_log_open(&o, &l->lmdb));
    o = (struct cs_store_log_options){.backend = CS_STORE_LOG_BACKEND_WAL,
                                      .dir = l->wal_dir,
                                      .segment_bytes = CS_STORE_LOG_SEGMENT_BYTES_MIN};
    CS_CHECK_OK(cs_store_log_open(&o, &l->wal));
}

static void logs_close(struct logs *l)
{
    cs_store_log_close(l->lmdb);
    cs_store_log_close(l->wal);
    cs_store_close(l->store);
}

/* Does one log store hold exactly the model's state? */
static bool log_agrees(struct cs_store_log *log, const struct model *m)
{
    for (uint64_t gi = 0; gi < GROUPS; gi++) {
        const struct model_group *g = &m->g[gi];
        uint64_t first, last;
        cs_store_log_bounds(log, gi + 1, &first, &last);
        if (first != g->compact + 1 || last != g->last) return false;
        if (first <= last) {
            struct cs_store_log_entries out;
            if (cs_store_log_read(log, gi + 1, first, last + 1, SIZE_MAX, &out) != 0) return false;
            bool same = out.len == last - first + 1;
            for (size_t j = 0; same && j < out.len; j++) {
                const struct model_entry *e = &g->e[first + j];
                same = out.entries[j].term == e->term && out.entries[j].data_len == e->len &&
                       memcmp(out.entries[j].data, e->data, e->len) == 0;
            }
            cs_store_log_entries_free(&out);
            if (!same) return false;
        }
        uint64_t term;
        if (g->compact > 0 || g->last > 0) {
            if (cs_store_log_term(log, gi + 1, g->compact, &term) != 0) return false;
            if (term != g->compact_term) return false;
        }
        struct cs_raft_hard_state hs;
        int rc = cs_store_log_hard_state_load(log, gi + 1, &hs);
        if (g->has_hs != (rc == 0)) return false;
        if (rc == 0 && memcmp(&hs, &g->hs, sizeof hs) != 0) return false;
        struct cs_store_log_snapshot snap;
        rc = cs_store_log_snapshot_load(log, gi + 1, &snap);
        if ((g->snap_index != 0) != (rc == 0)) return false;
        if (rc == 0) {
            bool ok = snap.meta.index == g->snap_index && snap.data_len == 8 &&
                      memcmp(snap.data, &g->snap_index, 8) == 0;
            cs_store_log_snapshot_free(&snap);
            if (!ok) return false;
        }
    }
    return true;
}

/* One random operation on both stores and the model. */
static void log_step(struct logs *l, struct model *m, struct model *durable, struct cs_rng *rng,
                     enum planted plant)
{
    uint64_t gi = cs_rng_below(rng, GROUPS), id = gi + 1;
    struct model_group *g = &m->g[gi];
    struct cs_store_log *both[2] = {l->lmdb, l->wal};
    uint64_t op = cs_rng_below(rng, 100);
    if (op < 45) { /* append, possibly replacing a suffix */
        uint64_t lo = g->compact + 1;
        uint64_t at = cs_rng_range(rng, lo, g->last + 1);
        if (g->last + 1 - at > 3) at = g->last + 1 - cs_rng_below(rng, 4);
        size_t n = (size_t)cs_rng_range(rng, 1, 4);
        if (at + n >= MODEL_MAX) return;
        struct cs_raft_entry es[4];
        struct model_entry me[4];
        for (size_t i = 0; i < n; i++) {
            me[i].term = cs_rng_range(rng, 1, 5);
            me[i].len = (uint16_t)cs_rng_below(rng, DATA_MAX + 1);
            for (int k = 0; k < me[i].len; k++)
                me[i].data[k] = (uint8_t)cs_rng_u64(rng);
            es[i] = (struct cs_raft_entry){me[i].term, at + i, 0, me[i].len, me[i].data};
        }
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_append(both[b], id, es, n));
        for (size_t i = 0; i < n; i++)
            g->e[at + i] = me[i];
        uint64_t end = at + n - 1;
        if (plant != PLANT_NO_SUFFIX_DROP || end > g->last) g->last = end;
    } else if (op < 55) { /* truncate */
        /* Mostly a short suffix, as a new leader's overwrite is; sometimes deep. */
        uint64_t from = cs_rng_range(rng, g->compact + 1, g->last + 2);
        if (cs_rng_chance(rng, 4, 5) && g->last + 1 - g->compact > 4)
            from = g->last + 1 - cs_rng_below(rng, 4);
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_truncate(both[b], id, from));
        if (from <= g->last) g->last = from - 1;
    } else if (op < 63) { /* compact */
        uint64_t upto = cs_rng_range(rng, g->compact, g->last);
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_compact(both[b], id, upto));
        if (upto > g->compact) {
            g->compact_term = g->e[upto].term;
            g->compact = upto;
        }
    } else if (op < 73) { /* hard state */
        struct cs_raft_hard_state hs = {cs_rng_range(rng, 1, 9), cs_rng_below(rng, 4),
                                        cs_rng_below(rng, 50)};
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_hard_state_save(both[b], id, &hs));
        g->has_hs = true;
        g->hs = hs;
    } else if (op < 78) { /* snapshot, persisted as the Ready contract does: then sync */
        uint64_t index = cs_rng_range(rng, g->snap_index + 1, g->last + 3);
        if (index >= MODEL_MAX - 8) return;
        if (index < g->compact) return; /* only newer than the compaction point */
        uint64_t term = index <= g->last && index > g->compact ? g->e[index].term
                        : index == g->compact                  ? g->compact_term
                                                               : 7;
        struct cs_raft_snapshot s = {
            .meta = {.index = index, .term = term}, .data_len = 8, .data = (const uint8_t *)&index};
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_snapshot_save(both[b], id, &s));
        g->snap_index = index;
        if (index > g->compact) {
            if (index >= g->last) g->last = index;
            g->compact = index;
            g->compact_term = term;
        }
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_sync(both[b]));
        *durable = *m;
    } else if (op < 93) { /* sync */
        for (int b = 0; b < 2; b++)
            CS_CHECK_OK(cs_store_log_sync(both[b]));
        *durable = *m;
    } else { /* crash: close unsynced, reopen */
        logs_close(l);
        logs_open(l);
        if (plant != PLANT_KEEP_UNSYNCED) *m = *durable;
    }
}

/* Segments rolled over and collected in the runs so far: the test must reach them. */
static uint64_t rolled_, collected_;

static void count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    CS_CHECK(d != NULL);
    unsigned long long seq, lowest = ~0ull, highest = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (sscanf(e->d_name, "wal-%16llx.log", &seq) == 1) {
            if (seq < lowest) lowest = seq;
            if (seq > highest) highest = seq;
        }
    closedir(d);
    rolled_ += highest > 1;
    collected_ += lowest > 1 && lowest != ~0ull;
}

/* Run one seed; return the step at which the stores and the model first disagree, or -1. */
static int log_run(uint64_t seed, int steps, enum planted plant)
{
    cs_test_seed_set(seed);
    struct cs_rng *rng = cs_test_rng();
    struct logs l;
    snprintf(l.dir, sizeof l.dir, "/tmp/cs_store_prop_XXXXXX");
    CS_CHECK(mkdtemp(l.dir) != NULL);
    snprintf(l.lmdb_dir, sizeof l.lmdb_dir, "%s/lmdb", l.dir);
    snprintf(l.wal_dir, sizeof l.wal_dir, "%s/wal", l.dir);
    logs_open(&l);
    static struct model m, durable;
    memset(&m, 0, sizeof m);
    memset(&durable, 0, sizeof durable);
    int bad = -1;
    for (int s = 0; s < steps && bad < 0; s++) {
        log_step(&l, &m, &durable, rng, plant);
        bool lmdb_ok = log_agrees(l.lmdb, &m), wal_ok = log_agrees(l.wal, &m);
        if (!lmdb_ok || !wal_ok) bad = s;
    }
    logs_close(&l);
    count_segments(l.wal_dir);
    cs_test_rmtree(l.dir);
    return bad;
}

CS_TEST(log_stores_match_model)
{
    uint64_t seeds = cs_test_seeds(6);
    for (uint64_t i = 0; i < seeds; i++) {
        int bad = log_run(cs_test_seed() + i, 500, PLANT_NONE);
        CS_CHECK_MSG(bad < 0, "stores and model disagree at step %d", bad);
    }
    CS_CHECK_MSG(rolled_ > 0 && collected_ > 0, "rolled over %llu, collected %llu",
                 (unsigned long long)rolled_, (unsigned long long)collected_);
}

CS_TEST(log_comparison_catches_planted_bugs)
{
    for (int p = PLANT_NO_SUFFIX_DROP; p <= PLANT_KEEP_UNSYNCED; p++) {
        bool caught = false;
        for (uint64_t i = 0; i < 10 && !caught; i++)
            caught = log_run(cs_test_seed() + 7000 + i, 150, (enum planted)p) >= 0;
        CS_CHECK_MSG(caught, "planted bug %d not caught", p);
    }
}

/* --- key-value: cs_store, the sim disk and a map ---------------------------- */

#define KEYS    24
#define VAL_MAX 16

struct kv_model {
    bool has[KEYS];
    uint8_t len[KEYS];
    uint8_t val[KEYS][VAL_MAX];
};

static uint8_t keys_[KEYS][512];
static size_t key_lens_[KEYS];

/* Short keys, keys around the inline limit and long keys (distinct prefixes, so
 * the store's order is exact memcmp order), all within the sim disk's limit. */
static void keys_make(struct cs_rng *rng)
{
    static const size_t lens[] = {1, 2, 3, 8, 479, 480, 481, 490, 511, 512};
    for (int i = 0; i < KEYS; i++) {
        key_lens_[i] = lens[cs_rng_below(rng, 10)];
        for (size_t j = 0; j < key_lens_[i]; j++)
            keys_[i][j] = (uint8_t)('a' + cs_rng_below(rng, 2));
        if (key_lens_[i] > 2) keys_[i][key_lens_[i] > 300 ? 300 : 1] = (uint8_t)i; /* distinct */
    }
}

static int key_index(const uint8_t *k, size_t kl)
{
    for (int i = 0; i < KEYS; i++)
        if (kl == key_lens_[i] && memcmp(k, keys_[i], kl) == 0) return i;
    return -1;
}

static int key_cmp(int a, int b)
{
    size_t al = key_lens_[a], bl = key_lens_[b];
    int c = memcmp(keys_[a], keys_[b], al < bl ? al : bl);
    return c != 0 ? c : (al > bl) - (al < bl);
}

/* The model's keys in order, as indexes. */
static int model_order(const struct kv_model *m, int *out)
{
    int n = 0;
    for (int i = 0; i < KEYS; i++) {
        if (!m->has[i]) continue;
        bool dup = false;
        for (int j = 0; j < i && !dup; j++)
            dup = m->has[j] && key_cmp(i, j) == 0;
        if (dup) continue;
        int at = n++;
        while (at > 0 && key_cmp(out[at - 1], i) > 0) {
            out[at] = out[at - 1];
            at--;
        }
        out[at] = i;
    }
    return n;
}

static bool kv_agrees(struct cs_store_txn *t, struct cs_sim_disk *disk, const struct kv_model *m)
{
    int order[KEYS];
    int n = model_order(m, order);
    const uint8_t *k = NULL, *v;
    size_t kl = 0, vl;
    int seen = 0;
    while (cs_store_next(t, CS_STORE_DB_DATA, k, kl, false, &k, &kl, &v, &vl) == 0) {
        if (seen >= n || key_index(k, kl) < 0 || key_cmp(key_index(k, kl), order[seen]) != 0)
            return false;
        int i = order[seen];
        if (vl != m->len[i] || memcmp(v, m->val[i], vl) != 0) return false;
        seen++;
    }
    if (seen != n) return false;
    seen = 0;
    const uint8_t *after = NULL;
    size_t after_len = 0;
    while (cs_sim_disk_next(disk, after, after_len, &k, &kl, &v, &vl) == 0) {
        if (seen >= n || key_index(k, kl) < 0 || key_cmp(key_index(k, kl), order[seen]) != 0)
            return false;
        int i = order[seen];
        if (vl != m->len[i] || memcmp(v, m->val[i], vl) != 0) return false;
        after = k;
        after_len = kl;
        seen++;
    }
    return seen == n && cs_sim_disk_len(disk) == (size_t)n;
}

static int kv_run(uint64_t seed, int steps, enum planted plant)
{
    cs_test_seed_set(seed);
    struct cs_rng *rng = cs_test_rng();
    keys_make(rng);
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/cs_store_propkv_XXXXXX");
    CS_CHECK(mkdtemp(dir) != NULL);
    struct cs_store_options so = {.dir = dir};
    struct cs_store *store;
    CS_CHECK_OK(cs_store_open(&so, &store));
    struct cs_sim_disk *disk;
    struct cs_sim_disk_limits limits = {0};
    CS_CHECK_OK(cs_sim_disk_create(&limits, &disk));
    struct cs_store_txn *t;
    CS_CHECK_OK(cs_store_txn_begin(store, false, &t));
    struct kv_model m = {0}, durable = {0};
    int bad = -1;
    for (int s = 0; s < steps && bad < 0; s++) {
        int i = (int)cs_rng_below(rng, KEYS);
        uint64_t op = cs_rng_below(rng, 100);
        if (op < 50) {
            uint8_t len = (uint8_t)cs_rng_below(rng, VAL_MAX + 1);
            uint8_t val[VAL_MAX];
            for (int k = 0; k < len; k++)
                val[k] = (uint8_t)cs_rng_u64(rng);
            CS_CHECK_OK(cs_store_put(t, CS_STORE_DB_DATA, keys_[i], key_lens_[i], val, len));
            CS_CHECK_OK(cs_sim_disk_put(disk, keys_[i], key_lens_[i], val, len));
            for (int j = 0; j < KEYS; j++) /* equal keys drawn twice share one slot */
                if (key_cmp(i, j) == 0) {
                    m.has[j] = j == i;
                    m.len[j] = len;
                    memcpy(m.val[j], val, len);
                }
        } else if (op < 70) {
            int want = CS_ENOTFOUND;
            for (int j = 0; j < KEYS; j++)
                if (m.has[j] && key_cmp(i, j) == 0) want = 0;
            CS_CHECK_RC(cs_store_del(t, CS_STORE_DB_DATA, keys_[i], key_lens_[i]), want);
            CS_CHECK_RC(cs_sim_disk_del(disk, keys_[i], key_lens_[i]), want);
            for (int j = 0; j < KEYS; j++)
                if (key_cmp(i, j) == 0) m.has[j] = false;
        } else if (op < 88) { /* sync */
            CS_CHECK_OK(cs_store_commit(t));
            CS_CHECK_OK(cs_store_txn_begin(store, false, &t));
            cs_sim_disk_make_durable(disk, cs_sim_disk_mark(disk));
            durable = m;
        } else {                   /* crash */
            cs_store_close(store); /* the open transaction is lost */
            CS_CHECK_OK(cs_store_open(&so, &store));
            CS_CHECK_OK(cs_store_txn_begin(store, false, &t));
            cs_sim_disk_crash(disk, NULL, 0);
            if (plant != PLANT_KEEP_UNSYNCED) m = durable;
        }
        if (!kv_agrees(t, disk, &m)) bad = s;
    }
    cs_store_abort(t);
    cs_store_close(store);
    cs_sim_disk_destroy(disk);
    cs_test_rmtree(dir);
    return bad;
}

CS_TEST(kv_store_and_sim_disk_match_model)
{
    uint64_t seeds = cs_test_seeds(6);
    for (uint64_t i = 0; i < seeds; i++) {
        int bad = kv_run(cs_test_seed() + 100 + i, 300, PLANT_NONE);
        CS_CHECK_MSG(bad < 0, "kv store, sim disk and model disagree at step %d", bad);
    }
}

CS_TEST(kv_comparison_catches_planted_bug)
{
    bool caught = false;
    for (uint64_t i = 0; i < 10 && !caught; i++)
        caught = kv_run(cs_test_seed() + 9000 + i, 300, PLANT_KEEP_UNSYNCED) >= 0;
    CS_CHECK(caught);
}

CS_TEST_MAIN(CS_CASE(log_stores_match_model), CS_CASE(log_comparison_catches_planted_bugs),
             CS_CASE(kv_store_and_sim_disk_match_model), CS_CASE(kv_comparison_catches_planted_bug))
