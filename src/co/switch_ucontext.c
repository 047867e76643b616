/* switch_ucontext.c — context creation: the first frame the hand-written
 * switch restores, for aarch64 (switch_aarch64.S) and x86_64
 * (switch_x86_64.S), or the portable ucontext fallback on other targets. */
#include <stdint.h>
#include <string.h>

#include "co/ctx.h"

#if defined(MT_CTX_ASM) && defined(__aarch64__)
void mt__ctx_start(void);

void mt__ctx_make(mt__ctx_t *ctx, void *stack, size_t size, void *co) {
  /* The 176-byte frame mt__ctx_switch restores: x19..x28, x29, x30, d8..d15,
   * FPCR. x19 carries co to mt__ctx_start, x30 "returns" there. */
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *f = (uint64_t *)(top - 176);
  memset(f, 0, 176);
  f[0] = (uint64_t)(uintptr_t)co;                 /* x19 */
  f[11] = (uint64_t)(uintptr_t)mt__ctx_start;     /* x30 */
  uint64_t fpcr;
  __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
  f[20] = fpcr;
  ctx->sp = f;
}
#elif defined(MT_CTX_ASM)
void mt__ctx_start(void);

void mt__ctx_make(mt__ctx_t *ctx, void *stack, size_t size, void *co) {
  /* The frame mt__ctx_switch pops: control words, r15..r12, rbx, rbp, then
   * the return address. With the frame's base 16-aligned, the stack is
   * 16-aligned again once `ret` has taken the return address, as the ABI
   * wants before mt__ctx_start's `call`. */
  uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
  uint64_t *f = (uint64_t *)(top - 64);
  uint32_t mxcsr;
  uint16_t fpucw;
  __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(fpucw));
  uint64_t words = (uint64_t)mxcsr | ((uint64_t)fpucw << 32);   /* as the switch stores them */
  memcpy(&f[0], &words, 8);
  f[1] = 0;                       /* r15 */
  f[2] = 0;                       /* r14 */
  f[3] = 0;                       /* r13 */
  f[4] = (uint64_t)(uintptr_t)co; /* r12: mt__ctx_start passes it on */
  f[5] = 0;                       /* rbx */
  f[6] = 0;                       /* rbp */
  f[7] = (uint64_t)(uintptr_t)mt__ctx_start;
  ctx->sp = f;
}
#else
static void start(unsigned hi, unsigned lo) {
  mt__co_entry((void *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}

void mt__ctx_make(mt__ctx_t *ctx, void *stack, size_t size, void *co) {
  getcontext(&ctx->uc);
  ctx->uc.uc_stack.ss_sp = stack;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = NULL;
  uintptr_t p = (uintptr_t)co;
  makecontext(&ctx->uc, (void (*)(void))start, 2, (unsigned)(p >> 32), (unsigned)(p & 0xffffffffu));
}
#endif
