import XCTest
@testable import StallCore

final class ScalingTests: XCTestCase {
    func testMultiplexedCountIsScaledByEnabledOverRunning() {
        // Ran 5/8 of the time: perf shows (62.50%) and extrapolates 1000 → 1600.
        let r = CounterReading(value: 1000, timeEnabledNs: 8_000, timeRunningNs: 5_000)
        XCTAssertEqual(r.scaledValue, 1600)
        let event = ResolvedEvent(name: "cycles", attr: EventAttr(type: 0, config: 0), source: .generic)
        let result = CounterResult.aggregate(event: event, readings: [r])
        XCTAssertEqual(result.percentRunning, 62.5)
        XCTAssertTrue(result.isMultiplexed)
    }

    func testACounterThatNeverRanIsNotCountedRatherThanZero() {
        let r = CounterReading(value: 0, timeEnabledNs: 8_000, timeRunningNs: 0)
        XCTAssertNil(r.scaledValue)
        let event = ResolvedEvent(name: "cycles", attr: EventAttr(type: 0, config: 0), source: .generic)
        XCTAssertEqual(CounterResult.aggregate(event: event, readings: [r]).status, .notCounted)
    }

    func testPerCPUReadingsAreScaledEachThenSummed() {
        // CPU0 ran fully (100), CPU1 half the time (50 → 100): perf sums scaled values.
        let a = CounterReading(value: 100, timeEnabledNs: 10, timeRunningNs: 10)
        let b = CounterReading(value: 50, timeEnabledNs: 10, timeRunningNs: 5)
        let event = ResolvedEvent(name: "instructions", attr: EventAttr(type: 0, config: 1), source: .generic)
        let sum = CounterResult.aggregate(event: event, readings: [a, b])
        XCTAssertEqual(sum.value, 200)
        XCTAssertEqual(sum.percentRunning, 75)
    }

    /// Every row says which of the run's events it counts, per-CPU rows, unsupported and
    /// /proc rows alike, so runs of one event list merge by event, not by printed name
    /// (two events may print alike; a fallback renames one `cycles:u`).
    func testEveryRowKnowsItsEventWhateverItsName() {
        var signal = ResolvedEvent(name: "pressure:memory_some", attr: nil, source: .generic)
        signal.procCounter = .pressure(resource: "memory", full: false)
        let events = [ResolvedEvent(name: "task-clock", attr: EventAttr(type: 1, config: 1), source: .generic),
                      ResolvedEvent(name: "task-clock", attr: EventAttr(type: 1, config: 1), source: .generic),
                      signal,
                      ResolvedEvent(name: "cycles:u", attr: EventAttr(type: 0, config: 0), source: .generic)]
        let builder = WindowBuilder(events: events, targetCPUs: [0, 1], aggregation: .perCPU, unsupported: [3: "no PMU"])
        let r = CounterReading(value: 5, timeEnabledNs: 10, timeRunningNs: 10)
        let w = builder.window(readings: [0: [0: r, 1: r], 1: [0: r]], previous: [:], signals: [.pressure(resource: "memory", full: false): 7],
                               previousSignals: [.pressure(resource: "memory", full: false): 3], timestampSeconds: nil, elapsedNs: 10)
        XCTAssertEqual(w.results.map(\.eventIndex), [0, 0, 1, 1, 2, 3, 3])
        XCTAssertEqual(w.results.map(\.name), ["task-clock", "task-clock", "task-clock", "task-clock", "pressure:memory_some", "cycles:u", "cycles:u"])
        XCTAssertEqual(w.results[4].value, 4)
        XCTAssertEqual(w.results[6].status, .notSupported(reason: "no PMU"))
    }

    /// perf 6.12's --per-cache choice (cpu__get_cache_details): the first cache of the
    /// asked level, else the first of the highest level; the id is the lowest sharing CPU.
    func testPerCachePicksTheCacheAndIDAsPerf() {
        let caches = [CPUCache(level: 1, sharedCPUs: [2, 3]), CPUCache(level: 1, sharedCPUs: [3]), CPUCache(level: 2, sharedCPUs: [3, 2]),
                      CPUCache(level: 3, sharedCPUs: [0, 1, 2, 3]), CPUCache(level: 3, sharedCPUs: [4])]
        XCTAssertTrue(CPUCache.pick(caches, level: nil, cpu: 3)! == (3, 0))
        XCTAssertTrue(CPUCache.pick(caches, level: 1, cpu: 3)! == (1, 2))
        XCTAssertTrue(CPUCache.pick(caches, level: 2, cpu: 3)! == (2, 2))
        XCTAssertNil(CPUCache.pick(caches, level: 4, cpu: 3))
        XCTAssertTrue(CPUCache.pick([CPUCache(level: 2, sharedCPUs: [])], level: nil, cpu: 7)! == (2, 7), "an empty list: the CPU itself")
        let p = CPUPlace(socket: 1, die: 0, core: 5, node: 0, cluster: 2, cacheLevel: 3, cacheID: 8)
        XCTAssertEqual(Aggregation.key(.cluster, place: p, members: 4).label, "S1-D0-CLS2")
        XCTAssertEqual(Aggregation.key(.cache, place: p, members: 4).label, "S1-D0-L3-ID8")
        XCTAssertEqual((try? CPUCache.parseLevel("l3").get()), 3)
        XCTAssertNil(try? CPUCache.parseLevel("L0").get())
        XCTAssertNil(try? CPUCache.parseLevel("L12").get())
    }

