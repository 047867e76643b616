/* with_lock.c — scoped locking: MT_WITH(&lock) { ... } releases the lock
 * however the block is left — at its end, by break, or by return — like
 * Python's `with lock:` does on return or an exception. */
#include <stdio.h>

#include "mt.h"

static mt_lock_t lock = MT_LOCK_INIT;

static int find(const int *v, int n, int x) {
  MT_WITH(&lock) {
    for (int i = 0; i < n; i++)
      if (v[i] == x) return i;                /* released on the way out */
  }
  return -1;
}

int main(void) {
  int v[] = { 4, 8, 15, 16, 23, 42 };
  MT_WITH(&lock) printf("inside the block: locked %s\n", mt_lock_locked(&lock) ? "True" : "False");
  printf("after the block: locked %s\n", mt_lock_locked(&lock) ? "True" : "False");
  printf("find(15) = %d; after a return from inside: locked %s\n", find(v, 6, 15),
         mt_lock_locked(&lock) ? "True" : "False");
  for (int i = 0; i < 3; i++) {
    MT_WITH(&lock) {
      if (i == 1) break;                      /* leaves MT_WITH's own loop: released */
    }
  }
  printf("after a break: locked %s\n", mt_lock_locked(&lock) ? "True" : "False");
  return mt_lock_locked(&lock);
}
// expect: ^inside the block: locked True$
// expect: ^after the block: locked False$
// expect: ^find\(15\) = 2; after a return from inside: locked False$
// expect: ^after a break: locked False$
