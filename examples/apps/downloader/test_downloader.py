"""The thread-pool downloader fetching from the example HTTP server: every
file byte-identical, failures named with a non-zero exit and no partial
file left, the progress line, and usage errors."""
import os
import socket
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from appsupport import SLOW, Server  # noqa: E402

BIN = os.environ.get("APPS_BIN", os.path.join(os.path.dirname(__file__), "../../../build/examples/apps"))
DOWNLOADER = os.path.join(BIN, "downloader")
HTTP_SERVER = os.path.join(BIN, "http_server")
TIMEOUT = 20 * SLOW


@pytest.fixture
def site(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    files = {f"f{i}.bin": os.urandom(1000 * i + i) for i in range(1, 9)}
    files["big.bin"] = os.urandom(3 * 1024 * 1024 + 5)
    files["empty.txt"] = b""
    for name, data in files.items():
        (www / name).write_bytes(data)
    srv = Server([HTTP_SERVER, "--listen", "127.0.0.1:0", "--root", str(www)], "http_server")
    srv.files = files
    srv.base = f"http://127.0.0.1:{srv.port}"
    yield srv
    code, err = srv.stop()
    srv.check_clean(err)
    assert code == 0, err


def run(*args):
    return subprocess.run([DOWNLOADER, *args], capture_output=True, text=True, timeout=TIMEOUT)


def test_downloads_everything(site, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = run("--threads", "4", "--out", str(out), *[f"{site.base}/{n}" for n in site.files])
    assert r.returncode == 0, r.stderr
    for name, data in site.files.items():
        assert (out / name).read_bytes() == data, name
        assert f"saved {name} ({len(data)} bytes)" in r.stdout
    assert sorted(os.listdir(out)) == sorted(site.files)        # no .part left
    progress = [l for l in r.stderr.splitlines() if l.startswith("progress: ")]
    total = sum(len(d) for d in site.files.values())
    assert progress[-1].startswith(f"progress: {len(site.files)}/{len(site.files)} files, {total} bytes")


def test_failures_leave_nothing(site, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    # A server that promises 1000 bytes and sends 10, then hangs up.
    liar = socket.socket()
    liar.bind(("127.0.0.1", 0))
    liar.listen()

    def serve():
        c, _ = liar.accept()
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
        c.close()
    t = threading.Thread(target=serve)
    t.start()
    with socket.socket() as s:                                   # nobody listens here
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    r = run("--out", str(out), f"{site.base}/f1.bin", f"{site.base}/missing.bin",
            f"http://127.0.0.1:{liar.getsockname()[1]}/short.bin", f"http://127.0.0.1:{dead}/x.bin")
    t.join(TIMEOUT)
    liar.close()
    assert r.returncode == 1
    assert f"{site.base}/missing.bin: 404 Not Found" in r.stderr
    assert "short.bin: connection closed after 10 of 1000 bytes" in r.stderr
    assert "x.bin: connection refused" in r.stderr
    assert os.listdir(out) == ["f1.bin"]


@pytest.mark.parametrize("args,msg", [
    ([], "no URL given"),
    (["ftp://x/y"], "not an http://"),
    (["http://h:99999/a"], "not an http://"),
    (["http://h/a/f", "http://g/b/f"], "both be saved as 'f'"),
    (["--threads", "0", "http://h/a"], "--threads must be"),
    (["--out", "/nonexistent/dir", "http://h/a"], "cannot write into"),
    (["--bogus"], "unknown or incomplete option"),
])
def test_usage_errors(args, msg):
    r = run(*args)
    assert r.returncode == 2 and msg in r.stderr and r.stderr.count("\n") == 1
    assert run("--help").stdout.startswith("usage: downloader")
