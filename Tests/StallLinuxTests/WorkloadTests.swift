import XCTest
import Foundation
@testable import StallLinux

/// The one wait loop stat and record share: what ends a run, and what does not.
final class WorkloadTests: XCTestCase {
    override func setUp() { MachineFacts.blockStopSignals() }
    override func tearDown() { MachineFacts.unblockStopSignals() }

    /// Waits until a wake other than `.timedOut`, or `seconds`; returns it and the time taken.
    func waitForEnd(_ w: Workload, seconds: Double) -> (Workload.Wake, Double) {
        let start = MachineFacts.monotonicNanoseconds()
        let limit = start + UInt64(seconds * 1e9)
        while MachineFacts.monotonicNanoseconds() < limit {
            let wake = w.wait(until: limit)
            if wake != .timedOut { return (wake, Double(MachineFacts.monotonicNanoseconds() - start) / 1e9) }
        }
        return (.timedOut, seconds)
    }

    func testTheCommandsExitEndsTheRunAndIsReaped() throws {
        let w = try Workload(command: ["/bin/sh", "-c", "sleep 0.2; exit 3"])
        XCTAssertFalse(w.isOver, "held before exec")
        try w.release()
        let (wake, took) = waitForEnd(w, seconds: 10)
        XCTAssertEqual(wake, .commandExited)
        XCTAssertGreaterThanOrEqual(took, 0.15)
        XCTAssertTrue(w.isOver)
        XCTAssertEqual(w.command?.exitCode, 3)
        XCTAssertEqual(w.wait(until: nil), .commandExited, "a run that ended stays ended")
    }

    func testACommandThatCannotRunIsAnErrorAtRelease() throws {
        let w = try Workload(command: ["/nonexistent/program"])
        XCTAssertThrowsError(try w.release()) { XCTAssertEqual(($0 as? PausedChild.Failure)?.exitCode, 127) }
    }

    /// Attached threads: the run ends when they are gone (a zombie counts as gone), checked
    /// at 10 Hz, and not before.
    func testWatchedThreadsEndTheRunWhenTheyExit() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sleep")
        p.arguments = ["0.5"]
        try p.run()
        defer { p.waitUntilExit() }
        let w = try Workload(command: [], watchedThreads: [p.processIdentifier])
        XCTAssertNil(w.command)
        let (wake, took) = waitForEnd(w, seconds: 10)
        XCTAssertEqual(wake, .watchedThreadsExited)
        XCTAssertGreaterThanOrEqual(took, 0.4, "not before the thread exits")
        XCTAssertLessThan(took, 0.5 + timeBound(0.5), "within a check period of its exit")
        XCTAssertTrue(w.watchedThreadsExited)
    }

    func testSleepReturnsAtItsDeadlineWhileNothingEnds() throws {
        let w = try Workload(command: [])
        let start = MachineFacts.monotonicNanoseconds()
        XCTAssertTrue(w.sleep(until: start + 150_000_000))
        XCTAssertGreaterThanOrEqual(MachineFacts.monotonicNanoseconds() - start, 150_000_000)
        XCTAssertFalse(w.isOver)
    }

    /// A stop signal ends the run and is remembered (it is passed on to the command).
    func testAStopSignalEndsTheRun() throws {
        let w = try Workload(command: ["/bin/sleep", "5"])
        try w.release()
        // Sent to this thread only: it has the stop signals blocked, so the signal waits for sigtimedwait.
        pthread_kill(pthread_self(), SIGHUP)
        let (wake, took) = waitForEnd(w, seconds: 10)
        XCTAssertEqual(wake, .stopSignal(SIGHUP))
        XCTAssertLessThan(took, timeBound(1))
        XCTAssertEqual(w.interruptedBy, SIGHUP)
        w.end()
        XCTAssertEqual(w.command?.exitCode, 128 + SIGHUP, "the command got the signal that stopped the run")
    }

    func testScopesExpandToTheCountersTargets() {
        XCTAssertEqual(StatPlan.Scope.command.counterTargets(commandPID: 9), [.task(9)])
        XCTAssertEqual(StatPlan.Scope.command.counterTargets(commandPID: 9, taskCPUs: [0, 2]),
                       [CounterTarget(pid: 9, cpu: 0), CounterTarget(pid: 9, cpu: 2)])
        XCTAssertEqual(StatPlan.Scope.threads([5, 6]).counterTargets(commandPID: 9), [.task(5), .task(6)])
        XCTAssertEqual(StatPlan.Scope.threads([5]).counterTargets(commandPID: nil, taskCPUs: [1]), [CounterTarget(pid: 5, cpu: 1)])
        XCTAssertEqual(StatPlan.Scope.systemWide(cpus: [0, 1]).counterTargets(commandPID: 9, taskCPUs: [0, 1, 2]), [.cpu(0), .cpu(1)],
                       "system-wide is per CPU already, whatever the command")
        XCTAssertEqual(StatPlan.Scope.threads([5, 6]).attachedThreads, [5, 6])
        XCTAssertEqual(StatPlan.Scope.command.attachedThreads, [])
    }
}
