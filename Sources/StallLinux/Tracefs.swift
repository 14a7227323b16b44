#if canImport(Glibc)
import Glibc
#endif
import StallCore

/// Finds tracepoint ids in tracefs, mounting it at /sys/kernel/tracing when it is
/// missing and we are root.
public enum Tracefs {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case notMounted(mountError: String?)
        /// Mounted, but this user may not read it (tracefs is 0700 root by default).
        case notReadable(mountPoint: String)
        case noSuchTracepoint(String, suggestions: [String])

        public var description: String {
            switch self {
            case .notMounted(let err):
                let why = err.map { " (mount failed: \($0))" } ?? ""
                return "tracefs is not mounted\(why); as root run: mount -t tracefs nodev /sys/kernel/tracing"
            case .notReadable(let mountPoint):
                return "tracefs is mounted at \(mountPoint) but this user cannot read it (it is root's, mode 0700, by default): run as root, or let the user in (e.g. mount -o remount,mode=755 \(mountPoint), which also exposes the trace buffers)"
            case .noSuchTracepoint(let name, let suggestions):
                let hint = suggestions.isEmpty ? "" : "; did you mean: \(suggestions.joined(separator: ", "))"
                return "unknown tracepoint '\(name)' (see `stallstat list tracepoint`)\(hint)"
            }
        }
    }

    static let candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"]

    /// The `events` directory of a mounted tracefs; mounts one if needed and possible.
    public static func eventsDirectory(mountIfNeeded: Bool = true) throws -> String {
        for base in candidates where SystemFiles.isDirectory("\(base)/events") { return "\(base)/events" }
        // Mounted but unreadable is a permission problem, not a missing mount.
        if let mounts = SystemFiles.readTrimmed("/proc/self/mounts") {
            for line in mounts.split(separator: "\n") {
                let f = line.split(separator: " ")
                if f.count >= 3, f[2] == "tracefs", candidates.contains(String(f[1])) { throw Failure.notReadable(mountPoint: String(f[1])) }
            }
        }
        guard mountIfNeeded else { throw Failure.notMounted(mountError: nil) }
        if geteuid() != 0 { throw Failure.notMounted(mountError: "not root") }
        if mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nil) != 0 {
            throw Failure.notMounted(mountError: String(cString: strerror(errno)))
        }
        guard SystemFiles.isDirectory("/sys/kernel/tracing/events") else { throw Failure.notMounted(mountError: nil) }
        return "/sys/kernel/tracing/events"
    }

    /// True when the text has tracepoint shape `subsystem:event`.
    public static func looksLikeTracepoint(_ name: String) -> Bool {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return false }
        let ok: (Character) -> Bool = { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
        return parts[0].allSatisfy(ok) && parts[1].allSatisfy(ok)
    }

    public static func tracepointID(_ name: String) throws -> (id: UInt64, path: String) {
        let events = try eventsDirectory()
        let parts = name.split(separator: ":")
        let path = "\(events)/\(parts[0])/\(parts[1])/id"
        if let text = SystemFiles.readTrimmed(path), let id = UInt64(text) { return (id, path) }
        let subsystem = String(parts[0])
        let siblings = SystemFiles.listDirectory("\(events)/\(subsystem)").map { "\(subsystem):\($0)" }
        throw Failure.noSuchTracepoint(name, suggestions: Suggestions.closest(to: name, among: siblings))
    }

    /// `kmem:*`, `syscalls:sys_enter_*`, `sched:sched_{switch,wakeup}`-free globs.
    public static func isWildcard(_ name: String) -> Bool {
        guard name.contains(":"), !name.contains("/") else { return false }
        return name.contains("*") || name.contains("?") || name.contains("[")
    }

    /// Every tracepoint whose `subsystem:name` matches the glob (fnmatch), sorted.
    public static func matching(_ pattern: String) throws -> [String] {
        _ = try eventsDirectory()
        return allTracepoints().filter { fnmatch(pattern, $0, 0) == 0 }.sorted()
    }

    public static func allTracepoints() -> [String] {
        guard let events = try? eventsDirectory() else { return [] }
        var names: [String] = []
        for sub in SystemFiles.listDirectory(events) where SystemFiles.isDirectory("\(events)/\(sub)") {
            for ev in SystemFiles.listDirectory("\(events)/\(sub)") where SystemFiles.isDirectory("\(events)/\(sub)/\(ev)") {
                names.append("\(sub):\(ev)")
            }
        }
        return names
    }
}

extension TracingData {
    /// TRACING_DATA for these tracepoints (`system:event`) from the mounted tracefs, or nil
    /// when a format file cannot be read (the caller says the file will lack it).
    public static func read(tracepoints: [String]) -> [UInt8]? {
        guard let events = try? Tracefs.eventsDirectory(mountIfNeeded: false) else { return nil }
        let base = String(events.dropLast("/events".count))
        func file(_ path: String) -> [UInt8]? { try? SystemFiles.readBytes(path, limit: 16 << 20) }
        guard let headerPage = file(events + "/header_page"), let headerEvent = file(events + "/header_event") else { return nil }
        var bySystem: [String: [[UInt8]]] = [:]
        var order: [String] = []
        for tp in tracepoints {
            let parts = tp.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, let format = file("\(events)/\(parts[0])/\(parts[1])/format") else { return nil }
            if bySystem[parts[0]] == nil { order.append(parts[0]) }
            bySystem[parts[0], default: []].append(format)
        }
        return assemble(headerPage: headerPage, headerEvent: headerEvent,
                        systems: order.map { System(name: $0, formats: bySystem[$0]!) },
                        printkFormats: file(base + "/printk_formats") ?? [], savedCmdlines: file(base + "/saved_cmdlines") ?? [],
                        pageSize: UInt32(sysconf(Int32(_SC_PAGESIZE))))
    }
}
