/* ftpd_limits.h — every bound mtftpd puts on what a client can make it do.
 *
 * One place, so a reviewer can see the whole untrusted edge at once. The
 * time limits are defaults; the config file and flags may change them
 * (config.c), the sizes are fixed at build time.
 */
#ifndef FTPD_LIMITS_H
#define FTPD_LIMITS_H

#define FTPD_MAX_LINE          4096   /* a control line, CRLF not counted; longer: 500 and close */
#define FTPD_MAX_PATH          4096   /* a resolved path beneath the root */
#define FTPD_MAX_NAME          255    /* one path component */
#define FTPD_MAX_USER          64     /* a user name */
#define FTPD_MAX_PASS          512    /* a password */
#define FTPD_MAX_LIST_ENTRIES  100000 /* entries one LIST/NLST/MLSD will send */
#define FTPD_MAX_LOGIN_FAILS   3      /* then 421 and close */
#define FTPD_MAX_CMDS_PRELOGIN 32     /* commands before a successful login (default of max-prelogin-commands; REIN does not reset it) */
#define FTPD_MAX_LISTEN        16     /* --listen addresses, and as many --listen-implicit-tls */
#define FTPD_MAX_LISTENERS     (2 * FTPD_MAX_LISTEN)
#define FTPD_MAX_DEFERRED      8      /* commands pipelined behind a transfer */
#define FTPD_MAX_USERS_FILE    (4 << 20) /* bytes in the users file */
#define FTPD_MAX_CONFIG_FILE   (1 << 20) /* bytes in the config file */
#define FTPD_MAX_BAN_ENTRIES   4096   /* addresses the failed-login table tracks at once */
#define FTPD_MAX_RATE_USERS    1024   /* users with a shared max-rate-per-user bucket */
#define FTPD_HASH_CACHE        4096   /* default hash-cache: digests remembered (152 B each) */

#define FTPD_LOGIN_DELAY       1.0    /* seconds before the reply to a failed PASS */
#define FTPD_LOGIN_TIMEOUT     60.0   /* seconds from connect to login */
#define FTPD_IDLE_TIMEOUT      300.0  /* seconds between commands */
#define FTPD_LINE_TIMEOUT      30.0   /* seconds from a command line's first byte to its end */
#define FTPD_MAX_LOGIN_FAILURES_IP 5  /* failed logins per address within the window: banned */
#define FTPD_LOGIN_FAIL_WINDOW 600.0  /* seconds the failures are counted over */
#define FTPD_LOGIN_BAN_TIME    300.0  /* seconds an address stays banned */
#define FTPD_DATA_TIMEOUT      60.0   /* connect/accept and each data stall */
#define FTPD_SHUTDOWN_GRACE    10.0   /* seconds running transfers get at SIGTERM */

#define FTPD_XFER_BUF          (256 << 10) /* STOR and ASCII transfer buffer */
#define FTPD_CTRL_POLL         0.25   /* control channel checked this often in a transfer */

#endif
