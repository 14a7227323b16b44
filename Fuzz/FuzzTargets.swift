// libFuzzer entry point for every parser of untrusted input in StallCore.
//
// Built by Fuzz/run.sh together with StallCore's sources as one module (so the fuzzer's
// coverage instrumentation reaches the parsers), with `swiftc -sanitize=fuzzer,address`.
// The target is chosen by STALLSTAT_FUZZ_TARGET; each target runs the parser and then
// what the command does with its result, so a value that parses but traps later is found
// too. A Swift runtime trap (overflow, index out of range, force unwrap) is a crash for
// libFuzzer; a thrown error is a clean rejection.

#if canImport(Glibc)
import Glibc
#endif

enum FuzzTarget: String, CaseIterable {
    case perfdata, elf, kallsyms, analyze, gateBaseline = "gate-baseline", gateConfig = "gate-config", events, proc, tables, exposition
}

let fuzzTarget: FuzzTarget = {
    guard let name = getenv("STALLSTAT_FUZZ_TARGET").map({ String(cString: $0) }), let t = FuzzTarget(rawValue: name) else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fputs("stallstat-fuzz: set STALLSTAT_FUZZ_TARGET to one of: \(names)\n", stderr)
        exit(2)
    }
    return t
}()

/// The embedded tables and every core's catalog, built once: analyze, events and tables use them.
let embeddedTables = EventTableSet(files: EmbeddedEventTables.files, origin: "embedded")
nonisolated(unsafe) var catalogs: [String: CoreCatalog] = [:]
func catalog(_ model: CPUModel) -> CoreCatalog {
    if let c = catalogs[model.name] { return c }
    let c = embeddedTables.catalog(for: model)
    catalogs[model.name] = c
    return c
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    switch fuzzTarget {
    case .perfdata: fuzzPerfData(bytes)
    case .elf: fuzzELF(bytes)
    case .kallsyms: fuzzKallsyms(bytes)
    case .analyze: fuzzAnalyze(String(decoding: bytes, as: UTF8.self))
    case .gateBaseline: _ = try? GateBaseline.decode(String(decoding: bytes, as: UTF8.self), file: "baseline.json")
    case .gateConfig: _ = try? GateConfig.parseJSON(String(decoding: bytes, as: UTF8.self), file: "stallstat-gate.json")
    case .events: fuzzEvents(String(decoding: bytes, as: UTF8.self))
    case .proc: fuzzProc(bytes)
    case .tables: fuzzTables(String(decoding: bytes, as: UTF8.self))
    case .exposition: fuzzExposition(String(decoding: bytes, as: UTF8.self))
    }
    return 0
}

func fuzzPerfData(_ bytes: [UInt8]) {
    // Half the inputs as report reads them (identical samples merged, chains shared).
    guard let c = try? PerfDataReader.read(ByteStorage(bytes), unwinder: StackWordsUnwinder(), merge: bytes.count % 2 == 0) else { return }
    // What report does next: aggregate by every key, with and without call chains, and fold.
    let resolve: FrameResolver = { pid, ip, kernel, _ in
        ResolvedFrame(dso: kernel ? "[kernel.kallsyms]" : "dso\(pid % 3)", symbol: ip % 5 == 0 ? nil : "f\(ip % 7)", isKernel: kernel)
    }
    for children in [false, true] {
        let r = ProfileReport(contents: c, sortKeys: ProfileSortKey.allCases, children: children, resolve: resolve)
        _ = r.text(children: children, percentLimit: 0)
        _ = r.json(children: children, percentLimit: 0)
    }
    _ = ProfileReport.folded(contents: c, resolve: resolve)
}

