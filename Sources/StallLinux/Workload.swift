#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent
import StallCore

/// What a counting or recording run follows, and the one place it waits: the launched
/// command (held before exec so counters can be armed on it first), the attached threads,
/// and the stop signals. `stat` (StatRunner, AccountingRunner) and `record` (Recorder)
/// share it, as perf's `struct target` + `evlist__prepare_workload` and simpleperf's
/// `Workload` + `IOEventLoop` are shared by their commands.
///
/// The stop signals (SIGINT, SIGTERM, SIGHUP) and SIGCHLD must be blocked by the caller
/// (`MachineFacts.blockStopSignals`): they are taken synchronously here, never by a handler.
public final class Workload {
    /// Why a wait returned.
    public enum Wake: Equatable {
        /// The wait's time passed, data arrived, or a signal that ends nothing.
        case timedOut
        /// The launched command exited (and was reaped).
        case commandExited
        /// Ctrl-C, SIGTERM or SIGHUP: the user wants the run stopped.
        case stopSignal(Int32)
        /// Every watched thread is gone or a zombie.
        case watchedThreadsExited
    }

    /// The launched command, nil when only attached threads or CPUs are followed.
    public let command: PausedChild?
    /// Threads whose exit ends the run (attached with -p/-t; none when a command bounds a
    /// `stat`, as perf stat waits for its command only).
    public let watchedThreads: [Int32]
    /// The stop signal that ended the run, once one did.
    public private(set) var interruptedBy: Int32? = nil
    public private(set) var watchedThreadsExited = false
    /// Attached threads are checked at 10 Hz at most: a wake per ring's data must not read
    /// /proc for each thread.
    static let threadCheckNs: UInt64 = 100_000_000
    private var lastThreadCheck: UInt64 = 0

    /// Forks `command` (if any) held before its exec.
    /// Throws `PausedChild.Failure`.
    public init(command: [String], watchedThreads: [Int32] = []) throws {
        self.command = command.isEmpty ? nil : try PausedChild(arguments: command)
        self.watchedThreads = watchedThreads
    }

    /// True once the run has ended: a stop signal, the command's exit, or the watched threads gone.
    public var isOver: Bool { interruptedBy != nil || command?.exitStatus != nil || watchedThreadsExited }

    /// Lets the command exec; throws `PausedChild.Failure` if it could not.
    public func release() throws { try command?.release() }

    /// A command that never ran (the counters could not be opened): killed and reaped.
    public func abandon() {
        command?.signal(SIGKILL)
        command?.waitBlocking()
    }

    /// Ends a command still running when the run ended (passing on the stop signal that
    /// ended it), and reaps it.
    public func end() { command?.end(interruptedBy: interruptedBy) }

    /// Waits once: until `deadline` (monotonic ns; nil: no limit), a stop signal, the
    /// command's exit, or, with `dataFDs`, data on one of them (a ring buffer past its
    /// watermark; a descriptor that hung up is set to -1 and not polled again).
    public func wait(until deadline: UInt64?, dataFDs: inout [Int32]) -> Wake {
        if isOver { return endingWake }
        let now = cpe_monotonic_ns()
        var wake = deadline ?? .max
        if !watchedThreads.isEmpty { wake = min(wake, now &+ Workload.threadCheckNs) }
        let timeout: Int64 = wake == .max ? -1 : Int64(clamping: wake > now ? wake - now : 0)
        let sig: Int32 = dataFDs.isEmpty
            ? cpe_wait_signal(timeout)
            : dataFDs.withUnsafeMutableBufferPointer { cpe_wait_signal_or_data($0.baseAddress, Int32($0.count), timeout) }
        switch sig {
        case SIGINT, SIGTERM, SIGHUP:
            interruptedBy = sig
            return .stopSignal(sig)
        case SIGCHLD:
            if let command, command.waitNonBlocking() { return .commandExited }
        default: break
        }
        if !watchedThreads.isEmpty {
            let after = cpe_monotonic_ns()
            if after &- lastThreadCheck >= Workload.threadCheckNs {
                lastThreadCheck = after
                if watchedThreads.allSatisfy(Workload.hasExited) {
                    watchedThreadsExited = true
                    return .watchedThreadsExited
                }
            }
        }
        return .timedOut
    }

    public func wait(until deadline: UInt64?) -> Wake {
        var none: [Int32] = []
        return wait(until: deadline, dataFDs: &none)
    }

    /// Waits until `deadline` (`.max`: no limit) unless the run ends first; true when the
    /// deadline came.
    public func sleep(until deadline: UInt64) -> Bool {
        while cpe_monotonic_ns() < deadline {
            if wait(until: deadline) != .timedOut { return false }
        }
        return !isOver
    }

    private var endingWake: Wake {
        if let s = interruptedBy { return .stopSignal(s) }
        if watchedThreadsExited { return .watchedThreadsExited }
        return .commandExited
    }

    /// Expands -p pids into their threads (/proc/PID/task), as perf does.
    public static func threads(ofProcesses pids: [Int32]) throws -> [Int32] {
        var tids: [Int32] = []
        for pid in pids {
            let tasks = SystemFiles.listDirectory("/proc/\(pid)/task").compactMap { Int32($0) }
            if tasks.isEmpty { throw StatRunError.noSuchProcess(pid) }
            tids.append(contentsOf: tasks)
        }
        return tids
    }

    /// True once a task is gone or a zombie (it runs no more code; perf ends there too).
    public static func hasExited(_ tid: Int32) -> Bool {
        if kill(tid, 0) != 0 && errno == ESRCH { return true }
        guard let stat = SystemFiles.readTrimmed("/proc/\(tid)/stat"), let paren = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: paren)...].drop { $0 == " " }.first
        return state == "Z" || state == "X"
    }
}

extension StatPlan.Scope {
    /// The (pid, cpu) pairs counters open on: the command's task or each attached thread on
    /// any CPU, or, with `taskCPUs`, once on each of those CPUs (a recording's per-CPU rings;
    /// cores with different encodings); system-wide, every task on each listed CPU.
    public func counterTargets(commandPID: Int32?, taskCPUs: [Int]? = nil) -> [CounterTarget] {
        let tasks: [Int32]
        switch self {
        case .systemWide(let cpus): return cpus.map { .cpu($0) }
        case .command: tasks = commandPID.map { [$0] } ?? []
        case .threads(let tids): tasks = tids
        }
        guard let taskCPUs else { return tasks.map { .task($0) } }
        return tasks.flatMap { t in taskCPUs.map { CounterTarget(pid: t, cpu: Int32($0)) } }
    }

    /// The threads whose exit ends a run (attached ones; a command's own exit is watched apart).
    var attachedThreads: [Int32] {
        if case .threads(let tids) = self { return tids }
        return []
    }
}
