/* chat_client.c — the terminal side of the chat room: a coroutine prints
 * what the server sends, while a plain daemon thread copies the keyboard
 * (stdin) to the server line by line — Python's "a thread for input()" next
 * to a greenlet for the socket. (The keyboard is a thread because stdin is
 * not ours to make non-blocking, and libmt's wait-first mt_read in a
 * coroutine can miss an edge-triggered readiness it already consumed on a
 * pipe at end of input; in a plain thread it is a simple poll.)
 *
 *   chat_client [--nick NICK] HOST:PORT
 *
 * With --nick the nickname is sent as the first line; otherwise the first
 * line typed is. End of input sends /quit. The program ends when the server
 * closes the connection.
 * Exit status: 0; 1 cannot connect or the connection failed; 2 usage error.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/hostport.h"
#include "mt.h"

static int sock = -1;
static const char *nick;
static int status;

static void *keyboard_thread(void *arg) {
  (void)arg;
  if (nick) {
    char first[64];
    int n = snprintf(first, sizeof first, "%s\n", nick);
    if (mt_send_all(sock, first, (size_t)n, MT_FOREVER) < 0) return NULL;
  }
  mt_linereader_t *lr = mt_linereader_new(STDIN_FILENO, 4096);
  if (!lr) return NULL;
  char *line;
  size_t len;
  int r;
  while ((r = mt_readline(lr, &line, &len, MT_FOREVER)) == 0 || r == MT_EMSGSIZE) {
    if (r == MT_EMSGSIZE) {
      fprintf(stderr, "chat_client: line too long, not sent\n");
      continue;
    }
    line[len] = '\n';                 /* the reader's buffer has room for it */
    if (mt_send_all(sock, line, len + 1, MT_FOREVER) < 0) break;
  }
  if (r == MT_ECLOSED) mt_send_all(sock, "/quit\n", 6, 5);   /* end of input */
  mt_linereader_free(lr);
  return NULL;
}

static void *main_co(void *arg) {
  (void)arg;
  char buf[4096];
  ssize_t n;
  while ((n = mt_recv(sock, buf, sizeof buf, 0, MT_FOREVER)) > 0) {
    fwrite(buf, 1, (size_t)n, stdout);
    fflush(stdout);
  }
  if (n < 0) {
    fprintf(stderr, "chat_client: %s\n", mt_strerror((int)n));
    status = 1;
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *target = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: chat_client [--nick NICK] HOST:PORT\n"
             "  sends what you type, prints what the room says; end of input leaves\n"
             "exit: 0 closed by the server, 1 connection failed, 2 usage error\n");
      return 0;
    } else if (!strcmp(argv[i], "--nick") && i + 1 < argc) {
      nick = argv[++i];
      if (strlen(nick) > 16) {
        fprintf(stderr, "chat_client: a nickname has at most 16 characters\n");
        return 2;
      }
    } else if (argv[i][0] != '-' && !target) {
      target = argv[i];
    } else {
      fprintf(stderr, "chat_client: unexpected argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  char host[256];
  int port;
  if (!target || !hostport_parse(target, host, sizeof host, &port, 1)) {
    fprintf(stderr, "chat_client: give the server as HOST:PORT (see --help)\n");
    return 2;
  }
  sock = mt_tcp_connect(host, port, 10);
  if (sock < 0) {
    fprintf(stderr, "chat_client: cannot connect to %s: %s\n", target, mt_strerror(sock));
    return 1;
  }
  mt_thread_t *kb;                    /* a daemon: it may sit in read() at exit */
  int r = mt_thread_start(&kb, keyboard_thread, NULL, &(mt_thread_opts_t){ .name = "keyboard", .daemon = true });
  if (r) {
    fprintf(stderr, "chat_client: %s\n", mt_strerror(r));
    return 1;
  }
  mt_thread_free(kb);
  r = mt_co_main(main_co, NULL);
  mt_close(sock);
  return r ? 1 : status;
}
