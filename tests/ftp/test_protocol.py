"""Protocol conformance with Python's ftplib: every verb the server lists."""
import ftplib
import hashlib
import io
import os
import socket
import time

import pytest

from conftest import MODEL, SLOW


def sha(b):
    return hashlib.sha256(b).hexdigest()


def test_greeting_syst_feat_help(server):
    f = server.connect(user=None)
    assert f.getwelcome().startswith("220 ")
    assert f.sendcmd("SYST") == "215 UNIX Type: L8"
    feat = f.sendcmd("FEAT")
    assert feat.startswith("211-") and feat.endswith("211 End")
    for x in ("EPSV", "EPRT", "MDTM", "MLST type*;size*;modify*;perm*;UNIX.mode*;unique*;UNIX.uid*;UNIX.gid*;", "RANG STREAM", "REST STREAM", "SIZE", "UTF8"):
        assert "\n " + x in feat
    h = f.sendcmd("HELP")
    assert h.startswith("214-") and "RETR" in h and "MLSD" in h
    assert f.sendcmd("HELP retr").startswith("214 Syntax: RETR")
    assert f.sendcmd("NOOP").startswith("200")
    st = f.sendcmd("STAT")
    assert st.startswith("211-") and "Not logged in" in st
    f.quit()


def test_login_required_and_user_pass_order(server):
    f = server.connect(user=None)
    with pytest.raises(ftplib.error_perm, match="^530"):
        f.sendcmd("PWD")
    with pytest.raises(ftplib.error_perm, match="^503"):
        f.sendcmd("PASS x")
    assert f.sendcmd("USER alice").startswith("331")
    assert f.sendcmd("PASS wonderland").startswith("230")
    assert f.pwd() == "/"
    assert f.sendcmd("REIN").startswith("220")
    with pytest.raises(ftplib.error_perm, match="^530"):
        f.pwd()
    f.login("bob", "builder")
    assert "bob.txt" in f.nlst()
    f.quit()


def test_unknown_and_bad_commands(server):
    f = server.connect()
    with pytest.raises(ftplib.error_perm, match="^500"):
        f.sendcmd("XYZZY")
    with pytest.raises(ftplib.error_perm, match="^500"):
        f.sendcmd("R3TR x")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("RETR")
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("TYPE E")
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("MODE C")
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("STRU R")
    assert f.sendcmd("MODE S").startswith("200")
    assert f.sendcmd("STRU F").startswith("200")
    assert f.sendcmd("TYPE L 8").startswith("200")
    assert f.sendcmd("ALLO 100").startswith("202")
    assert f.sendcmd("OPTS UTF8 ON").startswith("200")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("OPTS FOO")
    assert f.sendcmd("quit").startswith("221")   # verbs are case-insensitive


def test_roundtrip_binary_checksums(server):
    f = server.connect()
    data = os.urandom(3 * 1024 * 1024 + 17)
    f.storbinary("STOR big.bin", io.BytesIO(data))
    assert (server.root / "big.bin").read_bytes() == data
    assert f.size("big.bin") == len(data)
    out = io.BytesIO()
    f.retrbinary("RETR big.bin", out.write)
    assert sha(out.getvalue()) == sha(data)
    empty = io.BytesIO()
    f.storbinary("STOR empty", io.BytesIO(b""))
    f.retrbinary("RETR empty", empty.write)
    assert empty.getvalue() == b"" and (server.root / "empty").stat().st_size == 0
    f.quit()


def test_big_uploads_in_place_appended_and_over(server):
    """Uploads big enough for the socket-to-file splice (more than one
    256 KiB buffer, sent in one go; in the coroutines model the pool moves
    the pipes into the file): a new file,
    one over an existing file, an APPE (O_APPEND, which splice refuses: the
    copy loop goes on) and a REST+STOR written in place from an offset."""
    f = server.connect()
    a, b, c = os.urandom(5 << 20), os.urandom((2 << 20) + 3), os.urandom(3 << 20)
    f.storbinary("STOR s.bin", io.BytesIO(a), blocksize=1 << 20)
    assert (server.root / "s.bin").read_bytes() == a
    f.storbinary("STOR s.bin", io.BytesIO(b), blocksize=1 << 20)      # over it
    assert (server.root / "s.bin").read_bytes() == b
    f.storbinary("APPE s.bin", io.BytesIO(a), blocksize=1 << 20)
    assert (server.root / "s.bin").read_bytes() == b + a
    f.sendcmd("TYPE I")
    f.storbinary("STOR s.bin", io.BytesIO(c), blocksize=1 << 20, rest=1 << 20)
    assert (server.root / "s.bin").read_bytes() == b[:1 << 20] + c
    assert sorted(p.name for p in server.root.iterdir()) == ["s.bin"]   # no temporary left
    f.quit()


