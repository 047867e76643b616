/* session.h — what the command files share with session.c. */
#ifndef FTPD_SESSION_H
#define FTPD_SESSION_H

#include "fs.h"
#include "ftpproto.h"
#include "ftpd.h"
#include "protocol.h"

enum {
  CMD_LOGIN = 1 << 0,   /* needs a logged-in user */
  CMD_ARG = 1 << 1,     /* needs an argument: 501 without one */
};

typedef void (*ftpd_cmd_fn)(ftpd_session_t *s, const char *arg);

typedef struct {
  const char *verb;
  ftpd_cmd_fn fn;
  unsigned flags;
  const char *help;
} ftpd_cmd_def_t;

const ftpd_cmd_def_t *ftpd_cmd_lookup(const char *verb);
extern const ftpd_cmd_def_t ftpd_cmds[];

/* Resolves arg against the cwd into vpath. On failure replies 550 and
 * returns false. */
bool ftpd_sess_path(ftpd_session_t *s, const char *arg, char vpath[FTPD_MAX_PATH + 1]);
/* The one authorization gate: true when the user holds perm for vpath;
 * otherwise replies 550 and logs the refusal. */
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
/* REIN (commands/login.c), also run during a transfer. */
void ftpd_cmd_rein(ftpd_session_t *s, const char *arg);

/* data.c */
void ftpd_data_reset(ftpd_session_t *s);
/* Opens the data connection announced by PASV/EPSV/PORT/EPRT after sending
 * "150 what". Returns the fd, or -1 after replying (425). */
int  ftpd_data_open(ftpd_session_t *s, const char *what);
/* Sends a buffer / a file over the data connection, watching the control
 * connection for ABOR, STAT and QUIT. 0, or a negative code (the 4xx reply
 * already sent when it was the client's doing: ABOR). */
int  ftpd_data_send_buf(ftpd_session_t *s, int dfd, const char *p, size_t n);
int  ftpd_data_send_file(ftpd_session_t *s, int dfd, int ffd, off_t off, off_t *sent);
int  ftpd_data_recv_file(ftpd_session_t *s, int dfd, int ffd, off_t *got);
/* Ends a transfer: closes dfd and sends 226 (rc 0) or the matching 4xx. */
void ftpd_data_finish(ftpd_session_t *s, int dfd, int rc, const char *okmsg);

/* listing.c */
enum { LIST_LONG, LIST_NAMES, LIST_MLSD };
/* Appends entries for vpath (a directory's contents or one file) to b.
 * Returns 0 or -errno. line_prefix is put before each line (STAT uses " "). */
int  ftpd_list(ftpd_session_t *s, const char *vpath, int style, sbuf_t *b, const char *line_prefix);
/* One MLST fact line for vpath into b (without prefix or CRLF). */
int  ftpd_mlst_one(ftpd_session_t *s, const char *vpath, sbuf_t *b);
#define MLST_ALL_FACTS FTPP_FACT_ALL

#endif
