/* ctx.h — switching between stacks. x86_64 and aarch64 use hand-written
 * assembly (switch_x86_64.S, switch_aarch64.S); other targets the portable
 * ucontext fallback (switch_ucontext.c). */
#ifndef MT_CO_CTX_H
#define MT_CO_CTX_H

#include <stddef.h>

#ifdef MT_CTX_ASM
typedef struct { void *sp; } mt__ctx_t;
void mt__ctx_switch(void **save_sp, void *load_sp);
static inline void mt__ctx_jump(mt__ctx_t *from, mt__ctx_t *to) { mt__ctx_switch(&from->sp, to->sp); }
#else
#include <ucontext.h>
typedef struct { ucontext_t uc; } mt__ctx_t;
static inline void mt__ctx_jump(mt__ctx_t *from, mt__ctx_t *to) { swapcontext(&from->uc, &to->uc); }
#endif

/* Prepares ctx to start mt__co_entry(co) on the given stack. */
void mt__ctx_make(mt__ctx_t *ctx, void *stack, size_t size, void *co);
/* Where a new context starts (never returns). */
void mt__co_entry(void *co);

#endif
