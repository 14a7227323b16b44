// A thin C layer over perf_event_open(2). Swift never sees <linux/perf_event.h>'s
// bitfields: it fills the plain struct cpe_attr and the C side builds the real attr.
#ifndef CPERFEVENT_H
#define CPERFEVENT_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>

// Bits of cpe_attr.flags: each is the bit of the perf_event_attr bitfield of that name in
// the kernel's flags word (include/uapi/linux/perf_event.h, the u64 after read_format),
// so the flags stallstat sets and the flags a perf.data attr holds are one numbering
// (StallCore's PerfData.AttrFlag names the same bits; a test checks the C layer's bytes).
enum {
    CPE_DISABLED        = 1u << 0,
    CPE_INHERIT         = 1u << 1,
    CPE_PINNED          = 1u << 2,
    CPE_EXCLUSIVE       = 1u << 3,
    CPE_EXCLUDE_USER    = 1u << 4,
    CPE_EXCLUDE_KERNEL  = 1u << 5,
    CPE_EXCLUDE_HV      = 1u << 6,
    CPE_EXCLUDE_IDLE    = 1u << 7,
    CPE_MMAP            = 1u << 8,
    CPE_COMM            = 1u << 9,
    CPE_FREQ            = 1u << 10,
    CPE_ENABLE_ON_EXEC  = 1u << 12,
    CPE_TASK            = 1u << 13,
    CPE_WATERMARK       = 1u << 14,
    CPE_MMAP_DATA       = 1u << 17,
    CPE_SAMPLE_ID_ALL   = 1u << 18,
    CPE_EXCLUDE_GUEST   = 1u << 20,
    CPE_EXCLUDE_CALLCHAIN_KERNEL = 1u << 21,
    CPE_EXCLUDE_CALLCHAIN_USER = 1u << 22,
    CPE_MMAP2           = 1u << 23,
    CPE_COMM_EXEC       = 1u << 24,
};

// perf_event_open flags (PERF_FLAG_PID_CGROUP: pid is a cgroup directory fd).
enum { CPE_FLAG_PID_CGROUP = 1u << 2 };

struct cpe_attr {
    uint32_t type;
    uint64_t config;
    uint64_t config1;
    uint64_t config2;
    uint64_t sample_period_or_freq;
    uint64_t sample_type;
    uint64_t read_format;
    uint64_t flags;
    uint32_t wakeup_events;
    uint16_t sample_max_stack;
    // --call-graph dwarf: which user registers and how many bytes of user stack each sample copies.
    uint64_t sample_regs_user;
    uint32_t sample_stack_user;
};

// Size of the kernel's struct perf_event_attr as compiled here.
size_t cpe_attr_size(void);
// Writes the kernel attr bytes (cpe_attr_size() of them) for `a` into `out`.
void cpe_attr_bytes(const struct cpe_attr *a, void *out);

// Returns the fd, or -errno.
/* 0 when this process may open a user-space task-clock counter, else -errno. */
int cpe_probe_task_clock(void);
int cpe_open(const struct cpe_attr *a, pid_t pid, int cpu, int group_fd, unsigned long flags);
int cpe_enable(int fd, int whole_group);
int cpe_disable(int fd, int whole_group);
int cpe_reset(int fd, int whole_group);
// Kernel id of the event (PERF_EVENT_IOC_ID); -errno on failure.
int cpe_id(int fd, uint64_t *id);
/* PERF_EVENT_IOC_SET_FILTER: a tracepoint filter expression. */
int cpe_set_filter(int fd, const char *filter);
// read(2) retried on EINTR; returns bytes or -errno.
ssize_t cpe_read(int fd, void *buf, size_t len);

// Blocks SIGINT, SIGTERM, SIGCHLD, SIGHUP in the calling thread so that they are
// taken synchronously by cpe_wait_signal. Call before any thread starts.
int cpe_block_stop_signals(void);
/* Unblocks them again (a signal still pending is then delivered as usual). */
int cpe_unblock_stop_signals(void);
// Waits up to timeout_ns (negative: forever) for one of the blocked signals.
// Returns the signal number, 0 on timeout, or -errno.
int cpe_wait_signal(int64_t timeout_ns);
// As cpe_wait_signal, and also returns 0 as soon as one of the ring fds has data past
// its wakeup watermark (a signalfd and ppoll, so a busy ring is drained at once, not at
// the next timeout). A fd that hung up (its task exited) is set to -1 so that it is
// not polled again.
int cpe_wait_signal_or_data(int *fds, int nfds, int64_t timeout_ns);

// A child forked and held before exec until cpe_release_child, so counters can be
// armed on its pid first (enable_on_exec makes counting start at exec).
struct cpe_child {
    pid_t pid;
    int release_fd;   // write end: one byte releases the child
    int error_fd;     // read end: receives errno if exec fails (closed on exec)
};
// argv is NULL-terminated. Returns 0 or -errno.
int cpe_spawn_paused(const char *file, char *const argv[], struct cpe_child *child);
// Lets the child exec. Returns 0 when exec succeeded, else the exec errno (>0),
// or -errno if the handshake itself failed.
int cpe_release_child(struct cpe_child *child);

// A perf_event mmap ring buffer: one metadata page then 2^n data pages.
struct cpe_ring {
    void *base;
    size_t mapped_len;
    size_t data_size;
    size_t data_offset;
};
// Maps the ring of `fd`; data_pages must be a power of two. Returns 0 or -errno.
int cpe_ring_map(int fd, size_t data_pages, struct cpe_ring *ring);
void cpe_ring_unmap(struct cpe_ring *ring);
// Copies up to `len` bytes of whole-or-partial records from the ring into `out`
// (data_head read with acquire semantics), frees them (data_tail written with release
// semantics) and returns the number of bytes copied.
size_t cpe_ring_drain(struct cpe_ring *ring, void *out, size_t len);
// Routes the samples of `fd` into the ring buffer of `target_fd` (same CPU).
int cpe_set_output(int fd, int target_fd);

// Reads a whole file (procfs included, whose size is unknown) into a malloc'd
// buffer the caller frees. Returns the length, or -errno.
long cpe_read_file(const char *path, unsigned char **out);
/* The same, failing with -EFBIG past max bytes (so /dev/zero or a huge file is refused, not read into memory). */
long cpe_read_file_max(const char *path, size_t max, unsigned char **out);
long cpe_read_fd_max(int fd, size_t max, unsigned char **out);

// memmem(3): the offset of needle in haystack, or -1.
long cpe_find(const void *haystack, size_t hlen, const void *needle, size_t nlen);

// Monotonic clock in nanoseconds.
uint64_t cpe_monotonic_ns(void);

#endif
