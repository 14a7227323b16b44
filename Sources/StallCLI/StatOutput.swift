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

/// One layout of a stat run's results (perf's text, `-x` CSV, `-j` JSON): each -I window
/// as it arrives, then the whole run. Chosen once from the options (`Stat.makeOutput`).
protocol StatOutput: AnyObject {
    func interval(_ window: StatWindow) -> String
    func summary(_ window: StatWindow, totalSeconds: Double, repeats: Int) -> String
    /// After -I's intervals the whole run is printed by default in text (as perf), and in
    /// the machine layouts only with --summary.
    var summarizesAfterIntervals: Bool { get }
}

/// perf's (and simpleperf's) text layout: interval rows under one header, a blank line,
/// then the summary table.
final class TextStatOutput: StatOutput {
    let writer: SimpleperfTextWriter
    let nameWidth: Int
    /// --interval-clear: every window starts a screen, with its header.
    let clearsScreen: Bool
    let afterIntervals: Bool
    private var printedHeader = false
    var summarizesAfterIntervals: Bool { true }

    init(writer: SimpleperfTextWriter, events: [ResolvedEvent], clearsScreen: Bool, afterIntervals: Bool) {
        self.writer = writer
        self.clearsScreen = clearsScreen
        self.afterIntervals = afterIntervals
        nameWidth = max(30, (events.map(\.name.count).max() ?? 0) + 2)
    }

    func interval(_ window: StatWindow) -> String {
        defer { printedHeader = true }
        return writer.intervalRows(window, includeHeader: !printedHeader || clearsScreen, nameWidth: nameWidth)
    }

    func summary(_ window: StatWindow, totalSeconds: Double, repeats: Int) -> String {
        (afterIntervals ? "\n" : "") + writer.render([window], totalSeconds: totalSeconds, repeats: repeats)
    }
}

/// `-x SEP`: perf's CSV lines; after intervals the summary lines carry a `summary` column
/// unless --no-csv-summary.
final class CSVStatOutput: StatOutput {
    let separator: String
    let summaryColumn: Bool
    var summarizesAfterIntervals: Bool { false }
    init(separator: String, summaryColumn: Bool) {
        self.separator = separator
        self.summaryColumn = summaryColumn
    }
    func interval(_ window: StatWindow) -> String {
        PerfCSVWriter(separator: separator).lines(for: window).map { $0 + "\n" }.joined()
    }
    func summary(_ window: StatWindow, totalSeconds: Double, repeats: Int) -> String {
        let prefix = summaryColumn ? String(repeating: " ", count: 9) + "summary" + separator : ""
        return PerfCSVWriter(separator: separator).lines(for: window).map { prefix + $0 + "\n" }.joined()
    }
}

/// `-j`: perf's JSON lines, one object per event.
final class JSONStatOutput: StatOutput {
    var summarizesAfterIntervals: Bool { false }
    func interval(_ window: StatWindow) -> String { PerfJSONWriter().lines(for: window).map { $0 + "\n" }.joined() }
    func summary(_ window: StatWindow, totalSeconds: Double, repeats: Int) -> String { interval(window) }
}

/// Something that follows a run interval by interval (--frag's memory snapshots).
protocol StatIntervalObserver: AnyObject {
    func observe(_ window: StatWindow)
}

/// Prints each -I window as it arrives, so a pipe reader sees it at once, then tells the
/// observers.
final class IntervalPrinter {
    let output: StatOutput
    let sink: StatOutputSink
    let clearsScreen: Bool
    var observers: [StatIntervalObserver] = []

    init(output: StatOutput, sink: StatOutputSink, clearsScreen: Bool) {
        self.output = output
        self.sink = sink
        self.clearsScreen = clearsScreen
    }

    func print(_ window: StatWindow) {
        if clearsScreen { sink.write("\u{1B}[H\u{1B}[2J") }
        sink.write(output.interval(window))
        for o in observers { o.observe(window) }
    }
}

/// `--frag` (default with the stall set and -I): a memory snapshot after each interval,
/// correlated with that interval's stall rates; bounded, nothing kept per interval beyond
/// its window.
final class FragmentationSnapshotter: StatIntervalObserver {
    let reader: MemorySnapshotReader
    /// The workload whose huge-page share of anonymous memory is followed (TLB reach).
    let workloadPID: () -> Int32?
    private(set) var correlation: FragmentationCorrelation

    init(reader: MemorySnapshotReader, baseline: MemorySnapshot?, tracksHugePages: Bool, workloadPID: @escaping () -> Int32?) {
        self.reader = reader
        self.workloadPID = workloadPID
        correlation = FragmentationCorrelation(baseline: baseline, tracksHugePages: tracksHugePages)
    }

    func observe(_ window: StatWindow) {
        guard let snapshot = try? reader.read() else { return }
        let share = workloadPID().flatMap { MemorySnapshotReader.smapsRollup(pid: $0)?.hugePageShareOfAnonymous } ?? 0
        correlation.add(window: window, snapshot: snapshot, hugePageShare: share)
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
