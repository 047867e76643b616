/* ipc.h — pipes, shared memory and the cross-process queue, as Python's
 * multiprocessing.Pipe, shared Value/Array and JoinableQueue.
 *
 * Pipes carry whole messages, from 0 bytes to many MiB, over a socketpair
 * (duplex, or one-way with the unused directions shut). A timeout applies
 * until a message starts to move; once a message is partly sent or
 * received it is completed even past the timeout, so the stream never
 * falls out of step (a peer that stops reading in the middle of a large
 * message therefore holds up its sender). When
 * the other end is gone, send and recv return MT_ECLOSED (no SIGPIPE). Each
 * end may be used by several threads: sends are serialised, so are recvs.
 *
 * Buffers handed to the caller (mt_pipe_recv, mt_pqueue_get) come from
 * malloc(3) whatever mt_set_allocator installed, so free() releases them.
 *
 * Shared memory from mt_shm_alloc is inherited by children started with
 * mt_proc_start (or fork); named segments join unrelated processes. Put
 * MT_SHARED locks, events, conditions... in it: Python's Value with
 * get_lock() is a struct { mt_lock_t lock; double value; } in shared memory.
 *
 * The cross-process queue lives in shared memory: a byte ring of
 * length-prefixed messages guarded by a robust process-shared lock. It is
 * bounded by item count and by bytes; put and get take timeouts; task_done,
 * join and close work as in mt_queue. A process killed while holding its
 * lock does not wedge the others: the next holder repairs the ring (a
 * message half-written by the dead is dropped, none already complete is).
 */
#ifndef MT_IPC_H
#define MT_IPC_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- pipes ----------------------------------------------------------------- */
typedef struct mt_pipe mt_pipe_t;

/* Two connected ends. duplex: both send and receive; else *a receives and
 * *b sends (Python's Pipe(duplex=False) order). Each end is freed with
 * mt_pipe_close(). Returns 0, MT_ENOMEM, MT_EMFILE... */
int  mt_pipe_new(mt_pipe_t **a, mt_pipe_t **b, bool duplex);
/* 0, MT_ETIMEDOUT (nothing sent), MT_ECLOSED, MT_EBADF (wrong direction). */
int  mt_pipe_send(mt_pipe_t *p, const void *buf, size_t len, double timeout);
/* 0 with *buf (malloc'd, the caller frees; NULL for an empty message) and
 * *len; MT_ETIMEDOUT (nothing received), MT_ECLOSED, MT_EMSGSIZE (a message
 * longer than mt_pipe_set_max; the pipe is then closed), MT_ENOMEM. */
int  mt_pipe_recv(mt_pipe_t *p, void **buf, size_t *len, double timeout);
/* Largest message recv accepts (default 1 GiB): a guard against a corrupt
 * or hostile peer announcing a huge one. */
void mt_pipe_set_max(mt_pipe_t *p, size_t max);
/* Waits until a message (or the end of the stream) is ready to recv without
 * waiting. Returns 0 (ready), MT_ETIMEDOUT, MT_ECANCELED (a cancelled
 * coroutine) or MT_EBADF (the write end of a one-way pipe). */
int  mt_pipe_poll(mt_pipe_t *p, double timeout);
int  mt_pipe_fileno(const mt_pipe_t *p);
void mt_pipe_close(mt_pipe_t *p);

/* ---- shared memory ---------------------------------------------------------------- */
/* Zeroed shared memory inherited across fork; NULL on failure. */
void *mt_shm_alloc(size_t size);
void  mt_shm_free(void *p, size_t size);
#define MT_SHM_CREATE 0x1   /* create if missing */
#define MT_SHM_EXCL   0x2   /* with CREATE: fail if it exists */
/* Maps the named segment ("/name"), creating it (zeroed, `size` bytes) with
 * MT_SHM_CREATE. NULL on failure (mt_last_error()). Unmap with mt_shm_free. */
void *mt_shm_open(const char *name, size_t size, int flags);
int   mt_shm_unlink(const char *name);

/* ---- the cross-process queue --------------------------------------------------------- */
typedef struct mt_pqueue mt_pqueue_t;

/* A queue in anonymous shared memory, usable by this process and its
 * children: at most `maxitems` messages (0: no count limit other than
 * 16,777,215, the most any queue holds at once) and `capacity_bytes` of
 * message data (each message also costs 8 bytes of framing; at most 2^40).
 * NULL on failure (mt_last_error()). A process killed inside a put or get
 * loses at most its own message and wedges nobody. */
mt_pqueue_t *mt_pqueue_new(size_t maxitems, size_t capacity_bytes);
/* The same by name, for unrelated processes: the first opener (with
 * MT_SHM_CREATE) sets the limits; later ones pass the same name. */
mt_pqueue_t *mt_pqueue_open(const char *name, size_t maxitems, size_t capacity_bytes, int flags);
/* 0, MT_EFULL (no room by the timeout), MT_ECLOSED, MT_EMSGSIZE (could
 * never fit). The message is copied. */
int  mt_pqueue_put(mt_pqueue_t *q, const void *buf, size_t len, double timeout);
/* 0 with a malloc'd copy in *buf (NULL if empty message) and *len;
 * MT_EEMPTY, MT_ECLOSED (closed and drained), MT_ENOMEM. */
int  mt_pqueue_get(mt_pqueue_t *q, void **buf, size_t *len, double timeout);
size_t mt_pqueue_size(mt_pqueue_t *q);
int  mt_pqueue_task_done(mt_pqueue_t *q);     /* MT_EINVAL if more than put */
int  mt_pqueue_join(mt_pqueue_t *q, double timeout);
void mt_pqueue_close(mt_pqueue_t *q);
/* Unmaps this process's view (the queue lives on in others). */
void mt_pqueue_free(mt_pqueue_t *q);

#ifdef __cplusplus
}
#endif
#endif
