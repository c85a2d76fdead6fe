/* arm64 runtime assembly: the machine-call exit, ftrace_caller, return_to_handler and a
 * test direct trampoline. Layouts from ftlab/trace.h. */
#include <ftlab/trace.h>

	.text
/* ftlab_mcall: an emulator exit; the instruction here never runs. */
	.globl ftlab_mcall
	.type ftlab_mcall, %function
	.p2align 3
ftlab_mcall:
	udf	#0
	ret
	.size ftlab_mcall, . - ftlab_mcall

/*
 * ftrace_caller: entered by `bl ftrace_caller` from func+4 after `mov x9, x30`, so
 * x9 = the parent's return address and x30 = func+8 (arch/arm64/kernel/entry-ftrace.S).
 * With CALL_OPS the ops come from the literal 16 bytes below ALIGN_DOWN(x30, 8).
 */
	.globl ftrace_caller
	.type ftrace_caller, %function
	.p2align 3
ftrace_caller:
#ifdef FTLAB_CALL_OPS
	bic	x11, x30, #7
	ldr	x11, [x11, #-16]
	ldr	x17, [x11, #OPS_DIRECT_CALL]
	cbnz	x17, .Ldirect_fast
#endif
	sub	sp, sp, #(FREGS_SIZE + 32)
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	str	x29, [sp, #FREGS_FP]
	add	x10, sp, #(FREGS_SIZE + 32)
	str	x10, [sp, #FREGS_SP]
	str	x30, [sp, #FREGS_IP]
	str	x9, [sp, #FREGS_PARENT]
	str	xzr, [sp, #FREGS_DIRECT]
	add	x10, sp, #FREGS_PARENT
	str	x10, [sp, #FREGS_PARENT_SLOT]
	/* frame records for the parent and for the callsite */
	stp	x29, x9, [sp, #(FREGS_SIZE + 16)]
	add	x29, sp, #(FREGS_SIZE + 16)
	stp	x29, x30, [sp, #FREGS_SIZE]
	add	x29, sp, #FREGS_SIZE
	sub	x0, x30, #4		/* ip = rec->ip, the BL */
	mov	x1, x9
	mov	x3, sp
#ifdef FTLAB_CALL_OPS
	mov	x2, x11
	ldr	x16, [x11, #OPS_FUNC]
	blr	x16
#else
	adrp	x2, function_trace_op
	ldr	x2, [x2, :lo12:function_trace_op]
	.globl ftrace_call
ftrace_call:
	bl	ftrace_stub		/* rewritten by ftrace_update_ftrace_func() */
#endif
	ldp	x0, x1, [sp, #0]
	ldp	x2, x3, [sp, #16]
	ldp	x4, x5, [sp, #32]
	ldp	x6, x7, [sp, #48]
	ldr	x29, [sp, #FREGS_FP]
	ldr	x30, [sp, #FREGS_PARENT]
	ldr	x10, [sp, #FREGS_IP]
	ldr	x17, [sp, #FREGS_DIRECT]
	add	sp, sp, #(FREGS_SIZE + 32)
	cbnz	x17, .Ldirect_slow
	ret	x10
.Ldirect_slow:
	/* enter the direct trampoline as the callsite would: x9 = parent, x30 = func+8 */
	mov	x9, x30
	mov	x30, x10
.Ldirect_fast:
	br	x17
	.size ftrace_caller, . - ftrace_caller

	.globl return_to_handler
	.type return_to_handler, %function
	.p2align 3
return_to_handler:
	sub	sp, sp, #32
	stp	x0, x1, [sp]
	mov	x0, x29
	bl	ftrace_return_to_handler
	mov	x30, x0
	ldp	x0, x1, [sp]
	add	sp, sp, #32
	ret
	.size return_to_handler, . - return_to_handler

/* A direct-call trampoline for tests: count the call, return into the traced function. */
	.globl ftlab_direct_tramp
	.type ftlab_direct_tramp, %function
	.p2align 3
ftlab_direct_tramp:
	adrp	x10, ftlab_direct_calls
	add	x10, x10, :lo12:ftlab_direct_calls
1:	ldxr	x11, [x10]
	add	x11, x11, #1
	stxr	w12, x11, [x10]
	cbnz	w12, 1b
	mov	x10, x30
	mov	x30, x9
	ret	x10
	.size ftlab_direct_tramp, . - ftlab_direct_tramp

/* BPF exceptions: see x86_64.S. ftlab_bpf_boundary(prog, ctx, cb) saves x19-x28. */
	.globl ftlab_bpf_boundary
	.type ftlab_bpf_boundary, %function
	.p2align 3
ftlab_bpf_boundary:
	stp	x29, x30, [sp, #-112]!
	mov	x29, sp
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	str	x2, [sp, #96]
	mov	x16, x0
	mov	x0, x1
	blr	x16
	.globl ftlab_bpf_boundary_ret
ftlab_bpf_boundary_ret:
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	x29, x30, [sp], #112
	ret
	.size ftlab_bpf_boundary, . - ftlab_bpf_boundary

	.globl ftlab_bpf_unwind_to
	.type ftlab_bpf_unwind_to, %function
	.p2align 3
ftlab_bpf_unwind_to:
	mov	sp, x0
	mov	x29, x0
	ldr	x16, [sp, #96]
	mov	x0, x1
	blr	x16
	b	ftlab_bpf_boundary_ret
	.size ftlab_bpf_unwind_to, . - ftlab_bpf_unwind_to
