/* alloc.c — the allocation hook every libmt allocation goes through.
 * The four pointers are swapped only by mt_set_allocator(), which the user
 * calls while libmt holds no memory; readers use relaxed atomic loads. */
#include <stdlib.h>
#include <string.h>

#include "mt/alloc.h"
#include "core/internal.h"

static void *(*g_malloc)(size_t) = malloc;
static void *(*g_realloc)(void *, size_t) = realloc;
static void *(*g_calloc)(size_t, size_t) = calloc;
static void (*g_free)(void *) = free;

MT_API int mt_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                            void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *)) {
  int given = !!malloc_fn + !!realloc_fn + !!calloc_fn + !!free_fn;
  if (given != 0 && given != 4) return MT_EINVAL;
  __atomic_store_n(&g_malloc, malloc_fn ? malloc_fn : malloc, __ATOMIC_RELEASE);
  __atomic_store_n(&g_realloc, realloc_fn ? realloc_fn : realloc, __ATOMIC_RELEASE);
  __atomic_store_n(&g_calloc, calloc_fn ? calloc_fn : calloc, __ATOMIC_RELEASE);
  __atomic_store_n(&g_free, free_fn ? free_fn : free, __ATOMIC_RELEASE);
  return 0;
}

void *mt__malloc(size_t n) { return __atomic_load_n(&g_malloc, __ATOMIC_ACQUIRE)(n ? n : 1); }
void *mt__calloc(size_t n, size_t size) {
  return __atomic_load_n(&g_calloc, __ATOMIC_ACQUIRE)(n ? n : 1, size ? size : 1);
}
void *mt__realloc(void *p, size_t n) { return __atomic_load_n(&g_realloc, __ATOMIC_ACQUIRE)(p, n ? n : 1); }
void mt__free(void *p) { if (p) __atomic_load_n(&g_free, __ATOMIC_ACQUIRE)(p); }

char *mt__strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = mt__malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}
