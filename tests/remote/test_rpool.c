/* test_rpool.c — the remote process pool against a redis-server of its own,
 * with worker hosts as forked processes (each running its tasks in its own
 * mt_procpool), and the faults the guarantees in mt/remote.h are about:
 * 10,000 tasks over 4 workers; a worker killed -9 mid-task (the task
 * completes elsewhere as attempt 2); every worker killed, then new ones
 * (nothing lost); a poison task (dead-letter stream, MT_EBROKEN); Redis
 * killed and restarted with AOF (nothing acknowledged lost, everyone
 * reconnects); Redis paused with SIGSTOP (timeouts, then recovery); a long
 * task keeps its claim; cancel before and after delivery; a worker's link cut by a relay mid-task (the
 * task is reclaimed and completed elsewhere; the late result is dropped);
 * a task Redis lost and a result that expired (MT_ELOST, not a hang). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "testutil.h"
#include "mt/remote.h"
#include "redis_fixture.h"

typedef struct {
  mt_event_t started;            /* a "hold" task is running */
  mt_event_t release;            /* lets held tasks return */
  mt_event_t progress;           /* `runs` reached `progress_at` */
  int started_pid;               /* the worker host whose task set `started` */
  long runs, progress_at;
  long poison_runs;
} shared_t;

static shared_t *sh;
static rs_t rs;

/* Short timeouts keep the fault tests fast. */
static const mt_rworker_opts_t WOPTS = {
  .io_timeout = 0.5, .visibility_timeout = 1.0, .heartbeat_ttl = 0.5, .max_deliveries = 3,
};

/* ---- tasks (they run in a worker host's procpool processes) --------------- */
typedef struct { int64_t value; int32_t attempt, host; } answer_t;

static int answer(int64_t v, void **out, size_t *outlen) {
  answer_t *a = malloc(sizeof *a);
  a->value = v;
  a->attempt = (int32_t)mt_rworker_attempt();
  a->host = (int32_t)getppid();
  *out = a;
  *outlen = sizeof *a;
  return 0;
}

static void count_run(void) {
  long n = __atomic_add_fetch(&sh->runs, 1, __ATOMIC_ACQ_REL);
  if (n == __atomic_load_n(&sh->progress_at, __ATOMIC_ACQUIRE)) mt_event_set(&sh->progress);
}

static int t_square(const void *in, size_t inlen, void **out, size_t *outlen) {
  int64_t v;
  if (inlen != sizeof v) return MT_EINVAL;
  memcpy(&v, in, sizeof v);
  count_run();
  return answer(v * v, out, outlen);
}

static int t_slow_square(const void *in, size_t inlen, void **out, size_t *outlen) {
  mt_sleep(0.002);
  return t_square(in, inlen, out, outlen);
}

/* The first delivery says where it runs, then waits for `release`; later
 * deliveries answer at once. */
static int t_hold(const void *in, size_t inlen, void **out, size_t *outlen) {
  count_run();
  if (mt_rworker_attempt() == 1) {
    sh->started_pid = (int)getppid();
    mt_event_set(&sh->started);
    mt_event_wait(&sh->release, 30);
  }
  return answer(0, out, outlen);
}

static int t_poison(const void *in, size_t inlen, void **out, size_t *outlen) {
  __atomic_add_fetch(&sh->poison_runs, 1, __ATOMIC_ACQ_REL);
  raise(SIGKILL);
  return 0;
}

static int t_fail(const void *in, size_t inlen, void **out, size_t *outlen) {
  *out = strdup("why");
  *outlen = 3;
  return 42;
}

/* ---- worker hosts ----------------------------------------------------------------- */
static mt_rworker_t *g_worker;
static void on_term(int sig) { (void)sig; mt_rworker_stop(g_worker); }

static char shm_name[64];

/* A worker host is this program again (fork + exec of /proc/self/exe in
 * worker mode), so that it starts as a fresh process: a fork of the test,
 * which runs threads, could not start threads of its own under TSan. */
