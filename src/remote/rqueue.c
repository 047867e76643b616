/* rqueue.c — mt_rqueue: a named, joinable FIFO of byte messages in Redis.
 *
 * Keys, all under mt:q:{NAME}: `items` (a list; each element is 'm' and the
 * message, or the lone close marker "c"), `unfinished` (puts not yet
 * task_done), `closed` (set once, for good), and two wake-up lists, `space`
 * (a get from a bounded queue pushes a token for a putter waiting for room)
 * and `joined` (task_done reaching zero pushes one for joiners). Tokens are
 * hints, capped at 64: a waiter woken by a stale token re-checks and waits
 * again, and waits in slices of at most a second so that a hint lost to a
 * crash only delays it.
 *
 * put, task_done, close and the non-blocking part of get are Lua scripts,
 * atomic in Redis: a put either lands whole before the close or fails with
 * MT_ECLOSED; the close marker sits behind every message put before it, so
 * gets drain them, then each get that meets the marker puts it back for the
 * next getter and returns MT_ECLOSED. A blocking get is BLPOP.
 */
#include <stdlib.h>
#include <string.h>

#include "remote/remote_internal.h"

#define SLICE 1.0          /* longest single BLPOP: see above */
#define TOKENS "63"        /* LTRIM bound of the wake-up lists */

struct mt_rqueue {
  mt__rlink_t link;
  size_t maxitems;
  char max[24];
  char *k_items, *k_unf, *k_closed, *k_space, *k_joined;
};

static mt__rscript_t s_put = MT__RSCRIPT(
    "if redis.call('EXISTS', KEYS[3]) == 1 then return -1 end\n"
    "local max = tonumber(ARGV[1])\n"
    "if max > 0 and redis.call('LLEN', KEYS[1]) >= max then return -2 end\n"
    "redis.call('RPUSH', KEYS[1], ARGV[2])\n"
    "redis.call('INCR', KEYS[2])\n"
    "return 0\n");

/* KEYS items, space; ARGV bounded(0/1). Returns the element or nil. */
static mt__rscript_t s_get = MT__RSCRIPT(
    "local v = redis.call('LPOP', KEYS[1])\n"
    "if not v then return false end\n"
    "if v == 'c' then redis.call('RPUSH', KEYS[1], 'c') return v end\n"
    "if ARGV[1] == '1' then\n"
    "  redis.call('RPUSH', KEYS[2], '1') redis.call('LTRIM', KEYS[2], 0, " TOKENS ")\n"
    "end\n"
    "return v\n");

static mt__rscript_t s_done = MT__RSCRIPT(
    "local u = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "if u <= 0 then return -1 end\n"
    "if redis.call('DECR', KEYS[1]) == 0 then\n"
    "  redis.call('RPUSH', KEYS[2], '1') redis.call('LTRIM', KEYS[2], 0, " TOKENS ")\n"
    "end\n"
    "return 0\n");

static mt__rscript_t s_close = MT__RSCRIPT(
    "if redis.call('SETNX', KEYS[2], '1') == 1 then redis.call('RPUSH', KEYS[1], 'c') end\n"
    "return 0\n");

static mt__rscript_t s_size = MT__RSCRIPT(
    "local n = redis.call('LLEN', KEYS[1])\n"
    "if n > 0 and redis.call('EXISTS', KEYS[2]) == 1 and redis.call('LPOS', KEYS[1], 'c') then n = n - 1 end\n"
    "return n\n");

static mt__rscript_t s_hint = MT__RSCRIPT(
    "redis.call('RPUSH', KEYS[1], '1') redis.call('LTRIM', KEYS[1], 0, " TOKENS ") return 0\n");

static char *key(const char *name, const char *what) {
  size_t n = strlen(name) + strlen(what) + 16;
  char *k = mt__malloc(n);
  if (k) snprintf(k, n, "mt:q:{%s}:%s", name, what);
  return k;
}

MT_API mt_rqueue_t *mt_rqueue_open(const char *url, const char *name, size_t maxitems) {
  if (!mt__rname_ok(name)) {
    mt__set_last_error(MT_EINVAL);
    return NULL;
  }
  mt_rqueue_t *q = mt__calloc(1, sizeof *q);
  if (!q) {
    mt__set_last_error(MT_ENOMEM);
    return NULL;
  }
  int r = mt__rlink_init(&q->link, url, 0);
  if (r) {
    mt__free(q);
    mt__set_last_error(r);
    return NULL;
  }
  q->maxitems = maxitems;
  snprintf(q->max, sizeof q->max, "%zu", maxitems);
  q->k_items = key(name, "items");
  q->k_unf = key(name, "unfinished");
  q->k_closed = key(name, "closed");
  q->k_space = key(name, "space");
  q->k_joined = key(name, "joined");
  r = (q->k_items && q->k_unf && q->k_closed && q->k_space && q->k_joined) ? 0 : MT_ENOMEM;
  if (!r) {                                    /* check the URL now: connect once */
    mt__rconn_t *c;
    r = mt__rlink_take(&q->link, 0, &c);
    mt__rlink_give(&q->link, c);
  }
  if (r) {
    mt_rqueue_free(q);
    mt__set_last_error(r);
    return NULL;
  }
  mt__set_last_error(0);
  return q;
}

