import ArgumentParser
import StallCore
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

/// Where `stat` results go, as perf decides it: -o FILE (with perf's `# started on`
/// header, --append to add to it), --log-fd N, else text to standard output and the
/// machine layouts (-x, -j) to standard error, where perf prints them, so scripts
/// written as `perf stat -x, ... 2>out.csv` keep working. Write failures are kept and
/// reported once by `finish()`.
final class StatOutputSink {
    private let fd: Int32
    private let ownsFD: Bool
    /// -o FILE (not --append): written beside FILE and renamed over it, never through a link.
    private var replacing: ReplacingOutput? = nil
    private let quiet: Bool
    private var failure: String? = nil
    let destination: String

    init(format: Stat.OutputFormat, path: String?, append: Bool, logFD: Int32?, quiet: Bool) throws {
        self.quiet = quiet
        if let path {
            if append {
                // Adding to a file: never through a link (O_NOFOLLOW), created 0644 if missing.
                let f = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o644)
                if f < 0 {
                    let why = errno == ELOOP ? "it is a symbolic link, which --append does not follow" : String(cString: strerror(errno))
                    throw CLIError(message: "cannot write -o \(path): \(why)", exitCode: ExitCodes.outputError)
                }
                fd = f
                ownsFD = true
            } else {
                do { replacing = try ReplacingOutput(path: path, mode: 0o644, keepOld: false) } catch {
                    throw CLIError(message: "cannot write -o \(path): \(error)", exitCode: ExitCodes.outputError)
                }
                fd = replacing!.fd
                ownsFD = false
            }
            destination = path
            // perf's header: ctime() already ends in a newline, and a blank line follows.
            var now = time(nil)
            var buffer = [CChar](repeating: 0, count: 64)
            let stamp = ctime_r(&now, &buffer).map { String(cString: $0) } ?? "\n"
            write("# started on \(stamp)\n")
            // The new file exists (with perf's header): put it in place, so -I output can be followed as it grows.
            do { try replacing?.commit() } catch {
                throw CLIError(message: "cannot write -o \(path): \(error)", exitCode: ExitCodes.outputError)
            }
        } else if let logFD {
            fd = logFD
            ownsFD = false
            destination = "--log-fd \(logFD)"
        } else {
            switch format {
            case .text: fd = 1; destination = "standard output"
            case .csv, .json: fd = 2; destination = "standard error"
            }
            ownsFD = false
        }
    }

    func write(_ text: String) {
        if quiet || failure != nil || text.isEmpty { return }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                failure = "cannot write to \(destination): \(String(cString: strerror(errno)))"
                return
            }
            offset += n
        }
    }

    /// Closes a file and returns the first write failure, if any.
    func finish() -> String? {
        if let r = replacing, fsync(r.fd) != 0, errno != EINVAL, failure == nil {
            failure = "cannot write to \(destination): \(String(cString: strerror(errno)))"
        }
        if ownsFD, close(fd) != 0, failure == nil {
            failure = "cannot write to \(destination): \(String(cString: strerror(errno)))"
        }
        return failure
    }
}

/// Prints each -I window as it arrives, so a pipe reader sees it at once.
final class IntervalPrinter {
    let format: Stat.OutputFormat
    let sink: StatOutputSink
    let textWriter: SimpleperfTextWriter
    let clearScreen: Bool
    var printedHeader = false
    /// Called after each window is printed (the memory snapshot of `--frag`).
    var afterEach: ((StatWindow) -> Void)? = nil
    let nameWidth: Int

    init(format: Stat.OutputFormat, events: [ResolvedEvent], sink: StatOutputSink, textWriter: SimpleperfTextWriter, clearScreen: Bool) {
        self.format = format
        self.sink = sink
        self.textWriter = textWriter
        self.clearScreen = clearScreen
        nameWidth = max(30, (events.map(\.name.count).max() ?? 0) + 2)
    }

    func print(_ window: StatWindow) {
        if clearScreen { sink.write("\u{1B}[H\u{1B}[2J") }
        switch format {
        case .csv(let sep): sink.write(PerfCSVWriter(separator: sep).lines(for: window).map { $0 + "\n" }.joined())
        case .json: sink.write(PerfJSONWriter().lines(for: window).map { $0 + "\n" }.joined())
        case .text:
            sink.write(textWriter.intervalRows(window, includeHeader: !printedHeader || clearScreen, nameWidth: nameWidth))
            printedHeader = true
        }
        afterEach?(window)
    }
}

/// One -M metric over the run.
struct MetricRow {
    var name: String
    var value: Double?
    var unit: String
    /// Why it could not be computed.
    var missing: String?
}

/// -M output: a section after the counts, or with --metric-only the metrics alone
/// (text: a table; -x: perf's header line of names, then a line of values; -j: one object).
struct MetricOnlyWriter {
    var format: Stat.OutputFormat

    func value(_ r: MetricRow) -> String { r.value.map { cFormat("%.2f", $0) } ?? "<not available>" }

    func render(_ rows: [MetricRow]) -> String {
        switch format {
        case .csv(let sep):
            return rows.map { "\($0.unit) \($0.name)" }.joined(separator: sep) + "\n" + rows.map(value).joined(separator: sep) + "\n"
        case .json:
            let fields = rows.map { "\"\(jsonText($0.unit.isEmpty ? $0.name : "\($0.unit) \($0.name)"))\" : " + ($0.value.map { cFormat("\"%.2f\"", $0) } ?? "\"<not available>\"") }
            return "{" + fields.joined(separator: ", ") + "}\n"
        case .text:
            return section(rows)
        }
    }

    func section(_ rows: [MetricRow]) -> String {
        guard format.isText else { return render(rows) }
        let width = max(30, (rows.map(\.name.count).max() ?? 0) + 2)
        var out = "\nMetrics:\n"
        for r in rows {
            let name = r.name + String(repeating: " ", count: max(1, width - r.name.count))
            out += "  " + name + value(r) + (r.value != nil && !r.unit.isEmpty ? " " + r.unit : "")
            if let why = r.missing { out += "  (\(why))" }
            out += "\n"
        }
        return out
    }

    func jsonText(_ s: String) -> String { s.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"") }
}

extension Stat.OutputFormat {
    var isText: Bool { if case .text = self { return true }; return false }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String { split(separator: Character(a), omittingEmptySubsequences: false).joined(separator: b) }
}

/// Threads for --per-thread: every thread on the machine (with -a), and their names.
enum ThreadList {
    static func allThreads() -> [Int32] {
        SystemFiles.listDirectory("/proc").compactMap { Int32($0) }.flatMap { pid in
            SystemFiles.listDirectory("/proc/\(pid)/task").compactMap { Int32($0) }
        }
    }

    static func comm(of tid: Int32) -> String {
        SystemFiles.readTrimmed("/proc/\(tid)/comm") ?? "?"
    }
}
