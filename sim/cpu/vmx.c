/* VMX: ring -1 as the Intel SDM Vol. 3C defines it (chapters 23-29,
 * appendices A-C): capability MSRs, the VMX instructions with their
 * VM-instruction errors, the VMCS, VM entry with its checks, VM exits,
 * and EPT/VPID translation for non-root engines.
 *
 * Non-root code runs in its own Unicorn engine per VMCS (DESIGN.md
 * "Engines"), in UC_TLB_VIRTUAL mode: every TLB miss comes to
 * tlb_fill(), which walks the guest's paging structures (pagewalk.c) with
 * each guest-physical access translated through EPT (ept.c).  A refused
 * fill stops the engine with a precise RIP (measured with Unicorn 2.1.1),
 * so page faults and EPT violations are exact.
 *
 * APIC virtualization (SDM 29): the TPR shadow with MOV CR8, the
 * APIC-access page and the x2APIC TPR MSR (the end of this file).
 *
 * What is not modelled is not offered: its allowed-1 bit is 0 in the
 * capability MSRs (vmx_init), so a VM entry that asks for it fails the
 * control checks exactly as on a processor without it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <capstone/capstone.h>

#include "cpu_priv.h"
#include "diag.h"
#include "ept.h"
#include "hv/vmx.h"
#include "pagewalk.h"
#include "trace.h"
#include "vmx_check.h"

#define CR0_NE (1ull << 5)
#define CR4_VMXE (1ull << 13)
#define CR4_PCIDE (1ull << 17)
#define RFLAGS_CF (1ull << 0)
#define RFLAGS_PF (1ull << 2)
#define RFLAGS_AF (1ull << 4)
#define RFLAGS_ZF (1ull << 6)
#define RFLAGS_SF (1ull << 7)
#define RFLAGS_OF (1ull << 11)
#define RFLAGS_ARITH (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

#define MSR_IA32_DEBUGCTL 0x1d9

#define VMCS_NONE (~0ull)

/* Controls the model implements: the allowed-1 settings a profile's
 * capability MSRs are masked with.  The reserved-1 ("default1") bits of
 * SDM A.2-A.5 are included: they have no function to model. */
#define PIN_IMPL (PIN_BASED_DEFAULT1 | PIN_BASED_EXT_INTR_EXITING | PIN_BASED_NMI_EXITING | \
		  PIN_BASED_VIRTUAL_NMIS | PIN_BASED_PREEMPTION_TIMER)
#define PROC_IMPL (PROC_BASED_DEFAULT1 | CPU_BASED_INTR_WINDOW_EXITING | CPU_BASED_TSC_OFFSETTING | \
		   CPU_BASED_HLT_EXITING | CPU_BASED_INVLPG_EXITING | CPU_BASED_MWAIT_EXITING | \
		   CPU_BASED_RDPMC_EXITING | CPU_BASED_RDTSC_EXITING | CPU_BASED_CR3_LOAD_EXITING | \
		   CPU_BASED_CR3_STORE_EXITING | CPU_BASED_CR8_LOAD_EXITING | CPU_BASED_CR8_STORE_EXITING | \
		   CPU_BASED_NMI_WINDOW_EXITING | CPU_BASED_MOV_DR_EXITING | CPU_BASED_UNCOND_IO_EXITING | \
		   CPU_BASED_USE_IO_BITMAPS | CPU_BASED_USE_MSR_BITMAPS | CPU_BASED_MONITOR_EXITING | \
		   CPU_BASED_PAUSE_EXITING | CPU_BASED_TPR_SHADOW | CPU_BASED_ACTIVATE_SECONDARY_CONTROLS)
#define PROC2_IMPL (SECONDARY_ENABLE_EPT | SECONDARY_ENABLE_RDTSCP | SECONDARY_ENABLE_VPID | \
		    SECONDARY_VIRTUALIZE_APIC_ACCESSES | SECONDARY_VIRTUALIZE_X2APIC | SECONDARY_UNRESTRICTED_GUEST)
#define EXIT_IMPL (EXIT_DEFAULT1 | VM_EXIT_SAVE_DEBUG_CONTROLS | VM_EXIT_HOST_ADDR_SPACE_SIZE | \
		   VM_EXIT_ACK_INTR_ON_EXIT | VM_EXIT_SAVE_PAT | VM_EXIT_LOAD_PAT | VM_EXIT_SAVE_EFER | \
		   VM_EXIT_LOAD_EFER | VM_EXIT_SAVE_PREEMPTION_TIMER)
#define ENTRY_IMPL (ENTRY_DEFAULT1 | VM_ENTRY_LOAD_DEBUG_CONTROLS | VM_ENTRY_IA32E_MODE | \
		    VM_ENTRY_LOAD_PAT | VM_ENTRY_LOAD_EFER)
/* EPT/VPID capabilities (SDM A.10): execute-only, 4-level walks, UC and
 * WB structures, 2 MiB and 1 GiB pages, A/D flags, INVEPT (single and
 * all context), INVVPID (all four types). */
#define EPT_VPID_IMPL ((1ull << 0) | (1ull << 6) | (1ull << 8) | (1ull << 14) | (1ull << 16) | \
		       (1ull << 17) | (1ull << 20) | (1ull << 21) | (1ull << 25) | (1ull << 26) | \
		       (1ull << 32) | (1ull << 40) | (1ull << 41) | (1ull << 42) | (1ull << 43))

enum { CAP_BASIC, CAP_PIN, CAP_PROC, CAP_EXIT, CAP_ENTRY, CAP_MISC, CAP_CR0_FIXED0, CAP_CR0_FIXED1,
       CAP_CR4_FIXED0, CAP_CR4_FIXED1, CAP_VMCS_ENUM, CAP_PROC2, CAP_EPT_VPID, CAP_TRUE_PIN, CAP_TRUE_PROC,
       CAP_TRUE_EXIT, CAP_TRUE_ENTRY, CAP_VMFUNC };

/* ---- small helpers ---------------------------------------------------- */

static struct vmx *V(struct cpu *c)
{
	return &c->vmx;
}

static uint64_t vget(struct cpu *c, uint32_t enc)
{
	return vmcs_get(&c->vmx.vmcs, enc);
}

static void vset(struct cpu *c, uint32_t enc, uint64_t v)
{
	vmcs_set(&c->vmx.vmcs, enc, v);
}

static int canonical(uint64_t a)
{
	return (uint64_t)((int64_t)(a << 16) >> 16) == a;
}

static int pa_valid(struct cpu *c, uint64_t pa)
{
	return !(pa >> c->vmx.maxphyaddr);
}

static uint64_t allowed1(struct cpu *c, int which)
{
	return c->vmx.cap[which] >> 32;
}

/* The capability MSR that governs a control word: the TRUE_ one when
 * IA32_VMX_BASIC[55] says it exists (SDM A.2). */
static uint64_t ctl_cap(struct cpu *c, int plain, int true_cap)
{
	return (c->vmx.cap[CAP_BASIC] & (1ull << 55)) ? c->vmx.cap[true_cap] : c->vmx.cap[plain];
}

static int ctl_ok(uint64_t cap, uint32_t v)
{
	uint32_t must1 = (uint32_t)cap, may1 = (uint32_t)(cap >> 32);

	return (v & must1) == must1 && !(v & ~may1);
}

static void charge(struct cpu *c, enum vmx_cost k)
{
	c->cycles += c->vmx.costs[k];
}

/* An event for the run's trace (traces/trace.h), stamped with the LP
 * clock.  A failed write is the writer's to report at close. */
static void event(struct cpu *c, unsigned kind, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
	struct trace_event ev = {
		.cycle = c->cycles, .kind = (uint16_t)kind, .lp = (uint16_t)c->index, .arg = { a0, a1, a2, a3 },
	};

	marks_current(c, &ev.partition, &ev.vp);
	if (c->trace)
		trace_emit(c->trace, &ev);
}

/* ---- VMCS cache and region (SDM 24.1, 24.11.1) ------------------------ */

static int phys_r(struct cpu *c, uint64_t pa, void *b, size_t n)
{
	return memmap_read_phys(c->mem, pa, b, n);
}

static int phys_w(struct cpu *c, uint64_t pa, const void *b, size_t n)
{
	return memmap_write_phys(c->mem, pa, b, n);
}

/* VTPR, the 32 bits at offset 80H of the virtual-APIC page (SDM 29.1.1);
 * an address outside memory reads as 0. */
static uint32_t vtpr_read(struct cpu *c)
{
	uint32_t v = 0;

	if (phys_r(c, vget(c, VMCS_VIRTUAL_APIC_PAGE_ADDR) + VAPIC_TPR_OFFSET, &v, 4))
		v = 0;
	return v;
}

/* Write the cached VMCS back to its region (VMCLEAR, VMPTRLD of another). */
static void vmcs_flush(struct cpu *c)
{
	struct vmx *x = V(c);

	if (x->current == VMCS_NONE)
		return;
	phys_w(c, x->current + VMCS_REGION_DATA, x->vmcs.v, sizeof(x->vmcs.v));
	phys_w(c, x->current + VMCS_REGION_LAUNCH, &x->launched, 1);
}

static void vmcs_load(struct cpu *c, uint64_t pa)
{
	struct vmx *x = V(c);

	x->current = pa;
	if (phys_r(c, pa + VMCS_REGION_DATA, x->vmcs.v, sizeof(x->vmcs.v)))
		memset(x->vmcs.v, 0xff, sizeof(x->vmcs.v));
	if (phys_r(c, pa + VMCS_REGION_LAUNCH, &x->launched, 1))
		x->launched = 0;
}

/* Flags of the VMX instructions' outcomes (SDM 31.2 "Conventions"). */
static void vm_succeed(struct cpu *c)
{
	set_reg(c, UC_X86_REG_RFLAGS, reg(c, UC_X86_REG_RFLAGS) & ~RFLAGS_ARITH);
}

static void vm_fail(struct cpu *c, unsigned err)
{
	uint64_t f = reg(c, UC_X86_REG_RFLAGS) & ~RFLAGS_ARITH;

	if (c->vmx.current == VMCS_NONE) {
		f |= RFLAGS_CF;		/* VMfailInvalid */
	} else {
		f |= RFLAGS_ZF;		/* VMfailValid */
		vset(c, VMCS_VM_INSTRUCTION_ERROR, err);
	}
	set_reg(c, UC_X86_REG_RFLAGS, f);
}

static void vm_fail_invalid(struct cpu *c)
{
	set_reg(c, UC_X86_REG_RFLAGS, (reg(c, UC_X86_REG_RFLAGS) & ~RFLAGS_ARITH) | RFLAGS_CF);
}

/* ---- capabilities (SDM Appendix A) ------------------------------------ */

static int field_supported(struct cpu *c, const struct vmcs_field *f);
static int vmx_trace;	/* HVSIM_DEBUG=vmx: name each failed check, trace transitions */

static uint64_t *msr_slot(struct cpu *c, uint32_t idx)
{
	const struct profile_msr *pm = profile_find_msr(c->prof, idx);

	return pm ? &c->msr[pm - c->prof->msrs] : NULL;
}

/* Mask a control capability MSR with what the model implements; a
 * must-be-1 setting the model lacks makes the profile unusable. */
static int mask_ctl(struct cpu *c, int cap, uint32_t idx, uint32_t impl)
{
	uint64_t *m = msr_slot(c, idx);
	uint32_t must1, may1;

	if (!m)
		return 0;
	must1 = (uint32_t)*m;
	may1 = (uint32_t)(*m >> 32) & impl;
	if (must1 & ~may1) {
		diag_error("profile %s: MSR 0x%x requires controls 0x%x that hvsim does not model", c->prof->name, idx,
			   must1 & ~may1);
		return -EINVAL;
	}
	*m = must1 | ((uint64_t)may1 << 32);
	c->vmx.cap[cap] = *m;
	return 0;
}

int vmx_init(struct cpu *c)
{
	struct vmx *x = V(c);
	uint32_t r[4];
	uint64_t *m;
	csh h;

	x->current = VMCS_NONE;
	x->preempt_deadline = -1;
	x->apic_access = ~0ull;
	vmx_trace = getenv("HVSIM_DEBUG") && strstr(getenv("HVSIM_DEBUG"), "vmx");
	profile_cpuid(c->prof, 1, 0, r);
	x->supported = (r[2] >> 5) & 1;
	profile_cpuid(c->prof, 0x80000008, 0, r);
	x->maxphyaddr = (r[0] & 0xff) ? (r[0] & 0xff) : 36;
	if (!x->supported)
		return 0;
	if (!c->prof->has_vmx) {
		diag_error("profile %s: CPUID reports VMX but the profile has no vmx_costs", c->prof->name);
		return -EINVAL;
	}
	memcpy(x->costs, c->prof->vmx_cost, sizeof(c->prof->vmx_cost));
	m = msr_slot(c, MSR_IA32_VMX_BASIC);
	if (!m) {
		diag_error("profile %s: CPUID reports VMX but IA32_VMX_BASIC is not listed", c->prof->name);
		return -EINVAL;
	}
	x->cap[CAP_BASIC] = *m;
	x->revision = (uint32_t)*m & 0x7fffffff;
	if (mask_ctl(c, CAP_PIN, MSR_IA32_VMX_PINBASED_CTLS, PIN_IMPL) ||
	    mask_ctl(c, CAP_PROC, MSR_IA32_VMX_PROCBASED_CTLS, PROC_IMPL) ||
	    mask_ctl(c, CAP_EXIT, MSR_IA32_VMX_EXIT_CTLS, EXIT_IMPL) ||
	    mask_ctl(c, CAP_ENTRY, MSR_IA32_VMX_ENTRY_CTLS, ENTRY_IMPL) ||
	    mask_ctl(c, CAP_PROC2, MSR_IA32_VMX_PROCBASED_CTLS2, PROC2_IMPL) ||
	    mask_ctl(c, CAP_TRUE_PIN, MSR_IA32_VMX_TRUE_PINBASED_CTLS, PIN_IMPL) ||
	    mask_ctl(c, CAP_TRUE_PROC, MSR_IA32_VMX_TRUE_PROCBASED_CTLS, PROC_IMPL) ||
	    mask_ctl(c, CAP_TRUE_EXIT, MSR_IA32_VMX_TRUE_EXIT_CTLS, EXIT_IMPL) ||
	    mask_ctl(c, CAP_TRUE_ENTRY, MSR_IA32_VMX_TRUE_ENTRY_CTLS, ENTRY_IMPL))
		return -EINVAL;
	if ((m = msr_slot(c, MSR_IA32_VMX_MISC))) {
		/* Activity states: HLT (bit 6) and wait-for-SIPI (bit 8); not
		 * shutdown (bit 7).  No VMWRITE to exit-information fields (bit
		 * 29), no zero-length software-event injection (bit 30), no CR3
		 * targets beyond 4. */
		*m &= ~((1ull << 7) | (1ull << 29) | (1ull << 30));
		x->cap[CAP_MISC] = *m;
	}
	if ((m = msr_slot(c, MSR_IA32_VMX_EPT_VPID_CAP))) {
		*m &= EPT_VPID_IMPL;
		x->cap[CAP_EPT_VPID] = *m;
	}
	if ((m = msr_slot(c, MSR_IA32_VMX_VMCS_ENUM))) {
		/* Highest index of the fields offered (SDM A.9). */
		unsigned hi = 0;

		for (size_t i = 0; i < vmcs_field_count(); i++) {
			const struct vmcs_field *f = vmcs_field_at(i);

			if (field_supported(c, f) && ((f->encoding >> 1) & 0x1ff) > hi)
				hi = (f->encoding >> 1) & 0x1ff;
		}
		*m = (uint64_t)hi << 1;
		x->cap[CAP_VMCS_ENUM] = *m;
	}
	for (int i = CAP_CR0_FIXED0; i <= CAP_CR4_FIXED1; i++)
		if ((m = msr_slot(c, MSR_IA32_VMX_CR0_FIXED0 + (i - CAP_CR0_FIXED0))))
			x->cap[i] = *m;
	if (!(x->cap[CAP_PROC] >> 63))
		x->cap[CAP_PROC2] = 0;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOMEM;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	x->cs = (void *)(uintptr_t)h;
	return 0;
}

void vmx_free(struct cpu *c)
{
	csh h = (csh)(uintptr_t)c->vmx.cs;

	for (int i = 0; i < VMX_GUEST_ENGINES; i++)
		cpu_engine_close(&c->vmx.guests[i]);
	if (h)
		cs_close(&h);
}

/* What the secondary controls are in effect (0 unless activated). */
static uint32_t proc2(struct cpu *c)
{
	return (vget(c, VMCS_PROC_BASED_CTLS) & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) ?
		       (uint32_t)vget(c, VMCS_PROC_BASED_CTLS2) : 0;
}

static int ept_on(struct cpu *c)
{
	return !!(proc2(c) & SECONDARY_ENABLE_EPT);
}

/* "Unrestricted guest" in effect: the guest may run with CR0.PE or PG
 * clear, in real mode or protected mode without paging (SDM 23.8; 25.6.2,
 * table of secondary processor-based controls). */
static int unrestricted(struct cpu *c)
{
	return !!(proc2(c) & SECONDARY_UNRESTRICTED_GUEST);
}

static void ept_caps(struct cpu *c, struct ept_caps *k)
{
	ept_caps_from_msr(c->vmx.cap[CAP_EPT_VPID], c->vmx.maxphyaddr, k);
}

/* Is a VMCS field present on this processor?  Fields of features whose
 * controls cannot be set are unsupported components (SDM 24.11.2). */
static int field_supported(struct cpu *c, const struct vmcs_field *f)
{
	uint32_t p2 = (uint32_t)allowed1(c, CAP_PROC2), pin = (uint32_t)allowed1(c, CAP_PIN);
	uint32_t proc = (uint32_t)allowed1(c, CAP_PROC), ex = (uint32_t)allowed1(c, CAP_EXIT);
	uint32_t en = (uint32_t)allowed1(c, CAP_ENTRY);

	switch (f->feature) {
	case VMCS_FEAT_NONE:
		return 1;
	case VMCS_FEAT_MSR_BITMAPS:
		return !!(proc & CPU_BASED_USE_MSR_BITMAPS);
	case VMCS_FEAT_SECONDARY:
		return !!(proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS);
	case VMCS_FEAT_EPT:
		return !!(p2 & SECONDARY_ENABLE_EPT);
	case VMCS_FEAT_VPID:
		return !!(p2 & SECONDARY_ENABLE_VPID);
	case VMCS_FEAT_PREEMPTION_TIMER:
		return !!(pin & PIN_BASED_PREEMPTION_TIMER);
	case VMCS_FEAT_TPR_SHADOW:
		return !!(proc & CPU_BASED_TPR_SHADOW);
	case VMCS_FEAT_APIC_ACCESS:
		return !!(p2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES);
	case VMCS_FEAT_PAT:
		return !!((ex & (VM_EXIT_SAVE_PAT | VM_EXIT_LOAD_PAT)) || (en & VM_ENTRY_LOAD_PAT));
	case VMCS_FEAT_EFER:
		return !!((ex & (VM_EXIT_SAVE_EFER | VM_EXIT_LOAD_EFER)) || (en & VM_ENTRY_LOAD_EFER));
	default:
		return 0;	/* a feature whose controls cannot be set */
	}
}

/* ---- operands of VMX instructions ------------------------------------- */

static int seg_num(unsigned r)
{
	switch (r) {
	case X86_REG_ES: return 0;
	case X86_REG_CS: return 1;
	case X86_REG_SS: return 2;
	case X86_REG_DS: return 3;
	case X86_REG_FS: return 4;
	case X86_REG_GS: return 5;
	default: return -1;
	}
}

/* Linear address of a memory operand, with the base and index GPR
 * numbers and the segment (0 ES .. 5 GS) an exit reports. */
static int op_lin(struct cpu *c, const cs_insn *in, const cs_x86_op *o, uint64_t rip, unsigned bits, uint64_t *lin,
		  int *b, int *ix, int *sg)
{
	const cs_x86 *x = &in->detail->x86;
	unsigned asz = x->addr_size ? x->addr_size : bits / 8;
	uint64_t ea = (uint64_t)o->mem.disp;
	struct cpu_sysstate s;
	int u;

	*b = *ix = -1;
	if (o->mem.base == X86_REG_RIP || o->mem.base == X86_REG_EIP) {
		ea += rip + in->size;
	} else if (o->mem.base != X86_REG_INVALID) {
		*b = cpu_cs_gpr(o->mem.base, &u);
		if (*b >= 0)
			ea += reg(c, u);
	}
	if (o->mem.index != X86_REG_INVALID) {
		*ix = cpu_cs_gpr(o->mem.index, &u);
		if (*ix >= 0)
			ea += reg(c, u) * (uint64_t)o->mem.scale;
	}
	if (asz == 4)
		ea &= 0xffffffffull;
	else if (asz == 2)
		ea &= 0xffff;
	*sg = seg_num(o->mem.segment);
	if (*sg < 0)
		*sg = (*b == 4 || *b == 5) ? 2 : 3;
	if (cpu_ctx_read(c->e->ctx, &s))
		return -1;
	/* In 64-bit mode only FS and GS have bases (SDM 3.4.4). */
	if (bits != 64 || *sg >= 4) {
		static const int m[6] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

		ea += s.seg[m[*sg]].base;
	}
	*lin = ea;
	return 0;
}

/* Decode the instruction at RIP (linear address `lin`) in the current
 * code size.  Returns it (cs_free it), or NULL. */
static cs_insn *disasm_at(struct cpu *c, uint64_t rip, uint64_t lin)
{
	csh h = (csh)(uintptr_t)c->vmx.cs;
	unsigned bits = cpu_ctx_code_bits(c->e->ctx);
	uint8_t code[16];
	cs_insn *in;

	/* Near the end of a page the rest may not be mapped: the longest
	 * VMX instruction form still fits in what is. */
	if (cpu_lin_peek(c, lin, code, sizeof(code), 1) && cpu_lin_peek(c, lin, code, 4, 1))
		return NULL;
	cs_option(h, CS_OPT_MODE, bits == 64 ? CS_MODE_64 : bits == 32 ? CS_MODE_32 : CS_MODE_16);
	if (cs_disasm(h, code, sizeof(code), rip, 1, &in) != 1)
		return NULL;
	return in;
}

/* The exact linear address an instruction at RIP accessed in page
 * `page` (a TLB fill only names the page): an explicit memory operand,
 * the stack, or a string operand; the page itself if none matches.
 * page ~0: the first explicit memory operand (INVLPG's). */
