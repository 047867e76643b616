/* listparse.h — LIST reply lines of the common server formats, for clients
 * of servers without MLSD.
 *
 * Pure (no IO, no allocation, no global state) and bounded by its input:
 * each line came off the network, so it has a libFuzzer harness
 * (fuzz/fuzz_listparse.c). Two formats are known: the UNIX `ls -l` form
 * ("drwxr-xr-x 2 user group 4096 Jan 02 2024 name", with or without the
 * link count, the group, a year or a time) and the DOS/IIS form
 * ("01-02-24  03:04PM  <DIR>  name", "01-02-2024 15:04 1234 name").
 */
#ifndef FTPPROTO_LISTPARSE_H
#define FTPPROTO_LISTPARSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum { FTPP_LIST_FILE = 1, FTPP_LIST_DIR = 2, FTPP_LIST_LINK = 3, FTPP_LIST_OTHER = 4 };

typedef struct {
  int type;              /* FTPP_LIST_* */
  uint64_t size;
  unsigned mode;         /* permission bits from a UNIX line, 0 for DOS */
  time_t mtime;          /* UTC as the server wrote it; -1 when absent */
  int mtime_exact;       /* 1 when the line gave a time of day (not only a year) */
  const char *name;      /* inside the line, NOT NUL-terminated */
  size_t name_len;       /* >= 1; a symlink's " -> target" is cut off */
} ftpp_list_entry_t;

/* Parses line[0..len) (CRLF removed). Returns 0 and fills *out; -EINVAL
 * for a line of neither format (a "total 12" header among them), -ERANGE
 * for a size beyond 2^63. `now` picks the year of a UNIX line that gives a
 * time instead (the most recent such date not more than a day ahead). */
int ftpp_list_parse(const char *line, size_t len, time_t now, ftpp_list_entry_t *out);

#endif
