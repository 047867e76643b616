/* thread.c — threads as Python's threading.Thread.
 *
 * Registry: every live thread libmt knows — started ones, the main thread,
 * and "Dummy-N" entries for foreign threads that asked for their handle —
 * sits on one list under g_reg (a leaf lock). A thread leaves the list when
 * its function returns (or it calls pthread_exit), before its `done` event
 * is set, so a joiner never sees a finished thread as alive.
 *
 * Lifetime: a started thread's struct has two references, the caller's
 * handle and the thread's own; the last to drop frees it. The pthread is
 * reclaimed exactly once (`reaped`): pthread_join by the first joiner, or
 * pthread_detach when the handle is freed while the thread still runs.
 *
 * Exit: an atexit handler joins every non-daemon thread, as Python does at
 * interpreter shutdown. In a forked child the parent's other threads do not
 * exist: the child's registry keeps only the forking thread.
 */
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mt/sync.h"
#include "mt/thread.h"
#include "core/internal.h"

enum { ST_RUNNING = 1, ST_FINISHED = 2 };

struct mt_thread {
  pthread_t pt;
  uint32_t tid;
  uint32_t state;
  uint32_t refs;
  uint32_t reaped;
  bool daemon;
  bool foreign;        /* main thread or a Dummy: not started by libmt */
  void *(*fn)(void *);
  void *arg;
  void *result;
  mt_event_t done;
  struct mt_thread *next, *prev;
  char name[64];
};

static pthread_mutex_t g_reg = PTHREAD_MUTEX_INITIALIZER;
static mt_thread_t *g_head;
static size_t g_count;
static pthread_key_t g_key;
static __thread mt_thread_t *t_self;

static void reg_add(mt_thread_t *t) {
  pthread_mutex_lock(&g_reg);
  t->prev = NULL;
  t->next = g_head;
  if (g_head) g_head->prev = t;
  g_head = t;
  g_count++;
  pthread_mutex_unlock(&g_reg);
}

static void reg_del_locked(mt_thread_t *t) {
  if (t->prev) t->prev->next = t->next; else g_head = t->next;
  if (t->next) t->next->prev = t->prev;
  t->next = t->prev = NULL;
  g_count--;
}

static void thread_unref(mt_thread_t *t) {
  if (mt__fetch_sub(&t->refs, 1) == 1) {
    mt_event_destroy(&t->done);
    mt__free(t);
  }
}

static void set_os_name(const char *name) {
  char buf[16];                       /* the kernel keeps 15 bytes */
  size_t n = strnlen(name, sizeof buf - 1);
  memcpy(buf, name, n);
  buf[n] = 0;
  pthread_setname_np(pthread_self(), buf);
}

/* The end of a thread: ours as its start function returns or it exits, a
 * foreign one's (a Dummy-N or MainThread record) from the TLS key's
 * destructor. */
static void thread_finish(void *arg) {
  mt_thread_t *t = arg;
  pthread_mutex_lock(&g_reg);
  reg_del_locked(t);
  mt__store(&t->state, ST_FINISHED);
  pthread_mutex_unlock(&g_reg);
  mt_event_set(&t->done);
  t_self = NULL;
  thread_unref(t);
}

static void *thread_entry(void *arg) {
  mt_thread_t *t = arg;
  t_self = t;
  mt__store(&t->tid, (uint32_t)syscall(SYS_gettid));
  set_os_name(t->name);
  void *res = NULL;
  pthread_cleanup_push(thread_finish, t);
  res = t->fn(t->arg);
  t->result = res;
  pthread_cleanup_pop(1);
  return res;
}

static unsigned long next_number(void) {
  static unsigned long n;
  return mt__fetch_add(&n, 1) + 1;
}

MT_API int mt_thread_start(mt_thread_t **out, void *(*fn)(void *), void *arg, const mt_thread_opts_t *opts) {
  if (!out) return MT_EINVAL;
  *out = NULL;
  if (!fn) return MT_EINVAL;
  mt_thread_t *t = mt__calloc(1, sizeof *t);
  if (!t) return MT_ENOMEM;
  int e = mt_event_init(&t->done, 0);
  if (e) { mt__free(t); return e; }
  if (opts && opts->name) snprintf(t->name, sizeof t->name, "%s", opts->name);
  else snprintf(t->name, sizeof t->name, "Thread-%lu", next_number());
  t->daemon = opts && opts->daemon;
  t->fn = fn;
  t->arg = arg;
  t->refs = 2;
  t->state = ST_RUNNING;

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  if (opts && opts->stack_size) {
    size_t sz = opts->stack_size < (size_t)PTHREAD_STACK_MIN ? (size_t)PTHREAD_STACK_MIN : opts->stack_size;
    long pg = sysconf(_SC_PAGESIZE);
    sz = (sz + (size_t)pg - 1) & ~((size_t)pg - 1);
    e = pthread_attr_setstacksize(&attr, sz);
    if (e) {
      pthread_attr_destroy(&attr);
      mt_event_destroy(&t->done);
      mt__free(t);
      return -e;
    }
  }
  reg_add(t);
  *out = t;            /* before the thread runs: it may look for its handle */
  e = pthread_create(&t->pt, &attr, thread_entry, t);
  pthread_attr_destroy(&attr);
  if (e) {
    *out = NULL;
    pthread_mutex_lock(&g_reg);
    reg_del_locked(t);
    pthread_mutex_unlock(&g_reg);
    mt_event_destroy(&t->done);
    mt__free(t);
    return -e;
  }
  return 0;
}