static uint64_t access_addr(struct cpu *c, uint64_t page, int fetch)
{
	uint64_t rip = reg(c, UC_X86_REG_RIP), lin = cpu_rip_linear(c, rip), a = page;
	unsigned bits = cpu_ctx_code_bits(c->e->ctx);
	cs_insn *in;

	if (fetch)
		return (lin & ~0xfffull) == page ? lin : page;
	in = disasm_at(c, rip, lin);
	if (!in)
		return page;
	for (int i = 0; i < in->detail->x86.op_count; i++) {
		const cs_x86_op *o = &in->detail->x86.operands[i];
		uint64_t ea;
		int b, ix, sg;

		if (o->type == X86_OP_MEM && !op_lin(c, in, o, rip, bits, &ea, &b, &ix, &sg) &&
		    (page == ~0ull || (ea & ~0xfffull) == page)) {
			a = ea;
			goto done;
		}
	}
	{
		uint64_t cand[4] = { reg(c, UC_X86_REG_RSP), reg(c, UC_X86_REG_RSP) - bits / 8, reg(c, UC_X86_REG_RSI),
				     reg(c, UC_X86_REG_RDI) };

		for (int i = 0; i < 4; i++)
			if ((cand[i] & ~0xfffull) == page) {
				a = cand[i];
				break;
			}
	}
done:
	cs_free(in, 1);
	return a;
}

/* A decoded VMX instruction: its id, length, operands, and the
 * instruction-information field a VM exit reports for it (SDM 28.2.5,
 * "Format of the VM-Exit Instruction-Information Field"). */
struct vinsn {
	unsigned id, len, opsize;	/* opsize: 4 or 8 bytes (register operands) */
	int has_mem;
	uint64_t lin;			/* memory operand's linear address */
	int seg;			/* ... its segment, 0 ES .. 5 GS */
	int64_t disp;			/* ... its displacement: the exit qualification */
	int reg[2];			/* register operands (GPR numbers) or -1 */
	int ucreg[2];
	uint32_t info;
};

static uint32_t insn_exit_reason(unsigned id);

static int decode_vmx(struct cpu *c, uint64_t rip, uint64_t lin, struct vinsn *vi)
{
	csh h = (csh)(uintptr_t)c->vmx.cs;
	cs_insn *in;
	unsigned bits = cpu_ctx_code_bits(c->e->ctx);
	int ok = 0;

	memset(vi, 0, sizeof(*vi));
	vi->reg[0] = vi->reg[1] = -1;
	in = disasm_at(c, rip, lin);
	if (!in)
		return -1;
	if (!(cs_insn_group(h, in, X86_GRP_VM)) && in->id != X86_INS_INVEPT && in->id != X86_INS_INVVPID)
		goto out;
	/* Capstone's VM group holds AMD's SVM instructions too: on an Intel
	 * processor they are #UD (kvm-unit-tests' vmx "vmmcall"). */
	if (!insn_exit_reason(in->id))
		goto out;
	vi->id = in->id;
	vi->len = in->size;
	vi->opsize = bits == 64 ? 8 : 4;
	{
		const cs_x86 *x = &in->detail->x86;
		unsigned asz = x->addr_size ? x->addr_size : bits / 8;
		uint32_t info = (asz == 2 ? 0u : asz == 4 ? 1u : 2u) << 7;
		int nreg = 0;

		for (int i = 0; i < x->op_count; i++) {
			const cs_x86_op *o = &x->operands[i];

			if (o->type == X86_OP_REG) {
				if (nreg < 2) {
					vi->reg[nreg] = cpu_cs_gpr(o->reg, &vi->ucreg[nreg]);
					nreg++;
				}
			} else if (o->type == X86_OP_MEM) {
				int b = -1, ix = -1, sg;
				uint64_t ea;

				if (op_lin(c, in, o, rip, bits, &ea, &b, &ix, &sg))
					goto out;
				vi->has_mem = 1;
				vi->disp = o->mem.disp;
				vi->lin = ea;
				vi->seg = sg;
				info |= (uint32_t)sg << 15;
				info |= (o->mem.scale == 2 ? 1u : o->mem.scale == 4 ? 2u : o->mem.scale == 8 ? 3u : 0u);
				info |= ix >= 0 ? (uint32_t)ix << 18 : 1u << 22;
				info |= b >= 0 ? (uint32_t)b << 23 : 1u << 27;
			}
		}
		/* reg1 (bits 6:3) and reg2 (bits 31:28): VMREAD's destination
		 * register / VMWRITE's source register and the field register;
		 * INVEPT/INVVPID's type register (SDM Tables 28-11, 28-14). */
		switch (in->id) {
		case X86_INS_VMREAD:	/* vmread r/m, reg(field) */
			if (vi->reg[0] >= 0 && !vi->has_mem) {
				info |= (uint32_t)vi->reg[0] << 3 | 1u << 10;
				info |= (uint32_t)vi->reg[1] << 28;
			} else if (vi->reg[0] >= 0) {
				info |= (uint32_t)vi->reg[0] << 28;
			}
			break;
		case X86_INS_VMWRITE:	/* vmwrite reg(field), r/m */
			if (vi->reg[1] >= 0) {
				info |= (uint32_t)vi->reg[1] << 3 | 1u << 10;
				info |= (uint32_t)vi->reg[0] << 28;
			} else if (vi->reg[0] >= 0) {
				info |= (uint32_t)vi->reg[0] << 28;
			}
			break;
		case X86_INS_INVEPT:
		case X86_INS_INVVPID:
			if (vi->reg[0] >= 0)
				info |= (uint32_t)vi->reg[0] << 28;
			break;
		default:
			break;
		}
		vi->info = info;
	}
	ok = 1;
out:
	cs_free(in, 1);
	return ok ? 0 : -1;
}

/* Guest memory through the current engine; a fault is raised at the
 * instruction (it did not complete). */
static int mem_rw(struct cpu *c, uint64_t lin, void *b, size_t n, int write)
{
	uint32_t err;
	uint64_t fl;
	int r = cpu_lin_access(c, lin, b, n, write, &err, &fl);

	if (r == VEC_PF) {
		set_cr2(c, fl);
		cpu_raise_fault(c, VEC_PF, err);
		return -1;
	}
	if (r) {
		cpu_raise_fault(c, VEC_GP, 0);
		return -1;
	}
	return 0;
}

/* A VMX instruction's memory operand: in 64-bit mode a non-canonical
 * address is #SS(0) through SS, else #GP(0), before any access (SDM Vol. 3
 * 6.15, Vol. 2 "VMX Instruction Reference" protected-mode exceptions). */
static int op_rw(struct cpu *c, const struct vinsn *vi, void *b, size_t n, int write)
{
	if (cpu_ctx_code_bits(c->e->ctx) == 64 && (!canonical(vi->lin) || !canonical(vi->lin + n - 1))) {
		cpu_raise_fault(c, vi->seg == 2 ? VEC_SS : VEC_GP, 0);
		return -1;
	}
	return mem_rw(c, vi->lin, b, n, write);
}

/* ---- VMX instructions (SDM Vol. 3C ch. 31 / Vol. 2 "VMX Instruction
 * Reference") ---------------------------------------------------------- */

static void vmx_entry(struct cpu *c, int launch, uint64_t rip, unsigned len);
static void exit_now(struct cpu *c);
static int tpr_entry_exit(struct cpu *c);
static int apic_page_hit(struct cpu *c, uint64_t lin, uint64_t hpa, unsigned eacc);
static int apic_access(struct cpu *c);
static void vtpr_store(struct cpu *c, uint64_t v, unsigned n);
static int tpr_virtualize(struct cpu *c, uint64_t next);
static int x2apic_tpr(struct cpu *c, unsigned kind, uint64_t addr, unsigned size);

static void advance(struct cpu *c, uint64_t rip, unsigned len)
{
	set_reg(c, UC_X86_REG_RIP, rip + len);
}

/* Exit reason of a VMX instruction executed in non-root operation. */
static uint32_t insn_exit_reason(unsigned id)
{
	switch (id) {
	case X86_INS_VMCALL: return EXIT_REASON_VMCALL;
	case X86_INS_VMCLEAR: return EXIT_REASON_VMCLEAR;
	case X86_INS_VMLAUNCH: return EXIT_REASON_VMLAUNCH;
	case X86_INS_VMPTRLD: return EXIT_REASON_VMPTRLD;
	case X86_INS_VMPTRST: return EXIT_REASON_VMPTRST;
	case X86_INS_VMREAD: return EXIT_REASON_VMREAD;
	case X86_INS_VMRESUME: return EXIT_REASON_VMRESUME;
	case X86_INS_VMWRITE: return EXIT_REASON_VMWRITE;
	case X86_INS_VMXOFF: return EXIT_REASON_VMXOFF;
	case X86_INS_VMXON: return EXIT_REASON_VMXON;
	case X86_INS_INVEPT: return EXIT_REASON_INVEPT;
	case X86_INS_INVVPID: return EXIT_REASON_INVVPID;
	default: return 0;
	}
}

static void set_pending_exit(struct cpu *c, uint32_t reason, uint64_t qual, uint64_t rip, unsigned len,
			     uint32_t info)
{
	struct vmx_pending *p = &c->vmx.p;

	p->exit = 1;
	p->reason = reason;
	p->qual = qual;
	p->rip = rip;
	p->len = len;
	p->has_len = len != 0;
	p->info = info;
}

