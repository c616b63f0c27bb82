/* Every path between the CPU and the root kernel's C code: boot entry,
 * exception entry (vectors 0-31), interrupt entry (32-255), SYSCALL entry, the two ways back to
 * ring 3 (SYSRET and IRETQ) and the kernel-stack switch.
 *
 * GS: in ring 0 GS.base is &rk_cpu0 (struct rk_percpu); in ring 3 it is
 * the user's (0), &rk_cpu0 waiting in IA32_KERNEL_GS_BASE.  Every entry
 * from ring 3 and every exit to it executes SWAPGS once (SDM Vol. 2B,
 * SWAPGS), so the two never trade places out of turn. */
#include "kernel.h"

/* ---- boot ----
 * `hvsim run` handoff (include/hv/bootinfo.h): 64-bit mode, identity
 * paging, interrupts off, RDI = struct hv_bootinfo.  The boot stack is in
 * the boot area, which the kernel gives back to its page allocator, so
 * the first thing is a stack of our own: kernel stack slot 0, which stays
 * the scheduler's stack. */
	.section .text.entry, "ax"
	.code64
	.globl rk_entry
	.type rk_entry, @function
rk_entry:
	cli
	cld			/* the SysV ABI requires DF = 0 at calls */
	leaq rk_kstacks + (RK_KSTACK_SCHED + 1) * RK_KSTACK_SLOT(%rip), %rsp
	xorl %ebp, %ebp		/* terminate frame-pointer walks */
	/* %rdi still holds the bootinfo pointer: rk_main's first argument */
	call rk_main
1:	cli
	hlt
	jmp 1b
	.size rk_entry, . - rk_entry

	.text

/* Push / pop the general registers in the order of struct rk_frame
 * (lowest address first: r15 ... rax). */
	.macro PUSH_GPRS
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
	.endm

	.macro POP_GPRS
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
	.endm

/* ---- exceptions ----
 * The CPU pushes SS, RSP, RFLAGS, CS, RIP and, for some vectors, an error
 * code, on TSS.RSP0 when it comes from ring 3, on the current stack from
 * ring 0, on IST1 for #DF (SDM Vol. 3A 6.14.2, 6.14.5).  Each stub pushes
 * a 0 where the CPU pushes no error code, then the vector, so rk_trap
 * sees one layout.  The stack is 16-byte aligned by the CPU before its
 * pushes; 7 + 15 quadwords keep it aligned for the call into C. */
	.macro EXC_STUB vec, has_error
	.balign 16
rk_exc_\vec:
	.if \has_error == 0
	pushq $0
	.endif
	pushq $\vec
	jmp rk_exc_common
	.endm

	/* Vectors with an error code (SDM Vol. 3A table 6-1): #DF 8, #TS 10,
	 * #NP 11, #SS 12, #GP 13, #PF 14, #AC 17, #CP 21, #VC 29, #SX 30. */
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

/* The common part of exception and interrupt entry: GS, the registers,
 * then handler(struct rk_frame *) and back through IRETQ. */
	.macro GATE_COMMON name, handler
	.type \name, @function
\name:
	/* [rsp] vector, [rsp+8] error code, [rsp+16] RIP, [rsp+24] CS */
	testb $3, 24(%rsp)
	jz 1f
	swapgs
1:	PUSH_GPRS
	/* An interrupt gate clears IF, TF, NT and RF but not DF or AC
	 * (SDM Vol. 3A 6.12.1.3): ring 3 may have left DF set. */
	cld
	movq %rsp, %rdi
	call \handler
	jmp rk_return_iret
	.size \name, . - \name
	.endm

	GATE_COMMON rk_exc_common, rk_trap

/* ---- interrupts ----
 * Vectors 32-255 (irq.c): one RK_IRQ_STUB_SIZE-byte stub each, in vector
 * order from rk_irq_stubs, pushing a 0 error code and the vector as the
 * exception stubs do, so rk_irq sees a struct rk_frame.  The interrupt
 * may come in ring 3 (processes run with IF set) or in ring 0 where the
 * kernel waits with IF set (rk_irq_wait, the VMMS's spin-wait call). */
	.balign RK_IRQ_STUB_SIZE
	.globl rk_irq_stubs
rk_irq_stubs:
	.set vec, RK_FIRST_IRQ_VECTOR
	.rept 256 - RK_FIRST_IRQ_VECTOR
	/* .org refuses to move backwards: a stub too big fails the build */
	.org rk_irq_stubs + (vec - RK_FIRST_IRQ_VECTOR) * RK_IRQ_STUB_SIZE, 0xcc
	pushq $0
	pushq $vec
	.byte 0xe9		/* jmp rel32, fixed size */
	.long rk_irq_common - . - 4
	.set vec, vec + 1
	.endr

	GATE_COMMON rk_irq_common, rk_irq

/* ---- back to ring 3 through IRETQ ----
 * RSP points at a struct rk_frame.  Also the first entry of every new
 * process: its kernel stack is prepared so that rk_switch "returns" here
 * with the initial user frame on top. */
	.globl rk_user_first_entry
	.type rk_user_first_entry, @function
