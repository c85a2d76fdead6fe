/* ftlab_mcall: the machine registers this address as an emulator exit, so the
 * instruction here never runs; reaching it would mean the exit was lost. */
	.text
	.globl ftlab_mcall
	.type ftlab_mcall, @function
	.p2align 4
ftlab_mcall:
	ud2
	ret
	.size ftlab_mcall, . - ftlab_mcall
