#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import StallCore
import StallLinux

extension CounterSource: ExpressibleByArgument {}

/// The rows a run without perf_event_open prints (`--counters=rusage|simulated`), in the
/// order the events were named: the source's own counts, /proc signals (read the same way
/// with any source), and `<not supported>` for what only perf_event_open can count.
struct AccountingSelection {
    enum Row {
        case rusage(RusageMetric)
        case simulated(SimulatedMetric)
        case signal(Int)
        case unsupported(String)
    }

    let source: CounterSource
    private(set) var rows: [Row] = []
    private(set) var signalEvents: [ResolvedEvent] = []

    init(source: CounterSource, eventNames: [String], resolver: EventResolver) {
        precondition(source == .rusage || source == .simulated)
        self.source = source
        if eventNames.isEmpty {
            rows = source == .rusage ? RusageMetric.defaultSet.map { .rusage($0) } : SimulatedMetric.defaultSet.map { .simulated($0) }
            return
        }
        for name in eventNames {
            if source == .rusage, let m = RusageMetric(eventName: name) {
                rows.append(.rusage(m))
            } else if source == .simulated, let m = SimulatedMetric(eventName: name) {
                rows.append(.simulated(m))
            } else if name.hasPrefix("pressure:") || name.hasPrefix("vmstat:"), let e = try? resolver.resolve(name) {
                rows.append(.signal(signalEvents.count))
                signalEvents.append(e)
            } else {
                rows.append(.unsupported(name))
            }
        }
    }

    /// The names this source counts, for messages.
    var offered: String {
        (source == .rusage ? RusageMetric.allCases.map(\.rawValue) : SimulatedMetric.allCases.map(\.rawValue)).joined(separator: ", ")
    }

    func window(_ outcome: AccountingRunner.Outcome) -> StatWindow {
        let results = rows.map { row -> CounterResult in
            switch row {
            case .rusage(let m): return m.result(outcome.usage, elapsedNs: outcome.elapsedSeconds * 1e9)
            case .simulated(let m):
                guard let s = outcome.simulated else { return CounterResult(name: m.rawValue + source.suffix, status: .notCounted) }
                return m.result(s, elapsedNs: outcome.elapsedSeconds * 1e9)
            case .signal(let i): return outcome.signalResults[i]
            case .unsupported(let name):
                return CounterResult(name: name, status: .notSupported(reason: "only perf_event_open counts it; --counters=\(source.rawValue) counts \(offered), pressure:* and vmstat:*"))
            }
        }
        return StatWindow(timestampSeconds: nil, elapsedNs: outcome.elapsedSeconds * 1e9, results: results)
    }
}

/// Chooses the source for a launched command: `auto` is perf_event_open unless this
/// process may not open even a user-space software counter, then rusage, said once.
enum CounterSourceChoice {
    static func choose(_ requested: CounterSource, launchesCommand: Bool, notes: (String) -> Void) throws -> CounterSource {
        switch requested {
        case .perf: return .perf
        case .rusage, .simulated:
            guard launchesCommand else {
                throw ValidationError("--counters=\(requested.rawValue) counts a command stallstat launches (… -- ./cmd); -a, -C, -p and -t need perf_event_open")
            }
            return requested
        case .auto:
            guard launchesCommand, let e = PerfEventAvailability.refusal() else { return .perf }
            let paranoid = MachineFacts.perfEventParanoid().map { " (kernel.perf_event_paranoid = \($0))" } ?? ""
            notes("perf_event_open is refused here: \(String(cString: strerror(e)))\(paranoid); counting the command from what the kernel accounts to it (--counters=rusage)")
            return .rusage
        }
    }
}
