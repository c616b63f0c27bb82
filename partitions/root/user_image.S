/* The user program (partitions/root/user/, built first by meson) embedded
 * in root.elf's read-only data: rk_proc_create() loads it into a new
 * address space per process.  RK_USER_ELF is its path, a string. */
	.section .rodata.user_image, "a"
	.balign 4096
	.globl rk_user_image, rk_user_image_end
rk_user_image:
	.incbin RK_USER_ELF
rk_user_image_end:

	.section .note.GNU-stack, "", @progbits
