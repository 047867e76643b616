"""The scheduling simulator against schedules worked out by hand.

Each case gives the job file, the expected Gantt chart as (label, start, end)
segments, each job's completion time, and the two averages. The hand work is
written next to each case so that a reader can check it without the program.
"""
import os
import subprocess

import pytest

SCHED = os.environ.get("SCHED", os.path.join(os.path.dirname(__file__), "../../../build/examples/apps/sched"))

# The classic four jobs.
CLASSIC = "# name arrival burst\nP1 0 7\nP2 2 4\nP3 4 1\nP4 5 4\n"


def run(tmp_path, text, *args):
    f = tmp_path / "jobs.txt"
    f.write_text(text)
    return subprocess.run([SCHED, *args, str(f)], capture_output=True, text=True, timeout=10)


def parse(out):
    """(gantt segments, {job: (completion, waiting, turnaround)}, avg wait, avg tat)."""
    lines = out.splitlines()
    i = lines.index("gantt:") + 1
    segs = []
    while lines[i].startswith("|"):
        labels = [x.strip() for x in lines[i].strip("|").split("|")]
        times = [int(x) for x in lines[i + 1].split()]
        assert len(times) == len(labels) + 1
        segs += [(labels[k], times[k], times[k + 1]) for k in range(len(labels))]
        i += 2
    assert lines[i].split()[:7] == ["job", "arrival", "burst", "priority", "completion", "waiting", "turnaround"]
    table = {}
    for line in lines[i + 1:]:
        if line.startswith("average"):
            break
        f = line.split()
        table[f[0]] = (int(f[4]), int(f[5]), int(f[6]))
    aw = [l for l in lines if l.startswith("average waiting time: ")]
    at = [l for l in lines if l.startswith("average turnaround time: ")]
    assert len(aw) == 1 and len(at) == 1
    return segs, table, aw[0].split(": ")[1], at[0].split(": ")[1]


CASES = [
    # FCFS: P1 0-7, P2 7-11, P3 11-12, P4 12-16. Turnaround 7,9,8,11 = 35/4;
    # waiting 0,5,7,7 = 19/4.
    ("fcfs", [], CLASSIC,
     [("P1", 0, 7), ("P2", 7, 11), ("P3", 11, 12), ("P4", 12, 16)],
     {"P1": 7, "P2": 11, "P3": 12, "P4": 16}, "4.75", "8.75"),
    # SJF: only P1 at 0, runs 0-7. At 7: P3 (1) first, then P2 and P4 tie at
    # 4 -> the earlier arrival P2 (8-12), P4 (12-16). Turnaround 7,10,4,11;
    # waiting 0,6,3,7.
    ("sjf", [], CLASSIC,
     [("P1", 0, 7), ("P3", 7, 8), ("P2", 8, 12), ("P4", 12, 16)],
     {"P1": 7, "P2": 12, "P3": 8, "P4": 16}, "4.00", "8.00"),
    # SRTF: P1 0-2 (5 left); P2 arrives with 4 < 5, runs 2-4 (2 left); P3
    # arrives with 1 < 2, runs 4-5; P2 (2) 5-7; P4 (4) < P1 (5) 7-11; P1 11-16.
    # Turnaround 16,5,1,6 = 28; waiting 9,1,0,2 = 12.
    ("srtf", [], CLASSIC,
     [("P1", 0, 2), ("P2", 2, 4), ("P3", 4, 5), ("P2", 5, 7), ("P4", 7, 11), ("P1", 11, 16)],
     {"P1": 16, "P2": 7, "P3": 5, "P4": 11}, "3.00", "7.00"),
    # RR q=2: [P1] P1 0-2; at 2 P2 arrives first, then P1 requeues: [P2 P1];
    # P2 2-4; at 4 P3 arrives, P2 requeues: [P1 P3 P2]; P1 4-6 (P4 arrives at
    # 5: [P3 P2 P4], then P1: [P3 P2 P4 P1]); P3 6-7 done; P2 7-9 done; P4 9-11;
    # P1 11-13; P4 13-15 done; P1 15-16 done. Turnaround 16,7,3,10 = 36;
    # waiting 9,3,2,6 = 20.
    ("rr", ["--quantum", "2"], CLASSIC,
     [("P1", 0, 2), ("P2", 2, 4), ("P1", 4, 6), ("P3", 6, 7), ("P2", 7, 9), ("P4", 9, 11),
      ("P1", 11, 13), ("P4", 13, 15), ("P1", 15, 16)],
     {"P1": 16, "P2": 9, "P3": 7, "P4": 15}, "5.00", "9.00"),
    # MLFQ q=1 (quanta 1, 2, 4): A 0-1 uses its quantum -> level 1; B (new,
    # level 0) 1-2 -> level 1 behind A; C 2-3 done; A (level 1) 3-4, then D
    # arrives on level 0 and preempts: A back to the tail of level 1 [B A];
    # D 4-5 done; B 5-6 done; A 6-8 uses its 2 -> level 2; A 8-9 done.
    # Turnaround A 9, B 5, C 1, D 1 = 16/4; waiting 4,3,0,0 = 7/4.
    ("mlfq", ["--quantum", "1"], "A 0 5\nB 1 2\nC 2 1\nD 4 1\n",
     [("A", 0, 1), ("B", 1, 2), ("C", 2, 3), ("A", 3, 4), ("D", 4, 5), ("B", 5, 6), ("A", 6, 9)],
     {"A": 9, "B": 6, "C": 3, "D": 5}, "1.75", "4.00"),
    # An idle CPU: X 0-2, nothing until Y arrives at 5.
    ("fcfs", [], "X 0 2\nY 5 1 3\n",
     [("X", 0, 2), ("idle", 2, 5), ("Y", 5, 6)],
     {"X": 2, "Y": 6}, "0.00", "1.50"),
    # SRTF preempts only for a strictly shorter time: at 1, A has 3 left and
    # B needs 3, so A keeps the CPU. Waiting 0, 3; turnaround 4, 6.
    ("srtf", [], "A 0 4\nB 1 3\n",
     [("A", 0, 4), ("B", 4, 7)], {"A": 4, "B": 7}, "1.50", "5.00"),
    # Equal bursts arriving together: the earlier line of the file first.
    # Waiting 0 (short), 1, 4 = 5/3; turnaround 1, 4, 7 = 12/3.
    ("sjf", [], "first 0 3\nsecond 0 3\nshort 0 1\n",
     [("short", 0, 1), ("first", 1, 4), ("second", 4, 7)],
     {"first": 4, "second": 7, "short": 1}, "1.67", "4.00"),
    # RR with one job left: it keeps running quantum after quantum (merged).
    ("rr", ["--quantum", "3"], "A 0 2\nB 0 7\n",
     [("A", 0, 2), ("B", 2, 9)], {"A": 2, "B": 9}, "1.00", "5.50"),
]


