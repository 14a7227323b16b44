import Foundation
#if canImport(Glibc)
import Glibc
#endif
import StallCore

/// Resolves sampled addresses through the recorded mappings: ELF .symtab/.dynsym of
/// the mapped files (PIE and shared objects via their PT_LOAD segments), the kernel
/// through /proc/kallsyms when readable, `[unknown]` otherwise. Results are cached.
public final class ProfileSymbolizer {
    struct Map {
        var start: UInt64; var end: UInt64; var pgoff: UInt64; var file: String
        /// The process that mapped it (perf names anonymous memory's DSO after it).
        var pid: Int32 = 0
        /// The DSO column (the file's base name), computed once per mapping.
        var name: String
        /// When it was mapped (0: unknown or from the start).
        var time: UInt64 = 0
        func contains(_ ip: UInt64, at sampleTime: UInt64) -> Bool {
            ip >= start && ip < end && MemoryMapping.existed(mappedAt: time, at: sampleTime)
        }
    }
    private var mapsByPID: [Int32: [Map]] = [:]
    private let forks: [Int32: Int32]
    private var elfCache: [String: ELFSymbols?] = [:]
    private lazy var kernel: KernelSymbols? = kernelLoader?.wait() ?? ProfileSymbolizer.loadKernelSymbols(kallsymsPath)
    private var kernelLoader: BackgroundLoad<KernelSymbols?>? = nil

    static func loadKernelSymbols(_ path: String) -> KernelSymbols? {
        let cache = path == "/proc/kallsyms" ? PrivateCache.forCurrentUser() : nil
        let name = cache == nil ? nil : kallsymsCacheName()
        if let cache, let name, let bytes = cache.read(name, limit: maxKallsymsBytes) {
            let k = KernelSymbols(kallsymsBytes: bytes)
            if !k.isEmpty { return k }
        }
        guard let bytes = try? SystemFiles.readBytes(path, limit: maxKallsymsBytes) else { return nil }
        let k = KernelSymbols(kallsymsBytes: bytes)
        if k.isEmpty { return nil }
        // Best effort, as perf keeps ~/.debug: valid for this boot and module list. Only
        // what this user read (kptr_restrict shows a user zeros: k is empty, nothing cached).
        if let cache, let name { cache.write(name, bytes) }
        return k
    }

    /// Generating /proc/kallsyms costs the kernel ~0.1 s. Its addresses change every boot
    /// (KASLR) and its module symbols with the module list, so the key is both.
    /// /proc/kallsyms is ~10 MB on a distribution kernel; 256 MiB bounds a hostile --kallsyms file.
    static let maxKallsymsBytes = 256 << 20
    /// The largest object file read for symbols (a debug build of a browser is ~2 GB).
    static let maxObjectBytes = 4 << 30

    static func kallsymsCacheName() -> String? {
        guard let boot = SystemFiles.readTrimmed("/proc/sys/kernel/random/boot_id") else { return nil }
        // No /proc/modules: a kernel built without modules, whose symbols never change.
        let modules = (try? SystemFiles.readBytes("/proc/modules")) ?? []
        var hash: UInt64 = 0xCBF29CE484222325   // FNV-1a
        for b in modules { hash = (hash ^ UInt64(b)) &* 0x100000001B3 }
        return "kallsyms-\(boot.filter { $0.isHexDigit || $0 == "-" })-\(String(hash, radix: 16))"
    }

    /// Starts reading kernel symbols on another thread: generating /proc/kallsyms is
    /// slow in the kernel, and the perf.data file can be parsed meanwhile.
    public static func preloadKernelSymbols(_ path: String = "/proc/kallsyms") -> BackgroundLoad<KernelSymbols?> {
        BackgroundLoad { loadKernelSymbols(path) }
    }

    public func useKernelSymbols(_ loader: BackgroundLoad<KernelSymbols?>) { kernelLoader = loader }
    let kallsymsPath: String
    /// A directory prefixed to recorded paths (like perf's --symfs).
    let symfs: String

    /// BUILD_ID: each object's build id when it was recorded.
    let recordedBuildIDs: [String: String]
    /// What the caller should tell the user (a rebuilt object, ...), each once.
    public private(set) var warnings: [String] = []

    /// nil: names as the symbol tables spell them (report --no-demangle).
    let demangler: Demangler?

    public init(contents: PerfDataContents, kallsyms: String = "/proc/kallsyms", symfs: String = "", demangle: Bool = true) {
        demangler = demangle ? Demangler() : nil
        recordedBuildIDs = BuildIDEntry.byFilename(contents.buildIDs)
        for m in contents.mappings where !m.isData {   // code addresses are never in data mappings
            mapsByPID[m.pid, default: []].append(Map(start: m.start, end: m.end, pgoff: m.pgoff, file: m.filename, pid: m.pid,
                                                     name: m.filename.split(separator: "/").last.map(String.init) ?? m.filename,
                                                     time: m.time))
        }
        // In time order (file order among equal times): records of different CPUs interleave
        // in the file, and the last mapping of a range before a sample is the one it ran in.
        for (pid, maps) in mapsByPID where zip(maps, maps.dropFirst()).contains(where: { $0.time > $1.time }) {
            mapsByPID[pid] = maps.enumerated().sorted { ($0.element.time, $0.offset) < ($1.element.time, $1.offset) }.map(\.element)
        }
        forks = contents.forks
        kallsymsPath = kallsyms
        self.symfs = symfs
    }

