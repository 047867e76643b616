/* rworker.c — the worker side of the remote pool.
 *
 * mt_rworker_run runs two threads over one local mt_procpool:
 *  - the reader (the caller of run) takes tasks: XREADGROUP ... COUNT k
 *    BLOCK, k being the room left under nprocs * prefetch tasks in hand, and
 *    now and then the reclaim script (tasks of dead or silent workers, see
 *    below); each task goes to the procpool with its attempt number.
 *  - the acker ("mt-rworker") stores results and acknowledges: every
 *    finished task in hand goes into one ack script per batch (pipelined),
 *    which — for each task still claimed by this worker — SETs its result
 *    with its TTL, pushes its seq on the submitter's done list, XACKs and
 *    XDELs it, atomically. A task whose claim another worker took meanwhile
 *    is skipped: its late result is never applied. The acker also refreshes
 *    the heartbeat key and the claims of the tasks still running (XCLAIM
 *    JUSTID of the ones still ours, by script) every third of the heartbeat
 *    TTL / visibility timeout.
 * A task whose process died (the procpool reports MT_EBROKEN) is not
 * acknowledged and no longer kept alive: after visibility_timeout it is
 * reclaimed (by this or another worker) as its next delivery, until
 * max_deliveries, when the reclaim script moves it to the dead-letter
 * stream and stores MT_EBROKEN as its result. Reclaiming is XAUTOCLAIM of
 * entries idle past the visibility timeout, plus XCLAIM of entries held by
 * consumers whose heartbeat key has expired; consumers without heartbeat
 * and without pending tasks are then removed from the group.
 *
 * `lock` (with `cond`) guards the two job lists (running, finished) and
 * `inhand`; nobody holds it across network I/O or procpool calls. The done
 * callbacks run in the procpool's manager thread and only move a job from
 * one list to the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mt/thread.h"
#include "remote/remote_internal.h"
#include "remote/rkeys.h"

#define ACK_BATCH 256

typedef struct job {
  struct job *next, *prev;
  mt_future_t *f;                /* procpool future; NULL: answered without running */
  int code;
  unsigned attempt;
  char *payload;                 /* the encoded result, once made (kept across ack retries) */
  size_t plen;
  char id[48], client[40], seq[24], ttl[24];
} job_t;

typedef struct { char *name; mt_ptask_fn fn; } task_t;

struct mt_rworker {
  mt__rlink_t link;
  mt_rworker_opts_t opts;
  char *name, *prefix, *k_stream, *k_dead, *k_hb;
  char vt_ms[24], hb_ms[24], max[16];
  task_t *tasks;
  size_t ntasks;
  uint32_t stop, running;
  /* during run */
  mt_procpool_t *pp;
  mt_lock_t lock;
  mt_cond_t cond;
  job_t running_l, finished_l;   /* list heads */
  size_t inhand, cap;
  bool quit;                     /* the reader is done: the acker drains and leaves */
};

static unsigned cur_attempt;     /* in a worker process: the task's delivery number */

MT_API unsigned mt_rworker_attempt(void) { return cur_attempt; }

typedef struct { mt_rworker_t *w; uint32_t idx, attempt; } wrap_hdr_t;

/* Runs in a procpool process: unwraps the header and calls the task. */
static int wrapped_task(const void *in, size_t inlen, void **out, size_t *outlen) {
  wrap_hdr_t h;
  if (inlen < sizeof h) return MT_EINVAL;
  memcpy(&h, in, sizeof h);
  cur_attempt = h.attempt;
  int r = h.w->tasks[h.idx].fn((const char *)in + sizeof h, inlen - sizeof h, out, outlen);
  cur_attempt = 0;
  return r;
}

/* ---- lists ---------------------------------------------------------------------- */
static void l_init(job_t *h) { h->next = h->prev = h; }
static bool l_empty(const job_t *h) { return h->next == h; }
static void l_del(job_t *j) {
  j->prev->next = j->next;
  j->next->prev = j->prev;
}
static void l_add(job_t *h, job_t *j) {   /* at the tail */
  j->prev = h->prev;
  j->next = h;
  h->prev->next = j;
  h->prev = j;
}

