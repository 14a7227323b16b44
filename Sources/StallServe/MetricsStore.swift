import NIOConcurrencyHelpers
import StallCore

/// The last published window. The counting loop hands over its `ExporterMetrics` (a value:
/// the copy is cheap, copy-on-write) and goes on; the first scrape of each format after a
/// window renders it once, and later scrapes of that window copy the cached bytes. A
/// scrape never touches a counter or /proc, and rendering happens at most once per window
/// per format, only if someone asks (the loop itself renders nothing: at one scrape per
/// 15 s that is 15 times less work than rendering every window).
public final class MetricsStore: @unchecked Sendable {
    public struct Published: Sendable {
        public var body: [UInt8]
        /// Monotonic time of the window's publication, for /healthz.
        public var monotonicNs: UInt64
    }

    private let lock = NIOLock()
    private var metrics: ExporterMetrics? = nil
    private var publishedNs: UInt64 = 0
    private var generation: UInt64 = 0
    /// Rendered bodies of the current generation: [0] text, [1] OpenMetrics.
    private var rendered: [(generation: UInt64, body: [UInt8])?] = [nil, nil]
    /// How long without a new window before /healthz says the loop is stuck.
    public let staleAfterNs: UInt64

    public init(staleAfterNs: UInt64) { self.staleAfterNs = staleAfterNs }

    public func publish(_ m: ExporterMetrics, monotonicNs: UInt64) {
        lock.withLock {
            metrics = m
            publishedNs = monotonicNs
            generation &+= 1
        }
    }

    /// Monotonic time of the last publication (nil before the first).
    public var lastPublicationNs: UInt64? { lock.withLock { metrics == nil ? nil : publishedNs } }

    /// The exposition of the last window in `format` (the 1.0.0 and 0.0.1 OpenMetrics
    /// bodies are the same text). Rendering happens under the lock: concurrent scrapes of
    /// a new window wait for the one rendering rather than render it again.
    public func body(_ format: ExpositionFormat) -> Published? {
        lock.withLock {
            guard let metrics else { return nil }
            let slot: Int
            if case .openMetrics = format { slot = 1 } else { slot = 0 }
            if let r = rendered[slot], r.generation == generation { return Published(body: r.body, monotonicNs: publishedNs) }
            let body = PrometheusExposition.renderBytes(metrics.families(), format: slot == 1 ? .openMetrics(version: "1.0.0") : .text)
            rendered[slot] = (generation, body)
            return Published(body: body, monotonicNs: publishedNs)
        }
    }
}
