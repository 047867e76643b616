/* co_smoke.c — the coroutine layer on another architecture (run by aarch64.sh under
 * qemu-user): round-robin order, a lock held across yields, sleeps on own and
 * shared stacks with frames that must survive, FPU state across switches. */
#include <stdio.h>
#include <string.h>
#include "mt.h"
static char log_[64]; static int n;
static mt_lock_t l = MT_LOCK_INIT; static long cnt; static double fsum;
static void *step(void *a) { double x = 0.5; for (int i = 0; i < 3; i++) { log_[n++] = *(char *)a; mt_co_yield(); x *= 2; } fsum += x; return a; }
static void *locker(void *a) { for (int i = 0; i < 100; i++) { mt_lock_acquire(&l, -1); mt_co_yield(); cnt++; mt_lock_release(&l); } return NULL; }
static void *sleeper(void *a) { volatile long local[32]; for (int i = 0; i < 32; i++) local[i] = i; mt_sleep(0.01); long s = 0; for (int i = 0; i < 32; i++) s += local[i]; return (void *)s; }
static void *m(void *arg) {
  static char a='a', b='b', c='c';
  mt_co_t *x = mt_co_spawn(step, &a), *y = mt_co_spawn(step, &b), *z = mt_co_spawn(step, &c);
  mt_co_joinall((mt_co_t *[]){x, y, z}, 3, 5);
  mt_co_t *k[5]; for (int i = 0; i < 5; i++) k[i] = mt_co_spawn(locker, NULL);
  mt_co_joinall(k, 5, 5);
  mt_co_t *s[20]; for (int i = 0; i < 20; i++) s[i] = mt_co_spawn_opts(sleeper, NULL, &(mt_co_opts_t){ .shared_stack = i % 2 });
  long tot = 0; for (int i = 0; i < 20; i++) { void *r; mt_co_join(s[i], 5, &r); tot += (long)r; }
  return (void *)tot;
}
static long total;
static void *outer(void *a) { total = (long)m(a); return NULL; }
int main(void) {
  int r = mt_co_main(outer, NULL);
  log_[n] = 0;
  printf("rc=%d order=%s locks=%ld shared+own sleepers sum=%ld fsum=%g\n", r, log_, cnt, total, fsum);
  return !(r == 0 && !strcmp(log_, "abcabcabc") && cnt == 500 && total == 20 * 496 && fsum == 12);
}
