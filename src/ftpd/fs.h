/* fs.h — the jail: every path a client names becomes an fd beneath its root. */
#ifndef FTPD_FS_H
#define FTPD_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Joins a client argument onto the virtual cwd and normalises it lexically
 * ("." dropped, ".." pops) into an absolute virtual path such as "/a/b".
 * Returns 0; -EACCES when ".." would climb above the root; -ENAMETOOLONG for
 * a path over FTPD_MAX_PATH or a component over FTPD_MAX_NAME. */
int ftpd_path_resolve(const char *cwd, const char *arg, char *out, size_t outsz);
/* The same, but ".." at the root stays at the root (CWD and CDUP, as in a
 * chroot: "CWD .." at "/" succeeds and stays at "/"). */
int ftpd_path_resolve_clamped(const char *cwd, const char *arg, char *out, size_t outsz);

/* Opens vpath beneath root_fd with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS): a symlink may lead anywhere inside the root, never
 * out (-EXDEV). Without openat2 (kernels before 5.6) every component is
 * opened with O_NOFOLLOW, so no symlink is followed at all. Returns an fd or
 * -errno. */
int ftpd_fs_open(int root_fd, const char *vpath, int flags, mode_t mode);

/* Opens the directory holding vpath's last component (O_PATH) and copies that
 * component into name. -EPERM for the root itself. Returns an fd or -errno. */
int ftpd_fs_parent(int root_fd, const char *vpath, char *name, size_t namesz);

/* Tests force the no-openat2 walk with this (also: env MTFTPD_NO_OPENAT2=1). */
void ftpd_fs_force_fallback(bool on);

#endif
