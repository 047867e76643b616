/* shell.c — the interactive shell, scripts (-c and standard input), and
 * the commands they share with the one-shot mode (mirror, mget, mput).
 *
 * Commands come from one table (name, handler, usage, help) that drives
 * dispatch, unique-prefix matching, `help` and completion. libedit is used
 * only in the "line editor" section below (readline, history, completion),
 * so nothing else touches the terminal library. Ctrl-C sets g_interrupted:
 * a transfer sees it, sends ABOR and returns EX_INTR, and the shell clears
 * it and prompts again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <editline/readline.h>

#include "ftpproto.h"
#include "listparse.h"
#include "mtftp.h"
#include "tls.h"

#define MAXARGS 256

typedef int (*cmd_fn)(ctx_t *c, int argc, char **argv);
typedef struct {
  const char *name;
  cmd_fn fn;
  const char *usage;
  const char *help;
  char complete;   /* 'r' remote paths, 'l' local paths, 0 none */
} cmd_t;

static const cmd_t *find_cmd(const char *name, bool *ambiguous);

void rjoin(char *out, size_t outsz, const char *dir, const char *name) {
  if (name[0] == '/' || !dir[0] || !strcmp(dir, ".")) snprintf(out, outsz, "%s", name);
  else snprintf(out, outsz, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", name);
}

/* path made absolute against the session's directory: parallel workers log
 * in afresh, at the login directory, not where `cd` took this session. */
static void rabs(ctx_t *c, const char *path, char *out, size_t outsz) {
  if (path[0] == '/' || !c->s.cwd[0]) snprintf(out, outsz, "%s", path[0] ? path : ".");
  else if (!path[0] || !strcmp(path, ".")) snprintf(out, outsz, "%s", c->s.cwd);
  else rjoin(out, outsz, c->s.cwd, path);
}

static int need_conn(ctx_t *c) {
  if (sess_connected(&c->s)) return 0;
  if (c->host[0]) {   /* lost (timeout, server restart): one reconnect */
    int r = sess_open(&c->s, &c->t);
    if (r == 0) return 0;
    return r;
  }
  snprintf(c->s.err, sizeof c->s.err, "not connected (use open)");
  return EX_USAGE_;
}

static int simple(ctx_t *c, int want, const char *fmt, const char *arg) {
  int r = need_conn(c);
  if (r) return r;
  r = sess_cmd(&c->s, fmt, arg);
  if (r != want && !(want == 250 && r == 200)) return sess_fail(&c->s, r);
  return 0;
}

/* ---- commands ---------------------------------------------------------------- */

static int c_open(ctx_t *c, int argc, char **argv) {
  if (argc < 2) {
    snprintf(c->s.err, sizeof c->s.err, "usage: open URL");
    return EX_USAGE_;
  }
  url_t u;
  const char *why = "bad URL";
  if (url_parse(argv[1], &u, &why)) {
    snprintf(c->s.err, sizeof c->s.err, "%s", why);
    return EX_USAGE_;
  }
  if (argc > 2) u.port = atoi(argv[2]);
  sess_close(&c->s);
  creds_resolve(&u, c->user, sizeof c->user, c->pass, sizeof c->pass);
  snprintf(c->host, sizeof c->host, "%s", u.host);
  c->port = u.port;
  c->t = (target_t){c->host, c->port, c->user, c->pass, c->tls_next ? TLS_EXPLICIT : tls_mode(&u)};
  if (u.implicit_tls) c->t.tls = TLS_IMPLICIT;
  int r = sess_open(&c->s, &c->t);
  if (r) {
    c->host[0] = 0;
    return r;
  }
  c->list_dirty = true;
  if (u.path[0]) {
    r = sess_cmd(&c->s, "CWD %s", u.path);
    if (r != 250) return sess_fail(&c->s, r);
    sess_pwd(&c->s);
  }
  if (g_opts.verbose >= 0 && isatty(0)) info("connected to %s as %s", c->host, c->s.user);
  return 0;
}

static int c_close(ctx_t *c, int argc, char **argv) {
  sess_close(&c->s);
  c->host[0] = 0;
  return 0;
}

static int c_user(ctx_t *c, int argc, char **argv) {
  if (argc < 2 || !c->host[0]) {
    snprintf(c->s.err, sizeof c->s.err, "usage: user NAME [PASSWORD] (after open)");
    return EX_USAGE_;
  }
  url_t u = {0};
  snprintf(u.host, sizeof u.host, "%s", c->host);
  snprintf(u.user, sizeof u.user, "%s", argv[1]);
  u.has_user = true;
  if (argc > 2) {
    snprintf(u.pass, sizeof u.pass, "%s", argv[2]);
    u.has_pass = true;
  }
  creds_resolve(&u, c->user, sizeof c->user, c->pass, sizeof c->pass);
  sess_close(&c->s);
  return sess_open(&c->s, &c->t);
}

/* `tls`: the session goes over to explicit FTPS. Servers take AUTH TLS
 * only before USER (RFC 2228 has AUTH reset the login), so a logged-in
 * session reconnects: AUTH TLS, PROT P, the same login, and back to the
 * same directory. Not connected: the next `open` uses TLS. */
static int c_tls(ctx_t *c, int argc, char **argv) {
  if (!c->host[0]) {
    c->tls_next = true;
    if (g_opts.verbose >= 0 && isatty(0)) info("the next open uses TLS (AUTH TLS)");
    return 0;
  }
  if (c->s.tls) {
    if (g_opts.verbose >= 0) info("TLS is already on");
    return 0;
  }
  char cwd[sizeof c->s.cwd];
  snprintf(cwd, sizeof cwd, "%s", c->s.cwd);
  sess_close(&c->s);
  c->t.tls = TLS_EXPLICIT;
  c->tls_next = true;
  int r = sess_open(&c->s, &c->t);
  if (r) return r;
  if (cwd[0] && strcmp(cwd, c->s.cwd)) {
    r = sess_cmd(&c->s, "CWD %s", cwd);
    if (r != 250) return sess_fail(&c->s, r);
    sess_pwd(&c->s);
  }
  c->list_dirty = true;
  if (g_opts.verbose >= 0 && isatty(0)) info("TLS on (%s)", ftls_version(c->s.tls));
  return 0;
}

static int c_ls(ctx_t *c, int argc, char **argv) {
  int r = need_conn(c);
  if (r) return r;
  fflush(stdout);
  return sess_list_raw(&c->s, !strcmp(argv[0], "nls") ? "NLST" : "LIST", argc > 1 ? argv[1] : NULL, 1);
}

static int c_cd(ctx_t *c, int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "/";
  int r = !strcmp(argv[0], "cdup") ? simple(c, 250, "CDUP%s", "") : simple(c, 250, "CWD %s", dir);
  if (r == 0) {
    sess_pwd(&c->s);
    c->list_dirty = true;
  }
  return r;
}

static int c_pwd(ctx_t *c, int argc, char **argv) {
  int r = need_conn(c);
  if (r) return r;
  sess_pwd(&c->s);
  printf("%s\n", c->s.cwd);
  return 0;
}

static int c_lcd(ctx_t *c, int argc, char **argv) {
  const char *d = argc > 1 ? argv[1] : getenv("HOME");
  if (!d || chdir(d)) {
    snprintf(c->s.err, sizeof c->s.err, "%s: %s", d ? d : "HOME", strerror(errno));
    return EX_LOCAL;
  }
  return 0;
}

static int c_lpwd(ctx_t *c, int argc, char **argv) {
  char buf[PATH_MAX];
  if (!getcwd(buf, sizeof buf)) return EX_LOCAL;
  printf("%s\n", buf);
  return 0;
}

static const char *bname(const char *p) {
  const char *b = strrchr(p, '/');
  return b ? b + 1 : p;
}

static int c_get(ctx_t *c, int argc, char **argv) {
  getopts_t o = {.segments = 1, .set_mtime = -1, .size_hint = -1, .resume = !strcmp(argv[0], "reget")};
  const char *out = NULL, *src = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-c")) o.resume = true;
    else if (!strcmp(argv[i], "-s") && i + 1 < argc) o.segments = atoi(argv[++i]);
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!src) src = argv[i];
    else if (!out) out = argv[i];
  }
  if (!src || o.segments < 1) {
    snprintf(c->s.err, sizeof c->s.err, "usage: get [-o LOCAL] [-c] [-s N] REMOTE [LOCAL]");
    return EX_USAGE_;
  }
  int r = need_conn(c);
  if (r) return r;
  return xfer_get(&c->s, &c->t, src, out ? out : bname(src), &o);
}

