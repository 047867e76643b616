/* test_ftpd.c — unit tests of mtftpd's pure parts: the command parser, the
 * jail, config and users parsing, permissions and the checked buffer; the
 * command table's rules; and one whole session run in-process over a
 * socketpair. The server as a whole is tested by tests/ftp/ with real
 * clients. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"
#include "config.h"
#include "fs.h"
#include "ftpd.h"
#include "protocol.h"
#include "session.h"

static ftpd_cmd_t cmd;

static int parse(const char *s) { return ftpd_parse_command(s, strlen(s), &cmd); }

static void test_parse_basic(void **st) {
  assert_int_equal(parse("retr file name.txt"), FTPD_PARSE_OK);
  assert_string_equal(cmd.verb, "RETR");
  assert_string_equal(cmd.arg, "file name.txt");
  assert_true(cmd.has_arg);
  assert_int_equal(parse("PWD"), FTPD_PARSE_OK);
  assert_string_equal(cmd.verb, "PWD");
  assert_false(cmd.has_arg);
  assert_int_equal(parse("CWD  two leading"), FTPD_PARSE_OK);   /* one separator; the rest is the name */
  assert_string_equal(cmd.arg, " two leading");
  assert_int_equal(parse("  NOOP"), FTPD_PARSE_OK);
  assert_int_equal(parse(""), FTPD_PARSE_EMPTY);
  assert_int_equal(parse("   "), FTPD_PARSE_EMPTY);
  assert_int_equal(parse("AB"), FTPD_PARSE_SYNTAX);
  assert_int_equal(parse("ABCDE x"), FTPD_PARSE_SYNTAX);
  assert_int_equal(parse("R3TR x"), FTPD_PARSE_SYNTAX);
  assert_int_equal(ftpd_parse_command("RETR a\0b", 8, &cmd), FTPD_PARSE_NUL);
  assert_int_equal(parse("RETR a\rb"), FTPD_PARSE_SYNTAX);
}

static void test_parse_telnet_and_limits(void **st) {
  assert_int_equal(parse("\xff\xf4\xff\xf2" "ABOR"), FTPD_PARSE_OK);   /* IAC IP IAC DM */
  assert_string_equal(cmd.verb, "ABOR");
  assert_int_equal(parse("\xff\xfb\x01NOOP"), FTPD_PARSE_OK);          /* IAC WILL ECHO */
  assert_string_equal(cmd.verb, "NOOP");
  assert_int_equal(parse("STOR a\xff\xff" "b"), FTPD_PARSE_OK);         /* IAC IAC = 0xFF */
  assert_string_equal(cmd.arg, "a\xff" "b");
  assert_int_equal(parse("NOOP\xff"), FTPD_PARSE_OK);                   /* a dangling IAC */
  /* issue 12, item 8: after IAC only a Telnet command code goes (RFC 854) */
  assert_int_equal(parse("N\xffOOP"), FTPD_PARSE_OK);
  assert_string_equal(cmd.verb, "NOOP");
  assert_int_equal(parse("RETR a\xff" "Ab"), FTPD_PARSE_OK);
  assert_string_equal(cmd.arg, "aAb");
  /* bare IP and DM bytes before the verb (a synch whose IAC went out of band) */
  assert_int_equal(parse("\xf4\xf2NOOP"), FTPD_PARSE_OK);
  assert_string_equal(cmd.verb, "NOOP");
  assert_int_equal(parse("\xf2 ABOR"), FTPD_PARSE_OK);
  assert_string_equal(cmd.verb, "ABOR");
  assert_int_equal(parse("\xf4\xf2"), FTPD_PARSE_EMPTY);
  assert_int_equal(parse("NO\xf4OP"), FTPD_PARSE_SYNTAX);              /* only before the verb */
  char *big = malloc(FTPD_MAX_LINE + 2);
  memset(big, 'A', FTPD_MAX_LINE + 1);
  memcpy(big, "USER ", 5);
  assert_int_equal(ftpd_parse_command(big, FTPD_MAX_LINE + 1, &cmd), FTPD_PARSE_TOOLONG);
  assert_int_equal(ftpd_parse_command(big, FTPD_MAX_LINE, &cmd), FTPD_PARSE_OK);
  assert_int_equal(strlen(cmd.arg), FTPD_MAX_LINE - 5);
  free(big);
}

