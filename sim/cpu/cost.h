/* Per-block cycle costs from Capstone's decode and the profile.
 *
 * Each translation block is decoded once when the CPU first sees it; the
 * result (instruction count, cycles, and the sites of instructions the CPU
 * must implement itself) is cached by the CPU and charged every time the
 * block runs (DESIGN.md "Cycle accounting").  Only sim/cpu/ includes Capstone. */
#ifndef SIM_CPU_COST_H
#define SIM_CPU_COST_H

#include <stddef.h>
#include <stdint.h>

#include "profile.h"

/* Instructions Unicorn runs natively but the CPU model must implement. */
enum cost_site_kind {
	SITE_RDMSR = 1,
	SITE_WRMSR,
	SITE_RDTSC,
	SITE_RDTSCP,
	SITE_MARKER,	/* a marker (include/hv/marker.h): zero cycles, reported */
	SITE_INVLPG,	/* Unicorn's INVLPG misses stale code in large pages */
	/* Control- and debug-register accesses: native in VMX root
	 * operation except for the fixed-bit checks, intercepted or
	 * shadowed in non-root operation (vmx.c). */
	SITE_MOV_CR,
	SITE_MOV_DR,
	SITE_CLTS,
	SITE_LMSW,
	SITE_SMSW,
	/* IN, OUT, INS, OUTS and CPUID: a VM exit for them must come before
	 * the instruction runs (vmx.c); Unicorn's I/O and CPUID hooks fire
	 * mid-block, where stopping lets the rest of the block run, and INS
	 * stores to ES:RDI before the port read reaches the CPU. */
	SITE_IO,
	SITE_CPUID,
	SITE_SYSCALL,	/* Unicorn only calls hooks for it: the CPU does SYSCALL */
	SITE_PAUSE,	/* PAUSE exiting (vmx.c) */
	SITE_IRET,	/* IRET ends NMI blocking, or with NT = 1 switches tasks, in
			   non-root operation (vmx.c) */
	/* Far CALL and JMP: to a TSS or task gate they switch tasks, which
	 * exits in non-root operation before anything changes (vmx.c). */
	SITE_CALL_FAR,
	SITE_JMP_FAR,
	SITE_INVD,	/* exits unconditionally in non-root operation (vmx.c) */
	SITE_XSETBV,	/* XCR0's checks (cpu.c); exits unconditionally in non-root operation */
	SITE_MOV_SS,	/* MOV SS / POP SS: the blocking that follows is by MOV SS, not STI */
};

struct cost_site {
	uint64_t addr;
	uint32_t prefix_cycles;	/* cycles of the block's instructions before this one */
	uint32_t end_cycles;	/* prefix_cycles plus this instruction's own */
	uint32_t index;		/* instructions before this one in the block */
	uint8_t size;
	uint8_t kind;		/* enum cost_site_kind */
	uint16_t marker;	/* SITE_MARKER: the marker id */
	uint16_t marker_reg;	/* ... and its base register (Capstone x86_reg) */
};

#define COST_MAX_SITES 16
/* The block has an instruction that can set RFLAGS.IF (STI, POPF, IRET,
 * SYSRET, SYSEXIT, RSM): an interrupt held off by IF may become
 * deliverable after it. */
#define COST_BLOCK_SETS_IF 1u
/* The block has an instruction that can change the CPL or RFLAGS.AC
 * without leaving the engine (POPF, IRET, far RET, SYSRET, SYSEXIT,
 * SYSENTER, RSM, STAC, CLAC, a far CALL through a call gate): whether
 * alignment checking applies is looked at again after it (cpu.c
 * "Alignment checking"). */
#define COST_BLOCK_AC 2u

struct cost_block {
	uint32_t ninsn;
	uint32_t nbytes;	/* bytes decoded */
	uint64_t cycles;
	uint32_t nsites;	/* sites beyond COST_MAX_SITES are dropped: see overflow */
	uint32_t overflow;	/* 1 if more than COST_MAX_SITES sites were found */
	uint32_t flags;		/* COST_BLOCK_* */
	struct cost_site sites[COST_MAX_SITES];
};

struct cost_model;

struct cost_model *cost_model_new(const struct cpu_profile *p);
void cost_model_free(struct cost_model *cm);

/* Price `ninsn` instructions at `code` (len bytes readable) whose first is
 * at guest address `addr`, decoded as mode_bits 16, 32 or 64 code.
 * ninsn 0 means "decode all of len".  Undecodable bytes end the block
 * (cost COST_OTHER for the remainder). Returns 0 or -EINVAL. */
int cost_price_block(struct cost_model *cm, const uint8_t *code, size_t len, uint64_t addr,
		     unsigned mode_bits, uint32_t ninsn, struct cost_block *out);

/* Is the memory operand of Capstone instruction `id` only an address
 * (LEA, long NOPs, prefetches, cache-line flushes, INVLPG)? */
int cost_operand_is_address(unsigned id);

/* Class of a single instruction (for tests and tracing). */
int cost_classify(struct cost_model *cm, const uint8_t *code, size_t len, uint64_t addr,
		  unsigned mode_bits, enum cost_class *cls, uint32_t *cycles);

#endif
