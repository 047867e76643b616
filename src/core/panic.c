/* panic.c — the always-on assert for misuse: one line to stderr naming the
 * file, line and broken rule, then abort(). Runtime failures are returned,
 * never reported here. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/internal.h"

void mt__panic(const char *file, int line, const char *fmt, ...) {
  char buf[512];
  int n = snprintf(buf, sizeof buf, "multitask: fatal: ");
  va_list ap;
  va_start(ap, fmt);
  n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
  va_end(ap);
  if (n > (int)sizeof buf - 64) n = (int)sizeof buf - 64;
  n += snprintf(buf + n, sizeof buf - (size_t)n, " (%s:%d)\n", file, line);
  ssize_t w = write(2, buf, (size_t)n);
  (void)w;
  abort();
}
