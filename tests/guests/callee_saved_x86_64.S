/* check_callee_saved(fn, arg): load known values into every callee-saved register, call
 * fn(arg), return how many of them changed. */
	.text
	.globl check_callee_saved
	.type check_callee_saved, @function
check_callee_saved:
	pushq	%rbp
	movq	%rsp, %rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$8, %rsp
	movq	%rdi, %rax
	movq	%rsi, %rdi
	movabsq	$0x1111111111111111, %rbx
	movabsq	$0x2222222222222222, %r12
	movabsq	$0x3333333333333333, %r13
	movabsq	$0x4444444444444444, %r14
	movabsq	$0x5555555555555555, %r15
	call	*%rax
	xorl	%ecx, %ecx
	movabsq	$0x1111111111111111, %rdx
	cmpq	%rdx, %rbx
	je	1f
	incq	%rcx
1:	movabsq	$0x2222222222222222, %rdx
	cmpq	%rdx, %r12
	je	2f
	incq	%rcx
2:	movabsq	$0x3333333333333333, %rdx
	cmpq	%rdx, %r13
	je	3f
	incq	%rcx
3:	movabsq	$0x4444444444444444, %rdx
	cmpq	%rdx, %r14
	je	4f
	incq	%rcx
4:	movabsq	$0x5555555555555555, %rdx
	cmpq	%rdx, %r15
	je	5f
	incq	%rcx
5:	movq	%rcx, %rax
	addq	$8, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	ret
	.size check_callee_saved, . - check_callee_saved
