#!/usr/bin/env python3
"""The exporter's cost, side by side with its closest peers, in one run:

  stallstat serve            --interval 1 (default events, memory snapshot, pagetypeinfo every 60 s)
  node_exporter              Debian's prometheus-node-exporter with only the collectors that do the
                             same job: perf (perf_event_open counters per CPU), buddyinfo,
                             pressure, vmstat
  perf stat -a -I 1000       the same five software events, printing to /dev/null (no HTTP)

For --duration seconds each exporter is scraped every --scrape-every seconds (as
Prometheus would, OpenMetrics Accept header first); CPU time (utime+stime of the process)
and resident memory (VmRSS) are sampled every minute. Then --latency-scrapes scrapes of each
exporter back to back on one keep-alive connection give the scrape latency.
Figures: CPU as % of one CPU over the whole run, RSS after the first minute and at the end
(and its largest value), scrape latency p50/p99/max in ms.

Usage: Examples/bench/serve_bench.py [--duration 3600] [--scrape-every 15] [--latency-scrapes 2000]
       [--readme README.md]   (root: node_exporter's perf collector and pagetypeinfo need it)"""
import argparse, http.client, os, re, signal, socket, statistics, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STALLSTAT = os.environ.get("STALLSTAT_BIN", os.path.join(ROOT, ".build/release/stallstat"))
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
ACCEPT = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
TICK = os.sysconf("SC_CLK_TCK")

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p

def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK   # utime, stime (fields 14, 15)

def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0

def scrape(port, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("GET", "/metrics", headers={"Accept": ACCEPT})
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        raise SystemExit(f"scrape of :{port} answered {r.status}: {body[:200]}")
    if conn is None:
        c.close()
    return len(body)

def wait_ready(port, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            scrape(port)
            return
        except (OSError, SystemExit):
            time.sleep(0.2)
    raise SystemExit(f"nothing answered on :{port}")

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=3600)
    ap.add_argument("--scrape-every", type=float, default=15)
    ap.add_argument("--latency-scrapes", type=int, default=2000)
    ap.add_argument("--readme")
    a = ap.parse_args()
    started = time.time()
    events = "task-clock,context-switches,cpu-migrations,page-faults,major-faults"
    procs = {}
    sp = free_port()
    procs["stallstat serve"] = (subprocess.Popen([STALLSTAT, "serve", "-q", "--listen", f"127.0.0.1:{sp}", "--interval", "1"]), sp)
    if os.path.exists(NODE_EXPORTER):
        np_ = free_port()
        procs["node_exporter (perf, buddyinfo, pressure, vmstat)"] = (subprocess.Popen(
            [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{np_}", "--collector.disable-defaults", "--collector.perf",
             "--collector.buddyinfo", "--collector.pressure", "--collector.vmstat", "--log.level=error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), np_)
    procs["perf stat -a -I 1000 (no HTTP)"] = (subprocess.Popen(
        ["perf", "stat", "-a", "-I", "1000", "-x,", "-e", events, "-o", "/dev/null"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), None)
    try:
        for name, (p, port) in procs.items():
            if port:
                wait_ready(port)
        time.sleep(60)   # the first minute: start-up allocations settle
        base = {n: (cpu_seconds(p.pid), time.time(), rss_kib(p.pid)) for n, (p, _) in procs.items()}
        peak = {n: base[n][2] for n in procs}
        sizes = {}
        end = time.time() + a.duration
        next_scrape = time.time()
        next_sample = time.time() + 60
        while time.time() < end:
            now = time.time()
            if now >= next_scrape:
                for n, (p, port) in procs.items():
                    if port:
                        sizes[n] = scrape(port)
                next_scrape += a.scrape_every
            if now >= next_sample:
                for n, (p, _) in procs.items():
                    peak[n] = max(peak[n], rss_kib(p.pid))
                next_sample += 60
            time.sleep(max(0.05, min(next_scrape, next_sample, end) - time.time()))
        rows = []
        for n, (p, port) in procs.items():
            c0, t0, r0 = base[n]
            cpu = 100 * (cpu_seconds(p.pid) - c0) / (time.time() - t0)
            r1 = rss_kib(p.pid)
            peak[n] = max(peak[n], r1)
            lat = []
            if port:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                for _ in range(a.latency_scrapes):
                    t = time.perf_counter()
                    scrape(port, conn)
                    lat.append(1000 * (time.perf_counter() - t))
                conn.close()
                lat.sort()
            rows.append((n, cpu, r0, r1, peak[n], sizes.get(n), lat))
    finally:
        for p, _ in procs.values():
            p.send_signal(signal.SIGTERM)
        for p, _ in procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    lines = ["| exporter | CPU (% of one CPU) | RSS after 1 min | RSS at end (max) | scrape size | scrape p50 / p99 / max |",
             "|---|---|---|---|---|---|"]
    for n, cpu, r0, r1, pk, size, lat in rows:
        l = ("%.2f / %.2f / %.2f ms" % (lat[len(lat) // 2], lat[int(len(lat) * 0.99)], lat[-1])) if lat else "(no HTTP)"
        lines.append(f"| {n} | {cpu:.3f}% | {r0 / 1024:.1f} MiB | {r1 / 1024:.1f} MiB ({pk / 1024:.1f}) | "
                     + (f"{size / 1024:.0f} KiB" if size else "-") + f" | {l} |")
    kernel = os.uname().release
    block = "\n".join(lines) + "\n\n" + (
        f"Measured by `Examples/bench/serve_bench.py --duration {a.duration:g} --scrape-every {a.scrape_every:g} "
        f"--latency-scrapes {a.latency_scrapes}` on {time.strftime('%Y-%m-%d')} ({os.cpu_count()} CPUs, kernel {kernel}, release build): "
        f"{a.duration / 60:.0f} min after a 1-min settling, one scrape per {a.scrape_every:g} s each, then {a.latency_scrapes} "
        f"back-to-back scrapes on a keep-alive connection; {time.time() - started:.0f} s.\n")
    print(block)
    if a.readme:
        text = open(a.readme).read()
        open(a.readme, "w").write(re.sub(r"(<!-- BENCH:serve -->\n).*?(<!-- /BENCH:serve -->)", lambda m: m.group(1) + block + m.group(2), text, flags=re.S))

if __name__ == "__main__":
    main()