def test_active_mode_port_and_eprt(server):
    f = server.connect()
    f.set_pasv(False)
    f.storbinary("STOR act.bin", io.BytesIO(b"active" * 1000))
    out = io.BytesIO()
    f.retrbinary("RETR act.bin", out.write)
    assert out.getvalue() == b"active" * 1000
    f.af = socket.AF_INET6  # make ftplib use EPRT (it picks by family)
    with pytest.raises(ftplib.error_perm, match="^(500|522)"):
        f.sendcmd("EPRT |2|::1|5000|")
    f.af = socket.AF_INET
    r = f.sendcmd("EPRT |1|127.0.0.1|5000|")
    assert r.startswith("200")
    f.quit()


def test_epsv_and_epsv_all(server):
    f = server.connect()
    r = f.sendcmd("EPSV")
    assert r.startswith("229") and "(|||" in r
    assert f.sendcmd("EPSV ALL").startswith("200")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("PASV")
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("PORT 127,0,0,1,200,10")
    with pytest.raises(ftplib.error_perm, match="^522"):
        f.sendcmd("EPSV 2")
    f.quit()


def test_ipv6_loopback(make_server, tmp_path):
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.fail("this machine has no IPv6 loopback; the IPv6 test needs ::1")
    from conftest import free_port
    port = free_port("::1")
    srv = make_server(start=False, listen=[f"[::1]:{port}"])
    srv.host, srv.port = "::1", port
    srv.start()
    f = srv.connect()
    f.storbinary("STOR six.txt", io.BytesIO(b"over ipv6\n"))
    assert f.sendcmd("EPSV").startswith("229")
    out = io.BytesIO()
    f.retrbinary("RETR six.txt", out.write)
    assert out.getvalue() == b"over ipv6\n"
    with pytest.raises(ftplib.error_temp, match="^425"):
        f.sendcmd("PASV")  # PASV cannot describe an IPv6 address
    f.set_pasv(False)  # active mode over IPv6: EPRT |2|::1|...|
    out = io.BytesIO()
    f.retrbinary("RETR six.txt", out.write)
    assert out.getvalue() == b"over ipv6\n"
    f.quit()


def test_ascii_mode_converts_both_ways(server):
    f = server.connect()
    f.storlines("STOR text.txt", io.BytesIO(b"one\ntwo\r\nthree\n"))
    # ftplib sends CRLF line ends; the server stores Unix ones
    assert (server.root / "text.txt").read_bytes() == b"one\ntwo\nthree\n"
    (server.root / "unix.txt").write_bytes(b"a\nb\n")
    raw = []
    f.sendcmd("TYPE A")
    with pytest.raises(ftplib.error_perm, match="^550.*ASCII"):
        f.size("unix.txt")
    conn = f.transfercmd("RETR unix.txt")
    while True:
        b = conn.recv(1000)
        if not b:
            break
        raw.append(b)
    conn.close()
    assert f.voidresp().startswith("226")
    assert b"".join(raw) == b"a\r\nb\r\n"
    f.sendcmd("TYPE I")
    assert f.size("unix.txt") == 4
    f.quit()


def test_resume_download_and_upload(server):
    f = server.connect()
    data = os.urandom(200000)
    (server.root / "r.bin").write_bytes(data)
    out = io.BytesIO()
    f.retrbinary("RETR r.bin", out.write, rest=150000)
    assert out.getvalue() == data[150000:]
    with pytest.raises(ftplib.error_perm, match="^554"):
        f.retrbinary("RETR r.bin", out.write, rest=999999)
    (server.root / "u.bin").write_bytes(data[:120000] + b"garbage")
    f.storbinary("STOR u.bin", io.BytesIO(data[120000:]), rest=120000)
    assert (server.root / "u.bin").read_bytes() == data
    f.storbinary("APPE u.bin", io.BytesIO(b"tail"))
    assert (server.root / "u.bin").read_bytes() == data + b"tail"
    f.storbinary("APPE new.bin", io.BytesIO(b"fresh"))
    assert (server.root / "new.bin").read_bytes() == b"fresh"
    with pytest.raises(ftplib.error_perm, match="^554"):
        f.storbinary("STOR missing.bin", io.BytesIO(b"x"), rest=10)
    assert not (server.root / "missing.bin").exists()
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("REST -5")
    f.quit()


