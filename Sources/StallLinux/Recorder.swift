#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent
import StallCore

public struct RecordPlan {
    public var events: [ResolvedEvent]
    public var scope: StatPlan.Scope
    public var command: [String]
    /// Samples per second (frequency mode), or nil with `period`.
    public var frequency: UInt64?
    public var period: UInt64?
    public var callchains: Bool
    /// --call-graph dwarf: bytes of user stack (and the user registers) copied per sample.
    public var userStackBytes: UInt32? = nil
    public var dataAddresses: Bool
    public var dataPageSize: Bool
    public var codePageSize: Bool
    public var durationSeconds: Double?
    public var output: String
    /// Data pages per ring buffer (a power of two).
    public var ringPages: Int
    public var stallstatArguments: [String]
    /// Written into the VERSION feature.
    public var toolVersion = "stallstat"

    public init(events: [ResolvedEvent], scope: StatPlan.Scope, command: [String], frequency: UInt64?, period: UInt64?, callchains: Bool,
                dataAddresses: Bool, dataPageSize: Bool, codePageSize: Bool, durationSeconds: Double?, output: String, ringPages: Int,
                stallstatArguments: [String]) {
        self.events = events
        self.scope = scope
        self.command = command
        self.frequency = frequency
        self.period = period
        self.callchains = callchains
        self.dataAddresses = dataAddresses
        self.dataPageSize = dataPageSize
        self.codePageSize = codePageSize
        self.durationSeconds = durationSeconds
        self.output = output
        self.ringPages = ringPages
        self.stallstatArguments = stallstatArguments
    }
}

public struct RecordOutcome {
    public var samples: Int
    public var lost: UInt64
    public var throttled: Int
    public var bytes: Int
    public var elapsedSeconds: Double
    public var interruptedBy: Int32?
    public var commandExitCode: Int32?
    /// Set when writing failed (disk full): the file holds everything before it.
    public var writeError: String?
    public var failures: [OpenFailure]
    /// What the file lacks that a reader may miss (tracepoint formats, ...).
    public var warnings: [String] = []
}

public enum RecordError: Error, CustomStringConvertible {
    case nothingOpened([OpenFailure])
    case output(String)
    case child(PausedChild.Failure)
    case ring(String)

    public var description: String {
        switch self {
        case .nothingOpened(let f): return "no event could be opened for sampling:\n" + f.map { "  " + $0.message }.joined(separator: "\n")
        case .output(let why): return why
        case .child(let f): return f.description
        case .ring(let why): return why
        }
    }
}

/// Samples through the perf_event ring buffers into a perf.data file.
public final class Recorder {
    let plan: RecordPlan
    let hasHardwarePMU: Bool
    let paranoid: Int?

    public init(plan: RecordPlan, hasHardwarePMU: Bool, paranoid: Int?) {
        self.plan = plan
        self.hasHardwarePMU = hasHardwarePMU
        self.paranoid = paranoid
        self.userRegisters = Recorder.sampledUserRegisters(plan, arch: DwarfUnwinder.hostArch())
    }

    /// perf's PERF_REGS_MASK: every user register the architecture has (x86-64 without
    /// the segment registers DS, ES, FS, GS, which the kernel does not sample).
    static var userRegisterMask: UInt64 {
        #if arch(x86_64)
        return 0xFF_0FFF
        #elseif arch(arm64)
        return (1 << 33) - 1
        #else
        return 0
        #endif
    }

    /// The user registers each sample carries: all of them for DWARF unwinding; with
    /// frame-pointer chains on arm64 the link register, which holds a leaf function's
    /// caller (as perf; report inserts it, LeafFrameCaller.swift); else none.
    static func sampledUserRegisters(_ plan: RecordPlan, arch: String) -> UInt64 {
        if plan.userStackBytes != nil { return userRegisterMask }
        return plan.callchains ? PerfData.framePointerUserRegisters(arch: arch) : 0
    }
    let userRegisters: UInt64

