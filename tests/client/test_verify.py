"""Verified transfers: against mtftpd's HASH (under each model) and
pyftpd_server.py --hash (pyftpdlib with HASH added, per
draft-bryan-ftpext-hash-02); segments checked range by range where the
server has RANG (mtftpd; pyftpd_server.py --rang), the whole file in order
where not, and read back once where RANG is answered but not honoured; a
lying server (--lie) for the mismatch; a server without HASH for the size
check that -v reports."""
import os

import pytest

from conftest import EX, MODEL

KINDS = ["mtftpd"] + (["pyftpdlib"] if MODEL == "threads" else [])


@pytest.mark.parametrize("kind", KINDS)
def test_hash_verified_get_put(servers, mtftp, kind):
    s = servers(kind, "--hash") if kind == "pyftpdlib" else servers(kind)
    data = os.urandom(1_500_000)
    (s.root / "h.bin").write_bytes(data)
    r = mtftp("-v", "get", s.url("h.bin"))
    assert r.returncode == 0, r.stderr
    assert "--> OPTS HASH SHA-256" in r.stderr or "HASH SHA-256*" in r.stderr
    assert "--> HASH h.bin" in r.stderr and "SHA-256 verified" in r.stderr
    assert (mtftp.work / "h.bin").read_bytes() == data
    r = mtftp("-v", "get", "-s", "3", s.url("h.bin"), "-o", "h3.bin")
    assert r.returncode == 0 and "SHA-256 verified" in r.stderr, r.stderr
    assert (mtftp.work / "h3.bin").read_bytes() == data
    # large enough for the server's hash to be asked on a helper session during
    # the transfer, segmented and not
    big = os.urandom(9 * 1024 * 1024)
    (s.root / "big.bin").write_bytes(big)
    for extra in (["-s", "3"], []):
        r = mtftp("-v", "get", *extra, s.url("big.bin"), "-o", "big.out")
        assert r.returncode == 0 and "SHA-256 verified" in r.stderr, r.stderr
        if extra and kind == "mtftpd":    # RANG: each segment's range checked
            ranges = r.stderr.count("--> RANG ") - r.stderr.count("--> RANG 1 0")
            assert r.stderr.count("--> HASH big.bin") == 3 and ranges == 3, r.stderr
            assert "--> RANG 3145728 6291455" in r.stderr and "verified, 3 ranges" in r.stderr
        else:
            assert r.stderr.count("--> HASH big.bin") == 1
        assert (mtftp.work / "big.out").read_bytes() == big
        (mtftp.work / "big.out").unlink()
    # a file bigger than the buffers many times over, segmented and not
    huge = os.urandom(17 * 1024 * 1024 + 3)
    (s.root / "huge.bin").write_bytes(huge)
    for extra in (["-s", "4"], []):
        r = mtftp("-v", "get", *extra, s.url("huge.bin"), "-o", "huge.out")
        assert r.returncode == 0 and "SHA-256 verified" in r.stderr, r.stderr
        assert (mtftp.work / "huge.out").read_bytes() == huge
        (mtftp.work / "huge.out").unlink()
    (mtftp.work / "up.bin").write_bytes(data[:777_777])
    r = mtftp("-v", "put", "up.bin", s.url("up.bin"))
    assert r.returncode == 0 and "SHA-256 verified" in r.stderr, r.stderr
    assert (s.root / "up.bin").read_bytes() == data[:777_777]


def hash_mismatch(servers, mtftp):
    s = servers("pyftpdlib", "--hash", "--lie")
    (s.root / "m.bin").write_bytes(b"m" * 100_000)
    r = mtftp("get", s.url("m.bin"))
    assert r.returncode == EX["verify"], r.stderr
    assert "SHA-256 mismatch" in r.stderr
    assert not (mtftp.work / "m.bin").exists() and (mtftp.work / "m.bin.part").exists()
    (s.root / "m9.bin").write_bytes(os.urandom(9 * 1024 * 1024))
    r = mtftp("get", "-s", "2", s.url("m9.bin"))
    assert r.returncode == EX["verify"] and "SHA-256 mismatch" in r.stderr, r.stderr
    assert not (mtftp.work / "m9.bin").exists() and (mtftp.work / "m9.bin.part").exists()
    # a server with RANG lying about the last range only: that one is named
    s2 = servers("pyftpdlib", "--hash", "--rang", "--lie", root=s.root)
    r = mtftp("get", "-s", "2", s2.url("m9.bin"), "-o", "m9r.bin")
    assert r.returncode == EX["verify"], r.stderr
    assert "SHA-256 mismatch in bytes 4718592-9437183" in r.stderr, r.stderr
    assert not (mtftp.work / "m9r.bin").exists() and (mtftp.work / "m9r.bin.part").exists()
    (mtftp.work / "u.bin").write_bytes(b"u" * 1000)
    assert mtftp("put", "u.bin", s.url("u.bin")).returncode == EX["verify"]
    # --no-verify: only the size is checked
    r = mtftp("--no-verify", "-v", "get", s.url("m.bin"), "-o", "nv.bin")
    assert r.returncode == 0, r.stderr
    assert "--> HASH" not in r.stderr and "size checked" in r.stderr


def ranges_honoured_or_not(servers, mtftp):
    data = os.urandom(9 * 1024 * 1024 + 5)
    s = servers("pyftpdlib", "--hash", "--rang")
    (s.root / "r.bin").write_bytes(data)
    r = mtftp("-v", "get", "-s", "3", s.url("r.bin"))
    assert r.returncode == 0 and "SHA-256 verified, 3 ranges" in r.stderr, r.stderr
    assert r.stderr.count("--> HASH ") == 3 and r.stderr.count("--> RANG 1 0") == 2, r.stderr   # two helpers
    assert (mtftp.work / "r.bin").read_bytes() == data
    # RANG answered, then HASH of the whole file: the client reads its copy
    # back once and checks the whole file instead
    s2 = servers("pyftpdlib", "--hash", "--rang-ignored", root=s.root)
    r = mtftp("-v", "get", "-s", "3", s2.url("r.bin"), "-o", "r2.bin")
    assert r.returncode == 0, r.stderr
    assert "--> RANG " in r.stderr and "ranges" not in r.stderr.split("SHA-256 verified")[-1], r.stderr
    assert "SHA-256 verified (" in r.stderr
    # the helpers' 3 ranges, then the whole file once: the ranges not asked again
    assert r.stderr.count("--> HASH ") == 4, r.stderr
    assert (mtftp.work / "r2.bin").read_bytes() == data
    # a range left set by such a server never reaches the next RETR: two
    # small files on one session, the ranges asked on it
    (s.root / "p.bin").write_bytes(data[:3 << 20])
    (s.root / "q.bin").write_bytes(data[5:(3 << 20) + 5])
    r = mtftp("-c", "get -s 3 p.bin; get -s 3 q.bin", s2.url())
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "q.bin").read_bytes() == data[5:(3 << 20) + 5]


def size_check_without_hash(servers, mtftp):
    s = servers("pyftpdlib")
    (s.root / "s.bin").write_bytes(b"s" * 5000)
    r = mtftp("-v", "get", s.url("s.bin"))
    assert r.returncode == 0
    assert "offers no HASH SHA-256; size checked (5000 bytes)" in r.stderr


# pyftpdlib behaves the same whatever mtftpd's model: these run once.
if MODEL == "threads":
    test_hash_mismatch = hash_mismatch
    test_ranges_honoured_or_not = ranges_honoured_or_not
    test_size_check_without_hash = size_check_without_hash
