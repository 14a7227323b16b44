#include <stdlib.h>
#include "CDemangle.h"
#include <libiberty/demangle.h>

// Declared by <cxxabi.h>, which is C++ only; the symbol is plain C ABI.
extern char *__cxa_demangle(const char *mangled, char *buffer, size_t *length, int *status);

char *cdm_cxa_demangle(const char *mangled) {
    int status = 0;
    char *out = __cxa_demangle(mangled, NULL, NULL, &status);
    if (status != 0) { free(out); return NULL; }
    return out;
}

char *cdm_rust_demangle(const char *mangled) {
    // Not DMGL_VERBOSE: no [hash] disambiguators, no legacy ::h<hash>.
    return rust_demangle(mangled, DMGL_PARAMS | DMGL_ANSI);
}
