import Foundation
import XCTest
import StallCore
@testable import StallLinux

/// Demangled names against binutils' c++filt -p (libiberty without parameters: the form
/// perf report shows), on every C++ symbol libstdc++ exports and on a C++ program's.
final class DemanglerTests: XCTestCase {
    func compareWithCxxfilt(_ names: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let input = NSTemporaryDirectory() + "stallstat-names-\(getpid()).txt"
        try names.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        defer { unlink(input) }
        let filt = Harness.run(["/bin/sh", "-c", "c++filt -p < \(input)"])
        let expected = filt.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(expected.count, names.count + (filt.stdout.hasSuffix("\n") ? 1 : 0), file: file, line: line)
        let d = Demangler()
        // c++filt demangles verbosely (DMGL_VERBOSE: std::basic_string<char, ...> for Ss);
        // perf does not (std::string::find_first_of in perf report of an old-ABI program),
        // so both sides are compared with the four standard abbreviations applied.
        func abbreviated(_ s: String) -> String {
            var s = s
            for (full, short) in [("std::basic_string<char, std::char_traits<char>, std::allocator<char> >", "std::string"),
                                  ("std::basic_istream<char, std::char_traits<char> >", "std::istream"),
                                  ("std::basic_ostream<char, std::char_traits<char> >", "std::ostream"),
                                  ("std::basic_iostream<char, std::char_traits<char> >", "std::iostream")] {
                s = s.replacingOccurrences(of: full, with: short).replacingOccurrences(of: short + " >", with: short + ">")
            }
            return s
        }
        var mismatches: [String] = []
        for (n, e) in zip(names, expected) where abbreviated(d.display(n)) != abbreviated(e) { mismatches.append("\(n)\n  ours:     \(d.display(n))\n  c++filt:  \(e)") }
        XCTAssertEqual(mismatches.count, 0, "\(mismatches.count) of \(names.count) differ:\n" + mismatches.prefix(15).joined(separator: "\n"), file: file, line: line)
        return names.count
    }

    func testEveryLibstdcxxSymbolMatchesCxxfilt() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/c++filt"), "binutils' c++filt is not installed")
        let nm = Harness.run(["/bin/sh", "-c", "nm -D --defined-only $(g++ -print-file-name=libstdc++.so.6 2>/dev/null || echo /usr/lib/x86_64-linux-gnu/libstdc++.so.6)"])
        let names = Set(nm.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").last.map { String($0.split(separator: "@").first ?? $0) } }
            .filter { $0.hasPrefix("_Z") }).sorted()
        XCTAssertGreaterThan(try compareWithCxxfilt(names), 3000)
    }

    func testNamesThatAreNotMangledStayAsTheyAre() {
        let d = Demangler()
        for n in ["main", "_start", "__libc_start_call_main", "_Znot valid", "_R", "work_three_quarters"] where !n.hasPrefix("_Zn") {
            XCTAssertEqual(d.display(n), n)
        }
        XCTAssertEqual(d.display("_ZZZ"), "_ZZZ", "an invalid mangling is shown as it is")
    }

    func testRustLegacyAndSwift() {
        let d = Demangler()
        // rustc's legacy mangling (an Itanium-shaped path ending in a hash, with $-escapes).
        XCTAssertEqual(d.display("_ZN3std2rt10lang_start28_$u7b$$u7b$closure$u7d$$u7d$17h8b6b9b6bd9f0f6d0E"), "std::rt::lang_start::{{closure}}")
        XCTAssertEqual(d.display("_ZN4core3ptr85drop_in_place$LT$std..rt..lang_start$LT$$LP$$RP$$GT$..$u7b$$u7b$closure$u7d$$u7d$$GT$17h0123456789abcdefE"),
                       "core::ptr::drop_in_place<std::rt::lang_start<()>::{{closure}}>")
        // v0 (rustc's default since 1.9x), by libiberty: generics, trait impls, closures.
        XCTAssertEqual(d.display("_RINvNtCshXDOm5BryCA_11rust_shapes6shapes4spinmEB4_"), "rust_shapes::shapes::spin::<u32>")
        XCTAssertEqual(d.display("_RNvXNtCshXDOm5BryCA_11rust_shapes6shapesNtB2_6SquareNtB2_4Area4area"),
                       "<rust_shapes::shapes::Square as rust_shapes::shapes::Area>::area")
        XCTAssertEqual(d.display("_RNCINvNtCsjrHSEGnQ3l9_3std2rt10lang_startuE0CshXDOm5BryCA_11rust_shapes"), "std::rt::lang_start::<()>::{closure#0}")
        XCTAssertEqual(d.display("_RNvCs1234_7mycrate3foo"), "mycrate::foo", "no [disambiguator], as rustfilt and perf show it")
        XCTAssertEqual(d.display("_Rbogus"), "_Rbogus")
        // Swift, by the Swift runtime.
        XCTAssertEqual(d.display("$s4main3fooyS2iF"), "main.foo(Swift.Int) -> Swift.Int")
    }

    /// A Rust program built by rustc with each mangling scheme, recorded by perf: every row
    /// of report (self and --children) equals perf report's, names included.
    func testRustProgramsMatchPerfRowForRow() throws {
        try XCTSkipUnless(Harness.perfAvailable, "perf is not installed")
        let rustc = ["/root/.cargo/bin/rustc", "/usr/bin/rustc", "/usr/local/bin/rustc"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipUnless(rustc != nil, "rustc is not installed")
        let dir = NSTemporaryDirectory() + "stallstat-rust-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let src = Harness.packageRoot + "/Examples/workloads/rust_shapes.rs"
        for scheme in ["v0", "legacy"] {
            let exe = dir + "/rust_\(scheme)"
            // legacy is behind -Z unstable-options on recent compilers (v0 is the default).
            let build = Harness.run(["/usr/bin/env", "RUSTC_BOOTSTRAP=1", rustc!, "-O", "-Z", "unstable-options", "-C", "force-frame-pointers=yes",
                                     "-C", "symbol-mangling-version=\(scheme)", "-o", exe, src])
            XCTAssertEqual(build.status, 0, build.stderr)
            let file = dir + "/\(scheme).data"
            XCTAssertEqual(Harness.perf(["record", "-q", "-g", "-F", "4000", "-o", file, "--", exe, "200"]).status, 0)
            let ours = Harness.stallstat(["report", "-i", file, "--sort", "symbol"])
            XCTAssertTrue(ours.stdout.contains("rust_shapes::shapes::spin") && ours.stdout.contains("<rust_shapes::shapes::Square as rust_shapes::shapes::Area>::area"),
                          "\(scheme): \(ours.stdout)")
            assertRowsMatch(perf: Harness.perf(["report", "-i", file, "--stdio", "--no-children", "--sort", "sym", "-g", "none"]).stdout,
                                   ours: ours.stdout, columns: 1, "\(scheme) self")
            assertRowsMatch(perf: Harness.perf(["report", "-i", file, "--stdio", "--children", "--sort", "sym", "-g", "none"]).stdout,
                                   ours: Harness.stallstat(["report", "-i", file, "--children", "--sort", "symbol"]).stdout, columns: 2, "\(scheme) --children")
        }
    }
}
