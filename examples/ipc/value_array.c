/* value_array.c — Value and Array: a double with its lock and an array of
 * ints, in shared memory; children change them and the parent sees it.
 * Python: v = Value('d', 0.0); a = Array('i', range(5));
 * with v.get_lock(): v.value += 1.5; a[i] = -a[i]. */
#include <stdio.h>

#include "mt.h"

typedef struct { mt_lock_t lock; double value; } value_t;     /* Value('d') + get_lock() */
typedef struct { mt_lock_t lock; int data[5]; } array_t;     /* Array('i', 5) */

static value_t *v;
static array_t *a;

static int child(void *arg) {
  MT_WITH(&v->lock) v->value += 1.5;
  MT_WITH(&a->lock) for (int i = 0; i < 5; i++) a->data[i] += 10;
  return 0;
}

int main(void) {
  v = mt_shm_alloc(sizeof *v);
  a = mt_shm_alloc(sizeof *a);
  if (!v || !a || mt_lock_init(&v->lock, MT_SHARED) || mt_lock_init(&a->lock, MT_SHARED)) return 1;
  for (int i = 0; i < 5; i++) a->data[i] = i;
  mt_proc_t *p[2];
  for (int i = 0; i < 2; i++)
    if (mt_proc_start(&p[i], child, NULL, NULL)) return 1;
  for (int i = 0; i < 2; i++) {
    mt_proc_join(p[i], 10);
    mt_proc_free(p[i]);
  }
  printf("Value after 2 children added 1.5: %.1f\n", v->value);
  printf("Array after 2 children added 10:");
  for (int i = 0; i < 5; i++) printf(" %d", a->data[i]);
  printf("\n");
  int ok = v->value == 3.0 && a->data[4] == 24;
  mt_lock_destroy(&v->lock);
  mt_lock_destroy(&a->lock);
  mt_shm_free(v, sizeof *v);
  mt_shm_free(a, sizeof *a);
  return ok ? 0 : 1;
}
// expect: ^Value after 2 children added 1\.5: 3\.0$
// expect: ^Array after 2 children added 10: 20 21 22 23 24$
