/* test_procpool.c — the process pool: results as bytes, task codes, map,
 * results of every size (shared-memory ring and pipe paths),
 * initializer, maxtasksperchild, a worker killed mid-task (only its future
 * fails, with MT_EBROKEN, and the pool keeps serving), close/join, and
 * terminate. */
#include <signal.h>

#include "testutil.h"

static int square(const void *in, size_t inlen, void **out, size_t *outlen) {
  long v;
  memcpy(&v, in, sizeof v);
  long *r = malloc(sizeof *r);
  *r = v * v;
  *out = r;
  *outlen = sizeof *r;
  return v == 13 ? -13 : 0;
}

static long result_long(mt_future_t *f, int *code) {
  void *r = NULL;
  *code = mt_future_result(f, 30, &r);
  long v = -1;
  if (r) {
    mt_buf_t *b = r;
    if (b->len == sizeof v) memcpy(&v, b->data, sizeof v);
    free(b);
  }
  return v;
}

static void submit_and_map(void **s) {
  mt_procpool_t *pp = mt_procpool_new(2, NULL);
  assert_non_null(pp);
  long v = 12;
  mt_future_t *f = mt_procpool_submit(pp, square, &v, sizeof v);
  int code;
  assert_int_equal(result_long(f, &code), 144);
  assert_int_equal(code, 0);
  mt_future_release(f);
  v = 13;
  f = mt_procpool_submit(pp, square, &v, sizeof v);
  assert_int_equal(result_long(f, &code), 169);   /* a code and a result both cross */
  assert_int_equal(code, -13);
  mt_future_release(f);

  enum { N = 500 };
  long in[N];
  const void *ins[N];
  size_t lens[N];
  mt_future_t *fs[N];
  for (int i = 0; i < N; i++) { in[i] = i; ins[i] = &in[i]; lens[i] = sizeof in[i]; }
  assert_int_equal(mt_procpool_map(pp, square, ins, lens, N, fs), 0);
  for (int i = 0; i < N; i++) {
    assert_int_equal(result_long(fs[i], &code), (long)i * i);
    mt_future_release(fs[i]);
  }
  assert_int_equal(mt_procpool_close(pp), 0);
  assert_null(mt_procpool_submit(pp, square, &v, sizeof v));
  assert_int_equal(mt_last_error(), MT_ECLOSED);
  assert_int_equal(mt_procpool_join(pp, 30), 0);
  mt_procpool_free(pp);
}

static int report_pid(const void *in, size_t inlen, void **out, size_t *outlen) {
  pid_t *p = malloc(sizeof *p);
  *p = getpid();
  *out = p;
  *outlen = sizeof *p;
  return 0;
}

static int init_value;
static void init_worker(void *arg) { init_value = *(int *)arg; }
static int report_init(const void *in, size_t inlen, void **out, size_t *outlen) {
  return init_value;
}

/* Returns n bytes of a pattern that depends on n and the index. */
static int sized(const void *in, size_t inlen, void **out, size_t *outlen) {
  size_t n;
  memcpy(&n, in, sizeof n);
  unsigned char *b = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 7 + n);
  *out = b;
  *outlen = n;
  return (int)(n % 251);
}

/* Results travel through a shared-memory ring (small ones) or the pipe (big
 * ones): every size around the boundaries, a few MiB, and enough bytes to
 * wrap the ring many times and make workers wait for room. */
