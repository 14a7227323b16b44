#!/usr/bin/env bash
# Builds the C workloads used by the tests and benchmarks into DIR (default: .build/workloads).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.build/workloads}"
mkdir -p "$out"
for src in "$here"/*.c; do
  name="$(basename "$src" .c)"
  if [ ! -x "$out/$name" ] || [ "$src" -nt "$out/$name" ]; then
    # frame pointers and no inlining: call chains and symbols must be exact for the profile tests
    cc -O2 -fno-omit-frame-pointer -fno-inline -g -pthread -o "$out/$name" "$src"
  fi
done
# C++ workloads (demangling): -O0 keeps every named function a real frame.
for src in "$here"/*.cpp; do
  name="$(basename "$src" .cpp)"
  if [ ! -x "$out/$name" ] || [ "$src" -nt "$out/$name" ]; then
    g++ -O0 -fno-omit-frame-pointer -g -o "$out/$name" "$src"
  fi
done
echo "$out"
