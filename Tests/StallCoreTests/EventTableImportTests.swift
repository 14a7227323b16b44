import Foundation
import XCTest
@testable import StallCore

/// The generated Arm tables (EventTables/import.py) against the files they came from:
/// Arm's per-core data in ../shared/reference/pmu-data/arm-data, and the kernel's
/// pmu-events tree ($STALLSTAT_KERNEL_PMU_EVENTS, which .ci/run fetches from Debian's
/// linux-source-6.12 with EventTables/fetch-kernel-pmu-events.sh).
final class EventTableImportTests: XCTestCase {
    var tables: EventTableSet { EventTableTests.tables }
    static let armData = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/") + "/../shared/reference/pmu-data/arm-data"

    func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func code(_ v: Any?) -> UInt64? {
        if let n = v as? NSNumber { return n.uint64Value }
        guard let s = v as? String else { return nil }
        return s.lowercased().hasPrefix("0x") ? UInt64(s.dropFirst(2), radix: 16) : UInt64(s)
    }

    var catalogs: [String: CoreCatalog] = [:]
    /// What a core's catalog answers for a name: the code, whether implemented.
    func lookup(_ core: CPUModel, _ name: String) -> (code: UInt64?, implemented: Bool) {
        if catalogs[core.name] == nil { catalogs[core.name] = tables.catalog(for: core) }
        switch catalogs[core.name]!.lookup(name) {
        case .found(let e): return (e.armCode, true)
        case .notImplemented(let e): return (e.armCode, false)
        case .unknown: return (nil, false)
        }
    }

    /// The kernel's pmu-events arch/ directory with `arch`'s mapfile, or a skip saying how to get it.
    func kernelTree(_ arch: String) throws -> String { try Self.kernelTree(arch) }

    static func kernelTree(_ arch: String) throws -> String {
        guard let root = ProcessInfo.processInfo.environment["STALLSTAT_KERNEL_PMU_EVENTS"], !root.isEmpty,
              FileManager.default.fileExists(atPath: root + "/\(arch)/mapfile.csv") else {
            throw XCTSkip("set STALLSTAT_KERNEL_PMU_EVENTS to a kernel pmu-events arch/ directory (EventTables/fetch-kernel-pmu-events.sh)")
        }
        return root
    }

    /// Every event of every 64-bit core in Arm's data: its name resolves on the core whose
    /// part number the file gives, to the file's code, and counts as implemented (no false
    /// refusals). A few codes the kernel names differently resolve by code instead.
    func testEveryEventOfArmsDataResolvesToItsCodeOnItsCore() throws {
        let dir = Self.armData
        guard FileManager.default.fileExists(atPath: dir + "/cpus.json") else { throw XCTSkip("../shared/reference/pmu-data/arm-data is not beside the package") }
        var checked = 0, cores = 0
        for file in try FileManager.default.contentsOfDirectory(atPath: dir).sorted() where file.hasSuffix(".json") && !file.hasPrefix("common") {
            guard let d = try json(dir + "/" + file) as? [String: Any], let events = d["events"] as? [[String: Any]],
                  let cpuid = code(d["cpuid"]), let arch = d["architecture"] as? String,
                  arch.hasPrefix("armv8") || arch.hasPrefix("armv9"), !arch.lowercased().contains("-r") else { continue }
            guard let model = tables.model(armImplementer: UInt32(cpuid >> 12 & 0xFF), part: UInt32(cpuid & 0xFFF)) else {
                XCTFail("\(file): part 0x\(String(cpuid & 0xFFF, radix: 16)) has no table"); continue
            }
            cores += 1
            let byCode = Dictionary(tables.catalog(for: model).events.compactMap { e in e.armCode.map { ($0, e) } }, uniquingKeysWith: { a, _ in a })
            for e in events {
                guard let name = e["name"] as? String, let c = code(e["code"]) else { continue }
                let found = lookup(model, name)
                if found.code == c {
                    XCTAssertTrue(found.implemented, "\(model.name): \(name) (0x\(String(c, radix: 16))) refused")
                } else {
                    // The kernel's file for this core names the code otherwise (its name wins, as perf's).
                    XCTAssertNotNil(byCode[c], "\(model.name) (\(file)): \(name) = 0x\(String(c, radix: 16)) is in no form in the table")
                }
                checked += 1
            }
        }
        XCTAssertGreaterThan(cores, 30)
        XCTAssertGreaterThan(checked, 3000)
    }