def test_directories_rename_delete(server):
    f = server.connect()
    assert f.mkd("d1") == "/d1"
    assert f.mkd("/d1/sub") == "/d1/sub"
    f.cwd("d1")
    assert f.pwd() == "/d1"
    f.cwd("sub")
    f.sendcmd("CDUP")
    assert f.pwd() == "/d1"
    assert f.sendcmd("XPWD").startswith('257 "/d1"')
    f.storbinary("STOR a.txt", io.BytesIO(b"A"))
    f.rename("a.txt", "b.txt")
    assert (server.root / "d1" / "b.txt").read_bytes() == b"A"
    assert not (server.root / "d1" / "a.txt").exists()
    with pytest.raises(ftplib.error_perm, match="^503"):
        f.sendcmd("RNTO x")
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.sendcmd("RNFR missing")
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.rmd("/d1")  # not empty
    f.delete("b.txt")
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.delete("b.txt")
    f.rmd("sub")
    f.cwd("/")
    f.sendcmd("XRMD d1")
    assert not (server.root / "d1").exists()
    assert f.sendcmd('XMKD q"uote').startswith('257 "/q""uote" created')
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.cwd("nope")
    f.quit()


def test_unicode_and_spaces(server):
    f = server.connect()
    name = "naïve file ✓ 日本.txt"
    f.storbinary(f"STOR {name}", io.BytesIO(b"utf8"))
    assert (server.root / name).read_bytes() == b"utf8"
    assert name in f.nlst()
    f.mkd("dir with  two spaces")
    f.cwd("dir with  two spaces")
    assert f.pwd() == "/dir with  two spaces"
    f.cwd("/")
    out = io.BytesIO()
    f.retrbinary(f"RETR {name}", out.write)
    assert out.getvalue() == b"utf8"
    f.quit()


def test_mlsd_mlst_list(server):
    f = server.connect()
    (server.root / "sub").mkdir()
    (server.root / "f.txt").write_bytes(b"12345")
    os.utime(server.root / "f.txt", (1600000000, 1600000000))
    entries = dict(f.mlsd())
    assert entries["f.txt"]["type"] == "file" and entries["f.txt"]["size"] == "5"
    assert entries["f.txt"]["modify"] == "20200913122640"
    assert entries["f.txt"]["unix.mode"] == "0644" or entries["f.txt"]["unix.mode"].startswith("0")
    assert set(entries["f.txt"]["perm"]) >= set("radfw")
    assert entries["sub"]["type"] == "dir"
    assert any(v["type"] == "cdir" for v in entries.values())
    m = f.sendcmd("MLST f.txt")
    assert m.startswith("250-") and "type=file;size=5;" in m and m.rstrip().endswith("250 End.")
    assert f.sendcmd("OPTS MLST size;type;").startswith("200 MLST OPTS type;size;")
    assert "modify=" not in f.sendcmd("MLST f.txt")
    lines = []
    f.retrlines("LIST", lines.append)
    ftxt = [l for l in lines if l.endswith(" f.txt")][0]
    assert ftxt.startswith("-rw-") and " 5 Sep 13  2020 f.txt" in ftxt
    assert [l for l in lines if l.endswith(" sub")][0].startswith("d")
    lines = []
    f.retrlines("LIST -la", lines.append)
    assert any(l.endswith(" f.txt") for l in lines)
    lines = []
    f.retrlines("LIST f.txt", lines.append)
    assert len(lines) == 1 and lines[0].endswith(" f.txt")
    with pytest.raises(ftplib.error_perm, match="^501"):
        list(f.mlsd("f.txt"))
    st = f.sendcmd("STAT /")
    assert st.startswith("213-") and " f.txt" in st
    f.quit()


