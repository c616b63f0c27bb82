/* Decoding the MOV forms a guest uses for 32-bit MMIO, and walking the
 * guest's paging structures: what the hypervisor needs to complete an
 * access to an emulated register page (the xAPIC page, vapic.c) that
 * exited without telling which instruction made it (an EPT violation
 * leaves the VM-exit instruction length and information undefined, SDM
 * Vol. 3C 28.2.4-28.2.5).
 *
 * Pure code: built into the hypervisor image and, unchanged, into a host
 * Criterion suite (tests/unit/test_insn.c).  It keeps no state and reads
 * memory only through the callback it is given.
 *
 * Decoder (SDM Vol. 2A ch. 2 "Instruction Format", Vol. 2B MOV): legacy
 * prefixes in any order (LOCK, REP/REPNE, the six segment overrides,
 * operand size 66, address size 67), REX in 64-bit mode (only right
 * before the opcode; a REX followed by another prefix is ignored), then
 * one of
 *   88 /r  MOV r/m8, r8        89 /r  MOV r/m16/32/64, r
 *   8A /r  MOV r8, r/m8        8B /r  MOV r16/32/64, r/m
 *   C6 /0 ib  MOV r/m8, imm8   C7 /0 iw/id  MOV r/m16/32/64, imm (sign-
 *                                         extended to 64 with REX.W)
 *   A0-A3  MOV AL/AX/EAX/RAX to or from moffs
 *   0F B6 /r  MOVZX r16/32/64, r/m8    0F B7 /r  MOVZX r16/32/64, r/m16
 *   0F BE /r  MOVSX r16/32/64, r/m8    0F BF /r  MOVSX r16/32/64, r/m16
 * with ModRM, SIB, displacements, 16-bit addressing and RIP-relative
 * addressing.  Anything else is HV_INSN_UNSUPPORTED; a register-only
 * ModRM (mod 11) is too (it touches no memory).
 *
 * Besides the hypervisor (mmio.c: the xAPIC page) the root's worker
 * process decodes with it, built into its ring-3 image, the instruction
 * bytes of a child's unmapped-GPA intercept message (partitions/root/
 * user/vmwp.c). */
#ifndef HV_MODEL_INSN_H
#define HV_MODEL_INSN_H

#include <stdbool.h>
#include <stdint.h>

#define HV_INSN_MAX 15		/* the longest instruction (SDM Vol. 2A 2.3.11) */

enum hv_insn_status {
	HV_INSN_OK = 0,
	HV_INSN_SHORT = -1,		/* needs more bytes than were given */
	HV_INSN_UNSUPPORTED = -2,	/* not one of the MOV forms above */
	HV_INSN_LOCK = -3,		/* LOCK on a MOV: #UD (SDM Vol. 2A 2.1.1) */
};

enum hv_insn_seg { HV_SEG_ES, HV_SEG_CS, HV_SEG_SS, HV_SEG_DS, HV_SEG_FS, HV_SEG_GS };

#define HV_INSN_NO_REG 0xff

enum hv_insn_ext { HV_INSN_EXT_NONE, HV_INSN_EXT_ZERO, HV_INSN_EXT_SIGN };	/* MOV, MOVZX, MOVSX */

struct hv_insn {
	uint8_t len;		/* bytes, prefixes included */
	bool store;		/* register or immediate to memory; else memory to register */
	uint8_t size;		/* memory operand bytes: 1, 2, 4 or 8 */
	uint8_t reg_size;	/* register operand bytes: `size`, wider for MOVZX/MOVSX */
	uint8_t ext;		/* enum hv_insn_ext: how a load widens into reg_size */
	uint8_t reg;		/* the GPR (0 RAX .. 15 R15) moved; HV_INSN_NO_REG for an immediate */
	bool high8;		/* reg 0-3 means AH, CH, DH, BH */
	uint64_t imm;		/* the immediate, sign-extended to `size` */
	/* The memory operand: seg:[base + index * scale + disp], the sum
	 * wrapped to addr_size bytes; RIP-relative adds the next RIP. */
	uint8_t addr_size;	/* 2, 4 or 8 */
	uint8_t seg;		/* enum hv_insn_seg: the override or the default */
	uint8_t base, index;	/* GPR numbers, HV_INSN_NO_REG if none */
	uint8_t scale;		/* 1, 2, 4, 8 */
	bool rip_rel;
	int64_t disp;
};

