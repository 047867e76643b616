/* ring.h — a bounded multi-producer multi-consumer ring of pointers, lock-free
 * (after D. Vyukov's bounded MPMC queue: each cell carries a sequence number
 * that says whose turn it is). Used by bounded FIFO queues and by the thread
 * pool; blocking is layered on top by its users. FIFO per cell order; any
 * capacity (a power of two indexes with a mask, others with a division). */
#ifndef MT_QUEUE_RING_H
#define MT_QUEUE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct { uint64_t seq; void *item; } mt__cell_t;

typedef struct mt__ring {
  mt__cell_t *cells;
  uint64_t cap, mask;          /* mask = cap - 1 when cap is a power of two, else 0 */
  char pad0[64 - 2 * sizeof(uint64_t) - sizeof(void *)];
  uint64_t enq;                /* next position to fill (producers) */
  char pad1[64 - sizeof(uint64_t)];
  uint64_t deq;                /* next position to take (consumers) */
  char pad2[64 - sizeof(uint64_t)];
} mt__ring_t;

int  mt__ring_init(mt__ring_t *r, size_t cap);    /* 0 or MT_ENOMEM */
void mt__ring_free(mt__ring_t *r);
/* false: full (empty). On success *wake says whether *nwait, the other
 * side's sleeper count, was non-zero just after the position was claimed. */
bool mt__ring_put(mt__ring_t *r, void *item, const uint32_t *nwait, bool *wake);
bool mt__ring_get(mt__ring_t *r, void **item, const uint32_t *nwait, bool *wake);
size_t mt__ring_size(mt__ring_t *r);              /* a snapshot */

#endif