int vmx_handle_invalid(struct cpu *c, uint64_t rip, uint64_t lin)
{
	struct vmx *x = V(c);
	struct vinsn vi;
	struct cpu_sysstate s;
	uint64_t cr0, v;
	unsigned cpl;

	if (decode_vmx(c, rip, lin, &vi))
		return 0;
	if (!x->supported)
		return 0;	/* #UD: the processor has no VMX */
	if (cpu_ctx_read(c->e->ctx, &s))
		return 0;
	cr0 = s.cr0;
	/* VMCALL exits from VMX non-root operation whatever the mode: real
	 * mode (an unrestricted guest), virtual-8086 and compatibility mode
	 * included (SDM Vol. 2 VMCALL, "Operation"). */
	if (x->nonroot && x->on && vi.id == X86_INS_VMCALL) {
		set_pending_exit(c, EXIT_REASON_VMCALL, 0, rip, vi.len, 0);
		exit_now(c);
		return 1;
	}
	/* #UD conditions common to the others (SDM 31.3). */
	if (!(cr0 & CR0_PE) || (reg(c, UC_X86_REG_RFLAGS) & RFLAGS_VM) ||
	    ((s.efer & EFER_LMA) && !(s.seg[SEG_CS].attr & SEG_ATTR_L)))
		return 0;
	if (vi.id == X86_INS_VMXON) {
		if (!vi.has_mem || !(s.cr4 & CR4_VMXE))
			return 0;
	} else if (!x->on) {
		return 0;
	}
	if ((vi.id == X86_INS_INVEPT && !(allowed1(c, CAP_PROC2) & SECONDARY_ENABLE_EPT)) ||
	    (vi.id == X86_INS_INVVPID && !(allowed1(c, CAP_PROC2) & SECONDARY_ENABLE_VPID)))
		return 0;
	if ((vi.id == X86_INS_VMCLEAR || vi.id == X86_INS_VMPTRLD || vi.id == X86_INS_VMPTRST ||
	     vi.id == X86_INS_INVEPT || vi.id == X86_INS_INVVPID) && !vi.has_mem)
		return 0;
	if (x->nonroot) {
		set_pending_exit(c, insn_exit_reason(vi.id), vi.has_mem ? (uint64_t)vi.disp : 0, rip, vi.len,
				 vi.id == X86_INS_VMCALL || vi.id == X86_INS_VMLAUNCH ||
						 vi.id == X86_INS_VMRESUME || vi.id == X86_INS_VMXOFF ? 0 : vi.info);
		exit_now(c);
		return 1;
	}
	cpl = s.cpl;
	if (vi.id == X86_INS_VMCALL) {
		/* Root operation without the dual-monitor treatment of SMM. */
		if (cpl) {
			cpu_raise_fault(c, VEC_GP, 0);
			return 1;
		}
		vm_fail(c, VMXERR_VMCALL_IN_VMXROOT);
		advance(c, rip, vi.len);
		return 1;
	}
	if (cpl) {
		cpu_raise_fault(c, VEC_GP, 0);
		return 1;
	}
	switch (vi.id) {
	case X86_INS_VMXON: {
		uint64_t fc = 0, pa;
		uint32_t rev;

		charge(c, VMX_COST_VMXON);
		if (x->on) {
			vm_fail(c, VMXERR_VMXON_IN_VMXROOT);
			break;
		}
		/* CR0/CR4 fixed bits and IA32_FEATURE_CONTROL (SDM 23.7, 23.8). */
		cpu_msr_read(c, MSR_IA32_FEATURE_CONTROL, &fc, 0);
		if ((~cr0 & x->cap[CAP_CR0_FIXED0]) || (cr0 & ~x->cap[CAP_CR0_FIXED1]) ||
		    (~s.cr4 & x->cap[CAP_CR4_FIXED0]) || (s.cr4 & ~x->cap[CAP_CR4_FIXED1]) ||
		    !(fc & FEATURE_CONTROL_LOCKED) || !(fc & FEATURE_CONTROL_VMXON_OUTSIDE_SMX)) {
			cpu_raise_fault(c, VEC_GP, 0);
			return 1;
		}
		if (op_rw(c, &vi, &pa, 8, 0))
			return 1;
		if ((pa & 0xfff) || !pa_valid(c, pa)) {
			vm_fail_invalid(c);
			break;
		}
		if (phys_r(c, pa, &rev, 4) || rev != x->revision) {
			vm_fail_invalid(c);	/* includes bit 31 set (SDM 31.3 VMXON) */
			break;
		}
		x->on = 1;
		x->vmxon_ptr = pa;
		x->current = VMCS_NONE;
		vm_succeed(c);
		break;
	}
	case X86_INS_VMXOFF:
		charge(c, VMX_COST_VMXOFF);
		vmcs_flush(c);
		x->on = 0;
		x->current = VMCS_NONE;
		vm_succeed(c);
		break;
	case X86_INS_VMCLEAR: {
		uint64_t pa;
		uint8_t zero = 0;

		charge(c, VMX_COST_VMCLEAR);
		if (op_rw(c, &vi, &pa, 8, 0))
			return 1;
		if ((pa & 0xfff) || !pa_valid(c, pa)) {
			vm_fail(c, VMXERR_VMCLEAR_INVALID_ADDRESS);
			break;
		}
		if (pa == x->vmxon_ptr) {
			vm_fail(c, VMXERR_VMCLEAR_VMXON_POINTER);
			break;
		}
		if (pa == x->current) {
			vmcs_flush(c);
			x->current = VMCS_NONE;
		}
		/* Launch state "clear" in the region (SDM 24.11.3). */
		phys_w(c, pa + VMCS_REGION_LAUNCH, &zero, 1);
		vm_succeed(c);
		break;
	}
	case X86_INS_VMPTRLD: {
		uint64_t pa;
		uint32_t rev = 0;

		charge(c, VMX_COST_VMPTRLD);
		if (op_rw(c, &vi, &pa, 8, 0))
			return 1;
		if ((pa & 0xfff) || !pa_valid(c, pa)) {
			vm_fail(c, VMXERR_VMPTRLD_INVALID_ADDRESS);
			break;
		}
		if (pa == x->vmxon_ptr) {
			vm_fail(c, VMXERR_VMPTRLD_VMXON_POINTER);
			break;
		}
		phys_r(c, pa, &rev, 4);
		/* Bit 31 (shadow VMCS) needs VMCS shadowing, not offered. */
		if (rev != x->revision) {
			vm_fail(c, VMXERR_VMPTRLD_INCORRECT_REVISION_ID);
			break;
		}
		if (pa != x->current) {
			vmcs_flush(c);
			vmcs_load(c, pa);
		}
		vm_succeed(c);
		break;
	}
	case X86_INS_VMPTRST:
		charge(c, VMX_COST_VMPTRST);
		v = x->current;
		if (op_rw(c, &vi, &v, 8, 1))
			return 1;
		vm_succeed(c);
		break;
	case X86_INS_VMREAD:
	case X86_INS_VMWRITE: {
		int is_read = vi.id == X86_INS_VMREAD;
		int freg = is_read ? vi.reg[vi.has_mem ? 0 : 1] : vi.reg[0];
		int fuc = is_read ? vi.ucreg[vi.has_mem ? 0 : 1] : vi.ucreg[0];
		uint32_t enc;
		const struct vmcs_field *f;

		charge(c, is_read ? VMX_COST_VMREAD : VMX_COST_VMWRITE);
		if (x->current == VMCS_NONE) {
			vm_fail_invalid(c);
			break;
		}
		if (freg < 0)
			return 0;
		enc = (uint32_t)reg(c, fuc);
		if (vi.opsize == 8 && (reg(c, fuc) >> 32)) {
			/* Bits 63:32 of the field operand must be 0 (SDM VMREAD). */
			vm_fail(c, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
			break;
		}
		f = vmcs_field_find(enc);
		if (!f || !field_supported(c, f)) {
			vm_fail(c, VMXERR_UNSUPPORTED_VMCS_COMPONENT);
			break;
		}
		if (is_read) {
			v = vmcs_read_field(&x->vmcs, f, enc);
			if (vi.has_mem) {
				if (op_rw(c, &vi, &v, vi.opsize, 1))
					return 1;
			} else {
				set_reg(c, vi.ucreg[0], vi.opsize == 8 ? v : (uint32_t)v);
			}
		} else {
			v = 0;
			if (vi.has_mem) {
				if (op_rw(c, &vi, &v, vi.opsize, 0))
					return 1;
			} else {
				v = reg(c, vi.ucreg[1]);
				if (vi.opsize == 4)
					v = (uint32_t)v;
			}
			if (f->type == VMCS_TYPE_EXIT_INFO && !(x->cap[CAP_MISC] & (1ull << 29))) {
				vm_fail(c, VMXERR_VMWRITE_READ_ONLY_COMPONENT);
				break;
			}
			vmcs_write_field(&x->vmcs, f, enc, v);
			if (c->observer && c->observer->vmwrite)
				c->observer->vmwrite(c->observer->opaque, c, x->current, enc, v);
		}
		vm_succeed(c);
		break;
	}
	case X86_INS_VMLAUNCH:
	case X86_INS_VMRESUME:
		vmx_entry(c, vi.id == X86_INS_VMLAUNCH, rip, vi.len);
		return 1;
	case X86_INS_INVEPT:
	case X86_INS_INVVPID: {
		uint64_t type = reg(c, vi.ucreg[0]), desc[2];
		int ept = vi.id == X86_INS_INVEPT;
		uint64_t cap = x->cap[CAP_EPT_VPID];

		if (vi.opsize == 4)
			type = (uint32_t)type;
		charge(c, ept ? VMX_COST_INVEPT : VMX_COST_INVVPID);
		if (op_rw(c, &vi, desc, 16, 0))
			return 1;
		/* Supported types: INVEPT bits 25/26, INVVPID bits 40-43 of
		 * IA32_VMX_EPT_VPID_CAP (SDM A.10). */
		if (ept ? (type < 1 || type > 2 || !((cap >> (24 + type)) & 1)) :
			  (type > 3 || !((cap >> (40 + type)) & 1))) {
			vm_fail(c, VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID);
			break;
		}
		if (ept) {
			struct ept_caps k;

			ept_caps(c, &k);
			if (type == 1 && !ept_eptp_valid(desc[0], &k)) {
				vm_fail(c, VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID);
				break;
			}
			/* Guest-physical and combined mappings for that EPTP
			 * (or all) are dropped; hvsim keeps only combined
			 * ones, in each non-root engine's TLB. */
			for (int i = 0; i < VMX_GUEST_ENGINES; i++) {
				struct engine *g = &x->guests[i];

				if (g->uc && (type == 2 || (g->tlb_eptp & ~0xfffull) == (desc[0] & ~0xfffull))) {
					uc_ctl_flush_tlb(g->uc);
					g->tlb_valid = 0;
				}
			}
		} else {
			uint16_t vpid = (uint16_t)desc[0];

			if ((desc[0] >> 16) || (type != 2 && vpid == 0) || (type == 0 && !canonical(desc[1]))) {
				vm_fail(c, VMXERR_INVALID_OPERAND_TO_INVEPT_INVVPID);
				break;
			}
			/* Individual-address invalidation may invalidate more
			 * than asked (SDM 28.3.3.3): hvsim drops the whole
			 * VPID's translations. */
			for (int i = 0; i < VMX_GUEST_ENGINES; i++) {
				struct engine *g = &x->guests[i];

				if (g->uc && (type == 2 || g->tlb_vpid == vpid)) {
					uc_ctl_flush_tlb(g->uc);
					g->tlb_valid = 0;
				}
			}
		}
		vm_succeed(c);
		break;
	}
	default:
		return 0;
	}
	advance(c, rip, vi.len);
	return 1;
}

/* ---- VM entry (SDM Vol. 3C ch. 27 "VM Entries") ------------------------ */

/* A failed check names the SDM rule it implements. */
#define CHECK(cond, rule)                                                              \
	do {                                                                           \
		if (!(cond)) {                                                         \
			if (vmx_trace)                                                 \
				fprintf(stderr, "hvsim: LP%u: VM entry check failed: %s\n", \
					c->index, rule);                               \
			return -1;                                                     \
		}                                                                      \
	} while (0)

static int aligned_pa(struct cpu *c, uint64_t pa, uint64_t align)
{
	return !(pa & (align - 1)) && pa_valid(c, pa);
}

static int intr_info_valid(struct cpu *c)
{
	uint32_t ii = (uint32_t)vget(c, VMCS_ENTRY_INTR_INFO);
	unsigned type = (ii >> 8) & 7, vec = ii & 0xff;
	uint32_t len = (uint32_t)vget(c, VMCS_ENTRY_INSTRUCTION_LEN);
	int has_err;

	if (!(ii & INTR_INFO_VALID))
		return 1;
	/* SDM 27.2.1.3 "Checks on VM-Entry Control Fields", event injection. */
	if (type == 1 || (type == 7))
		return 0;	/* reserved; "other event" needs MTF, not offered */
	if (type == INTR_TYPE_NMI && vec != VEC_NMI)
		return 0;
	if (type == INTR_TYPE_HARD_EXCEPTION && vec > 31)
		return 0;
	/* Deliver-error-code is 1 exactly for a hardware exception that has
	 * an error code when "unrestricted guest" is 0 or the CR0 field has
	 * PE = 1; a real-mode guest takes no error code, so there it must be
	 * 0 (IA32_VMX_BASIC[56] is 0).  Bits 31:16 of the error code must be
	 * 0. */
	has_err = cpu_has_error_code(vec) && (!unrestricted(c) || (vget(c, VMCS_GUEST_CR0) & CR0_PE));
	if (!!(ii & INTR_INFO_DELIVER_CODE) != (type == INTR_TYPE_HARD_EXCEPTION && has_err))
		return 0;
	if ((ii & INTR_INFO_DELIVER_CODE) && (vget(c, VMCS_ENTRY_EXCEPTION_ERROR_CODE) >> 16))
		return 0;
	if (ii & 0x7ffff000)
		return 0;	/* bits 30:12 reserved */
	if ((type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_PRIV_SW_EXCEPTION || type == INTR_TYPE_SOFT_EXCEPTION) &&
	    (len < 1 || len > 15))
		return 0;
	return 1;
}

/* SDM 27.2.1 "Checks on VMX Controls". */
static int check_controls(struct cpu *c)
{
	uint32_t pin = (uint32_t)vget(c, VMCS_PIN_BASED_CTLS), proc = (uint32_t)vget(c, VMCS_PROC_BASED_CTLS);
	uint32_t exit = (uint32_t)vget(c, VMCS_EXIT_CTLS), entry = (uint32_t)vget(c, VMCS_ENTRY_CTLS);
	uint32_t p2 = proc2(c);

	CHECK(ctl_ok(ctl_cap(c, CAP_PIN, CAP_TRUE_PIN), pin), "27.2.1.1 pin-based controls reserved bits");
	CHECK(ctl_ok(ctl_cap(c, CAP_PROC, CAP_TRUE_PROC), proc), "27.2.1.1 primary processor-based controls");
	CHECK(!(proc & CPU_BASED_ACTIVATE_SECONDARY_CONTROLS) || ctl_ok(c->vmx.cap[CAP_PROC2], p2),
	      "27.2.1.1 secondary processor-based controls");
	CHECK(vget(c, VMCS_CR3_TARGET_COUNT) <= ((c->vmx.cap[CAP_MISC] >> 16) & 0x1ff),
	      "27.2.1.1 CR3-target count");
	CHECK(!(proc & CPU_BASED_USE_IO_BITMAPS) ||
		      (aligned_pa(c, vget(c, VMCS_IO_BITMAP_A), 4096) && aligned_pa(c, vget(c, VMCS_IO_BITMAP_B), 4096)),
	      "27.2.1.1 I/O-bitmap addresses");
	CHECK(!(proc & CPU_BASED_USE_MSR_BITMAPS) || aligned_pa(c, vget(c, VMCS_MSR_BITMAP), 4096),
	      "27.2.1.1 MSR-bitmap address");
	if (proc & CPU_BASED_TPR_SHADOW) {
		uint64_t thr = vget(c, VMCS_TPR_THRESHOLD);

		CHECK(aligned_pa(c, vget(c, VMCS_VIRTUAL_APIC_PAGE_ADDR), 4096), "27.2.1.1 virtual-APIC address");
		/* Virtual-interrupt delivery is not offered: these two apply. */
		CHECK(!(thr >> 4), "27.2.1.1 TPR threshold bits 31:4");
		CHECK((p2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES) || (thr & 0xf) <= ((vtpr_read(c) >> 4) & 0xf),
		      "27.2.1.1 TPR threshold above VTPR[7:4] without virtualize APIC accesses");
	} else {
		CHECK(!(p2 & (SECONDARY_VIRTUALIZE_X2APIC | SECONDARY_APIC_REGISTER_VIRT |
			      SECONDARY_VIRTUAL_INTR_DELIVERY)),
		      "27.2.1.1 x2APIC, APIC-register and interrupt virtualization require use TPR shadow");
	}
	CHECK((pin & PIN_BASED_NMI_EXITING) || !(pin & PIN_BASED_VIRTUAL_NMIS),
	      "27.2.1.1 virtual NMIs require NMI exiting");
	CHECK((pin & PIN_BASED_VIRTUAL_NMIS) || !(proc & CPU_BASED_NMI_WINDOW_EXITING),
	      "27.2.1.1 NMI-window exiting requires virtual NMIs");
	CHECK(!(p2 & SECONDARY_VIRTUALIZE_X2APIC) || !(p2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES),
	      "27.2.1.1 virtualize x2APIC mode excludes virtualize APIC accesses");
	CHECK(!(p2 & SECONDARY_VIRTUALIZE_APIC_ACCESSES) || aligned_pa(c, vget(c, VMCS_APIC_ACCESS_ADDR), 4096),
	      "27.2.1.1 APIC-access address");
	CHECK(!(p2 & SECONDARY_ENABLE_VPID) || vget(c, VMCS_VPID) != 0, "27.2.1.1 VPID must not be 0");
	/* Guest-physical addresses of a guest with paging off are
	 * translated only by EPT. */
	CHECK(!(p2 & SECONDARY_UNRESTRICTED_GUEST) || (p2 & SECONDARY_ENABLE_EPT),
	      "27.2.1.1 unrestricted guest requires enable EPT");
	if (p2 & SECONDARY_ENABLE_EPT) {
		struct ept_caps k;

		ept_caps(c, &k);
		CHECK(ept_eptp_valid(vget(c, VMCS_EPT_POINTER), &k), "27.2.1.1 EPT pointer");
	}
	CHECK(ctl_ok(ctl_cap(c, CAP_EXIT, CAP_TRUE_EXIT), exit), "27.2.1.2 VM-exit controls reserved bits");
	CHECK((pin & PIN_BASED_PREEMPTION_TIMER) || !(exit & VM_EXIT_SAVE_PREEMPTION_TIMER),
	      "27.2.1.2 saving the preemption timer requires activating it");
	CHECK(!vget(c, VMCS_EXIT_MSR_STORE_COUNT) ||
		      (aligned_pa(c, vget(c, VMCS_EXIT_MSR_STORE_ADDR), 16) &&
		       pa_valid(c, vget(c, VMCS_EXIT_MSR_STORE_ADDR) + vget(c, VMCS_EXIT_MSR_STORE_COUNT) * 16 - 1)),
	      "27.2.1.2 VM-exit MSR-store address");
	CHECK(!vget(c, VMCS_EXIT_MSR_LOAD_COUNT) ||
		      (aligned_pa(c, vget(c, VMCS_EXIT_MSR_LOAD_ADDR), 16) &&
		       pa_valid(c, vget(c, VMCS_EXIT_MSR_LOAD_ADDR) + vget(c, VMCS_EXIT_MSR_LOAD_COUNT) * 16 - 1)),
	      "27.2.1.2 VM-exit MSR-load address");
	CHECK(ctl_ok(ctl_cap(c, CAP_ENTRY, CAP_TRUE_ENTRY), entry), "27.2.1.3 VM-entry controls reserved bits");
	CHECK(intr_info_valid(c), "27.2.1.3 VM-entry interruption-information field");
	CHECK(!vget(c, VMCS_ENTRY_MSR_LOAD_COUNT) ||
		      (aligned_pa(c, vget(c, VMCS_ENTRY_MSR_LOAD_ADDR), 16) &&
		       pa_valid(c, vget(c, VMCS_ENTRY_MSR_LOAD_ADDR) + vget(c, VMCS_ENTRY_MSR_LOAD_COUNT) * 16 - 1)),
	      "27.2.1.3 VM-entry MSR-load address");
	return 0;
}

static int pat_valid(uint64_t pat)
{
	for (int i = 0; i < 8; i++) {
		unsigned t = (pat >> (8 * i)) & 0xff;

		if (t != 0 && t != 1 && t != 4 && t != 5 && t != 6 && t != 7)
			return 0;
	}
	return 1;
}

/* SDM 27.2.2-27.2.4: host-state area. */
static int check_host(struct cpu *c)
{
	uint64_t cr0 = vget(c, VMCS_HOST_CR0), cr4 = vget(c, VMCS_HOST_CR4);
	uint32_t exit = (uint32_t)vget(c, VMCS_EXIT_CTLS), entry = (uint32_t)vget(c, VMCS_ENTRY_CTLS);
	int host64 = !!(exit & VM_EXIT_HOST_ADDR_SPACE_SIZE);
	struct cpu_sysstate s;
	static const uint32_t sels[] = { VMCS_HOST_ES_SELECTOR, VMCS_HOST_CS_SELECTOR, VMCS_HOST_SS_SELECTOR,
					 VMCS_HOST_DS_SELECTOR, VMCS_HOST_FS_SELECTOR, VMCS_HOST_GS_SELECTOR,
					 VMCS_HOST_TR_SELECTOR };

	if (cpu_ctx_read(c->e->ctx, &s))
		return -1;
	CHECK(!(~cr0 & c->vmx.cap[CAP_CR0_FIXED0]) && !(cr0 & ~c->vmx.cap[CAP_CR0_FIXED1]),
	      "27.2.2 host CR0 fixed bits");
	CHECK(!(~cr4 & c->vmx.cap[CAP_CR4_FIXED0]) && !(cr4 & ~c->vmx.cap[CAP_CR4_FIXED1]),
	      "27.2.2 host CR4 fixed bits");
	CHECK(pa_valid(c, vget(c, VMCS_HOST_CR3)), "27.2.2 host CR3 beyond physical-address width");
	CHECK(canonical(vget(c, VMCS_HOST_IA32_SYSENTER_ESP)) && canonical(vget(c, VMCS_HOST_IA32_SYSENTER_EIP)),
	      "27.2.2 host SYSENTER_ESP/EIP canonical");
	CHECK(!(exit & VM_EXIT_LOAD_PAT) || pat_valid(vget(c, VMCS_HOST_IA32_PAT)), "27.2.2 host IA32_PAT");
	if (exit & VM_EXIT_LOAD_EFER) {
		uint64_t efer = vget(c, VMCS_HOST_IA32_EFER);

		CHECK(!(efer & ~0xd01ull), "27.2.2 host IA32_EFER reserved bits");
		CHECK(!!(efer & EFER_LMA) == host64 && !!(efer & EFER_LME) == host64,
		      "27.2.2 host IA32_EFER.LMA/LME = host address-space size");
	}
	for (size_t i = 0; i < sizeof(sels) / sizeof(sels[0]); i++)
		CHECK(!(vget(c, sels[i]) & 7), "27.2.3 host selector RPL and TI must be 0");
	CHECK(vget(c, VMCS_HOST_CS_SELECTOR) != 0, "27.2.3 host CS selector not null");
	CHECK(vget(c, VMCS_HOST_TR_SELECTOR) != 0, "27.2.3 host TR selector not null");
	CHECK(host64 || vget(c, VMCS_HOST_SS_SELECTOR) != 0, "27.2.3 host SS null only with 64-bit host");
	CHECK(canonical(vget(c, VMCS_HOST_FS_BASE)) && canonical(vget(c, VMCS_HOST_GS_BASE)) &&
		      canonical(vget(c, VMCS_HOST_GDTR_BASE)) && canonical(vget(c, VMCS_HOST_IDTR_BASE)) &&
		      canonical(vget(c, VMCS_HOST_TR_BASE)),
	      "27.2.3 host base addresses canonical");
	/* SDM 27.2.4 "Checks Related to Address-Space Size". */
	if (!(s.efer & EFER_LMA)) {
		CHECK(!(entry & VM_ENTRY_IA32E_MODE) && !host64,
		      "27.2.4 outside IA-32e mode: no IA-32e guest and no 64-bit host");
	} else {
		CHECK(host64, "27.2.4 in IA-32e mode the host address-space size must be 1");
	}
	if (host64) {
		CHECK(cr4 & CR4_PAE, "27.2.4 64-bit host needs CR4.PAE");
		CHECK(canonical(vget(c, VMCS_HOST_RIP)), "27.2.4 host RIP canonical");
	} else {
		CHECK(!(cr4 & CR4_PCIDE), "27.2.4 host CR4.PCIDE needs a 64-bit host");
		CHECK(!(vget(c, VMCS_HOST_RIP) >> 32), "27.2.4 host RIP bits 63:32");
	}
	return 0;
}

/* Guest segment fields are laid out with a stride of 2 per segment in each
 * width group (SDM Appendix B): selector 0x0800+2n, limit 0x4800+2n,
 * access rights 0x4814+2n, base 0x6806+2n. */
static uint16_t gsel(struct cpu *c, int n) { return (uint16_t)vget(c, VMCS_GUEST_ES_SELECTOR + 2 * n); }
static uint32_t glim(struct cpu *c, int n) { return (uint32_t)vget(c, VMCS_GUEST_ES_LIMIT + 2 * n); }
static uint32_t gar(struct cpu *c, int n) { return (uint32_t)vget(c, VMCS_GUEST_ES_AR_BYTES + 2 * n); }
static uint64_t gbase(struct cpu *c, int n) { return vget(c, VMCS_GUEST_ES_BASE + 2 * n); }

enum { G_ES, G_CS, G_SS, G_DS, G_FS, G_GS, G_LDTR, G_TR };

#define AR_UNUSABLE (1u << 16)

/* SDM 27.3.1 "Checks on the Guest State Area".  Returns 0, or the exit
 * qualification of a VM-entry failure (0 default, 2 PDPTE, 4 link ptr). */
static int check_guest(struct cpu *c, uint64_t *qual)
{
	uint64_t cr0 = vget(c, VMCS_GUEST_CR0), cr4 = vget(c, VMCS_GUEST_CR4);
	uint32_t entry = (uint32_t)vget(c, VMCS_ENTRY_CTLS);
	int ia32e = !!(entry & VM_ENTRY_IA32E_MODE);
	uint64_t rflags = vget(c, VMCS_GUEST_RFLAGS), rip = vget(c, VMCS_GUEST_RIP);
	uint32_t intr = (uint32_t)vget(c, VMCS_GUEST_INTERRUPTIBILITY);
	uint32_t act = (uint32_t)vget(c, VMCS_GUEST_ACTIVITY_STATE);
	uint32_t ii = (uint32_t)vget(c, VMCS_ENTRY_INTR_INFO);
	uint32_t csar = gar(c, G_CS), ssar = gar(c, G_SS);
	const char *rule;

	*qual = 0;
	/* 27.3.1.1 control registers, debug registers and MSRs */
	rule = vmx_check_guest_cr0(cr0, c->vmx.cap[CAP_CR0_FIXED0], c->vmx.cap[CAP_CR0_FIXED1], unrestricted(c));
	CHECK(!rule, rule);
	CHECK(!(~cr4 & c->vmx.cap[CAP_CR4_FIXED0]) && !(cr4 & ~c->vmx.cap[CAP_CR4_FIXED1]),
	      "27.3.1.1 guest CR4 fixed bits");
	CHECK(!ia32e || ((cr0 & CR0_PG) && (cr4 & CR4_PAE)), "27.3.1.1 IA-32e guest needs CR0.PG and CR4.PAE");
	CHECK(ia32e || !(cr4 & CR4_PCIDE), "27.3.1.1 CR4.PCIDE needs an IA-32e guest");
	CHECK(pa_valid(c, vget(c, VMCS_GUEST_CR3)), "27.3.1.1 guest CR3 beyond physical-address width");
	CHECK(!(entry & VM_ENTRY_LOAD_DEBUG_CONTROLS) || !(vget(c, VMCS_GUEST_DR7) >> 32),
	      "27.3.1.1 guest DR7 bits 63:32");
	CHECK(canonical(vget(c, VMCS_GUEST_SYSENTER_ESP)) && canonical(vget(c, VMCS_GUEST_SYSENTER_EIP)),
	      "27.3.1.1 guest SYSENTER_ESP/EIP canonical");
	CHECK(!(entry & VM_ENTRY_LOAD_PAT) || pat_valid(vget(c, VMCS_GUEST_IA32_PAT)), "27.3.1.1 guest IA32_PAT");
	if (entry & VM_ENTRY_LOAD_EFER) {
		uint64_t efer = vget(c, VMCS_GUEST_IA32_EFER);

		CHECK(!(efer & ~0xd01ull), "27.3.1.1 guest IA32_EFER reserved bits");
		CHECK(!!(efer & EFER_LMA) == ia32e, "27.3.1.1 guest IA32_EFER.LMA = IA-32e mode guest");
		CHECK(!(cr0 & CR0_PG) || !!(efer & EFER_LME) == !!(efer & EFER_LMA),
		      "27.3.1.1 guest IA32_EFER.LME = LMA when paging");
	}
	/* 27.3.1.2 segment registers */
	{
		struct vmx_check_guest g = { .cr0 = cr0, .rflags = rflags, .ia32e = ia32e, .unrestricted = unrestricted(c) };

		for (int n = G_ES; n <= G_TR; n++)
			g.seg[n] = (struct vmx_check_seg){ gsel(c, n), gbase(c, n), glim(c, n), gar(c, n) };
		rule = vmx_check_guest_segments(&g);
		CHECK(!rule, rule);
	}
	/* 27.3.1.3 descriptor-table registers */
	CHECK(canonical(vget(c, VMCS_GUEST_GDTR_BASE)) && canonical(vget(c, VMCS_GUEST_IDTR_BASE)),
	      "27.3.1.3 GDTR/IDTR base canonical");
	CHECK(!(vget(c, VMCS_GUEST_GDTR_LIMIT) >> 16) && !(vget(c, VMCS_GUEST_IDTR_LIMIT) >> 16),
	      "27.3.1.3 GDTR/IDTR limit bits 31:16");
	/* 27.3.1.4 RIP and RFLAGS */
	if (ia32e && (csar & (1u << 13)))
		CHECK(canonical(rip), "27.3.1.4 RIP canonical in 64-bit mode");
	else
		CHECK(!(rip >> 32), "27.3.1.4 RIP bits 63:32 outside 64-bit mode");
	CHECK(!(rflags & 0xffffffffffc08028ull) && (rflags & 2), "27.3.1.4 RFLAGS reserved bits");
	CHECK(!(ia32e || !(cr0 & CR0_PE)) || !(rflags & RFLAGS_VM), "27.3.1.4 RFLAGS.VM = 0 in IA-32e mode or with CR0.PE = 0");
	CHECK(!(ii & INTR_INFO_VALID) || ((ii >> 8) & 7) != INTR_TYPE_EXT_INTR || (rflags & RFLAGS_IF),
	      "27.3.1.4 RFLAGS.IF for an injected external interrupt");
	CHECK(!(rflags & RFLAGS_VM), "27.3.1.4 virtual-8086 guests are not modelled");
	/* 27.3.1.5 non-register state */
	CHECK(act <= 3 && (act == 0 || ((c->vmx.cap[CAP_MISC] >> (5 + act)) & 1)),
	      "27.3.1.5 activity state supported");
	CHECK(act != 1 || ((ssar >> 5) & 3) == 0, "27.3.1.5 HLT state needs SS.DPL = 0");
	CHECK(act == 0 || !(intr & 3), "27.3.1.5 blocking by STI or MOV SS needs the active state");
	/* In HLT only external interrupts, NMIs, #DB and #MC can be injected;
	 * in wait-for-SIPI nothing. */
	CHECK(!(ii & INTR_INFO_VALID) || act == 0 ||
		      (act == 1 && (((ii >> 8) & 7) == INTR_TYPE_EXT_INTR || ((ii >> 8) & 7) == INTR_TYPE_NMI ||
				    (((ii >> 8) & 7) == INTR_TYPE_HARD_EXCEPTION && ((ii & 0xff) == VEC_DB ||
										      (ii & 0xff) == VEC_MC)))),
	      "27.3.1.5 event injection in the HLT or wait-for-SIPI state");
	CHECK(!(intr & 0xffffffe0u), "27.3.1.5 interruptibility reserved bits");
	CHECK((intr & 3) != 3, "27.3.1.5 blocking by STI and by MOV SS together");
	CHECK(!(intr & 1) || (rflags & RFLAGS_IF), "27.3.1.5 blocking by STI needs RFLAGS.IF");
	CHECK(!(ii & INTR_INFO_VALID) || ((ii >> 8) & 7) != INTR_TYPE_EXT_INTR || !(intr & 3),
	      "27.3.1.5 external-interrupt injection while blocked by STI/MOV SS");
	CHECK(!(ii & INTR_INFO_VALID) || ((ii >> 8) & 7) != INTR_TYPE_NMI || !(intr & 2),
	      "27.3.1.5 NMI injection while blocked by MOV SS");
	CHECK(!(intr & 4), "27.3.1.5 blocking by SMI outside SMM");
	CHECK(!(vget(c, VMCS_GUEST_PENDING_DBG_EXCEPTIONS) & ~0x1500full), "27.3.1.5 pending debug exceptions reserved bits");
	if (vget(c, VMCS_LINK_POINTER) != ~0ull) {
		/* Without VMCS shadowing the link pointer must be all ones. */
		*qual = 4;
		CHECK(0, "27.3.1.5 VMCS link pointer must be FFFFFFFF_FFFFFFFFH");
	}
	/* 27.3.1.6 PDPTEs for PAE paging (loaded from the VMCS with EPT) */
	if ((cr0 & CR0_PG) && (cr4 & CR4_PAE) && !ia32e) {
		for (int i = 0; i < 4; i++) {
			uint64_t e;

			if (ept_on(c))
				e = vget(c, VMCS_GUEST_PDPTE0 + 2 * i);
			else if (phys_r(c, (vget(c, VMCS_GUEST_CR3) & 0xffffffe0) + 8 * i, &e, 8))
				e = 0;
			if ((e & 1) && ((e & 0x1e6) || (e >> c->vmx.maxphyaddr))) {
				*qual = 2;
				CHECK(0, "27.3.1.6 PDPTE reserved bits");
			}
		}
	}
	return 0;
}

/* ---- moving state between the root and non-root engines --------------- */

/* State VMX transitions do not switch (SDM 28.1: GPRs other than RSP,
 * CR2, DR0-DR3, DR6, x87/SSE state, XCR0 and MSRs outside the VMCS)
 * moves with the LP from one engine to the other. */
static const int shared_regs[] = {
	UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI, UC_X86_REG_RDI,
	UC_X86_REG_RBP, UC_X86_REG_R8,	UC_X86_REG_R9,	UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12,
	UC_X86_REG_R13, UC_X86_REG_R14, UC_X86_REG_R15, UC_X86_REG_DR0, UC_X86_REG_DR1,
	UC_X86_REG_DR2, UC_X86_REG_DR3, UC_X86_REG_DR6, UC_X86_REG_MXCSR, UC_X86_REG_FPCW,
	UC_X86_REG_FPSW, UC_X86_REG_FPTAG,
};
static const uint32_t shared_msrs[] = { MSR_STAR, MSR_LSTAR, MSR_CSTAR, MSR_FMASK, MSR_KERNEL_GS_BASE, MSR_TSC_AUX };

static void copy_shared(struct engine *from, struct engine *to)
{
	enum { N = sizeof(shared_regs) / sizeof(shared_regs[0]) };
	uint64_t v[N];
	void *pv[N];
	uint8_t xmm[16][16];
	uint8_t st[8][10];	/* 80-bit: mantissa, then sign and exponent */
	uint64_t cr2;

	for (int i = 0; i < N; i++)
		pv[i] = &v[i];
	uc_reg_read_batch(from->uc, (int *)shared_regs, pv, N);
	uc_reg_write_batch(to->uc, (int *)shared_regs, pv, N);
	/* CR2 through the context: the register API would load CR3. */
	uc_reg_read(from->uc, UC_X86_REG_CR2, &cr2);
	cpu_ctx_set_cr2(to->ctx, cr2);
	for (int i = 0; i < 16; i++) {
		uc_reg_read(from->uc, UC_X86_REG_XMM0 + i, xmm[i]);
		uc_reg_write(to->uc, UC_X86_REG_XMM0 + i, xmm[i]);
	}
	for (int i = 0; i < 8; i++) {
		uc_reg_read(from->uc, UC_X86_REG_FP0 + i, st[i]);
		uc_reg_write(to->uc, UC_X86_REG_FP0 + i, st[i]);
	}
	/* Only an XSETBV changes it: a context load when it did. */
	if (to->xcr0 != from->xcr0 && !cpu_ctx_set_xcr0(to->ctx, from->xcr0))
		to->xcr0 = from->xcr0;
	for (size_t i = 0; i < sizeof(shared_msrs) / sizeof(shared_msrs[0]); i++) {
		uc_x86_msr m = { .rid = shared_msrs[i] };

		uc_reg_read(from->uc, UC_X86_REG_MSR, &m);
		uc_reg_write(to->uc, UC_X86_REG_MSR, &m);
	}
}

static void set_msr_in(struct engine *e, uint32_t idx, uint64_t v)
{
	uc_x86_msr m = { .rid = idx, .value = v };

	uc_reg_write(e->uc, UC_X86_REG_MSR, &m);
}

static uint64_t msr_in(struct engine *e, uint32_t idx)
{
	uc_x86_msr m = { .rid = idx };

	uc_reg_read(e->uc, UC_X86_REG_MSR, &m);
	return m.value;
}

/* VMCS access rights <-> descriptor-cache attributes (SDM 24.4.1). */
static uint32_t ar_to_attr(uint32_t ar)
{
	if (ar & AR_UNUSABLE)
		return 0;
	return ((ar & 0xff) << 8) | ((ar & 0xf000) << 8);
}

static uint32_t attr_to_ar(uint32_t attr, uint16_t sel, int is_cs_or_tr)
{
	uint32_t ar = ((attr >> 8) & 0xff) | ((attr >> 8) & 0xf000);

	if (!(attr & SEG_ATTR_P) && !is_cs_or_tr)
		return AR_UNUSABLE | ar;
	/* Loading a code or data segment sets its accessed bit (SDM Vol. 3A
	 * 3.4.5.1); Unicorn's cache can lack it after a far transfer, and the
	 * next VM entry would then fail its CS check (SDM 27.3.1.2). */
	if (attr & SEG_ATTR_S)
		ar |= 1;
	/* LTR marks the TSS busy (SDM Vol. 2A LTR); the cache may still say
	 * available, which the next VM entry refuses (27.3.1.2). */
	else if (is_cs_or_tr && ((ar & 0xf) == 1 || (ar & 0xf) == 9))
		ar |= 2;
	return ar;
}

static struct engine *guest_engine(struct cpu *c)
{
	struct vmx *x = V(c);
	struct engine *g = NULL;

	for (int i = 0; i < VMX_GUEST_ENGINES; i++)
		if (x->guests[i].uc && x->guests[i].vmcs == x->current)
			g = &x->guests[i];
	if (!g) {
		for (int i = 0; i < VMX_GUEST_ENGINES; i++)
			if (!x->guests[i].uc) {
				g = &x->guests[i];
				break;
			}
		if (!g) {
			g = &x->guests[0];
			for (int i = 1; i < VMX_GUEST_ENGINES; i++)
				if (x->guests[i].last_used < g->last_used)
					g = &x->guests[i];
			cpu_engine_close(g);
		}
		if (cpu_engine_open(c, g, 1)) {
			cpu_engine_close(g);
			return NULL;
		}
		g->vmcs = x->current;
	}
	g->last_used = ++x->nentries;
	return g;
}

/* SDM 27.3.2 "Loading Guest State". */
static int load_guest(struct cpu *c, struct engine *g)
{
	struct cpu_sysstate s;
	uint32_t entry = (uint32_t)vget(c, VMCS_ENTRY_CTLS);
	int ia32e = !!(entry & VM_ENTRY_IA32E_MODE);
	uint16_t vpid = (proc2(c) & SECONDARY_ENABLE_VPID) ? (uint16_t)vget(c, VMCS_VPID) : 0;
	uint64_t eptp = ept_on(c) ? vget(c, VMCS_EPT_POINTER) : 0;
	int keep;

	memset(&s, 0, sizeof(s));
	for (int n = 0; n < 6; n++) {
		static const int map[6] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

		s.seg[map[n]] = (struct cpu_seg){ gsel(c, n), gbase(c, n), glim(c, n), ar_to_attr(gar(c, n)) };
	}
	s.ldt = (struct cpu_seg){ gsel(c, G_LDTR), gbase(c, G_LDTR), glim(c, G_LDTR), ar_to_attr(gar(c, G_LDTR)) };
	s.tr = (struct cpu_seg){ gsel(c, G_TR), gbase(c, G_TR), glim(c, G_TR), ar_to_attr(gar(c, G_TR)) };
	s.gdt_base = vget(c, VMCS_GUEST_GDTR_BASE);
	s.gdt_limit = (uint32_t)vget(c, VMCS_GUEST_GDTR_LIMIT);
	s.idt_base = vget(c, VMCS_GUEST_IDTR_BASE);
	s.idt_limit = (uint32_t)vget(c, VMCS_GUEST_IDTR_LIMIT);
	s.cr0 = vget(c, VMCS_GUEST_CR0);
	s.cr3 = vget(c, VMCS_GUEST_CR3);
	s.cr4 = vget(c, VMCS_GUEST_CR4);
	if (entry & VM_ENTRY_LOAD_EFER) {
		s.efer = vget(c, VMCS_GUEST_IA32_EFER);
	} else {
		/* LMA from "IA-32e mode guest"; LME too when the guest's CR0.PG
		 * is 1, else LME is left as it was (27.3.2.1): an unrestricted
		 * guest entered with paging off keeps the host's LME. */
		s.efer = msr_in(c->e, MSR_EFER) & ~EFER_LMA;
		if (ia32e)
			s.efer |= EFER_LMA;
		if (s.cr0 & CR0_PG)
			s.efer = (s.efer & ~EFER_LME) | (ia32e ? EFER_LME : 0);
	}
	s.cpl = (gar(c, G_SS) >> 5) & 3;
	s.rflags = vget(c, VMCS_GUEST_RFLAGS);
	copy_shared(c->e, g);
	/* EPT and VPID decide whether this engine's cached translations may
	 * survive (SDM 29.4.3.1): without VPID every entry drops them. */
	keep = g->tlb_valid && vpid && g->tlb_vpid == vpid && g->tlb_eptp == eptp;
	if (!keep)
		vmx_tlb_model_flush(g);
	/* The APIC-access page is never in the TLB (tlb_fill refuses it):
	 * a translation of it made without that must go. */
	keep = keep && g->tlb_apic == c->vmx.apic_access;
	g->tlb_valid = 1;
	g->tlb_vpid = vpid;
	g->tlb_eptp = eptp;
	g->tlb_apic = c->vmx.apic_access;
	/* This engine's Unicorn TLB is the model's TLB (tlb_fill): kept or
	 * dropped with it, whatever CR3 or paging mode the entry loads
	 * (translations are tagged by VPID and PCID, not by CR3). */
	if (cpu_ctx_write(g->ctx, &s, keep ? CPU_TLB_KEEP : CPU_TLB_FLUSH))
		return -1;
	c->vmx.nmi_blocked = !!(vget(c, VMCS_GUEST_INTERRUPTIBILITY) & GUEST_INTR_STATE_NMI);
	/* Blocking by STI or MOV SS holds for the first guest instruction
	 * (SDM 27.3.2.5, 26.7.5). */
	if ((vget(c, VMCS_GUEST_INTERRUPTIBILITY) & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS)) &&
	    cpu_ctx_set_inhibited(g->ctx, 1))
		return -1;
	set_msr_in(g, MSR_IA32_SYSENTER_CS, vget(c, VMCS_GUEST_IA32_SYSENTER_CS));
	set_msr_in(g, MSR_IA32_SYSENTER_ESP, vget(c, VMCS_GUEST_SYSENTER_ESP));
	set_msr_in(g, MSR_IA32_SYSENTER_EIP, vget(c, VMCS_GUEST_SYSENTER_EIP));
	set_msr_in(g, MSR_IA32_PAT, (entry & VM_ENTRY_LOAD_PAT) ? vget(c, VMCS_GUEST_IA32_PAT) : msr_in(c->e, MSR_IA32_PAT));
	set_msr_in(g, MSR_FS_BASE, gbase(c, G_FS));
	set_msr_in(g, MSR_GS_BASE, gbase(c, G_GS));
	{
		uint64_t v = vget(c, VMCS_GUEST_RSP), rip = vget(c, VMCS_GUEST_RIP);
		uint64_t fl = vget(c, VMCS_GUEST_RFLAGS), *m;

		uc_reg_write(g->uc, UC_X86_REG_RSP, &v);
		/* Pending debug exceptions (SDM 27.7.3): in a MOV SS or STI
		 * shadow they are raised after the first guest instruction,
		 * through a single-step trap the model forces when the guest's
		 * TF is clear; otherwise right after the entry (vmx_entry). */
		c->vmx.pending_dbg = vget(c, VMCS_GUEST_PENDING_DBG_EXCEPTIONS) & (0xf | DR6_BS);
		c->vmx.forced_tf = 0;
		if (c->vmx.pending_dbg && !(fl & RFLAGS_TF) &&
		    (vget(c, VMCS_GUEST_INTERRUPTIBILITY) & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))) {
			fl |= RFLAGS_TF;
			c->vmx.forced_tf = 1;
		}
		uc_reg_write(g->uc, UC_X86_REG_RFLAGS, &fl);
		uc_reg_write(g->uc, UC_X86_REG_RIP, &rip);
		if (entry & VM_ENTRY_LOAD_DEBUG_CONTROLS) {
			cpu_set_dr7(g, vget(c, VMCS_GUEST_DR7));
			if ((m = msr_slot(c, MSR_IA32_DEBUGCTL)))
				*m = vget(c, VMCS_GUEST_IA32_DEBUGCTL) & 3;
		} else {
			/* DR7 is not loaded: the guest has the host's (one
			 * processor, two engines). */
			cpu_set_dr7(g, c->root.dr7);
		}
	}
	/* With EPT, VM entry into PAE paging loads the PDPTE registers from
	 * the VMCS (27.3.2.4); otherwise they are loaded from memory when the
	 * guest first translates, or when it enables PAE paging itself. */
	if ((s.cr0 & CR0_PG) && (s.cr4 & CR4_PAE) && !ia32e && ept_on(c)) {
		for (int i = 0; i < 4; i++)
			c->vmx.pdpte[i] = vget(c, VMCS_GUEST_PDPTE0 + 2 * i);
		c->vmx.pdpte_cr3 = s.cr3;
	} else {
		c->vmx.pdpte_cr3 = ~0ull;
	}
	return 0;
}

