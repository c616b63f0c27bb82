/* Alignment checking: which data accesses of one instruction the #AC
 * check covers, and whether one is misaligned (SDM Vol. 3A 6.15
 * "Interrupt 17—Alignment Check Exception (#AC)", Table 6-7; Vol. 1
 * 4.1.1).  Unicorn checks no alignment; while CR0.AM, RFLAGS.AC and CPL 3
 * all hold, the CPU asks this module about each instruction before it
 * runs (cpu.c "Alignment checking").
 *
 * Pure: the caller supplies registers and segment bases through the
 * environment; nothing here touches an engine. */
#ifndef SIM_CPU_ALIGN_H
#define SIM_CPU_ALIGN_H

#include <stddef.h>
#include <stdint.h>

struct align_env {
	unsigned bits;		/* code size: 16, 32 or 64 */
	uint64_t rip;		/* the instruction's offset in CS (RIP-relative operands) */
	uint64_t cr0;		/* TS and EM: #NM and #UD come before #AC */
	/* A general-purpose register's value, named by its Capstone
	 * register number (any width; only low bits matter). */
	uint64_t (*reg)(void *opaque, unsigned cs_reg);
	/* A segment's base, named by its Capstone register number
	 * (X86_REG_ES .. X86_REG_GS); asked only outside 64-bit mode or for
	 * FS and GS. */
	uint64_t (*seg_base)(void *opaque, unsigned cs_reg);
	void *opaque;
};

/* What was found misaligned. */
struct align_fault {
	uint64_t lin;		/* linear address of the access */
	unsigned align;		/* the alignment Table 6-7 requires of it */
};

struct align_checker;

struct align_checker *align_new(void);
void align_free(struct align_checker *a);

/* The instruction at `code` (len bytes readable), executed at CPL 3 with
 * alignment checking enabled: 1 if one of its data accesses that the
 * check covers is misaligned (*f says which), 0 if none is, -1 if the
 * bytes do not decode. */
int align_check(struct align_checker *a, const uint8_t *code, size_t len, const struct align_env *env,
		struct align_fault *f);

#endif
