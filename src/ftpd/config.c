/* config.c — the configuration: defaults, a key = value file, and flags over it.
 *
 * The file and the command line share one table of keys, so every flag has
 * a file spelling and the two cannot drift apart. Trusted input (it comes
 * from the administrator), but still checked: a bad value is a one-line
 * error naming the file and line, never a silent default.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ftpd.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}

static int set_str(char **dst, const char *v) {
  char *c = strdup(v);
  if (!c) return -1;
  free(*dst);
  *dst = c;
  return 0;
}

void ftpd_config_defaults(ftpd_config_t *c) {
  memset(c, 0, sizeof *c);
  c->root = strdup("/srv/ftp");
  c->anonymous = ANON_OFF;
  c->model = MODEL_THREADS;
  c->max_clients = 50;
  c->max_per_ip = 0;
  c->max_prelogin_cmds = FTPD_MAX_CMDS_PRELOGIN;
  c->log_level = LOG_INFO;
  c->login_timeout = FTPD_LOGIN_TIMEOUT;
  c->idle_timeout = FTPD_IDLE_TIMEOUT;
  c->data_timeout = FTPD_DATA_TIMEOUT;
  c->shutdown_grace = FTPD_SHUTDOWN_GRACE;
}

void ftpd_config_free(ftpd_config_t *c) {
  for (int i = 0; i < c->n_listen; i++) free(c->listen[i]);
  free(c->root);
  free(c->users_file);
  free(c->pasv_address);
  free(c->xferlog);
  free(c->pidfile);
  free(c->run_as);
  free(c->banner);
  free(c->config_file);
  memset(c, 0, sizeof *c);
}

int ftpd_parse_hostport(const char *s, char *host, size_t hostsz, int *port) {
  const char *colon;
  size_t hl;
  if (s[0] == '[') {
    const char *rb = strchr(s, ']');
    if (!rb || rb[1] != ':') return -1;
    hl = (size_t)(rb - s - 1);
    if (hl + 1 > hostsz) return -1;
    memcpy(host, s + 1, hl);
    colon = rb + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) {                  /* just a port */
      colon = s - 1;
      hl = 0;
    } else {
      hl = (size_t)(colon - s);
      if (memchr(s, ':', hl)) return -1;     /* bare IPv6 needs brackets */
    }
    if (hl + 1 > hostsz) return -1;
    memcpy(host, s, hl);
  }
  host[hl] = 0;
  char *end;
  errno = 0;
  long p = strtol(colon + 1, &end, 10);
  if (errno || end == colon + 1 || *end || p < 0 || p > 65535) return -1;
  *port = (int)p;
  return 0;
}

static int parse_bool(const char *v, bool *out) {
  if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || !strcmp(v, "1")) {
    *out = true;
    return 0;
  }
  if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || !strcmp(v, "0")) {
    *out = false;
    return 0;
  }
  return -1;
}

static int parse_int(const char *v, long lo, long hi, int *out) {
  char *end;
  errno = 0;
  long x = strtol(v, &end, 10);
  if (errno || end == v || *end || x < lo || x > hi) return -1;
  *out = (int)x;
  return 0;
}

static int parse_secs(const char *v, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double x = strtod(v, &end);
  if (errno || end == v || *end || !(x >= lo && x <= hi)) return -1;
  *out = x;
  return 0;
}

