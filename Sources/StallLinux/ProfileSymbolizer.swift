import StallCore

/// Resolves sampled addresses through the recorded mappings: ELF .symtab/.dynsym of
/// the mapped files (PIE and shared objects via their PT_LOAD segments), the kernel
/// through /proc/kallsyms when readable, `[unknown]` otherwise. Results are cached.
public final class ProfileSymbolizer {
    struct Map { var start: UInt64; var end: UInt64; var pgoff: UInt64; var file: String }
    private var mapsByPID: [Int32: [Map]] = [:]
    private let forks: [Int32: Int32]
    private var elfCache: [String: ELFSymbols?] = [:]
    private var cache: [UInt64: ResolvedFrame] = [:]
    private var cachePID: [Int32: [UInt64: ResolvedFrame]] = [:]
    private lazy var kernel: KernelSymbols? = {
        guard let text = try? SystemFiles.readText(kallsymsPath) else { return nil }
        let k = KernelSymbols(kallsyms: text)
        return k.isEmpty ? nil : k
    }()
    let kallsymsPath: String
    /// A directory prefixed to recorded paths (like perf's --symfs).
    let symfs: String

    public init(contents: PerfDataContents, kallsyms: String = "/proc/kallsyms", symfs: String = "") {
        for m in contents.mappings {
            mapsByPID[m.pid, default: []].append(Map(start: m.start, end: m.end, pgoff: m.pgoff, file: m.filename))
        }
        forks = contents.forks
        kallsymsPath = kallsyms
        self.symfs = symfs
    }

    func map(pid: Int32, ip: UInt64) -> Map? {
        var p = pid
        for _ in 0..<64 {
            // Later mappings of a range replace earlier ones: search from the end.
            if let maps = mapsByPID[p], let m = maps.last(where: { ip >= $0.start && ip < $0.end }) { return m }
            guard let parent = forks[p] else { break }
            p = parent
        }
        return mapsByPID[-1]?.last { ip >= $0.start && ip < $0.end }
    }

    func elf(_ path: String) -> ELFSymbols? {
        if let cached = elfCache[path] { return cached }
        var loaded: ELFSymbols? = nil
        if path.hasPrefix("/"), let bytes = try? SystemFiles.readBytes(symfs + path) { loaded = try? ELFSymbols(bytes: bytes) }
        // A stripped file: its detached debug file by build id, as perf and gdb look it up.
        if var e = loaded, !e.hasFullSymbolTable, let id = e.buildID, id.count > 2 {
            let debugPath = symfs + "/usr/lib/debug/.build-id/\(id.prefix(2))/\(id.dropFirst(2)).debug"
            if let bytes = try? SystemFiles.readBytes(debugPath), let debug = try? ELFSymbols(bytes: bytes) {
                e.adoptSymbols(from: debug)
                loaded = e
            }
        }
        elfCache[path] = loaded
        return loaded
    }

    public func resolve(pid: Int32, ip: UInt64, kernel isKernel: Bool) -> ResolvedFrame {
        if isKernel || ip >= 0xFFFF_8000_0000_0000 {
            if let f = cache[ip] { return f }
            let f = ResolvedFrame(dso: "[kernel.kallsyms]", symbol: kernel?.symbol(at: ip), isKernel: true)
            cache[ip] = f
            return f
        }
        if let f = cachePID[pid]?[ip] { return f }
        var frame = ResolvedFrame(dso: "[unknown]", symbol: nil, isKernel: false)
        if let m = map(pid: pid, ip: ip) {
            let name = m.file.split(separator: "/").last.map(String.init) ?? m.file
            frame.dso = name
            if let e = elf(m.file) {
                let fileOffset = ip - m.start + m.pgoff
                if let vaddr = e.virtualAddress(fileOffset: fileOffset) { frame.symbol = e.symbol(at: vaddr) }
            }
        }
        cachePID[pid, default: [:]][ip] = frame
        return frame
    }
}
