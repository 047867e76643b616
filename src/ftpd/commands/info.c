/* commands/info.c — commands that change no file: NOOP SYST FEAT OPTS HELP
 * STAT TYPE MODE STRU ALLO SITE. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../session.h"

void ftpd_cmd_noop(ftpd_session_t *s, const char *arg, const char *vp) { ftpd_reply(s, 200, "NOOP ok."); }
void ftpd_cmd_syst(ftpd_session_t *s, const char *arg, const char *vp) { ftpd_reply(s, 215, "UNIX Type: L8"); }
void ftpd_cmd_allo(ftpd_session_t *s, const char *arg, const char *vp) { ftpd_reply(s, 202, "ALLO not needed."); }

/* FEAT's MLST line stars exactly the facts this session selected
 * (RFC 3659 7.9.1), so it changes after OPTS MLST. */
void ftpd_cmd_feat(ftpd_session_t *s, const char *arg, const char *vp) {
  char facts[160], hashes[80];
  ftpp_facts_format(FTPP_FACT_ALL, s->mlst_facts, true, facts, sizeof facts);
  ftpd_hash_feat(s, hashes, sizeof hashes);
  sbuf_reset(&s->out);
  if (s->snap->tls) sbuf_printf(&s->out, " AUTH TLS\r\n PBSZ\r\n PROT\r\n");
  sbuf_printf(&s->out,
              " EPRT\r\n EPSV\r\n HASH %s\r\n MDTM\r\n MFMT\r\n"
              " MLST %s\r\n"
              " RANG STREAM\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n", hashes, facts);
  ftpd_reply_multi(s, 211, "Features:", "End");
}

void ftpd_cmd_opts(ftpd_session_t *s, const char *arg, const char *vp) {
  char buf[FTPD_MAX_LINE + 1];
  snprintf(buf, sizeof buf, "%s", arg);
  char *sp = strchr(buf, ' ');
  char *rest = sp ? sp + 1 : (char *)"";
  if (sp) *sp = 0;
  if (!strcasecmp(buf, "UTF8") || !strcasecmp(buf, "UTF-8")) {
    if (!strcasecmp(rest, "ON") || !*rest) {
      s->utf8 = true;
      ftpd_reply(s, 200, "Always in UTF8 mode.");
    } else {
      ftpd_reply(s, 504, "UTF8 cannot be turned off.");
    }
    return;
  }
  if (!strcasecmp(buf, "HASH")) {
    ftpd_hash_opts(s, rest);
    return;
  }
  if (!strcasecmp(buf, "MLST")) {
    unsigned m;
    if (ftpp_facts_select(rest, &m) < 0) {      /* the previous selection stays */
      ftpd_reply(s, 501, "Syntax: OPTS MLST fact;fact;... (each fact followed by ';').");
      return;
    }
    s->mlst_facts = m;
    char out[160];
    ftpp_facts_format(m, 0, false, out, sizeof out);
    ftpd_reply(s, 200, "MLST OPTS %s", out);
    return;
  }
  ftpd_reply(s, 501, "Option not understood.");
}

void ftpd_cmd_help(ftpd_session_t *s, const char *arg, const char *vp) {
  if (*arg) {
    char v[5] = {0};
    for (int i = 0; i < 4 && arg[i]; i++) v[i] = (char)toupper((unsigned char)arg[i]);
    const ftpd_cmd_def_t *d = ftpd_cmd_lookup(v);
    if (d) ftpd_reply(s, 214, "Syntax: %s", d->help);
    else ftpd_reply(s, 502, "Unknown command '%s'.", v);
    return;
  }
  sbuf_reset(&s->out);
  int col = 0;
  for (const ftpd_cmd_def_t *d = ftpd_cmds; d->verb; d++) {
    sbuf_printf(&s->out, "%s%-5s", col == 0 ? " " : " ", d->verb);
    if (++col == 8) {
      sbuf_puts(&s->out, "\r\n");
      col = 0;
    }
  }
  if (col) sbuf_puts(&s->out, "\r\n");
  ftpd_reply_multi(s, 214, "The following commands are recognized:", "Help OK.");
}