static int c_put(ctx_t *c, int argc, char **argv) {
  bool resume = !strcmp(argv[0], "reput");
  const char *out = NULL, *src = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-c")) resume = true;
    else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
    else if (!src) src = argv[i];
    else if (!out) out = argv[i];
  }
  if (!src) {
    snprintf(c->s.err, sizeof c->s.err, "usage: put [-o REMOTE] [-c] LOCAL [REMOTE]");
    return EX_USAGE_;
  }
  int r = need_conn(c);
  if (r) return r;
  struct stat st;
  c->list_dirty = true;
  return xfer_put(&c->s, src, out ? out : bname(src), resume, stat(src, &st) == 0 ? st.st_mtime : -1);
}

static int parse_j(int *argc, char **argv, int *jobs) {
  int k = 1;
  for (int i = 1; i < *argc; i++) {
    if (!strcmp(argv[i], "-j") && i + 1 < *argc) *jobs = atoi(argv[++i]);
    else argv[k++] = argv[i];
  }
  *argc = k;
  return *jobs >= 1 ? 0 : -1;
}

int cli_mget(ctx_t *c, char **pats, int n, int jobs, const char *odir, const getopts_t *o) {
  size_t cap = 64, nj = 0;
  job_t *jl = calloc(cap, sizeof *jl);
  int ex = 0;
  for (int i = 0; i < n && !ex; i++) {
    char dir[4096];
    const char *slash = strrchr(pats[i], '/');
    const char *pat = slash ? slash + 1 : pats[i];
    char rel[4096];
    snprintf(rel, sizeof rel, "%.*s", slash ? (int)(slash - pats[i] + (slash == pats[i])) : 0, pats[i]);
    rabs(c, rel, dir, sizeof dir);
    rlist_t l;
    ex = sess_list(&c->s, dir, &l);
    if (ex) break;
    size_t before = nj;
    for (size_t k = 0; k < l.n; k++) {
      if (l.v[k].type == FTPP_LIST_DIR || fnmatch(pat, l.v[k].name, FNM_PERIOD)) continue;
      if (nj == cap) {
        cap *= 2;
        jl = realloc(jl, cap * sizeof *jl);
      }
      char rp[4200], lp[4200];
      rjoin(rp, sizeof rp, dir, l.v[k].name);
      if (odir) snprintf(lp, sizeof lp, "%s/%s", odir, l.v[k].name);
      else snprintf(lp, sizeof lp, "%s", l.v[k].name);
      jl[nj++] = (job_t){.remote = strdup(rp), .local = strdup(lp), .mtime = l.v[k].mtime,
                         .size = l.v[k].has_size ? (int64_t)l.v[k].size : -1};
    }
    rlist_free(&l);
    if (nj == before) {
      snprintf(c->s.err, sizeof c->s.err, "%s: no remote file matches", pats[i]);
      ex = EX_NOTFOUND;
    }
  }
  if (!ex) {
    ex = xfer_parallel(&c->t, jl, nj, jobs, o);
    if (ex) c->s.err[0] = 0;   /* each failure was printed */
  }
  for (size_t k = 0; k < nj; k++) {
    free(jl[k].remote);
    free(jl[k].local);
  }
  free(jl);
  return ex;
}

