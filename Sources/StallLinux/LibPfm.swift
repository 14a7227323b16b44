import CPfm
#if canImport(Glibc)
import Glibc
#endif
import StallCore

/// libpfm4 through the CPfm facade. Initialised lazily: `pfm_initialize` probes every
/// PMU model and is only worth its cost when a name is not one of perf's own.
public enum LibPfm {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var code: Int32
        public var event: String
        public var description: String {
            "libpfm4 cannot encode '\(event)': \(String(cString: cpfm_strerror(code)))"
        }
    }

    /// Tables name events of every x86 model with a `pmu::` prefix; libpfm4 encodes
    /// those for PMUs it did not detect only with LIBPFM_ENCODE_INACTIVE set, which it
    /// reads in pfm_initialize. Unprefixed names still search detected PMUs only. The
    /// variable is removed again once libpfm4 has read it: a workload stallstat starts
    /// must see the environment the user gave (a longer environment alone changes a
    /// program's instruction count: the arm64 lab saw 291 more with --no-multiplex).
    static let prepared: Bool = {
        let wasSet = getenv("LIBPFM_ENCODE_INACTIVE") != nil
        if !wasSet { setenv("LIBPFM_ENCODE_INACTIVE", "1", 0) }
        _ = cpfm_init()
        if !wasSet { unsetenv("LIBPFM_ENCODE_INACTIVE") }
        return true
    }()

    public static func encode(_ name: String) throws -> (attr: EventAttr, pmu: String, fullName: String) {
        _ = prepared
        var out = cpfm_encoding()
        let rc = cpfm_encode(name, &out)
        guard rc == 0 else { throw Failure(code: rc, event: name) }
        let attr = EventAttr(type: out.type, config: out.config, config1: out.config1, config2: out.config2,
                             excludeUser: out.exclude_user != 0, excludeKernel: out.exclude_kernel != 0,
                             excludeHypervisor: out.exclude_hv != 0)
        let pmu = withUnsafePointer(to: out.pmu) { $0.withMemoryRebound(to: CChar.self, capacity: 64) { String(cString: $0) } }
        let full = withUnsafePointer(to: out.fstr) { $0.withMemoryRebound(to: CChar.self, capacity: 512) { String(cString: $0) } }
        return (attr, pmu, full)
    }

    public struct PMUInfo: Equatable {
        public var name: String
        public var description: String
        public var isCore: Bool
        public var eventCount: Int
        /// Generic (programmable) counters, as libpfm4 knows them.
        public var counters: Int
    }

    public static func presentPMUs() -> [PMUInfo] {
        _ = prepared
        var result: [PMUInfo] = []
        var n: Int32 = 0
        var name = [CChar](repeating: 0, count: 128)
        var desc = [CChar](repeating: 0, count: 256)
        var isCore: Int32 = 0
        var count: Int32 = 0
        var counters: Int32 = 0
        while cpfm_present_pmu(n, &name, name.count, &desc, desc.count, &isCore, &count, &counters) == 0 {
            result.append(PMUInfo(name: String(cString: name), description: String(cString: desc),
                                  isCore: isCore != 0, eventCount: Int(count), counters: Int(counters)))
            n += 1
        }
        return result
    }

    public static func events(ofPMU pmu: String) -> [(name: String, description: String)] {
        var result: [(String, String)] = []
        var idx = cpfm_next_event(pmu, -1)
        var name = [CChar](repeating: 0, count: 256)
        var desc = [CChar](repeating: 0, count: 1024)
        while idx >= 0 {
            if cpfm_event_info(idx, &name, name.count, &desc, desc.count) == 0 {
                result.append((String(cString: name), String(cString: desc)))
            }
            idx = cpfm_next_event(pmu, idx)
        }
        return result
    }
}
