/* Per-block cycle cost from Capstone's decode and the profile.
 *
 * A block's cost is the sum of its instructions' costs: each instruction
 * is put in one class (enum cost_class) and charged that class's cycles,
 * plus the profile's `load` cost if it reads a memory operand and its
 * `store` cost if it writes one.  Classes whose cost already includes their
 * memory traffic (push/pop, call/ret, string, I/O, interrupts) and
 * instructions whose memory operand is only an address (lea, nop,
 * prefetch, clflush, invlpg) take no memory extra.
 *
 * This runs once per translation block (the CPU caches the result), so it
 * allocates nothing per call: one Capstone handle per decode mode and one
 * cs_insn per model, made in cost_model_new.  A model is not thread-safe;
 * each LP thread uses its own. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include <capstone/capstone.h>

#include "cost.h"
#include "hv/marker.h"

enum { MODE16, MODE32, MODE64, NMODES };

struct cost_model {
	csh cs[NMODES];
	bool cs_open[NMODES];
	cs_insn *insn;			/* shared by all handles: same arch */
	uint32_t cost[COST_NCLASSES];	/* copied: the model outlives no profile */
};

static int mode_index(unsigned mode_bits)
{
	switch (mode_bits) {
	case 16:
		return MODE16;
	case 32:
		return MODE32;
	case 64:
		return MODE64;
	default:
		return -1;
	}
}

struct cost_model *cost_model_new(const struct cpu_profile *p)
{
	static const cs_mode modes[NMODES] = { CS_MODE_16, CS_MODE_32, CS_MODE_64 };
	struct cost_model *cm;

	if (!p)
		return NULL;
	cm = calloc(1, sizeof(*cm));
	if (!cm)
		return NULL;
	for (int i = 0; i < NMODES; i++) {
		if (cs_open(CS_ARCH_X86, modes[i], &cm->cs[i]) != CS_ERR_OK)
			goto fail;
		cm->cs_open[i] = true;
		if (cs_option(cm->cs[i], CS_OPT_DETAIL, CS_OPT_ON) != CS_ERR_OK)
			goto fail;
	}
	cm->insn = cs_malloc(cm->cs[MODE64]);
	if (!cm->insn || !cm->insn->detail)
		goto fail;
	for (int c = 0; c < COST_NCLASSES; c++)
		cm->cost[c] = p->cost[c];
	return cm;
fail:
	cost_model_free(cm);
	return NULL;
}

void cost_model_free(struct cost_model *cm)
{
	if (!cm)
		return;
	if (cm->insn)
		cs_free(cm->insn, 1);
	for (int i = 0; i < NMODES; i++) {
		if (cm->cs_open[i])
			cs_close(&cm->cs[i]);
	}
	free(cm);
}

static bool has_group(const cs_detail *d, uint8_t g)
{
	for (uint8_t i = 0; i < d->groups_count; i++) {
		if (d->groups[i] == g)
			return true;
	}
	return false;
}

static bool is_simd_group(uint8_t g)
{
	switch (g) {
	case X86_GRP_3DNOW:
	case X86_GRP_AES:
	case X86_GRP_AVX:
	case X86_GRP_AVX2:
	case X86_GRP_AVX512:
	case X86_GRP_F16C:
	case X86_GRP_FMA:
	case X86_GRP_FMA4:
	case X86_GRP_MMX:
	case X86_GRP_SHA:
	case X86_GRP_SSE1:
	case X86_GRP_SSE2:
	case X86_GRP_SSE3:
	case X86_GRP_SSE41:
	case X86_GRP_SSE42:
	case X86_GRP_SSE4A:
	case X86_GRP_SSSE3:
	case X86_GRP_PCLMUL:
	case X86_GRP_XOP:
	case X86_GRP_CDI:
	case X86_GRP_ERI:
	case X86_GRP_DQI:
	case X86_GRP_BWI:
	case X86_GRP_PFI:
	case X86_GRP_VLX:
	case X86_GRP_NOVLX:
		return true;
	default:
		return false;
	}
}

static bool has_simd_group(const cs_detail *d)
{
	for (uint8_t i = 0; i < d->groups_count; i++) {
		if (is_simd_group(d->groups[i]))
			return true;
	}
	return false;
}

static bool is_seg_reg(x86_reg r)
{
	return r == X86_REG_CS || r == X86_REG_DS || r == X86_REG_ES || r == X86_REG_FS ||
	       r == X86_REG_GS || r == X86_REG_SS;
}

