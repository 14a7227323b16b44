#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent

/// A per-user cache directory (`$XDG_CACHE_HOME/stallstat` or `~/.cache/stallstat`) that
/// only its owner can read, used only when it is the running user's own: root running
/// with another user's HOME gets no cache, rather than reading that user's files or
/// leaving the kernel's addresses (hidden from the user by kptr_restrict) in a place the
/// user controls. Files are opened without following links and must be the user's own,
/// 0600, regular and of a bounded size.
public struct PrivateCache {
    public let directory: String

    /// nil when no safe directory can be had (the reason is not worth a warning: the
    /// cache only saves time).
    public init?(base: String) {
        let uid = geteuid()
        func owned(_ path: String, privateMode: Bool) -> Bool {
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR, st.st_uid == uid else { return false }
            return !privateMode || st.st_mode & 0o077 == 0
        }
        guard base.hasPrefix("/") else { return nil }
        var st = stat()
        if lstat(base, &st) != 0 {
            // ~/.cache missing: create it only inside a home that is ours.
            let parent = String(base[..<(base.lastIndex(of: "/") ?? base.startIndex)])
            guard !parent.isEmpty, owned(parent, privateMode: false), mkdir(base, 0o700) == 0 else { return nil }
        }
        guard owned(base, privateMode: false) else { return nil }
        let dir = base + "/stallstat"
        if lstat(dir, &st) != 0 { _ = mkdir(dir, 0o700) }
        guard owned(dir, privateMode: true) else { return nil }
        directory = dir
    }

    /// The user's default: $XDG_CACHE_HOME, else $HOME/.cache.
    public static func forCurrentUser() -> PrivateCache? {
        guard let base = environment("XDG_CACHE_HOME") ?? environment("HOME").map({ $0 + "/.cache" }) else { return nil }
        return PrivateCache(base: base)
    }

    /// The file's bytes when it is ours, private, regular and at most `limit` bytes.
    public func read(_ name: String, limit: Int) -> [UInt8]? {
        guard !name.contains("/") else { return nil }
        let fd = open(directory + "/" + name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_uid == geteuid(), st.st_mode & 0o077 == 0,
              st.st_size <= limit else { return nil }
        var buffer: UnsafeMutablePointer<UInt8>? = nil
        let n = cpe_read_fd_max(fd, limit, &buffer)
        guard n >= 0 else { return nil }
        defer { free(buffer) }
        return Array(UnsafeBufferPointer(start: buffer, count: n))
    }

    /// Writes a new private file and renames it over `name`.
    public func write(_ name: String, _ bytes: [UInt8]) {
        guard !name.contains("/"), let out = try? ReplacingOutput(path: directory + "/" + name, mode: 0o600, keepOld: false) else { return }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(out.fd, $0.baseAddress! + done, bytes.count - done) }
            if n <= 0 { if n < 0 && errno == EINTR { continue }; return }   // discarded by deinit
            done += n
        }
        try? out.commit()
    }
}
