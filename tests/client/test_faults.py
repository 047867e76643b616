"""Faults: the server killed mid-transfer (its exit code, the .part kept and
resumable), one segment's connection reset mid-way (retried, the file
correct), and a local disk filling up (its exit code, nothing that looks
complete)."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import EX, MTFTP, SANITIZER_MARKS, SLOW


def wait_for(cond, timeout=20):
    deadline = time.time() + timeout * SLOW
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def state_done(path):
    """The bytes a .part.state file counts as written: an 80-byte header,
    then per segment a 63-byte line "start end done"."""
    try:
        raw = path.read_bytes()
        return sum(int(raw[i:i + 63].split()[2]) for i in range(80, len(raw) - 62, 63))
    except (FileNotFoundError, ValueError, IndexError):   # not there yet, or a line being written
        return 0


@pytest.mark.parametrize("segments", ["1", "4"])
def test_server_killed_then_resume(servers, mtftp, home, segments):
    # the server sends at 256 KiB/s a session, so that the transfer is still
    # running when it dies (a client-side --rate would not do: the kernel's
    # socket buffers hold megabytes the server has already sent)
    s = servers("mtftpd", "--max-rate", "262144")
    data = os.urandom(6 * 1024 * 1024)
    (s.root / "big.bin").write_bytes(data)
    part = mtftp.work / "big.bin.part"
    env = dict(os.environ, HOME=str(home))
    p = subprocess.Popen([MTFTP, "--retries", "0", "get", "-s", segments, s.url("big.bin")],
                         cwd=mtftp.work,
                         env=env, stderr=subprocess.PIPE, text=True)
    state = mtftp.work / "big.bin.part.state"
    wait_for(lambda: state_done(state) > 300_000)
    s.kill()
    err = p.communicate(timeout=30 * SLOW)[1]
    assert not [m for m in SANITIZER_MARKS if m in err], err
    assert p.returncode == EX["xfer"], err
    assert "mtftp: get " in err and err.strip().count("\n") == 0, err
    assert part.exists() and state.exists()
    assert not (mtftp.work / "big.bin").exists()
    # the state file, not the .part's length, says what arrived
    got = state_done(state)
    assert 0 < got < len(data)
    # a new server on the same tree: -c continues from the state file
    s2 = servers("mtftpd", root=s.root)
    r = mtftp("-v", "get", "-c", "-s", segments, s2.url("big.bin"))
    assert r.returncode == 0, r.stderr
    rest = [l for l in r.stderr.splitlines() if l.startswith("--> REST ")]
    assert rest and int(rest[0].split()[2]) > 0, r.stderr
    # each segment's range checked, the resumed prefixes hashed back first
    assert ("verified, 4 ranges" if segments == "4" else "SHA-256 verified (") in r.stderr, r.stderr
    assert (mtftp.work / "big.bin").read_bytes() == data
    assert not part.exists() and not (mtftp.work / "big.bin.part.state").exists()


def test_part_without_state_is_not_complete(servers, mtftp):
    s = servers("mtftpd")
    data = os.urandom(300_000)
    (s.root / "f.bin").write_bytes(data)
    # a .part of the full length but no state file: never taken as complete
    (mtftp.work / "f.bin.part").write_bytes(b"\0" * len(data))
    r = mtftp("get", "-c", s.url("f.bin"))
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "f.bin").read_bytes() == data


def test_segment_reset_is_retried(servers, mtftp):
    s = servers("pyftpdlib", "--reset-once", "200000")
    data = os.urandom(3 * 1024 * 1024)
    (s.root / "seg.bin").write_bytes(data)
    r = mtftp("get", "-s", "3", s.url("seg.bin"))
    assert r.returncode == 0, r.stderr
    assert "retrying" in r.stderr, r.stderr
    assert (mtftp.work / "seg.bin").read_bytes() == data


@pytest.mark.parametrize("segments", ["1", "4"])
@pytest.mark.parametrize("mib", [17, 3])
def test_disk_full(servers, mtftp, tmp_path, segments, mib):
    # a download far bigger than the disk: exit 9, ENOSPC said, only the
    # .part left — from the fallocate of a .part of 16 MiB or more, before
    # any byte comes, and from pwrite for a smaller one
    if not shutil.which("unshare"):
        raise AssertionError("needs unshare (util-linux)")
    s = servers("mtftpd")
    (s.root / "huge.bin").write_bytes(os.urandom(mib * 1024 * 1024))
    mnt = tmp_path / "small"
    mnt.mkdir()
    script = (f"mount -t tmpfs -o size=1m tmpfs {mnt} && cd {mnt} && "
              f"{MTFTP} --retries 0 get -s {segments} {s.url('huge.bin')}; echo rc=$?; ls {mnt}; "
              f"echo part=$(wc -c < {mnt}/huge.bin.part)")
    p = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=60 * SLOW)
    assert not [m for m in SANITIZER_MARKS if m in p.stderr], p.stderr
    assert "rc=%d" % EX["local"] in p.stdout, p.stdout + p.stderr
    assert "No space left on device" in p.stderr, p.stderr
    listing = p.stdout.split("\n", 1)[1].split()
    assert "huge.bin" not in listing          # nothing that looks complete
    assert "huge.bin.part" in listing
    if mib >= 16:                             # refused before the first byte
        assert "part=0" in listing and "huge.bin.part: No space left on device" in p.stderr, p.stdout + p.stderr
    else:                                     # what fitted was written, then pwrite failed
        assert "part=0" not in listing and "huge.bin.part:" not in p.stderr, p.stdout + p.stderr


def test_interrupt_then_changed_file_starts_over(servers, mtftp, home):
    s = servers("mtftpd")
    data = os.urandom(3 * 1024 * 1024)
    f = s.root / "chg.bin"
    f.write_bytes(data)
    part = mtftp.work / "chg.bin.part"
    p = subprocess.Popen([MTFTP, "--rate", "1M", "get", s.url("chg.bin")], cwd=mtftp.work,
                         env=dict(os.environ, HOME=str(home)), stderr=subprocess.PIPE, text=True)
    wait_for(lambda: state_done(mtftp.work / "chg.bin.part.state") > 300_000)
    p.send_signal(2)   # SIGINT: the transfer is aborted, the state written
    err = p.communicate(timeout=30 * SLOW)[1]
    assert not [m for m in SANITIZER_MARKS if m in err], err
    assert p.returncode == 130
    assert (mtftp.work / "chg.bin.part.state").exists()
    # the same size but another time on the server: -c must not splice old bytes in
    data2 = os.urandom(len(data))
    f.write_bytes(data2)
    os.utime(f, (1_500_000_000, 1_500_000_000))
    r = mtftp("-v", "get", "-c", s.url("chg.bin"))
    assert r.returncode == 0, r.stderr
    assert not [l for l in r.stderr.splitlines() if l.startswith("--> REST ")], r.stderr
    assert (mtftp.work / "chg.bin").read_bytes() == data2


def test_stalled_data_connection(servers, mtftp):
    s = servers("pyftpdlib", "--stall-once")
    (s.root / "st.bin").write_bytes(b"s" * 100_000)
    r = mtftp("--timeout", "1", "--retries", "0", "get", s.url("st.bin"))
    assert r.returncode == EX["xfer"], r.stderr
    assert "stalled" in r.stderr
    assert not (mtftp.work / "st.bin").exists()
    # the stall happens once: a retry gets the file
    s2 = servers("pyftpdlib", "--stall-once")
    (s2.root / "st.bin").write_bytes(b"s" * 100_000)
    r = mtftp("--timeout", "1", "get", s2.url("st.bin"))
    assert r.returncode == 0, r.stderr
    assert "retrying" in r.stderr and (mtftp.work / "st.bin").read_bytes() == b"s" * 100_000


@pytest.mark.parametrize("segments", ["1", "4"])
def test_resume_from_a_bare_local_file(servers, mtftp, segments):
    """get -c continues a file another tool left (wget -c, curl -C -): its
    bytes are the first ones, REST asks for the rest, and the whole is
    verified, so a prefix that is not the remote file's is never passed off
    as the file."""
    s = servers("mtftpd")
    data = os.urandom(3 * 1024 * 1024)
    (s.root / "b.bin").write_bytes(data)
    (mtftp.work / "b.bin").write_bytes(data[:1_000_000])
    r = mtftp("-v", "get", "-c", "-s", segments, s.url("b.bin"))
    assert r.returncode == 0, r.stderr
    assert "--> REST 1000000" in r.stderr, r.stderr
    assert (mtftp.work / "b.bin").read_bytes() == data
    assert not (mtftp.work / "b.bin.part").exists()
    # as long as the remote file and the same: nothing transferred
    r = mtftp("-v", "get", "-c", s.url("b.bin"))
    assert r.returncode == 0, r.stderr
    assert "--> RETR" not in r.stderr and "already complete" in r.stderr
    # a wrong prefix: the verification fails, the .part is kept, nothing complete
    bad = bytearray(data[:500_000])
    bad[1000] ^= 0xFF
    (mtftp.work / "b.bin").write_bytes(bytes(bad))
    r = mtftp("get", "-c", s.url("b.bin"))
    assert r.returncode == EX["verify"], r.stderr
    assert "mismatch" in r.stderr
    assert not (mtftp.work / "b.bin").exists() and (mtftp.work / "b.bin.part").exists()
    # a plain get starts over and gets it right
    r = mtftp("get", s.url("b.bin"))
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "b.bin").read_bytes() == data
    # as long but different: downloaded again (-c never keeps a wrong file)
    (mtftp.work / "b.bin").write_bytes(b"\0" * len(data))
    r = mtftp("get", "-c", s.url("b.bin"))
    assert r.returncode == 0, r.stderr
    assert "downloading it again" in r.stderr
    assert (mtftp.work / "b.bin").read_bytes() == data
