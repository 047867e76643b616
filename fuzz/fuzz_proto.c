/* fuzz_proto.c — libFuzzer harnesses for every parser in src/ftpproto.
 *
 * One file, one harness per parser: fuzz/CMakeLists.txt builds it once for
 * each name in FTPP_FUZZ_TARGETS with -DFUZZ_ONE=fuzz_<name>, so every
 * parser gets its own executable, corpus and run. Each input is handed to
 * the parser as a heap copy of exactly its bytes (NUL-terminated for the
 * string parsers, so ASan sees any read past the end), and what a parser
 * accepts is checked: values in range, pointers inside the input, and a
 * round trip through the matching formatter that gives the same value back.
 */
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftpproto.h"

static uint16_t port_of(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                  : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
  if (a->ss_family != b->ss_family || port_of(a) != port_of(b)) return false;
  if (a->ss_family == AF_INET)
    return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
  return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static __attribute__((unused)) int fuzz_port(const char *s, size_t n) {
  struct sockaddr_storage ss, back;
  char out[32];
  if (ftpp_port_parse(s, &ss) != 0) return 0;
  assert(ss.ss_family == AF_INET);
  assert(ftpp_port_format(&ss, out, sizeof out) > 0);
  assert(ftpp_port_parse(out, &back) == 0 && same_addr(&ss, &back));
  return 0;
}

static __attribute__((unused)) int fuzz_eprt(const char *s, size_t n) {
  struct sockaddr_storage ss, back;
  char out[80];
  int r = ftpp_eprt_parse(s, &ss);
  assert(r == 0 || r == -EINVAL || r == -EAFNOSUPPORT);
  if (r) return 0;
  assert(port_of(&ss) >= 1);
  assert(ftpp_eprt_format(&ss, out, sizeof out) > 0);
  assert(ftpp_eprt_parse(out, &back) == 0 && same_addr(&ss, &back));
  return 0;
}

static __attribute__((unused)) int fuzz_pasv(const char *s, size_t n) {
  struct sockaddr_storage ss, back;
  char out[64];
  if (ftpp_pasv_parse(s, &ss) != 0) return 0;
  assert(ss.ss_family == AF_INET);
  assert(ftpp_pasv_format(&ss, out, sizeof out) > 0);
  assert(ftpp_pasv_parse(out, &back) == 0 && same_addr(&ss, &back));
  return 0;
}

static __attribute__((unused)) int fuzz_epsv(const char *s, size_t n) {
  int port = -1, back = -1;
  char out[64];
  if (ftpp_epsv_parse(s, &port) != 0) return 0;
  assert(port >= 1 && port <= 65535);
  assert(ftpp_epsv_format(port, out, sizeof out) > 0);
  assert(ftpp_epsv_parse(out, &back) == 0 && back == port);
  return 0;
}

static __attribute__((unused)) int fuzz_rest(const char *s, size_t n) {
  int64_t v = -1;
  int r = ftpp_rest_parse(s, &v);
  assert(r == 0 || r == -EINVAL || r == -ERANGE);
  if (r) return 0;
  assert(v >= 0);
  /* digits only: the value read back with strtoull is the same */
  for (const char *c = s; *c; c++) assert(*c >= '0' && *c <= '9');
  assert((uint64_t)v == strtoull(s, NULL, 10));
  return 0;
}

static __attribute__((unused)) int fuzz_rang(const char *s, size_t n) {
  uint64_t a = 7, b = 7;
  int r = ftpp_rang_parse(s, &a, &b);
  assert(r == 0 || r == 1 || r == -EINVAL || r == -ERANGE);
  if (r < 0 || r == 1) {
    assert(a == 7 && b == 7);     /* nothing written unless a range is returned */
    return 0;
  }
  assert(a <= b && b <= INT64_MAX);
  /* digits, one space, digits: the values read back with strtoull are the same */
  const char *sp = strchr(s, ' ');
  assert(sp && sp > s && sp[1] && !strchr(sp + 1, ' '));
  for (const char *c = s; *c; c++) assert(c == sp || (*c >= '0' && *c <= '9'));
  assert(a == strtoull(s, NULL, 10) && b == strtoull(sp + 1, NULL, 10));
  return 0;
}

static __attribute__((unused)) int fuzz_time(const char *s, size_t n) {
  struct timespec t;
  if (ftpp_time_parse(s, n, &t) != 0) return 0;
  assert(t.tv_nsec >= 0 && t.tv_nsec < 1000000000);
  char out[16];
  /* years 0000-9999: the formatter takes every result but the one leap
   * second that rolls over into the year 10000 */
  int f = ftpp_time_format(t.tv_sec, out, sizeof out);
  if (f == -ERANGE && !strncmp(s, "99991231235960", 14)) return 0;
  assert(f == 14);
  struct timespec back;
  assert(ftpp_time_parse(out, 14, &back) == 0 && back.tv_sec == t.tv_sec);
  return 0;
}

static __attribute__((unused)) int fuzz_mfmt(const char *s, size_t n) {
  struct timespec t;
  const char *path;
  if (ftpp_mfmt_parse(s, &t, &path) != 0) return 0;
  assert(path > s && path < s + strlen(s) && *path);
  return 0;
}

static __attribute__((unused)) int fuzz_chmod(const char *s, size_t n) {
  unsigned mode = 0, asked = 0;
  const char *path;
  if (ftpp_chmod_parse(s, &mode, &asked, &path) != 0) return 0;
  assert(mode <= 0777 && asked <= 07777 && (asked & 0777) == mode);
  assert(path > s && path < s + strlen(s) && *path);
  return 0;
}

static __attribute__((unused)) int fuzz_unquote(const char *s, size_t n) {
  char out[128], q[300], line[320];
  int r = ftpp_path_unquote(s, out, sizeof out);
  assert(r == -EINVAL || r == -ENOBUFS || (r >= 0 && (size_t)r == strlen(out) && (size_t)r < sizeof out));
  if (r < 0) return 0;
  /* quoting it again and reading that back gives the same path */
  assert(ftpp_path_quote(out, q, sizeof q) >= 0);
  snprintf(line, sizeof line, "257 \"%s\" ok", q);
  char back[128];
  assert(ftpp_path_unquote(line, back, sizeof back) == r && !strcmp(back, out));
  return 0;
}

/* The reply reader over the input's lines; its state stays consistent. */
static __attribute__((unused)) int fuzz_reply(const char *s, size_t n) {
  ftpp_reply_t r;
  ftpp_reply_init(&r);
  size_t i = 0;
  while (i <= n) {
    const char *nl = memchr(s + i, '\n', n - i);
    size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
    int st = ftpp_reply_feed(&r, s + i, len);
    assert(st == FTPP_REPLY_DONE || st == FTPP_REPLY_MORE || st == -EINVAL);
    if (st == -EINVAL) {
      assert(!r.open);
      ftpp_reply_init(&r);
    } else {
      assert(r.code >= 100 && r.code <= 599 && r.lines >= 1);
      assert(st == FTPP_REPLY_MORE ? r.open : !r.open);
      int c = ftpp_reply_code(s + i, len);
      if (r.lines == 1) assert(c == r.code);
    }
    if (!nl) break;
    i += len + 1;
  }
  return 0;
}

static __attribute__((unused)) int fuzz_facts_select(const char *s, size_t n) {
  unsigned m = 0xdead;
  int r = ftpp_facts_select(s, &m);
  assert(r == 0 || (r == -EINVAL && m == 0xdead));
  if (r) return 0;
  assert((m & ~(unsigned)FTPP_FACT_ALL) == 0);
  char out[200];
  assert(ftpp_facts_format(m, 0, false, out, sizeof out) >= 0);
  unsigned back;
  assert(ftpp_facts_select(out, &back) == 0 && back == m);
  return 0;
}

static __attribute__((unused)) int fuzz_facts_parse(const char *s, size_t n) {
  ftpp_facts_t f;
  if (ftpp_facts_parse(s, n, &f) != 0) return 0;
  assert(f.name > s && f.name_len >= 1 && f.name + f.name_len == s + n);
  assert((f.present & ~(unsigned)FTPP_FACT_ALL) == 0);
  assert(memchr(f.type, 0, sizeof f.type) && memchr(f.perm, 0, sizeof f.perm) && memchr(f.unique, 0, sizeof f.unique));
  assert(f.unix_mode <= 07777);
  assert(f.modify.tv_nsec >= 0 && f.modify.tv_nsec < 1000000000);
  return 0;
}

static __attribute__((unused)) int fuzz_hash(const char *s, size_t n) {
  ftpp_hash_t h;
  int r = ftpp_hash_parse(s, &h);
  assert(r == 0 || r == -EINVAL || r == -ERANGE);
  if (r) return 0;
  size_t hl = strlen(h.hex);
  assert(h.start <= h.end && hl >= 32 && hl % 2 == 0 && hl < sizeof h.hex);
  assert(h.path >= s && h.path <= s + n && h.algo[0]);
  if (hl > 128) return 0;
  unsigned char d[64];
  for (size_t k = 0; k < hl / 2; k++) {
    unsigned v;
    sscanf(h.hex + 2 * k, "%2x", &v);   /* trusted here: the parser accepted hex */
    d[k] = (unsigned char)v;
  }
  char out[9200];
  ftpp_hash_t back;
  assert(ftpp_hash_format(h.algo, h.start, h.end, d, hl / 2, h.path, out, sizeof out) > 0);
  assert(ftpp_hash_parse(out, &back) == 0);
  assert(!strcmp(back.algo, h.algo) && back.start == h.start && back.end == h.end && !strcmp(back.hex, h.hex));
  return 0;
}

#ifndef FUZZ_ONE
#error "build with -DFUZZ_ONE=fuzz_<parser> (fuzz/CMakeLists.txt does)"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = malloc(size + 1);
  if (!s) return 0;
  memcpy(s, data, size);
  s[size] = 0;
  FUZZ_ONE(s, size);
  free(s);
  return 0;
}