MT_API void mt_rqueue_set_io_timeout(mt_rqueue_t *q, double seconds) {
  q->link.io_timeout = seconds > 0 ? seconds : MT__R_DEFAULT_IO;
}

MT_API void mt_rqueue_free(mt_rqueue_t *q) {
  if (!q) return;
  mt__rlink_destroy(&q->link);
  mt__free(q->k_items);
  mt__free(q->k_unf);
  mt__free(q->k_closed);
  mt__free(q->k_space);
  mt__free(q->k_joined);
  mt__free(q);
}

/* Runs a script on a connection of our own; *out as mt__rcmd. */
static int run(mt_rqueue_t *q, mt__rscript_t *s, int64_t deadline, redisReply **out, int nkeys,
               int argc, const char **argv, const size_t *lens) {
  double wait = mt__rlink_wait(&q->link, deadline);
  mt__rconn_t *c;
  int r = mt__rlink_take(&q->link, wait, &c);
  if (r) return r;
  r = mt__rscript(c, s, wait, out, nkeys, argc, argv, lens);
  mt__rlink_give(&q->link, c);
  return r;
}

/* Called as int_reply(run(..., &rep, ...), &rep, &v): rep is read only after run set it. */
static int int_reply(int r, redisReply **prep, long long *v) {
  redisReply *rep = *prep;
  if (!r && rep->type != REDIS_REPLY_INTEGER) r = MT_EIO;
  if (!r) *v = rep->integer;
  if (rep) freeReplyObject(rep);
  return r;
}

static void hint(mt_rqueue_t *q, const char *list) {
  redisReply *rep;
  run(q, &s_hint, MT__NEVER, &rep, 1, 1, &list, NULL);
  if (rep) freeReplyObject(rep);
}

/* BLPOP `list` for up to `t` seconds (t > 0). 0 (something came, *out set:
 * the caller frees it), MT_ETIMEDOUT (nothing), or a connection error. */
static int blpop(mt_rqueue_t *q, const char *list, double t, redisReply **out) {
  *out = NULL;
  char ts[32];
  snprintf(ts, sizeof ts, "%.3f", t < 0.001 ? 0.001 : t);
  const char *argv[3] = { "BLPOP", list, ts };
  double wait = t + q->link.io_timeout;
  mt__rconn_t *c;
  int r = mt__rlink_take(&q->link, q->link.io_timeout, &c);
  if (r) return r;
  r = mt__rcmd(c, wait, out, 3, argv, NULL);
  mt__rlink_give(&q->link, c);
  if (r) {
    if (*out) freeReplyObject(*out);
    *out = NULL;
    return r;
  }
  if ((*out)->type == REDIS_REPLY_NIL) {
    freeReplyObject(*out);
    *out = NULL;
    return MT_ETIMEDOUT;
  }
  if ((*out)->type != REDIS_REPLY_ARRAY || (*out)->elements != 2) {
    freeReplyObject(*out);
    *out = NULL;
    return MT_EIO;
  }
  return 0;
}

/* The longest slice to block for before re-checking: 0 if the deadline has passed. */
static double slice_left(int64_t deadline) {
  if (deadline == MT__NEVER) return SLICE;
  double left = mt__remaining(deadline);
  return left > SLICE ? SLICE : left;
}

MT_API int mt_rqueue_put(mt_rqueue_t *q, const void *buf, size_t len, double timeout) {
  if (len >= MT__R_MAX_MSG) return MT_EMSGSIZE;
  if (len && !buf) return MT_EINVAL;
  int64_t deadline = mt__deadline(timeout);
  char *msg = mt__malloc(len + 1);
  if (!msg) return MT_ENOMEM;
  msg[0] = 'm';
  if (len) memcpy(msg + 1, buf, len);
  const char *argv[5] = { q->k_items, q->k_unf, q->k_closed, q->max, msg };
  size_t lens[5] = { strlen(argv[0]), strlen(argv[1]), strlen(argv[2]), strlen(argv[3]), len + 1 };
  int r;
  for (;;) {
    redisReply *rep;
    long long v = 0;
    r = int_reply(run(q, &s_put, deadline, &rep, 3, 5, argv, lens), &rep, &v);
    if (r) break;
    if (v == -1) { r = MT_ECLOSED; break; }
    if (v == 0) break;
    double t = slice_left(deadline);           /* full: wait for a get's token */
    if (t <= 0) { r = MT_EFULL; break; }
    r = blpop(q, q->k_space, t, &rep);
    if (rep) freeReplyObject(rep);
    if (r && r != MT_ETIMEDOUT) break;
  }
  mt__free(msg);
  return r;
}

