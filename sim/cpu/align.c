/* Alignment checking of one instruction's data accesses (align.h).
 *
 * SDM Vol. 3A 6.15, "Interrupt 17—Alignment Check Exception (#AC)": at CPL
 * 3 with CR0.AM = 1 and RFLAGS.AC = 1, a data or stack access whose
 * address is not a multiple of its data type's alignment (Table 6-7) is a
 * fault, before the instruction changes anything.  Accesses the processor
 * makes at privilege level 0 (descriptor loads, the stack switch of an
 * interrupt) are never checked; neither are code fetches.  An instruction
 * with a memory operand is decoded with Capstone; its accesses are the
 * explicit memory operands and the implicit stack accesses of the
 * instructions that push or pop. */
#include <stdlib.h>

#include <capstone/capstone.h>

#include "align.h"
#include "cost.h"

#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)

struct align_checker {
	csh cs[3];		/* 16-, 32- and 64-bit code */
	cs_insn *insn[3];
	int open[3];
};

static int mode_index(unsigned bits)
{
	return bits == 16 ? 0 : bits == 32 ? 1 : bits == 64 ? 2 : -1;
}

struct align_checker *align_new(void)
{
	static const cs_mode modes[3] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };
	struct align_checker *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	for (int i = 0; i < 3; i++) {
		if (cs_open(CS_ARCH_X86, modes[i], &a->cs[i]) != CS_ERR_OK) {
			align_free(a);
			return NULL;
		}
		a->open[i] = 1;
		cs_option(a->cs[i], CS_OPT_DETAIL, CS_OPT_ON);
		a->insn[i] = cs_malloc(a->cs[i]);
		if (!a->insn[i]) {
			align_free(a);
			return NULL;
		}
	}
	return a;
}

void align_free(struct align_checker *a)
{
	if (!a)
		return;
	for (int i = 0; i < 3; i++) {
		if (a->insn[i])
			cs_free(a->insn[i], 1);
		if (a->open[i])
			cs_close(&a->cs[i]);
	}
	free(a);
}

/* Instructions the check leaves alone although Capstone lists a memory
 * operand: no data access at all (LEA, hinting NOPs, prefetches, cache
 * line flushes); privileged ones, whose #GP at CPL 3 (or VM exit in
 * non-root operation) comes before any access; and the FXSAVE/XSAVE
 * family, whose 16- and 64-byte alignment is a #GP that Unicorn raises
 * (with alignment checking on, #AC or #GP "may vary with implementation":
 * SDM Vol. 2A FXSAVE, Vol. 3A 6.15). */
static int unchecked(const cs_insn *in)
{
	const cs_detail *d = in->detail;

	if (cost_operand_is_address(in->id))
		return 1;
	switch (in->id) {
	case X86_INS_LGDT:
	case X86_INS_LIDT:
	case X86_INS_LLDT:
	case X86_INS_LTR:
	case X86_INS_LMSW:
	case X86_INS_INVLPGA:
	case X86_INS_INVPCID:
	case X86_INS_FXSAVE:
	case X86_INS_FXSAVE64:
	case X86_INS_FXRSTOR:
	case X86_INS_FXRSTOR64:
	case X86_INS_XSAVE:
	case X86_INS_XSAVE64:
	case X86_INS_XSAVEOPT:
	case X86_INS_XSAVEOPT64:
	case X86_INS_XSAVEC:
	case X86_INS_XSAVEC64:
	case X86_INS_XSAVES:
	case X86_INS_XSAVES64:
	case X86_INS_XRSTOR:
	case X86_INS_XRSTOR64:
	case X86_INS_XRSTORS:
	case X86_INS_XRSTORS64:
		return 1;
	default:
		break;
	}
	for (unsigned i = 0; i < d->groups_count; i++)
		if (d->groups[i] == X86_GRP_VM)
			return 1;	/* VMX/SVM: a VM exit, #UD or #GP first */
	return 0;
}

static int is_reg_in(unsigned r, unsigned first, unsigned last)
{
	return r >= first && r <= last;
}

/* Does the instruction use x87, MMX or SSE state?  With CR0.TS (or EM) set
 * it raises #NM (or #UD), which takes priority over #AC: it is detected
 * while decoding the instruction (SDM Vol. 3A 6.9, Table 6-2). */
static int uses_fpu(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (x->opcode[0] >= 0xd8 && x->opcode[0] <= 0xdf)
		return 1;	/* x87 escape opcodes */
	if (in->id == X86_INS_LDMXCSR || in->id == X86_INS_STMXCSR)
		return 1;
	for (unsigned i = 0; i < x->op_count; i++) {
		unsigned r = x->operands[i].type == X86_OP_REG ? x->operands[i].reg : 0;

		if (is_reg_in(r, X86_REG_FP0, X86_REG_FP7) || is_reg_in(r, X86_REG_ST0, X86_REG_ST7) ||
		    is_reg_in(r, X86_REG_MM0, X86_REG_MM7) || is_reg_in(r, X86_REG_XMM0, X86_REG_ZMM31))
			return 1;
	}
	return 0;
}