static pid_t spawn_worker(const char *url, const char *pool, size_t nprocs) {
  char n[16];
  snprintf(n, sizeof n, "%zu", nprocs);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);       /* dies with its parent, even one that failed */
    execl("/proc/self/exe", "test_rpool", "--worker", shm_name, url, pool, n, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static int worker_main(char **argv) {
  sh = mt_shm_open(argv[2], sizeof *sh, 0);
  if (!sh) return 2;
  g_worker = mt_rworker_new(argv[3], argv[4], &WOPTS);
  if (!g_worker) return 3;
  mt_rworker_register(g_worker, "square", t_square);
  mt_rworker_register(g_worker, "slow_square", t_slow_square);
  mt_rworker_register(g_worker, "hold", t_hold);
  mt_rworker_register(g_worker, "poison", t_poison);
  mt_rworker_register(g_worker, "fail", t_fail);
  struct sigaction sa = { .sa_handler = on_term };
  sigaction(SIGTERM, &sa, NULL);
  int r = mt_rworker_run(g_worker, (size_t)atoi(argv[5]));
  mt_rworker_free(g_worker);
  mt_shm_free(sh, sizeof *sh);
  return r ? 4 : 0;
}

static void stop_worker(pid_t pid) {
  kill(pid, SIGTERM);
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st));
  assert_int_equal(WEXITSTATUS(st), 0);
}

static void kill_worker(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
}

static mt_rpool_t *pool_connect(const char *url, const char *name) {
  mt_rpool_opts_t o = { .io_timeout = 0.5, .check_interval = 0.5 };
  mt_rpool_t *p = mt_rpool_connect(url, name, &o);
  assert_non_null(p);
  return p;
}

static answer_t result_of(mt_future_t *f, double timeout) {
  mt_buf_t *b = NULL;
  int r = mt_future_result(f, timeout, (void **)&b);
  if (r) fprintf(stderr, "future: %s\n", mt_err_name(r));
  assert_int_equal(r, 0);
  assert_non_null(b);
  assert_int_equal(b->len, sizeof(answer_t));
  answer_t a;
  memcpy(&a, b->data, sizeof a);
  free(b);
  return a;
}

/* Fresh events for every case: an earlier case killed processes waiting on
 * them, and a process-shared condition variable whose waiter was killed can
 * hang its next broadcast (glibc), so they are made anew, not cleared. */
static void reset_shared(void) {
  memset(sh, 0, sizeof *sh);
  mt_event_init(&sh->started, MT_SHARED);
  mt_event_init(&sh->release, MT_SHARED);
  mt_event_init(&sh->progress, MT_SHARED);
  sh->started_pid = 0;
  __atomic_store_n(&sh->runs, 0, __ATOMIC_RELEASE);
  __atomic_store_n(&sh->progress_at, -1, __ATOMIC_RELEASE);
  sh->poison_runs = 0;
}

static int setup(void **st) {
  snprintf(shm_name, sizeof shm_name, "/mt-rpool-test-%d", (int)getpid());
  sh = mt_shm_open(shm_name, sizeof *sh, MT_SHM_CREATE);
  if (!sh) return -1;
  return rs_start(&rs, true);
}

static int teardown(void **st) {
  rs_stop(&rs);
  mt_shm_free(sh, sizeof *sh);
  mt_shm_unlink(shm_name);
  return 0;
}

static int before(void **st) {
  reset_shared();
  return 0;
}

/* ---- cases ---------------------------------------------------------------------------- */
/* Maps task over the integers 0..n-1 (one future each in fs). */
static void map_range(mt_rpool_t *p, const char *task, int n, mt_future_t **fs) {
  int64_t *vals = malloc((size_t)n * sizeof *vals);
  const void **ins = malloc((size_t)n * sizeof *ins);
  size_t *lens = malloc((size_t)n * sizeof *lens);
  assert_non_null(vals);
  assert_non_null(ins);
  assert_non_null(lens);
  for (int i = 0; i < n; i++) {
    vals[i] = i;
    ins[i] = &vals[i];
    lens[i] = sizeof vals[i];
  }
  assert_int_equal(mt_rpool_map(p, task, ins, lens, (size_t)n, fs), 0);
  free(vals);   /* the map has sent the inputs */
  free(ins);
  free(lens);
}