/* MOV covers plain moves, moves to/from control and debug registers and
 * segment register loads, which Capstone gives one id. */
static enum cost_class classify_mov(const cs_detail *d)
{
	const cs_x86 *x = &d->x86;

	if (x->op_count >= 1 && x->operands[0].type == X86_OP_REG && is_seg_reg(x->operands[0].reg))
		return COST_OTHER;	/* a segment load reads a descriptor: not a plain move */
	if (has_group(d, X86_GRP_PRIVILEGE))
		return COST_SERIAL;	/* mov to/from CRn/DRn (SDM Vol. 3A, "Serializing Instructions") */
	return COST_ALU;
}

static enum cost_class classify(const cs_insn *in)
{
	const cs_detail *d = in->detail;

	switch (in->id) {
	case X86_INS_RDMSR:
	case X86_INS_WRMSR:
		return COST_MSR;
	case X86_INS_RDTSC:
	case X86_INS_RDTSCP:
		return COST_TSC;
	case X86_INS_PAUSE:
		return COST_PAUSE;
	case X86_INS_NOP:
	case X86_INS_ENDBR32:
	case X86_INS_ENDBR64:
		return COST_NOP;
	case X86_INS_HLT:
		return COST_HLT;
	case X86_INS_IN:
	case X86_INS_OUT:
	case X86_INS_INSB:
	case X86_INS_INSW:
	case X86_INS_INSD:
	case X86_INS_OUTSB:
	case X86_INS_OUTSW:
	case X86_INS_OUTSD:
		return COST_IO;
	case X86_INS_INT:
	case X86_INS_INT1:
	case X86_INS_INT3:
	case X86_INS_INTO:
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
	case X86_INS_SYSCALL:
	case X86_INS_SYSRET:
	case X86_INS_SYSENTER:
	case X86_INS_SYSEXIT:
	case X86_INS_UD0:
	case X86_INS_UD2:
	case X86_INS_UD2B:
		return COST_INT;	/* UDn: its cost is the #UD delivery */
	case X86_INS_CPUID:
	case X86_INS_RSM:
	case X86_INS_INVD:
	case X86_INS_WBINVD:
	case X86_INS_XSETBV:
	case X86_INS_XGETBV:
	case X86_INS_MONITOR:
	case X86_INS_MWAIT:
	case X86_INS_GETSEC:
	case X86_INS_RDPMC:
	case X86_INS_MFENCE:
	case X86_INS_LFENCE:
	case X86_INS_SFENCE:
		/* Fences drain or order the memory pipeline: priced with the
		 * serialising instructions rather than as SSE arithmetic. */
		return COST_SERIAL;
	case X86_INS_MUL:
	case X86_INS_IMUL:
	case X86_INS_MULX:
		return COST_MUL;
	case X86_INS_DIV:
	case X86_INS_IDIV:
		return COST_DIV;
	case X86_INS_PUSH:
	case X86_INS_POP:
	case X86_INS_PUSHF:
	case X86_INS_PUSHFD:
	case X86_INS_PUSHFQ:
	case X86_INS_POPF:
	case X86_INS_POPFD:
	case X86_INS_POPFQ:
	case X86_INS_PUSHAW:
	case X86_INS_PUSHAL:
	case X86_INS_POPAW:
	case X86_INS_POPAL:
	case X86_INS_ENTER:
	case X86_INS_LEAVE:
		return COST_STACK;
	case X86_INS_MOVSB:
	case X86_INS_MOVSW:
	case X86_INS_MOVSQ:
	case X86_INS_STOSB:
	case X86_INS_STOSW:
	case X86_INS_STOSD:
	case X86_INS_STOSQ:
	case X86_INS_LODSB:
	case X86_INS_LODSW:
	case X86_INS_LODSD:
	case X86_INS_LODSQ:
	case X86_INS_SCASB:
	case X86_INS_SCASW:
	case X86_INS_SCASD:
	case X86_INS_SCASQ:
	case X86_INS_CMPSB:
	case X86_INS_CMPSW:
	case X86_INS_CMPSQ:
		return COST_STRING;
	case X86_INS_MOVSD:
	case X86_INS_CMPSD:
		/* Capstone gives the string forms and the SSE2 scalar-double
		 * forms one id; only the SSE2 forms carry an SSE group. */
		return has_simd_group(d) ? COST_SIMD : COST_STRING;
	case X86_INS_MOV:
		return classify_mov(d);
	case X86_INS_CRC32:
	case X86_INS_POPCNT:
		return COST_ALU;	/* integer ops, though CRC32 sits in Capstone's SSE4.2 group */
	case X86_INS_CLFLUSH:
	case X86_INS_CLFLUSHOPT:
	case X86_INS_CLWB:
		return COST_OTHER;	/* cache maintenance, not SIMD work */
	case X86_INS_MOVNTI:
		return COST_ALU;	/* a general-register store (SSE2 group) */
	default:
		break;
	}

