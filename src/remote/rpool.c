/* rpool.c — the submitter side of the remote pool.
 *
 * mt_rpool_submit registers a record (seq -> future) in the pool's table
 * before it XADDs the task, so a result can never arrive for a task the
 * table does not know yet. One collector thread ("mt-rpool") gets results:
 * a script pops up to BATCH finished seqs from the pool's done list and
 * GETDELs their results in one round trip; when there is none it blocks in
 * BLPOP for a short while (so mt_rpool_free is noticed), and whenever no
 * result has come for check_interval it asks Redis, in one script, which of
 * its unfinished tasks are neither in the stream nor in a result key — those
 * are lost (expired, or Redis lost them) and fail with MT_ELOST. That check
 * is race-free because workers move a task from the stream to its result key
 * atomically, and only this thread takes results.
 *
 * Cancel: mt_future_cancel reaches cancel_hook (future_internal.h) while the
 * future is pending; a script deletes the entry only if no worker has read it
 * (not in the group's pending list). The record is marked `cancelling`
 * meanwhile so the lost-task check leaves it alone.
 *
 * `lock` guards the table, `closed` and each record's sid/cancelling. The
 * collector never holds it across network I/O; submitters never hold it
 * across XADD. Each thread uses its own connection (the link's stack).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mt/thread.h"
#include "pool/future_internal.h"
#include "remote/remote_internal.h"
#include "remote/rkeys.h"

#define BATCH 512
#define MAP_BATCH 256

typedef struct rec {
  struct rec *next;             /* hash chain */
  uint64_t seq;
  mt_future_t *f;               /* the pool's reference */
  char sid[48];                 /* stream entry id, "" until XADD answered */
  int64_t since;                /* when it was submitted (ns) */
  bool cancelling;
} rec_t;

/* The seqs applied and not yet dropped from Redis (s_fetch drops them). */
typedef struct {
  size_t n;                     /* seqs noted */
  size_t head;                  /* how many of the first ones came from the list's head */
  char seq[BATCH * 2][24];
} drops_t;

struct mt_rpool {
  mt__rlink_t link;
  mt_rpool_opts_t opts;
  char client[33];
  char ttl_ms[24];
  char *prefix, *k_stream, *k_done;
  mt_lock_t lock;
  rec_t **tab;
  size_t nbuckets, count;
  uint64_t next_seq;
  bool closed;
  uint32_t stop;
  mt_thread_t *collector;
  drops_t *drops;               /* the collector's, allocated up front */
  const char **fetch_argv;
};

/* ---- the table ---------------------------------------------------------------- */
static size_t bucket(const mt_rpool_t *p, uint64_t seq) {
  return (size_t)((seq * 0x9E3779B97F4A7C15ull) >> 20) & (p->nbuckets - 1);
}

static int tab_grow(mt_rpool_t *p) {
  size_t nb = p->nbuckets ? p->nbuckets * 2 : 1024;
  rec_t **t = mt__calloc(nb, sizeof *t);
  if (!t) return MT_ENOMEM;
  rec_t **old = p->tab;
  size_t ob = p->nbuckets;
  p->tab = t;
  p->nbuckets = nb;
  for (size_t i = 0; i < ob; i++) {
    for (rec_t *r = old[i], *n; r; r = n) {
      n = r->next;
      size_t b = bucket(p, r->seq);
      r->next = t[b];
      t[b] = r;
    }
  }
  mt__free(old);
  return 0;
}

static rec_t *tab_find(mt_rpool_t *p, uint64_t seq, bool unlink) {
  if (!p->nbuckets) return NULL;
  for (rec_t **pp = &p->tab[bucket(p, seq)]; *pp; pp = &(*pp)->next) {
    if ((*pp)->seq == seq) {
      rec_t *r = *pp;
      if (unlink) {
        *pp = r->next;
        p->count--;
      }
      return r;
    }
  }
  return NULL;
}

static int tab_add(mt_rpool_t *p, rec_t *r) {
  if (p->count >= p->nbuckets) {
    int e = tab_grow(p);
    if (e) return e;
  }
  size_t b = bucket(p, r->seq);
  r->next = p->tab[b];
  p->tab[b] = r;
  p->count++;
  return 0;
}

/* Finishes and frees a record already unlinked from the table. */
static void rec_finish(rec_t *r, int code, void *result) {
  if (!mt__future_finish(r->f, code, result)) free(result);
  mt_future_release(r->f);
  mt__free(r);
}

