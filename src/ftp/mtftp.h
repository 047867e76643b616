/* mtftp.h — the client's internal interfaces, one section per module.
 *
 * url.c      ftp:// and ftps:// URLs
 * netrc.c    ~/.netrc credentials
 * session.c  one control connection: replies, login, data connections
 * ftps.c     FTPS (RFC 4217) on the shared TLS module: contexts, the
 *            certificate and pin policy, data-connection handshakes
 * pins.c     the --pin store ($XDG_DATA_HOME/mtftp/known_servers)
 * xfer.c     downloads and uploads: segmented, resumable, verified, parallel
 * progress.c the progress meter (knows nothing of FTP)
 * cli.c      main(), global options, one-shot commands, exit codes
 * shell.c    the interactive shell and scripts (libedit behind few wrappers)
 *
 * Everything runs in plain threads on libmt's blocking-style IO (mt_io,
 * mt_net); parallel transfers run on an mt_pool whose workers each hold
 * one logged-in session.
 */
#ifndef MTFTP_H
#define MTFTP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include <mt/net.h>

/* the shared TLS module's handles (src/ftpproto/tls.h) */
typedef struct ftls ftls_t;
typedef struct ftls_ctx ftls_ctx_t;

/* ---- exit codes (the man page's table; one per kind of failure) -------- */
enum {
  EX_OK_ = 0,
  EX_REMOTE = 1,     /* another refusal by the server (a 5xx not below) */
  EX_USAGE_ = 2,     /* bad command line or command */
  EX_CONNECT = 3,    /* cannot connect: DNS, refused, timeout, lost */
  EX_LOGIN = 4,      /* login refused */
  EX_NOTFOUND = 5,   /* remote file or directory not found */
  EX_PERM = 6,       /* permission denied */
  EX_XFER = 7,       /* transfer failed or short */
  EX_VERIFY = 8,     /* verification mismatch */
  EX_LOCAL = 9,      /* local file error (open, write, disk full) */
  EX_TLS = 10,       /* TLS or certificate failure: AUTH TLS refused, handshake
                        failed, certificate not verified, pinned key changed */
  EX_INTR = 130,     /* interrupted (Ctrl-C outside the shell) */
};

/* ---- global options ----------------------------------------------------- */
typedef struct {
  int verbose;          /* -1 quiet, 0 normal, 1 -v (the dialogue) */
  bool keep_going;      /* -k */
  double timeout;       /* --timeout, seconds */
  int retries;          /* --retries */
  double rate;          /* --rate, bytes/s over all transfers; 0 none */
  bool verify;          /* not --no-verify */
  bool active;          /* --active */
  bool progress;        /* stderr is a terminal and not -q */
  double keepalive;     /* NOOP period on the control connection (s) */
  bool tls;             /* --tls: explicit FTPS (AUTH TLS), required */
  const char *cacert;   /* --cacert FILE: a CA trusted besides the system store */
  bool insecure;        /* --insecure: the server's certificate is not checked */
  bool pin;             /* --pin: trust on first use (known_servers) */
} opts_t;
extern opts_t g_opts;
extern volatile sig_atomic_t g_interrupted;   /* SIGINT seen */

/* ---- url.c ---------------------------------------------------------------- */
typedef struct {
  char user[256];       /* "" when absent */
  char pass[256];
  bool has_user, has_pass;
  char host[256];       /* without IPv6 brackets */
  int port;             /* 21 when absent (990 for ftps://) */
  char path[4096];      /* decoded, without the leading '/'; "" for the root */
  bool dir;             /* ended in '/' (or named the root) */
  bool implicit_tls;    /* ftps://: TLS from the first byte */
} url_t;
/* Parses "[ftp[s]://][user[:pass]@]host[:port][/path]" with %XX decoding.
 * 0, or -EINVAL (and *err the reason). */
int url_parse(const char *s, url_t *u, const char **err);
bool url_is_url(const char *s);   /* starts with ftp:// or ftps:// */

/* ---- netrc.c -------------------------------------------------------------- */
/* Looks up host (or `default`) in the netrc at path (NULL: $NETRC, else
 * ~/.netrc). login/pass filled when found (login may stay "" when only a
 * password is there). Returns 1 found, 0 not found or no file, -EPERM when
 * the file is readable or writable by group or others (*why says so). */
int netrc_lookup(const char *path, const char *host, char *login, size_t loginsz, char *pass,
                 size_t passsz, const char **why);

