#include "CUnwind.h"
#include <elfutils/libdwfl.h>
#include <dwarf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/// Mapping names come from the recording (untrusted): only a regular file is opened,
/// without blocking (a FIFO named there must not hang report, /dev/zero must not be read).
static int open_regular(const char *path) {
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) { close(fd); return -1; }
    return fd;
}

struct cuw_process {
    Dwfl *dwfl;
    int machine;
    int pid;
    int attached;
    cuw_find_mapping find;
    void *context;
    // The sample being unwound (set by cuw_unwind, read by the callbacks).
    const uint64_t *regs;
    size_t nregs;
    const uint8_t *stack;
    size_t stack_size;
    uint64_t sp;
};

static char *debuginfo_path = NULL;
static const Dwfl_Callbacks offline_callbacks = {
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .debuginfo_path = &debuginfo_path,
    .section_address = dwfl_offline_section_address,
};

/// Reports the file mapped at `address` as a module (once), as perf's report_module:
/// the module's load bias is the mapping's start minus its file offset.
static int report_module(struct cuw_process *p, uint64_t address) {
    if (dwfl_addrmodule(p->dwfl, address)) return 1;
    struct cuw_mapping m;
    if (!p->find(p->context, address, &m) || !m.path || !m.is_code) return 0;
    int fd = open_regular(m.path);
    if (fd < 0) return 0;
    dwfl_report_begin_add(p->dwfl);
    // On success the module owns the fd (closed by dwfl_end); on failure libdwfl leaves a
    // caller's fd open.
    Dwfl_Module *mod = dwfl_report_elf(p->dwfl, m.path, m.path, fd, m.start - m.pgoff, false);
    if (!mod) close(fd);
    dwfl_report_end(p->dwfl, NULL, NULL);
    return mod != NULL;
}

static pid_t next_thread(Dwfl *dwfl, void *arg, void **thread_argp) {
    if (*thread_argp != NULL) return 0;
    *thread_argp = arg;
    return dwfl_pid(dwfl);
}

/// Any thread of the process: its registers and stack are the current sample's.
static bool get_thread(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp) {
    (void)dwfl; (void)tid;
    *thread_argp = arg;
    return true;
}

/// Stack words from the sample's copy; anything else from the mapped file (perf's
/// access_dso_mem), never from this machine's memory.
static bool memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg) {
    (void)dwfl;
    struct cuw_process *p = arg;
    if (addr + sizeof(Dwarf_Word) < addr) return false;
    if (addr >= p->sp && addr - p->sp <= p->stack_size && p->stack_size - (addr - p->sp) >= sizeof(Dwarf_Word)) {
        memcpy(result, p->stack + (addr - p->sp), sizeof(Dwarf_Word));
        return true;
    }
    struct cuw_mapping m;
    if (!p->find(p->context, addr, &m) || !m.path || addr < m.start || addr - m.start > UINT64_MAX - m.pgoff) return false;
    int fd = open_regular(m.path);
    if (fd < 0) return false;
    ssize_t n = pread(fd, result, sizeof(Dwarf_Word), (off_t)(addr - m.start + m.pgoff));
    close(fd);
    return n == (ssize_t)sizeof(Dwarf_Word);
}

static uint64_t reg(const struct cuw_process *p, size_t i) { return i < p->nregs ? p->regs[i] : 0; }

/// perf's register numbers (arch/*/include/uapi/asm/perf_regs.h) to DWARF's.
static bool set_initial_registers(Dwfl_Thread *thread, void *arg) {
    struct cuw_process *p = arg;
    Dwarf_Word dwarf[32];
    if (p->machine == CUW_MACHINE_X86_64) {
        // perf: AX BX CX DX SI DI BP SP IP FLAGS CS SS DS ES FS GS R8..R15 (0..23).
        // DWARF: rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip (0..16).
        const int from[17] = {0, 3, 2, 1, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8};
        for (int i = 0; i < 17; i++) dwarf[i] = reg(p, from[i]);
        return dwfl_thread_state_registers(thread, 0, 17, dwarf);
    }
    // arm64: perf X0..X30, SP, PC (0..32); DWARF x0..x30, sp (0..31), the pc apart.
    for (int i = 0; i < 32; i++) dwarf[i] = reg(p, i);
    if (!dwfl_thread_state_registers(thread, 0, 32, dwarf)) return false;
    dwfl_thread_state_register_pc(thread, reg(p, 32));
    return true;
}

static const Dwfl_Thread_Callbacks thread_callbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
};

cuw_process *cuw_process_create(int machine, int pid, cuw_find_mapping find, void *context) {
    if (machine != CUW_MACHINE_X86_64 && machine != CUW_MACHINE_AARCH64) return NULL;
    struct cuw_process *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->dwfl = dwfl_begin(&offline_callbacks);
    if (!p->dwfl) { free(p); return NULL; }
    p->machine = machine;
    p->pid = pid > 0 ? pid : 1;
    p->find = find;
    p->context = context;
    return p;
}

void cuw_process_free(cuw_process *p) {
    if (!p) return;
    dwfl_end(p->dwfl);
    free(p);
}

struct unwind_call { uint64_t *ips; int count, max; struct cuw_process *p; };

static int frame_callback(Dwfl_Frame *state, void *arg) {
    struct unwind_call *u = arg;
    Dwarf_Addr pc;
    bool activation;
    if (!dwfl_frame_pc(state, &pc, NULL)) return DWARF_CB_ABORT;
    // The module must be known before libdwfl is asked whether this is an activation
    // (its CFI says so), as perf reports it in its frame callback.
    report_module(u->p, pc);
    if (!dwfl_frame_pc(state, &pc, &activation)) return DWARF_CB_ABORT;
    // A return address points after the call: the call itself is one byte before.
    u->ips[u->count++] = activation ? pc : pc - 1;
    return u->count < u->max ? DWARF_CB_OK : DWARF_CB_ABORT;
}

int cuw_unwind(cuw_process *p, int tid, const uint64_t *regs, size_t nregs, const uint8_t *stack, size_t stack_size,
               uint64_t *ips, int max, const char **error) {
    *error = NULL;
    if (!p || max <= 0) { *error = "no unwinder"; return 0; }
    p->regs = regs;
    p->nregs = nregs;
    p->stack = stack;
    p->stack_size = stack_size;
    p->sp = reg(p, p->machine == CUW_MACHINE_X86_64 ? 7 : 31);
    uint64_t pc = reg(p, p->machine == CUW_MACHINE_X86_64 ? 8 : 32);
    if (!report_module(p, pc)) { *error = "the sampled address is in no mapped file"; ips[0] = pc; return 1; }
    if (!p->attached) {
        // The architecture comes from the first module's ELF.
        if (!dwfl_attach_state(p->dwfl, NULL, p->pid, &thread_callbacks, p)) { *error = dwfl_errmsg(-1); ips[0] = pc; return 1; }
        p->attached = 1;
    }
    struct unwind_call u = { ips, 0, max, p };
    int r = dwfl_getthread_frames(p->dwfl, tid > 0 ? tid : p->pid, frame_callback, &u);
    if (u.count == 0) { ips[0] = pc; u.count = 1; }
    if (r == -1 && u.count < max) {
        // libdwfl ends some complete unwinds with an error too (its own documentation):
        // only a stop before the outermost frame's caller is worth saying.
        int e = dwfl_errno();
        if (e != 0) *error = dwfl_errmsg(e);
    }
    return u.count;
}
