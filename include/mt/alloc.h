/* alloc.h — the allocation hook.
 *
 * Every allocation libmt makes goes through these four functions. Tests use
 * the hook to make each allocation fail in turn and check that every
 * constructor then returns MT_ENOMEM (or NULL) with nothing leaked.
 */
#ifndef MT_ALLOC_H
#define MT_ALLOC_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Installs an allocator. All four must be given, or all four NULL to restore
 * the C library's. Returns 0, or MT_EINVAL for a partial set. Call it while
 * libmt holds no memory from the previous allocator (typically at start-up). */
int mt_set_allocator(void *(*malloc_fn)(size_t), void *(*realloc_fn)(void *, size_t),
                     void *(*calloc_fn)(size_t, size_t), void (*free_fn)(void *));

#ifdef __cplusplus
}
#endif
#endif
