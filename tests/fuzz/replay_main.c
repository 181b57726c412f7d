/* replay_main.c - the main() a fuzz driver is linked with when it is not built with libFuzzer:
 * runs LLVMFuzzerTestOneInput once per file, so ctest replays every corpus with any compiler.
 *
 *   fuzz_<target> PATH...   PATH is a file or a directory (its regular files, in name order;
 *                           names starting with '.' are skipped). Arguments starting with '-'
 *                           are ignored, so a libFuzzer command line (-runs=0 DIR) works too.
 *
 * Each input is passed in a heap buffer of exactly its size, so an ASan build (-DPG_SANITIZE=ON)
 * reports a one-byte overread as libFuzzer would. Exits 0 when every input ran and there was at
 * least one; a crash or a failed FUZZ_CHECK aborts.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    unsigned char *buf;
    size_t n;

    if (!f || fstat(fileno(f), &st) < 0) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    n = (size_t)st.st_size;
    buf = malloc(n ? n : 1);
    if (!buf || fread(buf, 1, n, f) != n) {
        fprintf(stderr, "replay: %s: short read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

/* Runs every regular file of dir; returns how many, or -1. */
static long run_dir(const char *dir)
{
    struct dirent **ents;
    long ran = 0;
    int n = scandir(dir, &ents, NULL, alphasort);

    if (n < 0) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        if (ents[i]->d_name[0] != '.' &&
            snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name) < (int)sizeof path &&
            stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (run_file(path) < 0)
                ran = -1;
            else if (ran >= 0)
                ran++;
        }
        free(ents[i]);
    }
    free(ents);
    return ran;
}

int main(int argc, char **argv)
{
    long total = 0;
    int rc = 0;

    for (int i = 1; i < argc; i++) {
        struct stat st;
        long ran;
        if (argv[i][0] == '-')
            continue;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
            rc = 1;
            continue;
        }
        ran = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
        if (ran < 0)
            rc = 1;
        else
            total += ran;
        printf("replay: %s: %ld input(s)\n", argv[i], ran < 0 ? 0 : ran);
    }
    if (total == 0) {
        fprintf(stderr, "replay: no inputs (usage: %s FILE_OR_DIR...)\n", argv[0]);
        rc = 1;
    }
    return rc;
}