/* ---- results ---------------------------------------------------------------------- */
/* Turns a stored result into the future's outcome: the code, and an mt_buf_t
 * (malloc'd: the caller frees it) when the task succeeded or sent bytes. */
static int decode(const char *s, size_t n, mt_buf_t **out) {
  *out = NULL;
  if (n < 4) return MT_EIO;
  uint32_t u = (uint32_t)(unsigned char)s[0] | (uint32_t)(unsigned char)s[1] << 8 |
               (uint32_t)(unsigned char)s[2] << 16 | (uint32_t)(unsigned char)s[3] << 24;
  int code = (int)u;
  if (code == 0 || n > 4) {
    mt_buf_t *b = malloc(sizeof *b + (n - 4));
    if (!b) return MT_ENOMEM;
    b->len = n - 4;
    memcpy(b->data, s + 4, n - 4);
    *out = b;
  }
  return code;
}

/* KEYS done list; ARGV result prefix ("mt:{P}:r:CLIENT:"), count, then
 * what the collector has applied since its last call: n, the number of seqs
 * it took from the head of the list, and the seqs (those n first, then any
 * found by the lost-task check). It drops them — the n by LTRIM if the head
 * is still the first of them, the others by LREM, their results by DEL:
 * idempotent, so a retry after a lost answer is harmless — then returns
 * the next batch without removing it: { seq1, result1 or false, ... }.
 * Nothing is deleted before the collector has it. */
static mt__rscript_t s_fetch = MT__RSCRIPT(
    "local n = tonumber(ARGV[3])\n"
    "if n > 0 and redis.call('LINDEX', KEYS[1], 0) == ARGV[4] then\n"
    "  redis.call('LTRIM', KEYS[1], n, -1)\n"
    "end\n"
    "if ARGV[4] ~= '' then\n"
    "  local keys = {}\n"
    "  for i = 4, #ARGV do\n"
    "    if i > 3 + n then redis.call('LREM', KEYS[1], 1, ARGV[i]) end\n"
    "    keys[#keys + 1] = ARGV[1] .. ARGV[i]\n"
    "  end\n"
    "  redis.call('DEL', unpack(keys))\n"
    "end\n"
    "local out = {}\n"
    "for _, s in ipairs(redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[2]) - 1)) do\n"
    "  out[#out + 1] = s\n"
    "  out[#out + 1] = redis.call('GET', ARGV[1] .. s)\n"
    "end\n"
    "return out\n");

/* KEYS stream; ARGV result prefix, then pairs sid, seq. For each task that
 * is not in the stream any more, returns its seq and its result (false if
 * there is none: the task is lost), in s_fetch's format. A result found
 * here but missing from the done list is thus collected too. */
static mt__rscript_t s_lost = MT__RSCRIPT(
    "local out = {}\n"
    "for i = 2, #ARGV, 2 do\n"
    "  if #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 0 then\n"
    "    out[#out + 1] = ARGV[i + 1]\n"
    "    out[#out + 1] = redis.call('GET', ARGV[1] .. ARGV[i + 1])\n"
    "  end\n"
    "end\n"
    "return out\n");

/* KEYS stream; ARGV group, sid. 1: deleted before any worker read it; 0:
 * delivered (or already gone). */
static mt__rscript_t s_cancel = MT__RSCRIPT(
    "local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)\n"
    "if type(p) == 'table' and p.err then p = {} end\n"
    "if #p > 0 then return 0 end\n"
    "if #redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2]) == 0 then return 0 end\n"
    "redis.call('XDEL', KEYS[1], ARGV[2])\n"
    "return 1\n");

/* Applies a batch in s_fetch's format; notes each seq in d for dropping. */
static void apply_results(mt_rpool_t *p, redisReply *rep, drops_t *d) {
  for (size_t i = 0; i + 1 < rep->elements; i += 2) {
    redisReply *s = rep->element[i], *v = rep->element[i + 1];
    if (s->type != REDIS_REPLY_STRING || s->len >= 24) continue;
    if (d->n < BATCH * 2) memcpy(d->seq[d->n++], s->str, s->len + 1);
    uint64_t seq = strtoull(s->str, NULL, 10);
    mt_lock_acquire(&p->lock, MT_FOREVER);
    rec_t *r = tab_find(p, seq, true);
    mt_lock_release(&p->lock);
    if (!r) continue;                           /* unknown: a submit whose reply was lost */
    if (v->type != REDIS_REPLY_STRING) {
      rec_finish(r, MT_ELOST, NULL);            /* listed done, but the result expired */
      continue;
    }
    mt_buf_t *b;
    int code = decode(v->str, v->len, &b);
    rec_finish(r, code, b);
  }
}

