#!/usr/bin/env python3
"""Measures the gate's statistical behaviour with real gate runs on this machine.

Modes (--modes, comma-separated; each writes its own README block):
  stored     gate record + check (perf counters): A/A, a fresh baseline each trial; any
             regression verdict is a false alarm. A/B: the workload made 1%, 3%, 5%, 10% larger
             in a known way (touch_pages: MiB touched and ms spun both scaled by 1+x).
  compare    gate compare (alternating pairs, Wilcoxon): A/A with the same command on both
             sides, A/B at +1%, +2%, +3%, +5%.
  rusage     stored mode with --counters=rusage (no perf_event_open).
  simulated  gate compare --counters=simulated (valgrind): A/A, and +0.1% instructions
             (spin_work N vs N*1.001); and the slowdown of a run under valgrind.
Default gate settings (runs 10, warm-up 2, alpha 0.01) unless said.

Usage: Examples/bench/gate_stats.py [--modes stored,compare,rusage,simulated] [--aa 200] [--ab 30]
       [--sim-trials 20] [--readme README.md] [--json out.json]"""
import argparse, json, os, re, statistics, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STALLSTAT = os.environ.get("STALLSTAT_BIN", os.path.join(ROOT, ".build/release/stallstat"))
METRICS = "task-clock,page-faults"
BASE_MIB, BASE_MS = 20.0, 50.0
SPIN = 200000
THRESHOLDS = {"task-clock": "5%", "page-faults": "0.5%", "task-clock (compare)": "1%", "task-clock (rusage)": "5%", "page-faults (rusage)": "0.5%",
              "instructions (simulated)": "0.05%"}

def workload(scale):
    return [os.path.join(ROOT, ".build/workloads/touch_pages"), "%.4f" % (BASE_MIB * scale), "%.4f" % (BASE_MS * scale)]

# --compare-workload MIB,MS: compare's workload (default the fault-heavy 20 MiB + 50 ms);
# "2,100" is a CPU-bound benchmark (2 MiB touched, 100 ms of computation).

def verdicts(args):
    r = subprocess.run([STALLSTAT, "gate"] + args, capture_output=True, text=True)
    if r.returncode not in (0, 1, 3):
        raise SystemExit("gate failed: " + " ".join(args) + "\n" + r.stderr)
    return {m["metric"]: m["verdict"] for m in json.loads(r.stdout)["metrics"]}

def stored(base, scale, counters):
    # A scaled workload stands for a slower build of the same benchmark: allowed explicitly.
    subprocess.run([STALLSTAT, "gate", "record", "--counters", counters, "--baseline", base, "-e", METRICS, "--"] + workload(1.0),
                   check=True, capture_output=True)
    return verdicts(["check", "--json", "--allow-different-command", "--baseline", base, "-e", METRICS, "--"] + workload(scale))

COMPARE_OPTIONS = []

def compare(scale):
    return verdicts(["compare", "--json", "-e", METRICS] + COMPARE_OPTIONS + ["--"] + workload(1.0) + ["--vs"] + workload(scale))

def simulated(scale):
    spin = os.path.join(ROOT, ".build/workloads/spin_work")
    return verdicts(["compare", "--json", "--counters=simulated", "-e", "instructions", "--", spin, str(SPIN), "--vs", spin, str(round(SPIN * scale))])

def tally(counts, key, result):
    for metric, v in result.items():
        c = counts.setdefault((key, metric), {"regression": 0, "inconclusive": 0, "trials": 0})
        c["trials"] += 1
        c["regression"] += v == "regression"
        c["inconclusive"] += v == "inconclusive"

def table(counts, label):
    rows = ["| gates | metric (threshold) | flagged as regression | inconclusive |", "|---|---|---|---|"]
    for (key, metric), c in counts.items():
        rate = f"{c['regression']} = {100*c['regression']/c['trials']:.1f}%"
        what = f"false alarms {rate}" if key == "A/A" else f"detected {rate}"
        rows.append(f"| {label} {key}, {c['trials']} trials | {metric} ({THRESHOLDS.get(metric, '?')}) | {what} | {c['inconclusive']} |")
    return "\n".join(rows)

