#define _GNU_SOURCE
#include "CPerfEvent.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

size_t cpe_attr_size(void) { return sizeof(struct perf_event_attr); }

static void fill_attr(const struct cpe_attr *a, struct perf_event_attr *pe) {
    memset(pe, 0, sizeof(*pe));
    pe->size = sizeof(*pe);
    pe->type = a->type;
    pe->config = a->config;
    pe->config1 = a->config1;
    pe->config2 = a->config2;
    pe->sample_period = a->sample_period_or_freq;
    pe->sample_type = a->sample_type;
    pe->read_format = a->read_format;
    pe->wakeup_events = a->wakeup_events;
    pe->sample_max_stack = a->sample_max_stack;
    pe->sample_regs_user = a->sample_regs_user;
    pe->sample_stack_user = a->sample_stack_user;
    uint64_t f = a->flags;
    pe->disabled = !!(f & CPE_DISABLED);
    pe->inherit = !!(f & CPE_INHERIT);
    pe->pinned = !!(f & CPE_PINNED);
    pe->exclusive = !!(f & CPE_EXCLUSIVE);
    pe->exclude_user = !!(f & CPE_EXCLUDE_USER);
    pe->exclude_kernel = !!(f & CPE_EXCLUDE_KERNEL);
    pe->exclude_hv = !!(f & CPE_EXCLUDE_HV);
    pe->exclude_idle = !!(f & CPE_EXCLUDE_IDLE);
    pe->mmap = !!(f & CPE_MMAP);
    pe->comm = !!(f & CPE_COMM);
    pe->freq = !!(f & CPE_FREQ);
    pe->enable_on_exec = !!(f & CPE_ENABLE_ON_EXEC);
    pe->task = !!(f & CPE_TASK);
    pe->sample_id_all = !!(f & CPE_SAMPLE_ID_ALL);
    pe->mmap2 = !!(f & CPE_MMAP2);
    pe->comm_exec = !!(f & CPE_COMM_EXEC);
    pe->exclude_guest = !!(f & CPE_EXCLUDE_GUEST);
    pe->exclude_callchain_kernel = !!(f & CPE_EXCLUDE_CALLCHAIN_KERNEL);
    pe->exclude_callchain_user = !!(f & CPE_EXCLUDE_CALLCHAIN_USER);
    pe->mmap_data = !!(f & CPE_MMAP_DATA);
    pe->watermark = !!(f & CPE_WATERMARK);
}

void cpe_attr_bytes(const struct cpe_attr *a, void *out) {
    fill_attr(a, (struct perf_event_attr *)out);
}

int cpe_open(const struct cpe_attr *a, pid_t pid, int cpu, int group_fd, unsigned long flags) {
    struct perf_event_attr pe;
    fill_attr(a, &pe);
    long fd = syscall(SYS_perf_event_open, &pe, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC);
    return fd < 0 ? -errno : (int)fd;
}

