/* wrapcopy.h — copies in and out of a byte ring that wraps at `cap`.
 * Shared by the cross-process queue (pqueue.c) and the process pool's
 * result rings (procpool.c); positions are ever-growing byte counts. */
#ifndef MT_IPC_WRAPCOPY_H
#define MT_IPC_WRAPCOPY_H

#include <stdint.h>
#include <string.h>

static inline void mt__wrap_copy_in(unsigned char *data, uint64_t cap, uint64_t pos, const void *src, size_t n) {
  size_t off = (size_t)(pos % cap), first = n < cap - off ? n : (size_t)(cap - off);
  memcpy(data + off, src, first);
  if (n > first) memcpy(data, (const char *)src + first, n - first);
}

static inline void mt__wrap_copy_out(const unsigned char *data, uint64_t cap, uint64_t pos, void *dst, size_t n) {
  size_t off = (size_t)(pos % cap), first = n < cap - off ? n : (size_t)(cap - off);
  memcpy(dst, data + off, first);
  if (n > first) memcpy((char *)dst + first, data, n - first);
}

#endif
