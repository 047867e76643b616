/* auth.c — who may log in, and what each user may do: the part of the
 * users file the network reaches.
 *
 * The users file holds one "name:crypt-hash:home:perms" line per user, with
 * yescrypt hashes from libcrypt. ftpd_password_ok() spends one hash whether
 * or not the user exists, so timing does not tell names apart. Permissions
 * are enforced elsewhere, by the dispatcher (session.c, ftpd_authorize()).
 * A login yescrypt verified is remembered for a while (the login cache,
 * below), so a client's pool of connections pays one yescrypt, not one each.
 * The administrator's tool that rewrites the file is passwd.c.
 */
#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

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

bool ftpd_user_name_ok(const char *n) {
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
    if (split4(line, f) < 0 || !ftpd_user_name_ok(f[0]) || f[1][0] != '$') {
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

int ftpd_slurp(const char *path, char **out, size_t *len, size_t max) {
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
  int r = ftpd_slurp(path, &text, &len, FTPD_MAX_USERS_FILE);
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
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
  /* The fuzz tree only (-DMT_FUZZ=ON): a cheap SHA-crypt hash, so that an
   * input naming an unknown user costs microseconds, not a yescrypt. */
  struct crypt_data cd;
  memset(&cd, 0, sizeof cd);
  const char *h = crypt_r(pass, "$6$rounds=1000$fuzzdummy$", &cd);
  snprintf(dummy_hash, sizeof dummy_hash, "%s", h && h[0] == '$' ? h : "*");
#else
  if (ftpd_hash_password(pass, dummy_hash, sizeof dummy_hash)) strcpy(dummy_hash, "*");
#endif
}

/* struct crypt_data is 32 KiB: mapped for the one hash and unmapped after,
 * not taken from the heap, where it would stay dirty once freed (in a fork
 * model session process, 32 KiB of its own for as long as it lives). */
static struct crypt_data *crypt_data_new(void) {
  void *p = mmap(NULL, sizeof(struct crypt_data), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;   /* zero-filled, as crypt_r wants it */
}

static void crypt_data_free(struct crypt_data *cd) {
  explicit_bzero(cd, sizeof *cd);
  munmap(cd, sizeof *cd);
}

bool ftpd_password_ok(const ftpd_user_t *u, const char *pass) {
  struct crypt_data *cd = crypt_data_new();
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
  crypt_data_free(cd);
  return ok;
}

int ftpd_hash_password(const char *pass, char *out, size_t outsz) {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt)) return -errno;
  struct crypt_data *cd = crypt_data_new();
  if (!cd) return -ENOMEM;
  char *h = crypt_r(pass, salt, cd);
  int r = 0;
  if (!h || h[0] == '*') r = -EINVAL;
  else if (strlen(h) + 1 > outsz) r = -ENAMETOOLONG;
  else strcpy(out, h);
  crypt_data_free(cd);
  return r;
}


/* ---- the login cache ---------------------------------------------------------
 * A yescrypt costs about 30 ms of CPU, by design, and a client with a pool
 * of connections (mtftp's mget -j 8, lftp's mirror --parallel) logs in once
 * per connection. A login that ftpd_password_ok verified is remembered for
 * login-cache seconds: the user's name, the hash string of the users-file
 * line it matched, and a SHA-256 of the password under a random salt of the
 * entry's own. The same name with the same password against the same line
 * then logs in by one SHA-256 (a changed or removed line, after SIGHUP,
 * matches no entry). A wrong password is never remembered and never cut
 * short: a miss costs the full yescrypt, so guessing gains nothing.
 * PingDirectory's encoded-password cache keeps a salted SHA-256 beside
 * expensive hashes the same way. The price: for that long, memory holds a
 * fast hash of each recent password, so whoever can read the server's
 * memory could guess those at SHA-256 speed (they could as well read the
 * passwords as they arrive). An entry is wiped when a lookup finds it
 * expired (against login-cache as it is now), and every entry at a
 * reload; one slot per user-name hash, a collision replaces. The fork
 * model does not use it (commands/login.c): a session is a process of its
 * own there, and its isolation is the point. */
#define LOGIN_SLOTS 256

typedef struct {
  char user[FTPD_MAX_USER + 1];
  char hash[128];               /* the users-file hash string it was verified against */
  unsigned char salt[16], digest[32];
  double verified;              /* when (mt_now()); 0: empty */
} login_slot_t;

static login_slot_t g_login[LOGIN_SLOTS];
static pthread_mutex_t g_login_mu = PTHREAD_MUTEX_INITIALIZER;

static login_slot_t *login_slot(const char *user) {
  uint32_t h = 2166136261u;     /* FNV-1a */
  for (const unsigned char *p = (const unsigned char *)user; *p; p++) h = (h ^ *p) * 16777619u;
  return &g_login[h % LOGIN_SLOTS];
}

static bool salted(const unsigned char salt[16], const char *pass, unsigned char out[32]) {
  unsigned char buf[16 + FTPD_MAX_PASS];
  size_t n = strlen(pass);
  if (n > FTPD_MAX_PASS) return false;
  memcpy(buf, salt, 16);
  memcpy(buf + 16, pass, n);
  unsigned int len = 0;
  bool ok = EVP_Digest(buf, 16 + n, out, &len, EVP_sha256(), NULL) == 1 && len == 32;
  OPENSSL_cleanse(buf, sizeof buf);
  return ok;
}

static bool fits(const ftpd_user_t *u) {
  return u && strlen(u->name) <= FTPD_MAX_USER && strlen(u->hash) < sizeof g_login[0].hash;
}

bool ftpd_login_cached(const ftpd_user_t *u, const char *pass, double ttl) {
  if (ttl <= 0 || !fits(u)) return false;
  login_slot_t *sl = login_slot(u->name), e;
  double now = mt_now();
  pthread_mutex_lock(&g_login_mu);
  e = *sl;
  if (sl->verified && now - sl->verified >= ttl) OPENSSL_cleanse(sl, sizeof *sl);   /* expired: wiped */
  pthread_mutex_unlock(&g_login_mu);
  bool hit = false;
  unsigned char d[32];
  if (e.verified && now - e.verified < ttl && !strcmp(e.user, u->name) && !strcmp(e.hash, u->hash) &&
      salted(e.salt, pass, d))
    hit = CRYPTO_memcmp(d, e.digest, sizeof d) == 0;
  OPENSSL_cleanse(&e, sizeof e);
  OPENSSL_cleanse(d, sizeof d);
  return hit;
}

void ftpd_login_remember(const ftpd_user_t *u, const char *pass, double ttl) {
  if (ttl <= 0 || !fits(u)) return;
  login_slot_t e = {0};
  snprintf(e.user, sizeof e.user, "%s", u->name);
  snprintf(e.hash, sizeof e.hash, "%s", u->hash);
  if (getrandom(e.salt, sizeof e.salt, 0) == (ssize_t)sizeof e.salt && salted(e.salt, pass, e.digest)) {
    e.verified = mt_now();
    pthread_mutex_lock(&g_login_mu);
    *login_slot(u->name) = e;
    pthread_mutex_unlock(&g_login_mu);
  }
  OPENSSL_cleanse(&e, sizeof e);
}

void ftpd_login_forget_all(void) {
  pthread_mutex_lock(&g_login_mu);
  OPENSSL_cleanse(g_login, sizeof g_login);
  pthread_mutex_unlock(&g_login_mu);
}