/// Stands in for libdw: "unwinds" a user stack into its first words, so the reader's
/// splicing of unwound frames into call chains sees arbitrary addresses and lengths.
final class StackWordsUnwinder: UserStackUnwinder {
    func unwind(_ sample: UserStackSample, contents: PerfDataContents) -> (frames: [UInt64], stopped: String?) {
        let words = min(sample.stack.count / 8, 16)
        let frames = (0..<words).map { sample.stack.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        return ([sample.registers[8]] + frames, words == 0 ? "empty stack" : nil)
    }
}

func fuzzELF(_ bytes: [UInt8]) {
    guard let e = try? ELFSymbols(bytes: bytes) else { return }
    for s in e.symbols.prefix(64) {
        _ = e.symbol(at: s.address)
        _ = e.symbol(at: s.address &+ s.size)
        _ = e.virtualAddress(fileOffset: s.address)
    }
    _ = e.symbol(at: .max)
    _ = e.virtualAddress(fileOffset: .max)
}

func fuzzKallsyms(_ bytes: [UInt8]) {
    let k = KernelSymbols(kallsymsBytes: bytes)
    for a in k.addresses.prefix(64) { _ = k.symbol(at: a); _ = k.symbol(at: a &+ 1) }
    _ = k.symbol(at: .max)
}

func fuzzAnalyze(_ text: String) {
    guard let imported = try? CountImporter.parse(text), !imported.isEmpty else { return }
    let totals = imported.totals
    let model = CPUGuess.guess(names: totals.map(\.name), catalogs: embeddedTables.cpus.map(catalog))?.model ?? embeddedTables.cpus[0]
    let report = StallTreeBuilder(catalog: catalog(model)).build(totals)
    _ = StallTreeRenderer(color: false).text(report)
    _ = StallTreeRenderer.json(report, source: "fuzz")
}

func fuzzEvents(_ text: String) {
    if let groups = try? EventListParser.parse(text) {
        for g in groups {
            for m in g.members {
                _ = EventModifiers.split(m)
                _ = RawEventSyntax.rawCode(m)
                _ = RawEventSyntax.pmuTerms(m)
                _ = catalog(embeddedTables.cpus[0]).lookup(m)
            }
        }
    }
    _ = PMUFormatField.parse(text)
    _ = try? CPUList.parse(text)
    if let e = try? MetricExpression.parse(text) {
        _ = e.names
        _ = try? e.evaluate(names: { $0.count % 3 == 0 ? .notCounted : .value(Double($0.count) - 2) })
    }
}

/// The first byte picks the file; the rest is its text.
func fuzzProc(_ bytes: [UInt8]) {
    guard let selector = bytes.first else { return }
    let text = String(decoding: bytes.dropFirst(), as: UTF8.self)
    switch selector % 10 {
    case 0:
        if let zones = try? BuddyInfo.parse(text) {
            for z in zones {
                let f = FragmentationIndex(zone: z)
                for order in 0..<12 { _ = f.unusableIndexMilli(order: order); _ = f.fragmentationIndexMilli(order: order) }
            }
            renderSnapshot(MemorySnapshot(timestampSeconds: 0, zones: zones))
        }
    case 1: _ = try? PageTypeInfo.parse(text)
    case 2: _ = try? ZoneInfo.parse(text)
    case 3: _ = try? SmapsRollup.parse(text)
    case 4: _ = try? ExtfragFile.parse(text, file: "extfrag_index")
    case 5: _ = try? PressureStall.parse(text)
    case 6: _ = VMStat.parse(text)
    case 7: _ = CPUInfoParser.parse(text)
    case 8: if let s = try? MemorySnapshot.decode(text) { renderSnapshot(s) }
    default: _ = try? GroupRead.decode(Array(bytes.dropFirst()))
    }
}

/// What `frag` prints of a snapshot: text, CSV, JSON, and a diff against itself and an empty one.
func renderSnapshot(_ s: MemorySnapshot) {
    _ = FragmentationReport(color: false).text(s)
    _ = FragmentationReport.csv(s)
    _ = s.json()
    _ = (s.unusableAtHugePageOrder, s.unusableAtHugePageOrderNormal, s.hugePageBlocksFree)
    let empty = MemorySnapshot(timestampSeconds: 0, zones: s.zones.map { ZoneFreeLists(node: $0.node, zone: $0.zone, freeBlocks: []) })
    _ = FragmentationReport.diff(s, s)
    _ = FragmentationReport.diff(empty, s)
    _ = FragmentationReport.diff(s, empty)
}

/// A core's event file, read as an Arm core's when it names Arm's architected events,
/// with the embedded cpus.json.
func fuzzTables(_ text: String) {
    let cpus = EmbeddedEventTables.files.first { $0.path == "cpus.json" }!
    let arm = text.contains("ArchStdEvent")
    let model = embeddedTables.cpus.first { ($0.vendor == .arm) == arm }!
    let set = EventTableSet(files: [cpus, ("\(model.directory)/events.json", text)], origin: "fuzz")
    let catalog = set.catalog(for: model)
    for e in catalog.events.prefix(32) { _ = catalog.names(of: e); _ = catalog.lookup(e.name) }
}

/// serve: an Accept header from any client is negotiated, and names and label values from
/// events and the kernel are rendered in both formats (escaping must hold for any text).
func fuzzExposition(_ text: String) {
    let format = ExpositionFormat.negotiate(accept: text)
    _ = format.contentType
    let family = MetricFamily(name: "stallstat_" + PrometheusExposition.nameFragment(text), help: text, kind: .counter,
                              samples: [MetricSample([("event", text)], Double(text.utf8.count))])
    for f in [ExpositionFormat.text, .openMetrics(version: "1.0.0")] {
        let out = PrometheusExposition.render([family], format: f)
        // Every sample stays on one line: a label value or help text never breaks out.
        // Lines are split at the byte 0x0A, as Prometheus's parser splits them.
        let lines = Array(out.utf8).split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.filter({ $0.first != UInt8(ascii: "#") && !$0.isEmpty }).count != 1 { fatalError("a label value broke the exposition into lines") }
    }
}
