#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan+UBSan) and runs each for
# SECONDS seconds (default 10) from its seed corpus. Usage:
#   fuzz/run.sh BUILD_DIR [SECONDS]
# BUILD_DIR is a configured build whose libmt.a and libftpd_core sources are
# used; the harnesses go to BUILD_DIR/fuzz. A crash fails the run and leaves
# the reproducer in BUILD_DIR/fuzz/artifacts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
build=$(cd "$1" && pwd)
secs=${2:-10}
out=$build/fuzz
mkdir -p "$out/artifacts"
CC=${FUZZ_CC:-clang}
flags=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_GNU_SOURCE
       -I"$top/include" -I"$top/src/ftpd" -I"$top/src/ftpproto" -Wall)
ftpd=("$top"/src/ftpd/{protocol,buf,log,fs,config,auth}.c "$top"/src/ftpproto/ftpproto.c)
libmt=$build/libmt.a
[ -f "$libmt" ] || { echo "fuzz: $libmt not built" >&2; exit 1; }
for h in command path config; do
  "$CC" "${flags[@]}" -o "$out/fuzz_$h" "$here/fuzz_$h.c" "${ftpd[@]}" "$libmt" -lcrypt -lpthread
done
# The client's own parsers (src/ftpproto, pure: no libmt).
for h in listparse; do
  "$CC" "${flags[@]}" -o "$out/fuzz_$h" "$here/fuzz_$h.c" "$top/src/ftpproto/$h.c"
done
for h in command path config listparse; do
  mkdir -p "$out/corpus_$h"
  echo "fuzz: fuzz_$h for ${secs}s"
  "$out/fuzz_$h" -max_total_time="$secs" -max_len=9000 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$out/artifacts/$h-" -print_final_stats=1 \
      "$out/corpus_$h" "$here/corpus/$h" 2>"$out/fuzz_$h.log" || {
    tail -40 "$out/fuzz_$h.log" >&2
    echo "fuzz: fuzz_$h FAILED (see $out/fuzz_$h.log)" >&2
    exit 1
  }
  grep -E "stat::number_of_executed_units|Done" "$out/fuzz_$h.log" | tr '\n' ' '; echo
done
