import XCTest
import StallCore
@testable import StallLinux
#if canImport(Glibc)
import Glibc
#endif

/// The arm64 leaf-caller unwind with the real unwinder (libdwfl) on a real aarch64 object
/// (linked here with the Swift toolchain's clang and lld, so it runs on any host): one
/// frame from the registers alone, as perf's get_leaf_frame_caller_aarch64 asks its
/// unwinder. The oracle for where the return address is saved is binutils' own reading
/// of the object's call-frame information (`readelf -wF`: the `ra` column per address).
final class LeafFrameCallerLinuxTests: XCTestCase {
    var dir = ""
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "stallstat-leaf-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// (address, text) of each instruction of `function` in llvm-objdump's disassembly.
    func instructions(of function: String, in disassembly: String) -> [(UInt64, String)] {
        var inside = false, result: [(UInt64, String)] = []
        for line in disassembly.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasSuffix("<\(function)>:") { inside = true; continue }
            guard inside else { continue }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { break }
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, let address = UInt64(parts[0].trimmingCharacters(in: .whitespaces), radix: 16) else { continue }
            result.append((address, String(parts[1])))
        }
        return result
    }

    /// `readelf -wF`'s rows: from each LOC on, whether the return address (`ra`) is saved
    /// in memory (`c-N`: at CFA-N) rather than still in the link register (`u`).
    func returnAddressSaved(_ frames: String) -> [(from: UInt64, saved: Bool)] {
        var column: Int? = nil, rows: [(UInt64, Bool)] = []
        for line in frames.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.first == "LOC" { column = fields.firstIndex(of: "ra"); continue }
            guard let column, fields.count > column, let loc = UInt64(fields[0], radix: 16) else { continue }
            rows.append((loc, fields[column].hasPrefix("c")))
        }
        return rows
    }

    func testTheLinkRegisterIsTheCallerExactlyWhereTheCallFrameInformationSaysSo() throws {
        let so = dir + "/leaf.so"
        // Frame records everywhere but in leaves (aarch64's default), unwind tables as
        // Debian builds them.
        let objdump = try Harness.linkAArch64SharedObject("""
        __attribute__((noinline)) int leaf(int x) { return x * 7 + 3; }
        __attribute__((noinline)) int outer(int x) { return leaf(x) + leaf(x + 1) + 1; }
        """, to: so, flags: "-O1 -fno-omit-frame-pointer -momit-leaf-frame-pointer -fasynchronous-unwind-tables")
        let disassembly = Harness.run([objdump, "-d", "--no-show-raw-insn", so]).stdout
        let leaf = instructions(of: "leaf", in: disassembly), outer = instructions(of: "outer", in: disassembly)
        XCTAssertFalse(leaf.isEmpty || outer.isEmpty, disassembly)
        XCTAssertFalse(leaf.contains { $0.1.contains("x30") || $0.1.contains("bl\t") }, "a leaf: it neither calls nor saves LR: \(leaf)")
        let cfi = returnAddressSaved(Harness.run(["/usr/bin/env", "readelf", "-wF", so]).stdout)
        func savedPerCFI(_ address: UInt64) -> Bool { cfi.last { $0.from <= address }?.saved ?? false }
        XCTAssertTrue(outer.contains { savedPerCFI($0.0) } && outer.contains { !savedPerCFI($0.0) },
                      "outer saves LR after its first instruction and restores it before it returns: \(cfi)")
        XCTAssertFalse(leaf.contains { savedPerCFI($0.0) }, "the leaf never saves it: \(cfi)")

        let base: UInt64 = 0x40_0000, lr: UInt64 = 0x40_2468
        var contents = PerfDataContents()
        contents.arch = "aarch64"
        contents.mappings = [MemoryMapping(pid: 7, start: base, end: base + 0x10_0000, pgoff: 0, filename: so)]
        let unwinder = DwarfUnwinder()
        func caller(at address: UInt64) -> [UInt64] {
            var registers = [UInt64](repeating: 0, count: 64)
            registers[30] = lr; registers[32] = base + address
            return unwinder.unwind(UserStackSample(pid: 7, tid: 7, arch: "aarch64", registers: registers,
                                                   stack: UnsafeRawBufferPointer(start: nil, count: 0), maxFrames: 2), contents: contents).frames
        }
        // Every instruction of the leaf: its caller is LR (minus one, as callers are kept).
        for (address, text) in leaf { XCTAssertEqual(caller(at: address), [base + address, lr - 1], "leaf+\(address): \(text)") }
        // outer: LR is the caller until the CFI says it is saved, and again once it says it
        // is restored; in between it is on the stack, which frame-pointer mode does not
        // copy, so there is no caller (perf adds none either).
        for (k, (address, text)) in outer.enumerated() {
            XCTAssertEqual(caller(at: address), savedPerCFI(address) ? [base + address] : [base + address, lr - 1], "outer+\(k): \(text)")
        }
        // Never more than asked for, even with a whole stack to read.
        var registers = [UInt64](repeating: 0, count: 64)
        registers[30] = lr; registers[32] = base + leaf[0].0
        XCTAssertEqual(unwinder.unwind(UserStackSample(pid: 7, tid: 7, arch: "aarch64", registers: registers,
                                                       stack: UnsafeRawBufferPointer(start: nil, count: 0), maxFrames: 1), contents: contents).frames.count, 1)
    }

    /// What `record` asks the kernel for, as `perf record` does (perf_event_attr per mode):
    /// with -g on arm64 the link register as well (arch__add_leaf_frame_record_opts);
    /// with --call-graph dwarf every register and a stack copy; elsewhere nothing.
    func testRecordSamplesTheLinkRegisterWithFramePointersOnArm64() {
        var plan = RecordPlan(events: [], scope: .command, command: ["true"], frequency: 1000, period: nil, callchains: true,
                              dataAddresses: false, dataPageSize: false, codePageSize: false, durationSeconds: nil, output: "x", ringPages: 8,
                              stallstatArguments: [])
        XCTAssertEqual(Recorder.sampledUserRegisters(plan, arch: "aarch64"), 1 << 30)
        XCTAssertEqual(Recorder.sampledUserRegisters(plan, arch: "x86_64"), 0)
        plan.callchains = false
        XCTAssertEqual(Recorder.sampledUserRegisters(plan, arch: "aarch64"), 0, "no call chains, no registers")
        plan.callchains = true
        plan.userStackBytes = 8192
        XCTAssertEqual(Recorder.sampledUserRegisters(plan, arch: DwarfUnwinder.hostArch()), Recorder.userRegisterMask)
        // The attr this machine's recorder opens: REGS_USER exactly when registers are asked for.
        plan.userStackBytes = nil
        let recorder = Recorder(plan: plan, hasHardwarePMU: false, paranoid: nil)
        let expected = PerfData.framePointerUserRegisters(arch: DwarfUnwinder.hostArch())
        XCTAssertEqual(recorder.userRegisters, expected)
        XCTAssertEqual(recorder.sampleType & PerfData.Sample.regsUser != 0, expected != 0)
        XCTAssertEqual(recorder.sampleType & PerfData.Sample.stackUser, 0)
    }
}