static void job_done_cb(mt_future_t *f, void *ud) {
  job_t *j = ud;
  (void)f;
  mt_rworker_t *w = *(mt_rworker_t **)(j + 1);   /* job_new stores it behind the job */
  mt_cond_acquire(&w->cond, MT_FOREVER);
  l_del(j);
  l_add(&w->finished_l, j);
  mt_cond_notify_all(&w->cond);
  mt_cond_release(&w->cond);
}

static job_t *job_new(mt_rworker_t *w) {
  job_t *j = mt__calloc(1, sizeof *j + sizeof w);
  if (j) *(mt_rworker_t **)(j + 1) = w;
  return j;
}

static void job_free(job_t *j) {
  if (j->f) mt_future_release(j->f);
  mt__free(j->payload);
  mt__free(j);
}

/* ---- scripts ------------------------------------------------------------------------ */
/* KEYS stream; ARGV group, me, prefix, then (id, client, seq, ttl, payload)*. */
static mt__rscript_t s_ack = MT__RSCRIPT(
    "local ids, lists = {}, {}\n"
    "for i = 4, #ARGV, 5 do\n"
    "  local id = ARGV[i]\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1)\n"
    "  if #p == 1 and p[1][2] == ARGV[2] then\n"
    "    local ttl = tonumber(ARGV[i + 3])\n"
    "    redis.call('SET', ARGV[3] .. 'r:' .. ARGV[i + 1] .. ':' .. ARGV[i + 2], ARGV[i + 4], 'PX', ttl)\n"
    "    local dk = ARGV[3] .. 'd:' .. ARGV[i + 1]\n"
    "    local l = lists[dk]\n"
    "    if not l then l = { ttl = ttl } lists[dk] = l end\n"
    "    if ttl > l.ttl then l.ttl = ttl end\n"
    "    l[#l + 1] = ARGV[i + 2]\n"
    "    ids[#ids + 1] = id\n"
    "  end\n"
    "end\n"
    "for dk, l in pairs(lists) do\n"
    "  redis.call('RPUSH', dk, unpack(l))\n"
    "  redis.call('PEXPIRE', dk, l.ttl)\n"
    "end\n"
    "if #ids > 0 then\n"
    "  redis.call('XACK', KEYS[1], ARGV[1], unpack(ids))\n"
    "  redis.call('XDEL', KEYS[1], unpack(ids))\n"
    "end\n"
    "return #ids\n");

/* KEYS stream, heartbeat; ARGV group, me, hb_ms, ids... Refreshes the
 * heartbeat and the claims still ours; returns the ids no longer ours. */
static mt__rscript_t s_keep = MT__RSCRIPT(
    "redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])\n"
    "local lost = {}\n"
    "for i = 4, #ARGV do\n"
    "  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)\n"
    "  if #p == 1 and p[1][2] == ARGV[2] then\n"
    "    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')\n"
    "  else lost[#lost + 1] = ARGV[i] end\n"
    "end\n"
    "return lost\n");

/* KEYS stream, dead; ARGV group, me, vt_ms, count, max_deliveries, prefix,
 * hb_ms, broken-result. Claims tasks idle past the visibility timeout and
 * tasks of consumers without a heartbeat; dead-letters the ones delivered
 * too often; returns the rest as { {id, fields, deliveries}, ... }. */
