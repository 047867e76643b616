"""HASH (draft-bryan-ftpext-hash-02): FEAT, OPTS HASH, the 213 reply with the
right digest for each algorithm, and the same authorization as RETR; the
digest cache; and RANG (draft-bryan-ftp-range-08) for RETR and HASH."""
import ftplib
import io
import hashlib
import os
import time

import pytest

from conftest import add_user

CLOCK_REALTIME_COARSE = getattr(time, "CLOCK_REALTIME_COARSE", 5)   # <linux/time.h>
ALGOS = {"SHA-256": hashlib.sha256, "SHA-512": hashlib.sha512, "SHA-1": hashlib.sha1, "MD5": hashlib.md5}


def feat_hash_line(f):
    lines = [l.strip() for l in f.sendcmd("FEAT").splitlines()]
    hits = [l for l in lines if l.startswith("HASH ")]
    assert len(hits) == 1, lines
    return hits[0]


def test_feat_and_opts_select_the_algorithm(server):
    f = server.connect()
    assert feat_hash_line(f) == "HASH SHA-256*;SHA-512;SHA-1;MD5"
    assert f.sendcmd("OPTS HASH") == "200 SHA-256"
    assert f.sendcmd("OPTS HASH sha-512") == "200 SHA-512"
    assert feat_hash_line(f) == "HASH SHA-256;SHA-512*;SHA-1;MD5"
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("OPTS HASH CRC32")
    assert f.sendcmd("OPTS HASH") == "200 SHA-512"          # the selection stays
    f.sendcmd("REIN")                                        # a new login starts afresh
    f.login("alice", "wonderland")
    assert f.sendcmd("OPTS HASH") == "200 SHA-256"
    f.quit()


@pytest.mark.parametrize("size", [0, 1, 65536 * 3 + 17, 3 << 20])
def test_hash_of_each_algorithm(server, size):
    data = os.urandom(size)
    sub = server.root / "d"
    sub.mkdir(exist_ok=True)
    (sub / "f.bin").write_bytes(data)
    f = server.connect()
    f.cwd("d")
    for name, fn in ALGOS.items():
        f.sendcmd("OPTS HASH " + name)
        assert f.sendcmd("HASH f.bin") == f"213 {name} 0-{size} {fn(data).hexdigest()} f.bin"
    assert f.sendcmd("HASH /d/f.bin").split()[3] == hashlib.md5(data).hexdigest()   # absolute path
    f.quit()


def test_hash_refusals(make_server, tmp_path):
    srv = make_server(start=False)
    add_user(srv.users, "lister", "pw", perms="el")          # may list, may not read
    srv.start()
    (srv.root / "f.txt").write_text("x")
    (srv.root / "dir").mkdir()
    os.mkfifo(srv.root / "fifo")
    f = srv.connect()
    for arg in ("missing", "dir", "fifo", "../../../../etc/passwd"):
        with pytest.raises(ftplib.error_perm, match="^550"):
            f.sendcmd("HASH " + arg)
    with pytest.raises(ftplib.error_perm, match="^501"):
        f.sendcmd("HASH")
    f.quit()
    g = ftplib.FTP()
    g.connect(srv.host, srv.port)
    with pytest.raises(ftplib.error_perm, match="^530"):   # before login
        g.sendcmd("HASH f.txt")
    g.login("lister", "pw")
    assert "f.txt" in g.nlst()
    with pytest.raises(ftplib.error_perm, match="^550"):   # the RETR permission
        g.sendcmd("HASH f.txt")
    with pytest.raises(ftplib.error_perm, match="^550"):
        g.retrbinary("RETR f.txt", lambda b: None)
    g.quit()
    a = ftplib.FTP()
    a.connect(srv.host, srv.port)
    a.login()                                                # anonymous read-only: may hash
    assert a.sendcmd("HASH f.txt").split()[3] == hashlib.sha256(b"x").hexdigest()
    a.quit()


def wait_past_ctime(path):
    """Waits until the coarse clock is a second past path's ctime, so the
    server may remember a digest of it (digests.c)."""
    ctime = os.stat(path).st_ctime_ns
    deadline = time.monotonic() + 10
    while time.clock_gettime_ns(CLOCK_REALTIME_COARSE) <= ctime + 1_000_000_000:
        assert time.monotonic() < deadline, "the coarse clock did not move"
        time.sleep(0.01)


def cache_hits(srv):
    return srv.log_text().count("from the digest cache")


