#!/usr/bin/env bash
# Builds libmt and tests/cross/co_smoke.c for aarch64 (static, with the
# hand-written switch_aarch64.S) and runs it under qemu-user.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
srcs=$(ls "$top"/src/{core,thread,sync,queue,pool,co,io,net}/*.c)
aarch64-linux-gnu-gcc -O2 -std=gnu11 -static -D_GNU_SOURCE -DMT_CTX_ASM=1 -Wall -Wno-unused-parameter \
  -I"$top/include" -I"$top/src" $srcs "$top/src/co/switch_aarch64.S" "$top/tests/cross/co_smoke.c" \
  -lpthread -o "$out/co_smoke" 2> >(grep -v "statically linked applications" >&2)
qemu-aarch64 "$out/co_smoke"