/* Asks Redis which unfinished tasks are gone; fails them with MT_ELOST. */
static int check_lost(mt_rpool_t *p, mt__rconn_t *c, int64_t older_than, drops_t *d) {
  size_t cap = 0, n = 0;
  const char **argv = NULL;
  char (*seqs)[24] = NULL;
  mt_lock_acquire(&p->lock, MT_FOREVER);
  cap = p->count;
  if (cap) {
    argv = mt__malloc(sizeof *argv * (2 * cap + 2));
    seqs = mt__malloc(sizeof *seqs * cap);
    char (*sids)[48] = mt__malloc(48 * cap);
    if (argv && seqs && sids) {
      argv[0] = p->k_stream;
      char *rp = mt__malloc(strlen(p->prefix) + 48);
      if (rp) {
        snprintf(rp, strlen(p->prefix) + 48, "%sr:%s:", p->prefix, p->client);
        argv[1] = rp;
        for (size_t b = 0; b < p->nbuckets; b++) {
          for (rec_t *r = p->tab[b]; r; r = r->next) {
            if (!r->sid[0] || r->cancelling || r->since > older_than) continue;
            memcpy(sids[n], r->sid, 48);
            snprintf(seqs[n], 24, "%llu", (unsigned long long)r->seq);
            n++;
          }
        }
        for (size_t i = 0; i < n; i++) {
          argv[2 + 2 * i] = sids[i];
          argv[3 + 2 * i] = seqs[i];
        }
        mt_lock_release(&p->lock);
        int e = 0;
        if (n) {
          redisReply *rep;
          e = mt__rscript(c, &s_lost, p->opts.io_timeout, &rep, 1, (int)(2 + 2 * n), argv, NULL);
          if (!e && rep->type == REDIS_REPLY_ARRAY) apply_results(p, rep, d);
          if (rep) freeReplyObject(rep);
        }
        mt__free(rp);
        mt__free(sids);
        mt__free(seqs);
        mt__free(argv);
        return e;
      }
    }
    mt__free(sids);
  }
  mt_lock_release(&p->lock);
  mt__free(seqs);
  mt__free(argv);
  return cap ? MT_ENOMEM : 0;
}

/* Waits `s` seconds or until the pool is being freed. */
static void nap(mt_rpool_t *p, double s) {
  int64_t end = mt__now_ns() + (int64_t)(s * 1e9);
  while (!mt__load(&p->stop) && mt__now_ns() < end) mt_sleep(0.01);
}

static void *collector(void *arg) {
  mt_rpool_t *p = arg;
  char rprefix[MT__R_NAME_MAX + 64];
  snprintf(rprefix, sizeof rprefix, "%sr:%s:", p->prefix, p->client);
  char batch[16];
  snprintf(batch, sizeof batch, "%d", BATCH);
  drops_t *d = p->drops;
  const char **argv = p->fetch_argv;
  mt__rconn_t *c = NULL;
  int64_t last_news = mt__now_ns();
  int64_t check_ns = (int64_t)(p->opts.check_interval * 1e9);
  double backoff = 0.05;
  while (!mt__load(&p->stop)) {
    if (!c) {
      int e = mt__rlink_take(&p->link, 0, &c);
      if (e) {
        c = NULL;
        nap(p, backoff);
        backoff = backoff * 2 > 1 ? 1 : backoff * 2;
        continue;
      }
      backoff = 0.05;
    }
    char head[24];
    snprintf(head, sizeof head, "%zu", d->head);
    argv[0] = p->k_done;
    argv[1] = rprefix;
    argv[2] = batch;
    argv[3] = head;
    for (size_t i = 0; i < d->n; i++) argv[4 + i] = d->seq[i];
    if (d->n == 0) argv[4] = "";
    redisReply *rep;
    int e = mt__rscript(c, &s_fetch, p->opts.io_timeout, &rep, 1, (int)(4 + (d->n ? d->n : 1)), argv, NULL);
    if (!e) d->n = d->head = 0;                 /* dropped */
    if (!e && rep->type == REDIS_REPLY_ARRAY && rep->elements) {
      apply_results(p, rep, d);
      d->head = d->n;
      freeReplyObject(rep);
      last_news = mt__now_ns();
      continue;
    }
    if (rep) freeReplyObject(rep);
    if (!e) {                                   /* nothing: wait a little for the next one */
      const char *bv[6] = { "BLMOVE", p->k_done, p->k_done, "LEFT", "LEFT", "0.2" };
      e = mt__rcmd(c, 0.2 + p->opts.io_timeout, &rep, 6, bv, NULL);   /* a rotation: removes nothing */
      if (rep) freeReplyObject(rep);
    }
    int64_t now = mt__now_ns();
    if (!e && now - last_news >= check_ns) {    /* quiet for a while: anything lost? */
      e = check_lost(p, c, now - check_ns, d);
      last_news = now;
    }
    if (e) {
      if (mt__rconn_failed(c)) {
        mt__rlink_give(&p->link, c);
        c = NULL;
      }
      nap(p, backoff);
      backoff = backoff * 2 > 1 ? 1 : backoff * 2;
    } else {
      backoff = 0.05;
    }
  }
  mt__rlink_give(&p->link, c);
  return NULL;
}

