/// The kernel's fragmentation arithmetic (mm/vmstat.c), per zone and order, in the
/// kernel's integer thousandths so the results equal debugfs extfrag to the digit.
/// Like the kernel's, it is unsigned long arithmetic that wraps rather than traps; the
/// parsers refuse counts beyond ZoneFreeLists.maxFreePages, where it would wrap.
public struct FragmentationIndex: Equatable, Sendable {
    public var zone: ZoneFreeLists
    /// Order of a PMD-sized transparent huge page (9 with 4 KiB pages on x86-64 and arm64 4K).
    public var hugePageOrder: Int

    public init(zone: ZoneFreeLists, hugePageOrder: Int = 9) {
        self.zone = zone
        self.hugePageOrder = hugePageOrder
    }

    /// The PMD huge page order: from the kernel's hpage_pmd_size when it is known, else
    /// from the page size (a page table page holds page/8 entries: 4 KiB → 9, 16 KiB → 11,
    /// 64 KiB → 13).
    public static func pmdOrder(pageBytes: Int, pmdBytes: Int?) -> Int {
        guard pageBytes >= 4096, pageBytes & (pageBytes - 1) == 0 else { return 9 }
        let size = pmdBytes.flatMap { $0 > pageBytes && $0 <= 1 << 40 ? $0 : nil } ?? pageBytes / 8 * pageBytes
        var order = 0
        while (pageBytes << order) < size { order += 1 }
        return order
    }

    /// fill_contig_page_info: B = Σ n_k, F = Σ n_k·2^k, S_o = Σ_{k≥o} n_k·2^(k−o)
    public var freeBlocksTotal: UInt64 { zone.freeBlocks.reduce(0, &+) }
    public var freePages: UInt64 {
        zone.freeBlocks.enumerated().reduce(0) { $0 &+ ($1.element << UInt64($1.offset)) }
    }
    /// Order-o blocks the free lists could yield.
    public func suitableBlocks(order: Int) -> UInt64 {
        guard order >= 0 else { return suitableBlocks(order: 0) }
        return zone.freeBlocks.enumerated().reduce(0) { acc, e in e.offset >= order ? acc &+ (e.element << UInt64(e.offset - order)) : acc }
    }
    /// Free blocks of order o or larger (a count of blocks, whatever their size).
    public func freeBlocksAtOrAbove(order: Int) -> UInt64 {
        zone.freeBlocks.enumerated().reduce(0) { $0 &+ ($1.offset >= order ? $1.element : 0) }
    }

    /// unusable_free_index: ⌊1000·(F − S_o·2^o)/F⌋, 1000 when nothing is free.
    public func unusableIndexMilli(order: Int) -> Int {
        let f = freePages
        if f == 0 || !(0..<64).contains(order) { return 1000 }   // no order-64 block can exist
        return Int(truncatingIfNeeded: (f &- (suitableBlocks(order: order) << UInt64(order))) &* 1000 / f)
    }

    /// __fragmentation_index: 0 with no free blocks, −1000 when the allocation would
    /// succeed, else 1000 − ⌊(1000 + ⌊1000·F/2^o⌋) / B⌋.
    public func fragmentationIndexMilli(order: Int) -> Int {
        let b = freeBlocksTotal
        if b == 0 || !(0..<64).contains(order) { return 0 }
        if suitableBlocks(order: order) > 0 { return -1000 }
        let requested = UInt64(1) << UInt64(order)
        return 1000 &- Int(truncatingIfNeeded: (1000 &+ freePages &* 1000 / requested) / b)
    }

    /// Largest order with a free block (nil when nothing is free).
    public var largestFreeOrder: Int? { zone.freeBlocks.lastIndex { $0 > 0 } }

    /// THP-sized allocations the free lists could satisfy right now, without compaction.
    public var hugePageAllocationsPossible: UInt64 { suitableBlocks(order: hugePageOrder) }

    /// The kernel prints thousandths as "%d.%03d".
    public static func format(milli: Int) -> String {
        milli < 0 ? "-" + format(milli: -milli) : "\(milli / 1000)." + String(repeating: "0", count: 3 - String(milli % 1000).count) + String(milli % 1000)
    }
}
