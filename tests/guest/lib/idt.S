/* 64-bit exception entry stubs for vectors 0-31.
 *
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some vectors, an error
 * code (SDM Vol. 3A 6.14.1-6.14.2, table 6-1).  Each stub pushes a 0 in
 * place of the error code where the CPU pushes none, then the vector, so
 * exc_common sees one layout (struct exc_regs in guest.h).  The CPU has
 * aligned RSP to 16 bytes before pushing (6.14.2): 7 + 15 quadwords keep
 * it aligned for the call into C. */

	.macro EXC_STUB vec, has_error
	.balign 16
exc_stub_\vec:
	.if \has_error == 0
	pushq $0
	.endif
	pushq $\vec
	jmp exc_common
	.endm

	.text
	.code64
	/* vectors with an error code: #DF 8, #TS 10, #NP 11, #SS 12, #GP 13,
	 * #PF 14, #AC 17, #CP 21, #VC 29, #SX 30 */
	EXC_STUB 0, 0
	EXC_STUB 1, 0
	EXC_STUB 2, 0
	EXC_STUB 3, 0
	EXC_STUB 4, 0
	EXC_STUB 5, 0
	EXC_STUB 6, 0
	EXC_STUB 7, 0
	EXC_STUB 8, 1
	EXC_STUB 9, 0
	EXC_STUB 10, 1
	EXC_STUB 11, 1
	EXC_STUB 12, 1
	EXC_STUB 13, 1
	EXC_STUB 14, 1
	EXC_STUB 15, 0
	EXC_STUB 16, 0
	EXC_STUB 17, 1
	EXC_STUB 18, 0
	EXC_STUB 19, 0
	EXC_STUB 20, 0
	EXC_STUB 21, 1
	EXC_STUB 22, 0
	EXC_STUB 23, 0
	EXC_STUB 24, 0
	EXC_STUB 25, 0
	EXC_STUB 26, 0
	EXC_STUB 27, 0
	EXC_STUB 28, 0
	EXC_STUB 29, 1
	EXC_STUB 30, 1
	EXC_STUB 31, 0

	.type exc_common, @function
exc_common:
	pushq %rax
	pushq %rcx
	pushq %rdx
	pushq %rbx
	pushq %rbp
	pushq %rsi
	pushq %rdi
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, %rdi
	cld
	call exc_dispatch
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rdi
	popq %rsi
	popq %rbp
	popq %rbx
	popq %rdx
	popq %rcx
	popq %rax
	addq $16, %rsp		/* vector and error code */
	iretq
	.size exc_common, . - exc_common

	/* Vectors 32-255: interrupts, never an error code.  One 16-byte
	 * stub each, so vector v's is at irq_stubs + 16 * (v - 32). */
	.balign 16
	.globl irq_stubs
irq_stubs:
	irqvec = 32
	.rept 224
	.balign 16
	pushq $0
	pushq $irqvec
	jmp exc_common
	irqvec = irqvec + 1
	.endr

	.section .rodata
	.balign 8
	.globl exc_stubs
exc_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad exc_stub_\vec
	.endr

	.section .note.GNU-stack, "", @progbits