/* SDM 28.3 "Saving Guest State". */
static void save_guest(struct cpu *c, uint64_t rip)
{
	struct cpu_sysstate s;
	uint32_t exit = (uint32_t)vget(c, VMCS_EXIT_CTLS);
	static const int map[6] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };

	if (cpu_ctx_read(c->e->ctx, &s))
		return;
	vset(c, VMCS_GUEST_CR0, s.cr0);
	vset(c, VMCS_GUEST_CR3, s.cr3);
	vset(c, VMCS_GUEST_CR4, s.cr4);
	if (exit & VM_EXIT_SAVE_DEBUG_CONTROLS) {
		vset(c, VMCS_GUEST_DR7, c->e->dr7);
		vset(c, VMCS_GUEST_IA32_DEBUGCTL, msr_slot(c, MSR_IA32_DEBUGCTL) ? *msr_slot(c, MSR_IA32_DEBUGCTL) : 0);
	}
	vset(c, VMCS_GUEST_RSP, reg(c, UC_X86_REG_RSP));
	vset(c, VMCS_GUEST_RIP, rip);
	/* A TF the model forced is not the guest's; pending debug
	 * exceptions not raised yet stay pending. */
	vset(c, VMCS_GUEST_RFLAGS, reg(c, UC_X86_REG_RFLAGS) & ~(c->vmx.forced_tf ? RFLAGS_TF : 0));
	for (int n = 0; n < 6; n++) {
		const struct cpu_seg *sg = &s.seg[map[n]];

		vset(c, VMCS_GUEST_ES_SELECTOR + 2 * n, sg->sel);
		vset(c, VMCS_GUEST_ES_BASE + 2 * n, sg->base);
		vset(c, VMCS_GUEST_ES_LIMIT + 2 * n, sg->limit);
		vset(c, VMCS_GUEST_ES_AR_BYTES + 2 * n, attr_to_ar(sg->attr, sg->sel, n == G_CS));
	}
	vset(c, VMCS_GUEST_FS_BASE, cpu_engine_msr(c, MSR_FS_BASE));
	vset(c, VMCS_GUEST_GS_BASE, cpu_engine_msr(c, MSR_GS_BASE));
	vset(c, VMCS_GUEST_LDTR_SELECTOR, s.ldt.sel);
	vset(c, VMCS_GUEST_LDTR_BASE, s.ldt.base);
	vset(c, VMCS_GUEST_LDTR_LIMIT, s.ldt.limit);
	vset(c, VMCS_GUEST_LDTR_AR_BYTES, attr_to_ar(s.ldt.attr, s.ldt.sel, 0));
	vset(c, VMCS_GUEST_TR_SELECTOR, s.tr.sel);
	vset(c, VMCS_GUEST_TR_BASE, s.tr.base);
	vset(c, VMCS_GUEST_TR_LIMIT, s.tr.limit);
	vset(c, VMCS_GUEST_TR_AR_BYTES, attr_to_ar(s.tr.attr, s.tr.sel, 1));
	vset(c, VMCS_GUEST_GDTR_BASE, s.gdt_base);
	vset(c, VMCS_GUEST_GDTR_LIMIT, s.gdt_limit);
	vset(c, VMCS_GUEST_IDTR_BASE, s.idt_base);
	vset(c, VMCS_GUEST_IDTR_LIMIT, s.idt_limit);
	vset(c, VMCS_GUEST_IA32_SYSENTER_CS, cpu_engine_msr(c, MSR_IA32_SYSENTER_CS));
	vset(c, VMCS_GUEST_SYSENTER_ESP, cpu_engine_msr(c, MSR_IA32_SYSENTER_ESP));
	vset(c, VMCS_GUEST_SYSENTER_EIP, cpu_engine_msr(c, MSR_IA32_SYSENTER_EIP));
	if (exit & VM_EXIT_SAVE_PAT)
		vset(c, VMCS_GUEST_IA32_PAT, cpu_engine_msr(c, MSR_IA32_PAT));
	if (exit & VM_EXIT_SAVE_EFER)
		vset(c, VMCS_GUEST_IA32_EFER, s.efer);
	/* IA32_VMX_MISC[5]: the exit stores IA32_EFER.LMA into the
	 * "IA-32e mode guest" VM-entry control (SDM 28.2, "Recording VM-Exit
	 * Information and Updating VM-Entry Control Fields"; A.6), so that
	 * an unrestricted guest that entered or left IA-32e mode itself is
	 * resumed in the mode it is in. */
	if (c->vmx.cap[CAP_MISC] & VMX_MISC_SAVE_EFER_LMA)
		vset(c, VMCS_ENTRY_CTLS, (vget(c, VMCS_ENTRY_CTLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE) |
						 ((s.efer & EFER_LMA) ? VM_ENTRY_IA32E_MODE : 0));
	if (ept_on(c) && (s.cr0 & CR0_PG) && (s.cr4 & CR4_PAE) && !(s.efer & EFER_LMA))
		for (int i = 0; i < 4; i++)
			vset(c, VMCS_GUEST_PDPTE0 + 2 * i, c->vmx.pdpte[i]);
	vset(c, VMCS_GUEST_ACTIVITY_STATE, c->vmx.guest_halted);
	/* Blocking by STI and by MOV SS are one flag in Unicorn; a MOV SS
	 * site tells which (SDM 25.4.2). */
	{
		uint32_t blk = 0;

		if (cpu_ctx_inhibited(c->e->ctx))
			blk = c->movss_next == cpu_rip_linear(c, rip) ? GUEST_INTR_STATE_MOV_SS : GUEST_INTR_STATE_STI;
		vset(c, VMCS_GUEST_INTERRUPTIBILITY, blk | (c->vmx.nmi_blocked ? GUEST_INTR_STATE_NMI : 0));
	}
	vset(c, VMCS_GUEST_PENDING_DBG_EXCEPTIONS, c->vmx.pending_dbg);
	c->vmx.pending_dbg = 0;
	c->vmx.forced_tf = 0;
	if (exit & VM_EXIT_SAVE_PREEMPTION_TIMER) {
		uint64_t left = 0;
		unsigned rate = c->vmx.cap[CAP_MISC] & 0x1f;

		if (c->vmx.preempt_deadline >= 0 && (uint64_t)c->vmx.preempt_deadline > c->cycles)
			left = ((uint64_t)c->vmx.preempt_deadline - c->cycles) >> rate;
		vset(c, VMCS_PREEMPTION_TIMER_VALUE, left);
	}
}

/* MSR-load and MSR-store areas: 16-byte entries of index, reserved, value
 * (SDM 25.7.2, 25.8.2).  Returns 0 or the 1-based index of the entry that
 * failed. */
static uint32_t msr_list_load(struct cpu *c, uint64_t addr, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint64_t ent[2];

		if (phys_r(c, addr + 16 * i, ent, 16))
			return i + 1;
		uint32_t idx = (uint32_t)ent[0];

		/* SDM 27.4 "Loading MSRs": not FS/GS base, not x2APIC MSRs,
		 * not SMM monitor control; reserved bits 63:32 zero. */
		if ((ent[0] >> 32) || idx == MSR_FS_BASE || idx == MSR_GS_BASE || (idx >> 8) == 0x8 ||
		    idx == 0x9b || cpu_msr_write(c, idx, ent[1], 0))
			return i + 1;
	}
	return 0;
}

static uint32_t msr_list_store(struct cpu *c, uint64_t addr, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		uint64_t ent[2];

		if (phys_r(c, addr + 16 * i, ent, 16))
			return i + 1;
		if ((ent[0] >> 32) || ((uint32_t)ent[0] >> 8) == 0x8 ||
		    cpu_msr_read(c, (uint32_t)ent[0], &ent[1], 0))
			return i + 1;
		/* IA32_TSC is stored without the guest's TSC offset (SDM
		 * 28.4: the value is not subject to TSC offsetting). */
		if ((uint32_t)ent[0] == MSR_IA32_TSC)
			ent[1] = c->cycles + (uint64_t)c->tsc_offset;
		if (phys_w(c, addr + 16 * i + 8, &ent[1], 8))
			return i + 1;
	}
	return 0;
}

/* SDM 28.5 "Loading Host State". */
static void load_host(struct cpu *c)
{
	struct cpu_sysstate s;
	uint32_t exit = (uint32_t)vget(c, VMCS_EXIT_CTLS);
	int host64 = !!(exit & VM_EXIT_HOST_ADDR_SPACE_SIZE);
	struct engine *r = &c->root;
	uint32_t data = SEG_ATTR_P | SEG_ATTR_S | (3u << 8) | SEG_ATTR_DB | SEG_ATTR_G;
	uint64_t *m;

	memset(&s, 0, sizeof(s));
	s.cr0 = vget(c, VMCS_HOST_CR0);
	s.cr3 = vget(c, VMCS_HOST_CR3);
	s.cr4 = vget(c, VMCS_HOST_CR4);
	s.efer = (exit & VM_EXIT_LOAD_EFER) ? vget(c, VMCS_HOST_IA32_EFER) : msr_in(r, MSR_EFER);
	if (!(exit & VM_EXIT_LOAD_EFER))
		s.efer = (s.efer & ~(EFER_LMA | EFER_LME)) | (host64 ? EFER_LMA | EFER_LME : 0);
	s.seg[SEG_CS] = (struct cpu_seg){ (uint16_t)vget(c, VMCS_HOST_CS_SELECTOR), 0, 0xffffffff,
					  SEG_ATTR_P | SEG_ATTR_S | (11u << 8) | SEG_ATTR_G |
						  (host64 ? SEG_ATTR_L : SEG_ATTR_DB) };
	s.seg[SEG_SS] = (struct cpu_seg){ (uint16_t)vget(c, VMCS_HOST_SS_SELECTOR), 0, 0xffffffff, data };
	{
		static const struct { int seg; uint32_t enc; } ds[] = {
			{ SEG_DS, VMCS_HOST_DS_SELECTOR }, { SEG_ES, VMCS_HOST_ES_SELECTOR },
			{ SEG_FS, VMCS_HOST_FS_SELECTOR }, { SEG_GS, VMCS_HOST_GS_SELECTOR } };

		for (size_t i = 0; i < 4; i++) {
			uint16_t sel = (uint16_t)vget(c, ds[i].enc);

			/* A null selector leaves the register unusable. */
			s.seg[ds[i].seg] = (struct cpu_seg){ sel, 0, 0xffffffff, sel ? data : 0 };
		}
	}
	s.seg[SEG_FS].base = vget(c, VMCS_HOST_FS_BASE);
	s.seg[SEG_GS].base = vget(c, VMCS_HOST_GS_BASE);
	s.tr = (struct cpu_seg){ (uint16_t)vget(c, VMCS_HOST_TR_SELECTOR), vget(c, VMCS_HOST_TR_BASE), 0x67,
				 SEG_ATTR_P | (11u << 8) };
	s.ldt = (struct cpu_seg){ 0, 0, 0, 0 };
	s.gdt_base = vget(c, VMCS_HOST_GDTR_BASE);
	s.gdt_limit = 0xffff;
	s.idt_base = vget(c, VMCS_HOST_IDTR_BASE);
	s.idt_limit = 0xffff;
	s.cpl = 0;
	s.rflags = 2;
	copy_shared(c->e, r);
	c->e = r;
	c->vmx.nonroot = 0;
	/* The host runs with VPID 0000H.  With "enable VPID" 0 the exit
	 * invalidates that VPID's linear and combined mappings (SDM 29.4.3.1);
	 * with it 1 it invalidates none (29.4.3.2), and the root engine, which
	 * sat idle since the entry (non-root code runs in engines of its own),
	 * keeps its translations unless the host-state area loads another
	 * translation regime. */
	cpu_ctx_write(r->ctx, &s, (proc2(c) & SECONDARY_ENABLE_VPID) ? CPU_TLB_IF_REMAPPED : CPU_TLB_FLUSH);
	set_msr_in(r, MSR_IA32_SYSENTER_CS, vget(c, VMCS_HOST_IA32_SYSENTER_CS));
	set_msr_in(r, MSR_IA32_SYSENTER_ESP, vget(c, VMCS_HOST_IA32_SYSENTER_ESP));
	set_msr_in(r, MSR_IA32_SYSENTER_EIP, vget(c, VMCS_HOST_IA32_SYSENTER_EIP));
	set_msr_in(r, MSR_FS_BASE, s.seg[SEG_FS].base);
	set_msr_in(r, MSR_GS_BASE, s.seg[SEG_GS].base);
	if (exit & VM_EXIT_LOAD_PAT)
		set_msr_in(r, MSR_IA32_PAT, vget(c, VMCS_HOST_IA32_PAT));
	cpu_set_dr7(r, 0x400);
	if ((m = msr_slot(c, MSR_IA32_DEBUGCTL)))
		*m = 0;	/* SDM 28.5.1 */
	set_reg(c, UC_X86_REG_RFLAGS, 2);
	set_reg(c, UC_X86_REG_RSP, vget(c, VMCS_HOST_RSP));
	set_reg(c, UC_X86_REG_RIP, vget(c, VMCS_HOST_RIP));
}

