/* cli.c — main(): global options, credentials, the one-shot commands
 * (get/put/ls/rm/mkdir/mirror) and the choice between them and the shell.
 *
 * Command line: mtftp [GLOBAL OPTIONS] COMMAND [ITS OPTIONS] ARGS...
 *           or: mtftp [GLOBAL OPTIONS] [URL]        (the shell, or -c / stdin)
 * Exit codes: mtftp.h's EX_* table, documented in mtftp(1).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "mtftp.h"

opts_t g_opts = {.timeout = 30, .retries = 2, .verify = true, .keepalive = 60};
volatile sig_atomic_t g_interrupted;

void errmsg(const char *fmt, ...) {
  prog_clear();
  va_list ap;
  va_start(ap, fmt);
  char buf[4096];
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fprintf(stderr, "mtftp: %s\n", buf);
}

void info(const char *fmt, ...) {
  if (g_opts.verbose < 0) return;
  prog_clear();
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
}

static void usage(FILE *f) {
  fputs("usage: mtftp [options] [ftp[s]://][user[:password]@]host[:port][/path]   (the shell)\n"
        "       mtftp [options] get [-c] [-s N] [-j N] URL... [-o FILE | -O DIR]\n"
        "       mtftp [options] put [-c] [-j N] FILE... URL\n"
        "       mtftp [options] ls URL | rm URL... | mkdir [-p] URL...\n"
        "       mtftp [options] mirror [-R] [--delete] [--dry-run] [-j N] URL DIR | -R DIR URL\n"
        "options: -v -q -k -c SCRIPT --timeout S --retries N --rate BYTES/s --no-verify --active\n"
        "  --tls            explicit FTPS (AUTH TLS), required; ftps:// URLs are implicit FTPS\n"
        "  --cacert FILE    trust this CA besides the system store\n"
        "  --insecure       do not verify the server's certificate (warns on every connection)\n"
        "  --pin            trust on first use: record the server's key in known_servers, refuse a change\n"
        "exit codes: 0 ok, 1 other server refusal, 2 usage, 3 cannot connect, 4 login refused,\n"
        "  5 not found, 6 permission denied, 7 transfer failed, 8 verification mismatch,\n"
        "  9 local file error, 10 TLS or certificate failure, 130 interrupted (see mtftp(1))\n",
        f);
}

static void on_sigint(int sig) { g_interrupted = 1; }

/* ---- credentials ----------------------------------------------------------- */

static int prompt_password(const char *user, const char *host, char *pass, size_t psz) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC);
  if (fd < 0 || !isatty(fd)) {
    if (fd >= 0) close(fd);
    return -1;
  }
  struct termios old, t;
  tcgetattr(fd, &old);
  t = old;
  t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
  dprintf(fd, "Password for %s@%s: ", user, host);
  tcsetattr(fd, TCSAFLUSH, &t);
  size_t n = 0;
  char c;
  while (n + 1 < psz && read(fd, &c, 1) == 1 && c != '\n' && c != '\r') pass[n++] = c;
  pass[n] = 0;
  tcsetattr(fd, TCSAFLUSH, &old);
  dprintf(fd, "\n");
  close(fd);
  return 0;
}

int creds_resolve(const url_t *u, char *user, size_t usz, char *pass, size_t psz) {
  user[0] = pass[0] = 0;
  if (u->has_user) snprintf(user, usz, "%s", u->user);
  if (u->has_pass) {
    snprintf(pass, psz, "%s", u->pass);
    return 0;
  }
  char nl[256], np[256];
  const char *why = NULL;
  int r = netrc_lookup(NULL, u->host, nl, sizeof nl, np, sizeof np, &why);
  if (r < 0) errmsg("%s", why);
  if (r > 0 && (!u->has_user || !nl[0] || !strcmp(nl, user))) {
    if (!u->has_user && nl[0]) snprintf(user, usz, "%s", nl);
    if (user[0] && np[0]) {
      snprintf(pass, psz, "%s", np);
      return 0;
    }
  }
  if (!user[0] || !strcmp(user, "anonymous") || !strcmp(user, "ftp")) return 0;   /* anonymous */
  const char *env = getenv("MTFTP_PASSWORD");
  if (env) {
    snprintf(pass, psz, "%s", env);
    return 0;
  }
  if (prompt_password(user, u->host, pass, psz) == 0) return 0;
  return 0;   /* no password anywhere: try an empty one; the server decides */
}