/* ---- cancel --------------------------------------------------------------------------- */
static int cancel_hook(mt_future_t *f, void *ud, uint64_t seq) {
  mt_rpool_t *p = ud;
  char sid[48];
  mt_lock_acquire(&p->lock, MT_FOREVER);
  rec_t *r = tab_find(p, seq, false);
  if (!r || !r->sid[0] || r->cancelling) {
    mt_lock_release(&p->lock);
    return r ? MT_EBUSY : 0;                    /* gone: finished meanwhile (cancel then says so) */
  }
  r->cancelling = true;
  memcpy(sid, r->sid, sizeof sid);
  mt_lock_release(&p->lock);
  const char *argv[3] = { p->k_stream, MT__R_GROUP, sid };
  mt__rconn_t *c;
  int e = mt__rlink_take(&p->link, 0, &c);
  redisReply *rep = NULL;
  if (!e) {
    e = mt__rscript(c, &s_cancel, p->opts.io_timeout, &rep, 1, 3, argv, NULL);
    mt__rlink_give(&p->link, c);
  }
  bool removed = !e && rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
  if (rep) freeReplyObject(rep);
  mt_lock_acquire(&p->lock, MT_FOREVER);
  r = tab_find(p, seq, removed);                /* still ours: only the hook unlinks a cancelling one */
  if (r && !removed) r->cancelling = false;
  mt_lock_release(&p->lock);
  if (removed) {
    mt_future_release(r->f);                    /* the caller's reference keeps f alive */
    mt__free(r);
    return 0;
  }
  return e ? e : MT_ERUNNING;
}

MT_API int mt_rpool_cancel(mt_rpool_t *p, mt_future_t *f) {
  (void)p;
  return mt_future_cancel(f);
}

/* ---- life cycle ------------------------------------------------------------------------- */
static char *catkey(const char *prefix, const char *what) {
  size_t n = strlen(prefix) + strlen(what) + 1;
  char *k = mt__malloc(n);
  if (k) snprintf(k, n, "%s%s", prefix, what);
  return k;
}

