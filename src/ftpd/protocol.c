/* protocol.c — parses control lines and formats replies.
 *
 * This is the first code that touches bytes from the network. It works on an
 * explicit length, never trusts a terminator, and copies into fixed buffers
 * whose size is checked against FTPD_MAX_LINE.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "ftpd.h"
#include "protocol.h"

#define IAC 255
#define WILL 251
#define DONT 254

int ftpd_parse_command(const char *line, size_t len, ftpd_cmd_t *out) {
  memset(out->verb, 0, sizeof out->verb);
  out->arg[0] = 0;
  out->has_arg = false;
  if (len > FTPD_MAX_LINE) return FTPD_PARSE_TOOLONG;

  /* Strip Telnet commands into a clean copy. */
  char clean[FTPD_MAX_LINE + 1];
  size_t n = 0;
  const unsigned char *p = (const unsigned char *)line;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == IAC) {
      if (i + 1 >= len) break;
      unsigned char c = p[i + 1];
      if (c == IAC) { clean[n++] = (char)IAC; i++; continue; }
      if (c >= WILL && c <= DONT) { i += 2; continue; }   /* IAC WILL/WONT/DO/DONT opt */
      i++;                                                /* IAC IP, IAC DM, ... */
      continue;
    }
    if (p[i] == 0) return FTPD_PARSE_NUL;
    if (p[i] == '\r' || p[i] == '\n') return FTPD_PARSE_SYNTAX;
    clean[n++] = (char)p[i];
  }
  clean[n] = 0;

  /* Some clients send Telnet "synch" garbage or spaces before the verb. */
  size_t s = 0;
  while (s < n && (clean[s] == ' ' || clean[s] == '\t')) s++;
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

int ftpd_reply(ftpd_session_t *s, int code, const char *fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  /* A reply never carries a line break the client put into a name. */
  for (char *c = text; *c; c++)
    if (*c == '\r' || *c == '\n') *c = ' ';
  sbuf_reset(&s->out);
  sbuf_printf(&s->out, "%d %s\r\n", code, text);
  if (code >= 200 && s->verb[0])
    ftpd_log(LOG_INFO, "#%lu %s: %s%s%s -> %d %s", s->id, s->user, s->verb, s->logarg[0] ? " " : "",
             s->logarg, code, text);
  else
    ftpd_log(LOG_DEBUG, "#%lu > %d %s", s->id, code, text);
  return send_out(s);
}

int ftpd_reply_multi(ftpd_session_t *s, int code, const char *first, const char *last) {
  /* s->out holds the body lines, each already ending in CRLF and starting with
   * a space (RFC 959 4.2: a line that starts with digits would be misread). */
  sbuf_t body = s->out;
  sbuf_init(&s->out, 0);
  sbuf_printf(&s->out, "%d-%s\r\n", code, first);
  if (body.len) sbuf_put(&s->out, body.p, body.len);
  if (body.failed) s->out.failed = true;
  sbuf_printf(&s->out, "%d %s\r\n", code, last);
  sbuf_free(&body);
  ftpd_log(s->verb[0] ? LOG_INFO : LOG_DEBUG, "#%lu %s: %s%s%s -> %d %s (multi-line)", s->id, s->user,
           s->verb, s->logarg[0] ? " " : "", s->logarg, code, last);
  return send_out(s);
}
