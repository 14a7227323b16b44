// Call chains a frame-pointer unwinder cannot follow: built with -fomit-frame-pointer
// (see build.sh), recursion DEPTH deep (argv[2], default 40), time split between a leaf
// in the executable (2/3) and one in a shared library (1/3), for ROUNDS (argv[1]).
#include <stdio.h>
#include <stdlib.h>

unsigned long lib_work(unsigned long n);
volatile unsigned long sink;

__attribute__((noinline)) unsigned long leaf_spin(unsigned long n) {
    unsigned long x = n;
    for (unsigned long i = 0; i < n; i++) x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
}

__attribute__((noinline)) unsigned long recurse(int depth, unsigned long n) {
    if (depth == 0) return leaf_spin(2 * n) + lib_work(n);
    unsigned long r = recurse(depth - 1, n);
    sink = r;   // work after the call: no tail call, every level stays a frame
    return r + (unsigned long)depth;
}

int main(int argc, char **argv) {
    long rounds = argc > 1 ? atol(argv[1]) : 200;
    int depth = argc > 2 ? atoi(argv[2]) : 40;
    for (long i = 0; i < rounds; i++) sink += recurse(depth, 200000);
    printf("%lu\n", sink);
    return 0;
}
