import StallCore

/// Each online CPU's identity and core PMU, so `-a` on a big.LITTLE phone opens each
/// CPU's events with that CPU's codes and its cluster's PMU type.
public struct CPUTopology: Sendable {
    public var identities: [Int: CPUIdentity]
    /// The core PMU covering each CPU (from the PMU's sysfs `cpus` list), if any.
    public var corePMU: [Int: SysfsPMU]
    /// Arm: each CPU's whole MIDR_EL1 (variant and revision too: formulas gate on them).
    public var midrs: [Int: UInt64] = [:]

    public init(identities: [Int: CPUIdentity], corePMU: [Int: SysfsPMU], midrs: [Int: UInt64] = [:]) {
        self.identities = identities
        self.corePMU = corePMU
        self.midrs = midrs
    }

    /// sysRoot is "/sys" normally; tests hand a fake tree.
    public static func detect(sysRoot: String = "/sys", procRoot: String = "/proc", pmus: SysfsPMUs? = nil) -> CPUTopology {
        let cpuDir = "\(sysRoot)/devices/system/cpu"
        let online = SystemFiles.readTrimmed("\(cpuDir)/online").flatMap { try? CPUList.parse($0) }
            ?? SystemFiles.listDirectory(cpuDir).compactMap { $0.hasPrefix("cpu") ? Int($0.dropFirst(3)) : nil }
        var ids: [Int: CPUIdentity] = [:]
        var midrs: [Int: UInt64] = [:]
        for cpu in online {
            if let text = SystemFiles.readTrimmed("\(cpuDir)/cpu\(cpu)/regs/identification/midr_el1"),
               let midr = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text) {
                ids[cpu] = .fromMIDR(midr)
                midrs[cpu] = midr
            }
        }
        if ids.count < online.count, let info = try? SystemFiles.readText("\(procRoot)/cpuinfo") {
            let parsed = CPUInfoParser.parse(info)
            for cpu in online where ids[cpu] == nil { ids[cpu] = parsed[cpu] ?? .unknown("not in /proc/cpuinfo") }
        }
        let sysfs = pmus ?? SysfsPMUs(root: "\(sysRoot)/bus/event_source/devices")
        var pmuFor: [Int: SysfsPMU] = [:]
        let cores = sysfs.corePMUs
        for cpu in online {
            if let p = cores.first(where: { $0.cpus.contains(cpu) }) { pmuFor[cpu] = p }
            else if cores.count == 1 { pmuFor[cpu] = cores[0] }
        }
        return CPUTopology(identities: ids, corePMU: pmuFor, midrs: midrs)
    }

    /// The table model of each CPU (nil where the tables do not know the core).
    public func models(in tables: EventTableSet) -> [Int: CPUModel] {
        var result: [Int: CPUModel] = [:]
        for (cpu, id) in identities {
            switch id {
            case .arm(let imp, let part): result[cpu] = tables.model(armImplementer: imp, part: part)
            case .x86(let v, let f, let m, let s):
                // Hybrid parts: the CPU's core PMU (cpu_core, cpu_atom) picks its core type's table.
                result[cpu] = tables.model(x86Vendor: v, family: f, model: m, stepping: s, corePMU: corePMU[cpu]?.name)
            case .unknown: break
            }
        }
        return result
    }
}
