/* Synthetic CPUID leaves (TLFS "Feature and Interface Discovery") and
 * synthetic MSRs (TLFS "Hypercall Interface": the hypercall page; "Virtual
 * Processor Management": VP index); the SynIC MSRs are synic.c's, the
 * reference counter, reference TSC page and synthetic timers stimer.c's,
 * a child's APIC MSRs vapic.c's. */
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define HV_MAX_LEAF HV_CPUID_HARDWARE_FEATURES
#define HV_BUILD 1		/* hv_model's build number in leaf 0x40000002 */

int hv_cpuid_synthetic(struct hv_vp *vp, uint32_t leaf, struct cpuid_regs *r)
{
	uint64_t priv = vp->part->privileges;

	if (leaf < HV_CPUID_VENDOR_AND_MAX_FUNCTIONS || leaf > HV_CPUID_VENDOR_AND_MAX_FUNCTIONS + 0xff)
		return 0;
	*r = (struct cpuid_regs){ 0, 0, 0, 0 };
	switch (leaf) {
	case HV_CPUID_VENDOR_AND_MAX_FUNCTIONS:
		*r = (struct cpuid_regs){ HV_MAX_LEAF, HV_CPUID_VENDOR_EBX, HV_CPUID_VENDOR_ECX, HV_CPUID_VENDOR_EDX };
		break;
	case HV_CPUID_INTERFACE:
		r->eax = HV_CPUID_INTERFACE_HV1;
		break;
	case HV_CPUID_VERSION:
		r->eax = HV_BUILD;
		r->ebx = HV_CPUID_VERSION_EBX(0, 1);
		break;
	case HV_CPUID_FEATURES:
		r->eax = (uint32_t)priv;
		r->ebx = (uint32_t)(priv >> 32);
		/* Synthetic timers come with direct mode (stimer.c); the
		 * frequency MSRs are offered with their privilege. */
		if (priv & HV_MSR_SYNTIMER_AVAILABLE)
			r->edx |= HV_STIMER_DIRECT_MODE_AVAILABLE;
		if (priv & HV_ACCESS_FREQUENCY_MSRS)
			r->edx |= HV_FEATURE_FREQUENCY_MSRS_AVAILABLE;
		break;
	case HV_CPUID_ENLIGHTMENT_INFO:
		/* A child's virtual APIC (vapic.c): use the MSRs for EOI, ICR
		 * and TPR, the x2APIC MSRs, and the IPI hypercalls (Ex too). */
		if (priv & HV_MSR_APIC_ACCESS_AVAILABLE)
			r->eax |= HV_X64_APIC_ACCESS_RECOMMENDED | HV_X64_X2APIC_MSRS_RECOMMENDED |
				  HV_X64_CLUSTER_IPI_RECOMMENDED | HV_X64_EX_PROCESSOR_MASKS_RECOMMENDED;
		r->ebx = HV_SPINLOCK_RETRIES_NEVER;
		r->ecx = cpuid(0x80000008, 0).eax & HV_X64_IMPL_PHYS_ADDR_BITS_MASK;
		break;
	case HV_CPUID_IMPLEMENT_LIMITS:
		r->eax = HV_MAX_VPS;
		r->ebx = HV_MAX_LPS;
		break;
	case HV_CPUID_HARDWARE_FEATURES:
		r->eax = HV_HW_MSR_BITMAPS_IN_USE | HV_HW_SLAT_IN_USE;
		break;
	default:
		break;		/* leaves above the maximum read 0 */
	}
	return 1;
}

/* The hypercall page (TLFS "Establishing the Hypercall Interface"): the
 * hypervisor overlays the GPA page with one of its own holding VMCALL;
 * RET, read and execute only, and restores what was there when the
 * page is disabled or moved.  The page comes from the partition's pool
 * (the hypervisor's for the root). */
