#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent
import StallCore

/// What to count, where, and for how long.
public struct StatPlan {
    public enum Scope: Equatable {
        /// The launched command and its children (counting starts at exec).
        case command
        /// Every task on these CPUs.
        case systemWide(cpus: [Int])
        /// These existing threads (from -p, expanded to their tasks, or -t).
        case threads([Int32])
    }

    public var events: [ResolvedEvent]
    public var groups: [[Int]]
    public var scope: Scope
    /// The workload to run; with `.systemWide` or `.threads` it only sets the duration.
    public var command: [String]
    public var aggregation: Aggregation
    public var durationSeconds: Double?
    public var intervalMilliseconds: Int?
    /// `--interval-count`: stop after this many intervals.
    public var intervalCount: Int? = nil
    /// `-D`: counting starts this long after the command starts (or after the start).
    public var delayMilliseconds: Int? = nil
    public var inherit: Bool
    /// `--no-scale`: counts as read, not extrapolated over multiplexing.
    public var scaleForMultiplexing = true
    /// `--show-rusage`: keep the launched command's rusage from its exec on (the paused
    /// child's own counts are read from /proc before it is released, only then).
    public var recordsCommandUsage = false

    public init(events: [ResolvedEvent], groups: [[Int]], scope: Scope, command: [String], aggregation: Aggregation = .global,
                durationSeconds: Double?, intervalMilliseconds: Int?, inherit: Bool = true) {
        self.events = events
        self.groups = groups
        self.scope = scope
        self.command = command
        self.aggregation = aggregation
        self.durationSeconds = durationSeconds
        self.intervalMilliseconds = intervalMilliseconds
        self.inherit = inherit
    }

    public init(events: [ResolvedEvent], groups: [[Int]], scope: Scope, command: [String], perCPU: Bool,
                durationSeconds: Double?, intervalMilliseconds: Int?, inherit: Bool = true) {
        self.init(events: events, groups: groups, scope: scope, command: command, aggregation: perCPU ? .perCPU : .global,
                  durationSeconds: durationSeconds, intervalMilliseconds: intervalMilliseconds, inherit: inherit)
    }
}

public struct StatOutcome {
    public var summary: StatWindow
    public var elapsedSeconds: Double
    /// The workload's shell-style exit code (status, or 128 + signal).
    public var commandExitCode: Int32?
    /// The signal (SIGINT, SIGTERM, SIGHUP) that ended the run early.
    public var interruptedBy: Int32?
    /// The attached processes all exited before the end.
    public var targetsExited: Bool
    public var failures: [OpenFailure]
    public var anyCounted: Bool
    /// At least one perf_event_open counter opened (kernel signals aside).
    public var perfCountersOpened: Bool = false
    /// The launched command's rusage from its exec on (the kernel's accounting of the same
    /// run the counters measured; `stat --show-rusage`).
    public var commandUsage: ResourceUsage? = nil
}

public enum StatRunError: Error, CustomStringConvertible {
    case nothingOpened([OpenFailure])
    case noSuchProcess(Int32)
    case child(PausedChild.Failure)

    public var description: String {
        switch self {
        case .nothingOpened(let failures):
            let lines = failures.map { "  " + $0.message }.joined(separator: "\n")
            return "no event could be opened:\n\(lines)"
        case .noSuchProcess(let pid): return "process \(pid) does not exist (check the pid; it may have exited)"
        case .child(let f): return f.description
        }
    }
}

/// Runs one counting session: arms counters, starts or attaches to the workload, waits
/// for the end (workload exit, --duration, Ctrl-C/SIGTERM/SIGHUP, attached processes
/// gone), emitting interval windows on the way, and returns the summary.
///
/// Counters are read at the moment the run ends, whatever ends it: a Ctrl-C while the
/// command still runs reads (and stops) them at the signal, then ends the command.
public final class StatRunner {
    public let plan: StatPlan
    /// The launched command's pid while it runs (for per-process samples such as smaps_rollup).
    public private(set) var childPID: Int32? = nil
    public let hasHardwarePMU: Bool
    public let paranoid: Int?

    public init(plan: StatPlan, hasHardwarePMU: Bool, paranoid: Int?) {
        self.plan = plan
        self.hasHardwarePMU = hasHardwarePMU
        self.paranoid = paranoid
    }