/* An abort (SDM 28.7): the LP shuts down with the indicator written. */
static void vmx_abort(struct cpu *c, uint32_t why)
{
	phys_w(c, c->vmx.current + VMCS_REGION_ABORT, &why, 4);
	cpu_shutdown(c, "VMX abort %u", why);
}

/* Take the VM exit described by c->vmx.p (SDM 28.1-28.6). */
static void exit_now(struct cpu *c)
{
	struct vmx *x = V(c);
	struct vmx_pending p = x->p;
	uint32_t reason = p.reason, basic = reason & 0xffff;
	uint32_t fail;

	memset(&x->p, 0, sizeof(x->p));
	if (p.restore_rax)
		set_reg(c, UC_X86_REG_RAX, p.rax);
	if (p.restore_str) {
		set_reg(c, UC_X86_REG_RCX, p.rcx);
		set_reg(c, UC_X86_REG_RSI, p.rsi);
		set_reg(c, UC_X86_REG_RDI, p.rdi);
	}
	/* 28.2: exit information. */
	vset(c, VMCS_EXIT_REASON, reason);
	vset(c, VMCS_EXIT_QUALIFICATION, p.qual);
	vset(c, VMCS_EXIT_INSTRUCTION_LEN, p.len);
	vset(c, VMCS_EXIT_INSTRUCTION_INFO, p.info);
	vset(c, VMCS_EXIT_INTR_INFO, p.intr_info);
	vset(c, VMCS_EXIT_INTR_ERROR_CODE, p.intr_err);
	if (p.has_gla)
		vset(c, VMCS_GUEST_LINEAR_ADDRESS, p.gla);
	if (p.has_gpa)
		vset(c, VMCS_GUEST_PHYSICAL_ADDRESS, p.gpa);
	vset(c, VMCS_IDT_VECTORING_INFO, x->vectoring);
	vset(c, VMCS_IDT_VECTORING_ERROR_CODE, x->vectoring_err);
	x->vectoring = 0;
	x->injecting = 0;
	/* Delivery of the injected event is complete or was interrupted:
	 * the entry field's valid bit is cleared (28.2.4). */
	vset(c, VMCS_ENTRY_INTR_INFO, vget(c, VMCS_ENTRY_INTR_INFO) & ~(uint64_t)INTR_INFO_VALID);
	if (!(reason & EXIT_REASON_FAILED_VMENTRY)) {
		save_guest(c, p.rip);
		fail = msr_list_store(c, vget(c, VMCS_EXIT_MSR_STORE_ADDR), (uint32_t)vget(c, VMCS_EXIT_MSR_STORE_COUNT));
		if (fail) {
			load_host(c);
			vmx_abort(c, 2);	/* failure saving guest MSRs */
			return;
		}
	}
	x->guest_halted = 0;
	x->preempt_deadline = -1;
	load_host(c);
	fail = msr_list_load(c, vget(c, VMCS_EXIT_MSR_LOAD_ADDR), (uint32_t)vget(c, VMCS_EXIT_MSR_LOAD_COUNT));
	if (fail) {
		vmx_abort(c, 4);	/* failure loading host MSRs */
		return;
	}
	charge(c, VMX_COST_EXIT);
	x->st.exits++;
	x->st.exit_cycles += x->costs[VMX_COST_EXIT];
	if (basic < sizeof(x->st.reason) / sizeof(x->st.reason[0]))
		x->st.reason[basic].count++;
	x->last_reason = basic;
	x->exit_start = c->cycles - x->costs[VMX_COST_EXIT];
	event(c, TRACE_VM_EXIT, reason, p.qual, p.rip, x->costs[VMX_COST_EXIT]);
	marks_vm_exit(c, basic, x->exit_start, c->cycles);
	if (c->observer && c->observer->vm_exit) {
		struct cpu_exit_info xi = { reason, p.qual, p.len, p.rip, x->exit_start, x->costs[VMX_COST_EXIT] };

		c->observer->vm_exit(c->observer->opaque, c, &xi);
	}
	if (vmx_trace)
		fprintf(stderr, "hvsim: LP%u: VM exit %u qual 0x%llx at guest rip 0x%llx, cycle %llu\n", c->index,
			reason, (unsigned long long)p.qual, (unsigned long long)p.rip, (unsigned long long)c->cycles);
}

uint32_t vmx_pin_controls(struct cpu *c)
{
	return (uint32_t)vget(c, VMCS_PIN_BASED_CTLS);
}

uint32_t vmx_exit_controls(struct cpu *c)
{
	return (uint32_t)vget(c, VMCS_EXIT_CTLS);
}

void vmx_event_exit(struct cpu *c, uint32_t reason, uint64_t qual, uint32_t intr_info)
{
	set_pending_exit(c, reason, qual, reg(c, UC_X86_REG_RIP), 0, 0);
	c->vmx.p.intr_info = intr_info;
	exit_now(c);
}

void vmx_exit(struct cpu *c, uint32_t reason, uint64_t qual)
{
	set_pending_exit(c, reason, qual, reg(c, UC_X86_REG_RIP), 0, 0);
	exit_now(c);
}

/* A VM-entry failure after the checks of the guest state (SDM 27.8):
 * an exit with bit 31 set, the host state loaded, nothing of the guest. */
static void entry_fail(struct cpu *c, uint32_t basic, uint64_t qual, uint64_t rip)
{
	c->vmx.st.failed_entries++;
	event(c, TRACE_VM_ENTRY_FAIL, EXIT_REASON_FAILED_VMENTRY | basic, qual, rip, 0);
	set_pending_exit(c, EXIT_REASON_FAILED_VMENTRY | basic, qual, rip, 0, 0);
	exit_now(c);
}

/* Inject the event of the VM-entry interruption-information field
 * (SDM 27.6 "Event Injection") through the guest's IDT. */
static void inject(struct cpu *c)
{
	uint32_t ii = (uint32_t)vget(c, VMCS_ENTRY_INTR_INFO);
	unsigned type = (ii >> 8) & 7, vec = ii & 0xff;
	uint64_t rip = reg(c, UC_X86_REG_RIP);
	uint32_t err = (ii & INTR_INFO_DELIVER_CODE) ? (uint32_t)vget(c, VMCS_ENTRY_EXCEPTION_ERROR_CODE) : 0;
	int soft = type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION || type == INTR_TYPE_PRIV_SW_EXCEPTION;

	if (!(ii & INTR_INFO_VALID))
		return;
	if (soft)
		rip += vget(c, VMCS_ENTRY_INSTRUCTION_LEN);
	/* An injected NMI blocks further (virtual) NMIs until IRET
	 * (SDM 27.6.1.2). */
	if (type == INTR_TYPE_NMI)
		c->vmx.nmi_blocked = 1;
	c->vmx.injecting = 1;
	/* vmx_intercept_exception() lets the event through and sets the
	 * IDT-vectoring information for exits during its delivery. */
	c->vmx.vectoring = 0;
	c->vmx.vectoring_err = err;
	cpu_raise_event(c, vec, type == INTR_TYPE_SOFT_INTR ? EV_SOFT :
				type == INTR_TYPE_EXT_INTR || type == INTR_TYPE_NMI ? EV_EXT : EV_HW, err, rip);
	if (!c->vmx.p.exit) {
		c->vmx.vectoring = 0;
		c->vmx.injecting = 0;
		if (type == INTR_TYPE_EXT_INTR)
			intr_injected(c, vec, c->vmx.entry_begin);
	}
}

/* VMLAUNCH or VMRESUME fails as an instruction (SDM 27.1, 27.2):
 * VMfailInvalid (err 0) or VMfailValid, and execution goes on after it. */
static void entry_refused(struct cpu *c, unsigned err, uint64_t rip, unsigned len)
{
	if (err)
		vm_fail(c, err);
	else
		vm_fail_invalid(c);
	advance(c, rip, len);
	event(c, TRACE_VM_ENTRY_FAIL, err, 0, rip, 0);
}

