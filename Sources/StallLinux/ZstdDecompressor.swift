#if canImport(Glibc)
import Glibc
#endif
import CZstd
import StallCore

/// `perf record -z` payloads through libzstd, one stream for the whole file (as perf
/// decompresses them); the decompressed records of a file are bounded.
public final class ZstdDecompressor: RecordDecompressor {
    private let stream: OpaquePointer?
    /// The most decompressed bytes one compressed record may produce (perf's own records
    /// hold at most one ring buffer's worth; a crafted record may claim any ratio).
    public static let maxRecordBytes = 1 << 30

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public init() { stream = czs_create() }
    deinit { czs_free(stream) }

    public func decompress(_ payload: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let stream else { throw Failure(description: "zstd: cannot create a decompression stream") }
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0, capacity = 0
        var error: UnsafePointer<CChar>? = nil
        defer { free(out) }
        let rc = czs_decompress(stream, payload.baseAddress, payload.count, &out, &length, &capacity, ZstdDecompressor.maxRecordBytes, &error)
        if rc == -2 { throw Failure(description: "zstd: a compressed record decompresses to more than \(ZstdDecompressor.maxRecordBytes >> 20) MiB") }
        if rc != 0 { throw Failure(description: "zstd: \(error.map { String(cString: $0) } ?? "decompression failed")") }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }
}