static int c_mget(ctx_t *c, int argc, char **argv) {
  int jobs = 1;
  if (parse_j(&argc, argv, &jobs) || argc < 2) {
    snprintf(c->s.err, sizeof c->s.err, "usage: mget [-j N] PATTERN...");
    return EX_USAGE_;
  }
  int r = need_conn(c);
  if (r) return r;
  getopts_t o = {.segments = 1, .set_mtime = -1, .size_hint = -1};
  return cli_mget(c, argv + 1, argc - 1, jobs, NULL, &o);
}

int cli_mput(ctx_t *c, char **files, int n, int jobs, const char *rdir) {
  job_t *jl = calloc((size_t)n, sizeof *jl);
  char (*rem)[4200] = calloc((size_t)n, sizeof *rem);
  char dir[4096];
  rabs(c, rdir ? rdir : "", dir, sizeof dir);
  for (int i = 0; i < n; i++) {
    struct stat st;
    rjoin(rem[i], sizeof rem[i], dir, bname(files[i]));
    jl[i] = (job_t){.remote = rem[i], .local = files[i], .upload = true, .size = -1,
                    .mtime = stat(files[i], &st) == 0 ? st.st_mtime : -1};
  }
  getopts_t o = {.segments = 1, .set_mtime = -1, .size_hint = -1};
  int ex = xfer_parallel(&c->t, jl, (size_t)n, jobs, &o);
  if (ex) c->s.err[0] = 0;
  free(jl);
  free(rem);
  c->list_dirty = true;
  return ex;
}

