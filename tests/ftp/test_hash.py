"""HASH (draft-bryan-ftpext-hash-02): FEAT, OPTS HASH, the 213 reply with the
right digest for each algorithm, and the same authorization as RETR."""
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
    """Waits until the coarse clock has left the tick of path's ctime, so the
    server may remember a digest of it (digests.c)."""
    ctime = os.stat(path).st_ctime_ns
    deadline = time.monotonic() + 10
    while time.clock_gettime_ns(CLOCK_REALTIME_COARSE) <= ctime:
        assert time.monotonic() < deadline, "the coarse clock did not move"
        time.sleep(0.001)


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
