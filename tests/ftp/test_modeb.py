"""MODE B (RFC 959 3.4.2): block framing, and the data connection kept open
between transfers. Driven over raw sockets: no stock client speaks it. One
server serves the whole module (each test has its own session and files),
checked for sanitizer reports and a clean exit at the end."""
import ftplib
import os
import socket
import struct

import pytest

from conftest import SLOW, Server

EOF, MARKER = 64, 16


def epsv_port(f):
    return int(f.sendcmd("EPSV").split("|")[3])


def read_exact(conn, n):
    got = bytearray()
    while len(got) < n:
        b = conn.recv(n - len(got))
        if not b:
            raise EOFError(f"data connection closed after {len(got)} of {n} bytes")
        got += b
    return bytes(got)


def read_blocks(conn):
    """The blocks of one transfer, up to the one flagged EOF: (data, headers)."""
    data, heads = bytearray(), []
    while True:
        desc, n = struct.unpack(">BH", read_exact(conn, 3))
        heads.append((desc, n))
        data += read_exact(conn, n)
        if desc & EOF:
            return bytes(data), heads


def block(data, desc=0):
    return struct.pack(">BH", desc, len(data)) + data


def nothing_more(conn):
    """No byte waits on the connection past the last block."""
    conn.setblocking(False)
    try:
        conn.recv(1)
    except BlockingIOError:
        return True
    finally:
        conn.setblocking(True)
    return False


def read_to_eof(conn):
    got = bytearray()
    while b := conn.recv(65536):
        got += b
    return bytes(got)


def closed_by_peer(conn, timeout=10):
    conn.settimeout(timeout * SLOW)
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("modeb")).start()
    yield s
    s.stop()


@pytest.fixture
def blk(server):
    """A logged-in session in MODE B with its data connection open."""
    f = server.connect()
    f.sendcmd("TYPE I")
    assert f.sendcmd("MODE B").startswith("200")
    conn = socket.create_connection(("127.0.0.1", epsv_port(f)), timeout=10 * SLOW)
    yield f, conn
    conn.close()
    try:
        f.quit()
    except (OSError, EOFError, ftplib.Error):
        f.close()


def test_downloads_share_one_data_connection(server, blk):
    """Files of 4 KiB, 1 byte, 0 bytes and several blocks come one after
    another over the one connection: 150 for the first, 125 ("already
    open") after; each ends with 250, not 226, and its last block alone
    carries the EOF flag. Blocks hold at most 65,535 bytes."""
    f, conn = blk
    files = {"a": os.urandom(4096), "b": b"x", "c": b"", "d": os.urandom(200_000)}
    for name, body in files.items():
        (server.root / name).write_bytes(body)
    for i, (name, body) in enumerate(files.items()):
        assert f.sendcmd(f"RETR {name}").startswith("150" if i == 0 else "125")
        data, heads = read_blocks(conn)
        assert data == body
        assert all(n <= 65535 for _, n in heads)
        assert f.voidresp().startswith("250")
        assert nothing_more(conn)                   # the EOF block was the last one
    f.sock.sendall(b"STAT\r\n")
    stat = f.getresp()
    assert "MODE: Block" in stat and "Data connection open (MODE B)" in stat


def test_listing_in_blocks(server, blk):
    f, conn = blk
    for n in ("one", "two"):
        (server.root / n).write_bytes(b"1")
    f.sendcmd("NLST")
    names = read_blocks(conn)[0].decode().split("\r\n")
    assert f.voidresp().startswith("250")
    assert {"one", "two"} <= set(names)
    f.sendcmd("MLSD")
    assert "type=file;" in read_blocks(conn)[0].decode()
    assert f.voidresp().startswith("250")


def test_uploads_in_blocks(server, blk):
    """An upload ends at the client's EOF block, not at a close: it is
    stored whole, a restart marker's bytes are not data, TYPE A turns CRLF
    into LF, and the connection serves the next transfer."""
    f, conn = blk
    body = os.urandom(150_000)
    assert f.sendcmd("STOR up.bin").startswith("150")   # the first transfer on it
    conn.sendall(block(body[:65535]) + block(b"MARK", MARKER) + block(body[65535:131070]) +
                 block(body[131070:], EOF))
    assert f.voidresp().startswith("250")
    assert (server.root / "up.bin").read_bytes() == body
    f.sendcmd("TYPE A")
    f.sendcmd("STOR t.txt")
    conn.sendall(block(b"one\r\ntwo\r") + block(b"\nthree\r\n", EOF))
    assert f.voidresp().startswith("250")
    assert (server.root / "t.txt").read_bytes() == b"one\ntwo\nthree\n"
    f.sendcmd("TYPE I")
    f.sendcmd("RETR up.bin")
    assert read_blocks(conn)[0] == body
    assert f.voidresp().startswith("250")


def test_upload_cut_before_its_eof_block_is_not_stored(server, blk):
    f, conn = blk
    (server.root / "keep.bin").write_bytes(b"old")
    f.sendcmd("STOR keep.bin")
    conn.sendall(block(b"new and incomplete"))
    conn.close()
    with pytest.raises(ftplib.error_temp, match="426"):
        f.voidresp()
    assert (server.root / "keep.bin").read_bytes() == b"old"
    assert f.sendcmd("NOOP").startswith("200")      # the session goes on


