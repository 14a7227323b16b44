import NIOConcurrencyHelpers
import StallCore

/// The last published exposition, rendered once per counting window in both formats: a
/// scrape copies bytes under a lock and never touches a counter or /proc, so scrapes are
/// cheap and any number of them may run at once.
public final class MetricsStore: @unchecked Sendable {
    public struct Published: Sendable {
        public var text: [UInt8]
        public var openMetrics: [UInt8]
        /// Monotonic time of the publication, for /healthz.
        public var monotonicNs: UInt64
    }

    private let lock = NIOLock()
    private var published: Published? = nil
    /// How long without a new window before /healthz says the loop is stuck.
    public let staleAfterNs: UInt64

    public init(staleAfterNs: UInt64) { self.staleAfterNs = staleAfterNs }

    public func publish(_ families: [MetricFamily], monotonicNs: UInt64) {
        // The 1.0.0 and 0.0.1 OpenMetrics bodies are the same text.
        let p = Published(text: Array(PrometheusExposition.render(families, format: .text).utf8),
                          openMetrics: Array(PrometheusExposition.render(families, format: .openMetrics(version: "1.0.0")).utf8),
                          monotonicNs: monotonicNs)
        lock.withLock { published = p }
    }

    public var current: Published? { lock.withLock { published } }
}
