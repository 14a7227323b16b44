import CZlib
import StallCore
import SwiftProtobuf
#if canImport(Glibc)
import Glibc
#endif

/// perf.data samples as pprof's profile.proto (`report --pprof`), what go tool pprof,
/// Parca, Pyroscope and Grafana read:
/// - sample types: `samples`/count first (pprof's convention), then one per recorded
///   event, valued by its period as perf report weighs samples (`cpu-clock`/`task-clock`
///   in nanoseconds, others in events); the first event is the default;
/// - one Location per distinct address of a mapping, its Line naming the Function
///   (symbol, demangled as report prints it); an address without a symbol has no Line,
///   so pprof shows the address as perf shows `0x…`;
/// - Mappings as recorded (start, end, file offset, path, build id), the kernel as one
///   `[kernel.kallsyms]` mapping (modules by their own names);
/// - call chains leaf first; labels `pid`, `tid` (numbers) and `comm` (the thread's name
///   when sampled). Identical stacks with identical labels are one Sample.
public struct PprofProfile {
    /// Where a user-space address was mapped (from the recording's MMAP records).
    public struct Mapped: Hashable {
        public var start: UInt64
        public var end: UInt64
        public var fileOffset: UInt64
        public var path: String
        public init(start: UInt64, end: UInt64, fileOffset: UInt64, path: String) {
            self.start = start
            self.end = end
            self.fileOffset = fileOffset
            self.path = path
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case compression(String)
        public var description: String {
            switch self {
            case .compression(let m): return "cannot gzip the profile: \(m)"
            }
        }
    }

    var profile = Perftools_Profiles_Profile()
    public private(set) var sampleCount = 0

