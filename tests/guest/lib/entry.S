/* Multiboot v1 entry of the guest test kernels.
 *
 * The loader enters in 32-bit protected mode with paging off, EAX =
 * 0x2BADB002 and EBX = the information structure (multiboot 0.6.96,
 * section 3.2 "Machine state"); the GDTR it leaves may be invalid and ESP
 * is undefined.  This code takes its own stack, records the entry state
 * in boot32_state[] for the tests to check, loads its own GDT, optionally
 * raises one #DE through a 32-bit IDT, then switches to 64-bit mode the
 * way SDM Vol. 3A 10.8.5 "Initializing IA-32e Mode" describes: CR4.PAE,
 * CR3 = PML4, IA32_EFER.LME, CR0.PG, and a far jump to a 64-bit code
 * segment.  BSS is cleared here rather than trusted to the loader. */
#include "guest.h"

/* Numeric copies of constants whose C spellings (hv/multiboot.h,
 * fw_x86.h) carry integer suffixes the assembler does not accept. */
#define MB_HEADER_MAGIC 0x1badb002
#define MB_FLAGS 0x3			/* PAGE_ALIGN | MEMORY_INFO */
#define MSR_EFER 0xc0000080
#define EFER_LME 0x100
#define CR0_PE 0x1
#define CR0_WP 0x10000
#define CR0_PG 0x80000000
#define CR4_PAE 0x20
#define PTE_P 0x1
#define PTE_W 0x2
#define PTE_PS 0x80

	/* Multiboot header: first in the image (link.ld), 4-byte aligned,
	 * inside the first 8 KiB as the spec's section 3.1.1 requires. */
	.section .multiboot, "a"
	.balign 4
	.long MB_HEADER_MAGIC
	.long MB_FLAGS
	.long -(MB_HEADER_MAGIC + MB_FLAGS)

	.section .text.entry, "ax"
	.code32
	.globl multiboot_entry
	.type multiboot_entry, @function
multiboot_entry:
	movl $guest_stack_top, %esp
	pushfl			/* EFLAGS as the loader left them */
	popl %ebp
	cli
	cld
	movl %eax, %esi		/* keep EAX/EBX across the BSS clear */

	movl $__bss_start, %edi
	movl $__bss_end, %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl

	movl %esi, boot32_state + 4 * B32_EAX
	movl %ebx, boot32_state + 4 * B32_EBX
	movl %ebp, boot32_state + 4 * B32_EFLAGS
	movl %cr0, %eax
	movl %eax, boot32_state + 4 * B32_CR0
	movl %cr4, %eax
	movl %eax, boot32_state + 4 * B32_CR4
	movl $MSR_EFER, %ecx
	rdmsr
	movl %eax, boot32_state + 4 * B32_EFER_LO
	movl %edx, boot32_state + 4 * B32_EFER_HI
	xorl %eax, %eax
	movw %cs, %ax
	movl %eax, boot32_state + 4 * B32_CS

	lgdt guest_gdt_desc
	ljmp $GUEST_CS32, $1f
1:	movl $GUEST_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs

	cmpb $0, boot32_probe_exceptions
	je 2f
	call probe32_de
2:
	/* Identity map 0-4 GiB: one PML4 entry, four PDPT entries, 2048
	 * 2 MiB PDEs (P | RW | PS).  Each table is page aligned in BSS. */
	movl $guest_pd, %edi
	movl $(PTE_P | PTE_W | PTE_PS), %eax
	movl $2048, %ecx
3:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $0x200000, %eax
	addl $8, %edi
	decl %ecx
	jnz 3b

	movl $guest_pd + (PTE_P | PTE_W), %eax
	movl $guest_pdpt, %edi
	movl $4, %ecx
4:	movl %eax, (%edi)
	movl $0, 4(%edi)
	addl $4096, %eax
	addl $8, %edi
	decl %ecx
	jnz 4b

	movl $guest_pdpt + (PTE_P | PTE_W), %eax
	movl %eax, guest_pml4

	movl $guest_pml4, %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $MSR_EFER, %ecx
	rdmsr
	orl $EFER_LME, %eax
	wrmsr
	movl %cr0, %eax
	orl $(CR0_PG | CR0_WP | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $GUEST_CS64, $start64

	/* The 32-bit #DE probe: an interrupt gate (type 0xE, SDM Vol. 3A
	 * 6.11) to a 32-bit handler; a fault in the same privilege level
	 * pushes EFLAGS, CS, EIP and no error code (6.12.1, 6.15). */
probe32_de:
	movl $de32_handler, %eax
	movw %ax, guest_idt32
	movw $GUEST_CS32, guest_idt32 + 2
	movw $0x8e00, guest_idt32 + 4
	shrl $16, %eax
	movw %ax, guest_idt32 + 6
	lidt guest_idt32_desc
	movl %esp, boot32_state + 4 * B32_DE_ESP_BEFORE
	movl $1, %eax
	xorl %edx, %edx
	xorl %ecx, %ecx
	.globl de32_insn
de32_insn:
	divl %ecx
de32_resume:
	ret

de32_handler:
	movl %esp, boot32_state + 4 * B32_DE_ESP_HANDLER
	incl boot32_state + 4 * B32_DE_COUNT
	movl (%esp), %eax
	movl %eax, boot32_state + 4 * B32_DE_EIP
	movl 4(%esp), %eax
	movl %eax, boot32_state + 4 * B32_DE_CS
	movl 8(%esp), %eax
	movl %eax, boot32_state + 4 * B32_DE_EFLAGS
	movl $de32_resume, (%esp)
	iretl
	.size multiboot_entry, . - multiboot_entry

	.code64
	.type start64, @function
start64:
	movl $GUEST_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	movl %eax, %fs
	movl %eax, %gs
	leaq guest_stack_top(%rip), %rsp
	xorl %ebp, %ebp
	movl boot32_state + 4 * B32_EAX(%rip), %edi
	movl boot32_state + 4 * B32_EBX(%rip), %esi
	call guest_main64	/* does not return */
5:	cli
	hlt
	jmp 5b
	.size start64, . - start64

	.section .data
	.balign 16
	.globl guest_gdt
guest_gdt:
	.quad 0				/* null */
	.quad 0x00af9a000000ffff	/* 0x08: 64-bit code, L = 1, D = 0 */
	.quad 0x00cf92000000ffff	/* 0x10: flat data, 4 GiB */
	.quad 0x00cf9a000000ffff	/* 0x18: flat 32-bit code */
	.quad 0, 0			/* 0x20: TSS, written by guest.c */
guest_gdt_end:
	.balign 8
	.word 0
	.globl guest_gdt_desc
guest_gdt_desc:			/* lgdt: 32-bit mode reads limit + 4 bytes */
	.word guest_gdt_end - guest_gdt - 1
	.quad guest_gdt

	.balign 8
	.word 0
guest_idt32_desc:
	.word 8 * 1 - 1		/* vector 0 only */
	.long guest_idt32
	.balign 8
guest_idt32:
	.quad 0

	.section .bss
	.balign 4096
	.globl guest_pml4, guest_pdpt, guest_pd
guest_pml4:
	.skip 4096
guest_pdpt:
	.skip 4096
guest_pd:
	.skip 4096 * 4
	.globl boot32_state
	.balign 16
boot32_state:
	.skip 4 * B32_WORDS
	.balign 16
guest_stack:
	.skip 32768
	.globl guest_stack_top
guest_stack_top:

	.section .note.GNU-stack, "", @progbits
