/* check_callee_saved(fn, arg): see callee_saved_x86_64.S; x19-x28 */
	.text
	.globl check_callee_saved
	.type check_callee_saved, %function
check_callee_saved:
	stp	x29, x30, [sp, #-96]!
	mov	x29, sp
	stp	x19, x20, [sp, #16]
	stp	x21, x22, [sp, #32]
	stp	x23, x24, [sp, #48]
	stp	x25, x26, [sp, #64]
	stp	x27, x28, [sp, #80]
	mov	x16, x0
	mov	x0, x1
	ldr	x19, =0x1111111111111111
	ldr	x20, =0x2222222222222222
	ldr	x21, =0x3333333333333333
	ldr	x22, =0x4444444444444444
	ldr	x23, =0x5555555555555555
	ldr	x24, =0x6666666666666666
	ldr	x25, =0x7777777777777777
	ldr	x26, =0x8888888888888888
	ldr	x27, =0x9999999999999999
	ldr	x28, =0x1111111111111111
	blr	x16
	mov	x0, #0
	ldr	x9, =0x1111111111111111
	cmp	x19, x9
	cinc	x0, x0, ne
	ldr	x9, =0x2222222222222222
	cmp	x20, x9
	cinc	x0, x0, ne
	ldr	x9, =0x3333333333333333
	cmp	x21, x9
	cinc	x0, x0, ne
	ldr	x9, =0x4444444444444444
	cmp	x22, x9
	cinc	x0, x0, ne
	ldr	x9, =0x5555555555555555
	cmp	x23, x9
	cinc	x0, x0, ne
	ldr	x9, =0x6666666666666666
	cmp	x24, x9
	cinc	x0, x0, ne
	ldr	x9, =0x7777777777777777
	cmp	x25, x9
	cinc	x0, x0, ne
	ldr	x9, =0x8888888888888888
	cmp	x26, x9
	cinc	x0, x0, ne
	ldr	x9, =0x9999999999999999
	cmp	x27, x9
	cinc	x0, x0, ne
	ldr	x9, =0x1111111111111111
	cmp	x28, x9
	cinc	x0, x0, ne
	ldp	x19, x20, [sp, #16]
	ldp	x21, x22, [sp, #32]
	ldp	x23, x24, [sp, #48]
	ldp	x25, x26, [sp, #64]
	ldp	x27, x28, [sp, #80]
	ldp	x29, x30, [sp], #96
	ret
	.ltorg
	.size check_callee_saved, . - check_callee_saved