	/* The rest by Capstone's groups.  Privileged and VMX instructions
	 * (lgdt, invlpg, cli/sti, swapgs, vmlaunch, ...) are system
	 * instructions; IRET and SYSRET carry the privilege group too but were
	 * classified above. */
	if (has_group(d, X86_GRP_VM) || has_group(d, X86_GRP_PRIVILEGE))
		return COST_SERIAL;
	if (has_group(d, X86_GRP_INT) || has_group(d, X86_GRP_IRET))
		return COST_INT;
	if (has_group(d, X86_GRP_CALL))
		return COST_CALL;
	if (has_group(d, X86_GRP_RET))
		return COST_RET;
	/* loop/loope/loopne carry only BRANCH_RELATIVE in Capstone 4. */
	if (has_group(d, X86_GRP_JUMP) || has_group(d, X86_GRP_BRANCH_RELATIVE))
		return COST_BRANCH;
	if (has_group(d, X86_GRP_FPU))
		return COST_FP;
	if (has_simd_group(d))
		return COST_SIMD;
	if (has_group(d, X86_GRP_CMOV) || has_group(d, X86_GRP_BMI) || has_group(d, X86_GRP_BMI2) ||
	    has_group(d, X86_GRP_ADX))
		return COST_ALU;

	switch (in->id) {
	case X86_INS_ADD:
	case X86_INS_ADC:
	case X86_INS_SUB:
	case X86_INS_SBB:
	case X86_INS_AND:
	case X86_INS_OR:
	case X86_INS_XOR:
	case X86_INS_NOT:
	case X86_INS_NEG:
	case X86_INS_INC:
	case X86_INS_DEC:
	case X86_INS_CMP:
	case X86_INS_TEST:
	case X86_INS_MOVABS:
	case X86_INS_MOVZX:
	case X86_INS_MOVSX:
	case X86_INS_MOVSXD:
	case X86_INS_MOVBE:
	case X86_INS_LEA:
	case X86_INS_SHL:
	case X86_INS_SAL:
	case X86_INS_SHR:
	case X86_INS_SAR:
	case X86_INS_ROL:
	case X86_INS_ROR:
	case X86_INS_RCL:
	case X86_INS_RCR:
	case X86_INS_SHLD:
	case X86_INS_SHRD:
	case X86_INS_SETA:
	case X86_INS_SETAE:
	case X86_INS_SETB:
	case X86_INS_SETBE:
	case X86_INS_SETE:
	case X86_INS_SETG:
	case X86_INS_SETGE:
	case X86_INS_SETL:
	case X86_INS_SETLE:
	case X86_INS_SETNE:
	case X86_INS_SETNO:
	case X86_INS_SETNP:
	case X86_INS_SETNS:
	case X86_INS_SETO:
	case X86_INS_SETP:
	case X86_INS_SETS:
	case X86_INS_XCHG:
	case X86_INS_XADD:
	case X86_INS_CMPXCHG:
	case X86_INS_CMPXCHG8B:
	case X86_INS_CMPXCHG16B:
	case X86_INS_BSWAP:
	case X86_INS_BT:
	case X86_INS_BTS:
	case X86_INS_BTR:
	case X86_INS_BTC:
	case X86_INS_BSF:
	case X86_INS_BSR:
	case X86_INS_LZCNT:
	case X86_INS_TZCNT:
	case X86_INS_CBW:
	case X86_INS_CWDE:
	case X86_INS_CDQE:
	case X86_INS_CWD:
	case X86_INS_CDQ:
	case X86_INS_CQO:
	case X86_INS_CLC:
	case X86_INS_STC:
	case X86_INS_CMC:
	case X86_INS_CLD:
	case X86_INS_STD:
	case X86_INS_LAHF:
	case X86_INS_SAHF:
	case X86_INS_XLATB:
	case X86_INS_AAA:
	case X86_INS_AAD:
	case X86_INS_AAM:
	case X86_INS_AAS:
	case X86_INS_DAA:
	case X86_INS_DAS:
	case X86_INS_SALC:
		return COST_ALU;
	default:
		return COST_OTHER;
	}
}