static int c_mput(ctx_t *c, int argc, char **argv) {
  int jobs = 1;
  if (parse_j(&argc, argv, &jobs) || argc < 2) {
    snprintf(c->s.err, sizeof c->s.err, "usage: mput [-j N] FILE...");
    return EX_USAGE_;
  }
  int r = need_conn(c);
  if (r) return r;
  /* local globs: the shell of a script may not have expanded them */
  char **files = NULL;
  int nf = 0;
  for (int i = 1; i < argc; i++) {
    DIR *d;
    char dir[4096];
    const char *slash = strrchr(argv[i], '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - argv[i]) : 1, slash ? argv[i] : ".");
    const char *pat = slash ? slash + 1 : argv[i];
    int before = nf;
    if (strpbrk(pat, "*?[") && (d = opendir(dir))) {
      struct dirent *e;
      while ((e = readdir(d))) {
        if (fnmatch(pat, e->d_name, FNM_PERIOD)) continue;
        char p[8200];
        snprintf(p, sizeof p, "%s%s%s", slash ? dir : "", slash ? "/" : "", e->d_name);
        struct stat st;
        if (stat(p, &st) || !S_ISREG(st.st_mode)) continue;
        files = realloc(files, (size_t)(nf + 1) * sizeof *files);
        files[nf++] = strdup(p);
      }
      closedir(d);
    } else {
      files = realloc(files, (size_t)(nf + 1) * sizeof *files);
      files[nf++] = strdup(argv[i]);
    }
    if (nf == before) {
      snprintf(c->s.err, sizeof c->s.err, "%s: no local file matches", argv[i]);
      for (int k = 0; k < nf; k++) free(files[k]);
      free(files);
      return EX_LOCAL;
    }
  }
  r = cli_mput(c, files, nf, jobs, NULL);
  for (int k = 0; k < nf; k++) free(files[k]);
  free(files);
  return r;
}

static int c_rm(ctx_t *c, int argc, char **argv) {
  if (argc < 2) return EX_USAGE_;
  c->list_dirty = true;
  for (int i = 1; i < argc; i++) {
    int r = simple(c, 250, "DELE %s", argv[i]);
    if (r) return r;
  }
  return 0;
}

static int c_mkdir(ctx_t *c, int argc, char **argv) {
  bool p = argc > 1 && !strcmp(argv[1], "-p");
  const char *dir = argc > (p ? 2 : 1) ? argv[p ? 2 : 1] : NULL;
  if (!dir) return EX_USAGE_;
  int r = need_conn(c);
  if (r) return r;
  c->list_dirty = true;
  if (!p) {
    r = sess_cmd(&c->s, "MKD %s", dir);
    return r == 257 ? 0 : sess_fail(&c->s, r);
  }
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", dir);
  for (char *q = buf + 1;; q++) {
    if (*q == '/' || !*q) {
      char save = *q;
      *q = 0;
      r = sess_is_dir(&c->s, buf);
      if (r < 0) return EX_CONNECT;
      if (r == 0) {
        r = sess_cmd(&c->s, "MKD %s", buf);
        if (r != 257) return sess_fail(&c->s, r);
      }
      *q = save;
      if (!save) break;
    }
  }
  return 0;
}

static int c_rmdir(ctx_t *c, int argc, char **argv) {
  c->list_dirty = true;
  return argc < 2 ? EX_USAGE_ : simple(c, 250, "RMD %s", argv[1]);
}

static int c_rename(ctx_t *c, int argc, char **argv) {
  if (argc < 3) {
    snprintf(c->s.err, sizeof c->s.err, "usage: rename FROM TO");
    return EX_USAGE_;
  }
  c->list_dirty = true;
  int r = simple(c, 350, "RNFR %s", argv[1]);
  return r ? r : simple(c, 250, "RNTO %s", argv[2]);
}

static int c_chmod(ctx_t *c, int argc, char **argv) {
  if (argc < 3) return EX_USAGE_;
  int r = need_conn(c);
  if (r) return r;
  r = sess_cmd(&c->s, "SITE CHMOD %s %s", argv[1], argv[2]);
  return r == 200 ? 0 : sess_fail(&c->s, r);
}

static int c_size(ctx_t *c, int argc, char **argv) {
  if (argc < 2) return EX_USAGE_;
  int r = need_conn(c);
  uint64_t sz;
  if (r || (r = sess_size(&c->s, argv[1], &sz))) return r;
  printf("%llu\n", (unsigned long long)sz);
  return 0;
}

static int c_modtime(ctx_t *c, int argc, char **argv) {
  if (argc < 2) return EX_USAGE_;
  int r = need_conn(c);
  time_t t;
  if (r || (r = sess_mdtm(&c->s, argv[1], &t))) return r;
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  printf("%s\n", buf);
  return 0;
}

static int c_type(ctx_t *c, int argc, char **argv) {
  c->s.ascii = !strcmp(argv[0], "ascii");
  return 0;
}

static int c_mode(ctx_t *c, int argc, char **argv) {
  c->s.active = g_opts.active = !strcmp(argv[0], "active");
  if (g_opts.verbose >= 0 && isatty(0)) info("%s mode", c->s.active ? "active" : "passive");
  return 0;
}

static int c_quote(ctx_t *c, int argc, char **argv) {
  if (argc < 2) return EX_USAGE_;
  int r = need_conn(c);
  if (r) return r;
  char line[4096] = "";
  for (int i = 1; i < argc; i++) {
    strncat(line, argv[i], sizeof line - strlen(line) - 2);
    if (i + 1 < argc) strcat(line, " ");
  }
  r = sess_cmd(&c->s, "%s", line);
  if (r < 0) return EX_CONNECT;
  fputs(c->s.text ? c->s.text : "", stdout);
  return r >= 400 ? sess_fail(&c->s, r) : 0;
}

static int c_stat(ctx_t *c, int argc, char **argv) {
  int r = need_conn(c);
  if (r) return r;
  r = argc > 1 ? sess_cmd(&c->s, "STAT %s", argv[1]) : sess_cmd(&c->s, "STAT");
  if (r < 0) return EX_CONNECT;
  fputs(c->s.text ? c->s.text : "", stdout);
  return r >= 400 ? sess_fail(&c->s, r) : 0;
}

static int c_mirror(ctx_t *c, int argc, char **argv) {
  bool rev = false, del = false, dry = false;
  int jobs = 1;
  char *pos[2] = {0};
  int np = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-R")) rev = true;
    else if (!strcmp(argv[i], "--delete")) del = true;
    else if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) dry = true;
    else if (!strcmp(argv[i], "-j") && i + 1 < argc) jobs = atoi(argv[++i]);
    else if (np < 2) pos[np++] = argv[i];
  }
  if (np < 1) {
    snprintf(c->s.err, sizeof c->s.err, "usage: mirror [-R] [--delete] [--dry-run] [-j N] REMOTE [LOCAL]");
    return EX_USAGE_;
  }
  int r = need_conn(c);
  if (r) return r;
  const char *remote = rev ? (np > 1 ? pos[1] : ".") : pos[0];
  const char *local = rev ? pos[0] : (np > 1 ? pos[1] : bname(pos[0]));
  return cli_mirror(c, rev, del, dry, jobs < 1 ? 1 : jobs, remote, local);
}

static int c_quit(ctx_t *c, int argc, char **argv) { return -1; }
static int c_help(ctx_t *c, int argc, char **argv);

