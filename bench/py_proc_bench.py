#!/usr/bin/env python3
"""py_proc_bench.py — the bench_proc workloads on Python's multiprocessing
(fork start method, as libmt), and the ratio libmt/Python from the same run:
  process start + join           goal >= 20x Process
  pool map, 1 item per task      goal >= 20x Pool.map(chunksize=1)
  64-byte messages, 1P/1C        goal >= 50x multiprocessing.Queue
and, last, the ceiling of the first: bench/fork_floor (a bare fork loop, no libmt).

Usage: python3 bench/py_proc_bench.py [BUILD_DIR]   (default: build)
"""
import multiprocessing as mp
import os, re, statistics, subprocess, sys, time

RUNS = 3


def noop():
    pass


def starts(n):
    t0 = time.perf_counter()
    for _ in range(n):
        p = mp.Process(target=noop)
        p.start()
        p.join()
    return n / (time.perf_counter() - t0)


def tiny(v):
    return v + 1


def pool_map(n):
    with mp.Pool(os.cpu_count() or 1) as pool:
        t0 = time.perf_counter()
        pool.map(tiny, range(n), chunksize=1)
        return n / (time.perf_counter() - t0)


def producer(q, n):
    msg = b"x" * 64
    for _ in range(n):
        q.put(msg)


def queue_run(n):
    q = mp.Queue(1024)
    p = mp.Process(target=producer, args=(q, n))
    t0 = time.perf_counter()
    p.start()
    for _ in range(n):
        q.get()
    rate = n / (time.perf_counter() - t0)
    p.join()
    return rate


def c_figures(build):
    out = subprocess.run([os.path.join(build, "bench", "bench_proc"), "0.5"], check=True,
                         capture_output=True, text=True).stdout
    return [float(m) for m in re.findall(r"libmt\s+([0-9.]+)/s", out)]


def main():
    mp.set_start_method("fork")
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    py = [
        ("process start+join", statistics.median(starts(300) for _ in range(RUNS)), 20),
        ("pool map, 1 item per task", statistics.median(pool_map(20000) for _ in range(RUNS)), 20),
        ("queue, 64 B messages, 1P/1C", statistics.median(queue_run(50000) for _ in range(RUNS)), 50),
    ]
    c = c_figures(build)
    print(f"libmt against Python {sys.version.split()[0]} multiprocessing (median of {RUNS})")
    for (name, v, goal), cv in zip(py, c):
        r = cv / v
        print(f"{name:30s} libmt {cv:11.0f}/s  python {v:9.0f}/s  ratio {r:6.1f}  "
              f"(goal >= {goal}: {'met' if r >= goal else 'NOT met'})")
    # The ceiling for the first line: a bare fork loop in a minimal C program.
    out = subprocess.run([os.path.join(build, "bench", "fork_floor")], check=True,
                         capture_output=True, text=True).stdout
    floor = float(re.search(r"waitpid\s+([0-9.]+)/s", out).group(1))
    print(f"{'  ceiling: bare fork (no libmt)':30s}       {floor:11.0f}/s  python {py[0][1]:9.0f}/s  "
          f"ratio {floor / py[0][1]:6.1f}  (what any fork-based start can reach here)")


if __name__ == "__main__":
    main()
