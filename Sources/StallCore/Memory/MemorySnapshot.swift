/// One moment of the kernel's memory state: free lists, watermarks, migrate types,
/// the vmstat counters of compaction, THP and reclaim, and pressure stall totals.
public struct MemorySnapshot: Equatable, Sendable {
    public var timestampSeconds: Double
    public var hugePageOrder: Int
    /// The kernel's page size: 4 KiB, or 16/64 KiB on some arm64 kernels. Free lists
    /// count pages, so bytes depend on it.
    public var pageBytes: UInt64
    public var zones: [ZoneFreeLists]
    public var watermarks: [ZoneWatermarks]
    public var pageTypes: PageTypeInfo?
    public var vmstat: [String: UInt64]
    public var pressure: [String: PressureStall]
    /// Sources that could not be read, and why (pagetypeinfo is root-only).
    public var unavailable: [String: String]

    public init(timestampSeconds: Double, hugePageOrder: Int = 9, pageBytes: UInt64 = 4096, zones: [ZoneFreeLists], watermarks: [ZoneWatermarks] = [],
                pageTypes: PageTypeInfo? = nil, vmstat: [String: UInt64] = [:], pressure: [String: PressureStall] = [:],
                unavailable: [String: String] = [:]) {
        self.timestampSeconds = timestampSeconds
        self.hugePageOrder = hugePageOrder
        self.pageBytes = pageBytes
        self.zones = zones
        self.watermarks = watermarks
        self.pageTypes = pageTypes
        self.vmstat = vmstat
        self.pressure = pressure
        self.unavailable = unavailable
    }

    /// The vmstat counters kept in a snapshot (prefixes and names).
    public static let vmstatPrefixes = ["compact_", "pgmigrate_", "thp_", "allocstall_", "pgscan_", "pgsteal_"]
    public static let vmstatNames = ["nr_free_pages"]

    public static func keepVMStat(_ all: [String: UInt64]) -> [String: UInt64] {
        all.filter { kv in vmstatNames.contains(kv.key) || vmstatPrefixes.contains { kv.key.hasPrefix($0) } }
    }

    /// All zones' free lists added together: the system-wide picture.
    public var combined: ZoneFreeLists {
        let width = zones.map(\.freeBlocks.count).max() ?? 0
        var sums = [UInt64](repeating: 0, count: width)
        for z in zones { for (k, v) in z.freeBlocks.enumerated() { sums[k] &+= v } }   // unsigned long, as the kernel sums
        return ZoneFreeLists(node: -1, zone: "all", freeBlocks: sums)
    }

    public func indices(_ zone: ZoneFreeLists) -> FragmentationIndex { FragmentationIndex(zone: zone, hugePageOrder: hugePageOrder) }

    /// The zones ordinary allocations come from: every "Normal" zone summed, or all
    /// zones where there is none. DMA32's untouched low memory would otherwise hide
    /// fragmentation in a system-wide sum.
    public var allocationZones: ZoneFreeLists {
        let normal = zones.filter { $0.zone == "Normal" }
        guard !normal.isEmpty else { return combined }
        let width = normal.map(\.freeBlocks.count).max() ?? 0
        var sums = [UInt64](repeating: 0, count: width)
        for z in normal { for (k, v) in z.freeBlocks.enumerated() { sums[k] &+= v } }
        return ZoneFreeLists(node: -1, zone: "Normal", freeBlocks: sums)
    }

    /// Unusable free space index at the THP order of the Normal zones, in [0, 1].
    public var unusableAtHugePageOrderNormal: Double { Double(indices(allocationZones).unusableIndexMilli(order: hugePageOrder)) / 1000 }

    /// System-wide unusable free space index at the THP order, in [0, 1].
    public var unusableAtHugePageOrder: Double { Double(indices(combined).unusableIndexMilli(order: hugePageOrder)) / 1000 }
    /// THP-sized blocks free right now, all zones.
    public var hugePageBlocksFree: UInt64 { indices(combined).hugePageAllocationsPossible }
}

extension MemorySnapshot {
    // MARK: JSON (for `frag --json` and `frag --diff`)

