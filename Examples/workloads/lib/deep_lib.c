// A shared library for the call-chain tests: its frames must be found through the
// library's own unwind tables (built without frame pointers).
volatile unsigned long deep_lib_sink;

__attribute__((noinline)) static unsigned long lib_inner(unsigned long n) {
    unsigned long x = n;
    for (unsigned long i = 0; i < n; i++) x = x * 6364136223846793005UL + 1442695040888963407UL;
    return x;
}

__attribute__((noinline)) unsigned long lib_work(unsigned long n) {
    unsigned long r = lib_inner(n);
    deep_lib_sink = r;
    return r + 1;
}
