/* The user program's entry and its register-level probes.
 *
 * The kernel enters _start in ring 3 with RDI = role, RSI = pid and RSP
 * 16-byte aligned at the top of the stack (partitions/root/abi.h). */
#include "abi.h"

	.section .text.entry, "ax"
	.globl _start
	.type _start, @function
_start:
	xorl %ebp, %ebp
	call umain		/* umain(role, pid): RDI, RSI as the kernel set them */
	movl %eax, %edi
	movl $RK_SYS_EXIT, %eax
	syscall
	ud2			/* exit does not return */
	.size _start, . - _start

	.text
/* uint64_t u_regs_probe(const uint64_t in[12], uint64_t out[12]):
 * loads RBX, RBP, RDI, RSI, RDX, R8, R9, R10, R12-R15 from in[], makes a
 * getpid system call, stores the same registers to out[] and returns
 * RAX.  Only RAX, RCX and R11 may change across SYSCALL (abi.h); RSP
 * must come back too, or the POP of out[] goes wrong. */
	.globl u_regs_probe
	.type u_regs_probe, @function
u_regs_probe:
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushq %rsi
	movq %rdi, %rcx
	movq 0(%rcx), %rbx
	movq 8(%rcx), %rbp
	movq 16(%rcx), %rdi
	movq 24(%rcx), %rsi
	movq 32(%rcx), %rdx
	movq 40(%rcx), %r8
	movq 48(%rcx), %r9
	movq 56(%rcx), %r10
	movq 64(%rcx), %r12
	movq 72(%rcx), %r13
	movq 80(%rcx), %r14
	movq 88(%rcx), %r15
	movl $RK_SYS_GETPID, %eax
	syscall
	popq %rcx
	movq %rbx, 0(%rcx)
	movq %rbp, 8(%rcx)
	movq %rdi, 16(%rcx)
	movq %rsi, 24(%rcx)
	movq %rdx, 32(%rcx)
	movq %r8, 40(%rcx)
	movq %r9, 48(%rcx)
	movq %r10, 56(%rcx)
	movq %r12, 64(%rcx)
	movq %r13, 72(%rcx)
	movq %r14, 80(%rcx)
	movq %r15, 88(%rcx)
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	ret
	.size u_regs_probe, . - u_regs_probe

/* uint64_t u_flags_probe(uint64_t set): sets the RFLAGS bits in `set`
 * (POPF can set DF, AC and NT in ring 3), makes a getpid system call and
 * returns RFLAGS as SYSRET restored it from R11, then clears those bits
 * again.  With AC set and CR0.AM on, a misaligned access here would be
 * #AC: every access below is an aligned quadword on the stack. */
	.globl u_flags_probe
	.type u_flags_probe, @function
u_flags_probe:
	pushfq
	orq %rdi, (%rsp)
	popfq
	movl $RK_SYS_GETPID, %eax
	syscall
	pushfq
	popq %rax
	notq %rdi
	pushfq
	andq %rdi, (%rsp)
	popfq
	ret
	.size u_flags_probe, . - u_flags_probe

	.section .note.GNU-stack, "", @progbits
