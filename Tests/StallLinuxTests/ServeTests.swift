import Foundation
import XCTest

/// `stallstat serve` as Prometheus uses it: a real Prometheus server scrapes it, promtool
/// checks its exposition, raw sockets send it what broken and hostile clients send.
final class ServeTests: XCTestCase {
    /// A running exporter on a free port, stopped (SIGTERM) at the end of the test.
    final class Exporter {
        let process = Process()
        let port: Int
        private let errorPipe = Pipe()
        private(set) var stderrText = ""

        /// `wrapper`: a program that runs the exporter (deny_perf_events -- stallstat ...).
        init(_ arguments: [String], wrapper: [String] = []) throws {
            let argv = wrapper + [Harness.stallstat, "serve", "--listen", "127.0.0.1:0"] + arguments
            process.executableURL = URL(fileURLWithPath: argv[0])
            process.arguments = Array(argv.dropFirst())
            process.standardOutput = FileHandle.nullDevice
            process.standardError = errorPipe
            try process.run()
            // The note "serving http://127.0.0.1:PORT/metrics" names the port the kernel chose.
            let deadline = Date().addingTimeInterval(timeBound(20))
            var found: Int? = nil
            while found == nil && Date() < deadline && process.isRunning {
                let chunk = errorPipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                stderrText += String(decoding: chunk, as: UTF8.self)
                if let r = stderrText.range(of: #"serving http://127\.0\.0\.1:([0-9]+)/"#, options: .regularExpression) {
                    found = Int(stderrText[r].split(separator: ":").last!.dropLast())
                }
            }
            guard let found else { throw XCTSkip("serve did not start: \(stderrText)") }
            port = found
        }

        /// SIGTERM, then the exit status (0 expected: a clean shutdown).
        func stop() -> Int32 {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            stderrText += String(decoding: errorPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            return process.terminationStatus
        }
    }

