/* test_rqueue.c — the Redis queue against a redis-server of its own: the
 * same semantics mt_pqueue's tests check (FIFO bytes of any length, the
 * count bound with MT_EFULL and put waiting for room, timeouts,
 * task_done/join and close across processes, producers and consumers in
 * several processes losing and doubling nothing, a second opener in an
 * unrelated process), and the connection side: bad URLs and names, Redis
 * refusing, Redis paused (timeouts, then recovery), AUTH, a Unix socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "testutil.h"
#include "mt/remote.h"
#include "redis_fixture.h"

static rs_t rs;

#if defined(__SANITIZE_ADDRESS__) || defined(MT_TSAN)
#define PER 500
#else
#define PER 2500
#endif

static int setup(void **st) {
  (void)st;
  return rs_start(&rs, false);
}
static int teardown(void **st) {
  (void)st;
  rs_stop(&rs);
  return 0;
}

static void basics(void **st) {
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "basics", 3);
  assert_non_null(q);
  assert_int_equal(mt_rqueue_put(q, "", 0, 0), 0);
  assert_int_equal(mt_rqueue_put(q, "hello", 5, 0), 0);
  assert_int_equal(mt_rqueue_put(q, "world!", 6, 0), 0);
  assert_int_equal(mt_rqueue_put(q, "x", 1, 0), MT_EFULL);          /* count bound */
  double t0 = mt_now();
  assert_int_equal(mt_rqueue_put(q, "x", 1, 0.05), MT_EFULL);
  assert_true(mt_now() - t0 >= 0.05);
  assert_int_equal(mt_rqueue_size(q), 3);
  void *m;
  size_t n;
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), 0);
  assert_null(m);
  assert_int_equal(n, 0);
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), 0);
  assert_int_equal(n, 5);
  assert_memory_equal(m, "hello", 5);
  free(m);
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), 0);
  assert_int_equal(n, 6);
  assert_memory_equal(m, "world!", 6);
  free(m);
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), MT_EEMPTY);
  t0 = mt_now();
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0.05), MT_EEMPTY);
  assert_true(mt_now() - t0 >= 0.05);
  /* binary data, a large message */
  size_t big = 3 << 20;
  unsigned char *b = malloc(big);
  for (size_t i = 0; i < big; i++) b[i] = (unsigned char)(i * 7);
  assert_int_equal(mt_rqueue_put(q, b, big, 1), 0);
  assert_int_equal(mt_rqueue_get(q, &m, &n, 1), 0);
  assert_int_equal(n, big);
  assert_memory_equal(m, b, big);
  free(m);
  free(b);
  /* task_done / join in one process */
  for (int i = 0; i < 4; i++) assert_int_equal(mt_rqueue_task_done(q), 0);   /* 4 puts so far */
  assert_int_equal(mt_rqueue_task_done(q), MT_EINVAL);
  assert_int_equal(mt_rqueue_join(q, 0), 0);
  assert_int_equal(mt_rqueue_unlink(q), 0);
  mt_rqueue_free(q);
}

static void *getter_later(void *arg) {
  mt_rqueue_t *q = arg;
  mt_sleep(0.1);
  void *m;
  size_t n;
  int r = mt_rqueue_get(q, &m, &n, 5);
  free(m);
  return (void *)(intptr_t)r;
}

static void put_waits_for_room(void **st) {
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "room", 1);
  assert_int_equal(mt_rqueue_put(q, "a", 1, 0), 0);
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, getter_later, q, NULL), 0);
  double t0 = mt_now();
  assert_int_equal(mt_rqueue_put(q, "b", 1, 10), 0);     /* woken by the get's token */
  assert_true(mt_now() - t0 < 5);
  void *res;
  mt_thread_join(t, MT_FOREVER, &res);
  mt_thread_free(t);
  assert_int_equal((int)(intptr_t)res, 0);
  void *m;
  size_t n;
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), 0);
  assert_memory_equal(m, "b", 1);
  free(m);
  mt_rqueue_free(q);
}

static void *putter_later(void *arg) {
  mt_sleep(0.1);
  return (void *)(intptr_t)mt_rqueue_put(arg, "late", 4, 1);
}

