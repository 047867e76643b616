/* ftpproto.c — the FTP protocol's text forms (see ftpproto.h).
 *
 * Untrusted input on both sides of the wire: every parser works on its
 * explicit bounds, accepts only the grammar it documents (no sscanf, whose
 * %u takes signs, spaces and wrap-around), and writes its output only on
 * success. Formatting functions check the output size before writing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "ftpproto.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c; }

/* Reads 1..maxdig decimal digits at s[*i] (bounded by len) as a value
 * <= max. Returns 0 and moves *i, or -EINVAL / -ERANGE. */
static int read_num(const char *s, size_t len, size_t *i, int maxdig, uint64_t max, uint64_t *out) {
  size_t j = *i;
  uint64_t v = 0;
  int nd = 0;
  while (j < len && is_digit(s[j])) {
    if (++nd > maxdig) return -ERANGE;
    v = v * 10 + (uint64_t)(s[j] - '0');
    j++;
  }
  if (nd == 0) return -EINVAL;
  if (v > max) return -ERANGE;
  *i = j;
  *out = v;
  return 0;
}

/* snprintf into out; the length, or -ENOBUFS when it did not fit. */
static int put(char *out, size_t outsz, int n) {
  if (n < 0 || (size_t)n >= outsz) {
    if (outsz) out[0] = 0;
    return -ENOBUFS;
  }
  return n;
}

/* The IPv4 address of ss (also v4-mapped v6), in network order. */
static bool v4_of(const struct sockaddr_storage *ss, const unsigned char **addr, uint16_t *port) {
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)ss;
    *addr = (const unsigned char *)&a->sin_addr;
    *port = ntohs(a->sin_port);
    return true;
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)ss;
    if (!IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return false;
    *addr = &a->sin6_addr.s6_addr[12];
    *port = ntohs(a->sin6_port);
    return true;
  }
  return false;
}

static void make_v4(struct sockaddr_storage *out, const uint64_t v[6]) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *in = (struct sockaddr_in *)out;
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = htonl((uint32_t)(v[0] << 24 | v[1] << 16 | v[2] << 8 | v[3]));
  in->sin_port = htons((uint16_t)(v[4] << 8 | v[5]));
}

/* Six comma-separated numbers 0-255 at s[*i]; moves *i past them. */
static int read_six(const char *s, size_t len, size_t *i, uint64_t v[6]) {
  size_t j = *i;
  for (int k = 0; k < 6; k++) {
    if (k && (j >= len || s[j++] != ',')) return -EINVAL;
    int r = read_num(s, len, &j, 3, 255, &v[k]);
    if (r) return r;
  }
  *i = j;
  return 0;
}

/* ---- PORT / EPRT -------------------------------------------------------------- */

int ftpp_port_parse(const char *s, struct sockaddr_storage *out) {
  size_t len = strlen(s), i = 0;
  uint64_t v[6];
  int r = read_six(s, len, &i, v);
  if (r) return r;
  if (i != len) return -EINVAL;
  make_v4(out, v);
  return 0;
}

int ftpp_port_format(const struct sockaddr_storage *ss, char *out, size_t outsz) {
  const unsigned char *a;
  uint16_t port;
  if (!v4_of(ss, &a, &port)) return -EAFNOSUPPORT;
  return put(out, outsz, snprintf(out, outsz, "%u,%u,%u,%u,%u,%u", a[0], a[1], a[2], a[3], port >> 8, port & 255));
}

int ftpp_eprt_parse(const char *s, struct sockaddr_storage *out) {
  char d = s[0];
  if (d < 33 || d > 126) return -EINVAL;
  /* the three fields between four delimiters */
  const char *f[3];
  size_t fl[3];
  const char *p = s + 1;
  for (int k = 0; k < 3; k++) {
    const char *e = strchr(p, d);
    if (!e) return -EINVAL;
    f[k] = p;
    fl[k] = (size_t)(e - p);
    p = e + 1;
  }
  if (*p) return -EINVAL;
  size_t i = 0;
  uint64_t port;
  if (read_num(f[2], fl[2], &i, 5, 65535, &port) || i != fl[2] || port == 0) return -EINVAL;
  char addr[INET6_ADDRSTRLEN];
  if (fl[1] == 0 || fl[1] >= sizeof addr) return -EINVAL;
  memcpy(addr, f[1], fl[1]);
  addr[fl[1]] = 0;
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  if (fl[0] == 1 && f[0][0] == '1') {
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    in->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, addr, &in->sin_addr) != 1) return -EINVAL;
  } else if (fl[0] == 1 && f[0][0] == '2') {
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons((uint16_t)port);
    if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1) return -EINVAL;
  } else {
    i = 0;
    uint64_t af;
    /* a well-formed but unknown family is "not supported", not a syntax error */
    if (read_num(f[0], fl[0], &i, 5, 65535, &af) || i != fl[0]) return -EINVAL;
    return -EAFNOSUPPORT;
  }
  *out = ss;
  return 0;
}

