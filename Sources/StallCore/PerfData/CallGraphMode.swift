/// How `record` collects call chains: perf's `-g` / `--call-graph fp|dwarf[,SIZE]`.
public enum CallGraphMode: Equatable, Sendable {
    /// The kernel walks frame pointers (PERF_SAMPLE_CALLCHAIN).
    case framePointers
    /// Each sample copies the user registers and `stackBytes` of user stack; report
    /// unwinds them with the binaries' DWARF call-frame information.
    case dwarf(stackBytes: UInt32)

    /// perf's default dump size, and its maximum (a sample is at most 64 KiB, so the
    /// largest multiple of 8 below USHRT_MAX).
    public static let defaultStackBytes: UInt32 = 8192
    public static let maxStackBytes: UInt64 = 65528

    public struct ParseError: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// "fp", "dwarf", "dwarf,16384" (rounded up to a multiple of 8, as perf does).
    public static func parse(_ text: String) throws -> CallGraphMode {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { String($0).trimmingWhitespace() }
        switch parts[0] {
        case "fp":
            guard parts.count == 1 else { throw ParseError(description: "--call-graph fp takes no size") }
            return .framePointers
        case "dwarf":
            guard parts.count <= 2 else { throw ParseError(description: "--call-graph dwarf[,SIZE]: one size at most") }
            guard parts.count == 2 else { return .dwarf(stackBytes: defaultStackBytes) }
            guard let n = UInt64(parts[1]), n > 0, n <= maxStackBytes else {
                throw ParseError(description: "--call-graph dwarf,SIZE: SIZE must be a number of bytes from 8 to \(maxStackBytes) (perf's limit), not '\(parts[1])'")
            }
            return .dwarf(stackBytes: UInt32((n + 7) / 8 * 8))
        case "lbr":
            throw ParseError(description: "--call-graph lbr needs Intel's Last Branch Record, which stallstat does not read; use dwarf or fp")
        default:
            throw ParseError(description: "--call-graph '\(text)': expected fp, dwarf or dwarf,SIZE")
        }
    }
}