def test_size_mdtm_mfmt_chmod(server):
    f = server.connect()
    (server.root / "t.txt").write_bytes(b"x" * 10)
    f.sendcmd("TYPE I")
    assert f.sendcmd("SIZE t.txt") == "213 10"
    r = f.sendcmd("MFMT 20200102030405 t.txt")
    assert r.startswith("213 Modify=20200102030405")
    assert f.sendcmd("MDTM t.txt") == "213 20200102030405"
    assert int((server.root / "t.txt").stat().st_mtime) == 1577934245
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("MFMT 2020 t.txt")
    assert f.sendcmd("SITE CHMOD 600 t.txt").startswith("200")
    assert (server.root / "t.txt").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("SITE CHMOD 9z t.txt")
    assert f.sendcmd("SITE HELP").startswith("214")
    with pytest.raises(ftplib.error_perm, match="^550"):
        f.sendcmd("SIZE /")
    f.quit()


def test_stou(server):
    f = server.connect()
    (server.root / "up").write_bytes(b"old")
    conn, _ = f.ntransfercmd("STOU up")
    conn.sendall(b"new1")
    conn.close()
    r = f.voidresp()
    assert "up.1" in r
    assert (server.root / "up").read_bytes() == b"old"
    assert (server.root / "up.1").read_bytes() == b"new1"
    f.quit()


