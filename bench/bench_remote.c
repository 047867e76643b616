/* bench_remote.c — the remote pool (mt/remote.h), round trips of tiny tasks
 * (an int64 in, x + 1 out) through Redis with 4 worker processes, against:
 *   - Celery 5 (Redis broker and result backend, a prefork pool of 4) and
 *     RQ (4 `rq worker` processes) on the same Redis, in the same run
 *     (bench/remote_anchors.py); goal: >= 20x Celery;
 *   - the ceiling of that Redis for the commands one stream-based task
 *     costs (XADD, XREADGROUP, SET EX, XACK, GET), each measured by
 *     redis-benchmark pipelined 16 deep: 1 / sum(1 / rate); goal: >= 50%.
 * It starts its own redis-server (no persistence) on a free loopback port.
 * Usage: bench_remote [N] [hosts procs] — N tasks per run (default 50000),
 * worker hosts x processes each (default 1 x 4). Medians of 3 runs. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_common.h"
#include "mt.h"
#include "mt/remote.h"
#include "redis_fixture.h"

#define RUNS 3

static mt_rworker_t *g_w;
static void on_term(int sig) { (void)sig; mt_rworker_stop(g_w); }

static int t_inc(const void *in, size_t inlen, void **out, size_t *outlen) {
  int64_t v;
  if (inlen != sizeof v) return MT_EINVAL;
  memcpy(&v, in, sizeof v);
  v++;
  int64_t *o = malloc(sizeof *o);
  *o = v;
  *out = o;
  *outlen = sizeof *o;
  return 0;
}

static int worker_main(const char *url, const char *pool, size_t procs) {
  g_w = mt_rworker_new(url, pool, NULL);
  if (!g_w || mt_rworker_register(g_w, "inc", t_inc)) return 3;
  struct sigaction sa = { .sa_handler = on_term };
  sigaction(SIGTERM, &sa, NULL);
  int r = mt_rworker_run(g_w, procs);
  mt_rworker_free(g_w);
  return r ? 4 : 0;
}

static pid_t spawn_worker(const char *url, const char *pool, size_t procs) {
  char n[24];
  snprintf(n, sizeof n, "%zu", procs);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);       /* dies with its parent, even one that failed */
    execl("/proc/self/exe", "bench_remote", "--worker", url, pool, n, (char *)NULL);
    _exit(127);
  }
  return pid;
}

static void fail(const char *what) {
  fprintf(stderr, "bench_remote: %s: %s\n", what, mt_strerror(mt_last_error()));
  exit(1);
}

/* One run: submit n tasks (pipelined), wait for every result, check them. */
static double libmt_run(mt_rpool_t *p, long n) {
  int64_t *vals = malloc(sizeof *vals * (size_t)n);
  const void **ins = malloc(sizeof *ins * (size_t)n);
  size_t *lens = malloc(sizeof *lens * (size_t)n);
  mt_future_t **fs = malloc(sizeof *fs * (size_t)n);
  for (long i = 0; i < n; i++) {
    vals[i] = i;
    ins[i] = &vals[i];
    lens[i] = sizeof vals[i];
  }
  double t0 = mt_now();
  if (mt_rpool_map(p, "inc", ins, lens, (size_t)n, fs)) fail("map");
  for (long i = 0; i < n; i++) {
    mt_buf_t *b = NULL;
    int r = mt_future_result(fs[i], 120, (void **)&b);
    int64_t v;
    if (r || !b || b->len != sizeof v) fail("result");
    memcpy(&v, b->data, sizeof v);
    if (v != i + 1) fail("wrong result");
    free(b);
    mt_future_release(fs[i]);
  }
  double rate = (double)n / (mt_now() - t0);
  free(vals);
  free(ins);
  free(lens);
  free(fs);
  return rate;
}

/* redis-benchmark's requests/s for one command, pipelined 16 deep. */
static double redis_bench(int port, long n, const char *cmd) {
  char line[512];
  snprintf(line, sizeof line, "redis-benchmark -h 127.0.0.1 -p %d -n %ld -P 16 --csv %s 2>/dev/null",
           port, n, cmd);
  FILE *f = popen(line, "r");
  if (!f) return 0;
  double rate = 0;
  char buf[512];
  while (fgets(buf, sizeof buf, f)) {       /* "CMD","rps",... after a header line */
    char *q = strstr(buf, "\",\"");
    if (q && buf[0] == '"' && strncmp(buf, "\"test\"", 6)) rate = atof(q + 3);
  }
  pclose(f);
  return rate;
}

