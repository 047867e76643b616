/* loadgen.h — an echo load generator: `conns` connections each send a
 * `size`-byte message and wait for it to come back, `msgs` messages in all.
 * One thread, epoll, non-blocking sockets. Returns messages per second. */
#ifndef MT_BENCH_LOADGEN_H
#define MT_BENCH_LOADGEN_H
double loadgen_run(const char *host, int port, int conns, long msgs, int size);
#endif
