#!/usr/bin/env python3
"""Benchmarks for `stallstat stat`, each measured side by side with perf in one run.

  overhead  wall time of a CPU- and fault-heavy workload run bare, under `perf stat`
            and under `stallstat stat` with the same 6 software events
  startup   `stallstat stat -e task-clock -- true` vs `perf stat -e task-clock -- true`
  interval  CPU time the tool itself spends on `-a -I 100` for DURATION seconds
  args      `stat -- /bin/true x x ...` with 20,000 and 100,000 arguments (linear, as perf)
  analyze   `stallstat analyze` of perf text naming 10,000 and 100,000 distinct events (linear)

Usage: Examples/bench/stat_bench.py [--runs N] [--interval-seconds S] [--readme README.md]
With --readme the figures replace the block between the BENCH:stat markers.
"""
import argparse, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STALLSTAT = os.path.join(ROOT, ".build/release/stallstat")
EVENTS = "task-clock,context-switches,cpu-migrations,page-faults,minor-faults,major-faults"


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def hyperfine(commands, runs, warmup=3):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        sh(["hyperfine", "-N", "-w", str(warmup), "-r", str(runs), "--export-json", out.name] + commands)
        data = json.load(open(out.name))
    return [(r["mean"], r["stddev"] or 0.0) for r in data["results"]]


