"""FTPS, explicit (RFC 4217): AUTH TLS, PBSZ, PROT with Python's ftplib
FTP_TLS, curl and lftp; the tls-required policies; the data-connection
session reuse modes with a resuming client (curl) and a non-resuming one
(ftplib); an upload cut without close_notify; plain text smuggled after AUTH;
a broken certificate at start and at SIGHUP. The test CA and the server's
certificate are made at test time with the openssl command."""
import ftplib
import hashlib
import os
import re
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import SLOW, Server


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    q = dict(cwd=d, check=True, capture_output=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=mtftpd test CA", "-keyout", "ca.key", "-out", "ca.pem"], **q)
    subprocess.run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr"], **q)
    (d / "ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    subprocess.run(["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-days", "2", "-extfile", "ext", "-out", "server.pem"], **q)
    return d


def tls_args(pki, *more):
    return ["--tls-cert", str(pki / "server.pem"), "--tls-key", str(pki / "server.key"), *more]


def ftps(srv, pki, user="alice", password="wonderland", prot_p=True):
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    f = ftplib.FTP_TLS(context=ctx, timeout=10 * SLOW, encoding="utf-8")
    f.connect(srv.host, srv.port)
    f.auth()
    f.login(user, password)
    if prot_p:
        f.prot_p()
    return f


def curl(pki, *args):
    return subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", str(pki / "ca.pem"), "--max-time", str(60 * SLOW),
                           *args], capture_output=True)


def test_feat_lists_tls_only_when_configured(make_server, pki):
    plain = make_server()
    f = plain.connect(user=None)
    assert "AUTH TLS" not in f.sendcmd("FEAT")
    with pytest.raises(ftplib.error_perm, match="^502"):
        f.sendcmd("AUTH TLS")
    f.quit()
    srv = make_server(extra=tls_args(pki))
    f = srv.connect(user=None)
    feat = f.sendcmd("FEAT")
    for line in ("AUTH TLS", "PBSZ", "PROT"):
        assert f"\n {line}\n" in feat.replace("\r", ""), feat
    with pytest.raises(ftplib.error_perm, match="^503"):      # PBSZ and PROT need AUTH first
        f.sendcmd("PBSZ 0")
    with pytest.raises(ftplib.error_perm, match="^503"):
        f.sendcmd("PROT P")
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("AUTH KERBEROS_V4")
    f.quit()


def test_ftplib_tls_upload_download_list(make_server, pki):
    srv = make_server(extra=tls_args(pki))
    data = os.urandom(5 << 20)
    f = ftps(srv, pki)
    assert f.sock.version() in ("TLSv1.2", "TLSv1.3")
    f.storbinary("STOR up.bin", __import__("io").BytesIO(data))
    assert (srv.root / "up.bin").read_bytes() == data
    got = hashlib.sha256()
    f.retrbinary("RETR up.bin", got.update)
    assert got.hexdigest() == hashlib.sha256(data).hexdigest()
    part = bytearray()                                         # a RANG through TLS (the copy loop)
    f.sendcmd("TYPE I")
    f.sendcmd("RANG 1000000 3000000")
    f.retrbinary("RETR up.bin", part.extend)
    assert bytes(part) == data[1000000:3000001]
    assert "up.bin" in f.nlst()
    lines = []
    f.retrlines("LIST", lines.append)
    assert any(l.endswith(" up.bin") for l in lines), lines
    (srv.root / "text.txt").write_bytes(b"a\nb\r\nc\n")
    text = []
    f.retrlines("RETR text.txt", text.append)                  # TYPE A through TLS
    assert text == ["a", "b", "c"]
    f.prot_c()                                                 # clear data again
    assert "up.bin" in f.nlst()
    f.quit()
    assert "control connection now TLSv1" in srv.log_text()


def test_mode_b_is_not_offered_with_prot_p(make_server, pki):
    """MODE B's kept connection has no TLS story here: refused after PROT P
    (504), and PROT P refused in MODE B (503)."""
    srv = make_server(extra=tls_args(pki))
    f = ftps(srv, pki)
    with pytest.raises(ftplib.error_perm, match="^504"):
        f.sendcmd("MODE B")
    f.sendcmd("PROT C")
    assert f.sendcmd("MODE B").startswith("200")
    with pytest.raises(ftplib.error_perm, match="^503"):
        f.sendcmd("PROT P")
    assert f.sendcmd("MODE S").startswith("200")
    assert f.sendcmd("PROT P").startswith("200")
    f.quit()


