#!/usr/bin/env python3
"""Soak test: stallstat and perf left running side by side, their resources sampled.

Four long runs start at the same moment and are sampled every --every seconds for
--duration seconds while a light periodic workload runs (so there is something to count):

  stallstat stat -a -I 10        (the default stall set; with -I it implies --frag)
  perf stat -a -I 10             (perf's default set)
  stallstat stat -a -I 10 -e SW  (perf's default software events: like for like)
  stallstat record -a            (defaults: cpu-clock, 4000 Hz)
  perf record -a                 (defaults)

Each sample reads, from /proc/PID: VmRSS, the number of open fds, and utime+stime.
At the end every tool gets SIGINT (as Ctrl-C), must exit within 10 s with its usual
status, and the recordings must be readable by `perf report --stats`.

Writes DIR/soak.csv, DIR/soak-rss.svg (the curve) and a Markdown table; with --readme
replaces the <!-- BENCH:soak --> block and copies the SVG beside this script.

Usage: Examples/soak/soak.py [--duration 3600] [--every 10] [--dir DIR] [--readme README.md]
A short run for CI-like checks: --duration 60 --every 2."""
import argparse, os, shutil, signal, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
STALLSTAT = os.path.join(ROOT, ".build/release/stallstat")
TICK = os.sysconf("SC_CLK_TCK")
SOFTWARE_SET = "task-clock,context-switches,cpu-migrations,page-faults"


def proc_sample(pid):
    """(rss KiB, open fds, cpu seconds) of one process, or None once it is gone."""
    try:
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu = (int(fields[11]) + int(fields[12])) / TICK   # utime, stime (fields 14, 15)
        return rss, fds, cpu
    except (FileNotFoundError, ProcessLookupError):
        return None


