#!/usr/bin/env python3
"""The arm64 lab's judge: compares what stallstat and perf printed in the same guest
(the raw outputs guest/collect.sh kept) and prints one table row per check, with both
tools' figures side by side. Pure file analysis, so a captured run can be re-judged:

    Examples/lab/arm64/analyze.py CACHE/results/RUN [--markdown FILE]

Exit status 0 when every check passed, 1 otherwise, 2 when there is nothing to judge.
"""
import argparse
import csv
import io
import json
import math
import os
import re
import sys

# MIDR of each QEMU 7.2 model (target/arm/cpu64.c) and the core stallstat must name
# (every model's core has a generated table since the import; "max" has implementer 0).
# Models EventTables does not know must be refused clearly, never guessed.
QEMU_MODELS = {
    "neoverse-n1": (0x414FD0C1, "neoverse-n1"),
    "cortex-a76": (0x414FD0B1, "cortex-a76"),
    "cortex-a72": (0x410FD083, "cortex-a72"),
    "cortex-a57": (0x411FD070, "cortex-a57"),
    "cortex-a53": (0x410FD034, "cortex-a53"),
    "cortex-a35": (0x410FD040, "cortex-a35"),
    "a64fx": (0x461F0010, "a64fx"),
    "max": (0x000F0510, None),
}


class Checks:
    def __init__(self, where):
        self.where = where
        self.rows = []

    def add(self, name, stallstat, perf, criterion, ok):
        self.rows.append({"where": self.where, "check": name, "stallstat": str(stallstat), "perf": str(perf),
                          "criterion": criterion, "result": "PASS" if ok else "FAIL"})
        return ok

    def info(self, name, stallstat, perf, what):
        """A figure shown for understanding, not judged."""
        self.rows.append({"where": self.where, "check": name, "stallstat": str(stallstat), "perf": str(perf),
                          "criterion": what, "result": "info"})


def read(path, default=None):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return default


def perf_csv(path):
    """perf stat -x, lines → {event: (value or None, percent running or None)}."""
    text = read(path)
    if text is None:
        return None
    counts = {}
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 3 or not row[0] or row[0].startswith("#"):
            continue
        value = None
        try:
            value = float(row[0])
        except ValueError:
            value = None if row[0].startswith("<") else None
        pct = None
        if len(row) > 4:
            try:
                pct = float(row[4])
            except ValueError:
                pct = None
        counts[row[2]] = (value, pct, row[0])
    return counts


def interval_csv(path):
    """perf stat -I -x, lines → list of (time, value, event)."""
    text = read(path)
    rows = []
    if text is None:
        return None
    for row in csv.reader(io.StringIO(text)):
        if len(row) < 4 or row[0].startswith("#"):
            continue
        try:
            rows.append((float(row[0]), float(row[1]), row[3]))
        except ValueError:
            continue
    return rows


def rel(a, b):
    if a is None or b is None:
        return math.inf
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(b), 1e-300)


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float) and (v.is_integer() or abs(v) >= 1e6):
        v = round(v)   # a median of two counts ends in .5
    return f"{v:,}" if isinstance(v, int) else f"{v:.6g}"


def perf_attr(text):
    """type and config of the first perf_event_attr block of `perf stat -vv`."""
    if not text:
        return None
    block = text.split("perf_event_attr:", 1)
    if len(block) < 2:
        return None
    t = re.search(r"^\s*type\s+(\d+)", block[1], re.M)
    c = re.search(r"^\s*config\s+(0x[0-9a-fA-F]+|\d+)", block[1], re.M)
    if not t:
        return None
    config = int(c.group(1), 0) if c else 0
    return int(t.group(1)), config


def stallstat_attr(text):
    m = re.search(r"type=(\d+) config=(0x[0-9a-fA-F]+)", text or "")
    return (int(m.group(1)), int(m.group(2), 16)) if m else None


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def children_rows(path):
    """`report --children` rows (perf's -q and stallstat's) → {"[.] sym": (children, self)}."""
    return percent_rows(path, 2, lambda fields: " ".join(fields), lambda old, new: new)


