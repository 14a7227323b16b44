/// What one logical CPU is, from MIDR (Arm) or vendor/family/model (x86).
public enum CPUIdentity: Hashable, Sendable, CustomStringConvertible {
    case arm(implementer: UInt32, part: UInt32)
    /// `stepping` tells apart models that share a number (Skylake-X and Cascade Lake-X: 0x55).
    case x86(vendor: CPUVendor, family: Int, model: Int, stepping: Int? = nil)
    case unknown(String)

    /// MIDR_EL1: implementer bits 31:24, part number bits 15:4.
    public static func fromMIDR(_ midr: UInt64) -> CPUIdentity {
        .arm(implementer: UInt32((midr >> 24) & 0xFF), part: UInt32((midr >> 4) & 0xFFF))
    }

    public var description: String {
        switch self {
        case .arm(let i, let p): return "Arm implementer 0x\(String(i, radix: 16)) part 0x\(String(p, radix: 16))"
        case .x86(let v, let f, let m, let s):
            return "\(v.rawValue) family 0x\(String(f, radix: 16)) model 0x\(String(m, radix: 16))" + (s.map { " stepping \($0)" } ?? "")
        case .unknown(let why): return "unknown CPU (\(why))"
        }
    }
}

/// /proc/cpuinfo, per processor block (Arm: "CPU implementer"/"CPU part"; x86:
/// vendor_id / cpu family / model / stepping).
public enum CPUInfoParser {
    public static func parse(_ text: String) -> [Int: CPUIdentity] {
        var result: [Int: CPUIdentity] = [:]
        var fields: [String: String] = [:]
        func flush() {
            defer { fields = [:] }
            guard let p = fields["processor"], let cpu = Int(p) else { return }
            // MIDR_EL1 has an 8-bit implementer and a 12-bit part number: wider values are not a MIDR.
            if let imp = fields["CPU implementer"].flatMap(parseHex), let part = fields["CPU part"].flatMap(parseHex) {
                guard imp <= 0xFF, part <= 0xFFF else { result[cpu] = .unknown("CPU implementer \(fields["CPU implementer"]!) / part \(fields["CPU part"]!) out of range"); return }
                result[cpu] = .arm(implementer: UInt32(imp), part: UInt32(part))
            } else if let vendor = fields["vendor_id"], let fam = fields["cpu family"].flatMap({ Int($0) }),
                      let model = fields["model"].flatMap({ Int($0) }) {
                let v: CPUVendor? = vendor == "GenuineIntel" ? .intel : (vendor == "AuthenticAMD" || vendor == "HygonGenuine" ? .amd : nil)
                let stepping = fields["stepping"].flatMap { Int($0) }
                result[cpu] = v.map { .x86(vendor: $0, family: fam, model: model, stepping: stepping) } ?? .unknown("vendor \(vendor)")
            } else {
                result[cpu] = .unknown("no implementer/part or vendor/family/model in /proc/cpuinfo")
            }
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingWhitespace().isEmpty { flush(); continue }
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[line[..<colon].trimmingWhitespace()] = line[line.index(after: colon)...].trimmingWhitespace()
        }
        flush()
        return result
    }
}
