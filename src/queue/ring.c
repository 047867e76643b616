/* ring.c — the lock-free bounded MPMC ring (see ring.h).
 *
 * Cell i starts with seq = i. A producer at position p may fill cell p%cap
 * when its seq == p; it claims p by CAS on `enq`, writes the item and
 * publishes seq = p + 1 (release). A consumer at p may take the cell when
 * seq == p + 1; it claims p by CAS on `deq`, reads the item and hands the
 * cell to the next lap with seq = p + cap (release). `enq` and `deq` live on
 * their own cache lines so producers and consumers do not share one.
 *
 * Sleeping is the caller's (queue.c), through a count of sleepers per side
 * (`nwait`). The claiming CAS is seq_cst and the sleepers' count is read
 * right after it; a sleeper counts itself (seq_cst) and then reads the
 * positions (seq_cst), where a claimed but unpublished cell already counts
 * as there. So of a claim and a sleeper, one always sees the other — with
 * no fence: on x86 the locked CAS is the only barrier, and it was there
 * anyway. */
#include <sched.h>

#include "core/internal.h"
#include "queue/ring.h"

int mt__ring_init(mt__ring_t *r, size_t cap) {
  r->cells = mt__malloc(cap * sizeof *r->cells);
  if (!r->cells) return MT_ENOMEM;
  r->cap = cap;
  r->mask = (cap & (cap - 1)) == 0 ? cap - 1 : 0;
  for (size_t i = 0; i < cap; i++) __atomic_store_n(&r->cells[i].seq, i, __ATOMIC_RELAXED);
  r->enq = r->deq = 0;
  return 0;
}

void mt__ring_free(mt__ring_t *r) { mt__free(r->cells); }

/* A cell claimed by another thread that has not finished with it yet (it may
 * have been preempted between its CAS and its publication): wait for it a
 * little — pause, then yield the CPU to it — rather than report full/empty. */
static inline void backoff(unsigned *spins) {
  if (++*spins < 64) mt__cpu_relax();
  else sched_yield();
}

/* Lost a race for a position to a thread on another CPU: step back for a
 * growing moment, so the winner can run a streak of operations while it
 * owns the position's cache line instead of the two trading it every time. */
static inline void contend(unsigned *fails) {
  unsigned n = 1u << (*fails < 6 ? (*fails)++ : 6);
  for (unsigned i = 0; i < n; i++) mt__cpu_relax();
}

static inline mt__cell_t *cell(mt__ring_t *r, uint64_t pos) {
  return &r->cells[r->mask ? (pos & r->mask) : (pos % r->cap)];
}

bool mt__ring_put(mt__ring_t *r, void *item, const uint32_t *nwait, bool *wake) {
  unsigned spins = 0, fails = 0;
  uint64_t pos = __atomic_load_n(&r->enq, __ATOMIC_RELAXED);
  for (;;) {
    mt__cell_t *c = cell(r, pos);
    int64_t diff = (int64_t)(__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) - pos);
    if (diff == 0) {
      if (__atomic_compare_exchange_n(&r->enq, &pos, pos + 1, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        *wake = __atomic_load_n(nwait, __ATOMIC_SEQ_CST) != 0;
        __atomic_store_n(&c->item, item, __ATOMIC_RELAXED);
        __atomic_store_n(&c->seq, pos + 1, __ATOMIC_RELEASE);
        return true;
      }
      contend(&fails);
    } else if (diff < 0) {
      /* The cell is a lap behind: full — unless a consumer has claimed it
       * and not yet handed it on. */
      if (pos - __atomic_load_n(&r->deq, __ATOMIC_SEQ_CST) >= r->cap) return false;
      backoff(&spins);
      pos = __atomic_load_n(&r->enq, __ATOMIC_RELAXED);
    } else {
      pos = __atomic_load_n(&r->enq, __ATOMIC_RELAXED);
    }
  }
}

bool mt__ring_get(mt__ring_t *r, void **item, const uint32_t *nwait, bool *wake) {
  unsigned spins = 0, fails = 0;
  uint64_t pos = __atomic_load_n(&r->deq, __ATOMIC_RELAXED);
  for (;;) {
    mt__cell_t *c = cell(r, pos);
    int64_t diff = (int64_t)(__atomic_load_n(&c->seq, __ATOMIC_ACQUIRE) - (pos + 1));
    if (diff == 0) {
      if (__atomic_compare_exchange_n(&r->deq, &pos, pos + 1, true, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
        *wake = __atomic_load_n(nwait, __ATOMIC_SEQ_CST) != 0;
        *item = __atomic_load_n(&c->item, __ATOMIC_RELAXED);
        __atomic_store_n(&c->seq, pos + r->cap, __ATOMIC_RELEASE);
        return true;
      }
      contend(&fails);
    } else if (diff < 0) {
      /* Not filled: empty — unless a producer has claimed the cell and not
       * yet published it. */
      if (__atomic_load_n(&r->enq, __ATOMIC_SEQ_CST) == pos) return false;
      backoff(&spins);
      pos = __atomic_load_n(&r->deq, __ATOMIC_RELAXED);
    } else {
      pos = __atomic_load_n(&r->deq, __ATOMIC_RELAXED);
    }
  }
}

size_t mt__ring_size(mt__ring_t *r) {
  uint64_t d = __atomic_load_n(&r->deq, __ATOMIC_ACQUIRE);
  uint64_t e = __atomic_load_n(&r->enq, __ATOMIC_ACQUIRE);
  if (e <= d) return 0;
  return e - d > r->cap ? (size_t)r->cap : (size_t)(e - d);
}
