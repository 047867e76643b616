/* test_ftpproto.c — the shared protocol module: every parser with its
 * accepted forms, its refusals, and a round trip through its formatter. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ftpproto.h"

static struct sockaddr_storage v4(const char *ip, int port) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a = (struct sockaddr_in *)&ss;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)port);
  inet_pton(AF_INET, ip, &a->sin_addr);
  return ss;
}

static struct sockaddr_storage v6(const char *ip, int port) {
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
  a->sin6_family = AF_INET6;
  a->sin6_port = htons((uint16_t)port);
  inet_pton(AF_INET6, ip, &a->sin6_addr);
  return ss;
}

static void assert_v4(const struct sockaddr_storage *ss, const char *ip, int port) {
  assert_int_equal(ss->ss_family, AF_INET);
  const struct sockaddr_in *a = (const void *)ss;
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
  assert_string_equal(buf, ip);
  assert_int_equal(ntohs(a->sin_port), port);
}

static void test_port(void **st) {
  struct sockaddr_storage ss;
  assert_int_equal(ftpp_port_parse("127,0,0,1,4,1", &ss), 0);
  assert_v4(&ss, "127.0.0.1", 1025);
  assert_int_equal(ftpp_port_parse("255,255,255,255,255,255", &ss), 0);
  assert_v4(&ss, "255.255.255.255", 65535);
  /* what sscanf("%u,...") let through */
  const char *bad[] = {"", "1,2,3,4,5", "1,2,3,4,5,6,7", "1,2,3,4,5,256", "-1,2,3,4,5,6", "+1,2,3,4,5,6",
                       " 1,2,3,4,5,6", "1, 2,3,4,5,6", "1,2,3,4,5,6 ", "1,2,3,4,5,6x", "0001,2,3,4,5,6",
                       "4294967297,0,0,1,4,1", "1,,3,4,5,6", "a,b,c,d,e,f"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ss.ss_family = AF_UNSPEC;
    assert_true(ftpp_port_parse(bad[i], &ss) < 0);
    assert_int_equal(ss.ss_family, AF_UNSPEC);      /* untouched on failure */
  }
  char out[32];
  struct sockaddr_storage a = v4("10.1.2.3", 50000);
  assert_int_equal(ftpp_port_format(&a, out, sizeof out), (int)strlen("10,1,2,3,195,80"));
  assert_string_equal(out, "10,1,2,3,195,80");
  assert_int_equal(ftpp_port_parse(out, &ss), 0);
  assert_v4(&ss, "10.1.2.3", 50000);
  a = v6("::ffff:10.1.2.3", 50000);                 /* v4-mapped: fine */
  assert_true(ftpp_port_format(&a, out, sizeof out) > 0);
  assert_string_equal(out, "10,1,2,3,195,80");
  a = v6("::1", 50000);
  assert_int_equal(ftpp_port_format(&a, out, sizeof out), -EAFNOSUPPORT);
  a = v4("10.1.2.3", 50000);
  assert_int_equal(ftpp_port_format(&a, out, 8), -ENOBUFS);
}

static void test_eprt(void **st) {
  struct sockaddr_storage ss;
  assert_int_equal(ftpp_eprt_parse("|1|132.235.1.2|6275|", &ss), 0);
  assert_v4(&ss, "132.235.1.2", 6275);
  assert_int_equal(ftpp_eprt_parse("!2!1080::8:800:200C:417A!5282!", &ss), 0);
  assert_int_equal(ss.ss_family, AF_INET6);
  assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 5282);
  assert_int_equal(ftpp_eprt_parse("|3|1.2.3.4|5|", &ss), -EAFNOSUPPORT);
  assert_int_equal(ftpp_eprt_parse("|11|1.2.3.4|5|", &ss), -EAFNOSUPPORT);
  const char *bad[] = {"", "|", "|1|1.2.3.4|0|", "|1|1.2.3.4|65536|", "|1|1.2.3.4|-5|", "|1|1.2.3.4|5",
                       "|1|1.2.3.4|5|x", "|2|1.2.3.4|5|", "|1|::1|5|", "|1||5|", " 1 1.2.3.4 5 ",
                       "||1.2.3.4|5|", "|x|1.2.3.4|5|", "|1|1.2.3.4| 5|"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ftpp_eprt_parse(bad[i], &ss), -EINVAL);
  char out[64];
  struct sockaddr_storage a = v6("2001:db8::1", 2121);
  assert_true(ftpp_eprt_format(&a, out, sizeof out) > 0);
  assert_string_equal(out, "|2|2001:db8::1|2121|");
  assert_int_equal(ftpp_eprt_parse(out, &ss), 0);
  assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr, &((struct sockaddr_in6 *)&a)->sin6_addr, 16);
  a = v4("1.2.3.4", 9);
  assert_true(ftpp_eprt_format(&a, out, sizeof out) > 0);
  assert_string_equal(out, "|1|1.2.3.4|9|");
  assert_int_equal(ftpp_eprt_format(&a, out, 5), -ENOBUFS);
}

