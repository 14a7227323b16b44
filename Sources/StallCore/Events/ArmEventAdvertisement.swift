/// What an Arm core PMU says it implements. PMCEID0-3 have one bit per common event
/// (0x0000-0x003F and, from PMUv3p1, 0x4000-0x403F); the kernel's armv8_pmuv3 driver
/// lists in the PMU's sysfs `events/` exactly the common events whose bit is set
/// (armv8pmu_event_attr_is_visible). Implementation-defined events (0x0040-0x3FFF)
/// have no PMCEID bit: nothing says whether the core counts them.
public struct ArmEventAdvertisement: Equatable, Sendable {
    /// The codes of the events the PMU lists (its `events/NAME` files, `event=0xNN`).
    public var listed: Set<UInt64>

    public init(listed: Set<UInt64>) { self.listed = listed }

    /// From the PMU's event alias files: (file name, contents such as `event=0x23`).
    public init(aliases: [(name: String, text: String)]) {
        var codes = Set<UInt64>()
        for (_, text) in aliases {
            for term in text.split(separator: ",") {
                let kv = term.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
                guard kv.count == 2, kv[0] == "event" else { continue }
                let v = kv[1].lowercased()
                if let n = v.hasPrefix("0x") ? UInt64(v.dropFirst(2), radix: 16) : UInt64(v) { codes.insert(n) }
            }
        }
        listed = codes
    }

    public enum Status: Equatable, Sendable {
        /// A common event the PMU lists: PMCEID says the core counts it.
        case implemented
        /// A common event the PMU does not list: the core does not count it (it reads 0).
        case notImplemented
        /// Implementation defined: PMCEID does not cover it.
        case implementationDefined
    }

    public static func isCommon(_ code: UInt64) -> Bool { code <= 0x3F || (0x4000...0x403F).contains(code) }

    public func status(_ code: UInt64) -> Status {
        guard ArmEventAdvertisement.isCommon(code) else { return .implementationDefined }
        return listed.contains(code) ? .implemented : .notImplemented
    }

    /// The `list` mark for an event code.
    public func mark(_ code: UInt64, pmu: String) -> String {
        switch status(code) {
        case .implemented: return "[implemented]"
        case .notImplemented: return "[not implemented by \(pmu): absent from PMCEID]"
        case .implementationDefined: return "[implementation defined: not in PMCEID, unverified]"
        }
    }
}