    public func run(onInterval: (StatWindow) -> Void) throws -> StatOutcome {
        if case .threads(let tids) = plan.scope {
            for tid in tids where kill(tid, 0) != 0 && errno == ESRCH { throw StatRunError.noSuchProcess(tid) }
        }
        // A command bounds the run by itself (perf stat waits for it only); without one,
        // the attached threads' exit ends it.
        let workload: Workload
        do {
            workload = try Workload(command: plan.command, watchedThreads: plan.command.isEmpty ? plan.scope.attachedThreads : [])
        } catch let f as PausedChild.Failure { throw StatRunError.child(f) }
        let child = workload.command
        childPID = child?.pid
        // Cores with different events: a task is followed on every CPU with that CPU's
        // encoding (one counter per task and CPU), as simpleperf does on big.LITTLE.
        let perCPUEncodings = plan.events.contains { $0.cpuAttrs != nil }
        let targets = plan.scope.counterTargets(commandPID: child?.pid, taskCPUs: perCPUEncodings ? MachineFacts.onlineCPUs() : nil)
        let session = CounterSession(events: plan.events, groups: plan.groups, targets: targets)
        // Only a launched command, counted from its exec with no delay, is armed by the
        // kernel (enable_on_exec); every other run is enabled by us when counting starts.
        let enableOnExec = plan.scope == .command && (plan.delayMilliseconds ?? 0) == 0
        session.open(options: CountingOptions(enableOnExec: enableOnExec, inherit: plan.inherit),
                     hasHardwarePMU: hasHardwarePMU, paranoid: paranoid)
        let failures = session.failures.sorted { $0.key < $1.key }.map(\.value)
        let signalKinds = plan.events.compactMap(\.procCounter)
        let signalReader = KernelSignalReader(kinds: signalKinds)
        if session.isEmpty && signalKinds.isEmpty && !plan.events.isEmpty && session.closedGroups == 0 {
            workload.abandon()
            throw StatRunError.nothingOpened(failures)
        }
        if let pidFailure = failures.first(where: { if case .noSuchProcess = $0.cause { return true }; return false }),
           case .noSuchProcess(let pid) = pidFailure.cause, session.isEmpty {
            workload.abandon()
            throw StatRunError.noSuchProcess(pid)
        }

        var aggregation = plan.aggregation
        if case .perTarget(let keys) = aggregation, keys.count != targets.count {
            // per-thread keys were given per task; big.LITTLE expanded each task over CPUs.
            let perTask = max(1, targets.count / max(1, keys.count))
            aggregation = .perTarget(targets.indices.map { keys[min(keys.count - 1, $0 / perTask)] })
        }
        // Events that fell back to user space only are printed as perf prints them: `name:u`.
        let counted = plan.events.enumerated().map { i, e -> ResolvedEvent in
            guard session.userOnlyFallback.contains(i) else { return e }
            var u = e
            u.name += e.name.hasSuffix("/") ? "u" : ":u"
            return u
        }
        var builder = WindowBuilder(
            events: counted, targetCPUs: targets.map { $0.cpu >= 0 ? Int($0.cpu) : nil }, aggregation: aggregation,
            unsupported: Dictionary(uniqueKeysWithValues: session.failures.map { ($0.key, $0.value.message) }))
        builder.scaleForMultiplexing = plan.scaleForMultiplexing

        var baselineSignals = signalReader.read()
        let beforeExec = plan.recordsCommandUsage ? child.map { ProcessCounts.read(pid: $0.pid) } : nil
        var start = cpe_monotonic_ns()
        if child != nil {
            // System-wide or attached counting bounded by a command: counting starts with
            // the command (enabled just before it may exec), not at its exec only.
            if !enableOnExec && (plan.delayMilliseconds ?? 0) == 0 { session.enable() }
            do { try workload.release() } catch let f as PausedChild.Failure {
                session.close()
                throw StatRunError.child(f)
            }
        }
        if let delay = plan.delayMilliseconds, delay > 0 {
            // -D: the command runs uncounted for the delay, then counting starts.
            _ = workload.sleep(until: start + UInt64(delay) * 1_000_000)
            baselineSignals = signalReader.read()
            start = cpe_monotonic_ns()
            if !workload.isOver { session.enable() }
        } else if child == nil {
            session.enable()
        }

        let intervalNs = plan.intervalMilliseconds.map { UInt64($0) * 1_000_000 }
        let deadline = plan.durationSeconds.map { start &+ UInt64(min($0 * 1e9, 1e18)) }
        var nextTick = intervalNs.map { start + $0 }
        var previousReadings: [Int: [Int: CounterReading]] = [:]
        var previousSignals = baselineSignals
        var lastTick = start
        var intervalsPrinted = 0

        func emitInterval(now: UInt64) {
            let readings = session.read()
            let signals = signalReader.read()
            let window = builder.window(readings: readings, previous: previousReadings, signals: signals,
                                        previousSignals: previousSignals,
                                        timestampSeconds: Double(now - start) / 1e9, elapsedNs: Double(now - lastTick))
            previousReadings = readings
            previousSignals = signals
            lastTick = now
            intervalsPrinted += 1
            onInterval(window)
        }

        while !workload.isOver {
            let now = cpe_monotonic_ns()
            if let d = deadline, now >= d { break }
            if let t = nextTick, now >= t {
                emitInterval(now: now)
                if let n = plan.intervalCount, intervalsPrinted >= n { break }
                nextTick = t + intervalNs!
                while let tick = nextTick, tick <= cpe_monotonic_ns() { nextTick = tick + intervalNs! }
                continue
            }
            var wake: UInt64? = deadline
            if let t = nextTick { wake = min(wake ?? .max, t) }
            _ = workload.wait(until: wake)
        }

        // The run ends now: stop the counters and read them at this moment, before
        // waiting for a command that may take its time to exit.
        let end = cpe_monotonic_ns()
        session.disable()
        let finalReadings = session.read()
        let finalSignals = signalReader.read()
        workload.end()
        if intervalNs != nil, end > lastTick + 1_000_000, plan.intervalCount.map({ intervalsPrinted < $0 }) ?? true {
            let window = builder.window(readings: finalReadings, previous: previousReadings, signals: finalSignals,
                                        previousSignals: previousSignals,
                                        timestampSeconds: Double(end - start) / 1e9, elapsedNs: Double(end - lastTick))
            onInterval(window)
        }
        if baselineSignals.isEmpty { baselineSignals = finalSignals }
        let summary = builder.window(readings: finalReadings, previous: [:], signals: finalSignals,
                                     previousSignals: baselineSignals, timestampSeconds: nil,
                                     elapsedNs: Double(end - start))
        let opened = !session.isEmpty
        session.close()
        var outcome = StatOutcome(summary: summary, elapsedSeconds: Double(end - start) / 1e9,
                                  commandExitCode: child?.exitCode, interruptedBy: workload.interruptedBy,
                                  targetsExited: workload.watchedThreadsExited, failures: failures,
                                  anyCounted: summary.results.contains { $0.status == .counted }, perfCountersOpened: opened)
        if let usage = child?.resourceUsage, let beforeExec { outcome.commandUsage = ResourceUsage(usage).since(beforeExec) }
        return outcome
    }

}

