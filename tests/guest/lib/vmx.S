/* VM entry from C for the VMX guest tests: vmx_enter(resume) saves the
 * callee-saved registers, points HOST_RSP/HOST_RIP at itself and executes
 * VMLAUNCH (resume 0) or VMRESUME.  It returns 0 after a VM exit, 1 on
 * VMfailInvalid, 2 on VMfailValid (SDM Vol. 3C 31.2). */
	.text
	.code64
	.globl vmx_enter
vmx_enter:
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	mov $0x6c14, %eax		/* VMCS_HOST_RSP */
	vmwrite %rsp, %rax
	lea vmx_host_entry(%rip), %rdx
	mov $0x6c16, %eax		/* VMCS_HOST_RIP */
	vmwrite %rdx, %rax
	test %edi, %edi
	jnz 1f
	vmlaunch
	jmp 2f
1:	vmresume
2:	mov $1, %eax
	jc 3f
	mov $2, %eax
3:	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret

vmx_host_entry:
	xor %eax, %eax
	jmp 3b