static void results_of_every_size(void **s) {
  mt_procpool_t *pp = mt_procpool_new(2, NULL);
  assert_non_null(pp);
  size_t sizes[] = {0, 1, 7, 8, 9, 4095, 32767, 32768, 32769, 65536, 100000, 1 << 20, 3 << 20};
  enum { NS = sizeof sizes / sizeof sizes[0], NMANY = 3000 };
  size_t many[NMANY];
  for (int i = 0; i < NMANY; i++) many[i] = 20000 + (size_t)(i % 97) * 13;   /* ~60 MB in all */
  mt_future_t *fs[NS + NMANY];
  for (int i = 0; i < NS + NMANY; i++) {
    size_t *n = i < NS ? &sizes[i] : &many[i - NS];
    fs[i] = mt_procpool_submit(pp, sized, n, sizeof *n);
    assert_non_null(fs[i]);
  }
  for (int i = 0; i < NS + NMANY; i++) {
    size_t n = i < NS ? sizes[i] : many[i - NS];
    void *r = NULL;
    assert_int_equal(mt_future_result(fs[i], 60, &r), (int)(n % 251));
    mt_buf_t *b = r;
    assert_non_null(b);
    assert_int_equal(b->len, n);
    for (size_t k = 0; k < n; k += (n > 4096 ? 509 : 1)) assert_int_equal(b->data[k], (unsigned char)(k * 7 + n));
    if (n) assert_int_equal(b->data[n - 1], (unsigned char)((n - 1) * 7 + n));
    free(b);
    mt_future_release(fs[i]);
  }
  mt_procpool_close(pp);
  assert_int_equal(mt_procpool_join(pp, 30), 0);
  mt_procpool_free(pp);
}

/* Takes a big input and returns 30 KB: inputs that fill the socket while
 * results fill the shared ring must not wedge the manager and the worker
 * against each other. */
static int big_in_mid_out(const void *in, size_t inlen, void **out, size_t *outlen) {
  const unsigned char *b = in;
  unsigned char *r = malloc(30000);
  memset(r, b[inlen - 1], 30000);
  *out = r;
  *outlen = 30000;
  return 0;
}

static void big_inputs_and_results_flow(void **s) {
  mt_procpool_t *pp = mt_procpool_new(2, NULL);
  assert_non_null(pp);
  enum { N = 120 };
  size_t len = 1 << 20;
  unsigned char *in = malloc(len);
  mt_future_t *fs[N];
  for (int i = 0; i < N; i++) {
    in[len - 1] = (unsigned char)i;
    fs[i] = mt_procpool_submit(pp, big_in_mid_out, in, len);
    assert_non_null(fs[i]);
  }
  for (int i = 0; i < N; i++) {
    void *r = NULL;
    assert_int_equal(mt_future_result(fs[i], 60, &r), 0);
    mt_buf_t *b = r;
    assert_int_equal(b->len, 30000);
    assert_int_equal(b->data[29999], (unsigned char)i);
    free(b);
    mt_future_release(fs[i]);
  }
  free(in);
  mt_procpool_close(pp);
  assert_int_equal(mt_procpool_join(pp, 30), 0);
  mt_procpool_free(pp);
}

static void initializer_and_maxtasksperchild(void **s) {
  int seed = 42;
  mt_procpool_opts_t o = { .initializer = init_worker, .initarg = &seed, .maxtasksperchild = 3 };
  mt_procpool_t *pp = mt_procpool_new(1, &o);
  assert_non_null(pp);
  pid_t pids[9];
  for (int i = 0; i < 9; i++) {
    mt_future_t *f = mt_procpool_submit(pp, report_pid, NULL, 0);
    void *r;
    assert_int_equal(mt_future_result(f, 30, &r), 0);
    memcpy(&pids[i], ((mt_buf_t *)r)->data, sizeof(pid_t));
    free(r);
    mt_future_release(f);
    f = mt_procpool_submit(pp, report_init, NULL, 0);
    assert_int_equal(mt_future_result(f, 30, &r), 42);    /* initializer ran in each worker */
    free(r);
    mt_future_release(f);
  }
  /* 2 tasks per round, 3 tasks per worker: the worker changes */
  int distinct = 1;
  for (int i = 1; i < 9; i++) distinct += pids[i] != pids[i - 1];
  assert_true(distinct >= 5);
  mt_procpool_close(pp);
  assert_int_equal(mt_procpool_join(pp, 30), 0);
  mt_procpool_free(pp);
}

