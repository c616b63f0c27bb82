/* Emulated MMIO: a child's access to its xAPIC page (docs/hypervisor.md
 * "Virtual APIC").  The child's EPT does not map the page, so the access
 * is an EPT violation, fault-like, with the exact guest-physical and
 * guest-linear addresses (SDM Vol. 3C 28.2.1, 28.2.4) but no instruction
 * length or information.  The hypervisor fetches the instruction from
 * CS:RIP through the guest's paging structures and the child's EPT
 * (insn.c hv_walk), decodes it (hv_insn_decode: MOV, MOVZX, MOVSX),
 * checks that its memory operand is the access that exited, performs the
 * register access (vapic.c), writes the destination register or takes
 * the source, and moves RIP past it.
 *
 * What the guest can get wrong, it pays for alone: a walk that faults
 * gives it the #PF the processor would have (CR2, error code; the
 * instruction was fetched a moment ago, so only a guest that changed its
 * paging structures meanwhile sees one), LOCK is #UD, and anything else
 * (another instruction, an instruction fetch from the page, event
 * delivery or a paging-structure access touching it, instruction bytes
 * outside its memory) stops its partition with the reason. */
#include <hv/vmx.h>

#include "hv.h"
#include "insn.h"
#include "rt.h"

#define RFLAGS_VM (1ull << 17)

/* A guest-physical qword (or the dword at the end of a page) through the
 * partition's EPT (`ctx`), for hv_walk. */
int hv_read_gpa(void *ctx, uint64_t gpa, uint64_t *v)
{
	struct hv_partition *p = ctx;
	uint64_t hpa = hv_ept_translate(&p->ept, gpa, EPT_R);

	if (hpa == ~0ull)
		return -1;
	*v = (gpa & 0xfff) > 0xff8 ? *(volatile uint32_t *)hv_va(hpa) : *(volatile uint64_t *)hv_va(hpa);
	return 0;
}

unsigned hv_fetch_insn(struct hv_vp *vp, uint8_t *code, unsigned max, struct hv_fetch *f)
{
	struct hv_walk_regs *r = &f->regs;
	uint64_t lin;
	unsigned got = 0;

	*r = (struct hv_walk_regs){
		.cr0 = vmread(VMCS_GUEST_CR0), .cr3 = vmread(VMCS_GUEST_CR3), .cr4 = vmread(VMCS_GUEST_CR4),
		.efer = vmread(VMCS_GUEST_IA32_EFER), .cpl = (vmread(VMCS_GUEST_SS_AR_BYTES) >> 5) & 3,
		.maxphyaddr = cpuid(0x80000008, 0).eax & 0xff,
	};
	f->bits = hv_insn_code_bits(r->cr0 & X86_CR0_PE, vmread(VMCS_GUEST_RFLAGS) & RFLAGS_VM, r->efer & EFER_LMA,
				    (uint32_t)vmread(VMCS_GUEST_CS_AR_BYTES));
	f->ws = HV_WALK_OK;
	f->pf = 0;
	f->fault_lin = 0;
	if ((r->cr0 & X86_CR0_PG) && (r->cr4 & X86_CR4_PAE) && !(r->efer & EFER_LMA))
		for (unsigned i = 0; i < 4; i++)
			r->pdpte[i] = vmread(VMCS_GUEST_PDPTE0 + 2 * i);	/* the processor's (SDM 28.3.1) */

	/* Page by page, as far as they can be read. */
	lin = f->bits == 64 ? vmread(VMCS_GUEST_RIP) : vmread(VMCS_GUEST_CS_BASE) + vmread(VMCS_GUEST_RIP);
	for (uint64_t hpa = 0; got < max; got++) {
		uint64_t a = lin + got, g;

		if (f->bits < 64)
			a &= 0xffffffffull;	/* CS.base is 0 in 64-bit mode */
		if (got == 0 || !(a & 0xfff)) {
			f->ws = hv_walk(r, a, HV_WALK_FETCH, hv_read_gpa, vp->part, &g, &f->pf);
			if (f->ws == HV_WALK_OK)
				hpa = hv_ept_translate(&vp->part->ept, g, EPT_X);
			if (f->ws != HV_WALK_OK || hpa == ~0ull) {
				f->fault_lin = a;
				if (f->ws == HV_WALK_OK)
					f->ws = HV_WALK_NO_MEMORY;
				break;
			}
		}
		code[got] = *(volatile uint8_t *)hv_va((hpa & ~0xfffull) | (a & 0xfff));
	}
	return got;
}

