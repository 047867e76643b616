"""Real clients: curl and lftp against mtftpd, checksums of what lands on disk."""
import hashlib
import os
import subprocess

import pytest


def run(args, **kw):
    return subprocess.run(args, capture_output=True, timeout=120, **kw)


def sha_file(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def url(srv, path="", user="alice:wonderland"):
    return f"ftp://{user}@{srv.host}:{srv.port}/{path}"


def test_curl_upload_download_epsv_pasv_active(server, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(5 * 1024 * 1024 + 3))
    for mode, flags in (("epsv", []), ("pasv", ["--disable-epsv"]), ("active", ["-P", "127.0.0.1"])):
        r = run(["curl", "-sS", *flags, "-T", str(src), url(server, f"{mode}.bin")])
        assert r.returncode == 0, r.stderr
        assert sha_file(server.root / f"{mode}.bin") == sha_file(src)
        dst = tmp_path / f"{mode}.out"
        r = run(["curl", "-sS", *flags, "-o", str(dst), url(server, f"{mode}.bin")])
        assert r.returncode == 0, r.stderr
        assert sha_file(dst) == sha_file(src)


def test_curl_resume_both_ways(server, tmp_path):
    data = os.urandom(3 * 1024 * 1024)
    (server.root / "r.bin").write_bytes(data)
    part = tmp_path / "r.part"
    part.write_bytes(data[:1000000])
    r = run(["curl", "-sS", "-C", "-", "-o", str(part), url(server, "r.bin")])
    assert r.returncode == 0, r.stderr
    assert part.read_bytes() == data
    # upload resume: the server has a prefix, curl asks SIZE and appends the rest
    (server.root / "up.bin").write_bytes(data[:777777])
    full = tmp_path / "full.bin"
    full.write_bytes(data)
    r = run(["curl", "-sS", "-C", "-", "-T", str(full), url(server, "up.bin")])
    assert r.returncode == 0, r.stderr
    assert (server.root / "up.bin").read_bytes() == data


def test_curl_listing_ascii_and_quote(server, tmp_path):
    (server.root / "a b.txt").write_bytes(b"x\ny\n")
    r = run(["curl", "-sS", url(server, "")])
    # curl turns the CRLF line ends of an ASCII transfer back into LF
    assert r.returncode == 0 and r.stdout.endswith(b" a b.txt\n") and r.stdout.startswith(b"-rw-r--r--")
    r = run(["curl", "-sS", "--list-only", url(server, "")])
    assert r.stdout == b"a b.txt\n"
    r = run(["curl", "-sS", "-B", url(server, "a%20b.txt")])   # --use-ascii: TYPE A both ways
    assert r.stdout == b"x\ny\n"
    assert "TYPE A" in server.log_text()
    r = run(["curl", "-sS", "-Q", "MKD made", "-Q", "RNFR a b.txt", "-Q", "RNTO made/c.txt", url(server, "")])
    assert r.returncode == 0, r.stderr
    assert (server.root / "made" / "c.txt").read_bytes() == b"x\ny\n"
    r = run(["curl", "-sS", url(server, "nope.txt")])
    assert r.returncode == 78      # curl: remote file not found (550)
    r = run(["curl", "-sS", url(server, "", user="alice:bad")])
    assert r.returncode == 67      # login denied


def lftp(srv, script, user="alice,wonderland"):
    cmd = (f"set cmd:fail-exit yes; set net:max-retries 1; set net:timeout 10; "
           f"set ftp:ssl-allow no; open -u {user} -p {srv.port} {srv.host}; {script}")
    return run(["lftp", "-c", cmd])


def test_lftp_mirror_both_ways(server, tmp_path):
    local = tmp_path / "local"
    (local / "sub dir").mkdir(parents=True)
    files = {"one.bin": os.urandom(100000), "sub dir/two.txt": b"two\n" * 1000, "ünï.txt": b"unicode"}
    for name, data in files.items():
        (local / name).write_bytes(data)
    r = lftp(server, f"mirror -R {local} /up")
    assert r.returncode == 0, r.stderr
    for name, data in files.items():
        assert (server.root / "up" / name).read_bytes() == data
    back = tmp_path / "back"
    r = lftp(server, f"mirror /up {back}")
    assert r.returncode == 0, r.stderr
    for name, data in files.items():
        assert (back / name).read_bytes() == data


def test_lftp_parses_listings(server, tmp_path):
    (server.root / "d").mkdir()
    (server.root / "f.txt").write_bytes(b"12345")
    for opt in ("set ftp:use-mlsd yes", "set ftp:use-mlsd no"):
        r = lftp(server, f"{opt}; cls -l --sort=name /")
        assert r.returncode == 0, r.stderr
        out = r.stdout.decode()
        assert "f.txt" in out and "d/" in out, out
        fl = [l for l in out.splitlines() if "f.txt" in l][0]
        assert " 5 " in fl or fl.split()[2] == "5" or " 5 " in " ".join(fl.split()), fl


def test_lftp_get_put_rm_mkdir_rmdir_resume(server, tmp_path):
    data = os.urandom(2 * 1024 * 1024)
    src = tmp_path / "p.bin"
    src.write_bytes(data)
    r = lftp(server, f"put {src} -o p.bin; mkdir newdir; rmdir newdir; get p.bin -o {tmp_path}/g.bin; "
                     f"rm p.bin")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "g.bin").read_bytes() == data
    assert not (server.root / "p.bin").exists()
    # resume a download (get -c)
    (server.root / "c.bin").write_bytes(data)
    (tmp_path / "c.bin").write_bytes(data[:500000])
    r = lftp(server, f"get -c c.bin -o {tmp_path}/c.bin")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c.bin").read_bytes() == data
    # resume an upload (put -c: SIZE then REST+STOR or APPE)
    (server.root / "u.bin").write_bytes(data[:600000])
    r = lftp(server, f"put -c {src} -o u.bin")
    assert r.returncode == 0, r.stderr
    assert (server.root / "u.bin").read_bytes() == data


