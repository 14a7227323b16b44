/// Decides which events share a kernel group.
///
/// Groups the user wrote (`{a,b}`) stay as written: their members are scheduled together
/// so ratios come from one moment. Stand-alone software events and tracepoints are
/// merged into one kernel group: they never compete for PMU counters, so grouping them
/// cannot cause multiplexing, and one read(2) per CPU instead of one per event cuts the
/// cost of `-a -I` (each cross-CPU read is an IPI).
public enum CounterGrouping {
    /// The most events one kernel group may hold with the engine's read_format: the
    /// kernel refuses (E2BIG) a group whose read(2) size plus the 8-byte record header
    /// passes 16 KiB (perf_event_validate_size in kernel/events/core.c). A group read
    /// is 24 bytes (nr, time_enabled, time_running) plus 16 (value, id) per event.
    public static let maxGroupSize = (16 * 1024 - 8 - 24) / 16

    public static func kernelGroups(events: [ResolvedEvent], requested: [[Int]], maxGroupSize: Int = maxGroupSize) -> [[Int]] {
        var result: [[Int]] = []
        // Stand-alone software events and tracepoints, one kernel group per cgroup
        // (a group's events share one context), split at the kernel's size limit.
        var software: [String: [Int]] = [:]
        var cgroupOrder: [String] = []
        for group in requested {
            if group.count == 1, let attr = events[group[0]].attr, !events[group[0]].needsHardwarePMU,
               attr.type == PerfType.software || attr.type == PerfType.tracepoint {
                let cgroup = events[group[0]].cgroup ?? ""
                if software[cgroup] == nil { cgroupOrder.append(cgroup) }
                software[cgroup, default: []].append(group[0])
            } else {
                result.append(group)
            }
        }
        var leading: [[Int]] = []
        for cgroup in cgroupOrder {
            let members = software[cgroup]!
            var start = 0
            while start < members.count {
                let end = min(members.count, start + max(1, maxGroupSize))
                leading.append(Array(members[start..<end]))
                start = end
            }
        }
        return leading + result
    }
}
