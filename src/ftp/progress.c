/* progress.c — the progress meter: one line per active transfer (name,
 * bytes, percent, rate, ETA) and a total line, on stderr, redrawn at most
 * 10 times a second by whichever transfer thread passes the deadline, and
 * erased before any other output and at the end. It knows nothing of FTP.
 *
 * One mutex protects the list of transfers and the screen; prog_add only
 * takes it when a redraw is due (an atomic deadline check first).
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mt/time.h>

#include "mtftp.h"

#define MAX_SHOWN 8

struct prog {
  char name[64];
  _Atomic uint64_t done;
  uint64_t total, start_done;
  double start;
  prog_t *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static prog_t *active;
static int drawn;            /* lines on screen */
static _Atomic double next_draw;
static uint64_t finished_bytes;

static void human(char *out, size_t n, double v) {
  const char *u = "BKMGT";
  int i = 0;
  while (v >= 1024 && i < 4) {
    v /= 1024;
    i++;
  }
  if (i == 0) snprintf(out, n, "%.0f B", v);
  else snprintf(out, n, "%.1f %ciB", v, u[i]);
}

static void erase_locked(void) {
  for (int i = 0; i < drawn; i++) fputs(i ? "\033[A\r\033[K" : "\r\033[K", stderr);
  drawn = 0;
}

static void line_for(const char *name, uint64_t done, uint64_t total, double secs, uint64_t base) {
  char b[32], r[32], eta[32] = "";
  human(b, sizeof b, (double)done);
  double rate = secs > 0.05 ? (double)(done - base) / secs : 0;
  human(r, sizeof r, rate);
  if (total && rate > 0 && done <= total) {
    double left = (double)(total - done) / rate;
    snprintf(eta, sizeof eta, " ETA %02d:%02d", (int)(left / 60), (int)left % 60);
  }
  if (total) fprintf(stderr, "%-30.30s %10s %3d%% %10s/s%s", name, b, (int)(100.0 * (double)done / (double)total), r, eta);
  else fprintf(stderr, "%-30.30s %10s      %10s/s", name, b, r);
}

static void draw_locked(void) {
  erase_locked();
  double now = mt_now();
  int n = 0;
  uint64_t tdone = finished_bytes, ttotal = 0;
  double t0 = now;
  for (prog_t *p = active; p; p = p->next) {
    uint64_t d = atomic_load(&p->done);
    tdone += d - p->start_done;
    ttotal += p->total;
    if (p->start < t0) t0 = p->start;
    if (n < MAX_SHOWN) {
      if (n) fputc('\n', stderr);
      line_for(p->name, d, p->total, now - p->start, p->start_done);
      n++;
    }
  }
  if (n > 1) {
    fputc('\n', stderr);
    line_for("total", tdone, 0, now - t0, 0);
    n++;
  }
  drawn = n;
  fflush(stderr);
}

prog_t *prog_start(const char *name, uint64_t total, uint64_t done) {
  if (!g_opts.progress) return NULL;
  prog_t *p = calloc(1, sizeof *p);
  if (!p) return NULL;
  const char *base = strrchr(name, '/');
  snprintf(p->name, sizeof p->name, "%s", base && base[1] ? base + 1 : name);
  p->total = total;
  atomic_store(&p->done, done);
  p->start_done = done;
  p->start = mt_now();
  pthread_mutex_lock(&lock);
  p->next = active;
  active = p;
  pthread_mutex_unlock(&lock);
  return p;
}

void prog_add(prog_t *p, uint64_t n) {
  if (!p) return;
  atomic_fetch_add(&p->done, n);
  double now = mt_now();
  if (now < atomic_load(&next_draw)) return;
  if (pthread_mutex_trylock(&lock)) return;
  if (now >= atomic_load(&next_draw)) {
    atomic_store(&next_draw, now + 0.1);
    draw_locked();
  }
  pthread_mutex_unlock(&lock);
}

void prog_end(prog_t *p) {
  if (!p) return;
  pthread_mutex_lock(&lock);
  for (prog_t **pp = &active; *pp; pp = &(*pp)->next)
    if (*pp == p) {
      *pp = p->next;
      break;
    }
  finished_bytes += atomic_load(&p->done) - p->start_done;
  if (!active) {
    erase_locked();
    finished_bytes = 0;
    fflush(stderr);
  }
  pthread_mutex_unlock(&lock);
  free(p);
}

void prog_clear(void) {
  if (!g_opts.progress) return;
  pthread_mutex_lock(&lock);
  if (drawn) {
    erase_locked();
    fflush(stderr);
  }
  atomic_store(&next_draw, mt_now() + 0.1);
  pthread_mutex_unlock(&lock);
}
