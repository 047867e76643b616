"""The server's hardening (issue 15): failed logins banned per address,
resource exhaustion (connection floods, slowloris lines, PASV floods),
max-rate per session and per user, and nothing running as root after
start-up. Each case runs under every model (MTFTPD_MODEL) and asserts that
other clients stay served."""
import ftplib
import io
import os
import pathlib
import re
import socket
import threading
import time

import pytest

from conftest import MODEL, SLOW

HERE = pathlib.Path(__file__).resolve().parent
FILTER = HERE / "../../contrib/fail2ban/mtftpd.conf"


def greet(server, src="127.0.0.1"):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10 * SLOW)
    s.connect((server.host, server.port))
    f = s.makefile("rb")
    return s, f, f.readline()


def cmd(s, f, line):
    s.sendall(line + b"\r\n")
    return f.readline()


def wait_for(cond, what, timeout=10):
    deadline = time.monotonic() + timeout * SLOW
    while not cond():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def fail2ban_regex():
    """contrib/fail2ban/mtftpd.conf's failregex as a Python regex."""
    m = re.search(r"^failregex = (.*)$", FILTER.read_text(), re.M)
    return re.compile(m.group(1).replace("<HOST>", r"(?P<host>[0-9a-fA-F:.]+)"))


# 1 failed logins --------------------------------------------------------------
def test_failed_logins_from_one_address_ban_it_across_sessions(make_server):
    srv = make_server(extra=["--max-login-failures", "3", "--login-ban-time", str(3 * SLOW)])
    # three sessions at once, one failure each: the count is per address,
    # whichever session (thread, process or coroutine) the failure was in
    conns = [greet(srv)[:2] for _ in range(3)]
    for s, f in conns:
        assert cmd(s, f, b'USER ev"il').startswith(b"331")
        s.sendall(b"PASS wrong\r\n")
    for s, f in conns:
        assert f.readline().startswith(b"530")
    s, f, line = greet(srv)
    assert line.startswith(b"421 Too many failed logins from your address"), line
    assert s.recv(10) == b""
    s.close()
    s, f, line = greet(srv, src="127.0.0.2")          # another address is served
    assert line.startswith(b"220"), line
    assert cmd(s, f, b"USER alice").startswith(b"331")
    assert cmd(s, f, b"PASS wonderland").startswith(b"230")
    s.close()
    # the ban expires by itself
    def served():
        s, f, line = greet(srv)
        s.close()
        assert line.startswith((b"220", b"421 Too many failed")), line
        return line.startswith(b"220")
    wait_for(served, "the ban did not expire", timeout=10)
    assert srv.connect().sendcmd("NOOP").startswith("200")
    for s, f in conns:
        s.close()
    # one stable line per failure, which the shipped fail2ban filter matches
    rx = fail2ban_regex()
    hits = [m for m in map(rx.search, srv.log_text().splitlines()) if m]
    assert len(hits) == 3 and all(m.group("host") == "127.0.0.1" for m in hits), hits
    assert srv.log_text().count('login failed for user "ev?il" from 127.0.0.1') == 3
    assert "banned 127.0.0.1" in srv.log_text()


def test_ban_off_and_window(make_server):
    # 0 = off: failures are logged but never ban
    srv = make_server(extra=["--max-login-failures", "0"])
    for _ in range(2):
        s, f, line = greet(srv)
        assert cmd(s, f, b"USER alice").startswith(b"331")
        assert cmd(s, f, b"PASS nope").startswith(b"530")
        s.close()
    s, f, line = greet(srv)
    assert line.startswith(b"220"), line
    s.close()
    assert srv.log_text().count('login failed for user "alice" from 127.0.0.1') == 2


# 4 resource exhaustion ----------------------------------------------------------
def server_fds(srv):
    return srv.fd_count()


def server_threads(srv):
    return len(os.listdir(f"/proc/{srv.proc.pid}/task"))


