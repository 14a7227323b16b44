/// Why perf_event_open refused an event, turned into what the user can do about it.
public struct OpenFailure: Equatable, Sendable {
    public enum Cause: Equatable, Sendable {
        case noHardwarePMU             // ENOENT/EOPNOTSUPP on a hardware event, no core PMU in sysfs
        case notSupportedByPMU         // ENOENT/EOPNOTSUPP/EINVAL with a PMU present
        case permission(paranoid: Int?, systemWide: Bool)
        case noSuchProcess(pid: Int32)
        case tooManyOpenFiles
        case busy
        case other(errno: Int32, text: String)
        /// Failed before perf_event_open (a cgroup that cannot be opened, ...).
        case setup(message: String)
        /// Opens alone, but not in its group: the group needs more counters than the PMU has.
        case groupDoesNotFit(size: Int)
    }

    public var event: String
    public var cause: Cause
    /// Set when the event was in a group: the group it kept from being counted.
    public var group: [String]? = nil

    public init(event: String, cause: Cause) {
        self.event = event
        self.cause = cause
    }

    /// Maps an errno from perf_event_open.
    public static func classify(errno: Int32, event: String, needsHardwarePMU: Bool, hasHardwarePMU: Bool,
                                paranoid: Int?, systemWide: Bool, pid: Int32?, errnoText: String) -> OpenFailure {
        let ENOENT: Int32 = 2, ESRCH: Int32 = 3, EACCES: Int32 = 13, EBUSY: Int32 = 16, EINVAL: Int32 = 22,
            EMFILE: Int32 = 24, EOPNOTSUPP: Int32 = 95, EPERM: Int32 = 1, ENODEV: Int32 = 19
        switch errno {
        case EACCES, EPERM: return OpenFailure(event: event, cause: .permission(paranoid: paranoid, systemWide: systemWide))
        case ESRCH: return OpenFailure(event: event, cause: .noSuchProcess(pid: pid ?? -1))
        case EMFILE: return OpenFailure(event: event, cause: .tooManyOpenFiles)
        case EBUSY: return OpenFailure(event: event, cause: .busy)
        case ENOENT, EOPNOTSUPP, EINVAL, ENODEV:
            if needsHardwarePMU && !hasHardwarePMU { return OpenFailure(event: event, cause: .noHardwarePMU) }
            if errno == EINVAL && !needsHardwarePMU { return OpenFailure(event: event, cause: .other(errno: errno, text: errnoText)) }
            return OpenFailure(event: event, cause: .notSupportedByPMU)
        default: return OpenFailure(event: event, cause: .other(errno: errno, text: errnoText))
        }
    }

    /// Why hardware events are missing and what still works; one line names every such event.
    public static func noHardwarePMUMessage(events: [String]) -> String {
        "\(events.joined(separator: ", ")): <not supported>: this machine exposes no hardware PMU (no cpu PMU under /sys/bus/event_source/devices: a virtual machine or container without a virtual PMU). Software events, tracepoints and the kernel stall signals (pressure:*, vmstat:*) still work."
    }

    /// One line for stderr.
    public var message: String {
        guard let group, group.count > 1 else { return causeMessage }
        return causeMessage + " None of its group {\(group.joined(separator: ","))} was counted: a group is counted all at once or not at all (as perf)."
    }

    var causeMessage: String {
        switch cause {
        case .groupDoesNotFit(let size):
            return "\(event): <not supported>: it opens alone, but its group of \(size) events needs more counters than the PMU has; split the group, or leave events out."
        case .noHardwarePMU:
            return OpenFailure.noHardwarePMUMessage(events: [event])
        case .notSupportedByPMU:
            return "\(event): <not supported>: the CPU's PMU does not implement this event (`stallstat list` shows what it has)."
        case .permission(let paranoid, let systemWide):
            let level = paranoid.map { "kernel.perf_event_paranoid is \($0)" } ?? "kernel.perf_event_paranoid could not be read"
            if !systemWide, let paranoid, paranoid <= -1 {
                // Nothing paranoid forbids at -1: what refused is the ptrace access check
                // on a process of another user (or a more privileged one).
                return "\(event): permission denied: \(level), which allows everything, so what refused is the ptrace access check: counting another user's (or a setuid) process needs CAP_PERFMON or CAP_SYS_PTRACE, or running as that user (see kernel.yama.ptrace_scope)."
            }
            let need = systemWide
                ? "system-wide counting (-a, -C) needs perf_event_paranoid <= 0, CAP_PERFMON or root"
                : "counting kernel activity needs perf_event_paranoid <= 1, CAP_PERFMON or root"
            let userOnly = EventModifiers.split(event).map { $0.modifiers.user && !$0.modifiers.kernel } ?? false
            let hint = userOnly || systemWide ? "" : ", or count user space only with '\(event):u'"
            return "\(event): permission denied: \(level); \(need). Try: sudo sysctl kernel.perf_event_paranoid=\(systemWide ? 0 : 1), run as root\(hint)."
        case .noSuchProcess(let pid):
            return "\(event): process \(pid) does not exist (it may have exited)."
        case .tooManyOpenFiles:
            return "\(event): too many open files: one counter is opened per event per CPU or thread; raise the limit with `ulimit -n` or count fewer events/CPUs."
        case .busy:
            return "\(event): the PMU is busy (another tool holds it exclusively); stop that tool and try again."
        case .other(let errno, let text):
            return "\(event): cannot open (errno \(errno): \(text))."
        case .setup(let message):
            return message
        }
    }
}