#define N10K 10000

static void ten_thousand_tasks_over_four_workers(void **st) {
  pid_t w[4];
  for (int i = 0; i < 4; i++) w[i] = spawn_worker(rs.url, "tenk", 1);
  mt_rpool_t *p = pool_connect(rs.url, "tenk");
  static mt_future_t *fs[N10K];
  map_range(p, "square", N10K, fs);
  for (int i = 0; i < N10K; i++) {
    answer_t a = result_of(fs[i], 60);
    assert_int_equal(a.value, (int64_t)i * i);
    assert_int_equal(a.attempt, 1);
    mt_future_release(fs[i]);
  }
  assert_int_equal(mt_rpool_pending(p), 0);
  assert_int_equal(__atomic_load_n(&sh->runs, __ATOMIC_ACQUIRE), N10K);   /* none ran twice */
  /* a failing task: its code and bytes come back; an unknown task: MT_ENOSYS */
  mt_future_t *f = mt_rpool_submit(p, "fail", "x", 1);
  mt_buf_t *b = NULL;
  assert_int_equal(mt_future_result(f, 10, (void **)&b), 42);
  assert_non_null(b);
  assert_int_equal(b->len, 3);
  assert_memory_equal(b->data, "why", 3);
  free(b);
  mt_future_release(f);
  f = mt_rpool_submit(p, "no-such-task", NULL, 0);
  assert_int_equal(mt_future_result(f, 10, NULL), MT_ENOSYS);
  mt_future_release(f);
  assert_null(mt_rpool_submit(p, "", NULL, 0));
  assert_int_equal(mt_last_error(), MT_EINVAL);
  assert_int_equal(mt_rpool_close(p), 0);
  int64_t one = 1;
  assert_null(mt_rpool_submit(p, "square", &one, sizeof one));
  assert_int_equal(mt_last_error(), MT_ECLOSED);
  mt_rpool_free(p);
  for (int i = 0; i < 4; i++) stop_worker(w[i]);
}

static void worker_killed_mid_task_completes_elsewhere(void **st) {
  pid_t a = spawn_worker(rs.url, "k9", 1), b = spawn_worker(rs.url, "k9", 1);
  mt_rpool_t *p = pool_connect(rs.url, "k9");
  mt_future_t *f = mt_rpool_submit(p, "hold", NULL, 0);
  assert_non_null(f);
  assert_int_equal(mt_event_wait(&sh->started, 20), 0);
  pid_t victim = sh->started_pid, other = victim == a ? b : a;
  assert_true(victim == a || victim == b);
  kill_worker(victim);
  answer_t r = result_of(f, 20);
  assert_int_equal(r.attempt, 2);
  assert_int_equal(r.host, other);
  mt_future_release(f);
  mt_rpool_free(p);
  stop_worker(other);
}

static void every_worker_killed_then_new_ones(void **st) {
  enum { N = 300 };
  __atomic_store_n(&sh->progress_at, 30, __ATOMIC_RELEASE);
  pid_t w1 = spawn_worker(rs.url, "all", 2), w2 = spawn_worker(rs.url, "all", 2);
  mt_rpool_t *p = pool_connect(rs.url, "all");
  mt_future_t *fs[N];
  map_range(p, "slow_square", N, fs);
  assert_int_equal(mt_event_wait(&sh->progress, 20), 0);
  kill_worker(w1);
  kill_worker(w2);
  pid_t w3 = spawn_worker(rs.url, "all", 2), w4 = spawn_worker(rs.url, "all", 2);
  int again = 0;
  for (int i = 0; i < N; i++) {
    answer_t a = result_of(fs[i], 30);
    assert_int_equal(a.value, (int64_t)i * i);
    assert_true(a.attempt >= 1 && a.attempt <= 3);
    again += a.attempt > 1;
    assert_true(a.host == w3 || a.host == w4 || a.host == w1 || a.host == w2);
    mt_future_release(fs[i]);
  }
  assert_true(again > 0);           /* the dead workers held tasks: redelivered */
  /* The dead consumers leave the group once their tasks are reclaimed. */
  double end = mt_now() + 10;
  while (rs_int(&rs, "XINFO CONSUMERS mt:{all}:tasks workers") != 2 && mt_now() < end) mt_sleep(0.02);
  assert_int_equal(rs_int(&rs, "XINFO CONSUMERS mt:{all}:tasks workers"), 2);
  mt_rpool_free(p);
  stop_worker(w3);
  stop_worker(w4);
}