int hv_mmio_exit(struct hv_vp *vp, const char **why)
{
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION), gpa = vmread(VMCS_GUEST_PHYSICAL_ADDRESS);
	uint64_t rip = vmread(VMCS_GUEST_RIP), rsp = vmread(VMCS_GUEST_RSP);
	uint8_t code[HV_INSN_MAX];
	uint64_t gpr[16], want;
	struct hv_fetch f;
	struct hv_insn d;
	unsigned got;
	int st;

	if (!hv_vapic_xapic_page(vp, gpa))
		return 1;
	if (q & EXIT_QUAL_EPT_FETCH) {
		*why = "instruction fetch from its xAPIC page (GPA, RIP)";
		return -1;
	}
	if ((vmread(VMCS_IDT_VECTORING_INFO) & INTR_INFO_VALID) || !(q & EXIT_QUAL_EPT_GLA_VALID) ||
	    !(q & EXIT_QUAL_EPT_GLA_TRANSLATED)) {
		*why = "its xAPIC page touched by event delivery or as a paging structure (GPA, RIP)";
		return -1;
	}
	/* Up to 15 bytes at CS:RIP; the decoder says whether that was enough. */
	got = hv_fetch_insn(vp, code, HV_INSN_MAX, &f);
	st = hv_insn_decode(code, got, f.bits, &d);
	if (st == HV_INSN_SHORT) {
		if (f.ws == HV_WALK_PAGE_FAULT) {
			vp->g.cr2 = f.fault_lin;	/* SDM 6.15 #PF: CR2, error code */
			hv_inject_exception(14, 1, f.pf);
			return 0;
		}
		*why = "the instruction at RIP on its xAPIC page could not be fetched from its memory (GPA, RIP)";
		return -1;
	}
	if (st == HV_INSN_LOCK) {
		hv_inject_exception(6, 0, 0);
		return 0;
	}
	if (st != HV_INSN_OK) {
		*why = "an instruction other than MOV, MOVZX or MOVSX on its xAPIC page (GPA, RIP)";
		return -1;
	}
	/* Its memory operand must be the access that exited. */
	for (unsigned i = 0; i < 16; i++)
		gpr[i] = *hv_vp_gpr(vp, i, &rsp);
	want = hv_insn_ea(&d, gpr, rip + d.len);
	if (f.bits < 64 || d.seg == HV_SEG_FS || d.seg == HV_SEG_GS)
		want += vmread(VMCS_GUEST_ES_BASE + 2 * d.seg);
	if (f.bits < 64)
		want &= 0xffffffffull;
	if (want != vmread(VMCS_GUEST_LINEAR_ADDRESS) || (gpa & 0xfff) + d.size > HV_PAGE_SIZE) {
		*why = "an access to its xAPIC page that is not the MOV at RIP (GPA, RIP)";
		return -1;
	}
	if (d.store) {
		hv_vapic_mmio_write(vp, gpa & 0xfff, d.size, hv_insn_store_value(&d, *hv_vp_gpr(vp, d.reg, &rsp)));
	} else {
		uint64_t *dst = hv_vp_gpr(vp, d.reg, &rsp);

		*dst = hv_insn_load(&d, *dst, hv_vapic_mmio_read(vp, gpa & 0xfff, d.size));
		if (d.reg == 4)
			vmwrite(VMCS_GUEST_RSP, rsp);
	}
	/* The instruction completed (as hv_skip_instruction, with the
	 * decoded length: the exit gives none). */
	rip += d.len;
	if (f.bits < 64)
		rip &= f.bits == 16 ? 0xffffull : 0xffffffffull;
	vmwrite(VMCS_GUEST_RIP, rip);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, vmread(VMCS_GUEST_INTERRUPTIBILITY) & ~3ull);
	return 0;
}
