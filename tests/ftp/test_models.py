"""What only one model has to show. The fork model (one process per
session): sessions as processes, reaped; slots released as they end; crash
isolation; no fd left in the parent. The coroutines model: idle sessions
park without a stack and wake intact. (Every other suite also runs under
each model.)"""
import ftplib
import io
import os
import signal
import socket
import time

import re

import pytest

from conftest import SLOW, children


@pytest.fixture
def forked(make_server):
    return make_server(extra=["--model", "fork", "--max-clients", "10"])


def test_fork_roundtrip_and_session_processes(forked):
    f = forked.connect()
    data = os.urandom(1 << 20)
    f.storbinary("STOR a.bin", io.BytesIO(data))
    out = io.BytesIO()
    f.retrbinary("RETR a.bin", out.write)
    assert out.getvalue() == data
    kids = children(forked.proc.pid, live_only=True)
    assert len(kids) == 1                                    # this session is a process
    comm = open(f"/proc/{kids[0]}/comm").read().strip()
    assert comm.startswith("ftp#") and comm.endswith("alice"), comm
    f.quit()
    deadline = time.time() + 5 * SLOW
    while children(forked.proc.pid) and time.time() < deadline:
        time.sleep(0.05)
    assert children(forked.proc.pid) == []                   # reaped: no zombie
    assert "fork model" in forked.log_text()


def test_fork_max_clients_and_release(forked):
    held = [forked.connect() for _ in range(10)]
    s = socket.create_connection((forked.host, forked.port), timeout=10 * SLOW)
    assert s.makefile("rb").readline().startswith(b"421 Too many users")
    s.close()
    held.pop().quit()
    deadline = time.time() + 5 * SLOW
    while time.time() < deadline:
        s = socket.create_connection((forked.host, forked.port), timeout=10 * SLOW)
        line = s.makefile("rb").readline()
        s.close()
        if line.startswith(b"220"):
            break
        time.sleep(0.1)
    assert line.startswith(b"220")                           # the slot came back once reaped
    for h in held:
        h.quit()


