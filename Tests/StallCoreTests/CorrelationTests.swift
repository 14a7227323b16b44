import XCTest
@testable import StallCore

/// Reference values computed with scipy 1.17 (scipy.stats.pearsonr, spearmanr, rankdata)
/// on the same series; the Linux suite repeats the comparison live when scipy is installed.
final class CorrelationTests: XCTestCase {
    func testPearsonAndSpearmanEqualScipy() throws {
        let x: [Double] = [1, 2, 3, 4, 5, 6, 7, 8], y: [Double] = [2, 1, 4, 3, 7, 8, 6, 9]
        XCTAssertEqual(try XCTUnwrap(Correlation.pearson(x, y)), 0.8964214570007951, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(Correlation.spearman(x, y)), 0.880952380952381, accuracy: 1e-12)
        // with ties
        let a: [Double] = [0.1, 0.4, 0.4, 0.9, 1.2, 1.2, 1.2, 2.0, 3.5], b: [Double] = [5, 3, 8, 8, 2, 9, 9, 10, 1]
        XCTAssertEqual(try XCTUnwrap(Correlation.pearson(a, b)), -0.24938397300266824, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(Correlation.spearman(a, b)), 0.09013622704108849, accuracy: 1e-12)
        XCTAssertEqual(Correlation.ranks(a), [1, 2.5, 2.5, 4, 6, 6, 6, 8, 9])
    }

    func testUndefinedCases() {
        XCTAssertNil(Correlation.pearson([1, 1, 1, 1], [1, 2, 3, 4]), "constant series")
        XCTAssertNil(Correlation.pearson([1, 2], [2, 1]), "too few points")
        XCTAssertEqual(Correlation.pearson([1, 2, 3], [3, 2, 1]), -1)
    }

    func testSentencesForStrongRelationsFromIntervals() throws {
        // Six intervals: dTLB walks rise with the unusable index at order 9.
        let freeLists: [[UInt64]] = [[1000, 0, 0, 0, 0, 0, 0, 0, 0, 10, 40], [2000, 0, 0, 0, 0, 0, 0, 0, 0, 10, 30],
                                     [3000, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20], [4000, 0, 0, 0, 0, 0, 0, 0, 0, 10, 12],
                                     [5000, 0, 0, 0, 0, 0, 0, 0, 0, 5, 8], [6000, 0, 0, 0, 0, 0, 0, 0, 0, 2, 4]]
        let walks: [Double] = [100, 180, 260, 390, 500, 610]
        var windows: [StatWindow] = []
        var snaps: [MemorySnapshot] = []
        for i in 0..<6 {
            windows.append(StatWindow(timestampSeconds: Double(i + 1), elapsedNs: 1e9, results: [
                CounterResult(name: "dtlb-walk", status: .counted, value: walks[i], timeEnabledNs: 1e9, timeRunningNs: 1e9, needsHardwarePMU: true),
                CounterResult(name: "task-clock", unit: "msec", scale: 1e-6, status: .counted, value: 1e9, timeEnabledNs: 1e9, timeRunningNs: 1e9),
            ]))
            snaps.append(MemorySnapshot(timestampSeconds: Double(i), zones: [ZoneFreeLists(node: 0, zone: "Normal", freeBlocks: freeLists[i])],
                                        vmstat: ["compact_stall": UInt64(i * i)]))
        }
        let c = FragmentationCorrelation(windows: windows, snapshots: snaps, baseline: nil)
        XCTAssertEqual(c.stallSeries.map(\.name), ["dtlb-walk"], "task-clock is not a stall signal")
        let unusable = snaps.map { Double(FragmentationIndex(zone: $0.zones[0]).unusableIndexMilli(order: 9)) / 1000 }
        let pair = try XCTUnwrap(c.pairs.first { $0.fragmentation.hasPrefix("unusable") })
        XCTAssertEqual(try XCTUnwrap(pair.pearson), try XCTUnwrap(Correlation.pearson(walks, unusable)), accuracy: 1e-12)
        XCTAssertEqual(pair.intervals, 6)
        let sentence = try XCTUnwrap(c.sentences.first { $0.contains("unusable index (order 9)") })
        XCTAssertTrue(sentence.hasPrefix("dtlb-walk rose with the unusable index (order 9): r = 0.9"), sentence)
        XCTAssertTrue(sentence.contains("over 6 intervals"), sentence)
        XCTAssertTrue(c.sentences.contains { $0.hasPrefix("dtlb-walk fell as the free THP-sized blocks rose") }, "\(c.sentences)")
        XCTAssertTrue(c.plot(title: "t").contains("<polyline"))
    }
}

/// `stat -I --frag` left running: the correlation keeps a bounded window and running sums.
final class BoundedCorrelationTests: XCTestCase {
    func testMemoryIsBoundedAndPearsonCoversTheWholeRun() throws {
        var c = FragmentationCorrelation(baseline: nil, tracksHugePages: true)
        var walks: [Double] = [], unusable: [Double] = []
        var seed: UInt64 = 12345
        func random() -> Double { seed = seed &* 6364136223846793005 &+ 1442695040888963407; return Double(seed >> 33) / Double(1 << 31) }
        let n = FragmentationCorrelation.window * 2 + 17   // past the point where the older half is dropped
        for i in 0..<n {
            let high = UInt64(10 + Int(random() * 40))
            let snap = MemorySnapshot(timestampSeconds: Double(i), zones: [ZoneFreeLists(node: 0, zone: "Normal", freeBlocks: [UInt64(1000 + i % 500), 0, 0, 0, 0, 0, 0, 0, 0, 3, high])],
                                      vmstat: ["compact_stall": UInt64(i)])
            let w = 100 + 10 * Double(high) + 50 * random()
            walks.append(w)
            unusable.append(snap.unusableAtHugePageOrderNormal)
            c.add(window: StatWindow(timestampSeconds: Double(i + 1), elapsedNs: 1e9, results: [
                CounterResult(name: "dtlb-walk", status: .counted, value: w, timeEnabledNs: 1e9, timeRunningNs: 1e9, needsHardwarePMU: true)]),
                  snapshot: snap, hugePageShare: random())
        }
        XCTAssertEqual(c.intervals, n)
        XCTAssertEqual(c.timestamps.count, FragmentationCorrelation.window, "only the window is kept")
        XCTAssertTrue(c.stallSeries.allSatisfy { $0.values.count == FragmentationCorrelation.window })
        XCTAssertTrue(c.fragmentationSeries.allSatisfy { $0.values.count == FragmentationCorrelation.window })
        let pair = try XCTUnwrap(c.pairs.first { $0.fragmentation.hasPrefix("unusable") })
        XCTAssertEqual(pair.intervals, n)
        XCTAssertEqual(try XCTUnwrap(pair.pearson), try XCTUnwrap(Correlation.pearson(walks, unusable)), accuracy: 1e-9, "running co-moments = two-pass Pearson")
        XCTAssertEqual(try XCTUnwrap(pair.spearman), try XCTUnwrap(Correlation.spearman(Array(walks.suffix(FragmentationCorrelation.window)), Array(unusable.suffix(FragmentationCorrelation.window)))), accuracy: 1e-12)
        XCTAssertTrue(c.text().contains("over the last \(FragmentationCorrelation.window)"))
    }

    func testRunningPearsonOfAConstantSeriesIsUndefined() {
        var p = RunningPearson()
        for i in 0..<10 { p.add(Double(i), 5) }
        XCTAssertNil(p.r)
    }
}
