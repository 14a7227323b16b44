import ArgumentParser
import Foundation
import XCTest
@testable import StallCLI

/// `stat`'s command line, parsed in-process as main() parses it, and through the binary
/// where the behaviour is what the user sees (help, exit codes).
final class StatOptionTests: XCTestCase {
    func parseStat(_ args: [String]) throws -> Stat {
        let command = try Stallstat.parse(["stat"] + args)
        return try XCTUnwrap(command as? Stat, "\(args) parsed as \(type(of: command))")
    }

    func testTheCommandStartsAtDoubleDashOrTheFirstNonOptionWord() throws {
        let split = { CommandLineSplit.split($0, valueOptions: Stat.valueOptions) }
        XCTAssertEqual(split(["-a", "-e", "x", "ls", "-l"]), CommandLineSplit(options: ["-a", "-e", "x"], command: ["ls", "-l"]))
        XCTAssertEqual(split(["-x,", "-I", "-5", "--", "-weird"]), CommandLineSplit(options: ["-x,", "-I", "-5"], command: ["-weird"]))
        XCTAssertEqual(split(["-ae", "x", "true"]), CommandLineSplit(options: ["-ae", "x"], command: ["true"]))
        XCTAssertEqual(split(["--event=x", "--per-core", "sleep", "1"]), CommandLineSplit(options: ["--event=x", "--per-core"], command: ["sleep", "1"]))
        XCTAssertEqual(split(["--help"]), CommandLineSplit(options: ["--help"], command: []))
        let s = try parseStat(["-a", "-e", "page-faults", "sleep", "1", "-e", "not-an-option-of-ours"])
        XCTAssertEqual(s.command, ["sleep", "1", "-e", "not-an-option-of-ours"])
        XCTAssertEqual(s.events, ["page-faults"])
        XCTAssertTrue(s.target.allCPUs)
    }

    func testValueOptionsComeFromTheCommandsOwnDeclarations() {
        XCTAssertEqual(Stat.valueOptions, CommandLineSplit.valueOptions(of: Stat.self), "the written-out list is ArgumentParser's")
        XCTAssertEqual(Record.valueOptions, CommandLineSplit.valueOptions(of: Record.self))
        let v = Stat.valueOptions
        for name in ["-e", "--event", "-I", "--interval", "--interval-print", "-x", "--field-separator", "-o", "-C", "-p", "-t",
                     "--duration", "--timeout", "-D", "-r", "-G", "-M", "--log-fd", "--pre", "--post", "--for-each-cgroup",
                     "--td-level", "--interval-count", "--filter", "--cputype", "--control"] {
            XCTAssertTrue(v.contains(name), "\(name) takes a value")
        }
        for flag in ["-a", "-A", "--per-core", "-d", "-q", "-v", "-n", "-B", "--no-merge", "--append", "-j", "--json"] {
            XCTAssertFalse(v.contains(flag), "\(flag) is a flag")
        }
        XCTAssertTrue(Record.valueOptions.contains("-F") && Record.valueOptions.contains("-o") && !Record.valueOptions.contains("-g"))
    }

    func testHelpAndUnknownOptionsAreNeverRunAsTheCommand() throws {
        for help in ["--help", "-h"] {
            // ArgumentParser answers a help request with its help command, never with `Stat`.
            XCTAssertFalse(try Stallstat.parse(["stat", help]) is Stat, help)
            let r = Harness.stallstat(["stat", help])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("USAGE: stallstat stat") && r.stdout.contains("--per-socket"), r.stdout)
        }
        for unknown in [["--no-such-option"], ["--per-cor"], ["-Z"], ["--timeout", "1000", "--frobnicate"]] {
            XCTAssertThrowsError(try Stallstat.parse(["stat"] + unknown + ["--", "/bin/true"]), "\(unknown)")
            let r = Harness.stallstat(["stat"] + unknown + ["--", "/bin/true"])
            XCTAssertEqual(r.status, 64, "\(unknown): \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("cannot run"), r.stderr)
        }
        let record = Harness.stallstat(["record", "-h"])
        XCTAssertEqual(record.status, 0, record.stderr)
        XCTAssertTrue(record.stdout.contains("USAGE: stallstat record"), record.stdout)
    }

    /// Every gate subcommand answers --help and -h with its help, whatever it would check
    /// of its arguments (compare once refused its own help: "needs two commands").
    func testGateSubcommandsAnswerHelp() {
        for sub in ["compare", "record", "check"] {
            // With every required option given too (`check --baseline b.json --help` once ran a command named --help).
            let required = sub == "compare" ? [] : ["--baseline", "b.json"]
            for help in [[sub, "--help"], [sub, "-h"], [sub] + required + ["--runs", "3", "--help"]] {
                let r = Harness.stallstat(["gate"] + help)
                XCTAssertEqual(r.status, 0, "gate \(help): \(r.stderr)")
                XCTAssertTrue(r.stdout.contains("USAGE: stallstat gate \(sub)") && r.stdout.contains("--counters"), r.stdout)
                XCTAssertFalse(r.stderr.contains("cannot run"), r.stderr)
            }
        }
        let missing = Harness.stallstat(["gate", "compare", "--", "/bin/true"])
        XCTAssertEqual(missing.status, 64, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("needs two commands"), missing.stderr)
    }