/* Which memory accesses an instruction makes.  Capstone 4.0.2's operand
 * access flags are right for most integer instructions but wrong for
 * several stores (movups/movq/movnti/pextrw/fstp/stmxcsr/movbe [m] report
 * a read), for cmpxchg (a read only) and, per UNICORN-NOTES.md, for VMX
 * instructions; those are decided here from the instruction itself. */
int cost_operand_is_address(unsigned id)
{
	switch (id) {
	case X86_INS_LEA:
	case X86_INS_NOP:
	case X86_INS_PREFETCH:
	case X86_INS_PREFETCHNTA:
	case X86_INS_PREFETCHT0:
	case X86_INS_PREFETCHT1:
	case X86_INS_PREFETCHT2:
	case X86_INS_PREFETCHW:
	case X86_INS_CLFLUSH:
	case X86_INS_CLFLUSHOPT:
	case X86_INS_CLWB:
	case X86_INS_INVLPG:
		return 1;
	default:
		return 0;
	}
}

static void memory_access(const cs_insn *in, enum cost_class cls, bool *rd, bool *wr)
{
	const cs_x86 *x = &in->detail->x86;
	int mem = -1;	/* index of the first memory operand */

	*rd = *wr = false;
	for (uint8_t i = 0; i < x->op_count; i++) {
		if (x->operands[i].type == X86_OP_MEM) {
			mem = i;
			break;
		}
	}
	if (mem < 0)
		return;

	if (cost_operand_is_address(in->id))
		return;
	switch (in->id) {
	case X86_INS_CMPXCHG:
	case X86_INS_CMPXCHG8B:
	case X86_INS_CMPXCHG16B:
		*rd = *wr = true;	/* locked read-modify-write (SDM Vol. 2A, CMPXCHG) */
		return;
	case X86_INS_FST:
	case X86_INS_FSTP:
	case X86_INS_FIST:
	case X86_INS_FISTP:
	case X86_INS_FISTTP:
	case X86_INS_FBSTP:
	case X86_INS_FNSTCW:
	case X86_INS_FNSTSW:
	case X86_INS_FNSTENV:
	case X86_INS_FNSAVE:
	case X86_INS_STMXCSR:
		*wr = true;
		return;
	case X86_INS_MOVBE:
	case X86_INS_MOVNTI:
		*wr = mem == 0;
		*rd = mem != 0;
		return;
	default:
		break;
	}
	if (cls == COST_SIMD) {
		/* No SSE/AVX instruction reads and writes the same memory
		 * operand: a memory first operand (with a register source)
		 * is a store, any other is a load. */
		if (mem == 0 && x->op_count >= 2)
			*wr = true;
		else
			*rd = true;
		return;
	}
	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type != X86_OP_MEM)
			continue;
		if (op->access & CS_AC_WRITE)
			*wr = true;
		/* No flags at all: assume the common case, a read. */
		if ((op->access & CS_AC_READ) || !(op->access & (CS_AC_READ | CS_AC_WRITE)))
			*rd = true;
	}
}

static bool takes_memory_extra(enum cost_class cls)
{
	switch (cls) {
	case COST_ALU:
	case COST_MUL:
	case COST_DIV:
	case COST_BRANCH:	/* jmp [m]: the target is loaded */
	case COST_FP:
	case COST_SIMD:
	case COST_SERIAL:	/* lgdt [m], sidt [m], ... */
	case COST_OTHER:
		return true;
	default:
		/* stack, call, ret, string, io, int, msr, tsc, nop, pause, hlt:
		 * the class cost is the whole instruction. */
		return false;
	}
}

/* A marker: `nopl 0x4856IIII(%reg)` (include/hv/marker.h). */
static bool is_marker(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	return in->id == X86_INS_NOP && x->op_count == 1 && x->operands[0].type == X86_OP_MEM &&
	       x->operands[0].mem.index == X86_REG_INVALID && x->operands[0].mem.base != X86_REG_INVALID &&
	       x->operands[0].mem.base != X86_REG_RIP &&
	       ((uint64_t)x->operands[0].mem.disp >> 16 & 0xffff) == HV_MARKER_MAGIC &&
	       x->operands[0].mem.disp == (int32_t)x->operands[0].mem.disp;
}