static mt__rscript_t s_reclaim = MT__RSCRIPT(
    "local g, me, prefix = ARGV[1], ARGV[2], ARGV[6]\n"
    "local count, max = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
    "local out = {}\n"
    "local function handle(id, fields, n)\n"
    "  if n <= max then out[#out + 1] = { id, fields, n } return end\n"
    "  local f = {}\n"
    "  for i = 1, #fields, 2 do f[fields[i]] = fields[i + 1] end\n"
    "  redis.call('XADD', KEYS[2], '*', 'id', id, 't', f.t or '', 'c', f.c or '', 's', f.s or '',\n"
    "             'd', f.d or '', 'deliveries', tostring(n - 1))\n"
    "  if f.c and f.s then\n"
    "    local ttl = tonumber(f.x) or 3600000\n"
    "    redis.call('SET', prefix .. 'r:' .. f.c .. ':' .. f.s, ARGV[8], 'PX', ttl)\n"
    "    redis.call('RPUSH', prefix .. 'd:' .. f.c, f.s)\n"
    "    redis.call('PEXPIRE', prefix .. 'd:' .. f.c, ttl)\n"
    "  end\n"
    "  redis.call('XACK', KEYS[1], g, id)\n"
    "  redis.call('XDEL', KEYS[1], id)\n"
    "end\n"
    "local r = redis.call('XAUTOCLAIM', KEYS[1], g, me, ARGV[3], '0-0', 'COUNT', count)\n"
    "for _, e in ipairs(r[2]) do\n"
    "  if e and e[2] then\n"
    "    local p = redis.call('XPENDING', KEYS[1], g, e[1], e[1], 1)\n"
    "    if #p == 1 then handle(e[1], e[2], p[1][4]) end\n"
    "  end\n"
    "end\n"
    "local pend = redis.call('XPENDING', KEYS[1], g, 'IDLE', ARGV[7], '-', '+', count * 4)\n"
    "local alive = {}\n"
    "for _, p in ipairs(pend) do\n"
    "  if #out >= count then break end\n"
    "  local who = p[2]\n"
    "  if who ~= me then\n"
    "    if alive[who] == nil then alive[who] = redis.call('EXISTS', prefix .. 'hb:' .. who) == 1 end\n"
    "    if not alive[who] then\n"
    "      local c = redis.call('XCLAIM', KEYS[1], g, me, ARGV[7], p[1])\n"
    "      if #c == 1 and c[1] and c[1][2] then handle(c[1][1], c[1][2], p[4] + 1) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local ok, cs = pcall(redis.call, 'XINFO', 'CONSUMERS', KEYS[1], g)\n"
    "if ok then\n"
    "  for _, c in ipairs(cs) do\n"
    "    local info = {}\n"
    "    for i = 1, #c, 2 do info[c[i]] = c[i + 1] end\n"
    "    if info.name ~= me and info.pending == 0 and\n"
    "       redis.call('EXISTS', prefix .. 'hb:' .. info.name) == 0 then\n"
    "      redis.call('XGROUP', 'DELCONSUMER', KEYS[1], g, info.name)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n");

/* ---- taking tasks ------------------------------------------------------------------ */
static const redisReply *field(const redisReply *fields, const char *name) {
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    const redisReply *k = fields->element[i];
    if (k->type == REDIS_REPLY_STRING && !strcmp(k->str, name)) return fields->element[i + 1];
  }
  return NULL;
}

static void copy_field(char *dst, size_t cap, const redisReply *v) {
  dst[0] = 0;
  if (v && v->type == REDIS_REPLY_STRING && v->len < cap) memcpy(dst, v->str, v->len + 1);
}

