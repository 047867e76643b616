/* digests.c — the HASH digest cache: whole-file digests remembered, so that
 * a file hashed once is not read again for the next client that verifies it
 * (a mirror that many clients fetch and check; a segmented download's helper
 * asking while the bytes flow).
 *
 * An entry is keyed by what changes whenever the file's bytes can have
 * changed: device, inode, size, mtime and ctime (ns); and by the algorithm
 * and the byte range hashed (the whole file, or a RANG's). A write(2)
 * through any name, by any process, moves ctime, and ctime cannot be set
 * from user space. Two holes remain in timestamps. The kernel stamps them
 * from its coarse clock, and at the start of a write, so a write going on
 * while the digest is read can leave the key as it was. So an entry is
 * stored only for a file whose ctime is a second or more older than the
 * coarse clock read before the first byte was hashed (ftpd_digest_clock),
 * and only when the file's key after the last read is the key before the
 * first: a later write stamps a ctime at or past that clock, which the
 * entry's key is not (git's rule for "racily clean" index entries, with a
 * second's margin for a long write). And stores through a shared mapping
 * into pages already dirty move no timestamp at all: a file changed that
 * way is not seen to change, by this cache as by rsync or make.
 *
 * The table is shared by every session and, for the fork model, every
 * process: a MAP_SHARED anonymous mapping made before any fork (main.c),
 * in buckets of WAYS slots chosen by (dev, ino, algorithm, range start),
 * sized by hash-cache (entries, rounded up to whole buckets; 0 = off). A
 * new digest takes its own key's slot, else an empty one, else the one of
 * the fewest bytes: what is evicted is what is cheapest to hash again, so
 * thousands of small files do not push out a large file's digest. Each
 * slot is a seqlock: a writer claims an even sequence by
 * compare-and-swap (odd while it writes; a busy slot is left alone, since
 * a cache may miss), a reader copies the words and keeps them only if the
 * sequence is even and unchanged. Every word is an atomic, so readers and
 * writers never race on plain memory. A process killed while writing leaves
 * its slot odd: that slot misses from then on, nothing worse.
 */
#include <assert.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>

#include "session.h"

enum { K_DEV, K_INO, K_SIZE, K_MSEC, K_MNSEC, K_CSEC, K_CNSEC, K_ALGO, K_FROM, K_TO, NKEY };
#define NDIG (FTPD_DIGEST_MAX / 8)
#define WAYS 4
/* the table is shared by processes: its atomics must not be locks */
static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");

struct dslot {
  _Atomic uint64_t seq;
  _Atomic uint64_t w[NKEY + NDIG];   /* the key, then the digest */
};

struct ftpd_digests {
  size_t n;
  struct dslot slot[];
};

static size_t map_size(size_t n) { return sizeof(struct ftpd_digests) + n * sizeof(struct dslot); }

