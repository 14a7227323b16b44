#if canImport(Glibc)
import Glibc
#endif
import StallCore

/// A perf.data file being recorded. It owns the descriptor and keeps the file readable at
/// every moment: the header and attributes are written first, each append of whole
/// records is followed by a header that counts it (a recording killed at any point is a
/// valid file), an append that fails part way (disk full) is cut off so the file ends on
/// a whole record, and `finish` writes the features after the data.
///
/// The bytes' layout is `PerfDataLayout`'s (pure, in StallCore); this type only writes.
public final class PerfDataFileWriter {
    public let output: ReplacingOutput
    public let layout: PerfDataLayout
    /// Bytes of records in the data section so far.
    public private(set) var dataSize = 0
    /// The first write that failed; nothing is appended after it.
    public private(set) var writeError: String?

    /// Writes the header (no data yet) and the attributes; throws the write's error text.
    public init(output: ReplacingOutput, layout: PerfDataLayout) throws {
        self.output = output
        self.layout = layout
        guard write(layout.header(dataSize: 0, features: []), at: 0), write(layout.attrsAndIDs(), at: layout.attrsOffset) else {
            throw ReplacingOutput.Failure.cannotWrite(path: output.path, reason: writeError ?? "no progress")
        }
    }

    /// Appends whole records to the data section. False (and nothing kept of them) when
    /// the write failed, or an earlier one did.
    @discardableResult
    public func append(_ bytes: [UInt8]) -> Bool {
        guard writeError == nil, !bytes.isEmpty else { return false }
        guard write(bytes, at: layout.dataOffset + dataSize) else {
            _ = ftruncate(output.fd, off_t(layout.dataOffset + dataSize))
            return false
        }
        dataSize += bytes.count
        _ = write(layout.header(dataSize: dataSize, features: []), at: 0)
        return true
    }

    /// Writes the features after the data and the final header; returns the features the
    /// file holds (none if they could not be written: the data stays readable without them).
    @discardableResult
    public func finish(_ description: PerfDataLayout.Description?) -> [PerfData.Feature] {
        var features: [PerfData.Feature] = []
        if writeError == nil, let description {
            let (bytes, f) = layout.features(description, at: layout.dataOffset + dataSize)
            if write(bytes, at: layout.dataOffset + dataSize) { features = f } else {
                _ = ftruncate(output.fd, off_t(layout.dataOffset + dataSize))
            }
        }
        _ = write(layout.header(dataSize: dataSize, features: features), at: 0)
        return features
    }

    /// pwrite until done; the first failure is kept in `writeError`.
    private func write(_ bytes: [UInt8], at offset: Int) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { pwrite(output.fd, $0.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                if writeError == nil {
                    writeError = "writing \(output.path) failed: " + (n < 0 ? String(cString: strerror(errno)) : "no progress")
                }
                return false
            }
            done += n
        }
        return true
    }
}
