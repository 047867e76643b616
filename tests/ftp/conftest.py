"""Fixtures for the mtftpd tests: a real server process on a scratch tree.

Each test gets a fresh root with two users (alice: all permissions; bob:
read-only, own home) and read-only anonymous access, on a free port. At
teardown the server gets SIGTERM and must exit 0 with nothing from the
sanitizers in its log (the ASan and TSan builds run these same tests).
"""
import ftplib
import os
import pwd
import re
import signal
import socket
import subprocess
import time

import pytest

MTFTPD = os.environ.get("MTFTPD", os.path.join(os.path.dirname(__file__), "../../build/src/ftpd/mtftpd"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")
SLOW = float(os.environ.get("MTFTPD_SLOW", "1"))   # sanitizer builds are slower
MODEL = os.environ.get("MTFTPD_MODEL", "threads")  # every suite runs under each model


def free_port(host="127.0.0.1"):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def add_user(users, name, password, home="", perms="elradfmwMT"):
    args = [MTFTPD, "passwd", "--users", str(users), "add", name, "--perms", perms]
    if home:
        args += ["--home", str(home)]
    subprocess.run(args, input=password + "\n", text=True, check=True, capture_output=True)


def children(pid, live_only=False):
    """The server's child processes (zombies too, unless live_only)."""
    out = []
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/children") as f:
            out += [int(x) for x in f.read().split()]
    if live_only:
        def state(k):
            try:
                return open(f"/proc/{k}/stat").read().rsplit(")", 1)[1].split()[0]
            except OSError:
                return "gone"
        out = [k for k in out if state(k) not in ("Z", "gone")]
    return out


def connect_retry(host, port, tries=100):
    """An ftplib connection to a server that may still be starting."""
    for _ in range(tries):
        f = ftplib.FTP()
        try:
            f.connect(host, port, timeout=5 * SLOW)
            return f
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {host}:{port}")


class Server:
    def __init__(self, tmp, extra=(), users=True, listen=None):
        self.tmp = tmp
        self.root = tmp / "root"
        self.root.mkdir(exist_ok=True)
        self.users = tmp / "users"
        self.host = "127.0.0.1"
        # Port 0: the kernel picks a free port at bind and start() reads it
        # from the server's log, so no other process can take it meanwhile
        # (free_port() then bind left a window other test runs hit).
        self.port = 0
        self.listen = listen or [f"{self.host}:0"]
        self.log = tmp / "server.log"
        self.xferlog = tmp / "xfer.log"
        if users and not self.users.exists():
            add_user(self.users, "alice", "wonderland")
            bobhome = tmp / "bobhome"
            bobhome.mkdir(exist_ok=True)
            (bobhome / "bob.txt").write_text("bob's file\n")
            add_user(self.users, "bob", "builder", home=bobhome, perms="elr")
        me = pwd.getpwuid(os.getuid()).pw_name
        self.args = [MTFTPD, "--root", str(self.root), "--users", str(self.users), "--anonymous=ro",
                     "--xferlog", str(self.xferlog), "--run-as", me, "--log-level", "debug", "--model", MODEL]
        for l in self.listen:
            self.args += ["--listen", l]
        self.args += list(extra)
        self.env = None                    # the server's environment (None: ours)
        self.proc = None

    def start(self):
        self.logf = open(self.log, "ab")
        offset = self.log.stat().st_size
        self.proc = subprocess.Popen(self.args, stdout=self.logf, stderr=self.logf, env=self.env)
        deadline = time.time() + 10 * SLOW
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("mtftpd exited at start:\n" + self.log.read_text())
            m = re.search(rb"listening on \S+ port (\d+)", self.log.read_bytes()[offset:])
            if not m:
                time.sleep(0.05)
                continue
            self.port = int(m.group(1))      # the first --listen address's port
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    s.recv(100)
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mtftpd did not start:\n" + self.log.read_text())

    def connect(self, user="alice", password="wonderland", timeout=10):
        f = ftplib.FTP(timeout=timeout * SLOW, encoding="utf-8")
        f.connect(self.host, self.port)
        if user:
            f.login(user, password)
        return f

    def log_text(self):
        return self.log.read_text(errors="replace")

    def kill(self):
        """SIGKILL, as a crash would: stop() then expects no clean exit."""
        self.proc.kill()
        self.proc.wait(timeout=10 * SLOW)
        self.killed = True

    def stop(self, check=True):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if check:
                    raise AssertionError("mtftpd did not stop on SIGTERM:\n" + self.log_text()[-4000:])
        self.logf.close()
        if check:
            text = self.log_text()
            for mark in SANITIZER_MARKS:
                assert mark not in text, "sanitizer report in the server log:\n" + text[-8000:]
            assert self.proc.returncode == (-signal.SIGKILL if getattr(self, "killed", False) else 0), f"mtftpd exit code {self.proc.returncode}:\n" + text[-4000:]

    def fd_count(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(extra=(), start=True, **kw):
        s = Server(tmp_path, extra, **kw)
        servers.append(s)
        return s.start() if start else s

    yield make
    for s in servers:
        s.stop()


@pytest.fixture
def server(make_server):
    return make_server()
