/* The lab's deterministic workload: the same instructions every run (no I/O, no
 * time, no allocation in the loop), split 3:1 between two functions so a profile
 * has rows whose shares are known: hot_main ~75%, hot_side ~25% of user time.
 * usage: lab_loop [ITERATIONS]   (default 20,000,000) */
#include <stdlib.h>

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long hot_main(unsigned long n) {
    unsigned long x = 1;
    for (unsigned long i = 0; i < 3 * n; i++) x = x * 6364136223846793005ul + i;
    return x;
}

__attribute__((noinline)) static unsigned long hot_side(unsigned long n) {
    unsigned long x = 7;
    for (unsigned long i = 0; i < n; i++) x = x * 2862933555777941757ul + (i ^ x);
    return x;
}

int main(int argc, char **argv) {
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 20000000ul;
    sink = hot_main(n) ^ hot_side(n);
    return 0;
}
