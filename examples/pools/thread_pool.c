/* thread_pool.c — the thread-pool executor: submit and result, map with a
 * timeout, add_done_callback, as_completed and wait(FIRST_COMPLETED).
 * Python: ex = ThreadPoolExecutor(4); f = ex.submit(fn, x); f.result();
 * ex.map(fn, xs, timeout=t); f.add_done_callback(cb); as_completed(fs);
 * wait(fs, return_when=FIRST_COMPLETED). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

static int square(void *arg, void **result) {
  intptr_t x = (intptr_t)arg;
  *result = (void *)(x * x);
  return 0;
}

static int nap(void *arg, void **result) {   /* sleeps arg hundredths of a second */
  mt_sleep((double)(intptr_t)arg / 100);
  *result = arg;
  return 0;
}

static atomic_int callbacks;
static void on_done(mt_future_t *f, void *ud) {
  void *r;
  if (mt_future_result(f, 0, &r) == 0) atomic_fetch_add(&callbacks, 1);
}

int main(void) {
  mt_pool_t *pool = mt_pool_new(4);
  if (!pool) return 1;

  mt_future_t *f = mt_pool_submit(pool, square, (void *)7);
  void *r;
  int code = mt_future_result(f, 5, &r);
  printf("submit(square, 7).result() = %ld (code %d)\n", (long)(intptr_t)r, code);
  mt_future_release(f);

  void *args[5], *res[5];
  for (intptr_t i = 0; i < 5; i++) args[i] = (void *)(i + 1);
  code = mt_pool_map(pool, square, args, res, 5, 5);
  printf("map(square, [1..5]) =");
  for (int i = 0; i < 5; i++) printf(" %ld", (long)(intptr_t)res[i]);
  printf("\n");
  void *slow[2] = { (void *)30, (void *)30 };
  code = mt_pool_map(pool, nap, slow, NULL, 2, 0.05);
  printf("map of two 0.3 s naps with timeout 0.05: %s\n", mt_strerror(code));

  mt_future_t *fs[3];
  intptr_t naps[3] = { 50, 1, 15 };
  for (int i = 0; i < 3; i++) {
    fs[i] = mt_pool_submit(pool, nap, (void *)naps[i]);
    mt_future_add_done_callback(fs[i], on_done, NULL);
  }
  int n = mt_wait(fs, 3, MT_FIRST_COMPLETED, 5);
  printf("wait(FIRST_COMPLETED): %d done, the 0.01 s nap among them: %s\n", n >= 1 ? 1 : n,
         mt_future_done(fs[1]) ? "True" : "False");
  mt_as_completed_t *it = mt_as_completed_new(fs, 3);
  printf("as_completed order:");
  for (mt_future_t *d; (d = mt_as_completed_next(it, 5));) {
    mt_future_result(d, 0, &r);
    printf(" %ld", (long)(intptr_t)r);
  }
  printf("\n");
  mt_as_completed_free(it);
  for (int i = 0; i < 3; i++) mt_future_release(fs[i]);
  mt_pool_shutdown(pool, true, false);
  printf("done callbacks run: %d\n", atomic_load(&callbacks));
  mt_pool_free(pool);
  return code == MT_ETIMEDOUT && atomic_load(&callbacks) == 3 ? 0 : 1;
}
// expect: ^submit\(square, 7\)\.result\(\) = 49 \(code 0\)$
// expect: ^map\(square, \[1\.\.5\]\) = 1 4 9 16 25$
// expect: ^map of two 0\.3 s naps with timeout 0\.05: timed out$
// expect: ^wait\(FIRST_COMPLETED\): 1 done, the 0\.01 s nap among them: True$
// expect: ^as_completed order: 1 15 50$
// expect: ^done callbacks run: 3$
