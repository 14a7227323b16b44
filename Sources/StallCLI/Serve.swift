import ArgumentParser
import StallCore
import StallLinux
#if canImport(StallServe)
import StallServe
#endif

/// `stallstat serve`: one exporter per host. The counting loop (the engine of `stat -a -I`)
/// runs on its own interval and publishes each window; HTTP scrapes only copy the last
/// publication.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export stall counts and memory fragmentation to Prometheus (/metrics, text format or OpenMetrics).",
        discussion: """
            Counts the default stall set system-wide (as `stat -a -I`), plus the memory \
            snapshot of `frag`, every --interval, and serves the last window at /metrics. \
            Read-only: no endpoint starts anything or changes the machine. Stops on SIGTERM \
            or Ctrl-C. Without a hardware PMU it exports software events, PSI, vmstat and \
            fragmentation, and says so in stallstat_pmu_available.
            """)

    @Option(name: .customLong("listen"), help: "Address and port to serve on: ADDR:PORT, [IPv6]:PORT (port 0: any free port, printed).")
    var listen = "127.0.0.1:9464"

    @Option(name: .customLong("interval"), help: "Seconds between counting windows (0.1 to 3600).")
    var intervalText = "1"

    @Option(name: .customLong("memory-detail-interval"),
            help: "Seconds between reads of /proc/pagetypeinfo and /proc/zoneinfo (migrate types, watermarks); they cost milliseconds of kernel time each, so not every window. 0: never.")
    var detailText = "60"

    @Flag(name: .customLong("per-cpu"), help: "Label counters by CPU (one series per CPU and event).")
    var perCPU = false

    @Option(name: [.customShort("e"), .customLong("event")], help: "Events to count instead of the default stall set (stat's syntax).")
    var events: [String] = []

    @Option(name: .customLong("max-connections"), help: "Concurrent HTTP connections served (more are answered 503).")
    var maxConnections = 64

    @Option(name: .customLong("request-timeout"), help: "Seconds a client has to send a whole request head (slow clients get 408 and are closed).")
    var requestTimeoutText = "10"

    @Option(name: .customLong("duration"), help: "Stop after this many seconds (default: until SIGTERM or Ctrl-C).")
    var durationText: String?

    @Option(name: .customLong("cpu-model"), help: "Use this EventTables model instead of detecting the CPU.")
    var cpuModel: String?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No notes on stderr.")
    var quiet = false

    static let interval = DecimalOption(name: "--interval", range: 0.1...3600, unit: "seconds")
    static let detail = DecimalOption(name: "--memory-detail-interval", range: 0...86400, unit: "seconds")
    static let requestTimeout = DecimalOption(name: "--request-timeout", range: 0.1...300, unit: "seconds")

    func validate() throws {
        try Serve.interval.check(intervalText)
        try Serve.detail.check(detailText)
        try Serve.requestTimeout.check(requestTimeoutText)
        try TargetOptions.duration.check(durationText)
        _ = try ListenAddress.parse(listen)
        guard (1...10_000).contains(maxConnections) else { throw ValidationError("--max-connections must be 1 to 10000 (got \(maxConnections))") }
    }

    func run() throws {
        #if canImport(StallServe)
        try ServeRunner(options: self).run()
        #else
        throw CLIError(message: "serve: this stallstat was built without its HTTP server (swift-nio needs Swift 6.2 or later to build)", exitCode: 2)
        #endif
    }
}

/// `--listen`: host and port, IPv6 in brackets.
struct ListenAddress: Equatable {
    var host: String
    var port: Int

    static func parse(_ text: String) throws -> ListenAddress {
        var host: Substring, portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("--listen '\(text)': write an IPv6 address as [ADDR]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ValidationError("--listen '\(text)': expected ADDR:PORT (e.g. 127.0.0.1:9464)") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") { throw ValidationError("--listen '\(text)': write an IPv6 address as [ADDR]:PORT") }
        }
        guard !host.isEmpty else { throw ValidationError("--listen '\(text)': no address (0.0.0.0 for every interface)") }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("--listen '\(text)': the port must be a number from 0 to 65535")
        }
        return ListenAddress(host: String(host), port: port)
    }
}

#if canImport(StallServe)
/// The exporter's run: resolve the events, start the server, count until stopped.
struct ServeRunner {
    let options: Serve

