"""The shell: scripts (-c, standard input, -k), and the interactive shell
driven through a real terminal (tmux send-keys / capture-pane): the prompt,
unique prefixes, tab completion of a remote name, history kept under
$XDG_STATE_HOME, a progress line, Ctrl-C aborting a download with the
shell still usable, and Ctrl-D quitting."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import EX, MTFTP, SANITIZER_MARKS, SLOW


def test_script_c_and_stdin(servers, mtftp):
    s = servers("mtftpd")
    (s.root / "pub").mkdir()
    (s.root / "pub" / "a.txt").write_text("A" * 100)
    (s.root / "pub" / "b.txt").write_text("B" * 200)
    r = mtftp("-c", "cd pub; get a.txt; mget *.txt; quit", s.url())
    assert r.returncode == 0, r.stderr
    assert (mtftp.work / "a.txt").read_text() == "A" * 100
    assert (mtftp.work / "b.txt").read_text() == "B" * 200
    # the first failure stops the script with its code; -k goes on
    r = mtftp("-c", "get nope; put a.txt pub/copied.txt", s.url())
    assert r.returncode == EX["notfound"] and not (s.root / "pub" / "copied.txt").exists()
    assert r.stderr.strip() == "mtftp: get nope: 550 /nope: No such file or directory."
    r = mtftp("-k", "-c", "get nope; put a.txt pub/copied.txt", s.url())
    assert r.returncode == EX["notfound"] and (s.root / "pub" / "copied.txt").read_text() == "A" * 100
    # standard input, no prompt; prefixes ("si" for size) and help
    r = mtftp(s.url("pub"), input="si a.txt\nmkd newdir\nren a.txt renamed.txt\nhelp get\npw\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "100"
    assert "get [-o LOCAL]" in r.stdout and "/pub\n" in r.stdout and "> " not in r.stdout
    assert (s.root / "pub" / "newdir").is_dir() and (s.root / "pub" / "renamed.txt").exists()
    r = mtftp(s.url(), input="m x\n")
    assert r.returncode == EX["usage"] and "ambiguous" in r.stderr


class Term:
    def __init__(self, tmp, cmd, env):
        if not shutil.which("tmux"):
            raise AssertionError("needs tmux")
        self.sock = f"mtftp{os.getpid()}{int(time.time() * 1000) % 100000}"
        envs = " ".join(f"{k}={v}" for k, v in env.items())
        subprocess.run(["tmux", "-L", self.sock, "new-session", "-d", "-s", "t", "-x", "150", "-y", "40",
                        f"cd {tmp} && env {envs} {cmd}; echo EXIT=$?; sleep 60"], check=True)

    def keys(self, *k):
        subprocess.run(["tmux", "-L", self.sock, "send-keys", "-t", "t", *k], check=True)

    def screen(self):
        return subprocess.run(["tmux", "-L", self.sock, "capture-pane", "-p", "-t", "t"], check=True,
                              capture_output=True, text=True).stdout

    def wait(self, cond, timeout=15):
        deadline = time.time() + timeout * SLOW
        while time.time() < deadline:
            sc = self.screen()
            if cond(sc):
                return sc
            time.sleep(0.05)
        raise AssertionError("screen never matched:\n" + self.screen())

    def close(self):
        subprocess.run(["tmux", "-L", self.sock, "kill-server"], capture_output=True)


@pytest.fixture
def term(tmp_path, home):
    """A terminal running mtftp; sanitizer reports (the ASan and TSan builds
    run this too) go to files checked at the end, since stderr is the screen."""
    made = []
    logs = tmp_path / "sanlogs"
    logs.mkdir()
    env = {"HOME": home, "XDG_STATE_HOME": home / "state"}
    for var in ("ASAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS"):
        base = os.environ.get(var, "")
        env[var] = f"{base}:log_path={logs}/{var[:4].lower()}" if base else f"log_path={logs}/{var[:4].lower()}"

    def make(args):
        t = Term(mtftp_dir(tmp_path), f"{MTFTP} {args}", env)
        made.append(t)
        return t

    yield make
    for t in made:
        t.close()
    for f in logs.iterdir():
        text = f.read_text(errors="replace")
        for mark in SANITIZER_MARKS:
            assert mark not in text, text


def mtftp_dir(tmp_path):
    d = tmp_path / "tw"
    d.mkdir(exist_ok=True)
    return d


def test_interactive(servers, term, tmp_path, home):
    s = servers("mtftpd")
    (s.root / "pub").mkdir()
    (s.root / "pub" / "unique-name.bin").write_bytes(os.urandom(40_000_000))
    (s.root / "pub" / "small.txt").write_text("small\n")
    t = term(f"--rate 4M {s.url()}")
    t.wait(lambda sc: "alice@127.0.0.1:/>" in sc)
    t.keys("cd pub", "Enter")
    t.wait(lambda sc: "alice@127.0.0.1:/pub>" in sc)
    # tab completion of a remote name from the listing
    t.keys("get uniq", "Tab")
    t.wait(lambda sc: "get unique-name.bin" in sc)
    t.keys("Enter")
    # the progress line, then Ctrl-C aborts the download
    t.wait(lambda sc: "unique-name.bin" in sc and "%" in sc and "/s" in sc)
    t.keys("C-c")
    sc = t.wait(lambda sc: "interrupted" in sc and sc.rstrip().endswith("alice@127.0.0.1:/pub>"))
    tw = mtftp_dir(tmp_path)
    assert not (tw / "unique-name.bin").exists() and (tw / "unique-name.bin.part").exists()
    # still in step: a listing and a whole download work
    t.keys("get small.txt", "Enter")
    t.wait(lambda sc: (tw / "small.txt").exists())
    assert (tw / "small.txt").read_text() == "small\n"
    t.keys("ls", "Enter")
    t.wait(lambda sc: "small.txt" in sc.split("get small.txt", 1)[-1])
    # local path completion (libedit's file names) for lcd
    (tw / "localdir-x").mkdir()
    t.keys("lcd localdi", "Tab")
    t.wait(lambda sc: "lcd localdir-x" in sc)
    t.keys("Enter", "lpwd", "Enter")
    t.wait(lambda sc: str(tw / "localdir-x") in sc)
    # Ctrl-D quits, and history is kept
    t.keys("C-d")
    t.wait(lambda sc: "EXIT=0" in sc)
    hist = (home / "state" / "mtftp" / "history").read_text().replace("\\040", " ")   # libedit's encoding
    assert "get small.txt" in hist and "cd pub" in hist
    t2 = term(s.url())
    t2.wait(lambda sc: "alice@127.0.0.1:/>" in sc)
    t2.keys("Up")
    t2.wait(lambda sc: sc.rstrip().endswith("> lpwd"))


def test_more_commands(servers, mtftp):
    s = servers("mtftpd")
    (s.root / "d").mkdir()
    (s.root / "d" / "f.txt").write_text("f" * 10)
    os.utime(s.root / "d" / "f.txt", (1_600_000_000, 1_600_000_000))
    (mtftp.work / "l1.dat").write_bytes(b"1" * 10)
    (mtftp.work / "l2.dat").write_bytes(b"2" * 20)
    (mtftp.work / "ld").mkdir()
    script = "\n".join([
        "cd d", "nls", "modtime f.txt", "chmod 600 f.txt", "cdup", "pwd", "lcd ld", "lpwd", "lcd ..",
        "mput -j 2 *.dat", "delete l1.dat", "mkdir -p x/y", "rmdir x/y", "quote NOOP", "stat",
        "binary", "active", "get d/f.txt act.txt", "passive", "close", "open " + s.url("d"), "pwd",
        "user alice wonderland", "pwd", "bye"])
    r = mtftp(s.url(), input=script + "\n")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "f.txt\n" in out and "2020-09-13 12:26:40 UTC" in out
    assert (s.root / "d" / "f.txt").stat().st_mode & 0o777 == 0o600
    assert str(mtftp.work / "ld") in out
    assert not (s.root / "l1.dat").exists() and (s.root / "l2.dat").read_bytes() == b"2" * 20
    assert (s.root / "x").is_dir() and not (s.root / "x" / "y").exists()
    assert "200 " in out and "211" in out   # quote NOOP, stat
    assert (mtftp.work / "act.txt").read_text() == "f" * 10
    assert out.count("/d\n") == 1 and out.count("/\n") >= 2   # open URL/d, then user logs in afresh


def test_reput_resumes_upload(servers, mtftp):
    s = servers("mtftpd")
    data = os.urandom(400_000)
    (mtftp.work / "u.bin").write_bytes(data)
    (s.root / "u.bin").write_bytes(data[:150_000])
    r = mtftp("-v", "put", "-c", "u.bin", s.url("u.bin"))
    assert r.returncode == 0, r.stderr
    assert "--> APPE u.bin" in r.stderr
    assert (s.root / "u.bin").read_bytes() == data


def test_stdout_output(servers, mtftp):
    s = servers("mtftpd")
    (s.root / "o.txt").write_text("to stdout\n")
    r = mtftp("get", s.url("o.txt"), "-o", "-")
    assert r.returncode == 0 and r.stdout == "to stdout\n"


def test_progress_redraws_at_most_ten_per_second(servers, tmp_path, home):
    import pty
    import select
    s = servers("mtftpd")
    (s.root / "p.bin").write_bytes(os.urandom(1536 * 1024))
    master, slave = pty.openpty()
    t0 = time.time()
    p = subprocess.Popen([MTFTP, "--rate", "1M", "get", s.url("p.bin")], cwd=tmp_path, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=slave, env=dict(os.environ, HOME=str(home)))
    os.close(slave)
    out = b""
    while True:
        r, _, _ = select.select([master], [], [], 30 * SLOW)
        if not r:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=30 * SLOW)
    elapsed = time.time() - t0
    os.close(master)
    assert p.returncode == 0
    text = out.decode(errors="replace")
    assert not [m for m in SANITIZER_MARKS if m in text], text
    assert "p.bin" in text and "%" in text and "/s" in text      # name, percent, rate
    redraws = text.count("\r\x1b[K")
    assert 2 <= redraws <= elapsed * 10 + 2, (redraws, elapsed)
    assert text.endswith("\r\x1b[K")                              # cleared at the end


def test_password_prompt_without_echo(servers, term):
    s = servers("mtftpd")
    t = term(f"ftp://alice@127.0.0.1:{s.port}/")
    t.wait(lambda sc: "Password for alice@127.0.0.1:" in sc)
    t.keys("wonderland", "Enter")
    sc = t.wait(lambda sc: "alice@127.0.0.1:/>" in sc)
    assert "wonderland" not in sc