MT_API mt_rpool_t *mt_rpool_connect(const char *url, const char *pool, const mt_rpool_opts_t *opts) {
  int e = MT_EINVAL;
  mt_rpool_t *p = NULL;
  if (!mt__rname_ok(pool)) goto fail;
  e = MT_ENOMEM;
  if (!(p = mt__calloc(1, sizeof *p))) goto fail;
  if (opts) p->opts = *opts;
  if (p->opts.io_timeout <= 0) p->opts.io_timeout = MT__R_DEFAULT_IO;
  if (p->opts.result_ttl <= 0) p->opts.result_ttl = 3600;
  if (p->opts.check_interval <= 0) p->opts.check_interval = 5;
  if ((e = mt__rlink_init(&p->link, url, p->opts.io_timeout))) {
    mt__free(p);
    p = NULL;
    goto fail;
  }
  mt_lock_init(&p->lock, 0);
  mt__rrandom_hex(p->client, 16);
  snprintf(p->ttl_ms, sizeof p->ttl_ms, "%lld", (long long)(p->opts.result_ttl * 1000));
  size_t pl = strlen(pool) + 8;
  e = MT_ENOMEM;
  if (!(p->prefix = mt__malloc(pl))) goto fail;
  snprintf(p->prefix, pl, "mt:{%s}:", pool);
  char dk[64];
  snprintf(dk, sizeof dk, "d:%s", p->client);
  p->k_stream = catkey(p->prefix, "tasks");
  p->k_done = catkey(p->prefix, dk);
  p->drops = mt__calloc(1, sizeof *p->drops);
  p->fetch_argv = mt__malloc(sizeof *p->fetch_argv * (4 + BATCH * 2));
  if (!p->k_stream || !p->k_done || !p->drops || !p->fetch_argv || tab_grow(p)) goto fail;
  {                                             /* reach Redis now; make the group */
    const char *argv[6] = MT__R_CREATE_GROUP(p->k_stream);
    redisReply *rep;
    e = mt__rlink_cmd(&p->link, MT__NEVER, &rep, 6, argv, NULL);
    if (e == MT_EIO && mt__rerr_is(rep, "BUSYGROUP")) e = 0;
    if (rep) freeReplyObject(rep);
    if (e) goto fail;
  }
  mt_thread_opts_t to = { .name = "mt-rpool" };
  if ((e = mt_thread_start(&p->collector, collector, p, &to))) goto fail;
  mt__set_last_error(0);
  return p;
fail:
  if (p) mt_rpool_free(p);
  mt__set_last_error(e);
  return NULL;
}

MT_API int mt_rpool_close(mt_rpool_t *p) {
  mt_lock_acquire(&p->lock, MT_FOREVER);
  p->closed = true;
  mt_lock_release(&p->lock);
  return 0;
}

MT_API size_t mt_rpool_pending(mt_rpool_t *p) {
  mt_lock_acquire(&p->lock, MT_FOREVER);
  size_t n = p->count;
  mt_lock_release(&p->lock);
  return n;
}

MT_API void mt_rpool_free(mt_rpool_t *p) {
  if (!p) return;
  mt__store(&p->stop, 1);
  if (p->collector) {
    mt_thread_join(p->collector, MT_FOREVER, NULL);
    mt_thread_free(p->collector);
  }
  if (p->tab) {
    for (size_t b = 0; b < p->nbuckets; b++) {
      for (rec_t *r = p->tab[b], *n; r; r = n) {
        n = r->next;
        rec_finish(r, MT_ECLOSED, NULL);
      }
    }
    mt__free(p->tab);
    mt_lock_destroy(&p->lock);
    mt__rlink_destroy(&p->link);
  } else if (p->prefix || p->link.io_timeout > 0) {
    mt_lock_destroy(&p->lock);
    mt__rlink_destroy(&p->link);
  }
  mt__free(p->prefix);
  mt__free(p->k_stream);
  mt__free(p->k_done);
  mt__free(p->drops);
  mt__free(p->fetch_argv);
  mt__free(p);
}

/* ---- submitting ------------------------------------------------------------------------ */
/* Registers n records (futures with two references: the caller's and the
 * pool's). 0, MT_ECLOSED, MT_ENOMEM (nothing registered). */
static int reserve(mt_rpool_t *p, size_t n, rec_t **recs) {
  for (size_t i = 0; i < n; i++) {
    recs[i] = mt__calloc(1, sizeof **recs);
    mt_future_t *f = recs[i] ? mt__future_new(2) : NULL;
    if (!f) {
      mt__free(recs[i]);
      for (size_t j = 0; j < i; j++) {
        mt_future_release(recs[j]->f);
        mt_future_release(recs[j]->f);
        mt__free(recs[j]);
      }
      return MT_ENOMEM;
    }
    recs[i]->f = f;
    recs[i]->since = mt__now_ns();
  }
  int e = 0;
  mt_lock_acquire(&p->lock, MT_FOREVER);
  if (p->closed) e = MT_ECLOSED;
  size_t i = 0;
  for (; !e && i < n; i++) {
    recs[i]->seq = ++p->next_seq;
    mt__future_set_cancel_hook(recs[i]->f, cancel_hook, p, recs[i]->seq);
    e = tab_add(p, recs[i]);
  }
  if (e) {
    for (size_t j = 0; j < i - (e != MT_ECLOSED); j++) tab_find(p, recs[j]->seq, true);
  }
  mt_lock_release(&p->lock);
  if (e) {
    for (size_t j = 0; j < n; j++) {
      mt_future_release(recs[j]->f);
      mt_future_release(recs[j]->f);
      mt__free(recs[j]);
    }
  }
  return e;
}