def test_curl_and_lftp(make_server, pki, tmp_path):
    srv = make_server(extra=tls_args(pki))
    data = os.urandom(3 << 20)
    (srv.root / "dl.bin").write_bytes(data)
    url = f"ftp://alice:wonderland@127.0.0.1:{srv.port}/"
    r = curl(pki, url + "dl.bin", "-o", str(tmp_path / "c.bin"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "c.bin").read_bytes() == data
    (tmp_path / "up.bin").write_bytes(data[::-1])
    r = curl(pki, "-T", str(tmp_path / "up.bin"), url + "curl-up.bin")
    assert r.returncode == 0, r.stderr
    assert (srv.root / "curl-up.bin").read_bytes() == data[::-1]
    script = (f"set ftp:ssl-force true; set ftp:ssl-protect-data true; set ssl:ca-file {pki / 'ca.pem'}; "
              f"set net:max-retries 1; set net:timeout {int(30 * SLOW)}; "
              f"open -u alice,wonderland -p {srv.port} 127.0.0.1; "
              f"get dl.bin -o {tmp_path / 'l.bin'}; put {tmp_path / 'up.bin'} -o lftp-up.bin; quit")
    r = subprocess.run(["lftp", "-c", script], capture_output=True, timeout=120 * SLOW)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "l.bin").read_bytes() == data
    assert (srv.root / "lftp-up.bin").read_bytes() == data[::-1]
    # curl refuses a server it cannot verify (no --cacert: not in the system store)
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", url + "dl.bin", "-o", os.devnull], capture_output=True)
    assert r.returncode != 0 and b"certificate" in r.stderr.lower()


def test_tls_required_login_and_data(make_server, pki):
    srv = make_server(extra=tls_args(pki, "--tls-required", "login"))
    f = srv.connect(user=None)
    with pytest.raises(ftplib.error_perm, match="^530.*AUTH TLS"):
        f.sendcmd("USER alice")
    f.quit()
    assert "plain-text login refused" in srv.log_text() and "tls-required = login" in srv.log_text()
    f = ftps(srv, pki, prot_p=False)
    assert "f" not in f.nlst()                                 # login: clear data still allowed
    f.quit()

    srv = make_server(extra=tls_args(pki, "--tls-required", "data"))
    f = srv.connect()                                          # data: plain login allowed
    with pytest.raises(ftplib.error_perm, match="^521"):
        f.nlst()
    f.quit()
    f = ftps(srv, pki, prot_p=False)
    f.sendcmd("PBSZ 0")
    with pytest.raises(ftplib.error_perm, match="^534"):       # PROT C refused by policy
        f.sendcmd("PROT C")
    f.prot_p()                                                 # PBSZ 0, PROT P, and ftplib wraps its data sockets
    assert f.nlst() == []
    f.quit()
    assert "tls-required = data" in srv.log_text()


def test_data_reuse_modes(make_server, pki, tmp_path):
    (tmp_path / "x").write_bytes(b"x" * 1000)
    for mode in ("off", "any", "same"):
        srv = make_server(extra=tls_args(pki, "--tls-data-reuse", mode))
        (srv.root / "f.bin").write_bytes(b"y" * 100000)
        # curl resumes the control connection's session on every data connection
        url = f"ftp://alice:wonderland@127.0.0.1:{srv.port}/"
        for _ in range(2):
            r = curl(pki, url + "f.bin", "-o", str(tmp_path / "got"))
            assert r.returncode == 0, (mode, r.stderr)
            assert (tmp_path / "got").read_bytes() == b"y" * 100000
        # ftplib never resumes a TLS session
        f = ftps(srv, pki)
        if mode == "off":
            assert "f.bin" in f.nlst()
        else:
            with pytest.raises(ftplib.error_perm, match="^522.*tls-data-reuse = " + mode):
                f.nlst()
            assert f.sendcmd("NOOP").startswith("200")          # the session stays usable
        f.quit()
        srv.stop()


