#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The statistics behind `stallstat gate`.
public enum GateStatistics {
    public static func median(_ x: [Double]) -> Double {
        precondition(!x.isEmpty)
        let s = x.sorted()
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// Two-sided Mann-Whitney U test, normal approximation with tie and continuity
    /// corrections: scipy.stats.mannwhitneyu(x, y, method="asymptotic").
    public static func mannWhitneyU(_ x: [Double], _ y: [Double]) -> (u: Double, p: Double) {
        let n1 = Double(x.count), n2 = Double(y.count), n = n1 + n2
        let ranks = Correlation.ranks(x + y)
        let r1 = ranks.prefix(x.count).reduce(0, +)
        let u1 = r1 - n1 * (n1 + 1) / 2
        let u = max(u1, n1 * n2 - u1)
        // tie correction: Σ(t³ − t) over groups of equal values
        var counts: [Double: Double] = [:]
        for v in x + y { counts[v, default: 0] += 1 }
        let tieTerm = counts.values.reduce(0) { $0 + ($1 * $1 * $1 - $1) }
        let variance = n1 * n2 / 12 * ((n + 1) - tieTerm / (n * (n - 1)))
        guard variance > 0 else { return (u1, 1) }   // every value equal: no evidence of a difference
        let z = (u - n1 * n2 / 2 - 0.5) / variance.squareRoot()
        return (u1, min(1, 2 * 0.5 * erfc(z / 2.0.squareRoot())))
    }

    /// A small, seeded generator so the same samples give the same interval.
    public struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        public init(seed: UInt64) { state = seed }
        public mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
    }

    /// The most samples per side the bootstrap and the noise floor resample: past it they
    /// work on that many evenly spaced quantiles of each side (its distribution, not its
    /// order), so a baseline of millions of samples costs what 2,000 do. Medians and the
    /// Mann-Whitney test always use every sample.
    public static let maxResampledSize = 2000

    static func quantileSubsample(_ x: [Double]) -> [Double] {
        guard x.count > maxResampledSize else { return x }
        let sorted = x.sorted()
        return (0..<maxResampledSize).map { sorted[$0 * (sorted.count - 1) / (maxResampledSize - 1)] }
    }

    static func resample(_ x: [Double], _ rng: inout SplitMix64) -> [Double] {
        (0..<x.count).map { _ in x[Int(rng.next() % UInt64(x.count))] }
    }

    /// Percentile bootstrap interval of median(new) / median(baseline).
    public static func bootstrapRatioOfMedians(baseline: [Double], new: [Double], resamples: Int = 2000,
                                               confidence: Double = 0.95, seed: UInt64 = 0x5EED) -> (low: Double, high: Double)? {
        let baseline = quantileSubsample(baseline), new = quantileSubsample(new)
        var rng = SplitMix64(seed: seed)
        var ratios: [Double] = []
        ratios.reserveCapacity(resamples)
        for _ in 0..<resamples {
            let a = median(resample(baseline, &rng))
            guard a != 0 else { continue }
            ratios.append(median(resample(new, &rng)) / a)
        }
        guard ratios.count >= resamples / 2 else { return nil }
        ratios.sort()
        let tail = (1 - confidence) / 2
        return (ratios[Int(Double(ratios.count - 1) * tail)], ratios[Int(Double(ratios.count - 1) * (1 - tail))])
    }

    /// The smallest relative change these sample sizes and this noise can reveal: both
    /// samples are divided by their own medians and pooled (removing any real shift),
    /// then A/A pairs of the same sizes are drawn; 95% of their ratio-of-medians
    /// differences lie within ± the returned fraction.
    public static func minimumDetectableChange(baseline: [Double], new: [Double], resamples: Int = 2000, seed: UInt64 = 0xA11CE) -> Double {
        let baseline = quantileSubsample(baseline), new = quantileSubsample(new)
        let ma = median(baseline), mb = median(new)
        if ma == 0 || mb == 0 {
            // Counts at zero: any non-zero value is a change, and equal zeros show no noise.
            return (baseline + new).allSatisfy { $0 == 0 } ? 0 : .infinity
        }
        let pool = baseline.map { $0 / ma } + new.map { $0 / mb }
        var rng = SplitMix64(seed: seed)
        var diffs: [Double] = []
        for _ in 0..<resamples {
            let a = median((0..<baseline.count).map { _ in pool[Int(rng.next() % UInt64(pool.count))] })
            let b = median((0..<new.count).map { _ in pool[Int(rng.next() % UInt64(pool.count))] })
            if a > 0 { diffs.append(abs(b / a - 1)) }
        }
        diffs.sort()
        return diffs.isEmpty ? .infinity : diffs[Int(Double(diffs.count - 1) * 0.95)]
    }
}