    public func json() -> String {
        var parts: [String] = []
        parts.append("\"timestamp\": " + cFormat("%.6f", timestampSeconds))
        parts.append("\"huge_page_order\": \(hugePageOrder)")
        parts.append("\"page_size\": \(pageBytes)")
        let zoneObjects = zones.map { z -> String in
            let ix = indices(z)
            let orders = z.freeBlocks.indices
            var o = "{\"node\": \(z.node), \"zone\": \"\(jsonEscape(z.zone))\", \"free_blocks\": [" + z.freeBlocks.map(String.init).joined(separator: ", ") + "]"
            o += ", \"free_pages\": \(ix.freePages)"
            o += ", \"unusable_index\": [" + orders.map { FragmentationIndex.format(milli: ix.unusableIndexMilli(order: $0)) }.joined(separator: ", ") + "]"
            o += ", \"fragmentation_index\": [" + orders.map { FragmentationIndex.format(milli: ix.fragmentationIndexMilli(order: $0)) }.joined(separator: ", ") + "]"
            o += ", \"largest_free_order\": " + (ix.largestFreeOrder.map(String.init) ?? "null")
            o += ", \"huge_page_allocations_possible\": \(ix.hugePageAllocationsPossible)"
            if let w = watermarks.first(where: { $0.key == z.key }) {
                o += ", \"watermarks\": {\"free\": \(w.freePages), \"min\": \(w.min), \"low\": \(w.low), \"high\": \(w.high), \"managed\": \(w.managed), \"present\": \(w.present)}"
            }
            if let pt = pageTypes {
                if let byType = pt.freeByType[z.key] {
                    o += ", \"free_by_migrate_type\": {" + byType.keys.sorted().map { "\"\($0)\": [" + byType[$0]!.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ", ") + "}"
                }
                if let blocks = pt.pageblocksByType[z.key] {
                    o += ", \"pageblocks_by_migrate_type\": {" + blocks.keys.sorted().map { "\"\($0)\": \(blocks[$0]!)" }.joined(separator: ", ") + "}"
                }
            }
            return o + "}"
        }
        parts.append("\"zones\": [\n    " + zoneObjects.joined(separator: ",\n    ") + "\n  ]")
        if let pt = pageTypes { parts.append("\"pageblock_order\": \(pt.pageblockOrder)") }
        parts.append("\"vmstat\": {" + vmstat.keys.sorted().map { "\"\($0)\": \(vmstat[$0]!)" }.joined(separator: ", ") + "}")
        parts.append("\"pressure\": {" + pressure.keys.sorted().map { r in
            let p = pressure[r]!
            func line(_ l: PressureStall.Line?) -> String { l.map { cFormat("{\"avg10\": %.2f, \"avg60\": %.2f, \"avg300\": %.2f, \"total_us\": ", $0.avg10, $0.avg60, $0.avg300) + "\($0.totalMicroseconds)}" } ?? "null" }
            return "\"\(r)\": {\"some\": \(line(p.some)), \"full\": \(line(p.full))}"
        }.joined(separator: ", ") + "}")
        parts.append("\"unavailable\": {" + unavailable.keys.sorted().map { "\"\($0)\": \"\(jsonEscape(unavailable[$0]!))\"" }.joined(separator: ", ") + "}")
        return "{\n  " + parts.joined(separator: ",\n  ") + "\n}\n"
    }

    public struct DecodeError: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Reads a snapshot saved by `frag --json` back (free lists, watermarks, vmstat,
    /// pressure); the indices are recomputed, not trusted.
    public static func decode(_ text: String) throws -> MemorySnapshot {
        let root: JSONValue
        do { root = try JSONReader.parse(text) } catch { throw DecodeError(message: "not a stallstat frag --json snapshot: \(error)") }
        guard let zonesJSON = root["zones"]?.arrayValue, let ts = root["timestamp"]?.numberValue else {
            throw DecodeError(message: "not a stallstat frag --json snapshot: no \"zones\" or \"timestamp\"")
        }
        var zones: [ZoneFreeLists] = []
        var marks: [ZoneWatermarks] = []
        // Counts must be whole numbers that fit (a file's 1e300 or -1 is an error, not a trap).
        func count(_ v: JSONValue?, _ what: String, line: Int) throws -> UInt64 {
            guard let v else { return 0 }
            guard let n = v.countValue else { throw DecodeError(message: "line \(line): \(what) is not a count") }
            return n
        }
        for z in zonesJSON {
            guard let node = z["node"]?.intValue, node >= 0, let name = z["zone"]?.stringValue, let blocks = z["free_blocks"]?.arrayValue else {
                throw DecodeError(message: "line \(z.line): a zone needs node (a whole number), zone and free_blocks")
            }
            let counts = blocks.compactMap(\.countValue)
            guard counts.count == blocks.count else { throw DecodeError(message: "line \(z.line): free_blocks must be counts") }
            if let why = ZoneFreeLists.implausibility(counts) { throw DecodeError(message: "line \(z.line): free_blocks: \(why)") }
            zones.append(ZoneFreeLists(node: node, zone: name, freeBlocks: counts))
            if let w = z["watermarks"] {
                func v(_ k: String) throws -> UInt64 { try count(w[k], "watermarks.\(k)", line: w.line) }
                marks.append(ZoneWatermarks(node: node, zone: name, freePages: try v("free"), min: try v("min"), low: try v("low"), high: try v("high"),
                                            managed: try v("managed"), present: try v("present")))
            }
        }
        var vm: [String: UInt64] = [:]
        if case .object(let members, _)? = root["vmstat"] { for m in members { if let d = m.value.countValue { vm[m.key] = d } } }
        var pressure: [String: PressureStall] = [:]
        if case .object(let members, _)? = root["pressure"] {
            for m in members {
                func line(_ v: JSONValue?) -> PressureStall.Line? {
                    guard let v, let t = v["total_us"]?.countValue else { return nil }
                    return .init(avg10: v["avg10"]?.numberValue ?? 0, avg60: v["avg60"]?.numberValue ?? 0, avg300: v["avg300"]?.numberValue ?? 0, totalMicroseconds: t)
                }
                pressure[m.key] = PressureStall(some: line(m.value["some"]), full: line(m.value["full"]))
            }
        }
        let order = root["huge_page_order"].map { $0.intValue } ?? 9
        guard let order, (0...30).contains(order) else { throw DecodeError(message: "huge_page_order must be a whole number from 0 to 30") }
        guard ts.isFinite else { throw DecodeError(message: "timestamp must be a finite number") }
        // Snapshots written before the page size was saved came from 4 KiB kernels.
        let page = try root["page_size"].map { v -> UInt64 in
            guard let n = v.countValue, n >= 4096, n <= 1 << 20, n & (n - 1) == 0 else {
                throw DecodeError(message: "page_size must be a power of two from 4096 to 1048576")
            }
            return n
        } ?? 4096
        return MemorySnapshot(timestampSeconds: ts, hugePageOrder: order, pageBytes: page, zones: zones,
                              watermarks: marks, vmstat: vm, pressure: pressure)
    }
}
