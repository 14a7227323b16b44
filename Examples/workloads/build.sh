#!/usr/bin/env bash
# Builds the C workloads used by the tests and benchmarks into DIR (default: .build/workloads).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$here/../../.build/workloads}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"   # absolute: deep_stacks finds libdeep.so through its rpath
# A shared library without frame pointers (deep_stacks links it): its frames come from its unwind tables.
if [ ! -f "$out/libdeep.so" ] || [ "$here/lib/deep_lib.c" -nt "$out/libdeep.so" ]; then
  cc -O2 -fomit-frame-pointer -fno-inline -g -shared -fPIC -o "$out/libdeep.so" "$here/lib/deep_lib.c"
fi
for src in "$here"/*.c; do
  name="$(basename "$src" .c)"
  if [ "$name" = deep_stacks ]; then
    # No frame pointers: only DWARF unwinding (--call-graph dwarf) finds its callers.
    if [ ! -x "$out/$name" ] || [ "$src" -nt "$out/$name" ] || [ "$out/libdeep.so" -nt "$out/$name" ]; then
      cc -O2 -fomit-frame-pointer -fno-inline -fno-optimize-sibling-calls -g -o "$out/$name" "$src" -L"$out" -ldeep -Wl,-rpath,"$out"
    fi
    continue
  fi
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
