/* Exception stubs of the hypervisor's IDT (paging.c): each pushes a dummy
 * error code where the CPU pushes none (SDM Vol. 3A 6.13), then the
 * vector, and calls hv_fault() with the frame.  They run on IST1. */
	.text
	.code64

.macro STUB v
hv_fault_\v:
	.if (\v == 8) || (\v >= 10 && \v <= 14) || (\v == 17) || (\v == 21) || (\v == 29) || (\v == 30)
	.else
	pushq $0
	.endif
	pushq $\v
	jmp hv_fault_common
.endm

	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	STUB \v
	.endr

hv_fault_common:
	mov %rsp, %rdi
	and $-16, %rsp
	call hv_fault

/* HV_KICK_VECTOR (hv.h) taken in root operation, in hv_lp_idle's HLT or
 * pause loop: EOI to the local APIC and count it in the LP's struct
 * hv_lp (GS base, lp.c), which is all the waiting code needs. */
	.globl hv_kick_stub
hv_kick_stub:
	push %rax
	mov $0xfee000b0, %eax		/* LAPIC EOI */
	movl $0, (%rax)
	lock incq %gs:8			/* struct hv_lp irq_kicks */
	pop %rax
	iretq

/* The spurious vector needs no EOI (SDM 10.9). */
	.globl hv_spurious_stub
hv_spurious_stub:
	iretq

	.section .rodata
	.balign 8
	.globl hv_fault_stubs
hv_fault_stubs:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.quad hv_fault_\v
	.endr

	.section .note.GNU-stack, "", @progbits
