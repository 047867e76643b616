/* config.h — helpers of config.c shared with the rest of the server. */
#ifndef FTPD_CONFIG_H
#define FTPD_CONFIG_H
#include <arpa/inet.h>
#include <stddef.h>

#define FTPD_DEFAULT_LISTEN "0.0.0.0:21"

/* "h:p", "[v6]:p" or "p" (host empty). 0 or -1. */
int ftpd_parse_hostport(const char *s, char *host, size_t hostsz, int *port);
/* The name of value `value` of an enumerated key ("model", "log-level",
 * "anonymous"), or NULL. */
const char *ftpd_config_name(const char *key, int value);

#endif
