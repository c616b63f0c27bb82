/* Physical interrupts: every one goes to the root partition
 * (docs/hypervisor.md "Physical interrupts").
 *
 * Every VP runs with external-interrupt exiting and the "acknowledge
 * interrupt on exit" VM-exit control (partition.c; SDM 25.6.1, 25.7.1):
 * an interrupt the LP's local APIC presents while a guest runs exits,
 * whatever the guest's RFLAGS.IF, with the vector already acknowledged
 * (the LAPIC moved it from IRR to ISR) and reported in the VM-exit
 * interruption information (SDM 28.2.2).  The hypervisor makes that
 * vector pending for the root's VP on this LP (the same pending set the
 * SynIC fills, drained by hv_synic_inject() at the next VM entry of that
 * VP: injected when RFLAGS.IF = 1 and no STI/MOV SS blocking, else
 * interrupt-window exiting first, SDM 26.7.5).
 *
 * Policy when the interrupt arrives in a child's context: the child's
 * slice ends at once and the root's VP runs next, whatever the round
 * robin would have chosen, so the root's handler starts one VP switch
 * after the exit.  The child gets a fresh slice on its next turn.
 *
 * The root's EOI: the root's EPT maps the local APIC page (and the
 * IO-APIC) through to the hardware (root.c maps every non-RAM page at
 * its own address), so the root's handler writes the physical LAPIC's
 * EOI register itself.  The hypervisor keeps no ISR of its own for the
 * root.  Hyper-V virtualises the root's APIC instead; this is the
 * model's simplification.
 *
 * The hypervisor runs with RFLAGS.IF = 0 and has one vector of its own,
 * HV_KICK_VECTOR (lp.c), which it EOIs itself and never passes on.  An
 * interrupt that comes while it runs stays pending in the LAPIC and
 * exits at the next VM entry's first instruction boundary.  When no VP
 * can run but the root's VP is halted, the LP waits inside the root's
 * own HLT: the root is entered in the HLT activity state (SDM 26.6.2;
 * its RIP already past the HLT, as a processor saves it in that state,
 * SDM 28.3.4), so the processor waits there until an interrupt, a kick
 * or the preemption timer exits; the state goes back to active after
 * the exit, and the root stays halted unless an interrupt for it came. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

/* Per LP: the root VP a physical interrupt is waiting in (it runs next). */
static struct hv_vp *urgent[HV_MAX_LPS];

uint64_t hv_intr_count, hv_intr_in_child;	/* interrupts passed to the root; those that arrived in a child */

int hv_intr_init(void)
{
	/* SDM A.3.1 and A.4: bits 63:32 of the TRUE capability MSRs are
	 * the allowed 1-settings. */
	uint64_t pin = rdmsr(MSR_IA32_VMX_TRUE_PINBASED_CTLS) >> 32, exit = rdmsr(MSR_IA32_VMX_TRUE_EXIT_CTLS) >> 32;

	if (!(pin & PIN_BASED_EXT_INTR_EXITING) || !(exit & VM_EXIT_ACK_INTR_ON_EXIT)) {
		rt_printf("hv: the processor lacks external-interrupt exiting or acknowledge-interrupt-on-exit "
			  "(pin-based 0x%lx, exit 0x%lx allowed): physical interrupts cannot reach the root\n",
			  (unsigned long)pin, (unsigned long)exit);
		return -1;
	}
	return 0;
}

/* The root's VP that runs on `lp` (one per LP; VP 0 on LP 0 for now). */
static struct hv_vp *root_vp(unsigned lp)
{
	struct hv_partition *root = hv_partition_at(0);

	if (!root)
		return NULL;
	for (unsigned i = 0; i < root->nvps; i++)
		if (root->vps[i] && root->vps[i]->lp == lp)
			return root->vps[i];
	return NULL;
}

