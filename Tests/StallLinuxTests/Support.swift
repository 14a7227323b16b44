import Foundation
import XCTest
import StallCore
import StallLinux

/// Runs commands and finds the built binary and workloads.
enum Harness {
    static let packageRoot: String = {
        "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
    }()

    /// The binary under test; STALLSTAT_BIN runs the same tests against another build
    /// (how the new tests were checked to fail on the previous release).
    static var stallstat: String { ProcessInfo.processInfo.environment["STALLSTAT_BIN"] ?? packageRoot + "/.build/debug/stallstat" }

    static let workloads: String = {
        let r = run(["/bin/bash", packageRoot + "/Examples/workloads/build.sh", packageRoot + "/.build/workloads"])
        precondition(r.status == 0, "building the workloads failed: \(r.stderr)")
        return packageRoot + "/.build/workloads"
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    static func run(_ argv: [String], after: ((Process) -> Void)? = nil) -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try! p.run()
        after?(p)
        // Read both pipes before waiting so a full pipe cannot block the child.
        final class Box: @unchecked Sendable { var data = Data() }
        let outBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let outData = outBox.data
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    static func perf(_ args: [String]) -> Result { run(["/usr/bin/perf"] + args) }

    /// This machine's CPU vendor as `stat --cpu-model` checks it ("intel", "amd", "arm"), from
    /// /proc/cpuinfo: a test naming a model must name one of this vendor's, or stat refuses it.
    static let cpuVendor: String = {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if text.contains("CPU implementer") { return "arm" }
        if text.contains("GenuineIntel") { return "intel" }
        return text.contains("AuthenticAMD") || text.contains("HygonGenuine") ? "amd" : "unknown"
    }()
    static func stallstat(_ args: [String]) -> Result { run([stallstat] + args) }

    /// Parses `-x,` lines into event → value (the count column), skipping unsupported.
    static func csvCounts(_ text: String) -> [String: Double] {
        var counts: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard f.count >= 3, let v = Double(f[0]) else { continue }
            counts[f[2]] = v
        }
        return counts
    }

    static var perfAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/perf") }

    /// A tmpfs of `size` ("16k") mounted for one test to fill; the test skips without root
    /// or where mounting is refused. `unmount` (in a defer) unmounts and removes it.
    static func smallTmpfs(_ size: String, name: String) throws -> (path: String, unmount: () -> Void) {
        try XCTSkipUnless(geteuid() == 0, "needs root to mount a small tmpfs")
        let mnt = NSTemporaryDirectory() + "stallstat-\(name)-\(getpid())"
        try FileManager.default.createDirectory(atPath: mnt, withIntermediateDirectories: true)
        let unmount: () -> Void = { _ = run(["/bin/umount", mnt]); try? FileManager.default.removeItem(atPath: mnt) }
        guard run(["/bin/mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", mnt]).status == 0 else {
            unmount()
            throw XCTSkip("cannot mount tmpfs here")
        }
        return (mnt, unmount)
    }

    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

extension Harness.Result {
    /// What `stat -x`/`-j` printed: on standard error, where perf prints it, without
    /// stallstat's own notes ("stallstat: ..." and their indented continuation lines).
    var machine: String {
        stderr.split(separator: "\n").filter { line in
            let continuation = line.hasPrefix("  ") && !(line.drop { $0 == " " }.first?.isNumber ?? false)
            return !line.hasPrefix("stallstat: ") && !continuation && !line.isEmpty
        }
            .map { $0 + "\n" }.joined()
    }
}

/// Report rows compared with perf report's, for every test that reads a profile.
extension XCTestCase {
    /// The loaded modules' function names (/proc/kallsyms lines ending in "[module]").
    static let moduleFunctions: Set<String> = {
        // Read to its end (a /proc file says it has size 0), as stallstat reads it.
        guard let bytes = try? SystemFiles.readRegularFile("/proc/kallsyms", limit: 1 << 28) else { return [] }
        let text = String(decoding: bytes, as: UTF8.self)
        var names = Set<String>()
        for line in text.split(separator: "\n") where line.hasSuffix("]") {
            let f = line.split(separator: " ")
            if f.count >= 3, f[1] == "t" || f[1] == "T" { names.insert(String(f[2].split(separator: "\t").first ?? f[2])) }
        }
        return names
    }()

