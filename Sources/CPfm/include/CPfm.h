// A small facade over libpfm4 that returns plain structs. libpfm4's own
// <perfmon/perf_event.h> clashes with <linux/perf_event.h>, so it stays in CPfm.c.
#ifndef CPFM_H
#define CPFM_H

#include <stdint.h>
#include <stddef.h>

struct cpfm_encoding {
    uint32_t type;
    uint64_t config;
    uint64_t config1;
    uint64_t config2;
    int exclude_user;
    int exclude_kernel;
    int exclude_hv;
    char pmu[64];        // libpfm4 PMU name, e.g. "amd64_fam19h_zen4"
    char fstr[512];      // fully qualified event string libpfm4 resolved
};

// pfm_initialize(); safe to call more than once. Returns a PFM_ERR_* code (0 = ok).
int cpfm_init(void);
// Encodes one event string for perf_event (privilege level: user + kernel, as perf's
// default). Returns 0 or a negative PFM_ERR_* code.
int cpfm_encode(const char *event, struct cpfm_encoding *out);
const char *cpfm_strerror(int code);

// Iteration over the PMUs libpfm4 detected as present (core and uncore alike).
// Fills name/desc of the n-th present PMU; returns 0, or -1 past the end.
int cpfm_present_pmu(int n, char *name, size_t name_len, char *desc, size_t desc_len,
                     int *is_core, int *num_events, int *num_counters);
// Events of the present PMU named `pmu`: call with idx = -1 for the first.
// Returns the next event index, or -1 at the end.
int cpfm_next_event(const char *pmu, int idx);
int cpfm_event_info(int idx, char *name, size_t name_len, char *desc, size_t desc_len);

#endif
