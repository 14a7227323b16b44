#!/usr/bin/env python3
"""record / report benchmarks, side by side with perf in one run.

  overhead  the time a fixed amount of work takes, as the workload itself measures it
            (hot_split 0 ROUNDS prints it), bare, under `perf record -F HZ` and under
            `stallstat record -F HZ`, at 1 kHz and 10 kHz; and each tool's whole wall time
  lost      samples the kernel dropped at 10 kHz (both tools' own counts)
  report    `stallstat report` vs `perf report --stdio` on one file of >= 500,000 samples with
            call chains (recorded by perf, so both read the same bytes): flat and --children,
            wall time and peak memory

Usage: Examples/bench/record_bench.py [--runs 10] [--big-seconds 15] [--readme README.md]"""
import argparse, json, os, re, resource, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STALLSTAT = os.path.join(ROOT, ".build/release/stallstat")

def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)

def hyperfine(cmds, runs, warmup=2):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        sh(["hyperfine", "-N", "-w", str(warmup), "-r", str(runs), "--export-json", f.name] + cmds)
        return [(r["mean"], r["stddev"] or 0) for r in json.load(open(f.name))["results"]]

def peak_rss_mb(cmd):
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return ru.ru_maxrss / 1024

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=400)
    ap.add_argument("--readme")
    ap.add_argument("--big-seconds", type=float, default=15, help="length of the big system-wide recording")
    ap.add_argument("--only-report", action="store_true", help="measure only the report rows; the other rows of the README block are kept")
    a = ap.parse_args()
    for tool in ("hyperfine", "perf"):
        if not shutil.which(tool): sys.exit(f"record_bench: {tool} is needed")
    sh(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=ROOT)
    work = sh([os.path.join(ROOT, "Examples/workloads/build.sh")]).stdout.strip()
    d = tempfile.mkdtemp()
    workload = f"{work}/hot_split 0 {a.rounds}"
    rows = ["| measurement | bare | perf | stallstat | stallstat / perf |", "|---|---|---|---|---|"]
    def workload_ms(cmd):
        times = []
        for _ in range(a.runs):
            r = subprocess.run(cmd, capture_output=True, text=True)
            times.append(float(re.search(r"hot_split: ([0-9.]+) ms", r.stderr).group(1)))
        times.sort()
        return times[len(times) // 2]
    w = [f"{work}/hot_split", "0", str(a.rounds)]
    if not a.only_report:
        bare_ms = workload_ms(w)
        for hz in (1000, 10000):
            perf_ms = workload_ms(["perf", "record", "-q", "-F", str(hz), "-o", f"{d}/p.data", "--"] + w)
            ours_ms = workload_ms([STALLSTAT, "record", "-F", str(hz), "-o", f"{d}/s.data", "--"] + w)
            rows.append(f"| sampling overhead, {hz} Hz: the workload's own time for `hot_split 0 {a.rounds}`, median of {a.runs} | {bare_ms:.1f} ms "
                        f"| {perf_ms:.1f} ms ({100*(perf_ms/bare_ms-1):+.1f}%) | {ours_ms:.1f} ms ({100*(ours_ms/bare_ms-1):+.1f}%) | {ours_ms/perf_ms:.3f} |")
            perf_wall, ours_wall = hyperfine([f"perf record -q -F {hz} -o {d}/p.data -- {workload}",
                                              f"{STALLSTAT} record -F {hz} -o {d}/s.data -- {workload}"], a.runs)
            rows.append(f"| same, whole command wall time (tool start-up and file writing included), mean of {a.runs} | – "
                        f"| {perf_wall[0]*1e3:.0f} ms | {ours_wall[0]*1e3:.0f} ms | {ours_wall[0]/perf_wall[0]:.3f} |")
        # lost samples at 10 kHz over 5 s of work
        s = subprocess.run([STALLSTAT, "record", "-F", "10000", "-o", f"{d}/s10.data", "--", f"{work}/hot_split", "5"], capture_output=True, text=True)
        ours_lost = re.search(r"(\d+) samples.*?(0 lost|LOST (\d+))", s.stderr)
        p = subprocess.run(["perf", "record", "-F", "10000", "-o", f"{d}/p10.data", "--", f"{work}/hot_split", "5"], capture_output=True, text=True)
        perf_lost = subprocess.run(["perf", "report", "-i", f"{d}/p10.data", "--stdio", "--stats"], capture_output=True, text=True).stdout
        lost_line = re.search(r"LOST events:\s+(\d+)", perf_lost)
        rows.append(f"| lost samples at 10 kHz, 5 s of `hot_split` | – | {lost_line.group(1) if lost_line else 0} | "
                    f"{ours_lost.group(3) or 0 if ours_lost else '?'} of {ours_lost.group(1) if ours_lost else '?'} | – |")
    # a big file, recorded by perf system-wide: two busy threads on two CPUs at 20 kHz
    # with call chains, at least 500,000 samples (the size)
    big = f"{d}/big.data"
    sh(["perf", "record", "-q", "-a", "-F", "20000", "-g", "-o", big, "--", "sh", "-c", f"{work}/hot_split {a.big_seconds} & {work}/hot_split {a.big_seconds}; wait"])
    count = json.loads(subprocess.run([STALLSTAT, "report", "-i", big, "--json", "--percent-limit", "101"], capture_output=True, text=True).stdout)["events"][0]["samples"]
    flat_ours, flat_perf, ch_ours, ch_perf = hyperfine([
        f"{STALLSTAT} report -i {big} --sort symbol", f"perf report -i {big} --stdio --no-children -g none --sort symbol",
        f"{STALLSTAT} report -i {big} --sort symbol --children", f"perf report -i {big} --stdio --children -g none --sort symbol"], 5, warmup=1)
    m = [peak_rss_mb(c) for c in ([STALLSTAT, "report", "-i", big, "--sort", "symbol"],
                                  ["perf", "report", "-i", big, "--stdio", "--no-children", "-g", "none", "--sort", "symbol"],
                                  [STALLSTAT, "report", "-i", big, "--sort", "symbol", "--children"],
                                  ["perf", "report", "-i", big, "--stdio", "--children", "-g", "none", "--sort", "symbol"])]
    size = f"{count:,} samples with call chains ({os.path.getsize(big)/1e6:.0f} MB, `perf record -a -F 20000 -g`)"
    rows.append(f"| flat report of {size}: `report --sort symbol` vs `perf report --stdio --no-children -g none --sort symbol`, mean of 5 | – "
                f"| {flat_perf[0]:.3f} s | {flat_ours[0]:.3f} s | {flat_ours[0]/flat_perf[0]:.3f} ({flat_perf[0]/flat_ours[0]:.1f}x faster) |")
    rows.append(f"| same, peak memory | – | {m[1]:.0f} MB | {m[0]:.0f} MB | {m[0]/m[1]:.2f} |")
    rows.append(f"| `--children` on the same file vs `perf report --stdio --children -g none --sort symbol`, mean of 5 | – "
                f"| {ch_perf[0]:.3f} s | {ch_ours[0]:.3f} s | {ch_ours[0]/ch_perf[0]:.3f} ({ch_perf[0]/ch_ours[0]:.1f}x faster) |")
    rows.append(f"| same, peak memory | – | {m[3]:.0f} MB | {m[2]:.0f} MB | {m[2]/m[3]:.2f} |")
    # --call-graph dwarf: the unwinding itself (libdwfl here, libunwind in perf 6.1)
    dw = f"{d}/dwarf.data"
    sh(["perf", "record", "-q", "--call-graph", "dwarf", "-F", "4000", "-o", dw, "--", f"{work}/deep_stacks", "1500", "40"])
    dw_count = json.loads(subprocess.run([STALLSTAT, "report", "-i", dw, "--json", "--percent-limit", "101"], capture_output=True, text=True).stdout)["events"][0]["samples"]
    dw_ours, dw_perf = hyperfine([f"{STALLSTAT} report -i {dw} --sort symbol --children",
                                  f"perf report -i {dw} --stdio --children --no-inline -g none --sort symbol"], 5, warmup=1)
    dm = [peak_rss_mb(c) for c in ([STALLSTAT, "report", "-i", dw, "--sort", "symbol", "--children"],
                                   ["perf", "report", "-i", dw, "--stdio", "--children", "--no-inline", "-g", "none", "--sort", "symbol"])]
    rows.append(f"| `--children` of a `--call-graph dwarf` file ({dw_count:,} samples of `deep_stacks`, {os.path.getsize(dw)/1e6:.0f} MB: every user stack unwound) "
                f"vs `perf report --stdio --children --no-inline -g none`, mean of 5 | – | {dw_perf[0]:.3f} s | {dw_ours[0]:.3f} s | {dw_ours[0]/dw_perf[0]:.3f} ({dw_perf[0]/dw_ours[0]:.1f}x faster) |")
    rows.append(f"| same, peak memory | – | {dm[1]:.0f} MB | {dm[0]:.0f} MB | {dm[0]/dm[1]:.2f} |")
    scope = " --only-report` (the report rows; the sampling rows are from the last full run)" if a.only_report else "`"
    block = "\n".join(rows) + f"\n\nMeasured by `Examples/bench/record_bench.py{scope} on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, " \
        f"perf {sh(['perf', '--version']).stdout.split()[-1]}, event cpu-clock (no PMU).\n"
    print(block)
    shutil.rmtree(d, ignore_errors=True)
    if a.readme:
        text = open(a.readme).read()
        if a.only_report:
            old = re.search(r"<!-- BENCH:record -->\n(.*?)\n\n", text, flags=re.S).group(1).split("\n")
            kept = [r for r in old[2:] if not re.match(r"\| (flat report|same, peak|`--children`|report of|same file vs)", r)]
            block = "\n".join(rows[:2] + kept + rows[2:]) + block[len("\n".join(rows)):]
        open(a.readme, "w").write(re.sub(r"(<!-- BENCH:record -->\n).*?(<!-- /BENCH:record -->)", lambda m: m.group(1) + block + m.group(2), text, flags=re.S))

if __name__ == "__main__":
    main()
