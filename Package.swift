// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stallstat",
    products: [
        .executable(name: "stallstat", targets: ["stallstat"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The perf_event_open syscall, ioctls and the paused child spawn.
        .target(name: "CPerfEvent"),
        // The only place that includes <perfmon/*.h>; links libpfm4 (Debian: libpfm4-dev).
        .target(name: "CPfm", linkerSettings: [.linkedLibrary("pfm")]),
        // Pure logic: no system calls, tested without a kernel.
        .target(name: "StallCore"),
        // Everything that touches the kernel.
        .target(name: "StallLinux", dependencies: ["StallCore", "CPerfEvent", "CPfm"]),
        .executableTarget(
            name: "stallstat",
            dependencies: [
                "StallCore", "StallLinux",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .testTarget(name: "StallCoreTests", dependencies: ["StallCore"]),
        .testTarget(name: "StallLinuxTests", dependencies: ["StallCore", "StallLinux"]),
    ],
    swiftLanguageModes: [.v5]
)
