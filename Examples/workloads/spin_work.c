// A deterministic amount of CPU work: ITERATIONS turns of a loop the compiler cannot
// remove, no system calls. `spin_work 1001000` does exactly 0.1% more work than
// `spin_work 1000000`: the gate's detection benchmarks and tests use it.
// Usage: spin_work ITERATIONS
#include <stdlib.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    volatile unsigned long sum = 0;
    for (long i = 0; i < n; i++) sum += (unsigned long)i * 2654435761u;
    return 0;
}