static void reap(mt_thread_t *t, bool finished) {
  uint32_t z = 0;
  if (!mt__cas(&t->reaped, &z, 1)) return;
  if (finished) pthread_join(t->pt, NULL);
  else pthread_detach(t->pt);
}

MT_API int mt_thread_join(mt_thread_t *t, double timeout, void **result) {
  if (!t || t->foreign) return MT_EINVAL;
  if (t == t_self) return MT_EDEADLK;
  int r = mt_event_wait(&t->done, timeout);
  if (r) return r;
  reap(t, true);
  if (result) *result = t->result;
  return 0;
}

MT_API void mt_thread_free(mt_thread_t *t) {
  if (!t) return;
  if (!t->foreign) reap(t, mt_event_is_set(&t->done) && t != t_self);
  thread_unref(t);
}

MT_API mt_thread_t *mt_thread_current(void) {
  if (t_self) return t_self;
  mt_thread_t *t = mt__calloc(1, sizeof *t);
  if (!t) return NULL;
  if (mt_event_init(&t->done, 0)) { mt__free(t); return NULL; }
  pid_t tid = (pid_t)syscall(SYS_gettid);
  if (tid == getpid()) snprintf(t->name, sizeof t->name, "MainThread");
  else snprintf(t->name, sizeof t->name, "Dummy-%lu", next_number());
  t->tid = (uint32_t)tid;
  t->pt = pthread_self();
  t->foreign = true;
  t->daemon = tid != getpid();      /* foreign threads never hold up exit */
  t->refs = 1;                      /* the registry's */
  t->state = ST_RUNNING;
  t->reaped = 1;
  reg_add(t);
  if (tid != getpid()) pthread_setspecific(g_key, t);
  t_self = t;
  return t;
}

MT_API const char *mt_thread_name(const mt_thread_t *t) { return t ? t->name : NULL; }

MT_API unsigned long mt_thread_ident(const mt_thread_t *t) {
  uint32_t tid;
  while ((tid = mt__load(&t->tid)) == 0 && mt__load(&t->state) == ST_RUNNING) sched_yield();
  return tid;
}

MT_API bool mt_thread_is_alive(const mt_thread_t *t) { return mt__load(&t->state) == ST_RUNNING; }
MT_API bool mt_thread_is_daemon(const mt_thread_t *t) { return t->daemon; }

MT_API size_t mt_thread_active_count(void) {
  pthread_mutex_lock(&g_reg);
  size_t n = g_count;
  pthread_mutex_unlock(&g_reg);
  return n;
}

MT_API size_t mt_thread_enumerate(mt_thread_t **out, size_t cap) {
  size_t n = 0;
  pthread_mutex_lock(&g_reg);
  for (mt_thread_t *t = g_head; t; t = t->next, n++) {
    if (n < cap) {
      mt__fetch_add(&t->refs, 1);
      out[n] = t;
    }
  }
  pthread_mutex_unlock(&g_reg);
  return n;
}

/* Python's shutdown: join every non-daemon thread, including threads that
 * those threads start meanwhile. */
static void join_non_daemon_at_exit(void) {
  for (;;) {
    mt_thread_t *w = NULL;
    pthread_mutex_lock(&g_reg);
    for (mt_thread_t *t = g_head; t; t = t->next) {
      if (!t->daemon && !t->foreign && t != t_self && t->state == ST_RUNNING) {
        w = t;
        mt__fetch_add(&w->refs, 1);
        break;
      }
    }
    pthread_mutex_unlock(&g_reg);
    if (!w) return;
    mt_event_wait(&w->done, MT_FOREVER);
    reap(w, true);
    thread_unref(w);
  }
}

static void atfork_prepare(void) { pthread_mutex_lock(&g_reg); }
static void atfork_parent(void) { pthread_mutex_unlock(&g_reg); }
static void atfork_child(void) {
  /* Only the forking thread exists in the child. The others' entries become
   * finished threads: joining them returns at once. */
  mt_thread_t *t = g_head;
  while (t) {
    mt_thread_t *next = t->next;
    if (t != t_self) {
      reg_del_locked(t);
      t->state = ST_FINISHED;
      t->done.flag = 1;
      t->reaped = 1;
    }
    t = next;
  }
  pthread_mutex_unlock(&g_reg);   /* taken by atfork_prepare in this thread */
}

__attribute__((constructor)) static void thread_init(void) {
  pthread_key_create(&g_key, thread_finish);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  mt_thread_current();            /* register MainThread */
  atexit(join_non_daemon_at_exit);
}
