/* hostport.h — the apps' shared command-line piece: "HOST:PORT" (IPv6 as
 * "[::1]:PORT"), parsed the way mtftpd's --listen is, and the "listening on"
 * line every server prints once it is bound. Header-only: each app is one
 * program, and this is all they share. */
#ifndef EXAMPLES_HOSTPORT_H
#define EXAMPLES_HOSTPORT_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits s into host (at most hostsz-1 bytes, "" for all addresses) and a
 * port in [min_port, 65535]. Returns false if s is not HOST:PORT. */
static inline bool hostport_parse(const char *s, char *host, size_t hostsz, int *port, int min_port) {
  const char *colon, *h = s;
  size_t hl;
  if (s[0] == '[') {                       /* [v6]:port */
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') return false;
    h = s + 1;
    hl = (size_t)(close - h);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon || memchr(s, ':', (size_t)(colon - s))) return false;   /* bare v6 is ambiguous */
    hl = (size_t)(colon - s);
  }
  if (hl >= hostsz) return false;
  char *end;
  long p = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || p < min_port || p > 65535) return false;
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = (int)p;
  return true;
}

#endif