static void poison_task_goes_to_the_dead_letter_stream(void **st) {
  pid_t w = spawn_worker(rs.url, "poison", 1);
  mt_rpool_t *p = pool_connect(rs.url, "poison");
  mt_future_t *f = mt_rpool_submit(p, "poison", "bad", 3);
  assert_int_equal(mt_future_result(f, 30, NULL), MT_EBROKEN);
  mt_future_release(f);
  assert_int_equal(sh->poison_runs, WOPTS.max_deliveries);   /* each delivery ran once */
  assert_int_equal(rs_int(&rs, "XLEN mt:{poison}:dead"), 1);
  assert_int_equal(rs_int(&rs, "XLEN mt:{poison}:tasks"), 0);
  /* the host survived its processes' deaths */
  int64_t v = 7;
  f = mt_rpool_submit(p, "square", &v, sizeof v);
  assert_int_equal(result_of(f, 10).value, 49);
  mt_future_release(f);
  mt_rpool_free(p);
  stop_worker(w);
}

static void redis_killed_and_restarted_with_aof_loses_nothing(void **st) {
  enum { N = 400 };
  __atomic_store_n(&sh->progress_at, 60, __ATOMIC_RELEASE);
  pid_t w1 = spawn_worker(rs.url, "aof", 2), w2 = spawn_worker(rs.url, "aof", 2);
  mt_rpool_t *p = pool_connect(rs.url, "aof");
  mt_future_t *fs[N];
  map_range(p, "slow_square", N, fs);
  assert_int_equal(mt_event_wait(&sh->progress, 20), 0);
  rs_kill(&rs, SIGKILL);
  assert_int_equal(rs_spawn(&rs), 0);                    /* same port, same AOF */
  for (int i = 0; i < N; i++) {
    answer_t a = result_of(fs[i], 30);
    assert_int_equal(a.value, (int64_t)i * i);
    mt_future_release(fs[i]);
  }
  int64_t v = 9;                                         /* and new work flows */
  mt_future_t *f = mt_rpool_submit(p, "square", &v, sizeof v);
  assert_non_null(f);
  assert_int_equal(result_of(f, 10).value, 81);
  mt_future_release(f);
  mt_rpool_free(p);
  stop_worker(w1);
  stop_worker(w2);
}

static void redis_paused_times_out_then_recovers(void **st) {
  pid_t w = spawn_worker(rs.url, "pause", 1);
  mt_rpool_t *p = pool_connect(rs.url, "pause");
  rs_kill(&rs, SIGSTOP);
  int64_t v = 3;
  double t0 = mt_now();
  assert_null(mt_rpool_submit(p, "square", &v, sizeof v));
  assert_int_equal(mt_last_error(), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 < 2);
  rs_kill(&rs, SIGCONT);
  mt_future_t *f = mt_rpool_submit(p, "square", &v, sizeof v);
  assert_non_null(f);
  assert_int_equal(result_of(f, 20).value, 9);
  mt_future_release(f);
  mt_rpool_free(p);
  stop_worker(w);
}

