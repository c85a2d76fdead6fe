/* x86_32 runtime assembly: the machine-call exit, ftrace_caller, return_to_handler, a test
 * direct trampoline and the BPF exception boundary. Layouts from ftlab/trace.h; C functions
 * are called with regparm(3): argument words in eax, edx, ecx, then the stack; a 64-bit
 * argument that does not fit the registers left goes on the stack with every later one. */
#include <ftlab/trace.h>

	.text
/* ftlab_mcall: an emulator exit; the instruction here never runs. */
	.globl ftlab_mcall
	.type ftlab_mcall, @function
	.p2align 4
ftlab_mcall:
	ud2
	ret
	.size ftlab_mcall, . - ftlab_mcall

/*
 * ftrace_caller: entered by `call ftrace_caller` from a function's 5-byte site, so
 * [esp] = func+5 and [esp+4] = the parent's return address (arch/x86/kernel/ftrace_32.S).
 * Two frame records, for the parent and for the traced function, as on x86_64.
 * Frame (ebp = E): [E] = E+8, [E+4] = func+5 copy, [E+8] = caller's ebp, [E+12] = parent
 * copy, [E+16] = func+5, [E+20] = parent.
 */
	.globl ftrace_caller
	.type ftrace_caller, @function
	.p2align 4
ftrace_caller:
	pushl	4(%esp)			/* parent return address */
	pushl	%ebp
	movl	%esp, %ebp		/* record: caller's ebp, parent */
	pushl	8(%esp)			/* func+5 */
	pushl	%ebp
	movl	%esp, %ebp		/* record: the one above, func+5 */
	subl	$FREGS_SIZE, %esp
	movl	%eax, FREGS_ARGS+0(%esp)
	movl	$0, FREGS_ARGS+4(%esp)
	movl	%edx, FREGS_ARGS+8(%esp)
	movl	$0, FREGS_ARGS+12(%esp)
	movl	%ecx, FREGS_ARGS+16(%esp)
	movl	$0, FREGS_ARGS+20(%esp)
	movl	$0, FREGS_RET(%esp)
	movl	$0, FREGS_RET+4(%esp)
	movl	8(%ebp), %eax
	movl	%eax, FREGS_FP(%esp)
	movl	$0, FREGS_FP+4(%esp)
	leal	20(%ebp), %eax
	movl	%eax, FREGS_SP(%esp)
	movl	$0, FREGS_SP+4(%esp)
	movl	%eax, FREGS_PARENT_SLOT(%esp)
	movl	$0, FREGS_PARENT_SLOT+4(%esp)
	movl	16(%ebp), %eax
	movl	%eax, FREGS_IP(%esp)
	movl	$0, FREGS_IP+4(%esp)
	movl	20(%ebp), %edx
	movl	%edx, FREGS_PARENT(%esp)
	movl	$0, FREGS_PARENT+4(%esp)
	movl	$0, FREGS_DIRECT(%esp)
	movl	$0, FREGS_DIRECT+4(%esp)
	/* func(u64 ip, u64 parent_ip, op, fregs): ip in eax:edx, the rest on the stack */
	movl	%esp, %ecx
	pushl	%ecx			/* fregs */
	pushl	function_trace_op	/* op (the low word of its 8-byte slot) */
	pushl	$0			/* parent_ip, high word */
	pushl	%edx			/* parent_ip, low word */
	subl	$5, %eax		/* ip = rec->ip, the call site */
	xorl	%edx, %edx
	.globl ftrace_call
ftrace_call:
	call	ftrace_stub		/* rewritten by ftrace_update_ftrace_func() */
	addl	$16, %esp
	movl	FREGS_DIRECT(%esp), %eax
	movl	%eax, 12(%ebp)		/* the parent copy's slot: 0, or where to go */
	movl	FREGS_ARGS+0(%esp), %eax
	movl	FREGS_ARGS+8(%esp), %edx
	movl	FREGS_ARGS+16(%esp), %ecx
	movl	%ebp, %esp
	popl	%ebp
	addl	$4, %esp
	popl	%ebp
	cmpl	$0, (%esp)
	jne	1f
	addl	$4, %esp
1:	ret				/* into func+5, or a direct trampoline entered as if
					 * called from the site ([esp] = func+5) */
	.size ftrace_caller, . - ftrace_caller

/* The traced function returns here when function_graph replaced its return address. */
	.globl return_to_handler
	.type return_to_handler, @function
	.p2align 4
return_to_handler:
	pushl	%eax
	pushl	%edx			/* a 64-bit return value is edx:eax */
	movl	%ebp, %eax		/* fp, a u64: eax:edx */
	xorl	%edx, %edx
	call	ftrace_return_to_handler
	movl	%eax, %ecx
	popl	%edx
	popl	%eax
	jmp	*%ecx
	.size return_to_handler, . - return_to_handler

/* A direct-call trampoline for tests: count the call, return into the traced function. */
	.globl ftlab_direct_tramp
	.type ftlab_direct_tramp, @function
	.p2align 4
ftlab_direct_tramp:
	lock incl ftlab_direct_calls
	ret
	.size ftlab_direct_tramp, . - ftlab_direct_tramp

/*
 * BPF exceptions (kernel: arch_bpf_stack_walk): the trampoline calls an exception-boundary
 * program through this thunk, which saves every callee-saved register; bpf_throw() finds
 * the thunk's frame by walking frame records and resumes here with the callback's result.
 *   ftlab_bpf_boundary(prog, ctx, cb): eax, edx, ecx (regparm)
 */
	.globl ftlab_bpf_boundary
	.type ftlab_bpf_boundary, @function
	.p2align 4
ftlab_bpf_boundary:
	pushl	%ebp
	movl	%esp, %ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	pushl	%ecx			/* the exception callback, at ebp - 16 */
	movl	%eax, %ecx
	movl	%edx, %eax		/* prog(ctx): ctx in eax */
	call	*%ecx
	.globl ftlab_bpf_boundary_ret
ftlab_bpf_boundary_ret:
	addl	$4, %esp
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret
	.size ftlab_bpf_boundary, . - ftlab_bpf_boundary

/* ftlab_bpf_unwind_to(u64 boundary_fp, u64 cookie): boundary_fp in eax:edx, cookie on the
 * stack (one register left is not enough for it); run cb(cookie) on the boundary's frame */
	.globl ftlab_bpf_unwind_to
	.type ftlab_bpf_unwind_to, @function
	.p2align 4
ftlab_bpf_unwind_to:
	movl	4(%esp), %ecx		/* cookie, low word */
	movl	8(%esp), %edx		/* cookie, high word */
	movl	%eax, %ebp
	leal	-16(%ebp), %esp
	movl	%ecx, %eax		/* cb(u64 cookie): eax:edx */
	call	*-16(%ebp)
	jmp	ftlab_bpf_boundary_ret
	.size ftlab_bpf_unwind_to, . - ftlab_bpf_unwind_to
