/* protocol.c — parses control lines and formats replies.
 *
 * This is the first code that touches bytes from the network. It works on an
 * explicit length, never trusts a terminator, and copies into fixed buffers
 * whose size is checked against FTPD_MAX_LINE. Replies go the other way:
 * built in the session's growable buffer (any length a path needs), with no
 * CR, LF or NUL inside a line, and every body line of a multi-line reply
 * starting with a space, whatever names from the disk went into it. The
 * arguments' own grammars (PORT, REST, times, modes...) are ftpproto's.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "ftpd.h"
#include "protocol.h"

#define IAC 255
#define WILL 251
#define DONT 254
#define TELNET_SE 240
#define TELNET_DM 242
#define TELNET_IP 244

int ftpd_parse_command(const char *line, size_t len, ftpd_cmd_t *out) {
  memset(out->verb, 0, sizeof out->verb);
  out->arg[0] = 0;
  out->has_arg = false;
  if (len > FTPD_MAX_LINE) return FTPD_PARSE_TOOLONG;

  /* Strip Telnet commands into a clean copy (RFC 854): after IAC only a
   * command code (240-255) is consumed, with its option byte for WILL,
   * WONT, DO and DONT; IAC IAC is a literal 0xFF. IAC before any other byte
   * is dropped alone and the byte kept. */
  char clean[FTPD_MAX_LINE + 1];
  size_t n = 0;
  const unsigned char *p = (const unsigned char *)line;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == IAC) {
      if (i + 1 >= len) break;
      unsigned char c = p[i + 1];
      if (c == IAC) { clean[n++] = (char)IAC; i++; continue; }
      if (c >= WILL && c <= DONT) { i += 2; continue; }   /* IAC WILL/WONT/DO/DONT opt */
      if (c >= TELNET_SE) i++;                            /* IAC IP, IAC DM, ... */
      continue;
    }
    if (p[i] == 0) return FTPD_PARSE_NUL;
    if (p[i] == '\r' || p[i] == '\n') return FTPD_PARSE_SYNTAX;
    clean[n++] = (char)p[i];
  }
  clean[n] = 0;

  /* Before the verb: spaces, and the bare Telnet IP and DM bytes a client's
   * "synch" can leave when its IAC went out as urgent data. */
  size_t s = 0;
  while (s < n && (clean[s] == ' ' || clean[s] == '\t' || (unsigned char)clean[s] == TELNET_IP ||
                   (unsigned char)clean[s] == TELNET_DM))
    s++;
  if (s == n) return FTPD_PARSE_EMPTY;

  size_t v = 0;
  while (s + v < n && clean[s + v] != ' ') {
    unsigned char c = (unsigned char)clean[s + v];
    if (!isalpha(c) || v >= 4) return FTPD_PARSE_SYNTAX;
    out->verb[v++] = (char)toupper(c);
  }
  if (v < 3) return FTPD_PARSE_SYNTAX;
  size_t a = s + v;
  if (a < n) {            /* exactly one space separates verb and argument */
    a++;
    size_t alen = n - a;
    memcpy(out->arg, clean + a, alen);
    out->arg[alen] = 0;
    out->has_arg = alen > 0;
  }
  return FTPD_PARSE_OK;
}

/* ---- replies ---------------------------------------------------------------- */

static int send_out(ftpd_session_t *s) {
  if (s->out.failed) return MT_ENOMEM;
  ssize_t r = mt_send_all(s->ctrl, s->out.p, s->out.len, s->cfg ? s->cfg->data_timeout : FTPD_DATA_TIMEOUT);
  return r < 0 ? (int)r : 0;
}

/* Replaces what could end a reply line early: CR, LF and NUL never go out
 * inside a line. */
static void flatten(char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] == '\r' || p[i] == '\n' || p[i] == 0) p[i] = ' ';
}

int ftpd_reply(ftpd_session_t *s, int code, const char *fmt, ...) {
  /* Built in s->out, so a reply carries any path the jail allows (a 257
   * for a 4096-byte path is over 8 KiB once its quotes are doubled). */
  sbuf_reset(&s->out);
  sbuf_printf(&s->out, "%d ", code);
  size_t start = s->out.len;
  va_list ap;
  va_start(ap, fmt);
  sbuf_vprintf(&s->out, fmt, ap);
  va_end(ap);
  if (s->out.failed) return MT_ENOMEM;
  /* A reply never carries a line break the client put into a name. */
  flatten(s->out.p + start, s->out.len - start);
  const char *text = s->out.p + start;
  if (code >= 200 && s->verb[0])
    ftpd_log(LOG_INFO, "#%lu %s: %s%s%s -> %d %s", s->id, s->user, s->verb, s->logarg[0] ? " " : "",
             s->logarg, code, text);
  else
    ftpd_log(LOG_DEBUG, "#%lu > %d %s", s->id, code, text);
  sbuf_puts(&s->out, "\r\n");
  return send_out(s);
}

int ftpd_reply_multi(ftpd_session_t *s, int code, const char *first, const char *last) {
  /* s->out holds the body lines, each ending in CRLF and starting with a
   * space (RFC 959 4.2: a line that starts with digits would be misread).
   * Whatever went into it — names from the disk included — each body line
   * is re-checked here: a lone CR or LF becomes a space and a line without
   * its leading space gets one, so no body line can pass for the reply's
   * end ("213 End of status.") and desynchronise the client. */
  sbuf_t body = s->out;
  sbuf_init(&s->out, 0);
  sbuf_printf(&s->out, "%d-%s\r\n", code, first);
  for (size_t i = 0; i < body.len;) {
    size_t j = i;
    while (j < body.len && !(body.p[j] == '\r' && j + 1 < body.len && body.p[j + 1] == '\n')) j++;
    size_t at = s->out.len;
    if (body.p[i] != ' ') sbuf_puts(&s->out, " ");
    sbuf_put(&s->out, body.p + i, j - i);
    if (!s->out.failed) flatten(s->out.p + at, s->out.len - at);
    sbuf_puts(&s->out, "\r\n");
    i = j + 2;
  }
  if (body.failed) s->out.failed = true;
  sbuf_printf(&s->out, "%d %s\r\n", code, last);
  sbuf_free(&body);
  ftpd_log(s->verb[0] ? LOG_INFO : LOG_DEBUG, "#%lu %s: %s%s%s -> %d %s (multi-line)", s->id, s->user,
           s->verb, s->logarg[0] ? " " : "", s->logarg, code, last);
  return send_out(s);
}
