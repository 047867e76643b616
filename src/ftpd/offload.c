/* offload.c — blocking work away from a coroutine scheduler.
 *
 * In the coroutines model a session must not hold its scheduler's thread in
 * a long computation or a disk wait, or every session on that scheduler
 * stalls. ftpd_offload() runs such a step on srv->offload, a small thread
 * pool, while the calling coroutine parks on the future. The job lives on
 * the caller's stack, so the caller waits for it to finish whatever happens
 * (it is never abandoned half-way). Elsewhere (threads and fork models, or
 * no pool) the step simply runs in the caller.
 */
#include "ftpd.h"

bool ftpd_offloads(const ftpd_server_t *srv) { return srv->offload && mt_co_current(); }

static int run_pending(void *arg, void **res) {
  ftpd_offload_t *p = arg;
  (void)res;
  return p->fn(p->arg);
}

void ftpd_offload_begin(ftpd_server_t *srv, ftpd_offload_t *p, int (*fn)(void *), void *arg) {
  *p = (ftpd_offload_t){fn, arg, NULL, 0};
  if (ftpd_offloads(srv)) p->f = mt_pool_submit(srv->offload, run_pending, p);
  if (!p->f) p->rc = fn(arg);             /* in place, or the pool closing / out of memory */
}

int ftpd_offload_end(ftpd_offload_t *p) {
  if (!p->f) return p->rc;
  while (mt_future_wait(p->f, MT_FOREVER) != 0) {}   /* never leave p behind */
  int r = mt_future_result(p->f, 0, NULL);
  mt_future_release(p->f);
  p->f = NULL;
  return r;
}

int ftpd_offload(ftpd_server_t *srv, int (*fn)(void *), void *arg) {
  ftpd_offload_t p;
  ftpd_offload_begin(srv, &p, fn, arg);
  return ftpd_offload_end(&p);
}
