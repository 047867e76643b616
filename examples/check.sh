#!/bin/sh
# check.sh EXE SOURCE — runs one concept example the way its test does: it
# must exit 0, print nothing from the sanitizers, and print (stdout and
# stderr together) a line matching each "// expect: REGEX" line of SOURCE,
# in that order. The regexes are POSIX EREs; timing-dependent figures are
# matched on their shape ([0-9.]+), never on their value.
exe=$1 src=$2
out=$(mktemp) || exit 1
trap 'rm -f "$out" "$out.re"' EXIT
"$exe" >"$out" 2>&1
rc=$?
cat "$out"
if [ "$rc" -ne 0 ]; then
  echo "check.sh: $exe exited with status $rc" >&2
  exit 1
fi
if grep -E -q 'ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:' "$out"; then
  echo "check.sh: sanitizer report in the output" >&2
  exit 1
fi
sed -n 's|^// expect: ||p' "$src" >"$out.re"
if [ ! -s "$out.re" ]; then
  echo "check.sh: $src has no '// expect:' lines" >&2
  exit 1
fi
awk 'NR == FNR { re[n++] = $0; next }
     i < n && $0 ~ re[i] { i++ }
     END { if (i < n) { printf "check.sh: no line (after the earlier matches) matches: %s\n", re[i] > "/dev/stderr"; exit 1 } }' \
  "$out.re" "$out"
