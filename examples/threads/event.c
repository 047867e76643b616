/* event.c — an Event: cars wait at a red light until it turns green; a
 * wait with a timeout gives up. Python: threading.Event(), e.wait(t),
 * e.set(), e.clear(), e.is_set() (the notes' traffic light). */
#include <stdint.h>
#include <stdio.h>

#include "mt.h"

static mt_event_t green;

static void *car(void *arg) {
  int r = mt_event_wait(&green, 5);
  return (void *)(intptr_t)(r == 0);
}

int main(void) {
  mt_event_init(&green, 0);
  printf("light is green: %s\n", mt_event_is_set(&green) ? "True" : "False");
  int r = mt_event_wait(&green, 0.05);
  printf("a car that waits 0.05 s on red: %s\n", mt_strerror(r));
  mt_thread_t *t[3];
  for (int i = 0; i < 3; i++)
    if (mt_thread_start(&t[i], car, NULL, NULL)) return 1;
  mt_sleep(0.05);
  mt_event_set(&green);
  printf("light turns green: %s\n", mt_event_is_set(&green) ? "True" : "False");
  int passed = 0;
  for (int i = 0; i < 3; i++) {
    void *ok;
    mt_thread_join(t[i], MT_FOREVER, &ok);
    passed += (int)(intptr_t)ok;
    mt_thread_free(t[i]);
  }
  printf("%d cars drove on\n", passed);
  mt_event_clear(&green);
  printf("light back to red: green is %s\n", mt_event_is_set(&green) ? "True" : "False");
  mt_event_destroy(&green);
  return passed == 3 && r == MT_ETIMEDOUT ? 0 : 1;
}
// expect: ^light is green: False$
// expect: ^a car that waits 0\.05 s on red: timed out$
// expect: ^light turns green: True$
// expect: ^3 cars drove on$
// expect: ^light back to red: green is False$
