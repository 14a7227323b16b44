// Runs a command where perf_event_open is refused, as in a container under Docker's
// default seccomp profile (EPERM) or on a kernel with Debian's perf_event_paranoid 3
// (EACCES): a seccomp filter answers that one system call with ERRNO, and lets the rest
// through. For testing `--counters=auto` without changing the machine.
// Usage: deny_perf_events [eperm|eacces|enosys] -- CMD [ARGS...]
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int err = EACCES, i = 1;
    if (i < argc && strcmp(argv[i], "eperm") == 0) { err = EPERM; i++; }
    else if (i < argc && strcmp(argv[i], "eacces") == 0) { err = EACCES; i++; }
    else if (i < argc && strcmp(argv[i], "enosys") == 0) { err = ENOSYS; i++; }
    if (i < argc && strcmp(argv[i], "--") == 0) i++;
    if (i >= argc) { fprintf(stderr, "usage: %s [eperm|eacces|enosys] -- CMD [ARGS...]\n", argv[0]); return 2; }
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_perf_event_open, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = { .len = sizeof filter / sizeof filter[0], .filter = filter };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("seccomp");
        return 2;
    }
    execvp(argv[i], argv + i);
    perror(argv[i]);
    return 127;
}