int tls_mode(const url_t *u) { return u->implicit_tls ? TLS_IMPLICIT : g_opts.tls ? TLS_EXPLICIT : TLS_OFF; }

/* ---- one-shot commands ------------------------------------------------------- */

typedef struct {
  url_t u;
  char user[256], pass[256];
} uc_t;

static int ctx_for(ctx_t *c, const char *url, uc_t *uc, const char *cmd) {
  const char *why = "bad URL";
  if (url_parse(url, &uc->u, &why)) {
    errmsg("%s %s: %s", cmd, url, why);
    return EX_USAGE_;
  }
  creds_resolve(&uc->u, uc->user, sizeof uc->user, uc->pass, sizeof uc->pass);
  if (sess_connected(&c->s) && !strcmp(c->host, uc->u.host) && c->port == uc->u.port && !strcmp(c->user, uc->user) &&
      c->t.tls == tls_mode(&uc->u))
    return 0;
  sess_close(&c->s);
  snprintf(c->host, sizeof c->host, "%s", uc->u.host);
  snprintf(c->user, sizeof c->user, "%s", uc->user);
  snprintf(c->pass, sizeof c->pass, "%s", uc->pass);
  c->port = uc->u.port;
  c->t = (target_t){c->host, c->port, c->user, c->pass, tls_mode(&uc->u)};
  int r = sess_open(&c->s, &c->t);
  if (r) errmsg("%s %s: %s", cmd, url, c->s.err);
  return r;
}

static const char *base_name(const char *p) {
  const char *b = strrchr(p, '/');
  return b ? b + 1 : p;
}

