#!/usr/bin/env python3
"""Cost of one memory snapshot (`stallstat frag --time N`), next to the kernel's own
cost of producing the same /proc files (read with os.read in a tight loop), so the
figure shows how much is stallstat's parsing and how much the kernel's.

Usage: Examples/bench/frag_bench.py [--n 2000] [--readme README.md]"""
import argparse, os, re, subprocess, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FULL = ["/proc/buddyinfo", "/proc/pagetypeinfo", "/proc/zoneinfo", "/proc/vmstat",
        "/proc/pressure/memory", "/proc/pressure/cpu", "/proc/pressure/io"]
LIGHT = ["/proc/buddyinfo", "/proc/vmstat", "/proc/pressure/memory", "/proc/pressure/cpu", "/proc/pressure/io"]

def raw_read_us(files, n):
    t = time.perf_counter()
    for _ in range(n):
        for f in files:
            fd = os.open(f, os.O_RDONLY)
            while os.read(fd, 1 << 16):
                pass
            os.close(fd)
    return (time.perf_counter() - t) / n * 1e6

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--readme")
    a = ap.parse_args()
    subprocess.run(["swift", "build", "-c", "release", "--static-swift-stdlib"], cwd=ROOT, check=True, capture_output=True)
    out = subprocess.run([os.path.join(ROOT, ".build/release/stallstat"), "frag", "--time", str(a.n)], check=True, capture_output=True, text=True).stdout
    means = [float(m) for m in re.findall(r"mean ([0-9.]+) us", out)]
    full_raw, light_raw = raw_read_us(FULL, a.n), raw_read_us(LIGHT, a.n)
    block = ("| snapshot | stallstat (read + parse), mean | the files read raw (kernel's cost + Python loop), mean | ratio |\n|---|---|---|---|\n"
             f"| full (`frag`): buddyinfo, pagetypeinfo, zoneinfo, vmstat, pressure | {means[0]:.0f} µs | {full_raw:.0f} µs | {means[0]/full_raw:.2f} |\n"
             f"| per interval (`stat --frag`): buddyinfo, vmstat, pressure | {means[1]:.0f} µs | {light_raw:.0f} µs | {means[1]/light_raw:.2f} |\n\n"
             f"Measured by `Examples/bench/frag_bench.py` ({a.n} snapshots each) on {time.strftime('%Y-%m-%d')}.\n")
    print(block)
    if a.readme:
        text = open(a.readme).read()
        open(a.readme, "w").write(re.sub(r"(<!-- BENCH:frag -->\n).*?(<!-- /BENCH:frag -->)", lambda m: m.group(1) + block + m.group(2), text, flags=re.S))

if __name__ == "__main__":
    main()
