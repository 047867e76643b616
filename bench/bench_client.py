#!/usr/bin/env python3
"""bench_client.py — mtftp against lftp, on the same mtftpd, in the same run.

  (a) many files: `mget -j 8` of 200 files of 1 MiB, against lftp's
      `mirror --parallel=8` of the same directory          goal >= 1.2x
  (b) small files: 2,000 files of 4 KiB, the same two commands  goal >= 2x
  (c) one big file: `get -s 4` against lftp `pget -n 4`      goal >= 1.0x
      and against mtftp's own single stream (`get`)
mtftp verifies each file against mtftpd's HASH SHA-256 by default and lftp
does not, so (a)-(c) are measured both verified and with --no-verify. The
server remembers digests (hash-cache), so only the first verified run has
the server read every file to hash it: that run is printed on its own too.
  (d) mtftp's peak resident memory during (c), in two more runs of it
      (verified and not) that are sampled and not timed      goal <= 16 MiB

Each figure is the median of RUNS runs, the two clients alternating; the
ratio is lftp's time over mtftp's (above 1: mtftp is faster). Every run
starts after a sync (untimed): the runs before it leave up to 1.4 GiB
dirty, whose writeback half a minute later would land on whichever client
runs then. Each run fetches into a directory of its own (under BENCH_OUT,
default the system's temporary directory). The small trees are removed
only after the last run: ext4 makes an inode allocation scan past the
inodes deleted in the last half minute (recently_deleted()), so removing a
few thousand files just before a run made (b) swing fourfold for either
client — start the bench half a minute after removing many files. A big
file is removed at once (one inode). The served files are read before each
run (see warm()). A tmpfs is no better a target: its page faults make (c)
slower for both.

Usage: bench/bench_client.py [BUILD_DIR] [BIG_MIB]   (defaults: build, 1024)
RUNS=N sets the runs (5); VERBOSE=1 prints on stderr every run's time and
the server's CPU time in it.
On a busy machine pass a smaller BIG_MIB; the output says what was used.
"""
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
BIG_MIB = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
MTFTPD = os.path.join(BUILD, "src/ftpd/mtftpd")
MTFTP = os.path.join(BUILD, "src/ftp/mtftp")
RUNS = int(os.environ.get("RUNS", "5"))
VERBOSE = os.environ.get("VERBOSE") == "1"   # each run's time on stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def vmhwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def server_cpu(pid):
    """The server's CPU time so far, in seconds (utime + stime)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def warm(paths):
    """Reads the files the next run serves, so that every run starts with
    them in the page cache: this machine's kernel pages out cold page cache
    on its own (DAMON's pageout, /sys/kernel/mm/damon), which would make a
    run read the disk or not by chance."""
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while f.read(8 << 20):
                pass


def run_timed(args, cwd, sample=False):
    """Runs args; returns (seconds, peak RSS in KiB or 0). The disk is
    synced first (untimed), so that no run pays for the writeback of the
    files an earlier one left dirty. With sample, the peak is the process's
    own VmHWM, read every 2 ms while it runs (ru_maxrss would report the
    forking Python's size, which exec carries over); that loop takes a
    fifth of a CPU, so timed runs do not sample and (d) has runs of its own."""
    os.sync()
    with tempfile.TemporaryFile() as ef:
        t = time.monotonic()
        p = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=ef)
        peak = 0
        if sample:
            while p.poll() is None:
                peak = max(peak, vmhwm(p.pid))
                time.sleep(0.002)
        else:
            p.wait()
        dt = time.monotonic() - t
        ef.seek(0)
        err = ef.read().decode(errors="replace")
    if p.returncode != 0:
        raise SystemExit(f"{args[0]} failed ({p.returncode}): {err[-2000:]}")
    return dt, peak


def main():
    if not shutil.which("lftp"):
        raise SystemExit("bench_client: needs lftp (scripts/packages/test.list)")
    tmp = tempfile.mkdtemp(prefix="bench_client.")
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "many"))
    os.makedirs(os.path.join(root, "small"))
    for i in range(200):
        with open(os.path.join(root, "many", f"f{i:03d}"), "wb") as f:
            f.write(os.urandom(1 << 20))
    blob = os.urandom(4096)
    for i in range(2000):
        with open(os.path.join(root, "small", f"s{i:04d}"), "wb") as f:
            f.write(blob)
    with open(os.path.join(root, "big.bin"), "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(BIG_MIB):
            f.write(chunk)
    users = os.path.join(tmp, "users")
    subprocess.run([MTFTPD, "passwd", "--users", users, "add", "bench", "--perms", "elr"], input="bench\n",
                   text=True, check=True, capture_output=True)
    port = free_port()
    me = pwd.getpwuid(os.getuid()).pw_name
    log = open(os.path.join(tmp, "server.log"), "wb")
    srv = subprocess.Popen([MTFTPD, "--listen", f"127.0.0.1:{port}", "--root", root, "--users", users,
                            "--run-as", me, "--log-level", "error", "--max-clients", "64"],
                           stdout=log, stderr=log)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    base = f"ftp://bench:bench@127.0.0.1:{port}"
    lftp_open = f"set net:max-retries 1; set xfer:clobber on; open -u bench,bench -p {port} 127.0.0.1"
    out_base = os.environ.get("BENCH_OUT") or tempfile.gettempdir()
    outs = tempfile.mkdtemp(prefix="bench_client.out.", dir=out_base)
    seq = [0]

    def fresh():
        seq[0] += 1
        d = os.path.join(outs, str(seq[0]))
        os.makedirs(d)
        return d

    # mtftp verifies against the server's HASH by default (lftp does not):
    # each case runs both ways, the anchor once.
    nv = ["--no-verify"]
    cases = {
        "many": ([MTFTP, "-q", "-c", "mget -j 8 *", f"{base}/many/"],
                 ["lftp", "-c", f"{lftp_open}; mirror --parallel=8 many many"]),
        "many_nv": ([MTFTP, "-q", *nv, "-c", "mget -j 8 *", f"{base}/many/"], None),
        "small": ([MTFTP, "-q", "-c", "mget -j 8 *", f"{base}/small/"],
                  ["lftp", "-c", f"{lftp_open}; mirror --parallel=8 small small"]),
        "small_nv": ([MTFTP, "-q", *nv, "-c", "mget -j 8 *", f"{base}/small/"], None),
        "big": ([MTFTP, "-q", "get", "-s", "4", f"{base}/big.bin"],
                ["lftp", "-c", f"{lftp_open}; pget -n 4 big.bin -o big.bin"]),
        "big_nv": ([MTFTP, "-q", *nv, "get", "-s", "4", f"{base}/big.bin"], None),
        "single": ([MTFTP, "-q", *nv, "get", f"{base}/big.bin"], None),
    }
    times = {k: ([], []) for k in cases}
    served = {"many": [os.path.join(root, "many", n) for n in sorted(os.listdir(os.path.join(root, "many")))],
              "small": [os.path.join(root, "small", n) for n in sorted(os.listdir(os.path.join(root, "small")))],
              "big": [os.path.join(root, "big.bin")], "single": [os.path.join(root, "big.bin")]}
    rss = []

    def one(name, client, args):
        """One timed run of a case by a client, in a fresh directory; its seconds."""
        out = fresh()
        warm(served[name.split("_")[0]])
        cpu = server_cpu(srv.pid)
        dt = run_timed(args, out)[0]
        if VERBOSE:
            print(f"  run: {name} {client} {dt:.3f} s, server CPU {server_cpu(srv.pid) - cpu:.2f} s",
                  file=sys.stderr)
        if name.startswith("big") or name == "single":
            shutil.rmtree(out)
        return dt

    try:
        for _ in range(RUNS):
            for name, (mine, theirs) in cases.items():
                times[name][0].append(one(name, "mtftp", mine))
                if theirs:
                    times[name][1].append(one(name, "lftp", theirs))
        for name in ("big", "big_nv"):      # (d): sampled, untimed runs of (c)
            out = fresh()
            warm(served["big"])
            rss.append(run_timed(cases[name][0], out, sample=True)[1])
            shutil.rmtree(out)
    finally:
        srv.terminate()
        srv.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(outs, ignore_errors=True)

    med = {k: (statistics.median(a), statistics.median(b) if b else None) for k, (a, b) in times.items()}
    load = os.getloadavg()[0]
    print(f"bench_client: {RUNS} runs each, medians; big file {BIG_MIB} MiB; load average {load:.1f} "
          f"on {os.cpu_count()} CPUs; fetched into {out_base}")

    def line(label, mine, theirs, anchor, goal):
        ratio = theirs / mine
        print(f"  {label:<44} mtftp {mine:7.3f} s   {anchor} {theirs:7.3f} s   ratio {ratio:5.2f}x  "
              f"(goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'})")

    for key, label, goal in (("many", "(a) 200 x 1 MiB, mget -j 8 vs mirror -P 8", 1.2),
                             ("small", "(b) 2000 x 4 KiB, mget -j 8 vs mirror -P 8", 2.0),
                             ("big", f"(c) {BIG_MIB} MiB, get -s 4 vs pget -n 4", 1.0)):
        lftp = med[key][1]
        line(label + ", verified", med[key][0], lftp, "lftp", goal)
        first = times[key][0][0]
        print(f"  {'':<44}   first run, the server hashing every file: mtftp {first:7.3f} s   "
              f"ratio {lftp / first:5.2f}x")
        line(label + ", --no-verify", med[key + "_nv"][0], lftp, "lftp", goal)
    single = med["single"][0]
    seg = med["big_nv"][0]
    print(f"  (c') --no-verify: get -s 4 {BIG_MIB / seg:7.1f} MiB/s; one stream {BIG_MIB / single:7.1f} MiB/s; "
          f"ratio {single / seg:5.2f}x")
    peak = max(rss) / 1024
    print(f"  (d) mtftp peak RSS during get -s 4 (both ways): {peak:.1f} MiB (goal <= 16 MiB: "
          f"{'met' if peak <= 16 else 'NOT met'})")


if __name__ == "__main__":
    main()