int cpe_probe_task_clock(void) {
    struct perf_event_attr pe;
    memset(&pe, 0, sizeof pe);
    pe.size = sizeof pe;
    pe.type = PERF_TYPE_SOFTWARE;
    pe.config = PERF_COUNT_SW_TASK_CLOCK;
    pe.disabled = 1;
    pe.exclude_kernel = 1;   /* what any paranoid level up to 2 lets a user count */
    pe.exclude_hv = 1;
    long fd = syscall(SYS_perf_event_open, &pe, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
    if (fd < 0) return -errno;
    close((int)fd);
    return 0;
}

static int do_ioctl(int fd, unsigned long req, int whole_group) {
    int r = ioctl(fd, req, whole_group ? PERF_IOC_FLAG_GROUP : 0);
    return r < 0 ? -errno : 0;
}
int cpe_enable(int fd, int g) { return do_ioctl(fd, PERF_EVENT_IOC_ENABLE, g); }
int cpe_disable(int fd, int g) { return do_ioctl(fd, PERF_EVENT_IOC_DISABLE, g); }
int cpe_reset(int fd, int g) { return do_ioctl(fd, PERF_EVENT_IOC_RESET, g); }
int cpe_id(int fd, uint64_t *id) {
    int r = ioctl(fd, PERF_EVENT_IOC_ID, id);
    return r < 0 ? -errno : 0;
}

int cpe_set_filter(int fd, const char *filter) {
    int r = ioctl(fd, PERF_EVENT_IOC_SET_FILTER, filter);
    return r < 0 ? -errno : 0;
}

ssize_t cpe_read(int fd, void *buf, size_t len) {
    ssize_t n;
    do { n = read(fd, buf, len); } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

static void stop_signal_set(sigset_t *s) {
    sigemptyset(s);
    sigaddset(s, SIGINT);
    sigaddset(s, SIGTERM);
    sigaddset(s, SIGCHLD);
    sigaddset(s, SIGHUP);
}

int cpe_block_stop_signals(void) {
    sigset_t s;
    stop_signal_set(&s);
    int r = pthread_sigmask(SIG_BLOCK, &s, NULL);
    return r == 0 ? 0 : -r;
}

int cpe_unblock_stop_signals(void) {
    sigset_t s;
    stop_signal_set(&s);
    int r = pthread_sigmask(SIG_UNBLOCK, &s, NULL);
    return r == 0 ? 0 : -r;
}

int cpe_wait_signal(int64_t timeout_ns) {
    sigset_t s;
    stop_signal_set(&s);
    siginfo_t info;
    int r;
    if (timeout_ns < 0) {
        do { r = sigwaitinfo(&s, &info); } while (r < 0 && errno == EINTR);
    } else {
        struct timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
        do { r = sigtimedwait(&s, &info, &ts); } while (r < 0 && errno == EINTR);
        if (r < 0 && errno == EAGAIN) return 0;
    }
    return r < 0 ? -errno : r;
}

int cpe_wait_signal_or_data(int *fds, int nfds, int64_t timeout_ns) {
    static int signal_fd = -1;
    if (signal_fd < 0) {
        sigset_t s;
        stop_signal_set(&s);
        signal_fd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
        if (signal_fd < 0) return cpe_wait_signal(timeout_ns);
    }
    if (nfds < 0 || nfds > 4096) nfds = 0;
    struct pollfd *p = calloc((size_t)nfds + 1, sizeof *p);
    if (!p) return cpe_wait_signal(timeout_ns);
    p[0].fd = signal_fd;
    p[0].events = POLLIN;
    for (int i = 0; i < nfds; i++) { p[i + 1].fd = fds[i]; p[i + 1].events = POLLIN; }
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000LL, .tv_nsec = timeout_ns % 1000000000LL };
    int r;
    do { r = ppoll(p, (nfds_t)nfds + 1, timeout_ns < 0 ? NULL : &ts, NULL); } while (r < 0 && errno == EINTR);
    int result = r < 0 ? -errno : 0;
    for (int i = 0; i < nfds; i++) if (p[i + 1].revents & (POLLHUP | POLLERR)) fds[i] = -1;
    if (r > 0 && (p[0].revents & POLLIN)) {
        struct signalfd_siginfo si;
        if (read(signal_fd, &si, sizeof si) == (ssize_t)sizeof si) result = (int)si.ssi_signo;
    }
    free(p);
    return result;
}

int cpe_spawn_paused(const char *file, char *const argv[], struct cpe_child *child) {
    int gate[2], err[2];
    if (pipe2(gate, O_CLOEXEC) < 0) return -errno;
    if (pipe2(err, O_CLOEXEC) < 0) { int e = errno; close(gate[0]); close(gate[1]); return -e; }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(gate[0]); close(gate[1]); close(err[0]); close(err[1]);
        return -e;
    }
    if (pid == 0) {
        // Child: only async-signal-safe calls from here to exec.
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        close(gate[1]);
        close(err[0]);
        char c;
        ssize_t n;
        do { n = read(gate[0], &c, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(127);   // parent gave up before arming counters
        execvp(file, argv);
        int e = errno;
        ssize_t w = write(err[1], &e, sizeof e);
        (void)w;
        _exit(127);
    }
    close(gate[0]);
    close(err[1]);
    child->pid = pid;
    child->release_fd = gate[1];
    child->error_fd = err[0];
    return 0;
}

int cpe_release_child(struct cpe_child *child) {
    char c = 1;
    ssize_t w;
    do { w = write(child->release_fd, &c, 1); } while (w < 0 && errno == EINTR);
    int werr = w == 1 ? 0 : errno;
    close(child->release_fd);
    child->release_fd = -1;
    if (werr) { close(child->error_fd); child->error_fd = -1; return -werr; }
    int e = 0;
    ssize_t n;
    do { n = read(child->error_fd, &e, sizeof e); } while (n < 0 && errno == EINTR);
    close(child->error_fd);
    child->error_fd = -1;
    return n == (ssize_t)sizeof e ? e : 0;
}

uint64_t cpe_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int cpe_ring_map(int fd, size_t data_pages, struct cpe_ring *ring) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t len = (data_pages + 1) * page;
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) return -errno;
    struct perf_event_mmap_page *meta = p;
    ring->base = p;
    ring->mapped_len = len;
    ring->data_offset = meta->data_offset ? meta->data_offset : page;
    ring->data_size = meta->data_size ? meta->data_size : data_pages * page;
    return 0;
}