int ftpd_config_set(ftpd_config_t *c, const char *key, const char *v, char *err, size_t errlen) {
  int r = 0;
  if (!strcmp(key, "listen")) {
    char host[256];
    int port;
    if (ftpd_parse_hostport(v, host, sizeof host, &port) < 0) {
      seterr(err, errlen, "listen: expected HOST:PORT, [IPV6]:PORT or PORT, got '%s'", v);
      return -1;
    }
    if (c->n_listen >= FTPD_MAX_LISTEN) {
      seterr(err, errlen, "listen: at most %d addresses", FTPD_MAX_LISTEN);
      return -1;
    }
    if (!(c->listen[c->n_listen] = strdup(v))) r = -1;
    else c->n_listen++;
  } else if (!strcmp(key, "root")) {
    r = set_str(&c->root, v);
  } else if (!strcmp(key, "users")) {
    r = set_str(&c->users_file, v);
  } else if (!strcmp(key, "anonymous")) {
    bool b;
    if (!strcmp(v, "ro")) c->anonymous = ANON_RO;
    else if (!strcmp(v, "rw")) c->anonymous = ANON_RW;
    else if (!parse_bool(v, &b)) c->anonymous = b ? ANON_RO : ANON_OFF;
    else {
      seterr(err, errlen, "anonymous: expected ro, rw or off, got '%s'", v);
      return -1;
    }
  } else if (!strcmp(key, "model")) {
    if (!strcmp(v, "threads")) c->model = MODEL_THREADS;
    else if (!strcmp(v, "fork")) c->model = MODEL_FORK;
    else if (!strcmp(v, "coroutines")) c->model = MODEL_COROUTINES;
    else {
      seterr(err, errlen, "model: expected threads, fork or coroutines, got '%s'", v);
      return -1;
    }
  } else if (!strcmp(key, "max-clients")) {
    if (parse_int(v, 1, 100000, &c->max_clients)) {
      seterr(err, errlen, "max-clients: expected a number from 1 to 100000, got '%s'", v);
      return -1;
    }
  } else if (!strcmp(key, "max-per-ip")) {
    if (parse_int(v, 0, 100000, &c->max_per_ip)) {
      seterr(err, errlen, "max-per-ip: expected a number from 0 (no limit) to 100000, got '%s'", v);
      return -1;
    }
  } else if (!strcmp(key, "max-prelogin-commands")) {
    if (parse_int(v, 1, 100000, &c->max_prelogin_cmds)) {
      seterr(err, errlen, "max-prelogin-commands: expected a number from 1 to 100000, got '%s'", v);
      return -1;
    }
  } else if (!strcmp(key, "pasv-ports")) {
    int lo, hi;
    char tail;
    if (sscanf(v, "%d-%d%c", &lo, &hi, &tail) != 2 || lo < 1024 || hi > 65535 || lo > hi) {
      seterr(err, errlen, "pasv-ports: expected LO-HI within 1024-65535, got '%s'", v);
      return -1;
    }
    c->pasv_lo = lo;
    c->pasv_hi = hi;
  } else if (!strcmp(key, "pasv-address")) {
    struct in_addr a;
    if (inet_pton(AF_INET, v, &a) != 1) {
      seterr(err, errlen, "pasv-address: expected an IPv4 address, got '%s'", v);
      return -1;
    }
    r = set_str(&c->pasv_address, v);
  } else if (!strcmp(key, "xferlog")) {
    r = set_str(&c->xferlog, v);
  } else if (!strcmp(key, "log-level")) {
    static const char *names[] = {"error", "warn", "info", "debug"};
    int lvl = -1;
    for (int i = 0; i < 4; i++)
      if (!strcasecmp(v, names[i])) lvl = i;
    if (lvl < 0) {
      seterr(err, errlen, "log-level: expected error, warn, info or debug, got '%s'", v);
      return -1;
    }
    c->log_level = lvl;
  } else if (!strcmp(key, "daemon")) {
    if (parse_bool(v, &c->daemon)) {
      seterr(err, errlen, "daemon: expected yes or no, got '%s'", v);
      return -1;
    }
  } else if (!strcmp(key, "pidfile")) {
    r = set_str(&c->pidfile, v);
  } else if (!strcmp(key, "run-as")) {
    r = set_str(&c->run_as, v);
  } else if (!strcmp(key, "banner")) {
    r = set_str(&c->banner, v);
  } else if (!strcmp(key, "login-timeout") || !strcmp(key, "idle-timeout") ||
             !strcmp(key, "data-timeout") || !strcmp(key, "shutdown-grace")) {
    double *dst = key[0] == 'l' ? &c->login_timeout : key[0] == 'i' ? &c->idle_timeout
                : key[0] == 'd' ? &c->data_timeout : &c->shutdown_grace;
    if (parse_secs(v, 0.1, 86400, dst)) {
      seterr(err, errlen, "%s: expected seconds from 0.1 to 86400, got '%s'", key, v);
      return -1;
    }
  } else {
    seterr(err, errlen, "unknown key '%s'", key);
    return -1;
  }
  if (r) seterr(err, errlen, "%s: out of memory", key);
  return r;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) *--e = 0;
  return s;
}

