"""FTPS in mtftp: --tls (explicit, AUTH TLS), ftps:// (implicit), the `tls`
shell command; the certificate checked against a test CA (--cacert), an
unknown CA and a wrong host name refused with exit code 10, --insecure with
its warning, --pin's known_servers (first contact, a match, a changed key);
every transfer path (get, get -s, get -j, put, put -j, mirror both ways, ls)
over PROT P against an mtftpd that demands the control connection's session
be resumed (tls-data-reuse = same), under each model; vsftpd with
ssl_enable=YES (and its require_ssl_reuse=YES), explicit and implicit; and
a server that cuts a download's data connection without close_notify.

The test CA and certificates are made at test time with the openssl command."""
import hashlib
import os
import re
import socket
import ssl
import stat
import subprocess
import threading
import time

import pytest

from conftest import EX, MODEL, SLOW, Server


def openssl(d, *args):
    subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)


def make_cert(d, name, ca, san):
    """A P-256 key and a certificate for it, signed by ca ("ca" -> ca.pem, ca.key)."""
    openssl(d, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=localhost",
            "-keyout", f"{name}.key", "-out", f"{name}.csr")
    (d / f"{name}.ext").write_text(f"subjectAltName={san}\n")
    openssl(d, "x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
    return d / f"{name}.pem", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem (the test CA); server (localhost, 127.0.0.1), server2 (the same
    names, another key), wrongname (another host's name only)."""
    d = tmp_path_factory.mktemp("pki")
    openssl(d, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=mtftp test CA", "-keyout", "ca.key", "-out", "ca.pem")
    make_cert(d, "server", "ca", "DNS:localhost,IP:127.0.0.1")
    make_cert(d, "server2", "ca", "DNS:localhost,IP:127.0.0.1")
    make_cert(d, "wrongname", "ca", "DNS:elsewhere.example")
    return d


def tls_args(pki, name="server", *more):
    return ["--tls-cert", str(pki / f"{name}.pem"), "--tls-key", str(pki / f"{name}.key"), *more]


def key_sha256(cert):
    """What --pin records: the SHA-256 of the certificate's DER public key."""
    pem = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pem, check=True,
                         capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def implicit_port(srv):
    m = re.search(r"listening for implicit FTPS on \S+ port (\d+)", srv.srv.log_text())
    assert m, srv.srv.log_text()
    return int(m.group(1))


def sha(p):
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_every_transfer_path_over_tls_resuming_the_control_session(servers, mtftp, pki):
    srv = servers("mtftpd", *tls_args(pki, "server", "--tls-data-reuse", "same", "--tls-required", "all"))
    ca = ["--cacert", str(pki / "ca.pem")]
    big = os.urandom(3 << 20)
    (srv.root / "big.bin").write_bytes(big)
    for i in range(3):
        (srv.root / f"s{i}.bin").write_bytes(os.urandom(100_000 + i))
    url = srv.url
    # get, with -v: the TLS version once per connection, every data connection resumed
    r = mtftp("-v", "--tls", *ca, "get", url("big.bin"))
    assert r.returncode == 0, r.stderr
    assert sha(mtftp.work / "big.bin") == hashlib.sha256(big).hexdigest()
    assert re.search(r"TLS with 127\.0\.0\.1:\d+: TLSv1\.[23], \S+; certificate verified", r.stderr), r.stderr
    assert "--> AUTH TLS" in r.stderr and "--> PROT P" in r.stderr and "SHA-256 verified" in r.stderr
    assert "data connection: TLSv1" in r.stderr and "new session" not in r.stderr, r.stderr
    assert r.stderr.count("TLS with ") == r.stderr.count("--> AUTH TLS") >= 1          # once per connection
    assert r.stderr.count("data connection: TLSv1") == r.stderr.count("--> RETR")
    # segmented: four control connections, each data connection resuming its own
    r = mtftp("-v", "--tls", *ca, "get", "-s", "4", url("big.bin"), "-o", "seg.bin")
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "seg.bin").read_bytes() == big
    assert r.stderr.count("certificate verified") >= 4 and r.stderr.count("session resumed") >= 4, r.stderr
    assert "new session" not in r.stderr
    # parallel: workers with a control connection each, several files per worker
    (mtftp.work / "par").mkdir()
    r = mtftp("--tls", *ca, "get", "-j", "2", url("s0.bin"), url("s1.bin"), url("s2.bin"), "-O", "par")
    assert r.returncode == 0, r.stderr
    for i in range(3):
        assert (mtftp.work / "par" / f"s{i}.bin").read_bytes() == (srv.root / f"s{i}.bin").read_bytes()
    # put, one and parallel; several uploads and downloads on one session
    (mtftp.work / "up.bin").write_bytes(big[::-1])
    r = mtftp("--tls", *ca, "put", "up.bin", url("up.bin"))
    assert r.returncode == 0, r.stderr
    assert (srv.root / "up.bin").read_bytes() == big[::-1]
    (srv.root / "updir").mkdir()
    r = mtftp("--tls", *ca, "put", "-j", "2", "par/s0.bin", "par/s1.bin", "par/s2.bin", url("updir/"))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (srv.root / "updir").iterdir()) == ["s0.bin", "s1.bin", "s2.bin"]
    r = mtftp("--tls", *ca, "-c", "put up.bin again.bin; get again.bin back.bin; put up.bin again2.bin; "
              "get s1.bin; ls", url())
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "back.bin").read_bytes() == big[::-1] and (srv.root / "again2.bin").read_bytes() == big[::-1]
    assert "again2.bin" in r.stdout
    # ls, and mirror both ways
    r = mtftp("--tls", *ca, "ls", url())
    assert r.returncode == 0 and "big.bin" in r.stdout, r.stderr
    r = mtftp("--tls", *ca, "mirror", url("updir"), "mir")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (mtftp.work / "mir").iterdir()) == ["s0.bin", "s1.bin", "s2.bin"]
    r = mtftp("--tls", *ca, "mirror", "-R", "mir", url("mir-up"))
    assert r.returncode == 0, r.stderr
    assert (srv.root / "mir-up" / "s2.bin").read_bytes() == (srv.root / "s2.bin").read_bytes()
    log = srv.srv.log_text()
    assert "did not resume" not in log and "refused" not in log, log[-3000:]
    assert "control connection now TLSv1" in log