def test_upload_without_close_notify_is_not_stored(make_server, pki):
    srv = make_server(extra=tls_args(pki))
    (srv.root / "keep.bin").write_bytes(b"complete")
    f = ftps(srv, pki)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR keep.bin")
    conn.sendall(b"partial" * 1000)
    conn.sock = None
    raw = socket.socket(fileno=conn.detach())                  # the TCP socket, without TLS's close
    raw.shutdown(socket.SHUT_RDWR)
    raw.close()
    with pytest.raises(ftplib.error_temp, match="^426.*close_notify"):
        f.voidresp()
    assert (srv.root / "keep.bin").read_bytes() == b"complete"
    assert sorted(p.name for p in srv.root.iterdir()) == ["keep.bin"]     # no temporary left
    f.storbinary("STOR keep.bin", __import__("io").BytesIO(b"new"))      # a clean end stores
    assert (srv.root / "keep.bin").read_bytes() == b"new"
    f.quit()


def test_plain_text_after_auth_is_refused(make_server, pki):
    srv = make_server(extra=tls_args(pki))
    s = socket.create_connection((srv.host, srv.port), timeout=10 * SLOW)
    fh = s.makefile("rb")
    assert fh.readline().startswith(b"220")
    s.sendall(b"AUTH TLS\r\nUSER alice\r\n")                   # smuggled before the handshake
    assert fh.readline().startswith(b"503")
    assert fh.readline() == b""                                # and closed
    s.close()
    assert "plain text after AUTH TLS" in srv.log_text()


def test_broken_certificate_at_start_and_at_sighup(make_server, pki, tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    (tmp_path / "never").mkdir()
    never = Server(tmp_path / "never", ["--tls-cert", str(bad)])        # run by hand: it must not start
    r = subprocess.run(never.args, capture_output=True, text=True, timeout=30 * SLOW)
    assert r.returncode == 2
    assert "tls:" in r.stderr and str(bad) in r.stderr
    # a running server keeps its certificate when the new one is broken
    cert = tmp_path / "cert.pem"
    cert.write_bytes((pki / "server.pem").read_bytes() + (pki / "server.key").read_bytes())
    srv = make_server(extra=["--tls-cert", str(cert)])
    cert.write_text("broken now\n")
    srv.proc.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10 * SLOW
    while "reload failed" not in srv.log_text():
        assert time.monotonic() < deadline, srv.log_text()
        time.sleep(0.02)
    f = ftps(srv, pki)
    assert f.nlst() == []
    f.quit()


def test_implicit_ftps_listener(make_server, pki, tmp_path):
    srv = make_server(extra=tls_args(pki, "--listen-implicit-tls", "127.0.0.1:0"))
    m = re.search(r"listening for implicit FTPS on \S+ port (\d+)", srv.log_text())
    assert m, srv.log_text()
    port = int(m.group(1))
    data = os.urandom(2 << 20)
    (srv.root / "f.bin").write_bytes(data)
    url = f"ftps://alice:wonderland@127.0.0.1:{port}/"
    r = curl(pki, url + "f.bin", "-o", str(tmp_path / "got"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got").read_bytes() == data
    (tmp_path / "up").write_bytes(data[:1000])
    r = curl(pki, "-T", str(tmp_path / "up"), url + "up.bin")
    assert r.returncode == 0, r.stderr
    assert (srv.root / "up.bin").read_bytes() == data[:1000]
    assert "implicit FTPS: TLSv1" in srv.log_text()
    # the plain listener stays plain; a plain client on the implicit one gets no greeting
    f = srv.connect()
    assert sorted(f.nlst()) == ["f.bin", "up.bin"]
    f.quit()
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    s.sendall(b"USER alice\r\n")                             # not a TLS ClientHello
    try:
        got = s.recv(100)
    except ConnectionResetError:                               # closed with our bytes unread
        got = b""
    assert not got.startswith(b"220")
    s.close()
    assert "implicit FTPS handshake failed" in srv.log_text()