static void long_task_keeps_its_claim(void **st) {
  __atomic_store_n(&sh->progress_at, 2, __ATOMIC_RELEASE);   /* a second run = it was reclaimed */
  pid_t a = spawn_worker(rs.url, "long", 1);
  mt_rpool_t *p = pool_connect(rs.url, "long");
  mt_future_t *f = mt_rpool_submit(p, "hold", NULL, 0);
  assert_int_equal(mt_event_wait(&sh->started, 10), 0);
  pid_t b = spawn_worker(rs.url, "long", 1);                  /* a rival, ready to reclaim */
  /* Three visibility timeouts pass while the task runs: nobody takes it. */
  assert_int_equal(mt_event_wait(&sh->progress, 3 * WOPTS.visibility_timeout), MT_ETIMEDOUT);
  mt_event_set(&sh->release);
  answer_t r = result_of(f, 10);
  assert_int_equal(r.attempt, 1);
  assert_int_equal(r.host, a);
  assert_int_equal(__atomic_load_n(&sh->runs, __ATOMIC_ACQUIRE), 1);
  mt_future_release(f);
  mt_rpool_free(p);
  stop_worker(a);
  stop_worker(b);
}

static void cancel_before_and_after_delivery(void **st) {
  mt_rpool_t *p = pool_connect(rs.url, "cancel");
  int64_t v = 5;
  mt_future_t *f1 = mt_rpool_submit(p, "square", &v, sizeof v);   /* no worker yet */
  assert_non_null(f1);
  assert_int_equal(mt_future_cancel(f1), 0);
  assert_true(mt_future_cancelled(f1));
  assert_int_equal(mt_future_result(f1, 0, NULL), MT_ECANCELED);
  assert_int_equal(mt_future_cancel(f1), 0);                      /* again: still cancelled */
  pid_t w = spawn_worker(rs.url, "cancel", 1);
  mt_future_t *f2 = mt_rpool_submit(p, "square", &v, sizeof v);
  assert_int_equal(result_of(f2, 10).value, 25);
  assert_int_equal(mt_future_cancel(f2), MT_EBUSY);               /* finished */
  assert_int_equal(__atomic_load_n(&sh->runs, __ATOMIC_ACQUIRE), 1);   /* f1 never ran */
  mt_future_t *f3 = mt_rpool_submit(p, "hold", NULL, 0);
  assert_int_equal(mt_event_wait(&sh->started, 10), 0);
  assert_int_equal(mt_rpool_cancel(p, f3), MT_ERUNNING);           /* delivered: too late */
  mt_event_set(&sh->release);
  assert_int_equal(result_of(f3, 10).attempt, 1);
  mt_future_release(f1);
  mt_future_release(f2);
  mt_future_release(f3);
  assert_int_equal(__atomic_load_n(&sh->runs, __ATOMIC_ACQUIRE), 2);
  mt_rpool_free(p);
  stop_worker(w);
}

/* Worker a reaches Redis through a relay that cuts (RST) or stalls (no
 * byte moves, the sockets stay up) its link mid-task. */
static void partitioned_worker(char mode) {
  const char *pool = mode == RELAY_CUT ? "part" : "stall";
  char pat[64];
  relay_t ra;
  assert_int_equal(relay_start(&ra, rs.port), 0);
  char via[64];
  snprintf(via, sizeof via, "redis://127.0.0.1:%d", ra.port);
  pid_t a = spawn_worker(via, pool, 1);
  mt_rpool_t *p = pool_connect(rs.url, pool);
  mt_future_t *f = mt_rpool_submit(p, "hold", NULL, 0);
  assert_int_equal(mt_event_wait(&sh->started, 10), 0);
  assert_int_equal(sh->started_pid, a);
  assert_int_equal(relay_set(&ra, mode), 0);          /* a is cut off mid-task */
  pid_t b = spawn_worker(rs.url, pool, 1);
  answer_t r = result_of(f, 20);
  assert_int_equal(r.host, b);
  assert_int_equal(r.attempt, 2);
  mt_future_release(f);
  /* More work while a is still cut off: a read a sent before the partition
   * may be answered into the void (tasks delivered to a, never seen by it):
   * they are reclaimed, nothing is lost. */
  int64_t vals[20];
  const void *ins[20];
  size_t lens[20];
  mt_future_t *fs[20];
  for (int i = 0; i < 20; i++) {
    vals[i] = i;
    ins[i] = &vals[i];
    lens[i] = sizeof vals[i];
  }
  assert_int_equal(mt_rpool_map(p, "square", ins, lens, 20, fs), 0);
  for (int i = 0; i < 20; i++) {
    assert_int_equal(result_of(fs[i], 20).value, (int64_t)i * i);
    mt_future_release(fs[i]);
  }
  assert_int_equal(relay_set(&ra, RELAY_PASS), 0);     /* the link is back ... */
  mt_event_set(&sh->release);                          /* ... and a's late result comes */
  stop_worker(a);                                      /* returns once a has tried to ack */
  /* The late result was not applied: no result, nothing listed done, nothing pending. */
  snprintf(pat, sizeof pat, "KEYS mt:{%s}:[rd]:*", pool);
  assert_int_equal(rs_int(&rs, pat), 0);
  assert_int_equal(mt_rpool_pending(p), 0);
  mt_rpool_free(p);
  stop_worker(b);
  relay_stop(&ra);
}

