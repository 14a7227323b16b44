#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CPerfEvent
import StallCore

/// An errno with the C library's text.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public var errno: Int32
    public var operation: String
    public init(errno: Int32, operation: String) {
        self.errno = errno
        self.operation = operation
    }
    public var description: String { "\(operation): \(String(cString: strerror(errno)))" }
}

public struct InputTooLarge: Error, CustomStringConvertible {
    public var path: String
    public var limit: Int
    public var description: String { "\(path) holds more than \(limit >> 20) MiB, the most this command reads (is it the right file?)" }
}

/// Small, Foundation-free file access (start-up time matters: `stat -- true` must beat perf).
public enum SystemFiles {
    public static func readText(_ path: String) throws -> String {
        String(decoding: try readBytes(path), as: UTF8.self)
    }

    /// At most `limit` bytes of a file ("-": standard input); a longer input is an error
    /// that says so (reading /dev/zero ends there instead of at the OOM killer).
    public static func readText(_ path: String, limit: Int) throws -> String {
        try bounded(path, limit) { path == "-" ? cpe_read_fd_max(0, limit, &$0) : cpe_read_file_max(path, limit, &$0) } as String
    }

    /// At most `limit` bytes of standard input.
    public static func readStandardInput(limit: Int) throws -> [UInt8] {
        try bounded("-", limit) { cpe_read_fd_max(0, limit, &$0) } as [UInt8]
    }

    /// At most `limit` bytes of a file (InputTooLarge past it).
    public static func readBytes(_ path: String, limit: Int) throws -> [UInt8] {
        try bounded(path, limit) { cpe_read_file_max(path, limit, &$0) } as [UInt8]
    }

    /// A regular file named by untrusted data (a recording's mapping names): a device
    /// (/dev/zero), FIFO or directory is refused without reading or blocking, and the
    /// size is bounded.
    public static func readRegularFile(_ path: String, limit: Int) throws -> [UInt8] {
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        guard size <= limit else { throw InputTooLarge(path: path, limit: limit) }
        return try bounded(path, limit) { cpe_read_fd_max(fd, limit, &$0) } as [UInt8]
    }

    /// A regular file mapped read-only (a FIFO or device is refused, as readRegularFile
    /// refuses it): for object files, of which a report reads only the symbol tables. The
    /// pages read are file-backed and shared with the page cache, not copies.
    public static func mapRegularFile(_ path: String, limit: Int) throws -> ByteStorage {
        let (fd, size) = try openRegularFile(path)
        defer { close(fd) }
        guard size <= limit else { throw InputTooLarge(path: path, limit: limit) }
        guard size > 0 else { return ByteStorage([]) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SystemError(errno: errno, operation: "mmap \(path)")
        }
        return ByteStorage(pointer: UnsafeRawBufferPointer(start: p, count: size), release: { munmap(p, size) })
    }