def test_implicit_ftps_url(servers, mtftp, pki):
    srv = servers("mtftpd", *tls_args(pki, "server", "--listen-implicit-tls", "127.0.0.1:0", "--tls-data-reuse", "same"))
    port = implicit_port(srv)
    data = os.urandom(1_200_000)
    (mtftp.work / "i.bin").write_bytes(data)
    base = f"ftps://alice:wonderland@127.0.0.1:{port}/"
    ca = ["--cacert", str(pki / "ca.pem")]
    r = mtftp("-v", *ca, "put", "i.bin", base + "i.bin")
    assert r.returncode == 0, r.stderr
    assert "AUTH TLS" not in r.stderr.replace("<--  AUTH TLS", "") and "--> PROT P" in r.stderr
    assert (srv.root / "i.bin").read_bytes() == data
    r = mtftp(*ca, "get", "-s", "4", base + "i.bin", "-o", "back.bin")
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "back.bin").read_bytes() == data
    r = mtftp(*ca, "ls", base)
    assert r.returncode == 0 and "i.bin" in r.stdout, r.stderr
    assert "implicit FTPS: TLSv1" in srv.srv.log_text()
    # an ftps:// URL on the plain port: the handshake fails, exit code 10
    r = mtftp(*ca, "--timeout", "5", "ls", f"ftps://127.0.0.1:{srv.port}/")
    assert r.returncode == EX["tls"], r.stderr


