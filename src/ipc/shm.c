/* shm.c — shared memory: anonymous (inherited by children) and named
 * (POSIX shm_open, for unrelated processes). */
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/internal.h"
#include "mt/ipc.h"

MT_API void *mt_shm_alloc(size_t size) {
  if (size == 0) return NULL;
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? NULL : p;
}

MT_API void mt_shm_free(void *p, size_t size) {
  if (p) munmap(p, size);
}

MT_API void *mt_shm_open(const char *name, size_t size, int flags) {
  if (!name || name[0] != '/' || size == 0 || (flags & ~(MT_SHM_CREATE | MT_SHM_EXCL))) {
    mt__set_last_error(MT_EINVAL);
    return NULL;
  }
  int of = O_RDWR | O_CLOEXEC;
  if (flags & MT_SHM_CREATE) of |= O_CREAT;
  if (flags & MT_SHM_EXCL) of |= O_EXCL;
  int fd = shm_open(name, of, 0600);
  if (fd < 0) {
    mt__set_last_error(-errno);
    return NULL;
  }
  struct stat st;
  int e = fstat(fd, &st) == 0 ? 0 : -errno;
  if (e == 0 && st.st_size == 0 && (flags & MT_SHM_CREATE) && ftruncate(fd, (off_t)size) != 0) e = -errno;
  else if (e == 0 && st.st_size != 0 && (size_t)st.st_size < size) e = MT_EINVAL;   /* smaller than asked */
  void *p = NULL;
  if (e == 0) {
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      p = NULL;
      e = -errno;
    }
  }
  close(fd);
  mt__set_last_error(e);
  return p;
}

MT_API int mt_shm_unlink(const char *name) {
  return shm_unlink(name) == 0 ? 0 : -errno;
}
