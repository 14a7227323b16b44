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
            usleep(900_000)
            kill(p.processIdentifier, SIGINT)
        }
        XCTAssertEqual(watch.status, 0, watch.stderr)
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        XCTAssertTrue(text.hasPrefix("<svg"), text)
        XCTAssertTrue(text.contains("unusable free space index") && text.contains("THP-sized free blocks") && text.contains("<polyline"))
        XCTAssertTrue(watch.stderr.contains("snapshots"), watch.stderr)
    }
}