void ftpd_cmd_stat(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!vp) {
    sbuf_reset(&s->out);
    sbuf_printf(&s->out, " Connected to %s\r\n", s->peer_ip);
    if (s->logged_in) sbuf_printf(&s->out, " Logged in as %s\r\n", s->user);
    else sbuf_puts(&s->out, " Not logged in\r\n");
    sbuf_printf(&s->out, " TYPE: %s, STRUcture: File, MODE: %s\r\n", s->ascii ? "ASCII" : "BINARY",
                s->mode_b ? "Block" : "Stream");
    sbuf_printf(&s->out, " Idle timeout: %g seconds\r\n", s->cfg->idle_timeout);
    sbuf_puts(&s->out, s->kept_dfd >= 0 ? " Data connection open (MODE B)\r\n"
                       : s->pasv_fd >= 0 && !s->pasv_keep ? " Passive data connection waiting\r\n"
                       : s->port_set ? " Active data connection set\r\n" : " No data connection\r\n");
    ftpd_reply_multi(s, 211, "mtftpd " FTPD_VERSION " status:", "End of status.");
    return;
  }
  const char *vpath = vp;            /* with an argument: logged in, PERM_L checked */
  sbuf_t b;
  sbuf_init(&b, 64 << 20);
  int r = ftpd_list(s, vpath, LIST_LONG, &b, " ");
  if (r < 0) {
    sbuf_free(&b);
    ftpd_reply_err(s, 550, r, vpath);
    return;
  }
  sbuf_free(&s->out);
  s->out = b;
  ftpd_reply_multi(s, 213, "Status follows:", "End of status.");
}

void ftpd_cmd_type(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!strcasecmp(arg, "A") || !strcasecmp(arg, "A N")) {
    s->ascii = true;
    ftpd_reply(s, 200, "Switching to ASCII mode.");
  } else if (!strcasecmp(arg, "I") || !strcasecmp(arg, "L 8") || !strcasecmp(arg, "L8")) {
    s->ascii = false;
    ftpd_reply(s, 200, "Switching to Binary mode.");
  } else {
    ftpd_reply(s, 504, "TYPE '%s' not supported.", arg);
  }
}

/* MODE B's blocks and kept data connection: data.c. */
void ftpd_cmd_mode(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!strcasecmp(arg, "S")) {
    s->mode_b = false;
    ftpd_data_drop_kept(s);
    ftpd_reply(s, 200, "Mode set to S.");
  } else if (!strcasecmp(arg, "B")) {
    if (s->prot_p) {
      ftpd_reply(s, 504, "MODE B is not offered on protected data connections (PROT P).");
      return;
    }
    s->mode_b = true;
    s->rest = 0;
    ftpd_reply(s, 200, "Mode set to B; the data connection stays open between transfers.");
  } else {
    ftpd_reply(s, 504, "Only MODE S (stream) and MODE B (block) are supported.");
  }
}

void ftpd_cmd_stru(ftpd_session_t *s, const char *arg, const char *vp) {
  if (!strcasecmp(arg, "F")) ftpd_reply(s, 200, "Structure set to F.");
  else ftpd_reply(s, 504, "Only STRU F (file) is supported.");
}

/* SITE: its subcommands are table entries too (commands/table.c), run
 * through the same dispatcher checks as the verbs. */
void ftpd_cmd_site(ftpd_session_t *s, const char *arg, const char *vp) {
  size_t n = strcspn(arg, " ");
  const char *rest = arg[n] ? arg + n + 1 : "";
  const ftpd_cmd_def_t *d = ftpd_site_lookup(arg, n);
  if (!d) ftpd_reply(s, 500, "Unknown SITE command.");
  else ftpd_cmd_run(s, d, rest);
}

void ftpd_site_help(ftpd_session_t *s, const char *arg, const char *vp) {
  if (*arg) {                        /* SITE HELP <subcommand> */
    const ftpd_cmd_def_t *d = ftpd_site_lookup(arg, strlen(arg));
    if (!d) ftpd_reply(s, 501, "Unknown SITE command '%s'.", arg);
    else ftpd_reply(s, 214, "Syntax: SITE %s", d->help);
    return;
  }
  sbuf_reset(&s->out);
  for (const ftpd_cmd_def_t *d = ftpd_site_cmds; d->verb; d++) sbuf_printf(&s->out, " %s\r\n", d->help);
  ftpd_reply_multi(s, 214, "SITE commands:", "End.");
}
