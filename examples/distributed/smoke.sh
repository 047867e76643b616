#!/usr/bin/env bash
# smoke.sh REDIS_SERVER WORKER SUBMITTER — runs the distributed example end to
# end on a redis-server of its own (free loopback port, throwaway directory):
# two workers, one submitter; checks the total (148933 primes below 2,000,000)
# and that the workers stop cleanly on SIGTERM.
set -euo pipefail
redis=$1 worker=$2 submitter=$3
dir=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkfifo "$dir/log"
"$redis" --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no > "$dir/log" &
pids+=($!)
grep -q -m1 "Ready to accept connections" < "$dir/log"   # waits for the server, by its log
url="redis://127.0.0.1:$port/0"
"$worker" "$url" 2 & w1=$!
"$worker" "$url" 1 & w2=$!
out=$("$submitter" "$url" 2000000 40)
echo "$out" | tail -3
echo "$out" | grep -qx "primes below 2000000: 148933"
# SIGTERM: each worker finishes what it holds and exits 0.
kill -TERM "$w1" "$w2"
wait "$w1"
wait "$w2"