def test_fork_killed_session_harms_no_other(forked):
    a, b = forked.connect(), forked.connect()
    kids = children(forked.proc.pid, live_only=True)
    assert len(kids) == 2
    os.kill(kids[0], signal.SIGKILL)
    # wait until the server has reaped it (gone from its children, zombie too)
    deadline = time.monotonic() + 10 * SLOW
    while kids[0] in children(forked.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert kids[0] not in children(forked.proc.pid)
    # one of the two is gone; the other still works, and new sessions too
    alive = 0
    for f in (a, b):
        try:
            assert f.pwd() == "/"
            alive += 1
        except (EOFError, OSError, ftplib.Error):
            pass
    assert alive == 1
    g = forked.connect()
    assert g.pwd() == "/"
    g.quit()
    assert "ended with signal 9" in forked.log_text()


def test_fork_clients_vanish_fd_baseline(forked):
    (forked.root / "big.bin").write_bytes(os.urandom(8 << 20))
    time.sleep(0.2)
    base = forked.fd_count()
    for _ in range(10):
        f = forked.connect()
        f.sendcmd("TYPE I")
        c = f.transfercmd("RETR big.bin")
        c.recv(1000)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
        f.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        f.close()
    deadline = time.time() + 20 * SLOW
    while time.time() < deadline and (children(forked.proc.pid) or forked.fd_count() > base):
        time.sleep(0.1)
    assert children(forked.proc.pid) == []
    assert forked.fd_count() == base


def test_fork_sessions_end_with_a_killed_parent(forked):
    """The session processes are forked by the server's main thread, so a
    parent that dies abruptly (SIGKILL: no shutdown) takes them along (a
    parent-death signal) instead of leaving orphans that serve on."""
    before = set(children(forked.proc.pid, live_only=True))   # (the start-up probe's may linger)
    a, b = forked.connect(), forked.connect()
    kids = [k for k in children(forked.proc.pid, live_only=True) if k not in before]
    assert len(kids) == 2
    forked.kill()

    def gone(k):
        try:
            return open(f"/proc/{k}/stat").read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    deadline = time.monotonic() + 10 * SLOW
    while not all(gone(k) for k in kids):
        assert time.monotonic() < deadline, "session processes outlived their parent"
        time.sleep(0.02)
    for f in (a, b):                     # and their clients see the connection end
        with pytest.raises((EOFError, OSError, ftplib.Error)):
            f.pwd()
        f.close()


def test_fork_children_start_while_other_threads_hold_locks(make_server):
    """A session process is forked while another thread of the server may
    hold a lock the child would inherit held, and hang on before its
    banner: libmt's signal thread reloading the configuration on SIGHUP
    (the reload lock, the server's lock, the log's lock; model_fork.c takes
    them across the fork), while the server also refuses a flood of
    connections (and logs each). The window is narrow, so this is a smoke
    test of the locking, run 150 times: every session must answer."""
    import threading
    srv = make_server(extra=["--model", "fork", "--max-clients", "4", "--max-per-ip", "3"])
    stop = threading.Event()

    def hup():
        while not stop.is_set():
            srv.proc.send_signal(signal.SIGHUP)
            stop.wait(0.005)

    def flood():
        while not stop.is_set():
            socks = []
            try:
                for _ in range(8):
                    s = socket.create_connection((srv.host, srv.port), timeout=5 * SLOW)
                    socks.append(s)
                for s in socks:
                    s.recv(200)
            except OSError:
                pass
            for s in socks:
                s.close()

    floods = [threading.Thread(target=flood) for _ in range(2)] + [threading.Thread(target=hup)]
    for t in floods:
        t.start()
    hung = []
    try:
        for i in range(150):
            try:
                f = ftplib.FTP(timeout=5 * SLOW)
                f.connect(srv.host, srv.port)
                f.quit()
            except ftplib.error_temp:
                pass                        # refused (421): the flood holds the slots
            except (TimeoutError, socket.timeout):
                hung.append(i)
            except (EOFError, ConnectionError):
                pass
    finally:
        stop.set()
        for t in floods:
            t.join()
    assert not hung, f"sessions {hung} got no reply: a forked child hung"


# ---- the coroutines model: idle sessions give their stacks back ----------------------
def wait_parked(srv, want, timeout=10):
    """Waits until the log says each session id in `want` (a dict: id ->
    how many times at least) has parked."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        text = srv.log_text()
        counts = {}
        for m in re.finditer(r"#(\d+) parked: idle", text):
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
        if all(counts.get(k, 0) >= n for k, n in want.items()):
            return counts
        time.sleep(0.05)
    raise AssertionError(f"sessions {want} did not park:\n" + srv.log_text()[-3000:])


def session_ids(srv, n):
    ids = re.findall(r"#(\d+) connect from", srv.log_text())
    assert len(ids) >= n, srv.log_text()[-2000:]
    return ids[-n:]


def test_coroutine_idle_sessions_park_and_wake(make_server):
    """A session idle for a moment parks (its coroutine ends, its stack goes
    back); a command wakes it with its state intact: the login, the working
    directory on the heap, a data transfer, two commands in one write."""
    srv = make_server(extra=["--model", "coroutines"])
    (srv.root / "sub").mkdir()
    (srv.root / "sub" / "f.bin").write_bytes(bytes(range(256)) * 40)
    clients = [srv.connect() for _ in range(12)]
    ids = session_ids(srv, 12)
    wait_parked(srv, {i: 1 for i in ids})
    for f in clients:
        assert f.sendcmd("NOOP").startswith("200")
        assert f.cwd("sub").startswith("250")
    wait_parked(srv, {i: 2 for i in ids})
    for f in clients:
        assert f.pwd() == "/sub"                         # the cwd outlived the parking
        buf = io.BytesIO()
        f.retrbinary("RETR f.bin", buf.write)
        assert buf.getvalue() == bytes(range(256)) * 40
    wait_parked(srv, {i: 3 for i in ids})
    s = clients[0].sock                                  # two commands in one write
    s.sendall(b"NOOP\r\nPWD\r\n")
    assert clients[0].getresp().startswith("200")
    assert clients[0].getresp().startswith('257 "/sub"')
    for f in clients:
        f.quit()


def test_coroutine_parked_session_times_out_and_hears_shutdown(make_server):
    """A parked session still gets its idle timeout (not early), and the
    server's shutdown reaches parked sessions with a 421."""
    idle = 2 * SLOW
    srv = make_server(extra=["--model", "coroutines", "--idle-timeout", str(idle)])
    t0 = time.monotonic()                                # before the PASS the timer counts from
    f = srv.connect()
    f.sock.settimeout(20 * SLOW)
    wait_parked(srv, {session_ids(srv, 1)[0]: 1})
    line = f.file.readline()
    assert line.startswith("421 Idle timeout"), line
    assert time.monotonic() - t0 >= idle
    assert f.file.readline() == ""                       # and closed

    srv2 = make_server(extra=["--model", "coroutines"])
    held = [srv2.connect() for _ in range(5)]
    wait_parked(srv2, {i: 1 for i in session_ids(srv2, 5)})
    srv2.proc.send_signal(signal.SIGTERM)
    for g in held:
        g.sock.settimeout(20 * SLOW)
        assert g.file.readline().startswith("421 Server shutting down")
    assert srv2.proc.wait(timeout=30 * SLOW) == 0


def test_coroutine_retr_of_a_file_out_of_the_page_cache(make_server):
    """A file range in the page cache is sent from the scheduler's thread;
    one that is not (evicted here with fadvise) goes through the disk pool.
    Both ways the bytes arrive whole, RETR and REST+RETR alike."""
    srv = make_server(extra=["--model", "coroutines"])
    data = os.urandom(3 * 1024 * 1024 + 17)
    path = srv.root / "cold.bin"
    path.write_bytes(data)
    f = srv.connect()
    for rest in (None, 1234567, None):
        with open(path, "rb") as fh:                     # out of the page cache
            os.fsync(fh.fileno())
            os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        buf = io.BytesIO()
        f.retrbinary("RETR cold.bin", buf.write, rest=rest)
        assert buf.getvalue() == data[rest or 0:]
        buf = io.BytesIO()
        f.retrbinary("RETR cold.bin", buf.write)         # now cached
        assert buf.getvalue() == data
    f.quit()
