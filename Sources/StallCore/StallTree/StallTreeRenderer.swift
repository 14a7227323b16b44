/// Guesses the core an offline capture came from by the events in it.
public enum CPUGuess {
    public struct Result: Equatable {
        public var model: CPUModel
        /// Other cores that implement every event in the file equally well.
        public var alsoPossible: [String]
    }

    public static func guess(names: [String], tables: EventTableSet) -> Result? {
        guess(names: names, catalogs: tables.cpus.map { tables.catalog(for: $0) })
    }

    /// The same with the catalogs already built (building one costs more than the guess).
    public static func guess(names: [String], catalogs: [CoreCatalog]) -> Result? {
        var best: [(CPUModel, Int)] = []
        for catalog in catalogs {
            let model = catalog.model
            var score = 0
            var refused = false
            for n in names where GenericEvents.lookup(EventModifiers.split(n)?.base ?? n) == nil {
                switch catalog.lookup(n) {
                case .found(let e): score += e.isImplementationDefined ? 100 : 1
                case .notImplemented: refused = true
                case .unknown:
                    if model.vendor == .arm, let code = RawEventSyntax.rawCode(n), catalog.events.contains(where: { $0.armCode == code }) { score += 1 }
                }
            }
            if !refused && score > 0 { best.append((model, score)) }
        }
        guard let top = best.map(\.1).max() else { return nil }
        let winners = best.filter { $0.1 == top }.map(\.0)
        return Result(model: winners[0], alsoPossible: winners.dropFirst().map(\.name))
    }
}

/// The stall tree as an indented tree with bars (ANSI colour on a terminal), and as JSON.
public struct StallTreeRenderer {
    public var color: Bool
    public init(color: Bool) { self.color = color }

    static let labels: [String: String] = [
        "stalls": "stalls", "frontend": "frontend", "backend": "backend",
        "frontend_memory_bound": "memory-bound", "frontend_l1i": "L1I", "frontend_memory": "memory (L2/last level)",
        "frontend_itlb": "iTLB", "frontend_cpu_bound": "CPU-bound", "frontend_flow": "flow", "frontend_flush": "flush",
        "backend_memory_bound": "memory-bound", "backend_l1d": "L1D", "backend_l2d": "L2D", "backend_memory": "memory",
        "backend_dtlb": "dTLB", "backend_store": "store", "backend_cpu_bound": "CPU-bound", "backend_rename": "rename",
        "backend_interlock": "interlock", "backend_busy": "busy", "backend_load": "load", "backend_load_cache": "load: cache miss",
        "backend_load_dtlb": "load: dTLB miss", "backend_store_buffer": "store buffer full", "backend_store_dtlb": "store: dTLB miss",
    ]

    public func label(_ n: StallTreeNode) -> String { Self.labels[n.name] ?? n.name.replacingUnderscores() }

    public func text(_ r: StallReport) -> String {
        var out = ""
        if r.nodes.isEmpty {
            out += "Stall tree (\(r.cpu)): not enough events were counted to build it"
            if let first = r.missing.first { out += " (\(first.reason))" }
            out += ".\n"
        }
        var rows: [(String, StallTreeNode)] = []
        var lastAtDepth: [Int: Bool] = [:]
        for (i, n) in r.nodes.enumerated() {
            let isLast = !r.nodes[(i + 1)...].prefix { $0.depth >= n.depth }.contains { $0.depth == n.depth }
            lastAtDepth[n.depth] = isLast
            var prefix = ""
            if n.depth > 0 {
                for d in 1..<n.depth { prefix += lastAtDepth[d] == true ? "   " : "│  " }
                prefix += isLast ? "└─ " : "├─ "
            }
            rows.append((prefix + label(n), n))
        }
        let width = max(28, (rows.map(\.0.count).max() ?? 0) + 2)
        var currentRoot = ""
        for (title, n) in rows {
            if n.root != currentRoot {
                currentRoot = n.root
                let unit = n.unit.isEmpty ? "" : n.unit
                out += "\nStall tree (\(r.cpu)): shares of the parent and of all \(unit.isEmpty ? n.root : unit)\n"
                out += padRight("", width) + padLeft("count", 18) + padLeft("of parent", 11) + padLeft("of all", 9) + "\n"
            }
            // A tree of shares with no count behind it (the kernel's top-down without a slots metric).
            var line = padRight(title, width) + padLeft(n.unit.isEmpty && n.count == 0 ? "" : groupThousands(n.count), 18)
            line += padLeft(n.shareOfParent.map { cFormat("%.1f%%", 100 * $0) } ?? "", 11)
            line += padLeft(cFormat("%.1f%%", 100 * n.shareOfRoot), 9) + "  " + bar(n.shareOfRoot)
            if !n.flags.isEmpty { line += "  ⚠ " + n.flags.joined(separator: "; ") }
            if color && n.guidance != nil { line = "\u{1B}[31m" + line + "\u{1B}[0m" }
            else if color && n.shareOfRoot < 0.01 { line = "\u{1B}[2m" + line + "\u{1B}[0m" }
            out += trimRight(line) + "\n"
        }
        if !r.info.isEmpty {
            out += "\n"
            for m in r.info {
                out += "  " + padRight(m.brief, 58) + cFormat("%.2f", m.value) + (m.unit == "%" ? "%" : " " + m.unit) + "\n"
            }
        }
        let guidance = r.nodes.filter { $0.guidance != nil }.map { n -> String in
            let share = n.shareOfParent.map { cFormat("%.1f%% of ", 100 * $0) + (n.parent.flatMap { p in r.node(p) }.map(label) ?? "parent") + ", " } ?? ""
            return "  \(label(n)) (" + share + cFormat("%.1f%% of all", 100 * n.shareOfRoot) + "): \(n.guidance!)"
        } + r.info.filter { $0.guidance != nil }.map { "  \($0.brief) " + cFormat("%.2f", $0.value) + ($0.unit == "%" ? "%" : " \($0.unit)") + ": \($0.guidance!)" }
        if !guidance.isEmpty { out += "\nWhat to look at:\n" + guidance.joined(separator: "\n") + "\n" }
        if !r.notes.isEmpty { out += "\nNotes:\n" + r.notes.map { "  - " + $0 }.joined(separator: "\n") + "\n" }
        return out
    }

