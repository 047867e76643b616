/* daemon_threads.c — daemon and non-daemon threads at exit: when main
 * returns, libmt joins the non-daemon thread first (it finishes its work),
 * while the daemon thread, still sleeping, just disappears with the process.
 * Python: Thread(daemon=True) versus the default daemon=False. */
#include <stdio.h>

#include "mt.h"

static void *background(void *arg) {
  for (;;) mt_sleep(1);                       /* would never end on its own */
  return arg;
}

static void *slow_worker(void *arg) {
  mt_sleep(0.2);
  printf("non-daemon thread: finished its work after main returned\n");
  fflush(stdout);
  return arg;
}

int main(void) {
  mt_thread_t *d, *w;
  if (mt_thread_start(&d, background, NULL, &(mt_thread_opts_t){ .name = "daemon", .daemon = true })) return 1;
  if (mt_thread_start(&w, slow_worker, NULL, &(mt_thread_opts_t){ .name = "worker" })) return 1;
  printf("daemon thread is daemon: %s; worker is daemon: %s\n", mt_thread_is_daemon(d) ? "True" : "False",
         mt_thread_is_daemon(w) ? "True" : "False");
  mt_thread_free(d);
  mt_thread_free(w);
  printf("main: returning now\n");
  fflush(stdout);
  return 0;                                   /* exit() joins `worker`, not `daemon` */
}
// expect: ^daemon thread is daemon: True; worker is daemon: False$
// expect: ^main: returning now$
// expect: ^non-daemon thread: finished its work after main returned$
