#!/usr/bin/env python3
"""py_bench.py — the same workloads as bench_queue and bench_pool on Python's
queue.Queue and concurrent.futures.ThreadPoolExecutor, and the ratio
libmt/Python measured in the same run (goal >= 50x).

Usage: python3 bench/py_bench.py [BUILD_DIR]   (default: build)
"""
import os, re, subprocess, sys, threading, time, queue, statistics
from concurrent.futures import ThreadPoolExecutor

N = 200_000
RUNS = 3
CPUS = os.cpu_count() or 1


def q_run(pairs):
    q = queue.Queue(1024)
    def prod():
        for i in range(N):
            q.put(i)
    def cons():
        for _ in range(N):
            q.get()
    ts = [threading.Thread(target=f) for _ in range(pairs) for f in (cons, prod)]
    t0 = time.perf_counter()
    for t in ts: t.start()
    for t in ts: t.join()
    return N * pairs / (time.perf_counter() - t0)


def noop(x):
    return x


def pool_fire():
    t0 = time.perf_counter()
    with ThreadPoolExecutor(CPUS) as ex:
        for i in range(N):
            ex.submit(noop, i)
    return N / (time.perf_counter() - t0)


def pool_roundtrip():
    with ThreadPoolExecutor(CPUS) as ex:
        t0 = time.perf_counter()
        fs = [ex.submit(noop, i) for i in range(N)]
        for f in fs:
            f.result()
        return N / (time.perf_counter() - t0)


def c_figures(build, prog):
    out = subprocess.run([os.path.join(build, "bench", prog), "0.5"], check=True,
                         capture_output=True, text=True).stdout
    return [float(m) for m in re.findall(r"libmt\s+([0-9.]+)/s", out)]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    py = {
        "FIFO put+get, 1P/1C": statistics.median(q_run(1) for _ in range(RUNS)),
        "FIFO put+get, 2P/2C": statistics.median(q_run(2) for _ in range(RUNS)),
        "pool fire-and-forget": statistics.median(pool_fire() for _ in range(RUNS)),
        "pool submit+result": statistics.median(pool_roundtrip() for _ in range(RUNS)),
    }
    cq = c_figures(build, "bench_queue")
    cp = c_figures(build, "bench_pool")
    c = dict(zip(py.keys(), cq + cp))
    print(f"libmt against Python {sys.version.split()[0]} ({N} items per run, median of {RUNS})")
    for k, v in py.items():
        r = c[k] / v
        print(f"{k:24s} libmt {c[k]:12.0f}/s  python {v:10.0f}/s  ratio {r:7.1f}  "
              f"(goal >= 50: {'met' if r >= 50 else 'NOT met'})")


if __name__ == "__main__":
    main()
