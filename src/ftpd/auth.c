/* auth.c — who may log in, and what each user may do.
 *
 * The users file holds one "name:crypt-hash:home:perms" line per user, with
 * yescrypt hashes from libcrypt. ftpd_password_ok() spends one hash whether
 * or not the user exists, so timing does not tell names apart. ftpd_authorize()
 * is the single gate every file verb passes (session.c calls nothing else to
 * decide what a user may do).
 */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "ftpd.h"

int ftpd_perms_parse(const char *s) {
  int m = 0;
  for (; *s; s++) {
    const char *at = strchr(PERM_LETTERS, *s);
    if (!at) return -1;
    m |= 1 << (at - PERM_LETTERS);
  }
  return m;
}

void ftpd_perms_format(unsigned perms, char out[16]) {
  int n = 0;
  for (int i = 0; PERM_LETTERS[i]; i++)
    if (perms & (1u << i)) out[n++] = PERM_LETTERS[i];
  out[n] = 0;
}

static bool valid_name(const char *n) {
  size_t len = strlen(n);
  if (len == 0 || len > FTPD_MAX_USER) return false;
  for (; *n; n++)
    if (!isalnum((unsigned char)*n) && *n != '.' && *n != '_' && *n != '-') return false;
  return true;
}

void ftpd_users_free(ftpd_users_t *u) {
  for (size_t i = 0; i < u->n; i++) {
    free(u->v[i].name);
    free(u->v[i].hash);
    free(u->v[i].home);
  }
  free(u->v);
  u->v = NULL;
  u->n = 0;
}

/* Splits a users-file line in place into 4 fields. */
static int split4(char *line, char *f[4]) {
  int n = 0;
  f[n++] = line;
  for (char *c = line; *c; c++)
    if (*c == ':') {
      if (n == 4) return -1;
      *c = 0;
      f[n++] = c + 1;
    }
  while (n < 4) f[n++] = "";
  return 0;
}

int ftpd_users_parse(ftpd_users_t *u, const char *text, size_t len, const char *name, char *err, size_t errlen) {
  memset(u, 0, sizeof *u);
  char line[2048];
  size_t pos = 0;
  int lineno = 0, n;
  while ((n = ftpd_next_line(text, len, &pos, line, sizeof line)) != FTPD_LINE_END) {
    lineno++;
    if (n < 0) {
      snprintf(err, errlen, "%s:%d: %s", name, lineno, n == FTPD_LINE_LONG ? "line too long" : "NUL byte");
      goto fail;
    }
    if (!line[0] || line[0] == '#') continue;
    char *f[4];
    if (split4(line, f) < 0 || !valid_name(f[0]) || f[1][0] != '$') {
      snprintf(err, errlen, "%s:%d: expected name:crypt-hash:home:perms", name, lineno);
      goto fail;
    }
    int perms = f[3][0] ? ftpd_perms_parse(f[3]) : PERM_ALL;
    if (perms < 0) {
      snprintf(err, errlen, "%s:%d: unknown permission letter in '%s' (known: %s)", name, lineno, f[3], PERM_LETTERS);
      goto fail;
    }
    if (ftpd_users_find(u, f[0])) {
      snprintf(err, errlen, "%s:%d: user '%s' listed twice", name, lineno, f[0]);
      goto fail;
    }
    ftpd_user_t *nv = realloc(u->v, (u->n + 1) * sizeof *nv);
    if (!nv) goto oom;
    u->v = nv;
    ftpd_user_t *e = &u->v[u->n];
    e->name = strdup(f[0]);
    e->hash = strdup(f[1]);
    e->home = f[2][0] ? strdup(f[2]) : NULL;
    e->perms = (unsigned)perms;
    u->n++;
    if (!e->name || !e->hash || (f[2][0] && !e->home)) goto oom;
  }
  return 0;
oom:
  snprintf(err, errlen, "%s: out of memory", name);
fail:
  ftpd_users_free(u);
  return -1;
}

static int slurp(const char *path, char **out, size_t *len, size_t max) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  char *buf = malloc(max + 1);
  size_t n = 0;
  ssize_t r = 0;
  while (buf && n < max && (r = read(fd, buf + n, max - n)) > 0) n += (size_t)r;
  int e = errno;
  close(fd);
  if (!buf) return -ENOMEM;
  if (r < 0) {
    free(buf);
    return -e;
  }
  if (n >= max) {
    free(buf);
    return -EFBIG;
  }
  buf[n] = 0;
  *out = buf;
  *len = n;
  return 0;
}

