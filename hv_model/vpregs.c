/* A VP's registers as HvCallGetVpRegisters/HvCallSetVpRegisters name
 * them (TLFS "Virtual Processor Register Names"): general registers in
 * the VP's save area, the rest in its VMCS (which the caller has made
 * current), the MSRs VMX does not switch in its MSR area (the VM-entry
 * load and VM-exit store lists, SDM 25.7.2, 25.8.2). */
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

/* MSRs switched through each VP's MSR area, in this order. */
static const uint32_t area_msrs[HV_VP_MSRS] = { MSR_STAR,  MSR_LSTAR,	     MSR_CSTAR,
						 MSR_FMASK, MSR_KERNEL_GS_BASE, MSR_TSC_AUX };

struct msr_entry {
	uint32_t index, reserved;
	uint64_t value;
};

static struct msr_entry *area(struct hv_vp *vp)
{
	return (struct msr_entry *)vp->msr_area;
}

/* The VP's MSR area and the controls that use it, with the processor's
 * current values to start from. */
void hv_vp_msr_area_init(struct hv_vp *vp)
{
	for (unsigned i = 0; i < HV_VP_MSRS; i++)
		area(vp)[i] = (struct msr_entry){ area_msrs[i], 0, 0 };
	vmwrite(VMCS_ENTRY_MSR_LOAD_ADDR, hv_pa(vp->msr_area));
	vmwrite(VMCS_ENTRY_MSR_LOAD_COUNT, HV_VP_MSRS);
	vmwrite(VMCS_EXIT_MSR_STORE_ADDR, hv_pa(vp->msr_area));
	vmwrite(VMCS_EXIT_MSR_STORE_COUNT, HV_VP_MSRS);
}

void hv_vp_msr_area_set(struct hv_vp *vp, uint32_t msr, uint64_t v)
{
	for (unsigned i = 0; i < HV_VP_MSRS; i++)
		if (area_msrs[i] == msr)
			area(vp)[i].value = v;
}

static uint64_t *area_slot(struct hv_vp *vp, uint32_t msr)
{
	for (unsigned i = 0; i < HV_VP_MSRS; i++)
		if (area_msrs[i] == msr)
			return &area(vp)[i].value;
	return NULL;
}

/* The architectural state after INIT (SDM Vol. 3A 9.1.1, Table 9-1):
 * real mode at F000:FFF0, which a child VP runs as an unrestricted
 * guest (partition.c); the root's VPs never enter it. */
