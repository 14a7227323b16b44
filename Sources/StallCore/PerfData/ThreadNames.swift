/// The name of each thread over time, as perf tracks it: a COMM record names a thread
/// from its time on (exec renames it), a FORK gives the child its parent's name at that
/// moment, the idle task (tid 0) is `swapper`, and a thread never named is `:TID`.
public struct ThreadNames: Sendable {
    /// A COMM or FORK record as read, in file order.
    public enum Event: Sendable {
        case comm(tid: Int32, time: UInt64, name: String)
        case fork(tid: Int32, parentTID: Int32, time: UInt64)
    }

    /// tid → (time, name) in time order.
    private var timeline: [Int32: [(time: UInt64, name: String)]] = [:]

    public init(_ events: [Event]) {
        // Time order (file order among equal times: records without sample_id_all have 0).
        let ordered = events.enumerated().sorted { a, b in
            let (ta, tb) = (ThreadNames.time(a.element), ThreadNames.time(b.element))
            return ta != tb ? ta < tb : a.offset < b.offset
        }
        for (_, e) in ordered {
            switch e {
            case .comm(let tid, let time, let name):
                timeline[tid, default: []].append((time, name))
            case .fork(let tid, let parent, let time):
                // The child starts with the parent's name at the fork (no COMM until it execs).
                if tid != parent, let inherited = name(tid: parent, at: time) { timeline[tid, default: []].append((time, inherited)) }
            }
        }
    }

    static func time(_ e: Event) -> UInt64 {
        switch e { case .comm(_, let t, _), .fork(_, _, let t): return t }
    }

    /// The name thread `tid` had at `time`, or nil when it never had one.
    public func name(tid: Int32, at time: UInt64) -> String? {
        guard let list = timeline[tid], !list.isEmpty else { return nil }
        return list[ThreadNames.entry(in: list, at: time)].name
    }

    /// Which of the thread's names it had at `time` (0 for the first, or for none): samples
    /// of one thread with the same index show the same name.
    /// The process's name epoch at `time` (its main thread's, tid = pid): an exec always
    /// writes a COMM, so the program mapped at an address is the same within one epoch.
    public func addressEpoch(pid: Int32, at time: UInt64) -> Int32 {
        Int32(truncatingIfNeeded: nameIndex(tid: pid, at: time))
    }

    public func nameIndex(tid: Int32, at time: UInt64) -> Int {
        guard let list = timeline[tid], list.count > 1 else { return 0 }
        return ThreadNames.entry(in: list, at: time)
    }

    /// The last entry at or before `time`; a sample before the first name gets the first
    /// (a name synthesized at the start of a recording has no earlier one).
    private static func entry(in list: [(time: UInt64, name: String)], at time: UInt64) -> Int {
        var lo = 0, hi = list.count - 1, best = 0
        while lo <= hi {
            let mid = (lo + hi) / 2
            if list[mid].time <= time { best = mid; lo = mid + 1 } else { hi = mid - 1 }
        }
        return best
    }

    /// What perf shows for a thread: its name, `swapper` for the idle task, `:TID` otherwise
    /// (perf's thread__new names every thread so until a COMM comes; `:-1` for the
    /// samples a tracepoint takes outside any task, seen on arm64's sched_switch).
    public func display(tid: Int32, at time: UInt64) -> String {
        if let n = name(tid: tid, at: time) { return n }
        if tid == 0 { return "swapper" }
        return ":\(tid)"
    }

    /// True when the thread had one name for the whole recording (the common case: no
    /// per-sample lookup needed).
    public func hasOneName(tid: Int32) -> Bool { (timeline[tid]?.count ?? 0) <= 1 }
}