    /// Builds the profile. `resolve` names an address as report does; `mapping` finds a
    /// user address's mapping (nil: unknown).
    public init(contents: PerfDataContents, resolve: FrameResolver,
                mapping: (_ pid: Int32, _ ip: UInt64, _ time: UInt64) -> Mapped?) {
        var strings = StringTable()
        let buildIDs = BuildIDEntry.byFilename(contents.buildIDs)
        let kernelBuildID = contents.buildIDs.first { $0.isKernel && $0.filename.contains("kernel.kallsyms") }?.buildID
        var p = Perftools_Profiles_Profile()

        var types = [PprofProfile.valueType("samples", "count", &strings)]
        for attr in contents.attrs {
            types.append(PprofProfile.valueType(attr.name, PprofProfile.unit(of: attr), &strings))
        }
        p.sampleType = types
        if let first = contents.attrs.first {
            p.defaultSampleType = strings.index(first.name)
            p.periodType = PprofProfile.valueType(first.name, PprofProfile.unit(of: first), &strings)
            if !first.frequencyMode { p.period = Int64(clamping: first.samplePeriodOrFrequency) }
        }

        // Mappings: user ones by their recorded range and file; kernel objects one each,
        // spanning the addresses sampled in them.
        var mappingIDs: [Mapped: UInt64] = [:]
        var mappings: [Perftools_Profiles_Mapping] = []
        var kernelSpans: [String: (low: UInt64, high: UInt64, id: UInt64)] = [:]
        var functionIDs: [String: UInt64] = [:]
        var functions: [Perftools_Profiles_Function] = []
        var locationIDs: [LocationKey: UInt64] = [:]
        var locations: [Perftools_Profiles_Location] = []

        func functionID(_ name: String, systemName: String?) -> UInt64 {
            if let id = functionIDs[name] { return id }
            var f = Perftools_Profiles_Function()
            f.id = UInt64(functions.count + 1)
            f.name = strings.index(name)
            f.systemName = strings.index(systemName ?? name)
            functions.append(f)
            functionIDs[name] = f.id
            return f.id
        }

        func userMapping(_ m: Mapped) -> UInt64 {
            if let id = mappingIDs[m] { return id }
            var pm = Perftools_Profiles_Mapping()
            pm.id = UInt64(mappings.count + 1)
            pm.memoryStart = m.start
            pm.memoryLimit = m.end
            pm.fileOffset = m.fileOffset
            pm.filename = strings.index(m.path)
            if let b = buildIDs[m.path] { pm.buildID = strings.index(b) }
            // Symbols come from stallstat, so pprof must not look for the binaries again.
            pm.hasFunctions_p = true
            mappings.append(pm)
            mappingIDs[m] = pm.id
            return pm.id
        }

        func kernelMapping(_ dso: String, _ ip: UInt64) -> UInt64 {
            if var span = kernelSpans[dso] {
                span.low = min(span.low, ip)
                span.high = max(span.high, ip)
                kernelSpans[dso] = span
                return span.id
            }
            var pm = Perftools_Profiles_Mapping()
            pm.id = UInt64(mappings.count + 1)
            pm.filename = strings.index(dso)
            if dso == "[kernel.kallsyms]", let kernelBuildID { pm.buildID = strings.index(kernelBuildID) }
            pm.hasFunctions_p = true
            mappings.append(pm)
            kernelSpans[dso] = (ip, ip, pm.id)
            return pm.id
        }

        func location(_ pid: Int32, _ ip: UInt64, _ kernel: Bool, time: UInt64) -> UInt64 {
            let frame = resolve(pid, ip, kernel, time)
            var mappingID: UInt64 = 0
            if frame.isKernel {
                mappingID = kernelMapping(frame.dso, ip)
            } else if let m = mapping(pid, ip, time) {
                mappingID = userMapping(m)
            }
            let key = LocationKey(mapping: mappingID, address: ip, pid: mappingID == 0 ? pid : 0)
            if let id = locationIDs[key] { return id }
            var l = Perftools_Profiles_Location()
            l.id = UInt64(locations.count + 1)
            l.mappingID = mappingID
            l.address = ip
            if let symbol = frame.symbol {
                var line = Perftools_Profiles_Line()
                line.functionID = functionID(symbol, systemName: frame.mangledSymbol)
                l.line = [line]
            }
            locations.append(l)
            locationIDs[key] = l.id
            return l.id
        }

        // pprof takes mapping[0] as the main binary (its "File:" line): the sampled
        // process's executable, found as the mapped file named like the process (its comm
        // is the executable's name, cut to 15 bytes), else the object with most samples.
        let names = ThreadNames(contents.threadEvents)
        var hits: [Mapped: (named: Bool, samples: Int)] = [:]
        var seen: [LocationKey: Mapped?] = [:]
        for s in contents.samples where !s.isKernel && s.ip < 0xFFFF_8000_0000_0000 {
            let k = LocationKey(mapping: 0, address: s.ip, pid: s.pid, epoch: names.addressEpoch(pid: s.pid, at: s.time))
            let m: Mapped?
            if let known = seen[k] { m = known } else { m = mapping(s.pid, s.ip, s.time); seen[k] = m }
            guard let m else { continue }
            let comm = contents.comms[s.pid] ?? ""
            let base = m.path.split(separator: "/").last.map(String.init) ?? m.path
            let named = !comm.isEmpty && base.hasPrefix(comm)
            hits[m, default: (named, 0)].samples += s.count
        }
        if let main = hits.max(by: { a, b in
            a.value.named != b.value.named ? !a.value.named : a.value.samples != b.value.samples ? a.value.samples < b.value.samples : a.key.path > b.key.path
        })?.key { _ = userMapping(main) }

        let pidKey = strings.index("pid"), tidKey = strings.index("tid"), commKey = strings.index("comm")
        var sampleIndex: [SampleKey: Int] = [:]
        var samples: [Perftools_Profiles_Sample] = []
        // An address's Location once per process: stacks repeat the same frames.
        var frameCache: [LocationKey: UInt64] = [:]
        func cachedLocation(_ pid: Int32, _ ip: UInt64, _ kernel: Bool, time: UInt64, epoch: Int32) -> UInt64 {
            let k = LocationKey(mapping: 0, address: ip, pid: kernel ? -1 : pid, epoch: kernel ? 0 : epoch)
            if let id = frameCache[k] { return id }
            let id = location(pid, ip, kernel, time: time)
            frameCache[k] = id
            return id
        }
        var first = UInt64.max, last: UInt64 = 0
        let chainIPs = contents.callchainIPs
        for s in contents.samples {
            guard s.attr >= 0, Int(s.attr) < contents.attrs.count else { continue }
            let epoch = names.addressEpoch(pid: s.pid, at: s.time)
            var stack = [cachedLocation(s.pid, s.ip, s.isKernel, time: s.time, epoch: epoch)]
            let start = Int(s.chainStart), count = Int(s.chainCount)
            if start >= 0, count > 0, start <= chainIPs.count - count {
                for ip in chainIPs[start..<(start + count)] {
                    stack.append(cachedLocation(s.pid, ip, ip >= 0xFFFF_8000_0000_0000, time: s.time, epoch: epoch))
                }
            }
            let comm = names.display(tid: s.tid, at: s.time)
            let key = SampleKey(stack: stack, pid: s.pid, tid: s.tid, comm: comm)
            let slot: Int
            if let i = sampleIndex[key] {
                slot = i
            } else {
                var ps = Perftools_Profiles_Sample()
                ps.locationID = stack
                ps.value = [Int64](repeating: 0, count: types.count)
                var pidLabel = Perftools_Profiles_Label(), tidLabel = Perftools_Profiles_Label(), commLabel = Perftools_Profiles_Label()
                pidLabel.key = pidKey; pidLabel.num = Int64(s.pid)
                tidLabel.key = tidKey; tidLabel.num = Int64(s.tid)
                commLabel.key = commKey; commLabel.str = strings.index(comm)
                ps.label = [pidLabel, tidLabel, commLabel]
                samples.append(ps)
                slot = samples.count - 1
                sampleIndex[key] = slot
            }
            // Saturating sums: a crafted file's periods must not trap.
            samples[slot].value[0] = PprofProfile.add(samples[slot].value[0], UInt64(max(0, s.count)))
            samples[slot].value[1 + Int(s.attr)] = PprofProfile.add(samples[slot].value[1 + Int(s.attr)], s.period)
            sampleCount += s.count
            if s.time > 0 { first = min(first, s.time); last = max(last, s.time) }
        }
        for (dso, span) in kernelSpans {
            _ = dso
            let i = Int(span.id - 1)
            mappings[i].memoryStart = span.low
            mappings[i].memoryLimit = span.high == .max ? span.high : span.high + 1
        }
        if first < last { p.durationNanos = Int64(clamping: last - first) }
        p.sample = samples
        p.mapping = mappings
        p.location = locations
        p.function = functions
        if let host = contents.hostname { p.comment.append(strings.index("host: \(host)")) }
        if !contents.cmdline.isEmpty { p.comment.append(strings.index("command: " + contents.cmdline.joined(separator: " "))) }
        p.stringTable = strings.strings
        profile = p
    }