    func testIntervalDeltasSubtractCumulativeReads() {
        let first = CounterReading(value: 100, timeEnabledNs: 1000, timeRunningNs: 500)
        let second = CounterReading(value: 250, timeEnabledNs: 2000, timeRunningNs: 1500)
        XCTAssertEqual(second.delta(since: first), CounterReading(value: 150, timeEnabledNs: 1000, timeRunningNs: 1000))
    }

    func testGroupReadDecodesTheKernelLayout() throws {
        // nr=2, enabled=1000, running=600, {value 7, id 11}, {value 9, id 12}
        var bytes: [UInt8] = []
        for w: UInt64 in [2, 1000, 600, 7, 11, 9, 12] { for i in 0..<8 { bytes.append(UInt8((w >> (8 * UInt64(i))) & 0xff)) } }
        let g = try GroupRead.decode(bytes)
        XCTAssertEqual(g.timeEnabledNs, 1000)
        XCTAssertEqual(g.timeRunningNs, 600)
        XCTAssertEqual(g.values.map(\.value), [7, 9])
        XCTAssertEqual(g.values.map(\.id), [11, 12])
        XCTAssertEqual(g.reading(at: 1), CounterReading(value: 9, timeEnabledNs: 1000, timeRunningNs: 600))
        XCTAssertThrowsError(try GroupRead.decode(Array(bytes.prefix(40)))) {
            XCTAssertEqual($0 as? GroupRead.DecodeError, .truncated(bytes: 40, needed: 56))
        }
        // nr = 2^64-1 and 2^63 (found by Fuzz/run.sh: Int(nr) trapped).
        for nr: UInt64 in [.max, 1 << 63, 1 << 60] {
            var huge = bytes
            for i in 0..<8 { huge[i] = UInt8(truncatingIfNeeded: nr >> (8 * UInt64(i))) }
            XCTAssertThrowsError(try GroupRead.decode(huge)) { XCTAssertNotNil($0 as? GroupRead.DecodeError) }
        }
    }
}

final class RunStatisticsTests: XCTestCase {
    // Hand-computed: values 1,2,3,4 → mean 2.5, s² = 5/3, SEM = sqrt(5/12) = 0.645497,
    // perf's ( +- ) = 100·SEM/mean = 25.8199 %.
    func testRelativeStandardErrorMatchesPerfDefinition() {
        let s = RunStatistics([1, 2, 3, 4])
        XCTAssertEqual(s.mean, 2.5)
        XCTAssertEqual(s.variance, 5.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(s.standardErrorOfMean, 0.6454972243679028, accuracy: 1e-12)
        XCTAssertEqual(s.relativeStandardErrorPercent, 25.81988897471611, accuracy: 1e-9)
        XCTAssertEqual(RunStatistics([5]).relativeStandardErrorPercent, 0)
    }

    func testRepeatedRunsAverageCountsAndCarryTheVariance() throws {
        func run(_ v: Double) -> StatWindow {
            StatWindow(timestampSeconds: nil, elapsedNs: 1e9,
                       results: [CounterResult(name: "page-faults", status: .counted, value: v, timeEnabledNs: 1e9, timeRunningNs: 1e9)])
        }
        let combined = try XCTUnwrap(RepeatAggregator.combine([run(100), run(110), run(120)]))
        XCTAssertEqual(combined.results[0].value, 110)
        // s = 10, SEM = 10/sqrt(3) = 5.7735, 100·SEM/110 = 5.2486 %
        XCTAssertEqual(try XCTUnwrap(combined.results[0].variancePercent), 5.248639, accuracy: 1e-5)
    }
}

final class CounterGroupingTests: XCTestCase {
    func testStandaloneSoftwareEventsShareOneKernelGroupAndUserGroupsStay() {
        let events = [
            GenericEvents.lookup("task-clock")!, GenericEvents.lookup("cycles")!, GenericEvents.lookup("page-faults")!,
            GenericEvents.lookup("instructions")!, GenericEvents.lookup("context-switches")!,
            ResolvedEvent(name: "pressure:memory-some", attr: nil, source: .kernelSignal(file: "/proc/pressure/memory")),
        ]
        let groups = CounterGrouping.kernelGroups(events: events, requested: [[0], [1], [2], [3, 4], [5]])
        // software singletons merged; hardware alone; the user's {instructions,context-switches} kept; /proc signal untouched
        XCTAssertEqual(groups, [[0, 2], [1], [3, 4], [5]])
    }
}

/// Permission messages name the real cause.
final class PermissionMessageTests: XCTestCase {
    func testMessagesFitTheCause() {
        func message(_ event: String, paranoid: Int?, systemWide: Bool) -> String {
            OpenFailure(event: event, cause: .permission(paranoid: paranoid, systemWide: systemWide)).message
        }
        XCTAssertTrue(message("cycles", paranoid: 2, systemWide: false).contains("'cycles:u'"))
        XCTAssertFalse(message("cycles:u", paranoid: 2, systemWide: false).contains("count user space only"), "no :u hint for a :u event")
        XCTAssertFalse(message("cycles", paranoid: 2, systemWide: true).contains(":u'"), "-a needs paranoid <= 0 whatever the modifier")
        let ptrace = message("task-clock", paranoid: -1, systemWide: false)
        XCTAssertTrue(ptrace.contains("ptrace access check") && !ptrace.contains("sysctl"), "paranoid -1 refuses nothing: \(ptrace)")
    }
}