@pytest.mark.parametrize("algo,opts,text,gantt,completion,avg_wait,avg_tat", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_worked_example(tmp_path, algo, opts, text, gantt, completion, avg_wait, avg_tat):
    r = run(tmp_path, text, "--algo", algo, *opts)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    segs, table, aw, at = parse(r.stdout)
    assert segs == gantt
    assert {k: v[0] for k, v in table.items()} == completion
    for name, (comp, wait, tat) in table.items():
        arrival, burst = [int(x) for x in [l for l in text.splitlines() if l.split()[:1] == [name]][0].split()[1:3]]
        assert tat == comp - arrival and wait == tat - burst
    assert (aw, at) == (avg_wait, avg_tat)


def test_priority_column_and_comments(tmp_path):
    r = run(tmp_path, "\n# a comment\nA 0 1 5\n\nB 0 1\n", "--algo", "fcfs")
    assert r.returncode == 0
    rows = [l.split() for l in r.stdout.splitlines() if l.startswith(("A ", "B "))]
    assert rows[0][3] == "5" and rows[1][3] == "-"


def test_help():
    r = subprocess.run([SCHED, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "usage: sched --algo" in r.stdout


BAD_FILES = [
    ("A 0\n", "jobs.txt:1: expected"),
    ("A 0 1 2 3\n", "jobs.txt:1: expected"),
    ("A x 1\n", "jobs.txt:1: arrival must be"),
    ("A -1 1\n", "jobs.txt:1: arrival must be"),
    ("A 0 0\n", "jobs.txt:1: burst must be"),
    ("A 0 1\nB 0 99999999999999999999\n", "jobs.txt:2: burst must be"),
    ("A 0 1 -3\n", "jobs.txt:1: priority must be"),
    ("A 0 1\nA 1 1\n", "jobs.txt:2: duplicate job name"),
    ("# nothing\n\n", "no jobs"),
    ("x" * 40 + " 0 1\n", "longer than 32"),
    ("A 0 1000000\nB 0 1\n", "timeline longer"),
    ("A 0 1 " + "9" * 600 + "\n", "line too long"),
]


@pytest.mark.parametrize("text,msg", BAD_FILES, ids=[m.split(": ")[-1][:20] for _, m in BAD_FILES])
def test_malformed_file(tmp_path, text, msg):
    r = run(tmp_path, text, "--algo", "rr")
    assert r.returncode == 1
    assert r.stdout == ""
    assert r.stderr.startswith("sched: ") and msg in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("args,msg", [
    (["--algo", "lottery"], "unknown algorithm 'lottery'"),
    (["--algo", "rr", "--quantum", "0"], "--quantum must be"),
    (["--algo", "rr", "--quantum", "two"], "--quantum must be"),
    (["--algo"], "--algo requires an argument"),
    (["--frobnicate"], "unknown option"),
    ([], "--algo is required"),
])
def test_usage_errors(tmp_path, args, msg):
    f = tmp_path / "jobs.txt"
    f.write_text(CLASSIC)
    argv = [SCHED, *args] + ([str(f)] if args != ["--algo"] else [])
    r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert r.returncode == 2
    assert msg in r.stderr and r.stderr.count("\n") == 1


def test_no_file_and_missing_file(tmp_path):
    r = subprocess.run([SCHED, "--algo", "fcfs"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "no FILE" in r.stderr
    r = subprocess.run([SCHED, "--algo", "fcfs", str(tmp_path / "nope")], capture_output=True, text=True, timeout=10)
    assert r.returncode == 1 and "No such file" in r.stderr and r.stderr.count("\n") == 1


def test_many_jobs_wrap_the_gantt(tmp_path):
    # 40 jobs of 2 units arriving one per unit: 80 units of work, never idle.
    text = "".join(f"J{i} {i} 2\n" for i in range(40))
    r = run(tmp_path, text, "--algo", "rr", "--quantum", "1")
    assert r.returncode == 0
    segs, table, aw, at = parse(r.stdout)
    assert r.stdout.count("\n|") > 1                   # wrapped over several rows
    assert segs[0][1] == 0 and segs[-1][2] == 80
    assert all(segs[k][2] == segs[k + 1][1] for k in range(len(segs) - 1))
    work = {}
    for name, s, e in segs:
        work[name] = work.get(name, 0) + e - s
    assert work == {f"J{i}": 2 for i in range(40)}
    assert len(table) == 40