def percent_rows(path, columns, key, combine):
    """Rows that start with `columns` percentages: {key(fields): percentages}, rows of one
    key combined; perf 6.12's -q ends rows with empty columns printed as "-"."""
    text = read(path)
    if text is None:
        return None
    rows = {}
    pattern = re.compile(r"^\s*" + r"\s+".join([r"(\d+\.\d+)%"] * columns) + r"\s+(.*\S)\s*$")
    for line in text.splitlines():
        m = pattern.match(line)
        if not m:
            continue
        fields = m.group(columns + 1).split()
        while fields and fields[-1] == "-":
            fields.pop()
        k = key(fields)
        values = tuple(float(m.group(i)) for i in range(1, columns + 1))
        rows[k] = combine(rows[k], values) if k in rows else values
    return rows


def report_rows(path):
    """`perf report --stdio -q` / `stallstat report` rows → {key: percent}."""
    def key(fields):
        # perf 6.12 cuts a command name to the column's width ("perf-exe" for perf-exec)
        # when a shorter one sized the column: key on the first 8 characters.
        if fields:
            fields[0] = fields[0][:8]
        # perf 6.12 prints Swift symbols mangled, stallstat demangled: key stallstat's
        # own rows without the symbol.
        if len(fields) >= 2 and fields[1] == "stallstat":
            fields = fields[:3]
        return " ".join(fields)
    rows = percent_rows(path, 1, key, lambda old, new: (old[0] + new[0],))
    return None if rows is None else {k: v[0] for k, v in rows.items()}


KERNEL_SPACE = 0xFFFF800000000000


def kallsyms_table(path):
    """/proc/kallsyms as perf reads it: text symbols (t T w W) but Arm's mapping symbols
    ($x, $d), the last listed of several at one address; a symbol reaches the next one of
    its own module (or of the core kernel), a module's last only to the page after it.
    → sorted [(start, end, name, module or None)]."""
    text = read(path)
    if text is None:
        return None
    entries = []
    for i, line in enumerate(text.splitlines()):
        parts = line.split(None, 3)
        if len(parts) < 3 or parts[1] not in ("t", "T", "w", "W") or parts[2].startswith("$"):
            continue
        try:
            addr = int(parts[0], 16)
        except ValueError:
            continue
        if addr == 0:
            continue
        module = parts[3].strip()[1:-1] if len(parts) > 3 and parts[3].strip().startswith("[") else None
        entries.append((addr, i, parts[2], module))
    entries.sort()
    unique = []
    for e in entries:
        if unique and unique[-1][0] == e[0]:
            unique[-1] = e
        else:
            unique.append(e)
    table = []
    for j, (addr, _, name, module) in enumerate(unique):
        end = (addr + 4096 + 4095) & ~4095
        if j + 1 < len(unique):
            nxt = unique[j + 1]
            end = nxt[0] if nxt[3] == module else min(end, nxt[0])
        table.append((addr, end, name, module))
    return table


def resolve_kernel(table, ip):
    lo, hi = 0, len(table) - 1
    best = -1
    while lo <= hi:
        mid = (lo + hi) // 2
        if table[mid][0] <= ip:
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    if best < 0 or ip >= table[best][1]:
        return None
    return table[best]


def module_truth(ips_path, table):
    """`perf script -F comm,ip` lines → {(comm[:8], module, symbol): percent of all samples}
    for the samples in kernel modules (every sample has the same period: -c)."""
    text = read(ips_path)
    if text is None or table is None:
        return None
    lines = [l.split() for l in text.splitlines() if l.strip()]
    lines = [l for l in lines if len(l) >= 2]
    total = len(lines)
    rows = {}
    for l in lines:
        try:
            ip = int(l[-1], 16)
        except ValueError:
            continue
        if ip < KERNEL_SPACE:
            continue
        hit = resolve_kernel(table, ip)
        if hit is None or hit[3] is None:
            continue
        key = (" ".join(l[:-1])[:8], hit[3], hit[2])
        rows[key] = rows.get(key, 0.0) + 100.0 / total
    return rows


