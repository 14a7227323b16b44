/// Merges samples that a report cannot tell apart while they are read, so a file of a
/// million samples is held as the few thousand distinct ones it has (report's memory is
/// then the distinct samples, not the file's length), and call chains that repeat are
/// stored once.
///
/// Two samples merge when they have the same event, process, thread, thread name (by
/// time), CPU, sampled address and level, page sizes and call chain; the merged sample
/// keeps the first one's time (for its thread's name) and adds periods and counts.
struct SampleMerger {
    struct Key: Hashable {
        var eventThread: UInt64     // attr << 32 | tid
        var processCPU: UInt64      // pid << 32 | cpu
        var ip: UInt64
        var nameChain: UInt64       // name epoch << 33 | kernel << 32 | chain start
        var chainCount: Int32
        var dataPageSize: UInt64
        var codePageSize: UInt64
        func hash(into h: inout Hasher) {
            h.combine(eventThread &+ processCPU &* 31 &+ nameChain &* 1_000_003)
            h.combine(ip)
        }
    }
    private var index: [Key: Int] = [:]
    /// Every thread's names over the whole recording (a first pass reads them): a sample's
    /// name is the one at its time, even when the COMM that gave it comes later in the
    /// file (records of different CPUs interleave out of time order within a round).
    private let names: ThreadNames
    init(names: ThreadNames) { self.names = names }
    private var lastTID: Int32 = .min
    private var lastTIDRenamed = false
    /// Chain hash → (start, count) of the stored chains with it.
    private var chains: [Int: [(start: Int32, count: Int32)]] = [:]

    /// The sample's chain (the last `chainCount` call chain entries) replaced by an equal
    /// stored one when there is one.
    mutating func shareChain(_ s: inout ProfileSample, _ ips: inout [UInt64]) {
        let start = Int(s.chainStart), n = Int(s.chainCount)
        guard n > 0, start + n == ips.count else { return }
        var h = Hasher()
        h.combine(n)
        for i in start..<(start + n) { h.combine(ips[i]) }
        let hash = h.finalize()
        for stored in chains[hash] ?? [] where stored.count == s.chainCount {
            let from = Int(stored.start)
            if ips[from..<(from + n)].elementsEqual(ips[start..<(start + n)]) {
                ips.removeLast(n)
                s.chainStart = stored.start
                return
            }
        }
        chains[hash, default: []].append((s.chainStart, s.chainCount))
    }

    mutating func add(_ s: ProfileSample, to samples: inout [ProfileSample]) {
        // Most threads have one name: remembered per thread, so only renamed ones search.
        if s.tid != lastTID { lastTID = s.tid; lastTIDRenamed = !names.hasOneName(tid: s.tid) }
        let epoch = lastTIDRenamed ? UInt64(names.nameIndex(tid: s.tid, at: s.time)) : 0
        let key = Key(eventThread: UInt64(UInt32(bitPattern: s.attr)) << 32 | UInt64(UInt32(bitPattern: s.tid)),
                      processCPU: UInt64(UInt32(bitPattern: s.pid)) << 32 | UInt64(UInt32(bitPattern: s.cpu)),
                      ip: s.ip, nameChain: epoch << 33 | (s.isKernel ? 1 << 32 : 0) | UInt64(UInt32(bitPattern: s.chainStart)),
                      chainCount: s.chainCount, dataPageSize: s.dataPageSize, codePageSize: s.codePageSize)
        if let i = index[key] {
            samples[i].period &+= s.period
            samples[i].count &+= s.count
        } else {
            index[key] = samples.count
            samples.append(s)
        }
    }
}
