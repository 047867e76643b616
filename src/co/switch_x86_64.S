/* switch_x86_64.S — the coroutine context switch for x86_64 (System V ABI).
 *
 *   void mt__ctx_switch(void **save_sp, void *load_sp);
 *
 * Pushes the callee-saved registers (rbp, rbx, r12-r15) and the two FPU
 * control words (MXCSR, x87 CW) on the current stack, stores the stack
 * pointer in *save_sp, switches to load_sp and pops the same frame from
 * there. Everything else is caller-saved, so nothing more is needed.
 *
 *   void mt__ctx_start(void);
 *
 * The return address of a new coroutine's first frame: calls
 * mt__co_entry(r12), which never returns.
 */
        .text
        .globl  mt__ctx_switch
        .hidden mt__ctx_switch
        .type   mt__ctx_switch, @function
mt__ctx_switch:
        .cfi_startproc
        pushq   %rbp
        pushq   %rbx
        pushq   %r12
        pushq   %r13
        pushq   %r14
        pushq   %r15
        subq    $8, %rsp
        stmxcsr (%rsp)
        fnstcw  4(%rsp)
        movq    %rsp, (%rdi)
        movq    %rsi, %rsp
        ldmxcsr (%rsp)
        fldcw   4(%rsp)
        addq    $8, %rsp
        popq    %r15
        popq    %r14
        popq    %r13
        popq    %r12
        popq    %rbx
        popq    %rbp
        ret
        .cfi_endproc
        .size   mt__ctx_switch, .-mt__ctx_switch

        .globl  mt__ctx_start
        .hidden mt__ctx_start
        .type   mt__ctx_start, @function
mt__ctx_start:
        .cfi_startproc
        .cfi_undefined rip
        movq    %r12, %rdi
        call    mt__co_entry
        ud2
        .cfi_endproc
        .size   mt__ctx_start, .-mt__ctx_start

        .section .note.GNU-stack,"",@progbits