static void vmx_entry(struct cpu *c, int launch, uint64_t rip, unsigned len)
{
	struct vmx *x = V(c);
	struct engine *g;
	uint64_t qual;
	uint32_t fail;
	int err = -1;

	/* SDM 27.1 "Basic VM-Entry Checks", then the controls and the host
	 * state (27.2). */
	if (x->current == VMCS_NONE)
		err = 0;
	else if (cpu_ctx_inhibited(c->e->ctx) && c->movss_next == cpu_rip_linear(c, rip))
		err = VMXERR_ENTRY_EVENTS_BLOCKED_BY_MOV_SS;	/* before the launch state (SDM 27.1) */
	else if (launch && x->launched)
		err = VMXERR_VMLAUNCH_NONCLEAR_VMCS;
	else if (!launch && !x->launched)
		err = VMXERR_VMRESUME_NONLAUNCHED_VMCS;
	else if (check_controls(c))
		err = VMXERR_ENTRY_INVALID_CONTROL_FIELD;
	else if (check_host(c))
		err = VMXERR_ENTRY_INVALID_HOST_STATE_FIELD;
	if (err >= 0) {
		entry_refused(c, (unsigned)err, rip, len);
		return;
	}
	x->entry_begin = c->cycles;
	charge(c, VMX_COST_ENTRY);
	x->st.entry_cycles += x->costs[VMX_COST_ENTRY];
	if (x->exit_start && x->last_reason < sizeof(x->st.reason) / sizeof(x->st.reason[0]))
		x->st.reason[x->last_reason].cycles += c->cycles - x->exit_start;
	x->exit_start = 0;
	if (check_guest(c, &qual)) {
		entry_fail(c, EXIT_REASON_INVALID_GUEST_STATE, qual, rip);
		return;
	}
	x->apic_access = (proc2(c) & SECONDARY_VIRTUALIZE_APIC_ACCESSES) ? vget(c, VMCS_APIC_ACCESS_ADDR) : ~0ull;
	g = guest_engine(c);
	if (!g) {
		cpu_shutdown(c, "host: cannot create an engine for VMX non-root operation");
		return;
	}
	if (load_guest(c, g)) {
		cpu_shutdown(c, "host: cannot load guest state");
		return;
	}
	c->e = g;
	x->nonroot = 1;
	x->st.entries++;
	/* 27.4: MSRs from the VM-entry MSR-load area, in the guest engine. */
	fail = msr_list_load(c, vget(c, VMCS_ENTRY_MSR_LOAD_ADDR), (uint32_t)vget(c, VMCS_ENTRY_MSR_LOAD_COUNT));
	if (fail) {
		/* The guest state stays loaded; the exit reports the entry. */
		set_pending_exit(c, EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_MSR_LOAD_FAIL, fail, reg(c, UC_X86_REG_RIP),
				 0, 0);
		x->st.failed_entries++;
		event(c, TRACE_VM_ENTRY_FAIL, EXIT_REASON_FAILED_VMENTRY | EXIT_REASON_MSR_LOAD_FAIL, fail, rip, 0);
		exit_now(c);
		return;
	}
	x->launched = 1;
	/* HLT (1) or wait-for-SIPI (3); the checks allow no other. */
	x->guest_halted = (int)vget(c, VMCS_GUEST_ACTIVITY_STATE);
	if (vget(c, VMCS_PIN_BASED_CTLS) & PIN_BASED_PREEMPTION_TIMER) {
		/* Counts down at the TSC rate divided by 2^MISC[4:0] (SDM 26.5.1). */
		unsigned rate = x->cap[CAP_MISC] & 0x1f;

		x->preempt_deadline = (int64_t)(c->cycles + ((uint64_t)(uint32_t)vget(c, VMCS_PREEMPTION_TIMER_VALUE)
							   << rate));
	}
	event(c, TRACE_VM_ENTRY, launch, vget(c, VMCS_GUEST_RIP), vget(c, VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID ?
		vget(c, VMCS_ENTRY_INTR_INFO) : 0, x->costs[VMX_COST_ENTRY]);
	marks_vm_entry(c, c->cycles);
	if (vmx_trace)
		fprintf(stderr, "hvsim: LP%u: VM entry (%s) at guest rip 0x%llx, cycle %llu\n", c->index,
			launch ? "launch" : "resume", (unsigned long long)vget(c, VMCS_GUEST_RIP),
			(unsigned long long)c->cycles);
	/* An injected event ends the HLT activity state (SDM 27.6.1). */
	if (vget(c, VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID)
		x->guest_halted = 0;
	inject(c);
	if (x->p.exit) {
		exit_now(c);
		return;
	}
	/* Pending debug exceptions with no blocking: a #DB right after the
	 * entry (and any injection), before the first instruction; the
	 * exception bitmap applies (SDM 27.7.3). */
	if (x->pending_dbg && !x->forced_tf &&
	    !(vget(c, VMCS_GUEST_INTERRUPTIBILITY) & (GUEST_INTR_STATE_STI | GUEST_INTR_STATE_MOV_SS))) {
		c->db_bits = (uint32_t)x->pending_dbg;
		x->pending_dbg = 0;
		x->guest_halted = 0;
		cpu_raise_event(c, VEC_DB, EV_HW, 0, reg(c, UC_X86_REG_RIP));
		if (x->p.exit) {
			exit_now(c);
			return;
		}
	}
	if (tpr_entry_exit(c)) {
		exit_now(c);
		return;
	}
	/* An interrupt window that is already open exits at once (26.7.5). */
	vmx_block_check(c, cpu_rip_linear(c, reg(c, UC_X86_REG_RIP)));
	if (x->p.exit) {
		exit_now(c);
		return;
	}
	/* Entered in the HLT activity state: the guest runs nothing until
	 * an event or its preemption timer wakes it (cpu_poll_wake). */
	if (x->guest_halted)
		c->state = CPU_HALTED;
}

/* ---- address translation in non-root engines (SDM 29.3) -------------- */

static int ept_read64(void *opaque, uint64_t hpa, uint64_t *v)
{
	struct cpu *c = opaque;

	return memmap_read_phys(c->mem, hpa, v, 8);
}

static int ept_cmpxchg64(void *opaque, uint64_t hpa, uint64_t old, uint64_t new)
{
	struct cpu *c = opaque;
	uint64_t cur;

	if (c->vmx.peek)
		return 0;	/* no accessed or dirty flag for a peek */

	/* One host thread runs every LP: read-compare-write is atomic. */
	if (memmap_read_phys(c->mem, hpa, &cur, 8) || cur != old)
		return 1;
	return memmap_write_phys(c->mem, hpa, &new, 8);
}

/* State of one two-stage translation, for the pw_mem callbacks. */
struct xlat {
	struct cpu *c;
	struct ept_caps k;
	uint64_t eptp;
	int ept;
	uint64_t lin;
	struct ept_result er;	/* the failed EPT translation, if any */
	uint64_t fail_gpa;
	int fail_paging;	/* it was a paging-structure access */
};

static int gpa_to_hpa(struct xlat *t, uint64_t gpa, unsigned acc, int paging, uint64_t *hpa)
{
	struct ept_mem m = { ept_read64, ept_cmpxchg64, t->c };

	if (!t->ept) {
		*hpa = gpa;
		return 0;
	}
	/* A peek (cpu_lin_peek) reads the guest's paging structures and
	 * neither writes their flags nor needs the right to. */
	ept_translate(&m, &t->k, t->eptp, gpa, acc, paging && !t->c->vmx.peek, &t->er);
	if (!t->c->vmx.fill_uncharged && !t->c->vmx.peek) {
		t->c->vmx.st.ept_entry_reads += t->er.reads;
		t->c->cycles += (uint64_t)t->er.reads * t->c->vmx.costs[VMX_COST_EPT_ENTRY];
	}
	if (t->er.status != EPT_OK) {
		t->fail_gpa = gpa;
		t->fail_paging = paging;
		return -1;
	}
	*hpa = t->er.hpa;
	return 0;
}

static int pwm_read(void *opaque, uint64_t gpa, unsigned size, uint64_t *val)
{
	struct xlat *t = opaque;
	uint64_t hpa;

	*val = 0;
	if (gpa_to_hpa(t, gpa, EPT_ACCESS_READ, 1, &hpa))
		return 2;
	if (memmap_read_phys(t->c->mem, hpa, val, size))
		*val = ~0ull >> (64 - 8 * size);
	return PW_MEM_OK;
}

static int pwm_cmpxchg(void *opaque, uint64_t gpa, unsigned size, uint64_t old, uint64_t new)
{
	struct xlat *t = opaque;
	uint64_t hpa, cur = 0;

	if (t->c->vmx.peek)
		return PW_MEM_OK;	/* no accessed or dirty flag for a peek */
	if (gpa_to_hpa(t, gpa, EPT_ACCESS_WRITE, 1, &hpa))
		return 2;
	if (memmap_read_phys(t->c->mem, hpa, &cur, size) || cur != old)
		return PW_MEM_CHANGED;
	memmap_write_phys(t->c->mem, hpa, &new, size);
	return PW_MEM_OK;
}

static void guest_regs(struct cpu *c, struct pw_regs *r)
{
	struct vmx *x = V(c);

	r->cr0 = reg(c, UC_X86_REG_CR0);
	r->cr3 = reg(c, UC_X86_REG_CR3);
	r->cr4 = reg(c, UC_X86_REG_CR4);
	r->efer = cpu_engine_msr(c, MSR_EFER);
	r->smap_ac = !!(reg(c, UC_X86_REG_RFLAGS) & RFLAGS_AC);
	r->maxphyaddr = x->maxphyaddr;
	r->page_1g = 1;
	memcpy(r->pdpte, x->pdpte, sizeof(r->pdpte));
	if ((r->cr0 & CR0_PG) && (r->cr4 & CR4_PAE) && !(r->efer & EFER_LMA) && x->pdpte_cr3 != r->cr3) {
		/* PAE without EPT-supplied PDPTEs: MOV to CR3 loads them from
		 * memory (SDM 4.4.1); hvsim reloads when CR3 has changed, at
		 * the next translation that is the guest's own (a peek reads
		 * them for itself and leaves the load, and its price, to it). */
		struct xlat t = { .c = c, .ept = ept_on(c), .eptp = vget(c, VMCS_EPT_POINTER) };

		ept_caps(c, &t.k);
		for (int i = 0; i < 4; i++)
			if (pwm_read(&t, (r->cr3 & 0xffffffe0) + 8 * i, 8, &r->pdpte[i]))
				r->pdpte[i] = 0;
		if (!x->peek) {
			memcpy(x->pdpte, r->pdpte, sizeof(x->pdpte));
			x->pdpte_cr3 = r->cr3;
		}
	}
}

/* Translate for the current non-root engine.  Returns 0; VEC_PF with *err
 * (the caller sets CR2); or -EAGAIN after setting up an EPT exit. */
static int xlat(struct cpu *c, uint64_t lin, unsigned pwacc, unsigned eacc, uint64_t *hpa, unsigned *perms,
		int *dirty, uint32_t *err)
{
	struct xlat t = { .c = c, .lin = lin };
	struct pw_mem m = { pwm_read, pwm_cmpxchg, &t };
	struct pw_regs r;
	struct pw_result res;

	t.ept = ept_on(c);
	t.eptp = vget(c, VMCS_EPT_POINTER);
	ept_caps(c, &t.k);
	guest_regs(c, &r);
	if (!c->vmx.fill_uncharged && !c->vmx.peek)
		c->vmx.st.tlb_fills++;
	pw_walk(&m, &r, lin, pwacc, &res);
	if (res.status == PW_PAGE_FAULT) {
		*err = res.pf_error;
		return VEC_PF;
	}
	if (res.status == PW_OK) {
		*perms = res.perms;
		*dirty = res.dirty;
		if (!gpa_to_hpa(&t, res.gpa, eacc, 0, hpa)) {
			c->vmx.ept_perms = t.ept ? t.er.perms : 7;
			c->vmx.ept_dirty = !t.ept || !(t.eptp & EPTP_AD) || (eacc & EPT_ACCESS_WRITE);
			/* After the page walk and EPT, which come first
			 * (SDM 29.4.1), the APIC-access page. */
			if ((*hpa >> 12) == (c->vmx.apic_access >> 12))
				return apic_page_hit(c, lin, *hpa, eacc);
			return 0;
		}
	}
	/* An EPT violation or misconfiguration (SDM 28.2.1, Table 28-7). */
	{
		struct vmx_pending *p = &c->vmx.p;

		/* 2: the final access, whose GPA still lacks the byte offset
		 * (vmx_run_pending adds it, for violations and
		 * misconfigurations alike: SDM 28.2.1 "Guest-physical address");
		 * 1: a guest paging-structure access, GPA already exact. */
		p->ept_fail = t.fail_paging ? 1 : 2;
		p->reason = t.er.status == EPT_MISCONFIG ? EXIT_REASON_EPT_MISCONFIG : EXIT_REASON_EPT_VIOLATION;
		p->gpa = t.fail_gpa;
		p->has_gpa = 1;
		p->gla = lin;
		p->has_gla = 1;
		p->qual = 0;
		if (p->reason == EXIT_REASON_EPT_VIOLATION)
			p->qual = t.er.qual | (1ull << 7) | (t.fail_paging ? 0 : 1ull << 8);
	}
	return -EAGAIN;
}

int vmx_translate(struct cpu *c, uint64_t lin, int write, uint64_t *pa, uint32_t *err)
{
	unsigned perms;
	int dirty, r;

	/* write 2: the instruction bytes at RIP, fetched (cpu_lin_access). */
	*err = write == 1 ? 2 : 0;
	r = xlat(c, lin, write == 1 ? PW_WRITE : write == 2 ? PW_FETCH : 0,
		 write == 1 ? EPT_ACCESS_WRITE : write == 2 ? EPT_ACCESS_FETCH : EPT_ACCESS_READ, pa, &perms, &dirty, err);
	if (r == -EAGAIN) {
		/* A host-side access (event delivery, operand fetch) hit EPT
		 * or the APIC-access page at its exact address: the exit is
		 * taken by the run loop. */
		c->vmx.p.exit = 1;
		c->vmx.p.rip = reg(c, UC_X86_REG_RIP);
		c->vmx.p.ept_fail = 0;
		c->vmx.p.apic = 0;
	}
	return r;
}

static bool tlb_fill_walk(struct cpu *c, uint64_t va, uc_mem_type type, uc_tlb_entry *e);

/* ---- TLB misses ----
 *
 * Unicorn's TLB is sized by QEMU's dynamic resizing, which looks at the
 * host's real-time clock: how often a page is filled again depends on the
 * host, so fills cannot be what is priced.  The model instead prices the
 * first fill of each page after the engine's translations were dropped
 * (a VM entry that does not keep them, INVEPT/INVVPID, the guest's MOV
 * to CR3 or INVLPG): a TLB that never evicts within an epoch.  Every
 * first touch after such a drop is a fill in Unicorn too, whatever its
 * size, so the count is the same on every host.  Refills are free. */

#define CHARGED_MAX (1u << 16)	/* pages per epoch before the set starts over */

void vmx_tlb_model_flush(struct engine *e)
{
	/* A new generation empties the set without touching it: this runs
	 * at every MOV to CR3 of a guest, and the set can hold 64 Ki pages. */
	e->ncharged = 0;
	if (++e->charged_gen == 0 && e->charged)
		memset(e->charged, 0, e->charged_cap * sizeof(*e->charged));
}

/* 1 if page `pg` was not priced yet in this epoch (it is now).  A slot
 * of an older generation is empty; within one generation slots are only
 * added, so a probe may stop at the first empty one. */
static int tlb_model_first(struct engine *e, uint64_t pg)
{
	uint64_t key = pg + 1;
	uint32_t i;

	if (e->ncharged * 2 >= e->charged_cap) {
		uint32_t cap = e->charged_cap ? e->charged_cap * 2 : 1024;
		struct tlb_mark *old = e->charged, *n;
		uint32_t ocap = e->charged_cap, ogen = e->charged_gen;

		if (cap > CHARGED_MAX) {
			vmx_tlb_model_flush(e);	/* deterministic: a new epoch */
		} else {
			n = calloc(cap, sizeof(*n));
			if (!n)
				abort();
			e->charged = n;
			e->charged_cap = cap;
			e->ncharged = 0;
			for (uint32_t j = 0; j < ocap; j++)
				if (old[j].key && old[j].gen == ogen)
					tlb_model_first(e, old[j].key - 1);
			free(old);
		}
	}
	for (i = (uint32_t)(key * 0x9E3779B97F4A7C15ull >> 40) & (e->charged_cap - 1);; i = (i + 1) & (e->charged_cap - 1)) {
		struct tlb_mark *m = &e->charged[i];

		if (!m->key || m->gen != e->charged_gen) {
			m->key = key;
			m->gen = e->charged_gen;
			e->ncharged++;
			return 1;
		}
		if (m->key == key)
			return 0;
	}
}

/* UC_HOOK_TLB_FILL of non-root engines: `va` is page aligned. */
static bool tlb_fill(uc_engine *uc, uint64_t va, uc_mem_type type, uc_tlb_entry *e, void *user)
{
	struct cpu *c = user;
	struct vmx_pending p;
	bool ok;

	if (c->vmx.host_fill) {
		/* Unicorn translating for its own bookkeeping while the model
		 * changes hooks (cpu.c, alignment checking): no price, no mark
		 * in the model's TLB, no fault or exit left pending. */
		p = c->vmx.p;
		c->vmx.fill_uncharged = 1;
		ok = tlb_fill_walk(c, va, type, e);
		c->vmx.fill_uncharged = 0;
		c->vmx.p = p;
		return ok;
	}
	c->vmx.fill_uncharged = !tlb_model_first(c->e, va >> 12);
	ok = tlb_fill_walk(c, va, type, e);
	c->vmx.fill_uncharged = 0;
	return ok;
}

static bool tlb_fill_walk(struct cpu *c, uint64_t va, uc_mem_type type, uc_tlb_entry *e)
{
	/* In IA-32e mode a non-canonical address is #GP(0) before any
	 * translation (SDM Vol. 3 3.3.7.1; #SS for a stack access, which the
	 * fill cannot tell apart: hvsim raises #GP). */
	if ((cpu_engine_msr(c, MSR_EFER) & EFER_LMA) && !canonical(va)) {
		c->vmx.p.noncanonical = 1;
		return false;
	}
	unsigned pwacc = 0, eacc = EPT_ACCESS_READ, perms;
	uint64_t hpa;
	uint32_t err;
	int dirty, r, user_mode = cpu_cpl(c) == 3;

	if (type == UC_MEM_WRITE) {
		pwacc = PW_WRITE;
		eacc = EPT_ACCESS_WRITE;
	} else if (type == UC_MEM_FETCH) {
		pwacc = PW_FETCH;
		eacc = EPT_ACCESS_FETCH;
	}
	if (user_mode)
		pwacc |= PW_USER;
	r = xlat(c, va, pwacc, eacc, &hpa, &perms, &dirty, &err);
	if (r == VEC_PF && user_mode && type == UC_MEM_READ) {
		/* Unicorn does not say whether a CPL-3 read is an implicit
		 * supervisor access (a descriptor-table read on a segment
		 * load); retry as one for pages of the GDT, LDT, IDT and TSS. */
		struct cpu_sysstate s;

		if (!cpu_ctx_read(c->e->ctx, &s) &&
		    ((va <= s.gdt_base + s.gdt_limit && va + 0xfff >= s.gdt_base) ||
		     (va <= s.ldt.base + s.ldt.limit && va + 0xfff >= s.ldt.base) ||
		     (va <= s.tr.base + s.tr.limit && va + 0xfff >= s.tr.base)))
			r = xlat(c, va, PW_IMPLICIT, eacc, &hpa, &perms, &dirty, &err);
	}
	c->vmx.p.fetch = type == UC_MEM_FETCH;
	if (r == VEC_PF) {
		c->vmx.p.pf = 1;
		c->vmx.p.pf_addr = va;
		c->vmx.p.pf_err = err;
		return false;
	}
	if (r)
		return false;	/* EPT exit pending */
	e->paddr = hpa & ~0xfffull;
	/* What the entry may serve later: a write needs D set in both
	 * stages, or it must come back here to set them. */
	e->perms = UC_PROT_READ;
	if ((perms & PW_PERM_WRITE || (!user_mode && !(reg(c, UC_X86_REG_CR0) & (1ull << 16)))) && dirty && c->vmx.ept_dirty &&
	    (c->vmx.ept_perms & EPT_ACCESS_WRITE))
		e->perms |= UC_PROT_WRITE;
	if ((perms & PW_PERM_EXEC) && (c->vmx.ept_perms & EPT_ACCESS_FETCH))
		e->perms |= UC_PROT_EXEC;
	if (!(c->vmx.ept_perms & EPT_ACCESS_READ))
		e->perms &= ~UC_PROT_READ;
	if (type == UC_MEM_WRITE)
		e->perms |= UC_PROT_WRITE;
	if (type == UC_MEM_FETCH)
		e->perms |= UC_PROT_EXEC;
	if (type == UC_MEM_READ)
		e->perms |= UC_PROT_READ;
	return true;
}

int vmx_engine_setup(struct cpu *c, struct engine *e)
{
	uc_hook h;

	if (uc_ctl_tlb_mode(e->uc, UC_TLB_VIRTUAL) != UC_ERR_OK)
		return -1;
	return uc_hook_add(e->uc, &h, UC_HOOK_TLB_FILL, (void *)tlb_fill, c, 1, 0) == UC_ERR_OK ? 0 : -1;
}

/* ---- what exits (SDM 26.1, 26.2) -------------------------------------- */

static uint32_t procctl(struct cpu *c)
{
	return (uint32_t)vget(c, VMCS_PROC_BASED_CTLS);
}

/* Interruption-information of an exception or NMI exit (SDM 28.2.2). */
static uint32_t event_info(unsigned vec, int kind, int has_err)
{
	unsigned type = vec == VEC_NMI ? INTR_TYPE_NMI :
			kind == EV_SOFT ? INTR_TYPE_SOFT_EXCEPTION : INTR_TYPE_HARD_EXCEPTION;

	return INTR_INFO_VALID | vec | type << 8 | (has_err ? INTR_INFO_DELIVER_CODE : 0);
}

int vmx_intercept_exception(struct cpu *c, unsigned vec, int kind, uint32_t errc, uint64_t rip, unsigned len)
{
	uint32_t bm = (uint32_t)vget(c, VMCS_EXCEPTION_BITMAP);
	/* In real mode no exception has an error code (SDM Vol. 3A 20.1.4),
	 * so an exit reports none (28.2.2). */
	int has_err = kind == EV_HW && cpu_has_error_code(vec) && (reg(c, UC_X86_REG_CR0) & CR0_PE);
	int hit;

	if (c->vmx.injecting && !c->vmx.vectoring) {
		/* The injected event itself never exits directly (SDM
		 * 27.6.1.2); from here on an exit during its delivery
		 * reports it as IDT-vectoring information (28.2.4). */
		c->vmx.vectoring = (uint32_t)vget(c, VMCS_ENTRY_INTR_INFO) & ~(uint32_t)INTR_INFO_NMI_UNBLOCKING;
		return 0;
	}
	if (kind == EV_EXT || vec >= 32 || (kind == EV_SOFT && vec != VEC_BP && vec != VEC_OF))
		return 0;	/* interrupts and INT n never exit through the bitmap */
	hit = (bm >> vec) & 1;
	/* A #DB exit's qualification holds what DR6 would have got: B0-B3
	 * and BS (SDM 28.2.1); DR6 itself stays as it was. */
	if (vec == VEC_DB && hit && kind == EV_HW) {
		set_pending_exit(c, EXIT_REASON_EXCEPTION_NMI, c->db_bits, rip - len, len, 0);
		c->db_bits = 0;
		goto exc_info;
	}
	if (vec == VEC_PF) {
		/* SDM 26.2: the error code against mask and match. */
		uint32_t mask = (uint32_t)vget(c, VMCS_PF_ERROR_CODE_MASK);
		uint32_t match = (uint32_t)vget(c, VMCS_PF_ERROR_CODE_MATCH);

		if ((errc & mask) != match)
			hit = !hit;
	}
	if (!hit)
		return 0;
	set_pending_exit(c, EXIT_REASON_EXCEPTION_NMI, vec == VEC_PF ? reg(c, UC_X86_REG_CR2) : 0, rip - len, len, 0);
exc_info:
	c->vmx.p.intr_info = event_info(vec, kind, has_err);
	c->vmx.p.intr_err = has_err ? errc : 0;
	exit_now(c);
	return 1;
}

int vmx_intercept_triple_fault(struct cpu *c)
{
	vmx_exit(c, EXIT_REASON_TRIPLE_FAULT, 0);
	return 1;
}

int vmx_intercept_cpuid(struct cpu *c)
{
	uint64_t rip = reg(c, UC_X86_REG_RIP);

	set_pending_exit(c, EXIT_REASON_CPUID, 0, rip, 2, 0);
	stop_engine(c);
	return 1;
}

int vmx_intercept_hlt(struct cpu *c, uint64_t rip)
{
	if (procctl(c) & CPU_BASED_HLT_EXITING) {
		set_pending_exit(c, EXIT_REASON_HLT, 0, rip - 1, 1, 0);
		exit_now(c);
		return 1;
	}
	/* The guest enters the HLT activity state; with no interrupt that
	 * could wake it on this platform yet, only the preemption timer
	 * (or nothing) ends it. */
	c->vmx.guest_halted = 1;
	return 0;
}

/* I/O exits (SDM 26.1.3 "Instructions That Cause VM Exits Conditionally"). */
int vmx_intercept_io(struct cpu *c, int in, uint16_t port, unsigned size)
{
	uint32_t pc = procctl(c);
	int hit = 0;

	if (pc & CPU_BASED_USE_IO_BITMAPS) {
		for (unsigned p = port; p < port + size; p++) {
			uint64_t bm = vget(c, (p & 0xffff) < 0x8000 ? VMCS_IO_BITMAP_A : VMCS_IO_BITMAP_B);
			uint8_t b = 0xff;

			/* A range wrapping past FFFFH always exits. */
			if (p > 0xffff || phys_r(c, bm + ((p & 0x7fff) >> 3), &b, 1) || ((b >> (p & 7)) & 1))
				hit = 1;
		}
	} else {
		hit = !!(pc & CPU_BASED_UNCOND_IO_EXITING);
	}
	if (!hit)
		return 0;
	/* Exit qualification for I/O instructions (SDM Table 28-5): size-1,
	 * direction, string, REP, immediate operand, port. */
	{
		uint64_t rip = reg(c, UC_X86_REG_RIP), lin = cpu_rip_linear(c, rip);
		uint8_t b[16];
		uint32_t info = 0;
		uint64_t ea = 0;
		unsigned i = 0, rep = 0, str = 0, imm = 0, bits = cpu_ctx_code_bits(c->e->ctx), a67 = 0;
		int seg = 3;	/* DS */

		memset(b, 0, sizeof(b));
		cpu_lin_peek(c, lin, b, sizeof(b), 1);
		while (i < 15 && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xf3 || b[i] == 0xf2 || b[i] == 0x2e ||
				  b[i] == 0x3e || b[i] == 0x26 || b[i] == 0x36 || b[i] == 0x64 || b[i] == 0x65 ||
				  (b[i] >= 0x40 && b[i] <= 0x4f && bits == 64))) {
			if (b[i] == 0xf3 || b[i] == 0xf2)
				rep = 1;
			a67 |= b[i] == 0x67;
			seg = b[i] == 0x26 ? 0 : b[i] == 0x2e ? 1 : b[i] == 0x36 ? 2 : b[i] == 0x3e ? 3 :
			      b[i] == 0x64 ? 4 : b[i] == 0x65 ? 5 : seg;
			i++;
		}
		str = b[i] >= 0x6c && b[i] <= 0x6f;
		imm = b[i] == 0xe4 || b[i] == 0xe5 || b[i] == 0xe6 || b[i] == 0xe7;
		if (str) {
			/* INS/OUTS: address size and (OUTS) segment in the
			 * instruction information (SDM 28.2.5, IA32_VMX_BASIC
			 * [54]); the guest-linear address is ES:(E)DI or
			 * seg:(E)SI (28.2.1). */
			static const int m[6] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS };
			unsigned asz = bits == 64 ? (a67 ? 1 : 2) : bits == 32 ? !a67 : a67;
			struct cpu_sysstate s;

			ea = reg(c, in ? UC_X86_REG_RDI : UC_X86_REG_RSI);
			if (in)
				seg = 0;
			ea &= asz == 2 ? ~0ull : asz == 1 ? 0xffffffffull : 0xffffull;
			if (!cpu_ctx_read(c->e->ctx, &s) && (bits != 64 || seg >= 4))
				ea += s.seg[m[seg]].base;
			info = asz << 7 | (uint32_t)seg << 15;
		}
		set_pending_exit(c, EXIT_REASON_IO_INSTRUCTION,
				 (size - 1) | (in ? 8u : 0) | (str ? 16u : 0) | (rep && str ? 32u : 0) |
					 (imm ? 64u : 0) | ((uint64_t)port << 16),
				 rip, i + 1 + (imm ? 1 : 0), info);
		if (str) {
			c->vmx.p.gla = bits == 64 ? ea : (uint32_t)ea;
			c->vmx.p.has_gla = 1;
			/* The engine finishes the iteration the exit stops;
			 * the instruction must look not executed. */
			c->vmx.p.rcx = reg(c, UC_X86_REG_RCX);
			c->vmx.p.rsi = reg(c, UC_X86_REG_RSI);
			c->vmx.p.rdi = reg(c, UC_X86_REG_RDI);
			c->vmx.p.restore_str = 1;
		}
		if (in) {
			c->vmx.p.rax = reg(c, UC_X86_REG_RAX);
			c->vmx.p.restore_rax = 1;
		}
		stop_engine(c);
	}
	return 1;
}

/* MSR bitmaps (SDM 25.6.9): read-low, read-high, write-low, write-high,
 * 1 KiB each; MSRs outside both ranges always exit. */
static int msr_exits(struct cpu *c, uint32_t idx, int write)
{
	uint64_t bm = vget(c, VMCS_MSR_BITMAP);
	uint32_t off;
	uint8_t b = 0xff;

	if (!(procctl(c) & CPU_BASED_USE_MSR_BITMAPS))
		return 1;
	if (idx <= 0x1fff)
		off = 0;
	else if (idx >= 0xc0000000 && idx <= 0xc0001fff)
		off = 1024;
	else
		return 1;
	off += write ? 2048 : 0;
	idx &= 0x1fff;
	if (phys_r(c, bm + off + idx / 8, &b, 1))
		return 1;
	return (b >> (idx & 7)) & 1;
}

/* ---- task switches (SDM 26.4.2 "Treatment of Task Switches") ----------
 *
 * Every task switch attempted in non-root operation exits, after the
 * checks of the gate and of the new TSS descriptor (26.4.2 steps 1-4),
 * before anything of the switch happens.  The exit qualification names
 * the new TSS and the source (28.2.1, "Exit Qualification for Task
 * Switches").  Outside IA-32e mode only: there these CALL/JMP/IRET/gate
 * forms raise #GP, which the engine does natively.  A descriptor read
 * that faults is left to the native instruction, which faults on the
 * same read first; an EPT violation on it exits here. */

/* Read the descriptor `sel` names from the GDT (or LDT if `ldt_ok` and
 * TI = 1).  1 if read, 0 if beyond the table's limit, -1 if the read
 * failed (an EPT exit is then pending, see ts_read_failed). */
static int ts_desc(struct cpu *c, const struct cpu_sysstate *s, uint16_t sel, int ldt_ok, uint64_t *d, int *r)
{
	uint64_t base = s->gdt_base, fl;
	uint32_t limit = s->gdt_limit, err;

	if ((sel & 4) && !ldt_ok)
		return 0;
	if (sel & 4) {
		base = s->ldt.base;
		limit = s->ldt.attr ? s->ldt.limit : 0;
	}
	if ((uint32_t)(sel & ~7u) + 7 > limit)
		return 0;
	*r = cpu_lin_access(c, base + (sel & ~7u), d, 8, 0, &err, &fl);
	return *r ? -1 : 1;
}

/* A guest access of the checks failed: an EPT exit (vmx_translate left
 * it pending) stops here; a page fault is the native instruction's. */
static int ts_read_failed(struct cpu *c, int r)
{
	if (r != -EAGAIN)
		return 0;
	stop_engine(c);
	return 1;
}

/* The fault a check raises, at the instruction (not executed). */
static int ts_fault(struct cpu *c, unsigned vec, uint16_t sel)
{
	cpu_raise_from_hook(c, vec, sel & 0xfffcu);
	return 1;
}

/* Steps 2-4 for the new TSS `sel` (from a JMP/CALL operand or a gate):
 * GDT only, an available TSS (CALL, JMP, gates) or a busy one (IRET),
 * present, limit at least 67H (32-bit) or 2BH (16-bit) (Vol. 3A 7.2.2,
 * 7.3; #GP for CALL/JMP, #TS for IRET; #NP; #TS).  0 if they pass, 1 if
 * a fault was raised or an exit is pending, -1 to run natively. */
static int ts_check_tss(struct cpu *c, const struct cpu_sysstate *s, uint16_t sel, int iret)
{
	uint64_t d = 0;
	int r = 0, got = ts_desc(c, s, sel, 0, &d, &r);
	unsigned type = (d >> 40) & 0x1f;
	uint32_t limit;

	if (got < 0)
		return ts_read_failed(c, r) ? 1 : -1;
	if (!got || (sel & ~3u) == 0 || (iret ? (type != 3 && type != 11) : (type != 1 && type != 9)))
		return ts_fault(c, iret ? VEC_TS : VEC_GP, sel);
	if (!((d >> 47) & 1))
		return ts_fault(c, VEC_NP, sel);
	limit = (uint32_t)(d & 0xffff) | (uint32_t)((d >> 32) & 0xf0000);
	if ((d >> 55) & 1)
		limit = limit << 12 | 0xfff;
	if (limit < ((type & 8) ? 0x67u : 0x2bu))
		return ts_fault(c, VEC_TS, sel);
	return 0;
}

static int ts_exit(struct cpu *c, uint16_t sel, unsigned source, unsigned len)
{
	set_pending_exit(c, EXIT_REASON_TASK_SWITCH, sel | (uint64_t)source << EXIT_QUAL_TS_SOURCE_SHIFT,
			 reg(c, UC_X86_REG_RIP), len, 0);
	stop_engine(c);
	return 1;
}

/* Protected mode outside IA-32e mode and virtual-8086 mode: the only
 * place task switches exist. */
static int ts_mode(struct cpu *c, struct cpu_sysstate *s)
{
	return !cpu_ctx_read(c->e->ctx, s) && (s->cr0 & CR0_PE) && !(s->efer & EFER_LMA) &&
	       !(reg(c, UC_X86_REG_RFLAGS) & RFLAGS_VM);
}

/* Far CALL or JMP (SDM Vol. 2A CALL, JMP: TASK-GATE and TASK-STATE-
 * SEGMENT): to a TSS descriptor or a task gate it is a task switch.
 * Other targets (code segments, call gates, bad selectors) run natively. */
