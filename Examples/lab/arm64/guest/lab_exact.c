/* The lab's exact-count workload: freestanding (no libc, no dynamic loader), so its
 * user-mode instruction count does not depend on the environment, the argument list
 * or the stack layout: it is the same under any tool that starts it. (A glibc program
 * is not: perf adds PATH=/usr/lib/perf-core:..., PERF_BUILDID_DIR and PREFIX to its
 * workload's environment, and ld.so's walk over a longer environment costs ~400 more
 * user instructions.)
 * build: gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -o lab_exact lab_exact.c */
#define ITERATIONS 2000000UL

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long work(unsigned long n) {
    unsigned long x = 1;
    for (unsigned long i = 0; i < n; i++) x = x * 6364136223846793005ul + (i ^ (x >> 7));
    return x;
}

__attribute__((noreturn)) void _start(void) {
    sink = work(ITERATIONS);
#if defined(__aarch64__)
    register long x0 __asm__("x0") = 0;
    register long x8 __asm__("x8") = 93;   /* exit */
    __asm__ volatile("svc 0" : : "r"(x0), "r"(x8) : "memory");
#elif defined(__x86_64__)
    __asm__ volatile("syscall" : : "a"(60), "D"(0) : "memory");
#endif
    for (;;) {}
}
