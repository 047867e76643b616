/* process.c — Process with a target and arguments, and the "subclass with
 * run" pattern done the C way: a struct that embeds what the process needs
 * and a run function, started through one small helper.
 * Python: Process(target=f, args=(1, 'a')).start(); and
 * class MyProcess(Process): def __init__(self, n): ...; def run(self): ... */
#include <stdio.h>
#include <unistd.h>

#include "mt.h"

typedef struct { int n; const char *word; } args_t;

static int target(void *arg) {
  args_t *a = arg;                            /* the child has its own copy of the memory */
  printf("target(%d, '%s') in pid %d, parent %d\n", a->n, a->word, (int)getpid(), (int)getppid());
  fflush(stdout);
  return a->n;
}

/* "class MyProcess(Process)": the base part first, then the subclass's data. */
typedef struct my_process {
  mt_proc_t *proc;
  int (*run)(struct my_process *self);
  int count;
} my_process_t;

static int my_run(my_process_t *self) {
  for (int i = 0; i < self->count; i++) printf("MyProcess.run: step %d\n", i + 1);
  fflush(stdout);
  return 0;
}

static int trampoline(void *arg) { my_process_t *self = arg; return self->run(self); }

static int my_start(my_process_t *self, const char *name) {
  return mt_proc_start(&self->proc, trampoline, self, &(mt_proc_opts_t){ .name = name });
}

int main(void) {
  fflush(stdout);
  mt_proc_t *p;
  args_t a = { 7, "seven" };
  if (mt_proc_start(&p, target, &a, &(mt_proc_opts_t){ .name = "Process-1" })) return 1;
  mt_proc_join(p, MT_FOREVER);
  printf("Process-1 exitcode %d\n", mt_proc_exitcode(p));
  mt_proc_free(p);

  my_process_t mp = { .run = my_run, .count = 2 };
  if (my_start(&mp, "MyProcess-1")) return 1;
  mt_proc_join(mp.proc, MT_FOREVER);
  printf("MyProcess-1 exitcode %d\n", mt_proc_exitcode(mp.proc));
  mt_proc_free(mp.proc);
  return 0;
}
// expect: ^target\(7, 'seven'\) in pid [0-9]+, parent [0-9]+$
// expect: ^Process-1 exitcode 7$
// expect: ^MyProcess.run: step 1$
// expect: ^MyProcess.run: step 2$
// expect: ^MyProcess-1 exitcode 0$