static void cut_link_task_reclaimed_and_late_result_dropped(void **st) { partitioned_worker(RELAY_CUT); }
static void stalled_link_task_reclaimed_and_late_result_dropped(void **st) { partitioned_worker(RELAY_STALL); }

static void lost_task_and_expired_result_fail_with_elost(void **st) {
  /* A result that expires while its submitter is cut off. */
  relay_t rp;
  assert_int_equal(relay_start(&rp, rs.port), 0);
  char via[64];
  snprintf(via, sizeof via, "redis://127.0.0.1:%d", rp.port);
  mt_rpool_opts_t o = { .io_timeout = 0.5, .check_interval = 0.5, .result_ttl = 0.3 };
  mt_rpool_t *p = mt_rpool_connect(via, "exp", &o);
  assert_non_null(p);
  int64_t v = 4;
  mt_future_t *f = mt_rpool_submit(p, "square", &v, sizeof v);
  assert_non_null(f);
  assert_int_equal(relay_set(&rp, RELAY_CUT), 0);
  pid_t w = spawn_worker(rs.url, "exp", 1);
  double end = mt_now() + 20;
  while (__atomic_load_n(&sh->runs, __ATOMIC_ACQUIRE) < 1 && mt_now() < end) mt_sleep(0.01);
  assert_int_equal(__atomic_load_n(&sh->runs, __ATOMIC_ACQUIRE), 1);
  /* wait for the result to be stored and then to expire */
  while (rs_int(&rs, "XLEN mt:{exp}:tasks") != 0 && mt_now() < end) mt_sleep(0.01);
  while (rs_int(&rs, "KEYS mt:{exp}:[rd]:*") != 0 && mt_now() < end) mt_sleep(0.02);
  assert_int_equal(rs_int(&rs, "KEYS mt:{exp}:[rd]:*"), 0);
  assert_int_equal(relay_set(&rp, RELAY_PASS), 0);
  assert_int_equal(mt_future_result(f, 20, NULL), MT_ELOST);
  mt_future_release(f);
  mt_rpool_free(p);
  stop_worker(w);
  relay_stop(&rp);

  /* A task the broker lost: Redis restarted without persistence. */
  rs_t r2;
  assert_int_equal(rs_start(&r2, false), 0);
  p = pool_connect(r2.url, "gone");
  f = mt_rpool_submit(p, "square", &v, sizeof v);       /* no worker: it waits in the stream */
  assert_non_null(f);
  rs_kill(&r2, SIGKILL);
  assert_int_equal(rs_spawn(&r2), 0);                    /* empty */
  assert_int_equal(mt_future_result(f, 20, NULL), MT_ELOST);
  mt_future_release(f);
  mt_rpool_free(p);
  rs_stop(&r2);
}