/* Hands one delivered entry to the procpool (or answers it at once). */
static void dispatch(mt_rworker_t *w, const redisReply *id, const redisReply *fields, unsigned attempt) {
  if (id->type != REDIS_REPLY_STRING || id->len >= 48 || !fields ||
      fields->type != REDIS_REPLY_ARRAY)
    return;                                      /* not ours to read: left to be reclaimed */
  job_t *j = job_new(w);
  if (!j) return;                                /* no memory: reclaimed later */
  memcpy(j->id, id->str, id->len + 1);
  copy_field(j->client, sizeof j->client, field(fields, "c"));
  copy_field(j->seq, sizeof j->seq, field(fields, "s"));
  copy_field(j->ttl, sizeof j->ttl, field(fields, "x"));
  if (!j->ttl[0]) strcpy(j->ttl, "3600000");
  j->attempt = attempt;
  const redisReply *t = field(fields, "t"), *d = field(fields, "d");
  size_t idx = w->ntasks;
  if (t && t->type == REDIS_REPLY_STRING)
    for (idx = 0; idx < w->ntasks && strcmp(w->tasks[idx].name, t->str); idx++) {}
  mt_cond_acquire(&w->cond, MT_FOREVER);
  w->inhand++;
  l_add(&w->running_l, j);
  mt_cond_release(&w->cond);
  if (idx == w->ntasks || !j->client[0] || !j->seq[0]) {
    j->code = MT_ENOSYS;                         /* no such task here */
    job_done_cb(NULL, j);
    return;
  }
  size_t dl = d && d->type == REDIS_REPLY_STRING ? d->len : 0;
  unsigned char *buf = mt__malloc(sizeof(wrap_hdr_t) + dl);
  if (buf) {
    wrap_hdr_t h = { w, (uint32_t)idx, attempt };
    memcpy(buf, &h, sizeof h);
    if (dl) memcpy(buf + sizeof h, d->str, dl);
    j->f = mt_procpool_submit(w->pp, wrapped_task, buf, sizeof h + dl);
    mt__free(buf);
  }
  if (!j->f || mt_future_add_done_callback(j->f, job_done_cb, j)) {
    j->code = MT_EBROKEN;                        /* could not run it here: leave it for later */
    if (j->f) mt_future_release(j->f);
    j->f = NULL;
    job_done_cb(NULL, j);
  }
}

static int read_batch(mt_rworker_t *w, mt__rconn_t *c, size_t room) {
  char count[24];
  snprintf(count, sizeof count, "%zu", room);
  const char *argv[10] = { "XREADGROUP", "GROUP", MT__R_GROUP, w->name, "COUNT", count,
                           "BLOCK", "100", "STREAMS", w->k_stream };
  const char *all[11];
  memcpy(all, argv, sizeof argv);
  all[10] = ">";
  redisReply *rep;
  int e = mt__rcmd(c, 0.1 + w->opts.io_timeout, &rep, 11, all, NULL);
  if (e == MT_EIO && mt__rerr_is(rep, "NOGROUP")) {    /* Redis lost the group, or fresh one */
    freeReplyObject(rep);
    const char *cv[6] = MT__R_CREATE_GROUP(w->k_stream);
    e = mt__rcmd(c, w->opts.io_timeout, &rep, 6, cv, NULL);
    if (e == MT_EIO && mt__rerr_is(rep, "BUSYGROUP")) e = 0;
    if (rep) freeReplyObject(rep);
    return e;
  }
  if (!e && rep->type == REDIS_REPLY_ARRAY) {
    for (size_t s = 0; s < rep->elements; s++) {
      redisReply *st = rep->element[s];
      if (st->type != REDIS_REPLY_ARRAY || st->elements != 2) continue;
      redisReply *ents = st->element[1];
      for (size_t i = 0; ents->type == REDIS_REPLY_ARRAY && i < ents->elements; i++) {
        redisReply *en = ents->element[i];
        if (en->type == REDIS_REPLY_ARRAY && en->elements == 2)
          dispatch(w, en->element[0], en->element[1], 1);
      }
    }
  }
  if (rep) freeReplyObject(rep);
  return e;
}

static int reclaim(mt_rworker_t *w, mt__rconn_t *c, size_t room) {
  char count[24];
  snprintf(count, sizeof count, "%zu", room > 1000 ? 1000 : room);
  char broken[4];
  uint32_t u = (uint32_t)MT_EBROKEN;
  for (int i = 0; i < 4; i++) broken[i] = (char)(u >> (8 * i));
  const char *argv[10] = { w->k_stream, w->k_dead, MT__R_GROUP, w->name, w->vt_ms, count,
                           w->max, w->prefix, w->hb_ms, broken };
  size_t lens[10];
  for (int i = 0; i < 9; i++) lens[i] = strlen(argv[i]);
  lens[9] = 4;
  redisReply *rep;
  int e = mt__rscript(c, &s_reclaim, w->opts.io_timeout, &rep, 2, 10, argv, lens);
  if (!e && rep->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < rep->elements; i++) {
      redisReply *t = rep->element[i];
      if (t->type == REDIS_REPLY_ARRAY && t->elements == 3 && t->element[2]->type == REDIS_REPLY_INTEGER)
        dispatch(w, t->element[0], t->element[1], (unsigned)t->element[2]->integer);
    }
  }
  if (e == MT_EIO && mt__rerr_is(rep, "NOGROUP")) e = 0;   /* the reader recreates it */
  if (rep) freeReplyObject(rep);
  return e;
}

