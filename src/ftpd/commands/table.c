/* commands/table.c — every verb mtftpd knows, with its login and argument rules. */
#include <string.h>

#include "../session.h"

#define X(name) void ftpd_cmd_##name(ftpd_session_t *s, const char *arg);
X(user) X(pass) X(rein) X(quit) X(noop) X(syst) X(feat) X(opts) X(help) X(stat) X(type) X(mode)
X(stru) X(allo) X(site) X(pwd) X(cwd) X(cdup) X(size) X(mdtm) X(mfmt) X(dele) X(rnfr) X(rnto)
X(mkd) X(rmd) X(pasv) X(epsv) X(port) X(eprt) X(list) X(nlst) X(mlsd) X(mlst) X(retr) X(stor)
X(stou) X(appe) X(rest) X(abor)
#undef X

#define L CMD_LOGIN
#define A CMD_ARG
const ftpd_cmd_def_t ftpd_cmds[] = {
  {"USER", ftpd_cmd_user, A, "USER <name>"},
  {"PASS", ftpd_cmd_pass, 0, "PASS <password>"},
  {"QUIT", ftpd_cmd_quit, 0, "QUIT"},
  {"REIN", ftpd_cmd_rein, 0, "REIN"},
  {"NOOP", ftpd_cmd_noop, 0, "NOOP"},
  {"SYST", ftpd_cmd_syst, 0, "SYST"},
  {"FEAT", ftpd_cmd_feat, 0, "FEAT"},
  {"OPTS", ftpd_cmd_opts, A, "OPTS UTF8 ON | OPTS MLST <facts>"},
  {"HELP", ftpd_cmd_help, 0, "HELP [<command>]"},
  {"STAT", ftpd_cmd_stat, 0, "STAT [<path>]"},
  {"TYPE", ftpd_cmd_type, L | A, "TYPE A | I | L 8"},
  {"MODE", ftpd_cmd_mode, L | A, "MODE S"},
  {"STRU", ftpd_cmd_stru, L | A, "STRU F"},
  {"ALLO", ftpd_cmd_allo, L, "ALLO <size>"},
  {"SITE", ftpd_cmd_site, A, "SITE CHMOD <mode> <path> | SITE HELP"},
  {"PWD", ftpd_cmd_pwd, L, "PWD"},
  {"XPWD", ftpd_cmd_pwd, L, "XPWD"},
  {"CWD", ftpd_cmd_cwd, L | A, "CWD <path>"},
  {"XCWD", ftpd_cmd_cwd, L | A, "XCWD <path>"},
  {"CDUP", ftpd_cmd_cdup, L, "CDUP"},
  {"XCUP", ftpd_cmd_cdup, L, "XCUP"},
  {"SIZE", ftpd_cmd_size, L | A, "SIZE <path>"},
  {"MDTM", ftpd_cmd_mdtm, L | A, "MDTM <path>"},
  {"MFMT", ftpd_cmd_mfmt, L | A, "MFMT YYYYMMDDHHMMSS <path>"},
  {"DELE", ftpd_cmd_dele, L | A, "DELE <path>"},
  {"RNFR", ftpd_cmd_rnfr, L | A, "RNFR <path>"},
  {"RNTO", ftpd_cmd_rnto, L | A, "RNTO <path>"},
  {"MKD", ftpd_cmd_mkd, L | A, "MKD <path>"},
  {"XMKD", ftpd_cmd_mkd, L | A, "XMKD <path>"},
  {"RMD", ftpd_cmd_rmd, L | A, "RMD <path>"},
  {"XRMD", ftpd_cmd_rmd, L | A, "XRMD <path>"},
  {"PASV", ftpd_cmd_pasv, L, "PASV"},
  {"EPSV", ftpd_cmd_epsv, L, "EPSV [1 | 2 | ALL]"},
  {"PORT", ftpd_cmd_port, L | A, "PORT h1,h2,h3,h4,p1,p2"},
  {"EPRT", ftpd_cmd_eprt, L | A, "EPRT |af|address|port|"},
  {"LIST", ftpd_cmd_list, L, "LIST [<path>]"},
  {"NLST", ftpd_cmd_nlst, L, "NLST [<path>]"},
  {"MLSD", ftpd_cmd_mlsd, L, "MLSD [<path>]"},
  {"MLST", ftpd_cmd_mlst, L, "MLST [<path>]"},
  {"RETR", ftpd_cmd_retr, L | A, "RETR <path>"},
  {"STOR", ftpd_cmd_stor, L | A, "STOR <path>"},
  {"STOU", ftpd_cmd_stou, L, "STOU [<name>]"},
  {"APPE", ftpd_cmd_appe, L | A, "APPE <path>"},
  {"REST", ftpd_cmd_rest, L | A, "REST <offset>"},
  {"ABOR", ftpd_cmd_abor, L, "ABOR"},
  {NULL, NULL, 0, NULL},
};
#undef L
#undef A

const ftpd_cmd_def_t *ftpd_cmd_lookup(const char *verb) {
  for (const ftpd_cmd_def_t *d = ftpd_cmds; d->verb; d++)
    if (!strcmp(d->verb, verb)) return d;
  return NULL;
}
