"""Hostile clients: traversal, symlinks out of the root, PORT bounce, huge and
malformed lines, login brute force. Nothing may escape, crash or hang."""
import ftplib
import io
import os
import socket
import threading
import time

import pytest


def raw(server, timeout=10):
    s = socket.create_connection((server.host, server.port), timeout=timeout)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    return s, f


def cmd(s, f, line):
    s.sendall(line + b"\r\n")
    return f.readline()


def login_raw(server):
    s, f = raw(server)
    assert cmd(s, f, b"USER alice").startswith(b"331")
    assert cmd(s, f, b"PASS wonderland").startswith(b"230")
    return s, f


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "secret.txt").write_text("top secret\n")
    return d


def test_dotdot_traversal_refused(server, outside):
    f = server.connect()
    for p in ("../outside/secret.txt", "/../outside/secret.txt", "a/../../outside/secret.txt",
              "../../../../etc/passwd", "/..", ".."):
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.sendcmd("SIZE " + p)
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.retrbinary("RETR " + p, lambda b: None)
    assert f.cwd("..").startswith("250")       # clamped at the root, as in a chroot
    assert f.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.storbinary("STOR ../outside/new.txt", io.BytesIO(b"x"))
    assert not (outside / "new.txt").exists()
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.mkd("../outside/newdir")
    # an absolute path means "from the user's root", never the host's /
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.size("/etc/passwd")
    f.quit()