    func run() throws {
        // Stop signals go to the counting loop's sigtimedwait: blocked before any thread starts.
        MachineFacts.blockStopSignals()
        let notes = Notes(quiet: options.quiet)
        let pmus = SysfsPMUs()
        let resolver = EventResolver(pmus: pmus, tablesDirectory: nil, cpuModel: options.cpuModel)
        // The events `stat -a` would count, through stat's own selection. PSI and vmstat
        // come from the memory snapshot instead (every counter, not the default few).
        var statArguments = ["-a"]
        if let m = options.cpuModel { statArguments += ["--cpu-model", m] }
        if !options.events.isEmpty {
            statArguments += options.events.flatMap { ["-e", $0] }
        } else if !pmus.hasHardwarePMU {
            statArguments += ["-e", "task-clock,context-switches,cpu-migrations,page-faults,major-faults"]
            notes.write("no hardware PMU: exporting software events, PSI, vmstat and fragmentation (stallstat_pmu_available 0)")
        }
        let stat = try Stat.parse(statArguments)
        let selection = try StatEventSelection.build(stat, resolver: resolver, pmus: pmus)
        var kept: [Int: Int] = [:]
        var resolved: [ResolvedEvent] = []
        for (i, e) in selection.events.enumerated() where e.procCounter == nil {
            kept[i] = resolved.count
            resolved.append(e)
        }
        let groups = selection.groups.map { $0.compactMap { kept[$0] } }.filter { !$0.isEmpty }
        let kernelGroups = CounterGrouping.kernelGroups(events: resolved, requested: groups)

        let intervalSeconds = Serve.interval.value(options.intervalText) ?? 1
        let detailSeconds = Serve.detail.value(options.detailText) ?? 60
        let cpus = MachineFacts.onlineCPUs()
        var plan = StatPlan(events: resolved, groups: kernelGroups, scope: .systemWide(cpus: cpus), command: [],
                            aggregation: options.perCPU ? .perCPU : .global,
                            durationSeconds: TargetOptions.duration.value(options.durationText),
                            intervalMilliseconds: max(1, Int((intervalSeconds * 1000).rounded())))
        plan.inherit = true
        let runner = StatRunner(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: MachineFacts.perfEventParanoid())

        let pmuNames = Dictionary(pmus.pmus.map { ($0.type, $0.name) }, uniquingKeysWith: { a, _ in a })
        let exported = resolved.map { e -> ExporterMetrics.Event in
            let pmu: String
            switch e.attr?.type {
            case PerfType.software?: pmu = "software"
            case PerfType.tracepoint?: pmu = "tracepoint"
            case PerfType.hardware?, PerfType.hardwareCache?: pmu = pmus.corePMUs.first?.name ?? "cpu"
            case let t?: pmu = pmuNames[t] ?? "type\(t)"
            case nil: pmu = "proc"
            }
            return ExporterMetrics.Event(name: e.name, pmu: pmu)
        }
        var metrics = ExporterMetrics(events: exported, perCPU: options.perCPU, pmuAvailable: pmus.hasHardwarePMU,
                                      intervalSeconds: intervalSeconds, version: stallstatVersion)
        let treeBuilder = resolver.coreTypes().first.map(\.model).map { model in
            StallTreeBuilder(catalog: resolver.tables.catalog(for: model), slots: pmus.corePMUs.compactMap(\.slots).first,
                             midr: stat.firstMIDR(resolver, model))
        }

        let listen = try ListenAddress.parse(options.listen)
        // A window late by three intervals (or 10 s) makes /healthz fail.
        let store = MetricsStore(staleAfterNs: UInt64(max(10, 3 * intervalSeconds) * 1e9))
        var limits = ExporterServer.Limits()
        limits.maxConnections = options.maxConnections
        limits.requestTimeout = .nanoseconds(Int64((Serve.requestTimeout.value(options.requestTimeoutText) ?? 10) * 1e9))
        let server: ExporterServer
        do {
            server = try ExporterServer(host: listen.host, port: listen.port, store: store, limits: limits,
                                        monotonicNs: { MachineFacts.monotonicNanoseconds() })
        } catch {
            throw CLIError(message: "serve: \(error)", exitCode: 2)
        }
        defer { server.shutdown() }
        notes.write("serving http://\(listen.host.contains(":") ? "[\(listen.host)]" : listen.host):\(server.port)/metrics"
                    + " (\(resolved.count) events, every \(intervalSeconds) s)")

        let light = MemorySnapshotReader(detailed: false), full = MemorySnapshotReader(detailed: true)
        var lastDetail: MemorySnapshot? = nil
        var lastDetailNs: UInt64 = 0
        func memorySnapshot() -> MemorySnapshot? {
            let now = MachineFacts.monotonicNanoseconds()
            let wantsDetail = detailSeconds > 0 && (lastDetail == nil || Double(now &- lastDetailNs) >= detailSeconds * 1e9)
            guard var s = try? (wantsDetail ? full : light).read() else { return nil }
            if wantsDetail {
                lastDetail = s
                lastDetailNs = now
            } else if let d = lastDetail {
                // Migrate types and watermarks from the last detailed read.
                s.pageTypes = d.pageTypes
                s.watermarks = d.watermarks
            }
            return s
        }
        metrics.memory = memorySnapshot()
        store.publish(metrics, monotonicNs: MachineFacts.monotonicNanoseconds())

        let publishWindow = { (window: StatWindow) in
            metrics.add(window: window, unixSeconds: MachineFacts.wallClockSeconds())
            if let treeBuilder { metrics.stallTree = treeBuilder.build(ExporterMetrics.treeInput(window)) }
            if let m = memorySnapshot() { metrics.memory = m }
            store.publish(metrics, monotonicNs: MachineFacts.monotonicNanoseconds())
        }
        let outcome: StatOutcome
        do {
            outcome = try runner.run(onInterval: publishWindow)
        } catch StatRunError.nothingOpened(let failures) {
            // No counter may be opened (perf_event_paranoid without CAP_PERFMON, a container
            // that denies perf_event_open): the kernel's own signals and the memory snapshot
            // still serve, and stallstat_counters_open says 0.
            for f in failures.prefix(3) { notes.write(f.message) }
            notes.write("no counter could be opened: exporting PSI, vmstat and fragmentation only (stallstat_counters_open 0)")
            metrics.events = []
            plan.events = []
            plan.groups = []
            outcome = try StatRunner(plan: plan, hasHardwarePMU: pmus.hasHardwarePMU, paranoid: nil).run(onInterval: publishWindow)
        } catch let e as StatRunError {
            throw CLIError(message: "serve: \(e)", exitCode: ExitCodes.of(e))
        }
        for f in outcome.failures { notes.write("\(f.message)") }
        if let s = outcome.interruptedBy { notes.write("stopped by signal \(s); served \(metrics.windows) windows") }
    }
}
#endif
