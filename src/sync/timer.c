/* timer.c — Timer (Python's threading.Timer), one-shot or repeating.
 *
 * Each timer owns a daemon thread that waits on a cancel Event until the
 * next deadline. Deadlines follow a fixed schedule (start + k*interval), so a
 * repeating timer does not drift; if a call overruns, missed ticks are
 * skipped rather than fired in a burst. `cancel` sets the event: a timer
 * cancelled before its deadline never fires. The handle and the thread each
 * hold a reference; the last one frees. */
#include <stdio.h>

#include "mt/thread.h"
#include "sync/sync_internal.h"

struct mt_timer {
  mt_event_t cancel;
  mt_thread_t *thread;
  int64_t interval_ns;
  bool repeat;
  void (*fn)(void *);
  void *arg;
  unsigned long fired;
  unsigned refs;
};

static __thread mt_timer_t *t_running;   /* the timer whose fn runs here */

static void timer_unref(mt_timer_t *t) {
  if (mt__fetch_sub(&t->refs, 1) == 1) {
    mt_event_destroy(&t->cancel);
    mt__free(t);
  }
}

static void *timer_main(void *arg) {
  mt_timer_t *t = arg;
  int64_t next = mt__now_ns() + t->interval_ns;
  for (;;) {
    mt__lock_enter(&t->cancel.lock);
    while (!t->cancel.flag && mt__now_ns() < next) {
      t->cancel.waiters++;
      mt__cond_wait_until(&t->cancel.cond, next);
      t->cancel.waiters--;
    }
    bool cancelled = t->cancel.flag;
    mt_lock_release(&t->cancel.lock);
    if (cancelled) break;
    t_running = t;
    t->fn(t->arg);
    t_running = NULL;
    mt__fetch_add(&t->fired, 1);
    if (!t->repeat) break;
    int64_t now = mt__now_ns();
    next += t->interval_ns;
    if (next <= now) next += ((now - next) / t->interval_ns + 1) * t->interval_ns;
  }
  timer_unref(t);
  return NULL;
}

MT_API int mt_timer_start(mt_timer_t **out, double interval, bool repeat, void (*fn)(void *), void *arg) {
  *out = NULL;
  if (!fn || !(interval >= 0) || interval > 9e9 || (repeat && interval <= 0)) return MT_EINVAL;
  mt_timer_t *t = mt__calloc(1, sizeof *t);
  if (!t) return MT_ENOMEM;
  int e = mt_event_init(&t->cancel, 0);
  if (e) { mt__free(t); return e; }
  t->interval_ns = (int64_t)(interval * 1e9);
  t->repeat = repeat;
  t->fn = fn;
  t->arg = arg;
  t->refs = 2;
  static unsigned long counter;
  char name[32];
  snprintf(name, sizeof name, "Timer-%lu", mt__fetch_add(&counter, 1) + 1);
  mt_thread_opts_t o = { .name = name, .daemon = true, .stack_size = 0 };
  *out = t;            /* before the thread runs: fn may free the timer */
  e = mt_thread_start(&t->thread, timer_main, t, &o);
  if (e) {
    *out = NULL;
    mt_event_destroy(&t->cancel);
    mt__free(t);
    return e;
  }
  return 0;
}

MT_API int mt_timer_cancel(mt_timer_t *t) {
  mt_event_set(&t->cancel);
  return 0;
}

MT_API unsigned long mt_timer_fired(mt_timer_t *t) { return mt__load(&t->fired); }

MT_API void mt_timer_free(mt_timer_t *t) {
  if (!t) return;
  mt_event_set(&t->cancel);
  if (t_running != t) mt_thread_join(t->thread, MT_FOREVER, NULL);
  mt_thread_free(t->thread);
  timer_unref(t);
}
