import XCTest
import Foundation
import StallCore
@testable import StallLinux

/// The perf.data writer keeps its file readable at every moment: after each append, after
/// a disk-full append, and once finished; perf reads it at each of those points.
final class PerfDataFileWriterTests: XCTestCase {
    let identifier: UInt64 = 7

    func layout() -> PerfDataLayout {
        var w = ByteWriter()
        w.u32(1); w.u32(128); w.u64(0); w.u64(1000)   // cpu-clock, period 1000
        w.u64(PerfData.Sample.identifier | PerfData.Sample.ip | PerfData.Sample.tid | PerfData.Sample.time | PerfData.Sample.period)
        w.u64(0); w.u64(PerfData.AttrFlag.sampleIDAll)   // read_format; flags
        while w.bytes.count < 128 { w.u8(0) }
        return PerfDataLayout(events: [.init(attrBytes: w.bytes, ids: [identifier], name: "cpu-clock")])
    }

    /// `count` samples of pid 42 at increasing times, one record each.
    func samples(_ count: Int, from first: Int) -> [UInt8] {
        var out = ByteWriter()
        for i in first..<(first + count) {
            var b = ByteWriter()
            b.u64(identifier); b.u64(0x401000 + UInt64(i)); b.u32(42); b.u32(42); b.u64(UInt64(1000 + i)); b.u64(1000)
            out.u32(PerfData.RecordType.sample.rawValue); out.u16(2); out.u16(UInt16(8 + b.bytes.count)); out.append(b.bytes)
        }
        return out.bytes
    }

    func description() -> PerfDataLayout.Description {
        .init(hostname: "writer-test", osRelease: "6.1", version: "stallstat test", arch: "x86_64", cpusAvailable: 2, cpusOnline: 2,
              cmdline: ["stallstat", "record"])
    }

    func read(_ path: String) throws -> PerfDataContents {
        try PerfDataReader.read(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func perfScriptLines(_ path: String) -> Int? {
        guard Harness.perfAvailable else { return nil }
        let r = Harness.perf(["script", "-i", path, "-F", "ip"])
        return r.status == 0 ? r.stdout.split(separator: "\n").count : -1
    }

    func testEveryAppendLeavesAReadableFileAndFinishAddsTheFeatures() throws {
        let path = NSTemporaryDirectory() + "writer-\(getpid()).data"
        defer { unlink(path); unlink(path + ".old") }
        let writer = try PerfDataFileWriter(output: try ReplacingOutput(path: path, keepOld: false), layout: layout())
        try writer.output.commit()
        XCTAssertEqual(try read(path).sampleCount, 0, "header and attributes alone are a valid empty file")
        var appended = 0
        for chunk in [3, 1, 40] {
            XCTAssertTrue(writer.append(samples(chunk, from: appended) + SynthesizedRecord.finishedRound))
            appended += chunk
            // Not finished: a recording killed now leaves this file.
            let c = try read(path)
            XCTAssertEqual(c.sampleCount, appended)
            XCTAssertNil(c.damage.map(\.message))
            XCTAssertNil(c.hostname, "no features before finish")
            if let n = perfScriptLines(path) { XCTAssertEqual(n, appended, "perf reads the unfinished file") }
        }
        let features = writer.finish(description())
        XCTAssertTrue(features.contains(.hostname), "\(features)")
        let c = try read(path)
        XCTAssertEqual(c.sampleCount, appended)
        XCTAssertEqual(c.hostname, "writer-test")
        XCTAssertEqual(c.cmdline, ["stallstat", "record"])
        if let n = perfScriptLines(path) { XCTAssertEqual(n, appended) }
        XCTAssertNil(writer.writeError)
    }

    /// A disk that fills part way through an append: the partial records are cut off, the
    /// file ends on the last whole append, later appends are refused, and the header counts
    /// exactly what is there.
    func testAFullDiskKeepsEveryWholeAppendAndNothingPartial() throws {
        let tmpfs = try Harness.smallTmpfs("16k", name: "writer-small")
        defer { tmpfs.unmount() }
        let path = tmpfs.path + "/full.data"
        let writer = try PerfDataFileWriter(output: try ReplacingOutput(path: path, keepOld: false), layout: layout())
        try writer.output.commit()
        // 50 samples (2,400 bytes) per append: the 16 KiB filesystem fills on the 7th.
        var appended = 0
        while writer.append(samples(50, from: appended)) { appended += 50 }
        XCTAssertGreaterThan(appended, 0)
        XCTAssertTrue(writer.writeError?.contains("No space left on device") ?? false, writer.writeError ?? "no error")
        XCTAssertFalse(writer.append(samples(1, from: appended)), "nothing is appended after a failed write")
        writer.finish(description())
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(Int(st.st_size), writer.layout.dataOffset + writer.dataSize, "the file ends on the last whole append")
        let c = try read(path)
        XCTAssertEqual(c.sampleCount, appended)
        XCTAssertNil(c.damage.map(\.message), "no partial record at the end")
        if let n = perfScriptLines(path) { XCTAssertEqual(n, appended, "perf reads as many samples") }
    }
}