static bool is_dir_local(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Splits argv into option/operand form where -o/-O may follow the URLs. */
static int cmd_get(ctx_t *c, int argc, char **argv) {
  getopts_t o = {.segments = 1, .set_mtime = -1, .size_hint = -1};
  const char *ofile = NULL, *odir = NULL;
  int jobs = 1;
  char *urls[argc + 1];
  int nu = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "-c")) o.resume = true;
    else if ((!strcmp(a, "-s") || !strcmp(a, "-j") || !strcmp(a, "-o") || !strcmp(a, "-O")) && i + 1 < argc) {
      const char *v = argv[++i];
      if (a[1] == 's' || a[1] == 'j') {
        char *e;
        long n = strtol(v, &e, 10);
        if (*e || n < 1 || n > 64) {
          errmsg("get: %s wants a number from 1 to 64", a);
          return EX_USAGE_;
        }
        if (a[1] == 's') o.segments = (int)n;
        else jobs = (int)n;
      } else if (a[1] == 'o') {
        ofile = v;
      } else {
        odir = v;
      }
    } else if (a[0] == '-' && a[1]) {
      errmsg("get: unknown option %s", a);
      return EX_USAGE_;
    } else {
      urls[nu++] = argv[i];
    }
  }
  if (!nu || (ofile && nu > 1) || (ofile && odir)) {
    errmsg("get: %s", !nu ? "no URL" : "-o names one file; use -O DIR for several");
    return EX_USAGE_;
  }
  if (odir && !is_dir_local(odir)) {
    errmsg("get: %s: not a directory", odir);
    return EX_LOCAL;
  }
  uc_t *ucs = calloc((size_t)nu, sizeof *ucs);
  job_t *jl = calloc((size_t)nu, sizeof *jl);
  char (*locals)[4200] = calloc((size_t)nu, sizeof *locals);
  if (!ucs || !jl || !locals) return EX_LOCAL;
  int first = 0;
  bool same = true;
  for (int i = 0; i < nu; i++) {
    const char *why = "bad URL";
    int pr = url_parse(urls[i], &ucs[i].u, &why);
    if (pr == 0 && (!ucs[i].u.path[0] || ucs[i].u.dir)) {
      why = "names a directory, not a file (mirror copies directories)";
      pr = -1;
    }
    if (pr) {
      errmsg("get %s: %s", urls[i], why);
      free(ucs);
      free(jl);
      free(locals);
      return EX_USAGE_;
    }
    if (ofile) snprintf(locals[i], sizeof locals[i], "%s", ofile);
    else if (odir) snprintf(locals[i], sizeof locals[i], "%s/%s", odir, base_name(ucs[i].u.path));
    else snprintf(locals[i], sizeof locals[i], "%s", base_name(ucs[i].u.path));
    if (i && (strcmp(ucs[i].u.host, ucs[0].u.host) || ucs[i].u.port != ucs[0].u.port || ucs[i].u.implicit_tls != ucs[0].u.implicit_tls ||
              strcmp(ucs[i].u.user, ucs[0].u.user)))
      same = false;
  }
  if (jobs > 1 && nu > 1 && same) {
    int r = ctx_for(c, urls[0], &ucs[0], "get");
    if (r) goto out_r;
    for (int i = 0; i < nu; i++) jl[i] = (job_t){.remote = ucs[i].u.path, .local = locals[i], .mtime = -1, .size = -1, .label = urls[i]};
    first = xfer_parallel(&c->t, jl, (size_t)nu, jobs, &o);
    goto out;
  out_r:
    first = r;
    goto out;
  }
  for (int i = 0; i < nu; i++) {
    int r = ctx_for(c, urls[i], &ucs[i], "get");
    if (!r) {
      r = xfer_get(&c->s, &c->t, ucs[i].u.path, locals[i], &o);
      if (r && r != EX_INTR) errmsg("get %s: %s", urls[i], c->s.err);
    }
    if (r && !first) first = r;
    if (r && (!g_opts.keep_going || r == EX_INTR)) break;
  }
out:
  free(ucs);
  free(jl);
  free(locals);
  return first;
}

static int cmd_put(ctx_t *c, int argc, char **argv) {
  bool resume = false;
  int jobs = 1;
  char *files[argc + 1];
  int nf = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-c")) resume = true;
    else if (!strcmp(argv[i], "-j") && i + 1 < argc) jobs = atoi(argv[++i]);
    else if (argv[i][0] == '-' && argv[i][1]) {
      errmsg("put: unknown option %s", argv[i]);
      return EX_USAGE_;
    } else files[nf++] = argv[i];
  }
  if (nf < 2 || !url_is_url(files[nf - 1])) {
    errmsg("put: usage: put [-c] FILE... ftp://host/dir/");
    return EX_USAGE_;
  }
  const char *url = files[--nf];
  uc_t uc;
  int r = ctx_for(c, url, &uc, "put");
  if (r) return r;
  bool dir = uc.u.dir || nf > 1;
  if (!dir && sess_is_dir(&c->s, uc.u.path) == 1) dir = true;
  if (jobs < 1) jobs = 1;
  job_t *jl = calloc((size_t)nf, sizeof *jl);
  char (*rem)[4200] = calloc((size_t)nf, sizeof *rem);
  if (!jl || !rem) return EX_LOCAL;
  for (int i = 0; i < nf; i++) {
    if (dir) rjoin(rem[i], sizeof rem[i], uc.u.path[0] ? uc.u.path : ".", base_name(files[i]));
    else snprintf(rem[i], sizeof rem[i], "%s", uc.u.path);
    struct stat st;
    jl[i] = (job_t){.remote = rem[i], .local = files[i], .upload = true, .size = -1,
                    .mtime = stat(files[i], &st) == 0 ? st.st_mtime : -1};
  }
  int first = 0;
  if (jobs > 1 && nf > 1) {
    getopts_t o = {.segments = 1, .resume = resume, .set_mtime = -1, .size_hint = -1};
    first = xfer_parallel(&c->t, jl, (size_t)nf, jobs, &o);
  } else {
    for (int i = 0; i < nf; i++) {
      r = xfer_put(&c->s, files[i], rem[i], resume, jl[i].mtime);
      if (r && r != EX_INTR) errmsg("put %s: %s", files[i], c->s.err);
      if (r && !first) first = r;
      if (r && (!g_opts.keep_going || r == EX_INTR)) break;
      if (!sess_connected(&c->s) && (r = sess_open(&c->s, &c->t))) {
        if (!first) first = r;
        break;
      }
    }
  }
  free(jl);
  free(rem);
  return first;
}

