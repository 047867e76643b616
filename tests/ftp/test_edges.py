"""The less-trodden paths of RFC 959/3659 where real clients lose data or
hang: TYPE A and CRLF, REST with APPE and in ASCII, uploads that fail before
their data connection, OPTS MLST, REIN before login, Telnet noise, the
facts and SITE subcommands, QUIT and REIN during a transfer (issue 12,
items 1-10)."""
import ftplib
import hashlib
import io
import os
import socket
import time

import pytest

from conftest import SLOW, free_port


def raw(server, timeout=10):
    s = socket.create_connection((server.host, server.port), timeout=timeout * SLOW)
    f = s.makefile("rb")
    assert f.readline().startswith(b"220")
    return s, f


def cmd(s, f, line):
    s.sendall(line + b"\r\n")
    return f.readline()


def retr_raw(f, name):
    """The bytes of a RETR as they come off the data connection, in the
    current TYPE (ftplib's retrbinary would send TYPE I first)."""
    conn = f.transfercmd("RETR " + name)
    chunks = []
    while True:
        b = conn.recv(1 << 16)
        if not b:
            break
        chunks.append(b)
    conn.close()
    f.voidresp()
    return b"".join(chunks)


def stor_raw(f, name, data):
    conn = f.transfercmd("STOR " + name)
    conn.sendall(data)
    conn.close()
    f.voidresp()


# 1 ------------------------------------------------------------------------
def test_type_a_leaves_crlf_alone(server):
    (server.root / "crlf.txt").write_bytes(b"a\r\nb\nc\r\n\n")
    # a CRLF split across the server's 128 KiB read chunks
    edge = b"x" * (128 * 1024 - 1) + b"\r\ny\n"
    (server.root / "edge.txt").write_bytes(edge)
    f = server.connect()
    f.sendcmd("TYPE A")
    assert retr_raw(f, "crlf.txt") == b"a\r\nb\r\nc\r\n\r\n"
    assert retr_raw(f, "edge.txt") == b"x" * (128 * 1024 - 1) + b"\r\ny\r\n"
    f.quit()


# 2 ------------------------------------------------------------------------
def test_rest_in_ascii_refused(server):
    (server.root / "t.txt").write_bytes(b"line1\nline2\n")
    f = server.connect()
    f.sendcmd("TYPE A")
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("REST 6")
    assert f.sendcmd("REST 0").startswith("350")      # 0 is the same in both
    f.sendcmd("TYPE I")
    assert f.sendcmd("REST 6").startswith("350")
    f.sendcmd("TYPE A")                                # switched after REST
    with pytest.raises(ftplib.error_perm, match="^554"):
        retr_raw(f, "t.txt")
    f.sendcmd("TYPE I")
    assert f.sendcmd("REST 6").startswith("350")
    f.sendcmd("TYPE A")
    with pytest.raises(ftplib.error_perm, match="^554"):
        stor_raw(f, "t.txt", b"zz")
    assert (server.root / "t.txt").read_bytes() == b"line1\nline2\n"
    f.sendcmd("TYPE I")
    assert retr_raw(f, "t.txt") == b"line1\nline2\n"    # REST was used up, not carried over
    f.quit()


# 3 ------------------------------------------------------------------------
def test_rest_then_appe_writes_at_the_marker(server):
    (server.root / "r.bin").write_bytes(b"0123456789")
    f = server.connect()
    f.sendcmd("TYPE I")
    assert f.sendcmd("REST 4").startswith("350")
    f.storbinary("APPE r.bin", io.BytesIO(b"ab"))
    assert (server.root / "r.bin").read_bytes() == b"0123ab"
    f.storbinary("APPE r.bin", io.BytesIO(b"+"))      # without REST: the end, as before
    assert (server.root / "r.bin").read_bytes() == b"0123ab+"
    f.sendcmd("REST 99")
    with pytest.raises(ftplib.error_perm, match="^554"):
        f.storbinary("APPE r.bin", io.BytesIO(b"x"))
    assert (server.root / "r.bin").read_bytes() == b"0123ab+"
    f.quit()