/// The verdict on one metric.
public struct GateResult: Equatable, Sendable {
    public enum Verdict: String, Sendable { case pass, regression, improvement, inconclusive }
    public var metric: String
    public var unit: String
    public var baselineMedian: Double
    public var newMedian: Double
    /// median(new) / median(baseline) − 1
    public var change: Double
    public var ratioInterval: (low: Double, high: Double)?
    public var pValue: Double
    public var threshold: Double
    public var minimumDetectableChange: Double
    public var lowestCoveragePercent: Double
    public var verdict: Verdict
    public var reason: String
    public var baselineSamples: [Double]
    public var newSamples: [Double]

    public static func == (a: GateResult, b: GateResult) -> Bool {
        a.metric == b.metric && a.verdict == b.verdict && a.change == b.change && a.pValue == b.pValue
    }
}

public enum GateDecision {
    /// A regression needs both: p < alpha, and a rise larger than the threshold. It is
    /// inconclusive when a counter ran less than `minimumCoverage` of the time
    /// (multiplexing) or when the noise floor is above the threshold.
    public static func decide(metric: String, unit: String, baseline: [Double], new: [Double], threshold: Double,
                              alpha: Double, coveragePercent: [Double], minimumCoverage: Double) -> GateResult {
        let mb = GateStatistics.median(baseline), mn = GateStatistics.median(new)
        let change = mb == 0 ? (mn == 0 ? 0 : .infinity) : mn / mb - 1
        let (_, p) = GateStatistics.mannWhitneyU(baseline, new)
        let ci = GateStatistics.bootstrapRatioOfMedians(baseline: baseline, new: new)
        let mde = GateStatistics.minimumDetectableChange(baseline: baseline, new: new)
        let coverage = coveragePercent.min() ?? 100
        var r = GateResult(metric: metric, unit: unit, baselineMedian: mb, newMedian: mn, change: change, ratioInterval: ci,
                           pValue: p, threshold: threshold, minimumDetectableChange: mde, lowestCoveragePercent: coverage,
                           verdict: .pass, reason: "", baselineSamples: baseline, newSamples: new)
        // The smallest p these sample sizes can give (complete separation): if it is not
        // below alpha, no change of any size could be called significant.
        let smallestP = GateStatistics.mannWhitneyU((0..<baseline.count).map(Double.init), (0..<new.count).map { Double($0 + baseline.count) }).p
        if (baseline + new).contains(where: { $0 < 0 || !$0.isFinite }) {
            r.verdict = .inconclusive
            r.reason = "a sample is negative or not finite: these are not counts"
        } else if mb == 0 && mn == 0 && (baseline + new).allSatisfy({ $0 == 0 }) {
            r.verdict = .inconclusive
            r.reason = "counted nothing in either run: no signal to gate (choose a metric the benchmark exercises)"
        } else if mb == 0 {
            r.verdict = .inconclusive
            r.reason = "the baseline's median is 0: there is no ratio to gate (record a baseline in which the metric counts)"
        } else {
            judge(&r, alpha: alpha, minimumCoverage: minimumCoverage, smallestP: smallestP,
                  samples: "\(baseline.count) and \(new.count) runs", noun: "runs", testP: "p", regressionP: "p")
        }
        return r
    }