    /// The profile's protobuf bytes, uncompressed.
    public func serialized() throws -> [UInt8] { try profile.serializedBytes() }

    /// The profile as pprof stores it: gzipped protobuf.
    public func gzipped() throws -> [UInt8] {
        let raw = try serialized()
        var out: UnsafeMutablePointer<UInt8>? = nil
        var outLength = 0
        var error: UnsafePointer<CChar>? = nil
        let rc = raw.withUnsafeBufferPointer { czl_gzip($0.baseAddress, $0.count, 6, &out, &outLength, &error) }
        guard rc == 0, let out else { throw Failure.compression(error.map { String(cString: $0) } ?? "zlib failed") }
        defer { free(out) }
        return Array(UnsafeBufferPointer(start: out, count: outLength))
    }

    /// A cpu-clock or task-clock period is nanoseconds; everything else counts events.
    static func unit(of attr: PerfFileAttr) -> String {
        attr.type == 1 && (attr.config == 0 || attr.config == 1) ? "nanoseconds" : "count"
    }

    static func valueType(_ type: String, _ unit: String, _ strings: inout StringTable) -> Perftools_Profiles_ValueType {
        var v = Perftools_Profiles_ValueType()
        v.type = strings.index(type)
        v.unit = strings.index(unit)
        return v
    }

    static func add(_ a: Int64, _ b: UInt64) -> Int64 {
        let (sum, overflow) = a.addingReportingOverflow(Int64(clamping: b))
        return overflow ? .max : sum
    }

    struct StringTable {
        var strings = [""]
        var indices = ["": 0]
        mutating func index(_ s: String) -> Int64 {
            if let i = indices[s] { return Int64(i) }
            strings.append(s)
            indices[s] = strings.count - 1
            return Int64(strings.count - 1)
        }
    }

    struct LocationKey: Hashable {
        var mapping: UInt64
        var address: UInt64
        /// Addresses outside every mapping are per process (the same number means
        /// different code in two processes).
        var pid: Int32
        /// The process's name epoch (a child before and after exec maps two programs at
        /// the same addresses when ASLR is off): the caches' key only.
        var epoch: Int32 = 0
    }

    struct SampleKey: Hashable {
        var stack: [UInt64]
        var pid: Int32
        var tid: Int32
        var comm: String
    }
}
