/* lockdep.c — the lock-order checker behind MT_CHECK_LOCKS=1.
 *
 * Each thread keeps a small stack of the Locks/RLocks it holds, with the
 * call site of each acquisition. Taking lock B while holding A records the
 * edge A->B (first thread, sites) in a global table. If the reverse edge
 * B->A is already there, the two orders can deadlock: both are reported on
 * stderr once per pair, whether or not this run actually deadlocked. The
 * check runs before blocking, so a real AB/BA deadlock is reported too.
 *
 * Off (the default), the only cost is the test of mt__lockdep_on on the
 * slow paths and the flag check on the fast path. The table uses the C
 * library's allocator, not the hook, and its own pthread mutex (a leaf).
 * Destroying a lock forgets its edges, so a reused address is not confused
 * with the old lock.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt/thread.h"
#include "sync/sync_internal.h"

bool mt__lockdep_on;

#define HELD_MAX 64

typedef struct { const mt_lock_t *lock; void *site; } held_t;
static __thread held_t t_held[HELD_MAX];
static __thread int t_nheld;

typedef struct {
  const mt_lock_t *from, *to;          /* NULL from: empty; (void*)1: deleted */
  void *from_site, *to_site;
  const char *from_name, *to_name;
  char thread[32];
  bool reported;
} edge_t;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static edge_t *g_tab;
static size_t g_cap, g_used;
#define DELETED ((const mt_lock_t *)1)

__attribute__((constructor)) static void lockdep_init(void) {
  const char *v = getenv("MT_CHECK_LOCKS");
  mt__lockdep_on = v && *v && strcmp(v, "0") != 0;
}

static size_t hash2(const void *a, const void *b) {
  uint64_t x = (uint64_t)(uintptr_t)a * 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)b * 0xC2B2AE3D27D4EB4Full;
  return (size_t)(x ^ (x >> 29));
}

static edge_t *find(const mt_lock_t *a, const mt_lock_t *b) {
  if (!g_cap) return NULL;
  for (size_t i = hash2(a, b) & (g_cap - 1);; i = (i + 1) & (g_cap - 1)) {
    edge_t *e = &g_tab[i];
    if (!e->from) return NULL;
    if (e->from == a && e->to == b) return e;
  }
}

static bool grow(void) {
  size_t ncap = g_cap ? g_cap * 2 : 256;
  edge_t *nt = calloc(ncap, sizeof *nt);
  if (!nt) return false;
  for (size_t i = 0; i < g_cap; i++) {
    edge_t *e = &g_tab[i];
    if (!e->from || e->from == DELETED) continue;
    size_t j = hash2(e->from, e->to) & (ncap - 1);
    while (nt[j].from) j = (j + 1) & (ncap - 1);
    nt[j] = *e;
  }
  free(g_tab);
  g_tab = nt;
  g_cap = ncap;
  return true;
}

static edge_t *insert(const mt_lock_t *a, const mt_lock_t *b) {
  if ((g_used + 1) * 2 > g_cap && !grow()) return NULL;
  size_t i = hash2(a, b) & (g_cap - 1);
  while (g_tab[i].from && g_tab[i].from != DELETED) i = (i + 1) & (g_cap - 1);
  g_used++;
  edge_t *e = &g_tab[i];
  memset(e, 0, sizeof *e);
  e->from = a;
  e->to = b;
  return e;
}

static int fmt_site(char *buf, size_t n, void *site) {
  Dl_info di;
  if (site && dladdr(site, &di) && di.dli_fname) {
    if (di.dli_sname)
      return snprintf(buf, n, "%p (%s+0x%lx in %s)", site, di.dli_sname,
                      (unsigned long)((char *)site - (char *)di.dli_saddr), di.dli_fname);
    return snprintf(buf, n, "%p (in %s+0x%lx)", site, di.dli_fname,
                    (unsigned long)((char *)site - (char *)di.dli_fbase));
  }
  return snprintf(buf, n, "%p", site);
}

static const char *lname(const char *name) { return name ? name : "lock"; }

static void report(const edge_t *old, const mt_lock_t *held, void *held_site,
                   const mt_lock_t *want, void *want_site, const char *thread) {
  char s1[256], s2[256], s3[256], s4[256], out[2048];
  fmt_site(s1, sizeof s1, want_site);
  fmt_site(s2, sizeof s2, held_site);
  fmt_site(s3, sizeof s3, old->to_site);
  fmt_site(s4, sizeof s4, old->from_site);
  int n = snprintf(out, sizeof out,
      "multitask: MT_CHECK_LOCKS: lock order inversion (possible deadlock)\n"
      "  thread \"%s\" takes lock \"%s\" (%p) at %s\n"
      "    while holding lock \"%s\" (%p) taken at %s\n"
      "  but thread \"%s\" earlier took lock \"%s\" (%p) at %s\n"
      "    while holding lock \"%s\" (%p) taken at %s\n",
      thread, lname(want->name), (void *)want, s1, lname(held->name), (void *)held, s2,
      old->thread, lname(old->to_name), (void *)old->to, s3,
      lname(old->from_name), (void *)old->from, s4);
  if (n > (int)sizeof out) n = (int)sizeof out;
  ssize_t w = write(2, out, (size_t)n);
  (void)w;
}

void mt__lockdep_acquire(const mt_lock_t *l, void *site, bool blocking) {
  if (!blocking || t_nheld == 0) return;
  mt_thread_t *self = mt_thread_current();
  const char *tname = self ? mt_thread_name(self) : "?";
  pthread_mutex_lock(&g_mu);
  int n = t_nheld < HELD_MAX ? t_nheld : HELD_MAX;
  for (int i = 0; i < n; i++) {
    const mt_lock_t *h = t_held[i].lock;
    if (h == l) continue;
    edge_t *rev = find(l, h);
    if (rev && !rev->reported) {
      rev->reported = true;
      report(rev, h, t_held[i].site, l, site, tname);
    }
    edge_t *fw = find(h, l);
    if (!fw && (fw = insert(h, l))) {
      fw->from_site = t_held[i].site;
      fw->to_site = site;
      fw->from_name = h->name;
      fw->to_name = l->name;
      snprintf(fw->thread, sizeof fw->thread, "%s", tname);
      if (rev) fw->reported = true;
    }
  }
  pthread_mutex_unlock(&g_mu);
}

void mt__lockdep_acquired(const mt_lock_t *l, void *site) {
  if (t_nheld < HELD_MAX) {
    t_held[t_nheld].lock = l;
    t_held[t_nheld].site = site;
  }
  t_nheld++;
}

void mt__lockdep_released(const mt_lock_t *l) {
  int n = t_nheld < HELD_MAX ? t_nheld : HELD_MAX;
  for (int i = n - 1; i >= 0; i--) {
    if (t_held[i].lock == l) {
      memmove(&t_held[i], &t_held[i + 1], (size_t)(n - 1 - i) * sizeof t_held[0]);
      t_nheld--;
      return;
    }
  }
  if (t_nheld > HELD_MAX) t_nheld--;   /* it was past the tracked depth */
}

void mt__lockdep_forget(const mt_lock_t *l) {
  pthread_mutex_lock(&g_mu);
  for (size_t i = 0; i < g_cap; i++) {
    edge_t *e = &g_tab[i];
    if (e->from && e->from != DELETED && (e->from == l || e->to == l)) {
      e->from = DELETED;
      e->to = NULL;
    }
  }
  pthread_mutex_unlock(&g_mu);
}
