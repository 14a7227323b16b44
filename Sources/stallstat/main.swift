import StallCLI

// Stop signals are blocked only by the subcommands that count (stat, record, gate runs),
// for as long as they count: everything else stops at Ctrl-C like any program.
Stallstat.main()