/* String instructions (INS, OUTS, MOVS, CMPS, STOS, LODS, SCAS): their
 * destination is ES:rDI whatever the prefixes, and with a REP prefix and
 * a zero count they access nothing. */
static int is_string(const cs_x86 *x)
{
	unsigned op = x->opcode[0];

	return (op >= 0x6c && op <= 0x6f) || (op >= 0xa4 && op <= 0xa7) || (op >= 0xaa && op <= 0xaf);
}

static int is_di(unsigned r)
{
	return r == X86_REG_RDI || r == X86_REG_EDI || r == X86_REG_DI;
}

static int is_sp_bp(unsigned r)
{
	return r == X86_REG_RSP || r == X86_REG_ESP || r == X86_REG_SP || r == X86_REG_RBP || r == X86_REG_EBP ||
	       r == X86_REG_BP;
}

static uint64_t addr_mask(const cs_x86 *x)
{
	return x->addr_size == 2 ? 0xffffull : x->addr_size == 4 ? 0xffffffffull : ~0ull;
}

/* Segment base + offset.  In 64-bit mode only FS and GS have a base
 * (SDM Vol. 3A 3.4.4); elsewhere the linear address is 32 bits wide. */
static uint64_t linear(const struct align_env *env, unsigned seg, uint64_t off)
{
	if (env->bits == 64)
		return seg == X86_REG_FS || seg == X86_REG_GS ? env->seg_base(env->opaque, seg) + off : off;
	return (uint32_t)(env->seg_base(env->opaque, seg) + off);
}

/* The linear address of an explicit memory operand: base + index * scale
 * + displacement in the address size, in its segment (an override, ES for
 * a string destination, SS with rSP or rBP as base, else DS). */
static uint64_t operand_linear(const cs_insn *in, const cs_x86_op *op, int string, const struct align_env *env)
{
	const cs_x86 *x = &in->detail->x86;
	const x86_op_mem *m = &op->mem;
	uint64_t ea = (uint64_t)m->disp;
	unsigned seg = m->segment;

	if (m->base == X86_REG_RIP || m->base == X86_REG_EIP)
		ea += env->rip + in->size;
	else if (m->base != X86_REG_INVALID)
		ea += env->reg(env->opaque, m->base);
	if (m->index != X86_REG_INVALID)
		ea += env->reg(env->opaque, m->index) * (uint64_t)m->scale;
	ea &= addr_mask(x);
	if (seg == X86_REG_INVALID)
		seg = string && is_di(m->base) ? X86_REG_ES : is_sp_bp(m->base) ? X86_REG_SS : X86_REG_DS;
	return linear(env, seg, ea);
}

/* The alignment Table 6-7 asks of an explicit memory operand; 0 if none.
 * `opsz` is the operand size. */
static unsigned operand_align(const cs_insn *in, const cs_x86_op *op, unsigned opsz)
{
	switch (in->id) {
	case X86_INS_LCALL:
	case X86_INS_LJMP:
	case X86_INS_LDS:
	case X86_INS_LES:
	case X86_INS_LFS:
	case X86_INS_LGS:
	case X86_INS_LSS:
		/* Far pointers: 32-bit (16:16) on 2, 48-bit (16:32) on 4;
		 * the 16:64 one, by its quadword offset, on 8. */
		return opsz;
	case X86_INS_FNSTENV:
	case X86_INS_FLDENV:
	case X86_INS_FNSAVE:
	case X86_INS_FRSTOR:
		/* FSTENV/FLDENV and FSAVE/FRSTOR areas: 4 or 2 by operand size. */
		return opsz == 2 ? 2 : 4;
	case X86_INS_SGDT:
	case X86_INS_SIDT:
	case X86_INS_SLDT:
	case X86_INS_STR:
		return 4;	/* GDTR, IDTR, LDTR or TR contents */
	case X86_INS_BOUND:
		return opsz;	/* a pair of operand-size bounds */
	case X86_INS_FBLD:
	case X86_INS_FBSTP:
		return 0;	/* packed BCD is not in the table */
	default:
		break;
	}
	switch (op->size) {
	case 2:
	case 4:
	case 8:
		return op->size;	/* word, doubleword, quadword; single and double FP */
	case 10:
		return 8;		/* double extended-precision FP */
	default:
		/* Bytes, and 128-bit data: aligned forms raise #GP, the
		 * unaligned ones (MOVUPS, MOVDQU, LDDQU) "may or may not" raise
		 * #AC; hvsim does not. */
		return 0;
	}
}

