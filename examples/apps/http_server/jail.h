/* jail.h — the HTTP server's jail: URL paths become fds beneath --root.
 *
 * The same idea as mtftpd's src/ftpd/fs.c, written small for this example
 * (an example reaches libmt only through its public API, and mtftpd's jail
 * is not part of it): lexical normalisation first, then openat2() with
 * RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, so the kernel refuses any walk —
 * through "..", an absolute symlink or a symlink to "../.." — that would
 * leave the root. */
#ifndef HTTP_JAIL_H
#define HTTP_JAIL_H

#include <stdbool.h>
#include <stddef.h>

/* Decodes a request target's path (up to '?' or '#'): %XX escapes, then "."
 * and ".." components. out receives "/a/b" (or "/"), and *trailing_slash
 * whether the target ended in '/'. Returns 0; -EINVAL for a malformed
 * escape, a NUL or a control character, or a target not starting with '/';
 * -EACCES when ".." climbs above the root; -ENAMETOOLONG. */
int jail_normalize(const char *target, char *out, size_t outsz, bool *trailing_slash);

/* Opens the normalised vpath beneath root_fd (read-only, non-blocking so a
 * FIFO cannot stall us, close-on-exec). Returns the fd or -errno: -EXDEV
 * when the walk would escape, -ENOENT, -ENOTDIR, -EACCES, -ELOOP. */
int jail_open(int root_fd, const char *vpath);

/* 0 when this kernel has openat2 (Linux 5.6+), else -ENOSYS. */
int jail_check(int root_fd);

#endif
