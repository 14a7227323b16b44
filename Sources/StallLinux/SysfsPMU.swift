import StallCore

/// A PMU the kernel exposes under /sys/bus/event_source/devices.
public struct SysfsPMU: Equatable, Sendable {
    public var name: String
    public var type: UInt32
    public var formats: [String: PMUFormatField]
    /// CPUs this PMU covers (`cpus` or `cpumask`), empty when the file is absent.
    public var cpus: [Int]
    /// `caps/slots` on Arm core PMUs: the pipeline slot width.
    public var slots: Int?
    /// On Arm core PMUs, the common events `events/` lists (the core's PMCEID); nil
    /// elsewhere or when the directory is absent.
    public var armAdvertisement: ArmEventAdvertisement? = nil

    /// True for a CPU core PMU (as opposed to software, tracepoint, uncore...).
    public var isCorePMU: Bool { SysfsPMU.isCorePMUName(name) }

    public static func isArmCorePMUName(_ name: String) -> Bool {
        name.hasPrefix("armv8_") || name.hasPrefix("armv9_") || name.hasPrefix("armv7_") || name.hasPrefix("arm_cortex") || name.hasPrefix("arm_neoverse")
    }

    public static func isCorePMUName(_ name: String) -> Bool {
        ["cpu", "cpu_core", "cpu_atom"].contains(name) || isArmCorePMUName(name)
    }
}

public struct SysfsPMUs: Sendable {
    public var root: String
    public var pmus: [SysfsPMU]

    public static let defaultRoot = "/sys/bus/event_source/devices"

    public init(root: String = SysfsPMUs.defaultRoot) {
        self.root = root
        var found: [SysfsPMU] = []
        for name in SystemFiles.listDirectory(root) {
            let dir = "\(root)/\(name)"
            guard let typeText = SystemFiles.readTrimmed("\(dir)/type"), let type = UInt32(typeText) else { continue }
            var formats: [String: PMUFormatField] = [:]
            for term in SystemFiles.listDirectory("\(dir)/format") {
                if let text = SystemFiles.readTrimmed("\(dir)/format/\(term)"), let f = PMUFormatField.parse(text) {
                    formats[term] = f
                }
            }
            let cpuText = SystemFiles.readTrimmed("\(dir)/cpus") ?? SystemFiles.readTrimmed("\(dir)/cpumask")
            let cpus = cpuText.flatMap { try? CPUList.parse($0) } ?? []
            let slots = SystemFiles.readTrimmed("\(dir)/caps/slots").flatMap { text -> Int? in
                text.hasPrefix("0x") ? Int(text.dropFirst(2), radix: 16) : Int(text)
            }
            var pmu = SysfsPMU(name: name, type: type, formats: formats, cpus: cpus, slots: slots)
            if SysfsPMU.isArmCorePMUName(name) {
                let files = SystemFiles.listDirectory("\(dir)/events")
                if !files.isEmpty {
                    pmu.armAdvertisement = ArmEventAdvertisement(aliases: files.compactMap { f in
                        SystemFiles.readTrimmed("\(dir)/events/\(f)").map { (name: f, text: $0) }
                    })
                }
            }
            found.append(pmu)
        }
        pmus = found
    }

    public func named(_ name: String) -> SysfsPMU? { pmus.first { $0.name == name } }

    /// The text of an event alias file (`events/tsc` holds `event=0x00`), read on demand.
    public func alias(pmu: String, event: String) -> String? {
        guard !event.contains("/"), !event.hasPrefix(".") else { return nil }
        return SystemFiles.readTrimmed("\(root)/\(pmu)/events/\(event)")
    }

    public var corePMUs: [SysfsPMU] { pmus.filter(\.isCorePMU) }
    public var hasHardwarePMU: Bool { !corePMUs.isEmpty }
    /// An Intel hybrid part (cpu_core and cpu_atom): perf prints each core type's count
    /// as its own row (`cpu_core/cycles/`, `cpu_atom/cycles/`) unless --hybrid-merge.
    public var isIntelHybrid: Bool { pmus.contains { $0.name == "cpu_atom" } && pmus.contains { $0.name == "cpu_core" } }
}