    /// The mapping `ip` of `pid` ran in at `time`: the process's own latest mapping of the
    /// address made by then, else its parent's (a child shares them until it execs: before
    /// its exec, a child's samples are in the parent's program even where the new program
    /// is later mapped at the same addresses, as with ASLR off).
    func map(pid: Int32, ip: UInt64, time: UInt64) -> Map? {
        var p = pid
        for _ in 0..<64 {
            // Later mappings of a range replace earlier ones: search from the end.
            if let maps = mapsByPID[p], let m = maps.last(where: { $0.contains(ip, at: time) }) { return m }
            guard let parent = forks[p] else { break }
            p = parent
        }
        return mapsByPID[-1]?.last { $0.contains(ip, at: time) }
    }

    /// The recorded mapping a user-space address of `pid` (or an ancestor) fell in at `time`.
    public func mapping(pid: Int32, ip: UInt64, time: UInt64) -> MemoryMapping? {
        map(pid: pid, ip: ip, time: time).map { MemoryMapping(pid: $0.pid, start: $0.start, end: $0.end, pgoff: $0.pgoff, filename: $0.file, time: $0.time) }
    }

    func elf(_ path: String) -> ELFSymbols? {
        if let cached = elfCache[path] { return cached }
        let recorded = recordedBuildIDs[path]
        // Mapping names come from the recording: only regular files, bounded (never /dev/zero or a FIFO).
        var loaded = path.hasPrefix("/") ? readELF(symfs + path) : nil
        var mismatch: String? = nil
        if let recorded, let found = loaded?.buildID, found != recorded {
            // Rebuilt since the recording: its symbols would name functions that never ran.
            mismatch = found
            loaded = nil
        }
        if loaded == nil, let recorded { loaded = cachedObject(buildID: recorded) }
        if let mismatch, loaded == nil {
            warnings.append("\(path): its build id \(mismatch) is not the recorded \(recorded ?? "") (rebuilt since the recording?) and no build-id cache has the recorded one; its samples are shown as addresses")
        }
        // A stripped file: the same object with its symbol table, first from perf's build-id
        // cache (perf record copied it there before it was stripped), then its detached
        // debug file by build id, in perf's order; gdb looks up the latter too.
        if var e = loaded, !e.hasFullSymbolTable, let id = e.buildID, id.count > 2,
           let full = [cachedObject(buildID: id), readELF(symfs + "/usr/lib/debug/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug")]
               .compactMap({ $0 }).first(where: \.hasFullSymbolTable) {
            e.adoptSymbols(from: full)
            loaded = e
        }
        elfCache[path] = loaded
        return loaded
    }

    func readELF(_ path: String) -> ELFSymbols? {
        guard let bytes = try? SystemFiles.mapRegularFile(path, limit: ProfileSymbolizer.maxObjectBytes) else { return nil }
        return try? ELFSymbols(storage: bytes)
    }

    /// The object with this build id in perf's build-id cache ($PERF_BUILDID_DIR or
    /// ~/.debug: .build-id/ab/cdef.../elf, or the link itself in older layouts); only a
    /// file whose own build id is the one asked for.
    func cachedObject(buildID id: String) -> ELFSymbols? {
        guard id.count > 2 else { return nil }
        let entry = "/.build-id/\(id.prefix(2))/\(id.dropFirst(2))"
        for dir in buildIDDirectories {
            // perf names the cached file after its kind: elf, vdso (the [vdso] it saved), kallsyms.
            for candidate in [dir + entry + "/elf", dir + entry + "/vdso", dir + entry] {
                if let e = readELF(candidate), e.buildID == id { return e }
            }
        }
        return nil
    }

    var buildIDDirectories: [String] { ProfileSymbolizer.buildIDCacheDirectories() }

    /// perf's build-id cache: $PERF_BUILDID_DIR, else ~/.debug.
    static func buildIDCacheDirectories() -> [String] {
        let env = ProcessInfo.processInfo.environment
        if let dir = env["PERF_BUILDID_DIR"], !dir.isEmpty { return [dir] }
        return env["HOME"].map { [$0 + "/.debug"] } ?? []
    }

