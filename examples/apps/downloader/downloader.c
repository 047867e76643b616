/* downloader.c — the notes' thread-pool downloader (seed 004): fetch a list
 * of URLs with N threads, each streaming its body to disk in chunks, while
 * the main thread prints a progress line.
 * Python: ThreadPoolExecutor(N).submit(download, url) for each URL, then
 * as_completed(futures) — here mt_pool_submit and mt_as_completed_next,
 * whose timeout is the progress line's tick.
 *
 *   downloader [--threads N] [--out DIR] URL...
 *
 * URLs are http://HOST[:PORT]/PATH (plain HTTP/1.1; the example HTTP server
 * is the intended peer). Each file is written to DIR/.NAME.part and renamed
 * to DIR/NAME only once every byte announced by Content-Length has arrived,
 * so a failed download never leaves a file that looks complete.
 * Exit status: 0 all downloaded; 1 some failed (each named on stderr);
 * 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "mt.h"

#define CHUNK 65536

typedef struct {
  const char *url;
  char host[256], path[2048], name[256];
  int port;
  long long size, got;          /* Content-Length (-1 unknown), bytes so far */
  char error[160];
} job_t;

static const char *out_dir = ".";
static atomic_llong total_bytes;

/* http://host[:port]/path -> job fields; the file name is the path's last
 * component (index.html for a directory). */
static bool parse_url(job_t *j) {
  const char *u = j->url;
  if (strncmp(u, "http://", 7)) return false;
  u += 7;
  size_t hl = strcspn(u, ":/");
  if (hl == 0 || hl >= sizeof j->host) return false;
  memcpy(j->host, u, hl);
  j->host[hl] = 0;
  u += hl;
  j->port = 80;
  if (*u == ':') {
    char *end;
    long p = strtol(u + 1, &end, 10);
    if (end == u + 1 || p < 1 || p > 65535) return false;
    j->port = (int)p;
    u = end;
  }
  if (*u == 0) u = "/";
  if (*u != '/' || strlen(u) >= sizeof j->path || strpbrk(u, " \r\n")) return false;
  strcpy(j->path, u);
  const char *q = j->path + strcspn(j->path, "?#"), *slash = q;
  while (slash > j->path && slash[-1] != '/') slash--;
  size_t nl = (size_t)(q - slash);
  if (nl == 0) snprintf(j->name, sizeof j->name, "index.html");
  else if (nl >= sizeof j->name - 8) return false;
  else memcpy(j->name, slash, nl), j->name[nl] = 0;
  return strcmp(j->name, ".") && strcmp(j->name, "..");
}

static int fail(job_t *j, const char *msg, int code) {
  snprintf(j->error, sizeof j->error, "%s", msg);
  return code;
}

/* The task, on a pool thread: connect, ask, stream the body to .NAME.part.
 * The reply head is read by hand rather than with mt_linereader: the body's
 * first bytes arrive in the same reads, and the line reader has no call to
 * hand back the bytes it holds past the last line. */
static int download(void *arg, void **result) {
  job_t *j = arg;
  (void)result;
  int fd = mt_tcp_connect(j->host, j->port, 10);
  if (fd < 0) return fail(j, mt_strerror(fd), fd);
  char *buf = malloc(CHUNK + 1);
  if (!buf) {
    mt_close(fd);
    return fail(j, "out of memory", MT_ENOMEM);
  }
  int n = snprintf(buf, CHUNK, "GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n"
                   "User-Agent: multitask-downloader\r\n\r\n", j->path, j->host, j->port);
  int code = 0, out = -1;
  char part[600], final[600];
  snprintf(part, sizeof part, "%s/.%s.part", out_dir, j->name);
  snprintf(final, sizeof final, "%s/%s", out_dir, j->name);
  if (mt_send_all(fd, buf, (size_t)n, 30) < 0) {
    code = fail(j, "cannot send the request", MT_EIO);
    goto done;
  }
  size_t have = 0;
  char *body = NULL;
  while (!body) {                       /* the head: up to the blank line */
    if (have == CHUNK) {
      code = fail(j, "reply head too long", MT_EMSGSIZE);
      goto done;
    }
    ssize_t r = mt_recv(fd, buf + have, CHUNK - have, 0, 30);
    if (r <= 0) {
      code = fail(j, r == 0 ? "connection closed before a reply" : mt_strerror((int)r), r ? (int)r : MT_ECLOSED);
      goto done;
    }
    have += (size_t)r;
    buf[have] = 0;
    body = strstr(buf, "\r\n\r\n");
  }
  body += 4;
  int status = 0;
  if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
    code = fail(j, "not an HTTP reply", MT_EINVAL);
    goto done;
  }
  if (status != 200) {
    char *eol = strstr(buf, "\r\n");
    *eol = 0;
    char msg[96];
    snprintf(msg, sizeof msg, "%.80s", buf + (strlen(buf) > 9 ? 9 : 0));
    code = fail(j, msg, status);
    goto done;
  }
  j->size = -1;
  for (char *h = strstr(buf, "\r\n") + 2; h < body - 2; h = strstr(h, "\r\n") + 2)
    if (!strncasecmp(h, "Content-Length:", 15)) j->size = strtoll(h + 15, NULL, 10);
  out = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    code = fail(j, strerror(errno), -errno);
    goto done;
  }
  size_t first = have - (size_t)(body - buf);
  memmove(buf, body, first);
  for (size_t chunk = first;;) {         /* stream: chunk by chunk to disk */
    if (chunk && write(out, buf, chunk) != (ssize_t)chunk) {
      code = fail(j, "write failed", MT_EIO);
      goto done;
    }
    j->got += (long long)chunk;
    atomic_fetch_add(&total_bytes, (long long)chunk);
    if (j->size >= 0 && j->got >= j->size) break;
    ssize_t r = mt_recv(fd, buf, CHUNK, 0, 30);
    if (r < 0) {
      code = fail(j, mt_strerror((int)r), (int)r);
      goto done;
    }
    if (r == 0) break;
    chunk = (size_t)r;
  }
  if (j->size >= 0 && j->got != j->size) {
    char msg[96];
    snprintf(msg, sizeof msg, "connection closed after %lld of %lld bytes", j->got, j->size);
    code = fail(j, msg, MT_ECLOSED);
    goto done;
  }
  if (close(out) || rename(part, final)) code = fail(j, strerror(errno), -errno);
  out = -1;
