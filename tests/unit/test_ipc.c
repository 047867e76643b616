/* test_ipc.c — message pipes (sizes from 0 bytes to many MiB, duplex and
 * one-way, timeouts, MT_ECLOSED when the peer is gone, a hostile length,
 * across fork) and shared memory (anonymous across fork, named). */
#include <sys/socket.h>

#include "testutil.h"

static void roundtrip_sizes(void **s) {
  mt_pipe_t *a, *b;
  assert_int_equal(mt_pipe_new(&a, &b, true), 0);
  size_t sizes[] = { 0, 1, 7, 4096, 65537, 3u << 20 };
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    unsigned char *m = malloc(n + 1);
    for (size_t k = 0; k < n; k++) m[k] = (unsigned char)(k * 31 + i);
    /* a 3 MiB message does not fit the socket buffer: send from a thread */
    void *got;
    size_t len;
    if (n > 100000) {
      pid_t pid = fork();
      if (pid == 0) _exit(mt_pipe_send(b, m, n, 10) == 0 ? 0 : 1);
      assert_int_equal(mt_pipe_recv(a, &got, &len, 10), 0);
      int st;
      waitpid(pid, &st, 0);
      assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    } else {
      assert_int_equal(mt_pipe_send(b, m, n, 1), 0);
      assert_int_equal(mt_pipe_recv(a, &got, &len, 1), 0);
    }
    assert_int_equal(len, n);
    if (n) assert_memory_equal(got, m, n);
    else assert_null(got);
    free(got);
    /* and the other way (duplex) */
    assert_int_equal(mt_pipe_send(a, "x", 1, 1), 0);
    assert_int_equal(mt_pipe_recv(b, &got, &len, 1), 0);
    assert_int_equal(len, 1);
    free(got);
    free(m);
  }
  mt_pipe_close(a);
  mt_pipe_close(b);
}

static void one_way_timeouts_and_close(void **s) {
  mt_pipe_t *r, *w;
  assert_int_equal(mt_pipe_new(&r, &w, false), 0);
  assert_int_equal(mt_pipe_send(r, "x", 1, 0), MT_EBADF);      /* wrong direction */
  void *got;
  size_t len;
  assert_int_equal(mt_pipe_recv(w, &got, &len, 0), MT_EBADF);
  assert_int_equal(mt_pipe_poll(r, 0), MT_ETIMEDOUT);
  assert_int_equal(mt_pipe_poll(w, 0), MT_EBADF);                 /* the write end */
  double t0 = mt_now();
  assert_int_equal(mt_pipe_recv(r, &got, &len, 0.05), MT_ETIMEDOUT);
  assert_true(mt_now() - t0 >= 0.05);
  /* fill the pipe until a send times out with nothing sent (small messages
   * go into the socket whole or not at all) */
  static char big[1000];
  int sent = 0, rc;
  while ((rc = mt_pipe_send(w, big, sizeof big, 0.02)) == 0) sent++;
  assert_int_equal(rc, MT_ETIMEDOUT);
  assert_true(sent >= 1);
  for (int i = 0; i < sent; i++) {                /* every whole message is there */
    assert_int_equal(mt_pipe_recv(r, &got, &len, 1), 0);
    assert_int_equal(len, sizeof big);
    free(got);
  }
  mt_pipe_close(w);                               /* the peer goes away */
  assert_int_equal(mt_pipe_poll(r, 0), 0);                        /* end of stream is ready */
  assert_int_equal(mt_pipe_recv(r, &got, &len, 1), MT_ECLOSED);
  mt_pipe_close(r);

  mt_pipe_t *a, *b;
  mt_pipe_new(&a, &b, true);
  mt_pipe_close(b);
  assert_int_equal(mt_pipe_send(a, "x", 1, 1), MT_ECLOSED);   /* and no SIGPIPE */
  mt_pipe_close(a);
}

