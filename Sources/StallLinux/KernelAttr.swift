import CPerfEvent
import StallCore

extension EventAttr {
    /// The kernel's perf_event_attr for this encoding: type, config words and privilege
    /// levels. The one translation of an event into what perf_event_open takes; counting
    /// (`CounterSession.countingAttr`) and sampling (`Recorder.attr`) add their own fields.
    var kernelAttr: cpe_attr {
        var a = cpe_attr()
        a.type = type
        a.config = config
        a.config1 = config1
        a.config2 = config2
        if excludeUser { a.flags |= UInt64(CPE_EXCLUDE_USER) }
        if excludeKernel { a.flags |= UInt64(CPE_EXCLUDE_KERNEL) }
        if excludeHypervisor { a.flags |= UInt64(CPE_EXCLUDE_HV) }
        return a
    }
}
