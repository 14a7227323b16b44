/// One read of one counter: the raw count and how long it was enabled and running.
public struct CounterReading: Equatable, Sendable {
    public var value: UInt64
    public var timeEnabledNs: UInt64
    public var timeRunningNs: UInt64

    public init(value: UInt64, timeEnabledNs: UInt64, timeRunningNs: UInt64) {
        self.value = value
        self.timeEnabledNs = timeEnabledNs
        self.timeRunningNs = timeRunningNs
    }

    /// The count extrapolated to the whole enabled time, as perf does
    /// (value · enabled / running). nil when the counter never ran: there is nothing
    /// to scale, and 0 would be a lie.
    public var scaledValue: Double? {
        if timeRunningNs == 0 { return nil }
        if timeRunningNs >= timeEnabledNs { return Double(value) }
        return Double(value) * Double(timeEnabledNs) / Double(timeRunningNs)
    }

    /// The difference between two cumulative reads (for interval mode).
    public func delta(since earlier: CounterReading) -> CounterReading {
        CounterReading(value: value &- earlier.value,
                       timeEnabledNs: timeEnabledNs &- earlier.timeEnabledNs,
                       timeRunningNs: timeRunningNs &- earlier.timeRunningNs)
    }

    public static let zero = CounterReading(value: 0, timeEnabledNs: 0, timeRunningNs: 0)
}

/// Decodes what read(2) returns for a group leader opened with
/// read_format = GROUP | TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING | ID:
/// `u64 nr; u64 time_enabled; u64 time_running; { u64 value; u64 id; } cntr[nr];`
public struct GroupRead: Equatable, Sendable {
    public var timeEnabledNs: UInt64
    public var timeRunningNs: UInt64
    public var values: [(value: UInt64, id: UInt64)]

    public static func == (a: GroupRead, b: GroupRead) -> Bool {
        a.timeEnabledNs == b.timeEnabledNs && a.timeRunningNs == b.timeRunningNs
            && a.values.map(\.value) == b.values.map(\.value) && a.values.map(\.id) == b.values.map(\.id)
    }

    public enum DecodeError: Error, Equatable {
        case truncated(bytes: Int, needed: Int)
    }

    /// `bytes` in the host's (little-endian) byte order: {nr, time_enabled, time_running,
    /// {value, id}[nr]}. The count is checked against the bytes before it is used.
    public static func decode(_ bytes: [UInt8]) throws -> GroupRead {
        let r = ByteReader(bytes)
        do {
            var f = try r.cursor(0..<bytes.count)
            let nr = try f.u64()
            let enabled = try f.u64(), running = try f.u64()
            let members = try f.items(nr, of: 16)
            var values: [(UInt64, UInt64)] = []
            values.reserveCapacity(members.count / 16)
            for o in stride(from: members.lowerBound, to: members.upperBound, by: 16) { values.append((try r.u64(o), try r.u64(o + 8))) }
            return GroupRead(timeEnabledNs: enabled, timeRunningNs: running, values: values)
        } catch let e as ByteReader.OutOfBounds {
            throw DecodeError.truncated(bytes: bytes.count, needed: e.needed > UInt64(Int.max - e.offset) ? Int.max : e.offset + Int(e.needed))
        }
    }

    /// The reading of member `index`: a group's members share the leader's times.
    public func reading(at index: Int) -> CounterReading {
        CounterReading(value: values[index].value, timeEnabledNs: timeEnabledNs, timeRunningNs: timeRunningNs)
    }
}
