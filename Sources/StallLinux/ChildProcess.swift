#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent

/// A command forked and held before exec, so counters can be armed on its pid first.
public final class PausedChild {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case spawn(String)
        case exec(command: String, errno: Int32)

        public var description: String {
            switch self {
            case .spawn(let why): return "cannot start the command: \(why)"
            case .exec(let command, let e):
                return "cannot run '\(command)': \(String(cString: strerror(e)))"
            }
        }

        /// Shell conventions: 127 not found, 126 found but not executable.
        public var exitCode: Int32 {
            if case .exec(_, let e) = self { return e == ENOENT ? 127 : 126 }
            return 1
        }
    }

    public let pid: pid_t
    private var child: cpe_child
    public private(set) var exitStatus: Int32?   // raw wait status once reaped
    /// What the kernel accounted to the command and the descendants it waited for, as
    /// wait4(2) returns it on reaping: the counts `--counters=rusage` reports.
    public private(set) var resourceUsage: rusage?

    public init(arguments: [String]) throws {
        precondition(!arguments.isEmpty)
        var c = cpe_child()
        var cStrings = arguments.map { strdup($0) }
        cStrings.append(nil)
        defer { for p in cStrings { free(p) } }
        let rc = cStrings.withUnsafeMutableBufferPointer { buf in
            cpe_spawn_paused(buf[0], buf.baseAddress, &c)
        }
        if rc < 0 { throw Failure.spawn(String(cString: strerror(-rc))) }
        child = c
        pid = c.pid
        self.arguments = arguments
    }

    public let arguments: [String]

    /// Lets the child exec; throws if exec failed.
    public func release() throws {
        let rc = cpe_release_child(&child)
        if rc > 0 {
            _ = waitNonBlocking()
            throw Failure.exec(command: arguments[0], errno: rc)
        }
        if rc < 0 { throw Failure.spawn(String(cString: strerror(-rc))) }
    }

    /// Reaps the child if it has exited. Returns true once reaped.
    @discardableResult
    public func waitNonBlocking() -> Bool {
        if exitStatus != nil { return true }
        var status: Int32 = 0
        var usage = rusage()
        let r = wait4(pid, &status, WNOHANG, &usage)
        if r == pid { exitStatus = status; resourceUsage = usage; return true }
        return false
    }

    public func waitBlocking() {
        if exitStatus != nil { return }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        exitStatus = status
        resourceUsage = usage
    }

    public func signal(_ sig: Int32) { if exitStatus == nil { kill(pid, sig) } }

    /// How long a command may take to exit by itself after a stop signal reached it (a
    /// Ctrl-C at the terminal reaches the whole group), and then after SIGTERM.
    static let exitGraceNs: UInt64 = 200_000_000
    static let termGraceNs: UInt64 = 2_000_000_000

    /// Ends a command still running when the run ended, and reaps it. After a stop
    /// signal: a signal other than SIGINT is passed on, the command gets a moment to exit,
    /// then SIGTERM, then SIGKILL. After a time limit: SIGTERM at once (perf --timeout).
    /// Needs the stop signals blocked (it waits for SIGCHLD with sigtimedwait).
    public func end(interruptedBy sig: Int32?) {
        guard exitStatus == nil else { return }
        if let sig {
            if sig != SIGINT { signal(sig) }
            if !waitForExit(ns: PausedChild.exitGraceNs) {
                signal(SIGTERM)
                if !waitForExit(ns: PausedChild.termGraceNs) { signal(SIGKILL) }
            }
        } else {
            signal(SIGTERM)
            if !waitForExit(ns: PausedChild.termGraceNs) { signal(SIGKILL) }
        }
        waitBlocking()
    }

    /// Waits up to `ns` for the exit (SIGCHLD), reaping it. Other stop signals arriving
    /// meanwhile are taken and ignored: the run is already ending.
    private func waitForExit(ns: UInt64) -> Bool {
        let until = cpe_monotonic_ns() + ns
        while !waitNonBlocking() {
            let now = cpe_monotonic_ns()
            if now >= until { return false }
            _ = cpe_wait_signal(Int64(min(until - now, 20_000_000)))
        }
        return true
    }

    /// The shell-style exit code: the status, or 128 + signal.
    public var exitCode: Int32? {
        guard let s = exitStatus else { return nil }
        if s & 0x7f == 0 { return (s >> 8) & 0xff }
        return 128 + (s & 0x7f)
    }
}