/* Withdraws the record of a task whose XADD failed, so its future never
 * fires — unless a result came for it meanwhile (the XADD did land, its
 * answer was lost): then it is finished and false says so. */
static bool withdraw(mt_rpool_t *p, uint64_t seq, mt_future_t *f) {
  mt_lock_acquire(&p->lock, MT_FOREVER);
  rec_t *r = tab_find(p, seq, true);
  mt_lock_release(&p->lock);
  if (!r) return false;
  mt_future_release(f);
  mt_future_release(f);
  mt__free(r);
  return true;
}

static int append_xadd(mt_rpool_t *p, mt__rconn_t *c, const char *task, rec_t *r, const void *in,
                       size_t inlen) {
  char seq[24];
  snprintf(seq, sizeof seq, "%llu", (unsigned long long)r->seq);
  const char *argv[13] = { "XADD", p->k_stream, "*", "t", task, "c", p->client, "s", seq,
                           "x", p->ttl_ms, "d", inlen ? in : "" };
  size_t lens[13];
  for (int i = 0; i < 12; i++) lens[i] = strlen(argv[i]);
  lens[12] = inlen;
  return mt__rappend(c, 13, argv, lens);
}

/* Reads one XADD answer into its record's sid. The record is looked up by
 * seq: once it is in the table, the collector may finish and free it. */
static int read_xadd(mt_rpool_t *p, mt__rconn_t *c, uint64_t seq) {
  redisReply *rep;
  int e = mt__rreply(c, p->opts.io_timeout, &rep);
  if (!e && (rep->type != REDIS_REPLY_STRING || rep->len >= sizeof ((rec_t *)0)->sid)) e = MT_EIO;
  if (!e) {
    mt_lock_acquire(&p->lock, MT_FOREVER);
    rec_t *r = tab_find(p, seq, false);
    if (r) memcpy(r->sid, rep->str, rep->len + 1);
    mt_lock_release(&p->lock);
  }
  if (rep) freeReplyObject(rep);
  return e;
}

MT_API int mt_rpool_map(mt_rpool_t *p, const char *task, const void *const *ins, const size_t *inlens,
                        size_t n, mt_future_t **out) {
  for (size_t i = 0; i < n; i++) out[i] = NULL;
  if (!task || !*task || strlen(task) > MT__R_NAME_MAX) return MT_EINVAL;
  for (size_t i = 0; i < n; i++) {
    size_t len = inlens ? inlens[i] : 0;
    if (len >= MT__R_MAX_MSG) return MT_EMSGSIZE;
    if (len && (!ins || !ins[i])) return MT_EINVAL;
  }
  rec_t *recs[MAP_BATCH];
  for (size_t done = 0; done < n;) {
    size_t k = n - done < MAP_BATCH ? n - done : MAP_BATCH;
    int e = reserve(p, k, recs);
    if (e) return e;
    mt__rconn_t *c;
    e = mt__rlink_take(&p->link, 0, &c);
    size_t sent = 0;
    for (; !e && sent < k; sent++)
      e = append_xadd(p, c, task, recs[sent], ins ? ins[done + sent] : NULL,
                      inlens ? inlens[done + sent] : 0);
    int first = e;
    for (size_t i = 0; i < k; i++) {
      mt_future_t *f = recs[i]->f;             /* recs[i] may be freed once answered */
      uint64_t seq = recs[i]->seq;
      int r = (i < sent && !mt__rconn_failed(c)) ? read_xadd(p, c, seq) : (first ? first : MT_EIO);
      if (r && !first) first = r;
      if (!r || !withdraw(p, seq, f)) out[done + i] = f;
    }
    if (c) mt__rlink_give(&p->link, c);
    if (first) return first;
    done += k;
  }
  return 0;
}

MT_API mt_future_t *mt_rpool_submit(mt_rpool_t *p, const char *task, const void *in, size_t inlen) {
  mt_future_t *f = NULL;
  const void *ins[1] = { in };
  int e = mt_rpool_map(p, task, ins, &inlen, 1, &f);
  mt__set_last_error(e);
  return e ? NULL : f;
}
