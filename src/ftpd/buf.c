/* buf.c — the one growable string type the server builds replies and listings in.
 * Every append is bounds-checked; a failed append (no memory, or past the
 * buffer's limit) marks the buffer failed instead of truncating silently. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "ftpd.h"

void sbuf_init(sbuf_t *b, size_t limit) { *b = (sbuf_t){.limit = limit}; }
void sbuf_free(sbuf_t *b) { free(b->p); *b = (sbuf_t){.limit = b->limit}; }
void sbuf_reset(sbuf_t *b) {
  b->len = 0;
  b->failed = false;
  if (b->p) b->p[0] = 0;
}

static bool reserve(sbuf_t *b, size_t extra) {
  if (b->failed) return false;
  if (extra > SIZE_MAX / 2 - b->len || (b->limit && b->len + extra > b->limit)) {
    b->failed = true;
    return false;
  }
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return true;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) {
    b->failed = true;
    return false;
  }
  b->p = p;
  b->cap = cap;
  return true;
}

void sbuf_put(sbuf_t *b, const void *data, size_t n) {
  if (!reserve(b, n)) return;
  memcpy(b->p + b->len, data, n);
  b->len += n;
  b->p[b->len] = 0;
}

void sbuf_puts(sbuf_t *b, const char *s) { sbuf_put(b, s, strlen(s)); }

void sbuf_vprintf(sbuf_t *b, const char *fmt, va_list ap) {
  va_list again;
  va_copy(again, ap);
  char tmp[512];
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  if (n < 0) {
    b->failed = true;
  } else if ((size_t)n < sizeof tmp) {
    sbuf_put(b, tmp, (size_t)n);
  } else if (reserve(b, (size_t)n)) {
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
    b->len += (size_t)n;
  }
  va_end(again);
}

void sbuf_printf(sbuf_t *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  sbuf_vprintf(b, fmt, ap);
  va_end(ap);
}

int ftpd_next_line(const char *text, size_t len, size_t *pos, char *line, size_t cap) {
  if (*pos >= len) return FTPD_LINE_END;
  size_t i = *pos, j = i;
  while (j < len && text[j] != '\n') j++;
  *pos = j + 1;
  size_t n = j - i;
  if (n >= cap) return FTPD_LINE_LONG;
  memcpy(line, text + i, n);
  line[n] = 0;
  if (memchr(line, 0, n)) return FTPD_LINE_NUL;
  if (n && line[n - 1] == '\r') line[--n] = 0;
  return (int)n;
}