# 4 ------------------------------------------------------------------------
def test_failed_uploads_leave_the_disk_alone(server):
    (server.root / "keep.txt").write_bytes(b"precious")
    f = server.connect()
    f.sendcmd("TYPE I")
    # no data connection announced at all
    with pytest.raises(ftplib.error_temp, match="^425"):
        f.sendcmd("APPE new.txt")
    assert not (server.root / "new.txt").exists()
    f.sendcmd("REST 3")
    with pytest.raises(ftplib.error_temp, match="^425"):
        f.sendcmd("STOR keep.txt")
    assert (server.root / "keep.txt").read_bytes() == b"precious"
    # a data connection that fails to open: PORT to a port nobody listens on
    for verb in ("APPE new.txt", "STOR keep.txt"):
        port = free_port()
        f.sendcmd("PORT 127,0,0,1,%d,%d" % (port >> 8, port & 255))
        f.sendcmd("REST 3") if verb.startswith("STOR") else None
        f.putcmd(verb)
        assert f.getresp().startswith("150")
        with pytest.raises(ftplib.error_temp, match="^425"):
            f.getresp()
    assert not (server.root / "new.txt").exists()
    assert (server.root / "keep.txt").read_bytes() == b"precious"
    assert sorted(os.listdir(server.root)) == ["keep.txt"]      # no temporaries left either
    f.quit()


# 5 ------------------------------------------------------------------------
def test_opts_mlst_and_feat(server):
    (server.root / "f.txt").write_bytes(b"hello")
    f = server.connect()
    assert f.sendcmd("OPTS MLST type;size;").startswith("200 MLST OPTS type;size;")
    feat = f.sendcmd("FEAT")
    assert "\n MLST type*;size*;modify;perm;UNIX.mode;unique;UNIX.uid;UNIX.gid;\n" in feat, feat
    for bad in ("OPTS MLST type;;", "OPTS MLST type;size", "OPTS MLST ty pe;", "OPTS MLST a/b;"):
        with pytest.raises(ftplib.error_perm, match="^501"):
            f.sendcmd(bad)
    m = f.sendcmd("MLST f.txt").splitlines()[1]
    assert m == " type=file;size=5; /f.txt"                       # the selection was kept
    assert "\n MLST type*;size*;modify;" in f.sendcmd("FEAT")
    assert f.sendcmd("OPTS MLST").startswith("200")               # an empty list selects none
    assert f.sendcmd("MLST f.txt").splitlines()[1] == "  /f.txt"
    assert "\n MLST type;size;modify;perm;UNIX.mode;unique;UNIX.uid;UNIX.gid;\n" in f.sendcmd("FEAT")
    f.quit()


# 6 ------------------------------------------------------------------------
def test_rein_does_not_reset_the_prelogin_cap(make_server):
    srv = make_server(extra=["--max-prelogin-commands", "6"])
    s, f = raw(srv)
    replies = [cmd(s, f, b"REIN") for _ in range(5)]
    assert all(r.startswith(b"220") for r in replies), replies
    assert cmd(s, f, b"NOOP").startswith(b"200")                   # the 6th
    assert cmd(s, f, b"REIN").startswith(b"421")                   # the 7th: over the cap
    assert f.readline() == b""
    s.close()
    # after a real login, REIN opens a fresh pre-login window
    s, f = raw(srv)
    assert cmd(s, f, b"USER alice").startswith(b"331")
    assert cmd(s, f, b"PASS wonderland").startswith(b"230")
    for _ in range(5):
        assert cmd(s, f, b"REIN").startswith(b"220")
        assert cmd(s, f, b"USER alice").startswith(b"331")
        assert cmd(s, f, b"PASS wonderland").startswith(b"230")
    s.close()


def test_rein_does_not_reset_the_login_timer(make_server):
    srv = make_server(extra=["--login-timeout", str(1.5 * SLOW)])
    s, f = raw(srv, timeout=20)
    t0 = time.monotonic()
    deadline = t0 + 15 * SLOW
    line = b""
    while time.monotonic() < deadline:
        line = cmd(s, f, b"REIN")
        if not line.startswith(b"220"):
            break
        time.sleep(0.25)                                            # 6 REINs a timeout: under the cap
    assert line.startswith(b"421 Login timeout"), line              # the timer ran out regardless
    assert f.readline() == b""
    s.close()


