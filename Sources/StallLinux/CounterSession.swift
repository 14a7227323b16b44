#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent
import StallCore

/// Where a set of counters is attached: one task (and, with inherit, its children) on
/// any CPU, or every task on one CPU.
public struct CounterTarget: Hashable, Sendable {
    public var pid: Int32   // -1: every task
    public var cpu: Int32   // -1: any CPU

    public static func task(_ pid: Int32) -> CounterTarget { CounterTarget(pid: pid, cpu: -1) }
    public static func cpu(_ cpu: Int) -> CounterTarget { CounterTarget(pid: -1, cpu: Int32(cpu)) }
    public var isSystemWide: Bool { pid == -1 }
}

/// How counters are armed.
public struct CountingOptions: Sendable {
    /// Counting starts when the (paused) target execs.
    public var enableOnExec = false
    /// Children the target forks are counted too (perf's default; not with -a).
    public var inherit = true
    public init(enableOnExec: Bool = false, inherit: Bool = true) {
        self.enableOnExec = enableOnExec
        self.inherit = inherit
    }
}

/// Counter groups opened on a set of targets. Each `{...}` group becomes one kernel
/// group per target, read in one read(2) so its ratios come from one moment.
public final class CounterSession {
    struct OpenedGroup {
        var target: Int
        var leaderFD: Int32
        var fds: [Int32]
        /// kernel id → index into `events`
        var eventByID: [UInt64: Int]
    }

    public let events: [ResolvedEvent]
    public let groups: [[Int]]
    public let targets: [CounterTarget]
    private var opened: [OpenedGroup] = []
    /// First failure per event, when it failed on every target.
    public private(set) var failures: [Int: OpenFailure] = [:]
    /// Events that opened on at least one target.
    public private(set) var openedEvents = Set<Int>()
    /// Groups closed because a member could not join them (their other members are
    /// `<not counted>`, as perf shows them, rather than an error).
    public private(set) var closedGroups = 0
    /// Events the kernel refused with their kernel side and that opened for user space
    /// only (perf's fallback at perf_event_paranoid > 1: it prints them as `name:u`).
    public private(set) var userOnlyFallback: Set<Int> = []

    /// `groups` holds indices into `events`; /proc counters (backend `.procCounter`) are skipped.
    public init(events: [ResolvedEvent], groups: [[Int]], targets: [CounterTarget]) {
        self.events = events
        self.groups = groups
        self.targets = targets
    }

    deinit { close() }

    /// Open cgroup directories (-G), by name; closed with the session.
    private var cgroupFDs: [String: Int32] = [:]

