"""Operations: signals (graceful stop, reload), privilege drop, full disk,
the command line, the config file and the users tool."""
import ftplib
import io
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import MODEL, MTFTPD, SLOW, add_user, children, connect_retry, free_port


def test_sigterm_lets_running_transfer_finish(make_server):
    srv = make_server(extra=["--shutdown-grace", "20"])
    data = os.urandom(24 << 20)
    (srv.root / "big.bin").write_bytes(data)
    f = srv.connect()
    f.sendcmd("TYPE I")
    conn = f.transfercmd("RETR big.bin")
    first = conn.recv(65536)
    srv.proc.send_signal(signal.SIGTERM)
    # no new clients once stopping: the listener goes away (waited for, not slept on)
    deadline = time.monotonic() + 10 * SLOW
    while True:
        try:
            probe = ftplib.FTP()
            probe.connect(srv.host, srv.port, timeout=2)
            probe.close()
        except OSError:
            break
        assert time.monotonic() < deadline, "still accepting after SIGTERM"
        time.sleep(0.02)
    # and the acceptor threads end (the threads model's; the fork model
    # accepts on its main thread, which must outlive the transfer's process,
    # and the coroutine model in coroutines): the transfer goes on
    def acceptors():
        n = 0
        for t in os.listdir(f"/proc/{srv.proc.pid}/task"):
            try:
                n += open(f"/proc/{srv.proc.pid}/task/{t}/comm").read().startswith("ftp-accept")
            except OSError:
                pass
        return n
    while acceptors():
        assert time.monotonic() < deadline, "acceptor threads still running after SIGTERM"
        time.sleep(0.02)
    got = [first]
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        got.append(b)
    conn.close()
    assert b"".join(got) == data
    assert f.getresp().startswith("226")
    assert srv.proc.wait(timeout=10 * SLOW) == 0
    assert "mtftpd stopped" in srv.log_text()


def test_sighup_reloads_users(make_server):
    srv = make_server()
    with pytest.raises(ftplib.error_perm, match="^530"):
        srv.connect("carol", "pw")
    add_user(srv.users, "carol", "pw")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5 * SLOW
    while "reloaded" not in srv.log_text() and time.time() < deadline:
        time.sleep(0.05)
    g = srv.connect("carol", "pw")
    assert g.pwd() == "/"
    g.quit()
    # a broken users file is refused and the running one kept
    srv.users.write_text("garbage line\n")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.time() + 5 * SLOW
    while "reload failed" not in srv.log_text() and time.time() < deadline:
        time.sleep(0.05)
    assert "reload failed" in srv.log_text()
    srv.connect("carol", "pw").quit()


def wait_log(srv, text, count=1):
    deadline = time.time() + 5 * SLOW
    while srv.log_text().count(text) < count and time.time() < deadline:
        time.sleep(0.05)
    return srv.log_text().count(text)


def test_login_cache(make_server):
    """A password login yescrypt verified is remembered (login-cache): the
    same user and password log in again by the cache, which the log line
    says, except in the fork model. A wrong password is refused all the
    same; after the password changes (SIGHUP) only the new one works;
    login-cache = 0 remembers nothing."""
    srv = make_server()
    hit = "login alice from 127.0.0.1 (login cache)"
    for _ in range(3):
        srv.connect().quit()
    assert wait_log(srv, "login alice from 127.0.0.1", 3) == 3
    assert srv.log_text().count(hit) == (0 if MODEL == "fork" else 2)
    with pytest.raises(ftplib.error_perm, match="^530"):
        srv.connect("alice", "wonderlan")
    add_user(srv.users, "alice", "looking-glass")
    srv.proc.send_signal(signal.SIGHUP)
    assert wait_log(srv, "reloaded") >= 1
    with pytest.raises(ftplib.error_perm, match="^530"):
        srv.connect("alice", "wonderland")            # remembered, but for the old line
    srv.connect("alice", "looking-glass").quit()
    srv.connect("alice", "looking-glass").quit()
    assert wait_log(srv, hit, 3) == (0 if MODEL == "fork" else 3)

    srv.stop()
    short = make_server(extra=["--login-cache", "1"])
    logins, hits = short.log_text().count("login alice from"), short.log_text().count(hit)
    short.connect("alice", "looking-glass").quit()
    time.sleep(1.2)                                  # the entry's time to live, passing
    short.connect("alice", "looking-glass").quit()
    assert wait_log(short, "login alice from 127.0.0.1", logins + 2) == logins + 2
    assert short.log_text().count(hit) == hits       # expired: a yescrypt again
    short.stop()
    off = make_server(extra=["--login-cache", "0"])   # the same users file and log
    logins, hits = off.log_text().count("login alice from"), off.log_text().count(hit)
    for _ in range(2):
        off.connect("alice", "looking-glass").quit()
    assert wait_log(off, "login alice from 127.0.0.1", logins + 2) == logins + 2
    assert off.log_text().count(hit) == hits


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to test dropping root")
def test_root_drops_privileges(make_server):
    srv = make_server(start=False)
    i = srv.args.index("--run-as")
    srv.args[i + 1] = "nobody"
    os.chmod(srv.tmp, 0o755)
    srv.start()
    status = open(f"/proc/{srv.proc.pid}/status").read()
    uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
    assert uid_line.split()[1:] == ["65534"] * 4, uid_line
    srv.connect().quit()