/* ---- session.c ------------------------------------------------------------ */
enum { TLS_OFF = 0, TLS_EXPLICIT = 1, TLS_IMPLICIT = 2 };

/* Where a session connects, as whom, and how (one per shell or command;
 * segments, hash helpers and parallel workers open their sessions to it). */
typedef struct {
  const char *host;
  int port;
  const char *user;
  const char *pass;
  int tls;              /* TLS_OFF, TLS_EXPLICIT (AUTH TLS) or TLS_IMPLICIT */
} target_t;

typedef struct {
  char name[1024];
  int type;             /* FTPP_LIST_FILE / DIR / LINK / OTHER */
  uint64_t size;
  bool has_size;
  time_t mtime;         /* -1 unknown */
  unsigned mode;        /* 0 unknown */
} rentry_t;

typedef struct {
  rentry_t *v;
  size_t n, cap;
} rlist_t;
void rlist_free(rlist_t *l);

typedef struct sess {
  int fd;
  mt_linereader_t *lr;
  char host[256];
  int port;
  char user[256];
  char pass[256];
  struct sockaddr_storage peer;   /* the control connection's two ends */
  struct sockaddr_storage local;
  bool active;
  bool no_epsv;                   /* EPSV refused once: PASV from then on */
  bool epsv_ok;                   /* EPSV worked: sent with the transfer command from then on */
  char type;                      /* 'I', 'A' or 0 (unknown) */
  bool feat_mlst, feat_size, feat_mdtm, feat_mfmt, feat_rest, feat_utf8, feat_hash_sha256;
  bool feat_rang;                 /* RANG (draft-bryan-ftp-range-08): HASH of a byte range */
  bool hash_selected;
  int code;                       /* the last reply's code; 0 none */
  char reply[2048];               /* its last line, CRLF removed */
  char *text;                     /* the whole last reply (multi-line); owned */
  size_t text_len, text_cap;
  int data_fd;                    /* open data connection or -1 */
  int listen_fd;                  /* active mode listener or -1 */
  double last_cmd;                /* mt_now() of the last command sent */
  int pending_noops;              /* NOOPs sent during a transfer, replies unread */
  bool hash_ahead;                /* a HASH sent ahead (pipelined), its reply unread */
  int ahead_code;                 /* that reply once read: code (0 none) and last line */
  char ahead_reply[512];
  bool ascii;                     /* the user chose `ascii` (TYPE A transfers) */
  char cwd[4096];
  char *buf;                      /* transfer buffer, kept for the session's life; owned */
  ftls_t *tls;                    /* the control connection's TLS, or NULL; owned */
  ftls_t *dtls;                   /* the data connection's (PROT P), or NULL; owned */
  ftls_ctx_t *tls_ctx;            /* the context both were made from (ftps.c owns it) */
  bool prot_p;                    /* data connections are TLS */
  bool key_pinned;                /* the server's key was checked against known_servers */
  unsigned char key[32];          /* the control connection's server key (SHA-256) */
  bool data_in;                   /* the data connection brings data (RETR, LIST...) */
  bool data_truncated;            /* it ended without close_notify: nothing it brought counts */
  /* MODE B (RFC 959 3.4.2, session.c): a download of a small file asks for
   * it (want_block), so that the data connection stays open for the next */
  bool want_block;                /* the next transfer would take MODE B */
  bool mode_b, no_mode_b;         /* the server is in MODE B / refused it */
  unsigned char blk_hdr[3];       /* the block header (FTPP_BLOCK_HEADER bytes) being read, blk_hlen of it */
  int blk_hlen;
  bool blk_eof, blk_marker;       /* the current block is the file's last / a restart marker */
  size_t blk_left;                /* bytes of the current block not yet read */
  char err[2048];                 /* the last error, for one-line messages */
  int err_exit;                   /* the exit code that error calls for */
} sess_t;

void sess_init(sess_t *s);
/* Connects to t (within g_opts.timeout), with TLS as t->tls says (implicit:
 * the handshake first; explicit: AUTH TLS after the greeting, no fallback),
 * reads the greeting, logs in as user/pass ("" user: anonymous), sends
 * PBSZ 0 + PROT P under TLS, FEAT, OPTS UTF8 ON, TYPE I. 0 or an exit code
 * (EX_CONNECT, EX_LOGIN, EX_TLS...), s->err set. */