int ftpd_users_load(ftpd_users_t *u, const char *path, char *err, size_t errlen) {
  memset(u, 0, sizeof *u);
  if (!path) return 0;
  char *text;
  size_t len;
  int r = slurp(path, &text, &len, FTPD_MAX_USERS_FILE);
  if (r) {
    snprintf(err, errlen, "%s: %s", path, strerror(-r));
    return -1;
  }
  r = ftpd_users_parse(u, text, len, path, err, errlen);
  free(text);
  return r;
}

const ftpd_user_t *ftpd_users_find(const ftpd_users_t *u, const char *name) {
  for (size_t i = 0; i < u->n; i++)
    if (!strcmp(u->v[i].name, name)) return &u->v[i];
  return NULL;
}

/* A hash of a random password nobody knows, spent on unknown users so that
 * a miss costs as much time as a wrong password. */
static char dummy_hash[256] = "*";
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void dummy_init(void) {
  unsigned char rnd[16];
  char pass[33];
  if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) memset(rnd, 0x5a, sizeof rnd);
  for (int i = 0; i < 16; i++) snprintf(pass + 2 * i, 3, "%02x", rnd[i]);
  if (ftpd_hash_password(pass, dummy_hash, sizeof dummy_hash)) strcpy(dummy_hash, "*");
}

bool ftpd_password_ok(const ftpd_user_t *u, const char *pass) {
  struct crypt_data *cd = calloc(1, sizeof *cd);
  if (!cd) return false;
  pthread_once(&dummy_once, dummy_init);
  const char *setting = u ? u->hash : dummy_hash;
  char *h = crypt_r(pass, setting, cd);
  bool ok = false;
  if (h && h[0] != '*' && u) {
    size_t a = strlen(h), b = strlen(u->hash);
    unsigned char diff = a != b;
    for (size_t i = 0; i < a && i < b; i++) diff |= (unsigned char)(h[i] ^ u->hash[i]);
    ok = diff == 0;
  }
  explicit_bzero(cd, sizeof *cd);
  free(cd);
  return ok;
}

int ftpd_hash_password(const char *pass, char *out, size_t outsz) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt)) return -errno;
  struct crypt_data *cd = calloc(1, sizeof *cd);
  if (!cd) return -ENOMEM;
  char *h = crypt_r(pass, salt, cd);
  int r = 0;
  if (!h || h[0] == '*') r = -EINVAL;
  else if (strlen(h) + 1 > outsz) r = -ENAMETOOLONG;
  else strcpy(out, h);
  explicit_bzero(cd, sizeof *cd);
  free(cd);
  return r;
}

/* ---- mtftpd passwd ----------------------------------------------------------- */

static int read_password(char *buf, size_t n) {
  bool tty = isatty(STDIN_FILENO);
  struct termios old, quiet;
  if (tty) {
    fputs("Password: ", stderr);
    tcgetattr(STDIN_FILENO, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  char *r = fgets(buf, (int)n, stdin);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fputs("\n", stderr);
  }
  if (!r) return -1;
  buf[strcspn(buf, "\r\n")] = 0;
  return 0;
}

static int write_users(const char *path, const char *text, size_t len) {
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp) return -ENAMETOOLONG;
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) return -errno;
  fchmod(fd, 0600);
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0) {
      int e = errno;
      close(fd);
      unlink(tmp);
      return -e;
    }
    off += (size_t)w;
  }
  if (fsync(fd) || close(fd) || rename(tmp, path)) {
    int e = errno;
    unlink(tmp);
    return -e;
  }
  return 0;
}

