/* sched.c — the notes' homework "the scheduling algorithms of the CPU": a
 * simulator of FCFS, SJF, SRTF, round robin and the multilevel feedback
 * queue, in integer time units.
 *
 *   sched --algo fcfs|sjf|srtf|rr|mlfq [--quantum N] FILE
 *
 * FILE has one job a line, "name arrival burst [priority]"; blank lines and
 * lines starting with '#' are skipped. The priority is read, checked and
 * shown, but none of the five algorithms uses it. Output: a text Gantt
 * timeline, a table of each job's completion, waiting and turnaround times,
 * and the two averages.
 *
 * The rules, so that every result can be worked out by hand:
 * - Ties go to the earlier arrival, then to the earlier line of the file.
 * - FCFS and SJF never preempt; SJF picks the shortest burst among the jobs
 *   that have arrived when the CPU falls free.
 * - SRTF runs the job with the shortest remaining time, and preempts the
 *   running job only for a strictly shorter one.
 * - RR: jobs arriving at time t join the tail of the ready queue before the
 *   job whose quantum ran out at t does.
 * - MLFQ (the notes: "the longer a job runs, the less CPU it gets and the
 *   lower its priority"): three levels with quanta q, 2q and 4q. A new job
 *   joins the tail of the top level; a job that uses its whole quantum moves
 *   down one level (the bottom level is round robin); a job waiting on a
 *   higher level preempts the running one, which goes back to the tail of
 *   its own level with a fresh quantum.
 * Simulation is tick by tick, so the inputs are capped (MAX_JOBS jobs, a
 * timeline of at most MAX_TIME units).
 *
 * Exit status: 0; 1 for a file that cannot be read or is malformed; 2 for a
 * usage error (unknown algorithm, bad option). Errors are one line on stderr.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_JOBS 1000
#define MAX_TIME 1000000L
#define MAX_NAME 32
#define LEVELS 3

typedef struct {
  char name[MAX_NAME + 1];
  long arrival, burst, priority;   /* priority -1: none given */
  int line;                        /* index in file order */
  long remaining, completion;
  int level;                       /* MLFQ */
} job_t;

typedef struct { int job; long start, end; } seg_t;   /* job -1: idle */

enum algo { FCFS, SJF, SRTF, RR, MLFQ };
static const char *const algo_names[] = { "fcfs", "sjf", "srtf", "rr", "mlfq" };

static job_t jobs[MAX_JOBS];
static int njobs;
static seg_t *segs;
static size_t nsegs, capsegs;

static void usage(FILE *f) {
  fprintf(f,
          "usage: sched --algo fcfs|sjf|srtf|rr|mlfq [--quantum N] FILE\n"
          "  FILE: one job a line, \"name arrival burst [priority]\" (integers, burst > 0)\n"
          "  --quantum N  time slice for rr, top-level slice for mlfq (default 2)\n"
          "  mlfq: 3 levels with quanta N, 2N, 4N; a job that uses its whole quantum\n"
          "        moves down; a higher level preempts a lower one\n"
          "exit: 0 ok, 1 bad or unreadable FILE, 2 usage error\n");
}

__attribute__((format(printf, 2, 3), noreturn))
static void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("sched: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(code);
}

static bool parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return false;
  *out = v;
  return true;
}

static void load(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) die(1, "%s: %s", path, strerror(errno));
  char buf[512];
  int lineno = 0;
  long total = 0;
  while (fgets(buf, sizeof buf, f)) {
    lineno++;
    if (!strchr(buf, '\n') && !feof(f)) die(1, "%s:%d: line too long", path, lineno);
    char *tok[5];
    int n = 0;
    for (char *p = strtok(buf, " \t\r\n"); p; p = strtok(NULL, " \t\r\n")) {
      if (n == 0 && p[0] == '#') break;
      if (n == 5) break;
      tok[n++] = p;
    }
    if (n == 0) continue;
    if (n < 3 || n > 4) die(1, "%s:%d: expected \"name arrival burst [priority]\"", path, lineno);
    if (njobs == MAX_JOBS) die(1, "%s:%d: too many jobs (at most 1000)", path, lineno);
    job_t *j = &jobs[njobs];
    if (strlen(tok[0]) > MAX_NAME) die(1, "%s:%d: job name longer than 32 characters", path, lineno);
    for (int k = 0; k < njobs; k++)
      if (!strcmp(jobs[k].name, tok[0])) die(1, "%s:%d: duplicate job name", path, lineno);
    strcpy(j->name, tok[0]);
    if (!parse_long(tok[1], 0, MAX_TIME, &j->arrival))
      die(1, "%s:%d: arrival must be an integer from 0 to 1000000", path, lineno);
    if (!parse_long(tok[2], 1, MAX_TIME, &j->burst))
      die(1, "%s:%d: burst must be an integer from 1 to 1000000", path, lineno);
    j->priority = -1;
    if (n == 4 && !parse_long(tok[3], 0, 1000000, &j->priority))
      die(1, "%s:%d: priority must be an integer from 0 to 1000000", path, lineno);
    j->line = njobs;
    j->remaining = j->burst;
    j->completion = -1;
    total = (j->arrival > total ? j->arrival : total) + j->burst;
    if (total > MAX_TIME) die(1, "%s:%d: timeline longer than 1000000 time units", path, lineno);
    njobs++;
  }
  bool err = ferror(f);
  fclose(f);
  if (err) die(1, "%s: read error", path);
  if (njobs == 0) die(1, "%s: no jobs", path);
}