static double ceiling(const rs_t *rs, long n, double rates[5]) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "redis-cli -p %d DEL mtb:s > /dev/null", rs->port);
  if (system(cmd)) return 0;
  rates[0] = redis_bench(rs->port, n, "XADD mtb:s '*' d xxxxxxxx");
  snprintf(cmd, sizeof cmd, "redis-cli -p %d XGROUP CREATE mtb:s g 0 > /dev/null", rs->port);
  if (system(cmd)) return 0;
  rates[1] = redis_bench(rs->port, n, "XREADGROUP GROUP g c COUNT 1 STREAMS mtb:s '>'");
  rates[2] = redis_bench(rs->port, n, "SET mtb:k xxxxxxxxxxxx EX 3600");
  rates[3] = redis_bench(rs->port, n, "XACK mtb:s g 0-1");
  rates[4] = redis_bench(rs->port, n, "GET mtb:k");
  double per = 0;
  for (int i = 0; i < 5; i++) {
    if (rates[i] <= 0) return 0;
    per += 1 / rates[i];
  }
  return 1 / per;
}

static double anchor(const char *kind, const char *url, long n, const char *extra) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/remote_anchors.py %s %s %ld %s", MT_BENCH_DIR, kind, url,
           n, extra);
  FILE *f = popen(cmd, "r");
  if (!f) return 0;
  double rate = 0;
  char buf[256];
  while (fgets(buf, sizeof buf, f))
    if (!strncmp(buf, "tasks/s: ", 9)) rate = atof(buf + 9);
  pclose(f);
  return rate;
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--worker")) return worker_main(argv[2], argv[3], (size_t)atoi(argv[4]));
  long n = argc > 1 ? atol(argv[1]) : 50000;
  size_t hosts = argc > 3 ? (size_t)atoi(argv[2]) : 1, procs = argc > 3 ? (size_t)atoi(argv[3]) : 4;
  if (n <= 0 || hosts == 0 || procs == 0) {
    fprintf(stderr, "usage: bench_remote [N] [hosts procs]\n");
    return 2;
  }
  rs_t rs;
  if (rs_start(&rs, false)) {
    fprintf(stderr, "bench_remote: cannot start redis-server\n");
    return 1;
  }
  printf("bench_remote: %ld tiny tasks per run, %zu worker host(s) x %zu processes, Redis on port %d, "
         "medians of %d\n", n, hosts, procs, rs.port, RUNS);
  pid_t *ws = calloc(hosts, sizeof *ws);
  for (size_t i = 0; i < hosts; i++) ws[i] = spawn_worker(rs.url, "bench", procs);
  mt_rpool_t *p = mt_rpool_connect(rs.url, "bench", NULL);
  if (!p) fail("connect");
  int64_t one = 1;                               /* the workers are up */
  mt_future_t *f = mt_rpool_submit(p, "inc", &one, sizeof one);
  if (!f || mt_future_result(f, 60, NULL)) fail("warm-up");
  mt_future_release(f);
  double mt[RUNS], ce[RUNS], cel[RUNS], rq[RUNS], rates[RUNS][5];
  long celery_n = 3000, rq_n = 300;
  for (int r = 0; r < RUNS; r++) {
    mt[r] = libmt_run(p, n);
    ce[r] = ceiling(&rs, 200000, rates[r]);
    cel[r] = anchor("celery", rs.url, celery_n, "");
    rq[r] = anchor("rq", rs.url, rq_n, "");
    printf("  run %d: libmt %.0f/s, Celery %.0f/s, RQ %.0f/s, ceiling %.0f tasks/s "
           "(XADD %.0f, XREADGROUP %.0f, SET EX %.0f, XACK %.0f, GET %.0f /s)\n",
           r + 1, mt[r], cel[r], rq[r], ce[r], rates[r][0], rates[r][1], rates[r][2], rates[r][3], rates[r][4]);
    fflush(stdout);
  }
  mt_rpool_free(p);
  for (size_t i = 0; i < hosts; i++) {
    kill(ws[i], SIGTERM);
    waitpid(ws[i], NULL, 0);
  }
  free(ws);
  rs_stop(&rs);
  double m = bench_median(mt, RUNS), c = bench_median(cel, RUNS), q = bench_median(rq, RUNS),
         e = bench_median(ce, RUNS);
  if (c <= 0 || q <= 0 || e <= 0) {
    fprintf(stderr, "bench_remote: an anchor failed (Celery %.0f, RQ %.0f, ceiling %.0f)\n", c, q, e);
    return 1;
  }
  bench_report("remote pool round trips vs Celery", "Celery", m, c, 20);
  bench_report("remote pool round trips vs RQ", "RQ", m, q, 20);
  bench_report("remote pool vs the Redis ceiling (5 commands)", "ceiling", m, e, 0.5);
  return 0;
}
