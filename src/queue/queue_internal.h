/* queue_internal.h — what libmt's own tests may ask a queue that its public
 * API does not tell. */
#ifndef MT_QUEUE_INTERNAL_H
#define MT_QUEUE_INTERNAL_H

#include <stdbool.h>

#include "mt/queue.h"

/* How many callers are asleep in put (putters) or get: parked on the
 * queue's wait queue or condition, not merely on their way. For tests that
 * must know a caller really sleeps before they act. */
unsigned mt__queue_parked(mt_queue_t *q, bool putters);

#endif
