"""HTTPServer v2.0 driven by curl (and a raw socket where curl would not
send the malformed request): every feature and status code of its header
comment, the jail, and a clean SIGTERM exit."""
import email.utils
import hashlib
import os
import socket
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from appsupport import SLOW, Server  # noqa: E402

SERVER = os.environ.get("HTTP_SERVER", os.path.join(os.path.dirname(__file__), "../../../build/examples/apps/http_server"))
TIMEOUT = 10 * SLOW


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "sub").mkdir(parents=True)
    (r / "docs").mkdir()
    (r / "a.txt").write_text("hello, world\n")
    (r / "page.html").write_text("<p>page</p>\n")
    (r / "sub" / "index.html").write_text("<p>sub index</p>\n")
    (r / "docs" / "<b>&.txt").write_text("x")
    (r / "docs" / "space name.bin").write_bytes(b"\0" * 10)
    (r / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    (tmp_path / "secret.txt").write_text("outside the root\n")
    os.symlink(str(tmp_path / "secret.txt"), r / "abs_link")
    os.symlink("../secret.txt", r / "rel_link")
    (r / "sub" / "..dots").write_text("dots")                 # a name, not a ".."
    os.symlink("../a.txt", r / "sub" / "up_link")           # still inside the root
    os.mkfifo(r / "fifo")
    return r


@pytest.fixture
def server(root, request):
    extra = getattr(request, "param", [])
    srv = Server([SERVER, "--listen", "127.0.0.1:0", "--root", str(root), *extra], "http_server")
    srv.url = f"http://127.0.0.1:{srv.port}"
    yield srv
    code, err = srv.stop()
    srv.check_clean(err)
    assert code == 0, err


def curl(*args):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", str(TIMEOUT), *args], capture_output=True, timeout=TIMEOUT + 5)
    return r


def fetch(url, *args):
    """(status, headers dict (lower-case names), body) of one request."""
    r = curl("-D", "-", "-o", "-", *args, url)
    assert r.returncode == 0, r.stderr
    head, _, body = r.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def raw(srv, data, read_all=True):
    with socket.create_connection((srv.host, srv.port), timeout=TIMEOUT) as s:
        s.sendall(data)
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out
            out += chunk
            if not read_all:
                return out


def test_get_file(server, root):
    st, h, body = fetch(server.url + "/a.txt")
    assert st == 200 and body == b"hello, world\n"
    assert h["content-length"] == "13"
    assert h["content-type"] == "text/plain; charset=utf-8"
    assert h["server"].startswith("HTTPServer/2.0")
    mtime = os.stat(root / "a.txt").st_mtime
    assert email.utils.parsedate_to_datetime(h["last-modified"]).timestamp() == int(mtime)
    st, h, body = fetch(server.url + "/page.html?query=1#frag")
    assert st == 200 and h["content-type"].startswith("text/html") and body == b"<p>page</p>\n"


def test_head(server):
    r = curl("-I", server.url + "/big.bin")
    out = r.stdout.decode()
    assert out.startswith("HTTP/1.1 200 OK\r\n")
    assert f"Content-Length: {3 * 1024 * 1024 + 17}\r\n" in out
    assert out.endswith("\r\n\r\n")                 # headers only
    r = curl("-I", server.url + "/nope")
    assert r.stdout.startswith(b"HTTP/1.1 404") and r.stdout.endswith(b"\r\n\r\n")


def test_big_file_by_sendfile(server, root):
    r = curl("-o", "-", server.url + "/big.bin")
    assert r.returncode == 0
    assert hashlib.sha256(r.stdout).digest() == hashlib.sha256((root / "big.bin").read_bytes()).digest()


def test_keep_alive_and_pipelining(server):
    r = curl("-w", "%{num_connects}\n", "-o", "/dev/null", server.url + "/a.txt", "-o", "/dev/null", server.url + "/page.html")
    assert r.stdout.split() == [b"1", b"0"]          # the second request reused the connection
    two = b"GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /page.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    out = raw(server, two)
    assert out.count(b"HTTP/1.1 200 OK") == 2
    assert out.index(b"hello, world") < out.index(b"<p>page</p>")
    assert b"Connection: keep-alive" in out and out.endswith(b"<p>page</p>\n")
    # HTTP/1.0 closes unless asked to keep the connection alive
    out = raw(server, b"GET /a.txt HTTP/1.0\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK") and b"Connection: close" in out


def test_if_modified_since(server, root):
    mtime = int(os.stat(root / "a.txt").st_mtime)
    st, h, body = fetch(server.url + "/a.txt", "-H", "If-Modified-Since: " + email.utils.formatdate(mtime, usegmt=True))
    assert st == 304 and body == b"" and "last-modified" in h
    st, h, body = fetch(server.url + "/a.txt", "-H", "If-Modified-Since: " + email.utils.formatdate(mtime - 60, usegmt=True))
    assert st == 200 and body == b"hello, world\n"
    st, _, body = fetch(server.url + "/a.txt", "-H", "If-Modified-Since: yesterday")
    assert st == 200                                  # an unparsable date is ignored


def test_ranges(server):
    st, h, body = fetch(server.url + "/a.txt", "-r", "0-4")
    assert st == 206 and body == b"hello" and h["content-range"] == "bytes 0-4/13"
    st, h, body = fetch(server.url + "/a.txt", "-r", "7-")
    assert st == 206 and body == b"world\n" and h["content-range"] == "bytes 7-12/13"
    st, h, body = fetch(server.url + "/a.txt", "-r", "-3")
    assert st == 206 and body == b"ld\n"
    st, h, body = fetch(server.url + "/a.txt", "-r", "10-99")
    assert st == 206 and body == b"ld\n" and h["content-range"] == "bytes 10-12/13"
    st, h, _ = fetch(server.url + "/a.txt", "-r", "13-20")
    assert st == 416 and h["content-range"] == "bytes */13"
    st, _, body = fetch(server.url + "/a.txt", "-r", "0-1,4-5")
    assert st == 200 and body == b"hello, world\n"   # several ranges: the whole file


def test_directories(server):
    st, h, _ = fetch(server.url + "/sub")
    assert st == 301 and h["location"] == "/sub/"
    st, _, body = fetch(server.url + "/sub/")
    assert st == 200 and body == b"<p>sub index</p>\n"
    st, h, body = fetch(server.url + "/docs/")
    assert st == 200 and h["content-type"].startswith("text/html")
    text = body.decode()
    assert '<a href="%3Cb%3E%26.txt">&lt;b&gt;&amp;.txt</a>' in text
    assert '<a href="space%20name.bin">space name.bin</a>' in text
    assert '<a href="../">' in text
    st, _, body = fetch(server.url + "/")
    assert st == 200 and b'href="sub/"' in body and b'href="../"' not in body
    st, _, body = fetch(server.url + "/docs/space%20name.bin")
    assert st == 200 and body == b"\0" * 10


def test_jail(server):
    for path in ("/abs_link", "/rel_link", "/../secret.txt", "/sub/../../secret.txt", "/%2e%2e/secret.txt"):
        st, _, body = fetch(server.url + path, "--path-as-is")
        assert st == 403, path
        assert b"outside the root" not in body
    st, _, body = fetch(server.url + "/sub/up_link")
    assert st == 200 and body == b"hello, world\n"
    st, _, body = fetch(server.url + "/sub/..dots")
    assert st == 200 and body == b"dots"
    st, _, _ = fetch(server.url + "/fifo")          # opened without blocking, then refused
    assert st == 403
    st, _, _ = fetch(server.url + "/a%2fb")         # an encoded '/' is not a separator
    assert st == 400


def test_error_codes(server):
    assert fetch(server.url + "/nope")[0] == 404
    assert fetch(server.url + "/a.txt/x")[0] == 404
    st, h, _ = fetch(server.url + "/a.txt", "-X", "DELETE")
    assert st == 405 and h["allow"] == "GET, HEAD"
    st, h, _ = fetch(server.url + "/a.txt", "-X", "GET", "--data", "body")
    assert st == 413 and h["connection"] == "close"
    assert fetch(server.url + "/" + "x" * 9000)[0] == 414          # request line too long
    assert fetch(server.url + "/" + "%41" * 2000)[0] == 414        # decoded path too long
    hdrs = []
    for i in range(101):
        hdrs += ["-H", f"X-H{i}: v"]
    assert fetch(server.url + "/a.txt", *hdrs)[0] == 431
    assert fetch(server.url + "/a.txt", "-H", "X-Big: " + "v" * 9000)[0] == 431
    assert fetch(server.url + "/a.txt", "-H", "Transfer-Encoding: chunked", "--data", "x")[0] == 501


@pytest.mark.parametrize("req,status", [
    (b"garbage\r\n\r\n", 400),
    (b"GET /a.txt\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\n\r\n", 400),                         # no Host
    (b"GET /a.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    (b"GET /a.txt HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n", 400),
    (b"GET a.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400),
    (b"GET /a%zz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400),
    (b"GET /a%00b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 400),
    (b"get /a.txt HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    (b"GET /a.txt HTTP/2.0\r\nHost: a\r\n\r\n", 505),
    (b"GET /a.txt FTP/1.0\r\n\r\n", 400),
])
def test_malformed_requests(server, req, status):
    out = raw(server, req)
    assert out.startswith(f"HTTP/1.1 {status} ".encode()), out[:80]
    assert b"Connection: close" in out


def test_idle_client_blocks_nobody(server):
    with socket.create_connection((server.host, server.port)) as idle:
        idle.sendall(b"GET /a.txt HTTP/1.1\r\n")                    # and never finishes
        urls = []
        for i in range(40):
            urls += ["-o", "/dev/null", server.url + f"/a.txt?{i}"]
        r = curl("-w", "%{http_code}", "--parallel", "--parallel-max", "20", *urls)
        assert r.stdout == b"200" * 40


@pytest.mark.parametrize("server", [["--threads", "2"]], indirect=True)
def test_two_schedulers(server):
    r = curl("-w", "%{http_code}", "--parallel", *(["-o", "/dev/null", server.url + "/big.bin"] * 6))
    assert r.stdout == b"200" * 6


@pytest.mark.parametrize("argv,code,msg", [
    ([], 2, "are required"),
    (["--listen", "127.0.0.1:0"], 2, "are required"),
    (["--listen", "x", "--root", "/"], 2, "--listen wants HOST:PORT"),
    (["--listen", "127.0.0.1:0", "--root", "/nonexistent/dir"], 1, "cannot open the root"),
    (["--listen", "127.0.0.1:0", "--root", "/", "--threads", "0"], 2, "--threads must be"),
    (["--listen", "192.0.2.1:1", "--root", "/"], 1, "cannot listen"),
    (["--what"], 2, "unknown or incomplete option"),
])
def test_usage_errors(argv, code, msg):
    r = subprocess.run([SERVER, *argv], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == code and msg in r.stderr and r.stderr.count("\n") == 1
    r = subprocess.run([SERVER, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0 and r.stdout.startswith("usage: http_server")
