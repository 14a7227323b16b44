import CUnwind
import StallCore
#if canImport(Glibc)
import Glibc
#endif

/// `--call-graph dwarf` unwinding with elfutils' libdwfl (CUnwind): one libdwfl state
/// per process, kept across its samples (the modules it has read stay read), the
/// mapped files looked up in the recording's mappings, under --symfs.
public final class DwarfUnwinder: UserStackUnwinder {
    /// perf's default (kernel.perf_event_max_stack).
    public static let maxFrames = 127

    struct Mapping {
        var start: UInt64; var end: UInt64; var pgoff: UInt64; var path: UnsafeMutablePointer<CChar>; var isCode: Bool
        /// When it was mapped (0: unknown or from the start).
        var time: UInt64
        func existed(at sampleTime: UInt64) -> Bool { MemoryMapping.existed(mappedAt: time, at: sampleTime) }
    }
    /// The callback's context: which process, at what time, and who knows the mappings.
    final class ProcessContext {
        unowned let owner: DwarfUnwinder
        let pid: Int32
        /// The process's own mappings in effect when the state was made: libdwfl keeps the
        /// modules it was given, so when this changes (an exec mapped a new program,
        /// perhaps at the old one's addresses) the state is made again.
        let generation: Int
        var time: UInt64 = 0
        init(owner: DwarfUnwinder, pid: Int32, generation: Int) { self.owner = owner; self.pid = pid; self.generation = generation }
    }

    let symfs: String
    private var mapsByPID: [Int32: [Mapping]] = [:]
    private var indexedMappings = 0
    private var forks: [Int32: Int32] = [:]
    private var processes: [Int32: (state: OpaquePointer?, context: ProcessContext)] = [:]
    /// Processes by last use: at most `maxProcesses` libdwfl states are kept (each holds
    /// the unwind tables and debug information it read; a day of `-a` sees thousands of
    /// short-lived processes).
    private var recentProcesses: [Int32] = []
    static let maxProcesses = 32
    private var frames = [UInt64](repeating: 0, count: DwarfUnwinder.maxFrames)

    public init(symfs: String = "") { self.symfs = symfs }

    deinit {
        for p in processes.values { cuw_process_free(p.state) }
        for maps in mapsByPID.values { for m in maps { free(m.path) } }
        for maps in preloadedByPID.values { for m in maps { free(m.path) } }
    }

    /// ELF machine numbers for `uname -m` names; the host's when the file does not say.
    static func machine(_ arch: String?) -> Int32? {
        switch arch ?? hostArch() {
        case "x86_64", "amd64": return Int32(CUW_MACHINE_X86_64)
        case "aarch64", "arm64": return Int32(CUW_MACHINE_AARCH64)
        default: return nil
        }
    }

    static func hostArch() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// The recording's mappings read since the last sample, indexed by process. Only
    /// files: [vdso], anonymous and JIT memory have no unwind tables to read.
    private func index(_ mappings: [MemoryMapping], buildIDs: [BuildIDEntry]) {
        guard mappings.count > indexedMappings else { return }
        add(mappings[indexedMappings...], buildIDs: buildIDs, to: &mapsByPID)
        indexedMappings = mappings.count
    }

    /// Files only (not //anon): the object whose tables unwind each mapping, by process.
    private func add(_ mappings: ArraySlice<MemoryMapping>, buildIDs: [BuildIDEntry], to maps: inout [Int32: [Mapping]]) {
        if recordedIDs == nil { recordedIDs = BuildIDEntry.byFilename(buildIDs) }
        for m in mappings where m.filename.hasPrefix("/") && !m.filename.hasPrefix("//") && m.end > m.start {
            guard let file = objectPath(m.filename), let path = strdup(file) else { continue }
            maps[m.pid, default: []].append(Mapping(start: m.start, end: m.end, pgoff: m.pgoff, path: path, isCode: !m.isData, time: m.time))
        }
    }

    /// BUILD_ID: each object's build id when it was recorded (nil until the first sample).
    private var recordedIDs: [String: String]?
    private var chosenPaths: [String: String?] = [:]

    /// The file whose unwind tables are the recorded object's: the path itself (under
    /// --symfs) when its build id is the recorded one (or none was recorded), else perf's
    /// build-id cache's copy; nil when neither is (a rebuilt binary's tables would unwind
    /// the recorded stacks into garbage: those stacks stop there instead).
    func objectPath(_ recorded: String) -> String? {
        if let known = chosenPaths[recorded] { return known }
        var chosen: String? = symfs + recorded
        if let id = recordedIDs?[recorded], id.count > 2 {
            let found = (try? SystemFiles.readRegularFilePrefix(symfs + recorded, bytes: 1 << 16)).flatMap { BuildIDEntry.ofELF(prefix: $0) }
            if found != nil && found != id {
                chosen = ProfileSymbolizer.buildIDCacheDirectories().map { "\($0)/.build-id/\(id.prefix(2))/\(id.dropFirst(2))/elf" }.first { path in
                    (try? SystemFiles.readRegularFilePrefix(path, bytes: 1 << 16)).flatMap { BuildIDEntry.ofELF(prefix: $0) } == id
                }
            }
        }
        chosenPaths[recorded] = chosen
        return chosen
    }

