/* fuzz_listparse.c — libFuzzer harness for LIST line parsing (the client's
 * reading of servers without MLSD). Checked: a parsed entry's name lies
 * inside the input and is not empty, its type is a known one, and parsing
 * the same bytes twice gives the same result. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "listparse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  ftpp_list_entry_t a, b;
  int ra = ftpp_list_parse(s, size, (time_t)1718452800, &a);
  int rb = ftpp_list_parse(s, size, (time_t)1718452800, &b);
  assert(ra == rb);
  if (ra == 0) {
    assert(a.name >= s && a.name_len >= 1 && a.name + a.name_len <= s + size);
    assert(a.type >= FTPP_LIST_FILE && a.type <= FTPP_LIST_OTHER);
    assert(a.size == b.size && a.mtime == b.mtime && a.name == b.name && a.name_len == b.name_len);
  }
  return 0;
}
