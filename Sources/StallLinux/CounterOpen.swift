#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CPerfEvent

/// perf_event_open with perf's answer to running out of file descriptors: one counter is
/// one fd per event per CPU or thread, so a long event list (or -a on a big machine)
/// passes the usual soft limit of 1024. As perf (evsel.c, __evsel__open: EMFILE), the
/// soft limit is raised to the hard one and the open retried, and once at the hard limit,
/// the hard limit by 1000 (which needs CAP_SYS_RESOURCE); past that, EMFILE is the answer
/// (OpenFailure says to raise `ulimit -n` or count fewer events). A launched command was
/// forked before any counter is opened, so it keeps the limit it was given.
enum CounterOpen {
    /// How far the limit has been raised in this process (perf's set_rlimit states).
    private nonisolated(unsafe) static var raised = 0
    #if canImport(Glibc)
    private static let openFiles = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let openFiles = RLIMIT_NOFILE
    #endif

    /// cpe_open: an fd, or -errno.
    static func open(_ attr: inout cpe_attr, pid: Int32, cpu: Int32, group: Int32, flags: UInt) -> Int32 {
        while true {
            let fd = cpe_open(&attr, pid, cpu, group, flags)
            guard fd == -EMFILE, raiseLimit() else { return fd }
        }
    }

    /// One step up, as perf: soft to hard, then hard + 1000. False when no step is left.
    static func raiseLimit() -> Bool {
        var limit = rlimit()
        guard raised < 2, getrlimit(openFiles, &limit) == 0 else { return false }
        var next = limit
        if limit.rlim_cur < limit.rlim_max {
            next.rlim_cur = limit.rlim_max
        } else {
            guard limit.rlim_max < rlim_t.max - 1000 else { return false }
            next.rlim_max = limit.rlim_max + 1000
            next.rlim_cur = next.rlim_max
            raised = 2
        }
        raised = max(raised, 1)
        return setrlimit(openFiles, &next) == 0
    }
}