def test_symlinks_out_of_root_refused(server, outside):
    os.symlink(outside / "secret.txt", server.root / "abs-link")
    os.symlink("../outside", server.root / "rel-dir-link")
    os.symlink("/", server.root / "slash")
    (server.root / "in.txt").write_text("inside\n")
    os.symlink("in.txt", server.root / "ok-link")
    f = server.connect()
    f.sendcmd("TYPE I")
    for p in ("abs-link", "rel-dir-link/secret.txt", "slash/etc/passwd"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.retrbinary("RETR " + p, lambda b: None)
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.size(p)
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.cwd("rel-dir-link")
    with pytest.raises(ftplib.error_perm, match="^55[03]"):
        f.storbinary("STOR rel-dir-link/evil.txt", io.BytesIO(b"x"))
    assert not (outside / "evil.txt").exists()
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.sendcmd("SITE CHMOD 777 abs-link")
    assert (outside / "secret.txt").stat().st_mode & 0o777 != 0o777
    with pytest.raises(ftplib.error_perm, match="^550"):
        list(f.mlsd("rel-dir-link"))
    # a link inside the root works
    out = io.BytesIO()
    f.retrbinary("RETR ok-link", out.write)
    assert out.getvalue() == b"inside\n"
    # listings show the outside links as links, with no facts about the target
    entries = dict(f.mlsd())
    assert entries["abs-link"]["type"] == "OS.unix=symlink"
    assert entries["ok-link"]["type"] == "file"
    # deleting the link removes the link, not its target
    f.delete("abs-link")
    assert (outside / "secret.txt").exists()
    f.quit()


def test_fallback_walk_refuses_all_symlinks(make_server, outside):
    srv = make_server(start=False)
    os.environ["MTFTPD_NO_OPENAT2"] = "1"
    try:
        srv.start()
    finally:
        del os.environ["MTFTPD_NO_OPENAT2"]
    os.symlink(outside / "secret.txt", srv.root / "abs-link")
    (srv.root / "d").mkdir()
    (srv.root / "d" / "f").write_text("in d\n")
    f = srv.connect()
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.retrbinary("RETR abs-link", lambda b: None)
    out = io.BytesIO()
    f.retrbinary("RETR d/f", out.write)
    assert out.getvalue() == b"in d\n"
    f.quit()


def test_port_bounce_refused(server):
    f = server.connect()
    for c in ("PORT 10,0,0,1,200,10",        # someone else's address
              "PORT 127,0,0,1,0,21",         # a privileged port
              "EPRT |1|192.168.1.1|5000|",
              "EPRT |1|127.0.0.1|80|"):
        with pytest.raises(ftplib.error_perm, match="^500"):
            f.sendcmd(c)
    for c in ("PORT 1,2,3", "PORT 300,1,1,1,1,1", "EPRT |3|x|1|", "EPRT garbage", "EPRT |1|127.0.0.1|99999|"):
        with pytest.raises(ftplib.error_perm, match="^(501|522)"):
            f.sendcmd(c)
    f.quit()


def test_passive_connection_from_other_address_refused(make_server):
    srv = make_server(extra=["--data-timeout", "2"])
    f = srv.connect()
    f.sendcmd("TYPE I")
    host, port = ftplib.parse227(f.sendcmd("PASV"))
    # connect to the passive port from 127.0.0.2, not the control peer 127.0.0.1
    intruder = socket.socket()
    intruder.bind(("127.0.0.2", 0))
    intruder.connect((host, port))
    f.putcmd("LIST")
    assert f.getmultiline().startswith("150")
    assert f.getmultiline().startswith("425")  # the intruder is refused; the real client never came
    intruder.settimeout(5)
    assert intruder.recv(10) == b""           # and was disconnected, given nothing
    assert "refused: not the client's address" in srv.log_text()
    f.quit()


def test_megabyte_line_gets_500_and_close(server):
    s, f = raw(server)
    s.sendall(b"USER " + b"A" * (1 << 20) + b"\r\n")
    line = f.readline()
    assert line.startswith(b"500"), line
    assert f.readline() == b""  # closed
    s.close()


def test_nul_bytes_and_garbage(server):
    s, f = login_raw(server)
    assert cmd(s, f, b"RETR a\x00b").startswith(b"501")
    assert cmd(s, f, b"\xff\xfe\xfd\x80garbage").startswith(b"500")
    assert cmd(s, f, b"").startswith(b"500")
    assert cmd(s, f, b"ABCDEFGH").startswith(b"500")
    assert cmd(s, f, b"\xff\xf4\xff\xf2NOOP").startswith(b"200")   # Telnet IP/DM are dropped
    assert cmd(s, f, os.urandom(3000).replace(b"\n", b"x").replace(b"\r", b"y")).startswith(b"50")
    assert cmd(s, f, b"PWD").startswith(b"257")   # still serving
    s.close()


def test_failed_login_delay_and_close(server):
    s, f = raw(server)
    # unknown and known users get the same 331
    assert cmd(s, f, b"USER nosuchuser") == b"331 Please specify the password.\r\n"
    t = time.monotonic()
    assert cmd(s, f, b"PASS x").startswith(b"530")
    assert time.monotonic() - t >= 0.95
    assert cmd(s, f, b"USER alice") == b"331 Please specify the password.\r\n"
    assert cmd(s, f, b"PASS wrong").startswith(b"530")
    # while this session waits out its delay, another logs in at once
    results = {}

    def other():
        t0 = time.monotonic()
        g = server.connect()
        results["login"] = time.monotonic() - t0
        g.quit()

    assert cmd(s, f, b"USER alice").startswith(b"331")
    s.sendall(b"PASS wrong3\r\n")
    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert f.readline().startswith(b"530")      # third failure: 530, then closed
    assert f.readline() == b""
    assert results["login"] < 0.9, results
    s.close()


def test_commands_before_login_refused(server):
    s, f = raw(server)
    for c in (b"RETR x", b"STOR x", b"LIST", b"CWD /", b"DELE x", b"PASV", b"SITE CHMOD 777 x"):
        assert cmd(s, f, c).startswith(b"530"), c
    s.close()


def test_anonymous_disabled(make_server, tmp_path):
    srv = make_server(start=False)
    srv.args.remove("--anonymous=ro")
    srv.start()
    s, f = raw(srv)
    assert cmd(s, f, b"USER anonymous").startswith(b"331")
    assert cmd(s, f, b"PASS x@y").startswith(b"530")
    s.close()