def slowdown(trials=5):
    spin = os.path.join(ROOT, ".build/workloads/spin_work")
    def timed(cmd):
        t = time.time(); subprocess.run(cmd, check=True, capture_output=True); return time.time() - t
    plain = statistics.median(timed([STALLSTAT, "stat", "--counters=rusage", "-e", "task-clock", "--", spin, "20000000"]) for _ in range(trials))
    sim = statistics.median(timed([STALLSTAT, "stat", "--counters=simulated", "-e", "instructions", "--", spin, "20000000"]) for _ in range(trials))
    return plain, sim

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modes", default="stored,compare,rusage,simulated")
    ap.add_argument("--aa", type=int, default=200)
    ap.add_argument("--ab", type=int, default=30)
    ap.add_argument("--sim-trials", type=int, default=20)
    ap.add_argument("--ab-levels", help="compare: the A/B sizes in percent (default 1,2,3,5)")
    ap.add_argument("--pairs", type=int, help="compare: pairs per gate (default: the gate's, 10)")
    ap.add_argument("--tc-threshold", type=float, help="compare: task-clock threshold in percent (default: the gate's, 5)")
    ap.add_argument("--compare-workload", help="compare: touch_pages MIB,MS (default 20,50; README block gate-compare-cpu for others)")
    ap.add_argument("--readme")
    ap.add_argument("--json")
    a = ap.parse_args()
    global BASE_MIB, BASE_MS
    if a.compare_workload:
        BASE_MIB, BASE_MS = (float(v) for v in a.compare_workload.split(","))
    if a.pairs: COMPARE_OPTIONS.extend(["--runs", str(a.pairs)])
    if a.tc_threshold is not None:
        COMPARE_OPTIONS.extend(["--threshold", f"task-clock={a.tc_threshold:g}"])
        THRESHOLDS["task-clock"] = f"{a.tc_threshold:g}%"
    if "STALLSTAT_BIN" not in os.environ:
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([os.path.join(ROOT, "Examples/workloads/build.sh")], check=True, capture_output=True)
    blocks, results = {}, {}
    with tempfile.TemporaryDirectory() as d:
        base = os.path.join(d, "base.json")
        for mode in a.modes.split(","):
            start, counts = time.time(), {}
            if mode in ("stored", "rusage"):
                counters = "perf" if mode == "stored" else "rusage"
                for _ in range(a.aa): tally(counts, "A/A", stored(base, 1.0, counters))
                for x in (0.01, 0.03, 0.05, 0.10):
                    for _ in range(a.ab): tally(counts, f"A/B +{x*100:g}%", stored(base, 1.0 + x, counters))
                how = f"`gate record` + `gate check --counters={counters}`, workload `touch_pages {BASE_MIB:g} {BASE_MS:g}` scaled by 1+x"
                block = table(counts, "stored")
            elif mode == "compare":
                for _ in range(a.aa): tally(counts, "A/A", compare(1.0))
                levels = [float(v) / 100 for v in a.ab_levels.split(",")] if a.ab_levels else [0.01, 0.02, 0.03, 0.05]
                for x in levels:
                    for _ in range(a.ab): tally(counts, f"A/B +{x*100:g}%", compare(1.0 + x))
                how = f"`gate compare` ({a.pairs or 10} pairs{', task-clock threshold %g%%' % a.tc_threshold if a.tc_threshold is not None else ''}), workload `touch_pages {BASE_MIB:g} {BASE_MS:g}` against itself scaled by 1+x"
                if a.tc_threshold is None:
                    THRESHOLDS["task-clock"] = "1%"   # compare's default for time-like metrics
                block = table(counts, "compare")
            elif mode == "simulated":
                for _ in range(a.sim_trials): tally(counts, "A/A", simulated(1.0))
                for _ in range(a.sim_trials): tally(counts, "A/B +0.1%", simulated(1.001))
                plain, sim = slowdown()
                how = f"`gate compare --counters=simulated` (10 pairs), `spin_work {SPIN}` against `spin_work {round(SPIN*1.001)}`"
                block = table(counts, "simulated") + f"\n\nSlowdown under valgrind (cachegrind, cache simulation): `spin_work 20000000` " \
                    f"{plain*1000:.0f} ms counted from rusage, {sim*1000:.0f} ms simulated = **{sim/plain:.0f}×** (median of 5 each)."
            else:
                raise SystemExit(f"unknown mode {mode}")
            extra = (f" --compare-workload {a.compare_workload}" if a.compare_workload and mode == "compare" else "") + (f" --pairs {a.pairs}" if a.pairs else "") + (f" --ab-levels {a.ab_levels}" if a.ab_levels else "") + (f" --tc-threshold {a.tc_threshold:g}" if a.tc_threshold is not None else "")
            blocks[mode] = block + f"\n\nMeasured by `Examples/bench/gate_stats.py --modes {mode} --aa {a.aa} --ab {a.ab} --sim-trials {a.sim_trials}{extra}`" \
                f" on {time.strftime('%Y-%m-%d')}: {how}; {time.time()-start:.0f} s.\n"
            results[mode] = {f"{k[0]} {k[1]}": v for k, v in counts.items()}
            print(blocks[mode], flush=True)
    if a.json:
        json.dump(results, open(a.json, "w"), indent=2)
    if a.readme:
        text = open(a.readme).read()
        for mode, block in blocks.items():
            marker = "gate" if mode == "stored" else f"gate-{mode}"
            if mode == "compare" and a.compare_workload and a.compare_workload != "20,50":
                marker = "gate-compare-cpu"
            text = re.sub(rf"(<!-- BENCH:{marker} -->\n).*?(<!-- /BENCH:{marker} -->)", lambda m: m.group(1) + block + m.group(2), text, flags=re.S)
        open(a.readme, "w").write(text)

if __name__ == "__main__":
    main()
