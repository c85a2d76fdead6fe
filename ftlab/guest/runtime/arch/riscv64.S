/* riscv64 runtime assembly: the machine-call exit, ftrace_caller, return_to_handler and a
 * test direct trampoline. Layouts from ftlab/trace.h. */
#include <ftlab/trace.h>

#ifndef FTLAB_MCOUNT_ADJ
#define FTLAB_MCOUNT_ADJ 4
#endif

	.text
	.option norelax
	.option norvc
/* Page-aligned, the gap before it zero-filled (c.unimp): the runtime's code starts at a
 * fixed boundary whatever the size of the C before it, and a jalr that mixes one target's
 * auipc with another's low bits (the explorer's v6.8 retarget race) lands on an illegal
 * instruction rather than in whatever code happens to precede ftrace_caller. */
	.p2align 12, 0
/* ftlab_mcall: an emulator exit; the instruction here never runs. */
	.globl ftlab_mcall
	.type ftlab_mcall, @function
	.p2align 3
ftlab_mcall:
	unimp
	ret
	.size ftlab_mcall, . - ftlab_mcall

/*
 * ftrace_caller: entered by `jalr t0` from a function's entry, so t0 = the address after
 * the jalr and ra = the parent's return address (arch/riscv/kernel/mcount-dyn.S, v6.16).
 * With CALL_OPS the ops come from the literal at t0 - 16.
 */
	.globl ftrace_caller
	.type ftrace_caller, @function
	.p2align 3
ftrace_caller:
#ifdef FTLAB_CALL_OPS
	ld	t1, -16(t0)
	ld	t1, OPS_DIRECT_CALL(t1)
	bnez	t1, .Ldirect
#endif
	addi	sp, sp, -(FREGS_SIZE + 32)
	/* frame records for the parent and for the callsite */
	sd	ra, FREGS_SIZE+24(sp)
	sd	s0, FREGS_SIZE+16(sp)
	sd	t0, FREGS_SIZE+8(sp)
	addi	t1, sp, FREGS_SIZE+32
	sd	t1, FREGS_SIZE(sp)
	sd	a0, FREGS_ARGS+0(sp)
	sd	a1, FREGS_ARGS+8(sp)
	sd	a2, FREGS_ARGS+16(sp)
	sd	a3, FREGS_ARGS+24(sp)
	sd	a4, FREGS_ARGS+32(sp)
	sd	a5, FREGS_ARGS+40(sp)
	sd	a6, FREGS_ARGS+48(sp)
	sd	a7, FREGS_ARGS+56(sp)
	sd	s0, FREGS_FP(sp)
	sd	t1, FREGS_SP(sp)
	sd	t0, FREGS_IP(sp)
	sd	ra, FREGS_PARENT(sp)
	/* the kernel tests the saved t1 afterwards; ftlab starts it at zero */
	sd	zero, FREGS_DIRECT(sp)
	addi	t2, sp, FREGS_PARENT
	sd	t2, FREGS_PARENT_SLOT(sp)
	addi	s0, sp, FREGS_SIZE+16
	addi	a0, t0, -FTLAB_MCOUNT_ADJ	/* ip = rec->ip */
	mv	a1, ra
	mv	a3, sp
#ifdef FTLAB_CALL_OPS
	ld	a2, -16(t0)
	ld	t1, OPS_FUNC(a2)
#else
	lla	a2, function_trace_op
	ld	a2, 0(a2)
	lla	t1, ftrace_call_dest
	ld	t1, 0(t1)
#endif
	jalr	t1
	ld	a0, FREGS_ARGS+0(sp)
	ld	a1, FREGS_ARGS+8(sp)
	ld	a2, FREGS_ARGS+16(sp)
	ld	a3, FREGS_ARGS+24(sp)
	ld	a4, FREGS_ARGS+32(sp)
	ld	a5, FREGS_ARGS+40(sp)
	ld	a6, FREGS_ARGS+48(sp)
	ld	a7, FREGS_ARGS+56(sp)
	ld	ra, FREGS_PARENT(sp)
	ld	t0, FREGS_IP(sp)
	ld	t1, FREGS_DIRECT(sp)
	ld	s0, FREGS_FP(sp)
	addi	sp, sp, FREGS_SIZE+32
	bnez	t1, .Ldirect
	jr	t0
.Ldirect:
	jr	t1			/* a direct trampoline: t0 = return into func, ra = parent */
	.size ftrace_caller, . - ftrace_caller

/* A direct-call trampoline for tests, close to ftrace_caller so the site's AUIPC reaches it
 * (the kernel's |target - ftrace_caller| <= JALR_RANGE fast path). */
	.globl ftlab_direct_tramp
	.type ftlab_direct_tramp, @function
	.p2align 3
ftlab_direct_tramp:
	lla	t1, ftlab_direct_calls
	li	t2, 1
	amoadd.d zero, t2, (t1)
	jr	t0
	.size ftlab_direct_tramp, . - ftlab_direct_tramp

	.globl return_to_handler
	.type return_to_handler, @function
	.p2align 3
return_to_handler:
	addi	sp, sp, -32
	sd	a0, 0(sp)
	sd	a1, 8(sp)
	sd	ra, 16(sp)
	mv	a0, s0
	call	ftrace_return_to_handler
	mv	ra, a0
	ld	a0, 0(sp)
	ld	a1, 8(sp)
	addi	sp, sp, 32
	jr	ra
	.size return_to_handler, . - return_to_handler

/* BPF exceptions: see x86_64.S. ftlab_bpf_boundary(prog, ctx, cb) saves s1-s11. */
	.globl ftlab_bpf_boundary
	.type ftlab_bpf_boundary, @function
	.p2align 3
ftlab_bpf_boundary:
	addi	sp, sp, -112
	sd	ra, 104(sp)
	sd	s0, 96(sp)
	addi	s0, sp, 112
	sd	s1, 8(sp)
	sd	s2, 16(sp)
	sd	s3, 24(sp)
	sd	s4, 32(sp)
	sd	s5, 40(sp)
	sd	s6, 48(sp)
	sd	s7, 56(sp)
	sd	s8, 64(sp)
	sd	s9, 72(sp)
	sd	s10, 80(sp)
	sd	s11, 88(sp)
	sd	a2, 0(sp)
	mv	t1, a0
	mv	a0, a1
	jalr	t1
	.globl ftlab_bpf_boundary_ret
ftlab_bpf_boundary_ret:
	ld	s1, 8(sp)
	ld	s2, 16(sp)
	ld	s3, 24(sp)
	ld	s4, 32(sp)
	ld	s5, 40(sp)
	ld	s6, 48(sp)
	ld	s7, 56(sp)
	ld	s8, 64(sp)
	ld	s9, 72(sp)
	ld	s10, 80(sp)
	ld	s11, 88(sp)
	ld	ra, 104(sp)
	ld	s0, 96(sp)
	addi	sp, sp, 112
	ret
	.size ftlab_bpf_boundary, . - ftlab_bpf_boundary

	.globl ftlab_bpf_unwind_to
	.type ftlab_bpf_unwind_to, @function
	.p2align 3
ftlab_bpf_unwind_to:
	addi	sp, a0, -112
	mv	s0, a0
	ld	t1, 0(sp)
	mv	a0, a1
	jalr	t1
	j	ftlab_bpf_boundary_ret
	.size ftlab_bpf_unwind_to, . - ftlab_bpf_unwind_to
