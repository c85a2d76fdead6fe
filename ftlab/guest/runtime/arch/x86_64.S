/* x86_64 runtime assembly: the machine-call exit, ftrace_caller, return_to_handler and a
 * test direct trampoline. Layouts from ftlab/trace.h. */
#include <ftlab/trace.h>

	.text
/* ftlab_mcall: the machine registers this address as an emulator exit, so the
 * instruction here never runs; reaching it would mean the exit was lost. */
	.globl ftlab_mcall
	.type ftlab_mcall, @function
	.p2align 4
ftlab_mcall:
	ud2
	ret
	.size ftlab_mcall, . - ftlab_mcall

/*
 * ftrace_caller: entered by `call ftrace_caller` from a function's 5-byte site, so
 * [rsp] = func+5 and [rsp+8] = the parent's return address (arch/x86/kernel/ftrace_64.S).
 * Two frame records, for the parent and for the traced function, keep frame-pointer
 * unwinding through the callback complete.
 */
	.globl ftrace_caller
	.type ftrace_caller, @function
	.p2align 4
ftrace_caller:
	pushq	8(%rsp)			/* parent return address */
	pushq	%rbp
	movq	%rsp, %rbp		/* record: caller's rbp, parent */
	pushq	16(%rsp)		/* func+5 */
	pushq	%rbp
	movq	%rsp, %rbp		/* record: the one above, func+5 */
	subq	$FREGS_SIZE, %rsp
	movq	%rdi, FREGS_ARGS+0(%rsp)
	movq	%rsi, FREGS_ARGS+8(%rsp)
	movq	%rdx, FREGS_ARGS+16(%rsp)
	movq	%rcx, FREGS_ARGS+24(%rsp)
	movq	%r8, FREGS_ARGS+32(%rsp)
	movq	%r9, FREGS_ARGS+40(%rsp)
	movq	%rax, FREGS_RET(%rsp)
	movq	16(%rbp), %rax
	movq	%rax, FREGS_FP(%rsp)
	leaq	40(%rbp), %rax
	movq	%rax, FREGS_SP(%rsp)
	movq	%rax, FREGS_PARENT_SLOT(%rsp)
	movq	32(%rbp), %rdi
	movq	%rdi, FREGS_IP(%rsp)
	movq	40(%rbp), %rsi
	movq	%rsi, FREGS_PARENT(%rsp)
	movq	$0, FREGS_DIRECT(%rsp)
	subq	$5, %rdi		/* ip = rec->ip, the call site */
	movq	function_trace_op(%rip), %rdx
	movq	%rsp, %rcx
	.globl ftrace_call
ftrace_call:
	call	ftrace_stub		/* rewritten by ftrace_update_ftrace_func() */
	movq	FREGS_DIRECT(%rsp), %r11
	movq	FREGS_ARGS+0(%rsp), %rdi
	movq	FREGS_ARGS+8(%rsp), %rsi
	movq	FREGS_ARGS+16(%rsp), %rdx
	movq	FREGS_ARGS+24(%rsp), %rcx
	movq	FREGS_ARGS+32(%rsp), %r8
	movq	FREGS_ARGS+40(%rsp), %r9
	movq	FREGS_RET(%rsp), %rax
	movq	%rbp, %rsp
	popq	%rbp
	addq	$8, %rsp
	popq	%rbp
	addq	$8, %rsp
	testq	%r11, %r11
	jnz	1f
	ret
1:	jmp	*%r11			/* a direct trampoline, entered as if called from the site */
	.size ftrace_caller, . - ftrace_caller

/* The traced function returns here when function_graph replaced its return address. */
	.globl return_to_handler
	.type return_to_handler, @function
	.p2align 4
return_to_handler:
	subq	$16, %rsp
	movq	%rax, 0(%rsp)
	movq	%rdx, 8(%rsp)
	movq	%rbp, %rdi
	call	ftrace_return_to_handler
	movq	%rax, %rdi
	movq	0(%rsp), %rax
	movq	8(%rsp), %rdx
	addq	$16, %rsp
	jmp	*%rdi
	.size return_to_handler, . - return_to_handler

/* A direct-call trampoline for tests: count the call, return into the traced function. */
	.globl ftlab_direct_tramp
	.type ftlab_direct_tramp, @function
	.p2align 4
ftlab_direct_tramp:
	lock incq ftlab_direct_calls(%rip)
	ret
	.size ftlab_direct_tramp, . - ftlab_direct_tramp

/*
 * BPF exceptions (kernel: arch_bpf_stack_walk, the boundary program's prologue, the
 * exception callback). The trampoline calls an exception-boundary program through this
 * thunk, which saves every callee-saved register; bpf_throw() finds the thunk's frame by
 * walking frame records and resumes here with the callback's result.
 *   ftlab_bpf_boundary(prog, ctx, cb)
 */
	.globl ftlab_bpf_boundary
	.type ftlab_bpf_boundary, @function
	.p2align 4
ftlab_bpf_boundary:
	pushq	%rbp
	movq	%rsp, %rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	pushq	%rdx			/* the exception callback, at rbp - 48 */
	movq	%rdi, %rax
	movq	%rsi, %rdi
	call	*%rax
	.globl ftlab_bpf_boundary_ret
ftlab_bpf_boundary_ret:
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size ftlab_bpf_boundary, . - ftlab_bpf_boundary

/* ftlab_bpf_unwind_to(boundary_fp, cookie): run the callback on the boundary's frame */
	.globl ftlab_bpf_unwind_to
	.type ftlab_bpf_unwind_to, @function
	.p2align 4
ftlab_bpf_unwind_to:
	movq	%rdi, %rbp
	leaq	-48(%rbp), %rsp
	movq	%rsi, %rdi
	call	*-48(%rbp)
	jmp	ftlab_bpf_boundary_ret
	.size ftlab_bpf_unwind_to, . - ftlab_bpf_unwind_to