def test_rest_is_refused_and_mode_s_closes_the_kept_connection(server, blk):
    f, conn = blk
    (server.root / "r.bin").write_bytes(b"restart")
    with pytest.raises(ftplib.error_perm, match="504"):
        f.sendcmd("REST 3")
    f.sendcmd("RETR r.bin")
    assert read_blocks(conn)[0] == b"restart"
    f.voidresp()
    assert f.sendcmd("MODE S").startswith("200")
    assert closed_by_peer(conn)
    with pytest.raises(ftplib.error_temp, match="425"):
        f.sendcmd("RETR r.bin")                     # no connection any more
    assert f.sendcmd("REST 3").startswith("350")    # stream mode again
    p = epsv_port(f)
    c2 = socket.create_connection(("127.0.0.1", p), timeout=10)
    f.sendcmd("RETR r.bin")
    assert read_to_eof(c2) == b"tart"
    assert f.voidresp().startswith("226")


@pytest.mark.parametrize("verb", ["EPSV", "PASV", "PORT", "ABOR", "REIN"])
def test_a_new_data_connection_or_reset_closes_the_kept_one(server, blk, verb):
    f, conn = blk
    (server.root / "e.bin").write_bytes(b"e")
    f.sendcmd("RETR e.bin")
    read_blocks(conn)
    f.voidresp()
    if verb == "PORT":
        with socket.socket() as l:
            l.bind(("127.0.0.1", 0))
            p = l.getsockname()[1]
        verb = f"PORT 127,0,0,1,{p >> 8},{p & 255}"
    assert f.sendcmd(verb)[0] == "2"
    assert closed_by_peer(conn)


def test_a_refused_pasv_keeps_the_connection(server, blk):
    f, conn = blk
    (server.root / "e.bin").write_bytes(b"kept")
    f.sendcmd("EPSV ALL")
    with pytest.raises(ftplib.error_perm, match="501"):
        f.sendcmd("PASV")
    f.sendcmd("RETR e.bin")
    assert read_blocks(conn)[0] == b"kept"
    assert f.voidresp().startswith("250")


@pytest.mark.parametrize("cmd", ["ABOR", "REIN"])
def test_abor_or_rein_during_a_block_transfer(server, blk, cmd):
    """ABOR ends a MODE B download at once (426, 226) and closes the
    connection; REIN lets it end in whole blocks, then closes it (226)."""
    f, conn = blk
    body = os.urandom(24 << 20)                    # more than the socket buffers hold
    (server.root / f"big-{cmd}.bin").write_bytes(body)
    f.sendcmd(f"RETR big-{cmd}.bin")
    first = read_exact(conn, 3)                     # the transfer is under way
    f.sock.sendall(cmd.encode() + b"\r\n")
    if cmd == "ABOR":
        with pytest.raises(ftplib.error_temp, match="426"):
            f.getresp()
        assert f.getresp().startswith("226")
        read_to_eof(conn)                           # whatever was in flight, then the close
    else:
        assert f.getresp().startswith("220")        # REIN's answer comes at once
        data = bytearray(read_exact(conn, struct.unpack(">BH", first)[1]))
        if not first[0] & EOF:
            more, _ = read_blocks(conn)
            data += more
        assert bytes(data) == body                  # every block, the last flagged EOF
        assert f.getresp().startswith("226")        # not 250: not kept
        assert closed_by_peer(conn)


def test_a_kept_connection_the_client_closed_is_not_used(server, blk):
    """The server looks at the kept connection before using it: closed by
    the client meanwhile, the next transfer gets 425 (and a new EPSV
    works)."""
    f, conn = blk
    (server.root / "g.bin").write_bytes(b"gone")
    f.sendcmd("RETR g.bin")
    read_blocks(conn)
    f.voidresp()
    conn.close()                                    # on loopback the FIN is there at once
    with pytest.raises(ftplib.error_temp, match="425"):
        f.sendcmd("RETR g.bin")
    c2 = socket.create_connection(("127.0.0.1", epsv_port(f)), timeout=10)
    f.sendcmd("RETR g.bin")
    assert read_blocks(c2)[0] == b"gone"
    assert f.voidresp().startswith("250")


def test_mode_b_after_a_transfer_in_stream_mode(server):
    """MODE B chosen mid-session: the next transfer opens a connection as
    usual and keeps it; unknown modes are refused."""
    (server.root / "s.bin").write_bytes(b"stream")
    f = server.connect()
    f.sendcmd("TYPE I")
    with pytest.raises(ftplib.error_perm, match="504"):
        f.sendcmd("MODE C")
    p = epsv_port(f)
    c = socket.create_connection(("127.0.0.1", p), timeout=10)
    f.sendcmd("RETR s.bin")
    assert c.recv(100) == b"stream"
    assert f.voidresp().startswith("226")
    f.sendcmd("MODE B")
    c = socket.create_connection(("127.0.0.1", epsv_port(f)), timeout=10)
    for _ in range(3):
        f.sendcmd("RETR s.bin")
        assert read_blocks(c)[0] == b"stream"
        assert f.voidresp().startswith("250")