void hv_intr_exit(struct hv_vp *vp)
{
	uint32_t info = (uint32_t)vmread(VMCS_EXIT_INTR_INFO);
	unsigned vec = info & 0xff;
	struct hv_vp *root = root_vp(vp->lp);

	/* With acknowledge-on-exit the information is always valid and of
	 * type external interrupt (SDM 28.2.2); anything else acknowledged
	 * nothing and there is nothing to pass on. */
	if (!(info & INTR_INFO_VALID) || ((info >> INTR_INFO_TYPE_SHIFT) & 7) != INTR_TYPE_EXT_INTR)
		return;
	/* The hypervisor's own (lp.c), or one on an LP without a root VP,
	 * which nothing routes there: acknowledged, and that is all. */
	if (vec == HV_KICK_VECTOR || !root) {
		hv_lp_kick_taken();
		return;
	}
	HV_MARKER(HV_MARK_EXT_INTR, vp->part->id << 32 | (uint64_t)vp->index << 8 | vec);
	hv_intr_count++;
	root->synic.irr[vec / 64] |= 1ull << (vec % 64);
	root->halted = 0;	/* its HLT ends, as it would on hardware */
	if (vp != root) {
		hv_intr_in_child++;
		vp->yield = 1;	/* the child's slice is over: the root's handler runs first */
		urgent[vp->lp] = root;
	}
}

struct hv_vp *hv_intr_urgent(unsigned lp)
{
	struct hv_vp *vp = lp < HV_MAX_LPS ? urgent[lp] : NULL;

	if (vp)
		urgent[lp] = NULL;
	return vp;
}

struct hv_vp *hv_intr_idle_vp(unsigned lp)
{
	struct hv_vp *vp = root_vp(lp);

	return vp && vp->runnable && vp->halted && !vp->suspended && !vp->intercept_suspended && !vp->borrowed ? vp
														: NULL;
}

int hv_intr_idle_enter(void)
{
	/* A HLT with interrupts off waits for good (SDM Vol. 2A, HLT): the
	 * LP halts as it would. */
	if (!(vmread(VMCS_GUEST_RFLAGS) & X86_RFLAGS_IF))
		return -1;
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_HLT);
	return 0;
}

void hv_intr_idle_exit(void)
{
	vmwrite(VMCS_GUEST_ACTIVITY_STATE, GUEST_ACTIVITY_ACTIVE);
}

bool hv_intr_can_inject(void)
{
	return !(vmread(VMCS_ENTRY_INTR_INFO) & INTR_INFO_VALID) && (vmread(VMCS_GUEST_RFLAGS) & X86_RFLAGS_IF) &&
	       !(vmread(VMCS_GUEST_INTERRUPTIBILITY) & 3);
}

void hv_intr_inject(unsigned vector)
{
	vmwrite(VMCS_ENTRY_INTR_INFO, INTR_INFO_VALID | INTR_TYPE_EXT_INTR << INTR_INFO_TYPE_SHIFT | (vector & 0xff));
}

void hv_intr_window(int *window, bool on)
{
	uint64_t proc = vmread(VMCS_PROC_BASED_CTLS);

	*window = on;
	vmwrite(VMCS_PROC_BASED_CTLS, on ? proc | CPU_BASED_INTR_WINDOW_EXITING :
					   proc & ~(uint64_t)CPU_BASED_INTR_WINDOW_EXITING);
}

int hv_intr_hlt_wakes(const struct hv_vp *vp)
{
	const uint64_t *irr = vp->synic.irr;
	bool pending = vp->part->is_root ? (irr[0] | irr[1] | irr[2] | irr[3]) != 0 : hv_vapic_deliverable(vp) >= 0;

	if (!vp->part->is_root && vp->vapic.nmi_pending)
		return 1;	/* an NMI ends HLT whatever RFLAGS.IF says (vapic.c) */

	/* HLT ends with an interrupt the processor can take (SDM Vol. 2A,
	 * HLT); one already pending is taken right after it.  A child's
	 * counts only if its virtual APIC would deliver it (vapic.c). */
	return pending && (vmread(VMCS_GUEST_RFLAGS) & X86_RFLAGS_IF);
}