int ftpd_config_parse(ftpd_config_t *c, const char *text, size_t len, const char *name,
                      char *err, size_t errlen) {
  char line[1024];
  size_t pos = 0;
  int lineno = 0, n;
  while ((n = ftpd_next_line(text, len, &pos, line, sizeof line)) != FTPD_LINE_END) {
    lineno++;
    if (n < 0) {
      seterr(err, errlen, "%s:%d: %s", name, lineno, n == FTPD_LINE_LONG ? "line too long" : "NUL byte");
      return -1;
    }
    char *s = trim(line);
    if (!*s || *s == '#') continue;
    char *eq = strchr(s, '=');
    if (!eq) {
      seterr(err, errlen, "%s:%d: expected 'key = value'", name, lineno);
      return -1;
    }
    *eq = 0;
    char *key = trim(s), *val = trim(eq + 1);
    char why[300];
    if (!strcmp(key, "config")) {
      seterr(err, errlen, "%s:%d: 'config' cannot be set in a config file", name, lineno);
      return -1;
    }
    if (ftpd_config_set(c, key, val, why, sizeof why)) {
      seterr(err, errlen, "%s:%d: %s", name, lineno, why);
      return -1;
    }
  }
  return 0;
}

int ftpd_config_load(ftpd_config_t *c, const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    seterr(err, errlen, "%s: %s", path, strerror(errno));
    return -1;
  }
  char *buf = malloc(FTPD_MAX_CONFIG_FILE + 1);
  size_t len = 0;
  ssize_t r = 0;
  while (buf && len < FTPD_MAX_CONFIG_FILE &&
         (r = read(fd, buf + len, FTPD_MAX_CONFIG_FILE - len)) > 0)
    len += (size_t)r;
  int e = errno;
  close(fd);
  if (!buf || r < 0) {
    seterr(err, errlen, "%s: %s", path, buf ? strerror(e) : "out of memory");
    free(buf);
    return -1;
  }
  if (len >= FTPD_MAX_CONFIG_FILE) {
    seterr(err, errlen, "%s: larger than %d bytes", path, FTPD_MAX_CONFIG_FILE);
    free(buf);
    return -1;
  }
  int rc = ftpd_config_parse(c, buf, len, path, err, errlen);
  free(buf);
  return rc;
}

int ftpd_config_check(const ftpd_config_t *c, char *err, size_t errlen) {
  struct stat st;
  if (!c->root || stat(c->root, &st) || !S_ISDIR(st.st_mode)) {
    seterr(err, errlen, "root '%s' is not a directory", c->root ? c->root : "");
    return -1;
  }
  if (c->max_per_ip > c->max_clients) {
    seterr(err, errlen, "max-per-ip (%d) is larger than max-clients (%d)", c->max_per_ip, c->max_clients);
    return -1;
  }
  if (c->anonymous == ANON_OFF && !c->users_file) {
    seterr(err, errlen, "nobody can log in: give a users file or enable anonymous access");
    return -1;
  }
  return 0;
}