    /// The verdict on samples known to be counts with a ratio to gate, shared by check and
    /// compare: coverage, reachable significance, then regression, noise floor, improvement,
    /// pass, in that order. `samples` and `noun` say what was compared ("10 and 10 runs",
    /// "runs"; "10 pairs", "pairs"), `testP` and `regressionP` how p is named in the reasons.
    static func judge(_ r: inout GateResult, alpha: Double, minimumCoverage: Double, smallestP: Double, identical: Bool = false,
                      samples: String, noun: String, testP: String, regressionP: String) {
        let pct = { (x: Double) in x.isFinite ? cFormat("%+.2f%%", 100 * x) : "+inf" }
        let (change, p, threshold, mde) = (r.change, r.pValue, r.threshold, r.minimumDetectableChange)
        if r.lowestCoveragePercent < minimumCoverage * 100 {
            r.verdict = .inconclusive
            r.reason = cFormat("a counter ran only %.1f%% of the time (multiplexed); ", r.lowestCoveragePercent) + cFormat("needs %.0f%%", minimumCoverage * 100)
        } else if identical {
            r.verdict = .pass
            r.reason = "identical in every pair"
        } else if smallestP >= alpha {
            r.verdict = .inconclusive
            r.reason = "\(samples) cannot reach significance: the smallest possible p is " + cFormat("%.3g", smallestP)
                + cFormat(" ≥ alpha %.3g; use more runs", alpha)
        } else if p < alpha && change > threshold {
            r.verdict = .regression
            r.reason = "rose " + pct(change) + " (\(regressionP)" + cFormat(" = %.3g < %.3g) past its threshold of %g%%", p, alpha, 100 * threshold)
        } else if mde > threshold {
            r.verdict = .inconclusive
            r.reason = cFormat("too noisy to gate %g%%: the smallest change these ", 100 * threshold) + noun
                + cFormat(" can detect is %.1f%%", 100 * mde)
        } else if p < alpha && change < -threshold {
            r.verdict = .improvement
            r.reason = "fell " + pct(change) + " (\(testP)" + cFormat(" = %.3g)", p)
        } else {
            r.verdict = .pass
            r.reason = p < alpha ? "changed " + pct(change) + cFormat(", within the %g%% threshold", 100 * threshold)
                                 : "no significant change (" + pct(change) + ", \(testP)" + cFormat(" = %.3g)", p)
        }
    }
}

/// The statistics of `gate compare`: the two commands ran in pairs, so each pair's ratio
/// new/old carries the machine state both saw, and the test is on those ratios.
public enum PairedStatistics {
    /// Two-sided Wilcoxon signed-rank test of the differences against 0, zeros dropped
    /// (scipy.stats.wilcoxon's zero_method="wilcox"). Up to 50 non-zero differences the p
    /// value is exact: every sign assignment of the observed (mid)ranks counted, which
    /// without ties is scipy's method="exact". Beyond, the normal approximation with tie
    /// and continuity corrections (scipy's method="approx", correction=True).
    public static func wilcoxonSignedRank(_ differences: [Double]) -> (w: Double, p: Double) {
        let d = differences.filter { $0 != 0 && $0.isFinite }
        let n = d.count
        guard n > 0 else { return (0, 1) }
        let ranks = Correlation.ranks(d.map { abs($0) })
        let wPlus = zip(d, ranks).filter { $0.0 > 0 }.reduce(0) { $0 + $1.1 }
        let total = Double(n * (n + 1)) / 2
        let w = min(wPlus, total - wPlus)
        if n <= 50 {
            // Ranks are whole or half numbers: doubled they index a table of how many of
            // the 2^n sign choices give each sum.
            let doubled = ranks.map { Int(($0 * 2).rounded()) }
            let maxSum = doubled.reduce(0, +)
            var ways = [Double](repeating: 0, count: maxSum + 1)
            ways[0] = 1
            var reach = 0
            for r in doubled {
                for s in stride(from: reach, through: 0, by: -1) where ways[s] > 0 { ways[s + r] += ways[s] }
                reach += r
            }
            let all = ways.reduce(0, +)
            let observed = Int((w * 2).rounded())
            // Two-sided: the tail at or below the smaller sum, doubled (the distribution is symmetric).
            let tail = ways[0...min(observed, maxSum)].reduce(0, +)
            return (w, min(1, 2 * tail / all))
        }
        var counts: [Double: Double] = [:]
        for r in ranks { counts[r, default: 0] += 1 }
        let tie = counts.values.reduce(0) { $0 + ($1 * $1 * $1 - $1) }
        let nn = Double(n)
        let variance = nn * (nn + 1) * (2 * nn + 1) / 24 - tie / 48
        guard variance > 0 else { return (w, 1) }
        let z = (abs(w - total / 2) - 0.5) / variance.squareRoot()
        return (w, min(1, erfc(max(0, z) / 2.0.squareRoot())))
    }

