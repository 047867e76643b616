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
