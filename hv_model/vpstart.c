/* HvCallStartVirtualProcessor (TLFS "HvCallStartVirtualProcessor",
 * "HV_INITIAL_VP_CONTEXT"; docs/hypervisor.md "Starting VPs").
 *
 * A VP is created in the INIT state, suspended (partmgmt.c).  It starts
 * either when its parent sets its registers and clears
 * HvRegisterExplicitSuspend (how the root starts a child's VP 0), or
 * through this call, which loads the initial context and lets it run.
 * Either way it is "started" from then on: a second start is
 * HV_STATUS_INVALID_VP_STATE.  The caller is the partition itself or its
 * parent, with the StartVirtualProcessor privilege (checked before the
 * handler); VTL 0 only.
 *
 * INIT and SIPI (SDM Vol. 3A 8.4, 10.6.1), sent by another VP of the
 * partition through its virtual APIC (vapic.c): INIT loads the INIT
 * state (9.1.1, Table 9-1) and puts a started VP in wait-for-SIPI
 * (wait_sipi: it does not run, HvRegisterInternalActivityState reads
 * StartupSuspend); a SIPI starts a VP waiting for one, in real mode at
 * CS = vector << 8, CS.base = vector << 12, IP = 0.  A VP that was
 * created and never started is an AP waiting for its SIPI: a SIPI starts
 * it too (ending its creation suspension, as this call does).  The two
 * ways to start meet: this call accepts a VP in wait-for-SIPI (an INIT
 * made it startable again) and a VP it started no longer takes a SIPI.
 * Real mode needs the "unrestricted guest" control (SDM 26.6.2), which
 * child VPs have when the processor offers it (partition.c); without it
 * a SIPI is ignored and said so on the console, and the VP waits. */
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

/* RFLAGS: bit 1 is 1, bits 3, 5, 15 and 63:22 are 0 (SDM Vol. 1 3.4.3);
 * VM entry checks the same (SDM 27.3.1.4). */
#define RFLAGS_FIXED1 0x2ull
#define RFLAGS_RESERVED (0xffffffffffc00000ull | (1ull << 15) | (1ull << 5) | (1ull << 3))

/* The registers of a context a VM entry could not take (SDM 27.3.1.1):
 * paging needs protection, and without "unrestricted guest" (a child
 * has it when the CPU offers it, partition.c) both must be on; IA-32e
 * mode must agree with EFER.LME and CR0.PG. */
static bool context_valid(const struct hv_initial_vp_context *x)
{
	bool lma = (x->efer & EFER_LMA) != 0;
	bool ug = hv_vmx_ctl(MSR_IA32_VMX_PROCBASED_CTLS2, SECONDARY_UNRESTRICTED_GUEST) & SECONDARY_UNRESTRICTED_GUEST;

	if ((x->rflags & RFLAGS_RESERVED) || !(x->rflags & RFLAGS_FIXED1))
		return false;
	if (((x->cr0 & X86_CR0_PG) && !(x->cr0 & X86_CR0_PE)) ||
	    (!ug && (!(x->cr0 & X86_CR0_PE) || !(x->cr0 & X86_CR0_PG))))
		return false;
	return lma == ((x->efer & EFER_LME) && (x->cr0 & X86_CR0_PG));
}

static uint16_t load_context(struct hv_vp *vp, const struct hv_initial_vp_context *x)
{
	const struct {
		uint32_t name;
		const struct hv_x64_segment_register *s;
	} segs[] = {
		{ HV_X64_REGISTER_CS, &x->cs }, { HV_X64_REGISTER_DS, &x->ds }, { HV_X64_REGISTER_ES, &x->es },
		{ HV_X64_REGISTER_FS, &x->fs }, { HV_X64_REGISTER_GS, &x->gs }, { HV_X64_REGISTER_SS, &x->ss },
		{ HV_X64_REGISTER_TR, &x->tr }, { HV_X64_REGISTER_LDTR, &x->ldtr },
	};
	const struct {
		uint32_t name;
		uint64_t v;
	} r64[] = {
		{ HV_X64_REGISTER_CR0, x->cr0 },	{ HV_X64_REGISTER_CR3, x->cr3 },
		{ HV_X64_REGISTER_CR4, x->cr4 },	{ HV_X64_REGISTER_EFER, x->efer },
		{ HV_X64_REGISTER_PAT, x->msr_cr_pat }, { HV_X64_REGISTER_RIP, x->rip },
		{ HV_X64_REGISTER_RSP, x->rsp },	{ HV_X64_REGISTER_RFLAGS, x->rflags },
	};
	union hv_register_value v;
	uint16_t st = HV_STATUS_SUCCESS;

	for (size_t i = 0; i < sizeof(r64) / sizeof(r64[0]) && !st; i++) {
		memset(&v, 0, sizeof(v));
		v.reg64 = r64[i].v;
		st = hv_vp_set_register(vp, r64[i].name, &v);
	}
	for (size_t i = 0; i < sizeof(segs) / sizeof(segs[0]) && !st; i++) {
		memset(&v, 0, sizeof(v));
		v.segment = *segs[i].s;
		st = hv_vp_set_register(vp, segs[i].name, &v);
	}
	if (!st) {
		memset(&v, 0, sizeof(v));
		v.table = x->gdtr;
		st = hv_vp_set_register(vp, HV_X64_REGISTER_GDTR, &v);
	}
	if (!st) {
		v.table = x->idtr;
		st = hv_vp_set_register(vp, HV_X64_REGISTER_IDTR, &v);
	}
	return st;
}

