import StallCore

/// Finds and loads EventTables: `--event-tables DIR`, then $STALLSTAT_EVENT_TABLES,
/// then EventTables/ next to the binary (or up to three levels above, for a build
/// tree), then the copy embedded in the binary.
public enum EventTableLoader {
    public static func load(explicitDirectory: String? = nil) -> EventTableSet {
        if let dir = explicitDirectory ?? environment("STALLSTAT_EVENT_TABLES") { return load(directory: dir) }
        if let dir = besideExecutable() { return load(directory: dir) }
        return EventTableSet(files: EmbeddedEventTables.files, origin: "embedded")
    }

    public static func load(directory: String) -> EventTableSet {
        var files: [(String, String)] = []
        func walk(_ rel: String) {
            let path = rel.isEmpty ? directory : "\(directory)/\(rel)"
            for name in SystemFiles.listDirectory(path) {
                let child = rel.isEmpty ? name : "\(rel)/\(name)"
                // overlays/: import.py's hand-kept inputs, merged into the tables it writes.
                if SystemFiles.isDirectory("\(directory)/\(child)") { if child != "overlays" { walk(child) } }
                else if name.hasSuffix(".json"), let text = try? SystemFiles.readText("\(directory)/\(child)") { files.append((child, text)) }
            }
        }
        walk("")
        var set = EventTableSet(files: files, origin: directory)
        if files.isEmpty {
            set = EventTableSet(files: EmbeddedEventTables.files, origin: "embedded (no tables in \(directory))")
        }
        return set
    }

    static func besideExecutable() -> String? {
        guard var dir = executablePath()?.split(separator: "/").dropLast().map(String.init) else { return nil }
        for _ in 0..<4 {
            let candidate = "/" + dir.joined(separator: "/") + "/EventTables"
            if SystemFiles.exists(candidate + "/cpus.json") { return candidate }
            if dir.isEmpty { break }
            dir.removeLast()
        }
        return nil
    }
}
