/// `stallstat encode` lines: `NAME [cpus=L] type=N config=0x.. config1=0x.. config2=0x.. (source)`.
public enum EncodeFormatter {
    public static func line(_ name: String, _ a: EventAttr, _ source: EventSource, cpus: String? = nil) -> String {
        var s = name
        if let cpus { s += " cpus=\(cpus)" }
        s += " type=\(a.type) config=0x\(String(a.config, radix: 16)) config1=0x\(String(a.config1, radix: 16)) config2=0x\(String(a.config2, radix: 16))"
        var excl: [String] = []
        if a.excludeUser { excl.append("exclude_user") }
        if a.excludeKernel { excl.append("exclude_kernel") }
        if a.excludeHypervisor { excl.append("exclude_hv") }
        if !excl.isEmpty { s += " " + excl.joined(separator: ",") }
        return s + " (" + source.label + ")"
    }

    public static func lines(for e: ResolvedEvent) -> [String] {
        guard let attr = e.attr else { return ["\(e.name) read from \(e.source.label) (not a perf event)"] }
        guard let per = e.cpuAttrs else { return [line(e.name, attr, e.source)] }
        let byAttr = Dictionary(grouping: per.keys.sorted(), by: { per[$0]! })
        return byAttr.sorted { $0.value[0] < $1.value[0] }.map { a, cpus in line(e.name, a, e.source, cpus: CPUList.format(cpus)) }
    }
}