def slope_per_hour(points):
    """Least-squares slope of (seconds, value) points, per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    sxy = sum((p[0] - mx) * (p[1] - my) for p in points)
    return 3600 * sxy / sxx if sxx else 0.0


def svg(series, duration, path):
    """RSS (MiB) over time, one polyline per tool."""
    w, h, left, bottom = 720, 320, 60, 40
    top = max(max(v for _, v in pts) for pts in series.values()) * 1.15 or 1
    colors = ["#1f77b4", "#d62728", "#9467bd", "#2ca02c", "#ff7f0e"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
           f'<rect width="{w}" height="{h}" fill="white"/>',
           f'<line x1="{left}" y1="{h-bottom}" x2="{w-10}" y2="{h-bottom}" stroke="black"/>',
           f'<line x1="{left}" y1="10" x2="{left}" y2="{h-bottom}" stroke="black"/>',
           f'<text x="{w/2}" y="{h-8}" text-anchor="middle">minutes</text>',
           f'<text x="14" y="{h/2}" transform="rotate(-90 14 {h/2})" text-anchor="middle">RSS (MiB)</text>']
    sx = lambda t: left + (w - left - 10) * t / max(duration, 1)
    sy = lambda v: (h - bottom) - (h - bottom - 10) * v / top
    for k in range(5):
        v = top * k / 4
        out.append(f'<text x="{left-4}" y="{sy(v)+4:.0f}" text-anchor="end">{v:.0f}</text>')
        t = duration * k / 4
        out.append(f'<text x="{sx(t):.0f}" y="{h-bottom+14}" text-anchor="middle">{t/60:.0f}</text>')
    for i, (name, pts) in enumerate(series.items()):
        c = colors[i % len(colors)]
        line = " ".join(f"{sx(t):.1f},{sy(v):.1f}" for t, v in pts)
        out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{line}"/>')
        out.append(f'<text x="{left+10}" y="{22+14*i}" fill="{c}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--every", type=float, default=10)
    ap.add_argument("--dir")
    ap.add_argument("--readme")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if not shutil.which("perf"):
        sys.exit("soak: perf is needed")
    if not a.no_build:
        subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
    work = subprocess.run([os.path.join(ROOT, "Examples/workloads/build.sh")], check=True,
                          capture_output=True, text=True).stdout.strip()
    d = a.dir or tempfile.mkdtemp(prefix="stallstat-soak.")
    os.makedirs(d, exist_ok=True)
    runs = {
        "stallstat stat -a -I 10": [STALLSTAT, "stat", "-a", "-I", "10", "-o", f"{d}/stallstat-stat.txt"],
        "perf stat -a -I 10": ["perf", "stat", "-a", "-I", "10", "-o", f"{d}/perf-stat.txt"],
        # Like for like: perf's default software events, the ones that count without a PMU.
        "stallstat stat -a -I 10 -e SW": [STALLSTAT, "stat", "-a", "-I", "10", "-e", SOFTWARE_SET, "-o", f"{d}/stallstat-stat-sw.txt"],
        "stallstat record -a": [STALLSTAT, "record", "-a", "-o", f"{d}/stallstat.data"],
        "perf record -a": ["perf", "record", "-q", "-a", "-o", f"{d}/perf.data"],
    }
    logs = {name: open(f"{d}/{i}.stderr", "w") for i, name in enumerate(runs)}
    procs = {name: subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=logs[name]) for name, cmd in runs.items()}
    # The light workload: 64 MiB of page faults and 200 ms of CPU every 5 s, in the background.
    load = subprocess.Popen(["sh", "-c", f"while :; do {work}/touch_pages 64 200 >/dev/null; sleep 5; done"])
    rows = []   # (t, name, rss, fds, cpu)
    start = time.monotonic()
    try:
        while True:
            t = time.monotonic() - start
            for name, p in procs.items():
                s = proc_sample(p.pid)
                if s is None or p.poll() is not None:
                    sys.exit(f"soak: {name} ended early (status {p.returncode}); see {d}")
                rows.append((t, name) + s)
            if t >= a.duration:
                break
            time.sleep(max(0.0, a.every - (time.monotonic() - start - t)))
    finally:
        load.kill()
        load.wait()
        stops = {}
        for name, p in procs.items():
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for name, p in procs.items():
            t0 = time.monotonic()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                stops[name] = "did not stop within 10 s (killed)"
                continue
            status = f"exit {p.returncode}" if p.returncode >= 0 else f"killed by signal {-p.returncode}"
            stops[name] = f"{status}, {time.monotonic() - t0:.2f} s after SIGINT"

    with open(f"{d}/soak.csv", "w") as f:
        f.write("seconds,tool,rss_kib,fds,cpu_seconds\n")
        for r in rows:
            f.write(f"{r[0]:.1f},{r[1]},{r[2]},{r[3]},{r[4]:.2f}\n")
    series = {name: [(r[0], r[2] / 1024) for r in rows if r[1] == name] for name in runs}
    svg(series, a.duration, f"{d}/soak-rss.svg")

    readable = {}
    for name, path in (("stallstat record -a", f"{d}/stallstat.data"), ("perf record -a", f"{d}/perf.data")):
        r = subprocess.run(["perf", "report", "--stats", "-i", path], capture_output=True, text=True)
        samples = next((l.split("events:")[1].split()[0] for l in r.stdout.splitlines() if l.strip().startswith("SAMPLE events:")), "?")
        readable[name] = f"perf report --stats: exit {r.returncode}, {samples} samples, {os.path.getsize(path)/2**20:.0f} MiB"
    for name in runs:
        if name not in readable:
            readable[name] = f"{os.path.getsize(runs[name][-1])/2**20:.0f} MiB of output"

    table = ["| run | RSS after 1 min | RSS at end | RSS max | RSS slope after 1 min | fds (min-max) | CPU, % of one CPU | stop | output |",
             "|---|---|---|---|---|---|---|---|---|"]
    summary = {}
    for name in runs:
        mine = [r for r in rows if r[1] == name]
        after = [r for r in mine if r[0] >= 60] or mine
        rss1, rss_end = after[0][2] / 1024, mine[-1][2] / 1024
        rss_max = max(r[2] for r in mine) / 1024
        slope = slope_per_hour([(r[0], r[2] / 1024) for r in after])
        fds = (min(r[3] for r in mine), max(r[3] for r in mine))
        cpu = 100 * mine[-1][4] / max(mine[-1][0], 1e-9)
        summary[name] = (rss_max, cpu)
        table.append(f"| `{name}` | {rss1:.1f} MiB | {rss_end:.1f} MiB | {rss_max:.1f} MiB | {slope:+.2f} MiB/h | {fds[0]}-{fds[1]} "
                     f"| {cpu:.2f}% | {stops[name]} | {readable[name]} |")
    for ours, theirs in (("stallstat stat -a -I 10", "perf stat -a -I 10"), ("stallstat stat -a -I 10 -e SW", "perf stat -a -I 10"),
                         ("stallstat record -a", "perf record -a")):
        table.append(f"| ratio `{ours}` / `{theirs}` | | | {summary[ours][0]/summary[theirs][0]:.2f} | | | "
                     f"{summary[ours][1]/max(summary[theirs][1], 1e-9):.2f} | | |")
    uname = os.uname()
    block = ("\n".join(table) + "\n\n" +
             f"Measured by `Examples/soak/soak.py --duration {a.duration:.0f} --every {a.every:g}` on {time.strftime('%Y-%m-%d')}, "
             f"{os.cpu_count()} CPUs, kernel {uname.release}; sampled every {a.every:g} s; the curve: "
             "[`Examples/soak/soak-rss.svg`](Examples/soak/soak-rss.svg).\n")
    print(block)
    print(f"soak: files in {d}", file=sys.stderr)
    if a.readme:
        shutil.copy(f"{d}/soak-rss.svg", os.path.join(HERE, "soak-rss.svg"))
        text = open(a.readme).read()
        b, e = "<!-- BENCH:soak -->", "<!-- /BENCH:soak -->"
        if b in text and e in text:
            text = text[:text.index(b) + len(b)] + "\n" + block + text[text.index(e):]
            open(a.readme, "w").write(text)
        else:
            print(f"soak: {a.readme} has no {b} block", file=sys.stderr)


if __name__ == "__main__":
    main()
