#include "CPfm.h"

#include <perfmon/pfmlib_perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int initialized = 0;
static int init_result = 0;

int cpfm_init(void) {
    if (!initialized) {
        init_result = pfm_initialize();
        initialized = 1;
    }
    return init_result;
}

static void copy_str(char *dst, size_t len, const char *src) {
    if (!len) return;
    if (!src) { dst[0] = 0; return; }
    strncpy(dst, src, len - 1);
    dst[len - 1] = 0;
}

int cpfm_encode(const char *event, struct cpfm_encoding *out) {
    int r = cpfm_init();
    if (r != PFM_SUCCESS) return r;
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    pfm_perf_encode_arg_t arg;
    memset(&arg, 0, sizeof arg);
    arg.attr = &attr;
    arg.size = sizeof arg;
    char *fstr = NULL;
    arg.fstr = &fstr;
    r = pfm_get_os_event_encoding(event, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT, &arg);
    if (r != PFM_SUCCESS) return r;
    memset(out, 0, sizeof *out);
    out->type = attr.type;
    out->config = attr.config;
    out->config1 = attr.config1;
    out->config2 = attr.config2;
    out->exclude_user = attr.exclude_user;
    out->exclude_kernel = attr.exclude_kernel;
    out->exclude_hv = attr.exclude_hv;
    copy_str(out->fstr, sizeof out->fstr, fstr);
    free(fstr);
    pfm_event_info_t einfo;
    memset(&einfo, 0, sizeof einfo);
    einfo.size = sizeof einfo;
    if (pfm_get_event_info(arg.idx, PFM_OS_PERF_EVENT, &einfo) == PFM_SUCCESS) {
        pfm_pmu_info_t pinfo;
        memset(&pinfo, 0, sizeof pinfo);
        pinfo.size = sizeof pinfo;
        if (pfm_get_pmu_info(einfo.pmu, &pinfo) == PFM_SUCCESS)
            copy_str(out->pmu, sizeof out->pmu, pinfo.name);
    }
    return PFM_SUCCESS;
}

const char *cpfm_strerror(int code) { return pfm_strerror(code); }

int cpfm_present_pmu(int n, char *name, size_t name_len, char *desc, size_t desc_len,
                     int *is_core, int *num_events, int *num_counters) {
    if (cpfm_init() != PFM_SUCCESS) return -1;
    int seen = 0;
    pfm_pmu_t p;
    pfm_for_all_pmus(p) {
        pfm_pmu_info_t info;
        memset(&info, 0, sizeof info);
        info.size = sizeof info;
        if (pfm_get_pmu_info(p, &info) != PFM_SUCCESS || !info.is_present) continue;
        if (seen++ != n) continue;
        copy_str(name, name_len, info.name);
        copy_str(desc, desc_len, info.desc);
        *is_core = info.type == PFM_PMU_TYPE_CORE;
        *num_events = info.nevents;
        *num_counters = info.num_cntrs;
        return 0;
    }
    return -1;
}

static int pmu_by_name(const char *pmu, pfm_pmu_info_t *out) {
    pfm_pmu_t p;
    pfm_for_all_pmus(p) {
        memset(out, 0, sizeof *out);
        out->size = sizeof *out;
        if (pfm_get_pmu_info(p, out) == PFM_SUCCESS && out->name && !strcasecmp(out->name, pmu))
            return 0;
    }
    return -1;
}

int cpfm_next_event(const char *pmu, int idx) {
    if (cpfm_init() != PFM_SUCCESS) return -1;
    if (idx < 0) {
        pfm_pmu_info_t info;
        if (pmu_by_name(pmu, &info) < 0) return -1;
        return info.first_event;
    }
    return pfm_get_event_next(idx);
}

int cpfm_event_info(int idx, char *name, size_t name_len, char *desc, size_t desc_len) {
    pfm_event_info_t info;
    memset(&info, 0, sizeof info);
    info.size = sizeof info;
    if (pfm_get_event_info(idx, PFM_OS_PERF_EVENT, &info) != PFM_SUCCESS) return -1;
    copy_str(name, name_len, info.name);
    copy_str(desc, desc_len, info.desc);
    return 0;
}
