/// The TRACING_DATA feature section perf needs to decode tracepoint samples (`perf
/// report`/`perf script` refuse a tracepoint recording without it): the tracefs format
/// files, laid out as tools/perf/util/trace-event-info.c writes them, version 0.6:
///
///   "\x17\x08\x44tracing" "0.6\0" endian(1) sizeof(long)(1) page_size(u32)
///   "header_page\0" u64 size, contents;  "header_event\0" u64 size, contents
///   u32 ftrace formats (0: none recorded)
///   u32 systems; each: name\0, u32 events; each: u64 size, format file
///   u32 kallsyms size (0, as perf writes today), u32 printk_formats size, contents
///   u64 saved_cmdlines size, contents
public enum TracingData {
    public struct System {
        public var name: String
        /// Each recorded tracepoint's `format` file.
        public var formats: [[UInt8]]
        public init(name: String, formats: [[UInt8]]) {
            self.name = name
            self.formats = formats
        }
    }

    public static func assemble(headerPage: [UInt8], headerEvent: [UInt8], systems: [System], printkFormats: [UInt8],
                                savedCmdlines: [UInt8], pageSize: UInt32) -> [UInt8] {
        var w = ByteWriter()
        w.append([0x17, 0x08, 0x44] + Array("tracing".utf8))
        w.append(Array("0.6".utf8) + [0])
        w.u8(0)       // little-endian
        w.u8(8)       // sizeof(long)
        w.u32(pageSize)
        w.append(Array("header_page".utf8) + [0]); w.u64(UInt64(headerPage.count)); w.append(headerPage)
        w.append(Array("header_event".utf8) + [0]); w.u64(UInt64(headerEvent.count)); w.append(headerEvent)
        w.u32(0)      // ftrace's own events: none recorded
        w.u32(UInt32(systems.count))
        for s in systems {
            w.append(Array(s.name.utf8) + [0])
            w.u32(UInt32(s.formats.count))
            for f in s.formats { w.u64(UInt64(f.count)); w.append(f) }
        }
        w.u32(0)      // kallsyms: perf records an empty one (reports read /proc/kallsyms or the build-id cache)
        w.u32(UInt32(printkFormats.count)); w.append(printkFormats)
        w.u64(UInt64(savedCmdlines.count)); w.append(savedCmdlines)
        return w.bytes
    }
}