static const cmd_t cmds[] = {
  {"open", c_open, "open URL [PORT]", "connect and log in", 0},
  {"close", c_close, "close", "log out and disconnect", 0},
  {"user", c_user, "user NAME [PASSWORD]", "log in again as another user", 0},
  {"ls", c_ls, "ls [PATH]", "long listing", 'r'},
  {"dir", c_ls, "dir [PATH]", "long listing", 'r'},
  {"nls", c_ls, "nls [PATH]", "names only", 'r'},
  {"cd", c_cd, "cd DIR", "change the remote directory", 'r'},
  {"cdup", c_cd, "cdup", "go to the remote parent directory", 0},
  {"pwd", c_pwd, "pwd", "print the remote directory", 0},
  {"lcd", c_lcd, "lcd [DIR]", "change the local directory", 'l'},
  {"lpwd", c_lpwd, "lpwd", "print the local directory", 0},
  {"get", c_get, "get [-o LOCAL] [-c] [-s N] REMOTE [LOCAL]", "download (-c resume, -s N segments)", 'r'},
  {"reget", c_get, "reget REMOTE [LOCAL]", "resume a download", 'r'},
  {"put", c_put, "put [-o REMOTE] [-c] LOCAL [REMOTE]", "upload (-c resume)", 'l'},
  {"reput", c_put, "reput LOCAL [REMOTE]", "resume an upload", 'l'},
  {"mget", c_mget, "mget [-j N] PATTERN...", "download the files a remote glob matches", 'r'},
  {"mput", c_mput, "mput [-j N] FILE...", "upload files (local globs)", 'l'},
  {"rm", c_rm, "rm FILE...", "delete remote files", 'r'},
  {"delete", c_rm, "delete FILE...", "delete remote files", 'r'},
  {"mkdir", c_mkdir, "mkdir [-p] DIR", "make a remote directory", 'r'},
  {"rmdir", c_rmdir, "rmdir DIR", "remove a remote directory", 'r'},
  {"rename", c_rename, "rename FROM TO", "rename a remote file", 'r'},
  {"chmod", c_chmod, "chmod MODE FILE", "SITE CHMOD", 'r'},
  {"size", c_size, "size FILE", "a remote file's size", 'r'},
  {"modtime", c_modtime, "modtime FILE", "a remote file's modification time", 'r'},
  {"binary", c_type, "binary", "binary transfers (TYPE I, the default)", 0},
  {"ascii", c_type, "ascii", "text transfers (TYPE A: line ends converted)", 0},
  {"passive", c_mode, "passive", "passive data connections (EPSV/PASV, the default)", 0},
  {"active", c_mode, "active", "active data connections (EPRT/PORT)", 0},
  {"quote", c_quote, "quote COMMAND...", "send a raw command", 0},
  {"stat", c_stat, "stat [PATH]", "the server's status (STAT)", 'r'},
  {"mirror", c_mirror, "mirror [-R] [--delete] [--dry-run] [-j N] REMOTE [LOCAL]", "copy a tree", 'r'},
  {"tls", c_tls, "tls", "switch the session to FTPS (AUTH TLS, PROT P; logs in again)", 0},
  {"help", c_help, "help [COMMAND]", "this help", 0},
  {"quit", c_quit, "quit", "leave", 0},
  {"bye", c_quit, "bye", "leave", 0},
  {"exit", c_quit, "exit", "leave", 0},
};
#define NCMDS (sizeof cmds / sizeof cmds[0])

static const cmd_t *find_cmd(const char *name, bool *ambiguous) {
  const cmd_t *hit = NULL;
  size_t n = strlen(name);
  *ambiguous = false;
  for (size_t i = 0; i < NCMDS; i++) {
    if (!strcmp(cmds[i].name, name)) return &cmds[i];
    if (!strncmp(cmds[i].name, name, n)) {
      if (hit && hit->fn != cmds[i].fn) *ambiguous = true;
      if (!hit) hit = &cmds[i];
    }
  }
  return *ambiguous ? NULL : hit;
}

static int c_help(ctx_t *c, int argc, char **argv) {
  if (argc > 1) {
    bool amb;
    const cmd_t *k = find_cmd(argv[1], &amb);
    if (!k) {
      snprintf(c->s.err, sizeof c->s.err, "%s: %s command", argv[1], amb ? "ambiguous" : "no such");
      return EX_USAGE_;
    }
    printf("%s\n    %s\n", k->usage, k->help);
    return 0;
  }
  for (size_t i = 0; i < NCMDS; i++) printf("  %-52s %s\n", cmds[i].usage, cmds[i].help);
  return 0;
}

/* Splits a line into words: whitespace separates, '...' and "..." quote,
 * backslash escapes. Returns the count, -1 for an unclosed quote. */
static int split(char *line, char **argv, int max) {
  int n = 0;
  char *r = line, *w = line;
  while (*r) {
    while (*r == ' ' || *r == '\t') r++;
    if (!*r) break;
    if (n == max) return -1;
    argv[n++] = w;
    char q = 0;
    while (*r && (q || (*r != ' ' && *r != '\t'))) {
      if (q && *r == q) {
        q = 0;
        r++;
      } else if (!q && (*r == '"' || *r == '\'')) {
        q = *r++;
      } else if (*r == '\\' && r[1] && q != '\'') {
        r++;
        *w++ = *r++;
      } else {
        *w++ = *r++;
      }
    }
    if (q) return -1;
    if (*r) r++;
    *w++ = 0;
  }
  return n;
}

