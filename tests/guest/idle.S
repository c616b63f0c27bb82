/* Multiboot kernel that halts with interrupts off: nothing can ever wake
 * it, so hvsim must end the run (exit status 4) instead of hanging. */
	.text
	.align 4
	.long 0x1BADB002, 0x3, -(0x1BADB002 + 0x3)
	.code32
	.globl _start
_start:
	cli
1:	hlt
	jmp 1b
