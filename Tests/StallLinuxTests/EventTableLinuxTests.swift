import Foundation
import XCTest
@testable import StallCLI
@testable import StallLinux
import StallCore

final class EventTableLinuxTests: XCTestCase {
    /// A separate C program asks libpfm4 itself, with LIBPFM_FORCE_PMU set to the
    /// model (the Intel tables on this AMD machine) and the event name without its
    /// `pmu::` prefix: a path independent of stallstat's resolver.
    static let oracle: String = {
        let dir = NSTemporaryDirectory() + "stallstat-pfm-oracle-\(getpid())"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let src = dir + "/oracle.c"
        try! """
        #include <perfmon/pfmlib_perf_event.h>
        #include <stdio.h>
        #include <string.h>
        int main(int argc, char **argv) {
          if (pfm_initialize() != PFM_SUCCESS) return 2;
          for (int i = 1; i < argc; i++) {
            struct perf_event_attr a; memset(&a, 0, sizeof a);
            pfm_perf_encode_arg_t arg; memset(&arg, 0, sizeof arg); arg.attr = &a; arg.size = sizeof arg;
            int r = pfm_get_os_event_encoding(argv[i], PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
            if (r != PFM_SUCCESS) printf("ERR %s\\n", pfm_strerror(r));
            else printf("type=%u config=0x%llx config1=0x%llx config2=0x%llx\\n", a.type,
                        (unsigned long long)a.config, (unsigned long long)a.config1, (unsigned long long)a.config2);
          }
          return 0;
        }
        """.write(toFile: src, atomically: true, encoding: .utf8)
        let r = Harness.run(["/usr/bin/cc", "-o", dir + "/oracle", src, "-lpfm"])
        precondition(r.status == 0, r.stderr)
        return dir + "/oracle"
    }()

    /// libpfm4 has x86 tables only where it was built for x86 (Debian's arm64 package has
    /// none: the arm64 lab runs this suite there).
    static var libpfmKnowsX86: Bool { (try? LibPfm.encode("skl::INST_RETIRED:ANY_P")) != nil }

