/* poller.h — the scheduler's readiness backend. One implementation per file
 * (poll_epoll.c today); a build picks one, so an io_uring backend can sit
 * beside it without touching the scheduler.
 *
 * Contract: an fd is added once and reported edge-triggered for both
 * directions until deleted (or closed, where the backend drops it by
 * itself). A "kick" fd (the scheduler's eventfd) wakes a waiting poller. */
#ifndef MT_CO_POLLER_H
#define MT_CO_POLLER_H

enum { MT__POLL_R = 1, MT__POLL_W = 2 };

typedef struct mt__poller mt__poller_t;

/* 0 or -errno. The kick fd is drained by the backend. */
int  mt__poller_new(mt__poller_t **p, int kick_fd);
void mt__poller_free(mt__poller_t *p);
/* 0 (watched), 1 (not pollable: a regular file, always ready), or -errno. */
int  mt__poller_add(mt__poller_t *p, int fd);
void mt__poller_del(mt__poller_t *p, int fd);
/* Waits up to timeout_ms (-1 forever, 0 not at all) and reports each fd that
 * became ready with MT__POLL_R and/or MT__POLL_W (errors and hang-ups count
 * as both). */
void mt__poller_wait(mt__poller_t *p, int timeout_ms, void (*ready)(void *ctx, int fd, unsigned what), void *ctx);

#endif