    var sampleType: UInt64 {
        var t = PerfData.Sample.identifier | PerfData.Sample.ip | PerfData.Sample.tid | PerfData.Sample.time | PerfData.Sample.cpu | PerfData.Sample.period
        if plan.callchains { t |= PerfData.Sample.callchain }
        if userRegisters != 0 { t |= PerfData.Sample.regsUser }
        if plan.userStackBytes != nil { t |= PerfData.Sample.stackUser }
        if plan.dataAddresses || plan.dataPageSize { t |= PerfData.Sample.addr }
        if plan.dataPageSize { t |= PerfData.Sample.dataPageSize }
        if plan.codePageSize { t |= PerfData.Sample.codePageSize }
        return t
    }

    func attr(for event: ResolvedEvent, cpu: Int, tracking: Bool, command: Bool, inherit: Bool) -> cpe_attr? {
        guard let a = event.attr(forCPU: cpu) else { return nil }
        var c = a.kernelAttr
        // A tracepoint's fields are its raw record (what perf script prints), as perf records them.
        c.sample_type = sampleType | (a.type == PerfType.tracepoint ? PerfData.Sample.raw : 0)
        var flags = c.flags | UInt64(CPE_DISABLED) | UInt64(CPE_SAMPLE_ID_ALL)
        if let f = plan.frequency { c.sample_period_or_freq = f; flags |= UInt64(CPE_FREQ) } else { c.sample_period_or_freq = plan.period ?? 4000 }
        if command { flags |= UInt64(CPE_ENABLE_ON_EXEC) }
        if inherit { flags |= UInt64(CPE_INHERIT) }
        // Wake the drain loop when a ring is a quarter full (bytes, with the watermark flag).
        let ringBytes = plan.ringPages.multipliedReportingOverflow(by: Int(sysconf(Int32(_SC_PAGESIZE))))
        c.wakeup_events = ringBytes.overflow ? UInt32.max : UInt32(clamping: ringBytes.partialValue / 4)
        flags |= UInt64(CPE_WATERMARK)
        c.sample_regs_user = userRegisters
        if let bytes = plan.userStackBytes {
            // As perf: the kernel gives only the kernel part of the chain; report unwinds the user part.
            c.sample_stack_user = bytes
            flags |= UInt64(CPE_EXCLUDE_CALLCHAIN_USER)
        }
        // Only one event reports mmaps, comms and forks, or they would be written twice.
        if tracking { flags |= UInt64(CPE_MMAP) | UInt64(CPE_MMAP2) | UInt64(CPE_COMM) | UInt64(CPE_COMM_EXEC) | UInt64(CPE_TASK) }
        // Data mappings too, as perf's -d: an unwinder reads a binary's data (GOT, .data) through them.
        if tracking && (plan.dataAddresses || plan.dataPageSize) { flags |= UInt64(CPE_MMAP_DATA) }
        c.flags = flags
        return c
    }

