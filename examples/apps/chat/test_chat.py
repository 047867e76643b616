"""The chat room with scripted clients: nicknames, broadcast, private
messages, /who, /quit, a client that stops reading, shutdown, and the
terminal client."""
import os
import socket
import subprocess
import sys
import threading

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from appsupport import SLOW, Server  # noqa: E402

BIN = os.environ.get("CHAT_BIN", os.path.join(os.path.dirname(__file__), "../../../build/examples/apps"))
SERVER = os.path.join(BIN, "chat_server")
CLIENT = os.path.join(BIN, "chat_client")
TIMEOUT = 10 * SLOW


class Client:
    def __init__(self, srv, nick=None, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(TIMEOUT)
        self.s.connect((srv.host, srv.port))
        self.f = self.s.makefile("r", encoding="utf-8", newline="\n")
        assert self.line() == "* welcome to the chat room; your nickname?"
        if nick:
            self.send(nick)
            assert self.line() == f"* hello {nick}"
            assert self.line().startswith("* ")     # who is online

    def send(self, text):
        self.s.sendall((text + "\n").encode())

    def line(self):
        line = self.f.readline()
        assert line.endswith("\n"), f"connection closed (got {line!r})"
        return line[:-1]

    def until(self, pred):
        """Lines up to and including the first one satisfying pred."""
        got = []
        while True:
            got.append(self.line())
            if pred(got[-1]):
                return got

    def closed(self):
        return self.f.readline() == ""

    def close(self):
        self.f.close()
        self.s.close()


@pytest.fixture
def server(request):
    extra = getattr(request, "param", [])
    srv = Server([SERVER, "--listen", "127.0.0.1:0", *extra], "chat_server")
    yield srv
    code, err = srv.stop()
    srv.check_clean(err)
    assert code == 0, err


def test_join_broadcast_leave(server):
    alice = Client(server, "alice")
    bob = Client(server, "bob")
    assert alice.line() == "* bob joined"
    alice.send("hello everyone")
    assert bob.line() == "<alice> hello everyone"
    bob.send("hi alice")
    assert alice.line() == "<bob> hi alice"          # not echoed to bob: the next line is ours
    bob.send("/who")
    assert bob.line() == "* 2 online: alice, bob"
    bob.send("/quit")
    assert bob.line() == "* bye"
    assert bob.closed()
    assert alice.line() == "* bob left"
    alice.close()


def test_nickname_taken_and_invalid(server):
    alice = Client(server, "alice")
    other = Client(server)
    other.send("alice")
    assert other.line() == "! the nickname alice is taken; try another"
    other.send("not valid!")
    assert other.line().startswith("! a nickname is 1-16 letters")
    other.send("x" * 17)
    assert other.line().startswith("! a nickname is")
    other.send("alice2")
    assert other.line() == "* hello alice2"
    assert other.line() == "* 2 online: alice, alice2"
    assert alice.line() == "* alice2 joined"
    alice.close()
    assert other.line() == "* alice left"         # a vanished client leaves too
    other.close()


def test_private_messages_and_errors(server):
    a, b, c = Client(server, "a"), Client(server, "b"), Client(server, "c")
    a.send("/msg c psst")
    assert c.until(lambda l: l.startswith("<"))[-1] == "<a> (private) psst"
    a.send("/msg nobody hi")
    a.send("/msg b")
    a.send("/dance")
    got = a.until(lambda l: l.startswith("! unknown command"))
    assert "! no such user: nobody" in got and "! usage: /msg nick text" in got
    a.send("x" * 600)
    assert a.line() == "! line too long (at most 512 bytes)"
    b.send("/who")
    # b saw c join, then its /who answer; never the private message
    got = b.until(lambda l: l.startswith("* 3 online"))
    assert got == ["* c joined", "* 3 online: a, b, c"]
    for x in (a, b, c):
        x.close()


@pytest.mark.parametrize("server", [["--queue", "8"]], indirect=True)
def test_client_that_stops_reading(server):
    """A client that never reads must not hold up the others: its messages
    are dropped (and counted for it), everyone else gets every line."""
    n = 12000
    stopper = Client(server, "stopper", rcvbuf=2048)
    listener = Client(server, "listener")
    speaker = Client(server, "speaker")
    assert stopper.line() == "* listener joined"    # read only the joins
    assert stopper.line() == "* speaker joined"
    assert listener.line() == "* speaker joined"
    got = []

    def listen():
        while len(got) < n:
            got.append(listener.line())
    t = threading.Thread(target=listen)
    t.start()
    pad = "x" * 460
    # In batches that the listener keeps up with (what it has not read yet
    # fits in its socket buffers), while the stopper's small buffer is full.
    batch = 100
    for b in range(0, n, batch):
        speaker.s.sendall("".join(f"{i:05d} {pad}\n" for i in range(b, b + batch)).encode())
        while len(got) < b + batch and t.is_alive():
            t.join(0.001)
    t.join(60 * SLOW)
    assert not t.is_alive(), f"the listener got only {len(got)} of {n} lines"
    assert got == [f"<speaker> {i:05d} {pad}" for i in range(n)]

    # Now the stopper reads: some lines, then the count of those it missed.
    received = dropped = 0
    while True:
        line = stopper.line()
        if line.startswith("<speaker> "):
            received += 1
        else:
            assert line.endswith(" messages dropped: you were not reading"), line
            dropped += int(line.split()[1])
            break
    speaker.send("END")
    while True:
        line = stopper.line()
        if line == "<speaker> END":
            break
        if line.startswith("<speaker> "):
            received += 1
        else:
            dropped += int(line.split()[1])
    assert dropped > 0 and received > 0
    assert received + dropped == n
    for x in (stopper, listener, speaker):
        x.close()


def test_shutdown_tells_clients(server):
    a = Client(server, "a")
    b = Client(server)                        # still choosing a nickname
    code, err = server.stop()
    assert code == 0, err
    assert a.until(lambda l: "shutting down" in l)[-1] == "* the server is shutting down"
    assert a.closed()
    assert b.line() == "* the server is shutting down"
    assert b.closed()


def test_terminal_client(server):
    dave = Client(server, "dave")
    r = subprocess.run([CLIENT, "--nick", "carol", f"127.0.0.1:{server.port}"], input="hello dave\n/who\n",
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[:2] == ["* welcome to the chat room; your nickname?", "* hello carol"]
    assert "* 2 online: dave, carol" in out and out[-1] == "* bye"
    assert dave.line() == "* carol joined"
    assert dave.line() == "<carol> hello dave"
    assert dave.line() == "* carol left"
    dave.close()


@pytest.mark.parametrize("argv,code,msg", [
    ([], 2, "--listen HOST:PORT is required"),
    (["--listen", "nonsense"], 2, "--listen wants HOST:PORT"),
    (["--listen", "127.0.0.1:0", "--queue", "0"], 2, "--queue must be"),
    (["--bogus"], 2, "unknown or incomplete option"),
    (["--listen", "192.0.2.1:1"], 1, "cannot listen on 192.0.2.1:1"),
])
def test_server_usage_errors(argv, code, msg):
    r = subprocess.run([SERVER, *argv], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == code and msg in r.stderr and r.stderr.count("\n") == 1


def test_client_usage_errors():
    r = subprocess.run([CLIENT], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and "HOST:PORT" in r.stderr
    with socket.socket() as s:                 # a port where nobody listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        r = subprocess.run([CLIENT, f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 1 and "cannot connect" in r.stderr
    for prog in (SERVER, CLIENT):
        r = subprocess.run([prog, "--help"], capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0 and r.stdout.startswith("usage: ")
