/// An address of a process in one of its name epochs (kernel addresses: pid -1, epoch 0).
/// One pid can map two programs at the same addresses: a child before and after its exec,
/// with ASLR off or for non-PIE programs. Every exec writes a COMM, so within one name epoch
/// of the process an address names one function.
struct PIDAddress: Hashable {
    var pid: Int32; var epoch: Int32 = 0; var ip: UInt64
    /// A frame's key: a kernel address is the same in every process and epoch.
    init(pid: Int32, epoch: Int32, ip: UInt64, kernel: Bool) {
        self.pid = kernel ? -1 : pid
        self.epoch = kernel ? 0 : epoch
        self.ip = ip
    }
}

/// Names an address: the process, the address, whether it is the kernel's, and the sample's
/// time (which picks the process's mappings in effect then).
public typealias FrameResolver = (_ pid: Int32, _ ip: UInt64, _ kernel: Bool, _ time: UInt64) -> ResolvedFrame

/// Up to eight interned key values without a heap allocation per sample.
struct RowKey: Hashable {
    var v0: Int32 = -1, v1: Int32 = -1, v2: Int32 = -1, v3: Int32 = -1, v4: Int32 = -1, v5: Int32 = -1, v6: Int32 = -1, v7: Int32 = -1
    /// Two words instead of eight: hashing was a tenth of a large report's time.
    func hash(into h: inout Hasher) {
        h.combine(UInt64(UInt32(bitPattern: v0)) | UInt64(UInt32(bitPattern: v1)) << 32)
        h.combine(UInt64(UInt32(bitPattern: v2)) | UInt64(UInt32(bitPattern: v3)) << 32)
        if v4 != -1 || v5 != -1 || v6 != -1 || v7 != -1 {
            h.combine(UInt64(UInt32(bitPattern: v4)) | UInt64(UInt32(bitPattern: v5)) << 32)
            h.combine(UInt64(UInt32(bitPattern: v6)) | UInt64(UInt32(bitPattern: v7)) << 32)
        }
    }
    subscript(i: Int) -> Int32 {
        get { switch i { case 0: return v0; case 1: return v1; case 2: return v2; case 3: return v3; case 4: return v4; case 5: return v5; case 6: return v6; default: return v7 } }
        set { switch i { case 0: v0 = newValue; case 1: v1 = newValue; case 2: v2 = newValue; case 3: v3 = newValue; case 4: v4 = newValue; case 5: v5 = newValue; case 6: v6 = newValue; default: v7 = newValue } }
    }
}

/// Where one address resolves.
public struct ResolvedFrame: Hashable, Sendable {
    public var dso: String
    public var symbol: String?
    public var isKernel: Bool
    /// Without a symbol, the address perf shows instead: relative to the object for a
    /// mapped file (its file offset), the IP itself otherwise.
    public var address: UInt64?
    /// Where the symbol starts in its object: what makes it one row (perf's sort__sym_cmp
    /// compares symbols, so two static functions of one name are two rows). nil: rows by name.
    public var symbolStart: UInt64?
    /// The symbol as the object spells it, when demangling changed it (pprof's
    /// Function.system_name; a name equal to it would be re-simplified by pprof).
    public var mangledSymbol: String? = nil
    public init(dso: String, symbol: String?, isKernel: Bool, address: UInt64? = nil, symbolStart: UInt64? = nil) {
        self.dso = dso
        self.symbol = symbol
        self.isKernel = isKernel
        self.address = address
        self.symbolStart = symbolStart
    }
    /// perf's symbol column: "[.] name" (user) or "[k] name" (kernel); an address without
    /// a symbol is its own row, as perf's `%-#.16llx`, so a stripped binary still shows
    /// where the time went.
    public var symbolColumn: String {
        (isKernel ? "[k] " : "[.] ") + (symbol ?? address.map(ResolvedFrame.hex) ?? "[unknown]")
    }
    /// C's `%#.16llx`: 16 digits, "0x" before them except for 0 (the # flag adds no
    /// prefix to a zero: perf shows the end of a frame-pointer chain as 0000000000000000).
    static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return (v == 0 ? "" : "0x") + String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }
}