    func bar(_ share: Double) -> String {
        let eighths = Int((max(0, min(1, share)) * 20 * 8).rounded())
        let partial = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"][eighths % 8]
        return String(repeating: "█", count: eighths / 8) + partial
    }

    func trimRight(_ s: String) -> String {
        var t = Substring(s)
        while t.last == " " { t.removeLast() }
        return String(t)
    }

    /// The tree as one JSON document.
    public static func json(_ r: StallReport, source: String? = nil) -> String {
        // Counts exactly (45,580,956,762 stays 45580956762), other figures as the shortest
        // text that reads back to the same double.
        func num(_ d: Double) -> String {
            guard d.isFinite else { return "null" }
            if d == d.rounded() && abs(d) < 1.9e19 { return cFormat("%.0f", d) }
            return "\(d)"
        }
        var parts: [String] = []
        if let source { parts.append("\"source\": \"\(jsonEscape(source))\"") }
        parts.append("\"cpu\": \"\(jsonEscape(r.cpu))\"")
        let nodes = r.nodes.map { n in
            "{\"name\": \"\(n.name)\", \"parent\": " + (n.parent.map { "\"\($0)\"" } ?? "null")
                + ", \"root\": \"\(n.root)\", \"depth\": \(n.depth), \"count\": \(num(n.count))"
                + ", \"share_of_parent\": " + (n.shareOfParent.map(num) ?? "null") + ", \"share_of_root\": \(num(n.shareOfRoot))"
                + ", \"percent_running\": \(num(n.percentRunning)), \"unit\": \"\(jsonEscape(n.unit))\""
                + ", \"flags\": [" + n.flags.map { "\"\(jsonEscape($0))\"" }.joined(separator: ", ") + "]"
                + ", \"guidance\": " + (n.guidance.map { "\"\(jsonEscape($0))\"" } ?? "null")
                + ", \"description\": \"\(jsonEscape(n.brief))\"}"
        }
        parts.append("\"nodes\": [\n    " + nodes.joined(separator: ",\n    ") + "\n  ]")
        let info = r.info.map { "{\"name\": \"\($0.name)\", \"value\": \(num($0.value)), \"unit\": \"\(jsonEscape($0.unit))\", \"group\": \"\($0.group)\", \"description\": \"\(jsonEscape($0.brief))\"}" }
        parts.append("\"metrics\": [\n    " + info.joined(separator: ",\n    ") + "\n  ]")
        parts.append("\"notes\": [" + r.notes.map { "\"\(jsonEscape($0))\"" }.joined(separator: ", ") + "]")
        parts.append("\"missing\": [" + r.missing.map { "{\"name\": \"\($0.name)\", \"reason\": \"\(jsonEscape($0.reason))\"}" }.joined(separator: ", ") + "]")
        return "{\n  " + parts.joined(separator: ",\n  ") + "\n}\n"
    }
}
