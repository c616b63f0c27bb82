/* Entry and exception paths of the hypervisor test kernels (hvt.h).
 *
 * Entry: the `hvsim run` handoff that hv_model gives the root partition
 * (docs/boot.md): 64-bit mode, interrupts off, RDI = struct hv_bootinfo.
 * The handoff's stack is in the boot area, so the first thing is a stack
 * of our own. */
	.section .text.entry, "ax"
	.code64
	.globl hvt_entry
	.type hvt_entry, @function
hvt_entry:
	cli
	cld				/* the SysV ABI wants DF = 0 at calls */
	leaq hvt_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	call hvt_start			/* RDI: the boot information */
1:	cli
	hlt
	jmp 1b
	.size hvt_entry, . - hvt_entry

	.text
/* Exception stubs: one per vector 0-31.  Where the CPU pushes no error
 * code (SDM Vol. 3A table 6-1) the stub pushes 0, then the vector, so the
 * dispatcher sees one frame layout (struct hvt_frame in hvt.c). */
	.macro EXC_STUB vec, has_error
	.balign 16
hvt_exc_\vec:
	.if \has_error == 0
	pushq $0
	.endif
	pushq $\vec
	jmp hvt_exc_common
	.endm

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

	/* Ring 0 only: the CPU pushed SS, RSP, RFLAGS, CS, RIP on the
	 * current stack (SDM Vol. 3A 6.14.2), aligned to 16 bytes; with the
	 * stub's two words and 15 registers the call into C is aligned. */
	.type hvt_exc_common, @function
hvt_exc_common:
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
	cld
	movq %rsp, %rdi
	call hvt_trap
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
	addq $16, %rsp			/* vector, error code */
	iretq
	.size hvt_exc_common, . - hvt_exc_common

	.section .rodata
	.balign 8
	.globl hvt_exc_stubs
hvt_exc_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad hvt_exc_\vec
	.endr

	.section .bss
	.balign 4096
hvt_stack:
	.skip 0x10000
hvt_stack_top:

	.section .note.GNU-stack, "", @progbits
