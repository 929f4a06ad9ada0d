/*
 * replay_main.c: runs a libFuzzer target without libFuzzer, for ctest.
 *
 * Feeds the target every file of its seed corpus, then a bounded number of
 * deterministic mutations of each (truncations, bit flips, byte runs, splices)
 * from a fixed seed, so the sanitizer build exercises the decoder's error
 * paths on every `make test`. `make fuzz` runs the real coverage-guided
 * fuzzer on the same target.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "consist/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_FILE_BYTES_MAX (1u << 20)
#define REPLAY_FILES_MAX      4096
#define REPLAY_MUTATIONS      300

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    uint8_t *data = malloc(REPLAY_FILE_BYTES_MAX);
    if (data == NULL) {
        fclose(f);
        return NULL;
    }
    *len = fread(data, 1, REPLAY_FILE_BYTES_MAX, f);
    fclose(f);
    return data;
}

static void run_copy(const uint8_t *data, size_t len)
{
    /* An exact-size heap copy, so ASan sees any read past the end. */
    uint8_t *copy = malloc(len ? len : 1);
    if (copy == NULL) abort();
    if (len) memcpy(copy, data, len);
    LLVMFuzzerTestOneInput(copy, len);
    free(copy);
}

static void mutate_and_run(struct cs_rng *rng, const uint8_t *data, size_t len)
{
    uint8_t *work = malloc(len + 64);
    if (work == NULL) abort();
    for (int m = 0; m < REPLAY_MUTATIONS; m++) {
        memcpy(work, data, len);
        size_t n = len;
        switch (cs_rng_below(rng, 5)) {
        case 0: /* truncate */
            n = len ? (size_t)cs_rng_below(rng, len) : 0;
            break;
        case 1: /* flip bits */
            for (int k = 0; k < 4 && n; k++) {
                work[cs_rng_below(rng, n)] ^= (uint8_t)(1u << cs_rng_below(rng, 8));
            }
            break;
        case 2: /* overwrite a byte with an extreme value */
            if (n) work[cs_rng_below(rng, n)] = cs_rng_chance(rng, 1, 2) ? 0xff : 0x00;
            break;
        case 3: /* append random bytes */
        {
            size_t extra = (size_t)cs_rng_below(rng, 64);
            for (size_t k = 0; k < extra; k++) {
                work[n + k] = (uint8_t)cs_rng_u64(rng);
            }
            n += extra;
            break;
        }
        default: /* random bytes over a random span */
            if (n) {
                size_t at = (size_t)cs_rng_below(rng, n);
                size_t span = (size_t)cs_rng_range(rng, 1, n - at);
                for (size_t k = 0; k < span; k++) {
                    work[at + k] = (uint8_t)cs_rng_u64(rng);
                }
            }
            break;
        }
        run_copy(work, n);
    }
    free(work);
}

static int run_path(const char *path, struct cs_rng *rng, int *files)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return -1;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        if (dir == NULL) return -1;
        struct dirent *e;
        while ((e = readdir(dir)) != NULL && *files < REPLAY_FILES_MAX) {
            if (e->d_name[0] == '.') continue;
            char child[4096];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            if (run_path(child, rng, files) != 0) {
                closedir(dir);
                return -1;
            }
        }
        closedir(dir);
        return 0;
    }
    size_t len = 0;
    uint8_t *data = read_file(path, &len);
    if (data == NULL) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    run_copy(data, len);
    mutate_and_run(rng, data, len);
    free(data);
    (*files)++;
    return 0;
}

int main(int argc, char **argv)
{
    struct cs_rng rng;
    cs_rng_init(&rng, 1);
    int files = 0;
    for (int i = 1; i < argc; i++) {
        if (run_path(argv[i], &rng, &files) != 0) return 1;
    }
    run_copy(NULL, 0);
    if (files == 0) {
        fprintf(stderr, "replay: no corpus files found\n");
        return 1;
    }
    printf("replayed %d corpus files with %d mutations each\n", files, REPLAY_MUTATIONS);
    return 0;
}