static void get_waits_for_an_item(void **st) {
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "wait", 0);
  mt_thread_t *t;
  assert_int_equal(mt_thread_start(&t, putter_later, q, NULL), 0);
  void *m;
  size_t n;
  assert_int_equal(mt_rqueue_get(q, &m, &n, 10), 0);
  assert_int_equal(n, 4);
  assert_memory_equal(m, "late", 4);
  free(m);
  mt_thread_join(t, MT_FOREVER, NULL);
  mt_thread_free(t);
  mt_rqueue_free(q);
}

static void join_and_close_across_processes(void **st) {
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "jc", 0);
  for (int i = 0; i < 100; i++) assert_int_equal(mt_rqueue_put(q, &i, sizeof i, 0), 0);
  assert_int_equal(mt_rqueue_join(q, 0.02), MT_ETIMEDOUT);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {                     /* a worker: consume, mark done, until closed */
    mt_rqueue_t *o = mt_rqueue_open(rs.url, "jc", 0);
    void *m;
    size_t n;
    int r;
    while ((r = mt_rqueue_get(o, &m, &n, 10)) == 0) {
      free(m);
      mt_rqueue_task_done(o);
    }
    mt_rqueue_free(o);
    _exit(r == MT_ECLOSED ? 0 : 1);
  }
  assert_int_equal(mt_rqueue_join(q, 20), 0);
  assert_int_equal(mt_rqueue_task_done(q), MT_EINVAL);
  /* close: what was put before drains, then gets and puts fail */
  assert_int_equal(mt_rqueue_put(q, "last", 4, 0), 0);
  assert_int_equal(mt_rqueue_close(q), 0);
  assert_int_equal(mt_rqueue_close(q), 0);              /* idempotent */
  assert_int_equal(mt_rqueue_put(q, "x", 1, 0), MT_ECLOSED);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  void *m;
  size_t n;
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), MT_ECLOSED);   /* the child took "last" */
  assert_int_equal(mt_rqueue_get(q, &m, &n, 1), MT_ECLOSED);   /* and again: the marker stays */
  assert_int_equal(mt_rqueue_size(q), 0);
  mt_rqueue_free(q);
}

static void close_wakes_a_blocked_getter(void **st) {
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "wake", 0);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    mt_rqueue_t *o = mt_rqueue_open(rs.url, "wake", 0);
    void *m;
    size_t n;
    int r = mt_rqueue_get(o, &m, &n, 30);
    mt_rqueue_free(o);
    _exit(r == MT_ECLOSED ? 0 : 1);
  }
  double t0 = mt_now();
  mt_sleep(0.1);                       /* let it block (not needed for correctness) */
  assert_int_equal(mt_rqueue_close(q), 0);
  int status;
  waitpid(pid, &status, 0);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_true(mt_now() - t0 < 10);
  mt_rqueue_free(q);
}

static void four_by_four_processes_lose_nothing(void **st) {
  enum { NP = 4, NC = 4 };
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "4x4", 256);
  unsigned char *seen = mt_shm_alloc(NP * PER);
  long *dups = mt_shm_alloc(sizeof(long) * NC);
  pid_t pids[NP + NC];
  fflush(NULL);
  for (int c = 0; c < NC; c++) {
    if ((pids[NP + c] = fork()) == 0) {
      mt_rqueue_t *o = mt_rqueue_open(rs.url, "4x4", 256);
      void *m;
      size_t n;
      while (mt_rqueue_get(o, &m, &n, 30) == 0) {
        int v;
        memcpy(&v, m, sizeof v);
        free(m);
        if (v < 0 || v >= NP * PER || __atomic_exchange_n(&seen[v], 1, __ATOMIC_RELAXED)) dups[c]++;
      }
      mt_rqueue_free(o);
      _exit(0);
    }
  }
  for (int p = 0; p < NP; p++) {
    if ((pids[p] = fork()) == 0) {
      mt_rqueue_t *o = mt_rqueue_open(rs.url, "4x4", 256);
      char msg[64] = { 0 };
      for (int i = 0; i < PER; i++) {
        int v = p * PER + i;
        memcpy(msg, &v, sizeof v);
        if (mt_rqueue_put(o, msg, sizeof msg, 30) != 0) _exit(1);
      }
      mt_rqueue_free(o);
      _exit(0);
    }
  }
  for (int p = 0; p < NP; p++) {
    int status;
    waitpid(pids[p], &status, 0);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  assert_int_equal(mt_rqueue_close(q), 0);
  for (int c = 0; c < NC; c++) waitpid(pids[NP + c], NULL, 0);
  for (int c = 0; c < NC; c++) assert_int_equal(dups[c], 0);
  for (int i = 0; i < NP * PER; i++) assert_int_equal(seen[i], 1);
  mt_shm_free(seen, NP * PER);
  mt_shm_free(dups, sizeof(long) * NC);
  mt_rqueue_free(q);
}