int sess_open(sess_t *s, const target_t *t);
void sess_close(sess_t *s);       /* QUIT (best effort) and free; s reusable */
void sess_drop(sess_t *s);        /* closes the connections at once; keeps the buffer */
/* The session's transfer buffer (XFER_BUFSZ bytes), made on first use: a
 * worker moving thousands of small files allocates it once. NULL: ENOMEM. */
char *sess_buf(sess_t *s);
#define XFER_BUFSZ (128 * 1024)
bool sess_connected(const sess_t *s);
/* Sends a command line and reads the reply: its code (100-599), or a
 * negative error (the connection is then closed). */
int sess_cmd(sess_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sess_send(sess_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sess_reply(sess_t *s, double timeout);
int sess_type(sess_t *s, char type);
/* Maps the last reply (or a negative error) to an exit code and fills
 * s->err with "CODE text". */
int sess_fail(sess_t *s, int r);
/* A data transfer: opens the data connection (EPSV, PASV or active),
 * optionally REST, sends the verb, returns 0 with s->data_fd ready, or an
 * exit code. */
int sess_data_begin(sess_t *s, int64_t rest, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Closes the data connection and reads the transfer's final reply. Under
 * TLS: a download's must have ended with the server's close_notify (else
 * EX_XFER, s->data_truncated), and ours is sent. 0 or an exit code. */
int sess_data_end(sess_t *s);
/* The data connection's bytes, through TLS when PROT P: a count, 0 at its
 * end (close_notify under TLS), or a negative code (MT_ETIMEDOUT...). A TLS
 * end without close_notify is -ECONNABORTED and sets s->data_truncated. */
ssize_t sess_data_read(sess_t *s, void *buf, size_t n, double timeout);
/* All n bytes, or a negative code. */
ssize_t sess_data_write(sess_t *s, const void *buf, size_t n, double timeout);
/* What a data connection failure r means, one line (TLS's reason when PROT P). */
const char *sess_data_strerror(const sess_t *s, int r);
/* Closes the data connection at once (no close_notify: the transfer failed). */
void sess_data_close(sess_t *s);
/* Aborts a running transfer: ABOR, the data connection closed, replies read
 * until the session is back in step (else the connection is closed). */
void sess_abort(sess_t *s);
/* Sends a NOOP if the control connection was idle for g_opts.keepalive. */
void sess_keepalive(sess_t *s);
/* The directory's entries (MLSD when offered, else LIST parsed). */
int sess_list(sess_t *s, const char *path, rlist_t *out);
/* Raw listing lines to fd (LIST or NLST). */
int sess_list_raw(sess_t *s, const char *verb, const char *path, int fd);
/* SIZE / MDTM. 0 or an exit code. */
int sess_size(sess_t *s, const char *path, uint64_t *size);
int sess_mdtm(sess_t *s, const char *path, time_t *t);
/* Whether path is a directory (CWD probe, cwd restored). 1, 0, or -1 lost. */
int sess_is_dir(sess_t *s, const char *path);
int sess_pwd(sess_t *s);   /* refreshes s->cwd */
/* HASH: the SHA-256 of path in hex (65 bytes). 0; 1 when the server does
 * not offer it; or an exit code. */
int sess_hash(sess_t *s, const char *path, char *hex);
/* Sends HASH without waiting: its reply is read ahead of the next
 * command's (sess_cmd), so a small download's hash costs no round trip of
 * its own. 0, or -1 when the server offers no HASH SHA-256 or the send failed. */
int sess_hash_ahead(sess_t *s, const char *path);
/* The HASH reply read ahead, as sess_hash would return it; -1 if none came. */
int sess_hash_ahead_result(sess_t *s, char *hex);
/* The server's SHA-256 of each of n byte ranges [from[i], to[i]) of path:
 * RANG and HASH for every range, then RANG 1 0, all sent before any reply
 * is read.
 * 0 with hex[i] filled; 1 when the server cannot (no RANG or HASH, or a
 * reply for another range); else an exit code. */
int sess_hash_ranges(sess_t *s, const char *path, int n, const uint64_t *from, const uint64_t *to, char (*hex)[65]);

/* ---- ftps.c --------------------------------------------------------------------
 * The certificate policy: verified against the system store (plus
 * --cacert), host name checked; --insecure: not checked, a warning on every
 * control connection; --pin: a key recorded in known_servers is
 * authoritative (the chain is not checked then; a different key is refused),
 * a first contact still needs a verified chain unless --insecure. */
/* The handshake on s->fd (the control connection) and the policy above.
 * 0, or EX_TLS (EX_LOCAL for a known_servers that cannot be written) with
 * s->err set. */
int ftps_control(sess_t *s);
/* The handshake on s->data_fd, resuming the control connection's session.
 * 0 or an exit code, s->err set. */
int ftps_data(sess_t *s);
void ftps_cleanup(void);      /* frees the contexts (at exit) */

/* ---- pins.c ---------------------------------------------------------------------- */
/* known_servers: one line per server, "HOST:PORT sha256 HEX" ([v6]:PORT), '#'
 * comments. The file's path (static storage), or NULL (no HOME). */
const char *pins_path(void);
/* 1 found (key and the 1-based line filled), 0 not there or no file, or -errno
 * (then *why says what). */
int pins_lookup(const char *host, int port, unsigned char key[32], int *line, const char **why);
/* Records host:port's key (replacing nothing: a line for it must not exist);
 * written to a temporary file and renamed over, mode 0600, in a directory
 * made 0700. 0 or -errno (*why). */
int pins_record(const char *host, int port, const unsigned char key[32], const char **why);

/* ---- progress.c ------------------------------------------------------------ */
typedef struct prog prog_t;
prog_t *prog_start(const char *name, uint64_t total, uint64_t done);
void prog_add(prog_t *p, uint64_t n);     /* thread-safe; redraws at most 10/s */
void prog_end(prog_t *p);
void prog_clear(void);                    /* erase the meter (before output) */

/* ---- xfer.c ------------------------------------------------------------------- */
typedef struct {
  int segments;         /* get -s N (1: one stream) */
  bool resume;          /* -c */
  time_t set_mtime;     /* >= 0: set the local file's time after download */
  bool quiet_skip;
  int64_t size_hint;    /* >= 0: the size from a listing (no SIZE sent); -1 unknown */
} getopts_t;

/* Downloads remote `path` into local file `local` ("-": stdout) over
 * session s (more connections made to t for segments). 0 or an exit code;
 * the error is in s->err. */
int xfer_get(sess_t *s, const target_t *t, const char *path, const char *local, const getopts_t *o);
int xfer_put(sess_t *s, const char *local, const char *path, bool resume, time_t mtime);

typedef struct {
  char *remote;
  char *local;
  bool upload;
  time_t mtime;         /* remote mtime for downloads / local for uploads */
  int64_t size;         /* the remote size from a listing, -1 unknown */
  const char *label;    /* what an error names (a URL); NULL: the path */
  int rc;
  char err[2048];
} job_t;
/* Runs jobs on nworkers (mt_pool), each worker one session to t reused
 * for all its jobs. Prints each failure; returns 0 or the first failing
 * job's exit code. */
int xfer_parallel(const target_t *t, job_t *jobs, size_t n, int nworkers, const getopts_t *o);
/* Rate limiting over all transfers of the process. */
void rate_take(size_t n);

/* ---- shell.c / cli.c ---------------------------------------------------------- */
typedef struct {
  sess_t s;
  target_t t;
  char host[256], user[256], pass[256];
  int port;
  const char *label;    /* what errors name instead of the command line (one-shot URLs) */
  bool list_dirty;      /* the completion cache is stale */
  bool tls_next;        /* `tls` was given: later opens use explicit TLS */
} ctx_t;
/* Runs one shell command line. Returns 0, an exit code, or -1 for quit. */
int shell_exec(ctx_t *c, char *line);
int shell_interactive(ctx_t *c);
int shell_script(ctx_t *c, const char *script);   /* ';' or newlines */
int shell_stdin(ctx_t *c);
/* Resolves credentials for host: URL ones, netrc, MTFTP_PASSWORD, prompt.
 * 0 or EX_USAGE_/EX_LOGIN with a message printed. */
int creds_resolve(const url_t *u, char *user, size_t usz, char *pass, size_t psz);
/* The TLS a URL calls for: ftps:// implicit, else explicit with --tls. */
int tls_mode(const url_t *u);
void errmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_mirror(ctx_t *c, bool reverse, bool del, bool dry, int jobs, const char *remote, const char *local);
int cli_mget(ctx_t *c, char **pats, int n, int jobs, const char *odir, const getopts_t *o);
int cli_mput(ctx_t *c, char **files, int n, int jobs, const char *rdir);
/* Joins a remote directory and a name. */
void rjoin(char *out, size_t outsz, const char *dir, const char *name);

#endif
