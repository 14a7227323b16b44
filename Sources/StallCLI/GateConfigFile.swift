import StallCore
import TOMLKit

/// Reads `stallstat-gate.toml` with TOMLKit (toml++) or `stallstat-gate.json`, and hands
/// either as one document tree to `GateConfig(document:)`, so both formats are validated
/// by the same rules.
enum GateConfigFile {
    static func parse(_ text: String, file: String) throws -> GateConfig {
        if file.hasSuffix(".json") || text.trimmingWhitespace().hasPrefix("{") {
            return try GateConfig.parseJSON(text, file: file)
        }
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch let e as TOMLParseError {
            throw GateError("\(file) line \(e.source.begin.line) column \(e.source.begin.column): \(e.description)")
        }
        return try GateConfig(document: try document(table, at: file), file: file)
    }

    /// TOML's values as the JSON tree the config reader takes. Dates and times have no
    /// place in a gate config; they are refused here rather than turned into strings.
    static func document(_ value: TOMLValueConvertible, at path: String) throws -> JSONValue {
        switch value.type {
        case .table:
            let t = value.table!
            return .object(try t.keys.map { key in (key: key, value: try document(t[key]!, at: path + "." + key)) }, line: 0)
        case .array:
            return .array(try value.array!.enumerated().map { try document($1, at: "\(path)[\($0)]") }, line: 0)
        case .string: return .string(value.string!, line: 0)
        case .int: return .number(Double(value.int!), text: "\(value.int!)", line: 0)
        case .double: return .number(value.double!, text: "\(value.double!)", line: 0)
        case .bool: return .bool(value.bool!, line: 0)
        case .date, .time, .dateTime:
            throw GateError("\(path): a date or time is not a gate setting")
        }
    }
}