def test_verification_failures_and_insecure(servers, mtftp, pki):
    srv = servers("mtftpd", *tls_args(pki))
    (srv.root / "f.txt").write_text("hello\n")
    # the test CA is in no system store
    r = mtftp("--tls", "ls", srv.url())
    assert r.returncode == EX["tls"], r.stderr
    assert "certificate verification failed" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "USER" not in r.stderr
    r = mtftp("--tls", "--cacert", str(pki / "ca.pem"), "ls", srv.url())
    assert r.returncode == 0 and "f.txt" in r.stdout, r.stderr
    # the name checked: localhost is in the certificate, an IP literal checked as an IP
    r = mtftp("--tls", "--cacert", str(pki / "ca.pem"), "ls", f"ftp://alice:wonderland@localhost:{srv.port}/")
    assert r.returncode == 0, r.stderr
    wrong = servers("mtftpd", *tls_args(pki, "wrongname"))
    r = mtftp("--tls", "--cacert", str(pki / "ca.pem"), "ls", wrong.url())
    assert r.returncode == EX["tls"] and "certificate verification failed" in r.stderr, r.stderr
    # a --cacert that is not a certificate
    (mtftp.work / "junk.pem").write_text("junk\n")
    r = mtftp("--tls", "--cacert", "junk.pem", "ls", srv.url())
    assert r.returncode == EX["tls"] and "junk.pem" in r.stderr, r.stderr
    # --insecure: works, and says so on every control connection
    r = mtftp("--tls", "--insecure", "ls", wrong.url())
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: --insecure") == 1, r.stderr
    (wrong.root / "a").write_bytes(b"a" * 1000)
    (wrong.root / "b").write_bytes(b"b" * 1000)
    r = mtftp("--tls", "--insecure", "get", "-j", "2", wrong.url("a"), wrong.url("b"))
    assert r.returncode == 0, r.stderr
    assert r.stderr.count("warning: --insecure") >= 2, r.stderr


def test_auth_tls_refused_is_an_error_not_a_fallback(servers, mtftp):
    plain = servers("mtftpd")
    (plain.root / "f").write_bytes(b"x")
    r = mtftp("-v", "--tls", "get", plain.url("f"))
    assert r.returncode == EX["tls"], r.stderr
    assert "refused AUTH TLS" in r.stderr and "--> USER" not in r.stderr and "--> PASS" not in r.stderr
    assert not (r.stderr.count("\nmtftp:") > 1)
    assert not (mtftp.work / "f").exists()


