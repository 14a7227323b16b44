#if canImport(Glibc)
import Glibc
#endif
import StallCore

/// Reads the /proc sources of a `MemorySnapshot` and hands the text to StallCore's parsers.
public struct MemorySnapshotReader {
    public var procRoot: String
    /// Include /proc/pagetypeinfo (root only) and /proc/zoneinfo: `frag` wants them; the
    /// per-interval snapshots of `stat --frag` do not need them and stay cheap.
    public var detailed: Bool

    public init(procRoot: String = "/proc", detailed: Bool = true) {
        self.procRoot = procRoot
        self.detailed = detailed
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String, String)
        public var description: String {
            switch self { case .unreadable(let f, let why): return "cannot read \(f): \(why)" }
        }
    }

    public func read() throws -> MemorySnapshot {
        var unavailable: [String: String] = [:]
        let buddyText: String
        do { buddyText = try SystemFiles.readText("\(procRoot)/buddyinfo") } catch { throw Failure.unreadable("\(procRoot)/buddyinfo", "\(error)") }
        let zones = try BuddyInfo.parse(buddyText)
        var snapshot = MemorySnapshot(timestampSeconds: wallClockSeconds(), hugePageOrder: MemorySnapshotReader.hugePageOrder(),
                                      pageBytes: MemorySnapshotReader.pageBytes, zones: zones)
        if let bytes = try? SystemFiles.readBytes("\(procRoot)/vmstat") {
            snapshot.vmstat = VMStat.scan(bytes, prefixes: MemorySnapshot.vmstatPrefixes, names: MemorySnapshot.vmstatNames)
        } else { unavailable["vmstat"] = "\(procRoot)/vmstat unreadable" }
        for r in ["memory", "cpu", "io"] {
            if let t = try? SystemFiles.readText("\(procRoot)/pressure/\(r)"), let p = try? PressureStall.parse(t) { snapshot.pressure[r] = p }
            else { unavailable["pressure/\(r)"] = "no PSI (CONFIG_PSI off or psi=0)" }
        }
        if detailed {
            do { snapshot.watermarks = try ZoneInfo.parse(try SystemFiles.readText("\(procRoot)/zoneinfo")) }
            catch { unavailable["zoneinfo"] = "\(error)" }
            do { snapshot.pageTypes = try PageTypeInfo.parse(try SystemFiles.readText("\(procRoot)/pagetypeinfo")) }
            catch let e as SystemError where e.errno == EACCES { unavailable["pagetypeinfo"] = "root only (mode 0400)" }
            catch { unavailable["pagetypeinfo"] = "\(error)" }
        }
        snapshot.unavailable = unavailable
        return snapshot
    }

    /// HPAGE_PMD_ORDER from the THP page size (2 MiB with 4 KiB pages → 9, 32 MiB with
    /// 16 KiB pages → 11).
    /// Neither changes while the system runs: read once, not at every snapshot
    /// (`stat -I --frag` and `frag --watch` take one per interval).
    public static func hugePageOrder() -> Int { pmdOrder }
    private static let pmdOrder: Int = {
        let text = SystemFiles.readTrimmed("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
        return FragmentationIndex.pmdOrder(pageBytes: Int(pageBytes), pmdBytes: text.flatMap { Int($0) })
    }()
    static let pageBytes = UInt64(max(4096, sysconf(Int32(_SC_PAGESIZE))))

    public static func smapsRollup(pid: Int32) -> SmapsRollup? {
        guard let t = try? SystemFiles.readText("/proc/\(pid)/smaps_rollup") else { return nil }
        return try? SmapsRollup.parse(t)
    }
}

func wallClockSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
