/* fuzz_command.c — libFuzzer harness for the control-line parser.
 *
 * Invariants checked on every input: the parser never reads past len, the
 * verb is 3-4 upper-case letters on success, the argument holds no NUL, CR
 * or LF, and quoting a path for a 257 reply always fits or says it doesn't.
 */
#include <assert.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ftpproto.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* A heap copy of exactly size bytes: ASan catches any read past the end. */
  char *line = malloc(size ? size : 1);
  if (!line) return 0;
  memcpy(line, data, size);
  static ftpd_cmd_t cmd;
  int r = ftpd_parse_command(line, size, &cmd);
  if (r == FTPD_PARSE_OK) {
    size_t v = strlen(cmd.verb);
    assert(v >= 3 && v <= 4);
    for (size_t i = 0; i < v; i++) assert(isupper((unsigned char)cmd.verb[i]));
    assert(!strpbrk(cmd.arg, "\r\n"));
    assert(strlen(cmd.arg) <= FTPD_MAX_LINE);
    char q[64];
    if (ftpp_path_quote(cmd.arg, q, sizeof q) >= 0) assert(strlen(q) < sizeof q);
  } else {
    assert(r == FTPD_PARSE_EMPTY || r == FTPD_PARSE_SYNTAX || r == FTPD_PARSE_NUL || r == FTPD_PARSE_TOOLONG);
  }
  free(line);
  return 0;
}