uint16_t hv_call_start_vp(struct hv_call *c)
{
	const struct hv_input_start_virtual_processor *in = (const void *)c->in;
	struct hv_partition *p;
	struct hv_vp *vp;
	uint16_t st = hv_call_target(c->vp->part, in->partition_id, true, &p);

	if (st)
		return st;
	if (p->state != HV_PART_ACTIVE)
		return HV_STATUS_INVALID_PARTITION_STATE;
	if (in->target_vtl || in->rsvd_z[0] || in->rsvd_z[1] || in->rsvd_z[2])
		return HV_STATUS_INVALID_PARAMETER;	/* VTL 0 only */
	if (in->vp_index >= HV_MAX_VPS || !p->vps[in->vp_index])
		return HV_STATUS_INVALID_VP_INDEX;
	vp = p->vps[in->vp_index];
	if (vp->started && !vp->wait_sipi)
		return HV_STATUS_INVALID_VP_STATE;
	if (!context_valid(&in->vp_context))
		return HV_STATUS_INVALID_REGISTER_VALUE;
	if (vp != c->vp)
		hv_vmcs_load(vp);
	st = load_context(vp, &in->vp_context);
	if (vp != c->vp) {
		hv_vmcs_done(vp);
		hv_vmcs_load(c->vp);
	}
	if (st)
		return st;
	vp->started = 1;
	vp->wait_sipi = 0;
	vp->suspended = 0;
	hv_vp_wake(vp);
	return HV_STATUS_SUCCESS;
}

/* The INIT state of `vp` (its VMCS current): SDM Table 9-1 through
 * hv_vp_set_reset_state (CR0 0x60000010 as the guest reads it; the
 * bits VMX fixes are the hypervisor's, cr0.c), the general registers 0
 * but EDX, which holds the processor's signature (CPUID.01H:EAX),
 * nothing pending. */
static void init_state(struct hv_vp *vp)
{
	hv_vp_set_reset_state();
	memset(&vp->g, 0, sizeof(vp->g));
	vp->g.rdx = cpuid(1, 0).eax;
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
	vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0);
	vmwrite(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
	vmwrite(VMCS_ENTRY_INTR_INFO, 0);
	vp->halted = 0;
}

void hv_vp_init_ipi(struct hv_vp *src, struct hv_vp *t)
{
	hv_vmcs_load(t);
	init_state(t);
	hv_vmcs_done(t);
	hv_vmcs_load(src);
	hv_vapic_init(t);
	t->vapic.nmi_pending = 0;
	if (t->started)
		t->wait_sipi = 1;	/* never started: it waits for its start already */
}

void hv_vp_sipi(struct hv_vp *src, struct hv_vp *t, unsigned vector)
{
	static const uint32_t ug = SECONDARY_UNRESTRICTED_GUEST;

	hv_vmcs_load(t);
	if (!(vmread(VMCS_PROC_BASED_CTLS2) & ug)) {
		hv_vmcs_done(t);
		hv_vmcs_load(src);
		rt_printf("hv: partition %lu VP %u: SIPI 0x%x ignored: real mode needs unrestricted guest, which the "
			  "processor does not offer\n", (unsigned long)t->part->id, t->index, vector & 0xff);
		return;
	}
	init_state(t);
	vmwrite(VMCS_GUEST_CS_SELECTOR, (vector & 0xff) << 8);
	vmwrite(VMCS_GUEST_CS_BASE, (uint64_t)(vector & 0xff) << 12);
	vmwrite(VMCS_GUEST_RIP, 0);
	hv_vmcs_done(t);
	hv_vmcs_load(src);
	if (!t->started)
		t->suspended = 0;	/* its creation suspension ends, as HvCallStartVirtualProcessor ends it */
	t->started = 1;
	t->wait_sipi = 0;
	hv_vp_notify(t);
}