static void test_pasv_epsv(void **st) {
  char out[64];
  struct sockaddr_storage a = v4("192.168.7.9", 40001), ss;
  assert_true(ftpp_pasv_format(&a, out, sizeof out) > 0);
  assert_string_equal(out, "Entering Passive Mode (192,168,7,9,156,65).");
  assert_int_equal(ftpp_pasv_parse(out, &ss), 0);
  assert_v4(&ss, "192.168.7.9", 40001);
  /* the shapes servers send (RFC 1123 4.1.2.6) */
  assert_int_equal(ftpp_pasv_parse("227 Entering Passive Mode (127,0,0,1,200,10)", &ss), 0);
  assert_v4(&ss, "127.0.0.1", 200 * 256 + 10);
  assert_int_equal(ftpp_pasv_parse("227 =127,0,0,1,200,10", &ss), 0);
  assert_v4(&ss, "127.0.0.1", 200 * 256 + 10);
  assert_int_equal(ftpp_pasv_parse("227 Passive 10,0,0,1,1,2 ok", &ss), 0);
  assert_v4(&ss, "10.0.0.1", 258);
  assert_int_equal(ftpp_pasv_parse("227 Entering Passive Mode (1,2,3,4,5)", &ss), -EINVAL);
  assert_int_equal(ftpp_pasv_parse("227 Entering Passive Mode (1,2,3,4,5,300)", &ss), -EINVAL);
  assert_int_equal(ftpp_pasv_parse("227 (1234,2,3,4,5,6)", &ss), -EINVAL);
  assert_int_equal(ftpp_pasv_parse("", &ss), -EINVAL);
  a = v6("::1", 5);
  assert_int_equal(ftpp_pasv_format(&a, out, sizeof out), -EAFNOSUPPORT);

  int port = 0;
  assert_true(ftpp_epsv_format(6446, out, sizeof out) > 0);
  assert_string_equal(out, "Entering Extended Passive Mode (|||6446|)");
  assert_int_equal(ftpp_epsv_parse(out, &port), 0);
  assert_int_equal(port, 6446);
  assert_int_equal(ftpp_epsv_parse("229 ok (!!!65535!)", &port), 0);
  assert_int_equal(port, 65535);
  assert_int_equal(ftpp_epsv_parse("229 (x) then (|||21|)", &port), 0);   /* the first well-formed one */
  assert_int_equal(port, 21);
  const char *bad[] = {"229 (|||0|)", "229 (|||65536|)", "229 (||6446|)", "229 (|||6446!)", "229 (|||6446|",
                       "229 (|||-1|)", "229 (111222|)", "229 (", "229 no parens", "(|||12x|)"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ftpp_epsv_parse(bad[i], &port), -EINVAL);
  assert_int_equal(ftpp_epsv_format(0, out, sizeof out), -ERANGE);
  assert_int_equal(ftpp_epsv_format(70000, out, sizeof out), -ERANGE);
  assert_int_equal(ftpp_epsv_format(21, out, 10), -ENOBUFS);
}

