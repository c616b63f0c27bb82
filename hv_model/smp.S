/* The application processors' way into the hypervisor (SDM Vol. 3 8.4
 * "Multiple-Processor (MP) Initialization", 9.9 "Mode Switching").
 *
 * hv_smp_start() copies this code to HV_AP_TRAMPOLINE (below 1 MiB) and
 * patches its data words; an AP's SIPI starts it in real mode at CS =
 * HV_AP_TRAMPOLINE >> 4, IP = 0.  It loads a GDT of its own, turns on
 * protected mode, PAE, IA32_EFER.LME and paging with the hypervisor's
 * page tables (CR3 from the data), enters 64-bit mode and calls
 * hv_ap_main(apic id) on the stack the data names for that APIC id.
 * Every address below is the trampoline's own, relative to its start,
 * plus HV_AP_TRAMPOLINE (defined in hv.h: 0x8000). */
#define TRAMP 0x8000
#define REL(x) ((x) - hv_ap_tramp_start + TRAMP)

	.section .rodata
	.globl hv_ap_tramp_start, hv_ap_tramp_end
	.globl hv_ap_tramp_cr3, hv_ap_tramp_stacks, hv_ap_tramp_entry
	.balign 16
hv_ap_tramp_start:
	.code16
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl REL(tramp_gdtr)
	movl %cr0, %eax
	orl $1, %eax			/* PE */
	movl %eax, %cr0
	ljmpl $0x08, $REL(pm32)

	.code32
pm32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax			/* PAE */
	movl %eax, %cr4
	movl REL(hv_ap_tramp_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* IA32_EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax		/* PG: IA-32e mode is active */
	movl %eax, %cr0
	ljmpl $0x18, $REL(lm64)

	.code64
lm64:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl $1, %eax
	cpuid
	shrl $24, %ebx			/* initial APIC id = LP index (bootinfo.h) */
	movl %ebx, %edi
	movq REL(hv_ap_tramp_stacks), %rsp
	movl %ebx, %eax
	shll $14, %eax			/* HV_AP_STACK = 16 KiB */
	addq %rax, %rsp
	movq REL(hv_ap_tramp_entry), %rax
	xorl %ebp, %ebp
	call *%rax
1:	cli
	hlt
	jmp 1b

	.balign 8
tramp_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff		/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff		/* 0x10: data */
	.quad 0x00af9a000000ffff		/* 0x18: 64-bit code */
tramp_gdtr:
	.word tramp_gdtr - tramp_gdt - 1
	.long REL(tramp_gdt)
	.balign 8
hv_ap_tramp_cr3:
	.quad 0				/* patched: the hypervisor's PML4 */
hv_ap_tramp_stacks:
	.quad 0				/* patched: stack top of APIC id 0 (ids step by 16 KiB) */
hv_ap_tramp_entry:
	.quad 0				/* patched: hv_ap_main */
hv_ap_tramp_end:
	.section .note.GNU-stack, "", @progbits
