#!/usr/bin/env bash
# Builds the libFuzzer binary (StallCore's sources + Fuzz/FuzzTargets.swift, -sanitize=fuzzer
# with AddressSanitizer), makes seed corpora from real files (Fuzz/seeds.sh) and runs every
# target for SECONDS. Any crash (a Swift trap, an ASan report, a timeout, out of memory)
# fails the run, keeps the input under .build/fuzz/crashes/ and prints how to replay it.
#
# Usage: Fuzz/run.sh [--seconds 20 | --runs N] [--targets perfdata,elf,...] [--optimize] [--jobs N] [--readme README.md]
#   --runs N     stop each target after N executions instead of after a time
#   --optimize   build with -O (about 3 minutes here; -Onone takes 40 s): for long runs
#   --no-asan    without AddressSanitizer (3-5x the executions; Swift's own bounds and
#                overflow checks still trap, so every trap is still a crash)
#   --jobs N     run N targets at a time
# The mutation seed is STALLSTAT_FUZZ_SEED (default 1), so a run is repeatable.
# CI runs the short default; the figures in the README come from a long --optimize run.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds=20 runs=-1 targets="perfdata,elf,kallsyms,analyze,gate-baseline,gate-config,events,proc,tables,exposition" opt=-Onone optflag="" sanitize=fuzzer,address asanflag="" jobs=1 readme=""
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; seconds=0; shift 2 ;;
    --targets) targets="$2"; shift 2 ;;
    --optimize) opt=-O; optflag=" --optimize"; shift ;;
    --no-asan) sanitize=fuzzer; asanflag=" --no-asan"; shift ;;
    --jobs) jobs="$2"; shift 2 ;;
    --readme) readme="$2"; shift 2 ;;
    *) echo "usage: $0 [--seconds N] [--targets a,b] [--optimize] [--jobs N] [--readme FILE]" >&2; exit 2 ;;
  esac
done
out="$root/.build/fuzz"
bin="$out/stallstat-fuzz$opt${asanflag// /}"
mkdir -p "$out/crashes"
sources=("$root"/Sources/StallCore/*/*.swift "$root/Fuzz/FuzzTargets.swift")
if [ ! -x "$bin" ] || [ -n "$(find "${sources[@]}" -newer "$bin" | head -n 1)" ]; then
  echo "fuzz: building ($opt)" >&2
  swiftc "$opt" -sanitize="$sanitize" -parse-as-library -module-name StallCore "${sources[@]}" -o "$bin"
fi
[ -x "$root/.build/debug/stallstat" ] || (cd "$root" && swift build >/dev/null)
seeds="$out/seeds"
rm -rf "$seeds"
"$root/Fuzz/seeds.sh" "$seeds" >&2

# Inputs larger than this are cut by libFuzzer; the seeds are below it.
maxlen_of() { case "$1" in perfdata) echo 262144 ;; elf|tables) echo 65536 ;; *) echo 16384 ;; esac; }
run_one() {
  local t="$1" corpus="$out/corpus/$1"
  mkdir -p "$corpus"
  local log="$out/$t.log"
  set +e
  # SWIFT_BACKTRACE off: libFuzzer, not the Swift runtime, must catch a trap to keep the input.
  STALLSTAT_FUZZ_TARGET="$t" ASAN_OPTIONS=detect_leaks=0 SWIFT_BACKTRACE=enable=no "$bin" -seed="${STALLSTAT_FUZZ_SEED:-1}" -max_total_time="$seconds" -runs="$runs" -detect_leaks=0 -timeout=10 -rss_limit_mb=2048 \
    -max_len="$(maxlen_of "$t")" -print_final_stats=1 -artifact_prefix="$out/crashes/$t-" "$corpus" "$seeds/$t" > "$log" 2>&1
  local status=$?
  set -e
  local execs rate
  execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$log")
  if [ "$status" -ne 0 ]; then
    echo "| $t | ${execs:-?} | ${rate:-?}/s | **CRASH** (exit $status): $(grep -m1 -E 'ERROR|Fatal error|deadly signal|timeout' "$log" | cut -c1-120) |"
    grep -o "Test unit written to .*" "$log" | sed "s|Test unit written to |fuzz: replay with STALLSTAT_FUZZ_TARGET=$t $bin |" >&2
    # Enough to reproduce from a CI log alone: the error, the first frames, the input itself.
    { echo "fuzz: $t crashed:"; grep -E "Fatal error|ERROR: |SUMMARY" "$log" | head -n 5; grep -E "^ *#[0-9]+ " "$log" | head -n 16
      local unit; unit=$(grep -o "Test unit written to .*" "$log" | sed "s|Test unit written to ||" | head -n 1)
      [ -n "$unit" ] && [ -f "$unit" ] && echo "fuzz: the input, base64 ($(wc -c < "$unit") bytes): $(head -c 8192 "$unit" | base64 -w0)"; } >&2
    return 1
  fi
  echo "| $t | $execs | $rate/s | 0 crashes, $(ls "$corpus" | wc -l) inputs in the corpus |"
}

failed=0
rows=()
IFS=, read -r -a list <<< "$targets"
if [ "$jobs" -gt 1 ]; then
  export -f run_one maxlen_of; export out bin seconds runs seeds
  mapfile -t rows < <(printf '%s\n' "${list[@]}" | xargs -P "$jobs" -I{} bash -c 'run_one {}' || true)
  printf '%s\n' "${rows[@]}" | grep -q CRASH && failed=1
else
  for t in "${list[@]}"; do
    if row=$(run_one "$t"); then rows+=("$row"); else rows+=("$row"); failed=1; fi
  done
fi
table="| target | executions | speed | result |
|---|---|---|---|
$(printf '%s\n' "${rows[@]}" | sort)"
echo "$table"
if [ -n "$readme" ] && [ "$failed" -eq 0 ]; then
  block="$table

Measured by \`Fuzz/run.sh $([ "$runs" -gt 0 ] && echo "--runs $runs" || echo "--seconds $seconds")$optflag$asanflag --jobs $jobs\` on $(date +%F), $(nproc) CPUs, $opt, -sanitize=$sanitize, at commit $(git -C "$root" rev-parse --short HEAD)."
  python3 - "$readme" "$block" <<'EOF'
import sys
path, block = sys.argv[1], sys.argv[2]
text = open(path).read()
b, e = "<!-- BENCH:fuzz -->", "<!-- /BENCH:fuzz -->"
if b in text and e in text:
    text = text[:text.index(b) + len(b)] + "\n" + block + "\n" + text[text.index(e):]
    open(path, "w").write(text)
EOF
fi
exit "$failed"
