#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import StallCore
import StallLinux

extension Stat {
    /// `stat --counters=rusage|simulated -- cmd` (or `auto` where perf_event_open is
    /// refused): the command run -r times, its accounted or simulated totals printed in
    /// the same layouts as perf counters, each row naming its source.
    func runAccounting(_ source: CounterSource) throws {
        let resolver = EventResolver(pmus: SysfsPMUs(), tablesDirectory: eventTables, cpuModel: cpuModel)
        let names = events.flatMap { $0.split(separator: ",").map { String($0).trimmingWhitespace() } }.filter { !$0.isEmpty }
        let selection = AccountingSelection(source: source, eventNames: names, resolver: resolver)
        let runner = AccountingRunner(source: source, command: workload, signalEvents: selection.signalEvents, durationSeconds: durationSeconds)
        let sink = try StatOutputSink(format: format, path: outputFile, append: append, logFD: logFD, quiet: quiet)
        let notes = Notes(quiet: quiet)

        let outcomes = try repeatRuns(notes: notes, interruptedBy: \.interruptedBy) { _ -> AccountingRunner.Outcome? in
            do { return try runner.run() } catch { throw CLIError(message: "\(error)", exitCode: ExitCodes.of(error)) }
        }
        guard let last = outcomes.last else { throw ExitCode(ExitCodes.nothingCounted) }
        let (summary, runsShown) = summarize(outcomes.map { selection.window($0) }, lastInterruptedBy: last.interruptedBy,
                                             elapsedSeconds: last.elapsedSeconds, notes: notes)
        sink.write(makeOutput(events: selection.signalEvents).summary(summary, totalSeconds: last.elapsedSeconds, repeats: runsShown))
        if let failure = sink.finish() {
            throw CLIError(message: "\(failure)", exitCode: ExitCodes.outputError)
        }
        try exitAsTheCommand(interruptedBy: last.interruptedBy, exitCode: last.commandExitCode, notes: notes)
    }

    /// -r N (0: until interrupted) around one run: --pre and -S before it, --post after.
    /// Stops after an interrupted run, or when `once` returns nil (a later run that
    /// failed: the runs made so far are shown). Returns every run made, an interrupted one
    /// last. `once` is told how many runs were made before it.
    func repeatRuns<Outcome>(notes: Notes, interruptedBy: (Outcome) -> Int32?, _ once: (_ runsBefore: Int) throws -> Outcome?) throws -> [Outcome] {
        var outcomes: [Outcome] = []
        while repeatCount == 0 || outcomes.count < repeatCount {
            let run = outcomes.count + 1
            try runShellHook(preCommand, option: "--pre")
            if syncFirst { sync() }
            guard let outcome = try once(outcomes.count) else { break }
            outcomes.append(outcome)
            if interruptedBy(outcome) != nil {
                if repeatCount != 1 { notes.write("interrupted during run \(run)\(repeatCount > 1 ? " of \(repeatCount)" : ""); showing the runs that completed") }
                break
            }
            try runShellHook(postCommand, option: "--post")
        }
        return outcomes
    }

    /// What -r reports: the runs that completed (an interrupted last run counts only when it
    /// is the only one), combined when there are several; and how many that is. Says when a
    /// stop signal ended the last run.
    func summarize(_ windows: [StatWindow], lastInterruptedBy sig: Int32?, elapsedSeconds: Double, notes: Notes) -> (StatWindow, Int) {
        let completed = sig != nil && windows.count > 1 ? Array(windows.dropLast()) : windows
        var summary = windows.last!
        if repeatCount != 1, let combined = RepeatAggregator.combine(completed) { summary = combined }
        if let sig { notes.write("stopped by \(signalName(sig)) after \(cFormat("%.3f", elapsedSeconds)) s; printing what was counted so far") }
        return (summary, completed.count)
    }

    /// The results' layout, chosen once: text, -x CSV (a `summary` column after -I's
    /// intervals unless --no-csv-summary) or -j JSON.
    func makeOutput(events: [ResolvedEvent]) -> StatOutput {
        switch format {
        case .text:
            return TextStatOutput(writer: SimpleperfTextWriter(bigNumbers: !noBigNum), events: events, clearsScreen: intervalClear,
                                  afterIntervals: interval != nil)
        case .csv(let separator): return CSVStatOutput(separator: separator, summaryColumn: interval != nil && !noCSVSummary)
        case .json: return JSONStatOutput()
        }
    }

    /// A stop signal exits 128 + N; otherwise a failing command's status is stat's, as perf.
    func exitAsTheCommand(interruptedBy sig: Int32?, exitCode code: Int32?, notes: Notes) throws {
        if let sig { throw ExitCode(128 + sig) }
        if let code, code != 0 {
            notes.write("the command '\(workload.joined(separator: " "))' exited with status \(code)")
            throw ExitCode(code)
        }
    }
}
