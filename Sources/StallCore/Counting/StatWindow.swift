/// A measurement window: the whole run, or one `-I` interval.
public struct StatWindow: Equatable, Sendable {
    /// Seconds since counting started, printed in interval mode (nil for a summary).
    public var timestampSeconds: Double?
    /// Wall-clock length of the window.
    public var elapsedNs: Double
    public var results: [CounterResult]

    public init(timestampSeconds: Double?, elapsedNs: Double, results: [CounterResult]) {
        self.timestampSeconds = timestampSeconds
        self.elapsedNs = elapsedNs
        self.results = results
    }
}
