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

    /// Free pages beyond this (2^52: a 64-bit address space of 4 KiB pages) mean the
    /// counts are not a real zone's; refusing them keeps the kernel's arithmetic
    /// (FragmentationIndex) exact instead of wrapping.
    public static let maxFreePages: UInt64 = 1 << 52

    /// nil when the counts are plausible, else why not.
    public static func implausibility(_ counts: [UInt64]) -> String? {
        guard counts.count <= 32 else { return "\(counts.count) orders (the kernel has at most 32)" }
        var pages: UInt64 = 0
        for (k, n) in counts.enumerated() {
            guard n <= maxFreePages >> UInt64(k) else { return "order \(k) has \(n) free blocks, more memory than a 64-bit address space" }
            pages += n << UInt64(k)
            guard pages <= maxFreePages else { return "the free blocks add up to more memory than a 64-bit address space" }
        }
        return nil
    }
}

/// "Node 0, zone   Normal   3346   1642 ..." lines.
public enum BuddyInfo {
    public static func parse(_ text: String, file: String = "/proc/buddyinfo") throws -> [ZoneFreeLists] {
        let p = ProcFields(text)
        var zones: [ZoneFreeLists] = []
        var width: Int? = nil
        for (n, f) in p.lines {
            guard let (node, zone, first) = p.nodeZone(f) else {
                throw ProcParseError(file: file, line: n, message: "expected 'Node N, zone NAME counts...', got '\(p.string(f[0].lowerBound..<f.last!.upperBound).prefix(60))'")
            }
            var counts: [UInt64] = []
            counts.reserveCapacity(f.count - first)
            for r in f[first...] {
                guard let v = p.number(r) else { throw ProcParseError(file: file, line: n, message: "'\(p.string(r))' is not a count") }
                counts.append(v)
            }
            guard !counts.isEmpty else { throw ProcParseError(file: file, line: n, message: "no free-block counts (truncated?)") }
            if let why = ZoneFreeLists.implausibility(counts) { throw ProcParseError(file: file, line: n, message: why) }
            if let w = width, w != counts.count {
                throw ProcParseError(file: file, line: n, message: "\(counts.count) orders where earlier lines have \(w) (truncated?)")
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
        let p = ProcFields(text)
        var info = PageTypeInfo(pageblockOrder: -1, pagesPerBlock: -1, freeByType: [:], pageblocksByType: [:])
        var blockColumns: [String] = []
        for (n, f) in p.lines {
            func fail(_ m: String) -> ProcParseError { ProcParseError(file: file, line: n, message: m) }
            if f.count >= 3, p.equals(f[0], "Page"), p.equals(f[1], "block"), p.equals(f[2], "order:") {
                guard f.count == 4, let v = p.number(f[3]), v < 64 else { throw fail("bad page block order") }
                info.pageblockOrder = Int(v)
            } else if f.count >= 3, p.equals(f[0], "Pages"), p.equals(f[1], "per"), p.equals(f[2], "block:") {
                guard f.count == 4, let v = p.number(f[3]), v <= UInt64(Int32.max) else { throw fail("bad pages per block") }
                info.pagesPerBlock = Int(v)
            } else if p.equals(f[0], "Free") {
                continue
            } else if f.count >= 4, p.equals(f[0], "Number"), p.equals(f[1], "of"), p.equals(f[2], "blocks") {
                blockColumns = f.dropFirst(4).map { p.string($0) }
            } else if let (node, zone, first) = p.nodeZone(f) {
                let key = "node\(node)/\(zone)"
                if f.count > first, p.equals(f[first], "type") {
                    guard f.count >= first + 3 else { throw fail("no counts after the migrate type") }
                    var counts: [UInt64] = []
                    for r in f[(first + 2)...] {
                        guard let v = p.number(r) else { throw fail("'\(p.string(r))' is not a count") }
                        counts.append(v)
                    }
                    info.freeByType[key, default: [:]][p.string(f[first + 1])] = counts
                } else {
                    let counts = f[first...].compactMap { p.number($0) }
                    guard !blockColumns.isEmpty, counts.count == blockColumns.count, counts.count == f.count - first else {
                        throw fail("expected \(blockColumns.count) pageblock counts")
                    }
                    info.pageblocksByType[key] = Dictionary(zip(blockColumns, counts), uniquingKeysWith: { first, _ in first })   // a repeated column (fuzzed input) keeps the first
                }
            } else {
                throw fail("unexpected line starting '\(p.string(f[0]))'")
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
        let p = ProcFields(text)
        var zones: [ZoneWatermarks] = []
        var current: ZoneWatermarks? = nil
        var seen = 0   // bit per required field
        let required = 0b111111
        func flush(_ n: Int) throws {
            guard let c = current else { return }
            if seen != required {
                let names = ["pages free", "min", "low", "high", "managed", "present"]
                let missing = names.enumerated().first { seen & (1 << $0.offset) == 0 }!.element
                throw ProcParseError(file: file, line: n, message: "zone \(c.key) has no '\(missing)' line (truncated?)")
            }
            zones.append(c)
            current = nil
        }
        var lastLine = 1
        for (n, f) in p.lines {
            lastLine = n
            if p.equals(f[0], "Node") {
                try flush(n)
                guard let (node, zone, _) = p.nodeZone(f) else { throw ProcParseError(file: file, line: n, message: "bad zone header") }
                current = ZoneWatermarks(node: node, zone: zone, freePages: 0, min: 0, low: 0, high: 0, managed: 0, present: 0)
                seen = 0
                continue
            }
            guard current != nil else { continue }
            func value(_ i: Int) throws -> UInt64 {
                guard f.count > i, let v = p.number(f[i]) else { throw ProcParseError(file: file, line: n, message: "bad number") }
                return v
            }
            if f.count == 3, p.equals(f[0], "pages"), p.equals(f[1], "free") { current!.freePages = try value(2); seen |= 1 }
            else if f.count == 2 {
                if p.equals(f[0], "min") { current!.min = try value(1); seen |= 2 }
                else if p.equals(f[0], "low") { current!.low = try value(1); seen |= 4 }
                else if p.equals(f[0], "high") { current!.high = try value(1); seen |= 8 }
                else if p.equals(f[0], "managed") { current!.managed = try value(1); seen |= 16 }
                else if p.equals(f[0], "present") { current!.present = try value(1); seen |= 32 }
            }
        }
        try flush(lastLine + 1)
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
                // The kernel's indices are -1.000 or within 0.000...1.000 (mm/vmstat.c): anything
                // beyond is not an index (and 10^17.000 would overflow: found by fuzzing).
                guard parts.count == 2, let whole = Int(parts[0]), let frac = Int(parts[1]), parts[1].count == 3, whole <= 1 else {
                    throw ProcParseError(file: file, line: n + 1, message: "bad index '\(f)'")
                }
                values.append((negative ? -1 : 1) * (whole * 1000 + frac))
            }
            result["node\(node)/\(zone)"] = values
        }
        return result
    }
}
