import ArgumentParser
import StallLinux

// Stop signals are taken synchronously by the counting loop (sigtimedwait), so they
// must be blocked before anything else runs.
MachineFacts.blockStopSignals()
Stallstat.main()
