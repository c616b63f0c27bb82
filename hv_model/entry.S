/* hv_model entry from the `hvsim run` handoff (include/hv/bootinfo.h):
 * 64-bit long mode, paging on with an identity map, interrupts off,
 * RDI = physical address of struct hv_bootinfo.
 *
 * The firmware moves to a stack of its own in .bss (the boot stack lives
 * in memory the hypervisor will reuse) and calls hv_main(bootinfo), which
 * does not return. */
	.section .text.entry, "ax"
	.code64
	.globl hv_entry
	.type hv_entry, @function
hv_entry:
	cli
	cld			/* the SysV ABI requires DF = 0 at calls */
	leaq hv_stack_top(%rip), %rsp
	xorl %ebp, %ebp		/* terminate frame-pointer walks */
	/* %rdi still holds the bootinfo pointer: hv_main's first argument */
	call hv_main
1:	cli
	hlt
	jmp 1b
	.size hv_entry, . - hv_entry

	.section .bss
	.balign 4096
hv_stack:
	.skip 65536
hv_stack_top:
	.section .note.GNU-stack, "", @progbits
