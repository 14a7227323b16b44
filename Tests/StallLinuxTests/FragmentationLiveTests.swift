import Foundation
import XCTest
@testable import StallLinux
import StallCore

final class FragmentationLiveTests: XCTestCase {
    /// Our indices against the kernel's own debugfs files, read at one moment: buddyinfo
    /// before and after the extfrag files must be equal, or the read is retried.
    func testIndicesEqualDebugfsExtfragNow() throws {
        if !FileManager.default.fileExists(atPath: "/sys/kernel/debug/extfrag/unusable_index") {
            _ = Harness.run(["/bin/mount", "-t", "debugfs", "none", "/sys/kernel/debug"])
        }
        try XCTSkipUnless(FileManager.default.isReadableFile(atPath: "/sys/kernel/debug/extfrag/unusable_index"),
                          "debugfs extfrag is not available (needs root, CONFIG_DEBUG_FS and CONFIG_COMPACTION)")
        var compared = false
        for _ in 0..<200 {
            let before = try SystemFiles.readText("/proc/buddyinfo")
            let unusable = try SystemFiles.readText("/sys/kernel/debug/extfrag/unusable_index")
            let extfrag = try SystemFiles.readText("/sys/kernel/debug/extfrag/extfrag_index")
            let after = try SystemFiles.readText("/proc/buddyinfo")
            guard before == after else { continue }
            let zones = try BuddyInfo.parse(before)
            let u = try ExtfragFile.parse(unusable, file: "unusable_index")
            let e = try ExtfragFile.parse(extfrag, file: "extfrag_index")
            for z in zones {
                let ix = FragmentationIndex(zone: z)
                XCTAssertEqual(z.freeBlocks.indices.map { ix.unusableIndexMilli(order: $0) }, u[z.key], z.key)
                XCTAssertEqual(z.freeBlocks.indices.map { ix.fragmentationIndexMilli(order: $0) }, e[z.key], z.key)
            }
            compared = true
            break
        }
        XCTAssertTrue(compared, "memory never held still long enough to read all three files at one moment")
    }

    func testFragCommandJSONCSVDiffAndWatchPlot() throws {
        let a = Harness.stallstat(["frag", "--json"])
        XCTAssertEqual(a.status, 0, a.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as! [String: Any]
        let zones = obj["zones"] as! [[String: Any]]
        XCTAssertEqual(zones.count, try BuddyInfo.parse(SystemFiles.readText("/proc/buddyinfo")).count)
        XCTAssertNotNil(zones[0]["unusable_index"])

        let csv = Harness.stallstat(["frag", "--csv"])
        XCTAssertTrue(csv.stdout.hasPrefix("timestamp,node,zone,order,free_blocks"), csv.stdout)

        let dir = NSTemporaryDirectory() + "stallstat-frag-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try a.stdout.write(toFile: dir + "/a.json", atomically: true, encoding: .utf8)
        try Harness.stallstat(["frag", "--json"]).stdout.write(toFile: dir + "/b.json", atomically: true, encoding: .utf8)
        let diff = Harness.stallstat(["frag", "--diff", dir + "/a.json", dir + "/b.json"])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("Between the snapshots"), diff.stdout)
        try "{broken".write(toFile: dir + "/bad.json", atomically: true, encoding: .utf8)
        let bad = Harness.stallstat(["frag", "--diff", dir + "/a.json", dir + "/bad.json"])
        XCTAssertEqual(bad.status, 2)
        XCTAssertTrue(bad.stderr.contains("bad.json"), bad.stderr)

        let svg = dir + "/watch.svg"
        let watch = Harness.run([Harness.stallstat, "frag", "--watch", "0.2", "--plot", svg]) { p in
            usleep(scaledMicroseconds(900_000))
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertEqual(watch.status, 0, watch.stderr)
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<svg"), text)
        XCTAssertTrue(text.contains("unusable free space index") && text.contains("THP-sized free blocks") && text.contains("<polyline"))
        XCTAssertTrue(watch.stderr.contains("snapshots"), watch.stderr)
    }
}

final class CorrelationAgainstScipyTests: XCTestCase {
    /// The same series through scipy, live, when python3 with scipy is installed.
    func testPearsonAndSpearmanAgainstScipyOnRandomSeries() throws {
        let probe = Harness.run(["/usr/bin/env", "python3", "-c", "import scipy"])
        try XCTSkipUnless(probe.status == 0, "python3 with scipy is not installed")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5 {
            let n = Int.random(in: 5...40, using: &rng)
            let x = (0..<n).map { _ in Double(Int.random(in: 0...20, using: &rng)) }   // ties on purpose
            let y = x.map { $0 * 0.5 + Double.random(in: -5...5, using: &rng) }
            let code = "from scipy import stats; x=\(x); y=\(y); print(repr(stats.pearsonr(x,y)[0]), repr(stats.spearmanr(x,y)[0]))"
            let r = Harness.run(["/usr/bin/env", "python3", "-c", code])
            let values = r.stdout.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "np.float64(", with: "").replacingOccurrences(of: ")", with: "")) }
            XCTAssertEqual(values.count, 2, r.stdout + r.stderr)
            XCTAssertEqual(try XCTUnwrap(Correlation.pearson(x, y)), values[0], accuracy: 1e-9)
            XCTAssertEqual(try XCTUnwrap(Correlation.spearman(x, y)), values[1], accuracy: 1e-9)
        }
    }

    func testStatFragPrintsTheCorrelationSection() {
        let r = Harness.stallstat(["stat", "-I", "100", "--frag", "-e", "page-faults", "--", Harness.workloads + "/touch_pages", "64", "700"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("Correlation of stall signals with fragmentation over"), r.stdout)
        XCTAssertTrue(r.stdout.contains("unusable index (order"), r.stdout)
    }
}