    /// Every core row of the kernel's arm64 mapfile has a table, and events picked at random
    /// from each core's files encode to the code the file gives (ArchStdEvent: the common list's).
    func testEveryKernelArm64CoreHasATableAndRandomEventsEncodeAsItsFiles() throws {
        let root = try kernelTree("arm64")
        var common: [String: UInt64] = [:]
        for f in ["common-and-microarch.json", "recommended.json"] {
            for e in (try json(root + "/arm64/" + f) as? [[String: Any]]) ?? [] {
                if let n = e["EventName"] as? String, let c = code(e["EventCode"]) { common[n] = c }
            }
        }
        var generator = SystemRandomNumberGenerator()
        var rows = 0, picked = 0
        for line in try String(contentsOfFile: root + "/arm64/mapfile.csv", encoding: .utf8).split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 4, f[3] == "core", let midr = code(f[0]) else { continue }
            rows += 1
            guard let model = tables.model(armImplementer: UInt32(midr >> 24 & 0xFF), part: UInt32(midr >> 4 & 0xFFF)) else {
                XCTFail("\(f[2]) (MIDR \(f[0])): no table"); continue
            }
            var events: [(String, UInt64)] = []
            for file in try FileManager.default.contentsOfDirectory(atPath: root + "/arm64/" + f[2]) where file.hasSuffix(".json") && file != "metrics.json" {
                for e in (try json(root + "/arm64/" + f[2] + "/" + file) as? [[String: Any]]) ?? [] {
                    if let std = e["ArchStdEvent"] as? String, let c = common[std] { events.append((std, c)) }
                    else if let n = e["EventName"] as? String, let c = code(e["EventCode"]) { events.append((n, c)) }
                }
            }
            XCTAssertFalse(events.isEmpty, f[2])
            for _ in 0..<min(12, events.count) {
                let (name, c) = events.randomElement(using: &generator)!
                let found = lookup(model, name)
                XCTAssertEqual(found.code, c, "\(model.name) (\(f[2])): \(name)")
                XCTAssertTrue(found.implemented, "\(model.name): \(name) refused")
                picked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(rows, 30)
        XCTAssertGreaterThan(picked, 300)
    }

    /// Every x86 model of the kernel's mapfile has a table (the hand-kept six under their
    /// own names), and 12 events picked at random per imported model give the config the
    /// kernel composes from the file's EventCode/UMask/CounterMask/Invert/EdgeDetect/AnyThread
    /// (deprecated events included: perf opens them).
    func testEveryKernelX86ModelHasATableAndRandomEventsComposeAsItsFiles() throws {
        let root = try kernelTree("x86")
        let hand = ["skylake": "skylake", "icelake": "icelake", "sapphirerapids": "sapphirerapids",
                    "amdzen2": "zen2", "amdzen3": "zen3", "amdzen4": "zen4"]
        func field(_ e: [String: Any], _ k: String) -> UInt64 { code(e[k]) ?? 0 }
        var generator = SystemRandomNumberGenerator()
        var models = 0, picked = 0
        for line in try String(contentsOfFile: root + "/x86/mapfile.csv", encoding: .utf8).split(separator: "\n").dropFirst() {
            let f = line.split(separator: ",").map(String.init)
            guard f.count >= 4, f[3] == "core" else { continue }
            let dir = f[2]
            let name = hand[dir] ?? (dir.hasPrefix("amdzen") ? "zen" + dir.dropFirst(6) : dir)
            guard let model = tables.model(named: name) else { XCTFail("\(dir): no table named \(name)"); continue }
            models += 1
            if hand[dir] != nil { continue }
            let byName = Dictionary(tables.catalog(for: model).events.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            var candidates: [[String: Any]] = []
            for file in try FileManager.default.contentsOfDirectory(atPath: root + "/x86/" + dir)
            where file.hasSuffix(".json") && !file.hasPrefix("uncore") && !file.contains("metric") {
                for e in (try json(root + "/x86/" + dir + "/" + file) as? [[String: Any]]) ?? [] {
                    guard let n = e["EventName"] as? String, byName[n] != nil, (e["Unit"] as? String ?? "cpu_core") == (model.name.hasSuffix("-atom") ? "cpu_atom" : "cpu_core") || e["Unit"] == nil else { continue }
                    candidates.append(e)
                }
            }
            XCTAssertFalse(candidates.isEmpty, dir)
            for _ in 0..<min(12, candidates.count) {
                let e = candidates.randomElement(using: &generator)!
                // An offcore pair's codes ("0x2A,0x2B"): perf opens the first; its MSR value is config1.
                let ev = code((e["EventCode"] as? String)?.split(separator: ",").first.map(String.init)) ?? 0
                let expected = (ev & 0xFF) | (field(e, "UMask") & 0xFF) << 8 | (field(e, "EdgeDetect") & 1) << 18
                    | (field(e, "AnyThread") & 1) << 21 | (field(e, "Invert") & 1) << 23 | (field(e, "CounterMask") & 0xFF) << 24 | (ev >> 8 & 0xF) << 32
                XCTAssertEqual(byName[e["EventName"] as! String]?.kernelConfig, expected, "\(name): \(e["EventName"]!)")
                if let msr = e["MSRValue"] { XCTAssertEqual(byName[e["EventName"] as! String]?.kernelConfig1, code(msr), "\(name): \(e["EventName"]!) config1") }
                picked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(models, 40)
        XCTAssertGreaterThan(picked, 300)
        // Zen 2 as the kernel's mapfile: every family-23 model after Zen 1's 0x00-0x2f (the hand
        // range missed 0x40-0x46 and 0x48-0x4f).
        for m in [0x31, 0x44, 0x47, 0x4f, 0x60, 0x71, 0x84, 0x90, 0x9f] { XCTAssertEqual(tables.model(x86Vendor: .amd, family: 23, model: m)?.name, "zen2", "0x\(String(m, radix: 16))") }
        XCTAssertEqual(tables.model(x86Vendor: .amd, family: 23, model: 0x18)?.name, "zen1")
        // The development machine is a Zen 5 (family 0x1a): it has a table now.
        XCTAssertEqual(tables.model(x86Vendor: .amd, family: 0x1A, model: 0x02)?.name, "zen5")
        XCTAssertEqual(tables.model(x86Vendor: .intel, family: 6, model: 0x9A)?.name, "alderlake")
        XCTAssertEqual(tables.model(x86Vendor: .intel, family: 6, model: 0xAD)?.name, "graniterapids")
    }

    /// The audit's Zen 2/3 names: the kernel's are accepted and encode as the hand table's
    /// own names for the same event, which stay as aliases.
    func testZenKernelNamesAndTodaysNamesAreOneEvent() throws {
        func config(_ model: String, _ name: String) -> UInt64? {
            guard let m = tables.model(named: model), case .found(let e) = tables.catalog(for: m).lookup(name) else { return nil }
            return e.kernelConfig
        }
        for (model, kernel, today) in [("zen2", "bp_l1_tlb_miss_l2_hit", "bp_l1_tlb_miss_l2_tlb_hit"),
                                       ("zen3", "ls_tlb_flush.all_tlb_flushes", "ls_tlb_flush.all"),
                                       ("zen3", "macro_ops_retired", "ex_ret_ops")] {
            XCTAssertNotNil(config(model, kernel), "\(model): \(kernel) (the kernel's name)")
            XCTAssertEqual(config(model, kernel), config(model, today), "\(model): \(kernel) = \(today)")
        }
    }

    /// The audit's false refusals (issue 11), each a core that implements the event.
    func testTheAuditsFalseRefusalsAreGone() throws {
        func has(_ core: String, _ name: String) -> Bool {
            guard let m = tables.model(named: core) else { XCTFail("no table for \(core)"); return false }
            return lookup(m, name).implemented
        }
        for core in ["neoverse-n3", "neoverse-v3"] {
            XCTAssertTrue(has(core, "DTLB_WALK_PERCYC") && has(core, "ITLB_WALK_PERCYC"), core)
        }
        for core in ["cortex-a520", "cortex-a720", "cortex-a725", "cortex-x4", "neoverse-n3", "neoverse-v3"] {
            XCTAssertTrue(has(core, "DTLB_WALK_LARGE") && has(core, "DTLB_WALK_SMALL"), core)
        }
        XCTAssertTrue(has("cortex-a725", "OP_SPEC"))
        // The TLB read/write events (0x4C-0x5F, the kernel's recommended list) and CNT_CYCLES on the big cores.
        for core in ["neoverse-n2", "neoverse-v2", "cortex-x2", "cortex-a710"] {
            XCTAssertTrue(has(core, "L1D_TLB_REFILL_RD") && has(core, "L1D_TLB_RD") && has(core, "L2D_TLB_REFILL_RD"), core)
            XCTAssertTrue(has(core, "CNT_CYCLES"), core)
        }
        // The cores most machines have, with their own events: the A53's stall events 0xC7, 0xE0-0xE8.
        let a53 = try XCTUnwrap(tables.model(armImplementer: 0x41, part: 0xD03))
        let impdef = Set(tables.catalog(for: a53).events.filter(\.isImplementationDefined).compactMap(\.armCode))
        XCTAssertTrue(impdef.isSuperset(of: [0xC7] + (0xE0...0xE8).map { UInt64($0) }), "\(impdef.sorted())")
        for (part, name) in [(0xD07, "cortex-a57"), (0xD08, "cortex-a72"), (0xD09, "cortex-a73"), (0xD0A, "cortex-a75"), (0xD0D, "cortex-a77"),
                             (0xD06, "cortex-a65"), (0xD4A, "neoverse-e1")] {
            XCTAssertEqual(tables.model(armImplementer: 0x41, part: UInt32(part))?.name, name)
        }
        XCTAssertEqual(tables.model(armImplementer: 0xC0, part: 0xAC3)?.name, "ampereone")
    }
}
