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

# The optional remote layer: when it was built, its header is installed,
# MT_HAVE_REMOTE reaches consumers, and the static library brings hiredis.
if [ -f "$tmp/prefix/include/mt/remote.h" ]; then
  mkdir "$tmp/r"
  cat > "$tmp/r/remote.c" <<'C'
#include <mt.h>
#include <mt/remote.h>
#include <stdio.h>
int main(void) {
#ifndef MT_HAVE_REMOTE
  return 2;
#endif
  mt_rqueue_t *q = mt_rqueue_open("redis://127.0.0.1:1", "q", 0);   /* nobody listens on port 1 */
  if (q || mt_last_error() != MT_ECONNREFUSED) return 1;
  puts(mt_strerror(MT_ELOST));
  return 0;
}
C
  cat > "$tmp/r/CMakeLists.txt" <<'C'
cmake_minimum_required(VERSION 3.18)
project(remote_consumer C)
find_package(mt REQUIRED)
add_executable(remote_shared remote.c)
target_link_libraries(remote_shared PRIVATE mt::mt)
add_executable(remote_static remote.c)
target_link_libraries(remote_static PRIVATE mt::mt_static)
C
  cmake -S "$tmp/r" -B "$tmp/rb" -DCMAKE_PREFIX_PATH="$tmp/prefix" > /dev/null
  cmake --build "$tmp/rb" > /dev/null
  LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/rb/remote_shared" | grep -q "remote task"
  "$tmp/rb/remote_static" | grep -q "remote task"
  cc "$tmp/r/remote.c" $(pkg-config --cflags --libs mt) -o "$tmp/rpc"
  LD_LIBRARY_PATH="$tmp/prefix/lib" "$tmp/rpc" | grep -q "remote task"
  cc "$tmp/r/remote.c" $(pkg-config --cflags mt) "$tmp/prefix/lib/libmt.a" $(pkg-config --static --libs-only-l mt | sed 's/-lmt//') -o "$tmp/rpcs"
  "$tmp/rpcs" | grep -q "remote task"
  echo "install: the remote layer's consumers (shared, static, CMake, pkg-config) work"
fi
echo "install: CMake package and pkg-config consumers both work"