    public func run() throws -> RecordOutcome {
        // perf record ends when the attached threads are gone, a bounding command or not
        // (their rings hang up); a command's exit ends it too.
        let workload: Workload
        do { workload = try Workload(command: plan.command, watchedThreads: plan.scope.attachedThreads) } catch let f as PausedChild.Failure {
            throw RecordError.child(f)
        }
        let child = workload.command
        let cpus = MachineFacts.onlineCPUs()
        // Every task is followed on each CPU: a ring per CPU takes its samples.
        let targets = plan.scope.counterTargets(commandPID: child?.pid, taskCPUs: cpus)
        // perf follows what a launched or attached task starts later too (inherit).
        let inherit: Bool = { if case .systemWide = plan.scope { return false }; return true }()

        let counters: SamplingCounters
        do {
            counters = try openCounters(targets: targets, launchesCommand: child != nil && plan.scope == .command, inherit: inherit)
        } catch {
            workload.abandon()
            throw error
        }
        let failed = counters.failuresOfUnopenedEvents
        guard !counters.opened.isEmpty else {
            workload.abandon()
            throw RecordError.nothingOpened(failed)
        }
        // Events that opened nowhere are left out of the file.
        let kept = plan.events.indices.filter { counters.opened.contains($0) }
        let layout = PerfDataLayout(events: kept.map { PerfDataLayout.Event(attrBytes: counters.attrBytes[$0], ids: counters.idsPerEvent[$0], name: plan.events[$0].name) })
        let identifier = layout.events[0].ids.first ?? 0

        // Written beside the destination and renamed into place once the recording has
        // started: never through a planted link, never destroying a file on a failed launch.
        let file: PerfDataFileWriter
        do { file = try PerfDataFileWriter(output: try ReplacingOutput(path: plan.output, keepOld: true), layout: layout) } catch {
            workload.abandon()
            throw RecordError.output("\(error)")
        }
        var samples = 0, throttled = 0
        var lost: UInt64 = 0
        // Mappings and names that existed before the recording started.
        let existingRecords = existingProcessRecords(identifier: identifier)
        var mappedFiles = existingRecords.mappedFiles
        file.append(existingRecords.bytes)

        let rings = counters.rings
        let ringDrain = RingDrain(ringDataSizes: rings.values.map { $0.ring.data_size })
        func drain() {
            var chunk: [UInt8] = []
            // Samples are counted when the chunk holding them is in the file (ENOSPC: not before).
            var chunkSamples = 0
            for cpu in rings.keys.sorted() {
                var ring = rings[cpu]!.ring
                let bytes = ringDrain.drain(&ring)
                guard bytes.count > 0 else { continue }
                RingDrain.forEachRecord(in: bytes) { o, type, size in
                    if type == PerfData.RecordType.sample.rawValue { chunkSamples += 1 }
                    else if type == PerfData.RecordType.mmap2.rawValue, size > 72 {
                        // The objects samples can fall in: their build ids go into BUILD_ID at the end.
                        let name = UnsafeRawBufferPointer(rebasing: bytes[(o + 72)..<(o + size)])
                        mappedFiles.insert(String(decoding: name.prefix { $0 != 0 }, as: UTF8.self))
                    }
                    else if type == PerfData.RecordType.lost.rawValue, size >= 24 { lost &+= bytes.loadUnaligned(fromByteOffset: o + 16, as: UInt64.self) }
                    else if type == PerfData.RecordType.throttle.rawValue { throttled += 1 }
                }
                chunk += bytes
            }
            if !chunk.isEmpty, file.append(chunk + SynthesizedRecord.finishedRound) { samples += chunkSamples }
        }

        let start = cpe_monotonic_ns()
        if child == nil || plan.scope != .command { for fd in counters.fds { _ = cpe_enable(fd, 0) } }
        do { try workload.release() } catch let f as PausedChild.Failure { throw RecordError.child(f) }
        do { try file.output.commit() } catch {
            workload.end()
            throw RecordError.output("\(error)")
        }
        let deadline = plan.durationSeconds.map { start + UInt64($0 * 1e9) }
        // A ring wakes the loop when it is a quarter full (its wakeup watermark), so a fast
        // stream (--call-graph dwarf copies 8 KiB per sample: 33 MB/s at 4 kHz) is drained
        // before the ring fills; otherwise every 50 ms.
        var ringFDs = rings.keys.sorted().map { rings[$0]!.fd }
        while file.writeError == nil && !workload.isOver {
            let now = cpe_monotonic_ns()
            if let d = deadline, now >= d { break }
            _ = workload.wait(until: min(deadline ?? .max, now + 50_000_000), dataFDs: &ringFDs)
            drain()
        }
        for fd in counters.fds { _ = cpe_disable(fd, 0) }
        let end = cpe_monotonic_ns()
        workload.end()
        drain()

        var warnings: [String] = []
        var description: PerfDataLayout.Description? = nil
        if file.writeError == nil {
            var desc = machineDescription(onlineCPUs: cpus.count)
            desc.buildIDs = MachineFacts.buildIDs(of: mappedFiles)
            let tracepoints = kept.map { plan.events[$0] }.filter { $0.attr?.type == 2 }.map(\.name)
            if !tracepoints.isEmpty {
                desc.tracingData = TracingData.read(tracepoints: tracepoints)
                if desc.tracingData == nil { warnings.append("the tracepoints' format files could not be read: perf cannot decode this file's tracepoint samples") }
            }
            description = desc
        }
        file.finish(description)
        // The counters stay open (and their rings mapped) until here, not only to their last use.
        withExtendedLifetime(counters) {}
        return RecordOutcome(samples: samples, lost: lost, throttled: throttled, bytes: file.dataSize, elapsedSeconds: Double(end - start) / 1e9,
                             interruptedBy: workload.interruptedBy, commandExitCode: child?.exitCode, writeError: file.writeError, failures: failed, warnings: warnings)
    }