    /// The first `count` bytes (or fewer) of a regular file, with the same refusals as
    /// readRegularFile: for headers (an ELF's notes) without reading a whole object.
    public static func readRegularFilePrefix(_ path: String, bytes count: Int) throws -> [UInt8] {
        let (fd, _) = try openRegularFile(path)
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: max(0, count))
        var done = 0
        while done < buffer.count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 { if errno == EINTR { continue }; throw SystemError(errno: errno, operation: "read \(path)") }
            if n == 0 { break }
            done += n
        }
        return Array(buffer.prefix(done))
    }

    /// Opens a path for reading only if it is a regular file (O_NONBLOCK: a FIFO never
    /// blocks the open); the caller closes the fd.
    private static func openRegularFile(_ path: String) throws -> (fd: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd < 0 { throw SystemError(errno: errno, operation: "open \(path)") }
        var st = stat()
        guard fstat(fd, &st) == 0 else { let e = errno; close(fd); throw SystemError(errno: e, operation: "stat \(path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { close(fd); throw SystemError(errno: EINVAL, operation: "\(path) is not a regular file; not read") }
        return (fd, Int(st.st_size))
    }

    /// Runs one of the C bounded readers and turns its result into bytes or text.
    private static func bounded<T: BoundedReadResult>(_ path: String, _ limit: Int, _ read: (inout UnsafeMutablePointer<UInt8>?) -> Int) throws -> T {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        let n = read(&buffer)
        if n == -Int(EFBIG) { throw InputTooLarge(path: path, limit: limit) }
        if n < 0 { throw SystemError(errno: Int32(-n), operation: "read \(path)") }
        defer { free(buffer) }
        return T(UnsafeBufferPointer(start: buffer, count: n))
    }

    public static func readBytes(_ path: String) throws -> [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        let n = cpe_read_file(path, &buffer)
        if n < 0 { throw SystemError(errno: Int32(-n), operation: "read \(path)") }
        defer { free(buffer) }
        return Array(UnsafeBufferPointer(start: buffer, count: n))
    }

    /// A read-only mapping of a regular file: large perf.data files are read in place.
    public static func map(_ path: String) throws -> ByteStorage {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw SystemError(errno: errno, operation: "open \(path)") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SystemError(errno: errno, operation: "stat \(path)") }
        let size = Int(st.st_size)
        guard (st.st_mode & S_IFMT) == S_IFREG, size > 0 else { return ByteStorage(try readBytes(path)) }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw SystemError(errno: errno, operation: "mmap \(path)")
        }
        _ = madvise(p, size, MADV_SEQUENTIAL)
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        return ByteStorage(pointer: UnsafeRawBufferPointer(start: p, count: size), release: { munmap(p, size) },
                           discardBefore: { offset in
                               // The header and feature table are at the start and end: keep the first page.
                               let end = min(offset, size) / page * page
                               if end > page { _ = madvise(p + page, end - page, MADV_DONTNEED) }
                           })
    }

    public static func readTrimmed(_ path: String) -> String? {
        (try? readText(path))?.trimmingWhitespace()
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    public static func listDirectory(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Writes a whole file (gate baselines and reports, plots) as `-o` files are written:
    /// never through a symbolic link, and what was at the path stays until the new file is
    /// complete (`ReplacingOutput`). Appending refuses a link.
    public static func writeText(_ text: String, to path: String, append: Bool = false) throws {
        try writeBytes(Array(text.utf8), to: path, append: append)
    }

    /// A whole file, written as the -o files are: through ReplacingOutput (a planted
    /// symlink is replaced, never followed; the old file stays until the new one is
    /// complete); appending refuses a link.
    public static func writeBytes(_ bytes: [UInt8], to path: String, append: Bool = false) throws {
        var replacing: ReplacingOutput? = nil
        let fd: Int32
        if append {
            fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND | O_NOFOLLOW, 0o644)
            if fd < 0 { throw SystemError(errno: errno, operation: "open \(path) for writing") }
        } else {
            replacing = try ReplacingOutput(path: path, mode: 0o644, keepOld: false)
            fd = replacing!.fd
        }
        defer { if replacing == nil { close(fd) } }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, operation: "write \(path)")
            }
            offset += n
        }
        try replacing?.commit()
    }
}

/// Standard error, unbuffered, for warnings and progress.
public enum StandardError {
    public static func write(_ line: String) {
        let text = line.hasSuffix("\n") ? line : line + "\n"
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}

/// Standard output for results.
public enum StandardOutput {
    /// The first write failure (ENOSPC on /dev/full, EPIPE...), reported once when the
    /// command ends: a report that could not be written is not a success.
    nonisolated(unsafe) public private(set) static var failure: Int32? = nil

    public static func write(_ text: String) {
        guard failure == nil else { return }
        var bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(1, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { failure = n < 0 ? errno : EIO; return }
            offset += n
        }
    }
}

func environment(_ name: String) -> String? {
    guard let v = getenv(name) else { return nil }
    let s = String(cString: v)
    return s.isEmpty ? nil : s
}

func executablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    buffer[n] = 0
    return String(cString: buffer)
}

/// What a bounded read can be returned as.
protocol BoundedReadResult { init(_ bytes: UnsafeBufferPointer<UInt8>) }
extension Array: BoundedReadResult where Element == UInt8 {}
extension String: BoundedReadResult {
    init(_ bytes: UnsafeBufferPointer<UInt8>) { self = String(decoding: bytes, as: UTF8.self) }
}