static int cmd_simple(ctx_t *c, int argc, char **argv) {
  const char *cmd = argv[0];
  bool parents = false;
  int first = 0, n = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(cmd, "mkdir") && !strcmp(argv[i], "-p")) {
      parents = true;
      continue;
    }
    n++;
    uc_t uc;
    int r = ctx_for(c, argv[i], &uc, cmd);
    if (!r) {
      char line[4300];
      const char *p = uc.u.path[0] ? uc.u.path : ".";
      if (!strcmp(cmd, "ls")) {
        snprintf(line, sizeof line, "ls %s", p);
        fflush(stdout);
        r = sess_list_raw(&c->s, "LIST", uc.u.path[0] ? uc.u.path : NULL, 1);
        if (r) errmsg("ls %s: %s", argv[i], c->s.err);
      } else {
        snprintf(line, sizeof line, "%s %s%s", !strcmp(cmd, "rm") ? "rm" : "mkdir", parents ? "-p " : "", p);
        char *l = strdup(line);
        r = shell_exec(c, l);
        free(l);
        if (r) errmsg("%s %s: %s", cmd, argv[i], c->s.err);
      }
    }
    if (r && !first) first = r;
    if (r && !g_opts.keep_going) break;
  }
  if (!n) {
    errmsg("%s: no URL", cmd);
    return EX_USAGE_;
  }
  return first;
}

static int cmd_mirror(ctx_t *c, int argc, char **argv) {
  bool rev = false, del = false, dry = false;
  int jobs = 1;
  char *pos[2];
  int np = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-R")) rev = true;
    else if (!strcmp(argv[i], "--delete")) del = true;
    else if (!strcmp(argv[i], "--dry-run") || !strcmp(argv[i], "-n")) dry = true;
    else if (!strcmp(argv[i], "-j") && i + 1 < argc) jobs = atoi(argv[++i]);
    else if (argv[i][0] == '-' && argv[i][1]) {
      errmsg("mirror: unknown option %s", argv[i]);
      return EX_USAGE_;
    } else if (np < 2) pos[np++] = argv[i];
    else np = 3;
  }
  if (np != 2 || !url_is_url(pos[rev ? 1 : 0])) {
    errmsg("mirror: usage: mirror [-j N] [--delete] [--dry-run] URL DIR | mirror -R DIR URL");
    return EX_USAGE_;
  }
  const char *url = pos[rev ? 1 : 0], *dir = pos[rev ? 0 : 1];
  uc_t uc;
  int r = ctx_for(c, url, &uc, "mirror");
  if (r) return r;
  r = cli_mirror(c, rev, del, dry, jobs < 1 ? 1 : jobs, uc.u.path[0] ? uc.u.path : ".", dir);
  if (r && c->s.err[0] && r != EX_INTR) errmsg("mirror %s: %s", url, c->s.err);
  return r;
}

