#!/usr/bin/env bash
# Builds the libFuzzer harnesses and runs each for SECONDS seconds (default
# 10) from its seed corpus. Usage:
#   fuzz/run.sh BUILD_DIR [SECONDS | TOTAL/all] [HARNESS...]
# The harnesses are built by CMake in their own tree, BUILD_DIR/fuzz-tree,
# configured with CC=clang and -DMT_FUZZ=ON: libmt, ftpproto and the server
# library are compiled there with coverage instrumentation and ASan+UBSan,
# from the same CMake lists as every other build (no source list here).
# Which harnesses exist is CMake's to say (fuzz/CMakeLists.txt writes
# harnesses.txt); naming some runs only those. Each keeps a growing corpus
# in BUILD_DIR/fuzz/corpus_NAME next to the seeds in fuzz/corpus/NAME. A
# crash, leak or failed check fails the run and leaves the reproducer in
# BUILD_DIR/fuzz/artifacts. Environment: FUZZ_CC (clang), FUZZ_JOBS (2).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
mkdir -p "$1"
build=$(cd "$1" && pwd)
secs=${2:-10}
shift $(( $# >= 2 ? 2 : $# ))
tree=$build/fuzz-tree
out=$build/fuzz
mkdir -p "$out/artifacts"

if [ ! -f "$tree/CMakeCache.txt" ]; then
  CC=${FUZZ_CC:-clang} cmake -S "$top" -B "$tree" -DMT_FUZZ=ON -DCMAKE_BUILD_TYPE= \
      -DCMAKE_C_FLAGS="-g -O1" -DMT_BUILD_TESTS=OFF -DMT_BUILD_BENCH=OFF -DMT_BUILD_EXAMPLES=OFF \
      >"$out/configure.log" 2>&1 || { cat "$out/configure.log" >&2; echo "fuzz: configure failed" >&2; exit 1; }
fi
cmake --build "$tree" -j "${FUZZ_JOBS:-2}" >"$out/build.log" 2>&1 || {
  tail -40 "$out/build.log" >&2; echo "fuzz: build failed (see $out/build.log)" >&2; exit 1; }

if [ $# -gt 0 ]; then names=("$@"); else mapfile -t names <"$tree/fuzz/harnesses.txt"; fi
# SECONDS may be a total for the whole run, "TOTAL/all": spread over the
# harnesses (at least 1 s each), so adding a harness does not lengthen it.
if [[ $secs == */all ]]; then
  secs=$(( ${secs%/all} / ${#names[@]} ))
  (( secs >= 1 )) || secs=1
fi
for h in "${names[@]}"; do
  exe=$tree/fuzz/$h
  [ -x "$exe" ] || { echo "fuzz: no harness $h (see $tree/fuzz/harnesses.txt)" >&2; exit 1; }
  seeds=$here/corpus/${h#fuzz_}
  mkdir -p "$out/corpus_$h"
  [ -d "$seeds" ] || seeds=
  echo "fuzz: $h for ${secs}s"
  "$exe" -max_total_time="$secs" -max_len=9000 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$out/artifacts/$h-" -print_final_stats=1 \
      "$out/corpus_$h" ${seeds:+"$seeds"} 2>"$out/$h.log" || {
    tail -40 "$out/$h.log" >&2
    echo "fuzz: $h FAILED (see $out/$h.log)" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|stat::new_units_added|Done" "$out/$h.log" | tr '\n' ' '; echo
done