int shell_exec(ctx_t *c, char *line) {
  char copy[8192];
  snprintf(copy, sizeof copy, "%s", line);
  char *argv[MAXARGS + 1];
  int argc = split(line, argv, MAXARGS);
  if (argc < 0) {
    errmsg("%s: unclosed quote", copy);
    return EX_USAGE_;
  }
  if (argc == 0 || argv[0][0] == '#') return 0;
  argv[argc] = NULL;
  bool amb;
  const cmd_t *k = find_cmd(argv[0], &amb);
  if (!k) {
    errmsg("%s: %s command (try help)", argv[0], amb ? "ambiguous" : "unknown");
    return EX_USAGE_;
  }
  argv[0] = (char *)k->name;
  c->s.err[0] = 0;
  g_interrupted = 0;
  int r = k->fn(c, argc, argv);
  if (r > 0) {
    if (r == EX_INTR) info("interrupted");
    else if (c->s.err[0]) errmsg("%s: %s", c->label ? c->label : copy, c->s.err);
    else if (r == EX_USAGE_) errmsg("usage: %s", k->usage);
  }
  return r;
}

/* ---- mirror ---------------------------------------------------------------------- */

typedef struct {
  job_t *v;
  size_t n, cap;
} jobs_t;

static void jobs_add(jobs_t *j, const char *remote, const char *local, bool up, time_t mtime, int64_t size) {
  if (j->n == j->cap) {
    j->cap = j->cap ? j->cap * 2 : 64;
    j->v = realloc(j->v, j->cap * sizeof *j->v);
  }
  j->v[j->n++] = (job_t){.remote = strdup(remote), .local = strdup(local), .upload = up, .mtime = mtime, .size = size};
}

static int rm_local_tree(const char *p) {
  struct stat st;
  if (lstat(p, &st)) return -1;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(p);
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
      char q[8200];
      snprintf(q, sizeof q, "%s/%s", p, e->d_name);
      rm_local_tree(q);
    }
    if (d) closedir(d);
    return rmdir(p);
  }
  return unlink(p);
}

static int mirror_down(ctx_t *c, const char *rdir, const char *ldir, bool del, bool dry, jobs_t *jobs) {
  rlist_t l;
  int ex = sess_list(&c->s, rdir, &l);
  if (ex) return ex;
  if (!dry && mkdir(ldir, 0755) && errno != EEXIST) {
    snprintf(c->s.err, sizeof c->s.err, "%s: %s", ldir, strerror(errno));
    rlist_free(&l);
    return EX_LOCAL;
  }
  for (size_t i = 0; i < l.n && !ex; i++) {
    rentry_t *e = &l.v[i];
    if (strchr(e->name, '/') || !strcmp(e->name, ".") || !strcmp(e->name, "..")) continue;
    char rp[4200], lp[4200];
    rjoin(rp, sizeof rp, rdir, e->name);
    snprintf(lp, sizeof lp, "%s/%s", ldir, e->name);
    if (e->type == FTPP_LIST_DIR) {
      if (dry) printf("mkdir %s\n", lp);
      ex = mirror_down(c, rp, lp, del, dry, jobs);
      continue;
    }
    if (e->type != FTPP_LIST_FILE) continue;
    if (e->mtime < 0 && c->s.feat_mdtm) sess_mdtm(&c->s, rp, &e->mtime);
    struct stat st;
    if (lstat(lp, &st) == 0 && S_ISREG(st.st_mode) && e->has_size && (uint64_t)st.st_size == e->size &&
        e->mtime >= 0 && st.st_mtime == e->mtime)
      continue;   /* same size and time: up to date */
    if (dry) printf("get %s -> %s\n", rp, lp);
    else jobs_add(jobs, rp, lp, false, e->mtime, e->has_size ? (int64_t)e->size : -1);
  }
  if (!ex && del) {
    DIR *d = opendir(ldir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
      if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
      bool found = false;
      for (size_t i = 0; i < l.n && !found; i++) found = !strcmp(l.v[i].name, de->d_name);
      size_t nl = strlen(de->d_name);
      if (found || (nl > 5 && !strcmp(de->d_name + nl - 5, ".part")) ||
          (nl > 11 && !strcmp(de->d_name + nl - 11, ".part.state")))
        continue;
      char lp[8200];
      snprintf(lp, sizeof lp, "%s/%s", ldir, de->d_name);
      if (dry) printf("delete %s\n", lp);
      else rm_local_tree(lp);
    }
    if (d) closedir(d);
  }
  rlist_free(&l);
  return ex;
}

/* Deletes a remote directory and everything under it, deepest first (RMD
 * refuses a directory that is not empty). 0, or an exit code with the
 * reply that refused in s.err. */
