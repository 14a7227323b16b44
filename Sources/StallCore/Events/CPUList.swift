/// The kernel's CPU list syntax ("0-3,5,8-9"), used by -C and by
/// /sys/devices/system/cpu/online.
public enum CPUList {
    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformed(String)
        public var description: String {
            switch self {
            case .malformed(let s): return "cannot read CPU list '\(s)': expected numbers and ranges such as 0-3,5"
            }
        }
    }

    public static func parse(_ text: String) throws -> [Int] {
        var cpus: [Int] = []
        let trimmed = text.trimmingWhitespace()
        guard !trimmed.isEmpty else { throw ParseError.malformed(text) }
        for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count <= 2, let lo = Int(ends[0]), lo >= 0 else { throw ParseError.malformed(text) }
            let hi = ends.count == 2 ? Int(ends[1]) : lo
            guard let hi, hi >= lo, hi - lo < 65536 else { throw ParseError.malformed(text) }
            cpus.append(contentsOf: lo...hi)
        }
        var seen = Set<Int>()
        return cpus.filter { seen.insert($0).inserted }
    }
}

extension CPUList {
    /// [0,1,2,3,5] → "0-3,5"
    public static func format(_ cpus: [Int]) -> String {
        let s = Array(Set(cpus)).sorted()
        var parts: [String] = []
        var i = 0
        while i < s.count {
            var j = i
            while j + 1 < s.count, s[j + 1] == s[j] + 1 { j += 1 }
            parts.append(i == j ? "\(s[i])" : "\(s[i])-\(s[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