static int far_task_switch(struct cpu *c, unsigned kind, uint64_t addr)
{
	struct cpu_sysstate s;
	cs_insn *in;
	const cs_x86 *x;
	uint64_t rip = reg(c, UC_X86_REG_RIP), d = 0, lin, fl;
	uint16_t sel, tss;
	uint32_t err;
	unsigned type, dpl, cpl, len, bits, o16;
	int r = 0, got, b, ix, sg;

	if (!ts_mode(c, &s))
		return 0;
	in = disasm_at(c, rip, addr);
	if (!in)
		return 0;
	x = &in->detail->x86;
	len = in->size;
	bits = cpu_ctx_code_bits(c->e->ctx);
	if ((in->id != X86_INS_LCALL && in->id != X86_INS_LJMP) ||
	    (in->id == X86_INS_LCALL) != (kind == SITE_CALL_FAR)) {
		cs_free(in, 1);
		return 0;
	}
	if (x->op_count == 2 && x->operands[0].type == X86_OP_IMM) {
		sel = (uint16_t)x->operands[0].imm;	/* ptr16:16/32 */
	} else if (x->op_count == 1 && x->operands[0].type == X86_OP_MEM) {
		/* m16:16 or m16:32: the selector follows the offset, whose
		 * size is the operand size (66H flips the default). */
		o16 = (bits == 16) != (x->prefix[2] == 0x66);
		if (op_lin(c, in, &x->operands[0], rip, bits, &lin, &b, &ix, &sg)) {
			cs_free(in, 1);
			return 0;
		}
		if (bits != 64)
			lin = (uint32_t)lin;
		r = cpu_lin_access(c, lin + (o16 ? 2 : 4), &sel, 2, 0, &err, &fl);
		if (r) {
			cs_free(in, 1);
			return ts_read_failed(c, r);
		}
	} else {
		cs_free(in, 1);
		return 0;
	}
	cs_free(in, 1);
	/* A null selector, one beyond the table, a segment, a call gate: no
	 * task switch; the instruction faults or branches natively. */
	if (!(sel & ~3u))
		return 0;
	got = ts_desc(c, &s, sel, 1, &d, &r);
	if (got < 0)
		return ts_read_failed(c, r);
	type = (d >> 40) & 0x1f;	/* S and type */
	if (!got || (type != 1 && type != 9 && type != 5))
		return 0;
	dpl = (d >> 45) & 3;
	cpl = cpu_cpl(c);
	/* The gate's or the TSS's DPL against CPL and the selector's RPL
	 * (26.4.2 1b, 1d); the TSS descriptor only in the GDT. */
	if (dpl < cpl || dpl < (sel & 3u) || (type != 5 && (sel & 4)))
		return ts_fault(c, VEC_GP, sel);
	if (!((d >> 47) & 1))
		return ts_fault(c, VEC_NP, sel);
	tss = type == 5 ? (uint16_t)(d >> 16) : sel;
	r = ts_check_tss(c, &s, tss, 0);
	if (r)
		return r > 0;
	return ts_exit(c, tss, kind == SITE_CALL_FAR ? EXIT_QUAL_TS_CALL : EXIT_QUAL_TS_JMP, len);
}

/* IRET with NT = 1 returns to the task in the back link of the current
 * TSS (Vol. 2A IRET, TASK-RETURN; 26.4.2 1h: no privilege checks). */
static int iret_task_switch(struct cpu *c, unsigned size)
{
	struct cpu_sysstate s;
	uint64_t fl;
	uint32_t err;
	uint16_t sel;
	int r;

	if (!(reg(c, UC_X86_REG_RFLAGS) & RFLAGS_NT) || !ts_mode(c, &s))
		return 0;
	r = cpu_lin_access(c, s.tr.base, &sel, 2, 0, &err, &fl);
	if (r)
		return ts_read_failed(c, r);
	r = ts_check_tss(c, &s, sel, 1);
	if (r)
		return r > 0;
	return ts_exit(c, sel, EXIT_QUAL_TS_IRET, size);
}

int vmx_intercept_site(struct cpu *c, unsigned kind, uint64_t addr, unsigned size)
{
	uint32_t pc = procctl(c);
	uint32_t reason = 0;
	uint64_t qual = 0;
	uint8_t b[16];
	int o16 = 0;

	switch (kind) {
	case SITE_RDMSR:
	case SITE_WRMSR:
		if (cpu_cpl(c))
			return 0;	/* #GP has priority (SDM 26.1.1) */
		if (msr_exits(c, (uint32_t)reg(c, UC_X86_REG_RCX), kind == SITE_WRMSR))
			reason = kind == SITE_WRMSR ? EXIT_REASON_MSR_WRITE : EXIT_REASON_MSR_READ;
		else if ((uint32_t)reg(c, UC_X86_REG_RCX) == MSR_X2APIC_TPR && (proc2(c) & SECONDARY_VIRTUALIZE_X2APIC))
			return x2apic_tpr(c, kind, addr, size);
		break;
	case SITE_RDTSC:
		if (pc & CPU_BASED_RDTSC_EXITING)
			reason = EXIT_REASON_RDTSC;
		break;
	case SITE_RDTSCP:
		if (!(proc2(c) & SECONDARY_ENABLE_RDTSCP)) {
			cpu_raise_from_hook(c, VEC_UD, 0);
			return 1;
		}
		if (pc & CPU_BASED_RDTSC_EXITING)
			reason = EXIT_REASON_RDTSCP;
		break;
	case SITE_IO: {
		/* An I/O exit comes before the instruction does anything
		 * (SDM 26.1.1).  Opcodes E4-E7 (imm8 port), EC-EF (DX),
		 * 6C/6D INS, 6E/6F OUTS; bit 0 clear = byte, else word or
		 * dword by the operand size; IN and INS read. */
		unsigned i = 0, op, in;
		uint16_t port;

		if (size > 16 || cpu_lin_peek(c, addr, b, size, 1))
			return 0;
		while (i + 1 < size && !((b[i] >= 0xe4 && b[i] <= 0xe7) || (b[i] >= 0xec && b[i] <= 0xef) ||
					 (b[i] >= 0x6c && b[i] <= 0x6f)))
			o16 |= b[i++] == 0x66;
		op = b[i];
		in = op == 0x6c || op == 0x6d || (op >= 0xe4 && op <= 0xe5) || (op >= 0xec && op <= 0xed);
		port = op >= 0xe4 && op <= 0xe7 ? b[i + 1] : (uint16_t)reg(c, UC_X86_REG_RDX);
		return vmx_intercept_io(c, (int)in, port, !(op & 1) ? 1 : o16 ? 2 : 4);
	}
	case SITE_CPUID:
		reason = EXIT_REASON_CPUID;
		break;
	case SITE_PAUSE:
		if (pc & CPU_BASED_PAUSE_EXITING)
			reason = EXIT_REASON_PAUSE;
		break;
	case SITE_INVD:
		if (cpu_cpl(c))
			return 0;	/* #GP has priority (SDM 26.1.1) */
		reason = EXIT_REASON_INVD;	/* unconditionally (SDM 26.1.2) */
		break;
	case SITE_XSETBV:
		/* Unconditionally (SDM 26.1.2), after the #UD for CR4.OSXSAVE =
		 * 0 and the #GP for CPL > 0 (26.1.1), before the value's
		 * checks, which are the hypervisor's to make. */
		if (!(reg(c, UC_X86_REG_CR4) & CR4_OSXSAVE) || cpu_cpl(c))
			return 0;
		reason = EXIT_REASON_XSETBV;
		break;
	case SITE_IRET:
		/* With NT = 1 a task switch, which exits before the IRET does
		 * anything: NMI blocking stays (26.4.2).  Otherwise IRET ends
		 * (virtual-)NMI blocking, even when it faults (SDM 26.3,
		 * "IRET"; 28.1); a fault of the IRET itself is not told apart. */
		if (iret_task_switch(c, size)) {
			if (!c->vmx.p.exit || c->vmx.p.reason != EXIT_REASON_TASK_SWITCH)
				c->vmx.nmi_blocked = 0;
			return 1;
		}
		c->vmx.nmi_blocked = 0;
		return 0;
	case SITE_CALL_FAR:
	case SITE_JMP_FAR:
		return far_task_switch(c, kind, addr);
	case SITE_INVLPG:
		if (cpu_cpl(c))
			return 0;
		if (pc & CPU_BASED_INVLPG_EXITING) {
			reason = EXIT_REASON_INVLPG;
			qual = access_addr(c, ~0ull, 0);
		}
		break;
	default:
		return 0;
	}
	if (!reason)
		return 0;
	/* `addr` is linear; the exit saves RIP, the offset into CS (SDM
	 * 28.3.3), which Unicorn syncs before a code hook runs. */
	set_pending_exit(c, reason, qual, reg(c, UC_X86_REG_RIP), size, 0);
	stop_engine(c);
	return 1;
}

/* Guest TSC with offsetting and scaling (SDM 26.3 "Changes to Instruction
 * Behavior in VMX Non-Root Operation", RDTSC). */
uint64_t vmx_guest_tsc(struct cpu *c, uint64_t tsc)
{
	if (!(procctl(c) & CPU_BASED_TSC_OFFSETTING))
		return tsc;
	return tsc + vget(c, VMCS_TSC_OFFSET);
}

/* At a block boundary in non-root operation, before the block at linear
 * address `lin` runs.  The exit's RIP comes from it: inside a block hook
 * Unicorn's RIP can be the start of the block before (cpu.c
 * fix_stop_rip). */
int vmx_block_check(struct cpu *c, uint64_t lin)
{
	struct vmx *x = V(c);
	uint64_t rip;

	if (x->p.exit)
		return 1;
	/* The exit's RIP is `lin` minus the CS base, which takes a context
	 * save (cpu_rip_linear) to read: only once an exit is certain, not
	 * at every block while the preemption timer is armed. */
	if (x->preempt_deadline >= 0 && c->cycles >= (uint64_t)x->preempt_deadline) {
		rip = lin - cpu_rip_linear(c, 0);
		set_pending_exit(c, EXIT_REASON_PREEMPTION_TIMER, 0, rip, 0, 0);
		return 1;
	}
	/* NMI window: no virtual-NMI blocking and no blocking by MOV SS (or,
	 * here, STI) (SDM 26.7.6); it takes priority over the interrupt
	 * window.  Interrupt window: RFLAGS.IF = 1 and no blocking by STI or MOV SS
	 * (SDM 26.7.5).  Checked between blocks, so the exit comes at the
	 * first block boundary after the window opens. */
	if ((procctl(c) & CPU_BASED_NMI_WINDOW_EXITING) && !x->nmi_blocked && !cpu_ctx_inhibited(c->e->ctx)) {
		rip = lin - cpu_rip_linear(c, 0);
		set_pending_exit(c, EXIT_REASON_NMI_WINDOW, 0, rip, 0, 0);
		return 1;
	}
	if ((procctl(c) & CPU_BASED_INTR_WINDOW_EXITING) && (reg(c, UC_X86_REG_RFLAGS) & RFLAGS_IF) &&
	    !cpu_ctx_inhibited(c->e->ctx)) {
		rip = lin - cpu_rip_linear(c, 0);
		set_pending_exit(c, EXIT_REASON_INTERRUPT_WINDOW, 0, rip, 0, 0);
		return 1;
	}
	return 0;
}

/* The run loop after the engine stopped: carry out what hooks left. */
int vmx_run_pending(struct cpu *c, uc_err e)
{
	struct vmx *x = V(c);

	if (!x->nonroot)
		return 0;
	if (e == UC_ERR_EXCEPTION && x->p.apic)
		return apic_access(c);
	if (e == UC_ERR_EXCEPTION && x->p.ept_fail) {
		/* A refused TLB fill: RIP is the access's instruction. */
		uint64_t lin = access_addr(c, x->p.gla, x->p.fetch);

		x->p.exit = 1;
		x->p.rip = reg(c, UC_X86_REG_RIP);
		if (x->p.ept_fail == 2)
			x->p.gpa |= lin & 0xfff;	/* the final access, not a walk */
		x->p.gla = lin;
		x->p.ept_fail = 0;
		x->p.pf = 0;
		exit_now(c);
		return 1;
	}
	if (e == UC_ERR_EXCEPTION && x->p.noncanonical) {
		x->p.noncanonical = 0;
		cpu_raise_fault(c, VEC_GP, 0);
		return 1;
	}
	if (e == UC_ERR_EXCEPTION && x->p.pf) {
		uint64_t cr2 = reg(c, UC_X86_REG_CR2);

		x->p.pf = 0;
		set_cr2(c, access_addr(c, x->p.pf_addr, x->p.fetch));
		cpu_raise_fault(c, VEC_PF, x->p.pf_err);
		/* A #PF that exits through the exception bitmap does not
		 * write CR2: its address is the exit qualification (SDM 28.1). */
		if (!x->nonroot && vget(c, VMCS_EXIT_REASON) == EXIT_REASON_EXCEPTION_NMI &&
		    (vget(c, VMCS_EXIT_INTR_INFO) & INTR_INFO_VECTOR_MASK) == VEC_PF)
			set_cr2(c, cr2);
		return 1;
	}
	if (x->p.exit) {
		exit_now(c);
		return 1;
	}
	return 0;
}

static uint32_t vectoring_info(unsigned vec, int kind, int push_err)
{
	unsigned type = kind == EV_SOFT ? INTR_TYPE_SOFT_INTR :
			vec == VEC_NMI ? INTR_TYPE_NMI :
			kind == EV_EXT || vec >= 32 ? INTR_TYPE_EXT_INTR : INTR_TYPE_HARD_EXCEPTION;

	return INTR_INFO_VALID | vec | type << 8 | (push_err ? INTR_INFO_DELIVER_CODE : 0);
}

/* A software interrupt or exception being delivered, `rip` past its
 * instruction: INT3 (CC) and INTO (CE) are software exceptions, INT n
 * (CD ib) a software interrupt (SDM 25.8.3, interruption types).
 * Returns the instruction's length. */
static unsigned soft_insn(struct cpu *c, unsigned vec, uint64_t rip, unsigned *type)
{
	uint8_t last = 0;

	*type = INTR_TYPE_SOFT_INTR;
	if ((vec == VEC_BP || vec == VEC_OF) && !cpu_lin_peek(c, cpu_rip_linear(c, rip) - 1, &last, 1, 1) &&
	    last == (vec == VEC_BP ? 0xcc : 0xce)) {
		*type = INTR_TYPE_SOFT_EXCEPTION;
		return 1;
	}
	return 2;
}

/* An exit during delivery of (vec, kind): that event is the IDT-vectoring
 * information (SDM 28.2.4), unless an injected event's already is
 * (vmx_intercept_exception).  Returns the instruction length the exit
 * reports, 0 if none: a software interrupt's or exception's, the VM-entry
 * instruction length for an injected one (28.2.5); the guest RIP is then
 * that instruction's, `rip` less the length. */
static unsigned delivery_vectoring(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc, uint64_t rip)
{
	struct vmx *x = V(c);
	unsigned type, len;

	if (x->injecting && x->vectoring) {
		type = INTR_INFO_TYPE(x->vectoring);
		return type == INTR_TYPE_SOFT_INTR || type == INTR_TYPE_SOFT_EXCEPTION ||
				       type == INTR_TYPE_PRIV_SW_EXCEPTION ?
			       (unsigned)vget(c, VMCS_ENTRY_INSTRUCTION_LEN) :
			       0;
	}
	x->vectoring = vectoring_info(vec, kind, push_err);
	x->vectoring_err = push_err ? errc : 0;
	if (kind != EV_SOFT)
		return 0;
	len = soft_insn(c, vec, rip, &type);
	x->vectoring = (x->vectoring & ~INTR_INFO_TYPE_MASK) | type << INTR_INFO_TYPE_SHIFT;
	return len;
}

int vmx_intercept_nested(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc, unsigned nvec,
			 uint32_t nerr, uint64_t rip)
{
	uint32_t saved = c->vmx.vectoring, saved_err = c->vmx.vectoring_err;
	unsigned len = delivery_vectoring(c, vec, kind, push_err, errc, rip);

	if (vmx_intercept_exception(c, nvec, EV_HW, nerr, rip, len))
		return 1;
	c->vmx.vectoring = saved;
	c->vmx.vectoring_err = saved_err;
	return 0;
}

void vmx_exit_vectoring(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc)
{
	/* An access to the APIC-access page by the delivery itself (SDM
	 * 28.2.1, Table 28-6: access type 3). */
	if (c->vmx.p.reason == EXIT_REASON_APIC_ACCESS)
		c->vmx.p.qual = (c->vmx.p.qual & EXIT_QUAL_APIC_OFFSET_MASK) |
				(uint64_t)EXIT_QUAL_APIC_LINEAR_EVENT << EXIT_QUAL_APIC_TYPE_SHIFT;
	/* A software interrupt or exception the guest executed: its type
	 * (INT3 and INTO are software exceptions) and, for its exit, the
	 * instruction's length and address (SDM 28.2.4, 28.2.5); RIP is
	 * past it here.  An injected event keeps what inject() set. */
	if (!c->vmx.injecting) {
		unsigned len = delivery_vectoring(c, vec, kind, push_err, errc, c->vmx.p.rip);

		if (len) {
			c->vmx.p.rip -= len;
			c->vmx.p.len = len;
			c->vmx.p.has_len = 1;
		}
	}
	exit_now(c);
}

void vmx_task_gate_exit(struct cpu *c, unsigned vec, int kind, int push_err, uint32_t errc, uint16_t sel,
			uint64_t rip)
{
	unsigned len = delivery_vectoring(c, vec, kind, push_err, errc, rip);

	set_pending_exit(c, EXIT_REASON_TASK_SWITCH,
			 sel | (uint64_t)EXIT_QUAL_TS_IDT_GATE << EXIT_QUAL_TS_SOURCE_SHIFT, rip - len, len, 0);
	exit_now(c);
}

/* #UD from Unicorn in non-root operation for instructions that exit
 * under a control: RDPMC, MONITOR, MWAIT (SDM 26.1.3). */
int vmx_intercept_ud(struct cpu *c, uint64_t rip, uint64_t lin)
{
	uint8_t b[3];
	uint32_t pc = procctl(c), id[4];
	int monitor;

	if (cpu_lin_peek(c, lin, b, 3, 1))
		return 0;
	profile_cpuid(c->prof, 1, 0, id);
	monitor = !!(id[2] & (1u << 3));	/* CPUID.01H:ECX.MONITOR */
	if (b[0] == 0x0f && b[1] == 0x33 && (pc & CPU_BASED_RDPMC_EXITING)) {
		set_pending_exit(c, EXIT_REASON_RDPMC, 0, rip, 2, 0);
	} else if (!monitor || cpu_cpl(c)) {
		/* #UD comes first without CPUID MONITOR, and at CPL > 0 (SDM
		 * 26.1.1; Vol. 2B MONITOR, MWAIT). */
		return 0;
	} else if (b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xc8 && (pc & CPU_BASED_MONITOR_EXITING)) {
		set_pending_exit(c, EXIT_REASON_MONITOR, 0, rip, 3, 0);
	} else if (b[0] == 0x0f && b[1] == 0x01 && b[2] == 0xc9 && (pc & CPU_BASED_MWAIT_EXITING)) {
		/* Qualification bit 0: the monitoring hardware is armed (SDM
		 * 28.2.1, Table 28-1). */
		set_pending_exit(c, EXIT_REASON_MWAIT, c->monitor_armed ? 1 : 0, rip, 3, 0);
	} else {
		return 0;
	}
	exit_now(c);
	return 1;
}

/* ---- control and debug registers (SDM 25.1.3, 26.3, 23.8) ------------ */

#define CR0_MP (1ull << 1)
#define CR0_TS (1ull << 3)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define CR4_DE (1ull << 3)

/* Access types of a control-register exit qualification (SDM 28.2.1,
 * Table 28-3). */
enum { CRQ_MOV_TO = 0, CRQ_MOV_FROM = 1, CRQ_CLTS = 2, CRQ_LMSW = 3 };

static uint64_t cr_mask(struct cpu *c, unsigned n)
{
	return vget(c, n == 4 ? VMCS_CR4_GUEST_HOST_MASK : VMCS_CR0_GUEST_HOST_MASK);
}

static uint64_t cr_shadow(struct cpu *c, unsigned n)
{
	return vget(c, n == 4 ? VMCS_CR4_READ_SHADOW : VMCS_CR0_READ_SHADOW);
}

/* CR0 or CR4 as non-root software reads it: the bits the host owns
 * (set in the guest/host mask) come from the read shadow (SDM 26.3). */
static uint64_t cr_read_view(struct cpu *c, unsigned n)
{
	uint64_t m = cr_mask(c, n);

	return (reg(c, n == 4 ? UC_X86_REG_CR4 : UC_X86_REG_CR0) & ~m) | (cr_shadow(c, n) & m);
}

/* Would loading `v` into CR0 or CR4 raise #GP(0)?  The architectural
 * rules (SDM Vol. 2B "MOV—Move to/from Control Registers") and, in VMX
 * operation, the fixed bits of IA32_VMX_CR0/CR4_FIXED0/1 (SDM 23.8). */
static int cr_load_faults(struct cpu *c, unsigned n, uint64_t v)
{
	struct vmx *x = V(c);
	uint64_t efer = cpu_engine_msr(c, MSR_EFER), fixed0 = x->cap[CAP_CR0_FIXED0];
	int lma = !!(efer & EFER_LMA);

	if (n == 0) {
		if ((v >> 32) || ((v & CR0_NW) && !(v & CR0_CD)) || ((v & CR0_PG) && !(v & CR0_PE)))
			return 1;
		if (!(v & CR0_PG) && cpu_ctx_code_bits(c->e->ctx) == 64)
			return 1;
		/* Activating IA-32e mode (PG set with EFER.LME = 1) needs
		 * CR4.PAE (SDM Vol. 3A 10.8.5; Vol. 2B MOV CR). */
		if ((v & CR0_PG) && !(reg(c, UC_X86_REG_CR0) & CR0_PG) && (efer & EFER_LME) &&
		    !(reg(c, UC_X86_REG_CR4) & CR4_PAE))
			return 1;
		/* With "unrestricted guest", PE and PG are not fixed in VMX
		 * non-root operation (SDM 23.8). */
		if (x->nonroot && unrestricted(c))
			fixed0 &= ~(CR0_PE | CR0_PG);
		return (~v & fixed0) || (v & ~x->cap[CAP_CR0_FIXED1]);
	}
	/* CR4: bits the processor lacks are reserved; FIXED1 lists those it
	 * has (SDM A.8). */
	if ((~v & x->cap[CAP_CR4_FIXED0]) || (v & ~x->cap[CAP_CR4_FIXED1]))
		return 1;
	if (lma && !(v & CR4_PAE))
		return 1;
	if ((v & CR4_PCIDE) && !(reg(c, UC_X86_REG_CR4) & CR4_PCIDE) &&
	    (!lma || (reg(c, UC_X86_REG_CR3) & 0xfff)))
		return 1;
	return 0;
}

/* A guest MOV to CR0 or CR4 that changes the paging mode (CR0.PG,
 * CR4.PAE, CR4.PSE) starts a new TLB pricing epoch: the translations it
 * makes next are new walks (SDM Vol. 3A 4.10.4.1; Unicorn drops its own
 * entries), and enabling PAE paging loads the PDPTE registers from memory
 * (SDM 4.4.1), which guest_regs() does at the next translation.  Other
 * CR4 writes that invalidate TLB entries (PGE, SMEP) are not priced, as
 * before. */
