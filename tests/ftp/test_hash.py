"""HASH (draft-bryan-ftpext-hash-02): FEAT, OPTS HASH, the 213 reply with the
right digest for each algorithm, and the same authorization as RETR."""
import ftplib
import hashlib
import os

import pytest

from conftest import add_user

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
