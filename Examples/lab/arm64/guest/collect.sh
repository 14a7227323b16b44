#!/bin/bash
# The lab's guest suite: runs stallstat and perf side by side on the same workloads in
# this guest and keeps every raw output under $LAB_OUT. It judges nothing: the host's
# analyze.py compares the outputs (so a captured run can be re-analyzed offline).
# Environment: LAB_OUT (results directory), LAB_BIN (stallstat binary), LAB_MODE
# (counts | xctest), LAB_QUICK (1: the short variant), LAB_XCTEST (test bundle).
set -u
out=$LAB_OUT
mkdir -p "$out"
log() { echo "[guest $(cut -d' ' -f1 /proc/uptime)s] $*" | tee -a "$out/collect.log"; }
# Every command bounded: a hung tool fails its check, not the lab.
t() { timeout --kill-after=5 "${LAB_STEP_TIMEOUT:-300}" "$@"; }

S=/tmp/stallstat
cp "$LAB_BIN" "$S"
echo 0 > /proc/sys/kernel/randomize_va_space      # identical user-mode counts run to run
echo -1 > /proc/sys/kernel/perf_event_paranoid
echo 0 > /proc/sys/kernel/kptr_restrict

# ------------------------------------------------------------ the environment
env_facts() {
  mkdir -p "$out/env"
  uname -r > "$out/env/kernel"
  getconf PAGESIZE > "$out/env/pagesize"
  cat /sys/devices/system/cpu/cpu0/regs/identification/midr_el1 > "$out/env/midr" 2>/dev/null
  nproc > "$out/env/nproc"
  perf --version > "$out/env/perf-version" 2>&1
  "$S" --version > "$out/env/stallstat-version" 2>&1
  dmesg | grep -iE 'pmu|perf' > "$out/env/dmesg-pmu" 2>/dev/null
  for p in /sys/bus/event_source/devices/*; do
    [ -e "$p/format/event" ] || continue
    n=$(basename "$p")
    { echo "pmu $n"; echo "type $(cat "$p/type")"; echo "format/event $(cat "$p/format/event")"
      [ -e "$p/caps/slots" ] && echo "caps/slots $(cat "$p/caps/slots")"
      for e in "$p"/events/*; do [ -e "$e" ] && echo "events/$(basename "$e") $(cat "$e")"; done
    } > "$out/env/pmu-$n"
  done
}

build_workload() {
  gcc -O2 -g -fno-omit-frame-pointer -o /tmp/lab_loop /cache/lab/guest/lab_loop.c 2> "$out/env/gcc.log"
  gcc -O2 -static -nostdlib -ffreestanding -fno-stack-protector -o /tmp/lab_exact /cache/lab/guest/lab_exact.c 2>> "$out/env/gcc.log"
}

# ------------------------------------------------------------ exact user-mode counts
exact_counts() {
  mkdir -p "$out/exact"
  local ev=instructions:u,cycles:u,r08:u,r11:u
  for i in 1 2 3; do
    t perf stat -x, -o "$out/exact/perf-$i.csv" -e $ev -- /tmp/lab_exact
    t "$S" stat -x, -o "$out/exact/stallstat-$i.csv" -e $ev -- /tmp/lab_exact
    # A glibc program: equal run to run per tool; between tools the environments differ.
    t perf stat -x, -o "$out/exact/perf-libc-$i.csv" -e instructions:u -- /tmp/lab_loop 2000000
    t "$S" stat -x, -o "$out/exact/stallstat-libc-$i.csv" -e instructions:u -- /tmp/lab_loop 2000000
  done
  # What each tool's workload sees (perf adds to the environment).
  t perf stat -o /dev/null -e task-clock -- /usr/bin/env > "$out/exact/env-under-perf" 2>&1
  t "$S" stat -o /dev/null -e task-clock -- /usr/bin/env > "$out/exact/env-under-stallstat" 2>&1
  t "$S" stat -o /dev/null --no-multiplex -e task-clock,page-faults -- /usr/bin/env > "$out/exact/env-under-stallstat-nomux" 2>&1
  # Kernel-inclusive (exec, page faults, exit): within 0.1 %, the medians of three
  # interleaved runs each (one run's kernel work moves with an interrupt or two).
  for i in 1 2 3; do
    t perf stat -x, -o "$out/exact/perf-all-$i.csv" -e instructions,cycles -- /tmp/lab_loop 2000000
    t "$S" stat -x, -o "$out/exact/stallstat-all-$i.csv" -e instructions,cycles -- /tmp/lab_loop 2000000
  done
}

# ------------------------------------------------------------ names and encodings
# stallstat name | perf name (the same event, as each tool spells it)
encoding_pairs() {
  cat <<'PAIRS'
cycles|cycles
instructions|instructions
r11|r11
r08|r8
cpu_cycles|cpu_cycles
inst_retired|inst_retired
CPU_CYCLES|CPU_CYCLES
INST_RETIRED|INST_RETIRED
STALL_FRONTEND|STALL_FRONTEND
STALL_BACKEND|STALL_BACKEND
raw-stall-frontend|STALL_FRONTEND
raw-stall-backend|STALL_BACKEND
stall_frontend|stall_frontend
armv8_pmuv3/event=0x24/|armv8_pmuv3/event=0x24/
L1D_TLB_REFILL|L1D_TLB_REFILL
raw-dtlb-walk|DTLB_WALK
r3c|r3c
PAIRS
}

encodings() {
  mkdir -p "$out/encoding"
  local i=0
  encoding_pairs > "$out/encoding/pairs"
  while IFS='|' read -r ss pf; do
    i=$((i + 1))
    t perf stat -vv -e "$pf" -- true > "$out/encoding/perf-vv-$i.txt" 2>&1
    t "$S" stat -v -e "$ss" -- true > "$out/encoding/stallstat-v-$i.txt" 2>&1
    t perf stat -x, -o "$out/encoding/perf-count-$i.csv" -e "$pf" -- /tmp/lab_loop 2000000 > /dev/null 2>&1
    t "$S" stat -x, -o "$out/encoding/stallstat-count-$i.csv" -e "$ss" -- /tmp/lab_loop 2000000 > "$out/encoding/stallstat-count-$i.err" 2>&1
  done < "$out/encoding/pairs"
}

# ------------------------------------------------------------ detection, list, default set, tree
detection() {
  mkdir -p "$out/cpu"
  t "$S" list table > "$out/cpu/list-table.txt" 2>&1
  t "$S" list > "$out/cpu/list.txt" 2>&1
  t "$S" stat -- /tmp/lab_loop 2000000 > "$out/cpu/default.txt" 2>&1
  t "$S" stat -x, -o "$out/cpu/default.csv" -- /tmp/lab_loop 2000000 > "$out/cpu/default-csv.err" 2>&1
  t "$S" stat -a --duration 1 > "$out/cpu/default-a.txt" 2>&1
  # The kernel's metrics (kernel-metrics.json) by perf's names, side by side with perf -M.
  t perf stat -M ipc,frontend_stalled_cycles --metric-only -j -o "$out/cpu/perf-metrics.json" -- /tmp/lab_exact > /dev/null 2>&1
  t "$S" stat -M ipc,frontend_stalled_cycles --metric-only -j -o "$out/cpu/stallstat-metrics.json" -- /tmp/lab_exact > "$out/cpu/stallstat-metrics.err" 2>&1
}

# ------------------------------------------------------------ multiplexing
multiplexing() {
  mkdir -p "$out/mux"
  local ev=cycles,instructions,r11,r08,r23,r24,cycles:u,instructions:u,r11:u,r08:u,r23:u,r24:u
  echo "$ev" > "$out/mux/events"
  # Three interleaved runs each: every run extrapolates from its own time slices.
  for i in 1 2 3; do
    t perf stat -x, -o "$out/mux/perf-$i.csv" -e $ev -- /tmp/lab_loop 2000000
    t "$S" stat -x, -o "$out/mux/stallstat-$i.csv" -e $ev -- /tmp/lab_loop 2000000
  done
  t perf stat -o "$out/mux/perf.txt" -e $ev -- /tmp/lab_loop 2000000
  t "$S" stat -o "$out/mux/stallstat.txt" -e $ev -- /tmp/lab_loop 2000000
  t "$S" stat --no-multiplex -x, -o "$out/mux/stallstat-nomux.csv" -e $ev -- /tmp/lab_exact
  t "$S" stat -x, -o "$out/mux/stallstat-single.csv" -e '{instructions:u,cycles:u,r08:u,r11:u}' -- /tmp/lab_exact
  # One group of seven events for the six event counters (the cycle counter takes only
  # CPU_CYCLES): never schedulable.
  local g='{r08,r08:u,r23,r23:u,r24,r24:u,r08}'
  t perf stat -x, -o "$out/mux/perf-group.csv" -e "$g" -- /tmp/lab_loop 200000
  t "$S" stat -x, -o "$out/mux/stallstat-group.csv" -e "$g" -- /tmp/lab_loop 200000 > "$out/mux/stallstat-group.err" 2>&1
  # Three that fit and one the kernel refuses in any group (CHAIN, 0x1e: EINVAL).
  local u='{r08,r23,r24,r1e}'
  t perf stat -x, -o "$out/mux/perf-group-refused.csv" -e "$u" -- /tmp/lab_loop 200000
  t "$S" stat -x, -o "$out/mux/stallstat-group-refused.csv" -e "$u" -- /tmp/lab_loop 200000 > "$out/mux/stallstat-group-refused.err" 2>&1
}

# ------------------------------------------------------------ record and report
report_both() {   # FILE: each tool's report of it
  local f=$1
  t perf report -i "$f" --stdio -q --sort comm,dso,symbol > "$f.perf-report" 2> "$f.perf-report.err"
  t "$S" report -i "$f" --sort comm,dso,symbol > "$f.stallstat-report" 2> "$f.stallstat-report.err"
}

recording() {
  mkdir -p "$out/record"
  cd "$out/record" || return
  t perf record -q -e cycles -c 100000 -o perf-c.data -- /tmp/lab_loop 5000000 > perf-c.log 2>&1
  t "$S" record -e cycles -c 100000 -o stallstat-c.data -- /tmp/lab_loop 5000000 > stallstat-c.log 2>&1
  t perf record -q -e cycles:u -F 1000 -o perf-F.data -- /tmp/lab_loop 5000000 > perf-F.log 2>&1
  t "$S" record -e cycles:u -F 1000 -o stallstat-F.data -- /tmp/lab_loop 5000000 > stallstat-F.log 2>&1
  t "$S" record -a -e cycles -c 100000 -o stallstat-a.data -- /tmp/lab_loop 2000000 > stallstat-a.log 2>&1
  t perf record -q -a -e cycles -c 100000 -o perf-a.data -- /tmp/lab_loop 2000000 > perf-a.log 2>&1
  for f in perf-c.data stallstat-c.data perf-F.data stallstat-F.data stallstat-a.data perf-a.data; do report_both "$f"; done
  # Frame-pointer call chains (-g): hot_main and hot_side are leaves, whose caller is only
  # in the link register; both tools' --children of both files, and perf's reading of
  # each file's attr (perf samples LR with -g on arm64).
  t perf record -q -g -e cycles:u -c 100000 -o perf-g.data -- /tmp/lab_loop 5000000 > perf-g.log 2>&1
  t "$S" record -g -e cycles:u -c 100000 -o stallstat-g.data -- /tmp/lab_loop 5000000 > stallstat-g.log 2>&1
  for f in perf-g.data stallstat-g.data; do
    t perf report -i "$f" --stdio -q --children --sort symbol -g none > "$f.perf-children" 2> "$f.perf-children.err"
    t "$S" report -i "$f" --children --sort symbol > "$f.stallstat-children" 2> "$f.stallstat-children.err"
    t perf evlist -v -i "$f" > "$f.evlist" 2>&1
  done
  # The kernel's own symbol table and each system-wide sample's raw address: the judge
  # resolves module samples itself (perf names them from the .ko or from kcore depending
  # on which kernel sample it resolves first).
  cp /proc/kallsyms kallsyms
  for f in stallstat-a.data perf-a.data; do t perf script -i "$f" -F comm,ip > "$f.ips" 2> "$f.ips.err"; done
  cd /tmp || return
}

# ------------------------------------------------------------ intervals, system-wide
intervals() {
  mkdir -p "$out/interval"
  t perf stat -a -I 100 -x, -o "$out/interval/perf.csv" -e cycles,instructions -- /tmp/lab_loop 5000000
  t "$S" stat -a -I 100 -x, -o "$out/interval/stallstat.csv" -e cycles,instructions -- /tmp/lab_loop 5000000
}

# ------------------------------------------------------------ memory snapshot
fragmentation() {
  mkdir -p "$out/frag"
  cat /proc/buddyinfo > "$out/frag/buddyinfo-before"
  cat /sys/kernel/debug/extfrag/unusable_index > "$out/frag/unusable_index" 2>/dev/null
  t "$S" frag --json > "$out/frag/frag.json" 2> "$out/frag/frag.err"
  t "$S" frag > "$out/frag/frag.txt" 2>> "$out/frag/frag.err"
  cat /proc/buddyinfo > "$out/frag/buddyinfo-after"
  cat /sys/kernel/mm/transparent_hugepage/hpage_pmd_size > "$out/frag/hpage_pmd_size" 2>/dev/null
}

# ------------------------------------------------------------ the XCTest suite
xctest() {
  cd /cache/src || return
  # The bundle's RUNPATH names the build's sysroot (/sysroot/usr/libexec/...): here the
  # same Swift 6.0.3 runtime is installed at /usr/libexec/swift. The seeded fuzz tests
  # run fewer iterations than on the host (a debug build under TCG is ~30x slower).
  export LD_LIBRARY_PATH=/usr/libexec/swift/lib/swift/linux STALLSTAT_BIN=$LAB_DEBUG_BIN STALLSTAT_FUZZ_ITERATIONS=200 STALLSTAT_TEST_TIME_SCALE=30
  "$LAB_XCTEST" --list-tests 2>/dev/null | sed -n 's/^\([A-Za-z0-9_]*\.[A-Za-z0-9_]*\)\/.*/\1/p' | sort -u > "$out/classes"
  # LAB_XCTEST_CLASSES (comma list of Module.Class, or Module.Class/test for one test):
  # only those.
  if [ -n "${LAB_XCTEST_CLASSES:-}" ]; then
    tr ',' '\n' <<< "$LAB_XCTEST_CLASSES" | while read -r want; do
      grep -Fxq "${want%%/*}" "$out/classes" && echo "$want"
    done > "$out/classes.only"
    mv "$out/classes.only" "$out/classes"
  fi
  # One test class per process, each bounded: a slow class is reported, the rest still run.
  : > "$out/log"
  while read -r cls; do
    LAB_STEP_TIMEOUT=${LAB_CLASS_TIMEOUT:-600} t "$LAB_XCTEST" "$cls" >> "$out/log" 2>&1
    echo "$cls $?" >> "$out/class-status"
  done < "$out/classes"
  cd /tmp || return
}

log "mode ${LAB_MODE:-counts}, quick ${LAB_QUICK:-0}, kernel $(uname -r), page size $(getconf PAGESIZE)"
env_facts
build_workload
if [ "${LAB_MODE:-counts}" = xctest ]; then
  xctest
else
  for step in exact_counts encodings detection multiplexing recording intervals fragmentation; do
    if [ "${LAB_QUICK:-0}" = 1 ] && [ "$step" = intervals ]; then continue; fi
    log "step $step"
    $step
  done
fi
log "done"
echo done > "$out/finished"
