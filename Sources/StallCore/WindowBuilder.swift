/// Builds a `StatWindow` from cumulative counter readings: deltas against the previous
/// window (interval mode), per-target scaling, and aggregation over CPUs/threads.
public struct WindowBuilder {
    public var events: [ResolvedEvent]
    /// The CPU each target is bound to (nil for a task target on any CPU).
    public var targetCPUs: [Int?]
    public var perCPU: Bool
    /// Reasons for events that could not be opened anywhere.
    public var unsupported: [Int: String]

    public init(events: [ResolvedEvent], targetCPUs: [Int?], perCPU: Bool, unsupported: [Int: String]) {
        self.events = events
        self.targetCPUs = targetCPUs
        self.perCPU = perCPU
        self.unsupported = unsupported
    }

    public func window(readings: [Int: [Int: CounterReading]], previous: [Int: [Int: CounterReading]],
                       signals: [KernelSignalKind: UInt64], previousSignals: [KernelSignalKind: UInt64],
                       timestampSeconds: Double?, elapsedNs: Double) -> StatWindow {
        var results: [CounterResult] = []
        let cpus = perCPU ? Array(Set(targetCPUs.compactMap { $0 })).sorted() : []
        for (index, event) in events.enumerated() {
            if let kind = KernelSignalKind(name: event.name), event.attr == nil {
                // System-wide /proc counters: one row even in per-CPU output.
                if let now = signals[kind] {
                    let before = previousSignals[kind] ?? now
                    results.append(CounterResult(name: event.name, unit: event.unit, scale: 1, status: .counted,
                                                 value: Double(now &- before), timeEnabledNs: elapsedNs,
                                                 timeRunningNs: elapsedNs))
                } else {
                    results.append(CounterResult(name: event.name, unit: event.unit,
                                                 status: .notSupported(reason: "\(kind.procFile) is not available on this kernel")))
                }
                continue
            }
            if let reason = unsupported[index] {
                let rows = perCPU && !cpus.isEmpty ? cpus.map { Optional($0) } : [nil]
                for cpu in rows {
                    results.append(CounterResult(name: event.name, unit: event.unit, scale: event.scale,
                                                 status: .notSupported(reason: reason), cpu: cpu,
                                                 needsHardwarePMU: event.needsHardwarePMU))
                }
                continue
            }
            let current = readings[index] ?? [:]
            let earlier = previous[index] ?? [:]
            var deltas: [(cpu: Int?, reading: CounterReading)] = []
            for (target, reading) in current {
                let base = earlier[target] ?? .zero
                deltas.append((targetCPUs[target], reading.delta(since: base)))
            }
            if perCPU && !cpus.isEmpty {
                for cpu in cpus {
                    let mine = deltas.filter { $0.cpu == cpu }.map(\.reading)
                    results.append(CounterResult.aggregate(event: event, readings: mine, cpu: cpu))
                }
            } else {
                results.append(CounterResult.aggregate(event: event, readings: deltas.map(\.reading)))
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