static void hostile_length_is_refused(void **s) {
  mt_pipe_t *a, *b;
  mt_pipe_new(&a, &b, true);
  mt_pipe_set_max(a, 1000);
  assert_int_equal(mt_pipe_send(b, "0123456789", 10, 1), 0);
  static char big[2000];
  assert_int_equal(mt_pipe_send(b, big, sizeof big, 1), 0);
  void *got;
  size_t len;
  assert_int_equal(mt_pipe_recv(a, &got, &len, 1), 0);
  free(got);
  assert_int_equal(mt_pipe_recv(a, &got, &len, 1), MT_EMSGSIZE);
  assert_int_equal(mt_pipe_recv(a, &got, &len, 1), MT_ECLOSED);
  mt_pipe_close(a);
  mt_pipe_close(b);
}

static void pipe_across_fork(void **s) {
  mt_pipe_t *a, *b;
  mt_pipe_new(&a, &b, true);
  pid_t pid = fork();
  if (pid == 0) {
    mt_pipe_close(a);
    void *m;
    size_t n;
    int bad = 0;
    for (int i = 0; i < 1000; i++) {         /* echo, doubled */
      if (mt_pipe_recv(b, &m, &n, 10) != 0) _exit(1);
      int v;
      memcpy(&v, m, sizeof v);
      free(m);
      v *= 2;
      bad |= mt_pipe_send(b, &v, sizeof v, 10);
    }
    _exit(bad ? 2 : 0);
  }
  mt_pipe_close(b);
  for (int i = 0; i < 1000; i++) {
    assert_int_equal(mt_pipe_send(a, &i, sizeof i, 10), 0);
    void *m;
    size_t n;
    assert_int_equal(mt_pipe_recv(a, &m, &n, 10), 0);
    assert_int_equal(*(int *)m, 2 * i);
    free(m);
  }
  int st;
  waitpid(pid, &st, 0);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  void *m;
  size_t n;
  assert_int_equal(mt_pipe_recv(a, &m, &n, 1), MT_ECLOSED);   /* child gone */
  mt_pipe_close(a);
}

typedef struct { mt_lock_t lock; long value; } shared_value_t;   /* Python's Value */

static void shared_memory_anonymous_and_named(void **s) {
  shared_value_t *v = mt_shm_alloc(sizeof *v);
  assert_non_null(v);
  assert_int_equal(v->value, 0);                     /* zeroed */
  mt_lock_init(&v->lock, MT_SHARED);
  pid_t pids[4];
  for (int k = 0; k < 4; k++) {
    if ((pids[k] = fork()) == 0) {
      for (int i = 0; i < 10000; i++) MT_WITH(&v->lock) v->value++;
      _exit(0);
    }
  }
  for (int k = 0; k < 4; k++) waitpid(pids[k], NULL, 0);
  assert_int_equal(v->value, 40000);
  mt_lock_destroy(&v->lock);
  mt_shm_free(v, sizeof *v);

  char name[64];
  snprintf(name, sizeof name, "/mt-test-%d", (int)getpid());
  long *x = mt_shm_open(name, 4096, MT_SHM_CREATE | MT_SHM_EXCL);
  assert_non_null(x);
  assert_null(mt_shm_open(name, 4096, MT_SHM_CREATE | MT_SHM_EXCL));
  assert_int_equal(mt_last_error(), MT_EEXIST);
  long *y = mt_shm_open(name, 4096, 0);               /* a second view */
  assert_non_null(y);
  x[10] = 1234;
  assert_int_equal(y[10], 1234);
  assert_null(mt_shm_open(name, 8192, 0));           /* larger than it is */
  assert_int_equal(mt_last_error(), MT_EINVAL);
  mt_shm_free(x, 4096);
  mt_shm_free(y, 4096);
  assert_int_equal(mt_shm_unlink(name), 0);
  assert_null(mt_shm_open(name, 4096, 0));
  assert_int_equal(mt_last_error(), MT_ENOENT);
  assert_null(mt_shm_open("no-slash", 4096, MT_SHM_CREATE));
  assert_int_equal(mt_last_error(), MT_EINVAL);
  assert_null(mt_shm_alloc(0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(roundtrip_sizes),
    cmocka_unit_test(one_way_timeouts_and_close),
    cmocka_unit_test(hostile_length_is_refused),
    cmocka_unit_test(pipe_across_fork),
    cmocka_unit_test(shared_memory_anonymous_and_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
