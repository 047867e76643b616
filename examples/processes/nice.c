/* nice.c — a child started with a nice value (a lower scheduling priority)
 * and seen by `ps`, as the notes look at processes with ps/top.
 * Python: os.nice(5) in the child (multiprocessing has no option for it). */
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#include "mt.h"

static mt_event_t *done;

static int worker(void *arg) {
  mt_event_wait(done, 10);                    /* until the parent has looked */
  return 0;
}

int main(void) {
  done = mt_shm_alloc(sizeof *done);
  if (!done || mt_event_init(done, MT_SHARED)) return 1;
  mt_proc_t *p;
  if (mt_proc_start(&p, worker, NULL, &(mt_proc_opts_t){ .name = "nice-worker", .nice = 5 })) return 1;
  char cmd[96], out[128] = "";
  snprintf(cmd, sizeof cmd, "ps -o ni=,comm= -p %d", (int)mt_proc_pid(p));
  FILE *ps = popen(cmd, "r");
  if (!ps || !fgets(out, sizeof out, ps)) out[0] = 0;
  if (ps) pclose(ps);
  int ni = 99;
  char comm[64] = "";
  sscanf(out, "%d %63s", &ni, comm);
  printf("ps: pid %d  nice %d  name %s\n", (int)mt_proc_pid(p), ni, comm);
  mt_event_set(done);
  mt_proc_join(p, 5);
  mt_proc_free(p);
  mt_event_destroy(done);
  mt_shm_free(done, sizeof *done);
  int want = getpriority(PRIO_PROCESS, 0) + 5;
  if (want > 19) want = 19;
  printf("expected nice %d (ours + 5): %s\n", want, ni == want ? "yes" : "no");
  return ni == want ? 0 : 1;
}
// expect: ^ps: pid [0-9]+  nice -?[0-9]+  name nice-worker$
// expect: ^expected nice -?[0-9]+ \(ours \+ 5\): yes$