static void bad_urls_and_names(void **st) {
  const char *bad[] = { NULL, "", "http://x", "redis://", "redis://:1", "redis://h:0", "redis://h:65536",
                        "redis://h:12x", "redis://h/abc", "unix://", "unix://rel/path", "unix:///s?x=1",
                        "redis://user@h", "redis://[]:1", "redis://[::1", "redis://[::1]x", "redis://[::1]:",
                        "redis://h:1:2" };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    assert_null(mt_rqueue_open(bad[i], "q", 0));
    assert_int_equal(mt_last_error(), MT_EINVAL);
  }
  const char *names[] = { "", "a b", "a{b}", "x\n" };
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    assert_null(mt_rqueue_open(rs.url, names[i], 0));
    assert_int_equal(mt_last_error(), MT_EINVAL);
  }
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d", rs_free_port());      /* nobody there */
  assert_null(mt_rqueue_open(url, "q", 0));
  assert_int_equal(mt_last_error(), MT_ECONNREFUSED);
  /* an IPv6 literal parses (nobody serves it here: Redis listens on 127.0.0.1 only) */
  snprintf(url, sizeof url, "redis://[::1]:%d/0", rs.port);
  assert_null(mt_rqueue_open(url, "q", 0));
  assert_int_not_equal(mt_last_error(), MT_EINVAL);
  snprintf(url, sizeof url, "redis://localhost:%d", rs.port);   /* a name, not an address */
  mt_rqueue_t *byname = mt_rqueue_open(url, "q", 0);
  if (byname) mt_rqueue_free(byname);
  else assert_int_not_equal(mt_last_error(), MT_EINVAL);
  assert_null(mt_rqueue_open("unix:///nonexistent/redis.sock", "q", 0));
  assert_int_equal(mt_last_error(), MT_ECONNREFUSED);
  /* a database other than 0 keeps its own queues */
  char db1[80];
  snprintf(db1, sizeof db1, "%s/1", rs.url);
  mt_rqueue_t *a = mt_rqueue_open(rs.url, "dbq", 0), *b = mt_rqueue_open(db1, "dbq", 0);
  assert_int_equal(mt_rqueue_put(b, "in db1", 6, 0), 0);
  assert_int_equal(mt_rqueue_size(a), 0);
  assert_int_equal(mt_rqueue_size(b), 1);
  mt_rqueue_free(a);
  mt_rqueue_free(b);
}

static void paused_redis_times_out_then_recovers(void **st) {
  mt_rqueue_t *q = mt_rqueue_open(rs.url, "pause", 0);
  mt_rqueue_set_io_timeout(q, 0.3);
  assert_int_equal(mt_rqueue_put(q, "a", 1, 0), 0);
  rs_kill(&rs, SIGSTOP);
  double t0 = mt_now();
  assert_int_equal(mt_rqueue_put(q, "b", 1, 0.2), MT_ETIMEDOUT);
  double t1 = mt_now();
  assert_true(t1 - t0 < 1.5);
  void *m;
  size_t n;
  assert_int_equal(mt_rqueue_get(q, &m, &n, 0), MT_ETIMEDOUT);   /* io_timeout bounds it */
  assert_true(mt_now() - t1 < 1.5);
  rs_kill(&rs, SIGCONT);
  /* The timed-out put may have landed, and the timed-out get may have taken
   * "a" with its answer lost (remote.h: at-most-once on get); after them,
   * everything works and order holds. */
  assert_int_equal(mt_rqueue_put(q, "c", 1, 5), 0);
  char last = 0;
  do {
    assert_int_equal(mt_rqueue_get(q, &m, &n, 5), 0);
    assert_int_equal(n, 1);
    char ch = *(char *)m;
    free(m);
    assert_true(ch >= 'a' && ch <= 'c' && ch > last);
    last = ch;
  } while (last != 'c');
  mt_rqueue_unlink(q);
  mt_rqueue_free(q);
}