/// `report --sort` keys.
public enum ProfileSortKey: String, CaseIterable, Sendable {
    case comm, pid, tid, dso, symbol, cpu, dataPageSize = "data_page_size", codePageSize = "code_page_size"

    public init?(userName: String) {
        switch userName.lowercased() {
        case "sym", "symbol": self = .symbol
        case "shared_object", "dso": self = .dso
        case "command", "comm": self = .comm
        default: self.init(rawValue: userName.lowercased())
        }
    }

    public var title: String {
        switch self {
        case .comm: return "Command"
        case .pid: return "Pid"
        case .tid: return "Tid"
        case .dso: return "Shared Object"
        case .symbol: return "Symbol"
        case .cpu: return "CPU"
        case .dataPageSize: return "Data Page Size"
        case .codePageSize: return "Code Page Size"
        }
    }
}

/// A sample profile aggregated by sort keys, per event.
public struct ProfileReport: Sendable {
    public struct Row: Sendable {
        public var keys: [String]
        /// Period share per event, 0-100.
        public var selfPercent: [Double]
        public var childrenPercent: [Double]
        public var samples: Int
    }

    public var events: [String]
    public var sortKeys: [ProfileSortKey]
    public var rows: [Row]
    public var totalSamples: [Int]
    public var totalPeriod: [UInt64]
    public var lostSamples: UInt64
    public var hasCallchains: Bool