static void hypercall_page_off(struct hv_partition *p)
{
	uint64_t gpa = p->hypercall_msr & HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_MASK;

	if (!p->hypercall_page)
		return;
	hv_ept_set_leaf(&p->ept, gpa, p->hypercall_saved);
	hv_pool_put(p->is_root ? &hv_pool : &p->pool, p->hypercall_page);
	p->hypercall_page = 0;
}

static int hypercall_page_on(struct hv_partition *p, uint64_t gpa)
{
	static const uint8_t stub[] = { 0x0f, 0x01, 0xc1, 0xc3 };	/* vmcall; ret */
	uint64_t page, leaf;

	if (!(hv_ept_leaf(&p->ept, gpa) & EPT_RWX))
		return -1;	/* not the partition's memory */
	/* The 4 KiB leaf the overlay replaces (a 2 MiB leaf splits). */
	if (hv_ept_leaf_4k(&p->ept, gpa, &leaf))
		return -1;
	page = hv_pool_get(p->is_root ? &hv_pool : &p->pool);
	if (!page)
		return -1;
	memset(hv_va(page), 0xcc, HV_PAGE_SIZE);	/* INT3 around the stub */
	memcpy(hv_va(page), stub, sizeof(stub));
	p->hypercall_saved = leaf;
	p->hypercall_page = page;
	return hv_ept_set_leaf(&p->ept, gpa, page | EPT_R | EPT_X | EPT_MT_WB | (1ull << 6));
}

int hv_msr_read(struct hv_vp *vp, uint32_t idx, uint64_t *v)
{
	struct hv_partition *p = vp->part;
	int r = hv_synic_msr_read(vp, idx, v);

	if (r <= 0)
		return r;
	r = hv_stimer_msr_read(vp, idx, v);
	if (r <= 0)
		return r;
	r = hv_vapic_msr_read(vp, idx, v);
	if (r <= 0)
		return r;
	switch (idx) {
	case HV_X64_MSR_GUEST_OS_ID:
		*v = p->guest_os_id;
		return 0;
	case HV_X64_MSR_HYPERCALL:
		*v = p->hypercall_msr;
		return 0;
	case HV_X64_MSR_VP_INDEX:
		*v = vp->index;
		return 0;
	default:
		return -1;
	}
}

int hv_msr_write(struct hv_vp *vp, uint32_t idx, uint64_t v)
{
	struct hv_partition *p = vp->part;
	int r = hv_synic_msr_write(vp, idx, v);

	if (r <= 0)
		return r;
	r = hv_stimer_msr_write(vp, idx, v);
	if (r <= 0)
		return r;
	r = hv_vapic_msr_write(vp, idx, v);
	if (r <= 0)
		return r;
	switch (idx) {
	case HV_X64_MSR_GUEST_OS_ID:
		p->guest_os_id = v;
		/* With no guest OS identified the page cannot stay enabled. */
		if (!v && (p->hypercall_msr & HV_X64_MSR_HYPERCALL_ENABLE)) {
			hypercall_page_off(p);
			p->hypercall_msr &= ~HV_X64_MSR_HYPERCALL_ENABLE;
		}
		return 0;
	case HV_X64_MSR_HYPERCALL:
		if (p->hypercall_msr & HV_X64_MSR_HYPERCALL_LOCKED)
			return 0;	/* locked until reset: writes are ignored */
		v &= ~HV_X64_MSR_HYPERCALL_RSVDP_MASK;
		if (!p->guest_os_id)
			v &= ~HV_X64_MSR_HYPERCALL_ENABLE;
		hypercall_page_off(p);
		if ((v & HV_X64_MSR_HYPERCALL_ENABLE) &&
		    hypercall_page_on(p, v & HV_X64_MSR_HYPERCALL_PAGE_ADDRESS_MASK))
			v &= ~HV_X64_MSR_HYPERCALL_ENABLE;
		p->hypercall_msr = v;
		return 0;
	default:
		return -1;	/* read-only (VP_INDEX) or not offered: #GP */
	}
}
