"""Weaknesses an attacker can reach, found by trying (issue 12, items 11-16):
setuid bits through SITE CHMOD, a FIFO that hangs a session, names on disk
that desynchronise the control connection or forge listing entries, STOR
over a file the server user may not write, and paths too long for a reply."""
import ftplib
import io
import os
import socket
import stat

import pytest

from conftest import SLOW


def raw_login(server, timeout=10):
    s = socket.create_connection((server.host, server.port), timeout=timeout * SLOW)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    for line, want in ((b"USER alice", b"331"), (b"PASS wonderland", b"230")):
        s.sendall(line + b"\r\n")
        assert f.readline().startswith(want)
    return s, f


# 11 -----------------------------------------------------------------------
def test_site_chmod_never_sets_setuid_setgid_sticky(server):
    p = server.root / "prog"
    p.write_bytes(b"#!/bin/sh\n")
    f = server.connect()
    for asked, want in (("4755", 0o755), ("2755", 0o755), ("6755", 0o755), ("7777", 0o777), ("1777", 0o777),
                        ("640", 0o640)):
        assert f.sendcmd("SITE CHMOD %s prog" % asked).startswith("200")
        assert stat.S_IMODE(os.stat(p).st_mode) == want, asked
    f.quit()


# 12 -----------------------------------------------------------------------
def test_fifo_never_hangs_a_session(server):
    os.mkfifo(server.root / "fifo")
    os.symlink("fifo", server.root / "fifo-link")
    f = server.connect(timeout=5)
    f.sendcmd("TYPE I")
    for name in ("fifo", "fifo-link"):
        with pytest.raises(ftplib.error_perm, match="^553"):
            f.storbinary("APPE " + name, io.BytesIO(b"x"))
        assert f.sendcmd("REST 1").startswith("350")
        with pytest.raises(ftplib.error_perm, match="^55[34]"):
            f.storbinary("STOR " + name, io.BytesIO(b"x"))
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.retrbinary("RETR " + name, lambda b: None)
    with pytest.raises(ftplib.error_perm, match="^553"):
        f.storbinary("STOR fifo", io.BytesIO(b"x"))
    assert f.sendcmd("NOOP").startswith("200")         # the session is alive and well
    # STOR replaces a symlink itself (temporary + rename), never opening its target
    f.storbinary("STOR fifo-link", io.BytesIO(b"x"))
    assert (server.root / "fifo-link").read_bytes() == b"x"
    assert stat.S_ISFIFO(os.lstat(server.root / "fifo").st_mode)
    f.quit()


# 13 -----------------------------------------------------------------------
def test_names_on_disk_cannot_end_a_stat_reply(server):
    d = server.root / "d"
    d.mkdir()
    os.close(os.open(os.path.join(bytes(d), b"a\r\n213 End of status.\r\n"), os.O_CREAT | os.O_WRONLY, 0o644))
    os.close(os.open(os.path.join(bytes(d), b"b\n200 forged"), os.O_CREAT | os.O_WRONLY, 0o644))
    (d / "ok.txt").write_text("fine")
    s, f = raw_login(server)
    s.sendall(b"STAT d\r\nNOOP\r\n")
    assert f.readline().startswith(b"213-")
    body = []
    while True:
        line = f.readline()
        assert line, "connection closed inside the STAT reply"
        if line.startswith(b"213 "):
            break
        assert line.startswith(b" "), line            # every body line starts with a space
        body.append(line)
    assert line == b"213 End of status.\r\n"
    assert any(b"ok.txt" in l for l in body)
    assert not any(b"forged" in l or b"End of status" in l for l in body)
    assert f.readline().startswith(b"200 NOOP")      # the next reply answers the next command
    s.close()


# 14 -----------------------------------------------------------------------
def test_names_on_disk_cannot_forge_listing_entries(server):
    r = bytes(server.root)
    for n in (b"x\r\nforged1.txt", b"y\nforged2.txt", b"z\rforged3.txt"):
        os.close(os.open(os.path.join(r, n), os.O_CREAT | os.O_WRONLY, 0o644))
    (server.root / "real.txt").write_text("real")
    f = server.connect()
    assert f.nlst() == ["real.txt"]
    lines = []
    f.retrlines("LIST", lines.append)
    assert len(lines) == 1 and lines[0].endswith(" real.txt"), lines
    names = [n for n, facts in f.mlsd() if facts.get("type") not in ("cdir", "pdir")]
    assert names == ["real.txt"]
    f.quit()


# 15 -----------------------------------------------------------------------
def test_stor_respects_what_the_server_user_may_write(make_server):
    # A server that dropped to nobody: a root-owned 0444 file must stay as it
    # is, although nobody may write the directory (and so rename over it).
    srv = make_server(extra=["--run-as", "nobody"], start=False)
    srv.env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")   # LSan cannot trace a setuid process
    os.chmod(srv.root, 0o777)
    ro = srv.root / "ro.txt"
    ro.write_bytes(b"original")
    os.chmod(ro, 0o444)
    srv.start()
    f = srv.connect()
    with pytest.raises(ftplib.error_perm, match="^553"):
        f.storbinary("STOR ro.txt", io.BytesIO(b"replaced"))
    with pytest.raises(ftplib.error_perm, match="^553"):
        f.storbinary("APPE ro.txt", io.BytesIO(b"more"))
    assert ro.read_bytes() == b"original"
    assert os.stat(ro).st_uid == 0
    f.storbinary("STOR new.txt", io.BytesIO(b"fine"))      # writing where it may still works
    assert (srv.root / "new.txt").read_bytes() == b"fine"
    assert sorted(os.listdir(srv.root)) == ["new.txt", "ro.txt"]
    f.quit()


def test_stor_keeps_the_mode_but_never_setuid(server):
    p = server.root / "tool"
    p.write_bytes(b"old")
    os.chmod(p, 0o6755)
    f = server.connect()
    f.storbinary("STOR tool", io.BytesIO(b"new content"))
    assert p.read_bytes() == b"new content"
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o755
    # the old file went with the swap that published the new one: no temporary left
    assert sorted(q.name for q in server.root.iterdir()) == ["tool"]
    f.storbinary("STOR tool", io.BytesIO(b"third"))
    assert p.read_bytes() == b"third" and sorted(q.name for q in server.root.iterdir()) == ["tool"]
    f.quit()


# 16 -----------------------------------------------------------------------
def test_long_paths_survive_257_replies(server):
    f = server.connect()
    parts = ["d%03d_" % i + "q\"" + "x" * 240 for i in range(5)]   # quotes get doubled, too
    path = ""
    for p in parts:
        path += "/" + p
        assert f.mkd(path) == path                 # ftplib parses the 257 reply
    assert len(path) > 1200
    f.cwd(path)
    assert f.pwd() == path
    f.quit()
