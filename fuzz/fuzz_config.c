/* fuzz_config.c — libFuzzer harness for the config-file and users-file parsers.
 * Both take administrator input, but a crash there is still a bug: they must
 * reject anything malformed with a message and leak nothing. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "auth.h"
#include "ftpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char err[600];
  ftpd_config_t c;
  ftpd_config_defaults(&c);
  err[0] = 0;
  if (ftpd_config_parse(&c, (const char *)data, size, "fuzz", err, sizeof err) != 0) assert(err[0]);
  assert(c.n_listen <= FTPD_MAX_LISTEN);
  assert(c.max_clients >= 1);
  ftpd_config_free(&c);
  ftpd_users_t u;
  err[0] = 0;
  if (ftpd_users_parse(&u, (const char *)data, size, "fuzz", err, sizeof err) == 0) {
    for (size_t i = 0; i < u.n; i++) {
      assert(u.v[i].name[0] && u.v[i].hash[0] == '$');
      assert(u.v[i].perms <= PERM_ALL);
    }
    ftpd_users_free(&u);
  } else {
    assert(err[0]);
  }
  return 0;
}