def test_digest_cache_answers_again_and_never_for_a_changed_file(server):
    path = server.root / "c.bin"
    a = os.urandom(100000)
    path.write_bytes(a)
    wait_past_ctime(path)
    f = server.connect()
    want = f"213 SHA-256 0-{len(a)} {hashlib.sha256(a).hexdigest()} c.bin"
    assert f.sendcmd("HASH c.bin") == want
    assert cache_hits(server) == 0                           # the first one read the file
    assert f.sendcmd("HASH c.bin") == want
    g = server.connect()                                     # another session (process, in fork)
    assert g.sendcmd("HASH c.bin") == want
    assert cache_hits(server) == 2
    f.sendcmd("OPTS HASH SHA-512")                           # another algorithm is its own entry
    assert f.sendcmd("HASH c.bin").split()[3] == hashlib.sha512(a).hexdigest()
    assert cache_hits(server) == 2
    # the same size, rewritten in place: the next HASH reads it, in the same
    # tick or not (a write in the digest's own tick is never remembered)
    b = os.urandom(len(a))
    with open(path, "r+b") as w:
        w.write(b)
    assert g.sendcmd("HASH c.bin").split()[3] == hashlib.sha256(b).hexdigest()
    assert cache_hits(server) == 2
    b2 = bytearray(b)
    b2[5] ^= 1                                               # and once more, right away
    with open(path, "r+b") as w:
        w.write(b2)
    assert g.sendcmd("HASH c.bin").split()[3] == hashlib.sha256(b2).hexdigest()
    # an upload of the same bytes under the name is a new inode
    f.storbinary("STOR c.bin", io.BytesIO(a))
    assert g.sendcmd("HASH c.bin").split()[3] == hashlib.sha256(a).hexdigest()
    assert cache_hits(server) == 2
    f.quit()
    g.quit()


def test_digest_cache_off(make_server):
    srv = make_server(extra=["--hash-cache", "0"])
    path = srv.root / "c.bin"
    path.write_bytes(b"abc")
    wait_past_ctime(path)
    f = srv.connect()
    for _ in range(3):
        assert f.sendcmd("HASH c.bin").split()[3] == hashlib.sha256(b"abc").hexdigest()
    assert cache_hits(srv) == 0
    f.quit()


def retr(f, path):
    out = bytearray()
    f.retrbinary("RETR " + path, out.extend)
    return bytes(out)


def test_rang_for_retr(server):
    data = os.urandom(300_000)
    (server.root / "r.bin").write_bytes(data)
    f = server.connect()
    assert "RANG STREAM" in [l.strip() for l in f.sendcmd("FEAT").splitlines()]
    assert f.sendcmd("RANG 10 19") == "350 Restarting at 10. Ending byte at 19."
    assert retr(f, "r.bin") == data[10:20]
    assert retr(f, "r.bin") == data                          # used up by one transfer
    f.sendcmd("RANG 299990 999999999")                       # an end past the file: to its end
    assert retr(f, "r.bin") == data[299990:]
    f.sendcmd("RANG 299999 9223372036854775807")             # the largest end there is
    assert retr(f, "r.bin") == data[299999:]
    f.sendcmd("RANG 300000 9223372036854775807")
    with pytest.raises(ftplib.error_perm, match="^554"):
        retr(f, "r.bin")
    f.sendcmd("RANG 0 0")
    assert retr(f, "r.bin") == data[:1]
    f.sendcmd("RANG 100 200")
    assert f.sendcmd("RANG 1 0") == "350 Resetting RANG."
    assert retr(f, "r.bin") == data
    f.sendcmd("RANG 100 200")
    f.sendcmd("REST 5")                                      # REST replaces a RANG ...
    assert retr(f, "r.bin") == data[5:]
    f.sendcmd("REST 5")
    f.sendcmd("RANG 7 8")                                    # ... and RANG a REST
    assert retr(f, "r.bin") == data[7:9]
    for bad in ("5 3", "1", "a b", "1 2 3", "-1 2", ""):
        with pytest.raises(ftplib.error_perm, match="^501"):
            f.sendcmd(("RANG " + bad).strip())
    f.sendcmd("RANG 300000 300001")                          # starts past the last byte
    with pytest.raises(ftplib.error_perm, match="^554"):
        retr(f, "r.bin")
    f.sendcmd("RANG 0 9")                                    # no upload with a range
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.storbinary("STOR r.bin", io.BytesIO(b"x"))
    assert (server.root / "r.bin").read_bytes() == data
    f.storbinary("STOR r2.bin", io.BytesIO(b"xyz"))          # the 504 reset it
    f.sendcmd("TYPE A")
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("RANG 0 9")
    f.quit()
    g = ftplib.FTP()
    g.connect(server.host, server.port)
    with pytest.raises(ftplib.error_perm, match="^530"):       # a login first
        g.sendcmd("RANG 0 9")
    g.close()


def test_rang_for_hash_and_its_cache(server):
    data = os.urandom(200_000)
    path = server.root / "h.bin"
    path.write_bytes(data)
    wait_past_ctime(path)
    f = server.connect()
    want = hashlib.sha256(data[1000:2000]).hexdigest()
    f.sendcmd("RANG 1000 1999")
    assert f.sendcmd("HASH h.bin") == f"213 SHA-256 1000-2000 {want} h.bin"
    assert f.sendcmd("HASH h.bin").split()[2] == f"0-{len(data)}"      # used up
    f.sendcmd("RANG 150000 999999")                                     # cut at the end
    assert f.sendcmd("HASH h.bin").split()[2:4] == [f"150000-{len(data)}",
                                                    hashlib.sha256(data[150000:]).hexdigest()]
    f.sendcmd("RANG 200000 200000")
    with pytest.raises(ftplib.error_perm, match="^554"):
        f.sendcmd("HASH h.bin")
    assert cache_hits(server) == 0
    f.sendcmd("RANG 1000 1999")                                        # each range its own entry
    assert f.sendcmd("HASH h.bin").split()[3] == want
    f.sendcmd("RANG 1000 1998")
    assert f.sendcmd("HASH h.bin").split()[3] == hashlib.sha256(data[1000:1999]).hexdigest()
    assert cache_hits(server) == 1
    f.quit()