    /// One request over a raw socket (the bytes as given), the whole answer until close or
    /// `timeout`.
    static func raw(port: Int, _ request: [UInt8], timeout: Double = 5, readUntilClose: Bool = true) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return "" }
        defer { close(fd) }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else { return "" }
        var sent = 0
        while sent < request.count {
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            sent += n
        }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            out += buf[0..<n]
            if !readUntilClose, let text = String(bytes: out, encoding: .utf8), text.contains("\r\n\r\n") { break }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func get(port: Int, _ path: String, headers: [String] = []) -> String {
        raw(port: port, Array(("GET \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers.map { $0 + "\r\n" }.joined() + "\r\n").utf8))
    }

    static func status(_ response: String) -> Int? {
        response.split(separator: "\r\n").first.flatMap { $0.split(separator: " ").dropFirst().first }.flatMap { Int($0) }
    }

    static func body(_ response: String) -> String {
        response.range(of: "\r\n\r\n").map { String(response[$0.upperBound...]) } ?? ""
    }

    func waitForFirstWindow(_ e: Exporter) {
        let deadline = Date().addingTimeInterval(timeBound(15))
        while Date() < deadline && !ServeTests.body(ServeTests.get(port: e.port, "/metrics")).contains("\nstallstat_windows_total 1") {
            usleep(100_000)
        }
    }

    func testEndpointsFormatsAndHostileClients() throws {
        let e = try Exporter(["--interval", "0.5", "--max-connections", "4", "--request-timeout", "1"])
        defer { XCTAssertEqual(e.stop(), 0, "serve must exit 0 on SIGTERM: \(e.stderrText)") }
        waitForFirstWindow(e)
        let p = e.port

        let text = ServeTests.get(port: p, "/metrics")
        XCTAssertEqual(ServeTests.status(text), 200)
        XCTAssertTrue(text.contains("Content-Type: text/plain; version=0.0.4; charset=utf-8"), text.prefix(300).description)
        XCTAssertTrue(ServeTests.body(text).contains("\nstallstat_page_faults_total "))
        let om = ServeTests.get(port: p, "/metrics", headers: ["Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"])
        XCTAssertTrue(om.contains("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8"))
        XCTAssertTrue(ServeTests.body(om).hasSuffix("# EOF\n"))
        XCTAssertTrue(ServeTests.body(om).contains("# TYPE stallstat_page_faults counter\n"))

        XCTAssertEqual(ServeTests.status(ServeTests.get(port: p, "/healthz")), 200)
        XCTAssertTrue(ServeTests.body(ServeTests.get(port: p, "/")).contains("/metrics"))
        XCTAssertEqual(ServeTests.status(ServeTests.get(port: p, "/nope")), 404)
        XCTAssertEqual(ServeTests.status(ServeTests.get(port: p, "/metrics/../etc/passwd")), 404)
        let head = ServeTests.raw(port: p, Array("HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        XCTAssertEqual(ServeTests.status(head), 200)
        XCTAssertEqual(ServeTests.body(head), "", "HEAD has no body")
        for method in ["POST", "PUT", "DELETE"] {
            let r = ServeTests.raw(port: p, Array("\(method) /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".utf8))
            XCTAssertEqual(ServeTests.status(r), 405, method)
        }
        let withBody = ServeTests.raw(port: p, Array("GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nConnection: close\r\n\r\n".utf8) + [UInt8](repeating: 65, count: 5000))
        XCTAssertEqual(ServeTests.status(withBody), 413)
        // Malformed request lines and headers.
        XCTAssertEqual(ServeTests.status(ServeTests.raw(port: p, Array("garbage\r\n\r\n".utf8))), 400)
        XCTAssertEqual(ServeTests.status(ServeTests.raw(port: p, Array("GET /metrics HTTP/1.1\r\nBad Header\r\n\r\n".utf8))), 400)
        XCTAssertEqual(ServeTests.status(ServeTests.raw(port: p, [0, 1, 2, 255, 254, 13, 10, 13, 10])), 400)
        // A 40 KiB header, and 200 small ones: 431.
        let long = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Long: " + String(repeating: "a", count: 40_000) + "\r\n\r\n"
        XCTAssertEqual(ServeTests.status(ServeTests.raw(port: p, Array(long.utf8))), 431)
        let many = "GET /metrics HTTP/1.1\r\nHost: x\r\n" + (0..<200).map { "X-\($0): y\r\n" }.joined() + "\r\n"
        XCTAssertEqual(ServeTests.status(ServeTests.raw(port: p, Array(many.utf8))), 431)
        // A slow client (half a request head, then nothing) gets 408 at --request-timeout and is closed.
        let t0 = Date()
        let slow = ServeTests.raw(port: p, Array("GET /metrics HTTP/1.1\r\nHost".utf8), timeout: timeBound(5))
        XCTAssertEqual(ServeTests.status(slow), 408, slow)
        XCTAssertLessThan(Date().timeIntervalSince(t0), timeBound(4))
        // Two requests on one keep-alive connection.
        let two = ServeTests.raw(port: p, Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".utf8))
        XCTAssertEqual(two.components(separatedBy: "HTTP/1.1 200 OK").count - 1, 2, two)

        // Connections over --max-connections (4) are answered 503; the first four idle
        // ones hold their places until the request timeout closes them.
        var held: [Int32] = []
        for _ in 0..<4 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(p).bigEndian)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            held.append(fd)
        }
        usleep(200_000)
        XCTAssertEqual(ServeTests.status(ServeTests.get(port: p, "/metrics")), 503)
        held.forEach { close($0) }
        usleep(300_000)
        // And it keeps serving after all of it.
        XCTAssertEqual(ServeTests.status(ServeTests.get(port: p, "/metrics")), 200)
        XCTAssertEqual(ServeTests.status(ServeTests.get(port: p, "/healthz")), 200)
    }

    /// Where perf_event_open is refused (a seccomp filter here, as in containers), serve
    /// still exports PSI, vmstat and fragmentation and says it counts nothing.
    func testWithoutPerfEventOpenItServesTheKernelsSignals() throws {
        let e = try Exporter(["--interval", "0.3"], wrapper: [Harness.workloads + "/deny_perf_events", "--"])
        waitForFirstWindow(e)
        let body = ServeTests.body(ServeTests.get(port: e.port, "/metrics"))
        XCTAssertTrue(body.contains("\nstallstat_counters_open 0\n"), body.prefix(800).description)
        XCTAssertFalse(body.contains("stallstat_page_faults_total"))
        XCTAssertTrue(body.contains("stallstat_memory_unusable_index_ratio{"))
        XCTAssertTrue(body.contains("stallstat_pressure_stalled_seconds_total{"))
        XCTAssertEqual(e.stop(), 0, e.stderrText)
        XCTAssertTrue(e.stderrText.contains("no counter could be opened"), e.stderrText)
    }

    func testOptionsAreValidated() {
        for args in [["--listen", "nonsense"], ["--listen", "127.0.0.1:70000"], ["--listen", "::1:80"], ["--interval", "0"],
                     ["--interval", "nan"], ["--max-connections", "0"], ["--request-timeout", "-1"], ["--memory-detail-interval", "x"]] {
            let r = Harness.stallstat(["serve"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty)
        }
        let help = Harness.stallstat(["serve", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("--listen"))
    }

    func testExpositionPassesPromtool() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else {
            throw XCTSkip("promtool not installed (Debian package prometheus; .ci/run installs it)")
        }
        let e = try Exporter(["--interval", "0.3", "--per-cpu"])
        defer { XCTAssertEqual(e.stop(), 0) }
        waitForFirstWindow(e)
        let body = ServeTests.body(ServeTests.get(port: e.port, "/metrics"))
        XCTAssertTrue(body.contains("stallstat_page_faults_total{cpu=\"0\"}"), "--per-cpu labels counters by CPU")
        let file = NSTemporaryDirectory() + "stallstat-expo-\(getpid()).txt"
        try body.write(toFile: file, atomically: true, encoding: .utf8)
        defer { unlink(file) }
        let r = Harness.run(["/bin/sh", "-c", "promtool check metrics < \(file)"])
        XCTAssertEqual(r.status, 0, "promtool: \(r.stdout)\(r.stderr)")
        XCTAssertEqual((r.stdout + r.stderr).trimmingCharacters(in: .whitespacesAndNewlines), "", "promtool finds nothing to lint")
    }

    /// Prometheus scrapes serve (OpenMetrics, as it asks first); its stored page-fault
    /// rate equals what `stat -a` counts over the same seconds, its frag gauges equal
    /// `frag --json`, and `up` is 1.
    func testPrometheusScrapesServeAndAgreesWithStat() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/prometheus") else {
            throw XCTSkip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
        }
        // A steady page-fault load so both tools see the same rate.
        let load = Process()
        load.executableURL = URL(fileURLWithPath: Harness.workloads + "/cpu_faults")
        load.arguments = ["1000000"]
        load.standardOutput = FileHandle.nullDevice
        try load.run()
        defer { load.terminate(); load.waitUntilExit() }

        let e = try Exporter(["--interval", "1"])
        defer { XCTAssertEqual(e.stop(), 0) }
        let dir = NSTemporaryDirectory() + "stallstat-prom-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let promPort = ServeTests.freePort()
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 900ms
            scrape_configs:
              - job_name: stallstat
                static_configs:
                  - targets: ['127.0.0.1:\(e.port)']
            """.write(toFile: dir + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prom = Process()
        prom.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prom.arguments = ["--config.file=\(dir)/prometheus.yml", "--storage.tsdb.path=\(dir)/data",
                          "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn"]
        prom.standardOutput = FileHandle.nullDevice
        prom.standardError = FileHandle.nullDevice
        try prom.run()
        defer { prom.terminate(); prom.waitUntilExit() }

        func query(_ q: String) -> [[String: Any]] {
            let url = "/api/v1/query?query=" + q.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let body = ServeTests.body(ServeTests.get(port: promPort, url))
            guard let start = body.firstIndex(of: "{"), let end = body.lastIndex(of: "}"),
                  let json = try? JSONSerialization.jsonObject(with: Data(body[start...end].utf8)) as? [String: Any],
                  let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else { return [] }
            return result
        }
        // Two scrapes at least.
        let deadline = Date().addingTimeInterval(timeBound(40))
        while Date() < deadline {
            if let v = query("count_over_time(up{job=\"stallstat\"}[1m])").first?["value"] as? [Any], let n = Double(v[1] as! String), n >= 2 { break }
            usleep(250_000)
        }
        let up = query("up{job=\"stallstat\"}").first?["value"] as? [Any]
        XCTAssertEqual(up?[1] as? String, "1", "up must be 1")

        // stat -a over 4 s while Prometheus scrapes every second.
        let t0 = Date().timeIntervalSince1970
        let stat = Harness.stallstat(["stat", "-a", "-x,", "-e", "page-faults", "--duration", "4"])
        let t1 = Date().timeIntervalSince1970
        let statRate = (Harness.csvCounts(stat.stderr + stat.stdout)["page-faults"] ?? 0) / 4
        XCTAssertGreaterThan(statRate, 10_000, "the load faults steadily: \(stat.stderr)")
        sleep(2)
        // The raw samples Prometheus stored inside the stat window.
        let range = query("stallstat_page_faults_total[30s]")
        let values = (range.first?["values"] as? [[Any]] ?? []).compactMap { v -> (Double, Double)? in
            guard let t = v[0] as? Double, let s = v[1] as? String, let x = Double(s) else { return nil }
            return (t, x)
        }.filter { $0.0 >= t0 && $0.0 <= t1 + 0.5 }
        XCTAssertGreaterThanOrEqual(values.count, 3, "scrapes inside the stat window: \(values)")
        if let first = values.first, let last = values.last, last.0 > first.0 {
            let promRate = (last.1 - first.1) / (last.0 - first.0)
            XCTAssertEqual(promRate / statRate, 1, accuracy: 0.05, "Prometheus \(promRate)/s vs stat -a \(statRate)/s")
        }

        // Frag gauges against frag --json, taken now (the DMA zone does not move; the
        // others move a little with the load: within 0.01 of the index).
        let frag = Harness.stallstat(["frag", "--json"])
        let json = try JSONSerialization.jsonObject(with: Data(frag.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(Double(query("stallstat_memory_page_size_bytes").first.flatMap { ($0["value"] as? [Any])?[1] as? String } ?? ""),
                       json["page_size"] as? Double)
        XCTAssertEqual(Double(query("stallstat_memory_huge_page_order").first.flatMap { ($0["value"] as? [Any])?[1] as? String } ?? ""),
                       json["huge_page_order"] as? Double)
        let unusable = query("stallstat_memory_unusable_index_ratio")
        var compared = 0
        for zone in json["zones"] as! [[String: Any]] {
            let node = "\(zone["node"]!)", name = zone["zone"] as! String
            for (order, u) in (zone["unusable_index"] as! [Double]).enumerated() {
                let m = unusable.first {
                    let l = $0["metric"] as! [String: String]
                    return l["node"] == node && l["zone"] == name && l["order"] == "\(order)"
                }
                guard let s = (m?["value"] as? [Any])?[1] as? String, let v = Double(s) else {
                    XCTFail("no unusable index for \(node)/\(name) order \(order) in Prometheus")
                    continue
                }
                XCTAssertEqual(v, u, accuracy: name == "DMA" ? 0.0005 : 0.01, "\(node)/\(name) order \(order)")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 10)
    }

    /// The shipped Prometheus config, rules and Grafana dashboard are valid (promtool) and
    /// name only metrics the exporter serves (the stall tree's only with a PMU).
    func testExamplesAreValidAndNameServedMetrics() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool") else {
            throw XCTSkip("promtool not installed (Debian package prometheus; .ci/run installs it)")
        }
        let dir = Harness.packageRoot + "/Examples/prometheus"
        for (what, file) in [("config", "prometheus.yml"), ("rules", "stallstat-rules.yml")] {
            let r = Harness.run(["/usr/bin/promtool", "check", what, dir + "/" + file])
            XCTAssertEqual(r.status, 0, "promtool check \(what) \(file): \(r.stdout)\(r.stderr)")
        }
        let e = try Exporter(["--interval", "0.3"])
        defer { XCTAssertEqual(e.stop(), 0) }
        waitForFirstWindow(e)
        let body = ServeTests.body(ServeTests.get(port: e.port, "/metrics"))
        let served = Set(body.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { $0.split(whereSeparator: { $0 == "{" || $0 == " " }).first.map(String.init) })
        let pmuOnly: Set = ["stallstat_stall_share_ratio", "stallstat_stall_metric"]
        let hasPMU = body.contains("\nstallstat_pmu_available 1")
        var named = Set<String>()
        for file in ["stallstat-rules.yml", "grafana-dashboard.json"] {
            // Recording rules' own names (instance:stallstat_…:rate1m) are not the exporter's.
            let text = try String(contentsOfFile: dir + "/" + file, encoding: .utf8).split(separator: "\n")
                .filter { !$0.contains("record:") }.joined(separator: "\n")
            let re = try NSRegularExpression(pattern: "stallstat_[a-z0-9_]+")
            for m in re.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                named.insert(String(text[Range(m.range, in: text)!]))
            }
        }
        XCTAssertGreaterThan(named.count, 8)
        for name in named {
            if pmuOnly.contains(name) && !hasPMU { continue }
            XCTAssertTrue(served.contains(name), "\(name) is used by the examples but not served")
        }
    }

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