    /// The smallest two-sided p n non-zero pairs can give (every sign the same).
    public static func smallestP(pairs n: Int) -> Double { n <= 0 ? 1 : min(1, 2 / pow(2, Double(n))) }

    /// Percentile bootstrap interval of the median of the per-pair ratios (pairs resampled whole).
    public static func bootstrapMedian(_ ratios: [Double], resamples: Int = 2000, confidence: Double = 0.95,
                                       seed: UInt64 = 0x5EED) -> (low: Double, high: Double)? {
        guard !ratios.isEmpty else { return nil }
        let x = GateStatistics.quantileSubsample(ratios)
        var rng = GateStatistics.SplitMix64(seed: seed)
        var medians = (0..<resamples).map { _ in GateStatistics.median(GateStatistics.resample(x, &rng)) }
        medians.sort()
        let tail = (1 - confidence) / 2
        return (medians[Int(Double(resamples - 1) * tail)], medians[Int(Double(resamples - 1) * (1 - tail))])
    }

    /// The smallest change these pairs can reveal: the ratios centred on 1 (their own
    /// median removed), resampled; 95% of the resampled medians lie within ± this.
    public static func minimumDetectableChange(_ ratios: [Double], resamples: Int = 2000, seed: UInt64 = 0xA11CE) -> Double {
        guard !ratios.isEmpty else { return .infinity }
        let m = GateStatistics.median(ratios)
        guard m > 0 else { return .infinity }
        let centred = GateStatistics.quantileSubsample(ratios.map { $0 / m })
        var rng = GateStatistics.SplitMix64(seed: seed)
        var diffs = (0..<resamples).map { _ in abs(GateStatistics.median(GateStatistics.resample(centred, &rng)) - 1) }
        diffs.sort()
        return diffs[Int(Double(resamples - 1) * 0.95)]
    }
}

public enum PairedGateDecision {
    /// `gate compare`: per pair, new/old; a regression needs p < alpha (Wilcoxon on the
    /// log ratios) and a median ratio past 1 + threshold. Inconclusive when a pair has a
    /// zero old count, a counter was multiplexed below `minimumCoverage`, the pairs cannot
    /// reach significance, or the noise floor is above the threshold.
    public static func decide(metric: String, unit: String, old: [Double], new: [Double], threshold: Double,
                              alpha: Double, coveragePercent: [Double], minimumCoverage: Double) -> GateResult {
        precondition(old.count == new.count && !old.isEmpty)
        let mo = GateStatistics.median(old), mn = GateStatistics.median(new)
        let coverage = coveragePercent.min() ?? 100
        var r = GateResult(metric: metric, unit: unit, baselineMedian: mo, newMedian: mn, change: 0, ratioInterval: nil, pValue: 1,
                           threshold: threshold, minimumDetectableChange: .infinity, lowestCoveragePercent: coverage,
                           verdict: .inconclusive, reason: "", baselineSamples: old, newSamples: new)
        if (old + new).contains(where: { $0 < 0 || !$0.isFinite }) {
            r.reason = "a sample is negative or not finite: these are not counts"
            return r
        }
        if (old + new).allSatisfy({ $0 == 0 }) {
            r.reason = "counted nothing in either command: no signal to gate (choose a metric the benchmark exercises)"
            return r
        }
        if old.contains(0) {
            r.reason = "the old command counted 0 in a pair: there is no ratio to gate"
            return r
        }
        let ratios = zip(new, old).map { $0 / $1 }
        let median = GateStatistics.median(ratios)
        r.change = median - 1
        r.ratioInterval = PairedStatistics.bootstrapMedian(ratios)
        r.pValue = PairedStatistics.wilcoxonSignedRank(ratios.map { log($0) }).p
        r.minimumDetectableChange = PairedStatistics.minimumDetectableChange(ratios)
        GateDecision.judge(&r, alpha: alpha, minimumCoverage: minimumCoverage, smallestP: PairedStatistics.smallestP(pairs: ratios.count),
                           identical: ratios.allSatisfy { $0 == 1 }, samples: "\(ratios.count) pairs", noun: "pairs",
                           testP: "Wilcoxon p", regressionP: "median of \(ratios.count) paired ratios, Wilcoxon p")
        return r
    }
}