static void cr_paging_change(struct cpu *c, unsigned n, uint64_t v)
{
	uint64_t old = reg(c, n ? UC_X86_REG_CR4 : UC_X86_REG_CR0);
	uint64_t bits = n ? (CR4_PAE | CR4_PSE) : CR0_PG;

	if (!((old ^ v) & bits))
		return;
	vmx_tlb_model_flush(c->e);
	c->vmx.pdpte_cr3 = ~0ull;
}

static int cr_exit(struct cpu *c, uint64_t rip, unsigned len, uint64_t qual)
{
	set_pending_exit(c, EXIT_REASON_CR_ACCESS, qual, rip, len, 0);
	stop_engine(c);
	return 1;
}

/* Finish an instruction the model carried out itself. */
static int cr_done(struct cpu *c, uint64_t addr, unsigned len)
{
	cpu_continue_after_site(c, addr, len);
	return 1;
}

/* Write a GPR as an instruction with `bytes`-sized destination does:
 * 32-bit results zero-extend, 16-bit ones merge (SDM Vol. 1 3.4.1.1). */
static void gpr_write(struct cpu *c, int ucr, unsigned bytes, uint64_t v)
{
	if (bytes == 2)
		v = (reg(c, ucr) & ~0xffffull) | (v & 0xffff);
	else if (bytes == 4)
		v = (uint32_t)v;
	set_reg(c, ucr, v);
}

/* MOV to or from CR0, CR3, CR4 or CR8 (SDM 25.1.3 and 26.3).  Returns
 * 1 if handled (exit pending, emulated, or fault raised), 0 to let the
 * instruction run natively. */
static int mov_cr(struct cpu *c, const cs_insn *in, uint64_t rip, uint64_t addr)
{
	const cs_x86 *x = &in->detail->x86;
	int to = x->operands[0].reg >= X86_REG_CR0 && x->operands[0].reg <= X86_REG_CR15;
	unsigned n = (to ? x->operands[0].reg : x->operands[1].reg) - X86_REG_CR0;
	int ucr = UC_X86_REG_INVALID, g = cpu_cs_gpr(to ? x->operands[1].reg : x->operands[0].reg, &ucr);
	unsigned bytes = cpu_ctx_code_bits(c->e->ctx) == 64 ? 8 : 4;
	uint32_t pc = procctl(c);
	uint64_t qual, v, m;

	if (x->op_count != 2 || g < 0 || (n != 0 && n != 3 && n != 4 && n != 8))
		return 0;	/* #UD, natively */
	qual = n | (uint64_t)(to ? CRQ_MOV_TO : CRQ_MOV_FROM) << 4 | (uint64_t)g << 8;
	if (!c->vmx.nonroot) {
		/* VMX root operation: only the fixed bits are ours. */
		v = reg(c, ucr) & (bytes == 8 ? ~0ull : 0xffffffffull);
		if (to && (n == 0 || n == 4) && cr_load_faults(c, n, v)) {
			cpu_raise_from_hook(c, VEC_GP, 0);
			return 1;
		}
		return 0;
	}
	if (!to) {
		switch (n) {
		case 0:
		case 4:
			gpr_write(c, ucr, bytes, cr_read_view(c, n));
			return cr_done(c, addr, in->size);
		case 3:
			return (pc & CPU_BASED_CR3_STORE_EXITING) ? cr_exit(c, rip, in->size, qual) : 0;
		default:
			if (pc & CPU_BASED_CR8_STORE_EXITING)
				return cr_exit(c, rip, in->size, qual);
			if (!(pc & CPU_BASED_TPR_SHADOW))
				return 0;	/* the LAPIC's TPR (intr.c) */
			/* SDM 29.3: VTPR[7:4] into bits 3:0, the rest cleared. */
			set_reg(c, ucr, (vtpr_read(c) >> 4) & 0xf);
			return cr_done(c, addr, in->size);
		}
	}
	v = reg(c, ucr) & (bytes == 8 ? ~0ull : 0xffffffffull);
	switch (n) {
	case 0:
	case 4:
		/* Exits if a host-owned bit would differ from its shadow;
		 * otherwise host-owned bits keep their value (26.3). */
		m = cr_mask(c, n);
		if ((v ^ cr_shadow(c, n)) & m)
			return cr_exit(c, rip, in->size, qual);
		v = (v & ~m) | (reg(c, n ? UC_X86_REG_CR4 : UC_X86_REG_CR0) & m);
		if (cr_load_faults(c, n, v)) {
			cpu_raise_from_hook(c, VEC_GP, 0);
			return 1;
		}
		cr_paging_change(c, n, v);
		/* Unicorn's CR0 write does what the processor does with PG:
		 * setting it with EFER.LME = 1 activates IA-32e mode (LMA),
		 * clearing it deactivates it (SDM Vol. 3A 10.8.5, 10.8.6). */
		set_reg(c, n ? UC_X86_REG_CR4 : UC_X86_REG_CR0, v);
		return cr_done(c, addr, in->size);
	case 3:
		if (!(pc & CPU_BASED_CR3_LOAD_EXITING))
			return 0;
		/* The CR3-target values that do not exit (25.1.3). */
		for (uint64_t i = 0; i < vget(c, VMCS_CR3_TARGET_COUNT) && i < 4; i++)
			if (vget(c, VMCS_CR3_TARGET_VALUE0 + 2 * i) == v)
				return 0;
		return cr_exit(c, rip, in->size, qual);
	default:
		if (pc & CPU_BASED_CR8_LOAD_EXITING)
			return cr_exit(c, rip, in->size, qual);
		if (!(pc & CPU_BASED_TPR_SHADOW))
			return 0;	/* the LAPIC's TPR (intr.c) */
		if (v >> 4) {
			cpu_raise_from_hook(c, VEC_GP, 0);	/* reserved bits, as natively */
			return 1;
		}
		/* SDM 29.3: bits 3:0 into VTPR[7:4], the rest of VTPR
		 * cleared; then TPR virtualization. */
		vtpr_store(c, (uint32_t)v << 4, 4);
		cr_done(c, addr, in->size);
		if (tpr_virtualize(c, rip + in->size))
			stop_engine(c);
		return 1;
	}
}

/* CLTS and LMSW against the CR0 guest/host mask and read shadow
 * (SDM 25.1.3, 26.3).  LMSW's memory operand is read here; if that
 * faults, the native instruction takes the fault. */
static int clts_lmsw(struct cpu *c, const cs_insn *in, unsigned kind, uint64_t rip, uint64_t addr)
{
	uint64_t m = cr_mask(c, 0), sh = cr_shadow(c, 0), cr0 = reg(c, UC_X86_REG_CR0);
	const cs_x86 *x = &in->detail->x86;
	const cs_x86_op *o = &x->operands[0];
	uint64_t lin = 0, qual, v;
	uint16_t src = 0;
	int ucr = UC_X86_REG_INVALID, b, ix, sg;
	uint32_t err;

	if (kind == SITE_CLTS) {
		if (!(m & CR0_TS))
			return 0;
		if (sh & CR0_TS)
			return cr_exit(c, rip, in->size, (uint64_t)CRQ_CLTS << 4);
		return cr_done(c, addr, in->size);	/* TS is the host's: unchanged */
	}
	if (x->op_count != 1)
		return 0;
	if (o->type == X86_OP_REG) {
		if (cpu_cs_gpr(o->reg, &ucr) < 0)
			return 0;
		src = (uint16_t)reg(c, ucr);
	} else if (o->type != X86_OP_MEM ||
		   op_lin(c, in, o, rip, cpu_ctx_code_bits(c->e->ctx), &lin, &b, &ix, &sg) ||
		   cpu_lin_access(c, lin, &src, 2, 0, &err, &v)) {
		return 0;
	}
	/* Exits if PE is host-owned, set in the source and clear in the
	 * shadow, or if any host-owned bit of MP, EM, TS differs. */
	if (((m & CR0_PE) && (src & CR0_PE) && !(sh & CR0_PE)) || ((src ^ sh) & m & 0xe)) {
		qual = (uint64_t)CRQ_LMSW << 4 | (uint64_t)src << 16;
		if (o->type == X86_OP_MEM)
			qual |= 1u << 6;
		cr_exit(c, rip, in->size, qual);
		/* A memory operand's linear address is reported (28.2.1). */
		c->vmx.p.has_gla = o->type == X86_OP_MEM;
		c->vmx.p.gla = lin;
		return 1;
	}
	/* LMSW loads MP, EM, TS and can set but not clear PE. */
	v = (cr0 & ~(0xeull & ~m)) | (src & 0xe & ~m);
	if (!(m & CR0_PE))
		v |= src & CR0_PE;
	set_reg(c, UC_X86_REG_CR0, v);
	return cr_done(c, addr, in->size);
}

/* SMSW reads the shadowed CR0 (SDM 26.3): a register destination gets
 * it at the operand size, memory its low 16 bits. */
static int smsw(struct cpu *c, const cs_insn *in, uint64_t rip, uint64_t addr)
{
	const cs_x86_op *o = &in->detail->x86.operands[0];
	uint64_t v = cr_read_view(c, 0), lin, fl;
	uint16_t w = (uint16_t)v;
	int ucr = UC_X86_REG_INVALID, b, ix, sg;
	uint32_t err;

	if (in->detail->x86.op_count != 1)
		return 0;
	if (o->type == X86_OP_REG) {
		if (cpu_cs_gpr(o->reg, &ucr) < 0)
			return 0;
		gpr_write(c, ucr, o->size, v);
	} else if (o->type != X86_OP_MEM ||
		   op_lin(c, in, o, rip, cpu_ctx_code_bits(c->e->ctx), &lin, &b, &ix, &sg) ||
		   cpu_lin_access(c, lin, &w, 2, 1, &err, &fl)) {
		return 0;
	}
	return cr_done(c, addr, in->size);
}

/* MOV DR exits under "MOV-DR exiting" (SDM 25.1.3); #UD for DR4/DR5
 * with CR4.DE and #GP at CPL > 0 come first and are native, the
 * general-detect #DB comes after the exit (25.1.1). */
static int mov_dr(struct cpu *c, const cs_insn *in, uint64_t rip)
{
	const cs_x86 *x = &in->detail->x86;
	int to = x->operands[0].reg >= X86_REG_DR0 && x->operands[0].reg <= X86_REG_DR15;
	unsigned n = (to ? x->operands[0].reg : x->operands[1].reg) - X86_REG_DR0;
	int g = cpu_cs_gpr(to ? x->operands[1].reg : x->operands[0].reg, NULL);

	if (!c->vmx.nonroot || !(procctl(c) & CPU_BASED_MOV_DR_EXITING) || x->op_count != 2 || g < 0 || n > 7)
		return 0;
	if ((n == 4 || n == 5) && (reg(c, UC_X86_REG_CR4) & CR4_DE))
		return 0;
	set_pending_exit(c, EXIT_REASON_DR_ACCESS, n | (to ? 0u : 1u << 4) | (uint64_t)g << 8, rip, in->size, 0);
	stop_engine(c);
	return 1;
}

int vmx_cr_site(struct cpu *c, unsigned kind, uint64_t addr, unsigned size)
{
	uint64_t rip = reg(c, UC_X86_REG_RIP);
	cs_insn *in;
	int r = 0;

	if (cpu_cpl(c))
		return 0;	/* #GP(0), natively: before any exit (25.1.1) */
	if (!c->vmx.nonroot && kind != SITE_MOV_CR)
		return 0;
	in = disasm_at(c, rip, addr);
	if (!in)
		return 0;
	switch (kind) {
	case SITE_MOV_CR:
		r = mov_cr(c, in, rip, addr);
		break;
	case SITE_MOV_DR:
		r = mov_dr(c, in, rip);
		break;
	case SITE_CLTS:
	case SITE_LMSW:
		r = clts_lmsw(c, in, kind, rip, addr);
		break;
	case SITE_SMSW:
		r = smsw(c, in, rip, addr);
		break;
	}
	cs_free(in, 1);
	return r;
}

/* ---- APIC virtualization (SDM Vol. 3C ch. 29 "APIC Virtualization and
 * Virtual Interrupts") ---------------------------------------------------
 *
 * Without APIC-register virtualization, virtual-interrupt delivery and
 * posted interrupts (not offered): VTPR on the virtual-APIC page, which
 * MOV CR8 (29.3), the TPR on the APIC-access page (29.4) and the x2APIC
 * TPR MSR (29.5) read and write; TPR virtualization with its
 * TPR-below-threshold exits (29.1.2, 27.7.7); APIC-access exits for
 * every other linear access to the APIC-access page (29.4, 28.2.1).
 *
 * A guest that does not use these controls pays nothing: the APIC-access
 * page is looked for only when a TLB fill has translated an address
 * (xlat), and it is never given to the TLB, so every access to it comes
 * back to tlb_fill, which stops the engine at the instruction. */

/* Store the low `n` bytes of `v` at VTPR. */
static void vtpr_store(struct cpu *c, uint64_t v, unsigned n)
{
	phys_w(c, vget(c, VMCS_VIRTUAL_APIC_PAGE_ADDR) + VAPIC_TPR_OFFSET, &v, n);
}

/* Is VTPR[7:4] below TPR threshold[3:0]? */
static int vtpr_below_threshold(struct cpu *c)
{
	return ((vtpr_read(c) >> 4) & 0xf) < (vget(c, VMCS_TPR_THRESHOLD) & 0xf);
}

/* TPR virtualization without virtual-interrupt delivery (SDM 29.1.2),
 * after an instruction wrote VTPR: a trap-like TPR-below-threshold exit
 * when VTPR[7:4] is below the threshold; `next` is the RIP after the
 * instruction.  Returns 1 if the exit is pending. */
static int tpr_virtualize(struct cpu *c, uint64_t next)
{
	if (!vtpr_below_threshold(c))
		return 0;
	set_pending_exit(c, EXIT_REASON_TPR_BELOW_THRESHOLD, 0, next, 0, 0);
	c->vmx.p.trap = 1;
	return 1;
}

/* SDM 27.7.7 "VM Exits Induced by the TPR Threshold": with "use TPR
 * shadow" and "virtualize APIC accesses", right after VM entry (after
 * any injection, before anything else) when VTPR[7:4] is below the
 * threshold; it wakes a guest entered in HLT.  (Without "virtualize APIC
 * accesses" the entry checks rule that case out.) */
static int tpr_entry_exit(struct cpu *c)
{
	if (!(procctl(c) & CPU_BASED_TPR_SHADOW) || c->vmx.apic_access == ~0ull || !vtpr_below_threshold(c))
		return 0;
	c->vmx.guest_halted = 0;
	set_pending_exit(c, EXIT_REASON_TPR_BELOW_THRESHOLD, 0, reg(c, UC_X86_REG_RIP), 0, 0);
	return 1;
}

/* RDMSR and WRMSR of the x2APIC TPR that the MSR bitmap lets through,
 * under "virtualize x2APIC mode" (SDM 29.5): bytes 87H:80H of the
 * virtual-APIC page, whatever the LAPIC's mode.  A WRMSR that sets bits
 * 63:8 raises #GP(0); one that completes is followed by TPR
 * virtualization. */
static int x2apic_tpr(struct cpu *c, unsigned kind, uint64_t addr, unsigned size)
{
	uint64_t v = 0, next = reg(c, UC_X86_REG_RIP) + size;

	if (kind == SITE_RDMSR) {
		if (phys_r(c, vget(c, VMCS_VIRTUAL_APIC_PAGE_ADDR) + VAPIC_TPR_OFFSET, &v, 8))
			v = 0;
		set_reg(c, UC_X86_REG_RAX, (uint32_t)v);
		set_reg(c, UC_X86_REG_RDX, v >> 32);
		cpu_continue_after_site(c, addr, size);
		return 1;
	}
	v = (uint32_t)reg(c, UC_X86_REG_RAX) | reg(c, UC_X86_REG_RDX) << 32;
	if (v >> 8) {
		cpu_raise_from_hook(c, VEC_GP, 0);
		return 1;
	}
	vtpr_store(c, v, 8);
	cpu_continue_after_site(c, addr, size);
	if (tpr_virtualize(c, next))
		stop_engine(c);
	return 1;
}

/* The translation of `lin` for EPT access `eacc` reached the
 * APIC-access page.  The access type is provisional and the offset is
 * exact only for host-side accesses (vmx_translate): the run loop
 * decides once it has the instruction (apic_access). */
static int apic_page_hit(struct cpu *c, uint64_t lin, uint64_t hpa, unsigned eacc)
{
	struct vmx_pending *p = &c->vmx.p;
	unsigned type = (eacc & EPT_ACCESS_FETCH) ? EXIT_QUAL_APIC_LINEAR_FETCH :
			(eacc & EPT_ACCESS_WRITE) ? EXIT_QUAL_APIC_LINEAR_WRITE : EXIT_QUAL_APIC_LINEAR_READ;

	p->apic = 1;
	p->reason = EXIT_REASON_APIC_ACCESS;
	p->qual = (hpa & EXIT_QUAL_APIC_OFFSET_MASK) | (uint64_t)type << EXIT_QUAL_APIC_TYPE_SHIFT;
	p->gla = lin;
	return -EAGAIN;
}

/* Unicorn register of an 8-bit Capstone register, or -1. */
static int byte_reg(unsigned r)
{
	static const struct { unsigned cs; int uc; } t[] = {
		{ X86_REG_AL, UC_X86_REG_AL }, { X86_REG_CL, UC_X86_REG_CL }, { X86_REG_DL, UC_X86_REG_DL },
		{ X86_REG_BL, UC_X86_REG_BL }, { X86_REG_AH, UC_X86_REG_AH }, { X86_REG_CH, UC_X86_REG_CH },
		{ X86_REG_DH, UC_X86_REG_DH }, { X86_REG_BH, UC_X86_REG_BH }, { X86_REG_SPL, UC_X86_REG_SPL },
		{ X86_REG_BPL, UC_X86_REG_BPL }, { X86_REG_SIL, UC_X86_REG_SIL }, { X86_REG_DIL, UC_X86_REG_DIL },
		{ X86_REG_R8B, UC_X86_REG_R8B }, { X86_REG_R9B, UC_X86_REG_R9B }, { X86_REG_R10B, UC_X86_REG_R10B },
		{ X86_REG_R11B, UC_X86_REG_R11B }, { X86_REG_R12B, UC_X86_REG_R12B }, { X86_REG_R13B, UC_X86_REG_R13B },
		{ X86_REG_R14B, UC_X86_REG_R14B }, { X86_REG_R15B, UC_X86_REG_R15B },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].cs == r)
			return t[i].uc;
	return -1;
}

/* A VTPR access by MOV (SDM 29.4.2, 29.4.3): a load reads the virtual-APIC
 * page; a store writes it, then APIC-write emulation clears VTPR's bytes
 * 3:1 and performs TPR virtualization (29.4.3.2).  Other instructions
 * return 0 and exit as APIC accesses (docs/vmx.md "Known gaps"). */
static int vtpr_mov(struct cpu *c, const cs_insn *in, const cs_x86_op *mo, uint64_t rip)
{
	const cs_x86 *x = &in->detail->x86;
	int load = mo == &x->operands[1];
	const cs_x86_op *o = &x->operands[load ? 0 : 1];
	unsigned n = mo->size;
	uint64_t v = 0, mask = n >= 8 ? ~0ull : (1ull << (8 * n)) - 1;
	int ucr = -1;

	if (in->id != X86_INS_MOV || x->op_count != 2 || (!load && mo != &x->operands[0]))
		return 0;
	if (o->type == X86_OP_REG && (n == 1 ? (ucr = byte_reg(o->reg)) : cpu_cs_gpr(o->reg, &ucr)) < 0)
		return 0;
	if (load) {
		if (o->type != X86_OP_REG)
			return 0;
		v = vtpr_read(c) & mask;
		if (n == 1)
			set_reg(c, ucr, v);
		else
			gpr_write(c, ucr, n, v);
		set_reg(c, UC_X86_REG_RIP, rip + in->size);
		return 1;
	}
	if (o->type == X86_OP_IMM)
		v = (uint64_t)o->imm;
	else if (o->type == X86_OP_REG)
		v = reg(c, ucr);
	else
		return 0;
	vtpr_store(c, v & mask & 0xff, 4);
	set_reg(c, UC_X86_REG_RIP, rip + in->size);
	if (tpr_virtualize(c, rip + in->size))
		exit_now(c);
	return 1;
}

/* The run loop, after tlb_fill refused the APIC-access page: RIP is the
 * accessing instruction, which has done nothing.  A VTPR access (a data
 * access of at most 32 bits at offset 80H, "use TPR shadow" on) is
 * carried out; anything else is an APIC-access exit, fault-like, with
 * the offset and the access type, write as a page fault's W/R bit would
 * say (SDM 28.2.1, Table 28-6). */
static int apic_access(struct cpu *c)
{
	struct vmx *x = V(c);
	uint64_t rip = reg(c, UC_X86_REG_RIP), page = x->p.gla, lin;
	unsigned type = x->p.fetch ? EXIT_QUAL_APIC_LINEAR_FETCH : (unsigned)(x->p.qual >> EXIT_QUAL_APIC_TYPE_SHIFT) & 0xf;
	unsigned len = 0, bits = cpu_ctx_code_bits(c->e->ctx);
	cs_insn *in;

	x->p.apic = 0;
	x->p.pf = 0;
	lin = access_addr(c, page, x->p.fetch);
	if (!x->p.fetch && (in = disasm_at(c, rip, cpu_rip_linear(c, rip)))) {
		const cs_x86_op *mo = NULL;

		len = in->size;
		for (int i = 0; i < in->detail->x86.op_count && !mo; i++) {
			const cs_x86_op *o = &in->detail->x86.operands[i];
			uint64_t ea;
			int b, ix, sg;

			if (o->type == X86_OP_MEM && !op_lin(c, in, o, rip, bits, &ea, &b, &ix, &sg) && ea == lin)
				mo = o;
		}
		if (mo)
			type = (mo->access & CS_AC_WRITE) ? EXIT_QUAL_APIC_LINEAR_WRITE : EXIT_QUAL_APIC_LINEAR_READ;
		if (mo && (lin & 0xfff) == VAPIC_TPR_OFFSET && mo->size <= 4 && (procctl(c) & CPU_BASED_TPR_SHADOW) &&
		    vtpr_mov(c, in, mo, rip)) {
			cs_free(in, 1);
			return 1;
		}
		cs_free(in, 1);
	}
	set_pending_exit(c, EXIT_REASON_APIC_ACCESS, (lin & EXIT_QUAL_APIC_OFFSET_MASK) |
			 (uint64_t)type << EXIT_QUAL_APIC_TYPE_SHIFT, rip, len, 0);
	exit_now(c);
	return 1;
}