def test_permissions_anonymous_and_readonly(server):
    (server.root / "pub.txt").write_bytes(b"public")
    a = server.connect("anonymous", "guest@example.com")
    out = io.BytesIO()
    a.retrbinary("RETR pub.txt", out.write)
    assert out.getvalue() == b"public"
    for cmd in ("STOR x", "APPE pub.txt", "DELE pub.txt", "MKD d", "RNFR pub.txt", "SITE CHMOD 777 pub.txt",
                "MFMT 20200101000000 pub.txt"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            if cmd.startswith(("STOR", "APPE")):
                a.storbinary(cmd, io.BytesIO(b"no"))
            else:
                a.sendcmd(cmd)
    assert (server.root / "pub.txt").read_bytes() == b"public"
    assert not (server.root / "x").exists()
    a.quit()
    b = server.connect("bob", "builder")
    assert b.nlst() == ["bob.txt"]  # bob's own home, not the root
    with pytest.raises(ftplib.error_perm, match="^550"):
        b.delete("bob.txt")
    b.quit()


def start_big_download(server, size):
    """A logged-in client, the data connection of a RETR under way, and how
    many bytes of it have been read (recv may return fewer than asked)."""
    (server.root / "huge.bin").write_bytes(os.urandom(size))
    f = server.connect()
    f.sendcmd("TYPE I")
    conn = f.transfercmd("RETR huge.bin")
    first = len(conn.recv(65536))
    return f, conn, first


def test_abor_mid_transfer(server):
    f, conn, _ = start_big_download(server, 64 << 20)
    # ftplib's abort(): ABOR as urgent data; the server must answer 426 then 226
    resp = f.abort()
    assert resp.startswith("426") or resp.startswith("226"), resp
    if resp.startswith("426"):
        assert f.getresp().startswith("226")
    conn.close()
    assert f.sendcmd("NOOP").startswith("200")
    assert f.sendcmd("ABOR").startswith("225")  # nothing to abort now
    f.quit()


def test_stat_and_quit_during_transfer(server):
    f, conn, got = start_big_download(server, 32 << 20)
    f.putcmd("STAT")
    r = f.getresp()
    assert r.startswith("213") and "bytes transferred" in r
    f.putcmd("QUIT")
    assert f.getresp().startswith("221")      # at once, while the data still flows
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        got += len(b)
    conn.close()
    assert got == 32 * 1024 * 1024
    assert f.getresp().startswith("226")      # the transfer's result, then the close
    assert f.file.readline() == ""


def test_upload_failure_keeps_old_file(server):
    (server.root / "keep.txt").write_bytes(b"precious")
    f = server.connect()
    conn = f.transfercmd("STOR keep.txt")
    conn.sendall(b"partial")
    f.abort_sent = True
    f.putcmd("ABOR")  # abort the upload: nothing replaces the old file
    conn.close()
    r = f.getmultiline()
    assert r.startswith("426") or r.startswith("226"), r
    if r.startswith("426"):
        assert f.getmultiline().startswith("226")
    time.sleep(0.1)
    assert (server.root / "keep.txt").read_bytes() == b"precious"
    assert [p.name for p in server.root.iterdir()] == ["keep.txt"]  # no temporary left
    f.quit()


def test_xferlog_written(server):
    f = server.connect()
    f.storbinary("STOR log me.txt", io.BytesIO(b"abc"))
    f.retrbinary("RETR log me.txt", lambda b: None)
    f.quit()
    lines = server.xferlog.read_text().splitlines()
    assert len(lines) == 2
    up, down = lines[0].split(), lines[1].split()
    # date (5 fields), seconds, host, bytes, name, type, action, direction, access, user, ...
    assert up[6] == "127.0.0.1" and up[7] == "3" and up[8] == "/log_me.txt" and up[9:12] == ["b", "_", "i"]
    assert up[12] == "r" and up[13] == "alice" and up[-1] == "c"
    assert down[11] == "o"


def test_pipelined_commands_during_transfer_run_in_order(server):
    f, conn, got = start_big_download(server, 8 << 20)
    # a pipelining client sends its next commands before the transfer ends
    f.sock.sendall(b"NOOP\r\nPWD\r\nSTAT\r\n")
    first = f.getmultiline()
    assert first.startswith("213") and "bytes transferred" in first   # STAT: answered at once
    while True:
        b = conn.recv(1 << 20)
        if not b:
            break
        got += len(b)
    conn.close()
    assert got == 8 << 20
    assert f.getmultiline().startswith("226")
    assert f.getmultiline().startswith("200")                  # NOOP, after the transfer
    assert f.getmultiline().startswith('257 "/"')              # PWD
    f.quit()


# Passive ranges lie below the kernel's ephemeral range (32768-60999 by
# default), where no client socket of a concurrently running suite can sit on
# them, and each model has its own so the three runs never compete.
PASV_BASE = 30100 + 16 * ["threads", "fork", "coroutines"].index(MODEL)


def test_pasv_ports_and_address(make_server):
    lo, hi = PASV_BASE, PASV_BASE + 3
    srv = make_server(extra=["--pasv-ports", f"{lo}-{hi}", "--pasv-address", "10.1.2.3"])
    f = srv.connect()
    seen = set()
    for _ in range(12):
        r = f.sendcmd("PASV")
        nums = r[r.index("(") + 1:r.index(")")].split(",")
        assert nums[:4] == ["10", "1", "2", "3"]          # the NAT address is announced
        port = int(nums[4]) * 256 + int(nums[5])
        assert lo <= port <= hi
        seen.add(port)
        e = f.sendcmd("EPSV")
        assert lo <= int(e.split("|")[3]) <= hi
    assert len(seen) > 1                                   # ports are spread over the range
    # the data connection itself still works (the client connects to the real address)
    f.sendcmd("TYPE I")
    (srv.root / "p.txt").write_bytes(b"pasv range")
    r = f.sendcmd("EPSV")
    port = int(r.split("|")[3])
    conn = socket.create_connection(("127.0.0.1", port))
    f.sendcmd("RETR p.txt")
    assert conn.recv(100) == b"pasv range"
    conn.close()
    assert f.voidresp().startswith("226")
    f.quit()


def test_default_pasv_ports_are_random_from_the_ephemeral_range(server):
    # Without --pasv-ports the server picks the port itself (bind() to port
    # 0 walks every port in TIME_WAIT): a random one of the kernel's range.
    lo, hi = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
    f = server.connect()
    ports = [int(f.sendcmd("EPSV").split("|")[3]) for _ in range(20)]
    assert all(lo <= p <= hi for p in ports), ports
    assert len(set(ports)) >= 15, ports                  # not one port, nor a short cycle
    steps = {b - a for a, b in zip(ports, ports[1:])}
    assert len(steps) > 5, ports                         # nor a sequence
    (server.root / "r.txt").write_bytes(b"random port")
    f.sendcmd("TYPE I")
    got = bytearray()
    f.retrbinary("RETR r.txt", got.extend)                 # and it carries a transfer
    assert bytes(got) == b"random port"
    f.quit()


def test_small_pasv_range_survives_time_wait(make_server):
    # Each finished transfer leaves its port in TIME_WAIT for a minute; a
    # two-port range must still serve many transfers in a row.
    lo = PASV_BASE + 8
    srv = make_server(extra=["--pasv-ports", f"{lo}-{lo + 1}"])
    (srv.root / "t.bin").write_bytes(b"x" * 5000)
    f = srv.connect()
    for i in range(10):
        got = bytearray()
        f.retrbinary("RETR t.bin", got.extend)
        assert bytes(got) == b"x" * 5000, i
        assert lo <= int(f.sendcmd("EPSV").split("|")[3]) <= lo + 1
    f.quit()


def epsv_port(f):
    return int(f.sendcmd("EPSV").split("|")[3])


def retr_on(f, port, name):
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    f.sendcmd(f"RETR {name}")
    got = bytearray()
    while b := conn.recv(65536):
        got += b
    conn.close()
    assert f.voidresp().startswith("226")
    return bytes(got)


def test_busy_session_keeps_its_passive_listener(server):
    """A session's next EPSV right after a transfer arms the listener the
    last data connection came through again (the same port); the kept
    listener carries no transfer of its own until armed (425), is not
    "waiting" in STAT, and whatever queued on it meanwhile is dropped, not
    taken for the next data connection. (The commands are pipelined behind
    the RETR: a session idle for a moment gives its listener back.)"""
    (server.root / "k.bin").write_bytes(b"kept" * 1000)
    f = server.connect()
    f.sendcmd("TYPE I")

    def read_all(conn):
        got = bytearray()
        while b := conn.recv(65536):
            got += b
        conn.close()
        return bytes(got)
    p1 = epsv_port(f)
    conn = socket.create_connection(("127.0.0.1", p1), timeout=10)
    f.sock.sendall(b"RETR k.bin\r\nRETR k.bin\r\nEPSV\r\n")
    assert read_all(conn) == b"kept" * 1000
    assert f.getresp().startswith("150") and f.getresp().startswith("226")
    with pytest.raises(ftplib.error_temp, match="425"):
        f.getresp()                                      # kept, not armed
    p2 = int(f.getresp().split("|")[3])
    assert p2 == p1
    conn = socket.create_connection(("127.0.0.1", p2), timeout=10)
    stale = socket.create_connection(("127.0.0.1", p2), timeout=10)   # queued behind it
    f.sock.sendall(b"RETR k.bin\r\nEPSV\r\n")
    assert read_all(conn) == b"kept" * 1000
    assert f.getresp().startswith("150") and f.getresp().startswith("226")
    p3 = int(f.getresp().split("|")[3])
    assert p3 == p1
    assert stale.recv(10) == b""                         # dropped at the EPSV
    stale.close()
    assert retr_on(f, p3, "k.bin") == b"kept" * 1000
    assert "No data connection" in f.sendcmd("STAT")     # kept or given back: not waiting
    f.quit()


def listening(port):
    """Whether some socket listens on this local port (the kernel's own
    tables: a probe by connecting would queue on a listener nobody
    accepts on, and then time out as if it were gone)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                return True
    return False


def test_idle_session_gives_its_passive_listener_back(server):
    """A session that waits for its next command gives back the listener
    of its last transfer (after a wait slice: at most about a second), so
    idle sessions hold no ports."""
    (server.root / "i.bin").write_bytes(b"idle")
    f = server.connect()
    f.sendcmd("TYPE I")
    port = epsv_port(f)
    assert retr_on(f, port, "i.bin") == b"idle"
    deadline = time.monotonic() + 10 * SLOW
    while listening(port):
        assert time.monotonic() < deadline, "the kept listener stayed open on an idle session"
        time.sleep(0.05)
    p2 = epsv_port(f)                                    # a fresh one, and it works
    assert listening(p2)
    assert retr_on(f, p2, "i.bin") == b"idle"
    f.quit()


def test_busy_session_gives_its_passive_listener_back_after_other_commands(server):
    """A session that goes on with other commands (a mirror's SIZE, MDTM)
    keeps its listener for four of them, not more. (Pipelined: no wait
    slice passes in between.)"""
    (server.root / "m.bin").write_bytes(b"mirror")
    f = server.connect()
    f.sendcmd("TYPE I")
    for others, same in ((4, True), (5, False)):
        p1 = epsv_port(f)
        conn = socket.create_connection(("127.0.0.1", p1), timeout=10)
        f.sock.sendall(b"RETR m.bin\r\n" + b"SIZE m.bin\r\n" * others + b"EPSV\r\n")
        assert conn.recv(100) == b"mirror"
        conn.close()
        assert f.getresp().startswith("150") and f.getresp().startswith("226")
        for _ in range(others):
            assert f.getresp() == "213 6"
        p2 = int(f.getresp().split("|")[3])
        assert (p2 == p1) == same, (others, p1, p2)
        conn = socket.create_connection(("127.0.0.1", p2), timeout=10)
        f.sendcmd("RETR m.bin")
        assert conn.recv(100) == b"mirror"
        conn.close()
        assert f.voidresp().startswith("226")
    f.quit()