/* An element taken from the list: 'm'+message, or the close marker. */
static int take_element(const char *s, size_t n, void **buf, size_t *len) {
  if (n == 1 && s[0] == 'c') return MT_ECLOSED;
  if (n < 1 || s[0] != 'm') return MT_EIO;
  *len = n - 1;
  *buf = NULL;
  if (n > 1) {
    *buf = malloc(n - 1);                      /* the caller frees it with free() */
    if (!*buf) return MT_ENOMEM;
    memcpy(*buf, s + 1, n - 1);
  }
  return 0;
}

MT_API int mt_rqueue_get(mt_rqueue_t *q, void **buf, size_t *len, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  const char *argv[3] = { q->k_items, q->k_space, q->maxitems ? "1" : "0" };
  for (;;) {
    redisReply *rep;
    int r = run(q, &s_get, deadline, &rep, 2, 3, argv, NULL);
    if (r) {
      if (rep) freeReplyObject(rep);
      return r;
    }
    if (rep->type == REDIS_REPLY_STRING) {
      r = take_element(rep->str, rep->len, buf, len);
      freeReplyObject(rep);
      return r;
    }
    freeReplyObject(rep);
    double t = slice_left(deadline);
    if (t <= 0) return MT_EEMPTY;
    r = blpop(q, q->k_items, t, &rep);
    if (r == MT_ETIMEDOUT) continue;           /* re-check, maybe give up */
    if (r) return r;
    redisReply *el = rep->element[1];
    if (el->len == 1 && el->str[0] == 'c') {   /* put the marker back for the next getter */
      const char *pv[3] = { "RPUSH", q->k_items, "c" };
      redisReply *pr;
      int e = mt__rlink_cmd(&q->link, MT__NEVER, &pr, 3, pv, NULL);
      if (pr) freeReplyObject(pr);
      freeReplyObject(rep);
      return e ? e : MT_ECLOSED;
    }
    r = take_element(el->str, el->len, buf, len);
    freeReplyObject(rep);
    if (q->maxitems) hint(q, q->k_space);      /* for a putter waiting for room */
    return r;
  }
}

MT_API long mt_rqueue_size(mt_rqueue_t *q) {
  const char *argv[2] = { q->k_items, q->k_closed };
  redisReply *rep;
  long long v = 0;
  int r = int_reply(run(q, &s_size, MT__NEVER, &rep, 2, 2, argv, NULL), &rep, &v);
  return r ? r : (long)v;
}

MT_API int mt_rqueue_task_done(mt_rqueue_t *q) {
  const char *argv[2] = { q->k_unf, q->k_joined };
  redisReply *rep;
  long long v = 0;
  int r = int_reply(run(q, &s_done, MT__NEVER, &rep, 2, 2, argv, NULL), &rep, &v);
  return r ? r : v < 0 ? MT_EINVAL : 0;
}

MT_API int mt_rqueue_join(mt_rqueue_t *q, double timeout) {
  int64_t deadline = mt__deadline(timeout);
  for (;;) {
    const char *argv[2] = { "GET", q->k_unf };
    redisReply *rep;
    int r = mt__rlink_cmd(&q->link, deadline, &rep, 2, argv, NULL);
    if (r) {
      if (rep) freeReplyObject(rep);
      return r;
    }
    bool zero = rep->type == REDIS_REPLY_NIL || (rep->type == REDIS_REPLY_STRING && atoll(rep->str) <= 0);
    freeReplyObject(rep);
    if (zero) {
      hint(q, q->k_joined);                    /* pass the wake-up on to other joiners */
      return 0;
    }
    double t = slice_left(deadline);
    if (t <= 0) return MT_ETIMEDOUT;
    r = blpop(q, q->k_joined, t, &rep);
    if (rep) freeReplyObject(rep);
    if (r && r != MT_ETIMEDOUT) return r;
  }
}

MT_API int mt_rqueue_close(mt_rqueue_t *q) {
  const char *argv[2] = { q->k_items, q->k_closed };
  redisReply *rep;
  long long v;
  return int_reply(run(q, &s_close, MT__NEVER, &rep, 2, 2, argv, NULL), &rep, &v);
}

MT_API int mt_rqueue_unlink(mt_rqueue_t *q) {
  const char *argv[6] = { "DEL", q->k_items, q->k_unf, q->k_closed, q->k_space, q->k_joined };
  redisReply *rep;
  int r = mt__rlink_cmd(&q->link, MT__NEVER, &rep, 6, argv, NULL);
  if (rep) freeReplyObject(rep);
  return r;
}
