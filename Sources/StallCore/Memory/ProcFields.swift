/// Splits /proc text into lines of whitespace-separated fields without building a
/// String per line: `stat --frag` and `frag --watch` parse these files every interval.
struct ProcFields {
    let bytes: [UInt8]
    /// Per line: its number (from 1) and the byte ranges of its fields.
    private(set) var lines: [(number: Int, fields: [Range<Int>])] = []

    init(_ text: String) {
        bytes = Array(text.utf8)
        var lineNumber = 1
        var fields: [Range<Int>] = []
        var start = -1
        for i in 0...bytes.count {
            let c: UInt8 = i < bytes.count ? bytes[i] : 0x0A
            if c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D {
                if start >= 0 { fields.append(start..<i); start = -1 }
                if c == 0x0A {
                    if !fields.isEmpty { lines.append((lineNumber, fields)) }
                    fields.removeAll(keepingCapacity: true)
                    lineNumber += 1
                }
            } else if start < 0 {
                start = i
            }
        }
    }

    func string(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }

    func equals(_ r: Range<Int>, _ s: StaticString) -> Bool {
        guard r.count == s.utf8CodeUnitCount else { return false }
        return s.withUTF8Buffer { buf in
            var k = 0
            for i in r { if bytes[i] != buf[k] { return false }; k += 1 }
            return true
        }
    }

    /// A decimal unsigned number, or nil.
    func number(_ r: Range<Int>) -> UInt64? {
        guard !r.isEmpty, r.count <= 20 else { return nil }
        var v: UInt64 = 0
        for i in r {
            let d = bytes[i] &- 0x30
            guard d <= 9 else { return nil }
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { return nil }
            v = a
        }
        return v
    }

    /// "Node 0, zone   Normal" at the start of a line: (node, zone, index of the next field).
    func nodeZone(_ f: [Range<Int>]) -> (Int, String, Int)? {
        guard f.count >= 4, equals(f[0], "Node"), equals(f[2], "zone") else { return nil }
        let nodeField = f[1]
        guard nodeField.count >= 2, bytes[nodeField.upperBound - 1] == 0x2C,   // ','
              let node = number(nodeField.lowerBound..<(nodeField.upperBound - 1)), node <= 0xFFFF else { return nil }   // MAX_NUMNODES is at most 1024
        var zoneRange = f[3]
        if bytes[zoneRange.upperBound - 1] == 0x2C { zoneRange = zoneRange.lowerBound..<(zoneRange.upperBound - 1) }
        return (Int(node), string(zoneRange), 4)
    }
}
