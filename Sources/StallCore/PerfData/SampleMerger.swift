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
    /// Open addressing over `samples` positions (+1; 0 is empty), hashed with a multiply-
    /// xorshift of the key's words: Dictionary's SipHash per sample was a tenth of a
    /// report's time.
    private var slots = [Int32](repeating: 0, count: 1024)
    private var keys: [Key] = []
    /// keys[n]'s sample in the samples array.
    private var positions: [Int] = []

    @inline(__always) static func mix(_ k: Key) -> UInt64 {
        var h = k.eventThread &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ k.processCPU) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 32) ^ k.ip) &* 0x94D0_49BB_1331_11EB
        h = (h ^ (h >> 29) ^ k.nameChain ^ UInt64(UInt32(bitPattern: k.chainCount)) << 40) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ k.dataPageSize &* 31 ^ k.codePageSize) &* 0xBF58_476D_1CE4_E5B9
        return h ^ (h >> 31)
    }

    /// The position of `key` in `keys`, or where it goes (as -1 - slot).
    @inline(__always) private func find(_ key: Key) -> Int {
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: SampleMerger.mix(key)) & mask
        while true {
            let v = Int(slots[i])
            if v == 0 { return -1 - i }
            if keys[v - 1] == key { return v - 1 }
            i = (i + 1) & mask
        }
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (n, k) in keys.enumerated() {
            var i = Int(truncatingIfNeeded: SampleMerger.mix(k)) & mask
            while slots[i] != 0 { i = (i + 1) & mask }
            slots[i] = Int32(n + 1)
        }
    }
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
        let found = find(key)
        if found >= 0 {
            let i = positions[found]
            samples[i].period &+= s.period
            samples[i].count &+= s.count
            return
        }
        // Slots hold Int32 (a file of 2^31 distinct samples would not fit memory anyway).
        guard keys.count < Int(Int32.max) - 1 else { samples.append(s); return }
        slots[-1 - found] = Int32(keys.count + 1)
        keys.append(key)
        positions.append(samples.count)
        samples.append(s)
        if keys.count * 2 > slots.count { grow() }
    }
}