    func testEveryNumericOptionNamesItselfAndItsRange() throws {
        let cases: [([String], String)] = [
            (["--duration", "inf"], "--duration takes seconds from 0.001 to"),
            (["--duration", "1e20"], "--duration takes seconds"),
            (["--duration", "1e10"], "--duration takes seconds"),
            (["--duration", "-1"], "--duration takes seconds"),
            (["--duration", "nan"], "--duration takes seconds"),
            (["--duration", "0x10"], "--duration takes seconds"),
            (["-I", "-5"], "-I/--interval takes a whole number from 10"),
            (["-I", "9"], "-I/--interval takes a whole number from 10"),
            (["-I", "1e3"], "-I/--interval takes a whole number"),
            (["-r", "-2"], "-r/--repeat takes a whole number from 0"),
            (["-r", "99999999999999999999"], "-r/--repeat takes a whole number"),
            (["-p", "-3"], "-p/--pid takes positive ids"),
            (["-t", "-3"], "-t/--tid takes positive ids"),
            (["-C", "-1"], "CPU list"),
            (["--pmu-counters", "-1"], "--pmu-counters takes a whole number from 1 to 64"),
            (["--timeout", "5"], "--timeout takes a whole number from 10"),
            (["-D", "-5"], "-D/--delay takes a whole number from 0"),
            (["-D", "-1"], "-D -1 starts with counters disabled"),
            (["--interval-count", "0", "-I", "100"], "--interval-count takes a whole number from 1"),
            (["--td-level", "-1", "--topdown"], "--td-level takes a whole number from 0 to 8"),
            (["--log-fd", "-1"], "--log-fd takes a whole number from 0"),
            (["--log-fd", "987"], "--log-fd 987 is not an open file descriptor"),
        ]
        for (args, message) in cases {
            XCTAssertThrowsError(try parseStat(args + ["--", "/bin/true"]), "\(args)") { error in
                let text = Stallstat.message(for: error)
                XCTAssertTrue(text.contains(message), "\(args): \(text)")
                XCTAssertEqual(Stallstat.exitCode(for: error).rawValue, 64, "\(args)")
            }
        }
        XCTAssertEqual(try parseStat(["--duration", "2.5"]).durationSeconds, 2.5)
        XCTAssertEqual(try parseStat(["--timeout", "1500"]).durationSeconds, 1.5)
        XCTAssertEqual(try parseStat(["-r", "0", "--", "/bin/true"]).repeatCount, 0)
        // perf's optional value: --per-cache alone is the highest level, --per-cache=Ln that
        // level, and a bare --per-cache leaves the next word to the command (as perf).
        XCTAssertEqual(try parseStat(["-a", "--per-cache=l2", "--", "/bin/true"]).perCacheLevel, 2)
        let bare = try parseStat(["-a", "--per-cache", "sleep", "1"])
        XCTAssertTrue(bare.perCache)
        XCTAssertNil(bare.perCacheLevel)
        XCTAssertEqual(bare.command, ["sleep", "1"])
        XCTAssertTrue(try parseStat(["-a", "--per-cluster", "--metric-no-threshold", "--", "/bin/true"]).perCluster)
    }

    func testEmptyEventsAndContradictionsAreUsageErrors() {
        let cases: [([String], String)] = [
            (["-e", "", "--", "/bin/true"], "-e needs an event name"),
            (["-e", " ", "--", "/bin/true"], "-e needs an event name"),
            (["--per-core", "--per-socket", "-a"], "choose one of -A, --per-socket"),
            (["--per-core", "--", "/bin/true"], "need system-wide counting"),
            (["--per-cache", "--per-core", "-a"], "choose one of -A, --per-socket"),
            (["--per-cluster", "--", "/bin/true"], "need system-wide counting"),
            (["--per-cache=L5", "-a"], "levels go up to 4"),
            (["--per-cache=3", "-a"], "the cache level must be of the form L[1-4]"),
            (["--per-cache=L", "-a"], "the cache level must be of the form L[1-4]"),
            (["--per-cache-level", "L2", "-a"], "--per-cache-level goes with --per-cache"),
            (["--per-thread", "--", "/bin/true"], "--per-thread needs -p, -t or -a"),
            (["-G", "x", "--", "/bin/true"], "add -a (or -C)"),
            (["--append", "--", "/bin/true"], "--append needs -o FILE"),
            (["-o", "/tmp/x", "--log-fd", "2", "--", "/bin/true"], "choose one of -o and --log-fd"),
            (["-n", "-e", "task-clock", "--", "/bin/true"], "-n/--null counts nothing"),
            (["--metric-only", "--", "/bin/true"], "--metric-only needs -M or --topdown"),
            (["--interval-count", "3", "--", "/bin/true"], "--interval-count needs -I"),
            (["--timeout", "100", "--duration", "1"], "choose one of --timeout (ms) and --duration (s)"),
            (["-T", "--", "/bin/true"], "-T/--transaction counts Intel TSX events"),
            (["--smi-cost", "-a"], "--smi-cost is not supported"),
            (["--control", "fd:3", "-a"], "--control is not supported"),
            (["--table", "-r", "3", "--", "/bin/true"], "--table is not supported"),
        ]
        for (args, message) in cases {
            XCTAssertThrowsError(try parseStat(args), "\(args)") { error in
                XCTAssertTrue(Stallstat.message(for: error).contains(message), "\(args): \(Stallstat.message(for: error))")
            }
        }
        let r = Harness.stallstat(["stat", "-e", "", "--", "/bin/true"])
        XCTAssertEqual(r.status, 64, r.stderr)
    }