/* ---- the acker ------------------------------------------------------------------------ */
/* [int32 code LE][bytes], made once per job: the procpool's result buffer
 * is freed as soon as it is encoded. */
static int encode_result(job_t *j) {
  if (j->payload) return 0;
  mt_buf_t *res = NULL;
  int code = j->code;
  if (j->f) code = mt_future_result(j->f, 0, (void **)&res);
  size_t n = res ? res->len : 0;
  char *p = mt__malloc(4 + n);
  if (!p) return MT_ENOMEM;                      /* res stays with the future: retried */
  uint32_t u = (uint32_t)code;
  for (int i = 0; i < 4; i++) p[i] = (char)(u >> (8 * i));
  if (n) memcpy(p + 4, res->data, n);
  free(res);
  j->payload = p;
  j->plen = 4 + n;
  return 0;
}

/* Stores and acknowledges up to ACK_BATCH finished jobs in one script.
 * 0 (the jobs can be freed) or a connection error (keep them, retry). */
static int ack_batch(mt_rworker_t *w, mt__rconn_t *c, job_t **jobs, size_t n) {
  size_t argc = 4 + 5 * n;
  const char **argv = mt__malloc(sizeof *argv * argc);
  size_t *lens = mt__malloc(sizeof *lens * argc);
  int e = (argv && lens) ? 0 : MT_ENOMEM;
  for (size_t i = 0; !e && i < n; i++) {
    if ((e = encode_result(jobs[i]))) break;
    const char **a = argv + 4 + 5 * i;
    size_t *l = lens + 4 + 5 * i;
    a[0] = jobs[i]->id; a[1] = jobs[i]->client; a[2] = jobs[i]->seq; a[3] = jobs[i]->ttl;
    a[4] = jobs[i]->payload;
    for (int k = 0; k < 4; k++) l[k] = strlen(a[k]);
    l[4] = jobs[i]->plen;
  }
  if (!e) {
    argv[0] = w->k_stream; argv[1] = MT__R_GROUP; argv[2] = w->name; argv[3] = w->prefix;
    for (int k = 0; k < 4; k++) lens[k] = strlen(argv[k]);
    redisReply *rep;
    e = mt__rscript(c, &s_ack, w->opts.io_timeout, &rep, 1, (int)argc, argv, lens);
    if (rep) freeReplyObject(rep);
  }
  mt__free(argv);
  mt__free(lens);
  return e;
}

static int keep_alive(mt_rworker_t *w, mt__rconn_t *c) {
  mt_cond_acquire(&w->cond, MT_FOREVER);
  size_t n = 0;
  for (job_t *j = w->running_l.next; j != &w->running_l; j = j->next) n++;
  const char **argv = mt__malloc(sizeof *argv * (n + 5));
  char (*ids)[48] = n ? mt__malloc(48 * n) : NULL;
  if (!argv || (n && !ids)) {
    mt_cond_release(&w->cond);
    mt__free(argv);
    mt__free(ids);
    return MT_ENOMEM;
  }
  size_t i = 0;
  for (job_t *j = w->running_l.next; j != &w->running_l; j = j->next) memcpy(ids[i++], j->id, 48);
  mt_cond_release(&w->cond);
  argv[0] = w->k_stream; argv[1] = w->k_hb; argv[2] = MT__R_GROUP; argv[3] = w->name; argv[4] = w->hb_ms;
  for (i = 0; i < n; i++) argv[5 + i] = ids[i];
  redisReply *rep;
  int e = mt__rscript(c, &s_keep, w->opts.io_timeout, &rep, 2, (int)(n + 5), argv, NULL);
  if (e == MT_EIO && mt__rerr_is(rep, "NOGROUP")) e = 0;
  if (rep) freeReplyObject(rep);
  mt__free(argv);
  mt__free(ids);
  return e;
}

