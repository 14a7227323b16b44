/// Where one address resolves.
public struct ResolvedFrame: Hashable, Sendable {
    public var dso: String
    public var symbol: String?
    public var isKernel: Bool
    public init(dso: String, symbol: String?, isKernel: Bool) {
        self.dso = dso
        self.symbol = symbol
        self.isKernel = isKernel
    }
    /// perf's symbol column: "[.] name" (user) or "[k] name" (kernel).
    public var symbolColumn: String { (isKernel ? "[k] " : "[.] ") + (symbol ?? "[unknown]") }
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
    public init(contents: PerfDataContents, sortKeys: [ProfileSortKey], children: Bool,
                resolve: (Int32, UInt64, Bool) -> ResolvedFrame) {
        events = contents.attrs.map(\.name)
        self.sortKeys = sortKeys
        lostSamples = contents.lostEvents + contents.lostSamples
        let n = contents.attrs.count
        var totals = [UInt64](repeating: 0, count: n)
        var counts = [Int](repeating: 0, count: n)
        var selfPeriod: [[String]: [UInt64]] = [:]
        var childPeriod: [[String]: [UInt64]] = [:]
        var sampleCount: [[String]: Int] = [:]
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
        func key(_ s: ProfileSample, _ frame: ResolvedFrame) -> [String] {
            sortKeys.map { k in
                switch k {
                case .comm: return contents.comms[s.pid] ?? contents.comms[s.tid] ?? (s.pid >= 0 ? ":\(s.pid)" : "[unknown]")
                case .pid: return String(s.pid)
                case .tid: return String(s.tid)
                case .dso: return frame.dso
                case .symbol: return frame.symbolColumn
                case .cpu: return String(s.cpu)
                case .dataPageSize: return pageSize(s.dataPageSize)
                case .codePageSize: return pageSize(s.codePageSize)
                }
            }
        }
        for s in contents.samples {
            let a = Int(s.attr)
            totals[a] &+= s.period
            counts[a] += 1
            let k = key(s, resolve(s.pid, s.ip, s.isKernel))
            selfPeriod[k, default: [UInt64](repeating: 0, count: n)][a] &+= s.period
            sampleCount[k, default: 0] += 1
            if children {
                var seen: Set<[String]> = [k]
                childPeriod[k, default: [UInt64](repeating: 0, count: n)][a] &+= s.period
                if s.chainCount > 0 { chains = true }
                for i in Int(s.chainStart)..<Int(s.chainStart + s.chainCount) {
                    let ip = contents.callchainIPs[i]
                    let ck = key(s, resolve(s.pid, ip, ip >= 0xFFFF_8000_0000_0000))
                    if seen.insert(ck).inserted { childPeriod[ck, default: [UInt64](repeating: 0, count: n)][a] &+= s.period }
                }
            } else if s.chainCount > 0 {
                chains = true
            }
        }
        hasCallchains = chains
        totalPeriod = totals
        totalSamples = counts
        let keys = Set(selfPeriod.keys).union(childPeriod.keys)
        rows = keys.map { k in
            let sp = selfPeriod[k] ?? [UInt64](repeating: 0, count: n)
            let cp = childPeriod[k] ?? sp
            return Row(keys: k, selfPercent: (0..<n).map { totals[$0] == 0 ? 0 : 100 * Double(sp[$0]) / Double(totals[$0]) },
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
        let widths = sortKeys.indices.map { i in max(sortKeys[i].title.count, rows.map { $0.keys[i].count }.max() ?? 0) }
        var header = "#"
        for e in events {
            if children { header += " " + padLeft("Children", max(9, e.count < 9 ? 9 : min(e.count, 24))) }
            header += " " + padLeft(events.count > 1 ? String(e.prefix(24)) : "Overhead", max(9, events.count > 1 ? min(e.count, 24) : 9))
        }
        let percentWidths = events.map { max(9, events.count > 1 ? min($0.count, 24) : 9) }
        for (i, k) in sortKeys.enumerated() { header += "  " + padRight(k.title, widths[i]) }
        out += header + "\n#\n"
        for r in rows {
            let shown = children ? r.childrenPercent : r.selfPercent
            guard shown.contains(where: { $0 >= percentLimit }) else { continue }
            var line = " "
            for i in events.indices {
                if children { line += " " + padLeft(cFormat("%.2f%%", r.childrenPercent[i]), percentWidths[i]) }
                line += " " + padLeft(cFormat("%.2f%%", r.selfPercent[i]), percentWidths[i])
            }
            for (i, k) in r.keys.enumerated() { line += "  " + padRight(k, widths[i]) }
            var t = Substring(line)
            while t.last == " " { t.removeLast() }
            out += t + "\n"
        }
        return out
    }

    public func json(children: Bool, percentLimit: Double) -> String {
        var parts: [String] = []
        parts.append("\"events\": [" + events.indices.map { "{\"name\": \"\(jsonEscape(events[$0]))\", \"samples\": \(totalSamples[$0]), \"period\": \(totalPeriod[$0])}" }.joined(separator: ", ") + "]")
        parts.append("\"sort\": [" + sortKeys.map { "\"\($0.rawValue)\"" }.joined(separator: ", ") + "]")
        parts.append("\"lost_samples\": \(lostSamples)")
        let rowsJSON = rows.filter { r in (children ? r.childrenPercent : r.selfPercent).contains { $0 >= percentLimit } }.map { r in
            "{" + sortKeys.indices.map { "\"\(sortKeys[$0].rawValue)\": \"\(jsonEscape(r.keys[$0]))\"" }.joined(separator: ", ")
                + ", \"samples\": \(r.samples), \"self\": {" + events.indices.map { "\"\(jsonEscape(events[$0]))\": " + cFormat("%.4f", r.selfPercent[$0]) }.joined(separator: ", ") + "}"
                + (children ? ", \"children\": {" + events.indices.map { "\"\(jsonEscape(events[$0]))\": " + cFormat("%.4f", r.childrenPercent[$0]) }.joined(separator: ", ") + "}" : "")
                + "}"
        }
        parts.append("\"rows\": [\n    " + rowsJSON.joined(separator: ",\n    ") + "\n  ]")
        return "{\n  " + parts.joined(separator: ",\n  ") + "\n}\n"
    }

    /// Folded stacks for flame graphs: `comm;outermost;...;leaf count` (samples).
    public static func folded(contents: PerfDataContents, resolve: (Int32, UInt64, Bool) -> ResolvedFrame) -> String {
        var counts: [String: Int] = [:]
        for s in contents.samples {
            var frames = [resolve(s.pid, s.ip, s.isKernel)]
            for i in Int(s.chainStart)..<Int(s.chainStart + s.chainCount) {
                let ip = contents.callchainIPs[i]
                frames.append(resolve(s.pid, ip, ip >= 0xFFFF_8000_0000_0000))
            }
            let comm = contents.comms[s.pid] ?? "[unknown]"
            let stack = ([comm] + frames.reversed().map { f in (f.symbol ?? "[unknown]") + (f.isKernel ? "_[k]" : "") }).joined(separator: ";")
            counts[stack, default: 0] += 1
        }
        return counts.keys.sorted().map { "\($0) \(counts[$0]!)" }.joined(separator: "\n") + (counts.isEmpty ? "" : "\n")
    }
}