    func testEveryX86EntryEncodesToLibpfm4sOwnEncoding() throws {
        try XCTSkipUnless(Self.libpfmKnowsX86, "this libpfm4 has no x86 tables (an arm64 build)")
        let tables = EventTableSet(files: EmbeddedEventTables.files)
        var checked = 0
        // The hand-kept models name libpfm4 events; the imported ones are the kernel's raw fields.
        for model in tables.cpus where model.vendor != .arm && model.libpfmPMU != nil {
            let entries = tables.coreEvents[model.name]!.compactMap { e -> (TableEvent, String)? in
                if case .libpfm4(let pfm) = e.encoding { return (e, pfm) } else { return nil }
            }
            // An imported model naming its libpfm4 PMU for lookups (skylakex) has no libpfm4 entries.
            guard !entries.isEmpty else { continue }
            let bare = entries.map { $0.1.components(separatedBy: "::").last! }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: Self.oracle)
            p.arguments = bare
            p.environment = ["LIBPFM_FORCE_PMU": model.libpfmPMU!]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let oracleLines = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
            p.waitUntilExit()
            XCTAssertEqual(oracleLines.count, entries.count, model.name)

            let ours = Harness.stallstat(["encode", "--cpu", model.name] + entries.map(\.1))
            XCTAssertEqual(ours.status, 0, ours.stderr)
            let ourLines = ours.stdout.split(separator: "\n")
            guard ourLines.count == entries.count, oracleLines.count == entries.count else {
                XCTFail("\(model.name): \(entries.count) entries, \(ourLines.count) encodings, \(oracleLines.count) from libpfm4")
                continue
            }
            for (k, (event, pfm)) in entries.enumerated() {
                let expected = String(oracleLines[k])
                XCTAssertFalse(expected.hasPrefix("ERR"), "\(model.name) \(pfm): libpfm4 says \(expected)")
                XCTAssertTrue(ourLines[k].contains(expected), "\(model.name) \(pfm): ours \(ourLines[k]) vs libpfm4 \(expected)")
                // And the kernel's EventCode/UMask/CounterMask composition agrees.
                if let kc = event.kernelConfig {
                    XCTAssertTrue(expected.contains("config=0x\(String(kc, radix: 16)) "), "\(model.name) \(event.name): kernel 0x\(String(kc, radix: 16)) vs libpfm4 \(expected)")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(checked, 100)
    }

    func testEncodeCommandForTheIssuesExamples() {
        let a520 = Harness.stallstat(["encode", "--cpu", "cortex-a520", "raw-stall-backend-mem"])
        XCTAssertEqual(a520.status, 0, a520.stderr)
        XCTAssertTrue(a520.stdout.hasPrefix("raw-stall-backend-mem type=4 config=0x4005 config1=0x0 config2=0x0"), a520.stdout)
        var expected = ["neoverse-v2": "config=0x34 "]
        if Self.libpfmKnowsX86 { expected.merge(["zen4": "config=0xf045 ", "sapphirerapids": "config=0xe12 "]) { a, _ in a } }
        for (cpu, config) in expected {
            let r = Harness.stallstat(["encode", "--cpu", cpu, "dtlb-walk"])
            XCTAssertTrue(r.stdout.contains(config), "\(cpu): \(r.stdout) \(r.stderr)")
        }
        let refused = Harness.stallstat(["encode", "--cpu", "cortex-a55", "raw-stall-backend-mem", "r4005"])
        XCTAssertEqual(refused.status, 64)
        XCTAssertTrue(refused.stderr.contains("cortex-a55 does not implement 'raw-stall-backend-mem'"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("raw-cortex-a55-stall-backend-ld"), "lists what the core has")
        XCTAssertTrue(refused.stdout.contains("r4005 type=4 config=0x4005"), "a raw code still goes through")
        let typo = Harness.stallstat(["encode", "--cpu", "cortex-a520", "raw-stall-backend-mme"])
        XCTAssertTrue(typo.stderr.contains("did you mean: raw-stall-backend-mem"), typo.stderr)
    }

    func testListForACoreShowsItsStallAndTLBEvents() {
        let r = Harness.stallstat(["list", "--cpu", "cortex-a55"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("STALL_BACKEND_LD_TLB") && r.stdout.contains("0xea"), r.stdout)
        XCTAssertFalse(r.stdout.contains("STALL_BACKEND_MEM "), "A55 has no STALL_BACKEND_MEM")
        let zen = Harness.stallstat(["list", "--cpu", "zen4"])
        XCTAssertTrue(zen.stdout.contains("amd64_fam19h_zen4::DISPATCH_STALLS_1:BE_STALLS"), zen.stdout)
    }

    /// `list metric` / `list metricgroup` (perf list metric, perf list metricgroup): every
    /// metric of the kernel's file for the core, each group with as many metrics as the file
    /// gives it, and an unknown -M name points there instead of printing hundreds of names.
    func testListMetricAndMetricGroupShowTheKernelsMetricsForTheCore() throws {
        for model in ["skylake", "neoverse-n2", "alderlake-atom", "zen4"] {
            let dir = model.hasPrefix("neoverse") ? "arm/" + model : "x86/" + model
            let data = try XCTUnwrap(FileManager.default.contents(atPath: Harness.packageRoot + "/EventTables/\(dir)/kernel-metrics.json"), dir)
            let file = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]])
            let names = Set(file.compactMap { $0["MetricName"] as? String })
            XCTAssertGreaterThan(names.count, 10, model)
            let metrics = Harness.stallstat(["list", "metric", "--cpu", model])
            XCTAssertEqual(metrics.status, 0, metrics.stderr)
            let lines = metrics.stdout.split(separator: "\n")
            // (Names as the kernel spells them, one with a space: "tma_info_serialization _%_tpause_cycles".)
            XCTAssertEqual(names.filter { n in !lines.contains { $0.hasPrefix("  \(n) ") } }, [], "\(model): kernel metrics not listed")
            XCTAssertTrue(metrics.stdout.contains("\(file.count) of the kernel's metrics"), metrics.stdout.prefix(200).description)
            var perGroup: [String: Int] = [:]
            for m in file { for g in ((m["MetricGroup"] as? String) ?? "").split(separator: ";") { perGroup[String(g), default: 0] += 1 } }
            let groups = Harness.stallstat(["list", "metricgroup", "--cpu", model])
            XCTAssertEqual(groups.status, 0, groups.stderr)
            for (g, n) in perGroup {
                // stallstat's own metrics may join a kernel group: at least the kernel's count.
                let line = groups.stdout.split(separator: "\n").first { $0.hasPrefix("  \(g) (") }
                let count = line.flatMap { Int($0.split(separator: "(")[1].split(separator: ")")[0]) }
                XCTAssertGreaterThanOrEqual(count ?? 0, n, "\(model): group \(g): \(line ?? "missing")")
            }
        }
        // A metric that reads an uncore PMU says so (Sapphire Rapids' memory bandwidth).
        let spr = Harness.stallstat(["list", "metric", "--cpu", "sapphirerapids"])
        let bw = spr.stdout.split(separator: "\n").first { $0.hasPrefix("  tma_info_system_dram_bw_use ") }
        XCTAssertTrue(bw?.contains("not countable by stallstat") == true && bw?.contains("uncore") == true, bw.map(String.init) ?? spr.stdout)
        XCTAssertEqual(Harness.stallstat(["list", "metricgroups"]).status, 64, "unknown group")
    }

    func testAnUnknownMetricNamePointsToTheListNotToHundredsOfNames() {
        // A model of this machine's vendor (stat refuses another vendor's), with a typo of one of its kernel metrics.
        let (model, typo, metric) = [("intel", ("sapphirerapids", "tma_frontend_bnd", "tma_frontend_bound")),
                                     ("amd", ("zen4", "frontend_bnd", "frontend_bound")),
                                     ("arm", ("neoverse-n1", "frontend_stalled_cycle", "frontend_stalled_cycles"))]
            .first { $0.0 == Harness.cpuVendor }?.1 ?? ("sapphirerapids", "tma_frontend_bnd", "tma_frontend_bound")
        let r = Harness.stallstat(["stat", "--cpu-model", model, "-M", typo, "--", "true"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("did you mean: \(metric)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("stallstat list metric --cpu \(model)"), r.stderr)
        let none = Harness.stallstat(["stat", "--cpu-model", model, "-M", "qqqqqqqqqqqq", "--", "true"])
        XCTAssertEqual(none.status, 64, none.stderr)
        XCTAssertLessThan(none.stderr.count, 400, none.stderr)
    }

    /// A phone: CPUs 0-3 Cortex-A55 on PMU type 10, CPUs 4-7 Cortex-A78 on type 11.
    func testFakeSysfsWithTwoClustersResolvesEachCPUToItsOwnCoreAndPMU() throws {
        let root = NSTemporaryDirectory() + "stallstat-fake-sys-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        func write(_ path: String, _ text: String) throws { try writeFile(root + "/" + path, text) }
        try write("devices/system/cpu/online", "0-7\n")
        for cpu in 0..<8 {
            try write("devices/system/cpu/cpu\(cpu)/regs/identification/midr_el1", cpu < 4 ? "0x00000000411fd050\n" : "0x00000000411fd410\n")
        }
        for (name, type, cpus, slots) in [("armv8_cortex_a55", 10, "0-3", "0x2"), ("armv8_cortex_a78", 11, "4-7", "0x4")] {
            try write("bus/event_source/devices/\(name)/type", "\(type)\n")
            try write("bus/event_source/devices/\(name)/cpus", cpus + "\n")
            try write("bus/event_source/devices/\(name)/format/event", "config:0-15\n")
            try write("bus/event_source/devices/\(name)/caps/slots", slots + "\n")
        }
        let pmus = SysfsPMUs(root: root + "/bus/event_source/devices")
        let topology = CPUTopology.detect(sysRoot: root, procRoot: root + "/no-proc", pmus: pmus)
        XCTAssertEqual(topology.identities[0], .arm(implementer: 0x41, part: 0xD05))
        XCTAssertEqual(topology.identities[7], .arm(implementer: 0x41, part: 0xD41))
        XCTAssertEqual(topology.corePMU[2]?.type, 10)
        XCTAssertEqual(topology.corePMU[5]?.type, 11)
        XCTAssertEqual(topology.corePMU[5]?.slots, 4)
        let resolver = EventResolver(pmus: pmus, topology: topology)
        let models = try resolver.cpuModels()
        XCTAssertEqual(models[1]?.name, "cortex-a55")
        XCTAssertEqual(models[6]?.name, "cortex-a78")

        let backend = try resolver.resolve("raw-stall-backend")
        XCTAssertEqual(backend.cpuAttrs?[0], EventAttr(type: 10, config: 0x24))
        XCTAssertEqual(backend.cpuAttrs?[4], EventAttr(type: 11, config: 0x24))

        let mem = try resolver.resolve("raw-stall-backend-mem")   // only the A78s have it
        XCTAssertEqual(mem.cpuAttrs?.keys.sorted(), [4, 5, 6, 7])
        XCTAssertEqual(mem.attr(forCPU: 5), EventAttr(type: 11, config: 0x4005))
        XCTAssertNil(mem.attr(forCPU: 1))
        XCTAssertEqual(EncodeFormatter.lines(for: mem), ["raw-stall-backend-mem cpus=4-7 type=11 config=0x4005 config1=0x0 config2=0x0 (table:arm/common.json:STALL_BACKEND_MEM)"])

        let ld = try resolver.resolve("raw-cortex-a55-stall-backend-ld")   // the A55s' own code
        XCTAssertEqual(ld.cpuAttrs, [0: EventAttr(type: 10, config: 0xE7), 1: EventAttr(type: 10, config: 0xE7),
                                     2: EventAttr(type: 10, config: 0xE7), 3: EventAttr(type: 10, config: 0xE7)])
    }

    /// The QEMU neoverse-n1 guest's PMU (arm64 lab): events/ lists only what PMCEID
    /// sets (sw_incr, inst_retired, cpu_cycles, stall_frontend, stall_backend); STALL
    /// (0x3c) is absent, so counting it is flagged, and `list` marks each event.
    func testArmPMUAdvertisementFromEventsDirectory() throws {
        let root = NSTemporaryDirectory() + "stallstat-fake-pmceid-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try fakeArmSysfs(root, cpus: 1, midr: "0x00000000414fd0c1",
                         events: [("sw_incr", "0x00"), ("inst_retired", "0x08"), ("cpu_cycles", "0x11"), ("stall_frontend", "0x23"), ("stall_backend", "0x24")])
        let pmus = SysfsPMUs(root: root + "/bus/event_source/devices")
        let adv = try XCTUnwrap(pmus.named("armv8_pmuv3")?.armAdvertisement)
        XCTAssertEqual(adv.listed, [0x00, 0x08, 0x11, 0x23, 0x24])
        XCTAssertEqual(adv.status(0x23), .implemented)
        XCTAssertEqual(adv.status(0x3C), .notImplemented)
        XCTAssertEqual(adv.status(0x4005), .notImplemented)
        XCTAssertEqual(adv.status(0xE7), .implementationDefined)

        let topology = CPUTopology.detect(sysRoot: root, procRoot: root + "/no-proc", pmus: pmus)
        let resolver = EventResolver(pmus: pmus, topology: topology)
        // The table already refuses STALL on Neoverse N1; a raw code is opened as given and flagged.
        XCTAssertThrowsError(try resolver.resolve("STALL"))
        let events = try ["armv8_pmuv3/event=0x3c/", "raw-stall-frontend", "r3c", "r24", "cycles"].map { try resolver.resolve($0) }
        let notes = ArmPMUNotes.unimplemented(events, pmus: pmus)
        XCTAssertEqual(notes.count, 2, "\(notes)")
        XCTAssertTrue(notes[0].hasPrefix("armv8_pmuv3/event=0x3c/ (event 0x3c) is not implemented by armv8_pmuv3"), "\(notes)")
        XCTAssertTrue(notes[1].hasPrefix("r3c (event 0x3c)"), "\(notes)")
    }

    /// What an event is (cycles, instructions, ...) is decided from its encoding when it is
    /// resolved, and carried to its rows: `r11` is CPU_CYCLES on an Arm machine (raw codes
    /// go to the Arm core PMU) and only a raw event on x86, where perf's shadow metrics
    /// must not take it for cycles (its row once made an IPC out of r11 anywhere).
    func testEventKindsComeFromTheEncodingNotTheName() throws {
        let root = NSTemporaryDirectory() + "stallstat-fake-kinds-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try fakeArmSysfs(root, cpus: 1, midr: "0x00000000414fd0c1", events: [("cpu_cycles", "0x11"), ("inst_retired", "0x08")])
        let armPMUs = SysfsPMUs(root: root + "/bus/event_source/devices")
        let arm = EventResolver(pmus: armPMUs, topology: CPUTopology.detect(sysRoot: root, procRoot: root + "/no-proc", pmus: armPMUs))
        let expectations: [(String, GenericKind)] = [("r11", .cycles), ("r08", .instructions), ("CPU_CYCLES", .cycles), ("raw-cpu-cycles", .cycles),
                                                     ("armv8_pmuv3/event=0x11/", .cycles), ("cycles", .cycles), ("instructions:u", .instructions),
                                                     ("r24", .other), ("stalled-cycles-backend", .stalledBackend), ("page-faults", .other)]
        for (name, kind) in expectations { XCTAssertEqual(try arm.resolve(name).kind, kind, "Arm: \(name)") }
        // This machine's own PMUs (x86, or none): r11 and r08 are raw events, not cycles.
        let here = EventResolver()
        if !here.pmus.pmus.contains(where: { SysfsPMU.isArmCorePMUName($0.name) }) {
            XCTAssertEqual(try here.resolve("r11").kind, .other)
            XCTAssertEqual(try here.resolve("r08").kind, .other)
        }
        XCTAssertEqual(try here.resolve("cycles").kind, .cycles)
        XCTAssertEqual(try here.resolve("branch-misses").kind, .branchMisses)

        // Rows carry it: with r11 as a raw x86 event, instructions get no "insn per cycle".
        func row(_ event: ResolvedEvent, _ value: Double) -> CounterResult {
            CounterResult.aggregate(event: event, readings: [CounterReading(value: UInt64(value), timeEnabledNs: 1_000_000, timeRunningNs: 1_000_000)])
        }
        let x86r11 = ResolvedEvent(name: "r11", attr: EventAttr(type: PerfType.raw, config: 0x11), source: .raw)   // kind .other
        var instructions = ResolvedEvent(name: "instructions", attr: EventAttr(type: PerfType.hardware, config: 1), source: .generic)
        instructions.kind = .instructions
        let window = StatWindow(timestampSeconds: nil, elapsedNs: 1e6, results: [row(x86r11, 2000), row(instructions, 1000)])
        XCTAssertNotEqual(PerfShadowMetrics.metric(for: window.results[1], in: window)?.unit, "insn per cycle", "x86's r11 is not cycles")
        var armR11 = x86r11
        armR11.kind = .cycles
        let armWindow = StatWindow(timestampSeconds: nil, elapsedNs: 1e6, results: [row(armR11, 2000), row(instructions, 1000)])
        let ipc = try XCTUnwrap(PerfShadowMetrics.metric(for: armWindow.results[1], in: armWindow))
        XCTAssertEqual(ipc.unit, "insn per cycle")
        XCTAssertEqual(ipc.value, 0.5, accuracy: 1e-12)
        // Imported text has names only: r11 is read as Arm's (its name), unless told otherwise.
        XCTAssertEqual(CounterResult(name: "r11", status: .counted, value: 1).genericKind, .cycles)
        XCTAssertEqual(GenericKind(name: "r11", rawCodesAreArm: false), .other)
        XCTAssertEqual(GenericKind(name: "r08:u", rawCodesAreArm: false), .other)
        XCTAssertEqual(GenericKind(name: "r8", rawCodesAreArm: true), .instructions)
        // The hybrid form of a generic event (PMU type in config's upper half) is still cycles.
        XCTAssertEqual(GenericKind(attr: EventAttr(type: PerfType.hardware, config: 8 << 32), armCorePMUTypes: []), .cycles)
    }

    /// A core EventTables does not know (a Cortex-X925, newer than every source) still has
    /// the architecture's common events, as perf resolves them; implementation-defined
    /// names stay refused.
    func testArchitecturalArmEventsOnACoreWithoutATable() throws {
        let root = NSTemporaryDirectory() + "stallstat-fake-x925-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try fakeArmSysfs(root, cpus: 2, midr: "0x00000000410fd850", events: [("cpu_cycles", "0x11")])
        let pmus = SysfsPMUs(root: root + "/bus/event_source/devices")
        let topology = CPUTopology.detect(sysRoot: root, procRoot: root + "/no-proc", pmus: pmus)
        let resolver = EventResolver(pmus: pmus, topology: topology)
        XCTAssertEqual(try resolver.cpuModels().count, 0, "no table for the X925 (yet)")
        for (name, code) in [("CPU_CYCLES", 0x11), ("inst_retired", 0x08), ("STALL_FRONTEND", 0x23), ("raw-stall-backend", 0x24), ("L1D_TLB_REFILL", 0x05)] {
            let e = try resolver.resolve(name)
            XCTAssertEqual(e.attr, EventAttr(type: 10, config: UInt64(code)), name)
        }
        XCTAssertThrowsError(try resolver.resolve("STALL_BACKEND_LD"), "implementation defined: needs the core's table")
        // And what the PMU does not list is flagged when counted.
        let notes = ArmPMUNotes.unimplemented([try resolver.resolve("STALL_FRONTEND")], pmus: pmus)
        XCTAssertEqual(notes.count, 1)
    }

    /// `list --cpu MODEL` for every model the tables have (every arm64 core of the kernel's
    /// mapfile and of Arm's data): exit 0, the model named, its events listed.
    func testListWorksForEveryModel() throws {
        let tables = EventTableSet(files: EmbeddedEventTables.files, origin: "embedded")
        XCTAssertGreaterThanOrEqual(tables.cpus.count, 48)
        // Under emulation (the arm64 lab's TCG guest, STALLSTAT_TEST_TIME_SCALE) a debug
        // binary takes ~15 s per run: every sixth model there, every model elsewhere.
        let stride = timeBound(1) > 1 ? 6 : 1
        for (i, model) in tables.cpus.enumerated() where i % stride == 0 {
            let r = Harness.stallstat(["list", "--cpu", model.name])
            XCTAssertEqual(r.status, 0, "\(model.name): \(r.stderr)")
            XCTAssertTrue(r.stdout.hasPrefix(model.name), "\(model.name): \(r.stdout.prefix(200))")
            XCTAssertGreaterThan(r.stdout.split(separator: "\n").count, 2, "\(model.name) lists events")
        }
        let a53 = Harness.stallstat(["encode", "--cpu", "cortex-a53", "raw-cortex-a53-ld-dep-stall"])
        XCTAssertTrue(a53.stdout.contains("config=0xe7"), a53.stdout + a53.stderr)
    }

    /// An Intel hybrid part (Alder Lake, family 6 model 0x9a): each CPU gets its core type's
    /// table by its core PMU (cpu_core on 0-1, cpu_atom on 2-3 here) and that PMU's type, as
    /// perf opens cpu_core/EVENT/ and cpu_atom/EVENT/; `encode` names the PMUs.
    func testHybridCPUsGetTheirCoreTypesTableAndPMU() throws {
        let root = NSTemporaryDirectory() + "stallstat-fake-adl-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: root) }
        for (pmu, type, cpus) in [("cpu_core", "4", "0-1"), ("cpu_atom", "10", "2-3")] {
            let dev = root + "/bus/event_source/devices/" + pmu
            try writeFile(dev + "/type", type + "\n")
            try writeFile(dev + "/cpus", cpus + "\n")
            try writeFile(dev + "/format/event", "config:0-7\n")
            try writeFile(dev + "/format/umask", "config:8-15\n")
        }
        // Alder Lake's cpu_core PERF_METRICS aliases, as its sysfs events/ lists them.
        for (alias, umask) in [("slots", 0x4), ("topdown-retiring", 0x80), ("topdown-bad-spec", 0x81), ("topdown-fe-bound", 0x82),
                               ("topdown-be-bound", 0x83), ("topdown-heavy-ops", 0x84), ("topdown-br-mispredict", 0x85),
                               ("topdown-fetch-lat", 0x86), ("topdown-mem-bound", 0x87)] {
            try writeFile(root + "/bus/event_source/devices/cpu_core/events/" + alias, "event=0x00,umask=0x\(String(umask, radix: 16))\n")
        }
        try writeFile(root + "/devices/system/cpu/online", "0-3\n")
        try writeFile(root + "/proc/cpuinfo", (0..<4).map { "processor\t: \($0)\nvendor_id\t: GenuineIntel\ncpu family\t: 6\nmodel\t\t: 154\n" }.joined(separator: "\n"))
        let pmus = SysfsPMUs(root: root + "/bus/event_source/devices")
        let topology = CPUTopology.detect(sysRoot: root, procRoot: root + "/proc", pmus: pmus)
        let resolver = EventResolver(pmus: pmus, topology: topology)
        let models = try resolver.cpuModels()
        XCTAssertEqual(models.mapValues(\.name), [0: "alderlake", 1: "alderlake", 2: "alderlake-atom", 3: "alderlake-atom"])
        // An event both core types have, encoded differently.
        let tables = resolver.tables
        let core = tables.catalog(for: tables.model(named: "alderlake")!), atom = tables.catalog(for: tables.model(named: "alderlake-atom")!)
        let atomConfigs = Dictionary(atom.events.compactMap { e in e.kernelConfig.map { (e.name, $0) } }, uniquingKeysWith: { a, _ in a })
        let shared = try XCTUnwrap(core.events.first { e in atomConfigs[e.name].map { $0 != e.kernelConfig } ?? false })
        let e = try resolver.resolve(shared.name)
        let atomEvent = try XCTUnwrap(atom.events.first { $0.name == shared.name })
        // Offcore response events carry their MSR value in config1 (perf's offcore_rsp=).
        XCTAssertEqual(e.cpuAttrs?[0], EventAttr(type: 4, config: shared.kernelConfig!, config1: shared.kernelConfig1 ?? 0), shared.name)
        XCTAssertEqual(e.cpuAttrs?[3], EventAttr(type: 10, config: atomConfigs[shared.name]!, config1: atomEvent.kernelConfig1 ?? 0), shared.name)
        XCTAssertTrue(e.source.label.contains("cpu_atom") && e.source.label.contains("cpu_core"), e.source.label)
        let lines = EncodeFormatter.lines(for: e)
        XCTAssertEqual(lines.count, 2, "\(lines)")
        XCTAssertTrue(lines[0].contains("cpus=0-1 type=4") && lines[1].contains("cpus=2-3 type=10"), "\(lines)")
        // stat's rows: one per core PMU, named as perf names them, each on its own CPUs
        // with its own encoding (perf's default on hybrid; --hybrid-merge sums them).
        XCTAssertTrue(pmus.isIntelHybrid)
        func split(_ event: ResolvedEvent) -> StatEventSelection {
            var selection = StatEventSelection()
            selection.events = [event]
            selection.groups = [[0]]
            selection.splitPerPMU(pmus: pmus)
            return selection
        }
        let selection = split(e)
        XCTAssertEqual(selection.events.map(\.name), ["cpu_core/\(shared.name)/", "cpu_atom/\(shared.name)/"])
        XCTAssertEqual(selection.events.map { $0.cpuAttrs.map { Array($0.keys).sorted() } }, [[0, 1], [2, 3]])
        XCTAssertEqual(selection.events[1].attr?.config, atomConfigs[shared.name])
        XCTAssertEqual(selection.groups, [[0, 1]])
        // The kernel's metrics per core type: each opens its events on its own PMU.
        let atomMetrics = KernelMetricSet(catalog: atom, corePMU: "cpu_atom")
        XCTAssertEqual(atomMetrics.term("cpu_atom@TOPDOWN_BE_BOUND.ALL@"), .event("cpu_atom/TOPDOWN_BE_BOUND.ALL/"))
        let resolvedAtom = try resolver.resolve("TOPDOWN_BE_BOUND.ALL")
        XCTAssertEqual(resolvedAtom.cpuAttrs.map { Array($0.keys).sorted() } ?? [], [2, 3], "only the atom CPUs have it")
        // `PMU/TABLE_EVENT/` (perf's JSON events are aliases of their PMU): that core type's
        // encoding on that PMU's CPUs only, even for an event both core types have.
        let onCore = try resolver.resolve("cpu_core/\(shared.name)/")
        XCTAssertEqual(onCore.cpuAttrs, [0: e.cpuAttrs![0]!, 1: e.cpuAttrs![1]!])
        let onAtom = try resolver.resolve("cpu_atom/\(shared.name)/:u")
        XCTAssertEqual(onAtom.cpuAttrs?.keys.sorted(), [2, 3])
        XCTAssertEqual(onAtom.cpuAttrs?[2]?.config, atomConfigs[shared.name])
        XCTAssertEqual(onAtom.cpuAttrs?[2]?.excludeKernel, true)
        XCTAssertThrowsError(try resolver.resolve("cpu_atom/TOPDOWN.SLOTS/"), "an event of the other core type")
        XCTAssertEqual(resolver.coreTypes().map(\.model.name), ["alderlake", "alderlake-atom"])
        XCTAssertEqual(resolver.coreTypes().map(\.cpus), [[0, 1], [2, 3]])
        XCTAssertEqual(split(onCore).events.map(\.name), ["cpu_core/\(shared.name)/"], "not renamed twice")

        // The default stall set there: each core type's tree is the kernel's top-down (no tree of
        // stallstat's for either), its events counted on that core type's PMU and CPUs only.
        let plain = try XCTUnwrap(try Stallstat.parse(["stat", "-a"]) as? Stat)
        let byDefault = try StatEventSelection.build(plain, resolver: resolver, pmus: pmus)
        XCTAssertEqual(Set(byDefault.topdownTrees.keys), ["alderlake", "alderlake-atom"])
        for (model, (td, prefix)) in byDefault.topdownTrees {
            let cpus = model == "alderlake" ? [0, 1] : [2, 3]
            for m in td.level1 {
                let events = try XCTUnwrap(byDefault.kernelMetricEvents[prefix + m.name], "\(model): \(m.name)").values.flatMap { $0 }
                XCTAssertFalse(events.isEmpty)
                for i in events { XCTAssertEqual(byDefault.events[i].cpuAttrs?.keys.sorted(), cpus, "\(model): \(byDefault.events[i].name)") }
            }
        }
        XCTAssertTrue(byDefault.events.contains { $0.name == "task-clock" }, "the software events stay")
        // The kernel's top-down counts no cycles or instructions: the default group of those stays.
        XCTAssertTrue(byDefault.events.contains { $0.name.hasSuffix("cycles") || $0.name.hasSuffix("cycles/") }
                      && byDefault.events.contains { $0.name.hasSuffix("instructions") || $0.name.hasSuffix("instructions/") },
                      "\(byDefault.events.map(\.name))")
        // --topdown there: the kernel's level 1 per core type (level 2 with --td-level 2), as perf's.
        let td1 = try StatEventSelection.build(try XCTUnwrap(try Stallstat.parse(["stat", "-a", "--topdown"]) as? Stat), resolver: resolver, pmus: pmus)
        XCTAssertEqual(Set(td1.metrics.map(\.name)), Set(["tma_frontend_bound", "tma_backend_bound", "tma_retiring", "tma_bad_speculation"]
            .flatMap { ["\($0) (cpu_core)", "\($0) (cpu_atom)"] }))
        let td2 = try StatEventSelection.build(try XCTUnwrap(try Stallstat.parse(["stat", "-a", "--topdown", "--td-level", "2"]) as? Stat), resolver: resolver, pmus: pmus)
        XCTAssertTrue(td2.metrics.map(\.name).contains("tma_fetch_latency (cpu_core)") && td2.metrics.map(\.name).contains("tma_ifetch_latency (cpu_atom)"))

        // -M on the hybrid part: each kernel metric once per core type that has it, named with
        // its PMU, and every event it reads opened on that PMU's CPUs only (perf's hybrid metrics).
        let stat = try XCTUnwrap(try Stallstat.parse(["stat", "-M", "TopdownL1", "-a"]) as? Stat)
        let metricSelection = try StatEventSelection.build(stat, resolver: resolver, pmus: pmus)
        let names = metricSelection.metrics.map(\.name)
        XCTAssertTrue(names.contains("tma_retiring (cpu_core)") && names.contains("tma_retiring (cpu_atom)"), "\(names)")
        for m in metricSelection.metrics {
            let pmu = m.name.hasSuffix("(cpu_atom)") ? 10 : 4
            let cpus = pmu == 10 ? [2, 3] : [0, 1]
            let events = try XCTUnwrap(metricSelection.kernelMetricEvents[m.name], m.name).values.flatMap { $0 }
            XCTAssertFalse(events.isEmpty, m.name)
            for i in events {
                let ev = metricSelection.events[i]
                XCTAssertEqual(ev.cpuAttrs?.keys.sorted(), cpus, "\(m.name): \(ev.name)")
                XCTAssertTrue(ev.cpuAttrs?.values.allSatisfy { $0.type == UInt32(pmu) } ?? false, "\(m.name): \(ev.name)")
                XCTAssertTrue(ev.name.hasPrefix(pmu == 10 ? "cpu_atom/" : "cpu_core/"), ev.name)
            }
        }
    }

    /// A Cortex-A53 implements no STALL_FRONTEND (Arm's data, the kernel's table): refused,
    /// unless the core's own PMU lists it in PMCEID (QEMU's cortex-a53 does): then counted,
    /// as perf counts the PMU's alias. IMPDEF events resolve from the A53's own table.
    func testTheCoresPMCEIDOverridesTheTablesRefusal() throws {
        for advertised in [false, true] {
            let root = NSTemporaryDirectory() + "stallstat-fake-a53-\(getpid())-\(advertised)"
            defer { try? FileManager.default.removeItem(atPath: root) }
            try fakeArmSysfs(root, cpus: 2, midr: "0x00000000410fd034",
                             events: [("cpu_cycles", "0x11")] + (advertised ? [("stall_frontend", "0x23")] : []))
            let pmus = SysfsPMUs(root: root + "/bus/event_source/devices")
            let topology = CPUTopology.detect(sysRoot: root, procRoot: root + "/no-proc", pmus: pmus)
            let resolver = EventResolver(pmus: pmus, topology: topology)
            XCTAssertEqual(Set(try resolver.cpuModels().values.map(\.name)), ["cortex-a53"])
            if advertised {
                XCTAssertEqual(try resolver.resolve("STALL_FRONTEND").attr, EventAttr(type: 10, config: 0x23))
            } else {
                XCTAssertThrowsError(try resolver.resolve("STALL_FRONTEND")) { XCTAssertTrue("\($0)".contains("does not implement"), "\($0)") }
            }
            XCTAssertEqual(try resolver.resolve("raw-cortex-a53-ld-dep-stall").attr, EventAttr(type: 10, config: 0xE7))
        }
    }

    func testTablesLoadFromADirectoryAndMalformedFilesAreReported() throws {
        let dir = NSTemporaryDirectory() + "stallstat-tables-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.copyItem(atPath: Harness.packageRoot + "/EventTables", toPath: dir)
        try "[\n {\"ArchStdEvent\": \"STALL\"},\n {\"EventName\": 7}\n]".write(toFile: dir + "/arm/cortex-a520/events.json", atomically: true, encoding: .utf8)
        let r = Harness.stallstat(["encode", "--event-tables", dir, "--cpu", "neoverse-v2", "raw-stall-backend-mem"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("config=0x4005"), "the other tables still work: \(r.stdout)")
        XCTAssertTrue(r.stderr.contains("arm/cortex-a520/events.json:3: field EventName: missing or not a string"), r.stderr)

        let env = Harness.run(["/usr/bin/env", "STALLSTAT_EVENT_TABLES=\(dir)", Harness.stallstat, "encode", "--cpu", "cortex-a520", "raw-stall"])
        XCTAssertTrue(env.stdout.contains("config=0x3c"), env.stdout + env.stderr)
        XCTAssertTrue(env.stderr.contains(dir), "diagnostics name the directory in use: \(env.stderr)")
    }

    func testEmbeddedTablesEqualTheFilesOnDisk() throws {
        let onDisk = EventTableLoader.load(directory: Harness.packageRoot + "/EventTables")
        XCTAssertEqual(onDisk.origin, Harness.packageRoot + "/EventTables")
        for (path, text) in EmbeddedEventTables.files {
            let disk = try String(contentsOfFile: Harness.packageRoot + "/EventTables/" + path, encoding: .utf8)
            XCTAssertEqual(text + "\n", disk, "\(path) changed: run EventTables/embed.py")
        }
        let count = try FileManager.default.subpathsOfDirectory(atPath: Harness.packageRoot + "/EventTables")
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix("overlays/") }.count
        XCTAssertEqual(EmbeddedEventTables.files.count, count, "run EventTables/embed.py")
    }

    func testCountingRefusesAnotherVendorsModelAndForeignLibpfmPMUs() {
        let r = Harness.stallstat(["stat", "-e", "skl::DTLB_LOAD_MISSES:WALK_ACTIVE", "--", "/bin/true"])
        XCTAssertEqual(r.status, 64)
        // Where libpfm4 has no x86 tables (arm64) the name is unknown to it altogether.
        XCTAssertTrue(r.stderr.contains("skylake") || r.stderr.contains("not this machine's")
                      || (!Self.libpfmKnowsX86 && r.stderr.contains("unknown event 'skl::")), r.stderr)
    }
}

/// Writes a file of a fake sysfs tree, creating its directories.
private func writeFile(_ full: String, _ text: String) throws {
    try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try text.write(toFile: full, atomically: true, encoding: .utf8)
}

/// A one-cluster Arm machine as sysfs shows it: `armv8_pmuv3` (type 10) over CPUs
/// 0..<cpus, each with this MIDR, and these `events/` aliases (what PMCEID sets).
private func fakeArmSysfs(_ root: String, cpus: Int, midr: String, events: [(String, String)]) throws {
    let dev = root + "/bus/event_source/devices/armv8_pmuv3"
    try writeFile(dev + "/type", "10\n")
    try writeFile(dev + "/cpus", (cpus > 1 ? "0-\(cpus - 1)" : "0") + "\n")
    try writeFile(dev + "/format/event", "config:0-15\n")
    for (name, code) in events { try writeFile(dev + "/events/" + name, "event=\(code)\n") }
    try writeFile(root + "/devices/system/cpu/online", (cpus > 1 ? "0-\(cpus - 1)" : "0") + "\n")
    for cpu in 0..<cpus { try writeFile(root + "/devices/system/cpu/cpu\(cpu)/regs/identification/midr_el1", midr + "\n") }
}