void ftpd_config_dump(const ftpd_config_t *c, FILE *out) {
  static const char *anon[] = {"off", "ro", "rw"}, *model[] = {"threads", "fork", "coroutines"},
                    *lvl[] = {"error", "warn", "info", "debug"};
  for (int i = 0; i < c->n_listen; i++) fprintf(out, "listen = %s\n", c->listen[i]);
  if (!c->n_listen) fprintf(out, "listen = %s\n", FTPD_DEFAULT_LISTEN);
  fprintf(out, "root = %s\n", c->root);
  fprintf(out, "users = %s\n", c->users_file ? c->users_file : "");
  fprintf(out, "anonymous = %s\n", anon[c->anonymous]);
  fprintf(out, "model = %s\n", model[c->model]);
  fprintf(out, "max-clients = %d\nmax-per-ip = %d\n", c->max_clients, c->max_per_ip);
  fprintf(out, "max-prelogin-commands = %d\n", c->max_prelogin_cmds);
  if (c->pasv_lo) fprintf(out, "pasv-ports = %d-%d\n", c->pasv_lo, c->pasv_hi);
  if (c->pasv_address) fprintf(out, "pasv-address = %s\n", c->pasv_address);
  if (c->xferlog) fprintf(out, "xferlog = %s\n", c->xferlog);
  fprintf(out, "log-level = %s\n", lvl[c->log_level]);
  fprintf(out, "daemon = %s\n", c->daemon ? "yes" : "no");
  if (c->pidfile) fprintf(out, "pidfile = %s\n", c->pidfile);
  fprintf(out, "run-as = %s\n", c->run_as ? c->run_as : "(ftp, else nobody; only when started as root)");
  fprintf(out, "login-timeout = %g\nidle-timeout = %g\ndata-timeout = %g\nshutdown-grace = %g\n",
          c->login_timeout, c->idle_timeout, c->data_timeout, c->shutdown_grace);
}

void ftpd_usage(FILE *out) {
  fputs(
    "usage: mtftpd [-c FILE] [--listen HOST:PORT]... [--root DIR] [--users FILE]\n"
    "              [--anonymous[=ro|rw]] [--model threads|fork|coroutines]\n"
    "              [--max-clients N] [--max-per-ip N] [--pasv-ports LO-HI]\n"
    "              [--pasv-address ADDR] [--xferlog FILE] [--log-level LEVEL]\n"
    "              [--daemon [--pidfile FILE]] [--run-as USER]\n"
    "       mtftpd passwd --users FILE add NAME [--home DIR] [--perms elradfmwMT]\n"
    "       mtftpd passwd --users FILE del NAME | list\n"
    "       mtftpd check-config [-c FILE] [flags]\n"
    "       mtftpd --help | --version\n"
    "\n"
    "An FTP server (RFC 959, 2389, 2428, 2640, 3659) built on libmt.\n"
    "\n"
    "  -c, --config FILE     key = value file; flags override it (see mtftpd.conf(5))\n"
    "  --listen HOST:PORT    address to listen on, repeatable (default " FTPD_DEFAULT_LISTEN ");\n"
    "                        [::1]:2121 for IPv6\n"
    "  --root DIR            served directory, and home of users without one (/srv/ftp)\n"
    "  --users FILE          users file: name:yescrypt-hash:home:perms\n"
    "  --anonymous[=ro|rw]   let 'anonymous' and 'ftp' log in with any password (ro)\n"
    "  --model M             threads (a pool fed by a bounded queue; default),\n"
    "                        fork (a process per session) or coroutines (one\n"
    "                        scheduler per core, disk work on a thread pool)\n"
    "  --max-clients N       concurrent sessions; one more gets 421 (50)\n"
    "  --max-per-ip N        concurrent sessions from one address, 0 = no limit (0)\n"
    "  --pasv-ports LO-HI    ports for passive data connections (any)\n"
    "  --pasv-address ADDR   IPv4 address announced in PASV replies (for NAT)\n"
    "  --xferlog FILE        transfer log in xferlog(5) format\n"
    "  --log-level LEVEL     error, warn, info or debug (info); logs go to stderr\n"
    "  --daemon              detach; with --pidfile FILE, write and lock a pidfile\n"
    "  --run-as USER         user to serve as when started as root (ftp, else nobody)\n"
    "  --idle-timeout S, --login-timeout S, --data-timeout S, --shutdown-grace S\n"
    "  -h, --help            this text;  -V, --version  the version\n"
    "\n"
    "Signals: SIGTERM/SIGINT stop accepting and let transfers finish (bounded by\n"
    "shutdown-grace), then exit 0; SIGHUP rereads the config and users files for\n"
    "new sessions. See mtftpd(8).\n", out);
}

