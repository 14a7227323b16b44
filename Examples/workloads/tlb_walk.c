// TLB-bound: random reads over a large array, so nearly every access needs a page
// walk when the array is mapped with 4 KiB pages, and far fewer with 2 MiB pages.
// Usage: tlb_walk MIB SECONDS huge|nohuge
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    double seconds = argc > 2 ? atof(argv[2]) : 5;
    int huge = argc > 3 && strcmp(argv[3], "huge") == 0;
    size_t len = mib << 20;
    uint8_t *raw = mmap(NULL, len + (2u << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (raw == MAP_FAILED) { perror("mmap"); return 1; }
    uint8_t *a = (uint8_t *)(((uintptr_t)raw + (2u << 20) - 1) & ~(uintptr_t)((2u << 20) - 1));
    if (madvise(a, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0) perror("madvise");
    for (size_t off = 0; off < len; off += 4096) a[off] = (uint8_t)off;
    uint64_t x = 88172645463325252ull, sum = 0, reads = 0;
    double end = now() + seconds;
    while (now() < end) {
        for (int i = 0; i < 1 << 16; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;   // xorshift: a new page almost every read
            sum += a[x % len];
        }
        reads += 1 << 16;
    }
    fprintf(stderr, "tlb_walk: %s pages, %zu MiB, %.1f M random reads/s (checksum %u)\n",
            huge ? "huge" : "4 KiB", mib, reads / seconds / 1e6, (unsigned)(sum & 0xff));
    return 0;
}
