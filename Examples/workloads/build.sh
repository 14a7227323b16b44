#!/usr/bin/env bash
# Builds the C workloads used by the tests and benchmarks into DIR (default: .build/workloads).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.build/workloads}"
mkdir -p "$out"
for src in "$here"/*.c; do
  name="$(basename "$src" .c)"
  if [ ! -x "$out/$name" ] || [ "$src" -nt "$out/$name" ]; then
    cc -O2 -o "$out/$name" "$src"
  fi
done
echo "$out"
