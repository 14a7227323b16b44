// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stallstat",
    products: [
        .executable(name: "stallstat", targets: ["stallstat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // toml++ behind a Swift API: the gate's config file (stallstat-gate.toml).
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // The perf_event_open syscall, ioctls and the paused child spawn.
        .target(name: "CPerfEvent"),
        // The only place that includes <perfmon/*.h>; links libpfm4 (Debian: libpfm4-dev).
        .target(name: "CPfm", linkerSettings: [.linkedLibrary("pfm")]),
        // The C++ runtime's demangler (__cxa_demangle, libstdc++) and libiberty's Rust
        // demangler (legacy and v0; Debian: libiberty-dev).
        .target(name: "CDemangle", linkerSettings: [.linkedLibrary("stdc++"), .linkedLibrary("iberty")]),
        // libzstd's streaming decompression, for perf record -z files (Debian: libzstd-dev).
        .target(name: "CZstd", linkerSettings: [.linkedLibrary("zstd")]),
        // elfutils' libdwfl: DWARF unwinding of --call-graph dwarf stacks (Debian: libdw-dev).
        .target(name: "CUnwind", linkerSettings: [.linkedLibrary("dw"), .linkedLibrary("elf")]),
        // Pure logic: no system calls, tested without a kernel.
        .target(name: "StallCore"),
        // Everything that touches the kernel.
        .target(name: "StallLinux", dependencies: ["StallCore", "CPerfEvent", "CPfm", "CDemangle", "CZstd", "CUnwind"]),
        // The command line: ArgumentParser commands wiring the two libraries together.
        // A library so tests can parse and validate options in-process.
        .target(
            name: "StallCLI",
            dependencies: [
                "StallCore", "StallLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ]),
        .executableTarget(name: "stallstat", dependencies: ["StallCLI"]),
        .testTarget(name: "StallCoreTests", dependencies: ["StallCore"]),
        .testTarget(name: "StallLinuxTests", dependencies: ["StallCore", "StallLinux", "StallCLI"]),
    ],
    swiftLanguageModes: [.v5]
)
