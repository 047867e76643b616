#!/usr/bin/python3
"""bench_http.py — HTTPServer v2.0 (examples/apps/http_server) against its
anchors, measured in the same run: Python's http.server and nginx, all three
serving the same 4 KiB file from the same directory on loopback, loaded by
wrk with the same settings. Prints requests/s for each and the ratios
against the goals (>= 20x http.server, >= 0.8x nginx).

    /usr/bin/python3 bench/bench_http.py [BUILD_DIR] [--seconds S] [--rounds R]
        [--workers N] [--connections C]

--workers N: our schedulers (--threads N) and nginx's worker_processes. Each
round runs every server once; the best round of each is reported (the
machine is shared, so the best is the least disturbed). Python's
http.server speaks HTTP/1.0 and closes every connection: that is the
anchor as Python ships it. Debian packages: wrk, nginx-light, python3.
This is a benchmark, not a test: it fails only if a server cannot start or
wrk reports errors.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, what):
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"bench_http: {what} exited at start (code {proc.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.02)
    sys.exit(f"bench_http: {what} does not listen on port {port}")


def stop(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_ours(build, www, tmp, workers):
    exe = os.path.join(build, "examples", "apps", "http_server")
    if not os.access(exe, os.X_OK):
        sys.exit(f"bench_http: {exe} not found (build with -DMT_BUILD_EXAMPLES=ON)")
    port = free_port()
    p = subprocess.Popen([exe, "--listen", f"127.0.0.1:{port}", "--root", www, "--threads", str(workers)],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "ours.err"), "w"))
    wait_listening(port, p, "http_server")
    return p, port


def start_python(www, tmp):
    port = free_port()
    p = subprocess.Popen(["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", "-d", www, str(port)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, p, "python3 -m http.server")
    return p, port


def start_nginx(www, tmp, workers):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.access(nginx, os.X_OK):
        sys.exit("bench_http: nginx not found (Debian package nginx-light)")
    port = free_port()
    conf = os.path.join(tmp, "nginx.conf")
    user = "user root;\n" if os.geteuid() == 0 else ""      # workers must read the scratch dir
    temps = "".join(f"  {k}_temp_path {tmp}/{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    with open(conf, "w") as f:
        f.write(f"""{user}worker_processes {workers};
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx.err warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  default_type application/octet-stream;
{temps}  server {{ listen 127.0.0.1:{port}; root {www}; }}
}}
""")
    p = subprocess.Popen([nginx, "-p", tmp, "-c", conf, "-e", os.path.join(tmp, "nginx.err")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, p, "nginx")
    return p, port


def wrk(port, seconds, connections):
    wrk_bin = shutil.which("wrk")
    if not wrk_bin:
        sys.exit("bench_http: wrk not found (Debian package wrk)")
    out = subprocess.run([wrk_bin, "-t1", f"-c{connections}", f"-d{seconds}s", f"http://127.0.0.1:{port}/file4k.bin"],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        sys.exit(f"bench_http: cannot read wrk's output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        sys.exit(f"bench_http: {bad.group(1)} error responses from port {port}:\n{out}")
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return float(m.group(1)), (errs.group(0) if errs else "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default="build")
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--connections", type=int, default=50)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench_http.")
    www = os.path.join(tmp, "www")
    os.mkdir(www)
    with open(os.path.join(www, "file4k.bin"), "wb") as f:
        f.write(os.urandom(4096))
    best = {"http_server": 0.0, "http.server": 0.0, "nginx": 0.0}
    notes = {}
    try:
        for rnd in range(a.rounds):
            for name in best:
                if name == "http_server":
                    p, port = start_ours(a.build, www, tmp, a.workers)
                elif name == "http.server":
                    p, port = start_python(www, tmp)
                else:
                    p, port = start_nginx(www, tmp, a.workers)
                try:
                    rps, errs = wrk(port, a.seconds, a.connections)
                finally:
                    stop(p)
                print(f"round {rnd + 1}: {name:12s} {rps:10.0f} requests/s  {errs}", flush=True)
                best[name] = max(best[name], rps)
                if errs:
                    notes[name] = errs
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ours, py, ng = best["http_server"], best["http.server"], best["nginx"]
    print(f"\n4 KiB file, wrk -t1 -c{a.connections} -d{a.seconds}s, {a.workers} worker(s) each, best of {a.rounds}:")
    print(f"  HTTPServer v2.0 (libmt coroutines) {ours:10.0f} requests/s")
    print(f"  Python http.server                 {py:10.0f} requests/s")
    print(f"  nginx                              {ng:10.0f} requests/s")
    print(f"  ratio vs http.server: {ours / py:6.1f}x   (goal >= 20x)")
    print(f"  ratio vs nginx:       {ours / ng:6.2f}x   (goal >= 0.8x)")
    for k, v in notes.items():
        print(f"  note: {k}: {v}")


if __name__ == "__main__":
    main()
