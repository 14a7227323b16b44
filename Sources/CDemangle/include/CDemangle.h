#ifndef CDEMANGLE_H
#define CDEMANGLE_H
/// The C++ runtime's Itanium ABI demangler (__cxa_demangle from libstdc++), for C++ and
/// Rust legacy symbols. Returns a malloc'd string the caller frees, or NULL when `mangled`
/// is not a valid mangled name.
char *cdm_cxa_demangle(const char *mangled);
/// libiberty's Rust demangler (binutils' c++filt uses it), for both of rustc's schemes:
/// legacy (`_ZN...17h<hash>E`, shown without the hash) and v0 (`_R...`, shown without
/// crate disambiguators, as rustfilt shows them). A malloc'd string, or NULL when
/// `mangled` is not a Rust symbol.
char *cdm_rust_demangle(const char *mangled);
#endif
