// Two named hot functions doing work in a 3:1 ratio, for comparing profiles:
// work_three_quarters() should take ~75% of the samples, work_one_quarter() ~25%.
// Built with frame pointers and without inlining so call chains and symbols are exact.
// Usage: hot_split SECONDS [ROUNDS]   (with ROUNDS: exactly that much work, whatever the time)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

// Each does its own loop (no shared helper), so self time lands in the named function.
__attribute__((noinline)) void work_three_quarters(void) {
    unsigned long x = 1;
    for (unsigned long i = 0; i < 600000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
    sink += x;
}
__attribute__((noinline)) void work_one_quarter(void) {
    unsigned long x = 3;
    for (unsigned long i = 0; i < 200000; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
    sink += x;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 2;
    long rounds = argc > 2 ? atol(argv[2]) : 0;
    struct timespec s, n;
    if (rounds > 0) {
        // Fixed work; the time it took is printed so a profiler's own start-up is not counted.
        clock_gettime(CLOCK_MONOTONIC, &s);
        for (long r = 0; r < rounds; r++) { work_three_quarters(); work_one_quarter(); }
        clock_gettime(CLOCK_MONOTONIC, &n);
        fprintf(stderr, "hot_split: %.3f ms\n", (n.tv_sec - s.tv_sec) * 1e3 + (n.tv_nsec - s.tv_nsec) / 1e6);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &s);
    do {
        work_three_quarters();
        work_one_quarter();
        clock_gettime(CLOCK_MONOTONIC, &n);
    } while ((n.tv_sec - s.tv_sec) + (n.tv_nsec - s.tv_nsec) / 1e9 < seconds);
    return 0;
}
