/* listparse.c — LIST lines (UNIX `ls -l` and DOS forms) into entries.
 * See listparse.h. Tokens are found by walking the line once; every index
 * stays below len, and numbers are accumulated with overflow checks. */
#include "listparse.h"

#include <errno.h>
#include <string.h>

#define MAXTOK 12

typedef struct {
  const char *p;
  size_t n;
} tok_t;

static int is_space(char c) { return c == ' ' || c == '\t'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Splits up to MAXTOK tokens; off[i] is where token i starts. */
static size_t tokenize(const char *s, size_t len, tok_t *t, size_t *off) {
  size_t n = 0, i = 0;
  while (n < MAXTOK) {
    while (i < len && is_space(s[i])) i++;
    if (i >= len) break;
    size_t b = i;
    while (i < len && !is_space(s[i])) i++;
    t[n].p = s + b;
    t[n].n = i - b;
    off[n] = b;
    n++;
  }
  return n;
}

static int num(const tok_t *t, uint64_t *out) {
  if (t->n == 0) return -EINVAL;
  uint64_t v = 0;
  for (size_t i = 0; i < t->n; i++) {
    if (!is_digit(t->p[i])) return -EINVAL;
    unsigned d = (unsigned)(t->p[i] - '0');
    if (v > (UINT64_C(0x7fffffffffffffff) - d) / 10) return -ERANGE;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static int month_of(const tok_t *t) {
  static const char names[] = "janfebmaraprmayjunjulaugsepoctnovdec";
  if (t->n != 3) return -1;
  char m[3];
  for (int i = 0; i < 3; i++) {
    char c = t->p[i];
    m[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
  for (int i = 0; i < 12; i++)
    if (!memcmp(names + 3 * i, m, 3)) return i;
  return -1;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; m 0-11). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int mm = m + 1;
  y -= mm <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (mm + (mm > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static time_t mk(int64_t y, int m, int d, int hh, int mi) {
  return (time_t)(days_from_civil(y, m, d) * 86400 + hh * 3600 + mi * 60);
}

static int hhmm(const tok_t *t, int *hh, int *mi, size_t *used) {
  size_t i = 0;
  int h = 0, m = 0;
  if (i < t->n && is_digit(t->p[i])) h = t->p[i++] - '0'; else return -EINVAL;
  if (i < t->n && is_digit(t->p[i])) h = h * 10 + (t->p[i++] - '0');
  if (i >= t->n || t->p[i++] != ':') return -EINVAL;
  if (i + 1 >= t->n || !is_digit(t->p[i]) || !is_digit(t->p[i + 1])) return -EINVAL;
  m = (t->p[i] - '0') * 10 + (t->p[i + 1] - '0');
  i += 2;
  if (h > 23 || m > 59) return -EINVAL;
  *hh = h;
  *mi = m;
  *used = i;
  return 0;
}

static void set_name(const char *line, size_t len, size_t at, ftpp_list_entry_t *out) {
  out->name = line + at;
  out->name_len = len - at;
  if (out->type == FTPP_LIST_LINK) {
    for (size_t i = at; i + 4 <= len; i++)
      if (!memcmp(line + i, " -> ", 4)) {
        out->name_len = i - at;
        break;
      }
  }
}

static int parse_unix(const char *line, size_t len, time_t now, tok_t *t, size_t *off, size_t nt,
                      ftpp_list_entry_t *out) {
  const tok_t *m = &t[0];
  if (m->n < 10 || m->n > 11) return -EINVAL;
  switch (m->p[0]) {
    case '-': out->type = FTPP_LIST_FILE; break;
    case 'd': out->type = FTPP_LIST_DIR; break;
    case 'l': out->type = FTPP_LIST_LINK; break;
    case 'b': case 'c': case 'p': case 's': out->type = FTPP_LIST_OTHER; break;
    default: return -EINVAL;
  }
  unsigned mode = 0;
  for (int i = 1; i < 10; i++) {
    char c = m->p[i];
    int bit = 8 - (i - 1);
    if (c == 'r' || c == 'w' || c == 'x' || c == 's' || c == 't') mode |= 1u << bit;
    else if (c != '-' && c != 'S' && c != 'T' && c != 'l') return -EINVAL;
  }
  if (m->n == 11 && m->p[10] != '+' && m->p[10] != '@' && m->p[10] != '.') return -EINVAL;
  out->mode = mode;
  /* The month token: the first from token 2 on that names a month and is
   * preceded by a number (the size) and followed by a day and a year or time. */
  for (size_t k = 2; k + 2 < nt; k++) {
    int mon = month_of(&t[k]);
    uint64_t size, day;
    if (mon < 0 || num(&t[k - 1], &size) || num(&t[k + 1], &day) || day < 1 || day > 31) continue;
    const tok_t *yt = &t[k + 2];
    int hh = 0, mi = 0;
    size_t used;
    uint64_t year;
    if (!hhmm(yt, &hh, &mi, &used) && used == yt->n) {
      struct tm tmnow;
      gmtime_r(&now, &tmnow);
      int64_t y = tmnow.tm_year + 1900;
      time_t tt = mk(y, mon, (int)day, hh, mi);
      if (tt > now + 86400) tt = mk(y - 1, mon, (int)day, hh, mi);
      out->mtime = tt;
      out->mtime_exact = 1;
    } else if (yt->n == 4 && !num(yt, &year)) {
      out->mtime = mk((int64_t)year, mon, (int)day, 0, 0);
      out->mtime_exact = 0;
    } else {
      continue;
    }
    if (k + 3 >= nt) return -EINVAL;   /* no name */
    out->size = size;
    set_name(line, len, off[k + 3], out);
    return out->name_len ? 0 : -EINVAL;
  }
  return -EINVAL;
}

static int parse_dos(const char *line, size_t len, tok_t *t, size_t *off, size_t nt,
                     ftpp_list_entry_t *out) {
  if (nt < 4) return -EINVAL;
  const tok_t *d = &t[0];
  /* MM-DD-YY or MM-DD-YYYY */
  if ((d->n != 8 && d->n != 10) || d->p[2] != '-' || d->p[5] != '-') return -EINVAL;
  for (size_t i = 0; i < d->n; i++)
    if (i != 2 && i != 5 && !is_digit(d->p[i])) return -EINVAL;
  int mon = (d->p[0] - '0') * 10 + (d->p[1] - '0') - 1;
  int day = (d->p[3] - '0') * 10 + (d->p[4] - '0');
  int year = 0;
  for (size_t i = 6; i < d->n; i++) year = year * 10 + (d->p[i] - '0');
  if (d->n == 8) year += year < 70 ? 2000 : 1900;
  if (mon < 0 || mon > 11 || day < 1 || day > 31) return -EINVAL;
  int hh, mi;
  size_t used;
  if (hhmm(&t[1], &hh, &mi, &used)) return -EINVAL;
  if (used < t[1].n) {
    if (t[1].n - used != 2 || (t[1].p[used + 1] != 'M' && t[1].p[used + 1] != 'm')) return -EINVAL;
    char ap = t[1].p[used];
    if (hh < 1 || hh > 12) return -EINVAL;
    if (ap == 'P' || ap == 'p') hh = hh % 12 + 12;
    else if (ap == 'A' || ap == 'a') hh = hh % 12;
    else return -EINVAL;
  }
  if (t[2].n == 5 && !memcmp(t[2].p, "<DIR>", 5)) {
    out->type = FTPP_LIST_DIR;
    out->size = 0;
  } else {
    int r = num(&t[2], &out->size);
    if (r) return r;
    out->type = FTPP_LIST_FILE;
  }
  out->mode = 0;
  out->mtime = mk(year, mon, day, hh, mi);
  out->mtime_exact = 1;
  set_name(line, len, off[3], out);
  return 0;
}

int ftpp_list_parse(const char *line, size_t len, time_t now, ftpp_list_entry_t *out) {
  tok_t t[MAXTOK];
  size_t off[MAXTOK];
  size_t nt = tokenize(line, len, t, off);
  if (nt < 2) return -EINVAL;
  memset(out, 0, sizeof *out);
  out->mtime = -1;
  if (is_digit(t[0].p[0])) return parse_dos(line, len, t, off, nt, out);
  return parse_unix(line, len, now, t, off, nt, out);
}
