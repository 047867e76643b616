"""Protocol details: IPv6 (EPSV and EPRT), the PASV fallback ignoring a
227 address that differs from the control peer's, EPSV pipelined with the
transfer command once it has worked (and the way back when it then fails),
TYPE A conversion both ways, and NOOPs on the idle control connection during
a transfer."""
import os
import socket

import pytest

from conftest import ftp_conftest, free_port


def test_ipv6_passive_and_active(tmp_path, mtftp):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.fail("this machine has no IPv6 loopback; the IPv6 test needs ::1")
    port = free_port("::1")
    srv = ftp_conftest.Server(tmp_path, listen=[f"[::1]:{port}"])
    srv.host, srv.port = "::1", port
    srv.start()
    try:
        (srv.root / "six.bin").write_bytes(b"6" * 100_000)
        url = f"ftp://alice:wonderland@[::1]:{port}/six.bin"
        r = mtftp("-v", "get", url)
        assert r.returncode == 0, r.stderr
        assert "--> EPSV" in r.stderr and (mtftp.work / "six.bin").read_bytes() == b"6" * 100_000
        r = mtftp("-v", "--active", "get", url, "-o", "six-active.bin")
        assert r.returncode == 0, r.stderr
        assert "--> EPRT |2|::1|" in r.stderr
        assert (mtftp.work / "six-active.bin").read_bytes() == b"6" * 100_000
    finally:
        srv.stop()


def test_pasv_fallback_ignores_the_address(servers, mtftp):
    s = servers("pyftpdlib", "--pasv-lie")
    (s.root / "p.bin").write_bytes(b"p" * 50_000)
    r = mtftp("-v", "--timeout", "10", "get", s.url("p.bin"))
    assert r.returncode == 0, r.stderr
    assert "--> EPSV" in r.stderr and "--> PASV" in r.stderr and "10,255,255,1" in r.stderr
    assert "differs" in r.stderr
    assert (mtftp.work / "p.bin").read_bytes() == b"p" * 50_000


def test_ascii_both_ways(servers, mtftp):
    s = servers("mtftpd")
    (s.root / "unix.txt").write_bytes(b"one\ntwo\nthree\n")
    r = mtftp("-v", "-c", "ascii; get unix.txt; put unix.txt back.txt", s.url())
    assert r.returncode == 0, r.stderr
    assert "--> TYPE A" in r.stderr
    # LF -> CRLF by the server, CRLF -> LF here; and back on upload
    assert (mtftp.work / "unix.txt").read_bytes() == b"one\ntwo\nthree\n"
    assert (s.root / "back.txt").read_bytes() == b"one\ntwo\nthree\n"


@pytest.mark.parametrize("kind", ["mtftpd", "vsftpd"])
def test_keepalive_noop_during_transfer(servers, mtftp, kind):
    s = servers(kind)
    d = s.root / s.wdir if s.wdir else s.root
    data = os.urandom(1200 * 1024)
    (d / "slow.bin").write_bytes(data)
    path = f"{s.wdir}/slow.bin" if s.wdir else "slow.bin"
    r = mtftp("-v", "--keepalive", "0.3", "--rate", "1M", "get", s.url(path))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("--> NOOP") >= 2, r.stderr
    assert (mtftp.work / "slow.bin").read_bytes() == data
    # the session is still in step: the NOOP replies were all read
    r = mtftp("-v", "--keepalive", "0.3", "--rate", "1M", "-c", f"get {path} again.bin; size {path}", s.url())
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == str(len(data))


def test_silent_server_times_out(mtftp):
    # a listener that accepts and never greets: --timeout bounds the wait
    with socket.socket() as ls:
        ls.bind(("127.0.0.1", 0))
        ls.listen(4)
        port = ls.getsockname()[1]
        r = mtftp("--timeout", "1", "--retries", "0", "get", f"ftp://127.0.0.1:{port}/x", timeout=20)
    assert r.returncode == 3, r.stderr
    assert "timed out" in r.stderr


def test_transient_reply_is_retried(servers, mtftp):
    s = servers("pyftpdlib", "--busy-once")
    (s.root / "b.bin").write_bytes(b"b" * 10_000)
    r = mtftp("get", s.url("b.bin"))
    assert r.returncode == 0, r.stderr
    assert "450 Busy" in r.stderr and "retrying" in r.stderr
    assert (mtftp.work / "b.bin").read_bytes() == b"b" * 10_000


def commands_between_replies(stderr):
    """-v output as groups: the commands sent before each reply was read."""
    groups, cur = [], []
    for line in stderr.splitlines():
        if line.startswith("--> "):
            cur.append(line[4:].split(" ")[0])
        elif line.startswith("<-- ") and cur:
            groups.append(cur)
            cur = []
    return groups


