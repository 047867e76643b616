"""One-shot commands against each server: get/put/ls/rm/mkdir/mirror, the
bytes on disk, and one exit code per failure kind."""
import os
import socket

from conftest import EX, free_port


def wpath(srv, name):
    return f"{srv.wdir}/{name}" if srv.wdir else name


def wfile(srv, name):
    return srv.root / srv.wdir / name if srv.wdir else srv.root / name


def test_get_put_roundtrip(srv, mtftp):
    data = os.urandom(700_000)
    wfile(srv, "blob.bin").write_bytes(data)
    p = mtftp("get", srv.url(wpath(srv, "blob.bin")))
    assert p.returncode == 0, p.stderr
    assert (mtftp.work / "blob.bin").read_bytes() == data
    assert not (mtftp.work / "blob.bin.part").exists() and not (mtftp.work / "blob.bin.part.state").exists()
    # -o, and a segmented download of the same file
    p = mtftp("get", "-s", "3", srv.url(wpath(srv, "blob.bin")), "-o", "seg.bin")
    assert p.returncode == 0, p.stderr
    assert (mtftp.work / "seg.bin").read_bytes() == data
    # put into a directory URL (trailing '/'), two files
    (mtftp.work / "up1.txt").write_bytes(b"one\n" * 1000)
    (mtftp.work / "up2.txt").write_bytes(b"")
    d = srv.url(srv.wdir + "/" if srv.wdir else "")
    p = mtftp("put", "up1.txt", "up2.txt", d)
    assert p.returncode == 0, p.stderr
    assert wfile(srv, "up1.txt").read_bytes() == b"one\n" * 1000
    assert wfile(srv, "up2.txt").read_bytes() == b""


def test_active_mode(srv, mtftp):
    wfile(srv, "act.txt").write_bytes(b"active bytes\n" * 100)
    p = mtftp("--active", "-v", "get", srv.url(wpath(srv, "act.txt")))
    assert p.returncode == 0, p.stderr
    assert "--> PORT" in p.stderr or "--> EPRT" in p.stderr
    assert (mtftp.work / "act.txt").read_bytes() == b"active bytes\n" * 100
    (mtftp.work / "back.txt").write_bytes(b"uploaded actively")
    p = mtftp("--active", "put", "back.txt", srv.url(wpath(srv, "back.txt")))
    assert p.returncode == 0, p.stderr
    assert wfile(srv, "back.txt").read_bytes() == b"uploaded actively"


def test_verbose_masks_password(srv, mtftp):
    wfile(srv, "v.txt").write_text("v")
    p = mtftp("-v", "get", srv.url(wpath(srv, "v.txt")))
    assert p.returncode == 0
    assert "wonderland" not in p.stderr
    if srv.name != "vsftpd":   # anonymous there: no PASS asked
        assert "--> PASS ****" in p.stderr
    assert "--> EPSV" in p.stderr


def test_ls_rm_mkdir(srv, mtftp):
    wfile(srv, "gone.txt").write_text("x")
    p = mtftp("ls", srv.url(srv.wdir + "/" if srv.wdir else ""))
    assert p.returncode == 0, p.stderr
    assert "gone.txt" in p.stdout
    p = mtftp("rm", srv.url(wpath(srv, "gone.txt")))
    assert p.returncode == 0, p.stderr
    assert not wfile(srv, "gone.txt").exists()
    p = mtftp("mkdir", srv.url(wpath(srv, "newdir")))
    assert p.returncode == 0, p.stderr
    assert wfile(srv, "newdir").is_dir()
    p = mtftp("mkdir", "-p", srv.url(wpath(srv, "a/b/c")))
    assert p.returncode == 0, p.stderr
    assert wfile(srv, "a/b/c").is_dir()


