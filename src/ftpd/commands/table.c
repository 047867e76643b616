/* commands/table.c — every verb mtftpd knows, written once, with the rules
 * the dispatcher enforces before its handler runs (session.c,
 * ftpd_cmd_run()): whether it needs a login and an argument, which
 * permission it needs, and which part of its argument is a path. A handler
 * with a path gets it resolved beneath the root and authorized; it never
 * checks either itself. */
#include <string.h>
#include <strings.h>

#include "../session.h"

#define L CMD_LOGIN
#define A CMD_ARG
#define LA (CMD_LOGIN | CMD_ARG)
#define LW CMD_LOGIN_WITH_ARG
/* X(verb, handler, flags, permission, path, help) */
#define FTPD_COMMANDS(X)                                                                  \
  X("USER", user, A, 0, PATH_NONE, "USER <name>")                                         \
  X("PASS", pass, 0, 0, PATH_NONE, "PASS <password>")                                     \
  X("QUIT", quit, 0, 0, PATH_NONE, "QUIT")                                                \
  X("REIN", rein, 0, 0, PATH_NONE, "REIN")                                                \
  X("NOOP", noop, 0, 0, PATH_NONE, "NOOP")                                                \
  X("SYST", syst, 0, 0, PATH_NONE, "SYST")                                                \
  X("FEAT", feat, 0, 0, PATH_NONE, "FEAT")                                                \
  X("OPTS", opts, A, 0, PATH_NONE, "OPTS UTF8 ON | OPTS MLST <facts> | OPTS HASH [<algorithm>]")                    \
  X("HELP", help, 0, 0, PATH_NONE, "HELP [<command>]")                                    \
  X("STAT", stat, LW, PERM_L, PATH_LIST, "STAT [<path>]")                                 \
  X("TYPE", type, LA, 0, PATH_NONE, "TYPE A | I | L 8")                                   \
  X("MODE", mode, LA, 0, PATH_NONE, "MODE S")                                             \
  X("STRU", stru, LA, 0, PATH_NONE, "STRU F")                                             \
  X("ALLO", allo, L, 0, PATH_NONE, "ALLO <size>")                                         \
  X("SITE", site, A, 0, PATH_NONE, "SITE CHMOD <mode> <path> | SITE HELP [<command>]")    \
  X("PWD", pwd, L, 0, PATH_NONE, "PWD")                                                   \
  X("XPWD", pwd, L, 0, PATH_NONE, "XPWD")                                                 \
  X("CWD", cwd, LA, PERM_E, PATH_CWD, "CWD <path>")                                       \
  X("XCWD", cwd, LA, PERM_E, PATH_CWD, "XCWD <path>")                                     \
  X("CDUP", cdup, L, PERM_E, PATH_UP, "CDUP")                                             \
  X("XCUP", cdup, L, PERM_E, PATH_UP, "XCUP")                                             \
  X("SIZE", size, LA, PERM_L, PATH_ARG, "SIZE <path>")                                    \
  X("MDTM", mdtm, LA, PERM_L, PATH_ARG, "MDTM <path>")                                    \
  X("MFMT", mfmt, LA, PERM_T, PATH_AFTER_WORD, "MFMT YYYYMMDDHHMMSS <path>")              \
  X("DELE", dele, LA, PERM_D, PATH_ARG, "DELE <path>")                                    \
  X("RNFR", rnfr, LA, PERM_F, PATH_ARG, "RNFR <path>")                                    \
  X("RNTO", rnto, LA, PERM_F, PATH_ARG, "RNTO <path>")                                    \
  X("MKD", mkd, LA, PERM_M, PATH_ARG, "MKD <path>")                                       \
  X("XMKD", mkd, LA, PERM_M, PATH_ARG, "XMKD <path>")                                     \
  X("RMD", rmd, LA, PERM_D, PATH_ARG, "RMD <path>")                                       \
  X("XRMD", rmd, LA, PERM_D, PATH_ARG, "XRMD <path>")                                     \
  X("PASV", pasv, L, 0, PATH_NONE, "PASV")                                                \
  X("EPSV", epsv, L, 0, PATH_NONE, "EPSV [1 | 2 | ALL]")                                  \
  X("PORT", port, LA, 0, PATH_NONE, "PORT h1,h2,h3,h4,p1,p2")                             \
  X("EPRT", eprt, LA, 0, PATH_NONE, "EPRT |af|address|port|")                             \
  X("LIST", list, L, PERM_L, PATH_LIST, "LIST [<path>]")                                  \
  X("NLST", nlst, L, PERM_L, PATH_LIST, "NLST [<path>]")                                  \
  X("MLSD", mlsd, L, PERM_L, PATH_ARG, "MLSD [<path>]")                                   \
  X("MLST", mlst, L, PERM_L, PATH_ARG, "MLST [<path>]")                                   \
  X("RETR", retr, LA, PERM_R, PATH_ARG, "RETR <path>")                                    \
  X("STOR", stor, LA, PERM_W, PATH_ARG, "STOR <path>")                                    \
  X("STOU", stou, L, PERM_W, PATH_UNIQUE, "STOU [<name>]")                                \
  X("APPE", appe, LA, PERM_A, PATH_ARG, "APPE <path>")                                    \
  X("REST", rest, LA, 0, PATH_NONE, "REST <offset>")                                      \
  X("RANG", rang, LA, 0, PATH_NONE, "RANG <start> <end> | RANG 1 0")                      \
  X("ABOR", abor, L, 0, PATH_NONE, "ABOR")                                                \
  X("HASH", hash, LA, PERM_R, PATH_ARG, "HASH <path>")                                   \
  X("AUTH", auth, A, 0, PATH_NONE, "AUTH TLS")                                            \
  X("PBSZ", pbsz, A, 0, PATH_NONE, "PBSZ 0")                                              \
  X("PROT", prot, A, 0, PATH_NONE, "PROT C | P")