def test_lftp_anonymous_readonly(server, tmp_path):
    (server.root / "pub.txt").write_bytes(b"pub")
    r = lftp(server, f"get pub.txt -o {tmp_path}/pub.txt", user="anonymous,x@y")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "pub.txt").read_bytes() == b"pub"
    src = tmp_path / "x"
    src.write_bytes(b"x")
    r = lftp(server, f"put {src} -o x", user="anonymous,x@y")
    assert r.returncode != 0
    assert not (server.root / "x").exists()


def test_wget_download_and_recursive_mirror(server, tmp_path):
    (server.root / "w").mkdir()
    data = os.urandom(300000)
    (server.root / "w" / "a.bin").write_bytes(data)
    (server.root / "w" / "b c.txt").write_bytes(b"spaced\n")
    out = tmp_path / "a.bin"
    r = run(["wget", "-q", "-O", str(out), f"ftp://alice:wonderland@{server.host}:{server.port}/w/a.bin"])
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == data
    # recursive retrieval parses our LIST output
    r = run(["wget", "-q", "-r", "-nH", "-P", str(tmp_path / "mirror"),
             f"ftp://anonymous:x@{server.host}:{server.port}/w/"])
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mirror" / "w" / "a.bin").read_bytes() == data
    assert (tmp_path / "mirror" / "w" / "b c.txt").read_bytes() == b"spaced\n"
    # resume (-c) of a partial download
    part = tmp_path / "part.bin"
    part.write_bytes(data[:100000])
    r = run(["wget", "-q", "-c", "-O", str(part), f"ftp://alice:wonderland@{server.host}:{server.port}/w/a.bin"])
    assert r.returncode == 0, r.stderr
    assert part.read_bytes() == data