/* The code size (16, 32, 64) of a processor in protected mode or not
 * (CR0.PE), in virtual-8086 mode or not (RFLAGS.VM), in IA-32e mode or
 * not (EFER.LMA), with CS attributes `cs_ar` (a descriptor's bits 55:40:
 * L 13, D/B 14, as VMX access rights and HV_X64_SEGMENT_REGISTER hold
 * them): SDM Vol. 3A 5.2.1, Vol. 1 3.6. */
unsigned hv_insn_code_bits(bool pe, bool vm86, bool lma, uint32_t cs_ar);
/* Decode the `avail` bytes at `b` as code of `code_bits` (16, 32, 64). */
enum hv_insn_status hv_insn_decode(const uint8_t *b, unsigned avail, unsigned code_bits, struct hv_insn *d);
/* The memory operand's effective address (its offset in the segment),
 * with the GPRs in SDM order (0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP, ...). */
uint64_t hv_insn_ea(const struct hv_insn *d, const uint64_t gpr[16], uint64_t next_rip);
/* A store: the `size` bytes it writes, given the value of its source
 * register `reg` (d->reg's GPR; unused for an immediate). */
uint64_t hv_insn_store_value(const struct hv_insn *d, uint64_t reg);
/* A load of `v` (the `size` bytes read) into register d->reg, whose
 * value was `old`: the register's new value (SDM Vol. 1 3.4.1.1: a
 * 32-bit destination is zero-extended to 64 bits, an 8- or 16-bit one
 * leaves the rest alone; MOVZX/MOVSX widen to reg_size first). */
uint64_t hv_insn_load(const struct hv_insn *d, uint64_t old, uint64_t v);

/* ---- the guest's paging structures (SDM Vol. 3A ch. 4) ----
 * Paging off, 32-bit paging (4 MiB pages with CR4.PSE), PAE paging (the
 * PDPTEs as the processor holds them: with EPT they are the VMCS's, SDM
 * 28.3.1 / 4.4.1), 4-level and 5-level paging.  Checks P, the reserved
 * bits above MAXPHYADDR and the PS bit where it is reserved, U/S for
 * CPL 3 and SMEP, R/W for writes (CR0.WP), XD for fetches (EFER.NXE).
 * Accessed and dirty flags are not set: the walk is the hypervisor's
 * look at a translation the guest has just used. */
struct hv_walk_regs {
	uint64_t cr0, cr3, cr4, efer;
	uint64_t pdpte[4];
	unsigned cpl;
	unsigned maxphyaddr;	/* bits */
};

#define HV_WALK_WRITE 1u
#define HV_WALK_FETCH 2u

enum hv_walk_status {
	HV_WALK_OK = 0,
	HV_WALK_PAGE_FAULT = 1,	/* *pf_error holds the #PF error code (SDM 4.7) */
	HV_WALK_NO_MEMORY = 2,	/* a paging structure the read callback could not read (*gpa) */
};

/* read(ctx, gpa, &v): the 8 bytes at guest-physical `gpa` (4 suffice for
 * 32-bit paging), 0 or -1. */
typedef int (*hv_walk_read)(void *ctx, uint64_t gpa, uint64_t *v);

enum hv_walk_status hv_walk(const struct hv_walk_regs *r, uint64_t lin, unsigned access, hv_walk_read read,
			    void *ctx, uint64_t *gpa, uint32_t *pf_error);

#endif