    /// Rows of a report (`--stdio` text, perf's or ours): the columns before the keys are
    /// percentages, the rest of the line is the key (C++ names contain spaces).
    func rows(_ text: String, percentColumns: Int) -> [String: [Double]] {
        var out: [String: [Double]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && line.contains("%") {
            var rest = Substring(line)
            var values: [Double] = []
            for _ in 0..<percentColumns {
                rest = rest.drop { $0 == " " }
                guard let end = rest.firstIndex(of: "%"), let v = Double(rest[..<end]) else { break }
                values.append(v)
                rest = rest[rest.index(after: end)...]
            }
            guard values.count == percentColumns else { continue }
            var words = rest.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            // A kernel module's function: perf 6.12 names its object [kernel.kallsyms] when it
            // read the kernel through /proc/kcore, the module ([9pnet]) otherwise; stallstat
            // always names the module. One spelling for both (modules exist only in the arm64
            // lab's guests here; the lab's judge checks the names against kallsyms).
            if let k = words.firstIndex(of: "[k]"), k > 0, k + 1 < words.count, words[k - 1].hasPrefix("["),
               XCTestCase.moduleFunctions.contains(words[(k + 1)...].joined(separator: " ")) {
                words[k - 1] = "[module]"
            }
            let key = words.joined(separator: " ")
            out[key, default: values.map { _ in 0 }] = zip(out[key] ?? values.map { _ in 0 }, values).map { $0 + $1 }
        }
        return out
    }

    /// Every row of 1% or more equal to perf report's within 0.1 points, both ways.
    /// Each sample's call stack as perf script unwinds it (`--no-inline -F ip,sym`) against
    /// stallstat's (`--folded`): the same stacks, sample for sample. Frames at the root that
    /// one unwinder reaches and the other does not (`_start`, unnamed loader addresses) are
    /// set aside first: perf 6.12 on arm64 unwinds with libunwind, which stops one frame
    /// short of `_start` (its frame-pointer unwinding of the same program reaches it, as
    /// libdwfl does; Examples/lab/arm64/README.md). Returns the number of stacks compared.
    /// `from`: each stack starts at its first frame of these names (where the tools'
    /// roots differ further up: with ASLR off perf 6.1's unwinder stops at libc's
    /// __libc_start_call_main and at start_thread, one frame short of its own unwinding of
    /// the same program with ASLR on, which libdwfl's still matches).
    @discardableResult
    func assertStacksMatch(file: String, from roots: Set<String> = [], tolerance: Double = 0.001, _ what: String) -> Int {
        func trimmedRoot(_ frames: [String]) -> [String] {
            var f = frames[...]
            if let i = f.firstIndex(where: roots.contains) { f = f[i...] }
            while let first = f.first, first == "_start" || first == "[unknown]" || first.hasPrefix("0x") { f = f.dropFirst() }
            return Array(f)
        }
        var perf: [String: Int] = [:]
        let script = Harness.perf(["script", "-i", file, "--no-inline", "-F", "ip,sym"]).stdout
        for block in script.components(separatedBy: "\n\n") {
            let frames = block.split(separator: "\n").compactMap { line -> String? in
                let f = line.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 1)
                return f.count == 2 && UInt64(f[0], radix: 16) != nil ? String(f[1]) : nil
            }
            guard !frames.isEmpty else { continue }
            perf[trimmedRoot(frames.reversed()).joined(separator: ";"), default: 0] += 1
        }
        var ours: [String: Int] = [:]
        for line in Harness.stallstat(["report", "-i", file, "--folded"]).stdout.split(separator: "\n") {
            guard let space = line.lastIndex(of: " "), let n = Int(line[line.index(after: space)...]) else { continue }
            // The command first; kernel frames end in "_[k]" (flame graph colouring), perf script's do not.
            let frames = line[..<space].split(separator: ";").dropFirst().map { $0.hasSuffix("_[k]") ? String($0.dropLast(4)) : String($0) }
            ours[trimmedRoot(frames).joined(separator: ";"), default: 0] += n
        }
        XCTAssertFalse(perf.isEmpty, "\(what): perf script printed no stacks")
        let total = perf.values.reduce(0, +)
        // Samples whose stacks differ: at most 0.1% by default (perf's rows are compared to 0.1 pp).
        var differing = 0
        for key in Set(perf.keys).union(ours.keys) { differing += abs((perf[key] ?? 0) - (ours[key] ?? 0)) }
        func short(_ stack: String) -> String {
            let f = stack.split(separator: ";")
            return f.count <= 6 ? stack : (f.prefix(3) + ["..."] + f.suffix(3)).joined(separator: ";")
        }
        let onlyPerf = perf.filter { ours[$0.key] != $0.value }.prefix(3).map { "\(short($0.key)) \($0.value) vs \(ours[$0.key] ?? 0)" }
        let onlyOurs = ours.filter { perf[$0.key] != $0.value }.prefix(3).map { "\(short($0.key)) \($0.value) vs \(perf[$0.key] ?? 0)" }
        XCTAssertLessThanOrEqual(Double(differing) / 2, Double(total) * tolerance,
                                 "\(what): \(differing / 2) of \(total) samples unwound differently; perf's: \(onlyPerf); ours: \(onlyOurs)")
        return perf.count
    }

