/* singleton.c — a thread-safe singleton: many threads ask for the instance
 * at once and exactly one is ever built. The check is done twice, outside
 * the lock (fast path, an atomic load) and again inside it.
 * Python: the notes' class with __new__ guarded by a threading.Lock. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "mt.h"

typedef struct { int id; } config_t;

static _Atomic(config_t *) instance;
static mt_lock_t lock = MT_LOCK_INIT;
static atomic_int built;

static config_t *get_instance(void) {
  config_t *c = atomic_load_explicit(&instance, memory_order_acquire);
  if (c) return c;
  MT_WITH(&lock) {
    c = atomic_load_explicit(&instance, memory_order_relaxed);
    if (!c) {
      c = malloc(sizeof *c);
      c->id = atomic_fetch_add(&built, 1) + 1;
      mt_sleep(0.01);                         /* slow construction widens the window */
      atomic_store_explicit(&instance, c, memory_order_release);
    }
  }
  return c;
}

static void *user(void *arg) { return get_instance(); }

int main(void) {
  mt_thread_t *t[8];
  void *got[8];
  for (int i = 0; i < 8; i++)
    if (mt_thread_start(&t[i], user, NULL, NULL)) return 1;
  int same = 1;
  for (int i = 0; i < 8; i++) {
    mt_thread_join(t[i], MT_FOREVER, &got[i]);
    mt_thread_free(t[i]);
    same &= got[i] == got[0];
  }
  printf("8 threads got %s instance; constructed %d time(s)\n", same ? "the same" : "different", atomic_load(&built));
  free(atomic_load(&instance));
  return same && built == 1 ? 0 : 1;
}
// expect: ^8 threads got the same instance; constructed 1 time\(s\)$
