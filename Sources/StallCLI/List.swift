import ArgumentParser
import StallCore
import StallLinux

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the events usable here, grouped, marking which ones this machine can open.")

    @Argument(help: "Only this group: hw, cache, sw, tracepoint, pmu, signal, table, metric, metricgroup.")
    var group: String?

    @OptionGroup var tableOptions: TableOptions

    func run() throws {
        if group == "metric" || group == "metricgroup" {
            try listMetrics(tableOptions.resolver(), byGroup: group == "metricgroup")
            return
        }
        if tableOptions.cpuModel != nil || group == "table" {
            try listTable(tableOptions.resolver())
            return
        }
        let pmus = SysfsPMUs()
        let groups = ["hw", "cache", "sw", "tracepoint", "pmu", "signal", "table", "metric", "metricgroup"]
        if let group, !groups.contains(group) {
            throw ValidationError("unknown group '\(group)'; choose one of \(groups.joined(separator: ", "))")
        }
        let wanted = group.map { [$0] } ?? groups
        var out = ""
        let probe = EventProbe()
        func section(_ title: String, _ rows: [(String, String, Bool?)]) {
            out += "\(title):\n"
            let width = max(32, (rows.map(\.0.count).max() ?? 0) + 2)
            for (name, detail, ok) in rows {
                let mark = ok.map { $0 ? "[supported]" : "[not supported here]" } ?? ""
                var line = "  " + name + String(repeating: " ", count: max(1, width - name.count)) + mark
                if !detail.isEmpty { line += "  " + detail }
                out += line + "\n"
            }
            out += "\n"
        }
        if wanted.contains("hw") {
            section("Hardware events (PERF_TYPE_HARDWARE)", GenericEvents.hardware.map { entry in
                let e = GenericEvents.lookup(entry.names[0])!
                return (entry.names.joined(separator: ", "), "", probe.canOpen(e.attr!))
            })
        }
        if wanted.contains("cache") {
            section("Cache events (PERF_TYPE_HW_CACHE)", GenericEvents.cache.map { ($0.name, "", probe.canOpen(EventAttr(type: PerfType.hardwareCache, config: $0.config))) })
        }
        if wanted.contains("sw") {
            section("Software events (PERF_TYPE_SOFTWARE)", GenericEvents.software.map { entry in
                (entry.names.joined(separator: ", "), "", probe.canOpen(EventAttr(type: PerfType.software, config: entry.config)))
            })
        }
        if wanted.contains("signal") {
            section("Kernel stall signals (read from /proc at the start and end of each window)",
                    KernelSignalKind.defaultSet.map { ($0.name, $0.procFile, SystemFiles.exists($0.procFile)) }
                        + [("vmstat:<counter>", "any /proc/vmstat counter, or a family such as allocstall", nil)])
        }
        if wanted.contains("tracepoint") {
            let names = Tracefs.allTracepoints()
            if names.isEmpty {
                out += "Tracepoints: none found (\((try? Tracefs.eventsDirectory()).map { _ in "tracefs is empty" } ?? "tracefs is not mounted and could not be mounted; as root: mount -t tracefs nodev /sys/kernel/tracing"))\n\n"
            } else {
                section("Tracepoints (\(names.count); openable as root)", names.map { ($0, "", nil) })
            }
        }
        if wanted.contains("pmu") {
            var rows: [(String, String, Bool?)] = []
            for p in pmus.pmus { rows.append(("\(p.name)/.../", "sysfs PMU type \(p.type), terms: \(p.formats.keys.sorted().joined(separator: ","))", nil)) }
            section("Kernel PMUs (pmu/term=value/ syntax)", rows)
            for pmu in LibPfm.presentPMUs() where pmu.isCore {
                let events = LibPfm.events(ofPMU: pmu.name)
                section("libpfm4 \(pmu.name) (\(pmu.description)), \(events.count) events", events.map { ev in
                    let attr = try? LibPfm.encode("\(pmu.name)::\(ev.name)").attr
                    return ("\(pmu.name)::\(ev.name)", String(ev.description.prefix(70)), attr.map { probe.canOpen($0) } ?? false)
                })
            }
        }
        StandardOutput.write(out)
        // The detected core's stall and TLB events, when EventTables knows it.
        if wanted.contains("table"), pmus.hasHardwarePMU {
            let resolver = tableOptions.resolver()
            if (try? resolver.cpuModels().isEmpty) == false {
                StandardOutput.write("EventTables, ")
                try listTable(resolver)
                try listMetrics(resolver, byGroup: true)
            }
        }
    }

    /// The models to list: the one named by --cpu, else each core type detected here.
    func listedModels(_ resolver: EventResolver) throws -> [(model: CPUModel, cpus: [Int])] {
        do { _ = try resolver.cpuModels() } catch { throw ValidationError("\(error)") }
        tableOptions.reportDiagnostics(resolver.tables)
        let types = resolver.coreTypes()
        if types.isEmpty {
            let id = resolver.topology.identities.values.first.map { "\($0)" } ?? "unknown"
            throw ValidationError("EventTables has no entry for this CPU (\(id)); name one with --cpu: \(resolver.tables.cpus.map(\.name).joined(separator: ", "))")
        }
        return types.sorted { $0.model.name < $1.model.name }
    }

    /// `list metric` / `list metricgroup` (perf's `perf list metric`, `perf list metricgroup`):
    /// the kernel's metrics for the core, then stallstat's own (the stall tree's nodes, the TLB
    /// metrics), each with its unit and description, and why stallstat cannot evaluate it
    /// where it reads an uncore event or one the import left out. By group: each group's metrics.
    func listMetrics(_ resolver: EventResolver, byGroup: Bool) throws {
        var out = ""
        for (model, cpus) in try listedModels(resolver) {
            let catalog = resolver.tables.catalog(for: model)
            let kernel = KernelMetricSet(catalog: catalog, corePMU: model.pmu)
            let own = catalog.metrics.filter { m in kernel.metric(named: m.name) == nil }
            let all = catalog.kernelMetrics + own
            let place = tableOptions.cpuModel == nil ? ", CPUs \(CPUList.format(cpus))" : ""
            if byGroup {
                var members: [String: [String]] = [:]
                for m in all { for g in m.groups { members[g, default: []].append(m.name) } }
                out += "\(model.name)\(place): \(members.count) metric groups (`stat -M GROUP` counts every metric of one)\n"
                for g in members.keys.sorted(by: { $0.lowercased() < $1.lowercased() }) {
                    out += "  \(g) (\(members[g]!.count)): \(members[g]!.sorted().joined(separator: ", "))\n"
                }
            } else {
                out += "\(model.name)\(place): \(catalog.kernelMetrics.count) of the kernel's metrics (tools/perf/pmu-events), \(own.count) of stallstat's\n"
                let width = (all.map(\.name.count).max() ?? 0) + 2
                for m in all.sorted(by: { $0.name.lowercased() < $1.name.lowercased() }) {
                    // As `stat -M` prints it: a stall tree node is its share of its parent.
                    let unit = m.isTreeNode ? "% of parent" : m.scaled(1).unit
                    var line = "  " + m.name.padding(width) + (unit.isEmpty ? "" : "[\(unit)] ") + m.brief.trimmingWhitespace()
                    if m.isKernelMetric, let why = kernel.inputs(of: m).unsupported.first {
                        line += "  [not countable by stallstat: \(why.name): \(why.why)]"
                    }
                    out += line + "\n"
                }
            }
            out += "\n"
        }
        StandardOutput.write(out)
    }

    /// `list --cpu MODEL`: that core's stall and TLB events with codes and descriptions.
    func listTable(_ resolver: EventResolver) throws {
        var out = ""
        for (model, cpus) in try listedModels(resolver) {
            let catalog = resolver.tables.catalog(for: model)
            // What this machine's PMU lists (PMCEID), for the detected core only.
            let pmu = tableOptions.cpuModel == nil ? cpus.min().flatMap { resolver.topology.corePMU[$0] } : nil
            let advertisement = pmu?.armAdvertisement
            out += "\(model.name) (\(model.vendor.rawValue)\(model.slots.map { ", \($0) slots" } ?? "")\(tableOptions.cpuModel == nil ? ", CPUs \(CPUList.format(cpus))" : "")): stall and TLB events\n"
            let rows = catalog.stallAndTLBEvents.map { e -> (String, String, String, String) in
                let code: String
                var brief = e.brief + (e.isDeprecated ? " (deprecated in the vendor's data; perf still opens it)" : "")
                switch e.encoding {
                case .armEvent(let c):
                    code = "0x" + String(c, radix: 16)
                    if let advertisement, let pmu { brief += "  " + advertisement.mark(c, pmu: pmu.name) }
                case .x86Raw(let c): code = "raw 0x" + String(c, radix: 16)
                case .libpfm4(let pfm): code = pfm
                }
                let names = ([catalog.simpleperfName(e)].compactMap { $0 } + e.portable).joined(separator: ", ")
                return (e.name, code, names, brief)
            }
            let w0 = (rows.map(\.0.count).max() ?? 0) + 2
            let w1 = (rows.map(\.1.count).max() ?? 0) + 2
            for (n, c, aliases, brief) in rows {
                out += "  " + n.padding(w0) + c.padding(w1) + brief + (aliases.isEmpty ? "" : "  [\(aliases)]") + "\n"
            }
            out += "\n"
        }
        StandardOutput.write(out)
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self + " " : self + String(repeating: " ", count: width - count) }
}