    /// perf shows C++ names without their parameters unless -v (symbol-elf.c's
    /// demangle_flags), as perf 6.1 here does and stallstat does; perf 6.4 and later built
    /// without libbfd and libiberty (Debian trixie's 6.12, the arm64 lab's) demangle with
    /// `__cxa_demangle`, which cannot leave them out (`shapes::Box<long>::spin(int) const`).
    /// Such a report's names are compared without them (the stripping itself is checked
    /// against perf 6.1's libiberty names on the development machine). Only for a report
    /// that has them: a name without parameters can end in `()` too (`operator()`).
    func namesAsPerfDefaults(_ report: String) -> String {
        report.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let marker = line.range(of: "] "), line[..<marker.lowerBound].hasSuffix("[."),
                  line[marker.upperBound...].contains("(") else { return String(line) }
            let name = line[marker.upperBound...].trimmingCharacters(in: .whitespaces)
            return String(line[..<marker.upperBound]) + SymbolNames.withoutSignature(name)
        }.joined(separator: "\n")
    }

    /// Kernel rows keyed without their dso: perf names a module's functions `[module]` or
    /// `[kernel.kallsyms]` (from kcore) depending on which kernel sample it resolved first
    /// (seen in the arm64 lab: 9p's functions under [kernel.kallsyms]); stallstat names them
    /// from kallsyms as `[module]`. The lab judges module samples against the guest's own
    /// kallsyms instead (analyze.py); here the comm, symbol and share are compared.
    func kernelRowsUnderOneDSO(_ report: String) -> String {
        report.replacingOccurrences(of: #"\s\[[^\]\s]+\](\s+)\[k\]"#, with: " [kernel]$1[k]", options: .regularExpression)
    }

    func assertRowsMatch(perf: String, ours: String, columns: Int, _ what: String) {
        let p = rows(perf, percentColumns: columns), s = rows(ours, percentColumns: columns)
        XCTAssertFalse(p.isEmpty, "\(what): perf printed no rows")
        for (key, values) in p where values.contains(where: { $0 >= 1 }) {
            guard let mine = s[key] else { XCTFail("\(what): perf's row '\(key)' \(values) is missing:\n\(ours)"); continue }
            for (a, b) in zip(values, mine) { XCTAssertEqual(a, b, accuracy: 0.1, "\(what): \(key)") }
        }
        for (key, values) in s where values.contains(where: { $0 >= 1 }) && p[key] == nil {
            XCTFail("\(what): our row '\(key)' \(values) is not in perf's report:\n\(perf)")
        }
    }
}

extension Harness {
    /// Links C `code` into an aarch64 shared object at `output` with the Swift toolchain's
    /// clang and lld (no libc), so aarch64 code can be examined on any host; returns
    /// llvm-objdump's path to read it with. Skips where the toolchain is missing or
    /// cannot target aarch64.
    static func linkAArch64SharedObject(_ code: String, to output: String, flags: String = "-O1") throws -> String {
        let tools = run(["/bin/sh", "-c", "command -v clang && command -v llvm-objdump"]).stdout.split(separator: "\n").map(String.init)
        guard tools.count == 2 else { throw XCTSkip("clang and llvm-objdump (the Swift toolchain's) are not on PATH") }
        let source = output + ".c"
        try code.write(toFile: source, atomically: true, encoding: .utf8)
        let cc = run(["/bin/sh", "-c", "\(tools[0]) --target=aarch64-linux-gnu -fuse-ld=lld -nostdlib -shared -fPIC \(flags) -o \(output) \(source)"])
        guard cc.status == 0 else { throw XCTSkip("clang cannot link for aarch64 here: \(cc.stderr)") }
        return tools[1]
    }
}

/// A wall-time bound, scaled by STALLSTAT_TEST_TIME_SCALE where the suite runs slower
/// than on hardware (the arm64 lab runs it under QEMU's TCG: 30).
func timeBound(_ seconds: Double) -> Double {
    seconds * max(1, Double(ProcessInfo.processInfo.environment["STALLSTAT_TEST_TIME_SCALE"] ?? "") ?? 1)
}

/// A pause before signalling a process that must have started (installed its handlers)
/// by then, scaled like timeBound: a debug build under TCG starts ~30x slower.
func scaledMicroseconds(_ microseconds: UInt32) -> UInt32 {
    UInt32(min(timeBound(Double(microseconds) / 1e6) * 1e6, Double(UInt32.max)))
}