/* The VMX instructions sim/cpu/vmx.c implements (SDM Vol. 3C ch. 31). */
static bool is_vmx_insn(unsigned id)
{
	switch (id) {
	case X86_INS_VMCALL:
	case X86_INS_VMLAUNCH:
	case X86_INS_VMRESUME:
	case X86_INS_VMXON:
	case X86_INS_VMXOFF:
	case X86_INS_VMCLEAR:
	case X86_INS_VMPTRLD:
	case X86_INS_VMPTRST:
	case X86_INS_VMREAD:
	case X86_INS_VMWRITE:
	case X86_INS_INVEPT:
	case X86_INS_INVVPID:
		return true;
	default:
		return false;
	}
}

static uint32_t price(const struct cost_model *cm, const cs_insn *in, enum cost_class *cls_out)
{
	enum cost_class cls = classify(in);
	uint64_t cycles = cm->cost[cls];

	/* A marker never perturbs simulated time (DESIGN.md "Markers"). */
	if (is_marker(in)) {
		*cls_out = cls;
		return 0;
	}
	/* A VMX instruction costs nothing in its block: vmx.c charges the
	 * profile's vmx_costs figure when it executes (VM entry and exit
	 * for VMLAUNCH, VMRESUME and the exits non-root ones cause), so a
	 * VMCALL round trip costs exactly vm_exit + vm_entry. */
	if (is_vmx_insn(in->id)) {
		*cls_out = cls;
		return 0;
	}

	if (takes_memory_extra(cls)) {
		bool rd, wr;

		memory_access(in, cls, &rd, &wr);
		if (rd)
			cycles += cm->cost[COST_LOAD];
		if (wr)
			cycles += cm->cost[COST_STORE];
	}
	*cls_out = cls;
	return cycles > UINT32_MAX ? UINT32_MAX : (uint32_t)cycles;
}

static int is_reg_in(unsigned r, unsigned first, unsigned last)
{
	return r >= first && r <= last;
}

static int site_kind(const cs_insn *in)
{
	const cs_x86 *x = &in->detail->x86;

	if (is_marker(in))
		return SITE_MARKER;
	switch (in->id) {
	case X86_INS_MOV:
		/* MOV CR (0F 20/22) and MOV DR (0F 21/23): one operand is the
		 * control or debug register. */
		for (unsigned i = 0; i < x->op_count && i < 2; i++) {
			if (x->operands[i].type != X86_OP_REG)
				continue;
			if (is_reg_in(x->operands[i].reg, X86_REG_CR0, X86_REG_CR15))
				return SITE_MOV_CR;
			if (is_reg_in(x->operands[i].reg, X86_REG_DR0, X86_REG_DR15))
				return SITE_MOV_DR;
		}
		/* MOV SS (8E /2): the blocking it sets is by MOV SS. */
		if (x->op_count >= 1 && x->operands[0].type == X86_OP_REG && x->operands[0].reg == X86_REG_SS)
			return SITE_MOV_SS;
		return 0;
	case X86_INS_CLTS:
		return SITE_CLTS;
	case X86_INS_LMSW:
		return SITE_LMSW;
	case X86_INS_SMSW:
		return SITE_SMSW;
	case X86_INS_IN:
	case X86_INS_OUT:
	case X86_INS_INSB:
	case X86_INS_INSW:
	case X86_INS_INSD:
	case X86_INS_OUTSB:
	case X86_INS_OUTSW:
	case X86_INS_OUTSD:
		return SITE_IO;
	case X86_INS_CPUID:
		return SITE_CPUID;
	case X86_INS_SYSCALL:
		return SITE_SYSCALL;
	case X86_INS_PAUSE:
		return SITE_PAUSE;
	case X86_INS_INVD:
		return SITE_INVD;
	case X86_INS_XSETBV:
		return SITE_XSETBV;
	case X86_INS_POP:
		/* POP SS (17) */
		return x->op_count >= 1 && x->operands[0].type == X86_OP_REG && x->operands[0].reg == X86_REG_SS ?
			       SITE_MOV_SS : 0;
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
		return SITE_IRET;
	case X86_INS_LCALL:	/* 9A ptr16:16/32 and FF /3 m16:16/32/64 */
		return SITE_CALL_FAR;
	case X86_INS_LJMP:	/* EA ptr16:16/32 and FF /5 m16:16/32/64 */
		return SITE_JMP_FAR;
	case X86_INS_RDMSR:
		return SITE_RDMSR;
	case X86_INS_WRMSR:
		return SITE_WRMSR;
	case X86_INS_RDTSC:
		return SITE_RDTSC;
	case X86_INS_RDTSCP:
		return SITE_RDTSCP;
	case X86_INS_INVLPG:
		return SITE_INVLPG;
	default:
		return 0;
	}
}

