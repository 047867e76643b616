#!/usr/bin/env bash
# Installs the Debian packages that building and testing multitask need.
# As root it runs apt-get for whatever is missing; otherwise it prints the
# exact command to run. Nothing is fetched from anywhere but Debian.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang libclang-rt-dev
  libcmocka-dev            # unit-test framework
  libglib2.0-dev libuv1-dev  # benchmark anchors (GThreadPool, GAsyncQueue, uv_queue_work)
  libcrypt-dev             # password hashes for mtftpd
  python3 python3-pytest   # server tests
  curl lftp wget           # real FTP clients for the server tests
  gcc-aarch64-linux-gnu qemu-user   # the aarch64 context switch, tested under emulation
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
