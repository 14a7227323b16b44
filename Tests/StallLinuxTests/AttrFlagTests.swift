import XCTest
import CPerfEvent
import StallCore
@testable import StallLinux

/// One numbering of perf_event_attr's flags: the C layer's CPE_* constants, StallCore's
/// PerfData.AttrFlag (what perf.data attrs are read with) and the bits the kernel's own
/// struct gets (the bitfields as <linux/perf_event.h> compiles them) are the same bits.
final class AttrFlagTests: XCTestCase {
    /// The u64 after read_format in the kernel's struct, as cpe_attr_bytes writes it.
    func kernelFlagsWord(_ flags: UInt64) -> UInt64 {
        var a = cpe_attr()
        a.flags = flags
        var bytes = [UInt8](repeating: 0, count: cpe_attr_size())
        bytes.withUnsafeMutableBytes { cpe_attr_bytes(&a, $0.baseAddress) }
        // type 4, size 4, config 8, sample_period 8, sample_type 8, read_format 8: offset 40.
        return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 40, as: UInt64.self) } & ~(3 << 15)   // precise_ip aside
    }

    func testEveryFlagIsTheKernelsBitUnderOneName() {
        let pairs: [(String, Int, UInt64)] = [
            ("disabled", CPE_DISABLED, PerfData.AttrFlag.disabled), ("inherit", CPE_INHERIT, PerfData.AttrFlag.inherit),
            ("pinned", CPE_PINNED, PerfData.AttrFlag.pinned), ("exclusive", CPE_EXCLUSIVE, PerfData.AttrFlag.exclusive),
            ("exclude_user", CPE_EXCLUDE_USER, PerfData.AttrFlag.excludeUser),
            ("exclude_kernel", CPE_EXCLUDE_KERNEL, PerfData.AttrFlag.excludeKernel),
            ("exclude_hv", CPE_EXCLUDE_HV, PerfData.AttrFlag.excludeHV), ("exclude_idle", CPE_EXCLUDE_IDLE, PerfData.AttrFlag.excludeIdle),
            ("mmap", CPE_MMAP, PerfData.AttrFlag.mmap), ("comm", CPE_COMM, PerfData.AttrFlag.comm),
            ("freq", CPE_FREQ, PerfData.AttrFlag.freq), ("enable_on_exec", CPE_ENABLE_ON_EXEC, PerfData.AttrFlag.enableOnExec),
            ("task", CPE_TASK, PerfData.AttrFlag.task), ("watermark", CPE_WATERMARK, PerfData.AttrFlag.watermark),
            ("mmap_data", CPE_MMAP_DATA, PerfData.AttrFlag.mmapData), ("sample_id_all", CPE_SAMPLE_ID_ALL, PerfData.AttrFlag.sampleIDAll),
            ("exclude_guest", CPE_EXCLUDE_GUEST, PerfData.AttrFlag.excludeGuest),
            ("exclude_callchain_kernel", CPE_EXCLUDE_CALLCHAIN_KERNEL, PerfData.AttrFlag.excludeCallchainKernel),
            ("exclude_callchain_user", CPE_EXCLUDE_CALLCHAIN_USER, PerfData.AttrFlag.excludeCallchainUser),
            ("mmap2", CPE_MMAP2, PerfData.AttrFlag.mmap2), ("comm_exec", CPE_COMM_EXEC, PerfData.AttrFlag.commExec),
        ]
        var all: UInt64 = 0
        for (name, c, swift) in pairs {
            XCTAssertEqual(UInt64(c), swift, "\(name): CPE_ and PerfData.AttrFlag agree")
            XCTAssertEqual(kernelFlagsWord(UInt64(c)), swift, "\(name): the kernel's struct gets that bit and no other")
            all |= swift
        }
        XCTAssertEqual(kernelFlagsWord(all), all, "all together, none lost or moved")
        XCTAssertEqual(all.nonzeroBitCount, pairs.count, "no two names share a bit")
    }
}
