/* chat_server.c — the notes' homework "a chat room", on coroutines: what
 * Python writes with gevent (a greenlet per client, monkey-patched sockets)
 * or asyncio (a task per client), here with mt_co_* and libmt's parking IO.
 *
 *   chat_server --listen HOST:PORT [--queue N]
 *
 * A line-based TCP service. The first line a client sends is its nickname
 * (1-16 letters, digits, '_' or '-'; a taken one is refused and asked
 * again). Then every line is broadcast to the others as "<nick> text";
 * "/msg nick text" is private, "/who" lists who is online, "/quit" leaves.
 * Server notices start with "* ", errors with "! ".
 *
 * One scheduler runs it all, so the client list needs no lock. Each client
 * has two coroutines: its reader (the session: nickname, commands) and its
 * writer, which drains a bounded queue of outgoing messages. Broadcasting
 * only puts into the others' queues without waiting; when a client's queue
 * is full — it stopped reading, or reads too slowly — the message is dropped
 * for that client alone (it is told how many it missed once it catches up),
 * so a slow or vanished client never holds up the others.
 *
 * SIGINT/SIGTERM: every client is told the server is shutting down, queues
 * drain (for at most a second), the program exits 0.
 * Exit status: 0; 1 if it cannot listen; 2 for a usage error.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../common/hostport.h"
#include "mt.h"

#define MAX_LINE 512
#define MAX_NICK 16

/* A message shared by every recipient's queue; the last one frees it. The
 * scheduler is single-threaded, so the count is a plain int. */
typedef struct {
  int refs;
  size_t len;
  char text[];
} msg_t;

typedef struct client {
  struct client *prev, *next;     /* every connection, joined or not */
  int fd;
  char nick[MAX_NICK + 1];        /* "" until the nickname is accepted */
  mt_queue_t *out;                /* msg_t * for the writer */
  unsigned long dropped;          /* messages dropped since the last notice */
  mt_co_t *reader, *writer;
} client_t;

static client_t *clients;         /* a list, in order of arrival */
static size_t queue_len = 64;
static bool shutting_down;
static int listen_fd = -1;
static mt_co_t *acceptor;