static int parse_size(const char *s, double *out) {
  char *e;
  double v = strtod(s, &e);
  if (e == s || v < 0) return -1;
  if (*e == 'k' || *e == 'K') v *= 1024, e++;
  else if (*e == 'm' || *e == 'M') v *= 1024 * 1024, e++;
  else if (*e == 'g' || *e == 'G') v *= 1024.0 * 1024 * 1024, e++;
  if (*e) return -1;
  *out = v;
  return 0;
}

int main(int argc, char **argv) {
  const char *script = NULL;
  static const struct option longs[] = {
    {"timeout", required_argument, 0, 't'}, {"retries", required_argument, 0, 'r'},
    {"rate", required_argument, 0, 'R'},    {"no-verify", no_argument, 0, 'N'},
    {"active", no_argument, 0, 'a'},        {"help", no_argument, 0, 'h'},
    {"keepalive", required_argument, 0, 'K'}, {"tls", no_argument, 0, 'T'},
    {"cacert", required_argument, 0, 'C'},  {"insecure", no_argument, 0, 'I'},
    {"pin", no_argument, 0, 'P'},           {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "+vqkc:h", longs, NULL)) != -1) {
    char *e;
    switch (ch) {
      case 'v': g_opts.verbose = 1; break;
      case 'q': g_opts.verbose = -1; break;
      case 'k': g_opts.keep_going = true; break;
      case 'c': script = optarg; break;
      case 'N': g_opts.verify = false; break;
      case 'a': g_opts.active = true; break;
      case 'T': g_opts.tls = true; break;
      case 'C': g_opts.cacert = optarg; break;
      case 'I': g_opts.insecure = true; break;
      case 'P': g_opts.pin = true; break;
      case 'h': usage(stdout); return 0;
      case 't':
        g_opts.timeout = strtod(optarg, &e);
        if (*e || g_opts.timeout <= 0) goto bad;
        break;
      case 'K':
        g_opts.keepalive = strtod(optarg, &e);
        if (*e) goto bad;
        break;
      case 'r':
        g_opts.retries = (int)strtol(optarg, &e, 10);
        if (*e || g_opts.retries < 0) goto bad;
        break;
      case 'R':
        if (parse_size(optarg, &g_opts.rate)) goto bad;
        break;
      default:
      bad:
        usage(stderr);
        return EX_USAGE_;
    }
  }
  g_opts.progress = g_opts.verbose >= 0 && isatty(2);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_sigint};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);

  ctx_t c;
  memset(&c, 0, sizeof c);
  sess_init(&c.s);
  int rc;
  const char *cmd = optind < argc ? argv[optind] : NULL;
  static const char *oneshot[] = {"get", "put", "ls", "rm", "mkdir", "mirror", NULL};
  int which = -1;
  for (int i = 0; cmd && oneshot[i]; i++)
    if (!strcmp(cmd, oneshot[i])) which = i;
  if (which >= 0 && !script) {
    int n = argc - optind;
    char **v = argv + optind;
    switch (which) {
      case 0: rc = cmd_get(&c, n, v); break;
      case 1: rc = cmd_put(&c, n, v); break;
      case 5: rc = cmd_mirror(&c, n, v); break;
      default: rc = cmd_simple(&c, n, v); break;
    }
  } else {
    if (optind + 1 < argc) {
      usage(stderr);
      return EX_USAGE_;
    }
    if (cmd) {
      char line[8192];
      snprintf(line, sizeof line, "open %s", cmd);
      rc = shell_exec(&c, line);
      if (rc && (script || !isatty(0))) {
        sess_close(&c.s);
        ftps_cleanup();
        return rc;
      }
    }
    if (script) rc = shell_script(&c, script);
    else if (isatty(0)) rc = shell_interactive(&c);
    else rc = shell_stdin(&c);
  }
  sess_close(&c.s);
  ftps_cleanup();
  if (g_interrupted && rc == EX_INTR) return EX_INTR;
  return rc < 0 ? 0 : rc;
}