def test_full_disk_gives_452_and_no_temporary(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    users = tmp_path / "users"
    add_user(users, "alice", "wonderland")
    from conftest import free_port
    port = free_port()
    log = open(tmp_path / "log", "wb")
    inner = (f"mount -t tmpfs -o size=1m none {root} && echo old > {root}/keep.txt && "
             f"exec {MTFTPD} --listen 127.0.0.1:{port} --root {root} --users {users} --run-as root")
    p = subprocess.Popen(["unshare", "-rm", "sh", "-c", inner], stdout=log, stderr=log)
    try:
        f = connect_retry("127.0.0.1", port)
        f.login("alice", "wonderland")
        for name in ("keep.txt", "new.bin"):
            conn = f.transfercmd("STOR " + name)
            try:
                conn.sendall(os.urandom(3 << 20))
            except OSError:
                pass          # the server stops reading when the disk is full
            conn.close()
            with pytest.raises(ftplib.error_temp, match="^452"):
                f.voidresp()
        assert sorted(f.nlst()) == ["keep.txt"]
        out = io.BytesIO()
        f.retrbinary("RETR keep.txt", out.write)
        assert out.getvalue() == b"old\n"
        f.quit()
    finally:
        p.send_signal(signal.SIGTERM)
        assert p.wait(timeout=30 * SLOW) == 0
        log.close()


def mtftpd(*args, **kw):
    return subprocess.run([MTFTPD, *args], capture_output=True, text=True, timeout=30, **kw)


def test_help_version_and_bad_flags():
    r = mtftpd("--help")
    assert r.returncode == 0 and "--max-clients" in r.stdout and "passwd" in r.stdout
    r = mtftpd("--version")
    assert r.returncode == 0 and r.stdout.startswith("mtftpd ")
    for args, msg in ((["--max-clients", "zero"], "max-clients"), (["--bogus"], "unknown option"),
                      (["--listen", "nowhere"], "listen"), (["--pasv-ports", "10-5"], "pasv-ports"),
                      (["--model", "magic"], "model"), (["--listen"], "needs a value"),
                      (["extra"], "unexpected argument")):
        r = mtftpd(*args)
        assert r.returncode == 2, (args, r)
        assert r.stderr.count("\n") == 1 and msg in r.stderr, (args, r.stderr)


def test_config_file_and_check_config(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    conf = tmp_path / "mtftpd.conf"
    conf.write_text(f"# comment\nroot = {root}\nanonymous = ro\nmax-clients = 7\nlisten = 127.0.0.1:2121\n"
                    "idle-timeout = 30\n")
    r = mtftpd("check-config", "-c", str(conf), "--max-clients", "9")
    assert r.returncode == 0, r.stderr
    assert "max-clients = 9" in r.stdout          # flags win
    assert "idle-timeout = 30" in r.stdout and "anonymous = ro" in r.stdout
    assert "listen = 127.0.0.1:2121" in r.stdout
    conf.write_text(f"root = {root}\nmax-clients = lots\n")
    r = mtftpd("check-config", "-c", str(conf))
    assert r.returncode == 1 and f"{conf}:2: max-clients" in r.stderr
    conf.write_text(f"root = {root}\nno_such_key = 1\n")
    r = mtftpd("check-config", "-c", str(conf))
    assert r.returncode == 1 and "unknown key" in r.stderr
    r = mtftpd("check-config", "--root", str(tmp_path / "missing"), "--anonymous")
    assert r.returncode == 1 and "not a directory" in r.stderr
    r = mtftpd("check-config", "--root", str(root))
    assert r.returncode == 1 and "nobody can log in" in r.stderr
    r = mtftpd("check-config", "-c", str(tmp_path / "nope.conf"))
    assert r.returncode == 1 and "No such file" in r.stderr


def test_passwd_tool(tmp_path):
    users = tmp_path / "users"
    r = mtftpd("passwd", "--users", str(users), "add", "dave", "--home", "/srv/dave", "--perms", "elr",
               input="s3cret\n")
    assert r.returncode == 0, r.stderr
    line = users.read_text().strip()
    name, h, home, perms = line.split(":")
    assert name == "dave" and h.startswith("$y$") and home == "/srv/dave" and perms == "elr"
    assert oct(users.stat().st_mode & 0o777) == "0o600"
    r = mtftpd("passwd", "--users", str(users), "add", "erin", input="pw2\n")
    r = mtftpd("passwd", "--users", str(users), "list")
    assert r.returncode == 0 and "dave\t/srv/dave\telr" in r.stdout and "erin\t(root)\telradfmwMT" in r.stdout
    r = mtftpd("passwd", "--users", str(users), "del", "dave")
    assert r.returncode == 0
    assert "dave" not in users.read_text() and "erin:" in users.read_text()
    r = mtftpd("passwd", "--users", str(users), "del", "nobody-here")
    assert r.returncode == 1 and "no user" in r.stderr
    r = mtftpd("passwd", "--users", str(users), "add", "bad:name", input="x\n")
    assert r.returncode == 2
    r = mtftpd("passwd", "--users", str(users), "add", "frank", "--perms", "xyz", input="x\n")
    assert r.returncode == 2 and "permission letter" in r.stderr
    r = mtftpd("passwd", "--users", str(users), "add", "gina", input="")
    assert r.returncode == 1 and "no password" in r.stderr


def test_sessions_named_per_model(server):
    """threads: a session's thread is named after it; fork: its process is;
    coroutines: the scheduler and disk-pool threads are named."""
    f = server.connect()
    pid = server.proc.pid
    comms = [open(f"/proc/{pid}/task/{t}/comm").read().strip() for t in os.listdir(f"/proc/{pid}/task")]
    if MODEL == "threads":
        assert any(c.startswith("ftp#") and c.endswith("alice") for c in comms), comms
        assert "ftp-accept" in comms and "ftp-idle" in comms
    elif MODEL == "fork":
        kid_comms = [open(f"/proc/{k}/comm").read().strip() for k in children(pid, live_only=True)]
        assert any(c.startswith("ftp#") and c.endswith("alice") for c in kid_comms), kid_comms
    else:
        assert any(c.startswith("ftp-sched-") for c in comms) and any(c.startswith("ftp-disk-") for c in comms), comms
        assert len(comms) < 16          # sessions are coroutines, not threads
    f.quit()


def test_daemon_with_pidfile(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "hello.txt").write_text("hi\n")
    from conftest import free_port
    port = free_port()
    pidfile = tmp_path / "mtftpd.pid"
    args = ["--listen", f"127.0.0.1:{port}", "--root", str(root), "--anonymous", "--daemon",
            "--pidfile", str(pidfile), "--run-as", "root" if os.geteuid() == 0 else "nobody"]
    r = mtftpd(*args)
    assert r.returncode == 0, r.stderr
    pid = int(pidfile.read_text())
    try:
        assert os.path.exists(f"/proc/{pid}")
        f = connect_retry("127.0.0.1", port)
        f.login()
        out = io.BytesIO()
        f.retrbinary("RETR hello.txt", out.write)
        assert out.getvalue() == b"hi\n"
        f.quit()
        args2 = list(args)
        args2[1] = f"127.0.0.1:{free_port()}"
        r = mtftpd(*args2)
        assert r.returncode == 1 and "another instance" in r.stderr, r.stderr
    finally:
        os.kill(pid, signal.SIGTERM)
    for _ in range(200):
        if not os.path.exists(f"/proc/{pid}"):
            break
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{pid}")


def test_dual_stack_listener(make_server):
    # [::] with --dual-stack: one socket serves IPv4 (v4-mapped) and IPv6
    srv = make_server(extra=["--dual-stack"], listen=["[::]:0"])   # the port: from the log
    port = srv.port
    (srv.root / "f.txt").write_text("both")
    for host in ("127.0.0.1", "::1"):
        f = ftplib.FTP(timeout=10 * SLOW)
        f.connect(host, port)
        f.login("alice", "wonderland")
        out = io.BytesIO()
        f.retrbinary("RETR f.txt", out.write)   # PASV over IPv4, EPSV over IPv6
        assert out.getvalue() == b"both"
        f.quit()
    assert "connect from 127.0.0.1 " in srv.log_text()   # the mapped address, shown as IPv4
    # without it, an IPv6 listener is IPv6-only
    srv6 = make_server(listen=["[::]:0"], start=False)
    srv6.host = "::1"
    srv6.start()
    port6 = srv6.port
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port6), timeout=5).close()
    g = ftplib.FTP(timeout=10 * SLOW)
    g.connect("::1", port6)
    g.login("alice", "wonderland")
    g.quit()
