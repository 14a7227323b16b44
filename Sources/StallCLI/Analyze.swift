import ArgumentParser
import StallCore
import StallLinux
#if canImport(Glibc)
import Glibc
#endif

struct Analyze: ParsableCommand {
    /// The most one input may hold: 256 MiB is far more than any stat output (a day of
    /// `-I 100 -A` on 256 CPUs is ~2 GB only with hundreds of events), and /dev/zero ends there.
    static let maxInputBytes = 256 << 20

    static let configuration = CommandConfiguration(
        abstract: "Build the stall tree from a saved simpleperf/perf stat output (text, -x CSV, -j JSON, with or without -I) or stallstat's own.",
        discussion: "Record on the device (simpleperf stat ... > stat.txt), analyse on the desk: stallstat analyze stat.txt")

    @OptionGroup var tableOptions: TableOptions

    @Flag(name: .customLong("json"), help: "Print the tree as JSON.")
    var json = false

    @Option(name: .customLong("slots"), help: "Pipeline slot width, for slot-based metrics when the tables do not know it.")
    var slots: Int?

    @Argument(help: "Files to analyse ('-' for standard input).")
    var files: [String]

    func run() throws {
        let resolver = tableOptions.resolver()
        var failed = false
        for file in files {
            let text: String
            do { text = try SystemFiles.readText(file, limit: Analyze.maxInputBytes) } catch {
                StandardError.write("stallstat: \(file): \(error)")
                failed = true
                continue
            }
            let imported: ImportedCounts
            do { imported = try CountImporter.parse(text) } catch {
                StandardError.write("stallstat: \(file): \(error)")
                failed = true
                continue
            }
            if imported.isEmpty {
                // Nothing in the file was a count: say so and fail, never an empty success.
                for p in imported.problems.prefix(5) { StandardError.write("stallstat: \(file): \(p)") }
                StandardError.write("stallstat: \(file): no count could be read from this \(imported.format.rawValue) input")
                failed = true
                continue
            }
            for p in imported.problems { StandardError.write("stallstat: \(file): \(p) (skipped; the rest is analysed)") }
            let totals = imported.totals
            let model: CPUModel
            var guessNote: String? = nil
            if let name = tableOptions.cpuModel {
                guard let m = resolver.tables.model(named: name) else {
                    throw ValidationError("unknown CPU model '\(name)'; EventTables knows: \(resolver.tables.cpus.map(\.name).joined(separator: ", "))")
                }
                model = m
            } else if let g = CPUGuess.guess(names: totals.map(\.name), tables: resolver.tables) {
                model = g.model
                guessNote = "CPU guessed from the events as \(g.model.name)"
                    + (g.alsoPossible.isEmpty ? "" : " (also possible: \(g.alsoPossible.joined(separator: ", ")); the tree is the same for all, give --cpu for core-specific metrics)")
            } else if let detected = resolver.coreTypes().first?.model {
                model = detected
                guessNote = "no core-specific events in the file: using this machine's CPU, \(detected.name)"
            } else {
                StandardError.write("stallstat: \(file): no core-specific events to guess the CPU from; give --cpu MODEL")
                StandardOutput.write(countsSummary(file: file, imported))
                continue
            }
            let builder = StallTreeBuilder(catalog: resolver.tables.catalog(for: model), slots: slots)
            var report = builder.build(totals)
            if let guessNote { report.notes.insert(guessNote + ".", at: 0) }
            if imported.windows.count > 1 { report.notes.insert("\(imported.windows.count) intervals summed.", at: 0) }
            if !imported.uncounted.isEmpty { report.notes.append("not counted in the file: \(imported.uncounted.joined(separator: ", ")).") }
            if json {
                StandardOutput.write(StallTreeRenderer.json(report, source: file))
            } else {
                StandardOutput.write("\(file) (\(imported.format.rawValue)):\n" + StallTreeRenderer(color: isatty(1) != 0).text(report))
                // No tree from these events: the counts themselves are what the file says.
                if report.nodes.isEmpty { StandardOutput.write(countsSummary(file: file, imported, why: "the \(model.name) tree needs events the file does not have")) }
            }
        }
        if failed { throw ExitCode(2) }
    }

    func countsSummary(file: String, _ imported: ImportedCounts, why: String = "no stall tree without a CPU model") -> String {
        var out = "\(file) (\(imported.format.rawValue)): \(imported.totals.count) events, \(why)\n"
        for c in imported.totals { out += "  " + padLeftCLI(groupThousands(c.value), 18) + "  " + c.name + "\n" }
        return out
    }
}

func padLeftCLI(_ s: String, _ w: Int) -> String { s.count >= w ? s : String(repeating: " ", count: w - s.count) + s }