static void test_rang(void **st) {
  uint64_t a = 0, b = 0;
  assert_int_equal(ftpp_rang_parse("0 0", &a, &b), 0);
  assert_true(a == 0 && b == 0);
  assert_int_equal(ftpp_rang_parse("1048576 2097151", &a, &b), 0);
  assert_true(a == 1048576 && b == 2097151);
  assert_int_equal(ftpp_rang_parse("9223372036854775807 9223372036854775807", &a, &b), 0);
  a = b = 5;
  assert_int_equal(ftpp_rang_parse("1 0", &a, &b), 1);                  /* the reset */
  assert_int_equal(ftpp_rang_parse("9223372036854775808 9223372036854775809", &a, &b), -ERANGE);
  const char *bad[] = {"", "1", "2 1", "1  2", " 1 2", "1 2 ", "1 2 3", "-1 2", "1 +2", "0x1 2", "1\t2"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ftpp_rang_parse(bad[i], &a, &b), -EINVAL);
  assert_true(a == 5 && b == 5);
}

static void test_block_header(void **st) {
  (void)st;
  unsigned char h[FTPP_BLOCK_HEADER];
  ftpp_block_header(h, FTPP_BLOCK_EOF, 65535);
  assert_int_equal(h[0], 64);
  assert_int_equal(h[1], 0xff);
  assert_int_equal(h[2], 0xff);
  assert_int_equal(ftpp_block_count(h), FTPP_BLOCK_MAX);
  ftpp_block_header(h, 0, 0x0102);
  assert_memory_equal(h, "\x00\x01\x02", 3);
  assert_int_equal(ftpp_block_count(h), 258);
  ftpp_block_header(h, FTPP_BLOCK_RESTART | FTPP_BLOCK_EOF, 0);
  assert_int_equal(h[0], 80);
  assert_int_equal(ftpp_block_count(h), 0);
}

static void test_rest(void **st) {
  int64_t v = -1;
  assert_int_equal(ftpp_rest_parse("0", &v), 0);
  assert_int_equal(v, 0);
  assert_int_equal(ftpp_rest_parse("9223372036854775807", &v), 0);
  assert_true(v == INT64_MAX);
  assert_int_equal(ftpp_rest_parse("9223372036854775808", &v), -ERANGE);
  assert_int_equal(ftpp_rest_parse("99999999999999999999", &v), -ERANGE);
  v = 7;
  const char *bad[] = {"", "-1", "+1", " 1", "1 ", "0x10", "1e3", "12a"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ftpp_rest_parse(bad[i], &v), -EINVAL);
  assert_int_equal(v, 7);
}

