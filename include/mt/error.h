/* error.h — libmt's error codes.
 *
 * Every libmt call that can fail returns 0 (or a count) on success and a
 * negative code on failure. Codes equal -errno where an errno value exists
 * (MT_ENOMEM == -ENOMEM, MT_ETIMEDOUT == -ETIMEDOUT); libmt's own conditions
 * (a full queue, a closed channel, a broken barrier...) live below -4000.
 * One table below generates the enum, mt_strerror() and mt_err_name().
 */
#ifndef MT_ERROR_H
#define MT_ERROR_H

#include <errno.h>

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define MT_ERROR_MAP(X)                                                          \
  X(MT_EPERM,           -EPERM,           "operation not permitted")             \
  X(MT_ENOENT,          -ENOENT,          "no such file or directory")           \
  X(MT_ESRCH,           -ESRCH,           "no such process")                     \
  X(MT_EINTR,           -EINTR,           "interrupted system call")             \
  X(MT_EIO,             -EIO,             "input/output error")                  \
  X(MT_EBADF,           -EBADF,           "bad file descriptor")                 \
  X(MT_ECHILD,          -ECHILD,          "no child processes")                  \
  X(MT_EAGAIN,          -EAGAIN,          "resource temporarily unavailable")    \
  X(MT_ENOMEM,          -ENOMEM,          "out of memory")                       \
  X(MT_EACCES,          -EACCES,          "permission denied")                   \
  X(MT_EBUSY,           -EBUSY,           "resource busy")                       \
  X(MT_EEXIST,          -EEXIST,          "file exists")                         \
  X(MT_ENOTDIR,         -ENOTDIR,         "not a directory")                     \
  X(MT_EISDIR,          -EISDIR,          "is a directory")                      \
  X(MT_EINVAL,          -EINVAL,          "invalid argument")                    \
  X(MT_EMFILE,          -EMFILE,          "too many open files")                 \
  X(MT_ENOSPC,          -ENOSPC,          "no space left on device")             \
  X(MT_EPIPE,           -EPIPE,           "broken pipe")                         \
  X(MT_ERANGE,          -ERANGE,          "result out of range")                 \
  X(MT_EDEADLK,         -EDEADLK,         "resource deadlock avoided")           \
  X(MT_ENAMETOOLONG,    -ENAMETOOLONG,    "name too long")                       \
  X(MT_ENOSYS,          -ENOSYS,          "function not implemented")            \
  X(MT_EOVERFLOW,       -EOVERFLOW,       "value too large")                     \
  X(MT_EMSGSIZE,        -EMSGSIZE,        "message too long")                    \
  X(MT_EADDRINUSE,      -EADDRINUSE,      "address already in use")              \
  X(MT_ECONNRESET,      -ECONNRESET,      "connection reset by peer")            \
  X(MT_ENOTCONN,        -ENOTCONN,        "socket is not connected")             \
  X(MT_ECONNREFUSED,    -ECONNREFUSED,    "connection refused")                  \
  X(MT_ETIMEDOUT,       -ETIMEDOUT,       "timed out")                           \
  X(MT_ECANCELED,       -ECANCELED,       "operation canceled")                  \
  X(MT_EOWNERDEAD,      -EOWNERDEAD,      "previous owner died; lock acquired, state may be inconsistent") \
  X(MT_ENOTRECOVERABLE, -ENOTRECOVERABLE, "state not recoverable")               \
  /* libmt's own conditions */                                                   \
  X(MT_EFULL,           -4001,            "queue is full")                       \
  X(MT_EEMPTY,          -4002,            "queue is empty")                      \
  X(MT_ECLOSED,         -4003,            "closed")                              \
  X(MT_EBROKEN,         -4004,            "broken (barrier broken or worker died)") \
  X(MT_ERUNNING,        -4005,            "still running")                       \
  X(MT_EOVERRELEASE,    -4006,            "released more times than acquired") \
  X(MT_ELOST,           -4007,            "lost: the remote task or its result is gone (expired, or the broker lost it)")

#define MT__ERR_ENUM(name, value, msg) name = (value),
typedef enum mt_errno { MT_ERROR_MAP(MT__ERR_ENUM) MT__ERR_LAST = 0 } mt_errno_t;
#undef MT__ERR_ENUM

/* A static, human-readable message for any libmt code or -errno value.
 * Never NULL; "unknown error" for codes nobody defined. Thread-safe. */
const char *mt_strerror(int code);

/* The error of the calling thread's last libmt call that reports failure by
 * returning NULL (mt_queue_new, mt_pool_submit...); 0 if it succeeded. */
int mt_last_error(void);

/* The symbolic name ("MT_ETIMEDOUT", "EPIPE"...) of a code; "UNKNOWN" if none. */
const char *mt_err_name(int code);

#ifdef __cplusplus
}
#endif
#endif