static int rm_remote_tree(ctx_t *c, const char *rdir, bool dry) {
  rlist_t l;
  int ex = sess_list(&c->s, rdir, &l);
  if (ex) return ex;
  for (size_t i = 0; i < l.n && !ex; i++) {
    rentry_t *e = &l.v[i];
    if (strchr(e->name, '/') || !strcmp(e->name, ".") || !strcmp(e->name, "..")) continue;
    char rp[4200];
    rjoin(rp, sizeof rp, rdir, e->name);
    if (e->type == FTPP_LIST_DIR) {
      ex = rm_remote_tree(c, rp, dry);
    } else if (dry) {
      printf("delete %s\n", rp);
    } else {
      int r = sess_cmd(&c->s, "DELE %s", rp);
      if (r != 250) ex = sess_fail(&c->s, r);
    }
  }
  rlist_free(&l);
  if (ex) return ex;
  if (dry) {
    printf("rmdir %s\n", rdir);
    return 0;
  }
  int r = sess_cmd(&c->s, "RMD %s", rdir);
  return r == 250 ? 0 : sess_fail(&c->s, r);
}

static int mirror_up(ctx_t *c, const char *ldir, const char *rdir, bool del, bool dry, jobs_t *jobs) {
  int ex = 0;
  rlist_t l = {0};
  if (sess_is_dir(&c->s, rdir) == 1) {
    ex = sess_list(&c->s, rdir, &l);
    if (ex) return ex;
  } else if (dry) {
    printf("mkdir %s\n", rdir);
  } else {
    int r = sess_cmd(&c->s, "MKD %s", rdir);
    if (r != 257) return sess_fail(&c->s, r);
  }
  DIR *d = opendir(ldir);
  if (!d) {
    snprintf(c->s.err, sizeof c->s.err, "%s: %s", ldir, strerror(errno));
    rlist_free(&l);
    return EX_LOCAL;
  }
  int dfd = dirfd(d);
  struct dirent *de;
  char **names = NULL;
  size_t nn = 0;
  while ((de = readdir(d)) && !ex) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    struct stat st;
    /* never follow a symlink: it could lead out of the tree being sent */
    if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW)) continue;
    names = realloc(names, (nn + 1) * sizeof *names);
    names[nn++] = strdup(de->d_name);
    char lp[4200], rp[4200];
    snprintf(lp, sizeof lp, "%s/%s", ldir, de->d_name);
    rjoin(rp, sizeof rp, rdir, de->d_name);
    if (S_ISLNK(st.st_mode)) {
      if (g_opts.verbose > 0) info("%s: a symlink, not followed", lp);
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      ex = mirror_up(c, lp, rp, del, dry, jobs);
      continue;
    }
    if (!S_ISREG(st.st_mode)) continue;
    rentry_t *e = NULL;
    for (size_t i = 0; i < l.n && !e; i++)
      if (!strcmp(l.v[i].name, de->d_name)) e = &l.v[i];
    if (e && e->mtime < 0 && c->s.feat_mdtm) sess_mdtm(&c->s, rp, &e->mtime);
    if (e && e->has_size && e->size == (uint64_t)st.st_size && e->mtime == st.st_mtime) continue;
    if (dry) printf("put %s -> %s\n", lp, rp);
    else jobs_add(jobs, rp, lp, true, st.st_mtime, -1);
  }
  closedir(d);
  if (!ex && del) {
    for (size_t i = 0; i < l.n && !ex; i++) {
      bool found = false;
      for (size_t k = 0; k < nn && !found; k++) found = !strcmp(names[k], l.v[i].name);
      const char *nm = l.v[i].name;
      if (found || strchr(nm, '/') || !strcmp(nm, ".") || !strcmp(nm, "..")) continue;
      char rp[4200];
      rjoin(rp, sizeof rp, rdir, nm);
      if (l.v[i].type == FTPP_LIST_DIR) {
        ex = rm_remote_tree(c, rp, dry);   /* a directory gone from the local tree */
      } else if (dry) {
        printf("delete %s\n", rp);
      } else {
        int r = sess_cmd(&c->s, "DELE %s", rp);
        if (r != 250) ex = sess_fail(&c->s, r);
      }
    }
  }
  for (size_t k = 0; k < nn; k++) free(names[k]);
  free(names);
  rlist_free(&l);
  return ex;
}

int cli_mirror(ctx_t *c, bool reverse, bool del, bool dry, int njobs, const char *remote, const char *local) {
  jobs_t jobs = {0};
  char rdir[4096];
  rabs(c, remote, rdir, sizeof rdir);
  int ex = reverse ? mirror_up(c, local, rdir, del, dry, &jobs) : mirror_down(c, rdir, local, del, dry, &jobs);
  if (!ex && jobs.n) {
    getopts_t o = {.segments = 1, .set_mtime = -1, .size_hint = -1};
    ex = xfer_parallel(&c->t, jobs.v, jobs.n, njobs, &o);
    if (ex) c->s.err[0] = 0;
  }
  for (size_t i = 0; i < jobs.n; i++) {
    free(jobs.v[i].remote);
    free(jobs.v[i].local);
  }
  free(jobs.v);
  c->list_dirty = true;
  return ex;
}

/* ---- scripts ---------------------------------------------------------------------------- */

int shell_script(ctx_t *c, const char *script) {
  char *dup = strdup(script);
  int first = 0;
  char *save = NULL;
  for (char *cmd = strtok_r(dup, ";\n", &save); cmd; cmd = strtok_r(NULL, ";\n", &save)) {
    int r = shell_exec(c, cmd);
    if (r < 0) break;
    if (r && !first) first = r;
    if (r && (!g_opts.keep_going || r == EX_INTR)) break;
  }
  free(dup);
  return first;
}

