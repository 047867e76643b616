/* internal.h — what every libmt source shares: allocation through the hook,
 * the always-on assert, deadlines, futex calls and atomics shorthands.
 * Internal non-static names use the mt__ prefix. */
#ifndef MT_CORE_INTERNAL_H
#define MT_CORE_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mt/error.h"
#include "mt/time.h"

#define MT_API __attribute__((visibility("default")))

/* ---- allocation (alloc.c) ------------------------------------------------ */
void *mt__malloc(size_t n);
void *mt__calloc(size_t n, size_t size);
void *mt__realloc(void *p, size_t n);
void  mt__free(void *p);
char *mt__strdup(const char *s);

/* ---- misuse: an assert that stays on in release builds (panic.c) -------- */
__attribute__((noreturn, format(printf, 3, 4)))
void mt__panic(const char *file, int line, const char *fmt, ...);
#define MT_ASSERT(cond, ...) \
  do { if (__builtin_expect(!(cond), 0)) mt__panic(__FILE__, __LINE__, __VA_ARGS__); } while (0)

/* ---- time (time.c) ---------------------------------------------------------
 * A deadline is absolute CLOCK_MONOTONIC nanoseconds; MT__NEVER waits forever. */
#define MT__NEVER INT64_MAX
int64_t mt__now_ns(void);
int64_t mt__deadline(double timeout);          /* <0 (or NaN): MT__NEVER */
double  mt__remaining(int64_t deadline);       /* seconds left, >= 0; -1 for never */
static inline struct timespec mt__ts(int64_t ns) {
  struct timespec ts = { (time_t)(ns / 1000000000), (long)(ns % 1000000000) };
  return ts;
}

/* ---- futex (futex.c) -------------------------------------------------------- */
/* Waits while *addr == val, until woken or the absolute monotonic deadline.
 * Returns 0 (woken or value changed), or MT_ETIMEDOUT. `shared` selects the
 * process-shared futex namespace. */
int  mt__futex_wait(uint32_t *addr, uint32_t val, int64_t deadline, bool shared);
void mt__futex_wake(uint32_t *addr, int n, bool shared);

/* ---- atomics shorthands (GCC builtins: understood by TSan) ----------------- */
#define mt__load(p)        __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define mt__load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define mt__store(p, v)    __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define mt__xchg(p, v)     __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define mt__cas(p, e, v)   __atomic_compare_exchange_n((p), (e), (v), false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define mt__fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define mt__fetch_sub(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL)

static inline void mt__cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield" ::: "memory");
#else
  __asm__ __volatile__("" ::: "memory");
#endif
}

/* Waits until fd is ready for `events` (POLLIN/POLLOUT) or the deadline:
 * 0 (ready, or an error the next call will report) or MT_ETIMEDOUT (fdwait.c). */
int mt__fd_wait(int fd, short events, int64_t deadline);
/* A new or closing fd: the coroutine scheduler forgets its registration. */
void mt__fd_forget(int fd);

/* Sets what mt_last_error() reports (error.c). */
void mt__set_last_error(int code);

/* A thread or coroutine id for ownership checks (RLock): never 0. */
unsigned long mt__self_id(void);

#endif
