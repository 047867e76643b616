/* ftpd.h — mtftpd's internal types: configuration, users, the server and a session.
 *
 * Trust map (file names say what an attacker reaches):
 *   protocol.c   raw control lines (untrusted bytes) into a verb and an argument
 *                (Telnet per RFC 854); replies out, every line of them checked
 *   ../ftpproto/ the protocol's text forms as pure functions shared with the
 *                client: PORT/EPRT, 227/229, REST, MDTM/MFMT times, SITE CHMOD
 *                modes (masked to 0777), 257 quoting, reply lines, MLST facts.
 *                Untrusted input both ways; each parser has a fuzz harness
 *   commands/table.c  every verb's rules: login, argument, permission, path
 *   session.c    the per-connection state machine and the dispatcher:
 *                ftpd_cmd_run() enforces a verb's table entry — its path
 *                resolved beneath the root, then ftpd_authorize(), the one
 *                gate — before the handler in commands/ runs
 *   fs.c         turns a client path into an fd beneath the user's root (the jail)
 *   listing.c    names from the disk out (CR/LF names left out)
 *   auth.c       the users file and password checks (reached by PASS)
 *   passwd.c     `mtftpd passwd`: the administrator's tool, never the network
 *   data.c       data connections (PASV/EPSV/PORT/EPRT) and the transfer loops
 *   config.c     config keys, file and flags, and the snapshot sessions read
 *                (trusted: written by the administrator)
 *   accept.c     admission (bans, max-clients, max-per-ip), accepting, the acceptor threads
 *   ban.c        failed logins per address and the temporary ban (reached by
 *                PASS, through the model: the fork model's parent keeps it)
 *   rate.c       max-rate and max-rate-per-user clocks (shared memory)
 *   digests.c    the HASH digest cache (shared memory)
 *   priv.c       the drop from root: uid, gid, groups, capabilities
 *   model_threads.c  bounded queue + pool of session threads
 *   model_fork.c     a process per session
 *   model_co.c       coroutines on one scheduler per core; offload.c runs their
 *                    blocking work (hashing, listings, file IO) on a thread pool
 *
 * A session only calls libmt's parking IO, so it does not know which model
 * runs it: each model is a table (ftpd_model_t) of what it provides, and the
 * session, main.c and accept.c only call through it.
 */
#ifndef FTPD_H
#define FTPD_H

#include <mt.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>

#include "ftpd_limits.h"
#include "ftpd_version.h"

/* ---- small checked buffer (buf.c) ---------------------------------------- */
typedef struct {
  char *p;        /* always NUL-terminated when non-NULL */
  size_t len, cap;
  size_t limit;   /* 0 = none; growing past it sets failed */
  bool failed;    /* an allocation or the limit failed; later appends are no-ops */
} sbuf_t;
void sbuf_init(sbuf_t *b, size_t limit);
void sbuf_free(sbuf_t *b);
void sbuf_reset(sbuf_t *b);
void sbuf_put(sbuf_t *b, const void *data, size_t n);
void sbuf_puts(sbuf_t *b, const char *s);
void sbuf_printf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

/* Copies the next line of text[*pos..len) into line (NUL-terminated, its
 * "\n" and a trailing "\r" dropped) and moves *pos past it. Returns its
 * length, or FTPD_LINE_END after the last line, FTPD_LINE_LONG when it does
 * not fit in cap (skipped), FTPD_LINE_NUL when it holds a NUL byte. */
enum { FTPD_LINE_END = -1, FTPD_LINE_LONG = -2, FTPD_LINE_NUL = -3 };
int ftpd_next_line(const char *text, size_t len, size_t *pos, char *line, size_t cap);

/* ---- permissions (pyftpdlib letters) -------------------------------------- */
enum {
  PERM_E = 1 << 0, /* e  change directory */
  PERM_L = 1 << 1, /* l  list */
  PERM_R = 1 << 2, /* r  retrieve */
  PERM_A = 1 << 3, /* a  append */
  PERM_D = 1 << 4, /* d  delete */
  PERM_F = 1 << 5, /* f  rename */
  PERM_M = 1 << 6, /* m  make directory */
  PERM_W = 1 << 7, /* w  store */
  PERM_CHMOD = 1 << 8, /* M  chmod */
  PERM_T = 1 << 9, /* T  set modification time */
};
#define PERM_LETTERS "elradfmwMT"
#define PERM_ALL 0x3ff
/* Parses letters into a mask; -1 for an unknown letter. */
int  ftpd_perms_parse(const char *s);
void ftpd_perms_format(unsigned perms, char out[16]);

