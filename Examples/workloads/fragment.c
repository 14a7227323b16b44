// Fragments physical memory: maps MIB of anonymous memory with THP off, touches every
// 4 KiB page, then returns every other page to the kernel (MADV_DONTNEED), so the free
// lists fill with order-0 holes between pinned pages and high orders run short. Holds
// that state for HOLD seconds, then optionally tries to fault in huge pages (THP_MIB,
// MADV_HUGEPAGE) to show compaction at work.
// Usage: fragment MIB HOLD_SECONDS [THP_MIB]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    double hold = argc > 2 ? atof(argv[2]) : 5;
    size_t thp_mib = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
    size_t len = mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_NOHUGEPAGE);
    for (size_t off = 0; off < len; off += 4096) p[off] = 1;
    for (size_t off = 0; off < len; off += 8192) madvise(p + off, 4096, MADV_DONTNEED);
    fprintf(stderr, "fragment: %zu MiB touched, every other page freed; holding %.1f s\n", mib, hold);
    usleep((useconds_t)(hold * 1e6 / 2));
    if (thp_mib) {
        size_t tlen = thp_mib << 20;
        char *h = mmap(NULL, tlen + (2u << 20), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (h == MAP_FAILED) { perror("mmap"); return 1; }
        char *aligned = (char *)(((unsigned long)h + (2u << 20) - 1) & ~((2ul << 20) - 1));
        madvise(aligned, tlen, MADV_HUGEPAGE);
        for (size_t off = 0; off < tlen; off += 4096) aligned[off] = 1;
        fprintf(stderr, "fragment: faulted %zu MiB with MADV_HUGEPAGE\n", thp_mib);
    }
    usleep((useconds_t)(hold * 1e6 / 2));
    return 0;
}