static int die_on_request(const void *in, size_t inlen, void **out, size_t *outlen) {
  int how;
  memcpy(&how, in, sizeof how);
  if (how == 1) raise(SIGKILL);
  if (how == 2) _exit(3);
  if (how == 3) { signal(SIGSEGV, SIG_DFL); raise(SIGSEGV); }   /* a crash */
  return 7;
}

static void a_dying_worker_fails_only_its_task(void **s) {
  mt_procpool_t *pp = mt_procpool_new(2, NULL);
  for (int how = 1; how <= 3; how++) {
    int ok = 0;
    mt_future_t *good[20];
    for (int i = 0; i < 10; i++) good[i] = mt_procpool_submit(pp, die_on_request, &ok, sizeof ok);
    mt_future_t *bad = mt_procpool_submit(pp, die_on_request, &how, sizeof how);
    for (int i = 10; i < 20; i++) good[i] = mt_procpool_submit(pp, die_on_request, &ok, sizeof ok);
    void *r;
    assert_int_equal(mt_future_result(bad, 30, &r), MT_EBROKEN);
    assert_null(r);
    mt_future_release(bad);
    for (int i = 0; i < 20; i++) {
      assert_int_equal(mt_future_result(good[i], 30, &r), 7);
      free(r);
      mt_future_release(good[i]);
    }
  }
  mt_procpool_close(pp);
  assert_int_equal(mt_procpool_join(pp, 30), 0);
  mt_procpool_free(pp);
}

/* In shared memory: how many nap tasks have begun, in any worker. */
static int *naps_begun;
static int nap(const void *in, size_t inlen, void **out, size_t *outlen) {
  __atomic_fetch_add(naps_begun, 1, __ATOMIC_SEQ_CST);
  mt_sleep(10);
  return 0;
}

/* Terminate while each of the two workers runs a task: those two fail with
 * MT_EBROKEN, the other four — queued, or handed to a worker behind the one
 * it runs — never run. (Waiting for two futures to be "running" is not the
 * same: both may be in flight on one worker, the second behind the first,
 * while the other worker has not been handed anything yet.) */
static void terminate_stops_at_once(void **s) {
  naps_begun = mt_shm_alloc(sizeof *naps_begun);
  assert_non_null(naps_begun);
  mt_procpool_t *pp = mt_procpool_new(2, NULL);
  mt_future_t *fs[6];
  for (int i = 0; i < 6; i++) fs[i] = mt_procpool_submit(pp, nap, NULL, 0);
  tu_eventually(__atomic_load_n(naps_begun, __ATOMIC_SEQ_CST) == 2, 10);
  double t0 = mt_now();
  assert_int_equal(mt_procpool_terminate(pp), 0);
  assert_true(mt_now() - t0 < 5);                        /* not after the 10 s naps */
  int broken = 0, cancelled = 0;
  for (int i = 0; i < 6; i++) {
    int c = mt_future_result(fs[i], 0, NULL);
    broken += c == MT_EBROKEN;
    cancelled += c == MT_ECANCELED;
    mt_future_release(fs[i]);
  }
  assert_int_equal(broken, 2);
  assert_int_equal(cancelled, 4);
  assert_int_equal(*naps_begun, 2);
  mt_procpool_free(pp);
  mt_shm_free(naps_begun, sizeof *naps_begun);
}

static void join_needs_close(void **s) {
  mt_procpool_t *pp = mt_procpool_new(1, NULL);
  assert_int_equal(mt_procpool_join(pp, 0), MT_EINVAL);
  mt_procpool_free(pp);                                  /* terminates */
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(submit_and_map),
    cmocka_unit_test(results_of_every_size),
    cmocka_unit_test(big_inputs_and_results_flow),
    cmocka_unit_test(initializer_and_maxtasksperchild),
    cmocka_unit_test(a_dying_worker_fails_only_its_task),
    cmocka_unit_test(terminate_stops_at_once),
    cmocka_unit_test(join_needs_close),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
