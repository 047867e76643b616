"""Many clients at once: the session pool, admission limits, timeouts, and
clients that vanish mid-transfer without costing the server anything."""
import ftplib
import hashlib
import io
import os
import socket
import threading
import time

import pytest

from conftest import SLOW


def banner(server, src="127.0.0.1"):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(10 * SLOW)
    s.connect((server.host, server.port))
    return s, s.makefile("rb").readline()


def test_max_clients_pool_of_10(make_server):
    srv = make_server(extra=["--max-clients", "10"])
    held = [srv.connect() for _ in range(10)]
    s, line = banner(srv)
    assert line.startswith(b"421 Too many users"), line
    assert s.recv(10) == b""     # closed at once
    s.close()
    held.pop().quit()
    # a slot is free again once the server has seen the QUIT through: wait
    # for that (a 421 until then), not for a fixed time. Each try is itself
    # a session, so a refused one must be gone before the next.
    deadline = time.monotonic() + 10 * SLOW
    while True:
        try:
            g = srv.connect()
            break
        except ftplib.error_temp as e:
            assert str(e).startswith("421"), e
            assert time.monotonic() < deadline, "no slot came back after a QUIT"
            time.sleep(0.02)
    assert g.pwd() == "/"
    g.quit()
    for h in held:
        h.quit()


def test_max_per_ip(make_server):
    srv = make_server(extra=["--max-clients", "10", "--max-per-ip", "2"])
    a, b = srv.connect(), srv.connect()
    s, line = banner(srv)
    assert line.startswith(b"421 Too many connections from your address"), line
    s.close()
    s, line = banner(srv, src="127.0.0.2")     # another address still gets in
    assert line.startswith(b"220"), line
    s.close()
    a.quit()
    b.quit()


def test_idle_timeout(make_server):
    srv = make_server(extra=["--idle-timeout", "1"])
    f = srv.connect()
    time.sleep(1.5 + SLOW)
    with pytest.raises((ftplib.error_temp, EOFError, ConnectionError)) as e:
        f.pwd()
    if isinstance(e.value, ftplib.error_temp):
        assert str(e.value).startswith("421")


def test_login_timeout(make_server):
    srv = make_server(extra=["--login-timeout", "1"])
    s, line = banner(srv)
    s.settimeout(5 * SLOW)
    t = time.monotonic()
    rest = s.makefile("rb").readline()
    assert rest.startswith(b"421") and time.monotonic() - t < 4 * SLOW
    s.close()


def test_sessions_do_not_block_each_other(make_server):
    srv = make_server(extra=["--max-clients", "20"])
    data = os.urandom(1 << 20)
    (srv.root / "shared.bin").write_bytes(data)
    # one client parks a stalled download (never reads)
    stalled = srv.connect()
    stalled.sendcmd("TYPE I")
    (srv.root / "huge.bin").write_bytes(os.urandom(32 << 20))
    conn = stalled.transfercmd("RETR huge.bin")
    errors = []

    def worker(i):
        try:
            f = srv.connect()
            name = f"u{i}.bin"
            f.storbinary(f"STOR {name}", io.BytesIO(data))
            out = io.BytesIO()
            f.retrbinary("RETR shared.bin", out.write)
            assert out.getvalue() == data
            f.quit()
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    t0 = time.monotonic()
    ts = [threading.Thread(target=worker, args=(i,)) for i in range(15)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors, errors
    assert time.monotonic() - t0 < 20 * SLOW
    for i in range(15):
        assert (srv.root / f"u{i}.bin").read_bytes() == data
    conn.close()
    stalled.close()


def test_concurrent_stor_same_name_leaves_one_complete(server):
    a, b = os.urandom(4 << 20), os.urandom(4 << 20)
    errs = []

    def put(data):
        try:
            f = server.connect()
            f.storbinary("STOR same.bin", io.BytesIO(data), blocksize=65536)
            f.quit()
        except Exception as e:  # noqa: BLE001
            errs.append(e)

    ts = [threading.Thread(target=put, args=(d,)) for d in (a, b)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errs
    got = (server.root / "same.bin").read_bytes()
    assert got == a or got == b
    assert sorted(p.name for p in server.root.iterdir()) == ["same.bin"]


def test_hundred_clients_vanish_mid_transfer(make_server):
    srv = make_server(extra=["--max-clients", "120", "--data-timeout", "3"])
    (srv.root / "big.bin").write_bytes(os.urandom(16 << 20))
    (srv.root / "keep.bin").write_bytes(b"keep")
    probe = srv.connect()
    probe.quit()
    time.sleep(0.3)
    base = srv.fd_count()
    socks = []
    for i in range(100):
        f = srv.connect()
        f.sendcmd("TYPE I")
        if i % 2:
            c = f.transfercmd("RETR big.bin")
            c.recv(1000)
        else:
            c = f.transfercmd("STOR keep.bin")
            c.sendall(b"partial upload")
        socks.append((f, c))
    for f, c in socks:   # vanish: no QUIT, no ABOR, RST where possible
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        f.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        f.close()    # the socket and ftplib's file on it
    deadline = time.monotonic() + 20 * SLOW
    while time.monotonic() < deadline and srv.fd_count() > base:
        time.sleep(0.2)
    assert srv.fd_count() == base, os.listdir(f"/proc/{srv.proc.pid}/fd")
    assert (srv.root / "keep.bin").read_bytes() == b"keep"       # no partial upload replaced it
    assert sorted(p.name for p in srv.root.iterdir()) == ["big.bin", "keep.bin"]   # no temporaries
    g = srv.connect()                                            # and it still serves
    got = bytearray()
    g.retrbinary("RETR keep.bin", got.extend)
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(b"keep").hexdigest()
    big = hashlib.sha256()
    g.retrbinary("RETR big.bin", big.update)
    assert big.hexdigest() == hashlib.sha256((srv.root / "big.bin").read_bytes()).hexdigest()
    g.quit()
