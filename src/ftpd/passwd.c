/* passwd.c — `mtftpd passwd`: the administrator's users-file tool.
 *
 * Runs from a shell, never from the network: it reads a password from the
 * terminal (echo off) or one line of standard input, hashes it with
 * yescrypt, and rewrites the users file atomically (a temporary beside it,
 * fsync, rename), every other line kept as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "ftpd.h"

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
  if (strcmp(action, "list") && (!name || !ftpd_user_name_ok(name))) {
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
  int r = ftpd_slurp(users, &text, &len, FTPD_MAX_USERS_FILE);
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
