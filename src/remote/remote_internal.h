/* remote_internal.h — what the remote layer's modules share: the parsed URL,
 * the connection stack every handle keeps (conn.c), command helpers that
 * bound every network wait and map failures to libmt codes, and Lua scripts
 * run by their SHA1 with a fall-back to EVAL. */
#ifndef MT_REMOTE_INTERNAL_H
#define MT_REMOTE_INTERNAL_H

#include <hiredis/hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/internal.h"
#include "mt/remote.h"
#include "mt/sync.h"

#define MT__R_NAME_MAX 200          /* queue and pool names */
#define MT__R_DEFAULT_IO 5.0
#define MT__R_MAX_MSG (512u << 20)  /* Redis's own limit on a string */

typedef struct {
  char *host;                       /* TCP, or NULL */
  int port;
  char *path;                       /* Unix socket, or NULL */
  char *user, *pass;                /* NULL when absent */
  int db;
} mt__rurl_t;

/* 0, MT_EINVAL (malformed), MT_ENOMEM. Free with mt__rurl_free. */
int  mt__rurl_parse(const char *url, mt__rurl_t *out);
void mt__rurl_free(mt__rurl_t *u);
/* True for 1..MT__R_NAME_MAX of [A-Za-z0-9_.:-]. */
bool mt__rname_ok(const char *name);

typedef struct mt__rconn {
  redisContext *c;
  struct mt__rconn *next;
  double tmo;                       /* the socket timeout now set */
  int err;                          /* 0, or the connection error that broke it */
} mt__rconn_t;

/* A stack of idle connections to one Redis. Thread-safe. */
typedef struct {
  mt__rurl_t url;
  double io_timeout;
  mt_lock_t lock;                   /* guards idle */
  mt__rconn_t *idle;
} mt__rlink_t;

int  mt__rlink_init(mt__rlink_t *l, const char *url, double io_timeout);
void mt__rlink_destroy(mt__rlink_t *l);
/* A connection of one's own (a new one if none is idle), connected within
 * `wait` seconds (<= 0: io_timeout). 0 or a connection error. */
int  mt__rlink_take(mt__rlink_t *l, double wait, mt__rconn_t **out);
/* Gives it back; a connection that failed is closed instead. */
void mt__rlink_give(mt__rlink_t *l, mt__rconn_t *c);
/* The wait for one network exchange: the call's remaining time when it has
 * a deadline (at least 1 ms), else io_timeout. */
double mt__rlink_wait(const mt__rlink_t *l, int64_t deadline);

/* One command on c, waiting at most `wait` s for the answer. 0 with *out
 * (the caller frees it with freeReplyObject), MT_EIO with *out for an error
 * reply, or a connection error (the connection is then marked failed). */
int  mt__rcmd(mt__rconn_t *c, double wait, redisReply **out, int argc, const char **argv,
              const size_t *lens);
/* Pipelining: queue commands with mt__rappend, then read each answer in
 * order with mt__rreply. */
int  mt__rappend(mt__rconn_t *c, int argc, const char **argv, const size_t *lens);
int  mt__rreply(mt__rconn_t *c, double wait, redisReply **out);
bool mt__rconn_failed(const mt__rconn_t *c);
/* Take, one command, give back. */
int  mt__rlink_cmd(mt__rlink_t *l, int64_t deadline, redisReply **out, int argc, const char **argv,
                   const size_t *lens);
/* True if an error reply starts with `prefix` ("NOGROUP", "LOADING"...). */
bool mt__rerr_is(const redisReply *r, const char *prefix);

/* A Lua script run through EVALSHA, loaded (by EVAL) when Redis does not
 * know it — after a restart, say. */
typedef struct {
  const char *src;
  char sha[41];                     /* filled on first use */
  uint32_t have_sha;
} mt__rscript_t;
#define MT__RSCRIPT(text) { (text), { 0 }, 0 }

/* Runs s with nkeys keys then args (argv/lens: keys first). As mt__rcmd. */
int  mt__rscript(mt__rconn_t *c, mt__rscript_t *s, double wait, redisReply **out, int nkeys,
                 int argc, const char **argv, const size_t *lens);
/* Makes sure Redis knows s (SCRIPT LOAD) and its SHA is filled. */
int  mt__rscript_prepare(mt__rconn_t *c, mt__rscript_t *s, double wait);

/* A random hex string of 2*nbytes characters plus NUL into out. */
void mt__rrandom_hex(char *out, size_t nbytes);

#endif
