#!/usr/bin/env bash
# Fetches the kernel's pmu-events tree (tools/perf/pmu-events/arch) from Debian's
# linux-source-6.12 package into DIR (default /var/cache/stallstat-pmu-events), once:
# the input of EventTables/import.py and the oracle of the table tests.
# Prints the arch directory's path. Needs apt (the package comes from the Debian registry).
set -euo pipefail
dir=${1:-/var/cache/stallstat-pmu-events}
package=${PMU_EVENTS_PACKAGE:-linux-source-6.12}
if [ -f "$dir/arch/arm64/mapfile.csv" ] && [ -f "$dir/arch/x86/mapfile.csv" ]; then echo "$dir/arch"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download "$package" >/dev/null 2>&1) || { apt-get update -qq && (cd "$work" && apt-get download "$package" >/dev/null); }
dpkg -x "$work"/"$package"_*.deb "$work/x"
tarball=$(ls "$work"/x/usr/src/linux-source-*.tar.* | head -n 1)
top=$(basename "${tarball%%.tar.*}")
tar -xaf "$tarball" -C "$work" --wildcards "$top/tools/perf/pmu-events/arch/*" "$top/Makefile"
mkdir -p "$dir"
rm -rf "$dir/arch.new" && mv "$work/$top/tools/perf/pmu-events/arch" "$dir/arch.new"
cp "$work/$top/Makefile" "$dir/Makefile"
dpkg-deb -f "$work"/"$package"_*.deb Version > "$dir/version"
rm -rf "$dir/arch" && mv "$dir/arch.new" "$dir/arch"
echo "$dir/arch"