def test_connection_flood_from_one_address(make_server):
    srv = make_server(extra=["--max-clients", "20", "--max-per-ip", "3"])
    fds0, threads0 = server_fds(srv), server_threads(srv)
    held = [greet(srv) for _ in range(3)]
    assert all(line.startswith(b"220") for s, f, line in held)
    flood = []
    for _ in range(200):             # far more than the limit, all kept open on our side
        s = socket.socket()
        s.settimeout(10 * SLOW)
        s.connect((srv.host, srv.port))
        flood.append(s)
    for s in flood:
        assert s.makefile("rb").readline().startswith(b"421 Too many connections from your address")
        assert s.recv(10) == b""     # the server closed its end at once
    # another address is served during the flood, to the end of a transfer
    s, f, line = greet(srv, src="127.0.0.2")
    assert line.startswith(b"220")
    assert cmd(s, f, b"USER alice").startswith(b"331")
    assert cmd(s, f, b"PASS wonderland").startswith(b"230")
    s.close()
    # the server holds an fd per admitted session at most, no thread per refused one
    assert server_fds(srv) <= fds0 + 3 + 2, (fds0, server_fds(srv))
    assert server_threads(srv) <= threads0 + 2, (threads0, server_threads(srv))
    for s in flood:
        s.close()
    for s, f, line in held:
        s.close()


def test_slowloris_line_is_dropped_after_command_line_timeout(make_server):
    t = 1.5 * SLOW
    srv = make_server(extra=["--command-line-timeout", str(t)])
    s, f, line = greet(srv)
    assert line.startswith(b"220")
    start = time.monotonic()
    s.settimeout(0.2)
    got = b""
    try:
        for b in b"USER alice-dribbling-a-byte-at-a-time-without-end" * 10:
            s.sendall(bytes([b]))
            try:
                got += s.recv(200)
                if got:
                    break
            except socket.timeout:
                pass
            assert time.monotonic() - start < t + 5 * SLOW, "never dropped"
        s.settimeout(5 * SLOW)
        while b"\n" not in got:
            got += s.recv(200)
    except (BrokenPipeError, ConnectionResetError):
        pass
    elapsed = time.monotonic() - start
    assert got.startswith(b"421 Command line not completed within"), got
    assert elapsed >= t - 0.1, elapsed
    s.close()
    # a client that sends whole lines slowly is not affected
    g = srv.connect()
    time.sleep(t + 0.5)
    assert g.sendcmd("NOOP").startswith("200")
    g.quit()
    assert "command line timeout" in srv.log_text()


def test_slowloris_many_sessions_others_served(make_server):
    t = 1.0 * SLOW
    srv = make_server(extra=["--command-line-timeout", str(t), "--max-clients", "12"])
    loris = []
    for _ in range(10):
        s, f, line = greet(srv)
        s.sendall(b"NO")
        loris.append((s, f))
    # meanwhile the others are served
    g = srv.connect()
    assert g.sendcmd("NOOP").startswith("200")
    # and the dribblers are gone within the timeout (plus the read slice)
    for s, f in loris:
        s.settimeout((t + 5) * SLOW)
        assert f.readline().startswith(b"421 Command line not completed")
        s.close()
    assert g.sendcmd("NOOP").startswith("200")
    g.quit()


def test_pasv_flood_keeps_one_listener(make_server):
    srv = make_server()
    s, f, line = greet(srv)
    assert cmd(s, f, b"USER alice").startswith(b"331")
    assert cmd(s, f, b"PASS wonderland").startswith(b"230")
    other = srv.connect()
    fds0 = server_fds(srv)
    for i in range(2000):
        s.sendall(b"PASV\r\n" if i % 2 else b"EPSV\r\n")
    for i in range(2000):
        assert f.readline().startswith(b"229" if i % 2 == 0 else b"227")
    # one pending listener per session at most
    assert server_fds(srv) <= fds0 + 1, (fds0, server_fds(srv))
    if MODEL == "fork":
        pids = [p for p in __import__("conftest").children(srv.proc.pid, live_only=True)]
        counts = [len(os.listdir(f"/proc/{p}/fd")) for p in pids]
        assert max(counts) < 20, counts
    # the listener that is left works, and other clients were served all along
    assert other.sendcmd("NOOP").startswith("200")
    assert cmd(s, f, b"TYPE I").startswith(b"200")
    s.close()
    assert other.nlst() is not None
    other.quit()