void cpe_ring_unmap(struct cpe_ring *ring) {
    if (ring->base) munmap(ring->base, ring->mapped_len);
    ring->base = NULL;
}

size_t cpe_ring_drain(struct cpe_ring *ring, void *out, size_t len) {
    struct perf_event_mmap_page *meta = ring->base;
    // data_head is written by the kernel: read it, then order the data reads after it.
    uint64_t head = __atomic_load_n(&meta->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = meta->data_tail;
    uint64_t avail = head - tail;
    if (avail > len) avail = len;
    const unsigned char *data = (const unsigned char *)ring->base + ring->data_offset;
    size_t size = ring->data_size;
    size_t start = (size_t)(tail % size);
    size_t first = avail < size - start ? (size_t)avail : size - start;
    memcpy(out, data + start, first);
    if (avail > first) memcpy((unsigned char *)out + first, data, (size_t)avail - first);
    // Our reads of the data must complete before the kernel may overwrite it.
    __atomic_store_n(&meta->data_tail, tail + avail, __ATOMIC_RELEASE);
    return (size_t)avail;
}

int cpe_set_output(int fd, int target_fd) {
    int r = ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, target_fd);
    return r < 0 ? -errno : 0;
}

long cpe_find(const void *haystack, size_t hlen, const void *needle, size_t nlen) {
    const void *p = memmem(haystack, hlen, needle, nlen);
    return p ? (long)((const char *)p - (const char *)haystack) : -1;
}

long cpe_read_fd_max(int fd, size_t max, unsigned char **out) {
    size_t cap = 65536, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return -ENOMEM;
    for (;;) {
        if (len == cap) {
            if (cap >= max) { free(buf); return -EFBIG; }
            size_t bigger_cap = cap * 2 > max ? max + 1 : cap * 2;
            unsigned char *bigger = realloc(buf, bigger_cap);
            if (!bigger) { free(buf); return -ENOMEM; }
            buf = bigger;
            cap = bigger_cap;
        }
        ssize_t n = read(fd, buf + len, cap - len);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            free(buf);
            return -e;
        }
        if (n == 0) break;
        len += (size_t)n;
        if (len > max) { free(buf); return -EFBIG; }
    }
    *out = buf;
    return (long)len;
}

long cpe_read_file_max(const char *path, size_t max, unsigned char **out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    long r = cpe_read_fd_max(fd, max, out);
    close(fd);
    return r;
}

long cpe_read_file(const char *path, unsigned char **out) {
    return cpe_read_file_max(path, (size_t)-1 / 2, out);
}