def test_mirror_both_ways(srv, mtftp):
    base = wfile(srv, "tree")
    (base / "sub" / "deep").mkdir(parents=True)
    files = {"a.txt": b"a" * 10, "sub/b.bin": os.urandom(50_000), "sub/deep/c": b"c"}
    for k, v in files.items():
        (base / k).write_bytes(v)
    os.utime(base / "a.txt", (1_600_000_000, 1_600_000_000))
    p = mtftp("mirror", "-j", "3", srv.url(wpath(srv, "tree")), "local")
    assert p.returncode == 0, p.stderr
    for k, v in files.items():
        assert (mtftp.work / "local" / k).read_bytes() == v
    assert int((mtftp.work / "local" / "a.txt").stat().st_mtime) == 1_600_000_000
    # again: nothing to do; --dry-run after a local change lists only that file
    (mtftp.work / "local" / "extra").write_text("not on the server")
    p = mtftp("mirror", "--dry-run", "--delete", srv.url(wpath(srv, "tree")), "local")
    assert p.returncode == 0, p.stderr
    assert "get " not in p.stdout and "delete" in p.stdout and "extra" in p.stdout
    assert (mtftp.work / "local" / "extra").exists()
    p = mtftp("mirror", "--delete", srv.url(wpath(srv, "tree")), "local")
    assert p.returncode == 0 and not (mtftp.work / "local" / "extra").exists()
    # reverse: upload a local tree, symlinks not followed
    up = mtftp.work / "up"
    (up / "x").mkdir(parents=True)
    (up / "x" / "f1").write_bytes(b"f1" * 5000)
    (up / "top").write_bytes(b"top")
    (mtftp.work / "secret").write_text("outside the tree")
    os.symlink(mtftp.work / "secret", up / "link")
    os.utime(up / "top", (1_500_000_000, 1_500_000_000))
    p = mtftp("mirror", "-R", "-j", "2", "up", srv.url(wpath(srv, "uptree")))
    assert p.returncode == 0, p.stderr
    assert wfile(srv, "uptree/x/f1").read_bytes() == b"f1" * 5000
    assert wfile(srv, "uptree/top").read_bytes() == b"top"
    assert not wfile(srv, "uptree/link").exists()
    if srv.name != "vsftpd":   # vsftpd has no MFMT
        assert int(wfile(srv, "uptree/top").stat().st_mtime) == 1_500_000_000
    # --delete on upload: a remote file the local tree lacks goes
    wfile(srv, "uptree/stale").write_text("old")
    p = mtftp("mirror", "-R", "--delete", "up", srv.url(wpath(srv, "uptree")))
    assert p.returncode == 0, p.stderr
    assert not wfile(srv, "uptree/stale").exists() and wfile(srv, "uptree/top").exists()
    # ... and so does a remote directory tree the local tree lacks, deepest first
    (wfile(srv, "uptree/olddir/inner")).mkdir(parents=True)
    wfile(srv, "uptree/olddir/inner/f").write_text("old")
    wfile(srv, "uptree/olddir/g").write_text("old")
    p = mtftp("mirror", "-R", "--delete", "--dry-run", "up", srv.url(wpath(srv, "uptree")))
    assert p.returncode == 0, p.stderr
    assert "rmdir " in p.stdout and "olddir/inner/f" in p.stdout and wfile(srv, "uptree/olddir/g").exists()
    p = mtftp("mirror", "-R", "--delete", "up", srv.url(wpath(srv, "uptree")))
    assert p.returncode == 0, p.stderr
    assert not wfile(srv, "uptree/olddir").exists()
    assert wfile(srv, "uptree/x/f1").exists() and wfile(srv, "uptree/top").exists()


def test_parallel_get(srv, mtftp):
    names = [f"f{i:02d}.dat" for i in range(12)]
    for i, n in enumerate(names):
        wfile(srv, n).write_bytes(bytes([i]) * (1000 + 997 * i))
    (mtftp.work / "out").mkdir()
    p = mtftp("get", "-j", "4", *[srv.url(wpath(srv, n)) for n in names], "-O", "out")
    assert p.returncode == 0, p.stderr
    for i, n in enumerate(names):
        assert (mtftp.work / "out" / n).read_bytes() == bytes([i]) * (1000 + 997 * i)
    # one missing among them: the others arrive, the error names its URL, exit 5
    bad = srv.url(wpath(srv, "absent.dat"))
    p = mtftp("-k", "get", "-j", "3", srv.url(wpath(srv, names[0])), bad, srv.url(wpath(srv, names[1])), "-O", "out")
    assert p.returncode == EX["notfound"], p.stderr
    assert p.stderr.strip().startswith(f"mtftp: get {bad}: 550"), p.stderr


def test_exit_codes(srv, mtftp):
    # not found, with the one-line error naming the URL and the reply
    url = srv.url(wpath(srv, "missing.txt"))
    p = mtftp("get", url)
    assert p.returncode == EX["notfound"], p.stderr
    line = p.stderr.strip().splitlines()[-1]
    assert line.startswith(f"mtftp: get {url}: 550"), line
    assert not (mtftp.work / "missing.txt").exists()
    # usage
    assert mtftp("get").returncode == EX["usage"]
    assert mtftp("--bogus").returncode == EX["usage"]
    assert mtftp("get", "http://x/y").returncode == EX["usage"]
    # cannot connect: a port nobody listens on, an unknown name
    p = mtftp("--timeout", "5", "get", f"ftp://127.0.0.1:{free_port()}/x")
    assert p.returncode == EX["connect"], p.stderr
    assert mtftp("--timeout", "5", "get", "ftp://no-such-host.invalid/x").returncode == EX["connect"]
    # a local file error: the output directory does not exist
    wfile(srv, "ok.txt").write_text("ok")
    p = mtftp("get", srv.url(wpath(srv, "ok.txt")), "-o", "nodir/ok.txt")
    assert p.returncode == EX["local"], p.stderr
    if srv.name != "vsftpd":   # vsftpd here is anonymous only
        p = mtftp("get", srv.url(wpath(srv, "ok.txt")).replace("wonderland", "wrong"))
        assert p.returncode == EX["login"], p.stderr
        # permission denied: anonymous may not write
        (mtftp.work / "w.txt").write_text("w")
        p = mtftp("put", "w.txt", srv.anon_url("w.txt"))
        assert p.returncode == EX["perm"], p.stderr


