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
    ] + exporterPackages,
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
            ] + exporterTargetNames.map { .target(name: $0) }),
        .executableTarget(name: "stallstat", dependencies: ["StallCLI"]),
        .testTarget(name: "StallCoreTests", dependencies: ["StallCore"]),
        .testTarget(name: "StallLinuxTests", dependencies: ["StallCore", "StallLinux", "StallCLI"] + exporterTargetNames.map { .target(name: $0) }),
    ] + exporterTargets,
    swiftLanguageModes: [.v5]
)

// `serve` (HTTP, swift-nio) and `report --pprof` (profile.proto, swift-protobuf) need
// packages whose manifests ask for Swift 6.1 and 6.2: a Swift 6.0 toolchain (the arm64
// lab's trixie swiftlang 6.0.3) builds stallstat without them, and those two commands
// then say so.
#if compiler(>=6.2)
var exporterPackages: [Package.Dependency] {
    [
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.28.0"),
    ]
}
var exporterTargetNames: [String] { ["StallServe", "StallPprof"] }
var exporterTargets: [Target] {
    [
        // zlib's gzip stream (Debian: zlib1g-dev): pprof files are gzipped protobuf.
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        // The exporter's HTTP/1.1 server (swift-nio's codec): /metrics, /healthz, /.
        .target(name: "StallServe", dependencies: [
            "StallCore",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
        ]),
        // perf.data samples as pprof's profile.proto (code generated once by protoc-gen-swift).
        .target(name: "StallPprof", dependencies: [
            "StallCore", "CZlib",
            .product(name: "SwiftProtobuf", package: "swift-protobuf"),
        ], exclude: ["profile.proto"]),
    ]
}
#else
var exporterPackages: [Package.Dependency] { [] }
var exporterTargetNames: [String] { [] }
var exporterTargets: [Target] { [] }
#endif
