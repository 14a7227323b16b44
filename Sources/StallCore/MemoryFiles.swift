/// A line of /proc that could not be read, with its number.
public struct ProcParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String
    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }
    public var description: String { "\(file) line \(line): \(message)" }
}

/// Free blocks per order of one zone, as in /proc/buddyinfo.
public struct ZoneFreeLists: Equatable, Sendable, Hashable {
    public var node: Int
    public var zone: String
    /// freeBlocks[k] = zone->free_area[k].nr_free
    public var freeBlocks: [UInt64]
    public init(node: Int, zone: String, freeBlocks: [UInt64]) {
        self.node = node
        self.zone = zone
        self.freeBlocks = freeBlocks
    }
    public var key: String { "node\(node)/\(zone)" }
}

/// "Node 0, zone   Normal   3346   1642 ..." lines.
public enum BuddyInfo {
    public static func parse(_ text: String, file: String = "/proc/buddyinfo") throws -> [ZoneFreeLists] {
        var zones: [ZoneFreeLists] = []
        var width: Int? = nil
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty { continue }
            guard let (node, zone, rest) = nodeZonePrefix(line) else {
                throw ProcParseError(file: file, line: n + 1, message: "expected 'Node N, zone NAME counts...', got '\(line.prefix(60))'")
            }
            let fields = rest.split(separator: " ")
            var counts: [UInt64] = []
            for f in fields {
                guard let v = UInt64(f) else { throw ProcParseError(file: file, line: n + 1, message: "'\(f)' is not a count") }
                counts.append(v)
            }
            guard !counts.isEmpty else { throw ProcParseError(file: file, line: n + 1, message: "no free-block counts (truncated?)") }
            if let w = width, w != counts.count {
                throw ProcParseError(file: file, line: n + 1, message: "\(counts.count) orders where earlier lines have \(w) (truncated?)")
            }
            width = counts.count
            zones.append(ZoneFreeLists(node: node, zone: zone, freeBlocks: counts))
        }
        if zones.isEmpty { throw ProcParseError(file: file, line: 1, message: "no zones") }
        return zones
    }

    /// "Node 0, zone   Normal" → (0, "Normal", rest of the line)
    static func nodeZonePrefix(_ line: String) -> (Int, String, String)? {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 4, fields[0] == "Node", fields[1].hasSuffix(","), let node = Int(fields[1].dropLast()), fields[2] == "zone" else { return nil }
        let zone = String(fields[3].hasSuffix(",") ? fields[3].dropLast() : fields[3])
        return (node, zone, fields.dropFirst(4).joined(separator: " "))
    }
}

/// /proc/pagetypeinfo: free blocks per migrate type and order, pageblocks per type.
public struct PageTypeInfo: Equatable, Sendable {
    public var pageblockOrder: Int
    public var pagesPerBlock: Int
    /// [zone key: [migrate type: free blocks per order]]
    public var freeByType: [String: [String: [UInt64]]]
    /// [zone key: [migrate type: pageblocks]]
    public var pageblocksByType: [String: [String: UInt64]]

    public static func parse(_ text: String, file: String = "/proc/pagetypeinfo") throws -> PageTypeInfo {
        var info = PageTypeInfo(pageblockOrder: -1, pagesPerBlock: -1, freeByType: [:], pageblocksByType: [:])
        var blockColumns: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingWhitespace()
            if line.isEmpty { continue }
            func fail(_ m: String) -> ProcParseError { ProcParseError(file: file, line: n + 1, message: m) }
            if line.hasPrefix("Page block order:") {
                guard let v = Int(line.dropFirst("Page block order:".count).trimmingWhitespace()) else { throw fail("bad page block order") }
                info.pageblockOrder = v
            } else if line.hasPrefix("Pages per block:") {
                guard let v = Int(line.dropFirst("Pages per block:".count).trimmingWhitespace()) else { throw fail("bad pages per block") }
                info.pagesPerBlock = v
            } else if line.hasPrefix("Free pages count per migrate type") {
                continue
            } else if line.hasPrefix("Number of blocks type") {
                blockColumns = line.dropFirst("Number of blocks type".count).split(separator: " ").map(String.init)
            } else if let (node, zone, rest) = BuddyInfo.nodeZonePrefix(line) {
                let key = "node\(node)/\(zone)"
                if rest.hasPrefix("type") {
                    let f = rest.split(separator: " ")
                    guard f.count >= 3 else { throw fail("no counts after the migrate type") }
                    let counts = f.dropFirst(2).compactMap { UInt64($0) }
                    guard counts.count == f.count - 2 else { throw fail("a free count is not a number") }
                    info.freeByType[key, default: [:]][String(f[1])] = counts
                } else {
                    let counts = rest.split(separator: " ").compactMap { UInt64($0) }
                    guard !blockColumns.isEmpty, counts.count == blockColumns.count else {
                        throw fail("expected \(blockColumns.count) pageblock counts, got '\(rest)'")
                    }
                    info.pageblocksByType[key] = Dictionary(uniqueKeysWithValues: zip(blockColumns, counts))
                }
            } else {
                throw fail("unexpected line '\(line.prefix(60))'")
            }
        }
        if info.pageblockOrder < 0 || info.freeByType.isEmpty { throw ProcParseError(file: file, line: 1, message: "no page block order or free counts (truncated?)") }
        return info
    }
}

