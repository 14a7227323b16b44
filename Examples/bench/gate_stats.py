#!/usr/bin/env python3
"""Measures the gate's statistical behaviour with real gate runs on this machine.

A/A: record a baseline of the workload, check the same workload; any regression verdict
is a false alarm. A/B: check a workload made 1%, 3%, 5% and 10% larger in a known way
(touch_pages: MiB touched and milliseconds spun both scaled by 1+x), and count how often
each metric is flagged. Default gate settings (runs 10, warm-up 2, alpha 0.01).

Usage: Examples/bench/gate_stats.py [--aa 200] [--ab 30] [--readme README.md] [--json out.json]"""
import argparse, json, os, re, subprocess, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STALLSTAT = os.environ.get("STALLSTAT_BIN", os.path.join(ROOT, ".build/release/stallstat"))
METRICS = "task-clock,page-faults"
BASE_MIB, BASE_MS = 20.0, 50.0

def workload(scale):
    return [os.path.join(ROOT, ".build/workloads/touch_pages"), "%.4f" % (BASE_MIB * scale), "%.4f" % (BASE_MS * scale)]

def gate(baseline, scale):
    # A scaled workload stands for a slower build of the same benchmark: allowed explicitly.
    r = subprocess.run([STALLSTAT, "gate", "check", "--json", "--allow-different-command", "--baseline", baseline, "-e", METRICS, "--"] + workload(scale),
                       capture_output=True, text=True)
    if r.returncode not in (0, 1, 3):
        raise SystemExit("gate check failed: " + r.stderr)
    return {m["metric"]: m["verdict"] for m in json.loads(r.stdout)["metrics"]}

def record(path):
    subprocess.run([STALLSTAT, "gate", "record", "--baseline", path, "-e", METRICS, "--"] + workload(1.0), check=True, capture_output=True)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--aa", type=int, default=200)
    ap.add_argument("--ab", type=int, default=30)
    ap.add_argument("--readme")
    ap.add_argument("--json")
    a = ap.parse_args()
    if "STALLSTAT_BIN" not in os.environ:
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=ROOT, check=True, capture_output=True)
    subprocess.run([os.path.join(ROOT, "Examples/workloads/build.sh")], check=True, capture_output=True)
    start = time.time()
    counts = {"aa": {}, "ab": {}}
    with tempfile.TemporaryDirectory() as d:
        base = os.path.join(d, "base.json")
        for i in range(a.aa):
            record(base)   # a fresh baseline each trial: trials are independent
            for metric, v in gate(base, 1.0).items():
                c = counts["aa"].setdefault(metric, {"regression": 0, "inconclusive": 0, "trials": 0})
                c["trials"] += 1
                c["regression"] += v == "regression"
                c["inconclusive"] += v == "inconclusive"
        for x in (0.01, 0.03, 0.05, 0.10):
            for i in range(a.ab):
                record(base)
                for metric, v in gate(base, 1.0 + x).items():
                    c = counts["ab"].setdefault(f"{metric} +{int(x*100)}%", {"regression": 0, "inconclusive": 0, "trials": 0})
                    c["trials"] += 1
                    c["regression"] += v == "regression"
                    c["inconclusive"] += v == "inconclusive"
    rows = ["| gates | metric (threshold) | flagged as regression | inconclusive |", "|---|---|---|---|"]
    thresholds = {"task-clock": "5%", "page-faults": "0.5%"}
    for metric, c in counts["aa"].items():
        rows.append(f"| A/A, {c['trials']} trials | {metric} ({thresholds.get(metric, '?')}) | false alarms {c['regression']} = {100*c['regression']/c['trials']:.1f}% | {c['inconclusive']} |")
    for key, c in counts["ab"].items():
        metric = key.split(" ")[0]
        rows.append(f"| A/B {key.split(' ')[1]} larger, {c['trials']} trials | {metric} ({thresholds.get(metric, '?')}) | detected {c['regression']} = {100*c['regression']/c['trials']:.1f}% | {c['inconclusive']} |")
    block = "\n".join(rows) + f"\n\nMeasured by `Examples/bench/gate_stats.py --aa {a.aa} --ab {a.ab}` on {time.strftime('%Y-%m-%d')} " \
        f"(workload `touch_pages {BASE_MIB:g} {BASE_MS:g}` scaled by 1+x; {time.time()-start:.0f} s in all).\n"
    print(block)
    if a.json:
        json.dump(counts, open(a.json, "w"), indent=2)
    if a.readme:
        text = open(a.readme).read()
        open(a.readme, "w").write(re.sub(r"(<!-- BENCH:gate -->\n).*?(<!-- /BENCH:gate -->)", lambda m: m.group(1) + block + m.group(2), text, flags=re.S))

if __name__ == "__main__":
    main()
