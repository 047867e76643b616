/* ftpproto.h — the FTP protocol's text forms, shared by mtftpd and mtftp.
 *
 * Pure functions: no IO, no allocation, no global state, safe from any
 * thread. Every one of them reads bytes that came off the network (the
 * server parses what clients send, the client parses what servers send), so
 * each is bounded by its input and has a libFuzzer harness (fuzz/).
 *
 * Conventions: 0 (or a length) on success; a negative errno value on
 * failure: -EINVAL for text that does not have the grammar's shape, -ERANGE
 * for a number out of range, -ENOBUFS when the output does not fit (nothing
 * useful is written then), -EAFNOSUPPORT for an address family the protocol
 * form cannot carry. Strings taken as `const char *s` are NUL-terminated;
 * those taken with a length may hold anything, NUL included. Addresses are
 * struct sockaddr_storage holding a sockaddr_in or sockaddr_in6, port in
 * network order, ready for connect() or bind().
 */
#ifndef FTPPROTO_H
#define FTPPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

/* ---- active mode: PORT (RFC 959) and EPRT (RFC 2428) --------------------- */

/* "h1,h2,h3,h4,p1,p2": six decimal numbers 0-255 (at most three digits
 * each, nothing else, no spaces) into an AF_INET address. */
int ftpp_port_parse(const char *s, struct sockaddr_storage *out);
/* The PORT argument for ss (AF_INET, or AF_INET6 holding a v4-mapped
 * address). Returns the length written (NUL-terminated), -EAFNOSUPPORT for
 * a real IPv6 address, -ENOBUFS. 24 bytes always suffice. */
int ftpp_port_format(const struct sockaddr_storage *ss, char *out, size_t outsz);

/* "<d>af<d>address<d>port<d>", d any character from 33 to 126: af 1 (IPv4)
 * or 2 (IPv6), port 1-65535. -EAFNOSUPPORT for any other af (the server
 * answers 522), -EINVAL for anything malformed. */
int ftpp_eprt_parse(const char *s, struct sockaddr_storage *out);
/* "|1|a.b.c.d|port|" or "|2|v6addr|port|" for ss. Returns the length;
 * 64 bytes always suffice. */
int ftpp_eprt_format(const struct sockaddr_storage *ss, char *out, size_t outsz);

/* ---- passive mode: the 227 (PASV) and 229 (EPSV) replies ----------------- */

/* "Entering Passive Mode (h1,h2,h3,h4,p1,p2)." for ss (AF_INET or
 * v4-mapped; its port is used). Returns the length; 64 bytes suffice. */
int ftpp_pasv_format(const struct sockaddr_storage *ss, char *out, size_t outsz);
/* Finds the six numbers in a 227 reply's text (with or without the code;
 * RFC 1123 4.1.2.6: servers differ in what surrounds them, so the text is
 * scanned for the first "h1,h2,h3,h4,p1,p2"). Into an AF_INET address. */
int ftpp_pasv_parse(const char *s, struct sockaddr_storage *out);

/* "Entering Extended Passive Mode (|||port|)". Returns the length; 64
 * bytes suffice. -ERANGE for a port outside 1-65535. */
int ftpp_epsv_format(int port, char *out, size_t outsz);
/* The port of a 229 reply: "(<d><d><d>port<d>)" anywhere in the text, all
 * four delimiters the same character from 33 to 126. */
int ftpp_epsv_parse(const char *s, int *port);

/* ---- MODE B (RFC 959 3.4.2): a block's header ------------------------------ */

/* A descriptor byte, then the count of data bytes that follow, 16 bits,
 * most significant byte first. */