struct ftpd_digests *ftpd_digests_new(size_t n) {
  if (!n) return NULL;
  n = (n + WAYS - 1) / WAYS * WAYS;
  void *p = mmap(NULL, map_size(n), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  struct ftpd_digests *d = p;         /* zero-filled: every slot empty (algo word 0) */
  d->n = n;
  return d;
}

void ftpd_digests_free(struct ftpd_digests *d) {
  if (d) munmap(d, map_size(d->n));
}

/* algo + 1 and the digest length, so a zero word is no entry */
static uint64_t algo_word(int algo, unsigned len) { return (uint64_t)(algo + 1) | (uint64_t)len << 8; }

static void key_of(const struct stat *st, int algo, unsigned len, uint64_t from, uint64_t to, uint64_t k[NKEY]) {
  k[K_DEV] = st->st_dev;
  k[K_INO] = st->st_ino;
  k[K_SIZE] = (uint64_t)st->st_size;
  k[K_MSEC] = (uint64_t)st->st_mtim.tv_sec;
  k[K_MNSEC] = (uint64_t)st->st_mtim.tv_nsec;
  k[K_CSEC] = (uint64_t)st->st_ctim.tv_sec;
  k[K_CNSEC] = (uint64_t)st->st_ctim.tv_nsec;
  k[K_ALGO] = algo_word(algo, len);
  k[K_FROM] = from;
  k[K_TO] = to;
}

/* The first slot of the key's bucket. */
static struct dslot *bucket_of(struct ftpd_digests *d, const struct stat *st, int algo, uint64_t from) {
  uint64_t h = (uint64_t)st->st_ino * 0x9E3779B97F4A7C15ull ^ (uint64_t)st->st_dev * 0xC2B2AE3D27D4EB4Full;
  h ^= (uint64_t)(algo + 1) * 0x165667B19E3779F9ull ^ from * 0x27D4EB2F165667C5ull;
  h ^= h >> 29;
  return &d->slot[h % (d->n / WAYS) * WAYS];
}

/* A consistent copy of slot s's words, and the sequence it was read at;
 * false while it is being written. */
static bool slot_read(struct dslot *s, uint64_t w[NKEY + NDIG], uint64_t *seqp) {
  uint64_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
  if (seq & 1) return false;
  for (int i = 0; i < NKEY + NDIG; i++) w[i] = atomic_load_explicit(&s->w[i], memory_order_relaxed);
  atomic_thread_fence(memory_order_acquire);
  *seqp = seq;
  return atomic_load_explicit(&s->seq, memory_order_relaxed) == seq;
}

struct timespec ftpd_digest_clock(void) {
  struct timespec t;
  clock_gettime(CLOCK_REALTIME_COARSE, &t);
  return t;
}

bool ftpd_digest_get(struct ftpd_digests *d, const struct stat *st, int algo, uint64_t from, uint64_t to, unsigned len,
                     unsigned char *out) {
  if (!d || len > FTPD_DIGEST_MAX) return false;
  struct dslot *b = bucket_of(d, st, algo, from);
  uint64_t k[NKEY], w[NKEY + NDIG];
  key_of(st, algo, len, from, to, k);
  uint64_t seq;
  for (int i = 0; i < WAYS; i++) {
    if (slot_read(&b[i], w, &seq) && !memcmp(w, k, sizeof k)) {
      memcpy(out, &w[NKEY], len);
      return true;
    }
  }
  return false;
}

static bool before(const struct timespec *a, const struct timespec *b) {
  return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

bool ftpd_digest_put(struct ftpd_digests *d, const struct stat *first, const struct stat *last, struct timespec clock,
                     int algo, uint64_t from, uint64_t to, const unsigned char *digest, unsigned len) {
  if (!d || len > FTPD_DIGEST_MAX) return false;
  uint64_t k[NKEY], k2[NKEY];
  key_of(first, algo, len, from, to, k);
  key_of(last, algo, len, from, to, k2);
  /* changed while read, or less than a second before the reading began:
   * not kept */
  struct timespec margin = {clock.tv_sec - 1, clock.tv_nsec};
  if (memcmp(k, k2, sizeof k) || !before(&first->st_ctim, &margin)) return false;
  /* the key's own slot, else an empty one, else the fewest bytes; a slot
   * being written is passed over */
  struct dslot *b = bucket_of(d, first, algo, from), *s = NULL;
  uint64_t w[NKEY + NDIG], least = UINT64_MAX, seq = 0, at;
  for (int i = 0; i < WAYS; i++) {
    if (!slot_read(&b[i], w, &at)) continue;
    if (!memcmp(w, k, sizeof k) || !w[K_ALGO]) {
      s = &b[i];
      seq = at;
      break;
    }
    if (w[K_TO] - w[K_FROM] < least) {
      least = w[K_TO] - w[K_FROM];
      s = &b[i];
      seq = at;
    }
  }
  /* claimed only as it was read: a slot another writer filled meanwhile is
   * left to it */
  if (!s) return false;
  if ((seq & 1) || !atomic_compare_exchange_strong_explicit(&s->seq, &seq, seq + 1, memory_order_acquire,
                                                            memory_order_relaxed))
    return false;
  atomic_thread_fence(memory_order_release);
  uint64_t dw[NDIG] = {0};
  memcpy(dw, digest, len);
  for (int i = 0; i < NKEY; i++) atomic_store_explicit(&s->w[i], k[i], memory_order_relaxed);
  for (int i = 0; i < NDIG; i++) atomic_store_explicit(&s->w[NKEY + i], dw[i], memory_order_relaxed);
  atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
  return true;
}
