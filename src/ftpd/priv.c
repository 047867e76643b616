/* priv.c — privileges: the one file that changes who the server runs as.
 *
 * main.c calls ftpd_drop_privileges() once, after the root directory is
 * opened and the listeners are bound (which may need root) and before any
 * thread or session starts; the fork model's session processes call
 * ftpd_session_confine() first thing. After start-up nothing runs as root:
 * real, effective and saved uid and gid are --run-as's, no supplementary
 * groups, every capability set and the bounding set are empty, and a
 * session process also has no_new_privs. tests/ftp/test_hardening.py
 * checks /proc for every process and thread of each model.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ftpd.h"

/* Empties the capability sets of this process (effective, permitted,
 * inheritable) and its ambient set: what setresuid from root already does,
 * done explicitly so nothing depends on SECBIT_KEEP_CAPS. 0 or -errno. */
int ftpd_caps_clear(void) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  struct __user_cap_data_struct d[2];
  memset(d, 0, sizeof d);
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  return syscall(SYS_capset, &h, d) == 0 ? 0 : -errno;
}

/* Started as root: drop the capability bounding set (while CAP_SETPCAP is
 * still held: nothing this process or a session process could ever exec
 * regains a capability), the supplementary groups, then gid and uid —
 * real, effective and saved — and the capability sets, and check that
 * root cannot come back. Every thread of the server starts after this, and
 * glibc applies setresuid to all threads anyway. */
int ftpd_drop_privileges(const char *want) {
  if (geteuid() != 0) return 0;
  const char *name = want;
  if (!name) name = getpwnam("ftp") ? "ftp" : "nobody";
  if (!strcmp(name, "root")) {
    ftpd_log(LOG_WARN, "run-as root: serving with full privileges");
    return 0;
  }
  struct passwd *pw = getpwnam(name);
  if (!pw) {
    fprintf(stderr, "mtftpd: run-as: no user '%s'\n", name);
    return -1;
  }
  if (pw->pw_uid == 0) {
    fprintf(stderr, "mtftpd: run-as: '%s' has uid 0\n", name);
    return -1;
  }
  for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
      fprintf(stderr, "mtftpd: cannot drop capability %d from the bounding set: %s\n", cap, strerror(errno));
      return -1;
    }
  uid_t u = pw->pw_uid;
  gid_t g = pw->pw_gid;
  if (setgroups(0, NULL) || setresgid(g, g, g) || setresuid(u, u, u)) {
    fprintf(stderr, "mtftpd: cannot drop privileges to '%s': %s\n", name, strerror(errno));
    return -1;
  }
  int r = ftpd_caps_clear();
  if (r < 0) {
    fprintf(stderr, "mtftpd: cannot clear capabilities: %s\n", strerror(-r));
    return -1;
  }
  uid_t ru, eu, su;
  if (getresuid(&ru, &eu, &su) || !ru || !eu || !su || setuid(0) == 0) {   /* must be impossible now */
    fprintf(stderr, "mtftpd: privileges could not be dropped\n");
    return -1;
  }
  ftpd_log(LOG_INFO, "serving as user %s (uid %u), no capabilities", name, (unsigned)pw->pw_uid);
  return 0;
}

void ftpd_session_confine(void) {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    ftpd_log(LOG_WARN, "session process: no_new_privs: %s", strerror(errno));
  if (geteuid() != 0) {           /* run-as root keeps root's powers, as it warned */
    int r = ftpd_caps_clear();
    if (r < 0) ftpd_log(LOG_WARN, "session process: capset: %s", strerror(-r));
  }
}
