"""Shared by the apps' pytest files: start a server binary on a free port,
read its "listening on" line, stop it with SIGTERM and require a clean exit
with nothing from the sanitizers on stderr."""
import os
import re
import signal
import subprocess

SLOW = float(os.environ.get("MT_EXAMPLE_SLOW", "1"))   # sanitizer builds are slower
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "WARNING: ThreadSanitizer",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


class Server:
    def __init__(self, argv, name):
        self.name = name
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.match(rf"{name}: listening on (\S+):(\d+)$", line.strip())
        if not m:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"{name} did not start: {line!r} {err}")
        self.host = "127.0.0.1" if m.group(1) in ("*", "0.0.0.0") else m.group(1)
        self.port = int(m.group(2))

    def stop(self, sig=signal.SIGTERM):
        """Signals the server and returns (exit code, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            out, err = self.proc.communicate(timeout=10 * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"{self.name} did not stop on {sig!r}: {err}")
        return self.proc.returncode, err

    def check_clean(self, err):
        for mark in SANITIZER_MARKS:
            assert mark not in err, err