def judge_counts(d, model, c):
    env = os.path.join(d, "env")
    midr_text = (read(os.path.join(env, "midr"), "") or "").strip()
    midr = int(midr_text, 16) if midr_text else None
    expected_midr, expected_core = QEMU_MODELS.get(model, (None, None))
    pagesize = int((read(os.path.join(env, "pagesize"), "0") or "0").strip() or 0)

    # ---- CPU detection
    listed = read(os.path.join(d, "cpu", "list-table.txt"), "")
    if expected_core:
        first = listed.splitlines()[0] if listed else ""
        c.add("CPU detected by MIDR", first.split(" (")[0], f"MIDR {midr_text}", f"names {expected_core}",
              first.startswith(expected_core + " ") and midr == expected_midr)
    else:
        c.add("unknown core refused clearly", (listed.strip().splitlines() or [""])[-1][:60], f"MIDR {midr_text}",
              "no guess; says EventTables has no entry", "no entry for this CPU" in listed and midr == expected_midr)
    if expected_core:
        pmu_file = next((os.path.join(env, f) for f in sorted(os.listdir(env)) if f.startswith("pmu-")), None)
        pmu_events = set()
        for line in (read(pmu_file, "") or "").splitlines():
            m = re.match(r"events/\S+ event=(0x[0-9a-f]+)", line)
            if m:
                pmu_events.add(int(m.group(1), 16))
        marks_ok = True
        seen = 0
        for line in listed.splitlines():
            m = re.match(r"\s+(\S+)\s+0x([0-9a-f]+)\s", line)
            if not m:
                continue
            code = int(m.group(2), 16)
            seen += 1
            common = code <= 0x3F or 0x4000 <= code <= 0x403F
            want = "[implemented]" if common and code in pmu_events else ("[not implemented by" if common else "[implementation defined")
            marks_ok &= want in line
        c.add("list marks events by PMCEID (events/)", f"{seen} events marked", f"events/ lists {len(pmu_events)} codes",
              "implemented iff listed; impdef flagged", seen > 0 and marks_ok)

    # ---- exact user-mode counts
    ss = [perf_csv(os.path.join(d, "exact", f"stallstat-{i}.csv")) for i in (1, 2, 3)]
    pf = [perf_csv(os.path.join(d, "exact", f"perf-{i}.csv")) for i in (1, 2, 3)]
    for ev in ["instructions:u", "r08:u", "cycles:u", "r11:u"]:
        sv = [x.get(ev, (None,))[0] if x else None for x in ss]
        pv = [x.get(ev, (None,))[0] if x else None for x in pf]
        ok = None not in sv and None not in pv and len(set(sv + pv)) == 1 and sv[0] > 0
        c.add(f"{ev} exact (lab_exact), 3 runs each", " / ".join(fmt(v) for v in sv), " / ".join(fmt(v) for v in pv), "all six equal", ok)
    if ss[0] and pf[0]:
        same = ss[0].get("instructions:u", (None,))[0] == ss[0].get("r08:u", (0,))[0]
        c.add("instructions:u == r08:u (one run)", fmt(ss[0].get("r08:u", (None,))[0]), fmt(pf[0].get("r08:u", (None,))[0]), "equal", same)
    sl = [(perf_csv(os.path.join(d, "exact", f"stallstat-libc-{i}.csv")) or {}).get("instructions:u", (None,))[0] for i in (1, 2, 3)]
    pl = [(perf_csv(os.path.join(d, "exact", f"perf-libc-{i}.csv")) or {}).get("instructions:u", (None,))[0] for i in (1, 2, 3)]
    c.add("instructions:u of a glibc program, run to run", " / ".join(fmt(v) for v in sl), " / ".join(fmt(v) for v in pl),
          "each tool's three runs equal", None not in sl + pl and len(set(sl)) == 1 and len(set(pl)) == 1)
    env_p = set((read(os.path.join(d, "exact", "env-under-perf"), "") or "").splitlines())
    env_s = set((read(os.path.join(d, "exact", "env-under-stallstat"), "") or "").splitlines())
    env_n = set((read(os.path.join(d, "exact", "env-under-stallstat-nomux"), "") or "").splitlines())
    added = sorted(v.split("=")[0] for v in env_p - env_s if not v.startswith("_="))
    if None not in sl + pl:
        c.info("  ...between the tools", fmt(sl[0]), fmt(pl[0]), f"differ by {fmt(abs(pl[0] - sl[0]))}: perf changes its workload's environment ({', '.join(added)})")
    c.add("workload environment, --no-multiplex", f"{len(env_n ^ env_s)} differences", "-", "as without it", bool(env_s) and env_n == env_s)
    runs = [i for i in (1, 2, 3) if os.path.exists(os.path.join(d, "exact", f"perf-all-{i}.csv"))]
    for ev in ["instructions", "cycles"]:
        sv = [perf_csv(os.path.join(d, "exact", f"stallstat-all-{i}.csv")) for i in runs]
        pv = [perf_csv(os.path.join(d, "exact", f"perf-all-{i}.csv")) for i in runs]
        s_vals = [x.get(ev, (None,))[0] if x else None for x in sv]
        p_vals = [x.get(ev, (None,))[0] if x else None for x in pv]
        ok = bool(runs) and None not in s_vals + p_vals
        s_med, p_med = (median(s_vals), median(p_vals)) if ok else (None, None)
        c.add(f"{ev} (kernel included), median of {len(runs)} runs", f"{fmt(s_med)} ({' / '.join(fmt(v) for v in s_vals)})",
              f"{fmt(p_med)} ({' / '.join(fmt(v) for v in p_vals)})", "medians within 0.1%", ok and rel(s_med, p_med) <= 0.001)
        if ok:
            spread = max(rel(max(v), min(v)) for v in (s_vals, p_vals))
            c.info("  ...run to run, each tool", f"{100 * rel(max(s_vals), min(s_vals)):.3f}%", f"{100 * rel(max(p_vals), min(p_vals)):.3f}%",
                   f"largest spread of one tool's own runs: {100 * spread:.3f}%")

    # ---- encodings and counts per name
    pairs = [l.split("|") for l in (read(os.path.join(d, "encoding", "pairs"), "") or "").splitlines() if "|" in l]
    for i, (ssn, pfn) in enumerate(pairs, start=1):
        pa = perf_attr(read(os.path.join(d, "encoding", f"perf-vv-{i}.txt")))
        sa = stallstat_attr(read(os.path.join(d, "encoding", f"stallstat-v-{i}.txt")))
        show = lambda a: f"type {a[0]} config {a[1]:#x}" if a else "none"
        if pa is None and sa is None:
            c.add(f"encode {ssn} (perf: {pfn})", "refused", "refused", "both refuse", True)
            continue
        count_err = read(os.path.join(d, "encoding", f"stallstat-count-{i}.err"), "") or ""
        if pa is None and sa is not None:
            # perf knows an Arm event by name only from its JSON for the core; stallstat
            # takes the architecture's code and says when PMCEID does not list it.
            flagged = "is not implemented by" in count_err
            c.add(f"encode {ssn} (perf: {pfn})", show(sa) + (", flagged not implemented" if flagged else ""), "unknown name",
                  "perf has no such event for this core: stallstat encodes the architectural code and flags it", flagged)
            continue
        c.add(f"encode {ssn} (perf: {pfn})", show(sa), show(pa), "same type and config", pa == sa)
        sc = perf_csv(os.path.join(d, "encoding", f"stallstat-count-{i}.csv")) or {}
        pc = perf_csv(os.path.join(d, "encoding", f"perf-count-{i}.csv")) or {}
        sv = next(iter(sc.values()), (None,))[0]
        pv = next(iter(pc.values()), (None,))[0]
        ok = (sv == 0 and pv == 0) or rel(sv, pv) <= 0.001
        c.add(f"count {ssn}", fmt(sv), fmt(pv), "within 0.1% (or both 0)", ok)
        if pa and pa[1] & 0xFFFF in (0x3C,):
            # STALL: QEMU's neoverse-n1 and cortex models leave it out of PMCEID, its max
            # lists it; the guest PMU's sysfs events/ (PMCEID, as the kernel reads it) decides.
            listed = re.search(r"event=0x0*3c\b", read(os.path.join(d, "env", "pmu-armv8_pmuv3"), "") or "") is not None
            flagged = "not implemented by" in count_err
            c.add(f"{ssn}: a note when the PMU lacks it", "note" if flagged else "no note",
                  "listed in events/" if listed else "not in events/", "a note exactly when the PMU's events/ lacks it", flagged != listed)

    # ---- default stall set and tree
    default = read(os.path.join(d, "cpu", "default.txt"), "")
    if expected_core:
        c.add("default stall set counts", "tree printed" if "Stall tree (" in default else "no tree", "-",
              "counts and the stall tree of " + expected_core, "Stall tree (" in default and expected_core in default)
    def metric_values(path):
        """-M --metric-only -j output (perf's and stallstat's): metric name → value."""
        values = {}
        for line in (read(path, "") or "").splitlines():
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            for k, v in obj.items() if isinstance(obj, dict) else []:
                for name in ("ipc", "frontend_stalled_cycles"):
                    if name in k:
                        try:
                            values[name] = float(str(v).strip())
                        except ValueError:
                            pass
        return values
    sk, pk = metric_values(os.path.join(d, "cpu", "stallstat-metrics.json")), metric_values(os.path.join(d, "cpu", "perf-metrics.json"))
    if model == "neoverse-n1":
        for name in ("ipc", "frontend_stalled_cycles"):
            s_v, p_v = sk.get(name), pk.get(name)
            c.add(f"-M {name} (the kernel's metric)", fmt(s_v), fmt(p_v), "equal to the 2 decimals printed",
                  s_v is not None and p_v is not None and abs(s_v - p_v) <= 0.011)
    default_a = read(os.path.join(d, "cpu", "default-a.txt"), "")
    c.add("stat -a --duration 1", "counted" if "Total test time" in default_a or "seconds time elapsed" in default_a else "failed", "-",
          "prints counts", "Total test time" in default_a or "seconds time elapsed" in default_a)

    # ---- multiplexing
    # Medians of three interleaved runs each (older captures: one run, perf.csv).
    mux_runs = [f"-{i}" for i in (1, 2, 3) if os.path.exists(os.path.join(d, "mux", f"perf-{i}.csv"))] or [""]
    sms = [perf_csv(os.path.join(d, "mux", f"stallstat{r}.csv")) or {} for r in mux_runs]
    pms = [perf_csv(os.path.join(d, "mux", f"perf{r}.csv")) or {} for r in mux_runs]
    events = (read(os.path.join(d, "mux", "events"), "") or "").strip().split(",")
    def mux_median(runs, ev):
        values = [m.get(ev, (None, None)) for m in runs]
        if any(v[0] is None for v in values):
            return (None, None)
        return (median([v[0] for v in values]), median([v[1] for v in values if v[1] is not None]) if any(v[1] is not None for v in values) else None)
    for ev in events:
        s = mux_median(sms, ev)
        p = mux_median(pms, ev)
        ok = s[0] is not None and p[0] is not None and ((s[0] == 0 and p[0] == 0) or rel(s[0], p[0]) <= 0.01)
        c.add(f"multiplexed {ev}" + (f", median of {len(mux_runs)}" if len(mux_runs) > 1 else ""), f"{fmt(s[0])} ({fmt(s[1])}%)",
              f"{fmt(p[0])} ({fmt(p[1])}%)", "within 1%; both <100% running", ok and (s[1] or 100) < 100 and (p[1] or 100) < 100)
    stext = read(os.path.join(d, "mux", "stallstat.txt"), "")
    ghz = re.search(r"\scycles\s+#\s+([\d.]+) GHz", stext)
    ptext = read(os.path.join(d, "mux", "perf.txt"), "")
    pghz = re.search(r"\scycles\s+#\s+([\d.]+) GHz", ptext)
    c.add("GHz under multiplexing (1 GHz clock)", ghz.group(1) if ghz else "none", pghz.group(1) if pghz else "none",
          "1.00 +- 0.05", bool(ghz) and abs(float(ghz.group(1)) - 1.0) <= 0.05)
    def group_rows(name):
        g = perf_csv(os.path.join(d, "mux", name)) or {}
        text = read(os.path.join(d, "mux", name), "") or ""
        rows = [l.split(",")[0] for l in text.splitlines() if l and not l.startswith("#")]
        return rows
    sg, pg = group_rows("stallstat-group.csv"), group_rows("perf-group.csv")
    def summary(rows):
        return ", ".join(f"{rows.count(v)}x {v}" for v in sorted(set(rows)))
    c.add("group wider than the counters (7 for 6)", summary(sg), summary(pg),
          "row for row as perf: nothing counted", len(sg) == 7 and sg == pg and "counted" not in sg and not any(v[0].isdigit() for v in sg))
    sr, pr_ = group_rows("stallstat-group-refused.csv"), group_rows("perf-group-refused.csv")
    c.add("group with a member the kernel refuses (CHAIN)", summary(sr), summary(pr_),
          "row for row as perf: none of the group counted", len(sr) == 4 and sr == pr_ and not any(v[0].isdigit() for v in sr))
    gerr = read(os.path.join(d, "mux", "stallstat-group.err"), "") or ""
    c.add("  ...and says why", "says it does not fit" if "needs more counters than the PMU has" in gerr else gerr.strip()[:60], "-",
          "the refused member opens alone: the group does not fit", "needs more counters than the PMU has" in gerr)
    sn = perf_csv(os.path.join(d, "mux", "stallstat-nomux.csv")) or {}
    single = perf_csv(os.path.join(d, "mux", "stallstat-single.csv")) or {}
    for ev in ["instructions:u", "cycles:u"]:
        nomux = sn.get(ev, (None, None))
        one = single.get(ev, (None, None))
        c.add(f"--no-multiplex {ev} = one-group count", f"{fmt(nomux[0])} ({fmt(nomux[1])}%)", f"{fmt(one[0])} (stallstat, one group)",
              "equal, 100% running", nomux[0] is not None and nomux[0] == one[0] and nomux[1] == 100)

    # ---- record and report
    for f in ["perf-c.data", "stallstat-c.data", "perf-F.data", "stallstat-F.data", "stallstat-a.data", "perf-a.data"]:
        base = os.path.join(d, "record", f)
        if not os.path.exists(base):
            c.add(f"record {f}", "no file", "-", "written", False)
            continue
        pr = report_rows(base + ".perf-report") or {}
        sr = report_rows(base + ".stallstat-report") or {}
        table = kallsyms_table(os.path.join(d, "record", "kallsyms"))
        truth = module_truth(base + ".ips", table) if f.endswith("-a.data") else None
        if truth is not None:
            # Module samples: stallstat's rows ([9pnet] [k] p9_tag_alloc) against the
            # kernel's own table applied to perf script's raw addresses; perf's own module
            # rows are compared per command only (their names depend on perf's load order).
            modules = {m for (_, m, _) in truth} | {k.split()[1][1:-1] for k in sr if len(k.split()) > 2 and k.split()[1] not in ("[kernel.kallsyms]",) and k.split()[1].startswith("[") and "[k]" in k.split()}
            def is_module_row(k):
                # A raw address (no symbol covers it) is compared below as unresolved.
                f_ = k.split()
                return len(f_) > 2 and f_[1].startswith("[") and f_[1][1:-1] in modules and not f_[-1].startswith("0x")
            ours = {(k.split()[0], k.split()[1][1:-1], k.split()[-1]): v for k, v in sr.items() if is_module_row(k)}
            worst_m = max((abs(truth.get(k, 0) - ours.get(k, 0)) for k in set(truth) | set(ours)), default=0.0)
            module_syms = {(comm, sym) for (comm, _, sym) in truth}
            def perf_module_row(k):
                f_ = k.split()
                return is_module_row(k) or (len(f_) > 2 and "[k]" in f_ and (f_[0], f_[-1]) in module_syms)
            per_comm = lambda rows, pick: {comm: sum(v for k, v in rows.items() if pick(k) and k.split()[0] == comm) for comm in {k.split()[0] for k in rows}}
            pc, sc = per_comm(pr, perf_module_row), per_comm(sr, is_module_row)
            worst_c = max((abs(pc.get(k, 0) - sc.get(k, 0)) for k in set(pc) | set(sc)), default=0.0)
            c.add(f"report {f}: module samples", f"{len(ours)} rows, {sum(ours.values()):.2f}%",
                  f"{len(truth)} rows, {sum(truth.values()):.2f}% (kallsyms on perf script's addresses)",
                  "every module row within 0.1 pp; per command as perf's", worst_m <= 0.1 and worst_c <= 0.1)
            pr = {k: v for k, v in pr.items() if not perf_module_row(k)}
            sr = {k: v for k, v in sr.items() if not is_module_row(k)}
        # A kernel address no symbol covers (a module's bytes before its first symbol) is
        # unresolved in both tools, which print it differently: perf 6.12 map-relative
        # under [kernel.kallsyms] (0x000fced5399ab0ac), stallstat as the address under the
        # module whose range holds it ([9pnet] 0xffffced5399a80ac). Compared per command.
        def unresolved(rows):
            out = {}
            for k, v in rows.items():
                f_ = k.split()
                key = f"{f_[0]} [k] <unresolved>" if len(f_) > 2 and "[k]" in f_ and f_[-1].startswith("0x") else k
                out[key] = out.get(key, 0) + v
            return out
        pr, sr = unresolved(pr), unresolved(sr)
        keys = set(pr) | set(sr)
        worst = max((abs(pr.get(k, 0) - sr.get(k, 0)) for k in keys), default=math.inf)
        top_s = max(sr.items(), key=lambda kv: kv[1], default=("-", 0))
        top_p = max(pr.items(), key=lambda kv: kv[1], default=("-", 0))
        c.add(f"report {f}: rows", f"{len(sr)} rows, top {top_s[1]:.2f}% {top_s[0].split()[-1]}",
              f"{len(pr)} rows, top {top_p[1]:.2f}% {top_p[0].split()[-1]}", "every row within 0.1 pp", bool(keys) and worst <= 0.1)

    # ---- -g on arm64: a leaf's caller from the link register (perf inserts it)
    for f in ["perf-g.data", "stallstat-g.data"]:
        base = os.path.join(d, "record", f)
        if not os.path.exists(base):
            c.add(f"record -g {f}", "no file", "-", "written", False)
            continue
        pr = children_rows(base + ".perf-children") or {}
        sr = children_rows(base + ".stallstat-children") or {}
        keys = set(pr) | set(sr)
        worst = max((max(abs(pr.get(k, (0, 0))[0] - sr.get(k, (0, 0))[0]), abs(pr.get(k, (0, 0))[1] - sr.get(k, (0, 0))[1])) for k in keys), default=math.inf)
        main_s, main_p = sr.get("[.] main", (0, 0))[0], pr.get("[.] main", (0, 0))[0]
        c.add(f"report --children {f}: rows", f"{len(sr)} rows, main {main_s:.2f}%", f"{len(pr)} rows, main {main_p:.2f}%",
              "every row within 0.1 pp (children and self); main holds its leaves' samples", bool(keys) and worst <= 0.1 and main_p > 90)
        evlist = read(base + ".evlist", "") or ""
        regs = re.search(r"sample_regs_user: (0x[0-9a-f]+)", evlist)
        c.add(f"  ...{f}'s attr as perf reads it", regs.group(1) if regs else "no sample_regs_user", "0x40000000 (LR)",
              "the link register sampled, as perf record -g", bool(regs) and regs.group(1) == "0x40000000")

    # ---- intervals
    si = interval_csv(os.path.join(d, "interval", "stallstat.csv"))
    pi = interval_csv(os.path.join(d, "interval", "perf.csv"))
    if si is not None or pi is not None:
        def total(rows, ev):
            return sum(v for _, v, e in rows or [] if e == ev)
        stimes = sorted({t for t, _, _ in si or []})
        ptimes = sorted({t for t, _, _ in pi or []})
        c.add("stat -a -I 100: intervals", f"{len(stimes)} intervals", f"{len(ptimes)} intervals", "both print intervals",
              len(stimes) > 0 and len(ptimes) > 0)
        c.add("stat -a -I 100: instructions summed", fmt(total(si, "instructions")), fmt(total(pi, "instructions")),
              "within 5% (system-wide, separate runs)", rel(total(si, "instructions"), total(pi, "instructions")) <= 0.05)

    # ---- fragmentation snapshot
    fj = read(os.path.join(d, "frag", "frag.json"))
    if fj:
        try:
            snap = json.loads(fj)
        except ValueError:
            snap = None
        c.add("frag page size", fmt(snap.get("page_size") if snap else None), fmt(pagesize), "the kernel's page size",
              bool(snap) and snap.get("page_size") == pagesize)
        pmd = (read(os.path.join(d, "frag", "hpage_pmd_size"), "") or "").strip()
        if pmd and pagesize:
            order = int(math.log2(int(pmd) // pagesize))
            c.add("frag huge page order", fmt(snap.get("huge_page_order") if snap else None), f"{order} (hpage_pmd_size {pmd})",
                  "equal", bool(snap) and snap.get("huge_page_order") == order)
        before = read(os.path.join(d, "frag", "buddyinfo-before"))
        after = read(os.path.join(d, "frag", "buddyinfo-after"))
        debugfs = read(os.path.join(d, "frag", "unusable_index"), "")
        if before == after and debugfs and snap:
            kernel = {}
            for line in debugfs.splitlines():
                m = re.match(r"Node (\d+), zone\s+(\S+)\s+(.*)", line)
                if m:
                    kernel[(int(m.group(1)), m.group(2))] = m.group(3).split()
            mine = {(z["node"], z["zone"]): [f"{x:.3f}" for x in z["unusable_index"]] for z in snap.get("zones", [])}
            same = bool(kernel) and all(mine.get(k) == v for k, v in kernel.items())
            c.add("frag unusable index vs debugfs", f"{len(mine)} zones", f"{len(kernel)} zones", "identical to the digit", same)
        text = read(os.path.join(d, "frag", "frag.txt"), "")
        m = re.search(r"([\d,]+) free pages \(([\d.]+) MiB\)", text)
        if m and pagesize:
            pages = int(m.group(1).replace(",", ""))
            c.add("frag MiB uses the page size", f"{m.group(2)} MiB", f"{pages * pagesize / 1048576:.1f} MiB",
                  "free pages x page size", f"{pages * pagesize / 1048576:.1f}" == m.group(2))


def judge_xctest(d, c):
    """One process per test class (guest/collect.sh): each class's status and tests."""
    log = read(os.path.join(d, "log"), "") or ""
    status = [l.split() for l in (read(os.path.join(d, "class-status"), "") or "").splitlines() if l.strip()]
    if not status:
        c.add("XCTest suite in the guest", "did not run", "-", "0 failures", False)
        return
    passed = len(re.findall(r"Test Case '.*' passed", log))
    failed_tests = sorted(set(re.findall(r"Test Case '(.*)' failed", log)))
    skipped = len(re.findall(r"Test Case '.*' skipped", log))
    timed_out = [cls for cls, rc in status if rc in ("124", "137")]
    crashed = [cls for cls, rc in status if rc not in ("0", "1", "124", "137")]
    c.add("XCTest suite in the guest", f"{len(status)} classes: {passed} passed, {len(failed_tests)} failed, {skipped} skipped",
          "-", "no failure, no crash", not failed_tests and not crashed)
    for t in failed_tests[:30]:
        c.add("  failed test", t, "-", "-", False)
    for cls in crashed:
        c.add("  crashed class", cls, "-", "-", False)
    for cls in timed_out:
        c.info("  class over its time bound", cls, "-", "not run to the end in the guest (600 s)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("results", help="CACHE/results/RUN")
    ap.add_argument("--markdown", help="also write the table as Markdown to FILE")
    ap.add_argument("--qemu", default="")
    ap.add_argument("--seconds", default="")
    a = ap.parse_args()
    all_rows = []
    dirs = sorted(e for e in os.listdir(a.results) if os.path.isdir(os.path.join(a.results, e)))
    for e in dirs:
        model, _, pages = e.rpartition("-")
        base = os.path.join(a.results, e)
        if os.path.isdir(os.path.join(base, "counts")):
            c = Checks(e)
            if not os.path.exists(os.path.join(base, "counts", "finished")):
                c.add("guest suite finished", "no", "-", "the job ran to its end", False)
            judge_counts(os.path.join(base, "counts"), model, c)
            all_rows += c.rows
        if os.path.isdir(os.path.join(base, "xctest")):
            c = Checks(e)
            judge_xctest(os.path.join(base, "xctest"), c)
            all_rows += c.rows
    if not all_rows:
        print(f"analyze: nothing to judge under {a.results}", file=sys.stderr)
        return 2
    with open(os.path.join(a.results, "summary.tsv"), "w") as f:
        f.write("where\tcheck\tstallstat\tperf\tcriterion\tresult\n")
        for r in all_rows:
            f.write("\t".join(r[k] for k in ["where", "check", "stallstat", "perf", "criterion", "result"]) + "\n")
    env = {}
    for e in dirs:
        envdir = os.path.join(a.results, e, "counts", "env")
        if os.path.isdir(envdir):
            env[e] = ((read(os.path.join(envdir, "kernel"), "") or "").strip(), (read(os.path.join(envdir, "perf-version"), "") or "").strip(),
                      (read(os.path.join(envdir, "pagesize"), "") or "").strip())
    lines = [f"Lab run {os.path.basename(a.results.rstrip('/'))}" + (f", {a.qemu}" if a.qemu else "") + (f", {a.seconds} s" if a.seconds else "")]
    for e, (k, p, ps) in env.items():
        lines.append(f"  {e}: kernel {k}, {p}, page size {ps}")
    lines.append("")
    lines.append("| where | check | stallstat | perf | criterion | result |")
    lines.append("|---|---|---|---|---|---|")
    for r in all_rows:
        lines.append("| " + " | ".join(r[k].replace("|", "\\|") for k in ["where", "check", "stallstat", "perf", "criterion", "result"]) + " |")
    failed = sum(r["result"] == "FAIL" for r in all_rows)
    passed = sum(r["result"] == "PASS" for r in all_rows)
    lines.append("")
    lines.append(f"{passed} passed, {failed} failed")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    with open(os.path.join(a.results, "table.md"), "w") as f:
        f.write(text)
    if a.markdown:
        with open(a.markdown, "w") as f:
            f.write(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
