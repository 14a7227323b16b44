import XCTest
@testable import StallCore

final class MetricExpressionTests: XCTestCase {
    func eval(_ text: String, _ values: [String: Double] = [:], constants: [String: Double] = [:]) throws -> MetricValue {
        try MetricExpression.parse(text).evaluate(names: { values[$0].map(NameValue.value) ?? .unknown }, constants: constants)
    }

    func testPrecedenceAndAssociativity() throws {
        XCTAssertEqual(try eval("1 + 2 * 3"), .value(7))
        XCTAssertEqual(try eval("(1 + 2) * 3"), .value(9))
        XCTAssertEqual(try eval("2 - 3 - 4"), .value(-5))
        XCTAssertEqual(try eval("8 / 4 / 2"), .value(1))
        XCTAssertEqual(try eval("-2 * 3 + 10"), .value(4))
        XCTAssertEqual(try eval("100 * a / (b * 8)", ["a": 4, "b": 2]), .value(25))
        XCTAssertEqual(try eval("1 + 2 < 4"), .value(1), "comparison binds looser than +")
        XCTAssertEqual(try eval("1 < 2 & 3 < 2 | 1"), .value(1), "& binds tighter than |")
        XCTAssertEqual(try eval("1.5e3 / 3"), .value(500))
    }

    func testConditionalsAndFunctions() throws {
        XCTAssertEqual(try eval("a if b > 1 else c", ["a": 1, "b": 2, "c": 3]), .value(1))
        XCTAssertEqual(try eval("a if b > 5 else c if b > 1 else 0", ["a": 1, "b": 2, "c": 3]), .value(3))
        XCTAssertEqual(try eval("min(a, b) + max(a, b, 10)", ["a": 4, "b": 7]), .value(14))
        XCTAssertEqual(try eval("d_ratio(a, 0)", ["a": 4]), .value(0), "perf's d_ratio is 0 on a zero divisor")
        XCTAssertEqual(try eval("STALL_SLOT / (#slots * CPU_CYCLES)", ["STALL_SLOT": 300, "CPU_CYCLES": 100], constants: ["slots": 5]), .value(0.6))
        // perf escapes '-' in event names; the escape is part of the name
        XCTAssertEqual(try eval("raw\\-stall / 2", ["raw-stall": 10]), .value(5))
        // A skylake metric, shape as in skl-metrics.json
        XCTAssertEqual(try eval("max((CYCLE_ACTIVITY.STALLS_MEM_ANY - CYCLE_ACTIVITY.STALLS_L1D_MISS) / clks, 0)",
                                ["CYCLE_ACTIVITY.STALLS_MEM_ANY": 30, "CYCLE_ACTIVITY.STALLS_L1D_MISS": 40, "clks": 100]), .value(0))
    }

    func testDivisionByZeroIsAMarkedMissingValue() throws {
        XCTAssertEqual(try eval("a / b", ["a": 1, "b": 0]), .missing("division by zero"))
        XCTAssertEqual(try eval("1 + a / b", ["a": 1, "b": 0]), .missing("division by zero"), "missing propagates")
        XCTAssertEqual(try eval("#slots * 2"), .missing("#slots is not known for this CPU"))
    }

    func testNotCountedAndUnknownNames() throws {
        let notCounted = try MetricExpression.parse("a + b").evaluate(names: { $0 == "a" ? .value(1) : .notCounted })
        XCTAssertEqual(notCounted, .missing("b was not counted"))
        XCTAssertThrowsError(try eval("a + typo_event", ["a": 1])) {
            XCTAssertEqual("\($0)", "unknown event or metric 'typo_event'")
        }
    }

    func testSyntaxErrorsSayWhere() {
        XCTAssertThrowsError(try MetricExpression.parse("1 + * 2")) {
            XCTAssertEqual("\($0)", "cannot read metric expression '1 + * 2' at character 5: unexpected '*'")
        }
        XCTAssertThrowsError(try MetricExpression.parse("(1 + 2"))
        XCTAssertThrowsError(try MetricExpression.parse("a if b"))
        XCTAssertThrowsError(try MetricExpression.parse("1 2"))
    }
}

final class SchedulerTests: XCTestCase {
    func testMetricTuplesBecomeGroupsThatFit() {
        let tuples = [["CPU_CYCLES", "STALL"], ["STALL", "STALL_FRONTEND"], ["STALL", "STALL_BACKEND"], ["STALL_FRONTEND"],
                      ["STALL_BACKEND", "STALL_BACKEND_MEM"]]
        let groups = MetricScheduler.groups(tuples: tuples, budget: 3)
        XCTAssertTrue(groups.allSatisfy { $0.count <= 3 })
        // every tuple is inside one group, so every ratio is counted at one moment
        for t in tuples { XCTAssertTrue(groups.contains { Set(t).isSubset(of: Set($0)) }, "\(t) split across \(groups)") }
        XCTAssertEqual(groups.count, 2)
    }

    func testATupleLargerThanTheBudgetIsSplit() {
        let groups = MetricScheduler.groups(tuples: [["a", "b", "c", "d", "e"]], budget: 2)
        XCTAssertEqual(groups, [["a", "b"], ["c", "d"], ["e"]])
    }

    func testRunsForNoMultiplex() {
        // groups 0: software, 1: 2 hardware, 2: 2 hardware, 3: 1 hardware; budget 3
        let hw: [[Int]: Int] = [[0]: 0, [1, 2]: 2, [3, 4]: 2, [5]: 1]
        let runs = RunPartitioner.runs(groups: [[0], [1, 2], [3, 4], [5]], hardwareCount: { hw[$0]! }, budget: 3)
        XCTAssertEqual(runs, [[[0], [1, 2], [5]], [[3, 4]]])
    }
}
