#ifndef CUNWIND_H
#define CUNWIND_H
#include <stddef.h>
#include <stdint.h>
/// DWARF call-frame unwinding of a sampled user stack (perf record --call-graph dwarf)
/// with elfutils' libdwfl, as perf's util/unwind-libdw.c does: the sample's user
/// registers are the first frame, its copy of the stack is the memory, the mapped ELF
/// files (their .eh_frame / .debug_frame, or separate debug files) are the unwind tables.

/// One mapping of the process: [start, end) maps `path` from file offset `pgoff`.
struct cuw_mapping {
    const char *path;
    uint64_t start, end, pgoff;
    int is_code;   // 0: a data mapping (readable for memory, never a module)
};
/// The mapping containing `address` for the process being unwound (0 when none).
typedef int (*cuw_find_mapping)(void *context, uint64_t address, struct cuw_mapping *out);

/// A process's unwinding state (its reported modules), kept across its samples.
typedef struct cuw_process cuw_process;

enum { CUW_MACHINE_X86_64 = 62, CUW_MACHINE_AARCH64 = 183 };

cuw_process *cuw_process_create(int machine, int pid, cuw_find_mapping find, void *context);
void cuw_process_free(cuw_process *p);

/// Unwinds one sample of thread `tid`: `regs[i]` is perf's user register number i (as
/// many as the architecture has: 24 on x86-64, 33 on arm64), `stack` the copy of the
/// stack from the sampled stack pointer. Writes at most `max` addresses to `ips`
/// (the first the sampled pc; callers' return addresses minus one, as perf stores
/// them). Returns how many, and in *error why unwinding stopped early (NULL when it
/// reached the outermost frame).
int cuw_unwind(cuw_process *p, int tid, const uint64_t *regs, size_t nregs, const uint8_t *stack, size_t stack_size,
               uint64_t *ips, int max, const char **error);
#endif
