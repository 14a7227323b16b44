#ifndef CDEMANGLE_H
#define CDEMANGLE_H
/// The C++ runtime's Itanium ABI demangler (__cxa_demangle from libstdc++), for C++ and
/// Rust legacy symbols. Returns a malloc'd string the caller frees, or NULL when `mangled`
/// is not a valid mangled name.
char *cdm_cxa_demangle(const char *mangled);
#endif
