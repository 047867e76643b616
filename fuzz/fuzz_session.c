/* fuzz_session.c — libFuzzer harness for a whole control session.
 *
 * An input is what a client sends on the control connection, whole command
 * sequences (login, navigation, transfers, renames, SITE, REIN, junk). It
 * is written into one end of a socketpair, which is then shut for writing,
 * and ftpd_session_run() serves the other end in this thread, as the unit
 * test does (tests/unit/test_ftpd.c), until it reads the end of the stream;
 * a thread of its own drains the replies. TLS is left out (no certificate): AUTH
 * is refused. Every input gets a fresh tree (a file, a directory) that the
 * session may change, so a run depends on its input only.
 *
 * Data connections: PASV/EPSV cannot listen beside a socketpair (425);
 * PORT/EPRT to 127.0.0.1 reach a data peer this harness runs on the first
 * free port from 47301 (the seeds name 47301), which sends a few bytes,
 * ends its side and reads to the end — so RETR, STOR, APPE, LIST and
 * friends run their transfer loops. What it sends is the input's part after
 * a line "--data--" (MODE B blocks, say: the upload side's parser of
 * untrusted block headers), else a fixed line or two.
 *
 * Failed PASS is answered at once (srv.no_login_delay), alice's hash is a
 * cheap SHA-crypt one, and so is the fuzz tree's dummy hash for unknown
 * users (auth.c, FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION); the log is
 * silenced. The tree is rebuilt only when the last input changed it. Leaks, overflows and UB are
 * ASan's and UBSan's to report; a hang is libFuzzer's -timeout.
 */
#include <crypt.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "ftpd.h"

static ftpd_server_t srv;
static char base[] = "/tmp/fuzz_session.XXXXXX";
static char root[sizeof base + 8];
static const ftpd_model_t fuzz_model = {.name = "fuzz", .what = "in-process"};

/* The data peer: one connection at a time, as a session makes them. */
static const char default_payload[] = "uploaded by the data peer\nline two\r\n";
static pthread_mutex_t payload_mu = PTHREAD_MUTEX_INITIALIZER;
static uint8_t payload[16384];                /* a copy (under payload_mu): the peer may send */
static size_t payload_len;                    /* after the input's call has returned */

static void *data_peer(void *arg) {
  int lfd = (int)(intptr_t)arg;
  for (;;) {
    int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0) continue;
    pthread_mutex_lock(&payload_mu);
    (void)!send(c, payload, payload_len, MSG_NOSIGNAL);
    pthread_mutex_unlock(&payload_mu);
    shutdown(c, SHUT_WR);
    char buf[4096];
    while (read(c, buf, sizeof buf) > 0) {
    }
    close(c);
  }
  return NULL;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  chmod(p, 0700);            /* SITE CHMOD may have taken the write bit */
  return remove(p);
}

/* What the tree looked like when made: an input that changed nothing of it
 * (the usual case) leaves it to the next as it is. */
static struct stat made[3];

static bool tree_changed(void) {
  static const char *const names[3] = {"", "/hello.txt", "/sub"};
  for (int i = 0; i < 3; i++) {
    char p[sizeof root + 16];
    snprintf(p, sizeof p, "%s%s", root, names[i]);
    struct stat st;
    if (lstat(p, &st) || st.st_ino != made[i].st_ino || st.st_mode != made[i].st_mode ||
        st.st_size != made[i].st_size || st.st_mtim.tv_sec != made[i].st_mtim.tv_sec ||
        st.st_mtim.tv_nsec != made[i].st_mtim.tv_nsec || st.st_ctim.tv_nsec != made[i].st_ctim.tv_nsec ||
        st.st_ctim.tv_sec != made[i].st_ctim.tv_sec)
      return true;
  }
  return false;
}

