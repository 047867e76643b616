"""Fixtures for the mtftp tests: the client binary, and the servers it is
driven against — mtftpd (tests/ftp's Server, under MTFTPD_MODEL), vsftpd
and pyftpdlib, each started here on loopback on a free port with a
throwaway tree and a generated configuration.

Every server object has: host, port, root (the served tree), wdir (a
directory inside it the client may write, "" or "pub"), url(path) (a URL
with credentials that may write), and anon_url(path).
"""
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("ftp_conftest", os.path.join(HERE, "../ftp/conftest.py"))
ftp_conftest = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ftp_conftest)
Server, free_port, SLOW, MODEL = ftp_conftest.Server, ftp_conftest.free_port, ftp_conftest.SLOW, ftp_conftest.MODEL

MTFTP = os.environ.get("MTFTP", os.path.join(HERE, "../../build/src/ftp/mtftp"))
PYTHON = "/usr/bin/python3"
SANITIZER_MARKS = ftp_conftest.SANITIZER_MARKS

# exit codes (mtftp(1))
EX = dict(ok=0, remote=1, usage=2, connect=3, login=4, notfound=5, perm=6, xfer=7, verify=8, local=9, tls=10)


def wait_port(host, port, proc, what, timeout=10, greet=True):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start")
        try:
            with socket.create_connection((host, port), timeout=1) as s:
                if greet:      # an implicit-TLS listener says nothing before the handshake
                    s.recv(100)
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not start")


class Mtftpd:
    name = "mtftpd"

    def __init__(self, tmp, extra=()):
        self.srv = Server(tmp, extra)
        self.srv.start()
        self.host, self.port, self.root = self.srv.host, self.srv.port, self.srv.root
        self.wdir = ""
        self.killed = False

    def url(self, path=""):
        return f"ftp://alice:wonderland@{self.host}:{self.port}/{path}"

    def anon_url(self, path=""):
        return f"ftp://{self.host}:{self.port}/{path}"

    def stop(self):
        self.srv.stop(check=not self.killed)

    def kill(self):
        self.killed = True
        self.srv.proc.kill()
        self.srv.proc.wait()


class Vsftpd:
    """Anonymous vsftpd with writes allowed in pub/ (vsftpd refuses a
    writable anonymous root). tls=(cert, key): FTPS required for logins and
    data (ssl_enable=YES, vsftpd's default require_ssl_reuse=YES: each data
    connection must resume the control connection's TLS session); with
    implicit, TLS from the first byte (implicit_ssl=YES)."""
    name = "vsftpd"

    def __init__(self, tmp, tls=None, implicit=False):
        self.host, self.port = "127.0.0.1", free_port()
        self.root = tmp / "vsroot"
        (self.root / "pub").mkdir(parents=True)
        self.root.chmod(0o555)
        (self.root / "pub").chmod(0o777)
        empty = tmp / "vsempty"
        empty.mkdir()
        empty.chmod(0o555)
        conf = tmp / "vsftpd.conf"
        conf.write_text("\n".join([
            "listen=YES", f"listen_address={self.host}", f"listen_port={self.port}", "background=NO",
            "anonymous_enable=YES", "local_enable=NO", f"anon_root={self.root}", "write_enable=YES",
            "anon_upload_enable=YES", "anon_mkdir_write_enable=YES", "anon_other_write_enable=YES",
            "anon_umask=022", "no_anon_password=YES", "seccomp_sandbox=NO", "run_as_launching_user=YES",
            "xferlog_enable=NO", "use_localtime=NO", "connect_from_port_20=NO",
            f"secure_chroot_dir={empty}", f"vsftpd_log_file={tmp / 'vsftpd.log'}", *self.tls_lines(tls, implicit),
            ""]))
        self.log = open(tmp / "vsftpd.out", "wb")
        self.proc = subprocess.Popen(["vsftpd", str(conf)], stdout=self.log, stderr=self.log)
        wait_port(self.host, self.port, self.proc, "vsftpd", greet=not implicit)
        self.wdir = "pub"
        self.scheme = "ftps" if implicit else "ftp"

    @staticmethod
    def tls_lines(tls, implicit):
        if not tls:
            return []
        return ["ssl_enable=YES", "allow_anon_ssl=YES", "force_anon_logins_ssl=YES", "force_anon_data_ssl=YES",
                f"rsa_cert_file={tls[0]}", f"rsa_private_key_file={tls[1]}", "debug_ssl=YES",
                f"implicit_ssl={'YES' if implicit else 'NO'}"]

    def url(self, path=""):
        return f"{self.scheme}://{self.host}:{self.port}/{path}"

    anon_url = url

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()
        self.root.chmod(0o755)


class Pyftpd:
    name = "pyftpdlib"

    def __init__(self, tmp, *flags):
        self.host, self.port = "127.0.0.1", free_port()
        self.root = tmp / "pyroot"
        self.root.mkdir(exist_ok=True)
        self.log = open(tmp / f"pyftpd{self.port}.log", "wb")
        self.proc = subprocess.Popen([PYTHON, os.path.join(HERE, "pyftpd_server.py"), str(self.root),
                                      str(self.port), *flags], stdout=self.log, stderr=self.log)
        wait_port(self.host, self.port, self.proc, "pyftpdlib")
        self.wdir = ""

    def url(self, path=""):
        return f"ftp://alice:wonderland@{self.host}:{self.port}/{path}"

    def anon_url(self, path=""):
        return f"ftp://{self.host}:{self.port}/{path}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        self.log.close()

    def kill(self):
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def servers(tmp_path):
    made = []

    def make(kind, *flags, root=None, **kw):
        d = tmp_path / f"srv{len(made)}"
        d.mkdir()
        if root is not None:   # serve an existing tree (a restarted server)
            os.symlink(root, d / ("root" if kind == "mtftpd" else "pyroot"))
        s = {"mtftpd": lambda: Mtftpd(d, flags), "vsftpd": lambda: Vsftpd(d, **kw),
             "pyftpdlib": lambda: Pyftpd(d, *flags)}[kind]()
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()


# The third-party servers are the same whatever the model: run them once.
KINDS = ["mtftpd"] + (["vsftpd", "pyftpdlib"] if MODEL == "threads" else [])


@pytest.fixture(params=KINDS)
def srv(request, servers):
    return servers(request.param)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def mtftp(tmp_path, home):
    """Runs the client: mtftp(args..., cwd=, input=, env=) -> CompletedProcess."""
    work = tmp_path / "work"
    work.mkdir()

    def run(*args, cwd=None, input=None, env=None, timeout=60, check_clean=True):
        e = dict(os.environ, HOME=str(home), XDG_STATE_HOME=str(home / "state"))
        e.pop("MTFTP_PASSWORD", None)
        e.pop("NETRC", None)
        if env:
            e.update(env)
        p = subprocess.run([MTFTP, *args], cwd=cwd or work, input=input, env=e, capture_output=True,
                           timeout=timeout * SLOW, text=True)
        if check_clean:
            for mark in SANITIZER_MARKS:
                assert mark not in p.stderr, p.stderr
        return p

    run.work = work
    return run