/* ---- ready queues: FIFO rings of job indices (one per MLFQ level) ---------- */
typedef struct { int buf[MAX_JOBS]; int head, len; } ring_t;
static ring_t ready[LEVELS];
static void push(ring_t *r, int j) { r->buf[(r->head + r->len++) % MAX_JOBS] = j; }
static int pop(ring_t *r) { int j = r->buf[r->head]; r->head = (r->head + 1) % MAX_JOBS; r->len--; return j; }

/* The earlier of two jobs by (key, arrival, line). */
static bool before(int a, int b, long ka, long kb) {
  if (ka != kb) return ka < kb;
  if (jobs[a].arrival != jobs[b].arrival) return jobs[a].arrival < jobs[b].arrival;
  return jobs[a].line < jobs[b].line;
}

static void record(int job, long t) {
  if (nsegs && segs[nsegs - 1].job == job && segs[nsegs - 1].end == t) {
    segs[nsegs - 1].end = t + 1;
    return;
  }
  if (nsegs == capsegs) {
    capsegs = capsegs ? capsegs * 2 : 64;
    segs = realloc(segs, capsegs * sizeof *segs);
    if (!segs) die(1, "out of memory");
  }
  segs[nsegs++] = (seg_t){ job, t, t + 1 };
}

static void simulate(enum algo algo, long quantum) {
  int order[MAX_JOBS];              /* jobs by (arrival, line) */
  for (int i = 0; i < njobs; i++) order[i] = i;
  for (int i = 1; i < njobs; i++)   /* insertion sort: stable, n is small */
    for (int k = i; k > 0 && before(order[k], order[k - 1], 0, 0); k--) {
      int x = order[k]; order[k] = order[k - 1]; order[k - 1] = x;
    }
  int next = 0, done = 0, cur = -1;
  long used = 0;                    /* ticks of the current quantum used */
  bool arrived[MAX_JOBS] = { false };
  for (long t = 0; done < njobs; t++) {
    while (next < njobs && jobs[order[next]].arrival == t) {   /* admit */
      int j = order[next++];
      arrived[j] = true;
      if (algo == FCFS || algo == RR) push(&ready[0], j);
      if (algo == MLFQ) { jobs[j].level = 0; push(&ready[0], j); }
    }
    if (cur >= 0) {                 /* the running job at a tick boundary */
      job_t *c = &jobs[cur];
      if (c->remaining == 0) {
        c->completion = t;
        done++;
        cur = -1;
      } else if (algo == RR && used == quantum) {
        push(&ready[0], cur);
        cur = -1;
      } else if (algo == MLFQ) {
        long q = quantum << c->level;
        bool higher = false;
        for (int l = 0; l < c->level; l++) higher |= ready[l].len > 0;
        if (used == q) {
          if (c->level < LEVELS - 1) c->level++;
          push(&ready[c->level], cur);
          cur = -1;
        } else if (higher) {
          push(&ready[c->level], cur);
          cur = -1;
        }
      } else if (algo == SRTF) {
        for (int j = 0; j < njobs; j++)
          if (arrived[j] && j != cur && jobs[j].remaining > 0 && jobs[j].remaining < c->remaining) {
            cur = -1;
            break;
          }
      }
    }
    if (done == njobs) break;
    if (cur < 0) {                  /* pick the next job */
      used = 0;
      if (algo == FCFS || algo == RR) {
        if (ready[0].len) cur = pop(&ready[0]);
      } else if (algo == MLFQ) {
        for (int l = 0; l < LEVELS && cur < 0; l++)
          if (ready[l].len) cur = pop(&ready[l]);
      } else {                      /* SJF, SRTF: scan the arrived jobs */
        for (int j = 0; j < njobs; j++) {
          if (!arrived[j] || jobs[j].remaining == 0) continue;
          long kj = algo == SJF ? jobs[j].burst : jobs[j].remaining;
          long kc = cur < 0 ? 0 : (algo == SJF ? jobs[cur].burst : jobs[cur].remaining);
          if (cur < 0 || before(j, cur, kj, kc)) cur = j;
        }
      }
    }
    record(cur, t);
    if (cur >= 0) { jobs[cur].remaining--; used++; }
  }
}