static double keep_every(const mt_rworker_t *w) {
  double t = w->opts.visibility_timeout < w->opts.heartbeat_ttl ? w->opts.visibility_timeout
                                                                : w->opts.heartbeat_ttl;
  return t / 3;
}

static void *acker(void *arg) {
  mt_rworker_t *w = arg;
  mt__rconn_t *c = NULL;
  int64_t next_keep = 0;
  int64_t give_up = MT__NEVER;         /* quitting with Redis away: when to stop trying */
  double backoff = 0.05;
  mt_cond_acquire(&w->cond, MT_FOREVER);
  for (;;) {
    if (w->quit && l_empty(&w->finished_l) && l_empty(&w->running_l)) break;
    int64_t now = mt__now_ns();
    if (l_empty(&w->finished_l) && now < next_keep) {
      mt_cond_wait(&w->cond, (double)(next_keep - now) / 1e9);
      continue;
    }
    job_t *batch[ACK_BATCH];
    size_t n = 0;
    while (n < ACK_BATCH && !l_empty(&w->finished_l)) {
      job_t *j = w->finished_l.next;
      l_del(j);
      batch[n++] = j;
    }
    bool quitting = w->quit;
    mt_cond_release(&w->cond);
    /* A task whose process died is not acknowledged: it will be reclaimed. */
    size_t k = 0, dropped = 0;
    for (size_t i = 0; i < n; i++) {
      if (batch[i]->code == MT_EBROKEN ||
          (batch[i]->f && mt_future_result(batch[i]->f, 0, NULL) == MT_EBROKEN)) {
        job_free(batch[i]);
        dropped++;
      } else {
        batch[k++] = batch[i];
      }
    }
    int e = 0;
    if (!c) e = mt__rlink_take(&w->link, 0, &c);
    if (!e && k) e = ack_batch(w, c, batch, k);
    if (!e && mt__now_ns() >= next_keep) {
      e = keep_alive(w, c);
      if (!e) next_keep = mt__now_ns() + (int64_t)(keep_every(w) * 1e9);
    }
    if (e && c && mt__rconn_failed(c)) {
      mt__rlink_give(&w->link, c);
      c = NULL;
    }
    mt_cond_acquire(&w->cond, MT_FOREVER);
    if (e && k) {                      /* keep them for the next try, in order */
      for (size_t i = k; i-- > 0;) {
        batch[i]->next = w->finished_l.next;
        batch[i]->prev = &w->finished_l;
        w->finished_l.next->prev = batch[i];
        w->finished_l.next = batch[i];
      }
      k = 0;
    }
    w->inhand -= k + dropped;
    mt_cond_notify_all(&w->cond);
    mt_cond_release(&w->cond);
    for (size_t i = 0; i < k; i++) job_free(batch[i]);
    if (e) {
      now = mt__now_ns();
      if (quitting && give_up == MT__NEVER) give_up = now + (int64_t)(2 * w->opts.io_timeout * 1e9);
      if (quitting && now >= give_up) {
        mt_cond_acquire(&w->cond, MT_FOREVER);
        break;
      }
      int64_t until = now + (int64_t)(backoff * 1e9);
      backoff = backoff * 2 > 1 ? 1 : backoff * 2;
      while (mt__now_ns() < until) mt_sleep(0.01);
    } else {
      backoff = 0.05;
      give_up = MT__NEVER;
    }
    mt_cond_acquire(&w->cond, MT_FOREVER);
  }
  /* Whatever is left was not acknowledged: it will be delivered again. */
  while (!l_empty(&w->finished_l)) {
    job_t *j = w->finished_l.next;
    l_del(j);
    job_free(j);
  }
  mt_cond_release(&w->cond);
  if (c) {
    const char *argv[2] = { "DEL", w->k_hb };
    redisReply *rep;
    if (!mt__rcmd(c, w->opts.io_timeout, &rep, 2, argv, NULL) || rep) freeReplyObject(rep);
  }
  mt__rlink_give(&w->link, c);
  return NULL;
}

