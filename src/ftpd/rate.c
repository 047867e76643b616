/* rate.c — max-rate (per session) and max-rate-per-user (across all of a
 * user's sessions at once), for the transfer loops in data.c.
 *
 * Each limit is a virtual clock: `next` is the moment the bytes already sent
 * have been paid for at the rate. Before a chunk the loop waits until every
 * clock that applies is not ahead of now (ftpd_rate_delay, then a sleep —
 * mt_sleep parks a coroutine, not its scheduler — in slices that read the
 * control connection); after the chunk its bytes are charged
 * (ftpd_rate_charge: next = max(next, now) + bytes / rate). Idle time earns
 * no credit, so no burst follows a pause; sessions of one user that start
 * a chunk at the same instant overshoot by one chunk each, at most
 * (ftpd_rate_chunk keeps a chunk near an eighth of a second's worth).
 *
 * The per-user clocks must be shared by the fork model's processes, so
 * they live in a MAP_SHARED anonymous mapping made before any fork
 * (ftpd_rates_new, from main.c) and are changed only with atomics: a slot
 * is claimed by compare-and-swap on its state (empty -> writing -> ready),
 * its clock advanced by a compare-and-swap loop. Slots are never freed; a
 * full table (FTPD_MAX_RATE_USERS users) leaves a new user with its
 * per-session limit only (logged).
 */
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "session.h"

enum { SLOT_EMPTY = 0, SLOT_WRITING = 1, SLOT_READY = 2 };

struct rate_user {
  atomic_int state;
  char name[FTPD_MAX_USER + 1];
  atomic_llong next;          /* ns on CLOCK_MONOTONIC (mt_now) */
};

struct ftpd_rates {
  struct rate_user u[FTPD_MAX_RATE_USERS];
};

struct ftpd_rates *ftpd_rates_new(void) {
  void *p = mmap(NULL, sizeof(struct ftpd_rates), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;      /* zero-filled: every slot empty */
}

void ftpd_rates_free(struct ftpd_rates *t) {
  if (t) munmap(t, sizeof *t);
}

static long long now_ns(void) { return (long long)(mt_now() * 1e9); }

static struct rate_user *user_slot(struct ftpd_rates *t, const char *name) {
  uint32_t h = 2166136261u;                /* FNV-1a */
  for (const char *c = name; *c; c++) h = (h ^ (unsigned char)*c) * 16777619u;
  for (unsigned i = 0; i < FTPD_MAX_RATE_USERS; i++) {
    struct rate_user *u = &t->u[(h + i) % FTPD_MAX_RATE_USERS];
    int st = atomic_load_explicit(&u->state, memory_order_acquire);
    if (st == SLOT_EMPTY) {
      int want = SLOT_EMPTY;
      if (atomic_compare_exchange_strong(&u->state, &want, SLOT_WRITING)) {
        snprintf(u->name, sizeof u->name, "%s", name);
        atomic_store_explicit(&u->state, SLOT_READY, memory_order_release);
        return u;
      }
      st = want;
    }
    /* another session is writing this slot's name: a few yields at most (a
     * process that died in between leaves the slot to nobody) */
    for (int spin = 0; st == SLOT_WRITING && spin < 1000; spin++) {
      sched_yield();
      st = atomic_load_explicit(&u->state, memory_order_acquire);
    }
    if (st == SLOT_READY && !strcmp(u->name, name)) return u;
  }
  return NULL;
}

/* The user's shared clock, looked up once per login. */
static struct rate_user *user_clock(ftpd_session_t *s) {
  if (!s->cfg->max_rate_per_user || !s->logged_in || !s->srv->rates) return NULL;
  if (!s->rate_looked) {
    s->rate_looked = true;
    s->rate_user = user_slot(s->srv->rates, s->user);
    if (!s->rate_user)
      ftpd_log(LOG_WARN, "#%lu %s: max-rate-per-user table full (%d users); only max-rate applies", s->id,
               s->user, FTPD_MAX_RATE_USERS);
  }
  return s->rate_user;
}

size_t ftpd_rate_chunk(ftpd_session_t *s, size_t want) {
  int a = s->cfg->max_rate, b = user_clock(s) ? s->cfg->max_rate_per_user : 0;
  int rate = a && b ? (a < b ? a : b) : a ? a : b;
  if (!rate) return want;
  size_t c = (size_t)rate / 8;
  if (c < 512) c = 512;
  return c < want ? c : want;
}

double ftpd_rate_delay(ftpd_session_t *s) {
  long long ahead = 0, now = now_ns();
  if (s->cfg->max_rate && s->rate_next > now) ahead = s->rate_next - now;
  struct rate_user *u = user_clock(s);
  if (u) {
    long long n = atomic_load_explicit(&u->next, memory_order_relaxed);
    if (n - now > ahead) ahead = n - now;
  }
  return (double)ahead / 1e9;
}

static long long cost_ns(size_t n, int rate) { return (long long)((double)n * 1e9 / rate); }

void ftpd_rate_charge(ftpd_session_t *s, size_t n) {
  if (!n) return;
  long long now = now_ns();
  if (s->cfg->max_rate) s->rate_next = (s->rate_next > now ? s->rate_next : now) + cost_ns(n, s->cfg->max_rate);
  struct rate_user *u = user_clock(s);
  if (u) {
    long long cost = cost_ns(n, s->cfg->max_rate_per_user);
    long long old = atomic_load_explicit(&u->next, memory_order_relaxed);
    while (!atomic_compare_exchange_weak(&u->next, &old, (old > now ? old : now) + cost)) {
    }
  }
}