int ftpp_eprt_format(const struct sockaddr_storage *ss, char *out, size_t outsz) {
  char addr[INET6_ADDRSTRLEN];
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const void *)ss;
    inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
    return put(out, outsz, snprintf(out, outsz, "|1|%s|%u|", addr, ntohs(a->sin_port)));
  }
  if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const void *)ss;
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], addr, sizeof addr);
      return put(out, outsz, snprintf(out, outsz, "|1|%s|%u|", addr, ntohs(a->sin6_port)));
    }
    inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
    return put(out, outsz, snprintf(out, outsz, "|2|%s|%u|", addr, ntohs(a->sin6_port)));
  }
  return -EAFNOSUPPORT;
}

/* ---- PASV / EPSV ----------------------------------------------------------------- */

int ftpp_pasv_format(const struct sockaddr_storage *ss, char *out, size_t outsz) {
  const unsigned char *a;
  uint16_t port;
  if (!v4_of(ss, &a, &port)) return -EAFNOSUPPORT;
  return put(out, outsz, snprintf(out, outsz, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", a[0], a[1], a[2], a[3],
                                  port >> 8, port & 255));
}

int ftpp_pasv_parse(const char *s, struct sockaddr_storage *out) {
  size_t len = strlen(s);
  size_t start = 0;
  /* Skip the reply code, whose digits are not part of the address. */
  if (len >= 3 && is_digit(s[0]) && is_digit(s[1]) && is_digit(s[2]) && (len == 3 || s[3] == ' ' || s[3] == '-'))
    start = 3;
  for (size_t i = start; i < len; i++) {
    if (!is_digit(s[i]) || (i > start && is_digit(s[i - 1]))) continue;
    size_t j = i;
    uint64_t v[6];
    if (read_six(s, len, &j, v) == 0 && (j == len || !is_digit(s[j]))) {
      make_v4(out, v);
      return 0;
    }
  }
  return -EINVAL;
}

int ftpp_epsv_format(int port, char *out, size_t outsz) {
  if (port < 1 || port > 65535) return -ERANGE;
  return put(out, outsz, snprintf(out, outsz, "Entering Extended Passive Mode (|||%d|)", port));
}

int ftpp_epsv_parse(const char *s, int *port) {
  for (const char *p = strchr(s, '('); p; p = strchr(p + 1, '(')) {
    char d = p[1];
    if (d < 33 || d > 126 || is_digit(d) || p[2] != d || p[3] != d) continue;
    size_t i = 0, len = strlen(p + 4);
    uint64_t v;
    if (read_num(p + 4, len, &i, 5, 65535, &v) || v == 0) continue;
    if (p[4 + i] != d || p[5 + i] != ')') continue;
    *port = (int)v;
    return 0;
  }
  return -EINVAL;
}

/* ---- REST ---------------------------------------------------------------------------- */

int ftpp_rest_parse(const char *s, int64_t *out) {
  size_t len = strlen(s), i = 0;
  uint64_t v;
  int r = read_num(s, len, &i, 19, INT64_MAX, &v);
  if (r) return r;
  if (i != len) return -EINVAL;
  *out = (int64_t)v;
  return 0;
}

/* Two numbers with sep between them, from s[*i] on. */
static int read_pair(const char *s, size_t len, size_t *i, char sep, uint64_t *a, uint64_t *b) {
  int r = read_num(s, len, i, 19, INT64_MAX, a);
  if (r) return r;
  if (*i >= len || s[(*i)++] != sep) return -EINVAL;
  return read_num(s, len, i, 19, INT64_MAX, b);
}

