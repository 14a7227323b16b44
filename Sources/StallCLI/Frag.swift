import ArgumentParser
import StallCore
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

struct Frag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show physical memory fragmentation: free lists per order, the kernel's unusable and fragmentation indices, THP-sized blocks, compaction and pressure.",
        discussion: "stallstat frag --json > a.json; ...; stallstat frag --json > b.json; stallstat frag --diff a.json b.json")

    @Flag(name: .customLong("json"), help: "One snapshot as JSON.")
    var json = false

    @Flag(name: .customLong("csv"), help: "One row per zone and order.")
    var csv = false

    @Option(name: .customLong("watch"), help: "Refresh every SECONDS until Ctrl-C.")
    var watchSeconds: Double?

    @Option(name: .customLong("plot"), help: "With --watch: write the fragmentation measures over time to FILE.svg at the end.")
    var plotFile: String?

    @Option(name: .customLong("time"), help: "Take N snapshots of every /proc source and print what one costs (benchmark).")
    var timeSnapshots: Int?

    @Option(name: .customLong("diff"), parsing: .upToNextOption, help: "Compare two snapshots saved with --json.")
    var diffFiles: [String] = []

    func validate() throws {
        if !diffFiles.isEmpty && diffFiles.count != 2 { throw ValidationError("--diff takes two snapshot files") }
        if json && csv { throw ValidationError("choose one of --json and --csv") }
        if let w = watchSeconds, !(w > 0) { throw ValidationError("--watch takes a positive number of seconds") }
        if plotFile != nil && watchSeconds == nil { throw ValidationError("--plot needs --watch") }
    }

    func run() throws {
        if diffFiles.count == 2 {
            var snapshots: [MemorySnapshot] = []
            for f in diffFiles {
                do { snapshots.append(try MemorySnapshot.decode(try SystemFiles.readText(f))) } catch {
                    throw CLIError(message: "\(f): \(error)", exitCode: 2)
                }
            }
            StandardOutput.write(FragmentationReport.diff(snapshots[0], snapshots[1]))
            return
        }
        let reader = MemorySnapshotReader()
        if let n = timeSnapshots {
            // Cost of the full snapshot of `frag` and of the light one `stat --frag` takes per interval.
            func timed(_ r: MemorySnapshotReader, _ label: String) throws -> String {
                var costs: [Double] = []
                for _ in 0..<max(1, n) {
                    let t0 = MachineFacts.monotonicNanoseconds()
                    _ = try snapshot(r)
                    costs.append(Double(MachineFacts.monotonicNanoseconds() - t0) / 1000)
                }
                let sorted = costs.sorted()
                return cFormat("%d snapshots: mean %.1f us, median %.1f us, p99 %.1f us", Int32(costs.count), RunStatistics(costs).mean,
                               sorted[sorted.count / 2], sorted[min(sorted.count - 1, sorted.count * 99 / 100)]) + " (\(label))\n"
            }
            StandardOutput.write(try timed(reader, "full: buddyinfo, pagetypeinfo, zoneinfo, vmstat, pressure/*")
                                 + timed(MemorySnapshotReader(detailed: false), "per interval of stat --frag: buddyinfo, vmstat, pressure/*"))
            return
        }
        guard let interval = watchSeconds else {
            let s = try snapshot(reader)
            StandardOutput.write(json ? s.json() : csv ? FragmentationReport.csv(s) : FragmentationReport(color: isatty(1) != 0).text(s))
            return
        }
        var series: [MemorySnapshot] = []
        let tty = isatty(1) != 0
        MachineFacts.blockStopSignals()   // Ctrl-C ends the watch and still writes the plot
        while true {
            let s = try snapshot(reader)
            series.append(s)
            if json { StandardOutput.write(s.json()) }
            else if csv { StandardOutput.write(series.count == 1 ? FragmentationReport.csv(s) : String(FragmentationReport.csv(s).drop { $0 != "\n" }.dropFirst())) }
            else { StandardOutput.write((tty ? "\u{1B}[H\u{1B}[2J" : "") + FragmentationReport(color: tty).text(s) + (tty ? "" : "\n")) }
            let sig = MachineFacts.waitForStopSignal(seconds: interval)
            if sig != 0 && sig != SIGCHLD { break }
        }
        if let plotFile {
            let start = series.first?.timestampSeconds ?? 0
            let t = series.map { $0.timestampSeconds - start }
            let panels = [
                PlotPanel(title: "unusable free space index, order \(series.first?.hugePageOrder ?? 9)", unit: "Normal zones", points: zip(t, series.map(\.unusableAtHugePageOrderNormal)).map { ($0, $1) }),
                PlotPanel(title: "THP-sized free blocks", unit: "blocks", points: zip(t, series.map { Double($0.hugePageBlocksFree) }).map { ($0, $1) }),
                PlotPanel(title: "compaction stalls (cumulative)", unit: "", points: zip(t, series.map { Double($0.vmstat["compact_stall"] ?? 0) }).map { ($0, $1) }),
            ]
            do { try SystemFiles.writeText(SVGPlot.render(title: "stallstat frag --watch", panels: panels), to: plotFile) } catch {
                throw CLIError(message: "cannot write \(plotFile): \(error)", exitCode: 2)
            }
            StandardError.write("stallstat: wrote \(plotFile) (\(series.count) snapshots)")
        }
    }

    func snapshot(_ reader: MemorySnapshotReader) throws -> MemorySnapshot {
        do { return try reader.read() } catch {
            throw CLIError(message: "\(error)", exitCode: 2)
        }
    }
}