void hv_vp_set_reset_state(void)
{
	static const uint32_t sel[6] = { VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_SS_SELECTOR,
					 VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_GS_SELECTOR };

	for (int i = 0; i < 6; i++) {
		vmwrite(sel[i], i == 1 ? 0xf000 : 0);
		uint32_t n = (sel[i] - VMCS_GUEST_ES_SELECTOR) / 2;

		vmwrite(VMCS_GUEST_ES_BASE + 2 * n, i == 1 ? 0xffff0000ull : 0);
		vmwrite(VMCS_GUEST_ES_LIMIT + 2 * n, 0xffff);
		vmwrite(VMCS_GUEST_ES_AR_BYTES + 2 * n, i == 1 ? 0x9b : 0x93);
	}
	vmwrite(VMCS_GUEST_TR_SELECTOR, 0);
	vmwrite(VMCS_GUEST_TR_BASE, 0);
	vmwrite(VMCS_GUEST_TR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_TR_AR_BYTES, 0x8b);
	vmwrite(VMCS_GUEST_LDTR_SELECTOR, 0);
	vmwrite(VMCS_GUEST_LDTR_BASE, 0);
	vmwrite(VMCS_GUEST_LDTR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_LDTR_AR_BYTES, 0x82);
	vmwrite(VMCS_GUEST_GDTR_BASE, 0);
	vmwrite(VMCS_GUEST_GDTR_LIMIT, 0xffff);
	vmwrite(VMCS_GUEST_IDTR_BASE, 0);
	vmwrite(VMCS_GUEST_IDTR_LIMIT, 0xffff);
	hv_cr0_set(0x60000010);
	vmwrite(VMCS_GUEST_CR3, 0);
	vmwrite(VMCS_GUEST_CR4, X86_CR4_VMXE);
	vmwrite(VMCS_GUEST_IA32_EFER, 0);
	vmwrite(VMCS_GUEST_IA32_PAT, 0x0007040600070406ull);
	vmwrite(VMCS_GUEST_DR7, 0x400);
	vmwrite(VMCS_GUEST_RSP, 0);
	vmwrite(VMCS_GUEST_RIP, 0xfff0);
	vmwrite(VMCS_GUEST_RFLAGS, 2);
	vmwrite(VMCS_GUEST_IA32_SYSENTER_CS, 0);
	vmwrite(VMCS_GUEST_SYSENTER_ESP, 0);
	vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
	vmwrite(VMCS_ENTRY_CTLS, vmread(VMCS_ENTRY_CTLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE);
}

static uint64_t *gpr(struct hv_vp *vp, uint32_t name)
{
	static const size_t off[16] = {
		offsetof(struct hv_gprs, rax), offsetof(struct hv_gprs, rcx), offsetof(struct hv_gprs, rdx),
		offsetof(struct hv_gprs, rbx), 0, offsetof(struct hv_gprs, rbp),
		offsetof(struct hv_gprs, rsi), offsetof(struct hv_gprs, rdi), offsetof(struct hv_gprs, r8),
		offsetof(struct hv_gprs, r9), offsetof(struct hv_gprs, r10), offsetof(struct hv_gprs, r11),
		offsetof(struct hv_gprs, r12), offsetof(struct hv_gprs, r13), offsetof(struct hv_gprs, r14),
		offsetof(struct hv_gprs, r15),
	};

	if (name < HV_X64_REGISTER_RAX || name > HV_X64_REGISTER_R15 || name == HV_X64_REGISTER_RSP)
		return NULL;
	return (uint64_t *)((uint8_t *)&vp->g + off[name - HV_X64_REGISTER_RAX]);
}

/* VMCS fields of the registers that are one field each. */
static uint32_t field_of(uint32_t name)
{
	switch (name) {
	case HV_X64_REGISTER_RSP: return VMCS_GUEST_RSP;
	case HV_X64_REGISTER_RIP: return VMCS_GUEST_RIP;
	case HV_X64_REGISTER_RFLAGS: return VMCS_GUEST_RFLAGS;
	case HV_X64_REGISTER_CR3: return VMCS_GUEST_CR3;
	case HV_X64_REGISTER_DR7: return VMCS_GUEST_DR7;
	case HV_X64_REGISTER_PAT: return VMCS_GUEST_IA32_PAT;
	case HV_X64_REGISTER_SYSENTER_CS: return VMCS_GUEST_IA32_SYSENTER_CS;
	case HV_X64_REGISTER_SYSENTER_EIP: return VMCS_GUEST_SYSENTER_EIP;
	case HV_X64_REGISTER_SYSENTER_ESP: return VMCS_GUEST_SYSENTER_ESP;
	default: return 0;
	}
}

/* The MSR behind a register name kept in the MSR area. */
static uint32_t msr_of(uint32_t name)
{
	switch (name) {
	case HV_X64_REGISTER_STAR: return MSR_STAR;
	case HV_X64_REGISTER_LSTAR: return MSR_LSTAR;
	case HV_X64_REGISTER_CSTAR: return MSR_CSTAR;
	case HV_X64_REGISTER_SFMASK: return MSR_FMASK;
	case HV_X64_REGISTER_KERNEL_GS_BASE: return MSR_KERNEL_GS_BASE;
	case HV_X64_REGISTER_TSC_AUX: return MSR_TSC_AUX;
	default: return 0;
	}
}

/* Segment n (ES 0 .. GS 5, LDTR 6, TR 7): VMCS selector, base, limit and
 * access rights, spaced 2 apart (SDM Appendix B). */
static uint32_t seg_field(unsigned n, uint32_t es_field)
{
	static const uint32_t ldtr_tr[2][4] = {
		{ VMCS_GUEST_LDTR_SELECTOR, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_LDTR_AR_BYTES },
		{ VMCS_GUEST_TR_SELECTOR, VMCS_GUEST_TR_BASE, VMCS_GUEST_TR_LIMIT, VMCS_GUEST_TR_AR_BYTES },
	};
	unsigned k = es_field == VMCS_GUEST_ES_SELECTOR ? 0 : es_field == VMCS_GUEST_ES_BASE ? 1 :
		     es_field == VMCS_GUEST_ES_LIMIT ? 2 : 3;

	return n < 6 ? es_field + 2 * n : ldtr_tr[n - 6][k];
}

uint16_t hv_vp_get_register(struct hv_vp *vp, uint32_t name, union hv_register_value *v)
{
	uint64_t *g = gpr(vp, name), *m;
	uint32_t f = field_of(name);

	memset(v, 0, sizeof(*v));
	if (g) {
		v->reg64 = *g;
	} else if (f) {
		v->reg64 = vmread(f);
	} else if (name >= HV_X64_REGISTER_ES && name <= HV_X64_REGISTER_TR) {
		unsigned n = name - HV_X64_REGISTER_ES;
		uint32_t ar = (uint32_t)vmread(seg_field(n, VMCS_GUEST_ES_AR_BYTES));

		v->segment.base = vmread(seg_field(n, VMCS_GUEST_ES_BASE));
		v->segment.limit = (uint32_t)vmread(seg_field(n, VMCS_GUEST_ES_LIMIT));
		v->segment.selector = (uint16_t)vmread(seg_field(n, VMCS_GUEST_ES_SELECTOR));
		/* An unusable segment reads as not present. */
		v->segment.attributes = (ar & (1u << 16)) ? 0 : (uint16_t)ar;
	} else if (name == HV_X64_REGISTER_GDTR || name == HV_X64_REGISTER_IDTR) {
		int gdt = name == HV_X64_REGISTER_GDTR;

		v->table.base = vmread(gdt ? VMCS_GUEST_GDTR_BASE : VMCS_GUEST_IDTR_BASE);
		v->table.limit = (uint16_t)vmread(gdt ? VMCS_GUEST_GDTR_LIMIT : VMCS_GUEST_IDTR_LIMIT);
	} else if ((m = area_slot(vp, msr_of(name)))) {
		v->reg64 = *m;
	} else {
		switch (name) {
		case HV_X64_REGISTER_CR2:
			v->reg64 = vp->g.cr2;
			break;
		case HV_X64_REGISTER_CR0:
			v->reg64 = hv_cr0_get();	/* as the VP reads it (cr0.c) */
			break;
		case HV_X64_REGISTER_CR4:
			v->reg64 = vmread(VMCS_GUEST_CR4) & ~X86_CR4_VMXE;	/* as the VP reads it */
			break;
		case HV_X64_REGISTER_EFER:
			v->reg64 = vmread(VMCS_GUEST_IA32_EFER);
			break;
		case HV_REGISTER_EXPLICIT_SUSPEND:
			v->reg64 = (uint64_t)vp->suspended;
			break;
		case HV_REGISTER_INTERCEPT_SUSPEND:
			v->reg64 = (uint64_t)vp->intercept_suspended;
			break;
		case HV_REGISTER_DISPATCH_SUSPEND:
			/* hvsim: 1 once the hypervisor stopped the partition
			 * after a fault (exit.c partition_fault). */
			v->reg64 = vp->part->faulted;
			break;
		case HV_REGISTER_INTERNAL_ACTIVITY_STATE:
			/* StartupSuspend: waiting for a SIPI (vpstart.c). */
			v->reg64 = (vp->halted ? HV_INTERNAL_ACTIVITY_HALT_SUSPEND : 0) |
				   (vp->wait_sipi ? HV_INTERNAL_ACTIVITY_STARTUP_SUSPEND : 0);
			break;
		case HV_X64_REGISTER_APIC_BASE:
			if (vp->part->is_root)
				return HV_STATUS_UNKNOWN_REGISTER_NAME;	/* the physical APIC's */
			v->reg64 = vp->vapic.apic_base;
			break;
		case HV_REGISTER_VP_INDEX:
			v->reg64 = vp->index;
			break;
		case HV_REGISTER_GUEST_OS_ID:
			v->reg64 = vp->part->guest_os_id;
			break;
		case HV_REGISTER_HYPERCALL:
			v->reg64 = vp->part->hypercall_msr;
			break;
		default:
			return HV_STATUS_UNKNOWN_REGISTER_NAME;
		}
	}
	return HV_STATUS_SUCCESS;
}

uint16_t hv_vp_set_register(struct hv_vp *vp, uint32_t name, const union hv_register_value *v)
{
	uint64_t *g = gpr(vp, name), *m;
	uint32_t f = field_of(name);

	if (g) {
		*g = v->reg64;
	} else if (f) {
		vmwrite(f, v->reg64);
	} else if (name >= HV_X64_REGISTER_ES && name <= HV_X64_REGISTER_TR) {
		unsigned n = name - HV_X64_REGISTER_ES;
		uint32_t ar = v->segment.attributes;

		/* TLFS attributes are the VMX access rights' low 16 bits; a
		 * segment that is not present is unusable (SDM 25.4.1). */
		if (!(ar & HV_X64_SEGMENT_ATTR_P))
			ar = 1u << 16;
		vmwrite(seg_field(n, VMCS_GUEST_ES_BASE), v->segment.base);
		vmwrite(seg_field(n, VMCS_GUEST_ES_LIMIT), v->segment.limit);
		vmwrite(seg_field(n, VMCS_GUEST_ES_SELECTOR), v->segment.selector);
		vmwrite(seg_field(n, VMCS_GUEST_ES_AR_BYTES), ar);
	} else if (name == HV_X64_REGISTER_GDTR || name == HV_X64_REGISTER_IDTR) {
		int gdt = name == HV_X64_REGISTER_GDTR;

		vmwrite(gdt ? VMCS_GUEST_GDTR_BASE : VMCS_GUEST_IDTR_BASE, v->table.base);
		vmwrite(gdt ? VMCS_GUEST_GDTR_LIMIT : VMCS_GUEST_IDTR_LIMIT, v->table.limit);
	} else if ((m = area_slot(vp, msr_of(name)))) {
		*m = v->reg64;
	} else {
		switch (name) {
		case HV_X64_REGISTER_CR2:
			vp->g.cr2 = v->reg64;
			break;
		case HV_X64_REGISTER_CR0:
			hv_cr0_set(v->reg64);
			break;
		case HV_X64_REGISTER_CR4:
			vmwrite(VMCS_GUEST_CR4, v->reg64 | X86_CR4_VMXE);
			break;
		case HV_X64_REGISTER_EFER:
			/* "IA-32e mode guest" follows EFER.LMA (SDM 27.3.1.1). */
			vmwrite(VMCS_GUEST_IA32_EFER, v->reg64);
			vmwrite(VMCS_ENTRY_CTLS, (vmread(VMCS_ENTRY_CTLS) & ~(uint64_t)VM_ENTRY_IA32E_MODE) |
							 ((v->reg64 & EFER_LMA) ? VM_ENTRY_IA32E_MODE : 0));
			break;
		case HV_REGISTER_EXPLICIT_SUSPEND:
			if (v->reg64 > 1)
				return HV_STATUS_INVALID_PARAMETER;
			vp->suspended = (int)v->reg64;
			if (!vp->suspended)
				vp->started = 1;	/* out of its creation suspension (vpstart.c) */
			break;
		case HV_X64_REGISTER_APIC_BASE:
			/* A child VP's virtual APIC mode (vapic.c): how its parent
			 * gives an unmodified guest the reset state (xAPIC). */
			if (vp->part->is_root)
				return HV_STATUS_UNKNOWN_REGISTER_NAME;
			if (hv_vapic_set_base(vp, v->reg64))
				return HV_STATUS_INVALID_PARAMETER;
			break;
		case HV_REGISTER_INTERCEPT_SUSPEND:
			/* TLFS "Virtual Processor Suspend": the hypervisor sets
			 * it when it sends an intercept; the parent clears it to
			 * complete the intercept.  Setting it is refused. */
			if (v->reg64 > (uint64_t)vp->intercept_suspended)
				return HV_STATUS_INVALID_PARAMETER;
			if (vp->intercept_suspended && !v->reg64)
				vp->mark_resume = 1;
			vp->intercept_suspended = 0;
			break;
		default:
			return HV_STATUS_UNKNOWN_REGISTER_NAME;
		}
	}
	return HV_STATUS_SUCCESS;
}