static void print_gantt(void) {
  /* Two rows: each segment's label between bars, its start time beneath the
   * bar that opens it, and the end time under the last bar. */
  char num[32];
  printf("gantt:\n");
  size_t i = 0;
  while (i < nsegs) {               /* wrap every 16 segments */
    size_t end = i + 16 < nsegs ? i + 16 : nsegs;
    for (size_t k = i; k < end; k++) {
      const char *label = segs[k].job < 0 ? "idle" : jobs[segs[k].job].name;
      snprintf(num, sizeof num, "%ld", segs[k].start);
      int w = (int)(strlen(label) > strlen(num) ? strlen(label) : strlen(num)) + 1;
      printf("|%-*s", w, label);
    }
    printf("|\n");
    for (size_t k = i; k < end; k++) {
      const char *label = segs[k].job < 0 ? "idle" : jobs[segs[k].job].name;
      snprintf(num, sizeof num, "%ld", segs[k].start);
      int w = (int)(strlen(label) > strlen(num) ? strlen(label) : strlen(num)) + 1;
      printf("%-*s", w + 1, num);
    }
    printf("%ld\n", segs[end - 1].end);
    i = end;
  }
}

int main(int argc, char **argv) {
  int algo = -1;
  long quantum = 2;
  const char *file = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(stdout);
      return 0;
    } else if (!strcmp(argv[i], "--algo")) {
      if (++i == argc) die(2, "--algo requires an argument");
      for (int a = 0; a <= MLFQ; a++)
        if (!strcmp(argv[i], algo_names[a])) algo = a;
      if (algo < 0) die(2, "unknown algorithm '%s' (fcfs, sjf, srtf, rr, mlfq)", argv[i]);
    } else if (!strcmp(argv[i], "--quantum")) {
      if (++i == argc) die(2, "--quantum requires an argument");
      if (!parse_long(argv[i], 1, 10000, &quantum))
        die(2, "--quantum must be an integer from 1 to 10000, not '%s'", argv[i]);
    } else if (argv[i][0] == '-' && argv[i][1]) {
      die(2, "unknown option '%s' (see --help)", argv[i]);
    } else if (file) {
      die(2, "more than one FILE given ('%s')", argv[i]);
    } else {
      file = argv[i];
    }
  }
  if (algo < 0) die(2, "--algo is required (see --help)");
  if (!file) die(2, "no FILE given (see --help)");
  load(file);
  simulate(algo, quantum);

  static const char *const titles[] = { "FCFS (first come, first served)", "SJF (shortest job first, non-preemptive)",
                                        "SRTF (shortest remaining time first, preemptive)", "RR (round robin", "MLFQ (multilevel feedback queue" };
  if (algo == RR) printf("algorithm: %s, quantum %ld)\n", titles[algo], quantum);
  else if (algo == MLFQ) printf("algorithm: %s, quanta %ld, %ld, %ld)\n", titles[algo], quantum, quantum * 2, quantum * 4);
  else printf("algorithm: %s\n", titles[algo]);
  print_gantt();

  printf("%-8s %8s %6s %8s %10s %7s %10s\n", "job", "arrival", "burst", "priority",
         "completion", "waiting", "turnaround");
  long sum_wait = 0, sum_tat = 0;
  for (int i = 0; i < njobs; i++) {
    job_t *j = &jobs[i];
    long tat = j->completion - j->arrival, wait = tat - j->burst;
    sum_wait += wait;
    sum_tat += tat;
    char prio[24] = "-";
    if (j->priority >= 0) snprintf(prio, sizeof prio, "%ld", j->priority);
    printf("%-8s %8ld %6ld %8s %10ld %7ld %10ld\n", j->name, j->arrival, j->burst, prio, j->completion, wait, tat);
  }
  printf("average waiting time: %.2f\n", (double)sum_wait / njobs);
  printf("average turnaround time: %.2f\n", (double)sum_tat / njobs);
  free(segs);
  return 0;
}