int shell_stdin(ctx_t *c) {
  char line[8192];
  int first = 0;
  while (fgets(line, sizeof line, stdin)) {
    line[strcspn(line, "\r\n")] = 0;
    int r = shell_exec(c, line);
    fflush(stdout);
    if (r < 0) break;
    if (r && !first) first = r;
    if (r && (!g_opts.keep_going || r == EX_INTR)) break;
  }
  return first;
}

/* ---- the line editor (libedit) ------------------------------------------------------------ */

static ctx_t *comp_ctx;
static rlist_t comp_list;
static char comp_dir[4096];
static bool comp_valid;
static char comp_kind;

static char *cmd_gen(const char *text, int state) {
  static size_t i;
  if (!state) i = 0;
  size_t n = strlen(text);
  while (i < NCMDS) {
    const char *name = cmds[i++].name;
    if (!strncmp(name, text, n)) return strdup(name);
  }
  return NULL;
}

static char *remote_gen(const char *text, int state) {
  static size_t i;
  if (!state) i = 0;
  const char *slash = strrchr(text, '/');
  const char *base = slash ? slash + 1 : text;
  size_t n = strlen(base);
  while (i < comp_list.n) {
    rentry_t *e = &comp_list.v[i++];
    if (strncmp(e->name, base, n)) continue;
    char out[8300];
    snprintf(out, sizeof out, "%.*s%s%s", (int)(slash ? slash - text + 1 : 0), text, e->name,
             e->type == FTPP_LIST_DIR ? "/" : "");
    return strdup(out);
  }
  return NULL;
}

static char **complete(const char *text, int start, int end) {
  rl_attempted_completion_over = 1;
  /* the command word: everything before the first space */
  const char *lb = rl_line_buffer;
  while (*lb == ' ') lb++;
  if (start <= (int)(lb - rl_line_buffer)) return rl_completion_matches(text, cmd_gen);
  char word[64];
  size_t wl = strcspn(lb, " ");
  snprintf(word, sizeof word, "%.*s", (int)(wl < 63 ? wl : 63), lb);
  bool amb;
  const cmd_t *k = find_cmd(word, &amb);
  comp_kind = k ? k->complete : 0;
  if (comp_kind == 'l') {
    rl_attempted_completion_over = 0;
    return NULL;   /* libedit's file name completion */
  }
  if (comp_kind != 'r' || !sess_connected(&comp_ctx->s)) return NULL;
  char dir[4096];
  const char *slash = strrchr(text, '/');
  snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - text + (slash == text)) : 0, text);
  if (!comp_valid || comp_ctx->list_dirty || strcmp(dir, comp_dir)) {
    rlist_free(&comp_list);
    int saved = g_opts.verbose;
    bool prog = g_opts.progress;
    g_opts.verbose = -1;
    g_opts.progress = false;
    comp_valid = sess_list(&comp_ctx->s, dir[0] ? dir : NULL, &comp_list) == 0;
    g_opts.verbose = saved;
    g_opts.progress = prog;
    snprintf(comp_dir, sizeof comp_dir, "%s", dir);
    comp_ctx->list_dirty = false;
  }
  rl_completion_append_character = ' ';
  char **m = rl_completion_matches(text, remote_gen);
  if (m && m[0] && !m[1] && m[0][strlen(m[0]) - 1] == '/') rl_completion_append_character = '\0';
  return m;
}

static void history_path(char *out, size_t n) {
  const char *x = getenv("XDG_STATE_HOME");
  char base[4096];
  if (x && *x) snprintf(base, sizeof base, "%s/mtftp", x);
  else snprintf(base, sizeof base, "%s/.local/state/mtftp", getenv("HOME") ? getenv("HOME") : ".");
  /* mkdir -p */
  for (char *p = base + 1; *p; p++)
    if (*p == '/') {
      *p = 0;
      mkdir(base, 0700);
      *p = '/';
    }
  mkdir(base, 0700);
  snprintf(out, n, "%s/history", base);
}

int shell_interactive(ctx_t *c) {
  comp_ctx = c;
  char hist[4200];
  history_path(hist, sizeof hist);
  using_history();
  read_history(hist);
  rl_attempted_completion_function = complete;
  rl_completer_word_break_characters = (char *)" \t";
  int last = 0;
  for (;;) {
    char prompt[4600];
    if (sess_connected(&c->s)) snprintf(prompt, sizeof prompt, "%s@%s:%s> ", c->s.user, c->host, c->s.cwd);
    else snprintf(prompt, sizeof prompt, "mtftp> ");
    g_interrupted = 0;
    char *line = readline(prompt);
    if (!line) {
      fputc('\n', stdout);
      if (g_interrupted) continue;   /* Ctrl-C at the prompt: a fresh line */
      break;                         /* Ctrl-D */
    }
    if (*line) {
      add_history(line);
      write_history(hist);
    }
    int r = shell_exec(c, line);
    free(line);
    fflush(stdout);
    if (r < 0) break;
    last = r;
  }
  history_truncate_file(hist, 1000);
  rlist_free(&comp_list);
  (void)last;
  return 0;
}