/* ---- configuration (config.c) --------------------------------------------- */
enum { ANON_OFF = 0, ANON_RO = 1, ANON_RW = 2 };
enum { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum { MODEL_THREADS = 0, MODEL_FORK = 1, MODEL_COROUTINES = 2 };
/* FTPS policy (RFC 4217): what must be protected, and how data connections
 * must resume the control connection's TLS session. */
enum { TLS_REQ_OFF = 0, TLS_REQ_LOGIN = 1, TLS_REQ_DATA = 2, TLS_REQ_ALL = 3 };
enum { TLS_REUSE_OFF = 0, TLS_REUSE_ANY = 1, TLS_REUSE_SAME = 2 };

typedef struct ftpd_config {
  char *listen[FTPD_MAX_LISTEN];
  int n_listen;
  char *listen_tls[FTPD_MAX_LISTEN];   /* implicit FTPS listeners: TLS from the first byte */
  int n_listen_tls;
  bool dual_stack;            /* IPv6 listeners without IPV6_V6ONLY */
  char *root;
  char *users_file;
  int anonymous;
  int model;
  int max_clients;
  int max_per_ip;
  int max_prelogin_cmds;      /* commands before a login; then 421 and close */
  int pasv_lo, pasv_hi;       /* 0,0 = any port */
  char *pasv_address;
  char *xferlog;
  int log_level;
  bool daemon;
  char *pidfile;
  char *run_as;
  char *banner;
  double login_timeout, idle_timeout, data_timeout, shutdown_grace;
  double command_line_timeout;  /* a started command line must end within it: 421 */
  /* failed logins per address (ban.c): 0 failures = off */
  int max_login_failures;
  double login_failure_window, login_ban_time;
  int login_cache;            /* seconds a verified login is remembered (auth.c), 0 = never */
  /* transfer rates in bytes per second (rate.c), 0 = no limit */
  int max_rate, max_rate_per_user;
  int hash_cache;             /* HASH digests remembered (digests.c), 0 = off; read at start */
  /* FTPS: a certificate turns AUTH TLS on */
  char *tls_cert, *tls_key;   /* PEM files; the key may sit in the certificate's file */
  char *tls_min_version;      /* "1.2" (default) or "1.3" */
  char *tls_ciphers;          /* TLS 1.2 cipher list (OpenSSL syntax); NULL: OpenSSL's */
  int tls_required;           /* TLS_REQ_* */
  int tls_data_reuse;         /* TLS_REUSE_* */
  int tls_strict_eof;         /* 0 yes: an upload without close_notify is not stored; 1 no */
  char *config_file;          /* -c, remembered for SIGHUP */
} ftpd_config_t;

void ftpd_config_defaults(ftpd_config_t *c);
void ftpd_config_free(ftpd_config_t *c);
/* Sets one key (config-file spelling, e.g. "max-clients") from text.
 * Returns 0, or -1 with a one-line reason in err. */
int  ftpd_config_set(ftpd_config_t *c, const char *key, const char *value, char *err, size_t errlen);
/* Reads a key = value file (# comments). 0, or -1 with "FILE:LINE: reason" in err. */
int  ftpd_config_load(ftpd_config_t *c, const char *path, char *err, size_t errlen);
/* Parses text already in memory (the fuzzer's entry point too). */
int  ftpd_config_parse(ftpd_config_t *c, const char *text, size_t len, const char *name,
                       char *err, size_t errlen);
/* Final checks after file and flags: 0 or -1 with err. */
int  ftpd_config_check(const ftpd_config_t *c, char *err, size_t errlen);
void ftpd_config_dump(const ftpd_config_t *c, FILE *out);
/* The serve command line: -c first, then flags over it. 0; 1 = --help/--version
 * printed; -1 = error printed to stderr (exit 2). */
int  ftpd_config_from_args(ftpd_config_t *c, int argc, char **argv);
void ftpd_usage(FILE *out);

/* ---- users (auth.c) -------------------------------------------------------- */
typedef struct {
  char *name, *hash, *home;
  unsigned perms;
} ftpd_user_t;

typedef struct {
  ftpd_user_t *v;
  size_t n;
} ftpd_users_t;

/* Loads a users file; a missing path means no users. 0 or -1 with err. */
int  ftpd_users_load(ftpd_users_t *u, const char *path, char *err, size_t errlen);
void ftpd_users_free(ftpd_users_t *u);
const ftpd_user_t *ftpd_users_find(const ftpd_users_t *u, const char *name);
/* True when pass matches the user's hash; always spends one hash computation. */
bool ftpd_password_ok(const ftpd_user_t *u, const char *pass);
/* The login cache (auth.c): whether u with pass was verified by
 * ftpd_password_ok within the last ttl seconds, against the same users-file
 * hash; and the note that it just was. */
bool ftpd_login_cached(const ftpd_user_t *u, const char *pass, double ttl);
void ftpd_login_remember(const ftpd_user_t *u, const char *pass, double ttl);
/* Every entry wiped (a reload: SIGHUP). */
void ftpd_login_forget_all(void);
/* `mtftpd passwd ...`: returns the process exit code. */
int  ftpd_passwd_main(int argc, char **argv);

/* ---- the server shared by all sessions -------------------------------------- */
/* What a session needs from the configuration, swapped whole on SIGHUP. */
typedef struct ftpd_snapshot {
  atomic_int refs;
  ftpd_config_t cfg;
  ftpd_users_t users;
  struct ftls_ctx *tls;       /* the server TLS context (cfg.tls_cert), or NULL */
} ftpd_snapshot_t;

typedef struct ftpd_server {
  mt_lock_t lock;             /* protects snap, per-IP table, active */
  /* Held by a SIGHUP reload from loading to the swap (main.c) and across a
   * fork (model_fork.c), after which the child re-initialises both locks:
   * a child never inherits a lock held by a thread it does not have — not
   * this one, nor OpenSSL's inside a half-built TLS context. */
  mt_lock_t reload_lock;
  ftpd_snapshot_t *snap;
  int root_fd;                /* --root, opened before privileges are dropped */
  int xferlog_fd;             /* -1 when off */
  int listen_fd[FTPD_MAX_LISTENERS];
  int n_listen;
  /* the addresses of the implicit-FTPS listeners, as bound (main.c): a
   * session whose local address is one of them starts with the handshake */
  struct sockaddr_storage implicit[FTPD_MAX_LISTEN];
  int n_implicit;
  atomic_bool stopping;
  atomic_ulong next_id;
  atomic_int active;          /* sessions admitted */
  struct ip_slot *ips;        /* per-IP counts (accept.c) */
  size_t n_ips, cap_ips;
  struct ban_slot *bans;      /* failed logins per address (ban.c), under lock */
  size_t n_bans, cap_bans;
  struct ftpd_rates *rates;   /* per-user rate buckets shared by every process (rate.c) */
  struct ftpd_digests *digests;  /* HASH digests shared by every process (digests.c); NULL: off */
  int capacity;               /* sessions the model can run at once, fixed at
                                 start for a fixed_pool model; 0 = no bound */
  const struct ftpd_model *model;   /* fixed at start */
  mt_pool_t *offload;         /* where blocking work runs (the coroutines model); NULL: in place */
  bool no_login_delay;        /* the fuzz harness only: a failed PASS is answered at once */
} ftpd_server_t;

/* Runs fn(arg) where it cannot hold up other sessions: on srv->offload when
 * the caller is a coroutine (it parks until fn returns), else right here.
 * Returns fn's result. */
int ftpd_offload(ftpd_server_t *srv, int (*fn)(void *), void *arg);
/* Whether ftpd_offload would hand work off here (a coroutine, and a pool). */
bool ftpd_offloads(const ftpd_server_t *srv);
/* The same in two halves, so that the caller can go on meanwhile (an upload
 * receives its next chunk while the last one is written). begin starts
 * fn(arg) — or runs it at once where ftpd_offload would — and end waits for
 * it and returns its result; every begin has its end, and p and arg stay
 * valid until then. */
typedef struct {
  int (*fn)(void *);
  void *arg;
  mt_future_t *f;             /* NULL: it ran in begin */
  int rc;
} ftpd_offload_t;
void ftpd_offload_begin(ftpd_server_t *srv, ftpd_offload_t *p, int (*fn)(void *), void *arg);
int  ftpd_offload_end(ftpd_offload_t *p);

/* The snapshot new sessions get, with a reference the caller puts back
 * (config.c). ftpd_snapshot_new() takes over cfg (and users) and returns a
 * snapshot holding one reference, or NULL (cfg and users freed). */
ftpd_snapshot_t *ftpd_snapshot_new(ftpd_config_t *cfg, ftpd_users_t *users);
ftpd_snapshot_t *ftpd_snapshot_get(ftpd_server_t *srv);
void ftpd_snapshot_put(ftpd_snapshot_t *s);
/* Replaces srv's snapshot (SIGHUP); sessions running keep theirs. */
void ftpd_snapshot_swap(ftpd_server_t *srv, ftpd_snapshot_t *n);

/* ---- the HASH digest cache (digests.c) -------------------------------------- */
#define FTPD_DIGEST_MAX 64    /* bytes: SHA-512's digest, the longest offered */
struct stat;
/* A table of n entries in shared memory (made before any fork), or NULL
 * (n = 0, or no memory: HASH then always reads the file). */
struct ftpd_digests *ftpd_digests_new(size_t n);
void ftpd_digests_free(struct ftpd_digests *d);
/* The clock to read before the first byte of a digest (a file changed less
 * than a second before it is not remembered). */
struct timespec ftpd_digest_clock(void);
/* True, with the len-byte digest in out, when d holds algo's digest of
 * bytes [from, to) of the file whose fstat is st (same inode, size, mtime
 * and ctime). */
bool ftpd_digest_get(struct ftpd_digests *d, const struct stat *st, int algo, uint64_t from, uint64_t to, unsigned len,
                     unsigned char *out);
/* Remembers a digest read from the file between the fstats first and last,
 * begun at clock; false when it is not kept (the file changed meanwhile or
 * in clock's tick, the slot busy, or no table). */
bool ftpd_digest_put(struct ftpd_digests *d, const struct stat *first, const struct stat *last, struct timespec clock,
                     int algo, uint64_t from, uint64_t to, const unsigned char *digest, unsigned len);

/* ---- logging (log.c) -------------------------------------------------------- */
extern atomic_int ftpd_log_level;   /* changed by SIGHUP while sessions log */
void ftpd_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- a session ---------------------------------------------------------------- */
typedef struct ftpd_session {
  ftpd_server_t *srv;
  ftpd_snapshot_t *snap;
  const ftpd_config_t *cfg;   /* = &snap->cfg */
  unsigned long id;
  int ctrl;
  mt_linereader_t *lr;
  struct sockaddr_storage peer, local;
  char peer_ip[INET6_ADDRSTRLEN];
  int peer_port;
  sbuf_t out;                 /* reply being built */

  /* FTPS (commands/tls.c): the control connection's TLS once AUTH TLS has
   * succeeded, the data connection's during a PROT P transfer */
  struct ftls *tls, *dtls;
  bool pbsz, prot_p;

  /* login */
  char user[FTPD_MAX_USER + 1];
  bool user_given, logged_in, anonymous;
  int fails, prelogin_cmds;
  unsigned perms;
  int root_fd;                /* the user's root (srv->root_fd itself, shared, for
                                 users without a home of their own); -1 before login */
  const char *cwd;            /* ftpd_root_cwd or a copy on the heap: ftpd_sess_set_cwd() */

  /* transfer parameters */
  bool ascii;
  off_t rest;
  bool rang;                  /* RANG (draft-bryan-ftp-range-08) set: the next RETR or HASH
                                 covers bytes [rang_from, rang_stop) (RANG's end + 1) */
  off_t rang_from, rang_stop;
  char *rnfr;                 /* virtual path after RNFR */
  bool epsv_all, utf8;
  unsigned mlst_facts;
  int hash_algo;              /* HASH's algorithm (commands/hash.c), 0 = SHA-256 */
  int pasv_fd;                /* listening data socket, -1 */
  bool pasv_keep;             /* pasv_fd kept from the last transfer, not yet armed by a PASV/EPSV */
  int pasv_port;              /* pasv_fd's port */
  int pasv_keep_cmds;         /* commands since it was kept */
  bool mode_b;                /* MODE B (RFC 959 3.4.2): data in blocks, the data connection
                                 kept open between transfers (data.c) */
  int kept_dfd;               /* MODE B: the last transfer's data connection, kept; -1 */
  bool blk_eof;               /* MODE B: this transfer's EOF block went out or came in */
  bool xfer_blk;              /* the running transfer is in MODE B (fixed at its start: a
                                 REIN during it resets mode_b, not its framing) */
  /* max-rate (rate.c): this session's clock, and the user's shared one
   * (looked up at the first transfer after a login) */
  long long rate_next;
  struct rate_user *rate_user;
  bool rate_looked;
  struct sockaddr_storage port_addr;
  bool port_set;

  char verb[5];               /* the command being served, for the log */
  char logarg[160];           /* its argument as logged (PASS masked) */
  double started;

  /* during a transfer */
  bool in_xfer, abort_req;
  /* Commands a pipelining client sent during a transfer, run after it in
   * order (ABOR and STAT are answered at once, as RFC 959 asks). */
  char *deferred[FTPD_MAX_DEFERRED];
  size_t deferred_len[FTPD_MAX_DEFERRED];
  int n_deferred;
  off_t xfer_bytes;
  double last_cmd;
  bool quit;
  bool quit_in_xfer;          /* QUIT came during a transfer: stop reading, finish it */
  bool authenticated;         /* a login succeeded once: REIN may restart the pre-login limits */
  double line_start;          /* first byte of a line not yet complete was seen (0: none) */
  const char *why;            /* why the session ended, for the log */
  /* The coroutines model's set of parked sessions (model_co.c). */
  struct ftpd_session *park_prev, *park_next;
  bool park_armed;            /* the control fd is in the set's epoll */
} ftpd_session_t;

extern const char ftpd_root_cwd[];   /* "/" */
/* Sets the working directory (a resolved virtual path): 0 or -ENOMEM. */
int ftpd_sess_set_cwd(ftpd_session_t *s, const char *vpath);

/* Runs one control connection to its end and closes fd:
 * ftpd_session_open(), ftpd_session_serve(s, 0), ftpd_session_close(). */
void ftpd_session_run(ftpd_server_t *srv, int fd, const struct sockaddr_storage *peer);
/* A session in steps, for a model that lets idle sessions give their stack
 * back. open: the greeting sent (or the session already marked to end);
 * NULL when out of memory (421 sent, fd closed). */
ftpd_session_t *ftpd_session_open(ftpd_server_t *srv, int fd, const struct sockaddr_storage *peer);
/* Serves commands until the session is over (FTPD_SESS_DONE: call
 * ftpd_session_close) or, when park_after > 0, until it has waited
 * park_after seconds for a command with no byte of one buffered and no TLS
 * on the control connection (FTPD_SESS_PARKED: its buffers trimmed; no
 * frame of the caller's holds anything of it; call serve again when the
 * control fd is readable, at ftpd_session_deadline(s), or on shutdown). */
enum { FTPD_SESS_DONE = 0, FTPD_SESS_PARKED = 1 };
int ftpd_session_serve(ftpd_session_t *s, double park_after);
/* When the session's login or idle timeout expires (an mt_now() time). */
double ftpd_session_deadline(const ftpd_session_t *s);
/* Logs the end, frees everything of the session and closes its fd. */
void ftpd_session_close(ftpd_session_t *s);

/* replies (protocol.c) */
int  ftpd_reply(ftpd_session_t *s, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sends the multi-line reply built in s->out: code-first, lines, code last. */
int  ftpd_reply_multi(ftpd_session_t *s, int code, const char *first, const char *last);

/* ---- models ------------------------------------------------------------------ */
/* What a concurrency model provides. The session and the start-up code call
 * these and never ask which model runs them. */
typedef struct ftpd_model {
  const char *name;                 /* as --model spells it */
  const char *what;                 /* for the start-up log: "a thread per session from a pool" */
  /* Sessions run on a pool sized at start (max-clients then): admission is
   * bounded by srv->capacity too, which a SIGHUP raising max-clients cannot grow. */
  bool fixed_pool;
  /* Serves srv->listen_fd until stop is set, then shuts down in order; 0 or -1. */
  int (*run)(ftpd_server_t *srv, mt_event_t *stop);
  /* The session's display name ("ftp#12 alice") at its start and after
   * each login or logout; NULL where a session owns no thread to name. */
  void (*session_named)(const char *name);
  /* The session has ended (on the thread that ran it); NULL: nothing to do. */
  void (*session_end)(void);
  /* A login of the running session failed: tell the process that keeps
   * the ban table (model_fork.c); NULL: it is this one (ftpd_ban_failure). */
  void (*login_failed)(void);
} ftpd_model_t;
extern const ftpd_model_t ftpd_model_threads, ftpd_model_fork, ftpd_model_co;
/* The model for a config value (MODEL_*); never NULL for a checked config. */
const ftpd_model_t *ftpd_model_get(int model);

/* accept.c: a model's hand-off takes an admitted connection (0), or fails
 * (<0: the acceptor answers 421, closes it and releases its admission). */
typedef int (*ftpd_handoff_fn)(void *ctx, int fd, const struct sockaddr_storage *peer);
/* 1 if a connection came within timeout (handed off or refused), else 0. */
int  ftpd_accept_one(ftpd_server_t *srv, int lfd, double timeout, ftpd_handoff_fn fn, void *ctx);
int  ftpd_acceptors_start(ftpd_server_t *srv, ftpd_handoff_fn fn, void *ctx, mt_thread_t **threads);
/* Sets srv->stopping, joins the acceptors and closes the listening sockets. */
void ftpd_acceptors_stop(ftpd_server_t *srv, mt_thread_t **threads);
/* Admission control shared by the models: 0 admitted, else the 421 text sent. */
int  ftpd_admit(ftpd_server_t *srv, const struct sockaddr_storage *peer, const char **why);
void ftpd_release(ftpd_server_t *srv, const struct sockaddr_storage *peer);

/* Failed logins (ban.c). ftpd_login_failed() charges one to the session's
 * address wherever the ban table lives; ftpd_ban_failure() counts it there
 * (and bans the address at max-login-failures); ftpd_ban_left() is the
 * seconds the address stays banned, 0 when it is not (caller holds
 * srv->lock: admission asks it). */
void ftpd_login_failed(ftpd_session_t *s);
void ftpd_ban_failure(ftpd_server_t *srv, const struct sockaddr_storage *peer);
int  ftpd_ban_left(ftpd_server_t *srv, const char *ip);

/* The per-user rate clocks (rate.c), in memory shared with forked session
 * processes: made before any fork, NULL when mmap fails (then only the
 * per-session max-rate applies). */
struct ftpd_rates *ftpd_rates_new(void);
void ftpd_rates_free(struct ftpd_rates *t);

/* Privileges (priv.c). ftpd_drop_privileges(): started as root, become
 * run-as (NULL: ftp, else nobody) for good — groups, gid, uid, capability
 * sets and bounding set; 0, or -1 after printing why. ftpd_caps_clear():
 * empty this process's capability sets (0 or -errno).
 * ftpd_session_confine(): a session process's first step (no_new_privs,
 * no capabilities). */
int  ftpd_drop_privileges(const char *want);
int  ftpd_caps_clear(void);
void ftpd_session_confine(void);

/* xferlog line (log.c) */
void ftpd_xferlog(ftpd_session_t *s, double secs, off_t bytes, const char *path, char dir, bool complete);

void ftpd_addr_ip(const struct sockaddr_storage *ss, char *out, size_t n, int *port);
bool ftpd_addr_same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b);

#endif