static int found(struct align_fault *f, uint64_t lin, unsigned align)
{
	if (!align || !(lin & (align - 1)))
		return 0;
	f->lin = lin;
	f->align = align;
	return 1;
}

/* An implicit stack access of `size` bytes at rSP + delta. */
static int stack_at(const struct align_env *env, struct align_fault *f, unsigned base_reg, int64_t delta,
		    unsigned size)
{
	return found(f, linear(env, X86_REG_SS, env->reg(env->opaque, base_reg) + (uint64_t)delta), size);
}

int align_check(struct align_checker *a, const uint8_t *code, size_t len, const struct align_env *env,
		struct align_fault *f)
{
	int mi = mode_index(env->bits);
	const uint8_t *p = code;
	size_t left = len;
	uint64_t pc = env->rip;
	const cs_insn *in;
	const cs_x86 *x;
	unsigned opsz, slot, near;
	int o16, string;

	if (!a || mi < 0 || !cs_disasm_iter(a->cs[mi], &p, &left, &pc, a->insn[mi]))
		return -1;
	in = a->insn[mi];
	x = &in->detail->x86;
	if (unchecked(in) || ((env->cr0 & (CR0_TS | CR0_EM)) && uses_fpu(in)))
		return 0;
	o16 = x->prefix[2] == 0x66;
	/* Operand size (SDM Vol. 1 3.6.1); REX.W exists in 64-bit mode only. */
	opsz = (x->rex & 8) ? 8 : env->bits == 16 ? (o16 ? 4 : 2) : (o16 ? 2 : 4);
	/* PUSH and POP are 64-bit in 64-bit mode unless 66H makes them 16-bit;
	 * near CALL and RET are 64-bit there whatever the prefixes (SDM Vol.
	 * 2B PUSH, POP; Vol. 2A CALL; Vol. 2B RET). */
	slot = env->bits == 64 ? (o16 ? 2 : 8) : opsz;
	near = env->bits == 64 ? 8 : opsz;
	string = is_string(x);
	if (string && (x->prefix[0] == 0xf3 || x->prefix[0] == 0xf2) &&
	    !(env->reg(env->opaque, X86_REG_RCX) & addr_mask(x)))
		return 0;

	for (unsigned i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];
		/* A string element is a byte (even opcodes) or of the operand
		 * size: Capstone 4.0.2 reports 66 F3 A5 (REP MOVSW, as GNU as
		 * writes it) as REP MOVSD. */
		unsigned al = string ? ((x->opcode[0] & 1) ? opsz : 0) : operand_align(in, op, opsz);

		if (op->type == X86_OP_MEM && found(f, operand_linear(in, op, string, env), al))
			return 1;
	}

	/* Implicit stack accesses: the first push or pop decides, the others
	 * being contiguous items of the same size. */
	switch (in->id) {
	case X86_INS_PUSH:
	case X86_INS_PUSHF:
	case X86_INS_PUSHFD:
	case X86_INS_PUSHFQ:
		return stack_at(env, f, X86_REG_RSP, -(int64_t)slot, slot);
	case X86_INS_POP:
	case X86_INS_POPF:
	case X86_INS_POPFD:
	case X86_INS_POPFQ:
		return stack_at(env, f, X86_REG_RSP, 0, slot);
	case X86_INS_PUSHAW:
	case X86_INS_PUSHAL:
		return stack_at(env, f, X86_REG_RSP, -(int64_t)opsz, opsz);
	case X86_INS_POPAW:
	case X86_INS_POPAL:
		return stack_at(env, f, X86_REG_RSP, 0, opsz);
	case X86_INS_CALL:
		return stack_at(env, f, X86_REG_RSP, -(int64_t)near, near);
	case X86_INS_RET:
		return stack_at(env, f, X86_REG_RSP, 0, near);
	case X86_INS_LCALL:
		/* CS and the return offset, each of the operand size. */
		return stack_at(env, f, X86_REG_RSP, -(int64_t)opsz, opsz);
	case X86_INS_RETF:
	case X86_INS_RETFQ:
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
		return stack_at(env, f, X86_REG_RSP, 0, opsz);
	case X86_INS_ENTER:
		/* Pushes rBP; a nesting level above 1 also copies frame
		 * pointers from below the old rBP (SDM Vol. 2A ENTER). */
		if (stack_at(env, f, X86_REG_RSP, -(int64_t)slot, slot))
			return 1;
		return x->op_count > 1 && (x->operands[1].imm & 31) > 1 &&
		       stack_at(env, f, X86_REG_RBP, -(int64_t)slot, slot);
	case X86_INS_LEAVE:
		return stack_at(env, f, X86_REG_RBP, 0, slot);	/* pops rBP from where rBP points */
	default:
		return 0;
	}
}