int ftpp_rang_parse(const char *s, uint64_t *start, uint64_t *end) {
  size_t len = strlen(s), i = 0;
  uint64_t a, b;
  int r = read_pair(s, len, &i, ' ', &a, &b);
  if (r) return r;
  if (i != len) return -EINVAL;
  if (a == 1 && b == 0) return 1;
  if (a > b) return -EINVAL;
  *start = a;
  *end = b;
  return 0;
}

/* ---- times --------------------------------------------------------------------------- */

static int num_at(const char *s, int n) {
  int v = 0;
  for (int k = 0; k < n; k++) v = v * 10 + (s[k] - '0');
  return v;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int ftpp_time_parse(const char *s, size_t len, struct timespec *out) {
  if (len < 14) return -EINVAL;
  for (size_t i = 0; i < 14; i++)
    if (!is_digit(s[i])) return -EINVAL;
  long nsec = 0;
  if (len > 14) {
    if (s[14] != '.' || len == 15) return -EINVAL;
    long scale = 100000000;
    for (size_t i = 15; i < len; i++) {
      if (!is_digit(s[i])) return -EINVAL;
      nsec += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int year = num_at(s, 4), mon = num_at(s + 4, 2), day = num_at(s + 6, 2);
  int hour = num_at(s + 8, 2), min = num_at(s + 10, 2), sec = num_at(s + 12, 2);
  if (mon < 1 || mon > 12 || day < 1) return -EINVAL;
  if (day > mdays[mon - 1] + (mon == 2 && leap(year))) return -EINVAL;
  if (hour > 23 || min > 59 || sec > 60) return -EINVAL;
  struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                  .tm_hour = hour, .tm_min = min, .tm_sec = sec};
  out->tv_sec = timegm(&tm);
  out->tv_nsec = nsec;
  return 0;
}

int ftpp_time_format(time_t t, char *out, size_t outsz) {
  struct tm tm;
  if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) return -ERANGE;
  return put(out, outsz, snprintf(out, outsz, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec));
}

int ftpp_mfmt_parse(const char *s, struct timespec *t, const char **path) {
  const char *sp = strchr(s, ' ');
  if (!sp || !sp[1]) return -EINVAL;
  struct timespec ts;
  int r = ftpp_time_parse(s, (size_t)(sp - s), &ts);
  if (r) return r;
  *t = ts;
  *path = sp + 1;
  return 0;
}

/* ---- SITE CHMOD --------------------------------------------------------------------- */

int ftpp_chmod_parse(const char *s, unsigned *mode, unsigned *requested, const char **path) {
  unsigned m = 0;
  int nd = 0;
  const char *p = s;
  for (; *p >= '0' && *p <= '7'; p++) {
    if (++nd > 4) return -EINVAL;
    m = m * 8 + (unsigned)(*p - '0');
  }
  if (nd == 0 || *p != ' ' || !p[1]) return -EINVAL;
  *mode = m & 0777;
  if (requested) *requested = m;
  *path = p + 1;
  return 0;
}

/* ---- 257 paths ---------------------------------------------------------------------- */

int ftpp_path_quote(const char *path, char *out, size_t outsz) {
  size_t o = 0;
  for (const char *c = path; *c; c++) {
    size_t need = *c == '"' ? 2 : 1;
    if (o + need + 1 > outsz) goto nobufs;
    out[o++] = *c;
    if (*c == '"') out[o++] = '"';
  }
  if (o + 1 > outsz) goto nobufs;
  out[o] = 0;
  return (int)o;
nobufs:
  if (outsz) out[0] = 0;
  return -ENOBUFS;
}

int ftpp_path_unquote(const char *s, char *out, size_t outsz) {
  const char *p = strchr(s, '"');
  if (!p) return -EINVAL;
  size_t o = 0;
  for (p++; *p; p++) {
    if (*p == '"') {
      if (p[1] != '"') {
        if (o + 1 > outsz) break;
        out[o] = 0;
        return (int)o;
      }
      p++;
    }
    if (o + 2 > outsz) {
      if (outsz) out[0] = 0;
      return -ENOBUFS;
    }
    out[o++] = *p;
  }
  if (outsz) out[0] = 0;
  return *p ? -ENOBUFS : -EINVAL;
}

/* ---- replies ----------------------------------------------------------------------- */

void ftpp_reply_init(ftpp_reply_t *r) { memset(r, 0, sizeof *r); }

int ftpp_reply_code(const char *line, size_t len) {
  if (len < 3 || line[0] < '1' || line[0] > '5' || !is_digit(line[1]) || !is_digit(line[2])) return -EINVAL;
  if (len > 3 && line[3] != ' ' && line[3] != '-') return -EINVAL;
  return num_at(line, 3);
}

int ftpp_reply_feed(ftpp_reply_t *r, const char *line, size_t len) {
  if (r->open) {
    r->lines++;
    /* Only "ddd " (or a bare "ddd") with the opening code closes it. */
    int c = ftpp_reply_code(line, len);
    if (c == r->code && (len == 3 || line[3] == ' ')) {
      r->open = false;
      return FTPP_REPLY_DONE;
    }
    return FTPP_REPLY_MORE;
  }
  int c = ftpp_reply_code(line, len);
  if (c < 0) return c;
  r->code = c;
  r->lines = 1;
  r->open = len > 3 && line[3] == '-';
  return r->open ? FTPP_REPLY_MORE : FTPP_REPLY_DONE;
}

/* ---- MLST facts ---------------------------------------------------------------------- */

static const char *const fact_names[FTPP_FACT_COUNT] = {
  "type", "size", "modify", "perm", "UNIX.mode", "unique", "UNIX.uid", "UNIX.gid",
};

const char *ftpp_fact_name(unsigned i) { return i < FTPP_FACT_COUNT ? fact_names[i] : NULL; }

static bool name_is(const char *s, size_t n, const char *name) {
  if (strlen(name) != n) return false;
  for (size_t i = 0; i < n; i++)
    if (lower(s[i]) != lower(name[i])) return false;
  return true;
}

static int fact_index(const char *s, size_t n) {
  for (unsigned i = 0; i < FTPP_FACT_COUNT; i++)
    if (name_is(s, n, fact_names[i])) return (int)i;
  return -1;
}

/* RFC 2045 token characters: printable ASCII but space and tspecials. */
static bool token_char(char c) {
  return c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?=", c);
}

int ftpp_facts_select(const char *s, unsigned *mask) {
  unsigned m = 0;
  const char *p = s;
  while (*p) {
    const char *e = p;
    while (token_char(*e)) e++;
    if (e == p || *e != ';') return -EINVAL;
    int i = fact_index(p, (size_t)(e - p));
    if (i >= 0) m |= 1u << i;
    p = e + 1;
  }
  *mask = m;
  return 0;
}

int ftpp_facts_format(unsigned supported, unsigned selected, bool stars, char *out, size_t outsz) {
  size_t o = 0;
  if (!outsz) return -ENOBUFS;
  out[0] = 0;
  for (unsigned i = 0; i < FTPP_FACT_COUNT; i++) {
    if (!(supported & (1u << i))) continue;
    bool star = stars && (selected & (1u << i));
    int n = snprintf(out + o, outsz - o, "%s%s;", fact_names[i], star ? "*" : "");
    if (n < 0 || (size_t)n >= outsz - o) {
      out[0] = 0;
      return -ENOBUFS;
    }
    o += (size_t)n;
  }
  return (int)o;
}

/* Copies value v[0..n) into a field of size cap (NUL-terminated). */
static int copy_val(char *dst, size_t cap, const char *v, size_t n) {
  if (n >= cap) return -EINVAL;
  memcpy(dst, v, n);
  dst[n] = 0;
  return 0;
}

static int u64_val(const char *v, size_t n, uint64_t max, uint64_t *out) {
  size_t i = 0;
  if (read_num(v, n, &i, 20, max, out) || i != n) return -EINVAL;
  return 0;
}

int ftpp_facts_parse(const char *line, size_t len, ftpp_facts_t *out) {
  ftpp_facts_t f;
  memset(&f, 0, sizeof f);
  size_t i = 0;
  while (i < len && line[i] != ' ') {
    size_t e = i;
    while (e < len && line[e] != ';' && line[e] != ' ') e++;
    if (e >= len || line[e] != ';') return -EINVAL;      /* every fact ends in ';' */
    const char *eq = memchr(line + i, '=', e - i);
    if (!eq || eq == line + i) return -EINVAL;
    size_t nl = (size_t)(eq - (line + i));
    const char *v = eq + 1;
    size_t vl = (size_t)(line + e - v);
    int k = fact_index(line + i, nl);
    int r = 0;
    uint64_t x = 0;
    switch (k) {
    case 0: r = vl ? copy_val(f.type, sizeof f.type, v, vl) : -EINVAL; break;
    case 1: r = u64_val(v, vl, UINT64_MAX, &f.size); break;
    case 2: r = ftpp_time_parse(v, vl, &f.modify); break;
    case 3: r = copy_val(f.perm, sizeof f.perm, v, vl); break;
    case 4:
      r = vl <= 5 ? 0 : -EINVAL;
      for (size_t j = 0; !r && j < vl; j++)
        if (v[j] < '0' || v[j] > '7') r = -EINVAL;
      if (!r && vl == 0) r = -EINVAL;
      for (size_t j = 0; !r && j < vl; j++) x = x * 8 + (uint64_t)(v[j] - '0');
      if (!r && x > 07777) r = -EINVAL;
      f.unix_mode = (unsigned)x;
      break;
    case 5: r = vl ? copy_val(f.unique, sizeof f.unique, v, vl) : -EINVAL; break;
    case 6: r = u64_val(v, vl, UINT32_MAX, &f.unix_uid); break;
    case 7: r = u64_val(v, vl, UINT32_MAX, &f.unix_gid); break;
    default: break;                                       /* unknown: skipped */
    }
    if (r) return -EINVAL;
    if (k >= 0) f.present |= 1u << k;
    i = e + 1;
  }
  if (i >= len || line[i] != ' ' || i + 1 >= len) return -EINVAL;
  f.name = line + i + 1;
  f.name_len = len - i - 1;
  *out = f;
  return 0;
}

/* ---- HASH replies -------------------------------------------------------------------- */

static bool algo_char(char c) { return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-'; }

int ftpp_hash_parse(const char *s, ftpp_hash_t *out) {
  size_t len = strlen(s), i = 0, a = 0;
  while (i < len && algo_char(s[i])) {
    if (a == sizeof out->algo - 1) return -EINVAL;
    out->algo[a++] = s[i++];
  }
  out->algo[a] = 0;
  if (a == 0 || i >= len || s[i++] != ' ') return -EINVAL;
  uint64_t start, end;
  int r = read_pair(s, len, &i, '-', &start, &end);
  if (r) return r;
  if (start > end || i >= len || s[i++] != ' ') return -EINVAL;
  size_t h = 0;
  while (i < len && s[i] != ' ') {
    char c = s[i++];
    if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
    if (!is_digit(c) && !(c >= 'a' && c <= 'f')) return -EINVAL;
    if (h == sizeof out->hex - 1) return -EINVAL;
    out->hex[h++] = c;
  }
  out->hex[h] = 0;
  if (h < 32 || h % 2) return -EINVAL;
  if (i < len) i++;   /* the space before the path */
  out->start = start;
  out->end = end;
  out->path = s + i;
  return 0;
}

int ftpp_hash_format(const char *algo, uint64_t start, uint64_t end, const unsigned char *digest, size_t len,
                     const char *path, char *out, size_t outsz) {
  size_t a = strlen(algo);
  if (a == 0 || a >= sizeof ((ftpp_hash_t *)0)->algo || len < 16 || len > 64 || start > end || end > INT64_MAX)
    return -EINVAL;
  for (size_t k = 0; k < a; k++)
    if (!algo_char(algo[k])) return -EINVAL;
  char hex[129];
  for (size_t k = 0; k < len; k++) {
    static const char d[] = "0123456789abcdef";
    hex[2 * k] = d[digest[k] >> 4];
    hex[2 * k + 1] = d[digest[k] & 15];
  }
  hex[2 * len] = 0;
  return put(out, outsz, snprintf(out, outsz, "%s %llu-%llu %s %s", algo, (unsigned long long)start,
                                  (unsigned long long)end, hex, path));
}
