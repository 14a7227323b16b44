// Calls two tiny libc functions through the PLT in a loop, so PLT stubs get samples.
// Built with -fno-builtin (else labs/abs are inlined). Usage: plt_calls [N]
#include <stdlib.h>
#include <stdio.h>
int main(int argc, char **argv) { long s = 0; long n = argc > 1 ? atol(argv[1]) : 300000000; for (long i = 0; i < n; i++) s += labs(i - 5) + abs((int)i); printf("%ld\n", s); return 0; }