# 7 ------------------------------------------------------------------------
def test_cdup_at_root_and_mdtm_on_non_files(server):
    (server.root / "sub").mkdir()
    (server.root / "sub" / "a.txt").write_text("a")
    os.mkfifo(server.root / "fifo")
    f = server.connect()
    assert f.sendcmd("CDUP").startswith("250")
    assert f.pwd() == "/"
    assert f.cwd("..").startswith("250")
    assert f.cwd("../../..").startswith("250")
    assert f.pwd() == "/"
    assert f.cwd("../sub").startswith("250")
    assert f.pwd() == "/sub"
    assert f.sendcmd("CDUP").startswith("250")
    assert f.pwd() == "/"
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.retrbinary("RETR ../sub/a.txt", lambda b: None)   # only CWD/CDUP are clamped
    assert f.sendcmd("MDTM sub/a.txt").startswith("213")
    for p in ("sub", "/", "fifo"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.sendcmd("MDTM " + p)
    f.quit()


# 8 ------------------------------------------------------------------------
def test_telnet_noise_before_and_inside_a_verb(server):
    s, f = raw(server)
    assert cmd(s, f, b"\xf4\xf2NOOP").startswith(b"200")            # bare IP, DM
    assert cmd(s, f, b"\xff\xf4\xff\xf2NOOP").startswith(b"200")    # IAC IP IAC DM
    assert cmd(s, f, b"N\xffOOP").startswith(b"200")                # IAC then a non-command: only IAC goes
    assert cmd(s, f, b"\xff\xfb\x01NOOP").startswith(b"200")        # IAC WILL ECHO
    s.close()


# 9 ------------------------------------------------------------------------
def test_unique_and_unix_owner_facts(server):
    (server.root / "f.txt").write_bytes(b"hello")
    os.link(server.root / "f.txt", server.root / "hard.txt")
    (server.root / "g.txt").write_bytes(b"x")
    f = server.connect()
    feat = f.sendcmd("FEAT")
    assert "unique*;UNIX.uid*;UNIX.gid*;" in feat
    facts = {name: fx for name, fx in f.mlsd()}
    st = os.stat(server.root / "f.txt")
    assert facts["f.txt"]["unix.uid"] == str(st.st_uid) and facts["f.txt"]["unix.gid"] == str(st.st_gid)
    assert facts["f.txt"]["unique"] == facts["hard.txt"]["unique"]
    assert facts["f.txt"]["unique"] != facts["g.txt"]["unique"]
    assert f.sendcmd("OPTS MLST unique;UNIX.uid;").startswith("200 MLST OPTS unique;UNIX.uid;")
    line = f.sendcmd("MLST f.txt").splitlines()[1]
    assert line.startswith(" unique=") and ";UNIX.uid=%d; /f.txt" % st.st_uid in line
    f.quit()


def test_site_help_and_bare_chmod(server):
    f = server.connect()
    assert f.sendcmd("SITE HELP CHMOD").startswith("214 Syntax: SITE CHMOD")
    assert f.sendcmd("SITE HELP chmod").startswith("214 Syntax: SITE CHMOD")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("SITE HELP FROB")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("SITE CHMOD")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("SITE CHMOD 644")
    with pytest.raises(ftplib.error_perm, match="^500"):
        f.sendcmd("SITE FROB")
    assert f.sendcmd("SITE HELP").startswith("214-")
    f.quit()


# 10 -----------------------------------------------------------------------
def big_download(server, size):
    data = os.urandom(size)
    (server.root / "big.bin").write_bytes(data)
    f = server.connect()
    f.sendcmd("TYPE I")
    conn = f.transfercmd("RETR big.bin")
    conn.settimeout(20 * SLOW)
    first = conn.recv(1 << 16)                 # the transfer is under way
    return f, conn, data, first


def drain(conn, got):
    chunks = [got]
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        chunks.append(b)
    conn.close()
    return b"".join(chunks)


def test_rein_during_a_transfer(server):
    f, conn, data, first = big_download(server, 24 << 20)
    f.putcmd("REIN")
    assert f.getresp().startswith("220")       # at once, while the data still flows
    got = drain(conn, first)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    assert f.getresp().startswith("226")       # the transfer finished
    with pytest.raises(ftplib.error_perm, match="^530"):
        f.pwd()                                # and the login is gone
    f.login("alice", "wonderland")
    assert f.pwd() == "/"
    f.quit()