    public func open(options: CountingOptions, hasHardwarePMU: Bool, paranoid: Int?) {
        var firstFailure: [Int: OpenFailure] = [:]
        let cgroupMount = events.contains { $0.cgroup != nil } ? PerfEventCgroups.mountPoint() : nil
        for (index, event) in events.enumerated() {
            guard let name = event.cgroup, cgroupFDs[name] == nil else { continue }
            do {
                guard let mount = cgroupMount else { throw PerfEventCgroups.Failure.noHierarchy }
                cgroupFDs[name] = try PerfEventCgroups.open(name, mountPoint: mount)
            } catch {
                firstFailure[index] = OpenFailure(event: event.name, cause: .setup(message: "\(event.name): \(error)"))
            }
        }
        for (t, target) in targets.enumerated() {
            for group in groups {
                var leader: Int32 = -1
                var fds: [Int32] = []
                var byID: [UInt64: Int] = [:]
                for index in group {
                    let event = events[index]
                    // Heterogeneous systems: this CPU's own encoding, or nothing if its core lacks the event.
                    guard let attr = event.attr(forCPU: Int(target.cpu)) else { continue }
                    var a = CounterSession.countingAttr(attr)
                    var flags = a.flags
                    if leader < 0 {
                        flags |= UInt64(CPE_DISABLED)
                        if options.enableOnExec { flags |= UInt64(CPE_ENABLE_ON_EXEC) }
                    }
                    if options.inherit && !target.isSystemWide { flags |= UInt64(CPE_INHERIT) }
                    a.flags = flags
                    // A cgroup event counts that cgroup's tasks on one CPU: pid is the cgroup's fd.
                    var pid = target.pid, openFlags: UInt = 0
                    if let name = event.cgroup {
                        guard let cgroupFD = cgroupFDs[name], target.isSystemWide else { continue }
                        pid = cgroupFD
                        openFlags = UInt(CPE_FLAG_PID_CGROUP)
                    }
                    var fd = CounterOpen.open(&a, pid: pid, cpu: target.cpu, group: leader, flags: openFlags)
                    if (fd == -EACCES || fd == -EPERM) && !attr.excludeKernel && (paranoid ?? 2) > 1 && event.cgroup == nil {
                        // As perf (evsel__fallback): without the privilege to count the
                        // kernel, count the user side and say so in the name.
                        var userOnly = a
                        userOnly.flags |= UInt64(CPE_EXCLUDE_KERNEL) | UInt64(CPE_EXCLUDE_HV)
                        let retry = CounterOpen.open(&userOnly, pid: pid, cpu: target.cpu, group: leader, flags: openFlags)
                        if retry >= 0 { fd = retry; userOnlyFallback.insert(index) }
                    }
                    if fd < 0 {
                        if firstFailure[index] == nil {
                            firstFailure[index] = OpenFailure.classify(
                                errno: -fd, event: event.name, needsHardwarePMU: event.needsHardwarePMU,
                                hasHardwarePMU: hasHardwarePMU, paranoid: paranoid, systemWide: target.isSystemWide,
                                pid: target.isSystemWide ? nil : target.pid, errnoText: String(cString: strerror(-fd)))
                        }
                        continue
                    }
                    if let filter = event.tracepointFilter {
                        let r = cpe_set_filter(fd, filter)
                        if r < 0 {
                            Glibc.close(fd)
                            if firstFailure[index] == nil {
                                firstFailure[index] = OpenFailure(event: event.name, cause: .setup(message: "\(event.name): the kernel refused the filter '\(filter)' (\(String(cString: strerror(-r)))); see the tracepoint's format file for its fields"))
                            }
                            continue
                        }
                    }
                    var id: UInt64 = 0
                    if cpe_id(fd, &id) < 0 { Glibc.close(fd); continue }
                    if leader < 0 { leader = fd }
                    fds.append(fd)
                    byID[id] = index
                }
                // A group with a hardware event is all or nothing, as perf: if a member
                // could not join it (the PMU refused it, or the group does not fit the
                // counters), the others are not counted either, or their ratios would
                // silently come from a different group than the one asked for.
                let joined = Set(byID.values)
                let missing = group.count > 1 && group.contains(where: { events[$0].needsHardwarePMU })
                    ? group.filter { events[$0].attr(forCPU: Int(target.cpu)) != nil && !joined.contains($0) } : []
                if !missing.isEmpty {
                    for fd in fds { Glibc.close(fd) }
                    if !fds.isEmpty { closedGroups += 1 }
                    for index in missing where firstFailure[index]?.group == nil {
                        guard var failure = firstFailure[index] else { continue }
                        if case .notSupportedByPMU = failure.cause, fits(events[index], target: target, options: options) {
                            failure.cause = .groupDoesNotFit(size: group.count)
                        }
                        failure.group = group.map { events[$0].name }
                        firstFailure[index] = failure
                    }
                    continue
                }
                openedEvents.formUnion(joined)
                if leader >= 0 { opened.append(OpenedGroup(target: t, leaderFD: leader, fds: fds, eventByID: byID)) }
            }
        }
        failures = firstFailure.filter { !openedEvents.contains($0.key) }
        for (index, event) in events.enumerated() where event.cpuAttrs != nil && !openedEvents.contains(index) && failures[index] == nil {
            failures[index] = OpenFailure(event: event.name, cause: .notSupportedByPMU)
        }
    }

    /// Whether the event opens by itself on the target (then a refusal in its group was
    /// the group's size, not the event).
    private func fits(_ event: ResolvedEvent, target: CounterTarget, options: CountingOptions) -> Bool {
        guard let attr = event.attr(forCPU: Int(target.cpu)), event.cgroup == nil else { return false }
        var a = CounterSession.countingAttr(attr)
        a.flags |= UInt64(CPE_DISABLED)
        let fd = CounterOpen.open(&a, pid: target.pid, cpu: target.cpu, group: -1, flags: 0)
        guard fd >= 0 else { return false }
        Glibc.close(fd)
        return true
    }

    /// The kernel attr of a counting event: its encoding, privilege levels and read format.
    static func countingAttr(_ attr: EventAttr) -> cpe_attr {
        var a = attr.kernelAttr
        a.read_format = ReadFormat.counting
        return a
    }

    public var isEmpty: Bool { opened.isEmpty }

    public func enable() { for g in opened { _ = cpe_enable(g.leaderFD, 1) } }
    public func disable() { for g in opened { _ = cpe_disable(g.leaderFD, 1) } }

    /// Cumulative readings: [event index: [target index: reading]].
    public func read() -> [Int: [Int: CounterReading]] {
        var result: [Int: [Int: CounterReading]] = [:]
        for g in opened {
            var buffer = [UInt8](repeating: 0, count: 24 + 16 * g.fds.count)
            let n = buffer.withUnsafeMutableBytes { cpe_read(g.leaderFD, $0.baseAddress, $0.count) }
            guard n > 0, let decoded = try? GroupRead.decode(Array(buffer[0..<n])) else { continue }
            for (k, entry) in decoded.values.enumerated() {
                guard let index = g.eventByID[entry.id] else { continue }
                result[index, default: [:]][g.target] = decoded.reading(at: k)
            }
        }
        return result
    }

    public func close() {
        for g in opened { for fd in g.fds { Glibc.close(fd) } }
        opened.removeAll()
        for fd in cgroupFDs.values { Glibc.close(fd) }
        cgroupFDs.removeAll()
    }
}
