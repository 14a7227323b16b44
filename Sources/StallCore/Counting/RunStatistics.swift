/// Mean and spread of one quantity over repeated runs, with Welford's update as
/// perf's util/stat.c uses, so `( +- x.xx% )` means what it means in perf.
public struct RunStatistics: Equatable, Sendable {
    public private(set) var count = 0
    public private(set) var mean = 0.0
    private var m2 = 0.0

    public init() {}
    public init<S: Sequence>(_ values: S) where S.Element == Double {
        for v in values { add(v) }
    }

    public mutating func add(_ x: Double) {
        count += 1
        let delta = x - mean
        mean += delta / Double(count)
        m2 += delta * (x - mean)
    }

    /// Sample variance (n − 1 in the denominator).
    public var variance: Double { count < 2 ? 0 : m2 / Double(count - 1) }
    public var standardDeviation: Double { variance.squareRoot() }
    /// Standard error of the mean.
    public var standardErrorOfMean: Double { count < 1 ? 0 : (variance / Double(count)).squareRoot() }
    /// perf's printed figure: 100 · SEM / mean (0 when the mean is 0).
    public var relativeStandardErrorPercent: Double { mean == 0 ? 0 : 100 * standardErrorOfMean / mean }
}
