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
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ftpd.h"
#include "tls.h"

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
  c->command_line_timeout = FTPD_LINE_TIMEOUT;
  c->max_login_failures = FTPD_MAX_LOGIN_FAILURES_IP;
  c->login_failure_window = FTPD_LOGIN_FAIL_WINDOW;
  c->login_ban_time = FTPD_LOGIN_BAN_TIME;
  c->hash_cache = FTPD_HASH_CACHE;
  c->login_cache = 300;
}

void ftpd_config_free(ftpd_config_t *c) {
  for (int i = 0; i < c->n_listen; i++) free(c->listen[i]);
  for (int i = 0; i < c->n_listen_tls; i++) free(c->listen_tls[i]);
  free(c->root);
  free(c->users_file);
  free(c->pasv_address);
  free(c->xferlog);
  free(c->pidfile);
  free(c->run_as);
  free(c->banner);
  free(c->tls_cert);
  free(c->tls_key);
  free(c->tls_min_version);
  free(c->tls_ciphers);
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

/* ---- the keys -------------------------------------------------------------
 * One table drives everything: the config file, the flags (--KEY), the
 * --help text and the check-config dump. A key's type says how its text is
 * read and written back. */
enum { K_STR, K_INT, K_SECS, K_BOOL, K_ENUM, K_LISTEN, K_PORTS, K_V4ADDR, K_ANON };

typedef struct cfg_key {
  const char *key;            /* file spelling; the flag is --key */
  int type;
  size_t off;                 /* the field in ftpd_config_t */
  long lo, hi;                /* K_INT range */
  const char *const *names;   /* K_ENUM / K_ANON value names, by index */
  const char *meta;           /* the flag's value in --help ("N"); NULL: a flag without one */
  const char *help;
} cfg_key_t;

static const char *const model_names[] = {"threads", "fork", "coroutines", NULL};
static const char *const level_names[] = {"error", "warn", "info", "debug", NULL};
static const char *const anon_names[] = {"off", "ro", "rw", NULL};
static const char *const tls_req_names[] = {"off", "login", "data", "all", NULL};
static const char *const tls_reuse_names[] = {"off", "any", "same", NULL};
static const char *const yes_no_names[] = {"yes", "no", NULL};

#define F(field) offsetof(ftpd_config_t, field)
static const cfg_key_t keys[] = {
  {"listen", K_LISTEN, 0, 0, 0, NULL, "HOST:PORT",
   "address to listen on, repeatable (" FTPD_DEFAULT_LISTEN "); [::1]:2121 for IPv6"},
  {"listen-implicit-tls", K_LISTEN, 0, 0, 0, NULL, "HOST:PORT",
   "implicit FTPS: TLS from the first byte, data protected (port 990 by custom; needs tls-cert), repeatable"},
  {"dual-stack", K_BOOL, F(dual_stack), 0, 0, NULL, NULL,
   "IPv6 listeners take IPv4 too (v4-mapped): [::]:21 serves both (default: IPv6 only)"},
  {"root", K_STR, F(root), 0, 0, NULL, "DIR", "served directory, and home of users without one"},
  {"users", K_STR, F(users_file), 0, 0, NULL, "FILE", "users file: name:yescrypt-hash:home:perms"},
  {"anonymous", K_ANON, F(anonymous), 0, 0, anon_names, "[=ro|rw]",
   "let 'anonymous' and 'ftp' log in with any password (--anonymous alone: ro)"},
  {"model", K_ENUM, F(model), 0, 0, model_names, "M",
   "threads (a pool fed by a bounded queue), fork (a process per session) or coroutines "
   "(one scheduler per core, disk work on a thread pool)"},
  {"max-clients", K_INT, F(max_clients), 1, 100000, NULL, "N", "concurrent sessions; one more gets 421"},
  {"max-per-ip", K_INT, F(max_per_ip), 0, 100000, NULL, "N", "concurrent sessions from one address, 0 = no limit"},
  {"max-prelogin-commands", K_INT, F(max_prelogin_cmds), 1, 100000, NULL, "N",
   "commands before a login, then 421 and close (REIN does not restart the count)"},
  {"pasv-ports", K_PORTS, 0, 0, 0, NULL, "LO-HI", "ports for passive data connections (default: any)"},
  {"pasv-address", K_V4ADDR, F(pasv_address), 0, 0, NULL, "ADDR", "IPv4 address announced in PASV replies (for NAT)"},
  {"xferlog", K_STR, F(xferlog), 0, 0, NULL, "FILE", "transfer log in xferlog(5) format"},
  {"log-level", K_ENUM, F(log_level), 0, 0, level_names, "LEVEL", "error, warn, info or debug; logs go to stderr"},
  {"daemon", K_BOOL, F(daemon), 0, 0, NULL, NULL, "detach; with --pidfile FILE, write and lock a pidfile"},
  {"pidfile", K_STR, F(pidfile), 0, 0, NULL, "FILE", "pidfile for --daemon"},
  {"run-as", K_STR, F(run_as), 0, 0, NULL, "USER", "user to serve as when started as root (default: ftp, else nobody)"},
  {"banner", K_STR, F(banner), 0, 0, NULL, "TEXT", "the 220 greeting's text"},
  {"login-timeout", K_SECS, F(login_timeout), 0, 0, NULL, "S", "seconds from connect to login"},
  {"idle-timeout", K_SECS, F(idle_timeout), 0, 0, NULL, "S", "seconds between commands"},
  {"command-line-timeout", K_SECS, F(command_line_timeout), 0, 0, NULL, "S",
   "seconds a command line may take from its first byte to its end (slow senders get 421)"},
  {"max-login-failures", K_INT, F(max_login_failures), 0, 100000, NULL, "N",
   "failed logins from one address within login-failure-window that ban it, 0 = off"},
  {"login-failure-window", K_SECS, F(login_failure_window), 0, 0, NULL, "S",
   "seconds over which max-login-failures are counted"},
  {"login-ban-time", K_SECS, F(login_ban_time), 0, 0, NULL, "S",
   "seconds a banned address's connections get 421"},
  {"login-cache", K_INT, F(login_cache), 0, 86400, NULL, "S",
   "seconds a password login verified by yescrypt lets the same user and password in without "
   "another (threads and coroutines models), 0 = never"},
  {"max-rate", K_INT, F(max_rate), 0, 2147483647, NULL, "BYTES",
   "bytes per second one session transfers (RETR, STOR, APPE, listings), 0 = no limit"},
  {"max-rate-per-user", K_INT, F(max_rate_per_user), 0, 2147483647, NULL, "BYTES",
   "bytes per second all of one user's sessions transfer together, 0 = no limit"},
  {"hash-cache", K_INT, F(hash_cache), 0, 1000000, NULL, "N",
   "HASH digests remembered across sessions and processes (keyed by inode, size, mtime and "
   "ctime), 0 = off; read at start"},
  {"data-timeout", K_SECS, F(data_timeout), 0, 0, NULL, "S", "data connection set-up, and each stall"},
  {"shutdown-grace", K_SECS, F(shutdown_grace), 0, 0, NULL, "S", "seconds running transfers get at SIGTERM"},
  {"tls-cert", K_STR, F(tls_cert), 0, 0, NULL, "FILE",
   "certificate chain (PEM) for FTPS: AUTH TLS, PBSZ and PROT (RFC 4217) turn on"},
  {"tls-key", K_STR, F(tls_key), 0, 0, NULL, "FILE", "private key (PEM); default: in the tls-cert file"},
  {"tls-required", K_ENUM, F(tls_required), 0, 0, tls_req_names, "WHAT",
   "off, login (USER only after AUTH TLS), data (PROT P for every data connection) or all"},
  {"tls-data-reuse", K_ENUM, F(tls_data_reuse), 0, 0, tls_reuse_names, "HOW",
   "off, any (a data connection must resume a TLS session) or same (the control connection's: "
   "stops a third party taking a passive data connection; ftplib cannot)"},
  {"tls-min-version", K_STR, F(tls_min_version), 0, 0, NULL, "V", "lowest TLS version, 1.2 or 1.3"},
  {"tls-ciphers", K_STR, F(tls_ciphers), 0, 0, NULL, "LIST", "TLS 1.2 cipher list (OpenSSL syntax)"},
  {"tls-strict-eof", K_ENUM, F(tls_strict_eof), 0, 0, yes_no_names, "yes|no",
   "yes: an upload whose data connection ends without the client's close_notify may be "
   "truncated and is not stored (426)"},
};
#undef F
#define N_KEYS (sizeof keys / sizeof keys[0])

static const cfg_key_t *find_key(const char *name) {
  for (size_t i = 0; i < N_KEYS; i++)
    if (!strcmp(keys[i].key, name)) return &keys[i];
  return NULL;
}

static int find_name(const char *const *names, const char *v) {
  for (int i = 0; names[i]; i++)
    if (!strcasecmp(names[i], v)) return i;
  return -1;
}

static void join_names(const char *const *names, char *out, size_t n) {
  out[0] = 0;
  for (int i = 0; names[i]; i++) {
    size_t l = strlen(out);
    snprintf(out + l, n - l, "%s%s", i == 0 ? "" : names[i + 1] ? ", " : " or ", names[i]);
  }
}

const ftpd_model_t *ftpd_model_get(int model) {
  static const ftpd_model_t *const models[] = {&ftpd_model_threads, &ftpd_model_fork, &ftpd_model_co};
  return model >= 0 && model < 3 ? models[model] : NULL;
}

const char *ftpd_config_name(const char *key, int value) {
  const cfg_key_t *k = find_key(key);
  if (!k || !k->names || value < 0) return NULL;
  for (int i = 0; k->names[i]; i++)
    if (i == value) return k->names[i];
  return NULL;
}

int ftpd_config_set(ftpd_config_t *c, const char *key, const char *v, char *err, size_t errlen) {
  const cfg_key_t *k = find_key(key);
  if (!k) {
    seterr(err, errlen, "unknown key '%s'", key);
    return -1;
  }
  void *field = (char *)c + k->off;
  char names[96];
  switch (k->type) {
  case K_STR:
    if (set_str(field, v)) goto oom;
    return 0;
  case K_INT:
    if (parse_int(v, k->lo, k->hi, field)) {
      if (k->lo == 0)
        seterr(err, errlen, "%s: expected a number from 0 (no limit) to %ld, got '%s'", key, k->hi, v);
      else
        seterr(err, errlen, "%s: expected a number from %ld to %ld, got '%s'", key, k->lo, k->hi, v);
      return -1;
    }
    return 0;
  case K_SECS:
    if (parse_secs(v, 0.1, 86400, field)) {
      seterr(err, errlen, "%s: expected seconds from 0.1 to 86400, got '%s'", key, v);
      return -1;
    }
    return 0;
  case K_BOOL:
    if (parse_bool(v, field)) {
      seterr(err, errlen, "%s: expected yes or no, got '%s'", key, v);
      return -1;
    }
    return 0;
  case K_ANON: {
    bool b;
    int i = find_name(k->names, v);
    if (i < 0 && !parse_bool(v, &b)) i = b ? ANON_RO : ANON_OFF;
    if (i < 0) {
      seterr(err, errlen, "anonymous: expected ro, rw or off, got '%s'", v);
      return -1;
    }
    *(int *)field = i;
    return 0;
  }
  case K_ENUM: {
    int i = find_name(k->names, v);
    if (i < 0) {
      join_names(k->names, names, sizeof names);
      seterr(err, errlen, "%s: expected %s, got '%s'", key, names, v);
      return -1;
    }
    *(int *)field = i;
    return 0;
  }
  case K_LISTEN: {
    char host[256];
    int port;
    if (ftpd_parse_hostport(v, host, sizeof host, &port) < 0) {
      seterr(err, errlen, "listen: expected HOST:PORT, [IPV6]:PORT or PORT, got '%s'", v);
      return -1;
    }
    bool tls = strcmp(key, "listen") != 0;
    char **list = tls ? c->listen_tls : c->listen;
    int *n = tls ? &c->n_listen_tls : &c->n_listen;
    if (*n >= FTPD_MAX_LISTEN) {
      seterr(err, errlen, "%s: at most %d addresses", key, FTPD_MAX_LISTEN);
      return -1;
    }
    if (!(list[*n] = strdup(v))) goto oom;
    (*n)++;
    return 0;
  }
  case K_PORTS: {
    int lo, hi;
    const char *dash = strchr(v, '-');
    char a[16];
    if (!dash || (size_t)(dash - v) >= sizeof a) goto bad_ports;
    memcpy(a, v, (size_t)(dash - v));
    a[dash - v] = 0;
    if (parse_int(a, 1024, 65535, &lo) || parse_int(dash + 1, 1024, 65535, &hi) || lo > hi) goto bad_ports;
    c->pasv_lo = lo;
    c->pasv_hi = hi;
    return 0;
  bad_ports:
    seterr(err, errlen, "pasv-ports: expected LO-HI within 1024-65535, got '%s'", v);
    return -1;
  }
  case K_V4ADDR: {
    struct in_addr a;
    if (inet_pton(AF_INET, v, &a) != 1) {
      seterr(err, errlen, "%s: expected an IPv4 address, got '%s'", key, v);
      return -1;
    }
    if (set_str(field, v)) goto oom;
    return 0;
  }
  }
oom:
  seterr(err, errlen, "%s: out of memory", key);
  return -1;
}

/* The value of key k in c as the config file spells it; "" when unset. */
static void format_key(const ftpd_config_t *c, const cfg_key_t *k, char *out, size_t n) {
  const void *field = (const char *)c + k->off;
  out[0] = 0;
  switch (k->type) {
  case K_STR:
  case K_V4ADDR: snprintf(out, n, "%s", *(char *const *)field ? *(char *const *)field : ""); break;
  case K_INT: snprintf(out, n, "%d", *(const int *)field); break;
  case K_SECS: snprintf(out, n, "%g", *(const double *)field); break;
  case K_BOOL: snprintf(out, n, "%s", *(const bool *)field ? "yes" : "no"); break;
  case K_ENUM:
  case K_ANON: snprintf(out, n, "%s", k->names[*(const int *)field]); break;
  case K_PORTS: if (c->pasv_lo) snprintf(out, n, "%d-%d", c->pasv_lo, c->pasv_hi); break;
  case K_LISTEN: break;    /* several lines: the dump writes them */
  }
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
  if (!c->tls_cert && (c->tls_required || c->tls_data_reuse || c->tls_key || c->n_listen_tls)) {
    seterr(err, errlen, "%s needs tls-cert",
           c->tls_key ? "tls-key" : c->tls_required ? "tls-required" : c->tls_data_reuse ? "tls-data-reuse" : "listen-implicit-tls");
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
  for (size_t i = 0; i < N_KEYS; i++) {
    const cfg_key_t *k = &keys[i];
    if (k->type == K_LISTEN && strcmp(k->key, "listen") != 0) {
      for (int j = 0; j < c->n_listen_tls; j++) fprintf(out, "%s = %s\n", k->key, c->listen_tls[j]);
      continue;
    }
    if (k->type == K_LISTEN) {
      for (int j = 0; j < c->n_listen; j++) fprintf(out, "listen = %s\n", c->listen[j]);
      if (!c->n_listen && !c->n_listen_tls) fprintf(out, "listen = %s\n", FTPD_DEFAULT_LISTEN);
      continue;
    }
    char v[512];
    format_key(c, k, v, sizeof v);
    if (!strcmp(k->key, "run-as") && !v[0]) snprintf(v, sizeof v, "(ftp, else nobody; only when started as root)");
    if (!v[0] && strcmp(k->key, "users")) continue;     /* unset: nothing to say */
    fprintf(out, "%s = %s\n", k->key, v);
  }
}

void ftpd_usage(FILE *out) {
  fputs("usage: mtftpd [-c FILE] [--KEY VALUE]...   serve; the keys below (mtftpd.conf(5))\n"
        "       mtftpd passwd --users FILE add NAME [--home DIR] [--perms elradfmwMT]\n"
        "       mtftpd passwd --users FILE del NAME | list\n"
        "       mtftpd check-config [-c FILE] [--KEY VALUE]...\n"
        "       mtftpd --help | --version\n"
        "\n"
        "An FTP server (RFC 959, 2389, 2428, 2640, 3659) built on libmt. Every key\n"
        "is also a config-file line 'KEY = VALUE'.\n"
        "\n"
        "  -c, --config FILE     key = value file; flags override it\n", out);
  ftpd_config_t d;
  ftpd_config_defaults(&d);
  for (size_t i = 0; i < N_KEYS; i++) {
    const cfg_key_t *k = &keys[i];
    char flag[64], def[128];
    snprintf(flag, sizeof flag, "--%s%s%s", k->key, k->meta && k->meta[0] != '[' ? " " : "", k->meta ? k->meta : "");
    format_key(&d, k, def, sizeof def);
    bool show = def[0] && k->type != K_BOOL && k->type != K_LISTEN && k->type != K_ANON;
    char text[512];
    snprintf(text, sizeof text, "%s%s%s%s", k->help, show ? " (" : "", show ? def : "", show ? ")" : "");
    /* the flag in 2-23, its text from column 24, wrapped before column 80 */
    int col = fprintf(out, "  %-21s ", flag);
    if (col > 24) col = 80;
    for (const char *w = text; *w;) {
      size_t n = strcspn(w, " ");
      if (col + (int)n > 79 && col > 24) {
        fprintf(out, "\n%24s", "");
        col = 24;
      } else if (col > 24) {
        fputc(' ', out);
        col++;
      }
      col += fprintf(out, "%.*s", (int)n, w);
      w += n;
      while (*w == ' ') w++;
    }
    fputc('\n', out);
  }
  ftpd_config_free(&d);
  fputs("  -h, --help            this text;  -V, --version  the version\n"
        "\n"
        "Signals: SIGTERM/SIGINT stop accepting and let transfers finish (bounded by\n"
        "shutdown-grace), then exit 0; SIGHUP rereads the config and users files for\n"
        "new sessions. See mtftpd(8).\n", out);
}

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
  /* getopt's table, from the keys */
  enum { OPT_BASE = 1000 };
  struct option long_opts[N_KEYS + 4];
  size_t n = 0;
  long_opts[n++] = (struct option){"config", required_argument, 0, 'c'};
  for (size_t i = 0; i < N_KEYS; i++)
    long_opts[n++] = (struct option){keys[i].key,
                                     !keys[i].meta ? no_argument : keys[i].meta[0] == '[' ? optional_argument
                                                                                           : required_argument,
                                     0, OPT_BASE};
  long_opts[n++] = (struct option){"help", no_argument, 0, 'h'};
  long_opts[n++] = (struct option){"version", no_argument, 0, 'V'};
  long_opts[n] = (struct option){0, 0, 0, 0};
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
      const cfg_key_t *k = find_key(key);
      if (k->type == K_BOOL) val = "yes";                  /* --daemon, --dual-stack */
      if (k->type == K_ANON && !val) val = "ro";
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

/* ---- snapshots ---------------------------------------------------------------
 * What sessions read of the configuration: a config and its users, counted
 * references, swapped whole on SIGHUP under srv->lock. A session takes one
 * at its start and keeps it to its end, so a reload never changes the rules
 * under a running session. */
ftpd_snapshot_t *ftpd_snapshot_new(ftpd_config_t *cfg, ftpd_users_t *users) {
  ftpd_snapshot_t *s = calloc(1, sizeof *s);
  if (!s) {
    ftpd_config_free(cfg);
    if (users) ftpd_users_free(users);
    return NULL;
  }
  atomic_init(&s->refs, 1);
  s->cfg = *cfg;
  memset(cfg, 0, sizeof *cfg);
  if (users) {
    s->users = *users;
    memset(users, 0, sizeof *users);
  }
  return s;
}

ftpd_snapshot_t *ftpd_snapshot_get(ftpd_server_t *srv) {
  mt_lock_acquire(&srv->lock, MT_FOREVER);
  ftpd_snapshot_t *s = srv->snap;
  atomic_fetch_add(&s->refs, 1);
  mt_lock_release(&srv->lock);
  return s;
}

void ftpd_snapshot_put(ftpd_snapshot_t *s) {
  if (atomic_fetch_sub(&s->refs, 1) != 1) return;
  ftpd_config_free(&s->cfg);
  ftpd_users_free(&s->users);
  ftls_ctx_free(s->tls);         /* reference-counted by OpenSSL: live TLS sessions keep it */
  free(s);
}

void ftpd_snapshot_swap(ftpd_server_t *srv, ftpd_snapshot_t *n) {
  mt_lock_acquire(&srv->lock, MT_FOREVER);
  ftpd_snapshot_t *old = srv->snap;
  srv->snap = n;
  mt_lock_release(&srv->lock);
  ftpd_snapshot_put(old);
}