/// /proc/zoneinfo: free pages, watermarks and sizes per zone.
public struct ZoneWatermarks: Equatable, Sendable {
    public var node: Int
    public var zone: String
    public var freePages: UInt64
    public var min: UInt64
    public var low: UInt64
    public var high: UInt64
    public var managed: UInt64
    public var present: UInt64
    public var key: String { "node\(node)/\(zone)" }
}

public enum ZoneInfo {
    public static func parse(_ text: String, file: String = "/proc/zoneinfo") throws -> [ZoneWatermarks] {
        var zones: [ZoneWatermarks] = []
        var current: ZoneWatermarks? = nil
        var seen: Set<String> = []
        func flush(_ n: Int) throws {
            guard let c = current else { return }
            for f in ["pages free", "min", "low", "high", "managed", "present"] where !seen.contains(f) {
                throw ProcParseError(file: file, line: n, message: "zone \(c.key) has no '\(f)' line (truncated?)")
            }
            zones.append(c)
            current = nil
        }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (n, raw) in lines.enumerated() {
            let line = raw.trimmingWhitespace()
            if line.hasPrefix("Node ") {
                try flush(n + 1)
                guard let (node, zone, _) = BuddyInfo.nodeZonePrefix(line) else {
                    throw ProcParseError(file: file, line: n + 1, message: "bad zone header '\(line)'")
                }
                current = ZoneWatermarks(node: node, zone: zone, freePages: 0, min: 0, low: 0, high: 0, managed: 0, present: 0)
                seen = []
                continue
            }
            guard current != nil else { continue }
            let f = line.split(separator: " ")
            func value(_ i: Int) throws -> UInt64 {
                guard f.count > i, let v = UInt64(f[i]) else { throw ProcParseError(file: file, line: n + 1, message: "bad number in '\(line)'") }
                return v
            }
            if f.count >= 3, f[0] == "pages", f[1] == "free" { current!.freePages = try value(2); seen.insert("pages free") }
            else if f.count == 2 {
                switch f[0] {
                case "min": current!.min = try value(1); seen.insert("min")
                case "low": current!.low = try value(1); seen.insert("low")
                case "high": current!.high = try value(1); seen.insert("high")
                case "managed": current!.managed = try value(1); seen.insert("managed")
                case "present": current!.present = try value(1); seen.insert("present")
                default: break
                }
            }
        }
        try flush(lines.count)
        if zones.isEmpty { throw ProcParseError(file: file, line: 1, message: "no zones") }
        return zones
    }
}

/// /proc/PID/smaps_rollup: how much of a process's memory huge pages map (TLB reach).
public struct SmapsRollup: Equatable, Sendable {
    public var rssKB: UInt64
    public var anonymousKB: UInt64
    public var anonHugePagesKB: UInt64

    /// Share of anonymous memory mapped by transparent huge pages.
    public var hugePageShareOfAnonymous: Double { anonymousKB == 0 ? 0 : Double(anonHugePagesKB) / Double(anonymousKB) }

    public static func parse(_ text: String, file: String = "smaps_rollup") throws -> SmapsRollup {
        var fields: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            if f.count == 3, f[2] == "kB", f[0].hasSuffix(":"), let v = UInt64(f[1]) { fields[String(f[0].dropLast())] = v }
        }
        guard let rss = fields["Rss"], let anonHuge = fields["AnonHugePages"] else {
            throw ProcParseError(file: file, line: 1, message: "no Rss or AnonHugePages line")
        }
        return SmapsRollup(rssKB: rss, anonymousKB: fields["Anonymous"] ?? fields["Pss_Anon"] ?? 0, anonHugePagesKB: anonHuge)
    }
}

/// The kernel's debugfs extfrag files ("Node 0, zone Normal 0.000 0.017 ..."), as
/// integer thousandths, for comparison with our own computation.
public enum ExtfragFile {
    public static func parse(_ text: String, file: String) throws -> [String: [Int]] {
        var result: [String: [Int]] = [:]
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: true).enumerated() {
            guard let (node, zone, rest) = BuddyInfo.nodeZonePrefix(raw.trimmingWhitespace()) else {
                throw ProcParseError(file: file, line: n + 1, message: "bad line '\(raw)'")
            }
            var values: [Int] = []
            for f in rest.split(separator: " ") {
                // "-1.000" → -1000, "0.017" → 17
                let negative = f.hasPrefix("-")
                let parts = f.drop(while: { $0 == "-" }).split(separator: ".")
                guard parts.count == 2, let whole = Int(parts[0]), let frac = Int(parts[1]), parts[1].count == 3 else {
                    throw ProcParseError(file: file, line: n + 1, message: "bad index '\(f)'")
                }
                values.append((negative ? -1 : 1) * (whole * 1000 + frac))
            }
            result["node\(node)/\(zone)"] = values
        }
        return result
    }
}