static void free_fails_unfinished_futures(void **st) {
  mt_rpool_t *p = pool_connect(rs.url, "freed");
  mt_future_t *f = mt_rpool_submit(p, "square", NULL, 0);
  assert_non_null(f);
  assert_int_equal(mt_rpool_pending(p), 1);
  mt_rpool_free(p);
  assert_int_equal(mt_future_result(f, 0, NULL), MT_ECLOSED);
  mt_future_release(f);
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", rs_free_port());      /* nobody there */
  assert_null(mt_rpool_connect(url, "p", NULL));
  assert_int_equal(mt_last_error(), MT_ECONNREFUSED);
  assert_null(mt_rpool_connect("redis://x:1:2", "p", NULL));
  assert_int_equal(mt_last_error(), MT_EINVAL);
  assert_null(mt_rworker_new(rs.url, "bad name", NULL));
  assert_int_equal(mt_last_error(), MT_EINVAL);
  mt_rworker_t *w = mt_rworker_new(rs.url, "freed", NULL);
  assert_non_null(w);
  assert_int_equal(mt_rworker_register(w, "square", t_square), 0);
  assert_int_equal(mt_rworker_register(w, "square", t_square), MT_EEXIST);
  assert_int_equal(mt_rworker_register(w, "x", NULL), MT_EINVAL);
  mt_rworker_free(w);
}

/* Every allocation of connect, submit, cancel and worker setup, failed in
 * turn: MT_ENOMEM (or success), and nothing leaked either way. */
static void out_of_memory_fails_cleanly(void **st) {
  bool done = false;
  long k = 0;
  for (; !done && k < 2000; k++) {
    tu_alloc_install(k);
    int r = 0;
    mt_rpool_opts_t o = { .io_timeout = 1 };
    mt_rpool_t *p = mt_rpool_connect(rs.url, "oom", &o);
    if (!p) r = mt_last_error();
    mt_future_t *f = NULL;
    if (p) {
      f = mt_rpool_submit(p, "square", "12345678", 8);
      if (!f) r = mt_last_error();
    }
    if (f) {
      r = mt_future_cancel(f);
      mt_future_release(f);
    }
    mt_rworker_t *w = NULL;
    if (!r) {
      w = mt_rworker_new(rs.url, "oom", &WOPTS);
      if (!w) r = mt_last_error();
    }
    if (w) {
      r = mt_rworker_register(w, "square", t_square);
      mt_rworker_free(w);
    }
    mt_rpool_free(p);
    tu_alloc_restore();
    assert_int_equal(tu_live, 0);
    if (r) assert_int_equal(r, MT_ENOMEM);
    done = !r;
  }
  assert_true(done);
  assert_true(k > 10);
}

int main(int argc, char **argv) {
  if (argc == 6 && !strcmp(argv[1], "--worker")) return worker_main(argv);
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup(ten_thousand_tasks_over_four_workers, before),
    cmocka_unit_test_setup(worker_killed_mid_task_completes_elsewhere, before),
    cmocka_unit_test_setup(every_worker_killed_then_new_ones, before),
    cmocka_unit_test_setup(poison_task_goes_to_the_dead_letter_stream, before),
    cmocka_unit_test_setup(redis_killed_and_restarted_with_aof_loses_nothing, before),
    cmocka_unit_test_setup(redis_paused_times_out_then_recovers, before),
    cmocka_unit_test_setup(long_task_keeps_its_claim, before),
    cmocka_unit_test_setup(cancel_before_and_after_delivery, before),
    cmocka_unit_test_setup(cut_link_task_reclaimed_and_late_result_dropped, before),
    cmocka_unit_test_setup(stalled_link_task_reclaimed_and_late_result_dropped, before),
    cmocka_unit_test_setup(lost_task_and_expired_result_fail_with_elost, before),
    cmocka_unit_test_setup(free_fails_unfinished_futures, before),
    cmocka_unit_test_setup(out_of_memory_fails_cleanly, before),
  };
  if (getenv("MT_TEST_FILTER")) cmocka_set_test_filter(getenv("MT_TEST_FILTER"));
  return cmocka_run_group_tests(tests, setup, teardown);
}
