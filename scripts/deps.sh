#!/usr/bin/env bash
# Installs the Debian packages that multitask needs. Usage:
#   scripts/deps.sh [build|test]
# `build` (the default) installs scripts/packages/build.list: what building and
# installing the library and the server need. `test` adds
# scripts/packages/test.list: what `make test` and `make bench` use.
# As root it runs apt-get for whatever is missing; otherwise it prints the
# exact command to run and fails. Nothing is fetched from anywhere but Debian.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
set_=${1:-build}
case "$set_" in
  build) lists=(build) ;;
  test)  lists=(build test) ;;
  *) echo "deps: unknown set '$set_' (use build or test)" >&2; exit 2 ;;
esac

pkgs=()
for l in "${lists[@]}"; do
  while read -r p _; do
    [ -n "$p" ] && pkgs+=("$p")
  done < <(sed 's/#.*//' "$here/packages/$l.list")
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
else
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