    /// Opens every (event, target); the first fd on a CPU maps that CPU's ring and the
    /// others are routed into it. Throws when a ring cannot be mapped or routed.
    func openCounters(targets: [CounterTarget], launchesCommand: Bool, inherit: Bool) throws -> SamplingCounters {
        let c = SamplingCounters(events: plan.events.count)
        for target in targets {
            let pid = target.pid, cpu = Int(target.cpu)
            for (i, event) in plan.events.enumerated() {
                // enable_on_exec only arms the exec'ing task's own events: system-wide and
                // attached recordings bounded by a command are enabled just before it may exec.
                guard var a = attr(for: event, cpu: cpu, tracking: i == 0, command: launchesCommand, inherit: inherit) else { continue }
                let fd = CounterOpen.open(&a, pid: pid, cpu: Int32(cpu), group: -1, flags: 0)
                if fd < 0 {
                    if c.failures[i] == nil {
                        c.failures[i] = OpenFailure.classify(errno: -fd, event: event.name, needsHardwarePMU: event.needsHardwarePMU, hasHardwarePMU: hasHardwarePMU,
                                                             paranoid: paranoid, systemWide: pid == -1, pid: pid == -1 ? nil : pid, errnoText: String(cString: strerror(-fd)))
                    }
                    continue
                }
                c.fds.append(fd)
                c.opened.insert(i)
                if c.attrBytes[i].isEmpty {
                    var bytes = [UInt8](repeating: 0, count: cpe_attr_size())
                    bytes.withUnsafeMutableBytes { cpe_attr_bytes(&a, $0.baseAddress) }
                    c.attrBytes[i] = bytes
                }
                var id: UInt64 = 0
                _ = cpe_id(fd, &id)
                c.idsPerEvent[i].append(id)
                if let r = c.rings[cpu] {
                    let rc = cpe_set_output(fd, r.fd)
                    if rc < 0 { throw RecordError.ring("cannot route \(event.name) on CPU \(cpu) into its ring buffer: \(String(cString: strerror(-rc)))") }
                } else {
                    var ring = cpe_ring()
                    let rc = cpe_ring_map(fd, plan.ringPages, &ring)
                    if rc < 0 {
                        throw RecordError.ring("cannot map a \(plan.ringPages)-page ring buffer on CPU \(cpu): \(String(cString: strerror(-rc))) (lower -m, or raise kernel.perf_event_mlock_kb)")
                    }
                    c.rings[cpu] = (fd, ring)
                }
            }
        }
        return c
    }

    /// perf's synthesized records for what existed before the recording: the kernel's text
    /// mapping, and for attached or (system-wide) all processes every thread's name and the
    /// process's mappings; with the files mapped (their build ids go into BUILD_ID).
    func existingProcessRecords(identifier: UInt64) -> (bytes: [UInt8], mappedFiles: Set<String>) {
        var synthesized = ByteWriter()
        var mappedFiles = Set<String>()
        if let kernel = MachineFacts.kernelTextRange() { synthesized.append(SynthesizedRecord.kernelMmap(start: kernel.0, end: kernel.1, identifier: identifier)) }
        let existing: [Int32]
        switch plan.scope {
        case .command: existing = []
        case .threads(let tids): existing = Array(Set(tids.map { MachineFacts.processOf(thread: $0) }))
        case .systemWide: existing = SystemFiles.listDirectory("/proc").compactMap { Int32($0) }
        }
        for pid in existing {
            // Every thread's own name, as perf synthesizes them (threads rename themselves).
            let tids = SystemFiles.listDirectory("/proc/\(pid)/task").compactMap { Int32($0) }
            for tid in tids.isEmpty ? [pid] : tids.sorted() {
                let comm = SystemFiles.readTrimmed("/proc/\(pid)/task/\(tid)/comm") ?? SystemFiles.readTrimmed("/proc/\(pid)/comm") ?? ""
                synthesized.append(SynthesizedRecord.comm(pid: pid, tid: tid, name: comm, identifier: identifier))
            }
            if let maps = try? SystemFiles.readText("/proc/\(pid)/maps") {
                for (start, end, off, prot, path) in ProcPIDMaps.executableMappings(maps, data: plan.dataAddresses || plan.dataPageSize) {
                    synthesized.append(SynthesizedRecord.mmap2(pid: pid, start: start, length: end - start, pgoff: off, protection: prot, filename: path, identifier: identifier))
                    mappedFiles.insert(path)
                }
            }
        }
        return (synthesized.bytes, mappedFiles)
    }

