/* commands/tls.c — FTPS, explicit (RFC 4217): AUTH TLS, PBSZ, PROT, and the
 * policy checks (tls-required) that USER and data connections go through.
 *
 * AUTH TLS (or its old alias AUTH SSL) answers 234 in plain text, then the
 * TLS handshake runs on the control connection; from there on the line
 * reader reads through TLS (mt_linereader_set_io) and replies go out
 * through it (protocol.c). Plain text the client sent after AUTH and before
 * its handshake is refused and the session closed: taking it as protected
 * is the STARTTLS command-injection flaw (CVE-2011-0411 and its kind).
 * After a failed handshake nothing more can be said on the connection:
 * the session ends. PROT P makes every following data connection TLS
 * (data.c); PROT C makes them plain again unless tls-required forbids it. */
#include <strings.h>

#include "../session.h"
#include "config.h"
#include "tls.h"

static ssize_t tls_read(void *ctx, void *buf, size_t n, double timeout) { return ftls_read(ctx, buf, n, timeout); }

void ftpd_cmd_auth(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!s->snap->tls) {
    ftpd_reply(s, 502, "TLS is not configured on this server (tls-cert).");
    return;
  }
  if (strcasecmp(arg, "TLS") && strcasecmp(arg, "SSL") && strcasecmp(arg, "TLS-C")) {
    ftpd_reply(s, 504, "AUTH TLS or AUTH SSL.");
    return;
  }
  if (s->tls) {
    ftpd_reply(s, 503, "TLS is already on.");
    return;
  }
  if (s->user_given || s->logged_in) {
    ftpd_reply(s, 503, "AUTH comes before USER.");
    return;
  }
  if (mt_linereader_pending(s->lr)) {
    ftpd_log(LOG_WARN, "#%lu plain text after AUTH TLS and before the handshake: closing", s->id);
    ftpd_reply(s, 503, "Commands after AUTH must wait for the TLS handshake; closing.");
    s->quit = true;
    return;
  }
  if (ftpd_reply(s, 234, "AUTH %s accepted; go ahead with the TLS handshake.", arg) < 0) {
    s->quit = true;
    return;
  }
  int r = ftls_accept(&s->tls, s->snap->tls, s->ctrl, NULL, s->cfg->data_timeout);
  if (r) {
    ftpd_log(LOG_WARN, "#%lu TLS handshake on the control connection failed: %s", s->id, ftls_error(NULL));
    s->quit = true;
    return;
  }
  mt_linereader_set_io(s->lr, tls_read, s->tls);
  ftpd_log(LOG_INFO, "#%lu control connection now %s (%s)", s->id, ftls_version(s->tls), ftls_cipher(s->tls));
}

/* Is the session's local address one of the implicit-FTPS listeners'? */
static bool on_implicit_listener(const ftpd_session_t *s) {
  for (int i = 0; i < s->srv->n_implicit; i++) {
    const struct sockaddr_storage *l = &s->srv->implicit[i];
    if (l->ss_family != s->local.ss_family) continue;
    if (l->ss_family == AF_INET) {
      const struct sockaddr_in *a = (const void *)l, *b = (const void *)&s->local;
      if (a->sin_port == b->sin_port && (a->sin_addr.s_addr == INADDR_ANY || a->sin_addr.s_addr == b->sin_addr.s_addr))
        return true;
    } else if (l->ss_family == AF_INET6) {
      const struct sockaddr_in6 *a = (const void *)l, *b = (const void *)&s->local;
      if (a->sin6_port == b->sin6_port &&
          (IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr) || IN6_ARE_ADDR_EQUAL(&a->sin6_addr, &b->sin6_addr)))
        return true;
    }
  }
  return false;
}

int ftpd_tls_implicit(ftpd_session_t *s) {
  if (!s->snap->tls || !on_implicit_listener(s)) return 0;
  int r = ftls_accept(&s->tls, s->snap->tls, s->ctrl, NULL, s->cfg->login_timeout);
  if (r) {
    ftpd_log(LOG_INFO, "#%lu implicit FTPS handshake failed: %s", s->id, ftls_error(NULL));
    return -1;
  }
  mt_linereader_set_io(s->lr, tls_read, s->tls);
  s->pbsz = s->prot_p = true;                /* implicit FTPS: data protected from the start */
  ftpd_log(LOG_INFO, "#%lu implicit FTPS: %s (%s)", s->id, ftls_version(s->tls), ftls_cipher(s->tls));
  return 0;
}

void ftpd_cmd_pbsz(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!s->tls) {
    ftpd_reply(s, 503, "PBSZ needs AUTH TLS first.");
    return;
  }
  s->pbsz = true;
  ftpd_reply(s, 200, "PBSZ=0");           /* TLS protects a stream: no buffer size */
}

void ftpd_cmd_prot(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!s->tls || !s->pbsz) {
    ftpd_reply(s, 503, "PROT needs AUTH TLS and PBSZ first.");
    return;
  }
  if (!strcasecmp(arg, "P")) {
    if (s->mode_b) {
      ftpd_reply(s, 503, "PROT P needs MODE S: MODE B is not offered on protected data connections.");
      return;
    }
    s->prot_p = true;
    ftpd_reply(s, 200, "Data connections will be protected.");
  } else if (!strcasecmp(arg, "C")) {
    if (s->cfg->tls_required >= TLS_REQ_DATA) {
      ftpd_log(LOG_INFO, "#%lu PROT C refused: tls-required = %s", s->id, ftpd_config_name("tls-required", s->cfg->tls_required));
      ftpd_reply(s, 534, "Data connections must be protected here (tls-required = %s).",
                 ftpd_config_name("tls-required", s->cfg->tls_required));
      return;
    }
    s->prot_p = false;
    ftpd_reply(s, 200, "Data connections will be clear.");
  } else if (!strcasecmp(arg, "S") || !strcasecmp(arg, "E")) {
    ftpd_reply(s, 536, "Only PROT C and PROT P with TLS.");
  } else {
    ftpd_reply(s, 504, "PROT C or PROT P.");
  }
}

bool ftpd_tls_login_allowed(ftpd_session_t *s) {
  if (s->tls || (s->cfg->tls_required != TLS_REQ_LOGIN && s->cfg->tls_required != TLS_REQ_ALL)) return true;
  ftpd_log(LOG_INFO, "#%lu plain-text login refused from %s: tls-required = %s", s->id, s->peer_ip,
           ftpd_config_name("tls-required", s->cfg->tls_required));
  ftpd_reply(s, 530, "Log in over TLS: send AUTH TLS first (tls-required = %s).",
             ftpd_config_name("tls-required", s->cfg->tls_required));
  return false;
}

bool ftpd_tls_data_allowed(ftpd_session_t *s) {
  if (s->prot_p || s->cfg->tls_required < TLS_REQ_DATA) return true;
  ftpd_log(LOG_INFO, "#%lu clear data connection refused: tls-required = %s", s->id,
           ftpd_config_name("tls-required", s->cfg->tls_required));
  ftpd_reply(s, 521, "Data connections must be protected: send PROT P (tls-required = %s).",
             ftpd_config_name("tls-required", s->cfg->tls_required));
  return false;
}