static msg_t *msg_new(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static msg_t *msg_new(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  msg_t *m = malloc(sizeof *m + (size_t)n + 2);
  if (!m) return NULL;
  va_start(ap, fmt);
  vsnprintf(m->text, (size_t)n + 1, fmt, ap);
  va_end(ap);
  m->text[n] = '\n';
  m->len = (size_t)n + 1;
  m->refs = 1;
  return m;
}

static void msg_unref(msg_t *m) {
  if (m && --m->refs == 0) free(m);
}

/* Queues m for c without waiting: full means dropped for c. */
static void deliver(client_t *c, msg_t *m) {
  m->refs++;
  if (mt_queue_put(c->out, m, 0) != 0) {
    m->refs--;
    c->dropped++;
  }
}

/* To every joined client but `except` (NULL: all). Consumes m. */
static void broadcast(msg_t *m, const client_t *except) {
  if (!m) return;
  for (client_t *c = clients; c; c = c->next)
    if (c != except && c->nick[0]) deliver(c, m);
  msg_unref(m);
}

static void tell(client_t *c, msg_t *m) {
  if (!m) return;
  deliver(c, m);
  msg_unref(m);
}

static client_t *find(const char *nick) {
  for (client_t *c = clients; c; c = c->next)
    if (c->nick[0] && !strcmp(c->nick, nick)) return c;
  return NULL;
}

static bool nick_valid(const char *s, size_t len) {
  if (len == 0 || len > MAX_NICK) return false;
  for (size_t i = 0; i < len; i++)
    if (!(s[i] == '_' || s[i] == '-' || (s[i] >= '0' && s[i] <= '9') || ((s[i] | 32) >= 'a' && (s[i] | 32) <= 'z')))
      return false;
  return true;
}

static msg_t *who_list(void) {
  char buf[4096];
  size_t n = 0, count = 0;
  for (client_t *c = clients; c; c = c->next) {
    if (!c->nick[0]) continue;
    count++;
    int w = snprintf(buf + n, sizeof buf - n, "%s%s", n ? ", " : "", c->nick);
    if (w < 0 || (size_t)w >= sizeof buf - n) break;
    n += (size_t)w;
  }
  buf[n] = 0;
  return msg_new("* %zu online: %s", count, buf);
}

/* The writer: sends what the queue holds until it is closed and drained. */
static void *writer(void *arg) {
  client_t *c = arg;
  void *item;
  bool ok = true;
  while (mt_queue_get(c->out, &item, MT_FOREVER) == 0) {
    msg_t *m = item;
    if (ok && mt_send_all(c->fd, m->text, m->len, MT_FOREVER) < 0) ok = false;   /* gone: drain */
    msg_unref(m);
    if (ok && c->dropped) {
      char note[96];
      int n = snprintf(note, sizeof note, "* %lu messages dropped: you were not reading\n", c->dropped);
      c->dropped = 0;
      if (mt_send_all(c->fd, note, (size_t)n, MT_FOREVER) < 0) ok = false;
    }
  }
  while (mt_queue_get(c->out, &item, 0) == 0) msg_unref(item);   /* after a cancel */
  return NULL;
}

static void command(client_t *c, char *line, size_t len, bool *quit) {
  if (!strcmp(line, "/quit")) {
    tell(c, msg_new("* bye"));
    *quit = true;
  } else if (!strcmp(line, "/who")) {
    tell(c, who_list());
  } else if (!strncmp(line, "/msg ", 5)) {
    char *to = line + 5, *text = strchr(to, ' ');
    if (!text || !text[1]) {
      tell(c, msg_new("! usage: /msg nick text"));
      return;
    }
    *text++ = 0;
    client_t *d = find(to);
    if (!d) tell(c, msg_new("! no such user: %s", to));
    else tell(d, msg_new("<%s> (private) %s", c->nick, text));
  } else if (line[0] == '/') {
    tell(c, msg_new("! unknown command %.32s (try /who, /msg nick text, /quit)", line));
  } else {
    broadcast(msg_new("<%s> %s", c->nick, line), c);
  }
  (void)len;
}

/* The session: nickname, then lines until EOF, /quit or shutdown. */
static void *reader(void *arg) {
  client_t *c = arg;
  mt_linereader_t *lr = mt_linereader_new(c->fd, MAX_LINE);
  bool quit = !lr || shutting_down;
  char *line;
  size_t len;
  if (!quit) tell(c, msg_new("* welcome to the chat room; your nickname?"));
  while (!quit) {
    int r = mt_readline(lr, &line, &len, MT_FOREVER);
    if (r == MT_EMSGSIZE) {
      tell(c, msg_new("! line too long (at most %d bytes)", MAX_LINE));
      continue;
    }
    if (r != 0) break;                /* EOF, reset, or cancelled by shutdown */
    if (!c->nick[0]) {
      if (!nick_valid(line, len)) {
        tell(c, msg_new("! a nickname is 1-16 letters, digits, '_' or '-'; try another"));
      } else if (find(line)) {
        tell(c, msg_new("! the nickname %s is taken; try another", line));
      } else {
        memcpy(c->nick, line, len + 1);
        tell(c, msg_new("* hello %s", c->nick));
        tell(c, who_list());
        broadcast(msg_new("* %s joined", c->nick), c);
      }
    } else if (len) {
      command(c, line, len, &quit);
    }
    /* Cooperative fairness: a client sending a burst of lines would
     * otherwise broadcast all the buffered ones before any writer runs. */
    mt_co_yield();
  }
  if (shutting_down) tell(c, msg_new("* the server is shutting down"));
  if (c->nick[0]) {
    char nick[MAX_NICK + 1];
    memcpy(nick, c->nick, sizeof nick);
    c->nick[0] = 0;                   /* no more broadcasts to us */
    broadcast(msg_new("* %s left", nick), c);
  }
  /* Let the writer send what is queued (a client that does not read gets a
   * second), then take the connection down. */
  mt_queue_close(c->out);
  if (mt_co_join(c->writer, 1.0, NULL) != 0) {
    mt_co_cancel(c->writer);
    mt_co_join(c->writer, MT_FOREVER, NULL);
  }
  if (c->prev) c->prev->next = c->next;
  else clients = c->next;
  if (c->next) c->next->prev = c->prev;
  mt_linereader_free(lr);
  mt_close(c->fd);
  mt_queue_free(c->out);
  free(c);
  return NULL;
}

static void *accept_loop(void *arg) {
  (void)arg;
  for (;;) {
    int fd = mt_accept(listen_fd, NULL, NULL, MT_FOREVER);
    if (fd == MT_ECANCELED) break;
    if (fd < 0) {                     /* EMFILE and the like: back off a little */
      if (mt_sleep(0.05) == MT_ECANCELED) break;
      continue;
    }
    client_t *c = calloc(1, sizeof *c);
    if (c) c->out = mt_queue_new(MT_FIFO, queue_len);
    if (c && c->out) c->writer = mt_co_spawn(writer, c);
    if (c && c->writer) c->reader = mt_co_spawn(reader, c);
    if (!c || !c->reader) {           /* out of memory: refuse this one */
      if (c && c->writer) { mt_queue_close(c->out); mt_co_join(c->writer, MT_FOREVER, NULL); }
      if (c && c->out) mt_queue_free(c->out);
      free(c);
      mt_close(fd);
      continue;
    }
    c->fd = fd;
    client_t **tail = &clients;       /* append: /who lists in order of arrival */
    while (*tail) {
      c->prev = *tail;
      tail = &(*tail)->next;
    }
    *tail = c;
    mt_co_detach(c->reader);
  }
  return NULL;
}

static mt_event_t stop;

static void *main_co(void *arg) {
  acceptor = mt_co_spawn(accept_loop, NULL);
  if (!acceptor) return (void *)1;
  mt_event_wait(&stop, MT_FOREVER);
  shutting_down = true;
  mt_co_cancel(acceptor);
  mt_co_join(acceptor, MT_FOREVER, NULL);
  for (client_t *c = clients; c; c = c->next) mt_co_cancel(c->reader);
  (void)arg;
  return NULL;
}

static void usage(FILE *f) {
  fprintf(f, "usage: chat_server --listen HOST:PORT [--queue N]\n"
             "  --listen HOST:PORT  where to listen (port 0: any free port)\n"
             "  --queue N           messages queued per client before dropping (default 64)\n"
             "exit: 0 after SIGINT/SIGTERM, 1 cannot listen, 2 usage error\n");
}

int main(int argc, char **argv) {
  const char *listen_arg = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--listen") && i + 1 < argc) {
      listen_arg = argv[++i];
    } else if (!strcmp(argv[i], "--queue") && i + 1 < argc) {
      char *end;
      long n = strtol(argv[++i], &end, 10);
      if (*end || n < 1 || n > 100000) {
        fprintf(stderr, "chat_server: --queue must be from 1 to 100000, not '%s'\n", argv[i]);
        return 2;
      }
      queue_len = (size_t)n;
    } else {
      fprintf(stderr, "chat_server: unknown or incomplete option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  char host[256];
  int port;
  if (!listen_arg) {
    fprintf(stderr, "chat_server: --listen HOST:PORT is required (see --help)\n");
    return 2;
  }
  if (!hostport_parse(listen_arg, host, sizeof host, &port, 0)) {
    fprintf(stderr, "chat_server: --listen wants HOST:PORT, not '%s'\n", listen_arg);
    return 2;
  }
  listen_fd = mt_tcp_listen(host, port, 128, 0);
  if (listen_fd < 0) {
    fprintf(stderr, "chat_server: cannot listen on %s: %s\n", listen_arg, mt_strerror(listen_fd));
    return 1;
  }
  mt_event_init(&stop, 0);
  mt_signal_shutdown_event(&stop);
  printf("chat_server: listening on %s:%d\n", host[0] ? host : "*", mt_tcp_port(listen_fd));
  fflush(stdout);
  int r = mt_co_main(main_co, NULL);
  mt_close(listen_fd);
  if (r) fprintf(stderr, "chat_server: %s\n", mt_strerror(r));
  return r ? 1 : 0;
}