/* SITE's subcommands, dispatched by ftpd_cmd_site() through the same checks. */
#define FTPD_SITE_COMMANDS(X)                                                             \
  X("CHMOD", chmod, LA, PERM_CHMOD, PATH_AFTER_WORD, "CHMOD <octal mode> <path>")         \
  X("HELP", help, 0, 0, PATH_NONE, "HELP [<subcommand>]")

#define PROTO(verb, fn, flags, perm, path, help) void ftpd_cmd_##fn(ftpd_session_t *s, const char *arg, const char *vp);
#define SITE_PROTO(verb, fn, flags, perm, path, help) void ftpd_site_##fn(ftpd_session_t *s, const char *arg, const char *vp);
FTPD_COMMANDS(PROTO)
FTPD_SITE_COMMANDS(SITE_PROTO)

#define ROW(verb, fn, flags, perm, path, help) {verb, ftpd_cmd_##fn, flags, perm, path, help},
#define SITE_ROW(verb, fn, flags, perm, path, help) {verb, ftpd_site_##fn, flags, perm, path, help},
const ftpd_cmd_def_t ftpd_cmds[] = {FTPD_COMMANDS(ROW){NULL, NULL, 0, 0, 0, NULL}};
const ftpd_cmd_def_t ftpd_site_cmds[] = {FTPD_SITE_COMMANDS(SITE_ROW){NULL, NULL, 0, 0, 0, NULL}};

const ftpd_cmd_def_t *ftpd_cmd_lookup(const char *verb) {
  for (const ftpd_cmd_def_t *d = ftpd_cmds; d->verb; d++)
    if (!strcmp(d->verb, verb)) return d;
  return NULL;
}

const ftpd_cmd_def_t *ftpd_site_lookup(const char *word, size_t n) {
  for (const ftpd_cmd_def_t *d = ftpd_site_cmds; d->verb; d++)
    if (strlen(d->verb) == n && !strncasecmp(d->verb, word, n)) return d;
  return NULL;
}