static void test_time(void **st) {
  struct timespec t;
  assert_int_equal(ftpp_time_parse("19700101000000", 14, &t), 0);
  assert_int_equal(t.tv_sec, 0);
  assert_int_equal(t.tv_nsec, 0);
  assert_int_equal(ftpp_time_parse("20240229235960.5", 16, &t), 0);   /* leap day, leap second */
  assert_int_equal(t.tv_nsec, 500000000);
  assert_int_equal(ftpp_time_parse("20000101000000.1234567891", 25, &t), 0);
  assert_int_equal(t.tv_nsec, 123456789);
  const char *bad[] = {"2023022912000", "20230229120000", "21000229120000", "20231301000000", "20230001000000",
                       "20230100000000", "20230431000000", "20230101240000", "20230101006000", "20230101000061",
                       "2023010100000a", "20230101000000.", "20230101000000x", "20230101000000.1x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ftpp_time_parse(bad[i], strlen(bad[i]), &t), -EINVAL);
  assert_int_equal(ftpp_time_parse("20000229120000", 14, &t), 0);      /* 2000 is a leap year */
  /* explicit length: bytes past it are not looked at */
  assert_int_equal(ftpp_time_parse("20230101000000 path", 14, &t), 0);

  char out[16];
  assert_int_equal(ftpp_time_format(951825600, out, sizeof out), 14);
  assert_string_equal(out, "20000229120000");
  assert_int_equal(ftpp_time_parse(out, 14, &t), 0);
  assert_int_equal(t.tv_sec, 951825600);
  assert_int_equal(ftpp_time_format(0, out, 14), -ENOBUFS);
  assert_int_equal(ftpp_time_format((time_t)400000000000LL, out, sizeof out), -ERANGE);   /* year > 9999 */

  const char *path;
  assert_int_equal(ftpp_mfmt_parse("20230101000000 dir/a b.txt", &t, &path), 0);
  assert_string_equal(path, "dir/a b.txt");
  assert_int_equal(ftpp_mfmt_parse("20230101000000", &t, &path), -EINVAL);
  assert_int_equal(ftpp_mfmt_parse("20230101000000 ", &t, &path), -EINVAL);
  assert_int_equal(ftpp_mfmt_parse("2023 x", &t, &path), -EINVAL);
}

static void test_chmod(void **st) {
  unsigned m = 1, req = 1;
  const char *path;
  assert_int_equal(ftpp_chmod_parse("644 a.txt", &m, &req, &path), 0);
  assert_int_equal(m, 0644);
  assert_string_equal(path, "a.txt");
  /* bug 11: setuid, setgid and sticky never reach the file */
  const char *high[] = {"4755 f", "2755 f", "6755 f", "7777 f", "1777 f"};
  for (size_t i = 0; i < sizeof high / sizeof *high; i++) {
    assert_int_equal(ftpp_chmod_parse(high[i], &m, &req, &path), 0);
    assert_int_equal(m & ~0777u, 0);
    assert_true(req > 0777);
  }
  assert_int_equal(ftpp_chmod_parse("0 f", &m, NULL, &path), 0);
  assert_int_equal(m, 0);
  const char *bad[] = {"", "644", "644 ", "888 f", "07777 f", "-644 f", " 644 f", "0x1ff f", "64a f"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(ftpp_chmod_parse(bad[i], &m, &req, &path), -EINVAL);
}

static void test_path_quote(void **st) {
  char out[16], back[16];
  assert_int_equal(ftpp_path_quote("/a\"b", out, sizeof out), 5);
  assert_string_equal(out, "/a\"\"b");
  assert_int_equal(ftpp_path_quote("/0123456789abcdef", out, sizeof out), -ENOBUFS);
  assert_int_equal(ftpp_path_quote("\"\"\"\"\"\"\"\"", out, sizeof out), -ENOBUFS);   /* 16 + NUL */
  assert_int_equal(ftpp_path_unquote("257 \"/a\"\"b\" is the current directory.", back, sizeof back), 4);
  assert_string_equal(back, "/a\"b");
  assert_int_equal(ftpp_path_unquote("257 \"\" empty", back, sizeof back), 0);
  assert_string_equal(back, "");
  assert_int_equal(ftpp_path_unquote("257 no quotes", back, sizeof back), -EINVAL);
  assert_int_equal(ftpp_path_unquote("257 \"unterminated", back, sizeof back), -EINVAL);
  assert_int_equal(ftpp_path_unquote("257 \"/0123456789abcdef\"", back, sizeof back), -ENOBUFS);
}

static int feed(ftpp_reply_t *r, const char *line) { return ftpp_reply_feed(r, line, strlen(line)); }

static void test_reply_reader(void **st) {
  ftpp_reply_t r;
  ftpp_reply_init(&r);
  assert_int_equal(feed(&r, "200 NOOP ok."), FTPP_REPLY_DONE);
  assert_int_equal(r.code, 200);
  assert_int_equal(feed(&r, "220"), FTPP_REPLY_DONE);   /* a bare code */
  assert_int_equal(r.code, 220);
  /* a multi-line reply with lines that look like other replies inside */
  assert_int_equal(feed(&r, "211-Features:"), FTPP_REPLY_MORE);
  assert_true(r.open);
  assert_int_equal(feed(&r, " EPSV"), FTPP_REPLY_MORE);
  assert_int_equal(feed(&r, "226 not the end: another code"), FTPP_REPLY_MORE);
  assert_int_equal(feed(&r, "211-still not the end"), FTPP_REPLY_MORE);
  assert_int_equal(feed(&r, ""), FTPP_REPLY_MORE);
  assert_int_equal(feed(&r, "211x not either"), FTPP_REPLY_MORE);
  assert_int_equal(feed(&r, "211 End"), FTPP_REPLY_DONE);
  assert_int_equal(r.code, 211);
  assert_int_equal(r.lines, 7);
  assert_false(r.open);
  assert_int_equal(feed(&r, "211-a"), FTPP_REPLY_MORE);
  assert_int_equal(feed(&r, "211"), FTPP_REPLY_DONE);
  /* what cannot start a reply */
  const char *bad[] = {"", "20", "600 x", "099 x", "abc", "200x", " 200 ok", "2000 x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ftpp_reply_init(&r);
    assert_int_equal(feed(&r, bad[i]), -EINVAL);
  }
  assert_int_equal(ftpp_reply_code("550-x", 5), 550);
  assert_int_equal(ftpp_reply_code("550", 2), -EINVAL);   /* the length is respected */
}

static void test_facts_select_format(void **st) {
  unsigned m = 0x55;
  assert_int_equal(ftpp_facts_select("type;SIZE;unix.MODE;", &m), 0);
  assert_int_equal(m, FTPP_FACT_TYPE | FTPP_FACT_SIZE | FTPP_FACT_UNIX_MODE);
  assert_int_equal(ftpp_facts_select("", &m), 0);               /* selects nothing */
  assert_int_equal(m, 0);
  assert_int_equal(ftpp_facts_select("x.foo;modify;", &m), 0);  /* unknown ones ignored */
  assert_int_equal(m, FTPP_FACT_MODIFY);
  const char *bad[] = {"type", "type;size", ";", "type;;", "ty pe;", "type ;", "size=1;", "a/b;", "type;\x01;"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    m = 0x55;
    assert_int_equal(ftpp_facts_select(bad[i], &m), -EINVAL);
    assert_int_equal(m, 0x55);                                 /* the selection is kept */
  }
  char out[160];
  int n = ftpp_facts_format(FTPP_FACT_ALL, FTPP_FACT_TYPE | FTPP_FACT_UNIQUE, true, out, sizeof out);
  assert_true(n > 0);
  assert_string_equal(out, "type*;size;modify;perm;UNIX.mode;unique*;UNIX.uid;UNIX.gid;");
  assert_true(ftpp_facts_format(FTPP_FACT_TYPE | FTPP_FACT_SIZE, 0, false, out, sizeof out) > 0);
  assert_string_equal(out, "type;size;");
  assert_int_equal(ftpp_facts_format(FTPP_FACT_ALL, 0, false, out, 10), -ENOBUFS);
  assert_int_equal(ftpp_facts_format(0, 0, false, out, sizeof out), 0);
  assert_string_equal(out, "");
  for (unsigned i = 0; i < FTPP_FACT_COUNT; i++) assert_non_null(ftpp_fact_name(i));
  assert_null(ftpp_fact_name(FTPP_FACT_COUNT));
}

static int facts(const char *line, ftpp_facts_t *f) { return ftpp_facts_parse(line, strlen(line), f); }

static void test_facts_parse(void **st) {
  ftpp_facts_t f;
  assert_int_equal(facts("type=file;Size=1234;modify=20240101120000.5;perm=adfrw;UNIX.mode=0644;"
                         "unique=803g1a2;unix.uid=1000;UNIX.gid=100;x.other=whatever; a b;c.txt", &f), 0);
  assert_int_equal(f.present, FTPP_FACT_ALL);
  assert_string_equal(f.type, "file");
  assert_true(f.size == 1234);
  assert_int_equal(f.modify.tv_nsec, 500000000);
  assert_string_equal(f.perm, "adfrw");
  assert_int_equal(f.unix_mode, 0644);
  assert_string_equal(f.unique, "803g1a2");
  assert_true(f.unix_uid == 1000 && f.unix_gid == 100);
  assert_int_equal(f.name_len, strlen("a b;c.txt"));
  assert_memory_equal(f.name, "a b;c.txt", f.name_len);
  assert_int_equal(facts("type=OS.unix=symlink; link", &f), 0);
  assert_string_equal(f.type, "OS.unix=symlink");
  assert_int_equal(facts(" bare-name", &f), 0);                   /* no facts at all */
  assert_int_equal(f.present, 0);
  assert_int_equal(f.name_len, 9);
  /* names are whatever follows the space, NUL and spaces included */
  assert_int_equal(ftpp_facts_parse("size=1; a\0b", 11, &f), 0);
  assert_int_equal(f.name_len, 3);
  const char *bad[] = {"", "type=file;", "type=file;name", "type=file", "size=abc; x", "size=-1; x",
                       "modify=2024; x", "UNIX.mode=0999; x", "UNIX.mode=077777; x", "=x; y", "noequals; y",
                       "type=; x", "unix.uid=4294967296; x", "type=file; ",
                       "type=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; x"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(facts(bad[i], &f), -EINVAL);
}

static void test_hash_reply(void **st) {
  (void)st;
  ftpp_hash_t h;
  const char *hex64 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08";
  char line[256];
  snprintf(line, sizeof line, "SHA-256 0-4 %s my file.txt", hex64);
  assert_int_equal(ftpp_hash_parse(line, &h), 0);
  assert_string_equal(h.algo, "SHA-256");
  assert_true(h.start == 0 && h.end == 4);
  assert_string_equal(h.hex, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");   /* lower case */
  assert_string_equal(h.path, "my file.txt");
  assert_int_equal(ftpp_hash_parse("MD5 10-20 00112233445566778899aabbccddeeff", &h), 0);
  assert_string_equal(h.path, "");
  /* what sscanf would have taken */
  assert_int_equal(ftpp_hash_parse("SHA-256 -1-4 00112233445566778899aabbccddeeff x", &h), -EINVAL);
  assert_int_equal(ftpp_hash_parse("SHA-256 5-4 00112233445566778899aabbccddeeff x", &h), -EINVAL);
  assert_int_equal(ftpp_hash_parse("SHA-256  0-4 00112233445566778899aabbccddeeff x", &h), -EINVAL);
  assert_int_equal(ftpp_hash_parse("SHA-256 0-4 0011223344556677889 x", &h), -EINVAL);          /* odd, short */
  assert_int_equal(ftpp_hash_parse("SHA-256 0-4 00112233445566778899aabbccddeefg x", &h), -EINVAL);  /* not hex */
  assert_int_equal(ftpp_hash_parse("SHA-256 0-99999999999999999999 00112233445566778899aabbccddeeff", &h), -ERANGE);
  assert_int_equal(ftpp_hash_parse("SHA_256 0-4 00112233445566778899aabbccddeeff", &h), -EINVAL);
  assert_int_equal(ftpp_hash_parse("ABCDEFGHIJKLMNOP 0-4 00112233445566778899aabbccddeeff", &h), -EINVAL);   /* 16 chars */
  assert_int_equal(ftpp_hash_parse("", &h), -EINVAL);
  /* the formatter and the parser agree */
  unsigned char d[32];
  for (int k = 0; k < 32; k++) d[k] = (unsigned char)(k * 37);
  char out[256];
  assert_true(ftpp_hash_format("SHA-256", 0, 123456789, d, 32, "a b", out, sizeof out) > 0);
  assert_int_equal(ftpp_hash_parse(out, &h), 0);
  assert_true(h.end == 123456789 && strlen(h.hex) == 64 && !strcmp(h.path, "a b"));
  assert_int_equal(ftpp_hash_format("SHA-256", 0, 1, d, 32, "x", out, 40), -ENOBUFS);
  assert_int_equal(ftpp_hash_format("SHA 256", 0, 1, d, 32, "x", out, sizeof out), -EINVAL);
  assert_int_equal(ftpp_hash_format("SHA-256", 0, 1, d, 8, "x", out, sizeof out), -EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_port),        cmocka_unit_test(test_eprt),
    cmocka_unit_test(test_pasv_epsv),   cmocka_unit_test(test_rest), cmocka_unit_test(test_rang),
    cmocka_unit_test(test_time),        cmocka_unit_test(test_chmod),
    cmocka_unit_test(test_path_quote),  cmocka_unit_test(test_reply_reader),
    cmocka_unit_test(test_facts_select_format), cmocka_unit_test(test_facts_parse),
    cmocka_unit_test(test_hash_reply), cmocka_unit_test(test_block_header),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
