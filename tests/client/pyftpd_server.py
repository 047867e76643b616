"""A pyftpdlib server for the client tests (python3-pyftpdlib).

Usage: pyftpd_server.py ROOT PORT [--hash] [--lie] [--reset-once BYTES] [--no-mlst]
  --hash        adds HASH (draft-bryan-ftpext-hash-02: FEAT line, OPTS HASH,
                "213 SHA-256 0-N hex path") computed with hashlib
  --lie         HASH answers a wrong digest (a verification mismatch); after
                RANG, only for the range that ends the file
  --rang        adds RANG (draft-bryan-ftp-range-08), for HASH only: "RANG a b"
                then HASH digests bytes a..b, "213 SHA-256 a-<b+1> hex path"
  --rang-ignored  RANG is answered 350 but HASH digests the whole file anyway;
                the range stays set, and the next RETR starts at its start (a
                server whose RANG is for RETR only)
  --reset-once  the first RETR that starts at a non-zero REST offset has its
                data connection reset after BYTES bytes (a segment's connection
                breaking mid-way); later ones are served whole
  --stall-once  the first RETR answers 150 and then sends nothing, leaving the
                data connection open (a stalled transfer)
  --busy-once   the first RETR is refused with "450 busy" (a transient reply)
  --evil-names  MLSD listings also name "../escape.txt" and "sub/inner.txt"
                (a server pointing mget and mirror outside the directory)
  --no-mlst     no MLST/MLSD: the client must parse LIST
  --pasv-lie    no EPSV, and PASV replies name another address (10.255.255.1):
                the client must fall back to PASV and use the control peer's
  --epsv-fail-second  the second EPSV of a session is refused with 425 (EPSV
                worked once: the client pipelines the next; it must read the
                transfer command's reply too and fall back)
Users: alice/wonderland (all permissions), anonymous read-only on ROOT.
Prints "ready" when it listens.
"""
import hashlib
import os
import socket
import struct
import sys

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler, DTPHandler
from pyftpdlib.servers import FTPServer

root, port = sys.argv[1], int(sys.argv[2])
args = sys.argv[3:]
HASH = "--hash" in args
LIE = "--lie" in args
RANG_IGNORED = "--rang-ignored" in args
RANG = "--rang" in args or RANG_IGNORED
RESET = int(args[args.index("--reset-once") + 1]) if "--reset-once" in args else 0
reset_done = [False]
STALL = "--stall-once" in args
BUSY = "--busy-once" in args
busy_done = [False]
stall_done = [False]
EPSV2 = "--epsv-fail-second" in args


class ResetDTP(DTPHandler):
    sent = 0

    def send(self, data):
        h = self.cmd_channel
        if getattr(h, "_reset_this", False):
            left = RESET - self.sent
            if left <= 0:
                h._reset_this = False
                self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close()
                return 0
            data = data[:left]
        n = super().send(data)
        self.sent += n or 0
        return n


class Handler(FTPHandler):
    proto_cmds = dict(FTPHandler.proto_cmds)
    if HASH:
        proto_cmds["HASH"] = dict(perm="r", auth=True, arg=True, help="Syntax: HASH <SP> file-name")
    if RANG:
        proto_cmds["RANG"] = dict(perm=None, auth=True, arg=True, help="Syntax: RANG <SP> start <SP> end")
    _rang = None

    def ftp_RETR(self, file):
        if BUSY and not busy_done[0]:
            busy_done[0] = True
            self.respond("450 Busy, try again.")
            return
        if STALL and not stall_done[0]:
            stall_done[0] = True
            self.respond("150 Stalling on purpose.")
            return
        if RANG_IGNORED and self._rang:
            self._restart_position, self._rang = self._rang[0], None
        if RESET and self._restart_position and not reset_done[0]:
            reset_done[0] = True
            self._reset_this = True
        return super().ftp_RETR(file)

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        if HASH:
            self._extra_feats = list(self._extra_feats) + ["HASH SHA-256*;SHA-512;SHA-1;MD5"]
        if RANG:
            self._extra_feats = list(self._extra_feats) + ["RANG STREAM"]

    def ftp_RANG(self, line):
        a, b = (int(x) for x in line.split())
        self._rang = None if (a, b) == (1, 0) else (a, b)
        self.respond("350 Restarting at %d. Ending byte at %d." % (a, b))

    def ftp_EPSV(self, line):
        if EPSV2:
            self._epsvs = getattr(self, "_epsvs", 0) + 1
            if self._epsvs == 2:
                self.respond("425 Cannot open a passive port now.")
                return
        return super().ftp_EPSV(line)

    def ftp_OPTS(self, line):
        if HASH and line.upper().startswith("HASH"):
            algo = line[4:].strip().upper()
            if algo in ("", "SHA-256"):
                self.respond("200 SHA-256")
            else:
                self.respond("501 Only SHA-256 here.")
            return
        return super().ftp_OPTS(line)

    def ftp_HASH(self, path):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            self.respond("550 %s." % e.strerror)
            return
        start, rang, whole = 0, self._rang, len(data)
        lie = LIE
        if rang and not RANG_IGNORED:
            self._rang = None
            start, data = rang[0], data[rang[0]:rang[1] + 1]
            lie = LIE and start + len(data) == whole
        digest = hashlib.sha256(data + (b"x" if lie else b"")).hexdigest()
        self.respond("213 SHA-256 %d-%d %s %s" % (start, start + len(data), digest, self.fs.fs2ftp(path)))


if "--evil-names" in args:
    from pyftpdlib.filesystems import AbstractedFS
    _orig_mlsx = AbstractedFS.format_mlsx

    def _evil_mlsx(self, basedir, listing, perms, facts, ignore_err=True):
        for name in ("../escape.txt", "sub/inner.txt", ".."):
            yield ("type=file;size=5;modify=20200101000000; %s\r\n" % name).encode()
        yield from _orig_mlsx(self, basedir, listing, perms, facts, ignore_err)

    AbstractedFS.format_mlsx = _evil_mlsx
if "--no-mlst" in args:
    del Handler.proto_cmds["MLSD"]
    del Handler.proto_cmds["MLST"]
if "--pasv-lie" in args:
    del Handler.proto_cmds["EPSV"]
    Handler.masquerade_address = "10.255.255.1"
if RESET:
    Handler.dtp_handler = ResetDTP
    Handler.use_sendfile = False
auth = DummyAuthorizer()
auth.add_user("alice", "wonderland", root, perm="elradfmwMT")
auth.add_anonymous(root)
Handler.authorizer = auth
Handler.banner = "pyftpdlib ready."
Handler.passive_ports = None
server = FTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever(handle_exit=True)