def test_pin_trust_on_first_use(servers, mtftp, pki, home, tmp_path):
    srv = servers("mtftpd", *tls_args(pki))
    port = srv.port
    (srv.root / "f").write_text("pinned\n")
    known = home / ".local" / "share" / "mtftp" / "known_servers"
    # a first contact still needs a verified chain (or --insecure): nothing recorded
    r = mtftp("--tls", "--pin", "ls", srv.url())
    assert r.returncode == EX["tls"] and "certificate verification failed" in r.stderr, r.stderr
    assert not known.exists()
    r = mtftp("--tls", "--pin", "--cacert", str(pki / "ca.pem"), "ls", srv.url())
    assert r.returncode == 0, r.stderr
    assert "pinned the TLS key of 127.0.0.1:%d" % port in r.stderr
    assert known.read_text() == f"127.0.0.1:{port} sha256 {key_sha256(pki / 'server.pem')}\n"
    assert stat.S_IMODE(known.stat().st_mode) == 0o600
    assert stat.S_IMODE(known.parent.stat().st_mode) == 0o700
    # the pin is authoritative: no CA needed any more for this server
    r = mtftp("-v", "--tls", "--pin", "get", srv.url("f"))
    assert r.returncode == 0, r.stderr
    assert "key matches the pin" in r.stderr and (mtftp.work / "f").read_text() == "pinned\n"
    # another server pinned beside it (XDG_DATA_HOME honoured)
    other = servers("mtftpd", *tls_args(pki))
    xdg = tmp_path / "xdg"
    r = mtftp("--tls", "--pin", "--insecure", "ls", other.url(), env={"XDG_DATA_HOME": str(xdg)})
    assert r.returncode == 0, r.stderr
    assert (xdg / "mtftp" / "known_servers").read_text().startswith(f"127.0.0.1:{other.port} sha256 ")
    known.write_text("# mine\n" + known.read_text())
    r = mtftp("--tls", "--pin", "--insecure", "ls", other.url())
    assert r.returncode == 0, r.stderr
    lines = known.read_text().splitlines()
    assert len(lines) == 3 and lines[2].startswith(f"127.0.0.1:{other.port} ")
    # the first server comes back on the same port with another key: refused
    srv.stop()
    d = tmp_path / "again"
    d.mkdir()
    # (the port is in the ephemeral range: another test's outgoing connection
    # may hold it a moment; wait until it is free again)
    deadline = time.monotonic() + 10
    while True:
        again = Server(d, tls_args(pki, "server2"), listen=[f"127.0.0.1:{port}"])
        try:
            again.start()
            break
        except RuntimeError as e:
            again.logf.close()
            if "address already in use" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    try:
        r = mtftp("--tls", "--pin", "--cacert", str(pki / "ca.pem"), "ls", f"ftp://alice:wonderland@127.0.0.1:{port}/")
        assert r.returncode == EX["tls"], r.stderr
        assert "CHANGED" in r.stderr and str(known) in r.stderr and "line 2" in r.stderr, r.stderr
        assert len(lines) == len(known.read_text().splitlines())      # not rewritten
        # without --pin the new certificate is fine (it is signed by the CA)
        r = mtftp("--tls", "--cacert", str(pki / "ca.pem"), "ls", f"ftp://alice:wonderland@127.0.0.1:{port}/")
        assert r.returncode == 0, r.stderr
    finally:
        again.stop()


def test_tls_shell_command(servers, mtftp, pki):
    srv = servers("mtftpd", *tls_args(pki, "server", "--tls-data-reuse", "same"))
    (srv.root / "d").mkdir()
    (srv.root / "d" / "x.bin").write_bytes(os.urandom(300_000))
    ca = ["--cacert", str(pki / "ca.pem")]
    r = mtftp(*ca, "-c", "help", srv.url())
    assert re.search(r"^\s*tls\b", r.stdout + r.stderr, re.M), r.stdout
    # upgrade a logged-in session: it logs in again over TLS, in the same directory
    r = mtftp("-v", *ca, "-c", "cd d; tls; pwd; get x.bin; put x.bin y.bin", srv.url())
    assert r.returncode == 0, r.stderr
    assert '"/d"' in r.stdout or "/d" in r.stdout
    assert "--> AUTH TLS" in r.stderr and "certificate verified" in r.stderr and "session resumed" in r.stderr
    assert (srv.root / "d" / "y.bin").read_bytes() == (srv.root / "d" / "x.bin").read_bytes()
    assert (mtftp.work / "x.bin").read_bytes() == (srv.root / "d" / "x.bin").read_bytes()
    assert "control connection now TLSv1" in srv.srv.log_text()
    # before open: the next open uses TLS; a failing check stops the script with code 10
    r = mtftp(*ca, "-c", f"tls; open {srv.url()}; ls d")
    assert r.returncode == 0 and "x.bin" in r.stdout, r.stderr
    r = mtftp("-c", f"tls; open {srv.url()}; ls d")
    assert r.returncode == EX["tls"], r.stderr