/* ---- life cycle -------------------------------------------------------------------------- */
static char *catkey(const char *a, const char *b, const char *c2) {
  size_t n = strlen(a) + strlen(b) + strlen(c2) + 1;
  char *k = mt__malloc(n);
  if (k) snprintf(k, n, "%s%s%s", a, b, c2);
  return k;
}

MT_API mt_rworker_t *mt_rworker_new(const char *url, const char *pool, const mt_rworker_opts_t *opts) {
  int e = MT_EINVAL;
  mt_rworker_t *w = NULL;
  if (!mt__rname_ok(pool) || (opts && opts->name && !mt__rname_ok(opts->name))) goto fail;
  e = MT_ENOMEM;
  if (!(w = mt__calloc(1, sizeof *w))) goto fail;
  if (opts) w->opts = *opts;
  if (w->opts.io_timeout <= 0) w->opts.io_timeout = MT__R_DEFAULT_IO;
  if (w->opts.visibility_timeout <= 0) w->opts.visibility_timeout = 30;
  if (w->opts.heartbeat_ttl <= 0) w->opts.heartbeat_ttl = 10;
  if (w->opts.max_deliveries == 0) w->opts.max_deliveries = 5;
  if (w->opts.prefetch == 0) w->opts.prefetch = 64;
  if ((e = mt__rlink_init(&w->link, url, w->opts.io_timeout))) {
    mt__free(w);
    w = NULL;
    goto fail;
  }
  e = MT_ENOMEM;
  char name[MT__R_NAME_MAX + 1];
  if (w->opts.name) {
    snprintf(name, sizeof name, "%s", w->opts.name);
  } else {
    char host[64] = "host", rnd[13];
    gethostname(host, sizeof host - 1);
    for (char *h = host; *h; h++)
      if (!mt__rname_ok((char[2]){ *h, 0 })) *h = '_';
    mt__rrandom_hex(rnd, 6);
    snprintf(name, sizeof name, "%s-%d-%s", host, (int)getpid(), rnd);
  }
  w->opts.name = NULL;
  w->name = mt__strdup(name);
  w->prefix = catkey("mt:{", pool, "}:");
  if (!w->name || !w->prefix) goto fail;
  w->k_stream = catkey(w->prefix, "tasks", "");
  w->k_dead = catkey(w->prefix, "dead", "");
  w->k_hb = catkey(w->prefix, "hb:", w->name);
  if (!w->k_stream || !w->k_dead || !w->k_hb) goto fail;
  snprintf(w->vt_ms, sizeof w->vt_ms, "%lld", (long long)(w->opts.visibility_timeout * 1000));
  snprintf(w->hb_ms, sizeof w->hb_ms, "%lld", (long long)(w->opts.heartbeat_ttl * 1000));
  snprintf(w->max, sizeof w->max, "%u", w->opts.max_deliveries);
  mt__set_last_error(0);
  return w;
fail:
  mt_rworker_free(w);
  mt__set_last_error(e);
  return NULL;
}

MT_API void mt_rworker_free(mt_rworker_t *w) {
  if (!w) return;
  MT_ASSERT(!mt__load(&w->running), "mt_rworker_free: the worker is running");
  for (size_t i = 0; i < w->ntasks; i++) mt__free(w->tasks[i].name);
  mt__free(w->tasks);
  mt__free(w->name);
  mt__free(w->prefix);
  mt__free(w->k_stream);
  mt__free(w->k_dead);
  mt__free(w->k_hb);
  mt__rlink_destroy(&w->link);
  mt__free(w);
}

