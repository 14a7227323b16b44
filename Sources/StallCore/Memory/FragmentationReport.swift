/// `stallstat frag` output: a table per node and zone with the orders as columns.
public struct FragmentationReport {
    public var color: Bool
    public init(color: Bool) { self.color = color }

    static let heat: [Character] = ["·", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]

    public func text(_ s: MemorySnapshot) -> String {
        var out = ""
        let orderCount = s.zones.map(\.freeBlocks.count).max() ?? 0
        let cell = 8
        for z in s.zones + (s.zones.count > 1 ? [s.combined] : []) {
            let ix = s.indices(z)
            let title = z.node < 0 ? "All zones" : "Node \(z.node), zone \(z.zone)"
            out += "\(title): " + groupThousands(Double(ix.freePages)) + " free pages (" + cFormat("%.1f MiB", Double(ix.freePages) * Double(s.pageBytes) / 1048576) + ")"
            if let w = s.watermarks.first(where: { $0.key == z.key }) {
                out += ", managed " + groupThousands(Double(w.managed)) + ", watermarks min " + groupThousands(Double(w.min))
                    + " low " + groupThousands(Double(w.low)) + " high " + groupThousands(Double(w.high))
                if w.freePages < w.low { out += "  ⚠ below the low watermark: kswapd is reclaiming" }
            }
            out += "\n"
            out += padRight("  order", 24) + (0..<orderCount).map { padLeft(String($0), cell) }.joined() + "\n"
            out += padRight("  free blocks", 24) + z.freeBlocks.map { padLeft(String($0), cell) }.joined() + "\n"
            out += padRight("  blocks at or above", 24) + (0..<orderCount).map { padLeft(String(ix.freeBlocksAtOrAbove(order: $0)), cell) }.joined() + "\n"
            out += padRight("  unusable index", 24) + (0..<orderCount).map { padLeft(FragmentationIndex.format(milli: ix.unusableIndexMilli(order: $0)), cell) }.joined() + "\n"
            out += padRight("  fragmentation index", 24) + (0..<orderCount).map { padLeft(FragmentationIndex.format(milli: ix.fragmentationIndexMilli(order: $0)), cell) }.joined() + "\n"
            // Heat: the share of free memory held in blocks of each order.
            let f = Double(max(ix.freePages, 1))
            var heatRow = padRight("  free memory by order", 24)
            for (k, n) in z.freeBlocks.enumerated() {
                let share = Double(n << UInt64(k)) / f
                let glyph = String(FragmentationReport.heat[Int(min(8, (share * 8).rounded(.up)))])
                let usable = ix.unusableIndexMilli(order: k)
                var c = padLeft(glyph, cell)
                if color { c = (usable > 800 ? "\u{1B}[31m" : usable > 400 ? "\u{1B}[33m" : "\u{1B}[32m") + c + "\u{1B}[0m" }
                heatRow += c
            }
            out += heatRow + "\n"
            out += "  largest free order " + (ix.largestFreeOrder.map(String.init) ?? "none")
                + "; order-\(s.hugePageOrder) (THP-sized) blocks free: \(ix.hugePageAllocationsPossible)"
                + (s.pageTypes.map { "; free pageblocks (order \($0.pageblockOrder)): \(ix.suitableBlocks(order: $0.pageblockOrder))" } ?? "") + "\n"
            if let pt = s.pageTypes, let blocks = pt.pageblocksByType[z.key] {
                out += "  pageblocks by migrate type: " + blocks.keys.sorted().filter { blocks[$0]! > 0 }.map { "\($0) \(blocks[$0]!)" }.joined(separator: ", ") + "\n"
            }
            out += "\n"
        }
        let vm = s.vmstat
        func v(_ k: String) -> String { vm[k].map { groupThousands(Double($0)) } ?? "-" }
        out += "Compaction: stalls \(v("compact_stall")), fail \(v("compact_fail")), success \(v("compact_success")), kcompactd wakes \(v("compact_daemon_wake"))"
            + "; THP faults: allocated \(v("thp_fault_alloc")), fell back \(v("thp_fault_fallback")); collapse \(v("thp_collapse_alloc")) / failed \(v("thp_collapse_alloc_failed"))\n"
        let allocstall = vm.filter { $0.key.hasPrefix("allocstall_") }.values.reduce(0, +)
        out += "Reclaim: direct stalls \(groupThousands(Double(allocstall))), pgscan direct \(v("pgscan_direct")) / kswapd \(v("pgscan_kswapd"))\n"
        if !s.pressure.isEmpty {
            out += "Pressure (avg10, some/full): " + s.pressure.keys.sorted().map { r in
                let p = s.pressure[r]!
                return "\(r) " + cFormat("%.2f", p.some?.avg10 ?? 0) + "/" + cFormat("%.2f", p.full?.avg10 ?? 0)
            }.joined(separator: ", ") + "\n"
        }
        for (k, why) in s.unavailable.sorted(by: { $0.key < $1.key }) { out += "(\(k) not read: \(why))\n" }
        return out
    }

