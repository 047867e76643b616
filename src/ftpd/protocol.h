/* protocol.h — the untrusted edge: one raw control line in, a verb and an argument out. */
#ifndef FTPD_PROTOCOL_H
#define FTPD_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>

#include "ftpd_limits.h"

typedef struct {
  char verb[5];                   /* upper case, 3 or 4 letters */
  char arg[FTPD_MAX_LINE + 1];    /* may be empty; never contains NUL, CR or LF */
  bool has_arg;
} ftpd_cmd_t;

enum {
  FTPD_PARSE_OK = 0,
  FTPD_PARSE_EMPTY = -1,   /* nothing but whitespace / Telnet noise */
  FTPD_PARSE_SYNTAX = -2,  /* not a verb: 500 */
  FTPD_PARSE_NUL = -3,     /* a NUL byte in the line: 501 */
  FTPD_PARSE_TOOLONG = -4, /* over FTPD_MAX_LINE: 500 and close */
};

/* Parses line[0..len) (its CRLF already removed). Telnet IAC sequences are
 * dropped (IAC IAC is a literal 0xFF), as RFC 959 asks of a server that
 * speaks over a Telnet-style control connection. */
int ftpd_parse_command(const char *line, size_t len, ftpd_cmd_t *out);

#endif