static void password_and_unix_socket(void **st) {
  rs_t s2;
  memset(&s2, 0, sizeof s2);
  snprintf(s2.dir, sizeof s2.dir, "/tmp/mt-redis-XXXXXX");
  assert_non_null(mkdtemp(s2.dir));
  /* a second server with a password and a Unix socket, configured by file */
  char conf[256], sock[200];
  snprintf(conf, sizeof conf, "%s/extra.conf", s2.dir);
  snprintf(sock, sizeof sock, "%s/r.sock", s2.dir);
  FILE *f = fopen(conf, "w");
  fprintf(f, "requirepass s3cret\nunixsocket %s\nunixsocketperm 700\n", sock);
  fclose(f);
  s2.port = rs_free_port();
  char port[16];
  snprintf(port, sizeof port, "%d", s2.port);
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    int dn = open("/dev/null", O_WRONLY);
    dup2(dn, 1);
    const char *bin = getenv("MT_REDIS_SERVER");
    if (!bin) bin = "redis-server";
    execlp(bin, bin, conf, "--port", port, "--bind", "127.0.0.1", "--dir", s2.dir, "--save", "",
           "--appendonly", "no", (char *)NULL);
    _exit(127);
  }
  s2.pid = pid;
  char url[300];
  snprintf(url, sizeof url, "unix://:s3cret@%s", sock);
  mt_rqueue_t *q = NULL;
  double end = mt_now() + 20;                /* until the server listens */
  while (!q && mt_now() < end) {
    q = mt_rqueue_open(url, "auth", 0);
    if (!q) mt_sleep(0.02);
  }
  assert_non_null(q);
  assert_int_equal(mt_rqueue_put(q, "u", 1, 0), 0);
  char turl[100];
  snprintf(turl, sizeof turl, "redis://:s3cret@127.0.0.1:%d/0", s2.port);
  mt_rqueue_t *t = mt_rqueue_open(turl, "auth", 0);
  assert_non_null(t);
  assert_int_equal(mt_rqueue_size(t), 1);
  snprintf(turl, sizeof turl, "redis://:wrong@127.0.0.1:%d", s2.port);
  assert_null(mt_rqueue_open(turl, "auth", 0));
  assert_int_equal(mt_last_error(), MT_EACCES);
  mt_rqueue_free(t);
  mt_rqueue_free(q);
  rs_stop(&s2);
}

/* Every allocation of open and of each call, failed in turn: a clear
 * MT_ENOMEM (or success), and nothing leaked either way. */
static void out_of_memory_fails_cleanly(void **st) {
  bool done = false;
  long k = 0;
  for (; !done && k < 1000; k++) {
    tu_alloc_install(k);
    mt_rqueue_t *q = mt_rqueue_open(rs.url, "oom", 2);
    int e = q ? 0 : mt_last_error();
    int r = MT_EINVAL;
    if (q) {
      r = mt_rqueue_put(q, "abc", 3, 0);
      void *m = NULL;
      size_t n;
      if (!r) r = mt_rqueue_get(q, &m, &n, 0);
      free(m);
      if (!r) r = mt_rqueue_task_done(q);
      if (!r) r = mt_rqueue_join(q, 0);
      if (!r) r = mt_rqueue_unlink(q);
      mt_rqueue_free(q);
    }
    tu_alloc_restore();
    assert_int_equal(tu_live, 0);
    if (!q) assert_int_equal(e, MT_ENOMEM);
    else if (r) assert_int_equal(r, MT_ENOMEM);
    done = q && !r;
    mt_rqueue_t *c = mt_rqueue_open(rs.url, "oom", 2);   /* clean up after a half-done round */
    mt_rqueue_unlink(c);
    mt_rqueue_free(c);
  }
  assert_true(done);
  assert_true(k > 10);                 /* many allocations were made to fail */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(basics),
    cmocka_unit_test(put_waits_for_room),
    cmocka_unit_test(get_waits_for_an_item),
    cmocka_unit_test(join_and_close_across_processes),
    cmocka_unit_test(close_wakes_a_blocked_getter),
    cmocka_unit_test(four_by_four_processes_lose_nothing),
    cmocka_unit_test(bad_urls_and_names),
    cmocka_unit_test(paused_redis_times_out_then_recovers),
    cmocka_unit_test(password_and_unix_socket),
    cmocka_unit_test(out_of_memory_fails_cleanly),
  };
  if (getenv("MT_TEST_FILTER")) cmocka_set_test_filter(getenv("MT_TEST_FILTER"));
  return cmocka_run_group_tests(tests, setup, teardown);
}