    /// The machine and the run, for the feature sections (perf's HOSTNAME, OSRELEASE,
    /// VERSION, ARCH, NRCPUS, CMDLINE).
    func machineDescription(onlineCPUs: Int) -> PerfDataLayout.Description {
        var uts = utsname()
        uname(&uts)
        func field<T>(_ t: T) -> String { withUnsafeBytes(of: t) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } }
        return PerfDataLayout.Description(hostname: field(uts.nodename), osRelease: field(uts.release), version: plan.toolVersion,
                                          arch: field(uts.machine), cpusAvailable: UInt32(sysconf(Int32(_SC_NPROCESSORS_CONF))), cpusOnline: UInt32(onlineCPUs),
                                          cmdline: plan.stallstatArguments)
    }
}

/// The sampling counters of one recording: an fd per opened (event, target), one ring per
/// CPU that the other fds on that CPU write into. Unmapped and closed when released, on
/// every path out of a recording.
final class SamplingCounters {
    var fds: [Int32] = []
    var rings: [Int: (fd: Int32, ring: cpe_ring)] = [:]
    var idsPerEvent: [[UInt64]]
    var attrBytes: [[UInt8]]
    /// The first failure of each event (an event may open on some targets only).
    var failures: [Int: OpenFailure] = [:]
    var opened = Set<Int>()

    init(events: Int) {
        idsPerEvent = [[UInt64]](repeating: [], count: events)
        attrBytes = [[UInt8]](repeating: [], count: events)
    }

    /// Why each event that opened nowhere failed, in event order.
    var failuresOfUnopenedEvents: [OpenFailure] {
        failures.filter { !opened.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
    }

    deinit {
        for (_, r) in rings { var ring = r.ring; cpe_ring_unmap(&ring) }
        for fd in fds { close(fd) }
    }
}

extension MachineFacts {
    /// The build ids of recorded objects (read from each file's first 64 KiB, where its
    /// note segment is) and of the running kernel (/sys/kernel/notes), as perf's BUILD_ID.
    public static func buildIDs(of files: Set<String>) -> [BuildIDEntry] {
        var out: [BuildIDEntry] = []
        if let notes = try? SystemFiles.readBytes("/sys/kernel/notes", limit: 1 << 16),
           let id = BuildIDEntry.fromNotes(ByteReader(notes), 0..<notes.count) {
            out.append(BuildIDEntry(filename: "[kernel.kallsyms]", buildID: id, isKernel: true))
        }
        for f in files.sorted() where f.hasPrefix("/") {
            guard let prefix = try? SystemFiles.readRegularFilePrefix(f, bytes: 1 << 16), let id = BuildIDEntry.ofELF(prefix: prefix) else { continue }
            out.append(BuildIDEntry(filename: f, buildID: id, isKernel: false))
        }
        return out
    }

    /// _text .. _etext from /proc/kallsyms (nil when addresses are hidden).
    public static func kernelTextRange() -> (UInt64, UInt64)? {
        guard let bytes = try? SystemFiles.readBytes("/proc/kallsyms") else { return nil }
        // Lines are "ADDRESS TYPE NAME": find " _text\n" and " _etext\n" without splitting 200k lines.
        func address(of name: String) -> UInt64? {
            let needle = Array((" " + name + "\n").utf8)
            let found = bytes.withUnsafeBytes { hay in needle.withUnsafeBytes { nd in cpe_find(hay.baseAddress, hay.count, nd.baseAddress, nd.count) } }
            guard found >= 0 else { return nil }
            let i = Int(found)
            var lineStart = i
            while lineStart > 0 && bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
            var end = lineStart
            while end < bytes.count && bytes[end] != 0x20 { end += 1 }
            return UInt64(String(decoding: bytes[lineStart..<end], as: UTF8.self), radix: 16)
        }
        guard let s = address(of: "_text"), let e = address(of: "_etext"), s != 0, e > s else { return nil }
        return (s, e)
    }

    /// The process (thread group) a thread belongs to.
    public static func processOf(thread tid: Int32) -> Int32 {
        guard let status = try? SystemFiles.readText("/proc/\(tid)/status") else { return tid }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingWhitespace()) ?? tid
        }
        return tid
    }
}
