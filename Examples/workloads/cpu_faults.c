// A CPU- and fault-heavy workload for overhead benchmarks: ROUNDS times, map 16 MiB,
// touch every page, sum it, unmap. Usage: cpu_faults [ROUNDS]
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

int main(int argc, char **argv) {
    int rounds = argc > 1 ? atoi(argv[1]) : 200;
    size_t len = 16u << 20;
    unsigned long sum = 0;
    for (int r = 0; r < rounds; r++) {
        unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) { perror("mmap"); return 1; }
        madvise(p, len, MADV_NOHUGEPAGE);
        for (size_t off = 0; off < len; off += 4096) p[off] = (unsigned char)(off >> 12);
        for (size_t i = 0; i < len; i += 64) sum += p[i] * 31u + (sum >> 3);
        munmap(p, len);
    }
    printf("%lu\n", sum & 0xff);
    return 0;
}