def test_credentials_sources(srv, mtftp, home):
    if srv.name == "vsftpd":
        return
    wfile(srv, "c.txt").write_text("creds")
    plain = f"ftp://alice@{srv.host}:{srv.port}/{wpath(srv, 'c.txt')}"
    # MTFTP_PASSWORD
    p = mtftp("get", plain, env={"MTFTP_PASSWORD": "wonderland"})
    assert p.returncode == 0, p.stderr
    # ~/.netrc, and its refusal when others may read it
    netrc = home / ".netrc"
    netrc.write_text(f"machine {srv.host} login alice password wonderland\n")
    netrc.chmod(0o600)
    url = f"ftp://{srv.host}:{srv.port}/{wpath(srv, 'c.txt')}"
    p = mtftp("-v", "get", url, "-o", "n.txt")
    assert p.returncode == 0, p.stderr
    assert "USER alice" in p.stderr
    netrc.chmod(0o644)
    p = mtftp("-v", "get", url, "-o", "n2.txt")
    assert "netrc" in p.stderr and "USER anonymous" in p.stderr


def test_list_parsing_without_mlsd(servers, mtftp):
    s = servers("pyftpdlib", "--no-mlst")
    (s.root / "d1").mkdir()
    (s.root / "d1" / "x.txt").write_text("x" * 33)
    (s.root / "y.bin").write_bytes(b"y" * 44)
    p = mtftp("mirror", s.url(""), "copy")
    assert p.returncode == 0, p.stderr
    assert (mtftp.work / "copy" / "d1" / "x.txt").read_text() == "x" * 33
    assert (mtftp.work / "copy" / "y.bin").read_bytes() == b"y" * 44


def test_get_into_a_fifo_never_replaces_it(servers, mtftp):
    import threading
    s = servers("mtftpd")
    data = os.urandom(200_000)
    (s.root / "f.bin").write_bytes(data)
    fifo = mtftp.work / "pipe"
    os.mkfifo(fifo)
    got = []
    t = threading.Thread(target=lambda: got.append(open(fifo, "rb").read()))
    t.start()
    p = mtftp("get", s.url("f.bin"), "-o", "pipe")
    t.join(30)
    assert p.returncode == 0, p.stderr
    assert got == [data]
    import stat
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and not (mtftp.work / "pipe.part").exists()


def test_listing_names_cannot_escape(servers, mtftp):
    s = servers("pyftpdlib", "--evil-names")
    (s.root / "d").mkdir()
    (s.root / "d" / "ok.txt").write_text("fine")
    (mtftp.work / "in").mkdir()
    r = mtftp("-c", "cd d; mget -j 2 *", s.url(), cwd=mtftp.work / "in")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(mtftp.work / "in")) == ["ok.txt"]
    assert not (mtftp.work / "escape.txt").exists()
    r = mtftp("mirror", s.url("d"), "m", cwd=mtftp.work / "in")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(mtftp.work / "in" / "m")) == ["ok.txt"]
    assert not (mtftp.work / "in" / "escape.txt").exists()


def test_utf8_names(servers, mtftp):
    from urllib.parse import quote
    s = servers("mtftpd")
    name = "naïve-文件 x.txt"
    (s.root / name).write_text("utf-8 name\n")
    r = mtftp("-v", "get", s.url(quote(name)))
    assert r.returncode == 0, r.stderr
    assert "--> OPTS UTF8 ON" in r.stderr
    assert (mtftp.work / name).read_text() == "utf-8 name\n"
    r = mtftp("-c", "mget naïve*", s.url(), cwd=mtftp.work)
    assert r.returncode == 0, r.stderr
    (mtftp.work / "è.bin").write_bytes(b"e")
    r = mtftp("put", "è.bin", s.url(""))
    assert r.returncode == 0, r.stderr
    assert (s.root / "è.bin").read_bytes() == b"e"