    /// The mapping of `address` in `pid`, else in the process it was forked from (as
    /// the symbolizer looks it up), later mappings of a range first; among the mappings
    /// read so far, else among the whole recording's (preload: a record later in the file).
    func mapping(pid: Int32, address: UInt64, time: UInt64) -> Mapping? {
        if let m = DwarfUnwinder.find(address, pid: pid, time: time, in: mapsByPID, forks: forks) { return m }
        return DwarfUnwinder.find(address, pid: pid, time: time, in: preloadedByPID, forks: preloadedForks)
    }

    /// As the symbolizer: the process's own latest mapping of the address made by `time`,
    /// else its parent's.
    static func find(_ address: UInt64, pid: Int32, time: UInt64, in maps: [Int32: [Mapping]], forks: [Int32: Int32]) -> Mapping? {
        func latest(_ list: [Mapping]?) -> Mapping? {
            // In time order: the latest by time, the last in the file among equal times.
            list?.filter { address >= $0.start && address < $0.end && $0.existed(at: time) }.enumerated()
                .max { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }?.element
        }
        var p = pid
        for _ in 0..<64 {
            if let m = latest(maps[p]) { return m }
            guard let parent = forks[p] else { break }
            p = parent
        }
        return latest(maps[-1])
    }

    /// How many of the process's own mappings existed at `time` (of the whole recording's
    /// when known, else of those read so far).
    func generation(pid: Int32, time: UInt64) -> Int {
        (preloadedByPID[pid] ?? mapsByPID[pid] ?? []).reduce(0) { $0 + ($1.existed(at: time) ? 1 : 0) }
    }

    private var preloadedByPID: [Int32: [Mapping]] = [:]
    private var preloadedForks: [Int32: Int32] = [:]

    public func preload(mappings: [MemoryMapping], forks: [Int32: Int32], buildIDs: [BuildIDEntry]) {
        preloadedForks = forks
        add(mappings[...], buildIDs: buildIDs, to: &preloadedByPID)
    }

    public func unwind(_ sample: UserStackSample, contents: PerfDataContents) -> (frames: [UInt64], stopped: String?) {
        guard let machine = DwarfUnwinder.machine(sample.arch) else { return ([], "recorded on \(sample.arch ?? "?"), which is not x86_64 or aarch64") }
        index(contents.mappings, buildIDs: contents.buildIDs)
        self.forks = contents.forks
        let process: OpaquePointer
        if recentProcesses.last != sample.pid {
            recentProcesses.removeAll { $0 == sample.pid }
            recentProcesses.append(sample.pid)
            if recentProcesses.count > DwarfUnwinder.maxProcesses {
                let evicted = recentProcesses.removeFirst()
                if let p = processes.removeValue(forKey: evicted) { cuw_process_free(p.state) }
            }
        }
        let generation = generation(pid: sample.pid, time: sample.time)
        if let known = processes[sample.pid], known.context.generation != generation {
            cuw_process_free(known.state)
            processes[sample.pid] = nil
        }
        if let known = processes[sample.pid] {
            guard let state = known.state else { return ([], "libdwfl could not start") }
            known.context.time = sample.time
            process = state
        } else {
            let context = ProcessContext(owner: self, pid: sample.pid, generation: generation)
            context.time = sample.time
            let state = cuw_process_create(machine, sample.pid, { context, address, out in
                guard let context, let out else { return 0 }
                let c = Unmanaged<ProcessContext>.fromOpaque(context).takeUnretainedValue()
                guard let m = c.owner.mapping(pid: c.pid, address: address, time: c.time) else { return 0 }
                out.pointee = cuw_mapping(path: m.path, start: m.start, end: m.end, pgoff: m.pgoff, is_code: m.isCode ? 1 : 0)
                return 1
            }, Unmanaged.passUnretained(context).toOpaque())
            processes[sample.pid] = (state, context)
            guard let state else { return ([], "libdwfl could not start") }
            process = state
        }
        var error: UnsafePointer<CChar>? = nil
        let n = sample.registers.withUnsafeBufferPointer { regs in
            frames.withUnsafeMutableBufferPointer { out in
                cuw_unwind(process, sample.tid, regs.baseAddress, regs.count, sample.stack.baseAddress?.assumingMemoryBound(to: UInt8.self),
                           sample.stack.count, out.baseAddress, Int32(min(out.count, max(1, sample.maxFrames))), &error)
            }
        }
        return (Array(frames.prefix(Int(max(0, n)))), error.map { String(cString: $0) })
    }
}