static void fresh_tree(void) {
  if (made[0].st_ino && !tree_changed()) return;
  nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
  mkdir(root, 0755);
  char p[sizeof root + 32];
  snprintf(p, sizeof p, "%s/hello.txt", root);
  int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0) {
    (void)!write(fd, "hello\nworld\r\n", 13);
    close(fd);
  }
  snprintf(p, sizeof p, "%s/sub", root);
  mkdir(p, 0755);
  static const char *const names[3] = {"", "/hello.txt", "/sub"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", root, names[i]);
    lstat(p, &made[i]);
  }
}

/* The reply drainer: one thread for the whole run, handed each input's
 * client end through a pipe; it reads to the end and closes it. Nothing
 * waits for it, so a run costs no thread start or join (on a busy machine
 * each wake-up between threads is milliseconds). */
static int drain_pipe[2];

static void *drain(void *arg) {
  (void)arg;
  int fd;
  while (read(drain_pipe[0], &fd, sizeof fd) == sizeof fd) {
    char buf[16384];
    while (read(fd, buf, sizeof buf) > 0) {
    }
    close(fd);
  }
  return NULL;
}

static void init(void) {
  ftpd_log_level = -1;        /* nothing logged: every level is above it */
  if (!mkdtemp(base)) abort();
  snprintf(root, sizeof root, "%s/r", base);
  fresh_tree();
  ftpd_config_t cfg;
  ftpd_config_defaults(&cfg);
  free(cfg.root);
  cfg.root = strdup(root);
  cfg.anonymous = ANON_RW;
  cfg.data_timeout = 2;
  struct crypt_data cd;
  memset(&cd, 0, sizeof cd);
  const char *h = crypt_r("secret", "$6$rounds=1000$fuzzsalt$", &cd);
  char text[512], err[256];
  snprintf(text, sizeof text, "alice:%s::\nbob:%s::elr\n", h, h);
  ftpd_users_t users;
  if (ftpd_users_parse(&users, text, strlen(text), "users", err, sizeof err)) abort();
  mt_lock_init(&srv.lock, 0);
  srv.snap = ftpd_snapshot_new(&cfg, &users);
  if (!srv.snap) abort();
  srv.xferlog_fd = -1;
  srv.model = &fuzz_model;
  srv.no_login_delay = true;
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int port = 47301;
  for (; port < 47400; port++) {
    a.sin_port = htons((uint16_t)port);
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) == 0) break;
  }
  if (port == 47400 || listen(lfd, 8) < 0) abort();
  pthread_t t;
  pthread_create(&t, NULL, data_peer, (void *)(intptr_t)lfd);
  pthread_detach(t);
  if (pipe2(drain_pipe, O_CLOEXEC) < 0) abort();
  pthread_create(&t, NULL, drain, NULL);
  pthread_detach(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, init);
  if (size > 16384) return 0;            /* fits in the socket's buffer: the write never waits */
  fresh_tree();
  static const char mark[] = "\n--data--\n";
  const uint8_t *cut = memmem(data, size, mark, sizeof mark - 1);
  pthread_mutex_lock(&payload_mu);
  if (cut) {
    const uint8_t *p = cut + sizeof mark - 1;
    payload_len = size - (size_t)(p - data);
    memcpy(payload, p, payload_len);
    size = (size_t)(cut - data) + 1;     /* the control part keeps its last newline */
  } else {
    payload_len = sizeof default_payload - 1;
    memcpy(payload, default_payload, payload_len);
  }
  pthread_mutex_unlock(&payload_mu);
  srv.root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
  int sv[2];
  if (srv.root_fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) abort();
  for (size_t off = 0; off < size;) {
    ssize_t w = write(sv[0], data + off, size - off);
    if (w <= 0) abort();
    off += (size_t)w;
  }
  shutdown(sv[0], SHUT_WR);
  if (write(drain_pipe[1], &sv[0], sizeof sv[0]) != sizeof sv[0]) abort();
  struct sockaddr_storage peer = {0};
  struct sockaddr_in *in = (struct sockaddr_in *)&peer;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  in->sin_port = htons(5555);
  ftpd_session_run(&srv, sv[1], &peer);   /* closes sv[1]; the drainer closes sv[0] */
  close(srv.root_fd);
  return 0;
}
