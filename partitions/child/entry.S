/* The child kernels' entry (include/hv/childboot.h): 64-bit mode, CPL 0,
 * identity paging, the root's GDT and TSS, RSP = CHILD_STACK_TOP,
 * RDI = the boot page.  Everything is set up already; the entry only
 * makes sure the stack it was given is one C can run on before calling
 * child_main(boot, entry RSP, entry RFLAGS).  Another VP of the child
 * (childboot.h: started by the root at the same entry, its VP index read
 * from CPUID 1's initial APIC ID) calls child_ap_main(index) instead, which an
 * image may define; the default parks the VP. */
#include "child.h"

	.section .text.entry, "ax"
	.code64
	.globl child_entry
	.type child_entry, @function
child_entry:
	/* CPUID.01H:EBX[31:24], the initial APIC ID: the VP index (no MSR:
	 * the unenlightened kernel touches none). */
	movl $1, %eax
	cpuid
	shrl $24, %ebx
	movl %ebx, %eax
	testl %eax, %eax
	jnz child_ap_entry
	/* The stack check touches no memory: RSP must be 16-byte aligned
	 * (SysV ABI, at the call below) and leave CHILD_ASM_STACK_MIN bytes
	 * above the bottom of the stack area, without passing its top. */
	movq %rsp, %rsi
	testq $15, %rsi
	jnz 1f
	cmpq $(CHILD_ASM_STACK_BOTTOM + CHILD_ASM_STACK_MIN), %rsi
	jb 1f
	cmpq $CHILD_ASM_STACK_TOP, %rsi
	ja 1f
	/* RFLAGS as the root left it (child_start checks IF = 0), before
	 * CLI makes sure of it. */
	pushfq
	popq %rdx
	cli
	cld			/* the SysV ABI requires DF = 0 at calls */
	xorl %ebp, %ebp		/* terminate frame-pointer walks */
	call child_main		/* RDI: the boot page, as the root passed it */
	jmp child_halt

	/* A stack that breaks the contract: report it from a stack of our own. */
1:	leaq child_fallback_stack + CHILD_ASM_FALLBACK_STACK(%rip), %rsp
	cld
	xorl %ebp, %ebp
	call child_bad_stack

	/* VP index in EAX; RSP = CHILD_AP_STACK_TOP(index), 16-byte aligned. */
child_ap_entry:
	testq $15, %rsp
	jnz child_halt
	cli
	cld
	xorl %ebp, %ebp
	movl %eax, %edi
	call child_ap_main
	jmp child_halt

	/* The default child_ap_main: the VP parks, halted with interrupts off. */
	.weak child_ap_main
	.type child_ap_main, @function
child_ap_main:
	jmp child_halt
	.size child_ap_main, . - child_ap_main

	.globl child_halt
child_halt:
	cli
	hlt
	jmp child_halt
	.size child_entry, . - child_entry

	.section .bss
	.balign 16
child_fallback_stack:
	.skip CHILD_ASM_FALLBACK_STACK

	.section .note.GNU-stack, "", @progbits
