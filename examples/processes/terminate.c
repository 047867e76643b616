/* terminate.c — terminate and is_alive, the notes' "True, True, False":
 * alive before terminate; still alive right after it (the signal takes a
 * moment to act); dead once it has. Then the exit code of a process killed
 * by SIGTERM, as Python reports it: -15.
 * Python: p.is_alive(); p.terminate(); p.is_alive(); time.sleep(0.01);
 * p.is_alive(); p.exitcode. */
#include <signal.h>
#include <stdio.h>

#include "mt.h"

static int sleeper(void *arg) {
  for (;;) mt_sleep(1);
  return 0;
}

int main(void) {
  mt_proc_t *p;
  if (mt_proc_start(&p, sleeper, NULL, &(mt_proc_opts_t){ .name = "MyProcess-1" })) return 1;
  printf("%s\n", mt_proc_is_alive(p) ? "True" : "False");
  mt_proc_terminate(p);
  printf("%s\n", mt_proc_is_alive(p) ? "True" : "False");   /* almost always True: not dead yet */
  mt_proc_join(p, 5);                                         /* the notes sleep 0.01 s; we wait for it */
  printf("%s\n", mt_proc_is_alive(p) ? "True" : "False");
  printf("exitcode %d\n", mt_proc_exitcode(p));
  int ok = mt_proc_exitcode(p) == -SIGTERM;
  mt_proc_free(p);
  return ok ? 0 : 1;
}
// expect: ^True$
// expect: ^(True|False)$
// expect: ^False$
// expect: ^exitcode -15$
