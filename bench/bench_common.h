/* bench_common.h — medians and the ratio line every benchmark prints. */
#ifndef MT_BENCH_COMMON_H
#define MT_BENCH_COMMON_H
#include <stdio.h>
#include <stdlib.h>

static inline int bench_cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
static inline double bench_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, bench_cmp);
  return v[n / 2];
}
/* Prints "name: libmt X/s, anchor Y/s, ratio R (goal >= G: met|NOT met)". */
static inline void bench_report(const char *what, const char *anchor, double mt, double an, double goal) {
  double r = mt / an;
  printf("%-44s libmt %12.0f/s  %-14s %12.0f/s  ratio %6.2f  (goal >= %.1f: %s)\n", what, mt, anchor, an,
         r, goal, r >= goal ? "met" : "NOT met");
}
#endif
