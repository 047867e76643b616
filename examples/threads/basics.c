/* basics.c — a thread's life: start, name, ident, is_alive, enumerate,
 * active_count, join with a result.
 * Python: threading.Thread(target=f, args=(x,), name="worker-1").start(),
 * t.name, t.native_id, t.is_alive(), threading.enumerate(),
 * threading.active_count(), t.join(). */
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

static mt_event_t go;

static void *worker(void *arg) {
  mt_event_wait(&go, MT_FOREVER);             /* stay alive until main has looked */
  return (void *)((intptr_t)arg * 10);
}

int main(void) {
  mt_event_init(&go, 0);
  mt_thread_t *t[2];
  for (intptr_t i = 0; i < 2; i++) {
    char name[16];
    snprintf(name, sizeof name, "worker-%d", (int)i + 1);
    if (mt_thread_start(&t[i], worker, (void *)(i + 1), &(mt_thread_opts_t){ .name = name })) return 1;
  }
  printf("main thread: %s\n", mt_thread_name(mt_thread_current()));
  for (int i = 0; i < 2; i++)
    printf("%s: ident %lu, alive %s\n", mt_thread_name(t[i]), mt_thread_ident(t[i]),
           mt_thread_is_alive(t[i]) ? "True" : "False");
  mt_thread_t *all[8];
  size_t n = mt_thread_enumerate(all, 8);
  printf("active_count: %zu; enumerate:", mt_thread_active_count());
  for (size_t i = 0; i < n && i < 8; i++) {
    printf(" %s", mt_thread_name(all[i]));
    mt_thread_free(all[i]);
  }
  printf("\n");
  mt_event_set(&go);
  for (int i = 0; i < 2; i++) {
    void *res;
    mt_thread_join(t[i], MT_FOREVER, &res);
    printf("joined %s: returned %ld, alive %s\n", mt_thread_name(t[i]), (long)(intptr_t)res,
           mt_thread_is_alive(t[i]) ? "True" : "False");
    mt_thread_free(t[i]);
  }
  printf("active_count after join: %zu\n", mt_thread_active_count());
  mt_event_destroy(&go);
  return 0;
}
// expect: ^main thread: MainThread$
// expect: ^worker-1: ident [0-9]+, alive True$
// expect: ^worker-2: ident [0-9]+, alive True$
// expect: ^active_count: 3; enumerate: .*worker-1
// expect: ^joined worker-1: returned 10, alive False$
// expect: ^joined worker-2: returned 20, alive False$
// expect: ^active_count after join: 1$
