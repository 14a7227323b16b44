#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent
import StallCore

/// Counts a launched command without perf_event_open: from what the kernel accounts to
/// every process anyway (`--counters=rusage`), or by running it under valgrind's
/// cachegrind (`--counters=simulated`). Needs no privilege and no PMU.
///
/// The command is started paused like a counted one, so the stop signals and --timeout
/// behave as with perf counters: Ctrl-C, SIGTERM and SIGHUP end the run and the command.
public struct AccountingRunner {
    public let source: CounterSource
    public let command: [String]
    /// `pressure:`/`vmstat:` signals, read from /proc at the start and end of the run.
    public let signalEvents: [ResolvedEvent]
    public let durationSeconds: Double?

    public init(source: CounterSource, command: [String], signalEvents: [ResolvedEvent] = [], durationSeconds: Double? = nil) {
        precondition(source == .rusage || source == .simulated)
        self.source = source
        self.command = command
        self.signalEvents = signalEvents
        self.durationSeconds = durationSeconds
    }

    public enum Failure: Error, CustomStringConvertible {
        case noValgrind
        case simulation(String)
        public var description: String {
            switch self {
            case .noValgrind: return "--counters=simulated runs the command under valgrind, which is not installed (Debian: apt-get install valgrind)"
            case .simulation(let why): return "valgrind's cachegrind gave no counts: \(why)"
            }
        }
    }

    public struct Outcome {
        public var usage: ResourceUsage
        public var simulated: CachegrindSummary?
        /// The `pressure:`/`vmstat:` rows, system-wide over the run.
        public var signalResults: [CounterResult]
        public var elapsedSeconds: Double
        public var commandExitCode: Int32?
        public var interruptedBy: Int32?
    }

    /// The simulated cache geometry (size,associativity,line size), the same everywhere.
    public static let simulatedL1 = "32768,8,64"
    public static let simulatedLL = "8388608,16,64"

    /// Where a program named as execvp finds it: a name with a slash as given, else every
    /// $PATH directory's candidate, in order.
    static func candidates(_ program: String) -> [String] {
        if program.contains("/") { return [program] }
        return (getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/\(program)" }
    }

    /// valgrind's path, if installed.
    public static func valgrindPath() -> String? { candidates("valgrind").first { access($0, X_OK) == 0 } }

    /// Runs the command once. Stop signals must be blocked by the caller (as for StatRunner).
    public func run() throws -> Outcome {
        var argv = command
        var outputDirectory: String? = nil
        if source == .simulated {
            guard let valgrind = AccountingRunner.valgrindPath() else { throw Failure.noValgrind }
            // A command that cannot run is the shell's 127/126, as without valgrind.
            let program = command[0]
            let candidates = AccountingRunner.candidates(program)
            if !candidates.contains(where: { access($0, X_OK) == 0 }) {
                throw StatRunError.child(.exec(command: program, errno: candidates.contains { access($0, F_OK) == 0 } ? EACCES : ENOENT))
            }
            // A private directory: the per-process output files are never written through
            // someone else's symlink, and are removed after reading.
            var template = Array("/tmp/stallstat-cachegrind-XXXXXX".utf8CString)
            guard let dir = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }).map({ String(cString: $0) }) else {
                throw Failure.simulation("cannot make a temporary directory: \(String(cString: strerror(errno)))")
            }
            outputDirectory = dir
            // -q: only the program's own output; --trace-children: its children are
            // simulated too (one file each, %p = pid), as perf's inherit counts them.
            // The simulated caches are fixed, not the host's: the same program gives the same
            // misses on every CI runner (32 KiB 8-way L1s, 8 MiB 16-way last level, 64 B lines).
            argv = [valgrind, "--tool=cachegrind", "--cache-sim=yes", "-q", "--trace-children=yes",
                    "--I1=\(AccountingRunner.simulatedL1)", "--D1=\(AccountingRunner.simulatedL1)", "--LL=\(AccountingRunner.simulatedLL)",
                    "--cachegrind-out-file=\(dir)/cachegrind.out.%p",
                    // valgrind's own messages (its cache warnings, its errors) go to a log
                    // shown only when it failed; the program's output stays the program's.
                    "--log-file=\(dir)/valgrind.log.%p", "--"] + command
        }
        defer { if let dir = outputDirectory { AccountingRunner.removeDirectory(dir) } }

