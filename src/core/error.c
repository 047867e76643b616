/* error.c — mt_strerror() and mt_err_name(), generated from MT_ERROR_MAP.
 * Codes outside the table that are -errno values fall back to glibc's
 * static descriptions (strerrordesc_np is thread-safe, unlike strerror). */
#include <string.h>

#include "mt/error.h"
#include "core/internal.h"

MT_API const char *mt_strerror(int code) {
  switch (code) {
#define MT__MSG(name, value, msg) case (value): return msg;
    MT_ERROR_MAP(MT__MSG)
#undef MT__MSG
    case 0: return "success";
    default: break;
  }
  if (code < 0 && code > -4000) {
    const char *d = strerrordesc_np(-code);
    if (d) return d;
  }
  return "unknown error";
}

MT_API const char *mt_err_name(int code) {
  switch (code) {
#define MT__NAME(name, value, msg) case (value): return #name;
    MT_ERROR_MAP(MT__NAME)
#undef MT__NAME
    case 0: return "OK";
    default: break;
  }
  if (code < 0 && code > -4000) {
    const char *n = strerrorname_np(-code);
    if (n) return n;
  }
  return "UNKNOWN";
}

static __thread int t_last_error;
MT_API int mt_last_error(void) { return t_last_error; }
void mt__set_last_error(int code) { t_last_error = code; }
