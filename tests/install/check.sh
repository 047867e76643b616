#!/usr/bin/env bash
# Installs the build into a scratch prefix and builds a consumer twice — with
# find_package(mt) and with pkg-config — then runs both. Usage: check.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" > /dev/null
cat > "$tmp/main.c" <<'C'
#include <mt.h>
#include <stdio.h>
int main(void) {
  mt_lock_t l = MT_LOCK_INIT;
  MT_WITH(&l) puts(mt_strerror(MT_EFULL));
  return mt_lock_locked(&l);
}
C
cat > "$tmp/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(mt REQUIRED)
add_executable(consumer main.c)
target_link_libraries(consumer PRIVATE mt::mt)
C
cmake -S "$tmp" -B "$tmp/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" > /dev/null
cmake --build "$tmp/b" > /dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/b/consumer" | grep -q "queue is full"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
cc "$tmp/main.c" $(pkg-config --cflags --libs mt) -o "$tmp/pc"
LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/pc" | grep -q "queue is full"
echo "install: CMake package and pkg-config consumers both work"
