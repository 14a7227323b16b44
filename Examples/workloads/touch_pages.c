// Touches N MiB of fresh anonymous memory, one write per 4 KiB page, with transparent
// huge pages turned off for the mapping: a deterministic page-fault count (N*256 minor
// faults plus the program's own start-up), used to compare stallstat with perf stat.
// Usage: touch_pages MIB [spin_ms]   (both may be fractional, so a run can be made exactly 3% larger)
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

int main(int argc, char **argv) {
    double mib = argc > 1 ? strtod(argv[1], NULL) : 64;
    double spin_ms = argc > 2 ? strtod(argv[2], NULL) : 0;
    size_t len = ((size_t)(mib * 1048576) + 4095) & ~(size_t)4095;
    if (len == 0) len = 4096;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); return 1; }
    madvise(p, len, MADV_NOHUGEPAGE);
    for (size_t off = 0; off < len; off += 4096) p[off] = (char)off;
    // Optional CPU-bound phase for task-clock comparisons.
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    volatile unsigned long x = 0;
    if (spin_ms > 0) {
        do {
            for (int i = 0; i < 100000; i++) x += i;
            clock_gettime(CLOCK_MONOTONIC, &now);
        } while ((now.tv_sec - start.tv_sec) * 1e3 + (now.tv_nsec - start.tv_nsec) / 1e6 < spin_ms);
    }
    munmap(p, len);
    return (int)(x & 0);
}
