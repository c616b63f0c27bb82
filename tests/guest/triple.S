/* Multiboot kernel that prints a line it does not finish to COM1, then
 * faults with no IDT: #UD, then #GP and #DF while delivering through the
 * empty IDT, then shutdown (SDM Vol. 3 6.15). */
	.text
	.align 4
	.long 0x1BADB002, 0x3, -(0x1BADB002 + 0x3)
	.code32
	.globl _start
_start:
	movl $msg, %esi
	movw $0x3f8, %dx
1:	lodsb
	testb %al, %al
	jz 2f
	outb %al, %dx
	jmp 1b
2:	lidt idt_null
	ud2
	.data
idt_null:
	.word 0
	.long 0
msg:
	.asciz "about to fault"