    /// A kernel module's name from the path perf records for it (`.../9pnet_virtio.ko.xz`,
    /// or `[name]`): the base name without `.ko` and compression, `-` read as `_` as the
    /// kernel spells module names (perf's kmod_path__parse). nil for anything else.
    static func kernelModuleName(_ path: String) -> String? {
        if path.hasPrefix("["), path.hasSuffix("]"), path != "[kernel.kallsyms]", !path.hasPrefix("[kernel.kallsyms]"),
           path != "[vdso]", path != "[vsyscall]", path != "[stack]", path != "[heap]" {
            return String(path.dropFirst().dropLast())
        }
        guard let base = path.split(separator: "/").last.map(String.init) else { return nil }
        for suffix in [".ko", ".ko.xz", ".ko.gz", ".ko.zst", ".ko.bz2"] where base.hasSuffix(suffix) && base.count > suffix.count {
            return String(base.dropLast(suffix.count)).replacingOccurrences(of: "-", with: "_")
        }
        return nil
    }

    /// perf's is_anon_memory: memory no file backs.
    static func isAnonymous(_ name: String) -> Bool {
        name == "//anon" || name.hasPrefix("/dev/zero") || name.hasPrefix("/anon_hugepage")
    }

    /// A JIT's symbol map, /tmp/perf-PID.map (`START SIZE name` in hex, one per line, the
    /// format perf reads), under --symfs; nil where there is none. Read once per process.
    private var jitMaps: [Int32: PerfMapSymbols?] = [:]
    func jitSymbols(_ pid: Int32) -> PerfMapSymbols? {
        if let known = jitMaps[pid] { return known }
        let path = symfs + "/tmp/perf-\(pid).map"
        let loaded = (try? SystemFiles.readBytes(path, limit: ProfileSymbolizer.maxKallsymsBytes)).map { PerfMapSymbols(text: String(decoding: $0, as: UTF8.self)) }
        jitMaps[pid] = loaded
        return loaded
    }

    public func resolve(pid: Int32, ip: UInt64, kernel isKernel: Bool, time: UInt64) -> ResolvedFrame {
        if isKernel || ip >= 0xFFFF_8000_0000_0000 {
            // A module's samples are its own DSO, `[9pnet]`, as perf names module maps;
            // the name from kallsyms, else from the recorded module mapping (perf records
            // one per module: its .ko path), so a PLT sample still names its module.
            let hit = kernel?.lookup(ip)
            let module = hit?.module ?? mapsByPID[-1]?.last { ip >= $0.start && ip < $0.end }.flatMap { ProfileSymbolizer.kernelModuleName($0.file) }
            return ResolvedFrame(dso: module.map { "[\($0)]" } ?? "[kernel.kallsyms]", symbol: hit?.name, isKernel: true,
                                 address: ip, symbolStart: hit?.start)
        }
        var frame = ResolvedFrame(dso: "[unknown]", symbol: nil, isKernel: false, address: ip)
        guard let m = map(pid: pid, ip: ip, time: time) else { return frame }
        if ProfileSymbolizer.isAnonymous(m.file) {
            // Anonymous executable memory is JIT code (QEMU's TCG, a JVM, V8): as perf, the
            // process's /tmp/perf-PID.map names it, the DSO is "[JIT] tid PID" and the
            // address stays the ip (perf maps anonymous memory one to one).
            frame.dso = "[JIT] tid \(m.pid)"
            if let hit = jitSymbols(m.pid)?.entry(at: ip) {
                frame.symbol = demangler?.display(hit.name) ?? hit.name
                if frame.symbol != hit.name { frame.mangledSymbol = hit.name }
                frame.symbolStart = hit.address
            }
            return frame
        }
        frame.dso = m.name
        let fileOffset = (ip - m.start) &+ m.pgoff   // ip >= m.start (the map contains it); pgoff is the file's
        frame.address = fileOffset
        if let e = elf(m.file), let vaddr = e.virtualAddress(fileOffset: fileOffset), let symbol = e.entry(at: vaddr) {
            frame.symbol = demangler?.display(symbol.name) ?? symbol.name
            if frame.symbol != symbol.name { frame.mangledSymbol = symbol.name }
            frame.symbolStart = symbol.address
        }
        return frame
    }
}

/// Work handed to a pthread (the C entry point cannot capture generic context).
private final class ThreadBody {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

/// Where the thread leaves its result; owned by the thread and the loader alike, so
/// neither outliving the other matters.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T? = nil
}

/// A value computed on its own thread; `wait()` joins it.
public final class BackgroundLoad<T>: @unchecked Sendable {
    private var thread = pthread_t()
    private let box = ResultBox<T>()
    private var joined = true

    public init(_ work: @escaping () -> T) {
        let box = self.box
        let body = Unmanaged.passRetained(ThreadBody { box.value = work() })
        if pthread_create(&thread, nil, { arg in
            let body = Unmanaged<ThreadBody>.fromOpaque(arg!).takeRetainedValue()
            body.run()
            return nil
        }, body.toOpaque()) == 0 {
            joined = false
        } else {
            body.release()
            box.value = work()
        }
    }

    public func wait() -> T {
        if !joined { pthread_join(thread, nil); joined = true }
        return box.value!
    }

    deinit { if !joined { pthread_join(thread, nil) } }
}