def test_epsv_is_pipelined_once_it_worked(servers, mtftp):
    s = servers("pyftpdlib")          # stream mode only: a data connection per file
    for i in range(3):
        (s.root / f"q{i}").write_bytes(bytes([65 + i]) * 5000)
    r = mtftp("-v", "--no-verify", "-c", "get q0; get q1; get q2", s.url(""))
    assert r.returncode == 0, r.stderr
    assert "--> MODE B" in r.stderr and "<-- 504" in r.stderr
    assert r.stderr.count("--> MODE B") == 1             # asked once, not per file
    groups = commands_between_replies(r.stderr)
    assert ["EPSV"] in groups                            # the first one alone
    assert groups.count(["EPSV", "RETR"]) == 2, groups   # then with the RETR, one write
    for i in range(3):
        assert (mtftp.work / f"q{i}").read_bytes() == bytes([65 + i]) * 5000


def test_epsv_is_pipelined_in_stream_mode_against_mtftpd(servers, mtftp):
    """TYPE A transfers stay in MODE S, where EPSV goes with the RETR."""
    s = servers("mtftpd")
    for i in range(3):
        (s.root / f"t{i}").write_bytes(bytes([65 + i]) * 5000)
    r = mtftp("-v", "--no-verify", "-c", "ascii; get t0; get t1; get t2", s.url(""))
    assert r.returncode == 0, r.stderr
    assert "MODE B" not in r.stderr
    groups = commands_between_replies(r.stderr)
    assert groups.count(["EPSV", "RETR"]) == 2, groups
    for i in range(3):
        assert (mtftp.work / f"t{i}").read_bytes() == bytes([65 + i]) * 5000


def test_small_downloads_share_a_data_connection_in_mode_b(servers, mtftp):
    """Against mtftpd, small files come in MODE B over one data connection:
    one EPSV for all of them, 125 for every file after the first. A file
    over 4 MiB switches the session to MODE S (a connection of its own) and
    the next small one back, every file verified."""
    s = servers("mtftpd")
    bodies = {f"m{i}": os.urandom(3000 + i) for i in range(4)}
    bodies["big"] = os.urandom(5 << 20)
    bodies["m9"] = b""
    for n, b in bodies.items():
        (s.root / n).write_bytes(b)
    r = mtftp("-v", "-c", "get m0; get m1; get m2; get big; get m3; get m9", s.url(""))
    assert r.returncode == 0, r.stderr
    for n, b in bodies.items():
        assert (mtftp.work / n).read_bytes() == b, n
    log = r.stderr
    assert log.count("--> MODE B") == 2 and log.count("--> MODE S") == 1, log
    assert log.count("--> EPSV") == 3, log               # m0, big, m3: the others reuse
    assert log.count("<-- 125 ") == 2, log               # m1, m2 (an empty file needs no RETR)
    assert log.count("verified") == len(bodies), log


def test_kept_data_connection_the_server_closed_is_replaced(servers, mtftp):
    """A PASV sent by hand makes the server close the connection kept in
    MODE B: the next get sees it closed and opens a new one."""
    s = servers("mtftpd")
    for n in ("k1", "k2"):
        (s.root / n).write_bytes(n.encode() * 999)
    r = mtftp("-v", "-c", "get k1; quote PASV; get k2", s.url(""))
    assert r.returncode == 0, r.stderr
    for n in ("k1", "k2"):
        assert (mtftp.work / n).read_bytes() == n.encode() * 999
    assert r.stderr.count("--> EPSV") == 2 and "<-- 125 " not in r.stderr, r.stderr


def test_mget_in_mode_b(servers, mtftp):
    s = servers("mtftpd")
    (s.root / "many").mkdir()
    bodies = {f"f{i:03d}": os.urandom(100 * i) for i in range(60)}
    for n, b in bodies.items():
        (s.root / "many" / n).write_bytes(b)
    r = mtftp("-v", "-c", "mget -j 4 *", s.url("many/"))
    assert r.returncode == 0, r.stderr
    for n, b in bodies.items():
        assert (mtftp.work / n).read_bytes() == b, n
    assert r.stderr.count("<-- 125 ") >= 60 - 4 - 1, r.stderr    # one connection per worker


def test_pipelined_epsv_refused_falls_back(servers, mtftp):
    s = servers("pyftpdlib", "--epsv-fail-second")
    for i in range(3):
        (s.root / f"e{i}").write_bytes(bytes([97 + i]) * 7000)
    r = mtftp("-v", "--no-verify", "-c", "get e0; get e1; get e2", s.url(""))
    assert r.returncode == 0, r.stderr
    assert "<-- 425" in r.stderr                         # the refused EPSV ...
    # pyftpdlib answers a RETR with no data connection "150" and waits for
    # one: the client must not read that transfer's replies as the next
    # command's, but start a fresh session
    assert "after refusing EPSV" in r.stderr, r.stderr
    assert r.stderr.count("--> USER alice") >= 2, r.stderr
    for i in range(3):                                   # ... and every file arrived whole
        assert (mtftp.work / f"e{i}").read_bytes() == bytes([97 + i]) * 7000
