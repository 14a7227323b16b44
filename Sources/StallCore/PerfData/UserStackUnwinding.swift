/// A sample's user-space state as `perf record --call-graph dwarf` captures it
/// (PERF_SAMPLE_REGS_USER and PERF_SAMPLE_STACK_USER): enough for a DWARF unwinder to
/// find the callers that frame pointers would have given.
public struct UserStackSample {
    public var pid: Int32
    public var tid: Int32
    /// The recording's `uname -m` (HEADER_ARCH), nil when the file does not say.
    public var arch: String?
    /// By perf's register number (arch/*/include/uapi/asm/perf_regs.h); registers the
    /// sample did not carry are 0.
    public var registers: [UInt64]
    /// The copy of the stack from the sampled stack pointer up (its used part,
    /// dyn_size); valid only during the unwind call.
    public var stack: UnsafeRawBufferPointer
    /// When it was taken (0: the file has no times): picks the mappings in effect.
    public var time: UInt64
    /// At most this many frames, the sampled pc included (2: only its caller is wanted).
    public var maxFrames: Int
    public init(pid: Int32, tid: Int32, arch: String?, registers: [UInt64], stack: UnsafeRawBufferPointer, time: UInt64 = 0, maxFrames: Int = 127) {
        self.pid = pid; self.tid = tid; self.arch = arch; self.registers = registers; self.stack = stack; self.time = time
        self.maxFrames = maxFrames
    }
}

/// Unwinds a user stack through the mapped files' call-frame information. The reader
/// calls it while parsing, with the mappings read so far (a sample's mappings precede
/// it), so the stack copies (8 KiB each by default) are never kept.
public protocol UserStackUnwinder: AnyObject {
    /// The sampled user pc and its callers' addresses (return addresses minus one, as
    /// perf stores them), and why the unwinding stopped early (nil when it did not).
    /// `contents`: what has been read so far (its mappings precede the sample; its build
    /// ids, in a file's feature section, are known before any record).
    func unwind(_ sample: UserStackSample, contents: PerfDataContents) -> (frames: [UInt64], stopped: String?)
    /// Every mapping and fork of the recording, read before the samples: looked up when a
    /// frame is in none of the mappings read so far (its record comes later in the file).
    func preload(mappings: [MemoryMapping], forks: [Int32: Int32], buildIDs: [BuildIDEntry])
}

extension UserStackUnwinder {
    public func preload(mappings: [MemoryMapping], forks: [Int32: Int32], buildIDs: [BuildIDEntry]) {}
}

/// What happened to the user stacks of a `--call-graph dwarf` file.
public struct UserStackStatistics: Equatable, Sendable {
    /// Samples that carried registers and a stack copy.
    public var stacks = 0
    /// Of those, unwound past the sampled function.
    public var unwound = 0
    /// Why the others stopped at it, with how many each (the first reasons only).
    public var stopReasons: [String: Int] = [:]
    /// Read without an unwinder (the pure reader, fuzzing): nothing was unwound.
    public var notUnwound = false

    /// Said, never silent: a stack that could not be unwound has no user callers in
    /// --children and --folded.
    public var note: String? {
        guard stacks > 0 else { return nil }
        if notUnwound {
            return "recorded with --call-graph dwarf: user stacks are not unwound here, so user call chains stop at the sampled function (--children and --folded show no user callers; kernel chains are complete)"
        }
        let stopped = stacks - unwound
        guard stopped > 0 else { return nil }
        let reasons = stopReasons.sorted { $0.value > $1.value }.prefix(3).map { "\($0.key) (\($0.value))" }.joined(separator: "; ")
        return "--call-graph dwarf: \(stopped) of \(stacks) user stacks could not be unwound past the sampled function, so those samples have no user callers" + (reasons.isEmpty ? "" : ": " + reasons)
    }
}
