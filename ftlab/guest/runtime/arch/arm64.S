/* ftlab_mcall: an emulator exit; the instruction here never runs. */
	.text
	.globl ftlab_mcall
	.type ftlab_mcall, %function
	.p2align 3
ftlab_mcall:
	udf	#0
	ret
	.size ftlab_mcall, . - ftlab_mcall