int ftpd_passwd_main(int argc, char **argv) {
  static const struct option opts[] = {
    {"users", required_argument, 0, 'u'}, {"home", required_argument, 0, 'H'},
    {"perms", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
  const char *users = NULL, *home = "", *perms = PERM_LETTERS;
  optind = 1;
  opterr = 0;
  int ch;
  while ((ch = getopt_long(argc, argv, "+:u:H:p:h", opts, NULL)) != -1) {
    switch (ch) {
    case 'u': users = optarg; break;
    case 'H': home = optarg; break;
    case 'p': perms = optarg; break;
    case 'h':
      puts("usage: mtftpd passwd --users FILE add NAME [--home DIR] [--perms elradfmwMT]\n"
           "       mtftpd passwd --users FILE del NAME\n"
           "       mtftpd passwd --users FILE list\n"
           "The password is read from standard input (one line), or prompted for on a terminal.");
      return 0;
    default:
      fprintf(stderr, "mtftpd passwd: bad option '%s' (see mtftpd passwd --help)\n", argv[optind - 1]);
      return 2;
    }
  }
  /* Options may also follow the action: collect the rest with a second pass. */
  const char *action = optind < argc ? argv[optind++] : NULL;
  const char *name = NULL;
  if (action && strcmp(action, "list") != 0) name = optind < argc ? argv[optind++] : NULL;
  while ((ch = getopt_long(argc, argv, "+:u:H:p:h", opts, NULL)) != -1) {
    if (ch == 'u') users = optarg;
    else if (ch == 'H') home = optarg;
    else if (ch == 'p') perms = optarg;
    else {
      fprintf(stderr, "mtftpd passwd: bad option '%s'\n", argv[optind - 1]);
      return 2;
    }
  }
  if (!users) {
    fprintf(stderr, "mtftpd passwd: --users FILE is required\n");
    return 2;
  }
  if (!action || (strcmp(action, "add") && strcmp(action, "del") && strcmp(action, "list"))) {
    fprintf(stderr, "mtftpd passwd: expected add, del or list\n");
    return 2;
  }
  if (strcmp(action, "list") && (!name || !valid_name(name))) {
    fprintf(stderr, "mtftpd passwd: expected a user name of 1-%d letters, digits, '.', '_' or '-'\n", FTPD_MAX_USER);
    return 2;
  }
  if (optind < argc) {
    fprintf(stderr, "mtftpd passwd: unexpected argument '%s'\n", argv[optind]);
    return 2;
  }
  if (ftpd_perms_parse(perms) < 0) {
    fprintf(stderr, "mtftpd passwd: unknown permission letter in '%s' (known: %s)\n", perms, PERM_LETTERS);
    return 2;
  }
  if (strchr(home, ':') || strchr(home, '\n')) {
    fprintf(stderr, "mtftpd passwd: a home directory may not contain ':' or a newline\n");
    return 2;
  }

  char *text = NULL;
  size_t len = 0;
  int r = slurp(users, &text, &len, FTPD_MAX_USERS_FILE);
  if (r == -ENOENT && !strcmp(action, "add")) {
    text = strdup("");
    r = text ? 0 : -ENOMEM;
  }
  if (r) {
    fprintf(stderr, "mtftpd passwd: %s: %s\n", users, strerror(-r));
    return 1;
  }
  char err[512];
  ftpd_users_t u;
  if (ftpd_users_parse(&u, text, len, users, err, sizeof err)) {
    fprintf(stderr, "mtftpd passwd: %s\n", err);
    free(text);
    return 1;
  }
  int rc = 0;
  if (!strcmp(action, "list")) {
    for (size_t i = 0; i < u.n; i++) {
      char p[16];
      ftpd_perms_format(u.v[i].perms, p);
      printf("%s\t%s\t%s\n", u.v[i].name, u.v[i].home ? u.v[i].home : "(root)", p);
    }
    goto out;
  }
  const ftpd_user_t *found = ftpd_users_find(&u, name);
  if (!strcmp(action, "del") && !found) {
    fprintf(stderr, "mtftpd passwd: no user '%s' in %s\n", name, users);
    rc = 1;
    goto out;
  }
  char line[FTPD_MAX_USER + 512 + 4200];
  if (!strcmp(action, "add")) {
    char pass[FTPD_MAX_PASS + 2], hash[256];
    if (read_password(pass, sizeof pass) || !pass[0]) {
      fprintf(stderr, "mtftpd passwd: no password given\n");
      rc = 1;
      goto out;
    }
    r = ftpd_hash_password(pass, hash, sizeof hash);
    explicit_bzero(pass, sizeof pass);
    if (r) {
      fprintf(stderr, "mtftpd passwd: hashing failed: %s\n", strerror(-r));
      rc = 1;
      goto out;
    }
    snprintf(line, sizeof line, "%s:%s:%s:%s\n", name, hash, home, perms);
  }
  /* Rewrite the file: every other line as it was, this user's line replaced. */
  sbuf_t nb;
  sbuf_init(&nb, 0);
  size_t i = 0;
  bool placed = false;
  while (i < len) {
    size_t j = i;
    while (j < len && text[j] != '\n') j++;
    size_t nl = strlen(name);
    bool mine = j - i > nl && !memcmp(text + i, name, nl) && text[i + nl] == ':';
    if (!mine) {
      sbuf_put(&nb, text + i, j - i);
      sbuf_puts(&nb, "\n");
    } else if (!strcmp(action, "add")) {
      sbuf_puts(&nb, line);
      placed = true;
    }
    i = j + 1;
  }
  if (!strcmp(action, "add") && !placed) sbuf_puts(&nb, line);
  if (nb.failed) r = -ENOMEM;
  else r = write_users(users, nb.p ? nb.p : "", nb.len);
  sbuf_free(&nb);
  if (r) {
    fprintf(stderr, "mtftpd passwd: %s: %s\n", users, strerror(-r));
    rc = 1;
  } else {
    fprintf(stderr, "mtftpd passwd: %s '%s' in %s\n", !strcmp(action, "del") ? "removed" : found ? "updated" : "added",
            name, users);
  }
out:
  ftpd_users_free(&u);
  free(text);
  return rc;
}