static void test_path_resolve(void **st) {
  char out[FTPD_MAX_PATH + 1];
  struct { const char *cwd, *arg, *want; int rc; } cases[] = {
    {"/", "", "/", 0},
    {"/", "a/b", "/a/b", 0},
    {"/a", "b/../c", "/a/c", 0},
    {"/a/b", "..", "/a", 0},
    {"/a/b", "/x//y/./z/", "/x/y/z", 0},
    {"/", "..", NULL, -EACCES},
    {"/a", "../..", NULL, -EACCES},
    {"/a", "/../etc/passwd", NULL, -EACCES},
    {"/", "./././", "/", 0},
    {"/", "...", "/...", 0},          /* just a name */
    {"/", "a/..b", "/a/..b", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int r = ftpd_path_resolve(cases[i].cwd, cases[i].arg, out, sizeof out);
    assert_int_equal(r, cases[i].rc);
    if (!r) assert_string_equal(out, cases[i].want);
  }
  /* CWD's form: ".." at the root stays there, the rest is the same */
  assert_int_equal(ftpd_path_resolve_clamped("/", "..", out, sizeof out), 0);
  assert_string_equal(out, "/");
  assert_int_equal(ftpd_path_resolve_clamped("/a", "../../../b/./c/..", out, sizeof out), 0);
  assert_string_equal(out, "/b");
  char longname[FTPD_MAX_NAME + 2];
  memset(longname, 'n', sizeof longname - 1);
  longname[sizeof longname - 1] = 0;
  assert_int_equal(ftpd_path_resolve("/", longname, out, sizeof out), -ENAMETOOLONG);
  char small[8];
  assert_int_equal(ftpd_path_resolve("/", "abcdefgh", small, sizeof small), -ENAMETOOLONG);
}

static char tree[64];

static void mk(const char *rel, int dir) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", tree, rel);
  if (dir) assert_int_equal(mkdir(p, 0755), 0);
  else close(open(p, O_CREAT | O_WRONLY, 0644));
}

static void ln(const char *target, const char *rel) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", tree, rel);
  assert_int_equal(symlink(target, p), 0);
}

static void test_jail(void **st) {
  strcpy(tree, "/tmp/test_ftpd-XXXXXX");
  assert_non_null(mkdtemp(tree));
  mk("root", 1);
  mk("root/d", 1);
  mk("root/d/f", 0);
  mk("outside", 1);
  mk("outside/secret", 0);
  ln("d/f", "root/inlink");
  ln("../outside/secret", "root/outlink");
  char abs[256];
  snprintf(abs, sizeof abs, "%s/outside", tree);
  ln(abs, "root/absdir");
  char p[256];
  snprintf(p, sizeof p, "%s/root", tree);
  int root = open(p, O_PATH | O_DIRECTORY);
  assert_true(root >= 0);
  for (int fb = 0; fb < 2; fb++) {
    ftpd_fs_force_fallback(fb);
    int fd = ftpd_fs_open(root, "/d/f", O_RDONLY, 0);
    assert_true(fd >= 0);
    close(fd);
    fd = ftpd_fs_open(root, "/", O_PATH | O_DIRECTORY, 0);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(ftpd_fs_open(root, "/outlink", O_RDONLY, 0), -EXDEV);
    assert_int_equal(ftpd_fs_open(root, "/absdir/secret", O_RDONLY, 0), -EXDEV);
    assert_int_equal(ftpd_fs_open(root, "/missing", O_RDONLY, 0), -ENOENT);
    fd = ftpd_fs_open(root, "/inlink", O_RDONLY, 0);
    if (fb) assert_int_equal(fd, -EXDEV);   /* the fallback follows no symlink at all */
    else { assert_true(fd >= 0); close(fd); }
    char name[FTPD_MAX_NAME + 1];
    fd = ftpd_fs_parent(root, "/d/f", name, sizeof name);
    assert_true(fd >= 0);
    assert_string_equal(name, "f");
    close(fd);
    assert_int_equal(ftpd_fs_parent(root, "/", name, sizeof name), -EPERM);
    assert_int_equal(ftpd_fs_parent(root, "/absdir/x", name, sizeof name), -EXDEV);
  }
  ftpd_fs_force_fallback(false);
  close(root);
  char cmdline[128];
  snprintf(cmdline, sizeof cmdline, "rm -rf %s", tree);
  assert_int_equal(system(cmdline), 0);
}

