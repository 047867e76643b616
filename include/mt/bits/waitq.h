/* mt/bits/waitq.h — the layout of libmt's wait queue, a private part of the
 * value types in mt/sync.h (a lock or condition embeds one). Not an API: use
 * the functions of mt/sync.h. It has a header of its own so that libmt's
 * core, which implements parking on it, does not depend on sync. */
#ifndef MT_BITS_WAITQ_H
#define MT_BITS_WAITQ_H

#include <stdint.h>

struct mt__waiter;
typedef struct mt__wq { uint32_t lk; struct mt__waiter *head, *tail; } mt__wq_t;

#endif