        let reader = KernelSignalReader(kinds: signalEvents.compactMap(\.procCounter))
        let workload: Workload
        do { workload = try Workload(command: argv) } catch let f as PausedChild.Failure { throw StatRunError.child(f) }
        let child = workload.command!
        // The paused child's own faults, runtime and switches since fork: not the command's.
        let beforeExec = ProcessCounts.read(pid: child.pid)
        let signalsBefore = reader.read()
        let start = cpe_monotonic_ns()
        do { try workload.release() } catch let f as PausedChild.Failure { throw StatRunError.child(f) }
        let deadline = durationSeconds.map { start &+ UInt64(min($0 * 1e9, 1e18)) }
        _ = workload.sleep(until: deadline ?? .max)
        let end = cpe_monotonic_ns()
        workload.end()
        let interrupted = workload.interruptedBy
        let signalsAfter = reader.read()

        let usage = child.resourceUsage.map { ResourceUsage($0) } ?? ResourceUsage()
        let elapsedNs = Double(end - start)
        // The /proc signals' rows as perf-counted runs build them (deltas over the run).
        let signalResults = WindowBuilder(events: signalEvents, targetCPUs: [], aggregation: .global, unsupported: [:])
            .window(readings: [:], previous: [:], signals: signalsAfter, previousSignals: signalsBefore, timestampSeconds: nil, elapsedNs: elapsedNs).results
        var simulated: CachegrindSummary? = nil
        if let dir = outputDirectory, interrupted == nil {
            let files = SystemFiles.listDirectory(dir).filter { $0.hasPrefix("cachegrind.out.") }
            guard !files.isEmpty else {
                let log = SystemFiles.listDirectory(dir).filter { $0.hasPrefix("valgrind.log.") }
                    .compactMap { try? SystemFiles.readText("\(dir)/\($0)") }.joined().trimmingWhitespace()
                throw Failure.simulation("valgrind wrote no cachegrind output (exit status \(child.exitCode.map { "\($0)" } ?? "?"))"
                                         + (log.isEmpty ? "" : ":\n" + log))
            }
            var total = CachegrindSummary()
            for f in files {
                guard let text = try? SystemFiles.readText("\(dir)/\(f)") else { continue }
                do { total = total + (try CachegrindSummary.parse(text)) } catch { throw Failure.simulation("\(f): \(error)") }
            }
            simulated = total
        }
        return Outcome(usage: usage.since(beforeExec), simulated: simulated, signalResults: signalResults,
                       elapsedSeconds: elapsedNs / 1e9, commandExitCode: child.exitCode, interruptedBy: interrupted)
    }

    static func removeDirectory(_ dir: String) {
        for f in SystemFiles.listDirectory(dir) { unlink("\(dir)/\(f)") }
        rmdir(dir)
    }
}

/// Whether perf_event_open works here: a user-space task-clock counter on this process,
/// opened and closed at once. Refused (EACCES, EPERM: kernel.perf_event_paranoid on a
/// patched kernel, a container's seccomp profile; ENOSYS: no perf events at all) means
/// only the accounting sources can count.
public enum PerfEventAvailability {
    public static func refusal() -> Int32? {
        let rc = cpe_probe_task_clock()
        return rc == 0 ? nil : -rc
    }
}

extension ResourceUsage {
    /// wait4's struct rusage in stallstat's units.
    init(_ u: rusage) {
        self.init()
        userNs = Double(u.ru_utime.tv_sec) * 1e9 + Double(u.ru_utime.tv_usec) * 1e3
        systemNs = Double(u.ru_stime.tv_sec) * 1e9 + Double(u.ru_stime.tv_usec) * 1e3
        minorFaults = Double(u.ru_minflt)
        majorFaults = Double(u.ru_majflt)
        voluntarySwitches = Double(u.ru_nvcsw)
        involuntarySwitches = Double(u.ru_nivcsw)
        maxRSSKiB = Double(u.ru_maxrss)
        blockInputs = Double(u.ru_inblock)
        blockOutputs = Double(u.ru_oublock)
    }
}

extension ProcessCounts {
    /// A task's own counts from /proc (the paused child before its exec).
    static func read(pid: Int32) -> ProcessCounts {
        ProcessCounts.parse(schedstat: (try? SystemFiles.readText("/proc/\(pid)/schedstat")) ?? "",
                            stat: (try? SystemFiles.readText("/proc/\(pid)/stat")) ?? "",
                            status: (try? SystemFiles.readText("/proc/\(pid)/status")) ?? "")
    }
}