enum { OPT_BASE = 1000 };
static const struct option long_opts[] = {
  {"config", required_argument, 0, 'c'},
  {"listen", required_argument, 0, OPT_BASE},
  {"root", required_argument, 0, OPT_BASE},
  {"users", required_argument, 0, OPT_BASE},
  {"anonymous", optional_argument, 0, OPT_BASE},
  {"model", required_argument, 0, OPT_BASE},
  {"max-clients", required_argument, 0, OPT_BASE},
  {"max-per-ip", required_argument, 0, OPT_BASE},
  {"max-prelogin-commands", required_argument, 0, OPT_BASE},
  {"pasv-ports", required_argument, 0, OPT_BASE},
  {"pasv-address", required_argument, 0, OPT_BASE},
  {"xferlog", required_argument, 0, OPT_BASE},
  {"log-level", required_argument, 0, OPT_BASE},
  {"daemon", no_argument, 0, OPT_BASE},
  {"pidfile", required_argument, 0, OPT_BASE},
  {"run-as", required_argument, 0, OPT_BASE},
  {"banner", required_argument, 0, OPT_BASE},
  {"login-timeout", required_argument, 0, OPT_BASE},
  {"idle-timeout", required_argument, 0, OPT_BASE},
  {"data-timeout", required_argument, 0, OPT_BASE},
  {"shutdown-grace", required_argument, 0, OPT_BASE},
  {"help", no_argument, 0, 'h'},
  {"version", no_argument, 0, 'V'},
  {0, 0, 0, 0},
};

int ftpd_config_from_args(ftpd_config_t *c, int argc, char **argv) {
  char err[512];
  /* Pass 1: the config file, so that flags (pass 2) win over it. */
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) && i + 1 < argc) file = argv[++i];
    else if (!strncmp(argv[i], "--config=", 9)) file = argv[i] + 9;
    else if (!strcmp(argv[i], "--")) break;
  }
  if (file) {
    if (ftpd_config_load(c, file, err, sizeof err)) {
      fprintf(stderr, "mtftpd: %s\n", err);
      return -1;
    }
    set_str(&c->config_file, file);
  }
  bool listen_from_flags = false;
  optind = 1;
  opterr = 0;
  int idx = 0, ch;
  while ((ch = getopt_long(argc, argv, ":c:hV", long_opts, &idx)) != -1) {
    switch (ch) {
    case 'c': break;
    case 'h': ftpd_usage(stdout); return 1;
    case 'V': printf("mtftpd %s (libmt)\n", FTPD_VERSION); return 1;
    case OPT_BASE: {
      const char *key = long_opts[idx].name;
      const char *val = optarg;
      if (!strcmp(key, "daemon")) val = "yes";
      if (!strcmp(key, "anonymous") && !val) val = "ro";
      if (!strcmp(key, "listen") && !listen_from_flags) {   /* flags replace the file's list */
        for (int i = 0; i < c->n_listen; i++) free(c->listen[i]);
        c->n_listen = 0;
        listen_from_flags = true;
      }
      if (ftpd_config_set(c, key, val, err, sizeof err)) {
        fprintf(stderr, "mtftpd: --%s\n", err);
        return -1;
      }
      break;
    }
    case ':':
      fprintf(stderr, "mtftpd: %s needs a value (see --help)\n", argv[optind - 1]);
      return -1;
    default:
      fprintf(stderr, "mtftpd: unknown option '%s' (see --help)\n", argv[optind - 1]);
      return -1;
    }
  }
  if (optind < argc) {
    fprintf(stderr, "mtftpd: unexpected argument '%s' (see --help)\n", argv[optind]);
    return -1;
  }
  return 0;
}
