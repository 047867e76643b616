/* session.h — what the command files share with session.c. */
#ifndef FTPD_SESSION_H
#define FTPD_SESSION_H

#include "fs.h"
#include "ftpproto.h"
#include "ftpd.h"
#include "protocol.h"

enum {
  CMD_LOGIN = 1 << 0,          /* needs a logged-in user: 530 */
  CMD_ARG = 1 << 1,            /* needs an argument: 501 without one */
  CMD_LOGIN_WITH_ARG = 1 << 2, /* STAT: login, permission and path only with an argument */
};

/* Which part of a verb's argument names a file (the dispatcher resolves it
 * beneath the root and authorizes it before the handler runs). */
enum {
  PATH_NONE = 0,     /* the argument is no path */
  PATH_ARG,          /* the argument; none: the cwd */
  PATH_LIST,         /* the argument after ls-style options ("LIST -la dir") */
  PATH_CWD,          /* the argument, ".." clamped at the root */
  PATH_UP,           /* "..", clamped at the root (CDUP) */
  PATH_UNIQUE,       /* the argument; none: "ftp-upload" (STOU) */
  PATH_AFTER_WORD,   /* what follows the first word (MFMT time, SITE CHMOD mode) */
};

/* A handler: arg is the argument as sent (never NULL), vp the resolved and
 * authorized virtual path for an entry with a path, else NULL. */
typedef void (*ftpd_cmd_fn)(ftpd_session_t *s, const char *arg, const char *vp);

typedef struct {
  const char *verb;
  ftpd_cmd_fn fn;
  unsigned flags;     /* CMD_* */
  unsigned perm;      /* PERM_* the user needs for the path; 0 with PATH_NONE */
  int path;           /* PATH_* */
  const char *help;
} ftpd_cmd_def_t;

/* The tables (commands/table.c), each ended by an entry with verb NULL. */
extern const ftpd_cmd_def_t ftpd_cmds[], ftpd_site_cmds[];
const ftpd_cmd_def_t *ftpd_cmd_lookup(const char *verb);
const ftpd_cmd_def_t *ftpd_site_lookup(const char *word, size_t n);
/* Runs d for arg after its table entry's checks: login (530), argument
 * (501), path resolution (550) and ftpd_authorize(). */
void ftpd_cmd_run(ftpd_session_t *s, const ftpd_cmd_def_t *d, const char *arg);

/* The one authorization gate, called only by ftpd_cmd_run(): true when the
 * user holds perm for vpath; otherwise replies 550 and logs the refusal. */
bool ftpd_authorize(ftpd_session_t *s, unsigned perm, const char *vpath);
/* Replies `code` with a message for a -errno from the file system. */
void ftpd_reply_err(ftpd_session_t *s, int code, int err, const char *vpath);

/* A control line that arrived during a transfer: ABOR and STAT act at
 * once; anything else waits for the transfer's end (pipelining clients). */
void ftpd_sess_during_xfer(ftpd_session_t *s, const char *line, size_t len);
/* Names the thread after the session ("ftp#12 alice") where it owns one. */
void ftpd_sess_name(ftpd_session_t *s);
/* Reset the login state (REIN, and session end). */
void ftpd_sess_logout(ftpd_session_t *s);
/* FTPS policy (commands/tls.c): true when USER may go on / a data
 * connection may open; otherwise the refusal is sent and logged. */
bool ftpd_tls_login_allowed(ftpd_session_t *s);
/* At the start of a session on an implicit-FTPS listener: the handshake
 * before the greeting. 0 (done, or not such a listener), -1 (failed). */
int  ftpd_tls_implicit(ftpd_session_t *s);
bool ftpd_tls_data_allowed(ftpd_session_t *s);
/* HASH (commands/hash.c): the FEAT line's algorithm list, and OPTS HASH. */
void ftpd_hash_feat(const ftpd_session_t *s, char *out, size_t n);
void ftpd_hash_opts(ftpd_session_t *s, const char *arg);
/* REIN (commands/login.c), also run during a transfer. */
void ftpd_cmd_rein(ftpd_session_t *s, const char *arg, const char *vp);

/* data.c */
void ftpd_data_reset(ftpd_session_t *s);
/* MODE B: closes the data connection kept from the last transfer, if any. */
void ftpd_data_drop_kept(ftpd_session_t *s);
/* The session waits for a command (a wait slice ended), or a command
 * comes: a passive listener kept from the last transfer is closed, at once
 * or when a few commands (KEEP_CMDS, data.c) have come since. */
void ftpd_data_idle(ftpd_session_t *s);
void ftpd_data_next_command(ftpd_session_t *s);
/* Opens the data connection announced by PASV/EPSV/PORT/EPRT after sending
 * "150 what". Returns the fd, or -1 after replying (425). */
int  ftpd_data_open(ftpd_session_t *s, const char *what);
/* Sends a buffer / a file over the data connection, watching the control
 * connection for ABOR, STAT and QUIT: the file from off up to stop (not
 * included; -1: its end, as its size was at the start). 0, or a negative
 * code (the 4xx reply already sent when it was the client's doing: ABOR). */
int  ftpd_data_send_buf(ftpd_session_t *s, int dfd, const char *p, size_t n);
int  ftpd_data_send_file(ftpd_session_t *s, int dfd, int ffd, off_t off, off_t stop, off_t *sent);
int  ftpd_data_recv_file(ftpd_session_t *s, int dfd, int ffd, off_t *got);
/* Drops a data connection without a final reply of its own (the caller
 * sends one): TLS state freed, fd closed, the transfer over. */
void ftpd_data_close(ftpd_session_t *s, int dfd);
/* Ends a transfer: closes dfd and sends 226 (rc 0) or the matching 4xx. */
void ftpd_data_finish(ftpd_session_t *s, int dfd, int rc, const char *okmsg);

/* rate.c: the transfer loops ask for a chunk size, wait ftpd_rate_delay()
 * seconds (reading the control connection meanwhile) before each chunk,
 * and charge the bytes that moved. No limit: the whole chunk, 0 s. */
size_t ftpd_rate_chunk(ftpd_session_t *s, size_t want);
double ftpd_rate_delay(ftpd_session_t *s);
void   ftpd_rate_charge(ftpd_session_t *s, size_t n);

/* listing.c */
enum { LIST_LONG, LIST_NAMES, LIST_MLSD };
/* Appends entries for vpath (a directory's contents or one file) to b.
 * Returns 0 or -errno. line_prefix is put before each line (STAT uses " "). */
int  ftpd_list(ftpd_session_t *s, const char *vpath, int style, sbuf_t *b, const char *line_prefix);
/* One MLST fact line for vpath into b (without prefix or CRLF). */
int  ftpd_mlst_one(ftpd_session_t *s, const char *vpath, sbuf_t *b);
#define MLST_ALL_FACTS FTPP_FACT_ALL

#endif