    func testManyCommandArgumentsAreSplitInLinearTime() throws {
        let words = Array(repeating: "x", count: 100_000)
        let start = Date()
        let s = try parseStat(["-e", "task-clock", "--", "/bin/echo"] + words)
        XCTAssertEqual(s.command.count, 100_001)
        XCTAssertLessThan(Date().timeIntervalSince(start), timeBound(2), "100,000 arguments (perf: 0.2 s)")
        let r = Harness.stallstat(["stat", "-x,", "-e", "task-clock", "-o", "/dev/null", "/bin/true"] + Array(words.prefix(20_000)))
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// Random command lines from perf's and stallstat's option vocabulary and hostile
    /// values: parsing never traps, and what it accepts keeps the command words intact.
    func testFuzzStatOptionParsing() {
        var rng = SplitMix(seed: UInt64(ProcessInfo.processInfo.environment["STALLSTAT_FUZZ_SEED"] ?? "") ?? 0x5EED)
        // A debug-build parse of ~90 options takes ~80 ms: 250 in CI (~20 s); Examples/fuzz/run runs more.
        let iterations = Int(ProcessInfo.processInfo.environment["STALLSTAT_FUZZ_ITERATIONS"] ?? "") ?? 250
        let flags = ["-a", "-A", "-d", "-dd", "-n", "-q", "-v", "-B", "-g", "-S", "-i", "-j", "--per-core", "--per-socket", "--per-die",
                     "--per-node", "--per-thread", "--no-merge", "--metric-only", "--topdown", "--summary", "--append", "--tree",
                     "--frag", "--no-scale", "--scale", "--csv", "--interval-clear", "--no-big-num", "--no-multiplex", "-T", "--table", "--help"]
        let valued = ["-e", "-C", "-p", "-t", "-I", "-r", "-o", "-x", "-D", "-G", "-M", "--timeout", "--duration", "--interval-count",
                      "--pmu-counters", "--td-level", "--log-fd", "--for-each-cgroup", "--filter", "--pre", "--post", "--cpu-model"]
        let values = ["", "-", "--", "0", "-1", "-5", "1", "10", "100", "1e10", "1e20", "inf", "-inf", "nan", "0x10", "9999999999999999999999",
                      "3.9", " ", "a,b", "{a,b", "task-clock", "page-faults:u", "0-1", "1-0", "ü", "\u{0}", "%n", "kmem:*", "=", ","]
        var accepted = 0
        for _ in 0..<iterations {
            var args: [String] = []
            for _ in 0..<rng.next(6) {
                switch rng.next(4) {
                case 0: args.append(flags[rng.next(flags.count)])
                case 1: args += [valued[rng.next(valued.count)], values[rng.next(values.count)]]
                case 2: args.append(valued[rng.next(valued.count)] + "=" + values[rng.next(values.count)])
                default: args.append(values[rng.next(values.count)])
                }
            }
            let tail = rng.next(2) == 0 ? [] : ["--", "/bin/true", values[rng.next(values.count)]]
            do {
                let parsed = try Stallstat.parse(["stat"] + args + tail)
                if let s = parsed as? Stat {
                    accepted += 1
                    let split = CommandLineSplit.split(args + tail, valueOptions: Stat.valueOptions)
                    XCTAssertEqual(s.command, split.command, "\(args + tail)")
                }
            } catch {
                _ = Stallstat.message(for: error)   // every error has a message
            }
        }
        XCTAssertGreaterThan(accepted, 0, "the fuzzer also produces valid command lines")
    }
}

/// A small deterministic generator (SplitMix64) so a failure can be replayed by seed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func nextRaw() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func next(_ bound: Int) -> Int { Int(nextRaw() % UInt64(max(1, bound))) }
}
