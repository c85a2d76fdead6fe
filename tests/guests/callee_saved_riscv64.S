/* check_callee_saved(fn, arg): see callee_saved_x86_64.S; s1-s11 */
	.text
	.globl check_callee_saved
	.type check_callee_saved, @function
check_callee_saved:
	addi	sp, sp, -112
	sd	ra, 104(sp)
	sd	s0, 96(sp)
	addi	s0, sp, 112
	sd	s1, 0(sp)
	sd	s2, 8(sp)
	sd	s3, 16(sp)
	sd	s4, 24(sp)
	sd	s5, 32(sp)
	sd	s6, 40(sp)
	sd	s7, 48(sp)
	sd	s8, 56(sp)
	sd	s9, 64(sp)
	sd	s10, 72(sp)
	sd	s11, 80(sp)
	mv	t1, a0
	mv	a0, a1
	li	s1, 0x1111111111111111
	li	s2, 0x2222222222222222
	li	s3, 0x3333333333333333
	li	s4, 0x4444444444444444
	li	s5, 0x5555555555555555
	li	s6, 0x6666666666666666
	li	s7, 0x7777777777777777
	li	s8, 0x8888888888888888
	li	s9, 0x9999999999999999
	li	s10, 0x1111111111111111
	li	s11, 0x2222222222222222
	jalr	t1
	li	a0, 0
	li	t2, 0x1111111111111111
	beq	s1, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x2222222222222222
	beq	s2, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x3333333333333333
	beq	s3, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x4444444444444444
	beq	s4, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x5555555555555555
	beq	s5, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x6666666666666666
	beq	s6, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x7777777777777777
	beq	s7, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x8888888888888888
	beq	s8, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x9999999999999999
	beq	s9, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x1111111111111111
	beq	s10, t2, 1f
	addi	a0, a0, 1
1:
	li	t2, 0x2222222222222222
	beq	s11, t2, 1f
	addi	a0, a0, 1
1:
	ld	s1, 0(sp)
	ld	s2, 8(sp)
	ld	s3, 16(sp)
	ld	s4, 24(sp)
	ld	s5, 32(sp)
	ld	s6, 40(sp)
	ld	s7, 48(sp)
	ld	s8, 56(sp)
	ld	s9, 64(sp)
	ld	s10, 72(sp)
	ld	s11, 80(sp)
	ld	ra, 104(sp)
	ld	s0, 96(sp)
	addi	sp, sp, 112
	ret
	.size check_callee_saved, . - check_callee_saved
