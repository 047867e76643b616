#!/usr/bin/python3
"""remote_anchors.py -- the anchors of bench_remote: Celery and RQ on a given
Redis, 4 worker processes, tiny tasks, round-trip tasks per second.

  remote_anchors.py celery REDIS_URL N [acks_late]
  remote_anchors.py rq REDIS_URL N

Each run starts its workers itself (Celery: one worker with a prefork pool of
4, Redis broker and result backend; RQ: 4 `rq worker` processes), waits until
they answer, submits N tasks (x -> x + 1), waits for every result, checks
them, stops the workers and prints one line: "tasks/s: X".
bench_remote runs this; it is not a test."""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def inc(x):
    return x + 1


def make_celery(url, acks_late=False):
    from celery import Celery
    app = Celery("remote_anchors", broker=url, backend=url)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                    worker_prefetch_multiplier=4, task_acks_late=acks_late,
                    broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
    app.task(name="inc")(inc)
    return app


def stop(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run_celery(url, n, acks_late):
    app = make_celery(url, acks_late)
    env = dict(os.environ, PYTHONPATH=HERE, MT_ANCHOR_URL=url, MT_ANCHOR_ACKS_LATE="1" if acks_late else "")
    w = subprocess.Popen([sys.executable, "-m", "celery", "-A", "remote_anchors:celery_app", "worker",
                          "--pool", "prefork", "--concurrency", "4", "--without-gossip",
                          "--without-mingle", "--without-heartbeat", "--loglevel", "ERROR"],
                         env=env, cwd=HERE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        app.send_task("inc", args=(0,)).get(timeout=60)      # the workers are up
        t0 = time.monotonic()
        rs = [app.send_task("inc", args=(i,)) for i in range(n)]
        for i, r in enumerate(rs):
            assert r.get(timeout=120) == i + 1
        return n / (time.monotonic() - t0)
    finally:
        stop([w])


def run_rq(url, n):
    import redis
    from rq import Queue
    conn = redis.Redis.from_url(url)
    q = Queue("mtbench", connection=conn)
    env = dict(os.environ, PYTHONPATH=HERE)
    ws = [subprocess.Popen(["/usr/bin/rq", "worker", "--url", url, "--quiet", "--name", "w%d-%d" % (i, os.getpid()),
                            "mtbench"], env=env, cwd=HERE, stdout=subprocess.DEVNULL)
          for i in range(4)]
    try:
        j = q.enqueue("remote_anchors.inc", 0)
        end = time.monotonic() + 60
        while j.get_status(refresh=True) != "finished":
            if time.monotonic() > end:
                raise SystemExit("rq: the workers did not start")
            time.sleep(0.05)
        t0 = time.monotonic()
        jobs = [q.enqueue("remote_anchors.inc", i) for i in range(n)]
        pending = set(range(n))
        while pending:
            for i in list(pending):
                if jobs[i].get_status(refresh=True) == "finished":
                    assert jobs[i].result == i + 1
                    pending.discard(i)
            if pending:
                time.sleep(0.01)
        return n / (time.monotonic() - t0)
    finally:
        stop(ws)


if os.environ.get("MT_ANCHOR_URL"):       # imported by the Celery worker
    celery_app = make_celery(os.environ["MT_ANCHOR_URL"], bool(os.environ.get("MT_ANCHOR_ACKS_LATE")))

if __name__ == "__main__":
    kind, url, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "celery":
        rate = run_celery(url, n, len(sys.argv) > 4 and sys.argv[4] == "acks_late")
    elif kind == "rq":
        rate = run_rq(url, n)
    else:
        raise SystemExit("usage: remote_anchors.py celery|rq REDIS_URL N")
    print("tasks/s: %.1f" % rate)