@pytest.mark.skipif(MODEL != "threads", reason="vsftpd is the same under every model")
@pytest.mark.parametrize("implicit", [False, True])
def test_vsftpd_ssl_enable(servers, mtftp, pki, implicit):
    vs = servers("vsftpd", tls=(pki / "server.pem", pki / "server.key"), implicit=implicit)
    data = os.urandom(1_500_000)
    (vs.root / "pub" / "v.bin").write_bytes(data)
    args = ["--cacert", str(pki / "ca.pem")] + ([] if implicit else ["--tls"])
    # one session, data connections one after another: vsftpd's require_ssl_reuse
    r = mtftp(*args, "-c", "cd pub; get v.bin; put v.bin w.bin; ls; get w.bin w2.bin; put v.bin w3.bin", vs.url())
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "w2.bin").read_bytes() == data and (vs.root / "pub" / "w3.bin").read_bytes() == data
    assert "w.bin" in r.stdout
    r = mtftp(*args, "get", "-s", "4", vs.url("pub/v.bin"), "-o", "seg.bin")
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "seg.bin").read_bytes() == data
    r = mtftp("--tls" if not implicit else "-q", "ls", vs.url("pub/"))
    assert r.returncode == EX["tls"] and "certificate verification failed" in r.stderr, r.stderr
    if not implicit:    # and plain text is not served
        r = mtftp("ls", vs.url("pub/"))
        assert r.returncode != 0


class CuttingServer(threading.Thread):
    """Just enough explicit FTPS for one download whose data connection is
    closed without close_notify — after all the announced bytes (size=True)
    or with no size announced (size=False)."""

    def __init__(self, pki, payload, size):
        super().__init__(daemon=True)
        self.payload, self.size = payload, size
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
        self.ls = socket.create_server(("127.0.0.1", 0))
        self.port = self.ls.getsockname()[1]
        self.ls.settimeout(30 * SLOW)

    def run(self):
        try:
            self.serve()
        except OSError:
            pass

    def serve(self):
        c, _ = self.ls.accept()
        c.settimeout(30 * SLOW)
        c.sendall(b"220 cutter\r\n")
        f = c.makefile("rb")
        assert f.readline().upper().startswith(b"AUTH TLS")
        c.sendall(b"234 go\r\n")
        c = self.ctx.wrap_socket(c, server_side=True)
        f = c.makefile("rb")
        dl = None
        while True:
            line = f.readline().decode().strip()
            if not line:
                return
            verb = line.split()[0].upper()
            if verb in ("USER",):
                c.sendall(b"331 pass\r\n")
            elif verb == "EPSV":
                dl = socket.create_server(("127.0.0.1", 0))
                c.sendall(b"229 ok (|||%d|)\r\n" % dl.getsockname()[1])
            elif verb == "SIZE":
                c.sendall(b"213 %d\r\n" % len(self.payload) if self.size else b"502 no SIZE here\r\n")
            elif verb == "RETR":
                d, _ = dl.accept()
                c.sendall(b"150 here\r\n")
                d = self.ctx.wrap_socket(d, server_side=True)
                d.sendall(self.payload)
                raw = socket.socket(fileno=d.detach())        # closed without TLS's close_notify
                raw.shutdown(socket.SHUT_RDWR)
                raw.close()
                c.sendall(b"226 done\r\n")
            elif verb == "QUIT":
                c.sendall(b"221 bye\r\n")
                return
            elif verb == "FEAT":
                c.sendall(b"211-f\r\n SIZE\r\n211 end\r\n")
            elif verb == "PWD":
                c.sendall(b'257 "/"\r\n')
            else:                                              # PASS, PBSZ, PROT, TYPE, ...
                c.sendall(b"230 ok\r\n" if verb == "PASS" else b"200 ok\r\n")


@pytest.mark.skipif(MODEL != "threads", reason="no mtftpd involved")
@pytest.mark.parametrize("size", [True, False])
def test_download_cut_without_close_notify_fails(mtftp, pki, size):
    payload = os.urandom(200_000)
    srv = CuttingServer(pki, payload, size)
    srv.start()
    r = mtftp("--tls", "--cacert", str(pki / "ca.pem"), "--retries", "0", "get", f"ftp://u:p@127.0.0.1:{srv.port}/c.bin")
    srv.join(30 * SLOW)
    assert r.returncode == EX["xfer"], r.stderr
    assert "close_notify" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (mtftp.work / "c.bin").exists() and (mtftp.work / "c.bin.part").exists()
