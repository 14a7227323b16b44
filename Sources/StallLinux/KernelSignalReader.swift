import StallCore

/// Reads the cumulative /proc values behind `pressure:*` and `vmstat:*` events.
public struct KernelSignalReader {
    public var kinds: [KernelSignalKind]
    public var procRoot: String

    let vmstatNames: [String]

    public init(kinds: [KernelSignalKind], procRoot: String = "/proc") {
        self.kinds = kinds
        self.procRoot = procRoot
        vmstatNames = kinds.compactMap { if case .vmstat(let c) = $0 { return c } else { return nil } }
    }

    /// Values per kind; a kind whose file is missing (no PSI in this kernel) is absent.
    public func read() -> [KernelSignalKind: UInt64] {
        guard !kinds.isEmpty else { return [:] }
        var pressure: [String: PressureStall] = [:]
        var vmstat: VMStat? = nil
        for kind in kinds {
            switch kind {
            case .pressure(let resource, _) where pressure[resource] == nil:
                if let text = try? SystemFiles.readText("\(procRoot)/pressure/\(resource)"),
                   let parsed = try? PressureStall.parse(text) { pressure[resource] = parsed }
            case .vmstat where vmstat == nil:
                if let bytes = try? SystemFiles.readBytes("\(procRoot)/vmstat") { vmstat = VMStat.scan(bytes, wanted: vmstatNames) }
            default: break
            }
        }
        var values: [KernelSignalKind: UInt64] = [:]
        for kind in kinds { values[kind] = kind.value(pressure: pressure, vmstat: vmstat) }
        return values
    }
}