def cpu_seconds(cmd):
    """User+system CPU time of the tool process only (children excluded: `sleep`)."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - start
    return ru.ru_utime + ru.ru_stime, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=100, help="cpu_faults rounds (16 MiB each)")
    ap.add_argument("--interval-seconds", type=float, default=20)
    ap.add_argument("--readme")
    a = ap.parse_args()
    for tool in ("hyperfine", "perf", "cc"):
        if not shutil.which(tool):
            sys.exit(f"stat_bench: '{tool}' is needed (apt-get install -y hyperfine linux-perf gcc)")
    sh(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=ROOT)
    work = sh([os.path.join(ROOT, "Examples/workloads/build.sh")]).stdout.strip()
    workload = f"{work}/cpu_faults {a.rounds}"

    bare, perf, ours = hyperfine([workload, f"perf stat -e {EVENTS} -- {workload}",
                                  f"{STALLSTAT} stat -e {EVENTS} -- {workload}"], a.runs)
    spin = f"{work}/touch_pages 1 300"
    sbare, sperf, sours = hyperfine([spin, f"perf stat -e {EVENTS} -- {spin}", f"{STALLSTAT} stat -e {EVENTS} -- {spin}"], a.runs)
    s_ours, s_perf = hyperfine([f"{STALLSTAT} stat -e task-clock -- true", "perf stat -e task-clock -- true"], a.runs * 3)

    sleep = ["sleep", str(a.interval_seconds)]
    i_ours, w_ours = cpu_seconds([STALLSTAT, "stat", "-a", "-I", "100", "-x,", "-e", EVENTS, "--duration", str(a.interval_seconds)])
    i_perf, w_perf = cpu_seconds(["perf", "stat", "-a", "-I", "100", "-x,", "-e", EVENTS, "--"] + sleep)
    i_def, w_def = cpu_seconds([STALLSTAT, "-a", "-I", "100", "--duration", str(a.interval_seconds)])

    # Linear in the command's argument count and in analyze's distinct event names.
    # (hyperfine takes a command as one string, longer than one argv string may be: timed here.)
    def median_wall(argv, runs=7):
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - start)
        return (statistics.median(times), 0.0)
    args = {}
    for n in (20_000, 100_000):
        words = ["x"] * n
        args[n] = median_wall([STALLSTAT, "stat", "-e", "task-clock", "-o", "/dev/null", "--", "/bin/true"] + words)
        args[("perf", n)] = median_wall(["perf", "stat", "-e", "task-clock", "-o", "/dev/null", "--", "/bin/true"] + words)
    names = {}
    with tempfile.TemporaryDirectory() as d:
        for n in (10_000, 100_000):
            path = f"{d}/names-{n}.txt"
            with open(path, "w") as f:
                f.write(" Performance counter stats for 'x':\n\n")
                f.writelines(f"     {i * 7919 % 1000003:,}      event_{i}\n" for i in range(n))
            (names[n],) = hyperfine([f"{STALLSTAT} analyze --cpu zen4 {path}"], 3, warmup=1)

    def pct(x, base):
        return 100.0 * (x / base - 1.0)

    rows = [
        "| measurement | bare | perf | stallstat | stallstat / perf |",
        "|---|---|---|---|---|",
        f"| overhead: `cpu_faults {a.rounds}` wall time, 6 software events, mean of {a.runs} "
        f"| {bare[0]*1e3:.1f} ms ± {bare[1]*1e3:.1f} | {perf[0]*1e3:.1f} ms ({pct(perf[0], bare[0]):+.2f}% over bare) "
        f"| {ours[0]*1e3:.1f} ms ({pct(ours[0], bare[0]):+.2f}% over bare) | {ours[0]/perf[0]:.3f} |",
        f"| overhead: CPU-bound `touch_pages 1 300` (300 ms spin), same events, mean of {a.runs} "
        f"| {sbare[0]*1e3:.1f} ms ± {sbare[1]*1e3:.1f} | {sperf[0]*1e3:.1f} ms ({pct(sperf[0], sbare[0]):+.2f}%) "
        f"| {sours[0]*1e3:.1f} ms ({pct(sours[0], sbare[0]):+.2f}%) | {sours[0]/sperf[0]:.3f} |",
        f"| start-up: `stat -e task-clock -- true`, mean of {a.runs*3} | – | {s_perf[0]*1e3:.2f} ms ± {s_perf[1]*1e3:.2f} "
        f"| {s_ours[0]*1e3:.2f} ms ± {s_ours[1]*1e3:.2f} | {s_ours[0]/s_perf[0]:.3f} |",
        f"| `-a -I 100` for {a.interval_seconds:g} s, tool's own CPU time, the same 6 software events "
        f"| – | {i_perf*1e3:.0f} ms = {100*i_perf/w_perf:.3f}% of one CPU | {i_ours*1e3:.0f} ms = {100*i_ours/w_ours:.3f}% of one CPU "
        f"| {i_ours/i_perf if i_perf else float('nan'):.3f} |",
        f"| `stat -- /bin/true` with 20,000 / 100,000 arguments, median of 7 | – | {args[('perf', 20_000)][0]*1e3:.0f} / {args[('perf', 100_000)][0]*1e3:.0f} ms "
        f"| {args[20_000][0]*1e3:.0f} / {args[100_000][0]*1e3:.0f} ms | {args[100_000][0]/args[('perf', 100_000)][0]:.3f} |",
        f"| `analyze` of perf text with 10,000 / 100,000 distinct events (perf has no such command) | – | – "
        f"| {names[10_000][0]:.2f} / {names[100_000][0]:.2f} s ({names[100_000][0]/names[10_000][0]:.1f}× for 10× the names) | – |",
        f"| same, stallstat's default stall set, which with -I implies --frag (29 events incl. /proc signals and tracepoints, a memory snapshot per interval, the correlation) | – | – "
        f"| {i_def*1e3:.0f} ms = {100*i_def/w_def:.3f}% of one CPU | – |",
    ]
    machine = sh(["uname", "-r"]).stdout.strip()
    block = "\n".join(rows) + f"\n\nMeasured by `Examples/bench/stat_bench.py` on {time.strftime('%Y-%m-%d')}, " \
        f"{os.cpu_count()} CPUs, kernel {machine}, perf {sh(['perf', '--version']).stdout.split()[-1]}.\n"
    print(block)
    if a.readme:
        text = open(a.readme).read()
        new = re.sub(r"(<!-- BENCH:stat -->\n).*?(<!-- /BENCH:stat -->)", lambda m: m.group(1) + block + m.group(2), text, flags=re.S)
        open(a.readme, "w").write(new)


if __name__ == "__main__":
    main()
