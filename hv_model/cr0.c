/* A child's CR0 as the child sees it (docs/hypervisor.md "Unmodified
 * guests").
 *
 * VMX operation fixes some CR0 bits to 1 (IA32_VMX_CR0_FIXED0, SDM Vol.
 * 3C A.7): PE, NE and PG, of which "unrestricted guest" frees PE and PG
 * (27.3.1.1).  A guest may still want NE = 0, as a PC starts (SDM Vol. 3A
 * 9.1.1, Table 9-1) and as kernels that do not use x87 exception
 * reporting leave it; on hardware its MOV to CR0 would simply take.  So
 * the hypervisor owns the bits VMX fixes beyond PE and PG: they are set
 * in the child's CR0 guest/host mask (25.6.6), the read shadow holds the
 * values the guest gave them, and the CR0 the processor uses has them 1.
 * A guest read of CR0 sees the shadow's bits (26.3); a MOV to CR0 that
 * would change an owned bit against the shadow exits (26.1.3), and
 * hv_cr0_exit performs it as the processor would (Vol. 2B "MOV—Move
 * to/from Control Registers", Vol. 3A 2.5, 10.8.5 for IA-32e mode).
 * LMSW and CLTS reach only bits 0-3 and never exit.  The root owns no
 * bit: it runs with NE set. */
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define CR0_ET (1ull << 4)
#define CR0_NW (1ull << 29)
#define CR0_CD (1ull << 30)
#define AR_L (1u << 13)		/* VMX access rights (SDM 25.4.1) */
#define PDPTE_RESERVED 0x1e6ull	/* bits 2:1 and 8:5 (SDM Vol. 3A 4.4.1, Table 4-8) */

uint64_t hv_cr0_owned(const struct hv_vp *vp)
{
	return vp->part->is_root ? 0 : rdmsr(MSR_IA32_VMX_CR0_FIXED0) & ~(uint64_t)(X86_CR0_PE | X86_CR0_PG);
}

void hv_cr0_set(uint64_t v)
{
	uint64_t owned = vmread(VMCS_CR0_GUEST_HOST_MASK);

	vmwrite(VMCS_CR0_READ_SHADOW, v);
	vmwrite(VMCS_GUEST_CR0, v | owned);
}

uint64_t hv_cr0_get(void)
{
	uint64_t owned = vmread(VMCS_CR0_GUEST_HOST_MASK);

	return (vmread(VMCS_GUEST_CR0) & ~owned) | (vmread(VMCS_CR0_READ_SHADOW) & owned);
}

/* PAE paging without IA-32e mode: with EPT, VM entry loads the PDPTEs
 * from the VMCS (SDM Vol. 3C 28.3.2.4), so the hypervisor reads them
 * from CR3 as a MOV to CR0 would (Vol. 3A 4.4.1); a present one with a
 * reserved bit set, or unreadable, is #GP. */
static int load_pdptes(struct hv_vp *vp, uint64_t cr3)
{
	uint64_t maxpa = cpuid(0x80000008, 0).eax & 0xff, e[4];

	for (unsigned i = 0; i < 4; i++) {
		if (hv_read_gpa(vp->part, (cr3 & 0xffffffe0ull) + 8 * i, &e[i]))
			return -1;
		if ((e[i] & 1) && ((e[i] & PDPTE_RESERVED) || (e[i] >> maxpa)))
			return -1;
	}
	for (unsigned i = 0; i < 4; i++)
		vmwrite(VMCS_GUEST_PDPTE0 + 2 * i, e[i]);
	return 0;
}

int hv_cr0_exit(struct hv_vp *vp)
{
	uint64_t q = vmread(VMCS_EXIT_QUALIFICATION), old = hv_cr0_get(), v, rsp = vmread(VMCS_GUEST_RSP);
	uint64_t efer = vmread(VMCS_GUEST_IA32_EFER), cr4 = vmread(VMCS_GUEST_CR4);
	uint64_t entry = vmread(VMCS_ENTRY_CTLS);
	unsigned gpr = (q >> 8) & 15;
	bool code64 = (efer & EFER_LMA) && (vmread(VMCS_GUEST_CS_AR_BYTES) & AR_L);

	/* Qualification (SDM Table 28-3): CR 0, access type 0 (MOV to CR). */
	if ((q & 15) != 0 || ((q >> 4) & 3) != 0)
		return -1;
	v = *hv_vp_gpr(vp, gpr, &rsp);
	if (!code64)
		v = (uint32_t)v;	/* a 32-bit operand outside 64-bit mode */
	v |= CR0_ET;			/* ET is fixed at 1 (Vol. 3A 2.5) */
	if ((v >> 32) || ((v & X86_CR0_PG) && !(v & X86_CR0_PE)) || ((v & CR0_NW) && !(v & CR0_CD)))
		goto gp;
	if (!(old & X86_CR0_PG) && (v & X86_CR0_PG) && (efer & EFER_LME)) {
		/* IA-32e mode comes on with paging (Vol. 3A 10.8.5). */
		if (!(cr4 & X86_CR4_PAE))
			goto gp;
		efer |= EFER_LMA;
		entry |= VM_ENTRY_IA32E_MODE;
	} else if ((old & X86_CR0_PG) && !(v & X86_CR0_PG) && (efer & EFER_LMA)) {
		if (code64)
			goto gp;	/* paging off from 64-bit code */
		efer &= ~(uint64_t)EFER_LMA;
		entry &= ~(uint64_t)VM_ENTRY_IA32E_MODE;
	}
	if ((v & X86_CR0_PG) && (cr4 & X86_CR4_PAE) && !(efer & EFER_LMA) &&
	    ((v ^ old) & (X86_CR0_PG | CR0_CD | CR0_NW)) && load_pdptes(vp, vmread(VMCS_GUEST_CR3)))
		goto gp;
	vmwrite(VMCS_GUEST_IA32_EFER, efer);
	vmwrite(VMCS_ENTRY_CTLS, entry);
	hv_cr0_set(v);
	hv_skip_instruction();
	return 0;
gp:
	hv_inject_exception(13, 1, 0);
	return 0;
}
