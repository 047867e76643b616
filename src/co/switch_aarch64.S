/* switch_aarch64.S — the coroutine context switch for AArch64 (AAPCS64).
 *
 *   void mt__ctx_switch(void **save_sp, void *load_sp);
 *
 * Saves the callee-saved registers x19-x28, the frame pointer and link
 * register (x29, x30), the low halves of v8-v15 (d8-d15) and FPCR in a
 * 176-byte frame on the current stack, stores sp in *save_sp, switches to
 * load_sp, restores the same frame from there and returns through x30.
 *
 *   void mt__ctx_start(void);
 *
 * Where a new coroutine's first frame returns to: calls mt__co_entry(x19).
 */
        .text
        .globl  mt__ctx_switch
        .hidden mt__ctx_switch
        .type   mt__ctx_switch, %function
        .p2align 4
mt__ctx_switch:
        sub     sp, sp, #176
        stp     x19, x20, [sp, #0]
        stp     x21, x22, [sp, #16]
        stp     x23, x24, [sp, #32]
        stp     x25, x26, [sp, #48]
        stp     x27, x28, [sp, #64]
        stp     x29, x30, [sp, #80]
        stp     d8,  d9,  [sp, #96]
        stp     d10, d11, [sp, #112]
        stp     d12, d13, [sp, #128]
        stp     d14, d15, [sp, #144]
        mrs     x9, fpcr
        str     x9, [sp, #160]
        mov     x9, sp
        str     x9, [x0]
        mov     sp, x1
        ldr     x9, [sp, #160]
        msr     fpcr, x9
        ldp     d14, d15, [sp, #144]
        ldp     d12, d13, [sp, #128]
        ldp     d10, d11, [sp, #112]
        ldp     d8,  d9,  [sp, #96]
        ldp     x29, x30, [sp, #80]
        ldp     x27, x28, [sp, #64]
        ldp     x25, x26, [sp, #48]
        ldp     x23, x24, [sp, #32]
        ldp     x21, x22, [sp, #16]
        ldp     x19, x20, [sp, #0]
        add     sp, sp, #176
        ret
        .size   mt__ctx_switch, .-mt__ctx_switch

        .globl  mt__ctx_start
        .hidden mt__ctx_start
        .type   mt__ctx_start, %function
        .p2align 4
mt__ctx_start:
        mov     x0, x19
        bl      mt__co_entry
        brk     #0
        .size   mt__ctx_start, .-mt__ctx_start

        .section .note.GNU-stack,"",%progbits
