#if canImport(Glibc)
import Glibc
#endif
import StallCore

/// Socket, die, cluster, cache, core and NUMA node of each CPU, from sysfs (what perf's
/// `--per-socket/--per-die/--per-cluster/--per-cache/--per-core/--per-node` aggregate by).
public enum CPUPlaces {
    /// `caches`: read each CPU's caches too (`--per-cache` only: a few files per CPU), at the
    /// level `--per-cache=Ln` asked for (nil: each CPU's highest).
    public static func read(cpus: [Int], caches readsCaches: Bool = false, cacheLevel: Int? = nil,
                            root: String = "/sys/devices/system") -> [Int: CPUPlace] {
        var nodeOf: [Int: Int] = [:]
        for entry in SystemFiles.listDirectory(root + "/node") where entry.hasPrefix("node") {
            guard let node = Int(entry.dropFirst(4)),
                  let list = SystemFiles.readTrimmed("\(root)/node/\(entry)/cpulist"),
                  let members = try? CPUList.parse(list) else { continue }
            for cpu in members { nodeOf[cpu] = node }
        }
        var places: [Int: CPUPlace] = [:]
        for cpu in cpus {
            let dir = "\(root)/cpu/cpu\(cpu)/topology/"
            func id(_ file: String) -> Int { SystemFiles.readTrimmed(dir + file).flatMap { Int($0) } ?? 0 }
            // die_id is absent on kernels and architectures without dies: perf prints D0 then.
            var place = CPUPlace(socket: max(0, id("physical_package_id")), die: max(0, id("die_id")),
                                 core: id("core_id"), node: nodeOf[cpu] ?? 0, cluster: max(0, id("cluster_id")))
            if readsCaches, let cache = CPUCache.pick(caches(cpu: cpu, root: root), level: cacheLevel, cpu: cpu) {
                (place.cacheLevel, place.cacheID) = cache
            }
            places[cpu] = place
        }
        return places
    }

    /// The `#constants` of the kernel's metric expressions, as perf's expr.c computes them:
    /// SMT from smt/active, and CPUs, cores, dies and packages counted from sysfs topology.
    /// `systemWide`: counting every CPU (#core_wide: both SMT threads of a core are counted).
    public static func metricConstants(cpus: [Int], systemWide: Bool, root: String = "/sys/devices/system") -> [String: Double] {
        let places = read(cpus: cpus, root: root)
        let smt = SystemFiles.readTrimmed(root + "/cpu/smt/active") == "1"
        return ["smt_on": smt ? 1 : 0,
                "num_cpus_online": Double(cpus.count),
                "num_packages": Double(Set(places.values.map(\.socket)).count),
                "num_dies": Double(Set(places.values.map { [$0.socket, $0.die] }).count),
                "num_cores": Double(Set(places.values.map { [$0.socket, $0.die, $0.core] }).count),
                "core_wide": !smt || systemWide ? 1 : 0,
                "has_pmem": SystemFiles.listDirectory("/sys/bus/nd/devices").contains { $0.hasPrefix("region") } ? 1 : 0]
    }

    /// The caches sysfs lists for a CPU (cpuN/cache/indexK: level, shared_cpu_list), in index order.
    static func caches(cpu: Int, root: String) -> [CPUCache] {
        let dir = "\(root)/cpu/cpu\(cpu)/cache"
        let indices = SystemFiles.listDirectory(dir).compactMap { $0.hasPrefix("index") ? Int($0.dropFirst(5)) : nil }.sorted()
        return indices.compactMap { k in
            guard let level = SystemFiles.readTrimmed("\(dir)/index\(k)/level").flatMap({ Int($0) }) else { return nil }
            let shared = SystemFiles.readTrimmed("\(dir)/index\(k)/shared_cpu_list").flatMap { try? CPUList.parse($0) } ?? []
            return CPUCache(level: level, sharedCPUs: shared)
        }
    }
}

/// The cgroup hierarchy perf events attach to: a cgroup v1 mount with the perf_event
/// controller, else the cgroup2 mount (as perf's `cgroupfs_find_mountpoint`).
public enum PerfEventCgroups {
    public enum Failure: Error, CustomStringConvertible {
        case noHierarchy
        case cannotOpen(path: String, errno: Int32)

        public var description: String {
            switch self {
            case .noHierarchy:
                return "no cgroup2 or perf_event cgroup hierarchy is mounted (see /proc/self/mountinfo); -G and --for-each-cgroup need one"
            case .cannotOpen(let path, let e):
                return "cannot open cgroup \(path): \(String(cString: strerror(e)))"
            }
        }
    }

    /// The mount point, from /proc/self/mountinfo.
    public static func mountPoint(mountinfo: String? = try? SystemFiles.readText("/proc/self/mountinfo")) -> String? {
        guard let mountinfo else { return nil }
        var cgroup2: String? = nil
        for line in mountinfo.split(separator: "\n") {
            // "36 35 98:0 / /mnt rw,noatime master:1 - cgroup cgroup rw,perf_event"
            let tokens = line.split(separator: " ")
            guard let dash = tokens.firstIndex(of: "-") else { continue }
            let left = Array(tokens[..<dash]), right = Array(tokens[(dash + 1)...])
            guard left.count >= 5, right.count >= 3 else { continue }
            let point = String(left[4])
            if right[0] == "cgroup", right[2].split(separator: ",").contains("perf_event") { return point }
            if right[0] == "cgroup2", cgroup2 == nil { cgroup2 = point }
        }
        return cgroup2
    }

    /// Opens a cgroup by perf's name (relative to the mount point; "/" is the root).
    public static func open(_ name: String, mountPoint: String) throws -> Int32 {
        let relative = name.drop { $0 == "/" }
        let path = relative.isEmpty ? mountPoint : mountPoint + "/" + relative
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw Failure.cannotOpen(path: path, errno: errno) }
        return fd
    }
}