MT_API int mt_rworker_register(mt_rworker_t *w, const char *task, mt_ptask_fn fn) {
  if (!task || !*task || strlen(task) > MT__R_NAME_MAX || !fn) return MT_EINVAL;
  if (mt__load(&w->running)) return MT_EBUSY;
  for (size_t i = 0; i < w->ntasks; i++)
    if (!strcmp(w->tasks[i].name, task)) return MT_EEXIST;
  task_t *t = mt__realloc(w->tasks, sizeof *t * (w->ntasks + 1));
  if (!t) return MT_ENOMEM;
  w->tasks = t;
  if (!(t[w->ntasks].name = mt__strdup(task))) return MT_ENOMEM;
  t[w->ntasks++].fn = fn;
  return 0;
}

MT_API void mt_rworker_stop(mt_rworker_t *w) { __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE); }

MT_API int mt_rworker_run(mt_rworker_t *w, size_t nprocs) {
  uint32_t zero = 0;
  if (!mt__cas(&w->running, &zero, 1)) return MT_EBUSY;
  if (nprocs == 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    nprocs = n > 0 ? (size_t)n : 1;
  }
  mt_procpool_opts_t po = { .name = "mt-rworker" };
  w->pp = mt_procpool_new(nprocs, &po);
  if (!w->pp) {
    int e = mt_last_error();
    mt__store(&w->running, 0);
    return e;
  }
  mt_lock_init(&w->lock, 0);
  mt_cond_init(&w->cond, &w->lock);
  l_init(&w->running_l);
  l_init(&w->finished_l);
  w->inhand = 0;
  w->cap = nprocs * w->opts.prefetch;
  w->quit = false;
  mt_thread_t *ack;
  mt_thread_opts_t to = { .name = "mt-rworker" };
  int e = mt_thread_start(&ack, acker, w, &to);
  if (e) {
    mt_procpool_free(w->pp);
    mt_cond_destroy(&w->cond);
    mt_lock_destroy(&w->lock);
    mt__store(&w->running, 0);
    return e;
  }
  mt__rconn_t *c = NULL;
  double backoff = 0.05;
  int64_t next_reclaim = 0;
  double reclaim_every = keep_every(w);
  while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
    mt_cond_acquire(&w->cond, MT_FOREVER);
    size_t room = w->inhand < w->cap ? w->cap - w->inhand : 0;
    if (!room) mt_cond_wait(&w->cond, 0.1);
    mt_cond_release(&w->cond);
    if (!room) continue;
    if (!c && (e = mt__rlink_take(&w->link, 0, &c))) {
      c = NULL;
    } else {
      e = 0;
      if (mt__now_ns() >= next_reclaim) {
        e = reclaim(w, c, room);
        if (!e) next_reclaim = mt__now_ns() + (int64_t)(reclaim_every * 1e9);
      }
      if (!e) e = read_batch(w, c, room);
      if (e && mt__rconn_failed(c)) {
        mt__rlink_give(&w->link, c);
        c = NULL;
      }
    }
    if (e) {                                     /* Redis away or failing: wait, retry */
      int64_t until = mt__now_ns() + (int64_t)(backoff * 1e9);
      backoff = backoff * 2 > 1 ? 1 : backoff * 2;
      while (mt__now_ns() < until && !__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) mt_sleep(0.01);
    } else {
      backoff = 0.05;
    }
  }
  mt__rlink_give(&w->link, c);
  /* Let the tasks in hand finish and be acknowledged, then stop. */
  mt_cond_acquire(&w->cond, MT_FOREVER);
  w->quit = true;
  mt_cond_notify_all(&w->cond);
  mt_cond_release(&w->cond);
  mt_thread_join(ack, MT_FOREVER, NULL);
  mt_thread_free(ack);
  mt_procpool_free(w->pp);            /* (its futures' callbacks still move jobs) */
  w->pp = NULL;
  /* Jobs left were never acknowledged: forget them (they are delivered again). */
  for (job_t *h = &w->running_l; h; h = h == &w->running_l ? &w->finished_l : NULL) {
    while (!l_empty(h)) {
      job_t *j = h->next;
      l_del(j);
      job_free(j);
    }
  }
  mt_cond_destroy(&w->cond);
  mt_lock_destroy(&w->lock);
  __atomic_store_n(&w->stop, 0, __ATOMIC_RELEASE);
  mt__store(&w->running, 0);
  return 0;
}