rk_user_first_entry:
rk_return_iret:
	POP_GPRS
	addq $16, %rsp		/* vector, error code */
	testb $3, 8(%rsp)	/* the CS we return to */
	jz 1f
	swapgs
1:	iretq
	.size rk_user_first_entry, . - rk_user_first_entry

/* ---- SYSCALL ----
 * SYSCALL (SDM Vol. 2B) saved RIP in RCX and RFLAGS in R11, cleared the
 * RFLAGS bits IA32_FMASK names (IF, DF, TF, AC, NT), loaded CS/SS from
 * STAR[47:32] and left RSP alone: the user stack is not to be trusted,
 * so switch to the process's kernel stack before touching memory other
 * than GS-relative per-CPU data. */
	.globl rk_syscall_entry
	.type rk_syscall_entry, @function
rk_syscall_entry:
	swapgs
	movq %rsp, %gs:RK_PERCPU_USER_RSP
	movq %gs:RK_PERCPU_KERNEL_RSP, %rsp
	/* the frame an exception from ring 3 would have pushed */
	pushq $RK_USER_DS
	pushq %gs:RK_PERCPU_USER_RSP
	pushq %r11
	pushq $RK_USER_CS
	pushq %rcx
	pushq $0
	pushq $RK_FRAME_SYSCALL
	PUSH_GPRS
	movq %rsp, %rdi
	call rk_syscall

	/* SYSRET when it can return to the frame exactly: it loads RIP from
	 * RCX and RFLAGS from R11, and fixed ring-3 CS/SS from STAR[63:48]
	 * (SDM Vol. 2B, SYSRET).  On Intel CPUs a non-canonical RCX raises
	 * #GP in ring 0 after the switch to the user stack, so a return
	 * address outside the user half takes the IRETQ path instead (which
	 * faults, if at all, in ring 3). */
	movq RK_FRAME_RIP(%rsp), %rcx
	movabsq $RK_USER_TOP, %rdx
	cmpq %rdx, %rcx
	jae rk_return_iret
	cmpq $RK_USER_CS, RK_FRAME_CS(%rsp)
	jne rk_return_iret
	POP_GPRS
	movq RK_FRAME_RIP - RK_FRAME_VECTOR(%rsp), %rcx
	movq RK_FRAME_RFLAGS - RK_FRAME_VECTOR(%rsp), %r11
	movq RK_FRAME_RSP - RK_FRAME_VECTOR(%rsp), %rsp
	/* From here to SYSRET we are in ring 0 on the user's stack with
	 * interrupts off (FMASK cleared IF): nothing may fault. */
	swapgs
	sysretq
	.size rk_syscall_entry, . - rk_syscall_entry

/* ---- SYSCALL probe ----
 * int rk_syscall_probe(void): executes SYSCALL in ring 0 with IA32_LSTAR
 * pointing at a landing pad, which returns through RCX and restores
 * RFLAGS from R11.  Returns 1 if SYSCALL transferred to LSTAR, 0 if
 * execution simply went on past it (a CPU model that does not implement
 * the transition).  SYSCALL is legal in ring 0; with CS = STAR[47:32]
 * already it changes no segment. */
	.globl rk_syscall_probe
	.type rk_syscall_probe, @function
rk_syscall_probe:
	movl $0xc0000082, %ecx		/* IA32_LSTAR */
	rdmsr
	movl %eax, %r8d
	movl %edx, %r9d
	leaq rk_syscall_probe_pad(%rip), %rax
	movq %rax, %rdx
	shrq $32, %rdx
	wrmsr
	xorl %esi, %esi
	syscall
	movl $0xc0000082, %ecx
	movl %r8d, %eax
	movl %r9d, %edx
	wrmsr
	movl %esi, %eax
	ret
rk_syscall_probe_pad:
	movl $1, %esi
	pushq %r11
	popfq
	jmpq *%rcx
	.size rk_syscall_probe, . - rk_syscall_probe

/* ---- kernel-stack switch ----
 * void rk_switch(uint64_t *save, uint64_t new_sp): pushes the
 * callee-saved registers (SysV ABI) on the current stack, stores RSP in
 * *save, loads new_sp and pops what the other side pushed.  RFLAGS need
 * no saving: the kernel always runs with IF = DF = 0. */
	.globl rk_switch
	.type rk_switch, @function
rk_switch:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret
	.size rk_switch, . - rk_switch

/* ---- data ---- */
	.section .rodata
	.balign 8
	.globl rk_exc_stubs
rk_exc_stubs:
	.irp vec, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad rk_exc_\vec
	.endr

	/* Kernel stacks (kernel.h RK_KSTACK_*): mm.c leaves the first page of
	 * every slot unmapped. */
	.section .kstacks, "aw", @nobits
	.balign 4096
	.globl rk_kstacks
rk_kstacks:
	.skip RK_KSTACK_SLOT * RK_KSTACK_SLOTS
	.size rk_kstacks, . - rk_kstacks

	.section .note.GNU-stack, "", @progbits
