#if canImport(Glibc)
import Glibc
#endif
import CPerfEvent
import StallCore

/// Tries to open an event on this process to learn whether the machine supports it.
public struct EventProbe {
    public init() {}
    public func canOpen(_ attr: EventAttr) -> Bool {
        var a = CounterSession.countingAttr(attr)
        a.flags |= UInt64(CPE_DISABLED)
        let fd = cpe_open(&a, 0, -1, -1, 0)
        if fd < 0 { return false }
        Glibc.close(fd)
        return true
    }
}
