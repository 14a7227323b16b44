#if canImport(Glibc)
import Glibc
#endif
import CDemangle
import StallCore

/// Demangled names as perf shows them, with the runtimes' own demanglers: C++ through the
/// C++ runtime's `__cxa_demangle`, Rust (legacy and v0) through libiberty's (c++filt's),
/// Swift through the Swift runtime's `swift_demangle`. A name no demangler accepts is shown as it is. Results are cached:
/// a profile names the same few thousand functions millions of times.
public final class Demangler {
    private var cache: [String: String] = [:]
    public init() {}

    public func display(_ name: String) -> String {
        if let known = cache[name] { return known }
        let shown = Demangler.demangle(name) ?? name
        cache[name] = shown
        return shown
    }

    static func demangle(_ name: String) -> String? {
        switch SymbolNames.scheme(of: name) {
        case .itanium:
            // Rust's legacy names are Itanium-shaped paths ending in a hash: Rust's demangler
            // recognises them (and only them), the C++ one takes the rest.
            if let rust = rustDemangle(name) { return rust }
            guard let raw = cdm_cxa_demangle(name) else { return nil }
            defer { free(raw) }
            return SymbolNames.withoutSignature(String(cString: raw))
        case .rustV0:
            return rustDemangle(name)
        case .swift:
            return swiftDemangle(name)
        case .none:
            return nil
        }
    }

    static func rustDemangle(_ name: String) -> String? {
        guard let raw = cdm_rust_demangle(name) else { return nil }
        defer { free(raw) }
        return String(cString: raw)
    }

    static func swiftDemangle(_ name: String) -> String? {
        name.withCString { p in
            guard let raw = swift_demangle(p, strlen(p), nil, nil, 0) else { return nil }
            defer { free(raw) }
            return String(cString: raw)
        }
    }
}

/// The Swift runtime's demangler (exported by libswiftCore; declared in its Demangle.h).
@_silgen_name("swift_demangle")
private func swift_demangle(_ mangledName: UnsafePointer<CChar>, _ mangledNameLength: Int,
                            _ outputBuffer: UnsafeMutablePointer<CChar>?, _ outputBufferSize: UnsafeMutablePointer<Int>?,
                            _ flags: UInt32) -> UnsafeMutablePointer<CChar>?