static int sets_if(unsigned id)
{
	switch (id) {
	case X86_INS_STI:
	case X86_INS_POPF:
	case X86_INS_POPFD:
	case X86_INS_POPFQ:
	case X86_INS_IRET:
	case X86_INS_IRETD:
	case X86_INS_IRETQ:
	case X86_INS_SYSRET:
	case X86_INS_SYSEXIT:
	case X86_INS_RSM:
		return 1;
	default:
		return 0;
	}
}

/* What can set IF can change RFLAGS.AC too, STI excepted; far RET,
 * SYSENTER and a far CALL through a call gate change the CPL. */
static int changes_ac(unsigned id)
{
	switch (id) {
	case X86_INS_STI:
		return 0;
	case X86_INS_RETF:
	case X86_INS_RETFQ:
	case X86_INS_SYSENTER:
	case X86_INS_STAC:
	case X86_INS_CLAC:
	case X86_INS_LCALL:
		return 1;
	default:
		return sets_if(id);
	}
}

int cost_price_block(struct cost_model *cm, const uint8_t *code, size_t len, uint64_t addr,
		     unsigned mode_bits, uint32_t ninsn, struct cost_block *out)
{
	int mi = mode_index(mode_bits);
	const uint8_t *p = code;
	size_t left = len;
	uint64_t pc = addr, cycles = 0;
	uint32_t n = 0;

	if (!out)
		return -EINVAL;
	out->ninsn = out->nbytes = out->nsites = out->overflow = out->flags = 0;
	out->cycles = 0;
	if (!cm || mi < 0 || (!code && len))
		return -EINVAL;

	while (ninsn == 0 || n < ninsn) {
		enum cost_class cls;
		uint32_t c;
		int kind;

		if (left == 0 || !cs_disasm_iter(cm->cs[mi], &p, &left, &pc, cm->insn))
			break;
		kind = site_kind(cm->insn);
		c = price(cm, cm->insn, &cls);
		if (sets_if(cm->insn->id))
			out->flags |= COST_BLOCK_SETS_IF;
		if (changes_ac(cm->insn->id))
			out->flags |= COST_BLOCK_AC;
		if (kind) {
			if (out->nsites < COST_MAX_SITES) {
				struct cost_site *s = &out->sites[out->nsites++];

				s->addr = cm->insn->address;
				s->prefix_cycles = cycles > UINT32_MAX ? UINT32_MAX : (uint32_t)cycles;
				s->end_cycles = cycles + c > UINT32_MAX ? UINT32_MAX : (uint32_t)(cycles + c);
				s->index = n;
				s->size = cm->insn->size;
				s->kind = (uint8_t)kind;
				s->marker = kind == SITE_MARKER ? (uint16_t)cm->insn->detail->x86.operands[0].mem.disp : 0;
				s->marker_reg = kind == SITE_MARKER ? (uint16_t)cm->insn->detail->x86.operands[0].mem.base : 0;
			} else {
				out->overflow = 1;
			}
		}
		cycles += c;
		n++;
	}
	out->nbytes = (uint32_t)(p - code);

	/* Stopped early at bytes Capstone cannot decode (or a truncated
	 * instruction): the CPU still executes whatever is there, so charge
	 * the remainder as `other` rather than nothing: the instructions
	 * still owed when ninsn was given, else one. */
	if (ninsn ? n < ninsn : left > 0) {
		uint32_t rest = ninsn ? ninsn - n : 1;

		cycles += (uint64_t)rest * cm->cost[COST_OTHER];
		n += rest;
	}
	out->ninsn = n;
	out->cycles = cycles;
	return 0;
}

int cost_classify(struct cost_model *cm, const uint8_t *code, size_t len, uint64_t addr,
		  unsigned mode_bits, enum cost_class *cls, uint32_t *cycles)
{
	int mi = mode_index(mode_bits);
	const uint8_t *p = code;
	size_t left = len;
	uint64_t pc = addr;
	enum cost_class c;
	uint32_t cyc;

	if (!cm || mi < 0 || !code || !cls || !cycles)
		return -EINVAL;
	if (!cs_disasm_iter(cm->cs[mi], &p, &left, &pc, cm->insn)) {
		/* What cost_price_block charges for undecodable bytes. */
		*cls = COST_OTHER;
		*cycles = cm->cost[COST_OTHER];
		return -EINVAL;
	}
	cyc = price(cm, cm->insn, &c);
	*cls = c;
	*cycles = cyc;
	return 0;
}
