#!/usr/bin/env python3
"""bench_ftpd.py — mtftpd throughput on loopback, with its anchor measured in
the same run.

  RETR: a 512 MiB file downloaded over the data connection by one receiver
        loop (recv_into a 1 MiB buffer); anchor: the same receiver fed by a
        bare socket.sendfile() server (the loopback ceiling).
  STOR: curl uploads the same file (temp file + rename in the server).
  sessions: 32 ftplib clients in parallel, each connect + login + RETR of a
        64 KiB file + QUIT, repeated; sessions per second under each model
        (threads, fork: a process per session, coroutines).
  idle sessions: 500 logged-in clients held open; the server's resident
        memory per session (all its processes counted) under each model.

Usage: bench/bench_ftpd.py [BUILD_DIR]   (default: build). Medians of 5 runs.
"""
import ftplib
import os
import pwd
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
MTFTPD = os.path.join(BUILD, "src/ftpd/mtftpd")
SIZE = 512 << 20
RUNS = 5


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def curl(args):
    t = time.monotonic()
    subprocess.run(["curl", "-sS", *args], check=True)
    return time.monotonic() - t


def sendfile_anchor(path):
    """One connection, the file sent with sendfile(2), received and discarded."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        with open(path, "rb") as f:
            c.sendfile(f)
        c.close()

    th = threading.Thread(target=serve)
    th.start()
    t = time.monotonic()
    c = socket.create_connection(("127.0.0.1", port))
    got = drain(c)
    dt = time.monotonic() - t
    th.join()
    srv.close()
    assert got == SIZE
    return dt


BUF = bytearray(1 << 20)


def drain(conn):
    n = 0
    while True:
        k = conn.recv_into(BUF)
        if not k:
            break
        n += k
    conn.close()
    return n


def ftp_retr(port):
    f = ftplib.FTP()
    f.connect("127.0.0.1", port)
    f.login()
    f.voidcmd("TYPE I")
    t = time.monotonic()
    got = drain(f.transfercmd("RETR big.bin"))
    f.voidresp()
    dt = time.monotonic() - t
    f.quit()
    assert got == SIZE
    return dt


def main():
    tmp = tempfile.mkdtemp(prefix="bench_ftpd-")
    root = os.path.join(tmp, "root")
    os.mkdir(root)
    big = os.path.join(root, "big.bin")
    with open(big, "wb") as f:
        chunk = os.urandom(1 << 20)
        for _ in range(SIZE >> 20):
            f.write(chunk)
    with open(os.path.join(root, "small.bin"), "wb") as f:
        f.write(os.urandom(64 << 10))
    users = os.path.join(tmp, "users")
    subprocess.run([MTFTPD, "passwd", "--users", users, "add", "u"], input="p\n", text=True, check=True,
                   capture_output=True)
    me = pwd.getpwuid(os.getuid()).pw_name
    log = open(os.path.join(tmp, "log"), "wb")

    def start(model):
        port = free_port()
        proc = subprocess.Popen([MTFTPD, "--listen", f"127.0.0.1:{port}", "--root", root, "--users", users,
                                 "--anonymous", "--run-as", me, "--log-level", "warn", "--max-clients", "600",
                                 "--model", model], stderr=log)
        time.sleep(0.5)
        return proc, port

    def rss_kib(pid):
        """Proportional resident memory (Pss) of pid and its children, in KiB: pages
        that forked children share with the parent are split between them."""
        total = 0
        pids = [pid]
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                pids += [int(x) for x in f.read().split()]
        for p in pids:
            try:
                with open(f"/proc/{p}/smaps_rollup") as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            total += int(line.split()[1])
            except OSError:
                pass
        return total

    def idle_cost(proc, port, n=500):
        base = rss_kib(proc.pid)
        held = []
        for _ in range(n):
            f = ftplib.FTP()
            f.connect("127.0.0.1", port)
            f.login()
            held.append(f)
        time.sleep(0.5)
        per = (rss_kib(proc.pid) - base) / n
        for f in held:
            f.close()
        time.sleep(1.0)
        return per

    def sessions(port):
        n, per = 32, 8
        errors = []

        def client():
            try:
                for _ in range(per):
                    f = ftplib.FTP()
                    f.connect("127.0.0.1", port)
                    f.login()
                    f.retrbinary("RETR small.bin", lambda b: None)
                    f.quit()
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        ts = [threading.Thread(target=client) for _ in range(n)]
        t = time.monotonic()
        for th in ts:
            th.start()
        for th in ts:
            th.join()
        assert not errors, errors
        return n * per / (time.monotonic() - t)

    procs = []
    try:
        proc, port = start("threads")
        procs.append(proc)
        fproc, fport = start("fork")
        procs.append(fproc)
        cproc, cport = start("coroutines")
        procs.append(cproc)
        url = f"ftp://127.0.0.1:{port}"
        retr, anchor, stor, sess, fsess, csess = [], [], [], [], [], []
        for _ in range(RUNS):
            retr.append(SIZE / ftp_retr(port) / 1e6)
            anchor.append(SIZE / sendfile_anchor(big) / 1e6)
            stor.append(SIZE / curl(["-u", "u:p", "-T", big, f"{url}/up.bin"]) / 1e6)
            sess.append(sessions(port))
            fsess.append(sessions(fport))
            csess.append(sessions(cport))
        r, a = statistics.median(retr), statistics.median(anchor)
        print(f"mtftpd on loopback, {SIZE >> 20} MiB file, median of {RUNS}")
        print(f"  RETR                  {r:8.0f} MB/s   anchor bare sendfile() socket {a:6.0f} MB/s   ratio {r / a:.2f}")
        print(f"  STOR (curl, temp+rename) {statistics.median(stor):5.0f} MB/s")
        idle = {m: idle_cost(p, pt) for m, p, pt in (("threads", proc, port), ("fork", fproc, fport),
                                                        ("coroutines", cproc, cport))}
        s_t, s_f, s_c = statistics.median(sess), statistics.median(fsess), statistics.median(csess)
        print(f"  sessions/s (32 ftplib clients: login, RETR 64 KiB, QUIT): threads {s_t:6.0f}"
              f"   fork {s_f:6.0f} ({s_f / s_t:.2f}x)   coroutines {s_c:6.0f} ({s_c / s_t:.2f}x)")
        print("  memory per idle logged-in session (500 held, Pss of all server processes): " +
              "   ".join(f"{m} {v:5.1f} KiB" for m, v in idle.items()))
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