    /// node,zone,order,free_blocks,free_pages_in_order,blocks_at_or_above,unusable_index,fragmentation_index
    public static func csv(_ s: MemorySnapshot) -> String {
        var out = "timestamp,node,zone,order,free_blocks,free_pages_in_order,blocks_at_or_above,suitable_blocks,unusable_index,fragmentation_index\n"
        for z in s.zones {
            let ix = s.indices(z)
            for (k, n) in z.freeBlocks.enumerated() {
                out += cFormat("%.6f", s.timestampSeconds) + ",\(z.node),\(z.zone),\(k),\(n),\(n << UInt64(k)),\(ix.freeBlocksAtOrAbove(order: k)),\(ix.suitableBlocks(order: k)),"
                    + FragmentationIndex.format(milli: ix.unusableIndexMilli(order: k)) + "," + FragmentationIndex.format(milli: ix.fragmentationIndexMilli(order: k)) + "\n"
            }
        }
        return out
    }

    /// `frag --diff A B`: what changed per zone and order, and the counters in between.
    public static func diff(_ a: MemorySnapshot, _ b: MemorySnapshot) -> String {
        var out = cFormat("Between the snapshots: %.1f s\n", b.timestampSeconds - a.timestampSeconds)
        for zb in b.zones {
            guard let za = a.zones.first(where: { $0.key == zb.key }) else { out += "\(zb.key): only in the second snapshot\n"; continue }
            let ia = a.indices(za), ib = b.indices(zb)
            out += "Node \(zb.node), zone \(zb.zone): free pages " + groupThousands(Double(ia.freePages)) + " → " + groupThousands(Double(ib.freePages))
                + "; THP-sized blocks \(ia.hugePageAllocationsPossible) → \(ib.hugePageAllocationsPossible)\n"
            let width = max(za.freeBlocks.count, zb.freeBlocks.count)
            out += padRight("  order", 24) + (0..<width).map { padLeft(String($0), 9) }.joined() + "\n"
            out += padRight("  free blocks change", 24) + (0..<width).map { k in
                padLeft(signedChange(from: k < za.freeBlocks.count ? za.freeBlocks[k] : 0, to: k < zb.freeBlocks.count ? zb.freeBlocks[k] : 0), 9)
            }.joined() + "\n"
            out += padRight("  unusable index change", 24) + (0..<width).map { k in
                let d = ib.unusableIndexMilli(order: k) - ia.unusableIndexMilli(order: k)
                return padLeft((d > 0 ? "+" : "") + FragmentationIndex.format(milli: d), 9)
            }.joined() + "\n"
        }
        let keys = Set(a.vmstat.keys).union(b.vmstat.keys).sorted()
        let changed = keys.compactMap { k -> String? in
            let before = a.vmstat[k] ?? 0, after = b.vmstat[k] ?? 0
            return before == after ? nil : "\(k) \(signedChange(from: before, to: after))"
        }
        out += "vmstat changes: " + (changed.isEmpty ? "none" : changed.joined(separator: ", ")) + "\n"
        return out
    }
}

/// "+5", "-3" or "0": the change between two counts, exact over the whole UInt64 range
/// (Int64(a) - Int64(b) traps past 2^63).
func signedChange(from before: UInt64, to after: UInt64) -> String {
    after >= before ? (after == before ? "0" : "+\(after - before)") : "-\(before - after)"
}
