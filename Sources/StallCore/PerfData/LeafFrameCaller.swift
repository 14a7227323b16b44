/// arm64 frame-pointer chains miss the caller of a leaf function: a leaf saves no frame
/// record, so the chain the kernel walks from x29 starts at its caller's caller, and the
/// caller is only in the link register. perf records that register with `-g` on arm64
/// (sample_regs_user = LR, arch/arm64/util/machine.c) and, reading such a file, unwinds
/// one frame from the sampled pc with the binary's call-frame information and the
/// registers alone (util/arm64-frame-pointer-unwind-support.c): where the CFI says the
/// return address is still in LR (a leaf, or a prologue before LR is saved), that caller
/// goes into the chain right after the pc; where LR was saved on the stack (which
/// frame-pointer mode does not copy) the unwind stops and nothing is added.
extension PerfData {
    /// What `perf record -g` (frame pointers) adds to sample_regs_user on a machine whose
    /// `uname -m` is `arch`: the link register on arm64, nothing elsewhere.
    public static func framePointerUserRegisters(arch: String?) -> UInt64 {
        PerfDataReader.isArm64(arch) ? 1 << UInt64(PerfDataReader.arm64LinkRegister) : 0
    }
}

extension PerfDataReader {
    /// perf's register number of the arm64 link register (x30), in sample_regs_user.
    static let arm64LinkRegister = 30
    static let arm64StackPointer = 31, arm64ProgramCounter = 32

    /// Whether `uname -m` of the recording (nil: unknown, taken as this machine's) is arm64.
    static func isArm64(_ arch: String?) -> Bool {
        guard let arch else {
            #if arch(arm64)
            return true
            #else
            return false
            #endif
        }
        return arch == "aarch64" || arch == "arm64"
    }

    /// A sample's PERF_SAMPLE_REGS_USER values by perf's register number (unrecorded: 0).
    static func userRegisterValues(_ registers: Range<Int>, mask: UInt64, reader: ByteReader) -> [UInt64] {
        var values = [UInt64](repeating: 0, count: 64)
        var next = registers.lowerBound
        for bit in 0..<64 where mask & (1 << UInt64(bit)) != 0 && next < registers.upperBound {
            values[bit] = (try? reader.u64(next)) ?? 0
            next += 8
        }
        return values
    }

    /// Inserts the leaf's caller at `at` (right after the user pc in callchainIPs), as
    /// `perf report` does with its default call-graph order (caller first, which
    /// `--children` implies): the caller as the unwinder gives it (its return address
    /// minus one, as perf's unwinders store callers), unless it is the pc itself.
    static func insertLeafFrameCaller(_ s: inout ProfileSample, pc: UInt64, at: Int, registers: Range<Int>, mask: UInt64, reader: ByteReader,
                                      state: inout RecordState, into c: inout PerfDataContents) {
        guard mask & (1 << UInt64(arm64LinkRegister)) != 0, isArm64(c.arch), let unwinder = state.unwinder else { return }
        guard at >= Int(s.chainStart), at <= c.callchainIPs.count, c.callchainIPs.count < Int(Int32.max) else { return }
        var values = userRegisterValues(registers, mask: mask, reader: reader)
        // perf: the pc from the chain when it was not recorded; the stack pointer 0 (the
        // unwind must not read a stack that was not copied).
        if mask & (1 << UInt64(arm64ProgramCounter)) == 0 { values[arm64ProgramCounter] = pc }
        if mask & (1 << UInt64(arm64StackPointer)) == 0 { values[arm64StackPointer] = 0 }
        let result = unwinder.unwind(UserStackSample(pid: s.pid, tid: s.tid, arch: c.arch, registers: values,
                                                     stack: UnsafeRawBufferPointer(start: nil, count: 0), time: s.time, maxFrames: 2), contents: c)
        guard result.frames.count == 2, result.frames[1] != pc else { return }
        c.callchainIPs.insert(result.frames[1], at: at)
        s.chainCount += 1
        c.leafCallersInserted += 1
    }
}
