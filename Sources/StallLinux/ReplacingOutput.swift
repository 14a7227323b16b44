#if canImport(Glibc)
import Glibc
#endif

/// An output file that is never written through a symbolic link and never replaces
/// what was there before there is something to replace it with (stallstat usually runs
/// as root, often in a world-writable directory where another user may have planted
/// `perf.data -> /etc/shadow`).
///
/// The new file is created beside its destination with O_EXCL and mode 0600 (a
/// recording holds addresses and command lines, as perf's), and `commit()` renames it
/// into place; whatever was at the path, a regular file or a link, is renamed to
/// `PATH.old` first when asked (perf's `perf.data.old`). rename(2) replaces a link, it
/// never follows one. A destination that is a device or FIFO (`-o /dev/null`) is
/// written directly, and a directory is refused.
public final class ReplacingOutput {
    public enum Failure: Error, CustomStringConvertible {
        case cannotCreate(path: String, errno: Int32)
        case isDirectory(path: String)
        case cannotReplace(path: String, errno: Int32)
        case cannotWrite(path: String, reason: String)

        public var description: String {
            switch self {
            case .cannotCreate(let path, let e): return "cannot create \(path): \(String(cString: strerror(e)))"
            case .isDirectory(let path): return "\(path) is a directory"
            case .cannotReplace(let path, let e): return "cannot put the new file at \(path): \(String(cString: strerror(e)))"
            case .cannotWrite(_, let reason): return reason
            }
        }
    }

    public let path: String
    public let fd: Int32
    /// The file being written, until `commit()` (nil when writing a device in place).
    public private(set) var temporaryPath: String?
    private let keepOld: Bool

    public init(path: String, mode: mode_t = 0o600, keepOld: Bool) throws {
        self.path = path
        self.keepOld = keepOld
        var st = stat()
        if lstat(path, &st) == 0 {
            let type = st.st_mode & S_IFMT
            if type == S_IFDIR { throw Failure.isDirectory(path: path) }
            if type == S_IFCHR || type == S_IFIFO || type == S_IFSOCK || type == S_IFBLK {
                // /dev/null, /dev/stdout's target: nothing to replace, write in place.
                let f = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
                if f < 0 { throw Failure.cannotCreate(path: path, errno: errno) }
                fd = f
                temporaryPath = nil
                return
            }
        }
        let slash = path.lastIndex(of: "/")
        let dir = slash.map { String(path[..<$0]) } ?? "."
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        var template = Array("\(dir.isEmpty ? "" : dir)/.\(name).XXXXXX".utf8CString)
        // mkstemp: O_CREAT | O_EXCL with a fresh name, so nothing there can be followed.
        let f = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        if f < 0 { throw Failure.cannotCreate(path: path, errno: errno) }
        _ = fcntl(f, F_SETFD, FD_CLOEXEC)
        _ = fchmod(f, mode)
        fd = f
        temporaryPath = String(cString: template)
    }

    /// Puts the new file at `path` (once; later writes go on through `fd`).
    public func commit() throws {
        guard let temporaryPath else { return }
        var st = stat()
        if keepOld, lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK || st.st_size > 0 {
            if rename(path, path + ".old") != 0 { throw Failure.cannotReplace(path: path + ".old", errno: errno) }
        }
        if rename(temporaryPath, path) != 0 { throw Failure.cannotReplace(path: path, errno: errno) }
        self.temporaryPath = nil
    }

    /// Removes the new file: what was at `path` stays as it was.
    public func discard() {
        if let temporaryPath { unlink(temporaryPath) }
        temporaryPath = nil
    }

    deinit {
        discard()
        close(fd)
    }
}