#define FTPP_BLOCK_EOF 64        /* the file's last block */
#define FTPP_BLOCK_RESTART 16    /* a restart marker: its bytes are not file data */
#define FTPP_BLOCK_MAX 65535u    /* the most a block holds */
#define FTPP_BLOCK_HEADER 3
static inline void ftpp_block_header(unsigned char h[FTPP_BLOCK_HEADER], int desc, size_t count) {
  h[0] = (unsigned char)desc;
  h[1] = (unsigned char)(count >> 8);
  h[2] = (unsigned char)count;
}
static inline size_t ftpp_block_count(const unsigned char h[FTPP_BLOCK_HEADER]) {
  return (size_t)h[1] << 8 | h[2];
}

/* ---- REST (RFC 3659 5) ------------------------------------------------------ */

/* A non-negative decimal byte offset: digits only, no sign or spaces, at
 * most INT64_MAX (else -ERANGE). */
int ftpp_rest_parse(const char *s, int64_t *out);

/* ---- RANG (draft-bryan-ftp-range-08) ---------------------------------------- */

/* "<start> <end>": two such offsets, one space apart, the end byte
 * included; start <= end, except "1 0", which resets the range (1 is
 * returned for it). 0, 1, -EINVAL (start past end included), -ERANGE. */
int ftpp_rang_parse(const char *s, uint64_t *start, uint64_t *end);

/* ---- times: MDTM replies and MFMT arguments (RFC 3659 2.3) --------------- */

/* "YYYYMMDDHHMMSS[.F...]", UTC, in s[0..len): a real calendar date (the
 * month's length and leap years checked), seconds 0-60, a fraction of one
 * or more digits (the first nine kept as nanoseconds). */
int ftpp_time_parse(const char *s, size_t len, struct timespec *out);
/* "YYYYMMDDHHMMSS" for t (UTC). Returns 14; -ERANGE outside years
 * 0000-9999; 15 bytes suffice. */
int ftpp_time_format(time_t t, char *out, size_t outsz);
/* MFMT's argument "YYYYMMDDHHMMSS[.F] path": the time, and *path pointing
 * at the (non-empty) path inside s. */
int ftpp_mfmt_parse(const char *s, struct timespec *t, const char **path);

/* ---- SITE CHMOD --------------------------------------------------------------- */

/* "MODE path": an octal mode of 1-4 digits, one space, a non-empty path.
 * *mode is masked to 0777 — a client never sets setuid, setgid or sticky
 * bits — and *requested holds the mode as sent (NULL: not wanted). */
int ftpp_chmod_parse(const char *s, unsigned *mode, unsigned *requested, const char **path);

/* ---- 257 replies (RFC 959 appendix II) ------------------------------------ */

/* path with every '"' doubled, for "257 \"path\" ...". Returns the length
 * written, -ENOBUFS when it does not fit. */
int ftpp_path_quote(const char *path, char *out, size_t outsz);
/* The path of a 257 reply text: what lies between the first '"' and the
 * next lone '"', with "" read as one '"'. Returns the length. */
int ftpp_path_unquote(const char *s, char *out, size_t outsz);

/* ---- reading replies (RFC 959 4.2) ---------------------------------------- */

/* The line-level state machine of a reply reader. Feed it each line as it
 * arrives (its CRLF removed): a reply is one "ddd text" line, or a
 * "ddd-text" line, any lines, and a closing line with the same code and a
 * space (or nothing) after it. Lines inside a multi-line reply may say
 * anything, other codes included. */
typedef struct {
  int code;        /* the reply's code: set once its first line is seen */
  bool open;       /* inside a multi-line reply */
  unsigned lines;  /* lines fed for this reply so far */
} ftpp_reply_t;

enum {
  FTPP_REPLY_DONE = 0,   /* this line ended the reply; r->code is its code */
  FTPP_REPLY_MORE = 1,   /* the reply goes on */
};
void ftpp_reply_init(ftpp_reply_t *r);
/* FTPP_REPLY_DONE, FTPP_REPLY_MORE, or -EINVAL when the line cannot start a
 * reply (no code 100-599 in front): the reader should treat the connection
 * as broken. After DONE the next line starts a new reply. */
int ftpp_reply_feed(ftpp_reply_t *r, const char *line, size_t len);
/* The code of a single reply line "ddd[ -]..." (100-599), or -EINVAL. */
int ftpp_reply_code(const char *line, size_t len);

