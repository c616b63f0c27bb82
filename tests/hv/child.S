/* Programs the child partitions of hvcall_matrix run (child.h).  64-bit,
 * CPL 0, paging on; position-independent: the root copies each to
 * CHILD_CODE, and every data address is an absolute constant of child.h.
 * They live in .rodata: the root only copies them. */
#include "child.h"

	.section .rodata.child, "a"
	.code64

/* Spin until CHILD_SPIN cycles have passed (RDTSC), so that the root,
 * which waits in HLT, is halted by the time the program's end comes.
 * Clobbers RAX, RDX, RSI. */
	.macro SPIN
	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, %rsi
77:	rdtsc
	shlq $32, %rdx
	orq %rdx, %rax
	subq %rsi, %rax
	cmpq $CHILD_SPIN, %rax
	jb 77b
	.endm

/* A hypercall through the child's own page: RCX control, RDX input,
 * R8 output (TLFS "Hypercall Interface"); RAX is stored at `slot`. */
	.macro HCALL code, reps, slot
	movl $\code, %ecx
	.if \reps
	movabsq $(\reps << 32), %rax
	orq %rax, %rcx
	.endif
	movl $CHILD_IN, %edx
	movl $CHILD_OUT, %r8d
	movl $CHILD_HCPAGE, %eax
	call *%rax
	movq %rax, CHILD_SHARED + \slot
	.endm

/* child_sum: an enlightened child.  Computes 1 + ... + 1000, reads the
 * synthetic CPUID leaves, identifies itself, enables its hypercall page
 * and tries calls only the root may make (HvCallGetPartitionId needs
 * AccessPartitionId, CreatePartition and MapGpaPages CreatePartitions,
 * DepositMemory AccessMemoryPool, CreatePort and ConnectPort their own
 * privileges: none of which a child has, TLFS "Partition Privilege
 * Flags"), leaves everything in the shared area and
 * halts. */
	.globl child_sum_start, child_sum_end, child_sum_after_hlt
child_sum_start:
	SPIN
	xorl %eax, %eax
	movl $1000, %ecx
1:	addq %rcx, %rax
	decl %ecx
	jnz 1b
	movq %rax, CHILD_SHARED + SH_SUM

	movl $0x40000000, %eax
	xorl %ecx, %ecx
	cpuid
	movq %rax, CHILD_SHARED + SH_CPUID0_EAX
	movl $0x40000003, %eax
	xorl %ecx, %ecx
	cpuid
	movq %rax, CHILD_SHARED + SH_CPUID3_EAX
	movq %rbx, CHILD_SHARED + SH_CPUID3_EBX

	movl $0x40000000, %ecx		/* HV_X64_MSR_GUEST_OS_ID */
	movl $1, %eax
	movl $0x81000000, %edx
	wrmsr
	movl $0x40000001, %ecx		/* HV_X64_MSR_HYPERCALL: GPFN | enable */
	movl $(CHILD_HCPAGE | 1), %eax
	xorl %edx, %edx
	wrmsr
	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	movq %rax, CHILD_SHARED + SH_HC_MSR

	HCALL 0x46, 0, SH_RAX_GETID	/* HvCallGetPartitionId */
	HCALL 0x40, 0, SH_RAX_CREATE	/* HvCallCreatePartition */
	HCALL 0x48, 1, SH_RAX_DEPOSIT	/* HvCallDepositMemory */
	HCALL 0x4b, 1, SH_RAX_MAP	/* HvCallMapGpaPages */
	HCALL 0x95, 0, SH_RAX_CPORT	/* HvCallCreatePort */
	HCALL 0x96, 0, SH_RAX_CONNECT	/* HvCallConnectPort */
	HCALL 0x8000095, 1, SH_RAX_CPORT_REP	/* CreatePort, reserved bit 27, rep count 1 */

	movq $1, CHILD_SHARED + SH_DONE
	hlt
child_sum_after_hlt:
2:	hlt
	jmp 2b
child_sum_end:

/* child_wild: a store to a GPA outside the child's memory (an EPT
 * violation: the hypervisor stops the child). */
	.globl child_wild_start, child_wild_end, child_wild_store
child_wild_start:
	SPIN
	movq $1, CHILD_SHARED + SH_MARK
	movq $0x5741494c44, %rax
child_wild_store:
	movq %rax, CHILD_WILD
	movq $2, CHILD_SHARED + SH_MARK
3:	hlt
	jmp 3b
child_wild_end:

/* child_io: a port write and a port read nobody intercepts.  Port 0xF4
 * is the debug-exit device: if the write reached it, the run would end
 * with a failure status.  hv_model drops the write and answers the read
 * with all ones (intercept.c). */
	.globl child_io_start, child_io_end
child_io_start:
	SPIN
	movq $1, CHILD_SHARED + SH_MARK
	movl $0x77, %eax
	movl $0xf4, %edx
	outl %eax, %dx
	movq $0x1234567812345678, %rax
	inl %dx, %eax
	movq %rax, CHILD_SHARED + SH_IO_IN
	movq $2, CHILD_SHARED + SH_MARK
4:	hlt
	jmp 4b
child_io_end:

/* child_intercept: a byte OUT to port 0x3F8, which the root intercepts
 * for writes (the VP stops until the root completes it), then an IN from
 * the same port, which nobody intercepts for reads. */
	.globl child_intercept_start, child_intercept_end, child_intercept_out
child_intercept_start:
	SPIN
	movq $1, CHILD_SHARED + SH_MARK
	movl $0x3f8, %edx
	movl $0x41, %eax
child_intercept_out:
	outb %al, %dx
	movq $2, CHILD_SHARED + SH_MARK
	movq $0x1234567812345678, %rax
	inb %dx, %al
	movq %rax, CHILD_SHARED + SH_IO_IN
	movq $3, CHILD_SHARED + SH_MARK
5:	hlt
	jmp 5b
child_intercept_end:

	.section .note.GNU-stack, "", @progbits