    /// Aggregates samples; `resolve` maps (pid, ip, kernel) to a frame (cached by the caller).
    /// Frames and key values are interned as integers so each sample costs a few integer
    /// hashes; strings are built once per distinct row.
    public init(contents: PerfDataContents, sortKeys: [ProfileSortKey], children: Bool,
                resolve: FrameResolver) {
        events = contents.attrs.map(\.name)
        precondition(sortKeys.count <= 8, "at most 8 sort keys")
        self.sortKeys = sortKeys
        lostSamples = contents.lostSamples   // perf: PERF_RECORD_LOST_SAMPLES only (lost ring events are a separate warning)
        let n = contents.attrs.count
        var totals = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: n)
        var chains = false
        func pageSize(_ v: UInt64) -> String {
            switch v {
            case 0: return "N/A"
            case 1 << 12: return "4K"
            case 1 << 21: return "2M"
            case 1 << 30: return "1G"
            default: return v >= 1 << 20 ? "\(v >> 20)M" : "\(v >> 10)K"
            }
        }
        // Interned strings: each key column value is an index into `strings`.
        var strings: [String] = []
        var stringIndex: [String: Int32] = [:]
        func intern(_ s: String) -> Int32 {
            if let i = stringIndex[s] { return i }
            strings.append(s)
            stringIndex[s] = Int32(strings.count - 1)
            return Int32(strings.count - 1)
        }
        // (pid, ip) → interned dso and symbol column, resolved once.
        struct FrameIDs {
            var dso: Int32; var symbol: Int32
            /// As a caller: an address without a symbol is shown raw, not relative to its
            /// object (perf's callchain entries keep the sampled ip; its leaf rows map it).
            var callerSymbol: Int32
            /// In no mapping: the row is the address's, whatever the level (perf's sort key
            /// compares addresses), shown with the level of the first sample it appears in
            /// (a caller in no mapping takes its sample's level: "[k] 0x..." under a kernel sample).
            var unmappedAddress: UInt64?
        }
        // The level of the earliest sample (by time, as perf processes them: records of
        // different CPUs interleave in the file) each unmapped address appears in.
        var unmappedLevel: [Int32: (time: UInt64, kernel: Bool, address: UInt64)] = [:]
        func showLevel(_ f: FrameIDs, kernel: Bool, time: UInt64) {
            guard let address = f.unmappedAddress else { return }
            if let known = unmappedLevel[f.symbol], known.time <= time { return }
            unmappedLevel[f.symbol] = (time, kernel, address)
        }
        let names = ThreadNames(contents.threadEvents)
        var frameCache: [PIDAddress: FrameIDs] = [:]
        func frame(_ pid: Int32, _ ip: UInt64, _ kernel: Bool, time: UInt64, epoch: Int32) -> FrameIDs {
            let k = PIDAddress(pid: pid, epoch: epoch, ip: ip, kernel: kernel)
            if let f = frameCache[k] { return f }
            let r = resolve(pid, ip, kernel, time)
            let unmapped = !r.isKernel && r.symbol == nil && r.dso == "[unknown]"
            // An unmapped address's row is keyed without a level; showLevel spells it. A
            // symbol's row is its object's too (perf's sort__sym_cmp compares the dso first:
            // the program's _start and ld.so's are two rows); the key shows as its name.
            let identity = r.symbol == nil ? "" : r.symbolStart.map { String($0, radix: 16) } ?? ""
            let symbol = intern(unmapped ? "\u{1}unmapped \(ip)" : r.dso + "\u{0}" + identity + "\u{0}" + r.symbolColumn)
            var caller = symbol
            if !unmapped && r.symbol == nil && !r.isKernel {
                caller = intern(r.dso + "\u{0}\u{0}" + ResolvedFrame(dso: r.dso, symbol: nil, isKernel: false, address: ip).symbolColumn)
            }
            let f = FrameIDs(dso: intern(r.dso), symbol: symbol, callerSymbol: caller, unmappedAddress: unmapped ? ip : nil)
            frameCache[k] = f
            return f
        }
        // A thread with one name for the whole recording is looked up once.
        var commIDs: [Int32: Int32] = [:], threadIDs: [Int32: Int32] = [:]
        func commID(_ s: ProfileSample) -> Int32 {
            if let c = commIDs[s.tid] { return c }
            let c = intern(names.display(tid: s.tid, at: s.time))
            if names.hasOneName(tid: s.tid) { commIDs[s.tid] = c }
            return c
        }
        func key(_ s: ProfileSample, _ f: FrameIDs) -> RowKey {
            var r = RowKey()
            for (i, k) in sortKeys.enumerated() { r[i] = value(k, s, f) }
            return r
        }
        func value(_ k: ProfileSortKey, _ s: ProfileSample, _ f: FrameIDs) -> Int32 {
                switch k {
                case .comm: return commID(s)
                // perf's "pid" is the thread, "TID:comm", with the thread's last name (while
                // "comm" is the name at the sample).
                case .pid:
                    if let id = threadIDs[s.tid] { return id }
                    let id = intern(cFormat("%7d:", s.tid) + names.display(tid: s.tid, at: .max))
                    threadIDs[s.tid] = id
                    return id
                case .tid: return intern(String(s.tid))
                case .dso: return f.dso
                case .symbol: return f.symbol
                case .cpu: return intern(String(s.cpu))
                case .dataPageSize: return intern(pageSize(s.dataPageSize))
                case .codePageSize: return intern(pageSize(s.codePageSize))
                }
        }
        var selfPeriod: [RowKey: [UInt64]] = [:]
        var childPeriod: [RowKey: [UInt64]] = [:]
        var sampleCount: [RowKey: Int] = [:]
        let zero = [UInt64](repeating: 0, count: n)
        var seen: [RowKey] = []
        let hasChain = contents.attrs.map { $0.sampleType & PerfData.Sample.callchain != 0 }
        for s in contents.samples {
            let a = Int(s.attr)
            totals[a] &+= s.period
            counts[a] += s.count
            let epoch = names.addressEpoch(pid: s.pid, at: s.time)
            let leaf = frame(s.pid, s.ip, s.isKernel, time: s.time, epoch: epoch)
            showLevel(leaf, kernel: s.isKernel, time: s.time)
            let k = key(s, leaf)
            selfPeriod[k, default: zero][a] &+= s.period
            sampleCount[k, default: 0] += s.count
            if s.chainCount > 0 { chains = true }
            if children {
                // Each row once per sample (recursion repeats frames). A chain is a few dozen
                // frames: a reused array beats a Set allocated per sample (was a third of the time).
                seen.removeAll(keepingCapacity: true)
                seen.append(k)
                childPeriod[k, default: zero][a] &+= s.period
                // perf's chain starts with the sampled ip itself (the reader drops it): as a
                // caller, an address without a symbol is its own row (the raw ip), so perf
                // counts such a leaf twice over, once per form, and so does this.
                if hasChain[a], leaf.callerSymbol != leaf.symbol {
                    var asCaller = leaf
                    asCaller.symbol = leaf.callerSymbol
                    let ck = key(s, asCaller)
                    if !seen.contains(ck) { seen.append(ck); childPeriod[ck, default: zero][a] &+= s.period }
                }
                for i in Int(s.chainStart)..<(Int(s.chainStart) + Int(s.chainCount)) {
                    let ip = contents.callchainIPs[i]
                    var cf = frame(s.pid, ip, ip >= 0xFFFF_8000_0000_0000, time: s.time, epoch: epoch)
                    showLevel(cf, kernel: s.isKernel, time: s.time)
                    cf.symbol = cf.callerSymbol
                    let ck = key(s, cf)
                    if !seen.contains(ck) {
                        seen.append(ck)
                        childPeriod[ck, default: zero][a] &+= s.period
                    }
                }
            }
        }
        for (symbol, level) in unmappedLevel {
            strings[Int(symbol)] = ResolvedFrame(dso: "[unknown]", symbol: nil, isKernel: level.kernel, address: level.address).symbolColumn
        }
        hasCallchains = chains
        totalPeriod = totals
        totalSamples = counts
        let keys = Set(selfPeriod.keys).union(childPeriod.keys)
        rows = keys.map { k in
            let sp = selfPeriod[k] ?? zero
            let cp = childPeriod[k] ?? sp
            return Row(keys: sortKeys.indices.map { i in
                           let text = strings[Int(k[i])]
                           guard sortKeys[i] == .symbol, let cut = text.utf8.lastIndex(of: 0) else { return text }
                           return String(text[text.utf8.index(after: cut)...])
                       },
                       selfPercent: (0..<n).map { totals[$0] == 0 ? 0 : 100 * Double(sp[$0]) / Double(totals[$0]) },
                       childrenPercent: (0..<n).map { totals[$0] == 0 ? 0 : 100 * Double(cp[$0]) / Double(totals[$0]) },
                       samples: sampleCount[k] ?? 0)
        }
        rows.sort { a, b in
            let x = children ? a.childrenPercent : a.selfPercent, y = children ? b.childrenPercent : b.selfPercent
            if x != y { return x.lexicographicallyPrecedes(y, by: >) }
            return a.keys.lexicographicallyPrecedes(b.keys)
        }
    }

    /// `perf report --stdio`-style text; with several events, one column each.
    public func text(children: Bool, percentLimit: Double) -> String {
        var out = "# stallstat report\n#\n"
        for (i, e) in events.enumerated() {
            out += "# Samples: \(totalSamples[i])  of event '\(e)'\n# Event count (approx.): \(totalPeriod[i])\n"
        }
        out += "# Total Lost Samples: \(lostSamples)\n#\n"
        // Widths in Unicode scalars: counting grapheme clusters of every row's keys cost a
        // fifth of a large report's time.
        func width(_ s: String) -> Int { s.unicodeScalars.count }
        let widths = sortKeys.indices.map { i in max(sortKeys[i].title.count, rows.map { width($0.keys[i]) }.max() ?? 0) }
        // One column per event (headed by its name when there are several); with --children
        // every event's Children column first, then every event's own, as perf lays out a
        // group's columns. Header and rows share the widths.
        let percentWidths = events.map { max(9, events.count > 1 ? min($0.count, 24) : 9) }
        var header = "#"
        if children {
            for (i, e) in events.enumerated() {
                header += " " + padLeft(events.count > 1 ? "Children " + String(e.prefix(15)) : "Children", max(percentWidths[i], events.count > 1 ? 9 + min(e.count, 15) : 9))
            }
        }
        for (i, e) in events.enumerated() {
            header += " " + padLeft(events.count > 1 ? String(e.prefix(24)) : "Overhead", percentWidths[i])
        }
        for (i, k) in sortKeys.enumerated() { header += "  " + padRight(k.title, widths[i]) }
        out += header + "\n#\n"
        for r in rows {
            let shown = children ? r.childrenPercent : r.selfPercent
            guard shown.contains(where: { $0 >= percentLimit }) else { continue }
            func percent(_ v: Double, _ w: Int) {
                let text = cFormat("%.2f%%", v)
                out += String(repeating: " ", count: max(0, w - text.utf8.count) + 1)
                out += text
            }
            out += " "
            if children {
                for (i, e) in events.enumerated() { percent(r.childrenPercent[i], max(percentWidths[i], events.count > 1 ? 9 + min(e.count, 15) : 9)) }
            }
            for i in events.indices { percent(r.selfPercent[i], percentWidths[i]) }
            // The last column is not padded (no trailing blanks, as perf prints).
            for (i, k) in r.keys.enumerated() {
                out += "  "
                out += k
                if i < r.keys.count - 1 { out += String(repeating: " ", count: max(0, widths[i] - width(k))) }
            }
            out += "\n"
        }
        return out
    }

    public func json(children: Bool, percentLimit: Double) -> String {
        var parts: [String] = []
        parts.append("\"events\": [" + events.indices.map { "{\"name\": \"\(jsonEscape(events[$0]))\", \"samples\": \(totalSamples[$0]), \"period\": \(totalPeriod[$0])}" }.joined(separator: ", ") + "]")
        parts.append("\"sort\": [" + sortKeys.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + "]")
        parts.append("\"lost_samples\": \(lostSamples)")
        // One object per row, built in steps: as a single expression Swift 6.0's type
        // checker gives up on it (the arm64 lab builds with 6.0.3).
        func percents(_ values: [Double]) -> String {
            events.indices.map { (i: Int) -> String in "\"\(jsonEscape(events[i]))\": " + cFormat("%.4f", values[i]) }.joined(separator: ", ")
        }
        let shown = rows.filter { r in (children ? r.childrenPercent : r.selfPercent).contains { $0 >= percentLimit } }
        let rowsJSON = shown.map { (r: Row) -> String in
            let keys: String = sortKeys.indices.map { (i: Int) -> String in "\"\(sortKeys[i].rawValue)\": \"\(jsonEscape(r.keys[i]))\"" }.joined(separator: ", ")
            var o = "{" + keys + ", \"samples\": \(r.samples), \"self\": {" + percents(r.selfPercent) + "}"
            if children { o += ", \"children\": {" + percents(r.childrenPercent) + "}" }
            return o + "}"
        }
        parts.append("\"rows\": [\n    " + rowsJSON.joined(separator: ",\n    ") + "\n  ]")
        return "{\n  " + parts.joined(separator: ",\n  ") + "\n}\n"
    }

    /// Folded stacks for flame graphs: `comm;outermost;...;leaf count` (samples).
    /// `event`: the attr whose samples are folded (one event's stacks; mixing events'
    /// sample counts would add cycles to page faults).
    public static func folded(contents: PerfDataContents, event: Int32 = 0, resolve: FrameResolver) -> String {
        var counts: [String: Int] = [:]
        let names = ThreadNames(contents.threadEvents)
        // Each address's name once: stacks repeat the same few frames.
        var frameNames: [PIDAddress: String] = [:]
        func name(_ pid: Int32, _ ip: UInt64, _ kernel: Bool, time: UInt64, epoch: Int32) -> String {
            let k = PIDAddress(pid: pid, epoch: epoch, ip: ip, kernel: kernel)
            if let n = frameNames[k] { return n }
            let f = resolve(pid, ip, kernel, time)
            let n = (f.symbol ?? "[unknown]") + (f.isKernel ? "_[k]" : "")
            frameNames[k] = n
            return n
        }
        for s in contents.samples where s.attr == event {
            let epoch = names.addressEpoch(pid: s.pid, at: s.time)
            var frames = [name(s.pid, s.ip, s.isKernel, time: s.time, epoch: epoch)]
            for i in Int(s.chainStart)..<(Int(s.chainStart) + Int(s.chainCount)) {
                let ip = contents.callchainIPs[i]
                frames.append(name(s.pid, ip, ip >= 0xFFFF_8000_0000_0000, time: s.time, epoch: epoch))
            }
            let comm = names.display(tid: s.tid, at: s.time)
            let stack = ([comm] + frames.reversed()).joined(separator: ";")
            counts[stack, default: 0] += s.count
        }
        return counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: "\n") + (counts.isEmpty ? "" : "\n")
    }
}
