/* check_callee_saved(fn, u64 arg): load known values into every callee-saved register, call
 * fn(arg), return how many of them changed. regparm(3): fn in eax, arg in edx:ecx; fn takes
 * its u64 in eax:edx. */
	.text
	.globl check_callee_saved
	.type check_callee_saved, @function
check_callee_saved:
	pushl	%ebp
	movl	%esp, %ebp
	pushl	%ebx
	pushl	%esi
	pushl	%edi
	pushl	%eax			/* fn, at ebp - 16 */
	movl	%edx, %eax
	movl	%ecx, %edx		/* arg in eax:edx */
	movl	$0x11111111, %ebx
	movl	$0x22222222, %esi
	movl	$0x33333333, %edi
	call	*-16(%ebp)
	addl	$4, %esp
	xorl	%eax, %eax
	cmpl	$0x11111111, %ebx
	je	1f
	incl	%eax
1:	cmpl	$0x22222222, %esi
	je	2f
	incl	%eax
2:	cmpl	$0x33333333, %edi
	je	3f
	incl	%eax
3:	xorl	%edx, %edx
	popl	%edi
	popl	%esi
	popl	%ebx
	popl	%ebp
	ret
	.size check_callee_saved, . - check_callee_saved
