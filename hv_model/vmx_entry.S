/* int hv_vmx_run(struct hv_gprs *g, int launched) (hv.h): VM entry with
 * the guest's general registers and CR2 loaded from *g, and the VM exit
 * that comes back here with them saved into *g (SDM Vol. 3C 27, 28.5:
 * the exit loads RSP and RIP from the host-state area, nothing else of
 * the general registers).  Offsets follow struct hv_gprs. */
	.text
	.code64
	.globl hv_vmx_run
	.type hv_vmx_run, @function
hv_vmx_run:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rdi			/* g, found at HOST_RSP after the exit */
	mov $0x6c14, %eax		/* VMCS_HOST_RSP */
	vmwrite %rsp, %rax
	lea hv_vmx_exit(%rip), %rax
	mov $0x6c16, %edx		/* VMCS_HOST_RIP */
	vmwrite %rax, %rdx
	mov 120(%rdi), %rax
	mov %rax, %cr2
	test %esi, %esi			/* MOVs below keep the flags */
	mov 0(%rdi), %rax
	mov 8(%rdi), %rcx
	mov 16(%rdi), %rdx
	mov 24(%rdi), %rbx
	mov 32(%rdi), %rbp
	mov 40(%rdi), %rsi
	mov 56(%rdi), %r8
	mov 64(%rdi), %r9
	mov 72(%rdi), %r10
	mov 80(%rdi), %r11
	mov 88(%rdi), %r12
	mov 96(%rdi), %r13
	mov 104(%rdi), %r14
	mov 112(%rdi), %r15
	mov 48(%rdi), %rdi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
	/* The entry instruction failed: CF = VMfailInvalid, ZF = VMfailValid. */
2:	mov $1, %eax
	jc 3f
	mov $2, %eax
3:	add $8, %rsp
	jmp 4f

hv_vmx_exit:
	push %rdi
	mov 8(%rsp), %rdi
	mov %rax, 0(%rdi)
	mov %rcx, 8(%rdi)
	mov %rdx, 16(%rdi)
	mov %rbx, 24(%rdi)
	mov %rbp, 32(%rdi)
	mov %rsi, 40(%rdi)
	mov %r8, 56(%rdi)
	mov %r9, 64(%rdi)
	mov %r10, 72(%rdi)
	mov %r11, 80(%rdi)
	mov %r12, 88(%rdi)
	mov %r13, 96(%rdi)
	mov %r14, 104(%rdi)
	mov %r15, 112(%rdi)
	pop %rax
	mov %rax, 48(%rdi)
	mov %cr2, %rax
	mov %rax, 120(%rdi)
	add $8, %rsp
	xor %eax, %eax
4:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.size hv_vmx_run, . - hv_vmx_run

	.section .note.GNU-stack, "", @progbits