/* ---- MLST / MLSD facts (RFC 3659 7) ----------------------------------------- */

/* The facts mtftpd knows, as bits (the OPTS MLST selection). */
enum {
  FTPP_FACT_TYPE = 1u << 0,
  FTPP_FACT_SIZE = 1u << 1,
  FTPP_FACT_MODIFY = 1u << 2,
  FTPP_FACT_PERM = 1u << 3,
  FTPP_FACT_UNIX_MODE = 1u << 4,
  FTPP_FACT_UNIQUE = 1u << 5,
  FTPP_FACT_UNIX_UID = 1u << 6,
  FTPP_FACT_UNIX_GID = 1u << 7,
  FTPP_FACT_COUNT = 8,
  FTPP_FACT_ALL = (1u << 8) - 1,
};
/* The RFC's spelling of fact bit i ("type", "UNIX.mode", ...), NULL past
 * the last. */
const char *ftpp_fact_name(unsigned i);
/* OPTS MLST's argument: zero or more "factname;" (RFC 3659 7.9; fact names
 * case-insensitive, RFC 2045 token characters). Known facts set their bit
 * in *mask, unknown ones are ignored; -EINVAL for a malformed list (an
 * empty name, a missing ';', a character outside a token), *mask untouched. */
int ftpp_facts_select(const char *s, unsigned *mask);
/* "type*;size*;...;": the facts in `supported`, starred where in
 * `selected` (the FEAT line's and OPTS MLST reply's form; with selected ==
 * 0 and stars false it lists `supported` plainly). Returns the length. */
int ftpp_facts_format(unsigned supported, unsigned selected, bool stars, char *out, size_t outsz);

/* One parsed entry line "fact=value;...; name" of MLSD or MLST. */
typedef struct {
  unsigned present;        /* FTPP_FACT_* bits that were in the line */
  char type[32];           /* as sent: "file", "dir", "cdir", "OS.unix=symlink" */
  uint64_t size;
  struct timespec modify;  /* UTC */
  char perm[16];
  unsigned unix_mode;      /* 0-07777 */
  char unique[64];
  uint64_t unix_uid, unix_gid;
  const char *name;        /* inside the parsed line: NOT NUL-terminated */
  size_t name_len;         /* >= 1 */
} ftpp_facts_t;
/* Parses line[0..len) (CRLF removed; an MLST body line's leading space
 * too). Fact names are case-insensitive; unknown facts are skipped; a known
 * fact with a malformed value (or a value too long for its field) is
 * -EINVAL, as is a line without the space before the name. */
int ftpp_facts_parse(const char *line, size_t len, ftpp_facts_t *out);

/* ---- HASH replies (draft-bryan-ftpext-hash-02) ------------------------------ */

/* The text of a 213 reply to HASH, after "213 ":
 * "<algorithm> <start>-<end> <hex digest> <path>" (the path as the client
 * gave it; it may hold spaces). */
typedef struct {
  char algo[16];           /* "SHA-256", as sent */
  uint64_t start, end;     /* the byte range hashed, as the reply gives it */
  char hex[129];           /* the digest in lower case: 32 to 128 hex digits, even */
  const char *path;        /* inside the parsed text (NUL-terminated there); may be "" */
} ftpp_hash_t;
/* Parses s. -EINVAL for anything but the form above (an algorithm name of
 * 1-15 characters from [A-Za-z0-9-], start <= end, single spaces), -ERANGE
 * for numbers past 2^63-1. */
int ftpp_hash_parse(const char *s, ftpp_hash_t *out);
/* Formats the text of the reply from a digest of len bytes. The length, or
 * -ENOBUFS / -EINVAL (len not 16-64, an algorithm name outside the form). */
int ftpp_hash_format(const char *algo, uint64_t start, uint64_t end, const unsigned char *digest, size_t len,
                     const char *path, char *out, size_t outsz);

#endif
