/// Decides which events share a kernel group.
///
/// Groups the user wrote (`{a,b}`) stay as written: their members are scheduled together
/// so ratios come from one moment. Stand-alone software events and tracepoints are
/// merged into one kernel group: they never compete for PMU counters, so grouping them
/// cannot cause multiplexing, and one read(2) per CPU instead of one per event cuts the
/// cost of `-a -I` (each cross-CPU read is an IPI).
public enum CounterGrouping {
    public static func kernelGroups(events: [ResolvedEvent], requested: [[Int]]) -> [[Int]] {
        var result: [[Int]] = []
        var software: [Int] = []
        for group in requested {
            if group.count == 1, let attr = events[group[0]].attr, !events[group[0]].needsHardwarePMU,
               attr.type == PerfType.software || attr.type == PerfType.tracepoint {
                software.append(group[0])
            } else {
                result.append(group)
            }
        }
        if !software.isEmpty { result.insert(software, at: 0) }
        return result
    }
}
