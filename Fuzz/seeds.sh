#!/usr/bin/env bash
# Writes seed corpora for every fuzz target into DIR/<target>/, made from real files:
# recordings by perf and by stallstat with common options, this machine's ELF objects,
# /proc and debugfs files, kallsyms, perf stat outputs (the test fixtures and ../shared
# samples), gate files written by `stallstat gate record`, the event tables.
# Usage: Fuzz/seeds.sh DIR [STALLSTAT]   (STALLSTAT: default .build/debug/stallstat)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:?usage: seeds.sh DIR [STALLSTAT]}"
ss="${2:-$root/.build/debug/stallstat}"
work="$("$root/Examples/workloads/build.sh")"
mkdir -p "$out"/{perfdata,elf,kallsyms,analyze,gate-baseline,gate-config,events,proc,tables,exposition}
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# perf.data: short recordings (libFuzzer works best on small inputs), each option a user types.
short="$work/hot_split 0.03"
n=0
rec() {   # rec TOOL ARGS...: one recording, kept when it exists and is below 256 KiB
  local tool="$1"; shift
  n=$((n + 1))
  local f="$tmp/r$n.data"
  if [ "$tool" = perf ]; then perf record -q "$@" -o "$f" -- $short >/dev/null 2>&1
  else "$ss" record "$@" -o "$f" -- $short >/dev/null 2>&1; fi
  if [ -d "$f" ]; then cp "$f/data" "$out/perfdata/$tool-$n-header.data"; cp "$f/data.0" "$out/perfdata/$tool-$n-thread0.data" 2>/dev/null
  elif [ -s "$f" ] && [ "$(stat -c %s "$f")" -lt 262144 ]; then cp "$f" "$out/perfdata/$tool-$n.data"; fi
}
if command -v perf >/dev/null; then
  rec perf -F 500
  rec perf -F 500 -g
  rec perf -F 500 --call-graph dwarf,1024
  rec perf -e page-faults -c 50 -d
  rec perf -e '{cpu-clock,page-faults}:S' -F 500
  rec perf -e sched:sched_switch -c 1
  rec perf --threads -F 500
  rec perf -F 500 -z
  perf record -q -F 500 -g -o - -- $short > "$out/perfdata/perf-pipe.data" 2>/dev/null
fi
rec stallstat -F 500
rec stallstat -F 500 -g
rec stallstat -e page-faults -d --data-page-size
rec stallstat -e sched:sched_switch

# ELF: small objects of every kind (executable with debug info, stripped, relocatable, shared).
cp "$work/hot_split" "$out/elf/hot_split"
strip -o "$out/elf/hot_split.stripped" "$work/hot_split" 2>/dev/null
printf 'int f(int x){return x*3;}\nint g(int x){return f(x)+1;}\n' > "$tmp/t.c"
cc -O1 -c -o "$out/elf/t.o" "$tmp/t.c" 2>/dev/null
cc -O1 -shared -fPIC -o "$out/elf/t.so" "$tmp/t.c" 2>/dev/null

# kallsyms: slices (text symbols at the start, modules at the end), small enough to mutate fast.
if [ -r /proc/kallsyms ]; then
  head -n 300 /proc/kallsyms > "$out/kallsyms/head"
  tail -n 300 /proc/kallsyms > "$out/kallsyms/tail"
  sed -n '50000,50300p' /proc/kallsyms > "$out/kallsyms/middle"
fi

# analyze: every perf stat / simpleperf output the tests know.
cp "$root"/Tests/StallCoreTests/Fixtures/perf-stat-* "$out/analyze/" 2>/dev/null
for f in "$root"/../shared/samples/*; do case "$f" in *.md) ;; *) cp "$f" "$out/analyze/" 2>/dev/null ;; esac; done

# gate: a real baseline and the example config.
(cd "$tmp" && "$ss" gate record --baseline "$out/gate-baseline/base.json" --runs 3 --warmup 0 -e task-clock,page-faults -- "$work/touch_pages" 1 >/dev/null 2>&1)
# The config's TOML is parsed by toml++ (TOMLKit); what is fuzzed here is the JSON form and
# the validation both share.
printf '{"runs": 10, "warmup": 2, "alpha": 0.01, "metrics": ["task-clock", "page-faults"], "thresholds": {"task-clock": 5}}\n' > "$out/gate-config/full.json"
printf '{"runs": 5, "thresholds": {"page-faults": 0.5}}\n' > "$out/gate-config/small.json"

# exposition: Accept headers Prometheus and other clients send.
printf 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1' > "$out/exposition/prometheus"
printf 'text/plain;version=0.0.4;q=0.9, application/openmetrics-text; version="1.0.0"' > "$out/exposition/quoted"
printf 'a"b\\c\nd' > "$out/exposition/escapes"

# events: what people type after -e and -M, and PMU format fields.
i=0
while IFS= read -r line; do i=$((i + 1)); printf '%s' "$line" > "$out/events/e$i"; done <<'EOF'
cycles,instructions,{branches,branch-misses}:u
raw-stall-backend-mem,raw-stall-frontend
r4005:k
cpu/event=0x3c,umask=0x0,cmask=1/
armv8_pmuv3_0/event=0x23/
sched:sched_switch,kmem:mm_page_alloc
dTLB-load-misses,L1-dcache-load-misses
0-3,8,10-11
config:0-7,32-35
(STALL_BACKEND / CPU_CYCLES) * 100 if CPU_CYCLES > 0 else 0
d_ratio(INST_RETIRED, CPU_CYCLES)
EOF

# /proc and debugfs files, behind their selector byte (see fuzzProc).
seed() { [ -r "$2" ] && { printf "\\x$(printf %02x "$1")"; cat "$2"; } > "$out/proc/$3" 2>/dev/null; }
seed 0 /proc/buddyinfo buddyinfo
seed 0 "$root/Tests/StallCoreTests/Fixtures/buddyinfo-fragmented.txt" buddyinfo-fragmented
seed 1 /proc/pagetypeinfo pagetypeinfo
seed 2 /proc/zoneinfo zoneinfo
seed 3 /proc/self/smaps_rollup smaps_rollup
seed 4 /sys/kernel/debug/extfrag/extfrag_index extfrag_index
seed 4 "$root/Tests/StallCoreTests/Fixtures/unusable_index-fragmented.txt" unusable_index
seed 5 /proc/pressure/memory pressure
seed 6 /proc/vmstat vmstat
seed 7 /proc/cpuinfo cpuinfo
"$ss" frag --json > "$tmp/snap.json" 2>/dev/null && seed 8 "$tmp/snap.json" snapshot
printf '\x09\x02\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0\x10\0\0\0\0\0\0\0\x05\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0' > "$out/proc/groupread"

# tables: the project's own event tables.
for f in "$root"/EventTables/arm/*/*.json "$root"/EventTables/x86/*/*.json; do
  cp "$f" "$out/tables/$(basename "$(dirname "$f")")-$(basename "$f")"
done
for t in "$out"/*; do echo "$(basename "$t"): $(ls "$t" | wc -l) seeds"; done