done:
  if (out >= 0) close(out);
  if (code) unlink(part);                /* nothing half-done is left behind */
  free(buf);
  mt_close(fd);
  return code;
}

static void usage(FILE *f) {
  fprintf(f, "usage: downloader [--threads N] [--out DIR] URL...\n"
             "  URL          http://HOST[:PORT]/PATH, saved as DIR/<last path component>\n"
             "  --threads N  downloads at once (default 4)\n"
             "  --out DIR    where to save (default .)\n"
             "exit: 0 all downloaded, 1 some failed, 2 usage error\n");
}

int main(int argc, char **argv) {
  long threads = 4;
  job_t *jobs = calloc((size_t)argc, sizeof *jobs);
  size_t n = 0;
  if (!jobs) return 1;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      free(jobs);
      return 0;
    } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
      char *end;
      threads = strtol(argv[++i], &end, 10);
      if (*end || threads < 1 || threads > 64) {
        fprintf(stderr, "downloader: --threads must be from 1 to 64, not '%s'\n", argv[i]);
        goto usage_error;
      }
    } else if (!strcmp(argv[i], "--out") && i + 1 < argc) {
      out_dir = argv[++i];
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "downloader: unknown or incomplete option '%s' (see --help)\n", argv[i]);
      goto usage_error;
    } else {
      jobs[n].url = argv[i];
      if (!parse_url(&jobs[n])) {
        fprintf(stderr, "downloader: not an http://HOST[:PORT]/PATH URL: '%s'\n", argv[i]);
        goto usage_error;
      }
      for (size_t k = 0; k < n; k++)
        if (!strcmp(jobs[k].name, jobs[n].name)) {
          fprintf(stderr, "downloader: two URLs would both be saved as '%s'\n", jobs[n].name);
          goto usage_error;
        }
      n++;
    }
  }
  if (n == 0) {
    fprintf(stderr, "downloader: no URL given (see --help)\n");
    goto usage_error;
  }
  if (access(out_dir, W_OK)) {
    fprintf(stderr, "downloader: cannot write into %s: %s\n", out_dir, strerror(errno));
    goto usage_error;
  }
  mt_pool_t *pool = mt_pool_new_opts(&(mt_pool_opts_t){ .workers = (size_t)threads, .name = "download" });
  mt_future_t **fs = calloc(n, sizeof *fs);
  if (!pool || !fs) {
    fprintf(stderr, "downloader: %s\n", mt_strerror(mt_last_error()));
    return 1;
  }
  for (size_t i = 0; i < n; i++)
    if (!(fs[i] = mt_pool_submit(pool, download, &jobs[i]))) {
      fprintf(stderr, "downloader: %s\n", mt_strerror(mt_last_error()));
      return 1;
    }
  mt_as_completed_t *it = mt_as_completed_new(fs, n);
  if (!it) return 1;
  size_t done = 0, failed = 0;
  double t0 = mt_now();
  while (done < n) {
    mt_future_t *f = mt_as_completed_next(it, 0.2);   /* the tick of the progress line */
    if (f) {
      done++;
      size_t i = 0;
      while (fs[i] != f) i++;
      int code = mt_future_result(f, 0, NULL);
      if (code) {
        failed++;
        fprintf(stderr, "downloader: %s: %s\n", jobs[i].url, jobs[i].error);
      } else {
        printf("saved %s (%lld bytes)\n", jobs[i].name, jobs[i].got);
      }
    }
    fprintf(stderr, "progress: %zu/%zu files, %lld bytes, %.1f s\n", done, n,
            (long long)atomic_load(&total_bytes), mt_now() - t0);
  }
  mt_as_completed_free(it);
  for (size_t i = 0; i < n; i++) mt_future_release(fs[i]);
  mt_pool_free(pool);
  free(fs);
  free(jobs);
  return failed ? 1 : 0;
usage_error:
  free(jobs);
  return 2;
}
