/// Builds a `StatWindow` from cumulative counter readings: deltas against the previous
/// window (interval mode), per-target scaling, and aggregation over CPUs/threads.
public struct WindowBuilder {
    public let events: [ResolvedEvent]
    /// The CPU each target is bound to (nil for a task target on any CPU).
    public let targetCPUs: [Int?]
    public let aggregation: Aggregation
    /// Reasons for events that could not be opened anywhere.
    public let unsupported: [Int: String]
    /// `--no-scale`: counts as read, not scaled by enabled/running.
    public var scaleForMultiplexing = true

    /// The rows of one event, in output order: (cpu for -A, aggregate key).
    private let rows: [(cpu: Int?, key: AggregateKey?)]
    /// Target index → its row; decided once, as the targets never change (-I reads
    /// every target of every event each interval).
    private let rowOfTarget: [Int?]

    public init(events: [ResolvedEvent], targetCPUs: [Int?], aggregation: Aggregation, unsupported: [Int: String]) {
        self.events = events
        self.targetCPUs = targetCPUs
        self.aggregation = aggregation
        self.unsupported = unsupported
        let cpus = Array(Set(targetCPUs.compactMap { $0 })).sorted()
        var rows: [(cpu: Int?, key: AggregateKey?)]
        var keyOfTarget: [(cpu: Int?, key: AggregateKey?)]
        switch aggregation {
        case .global:
            rows = [(nil, nil)]
            keyOfTarget = targetCPUs.map { _ in (nil, nil) }
        case .perCPU:
            rows = cpus.map { ($0, nil) }
            keyOfTarget = targetCPUs.map { ($0, nil) }
        case .perPlace(let kind, let places):
            let cpuKeys = Aggregation.keys(kind, places: places, cpus: cpus)
            rows = Array(Set(cpuKeys.values)).sorted().map { (nil, $0) }
            keyOfTarget = targetCPUs.map { cpu in (nil, cpu.flatMap { cpuKeys[$0] }) }
        case .perTarget(let keys):
            rows = Array(Set(keys)).sorted().map { (nil, $0) }
            keyOfTarget = targetCPUs.indices.map { (nil, $0 < keys.count ? keys[$0] : nil) }
        }
        if rows.isEmpty { rows = [(nil, nil)] }
        self.rows = rows
        rowOfTarget = keyOfTarget.map { k in rows.firstIndex { $0.cpu == k.cpu && $0.key == k.key } }
    }

    public init(events: [ResolvedEvent], targetCPUs: [Int?], perCPU: Bool, unsupported: [Int: String]) {
        self.init(events: events, targetCPUs: targetCPUs, aggregation: perCPU ? .perCPU : .global, unsupported: unsupported)
    }

    public func window(readings: [Int: [Int: CounterReading]], previous: [Int: [Int: CounterReading]],
                       signals: [KernelSignalKind: UInt64], previousSignals: [KernelSignalKind: UInt64],
                       timestampSeconds: Double?, elapsedNs: Double) -> StatWindow {
        var results: [CounterResult] = []
        for (index, event) in events.enumerated() {
            let firstRow = results.count
            defer { for k in firstRow..<results.count { results[k].eventIndex = index } }
            if case .procCounter(let kind) = event.backend {
                // System-wide /proc counters: one row even in per-CPU output.
                var r: CounterResult
                if let now = signals[kind] {
                    let before = previousSignals[kind] ?? now
                    r = CounterResult(name: event.name, unit: event.unit, scale: 1, status: .counted,
                                      value: Double(now &- before), timeEnabledNs: elapsedNs, timeRunningNs: elapsedNs)
                } else {
                    r = CounterResult(name: event.name, unit: event.unit,
                                      status: .notSupported(reason: "\(kind.procFile) is not available on this kernel"))
                }
                r.identify(as: event)
                results.append(r)
                continue
            }
            if let reason = unsupported[index] {
                for row in rows {
                    var r = CounterResult(name: event.name, unit: event.unit, scale: event.scale,
                                          status: .notSupported(reason: reason), cpu: row.cpu,
                                          needsHardwarePMU: event.needsHardwarePMU)
                    r.identify(as: event)
                    r.aggregate = row.key
                    r.cgroup = event.cgroup
                    results.append(r)
                }
                continue
            }
            let current = readings[index] ?? [:]
            let earlier = previous[index] ?? [:]
            var byRow: [Int: [CounterReading]] = [:]
            for (target, reading) in current {
                guard target < rowOfTarget.count, let row = rowOfTarget[target] else { continue }
                var delta = reading.delta(since: earlier[target] ?? .zero)
                if !scaleForMultiplexing { delta.timeEnabledNs = delta.timeRunningNs }
                byRow[row, default: []].append(delta)
            }
            for (k, row) in rows.enumerated() {
                results.append(CounterResult.aggregate(event: event, readings: byRow[k] ?? [], cpu: row.cpu, key: row.key))
            }
        }
        return StatWindow(timestampSeconds: timestampSeconds, elapsedNs: elapsedNs, results: results)
    }
}

/// Averages the summary windows of repeated runs, as `perf stat -r` does: the mean of
/// each count, with the relative standard error of the mean as its variance figure.
public enum RepeatAggregator {
    public static func combine(_ runs: [StatWindow]) -> StatWindow? {
        guard let first = runs.first else { return nil }
        var results: [CounterResult] = []
        for (i, template) in first.results.enumerated() {
            let rows = runs.compactMap { $0.results.count > i ? $0.results[i] : nil }
            let counted = rows.filter { $0.status == .counted }
            var r = template
            if counted.isEmpty {
                r.status = rows.first(where: isUnsupported)?.status ?? .notCounted
                r.variancePercent = 0
                results.append(r)
                continue
            }
            let stats = RunStatistics(rows.map { $0.status == .counted ? $0.value : 0 })
            r.status = .counted
            r.value = stats.mean
            r.timeEnabledNs = RunStatistics(rows.map(\.timeEnabledNs)).mean
            r.timeRunningNs = RunStatistics(rows.map(\.timeRunningNs)).mean
            r.variancePercent = stats.relativeStandardErrorPercent
            results.append(r)
        }
        let elapsed = RunStatistics(runs.map(\.elapsedNs)).mean
        return StatWindow(timestampSeconds: nil, elapsedNs: elapsed, results: results)
    }
}
