/* Multiboot kernel that faults with no IDT: #UD, then #GP and #DF while
 * delivering through the empty IDT, then shutdown (SDM Vol. 3 6.15). */
	.text
	.align 4
	.long 0x1BADB002, 0x3, -(0x1BADB002 + 0x3)
	.code32
	.globl _start
_start:
	lidt idt_null
	ud2
	.data
idt_null:
	.word 0
	.long 0