/// Facts about the machine the CLI reports on.
public enum MachineFacts {
    public static func perfEventParanoid() -> Int? {
        SystemFiles.readTrimmed("/proc/sys/kernel/perf_event_paranoid").flatMap { Int($0) }
    }

    public static func onlineCPUs() -> [Int] {
        if let text = SystemFiles.readTrimmed("/sys/devices/system/cpu/online"), let cpus = try? CPUList.parse(text) {
            return cpus
        }
        return Array(0..<Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    /// Stop signals are taken synchronously by the counting loops (sigtimedwait), so a
    /// command that counts blocks them before it starts any thread and for as long as it
    /// must print what it counted. Nothing else blocks them: analysis stops at Ctrl-C.
    public static func blockStopSignals() { _ = cpe_block_stop_signals() }
    public static func unblockStopSignals() { _ = cpe_unblock_stop_signals() }

    public static func monotonicNanoseconds() -> UInt64 { cpe_monotonic_ns() }

    public static func wallClockSeconds() -> Double { StallLinux.wallClockSeconds() }

    /// What a gate baseline records about the machine.
    public static func describe(pmus: SysfsPMUs) -> MachineDescription {
        let topology = CPUTopology.detect(pmus: pmus)
        let id = topology.identities.keys.min().flatMap { topology.identities[$0] }.map { "\($0)" } ?? "unknown"
        var modelName = "unknown"
        if let info = try? SystemFiles.readText("/proc/cpuinfo") {
            for line in info.split(separator: "\n") where line.hasPrefix("model name") || line.hasPrefix("Hardware") {
                if let colon = line.firstIndex(of: ":") { modelName = line[line.index(after: colon)...].trimmingWhitespace(); break }
            }
        }
        let kernel = SystemFiles.readTrimmed("/proc/sys/kernel/osrelease") ?? "unknown"
        var machine = MachineDescription(cpu: id, cpuModelName: modelName, kernel: kernel, cpus: onlineCPUs().count, hasPMU: pmus.hasHardwarePMU)
        machine.machineID = SystemFiles.readTrimmed("/etc/machine-id") ?? ""
        machine.bootID = SystemFiles.readTrimmed("/proc/sys/kernel/random/boot_id") ?? ""
        return machine
    }

    /// Sleeps up to `seconds`, returning early with the signal number on Ctrl-C,
    /// SIGTERM, SIGHUP or SIGCHLD (0 on timeout).
    public static func waitForStopSignal(seconds: Double) -> Int32 {
        let r = cpe_wait_signal(Int64(seconds * 1e9))
        return r > 0 ? r : 0
    }
}