static void test_config(void **st) {
  ftpd_config_t c;
  char err[512];
  ftpd_config_defaults(&c);
  const char *text = "# x\n listen = 127.0.0.1:2121 \nlisten=[::1]:21\nanonymous = rw\nmax-clients=7\n"
                     "pasv-ports = 30000-30010\nidle-timeout = 2.5\nlog-level = DEBUG\n";
  assert_int_equal(ftpd_config_parse(&c, text, strlen(text), "t", err, sizeof err), 0);
  assert_int_equal(c.n_listen, 2);
  assert_string_equal(c.listen[1], "[::1]:21");
  assert_int_equal(c.anonymous, ANON_RW);
  assert_int_equal(c.max_clients, 7);
  assert_int_equal(c.pasv_lo, 30000);
  assert_int_equal(c.pasv_hi, 30010);
  assert_true(c.idle_timeout == 2.5);
  assert_int_equal(c.log_level, LOG_DEBUG);
  struct { const char *text, *msg; } bad[] = {
    {"max-clients = 0\n", "t:1: max-clients"},
    {"\n\nfoo = 1\n", "t:3: unknown key 'foo'"},
    {"listen = ::1:21\n", "t:1: listen"},
    {"pasv-ports = 80-90\n", "t:1: pasv-ports"},
    {"justtext\n", "t:1: expected 'key = value'"},
    {"idle-timeout = -1\n", "t:1: idle-timeout"},
    {"config = x\n", "cannot be set"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    assert_int_equal(ftpd_config_parse(&c, bad[i].text, strlen(bad[i].text), "t", err, sizeof err), -1);
    assert_non_null(strstr(err, bad[i].msg));
  }
  ftpd_config_free(&c);
  char host[64];
  int port;
  assert_int_equal(ftpd_parse_hostport("[::1]:2121", host, sizeof host, &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 2121);
  assert_int_equal(ftpd_parse_hostport("2121", host, sizeof host, &port), 0);
  assert_string_equal(host, "");
  assert_int_equal(ftpd_parse_hostport("h:99999", host, sizeof host, &port), -1);
}

static void test_users_and_perms(void **st) {
  assert_int_equal(ftpd_perms_parse("elr"), PERM_E | PERM_L | PERM_R);
  assert_int_equal(ftpd_perms_parse(PERM_LETTERS), PERM_ALL);
  assert_int_equal(ftpd_perms_parse("elx"), -1);
  char out[16];
  ftpd_perms_format(PERM_R | PERM_CHMOD | PERM_T, out);
  assert_string_equal(out, "rMT");

  char hash[256], err[512];
  assert_int_equal(ftpd_hash_password("pw", hash, sizeof hash), 0);
  assert_true(!strncmp(hash, "$y$", 3));
  char text[600];
  snprintf(text, sizeof text, "# users\nalice:%s:/home/a:elr\n\nbob:%s::\n", hash, hash);
  ftpd_users_t u;
  assert_int_equal(ftpd_users_parse(&u, text, strlen(text), "u", err, sizeof err), 0);
  assert_int_equal(u.n, 2);
  const ftpd_user_t *a = ftpd_users_find(&u, "alice");
  assert_non_null(a);
  assert_string_equal(a->home, "/home/a");
  assert_int_equal(a->perms, PERM_E | PERM_L | PERM_R);
  assert_null(ftpd_users_find(&u, "bob")->home);
  assert_int_equal(ftpd_users_find(&u, "bob")->perms, PERM_ALL);
  assert_true(ftpd_password_ok(a, "pw"));
  assert_false(ftpd_password_ok(a, "pW"));
  assert_false(ftpd_password_ok(NULL, "pw"));     /* unknown user: false, same cost */
  assert_null(ftpd_users_find(&u, "carol"));
  ftpd_users_free(&u);
  const char *bad[] = {"x\n", "bad name:$y$x::\n", "a:nohash::\n", "a:$y$x::q\n", "a:$y$1::\na:$y$2::\n",
                       "a:$y$x:h:elr:extra\n"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = 0;
    assert_int_equal(ftpd_users_parse(&u, bad[i], strlen(bad[i]), "u", err, sizeof err), -1);
    assert_non_null(strstr(err, "u:"));
  }
}

static void test_sbuf(void **st) {
  sbuf_t b;
  sbuf_init(&b, 10);
  sbuf_puts(&b, "hello");
  sbuf_printf(&b, "%d", 1234);
  assert_string_equal(b.p, "hello1234");
  assert_false(b.failed);
  sbuf_puts(&b, "xy");             /* past the limit: failed, contents unchanged */
  assert_true(b.failed);
  assert_string_equal(b.p, "hello1234");
  sbuf_reset(&b);
  assert_false(b.failed);
  assert_int_equal(b.len, 0);
  sbuf_free(&b);
  sbuf_init(&b, 0);
  for (int i = 0; i < 1000; i++) sbuf_printf(&b, "%0600d", i);
  assert_int_equal(b.len, 600000);
  sbuf_free(&b);
}

static void test_next_line(void **st) {
  const char text[] = "one\r\ntwo\n\nlast";
  char line[8];
  size_t pos = 0;
  assert_int_equal(ftpd_next_line(text, sizeof text - 1, &pos, line, sizeof line), 3);
  assert_string_equal(line, "one");
  assert_int_equal(ftpd_next_line(text, sizeof text - 1, &pos, line, sizeof line), 3);
  assert_int_equal(ftpd_next_line(text, sizeof text - 1, &pos, line, sizeof line), 0);
  assert_int_equal(ftpd_next_line(text, sizeof text - 1, &pos, line, sizeof line), 4);
  assert_string_equal(line, "last");
  assert_int_equal(ftpd_next_line(text, sizeof text - 1, &pos, line, sizeof line), FTPD_LINE_END);
  pos = 0;
  assert_int_equal(ftpd_next_line("12345678\nok", 11, &pos, line, sizeof line), FTPD_LINE_LONG);
  assert_int_equal(ftpd_next_line("12345678\nok", 11, &pos, line, sizeof line), 2);
  pos = 0;
  assert_int_equal(ftpd_next_line("a\0b\n", 4, &pos, line, sizeof line), FTPD_LINE_NUL);
}

/* ---- the command table (issue 12: one authorization path) ------------------- */

static void check_table(const ftpd_cmd_def_t *t, size_t maxlen) {
  for (const ftpd_cmd_def_t *d = t; d->verb; d++) {
    size_t n = strlen(d->verb);
    assert_true(n >= 3 && n <= maxlen);
    for (size_t i = 0; i < n; i++) assert_true(d->verb[i] >= 'A' && d->verb[i] <= 'Z');
    for (const ftpd_cmd_def_t *e = d + 1; e->verb; e++) assert_string_not_equal(d->verb, e->verb);
    assert_non_null(d->fn);
    assert_non_null(d->help);
    assert_int_equal(strncmp(d->help, d->verb, n), 0);
    if (d->path != PATH_NONE) {
      /* a path is always authorized, and only for a logged-in user */
      assert_true(d->perm != 0);
      assert_true(d->flags & (CMD_LOGIN | CMD_LOGIN_WITH_ARG));
    } else {
      assert_int_equal(d->perm, 0);   /* a permission means nothing without a path */
    }
  }
}

static void test_command_table(void **st) {
  check_table(ftpd_cmds, 4);
  check_table(ftpd_site_cmds, 5);
  /* every verb that touches the file system: its path and its permission */
  struct { const char *verb; unsigned perm; } fs[] = {
    {"RETR", PERM_R}, {"STOR", PERM_W}, {"STOU", PERM_W}, {"APPE", PERM_A}, {"DELE", PERM_D}, {"RMD", PERM_D},
    {"XRMD", PERM_D}, {"MKD", PERM_M}, {"XMKD", PERM_M}, {"RNFR", PERM_F}, {"RNTO", PERM_F}, {"CWD", PERM_E},
    {"XCWD", PERM_E}, {"CDUP", PERM_E}, {"XCUP", PERM_E}, {"SIZE", PERM_L}, {"MDTM", PERM_L}, {"MFMT", PERM_T},
    {"LIST", PERM_L}, {"NLST", PERM_L}, {"MLSD", PERM_L}, {"MLST", PERM_L}, {"STAT", PERM_L},
  };
  for (size_t i = 0; i < sizeof fs / sizeof fs[0]; i++) {
    const ftpd_cmd_def_t *d = ftpd_cmd_lookup(fs[i].verb);
    assert_non_null(d);
    assert_int_not_equal(d->path, PATH_NONE);
    assert_int_equal(d->perm, fs[i].perm);
  }
  const ftpd_cmd_def_t *c = ftpd_site_lookup("chmod", 5);
  assert_non_null(c);
  assert_int_equal(c->perm, PERM_CHMOD);
  assert_int_equal(c->path, PATH_AFTER_WORD);
  assert_null(ftpd_site_lookup("chmo", 4));
  /* the model names the config knows are the models' own */
  for (int m = 0; m < 3; m++) assert_string_equal(ftpd_model_get(m)->name, ftpd_config_name("model", m));
  assert_null(ftpd_model_get(3));
}

/* ---- a whole session in-process, over a socketpair ---------------------------- */

typedef struct {
  ftpd_server_t *srv;
  int fd;
  struct sockaddr_storage peer;
} sess_arg_t;

static void *session_thread(void *p) {
  sess_arg_t *a = p;
  ftpd_session_run(a->srv, a->fd, &a->peer);
  return NULL;
}

static const ftpd_model_t test_model = {.name = "test", .what = "in-process"};

/* One whole reply (multi-line ones too, read by ftpproto's reply reader)
 * into buf; returns its code. */
static int reply(int fd, char *buf, size_t cap) {
  ftpp_reply_t r;
  ftpp_reply_init(&r);
  size_t len = 0;
  for (;;) {
    size_t start = len;
    for (;;) {
      char c;
      assert_int_equal(read(fd, &c, 1), 1);
      assert_true(len + 2 < cap);
      buf[len++] = c;
      if (c == '\n') break;
    }
    size_t ll = len - start;
    while (ll && (buf[start + ll - 1] == '\n' || buf[start + ll - 1] == '\r')) ll--;
    int st = ftpp_reply_feed(&r, buf + start, ll);
    assert_true(st >= 0);
    if (st == FTPP_REPLY_DONE) break;
  }
  buf[len] = 0;
  return r.code;
}

static int say(int fd, const char *line, char *buf, size_t cap) {
  char out[512];
  int n = snprintf(out, sizeof out, "%s\r\n", line);
  assert_int_equal(write(fd, out, (size_t)n), n);
  return reply(fd, buf, cap);
}

static void test_session_in_process(void **st) {
  char stree[] = "/tmp/test_ftpd_sess.XXXXXX";
  assert_non_null(mkdtemp(stree));
  char path[256];
  snprintf(path, sizeof path, "%s/hello.txt", stree);
  FILE *f = fopen(path, "w");
  fputs("hello", f);
  fclose(f);
  snprintf(path, sizeof path, "%s/x\r\n213 forged", stree);     /* a name that would end a reply */
  close(open(path, O_CREAT | O_WRONLY, 0644));

  ftpd_config_t cfg;
  ftpd_config_defaults(&cfg);
  free(cfg.root);
  cfg.root = strdup(stree);
  char hash[256], text[700], err[300];
  assert_int_equal(ftpd_hash_password("secret", hash, sizeof hash), 0);
  snprintf(text, sizeof text, "alice:%s::\nbob:%s::elr\n", hash, hash);
  ftpd_users_t users;
  assert_int_equal(ftpd_users_parse(&users, text, strlen(text), "u", err, sizeof err), 0);
  ftpd_server_t srv;
  memset(&srv, 0, sizeof srv);
  mt_lock_init(&srv.lock, 0);
  srv.snap = ftpd_snapshot_new(&cfg, &users);
  assert_non_null(srv.snap);
  srv.root_fd = open(stree, O_PATH | O_DIRECTORY | O_CLOEXEC);
  srv.xferlog_fd = -1;
  srv.model = &test_model;
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  sess_arg_t a = {&srv, sv[1], {0}};
  struct sockaddr_in *in = (struct sockaddr_in *)&a.peer;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = htons(5555);
  mt_thread_t *th;
  assert_int_equal(mt_thread_start(&th, session_thread, &a, NULL), 0);

  int c = sv[0];
  char buf[16384];
  assert_int_equal(reply(c, buf, sizeof buf), 220);
  assert_int_equal(say(c, "PWD", buf, sizeof buf), 530);          /* the dispatcher: login first */
  assert_int_equal(say(c, "SITE CHMOD 644 hello.txt", buf, sizeof buf), 530);
  assert_int_equal(say(c, "STAT hello.txt", buf, sizeof buf), 530);
  assert_int_equal(say(c, "STAT", buf, sizeof buf), 211);         /* bare STAT needs none */
  assert_int_equal(say(c, "USER alice", buf, sizeof buf), 331);
  assert_int_equal(say(c, "PASS secret", buf, sizeof buf), 230);
  assert_int_equal(say(c, "PWD", buf, sizeof buf), 257);
  assert_non_null(strstr(buf, "\"/\""));
  assert_int_equal(say(c, "MKD sub", buf, sizeof buf), 257);
  assert_int_equal(say(c, "CWD sub", buf, sizeof buf), 250);
  assert_int_equal(say(c, "PWD", buf, sizeof buf), 257);
  assert_non_null(strstr(buf, "\"/sub\""));
  assert_int_equal(say(c, "CDUP", buf, sizeof buf), 250);
  assert_int_equal(say(c, "CDUP", buf, sizeof buf), 250);         /* clamped at the root */
  assert_int_equal(say(c, "SIZE hello.txt", buf, sizeof buf), 213);
  assert_string_equal(buf, "213 5\r\n");
  assert_int_equal(say(c, "MFMT 20200101000000 hello.txt", buf, sizeof buf), 213);
  assert_int_equal(say(c, "MDTM hello.txt", buf, sizeof buf), 213);
  assert_string_equal(buf, "213 20200101000000\r\n");
  assert_int_equal(say(c, "MFMT 2020 hello.txt", buf, sizeof buf), 501);
  assert_int_equal(say(c, "STAT /", buf, sizeof buf), 213);
  assert_non_null(strstr(buf, " hello.txt\r\n"));
  assert_non_null(strstr(buf, " sub\r\n"));
  assert_null(strstr(buf, "forged"));                            /* left out, and the reply ended right */
  assert_int_equal(say(c, "NOOP", buf, sizeof buf), 200);
  assert_int_equal(say(c, "SITE CHMOD 4755 sub", buf, sizeof buf), 200);
  struct stat sst;
  snprintf(path, sizeof path, "%s/sub", stree);
  assert_int_equal(stat(path, &sst), 0);
  assert_int_equal(sst.st_mode & 07777, 0755);
  assert_int_equal(say(c, "RNFR hello.txt", buf, sizeof buf), 350);
  assert_int_equal(say(c, "RNTO hi.txt", buf, sizeof buf), 250);
  assert_int_equal(say(c, "RETR ../../etc/passwd", buf, sizeof buf), 550);
  assert_int_equal(say(c, "FEAT", buf, sizeof buf), 211);
  assert_int_equal(say(c, "REIN", buf, sizeof buf), 220);
  /* bob may list and read only: the dispatcher refuses the rest */
  assert_int_equal(say(c, "USER bob", buf, sizeof buf), 331);
  assert_int_equal(say(c, "PASS secret", buf, sizeof buf), 230);
  const char *refused[] = {"DELE hi.txt", "MKD x", "RMD sub", "RNFR hi.txt", "SITE CHMOD 600 hi.txt",
                           "MFMT 20200101000000 hi.txt", "STOR y", "APPE hi.txt", "STOU"};
  for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
    assert_int_equal(say(c, refused[i], buf, sizeof buf), 550);
  assert_int_equal(say(c, "SIZE hi.txt", buf, sizeof buf), 213);
  assert_int_equal(say(c, "QUIT", buf, sizeof buf), 221);
  char x;
  assert_int_equal(read(c, &x, 1), 0);                              /* closed */
  assert_int_equal(mt_thread_join(th, 10, NULL), 0);
  mt_thread_free(th);
  close(c);
  snprintf(path, sizeof path, "%s/hi.txt", stree);
  assert_int_equal(access(path, F_OK), 0);
  ftpd_snapshot_put(srv.snap);
  close(srv.root_fd);
  mt_lock_destroy(&srv.lock);
  char cmdline[128];
  snprintf(cmdline, sizeof cmdline, "rm -rf %s", stree);
  assert_int_equal(system(cmdline), 0);
}

/* ---- failed-login bans (ban.c) and rate clocks (rate.c) ------------------------ */

static void v4(struct sockaddr_storage *ss, unsigned ip) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *in = (struct sockaddr_in *)ss;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(ip);
}

static int ban_left(ftpd_server_t *srv, const char *ip) {
  mt_lock_acquire(&srv->lock, MT_FOREVER);
  int r = ftpd_ban_left(srv, ip);
  mt_lock_release(&srv->lock);
  return r;
}

static void test_ban_table(void **st) {
  ftpd_config_t cfg;
  ftpd_config_defaults(&cfg);
  cfg.max_login_failures = 3;
  cfg.login_failure_window = 60;
  cfg.login_ban_time = 0.3;
  ftpd_server_t srv;
  memset(&srv, 0, sizeof srv);
  mt_lock_init(&srv.lock, 0);
  srv.snap = ftpd_snapshot_new(&cfg, NULL);
  struct sockaddr_storage a, b;
  v4(&a, 0x0a000001);
  v4(&b, 0x0a000002);
  ftpd_ban_failure(&srv, &a);
  ftpd_ban_failure(&srv, &a);
  ftpd_ban_failure(&srv, &b);
  assert_int_equal(ban_left(&srv, "10.0.0.1"), 0);     /* 2 of 3 */
  ftpd_ban_failure(&srv, &a);
  assert_int_equal(ban_left(&srv, "10.0.0.1"), 1);     /* banned: rounded up to a second */
  assert_int_equal(ban_left(&srv, "10.0.0.2"), 0);     /* per address */
  mt_sleep(0.35);
  assert_int_equal(ban_left(&srv, "10.0.0.1"), 0);     /* expired, and dropped */
  ftpd_ban_failure(&srv, &a);
  assert_int_equal(ban_left(&srv, "10.0.0.1"), 0);     /* counting starts again */
  /* the table is bounded: the stalest counter makes room for a new address */
  for (unsigned i = 0; i < FTPD_MAX_BAN_ENTRIES + 10; i++) {
    v4(&b, 0x0b000000 + i);
    ftpd_ban_failure(&srv, &b);
  }
  assert_int_equal(srv.n_bans, FTPD_MAX_BAN_ENTRIES);
  /* off: nothing is counted */
  srv.snap->cfg.max_login_failures = 0;
  for (int i = 0; i < 5; i++) ftpd_ban_failure(&srv, &a);
  assert_int_equal(ban_left(&srv, "10.0.0.1"), 0);
  free(srv.bans);
  ftpd_snapshot_put(srv.snap);
  mt_lock_destroy(&srv.lock);
}

static void test_rate_clocks(void **st) {
  ftpd_config_t cfg;
  ftpd_config_defaults(&cfg);
  ftpd_server_t srv;
  memset(&srv, 0, sizeof srv);
  srv.snap = ftpd_snapshot_new(&cfg, NULL);
  srv.rates = ftpd_rates_new();
  assert_non_null(srv.rates);
  ftpd_session_t s;
  memset(&s, 0, sizeof s);
  s.srv = &srv;
  s.snap = srv.snap;
  s.cfg = &srv.snap->cfg;
  s.logged_in = true;
  strcpy(s.user, "alice");
  /* no limit: whole chunks, no wait */
  assert_int_equal(ftpd_rate_chunk(&s, 1 << 20), 1 << 20);
  ftpd_rate_charge(&s, 1 << 20);
  assert_true(ftpd_rate_delay(&s) == 0);
  /* per session: 10000 B/s, chunks of an eighth of a second */
  srv.snap->cfg.max_rate = 10000;
  assert_int_equal(ftpd_rate_chunk(&s, 1 << 20), 1250);
  ftpd_rate_charge(&s, 5000);
  double d = ftpd_rate_delay(&s);
  assert_true(d > 0.4 && d <= 0.5);
  /* per user: the clock lives in shared memory, so a forked session
   * process's bytes hold this one back too */
  srv.snap->cfg.max_rate = 0;
  srv.snap->cfg.max_rate_per_user = 1000;
  assert_true(ftpd_rate_delay(&s) == 0);
  pid_t pid = fork();
  if (pid == 0) {
    ftpd_session_t c = s;
    c.rate_looked = false;
    ftpd_rate_charge(&c, 2000);
    _exit(0);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  d = ftpd_rate_delay(&s);
  assert_true(d > 1.5 && d <= 2.0);
  ftpd_session_t bob = s;          /* another user has a clock of its own */
  bob.rate_looked = false;
  bob.rate_user = NULL;
  strcpy(bob.user, "bob");
  assert_true(ftpd_rate_delay(&bob) == 0);
  ftpd_rates_free(srv.rates);
  ftpd_snapshot_put(srv.snap);
}

/* The digest cache's rules (digests.c) on made-up fstats: kept only for a
 * file unchanged while read and stamped before the reading's tick; found
 * only for the same inode, size, times, algorithm and range; shared with a
 * forked process; a full bucket gives up its entry of the fewest bytes. */
static struct stat fake(ino_t ino, off_t size) {
  struct stat a = {.st_dev = 8, .st_ino = ino, .st_size = size};
  a.st_mtim = (struct timespec){100, 5};
  a.st_ctim = (struct timespec){200, 7};
  return a;
}

static void test_digest_cache(void **st) {  /* clock: when the reading began */
  (void)st;
  assert_null(ftpd_digests_new(0));
  assert_true(ftpd_digest_clock().tv_sec > 0);
  struct ftpd_digests *d = ftpd_digests_new(1);   /* one bucket of 4 */
  assert_non_null(d);
  struct stat a = fake(42, 1000);
  struct timespec clock = {201, 8};   /* a second and a nanosecond after the ctime */
  unsigned char dig[FTPD_DIGEST_MAX], got[FTPD_DIGEST_MAX];
  for (int i = 0; i < FTPD_DIGEST_MAX; i++) dig[i] = (unsigned char)(i * 7 + 1);
  assert_false(ftpd_digest_get(d, &a, 0, 0, 1000, 32, got));
  struct timespec same_tick = {200, 7}, within_second = {201, 7};
  assert_false(ftpd_digest_put(d, &a, &a, same_tick, 0, 0, 1000, dig, 32));   /* changed in the tick: not kept */
  assert_false(ftpd_digest_put(d, &a, &a, within_second, 0, 0, 1000, dig, 32)); /* nor a second before */
  struct stat changed = a;
  changed.st_ctim.tv_nsec++;
  assert_false(ftpd_digest_put(d, &a, &changed, clock, 0, 0, 1000, dig, 32));  /* changed while read */
  assert_false(ftpd_digest_get(d, &a, 0, 0, 1000, 32, got));
  assert_true(ftpd_digest_put(d, &a, &a, clock, 0, 0, 1000, dig, 32));
  memset(got, 0, sizeof got);
  assert_true(ftpd_digest_get(d, &a, 0, 0, 1000, 32, got));
  assert_memory_equal(got, dig, 32);
  assert_false(ftpd_digest_get(d, &a, 1, 0, 1000, 64, got));                   /* another algorithm */
  assert_false(ftpd_digest_get(d, &a, 0, 0, 999, 32, got));                    /* another range */
  assert_false(ftpd_digest_get(d, &a, 0, 1, 1000, 32, got));
  assert_false(ftpd_digest_get(d, &changed, 0, 0, 1000, 32, got));             /* a later write */
  struct stat b = a;
  b.st_size++;
  assert_false(ftpd_digest_get(d, &b, 0, 0, 1000, 32, got));
  b = a;
  b.st_mtim.tv_sec++;
  assert_false(ftpd_digest_get(d, &b, 0, 0, 1000, 32, got));
  b = fake(43, 1000);
  assert_false(ftpd_digest_get(d, &b, 0, 0, 1000, 32, got));
  pid_t pid = fork();                                  /* shared with session processes */
  if (pid == 0) {
    unsigned char g[FTPD_DIGEST_MAX];
    bool hit = ftpd_digest_get(d, &a, 0, 0, 1000, 32, g) && !memcmp(g, dig, 32);
    dig[0] ^= 0xff;
    bool put = ftpd_digest_put(d, &b, &b, clock, 2, 0, 1000, dig, 20);
    _exit(hit && put ? 0 : 1);
  }
  int status;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_true(ftpd_digest_get(d, &a, 0, 0, 1000, 32, got));
  assert_true(ftpd_digest_get(d, &b, 2, 0, 1000, 20, got));
  assert_int_equal(got[0], dig[0] ^ 0xff);
  /* the bucket fills (a, b, c, e); f evicts the fewest bytes (c), then g
   * the next fewest (a or b, 1000 bytes each), never e */
  struct stat c = fake(44, 10), e = fake(45, 5000), f = fake(46, 9000), g = fake(47, 100);
  assert_true(ftpd_digest_put(d, &c, &c, clock, 0, 0, 10, dig, 32));
  assert_true(ftpd_digest_put(d, &e, &e, clock, 0, 0, 5000, dig, 32));
  assert_true(ftpd_digest_put(d, &f, &f, clock, 0, 0, 9000, dig, 32));
  assert_false(ftpd_digest_get(d, &c, 0, 0, 10, 32, got));
  assert_true(ftpd_digest_get(d, &e, 0, 0, 5000, 32, got) && ftpd_digest_get(d, &f, 0, 0, 9000, 32, got));
  assert_true(ftpd_digest_put(d, &g, &g, clock, 0, 0, 100, dig, 32));
  assert_true(ftpd_digest_get(d, &e, 0, 0, 5000, 32, got) && ftpd_digest_get(d, &f, 0, 0, 9000, 32, got));
  assert_true(ftpd_digest_get(d, &g, 0, 0, 100, 32, got));
  assert_true(ftpd_digest_get(d, &a, 0, 0, 1000, 32, got) != ftpd_digest_get(d, &b, 2, 0, 1000, 20, got));
  assert_false(ftpd_digest_put(d, &a, &a, clock, 0, 0, 1000, dig, FTPD_DIGEST_MAX + 1));
  ftpd_digests_free(d);
  ftpd_digests_free(NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_basic),  cmocka_unit_test(test_parse_telnet_and_limits),
    cmocka_unit_test(test_path_resolve),
    cmocka_unit_test(test_jail),         cmocka_unit_test(test_config),
    cmocka_unit_test(test_users_and_perms), cmocka_unit_test(test_sbuf),
    cmocka_unit_test(test_next_line),    cmocka_unit_test(test_command_table),
    cmocka_unit_test(test_session_in_process),
    cmocka_unit_test(test_ban_table),    cmocka_unit_test(test_rate_clocks),
    cmocka_unit_test(test_digest_cache),
  };
  ftpd_log_level = LOG_ERROR;        /* the session test's log is not the point */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
