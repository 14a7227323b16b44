import Foundation
import ArgumentParser
import StallCore
import StallLinux
#if canImport(StallPprof)
import StallPprof
#endif

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Read a perf.data file (stallstat's, perf record's, or simpleperf's in that layout) and show where the samples fell.")

    @Option(name: [.customShort("i"), .customLong("input")], help: "The perf.data file (default perf.data).")
    var input = "perf.data"

    @Option(name: [.customShort("s"), .customLong("sort")], help: "Sort keys, any order: comm,pid,tid,dso,symbol,cpu,data_page_size,code_page_size (default comm,dso,symbol).")
    var sort = "comm,dso,symbol"

    @Flag(name: .customLong("children"), help: "Add callers' totals from the call chains (a Children column).")
    var children = false

    @Option(name: .customLong("percent-limit"), help: "Hide rows below this percentage.")
    var percentLimit: Double = 0

    @Flag(name: .customLong("json"), help: "JSON output.")
    var json = false

    @Flag(name: .customLong("folded"), help: "Folded stacks (comm;caller;...;leaf count) for flame graphs.")
    var folded = false

    @Option(name: .customLong("pprof"), help: "Write the profile as gzipped pprof profile.proto to this file (go tool pprof, Parca, Pyroscope).")
    var pprofFile: String?

    @Option(name: .customLong("event"), help: "With --folded: the event whose samples are folded (default the first).")
    var event: String?

    @Flag(name: .customLong("stdio"), help: "Accepted for perf compatibility: text is the default.")
    var stdio = false

    @Flag(inversion: .prefixedNo, help: "Demangle C++, Rust and Swift names as perf does (--no-demangle: the names as the symbol tables spell them).")
    var demangle = true

    @Option(name: .customLong("symfs"), help: "Look for the recorded binaries under this directory.")
    var symfs = ""

    @Option(name: .customLong("kallsyms"), help: "Kernel symbols file (default /proc/kallsyms).")
    var kallsyms = "/proc/kallsyms"

    func run() throws {
        var keys: [ProfileSortKey] = []
        for k in sort.split(separator: ",") {
            guard let key = ProfileSortKey(userName: String(k).trimmingWhitespace()) else {
                throw ValidationError("unknown sort key '\(k)'; choose from \(ProfileSortKey.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard !keys.contains(key) else { throw ValidationError("sort key '\(k)' is given twice") }
            keys.append(key)
        }
        let kernelSymbols = ProfileSymbolizer.preloadKernelSymbols(kallsyms)
        let contents = try Report.load(input, callchains: children || folded || pprofFile != nil, symfs: symfs)
        if let d = contents.damage {
            StandardError.write("stallstat: \(input): damaged at offset \(d.offset): \(d.message); reporting the \(contents.sampleCount) samples before it")
        }
        for n in contents.notes + [contents.userStacks.note].compactMap({ $0 }) { StandardError.write("stallstat: \(input): \(n)") }
        if contents.lostEvents > 0 {
            StandardError.write("stallstat: \(input): the kernel lost \(contents.lostEvents) events (the ring buffer was full) while recording")
        }
        if keys.contains(.dataPageSize) && !contents.attrs.contains(where: { $0.sampleType & PerfData.Sample.dataPageSize != 0 }) {
            StandardError.write("stallstat: \(input): no data page sizes were recorded (record with -d --data-page-size); the column shows N/A")
        }
        let symbolizer = ProfileSymbolizer(contents: contents, kallsyms: kallsyms, symfs: symfs, demangle: demangle)
        symbolizer.useKernelSymbols(kernelSymbols)
        let resolve: FrameResolver = { pid, ip, kernel, time in symbolizer.resolve(pid: pid, ip: ip, kernel: kernel, time: time) }
        if let pprofFile {
            try writePprof(contents: contents, symbolizer: symbolizer, to: pprofFile)
        } else if folded {
            var index: Int32 = 0
            if let event {
                guard let i = contents.attrs.firstIndex(where: { $0.name == event }) else {
                    throw CLIError(message: "--event \(event): the file has \(contents.attrs.map(\.name).joined(separator: ", "))", exitCode: 2)
                }
                index = Int32(i)
            } else if contents.attrs.count > 1 {
                StandardError.write("stallstat: --folded shows the samples of \(contents.attrs[0].name) (of \(contents.attrs.count) events; --event NAME for another)")
            }
            StandardOutput.write(ProfileReport.folded(contents: contents, event: index, resolve: resolve))
        } else {
            let report = ProfileReport(contents: contents, sortKeys: keys, children: children, resolve: resolve)
            StandardOutput.write(json ? report.json(children: children, percentLimit: percentLimit) : report.text(children: children, percentLimit: percentLimit))
        }
        for w in symbolizer.warnings { StandardError.write("stallstat: warning: \(w)") }
        // A partial report of a damaged file is still a failure for scripts.
        if contents.damage != nil { throw ExitCode(2) }
    }

    func writePprof(contents: PerfDataContents, symbolizer: ProfileSymbolizer, to path: String) throws {
        #if canImport(StallPprof)
        let profile = PprofProfile(contents: contents, resolve: { symbolizer.resolve(pid: $0, ip: $1, kernel: $2, time: $3) }, mapping: { pid, ip, time in
            symbolizer.mapping(pid: pid, ip: ip, time: time).map { PprofProfile.Mapped(start: $0.start, end: $0.end, fileOffset: $0.pgoff, path: $0.filename) }
        })
        let bytes: [UInt8]
        do { bytes = try profile.gzipped() } catch {
            throw CLIError(message: "--pprof: \(error)", exitCode: 2)
        }
        do {
            try SystemFiles.writeBytes(bytes, to: path)
        } catch {
            throw CLIError(message: "cannot write \(path): \(error)", exitCode: ExitCodes.outputError)
        }
        StandardError.write("stallstat: wrote \(path) (\(profile.sampleCount) samples, \(bytes.count) bytes gzipped); read it with go tool pprof")
        #else
        throw CLIError(message: "--pprof: this stallstat was built without swift-protobuf (it needs Swift 6.2 or later to build)", exitCode: 2)
        #endif
    }

    /// stdin is read whole (pipe mode, `-i -`); a directory is `perf record --threads`'
    /// layout (the header in `data`, each thread's records in `data.N`); otherwise the
    /// file is mapped. Unusable input is one message and exit 2.
    static func load(_ input: String, callchains: Bool = true, symfs: String = "") throws -> PerfDataContents {
        // --call-graph dwarf stacks are unwound while read, only when callers are shown.
        let unwinder = callchains ? DwarfUnwinder(symfs: symfs) : nil
        func fail(_ message: String) -> ExitCode {
            StandardError.write("stallstat: \(input): \(message)")
            return ExitCode(2)
        }
        do {
            if input == "-" {
                return try PerfDataReader.read(ByteStorage(try SystemFiles.readStandardInput(limit: maxPipeBytes)), decompressor: ZstdDecompressor(),
                                               callchains: callchains, unwinder: unwinder, merge: true)
            }
            if SystemFiles.isDirectory(input) {
                guard SystemFiles.exists(input + "/data") else { throw fail("a directory without a perf.data header file ('data')") }
                var c = try PerfDataReader.read(try SystemFiles.map(input + "/data"), decompressor: ZstdDecompressor(), callchains: callchains, unwinder: unwinder)
                let parts = (try? FileManager.default.contentsOfDirectory(atPath: input)) ?? []
                let threads = parts.compactMap { name -> (Int, String)? in
                    guard name.hasPrefix("data."), let n = Int(name.dropFirst(5)) else { return nil }
                    return (n, name)
                }.sorted { $0.0 < $1.0 }
                for (_, name) in threads where c.damage == nil {
                    PerfDataReader.appendRecords(from: try SystemFiles.map(input + "/" + name), named: name, into: &c, decompressor: ZstdDecompressor(),
                                                 unwinder: unwinder)
                }
                return c
            }
            let bytes = try SystemFiles.map(input)
            let progress: ((Double) -> Void)? = bytes.count > 64 << 20 ? { StandardError.write(cFormat("stallstat: reading \(input): %.0f%%", 100 * $0)) } : nil
            return try PerfDataReader.read(bytes, progress: progress, decompressor: ZstdDecompressor(), callchains: callchains, unwinder: unwinder, merge: true)
        } catch let e as ExitCode {
            throw e
        } catch {
            throw fail("\(error)")
        }
    }
    /// Standard input is read into memory: pipe-mode data cannot be mapped.
    static let maxPipeBytes = 64 << 30
}
