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
        let textWriter = SimpleperfTextWriter(bigNumbers: !noBigNum)

        var windows: [StatWindow] = []
        var last: AccountingRunner.Outcome? = nil
        var run = 0
        while repeatCount == 0 || run < repeatCount {
            run += 1
            try runShellHook(preCommand, option: "--pre")
            if syncFirst { sync() }
            let outcome: AccountingRunner.Outcome
            do { outcome = try runner.run() } catch let e as StatRunError {
                StandardError.write("stallstat: \(e)")
                if case .child(let f) = e { throw ExitCode(f.exitCode) }
                throw ExitCode(ExitCodes.nothingCounted)
            } catch {
                StandardError.write("stallstat: \(error)")
                throw ExitCode(ExitCodes.nothingCounted)
            }
            last = outcome
            if outcome.interruptedBy != nil {
                if repeatCount != 1 { notes.write("interrupted during run \(run)\(repeatCount > 1 ? " of \(repeatCount)" : ""); showing the runs that completed") }
                // An interrupted run's rusage is the stopped command's: printed when it is the only run.
                if windows.isEmpty { windows.append(selection.window(outcome)) }
                break
            }
            windows.append(selection.window(outcome))
            try runShellHook(postCommand, option: "--post")
        }
        guard let last else { throw ExitCode(ExitCodes.nothingCounted) }
        var summary = windows.last!
        if repeatCount != 1, let combined = RepeatAggregator.combine(windows) { summary = combined }
        if let sig = last.interruptedBy {
            notes.write("stopped by \(signalName(sig)) after \(cFormat("%.3f", last.elapsedSeconds)) s; printing what was counted so far")
        }
        switch format {
        case .text: sink.write(textWriter.render([summary], totalSeconds: last.elapsedSeconds, repeats: windows.count))
        case .csv(let sep): sink.write(PerfCSVWriter(separator: sep).lines(for: summary).map { $0 + "\n" }.joined())
        case .json: sink.write(PerfJSONWriter().lines(for: summary).map { $0 + "\n" }.joined())
        }
        if let failure = sink.finish() {
            StandardError.write("stallstat: \(failure)")
            throw ExitCode(ExitCodes.outputError)
        }
        try exitAsTheCommand(interruptedBy: last.interruptedBy, exitCode: last.commandExitCode, notes: notes)
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
