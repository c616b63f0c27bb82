/* The logical processors: the hypervisor lock, kicks between LPs, where
 * each VP runs, and who may have a VP's VMCS current.
 *
 * Lock.  One lock covers all of the hypervisor's data (partitions, VPs,
 * pools, ports, timers).  An LP holds it from a VM exit until just before
 * the next VM entry, and not while it idles; so handlers are written as
 * if the hypervisor ran on one LP.  It is a ticket lock: LPs get it in
 * the order they asked, so none starves.
 *
 * Kicks.  An LP that changes what another LP should do (a VP there woke,
 * has an interrupt to take, must give up its VMCS) sends that LP a fixed
 * IPI with HV_KICK_VECTOR, unless the other LP is inside the hypervisor
 * and will look anyway.  It arrives as an external-interrupt exit if the
 * LP runs a guest (every VMCS has external-interrupt exiting with
 * acknowledge on exit, intr.c), or wakes its HLT in hv_lp_idle; either
 * way the LP comes back to hv_run and looks again.
 *
 * VMCSs.  SDM Vol. 3C 25.1 and 25.11.1: a VMCS may be active on one LP
 * at a time, and one LP's cached copy is written back to memory only by
 * VMCLEAR on that LP; software that moves a VMCS to another LP clears
 * it on the first.  A VP runs on the LP it was placed on, and its VMCS
 * stays active there; another LP that must read or write the VP's VMCS
 * (the root's Get/SetVpRegisters, an INIT IPI from a VP elsewhere) asks
 * the owner to VMCLEAR it, loads it, and clears it again when done.
 * While it waits, it lets go of the lock, so the owner can answer. */
#include <hv/marker.h>
#include <hv/vmx.h>

#include "hv.h"
#include "rt.h"

#define LAPIC_ID 0xFEE00020ul
#define LAPIC_EOI 0xFEE000B0ul
#define LAPIC_SVR 0xFEE000F0ul
#define LAPIC_ICR_LO 0xFEE00300ul
#define LAPIC_ICR_HI 0xFEE00310ul
#define LAPIC_LVT_TIMER 0xFEE00320ul
#define ICR_FIXED 0x4000u		/* fixed, edge, assert, physical, no shorthand */
#define ICR_BUSY (1u << 12)
#define LVT_MASKED (1u << 16)
#define LVT_TSC_DEADLINE (2u << 17)	/* SDM 10.5.4.1 */

struct hv_lp hv_lps[HV_MAX_LPS];
unsigned hv_lp_count = 1;

static struct {
	volatile uint32_t next, serving;
} lock;

static inline volatile uint32_t *lapic(unsigned long reg)
{
	return (volatile uint32_t *)reg;
}

struct hv_lp *hv_this_lp(void)
{
	struct hv_lp *me;

	asm volatile("mov %%gs:0, %0" : "=r"(me));
	return me;
}

unsigned hv_lp_index(void)
{
	return hv_this_lp()->index;
}

int hv_lp_init(unsigned lp)
{
	struct hv_lp *me = &hv_lps[lp];

	me->call_in = hv_va(hv_pool_get(&hv_pool));
	me->call_out = hv_va(hv_pool_get(&hv_pool));
	if (!me->call_in || !me->call_out)
		return -1;
	me->self = me;
	me->index = lp;
	me->vmcs = 0;
	me->state = HV_LP_IN_HV;
	wrmsr(MSR_GS_BASE, hv_pa(me));
	/* Software-enable the local APIC, spurious vector 0xFF (SDM
	 * 10.9): kicks are fixed interrupts.  On LP0 the root programs the
	 * LAPIC afterwards; it keeps it enabled as long as it takes
	 * interrupts at all. */
	if (lp)
		*lapic(LAPIC_SVR) = 0x100u | HV_SPURIOUS_VECTOR;
	/* The idle timer wakes the LP with a kick (hv_lp_idle).  TSC-deadline
	 * mode if the processor has it (CPUID.01H:ECX[24]). */
	me->deadline_timer = lp && (cpuid(1, 0).ecx & (1u << 24));
	if (me->deadline_timer)
		*lapic(LAPIC_LVT_TIMER) = LVT_TSC_DEADLINE | HV_KICK_VECTOR;
	return 0;
}

void hv_lock(void)
{
	uint32_t t = __atomic_fetch_add(&lock.next, 1, __ATOMIC_ACQUIRE);

	while (__atomic_load_n(&lock.serving, __ATOMIC_ACQUIRE) != t)
		cpu_pause();
	hv_this_lp()->state = HV_LP_IN_HV;
}

void hv_unlock(enum hv_lp_state next)
{
	hv_this_lp()->state = next;
	__atomic_store_n(&lock.serving, lock.serving + 1, __ATOMIC_RELEASE);
}

/* A fixed IPI to LP `lp` (whose APIC id is `lp`, bootinfo.h).  LP0's
 * LAPIC is also the root's: its ICR high half is put back.  The marker
 * tells hvsim the IPI is a kick (marker.h HV_MARK_KICK). */
static void send_kick(unsigned lp)
{
	uint32_t hi = *lapic(LAPIC_ICR_HI);

	*lapic(LAPIC_ICR_HI) = lp << 24;
	HV_MARKER(HV_MARK_KICK, (uint64_t)lp);
	*lapic(LAPIC_ICR_LO) = ICR_FIXED | HV_KICK_VECTOR;
	while (*lapic(LAPIC_ICR_LO) & ICR_BUSY)
		cpu_pause();
	*lapic(LAPIC_ICR_HI) = hi;
}

void hv_lp_kick(unsigned lp)
{
	struct hv_lp *t = &hv_lps[lp];

	if (lp >= hv_lp_count || t == hv_this_lp() || t->state == HV_LP_IN_HV)
		return;	/* it looks before it leaves the hypervisor */
	hv_this_lp()->kicks_sent++;
	send_kick(lp);
}

void hv_lp_kick_taken(void)
{
	hv_this_lp()->kicks_taken++;
	*lapic(LAPIC_EOI) = 0;
}

void hv_vp_notify(struct hv_vp *vp)
{
	hv_lp_kick(vp->lp);
}

void hv_vp_wake(struct hv_vp *vp)
{
	vp->halted = 0;
	hv_vp_notify(vp);
}

void hv_root_news(struct hv_vp *root)
{
	/* The root polls its SINT0 and its children's state (no interrupt
	 * tells it, docs/hypervisor.md "Intercepts"): news that comes from
	 * another LP while it runs must not be lost to a HLT it is about to
	 * execute. */
	if (!root->halted)
		root->wake_pending = 1;
	hv_vp_wake(root);
}

unsigned hv_lp_place(void)
{
	unsigned best = 0;

	for (unsigned lp = 1; lp < hv_lp_count; lp++)
		if (hv_lps[lp].nvps < hv_lps[best].nvps)
			best = lp;
	return best;
}

/* Requests to VMCLEAR a VMCS active here: answered. */
void hv_lp_service(void)
{
	struct hv_lp *me = hv_this_lp();

	if (!me->clear_requests)
		return;
	me->clear_requests = 0;
	for (unsigned s = 0; s < hv_partition_slots(); s++) {
		struct hv_partition *p = hv_partition_at(s);

		for (unsigned i = 0; p && i < p->nvps; i++) {
			struct hv_vp *vp = p->vps[i];

			if (vp && vp->clear_request && vp->vmcs_lp == (int)me->index)
				hv_vmcs_clear(vp);
		}
	}
}

void hv_vmcs_clear(struct hv_vp *vp)
{
	struct hv_lp *me = hv_this_lp();

	hv_vmclear(vp->vmcs);
	/* SDM 25.11.3: VMCLEAR makes the launch state "clear" and, for the
	 * current VMCS, the current-VMCS pointer invalid. */
	vp->launched = 0;
	vp->vmcs_lp = -1;
	vp->clear_request = 0;	/* whoever asked, it is done */
	if (me->vmcs == vp->vmcs)
		me->vmcs = 0;
}

int hv_vmcs_load(struct hv_vp *vp)
{
	struct hv_lp *me = hv_this_lp();

	if (vp->lp != me->index)
		vp->borrowed++;	/* its own LP does not run it meanwhile */
	/* While this LP waits, the VMCS may come and go on other LPs (its
	 * own LP handling an exit of it takes it back): ask again each time
	 * it is active somewhere and nobody has been asked. */
	while (vp->vmcs_lp >= 0 && vp->vmcs_lp != (int)me->index) {
		struct hv_lp *owner = &hv_lps[vp->vmcs_lp];

		if (!vp->clear_request) {
			vp->clear_request = 1;
			owner->clear_requests = 1;
			hv_lp_kick(owner->index);
		}
		hv_unlock(HV_LP_IN_HV);
		cpu_pause();
		hv_lock();
		hv_lp_service();
	}
	vp->vmcs_lp = (int)me->index;
	if (me->vmcs == vp->vmcs)
		return 0;
	me->vmcs = vp->vmcs;
	return hv_vmptrld(vp->vmcs);
}

void hv_vmcs_done(struct hv_vp *vp)
{
	if (vp->lp == hv_lp_index())
		return;
	hv_vmcs_clear(vp);
	vp->borrowed--;
	hv_vp_notify(vp);	/* its LP may run it again */
}

void hv_lp_idle(uint64_t until)
{
	struct hv_lp *me = hv_this_lp();

	me->idles++;
	if (until != ~0ull && !me->deadline_timer) {
		/* No timer of its own to wake it (LP0's is the root's): wait
		 * by the TSC, open to a kick at every turn (idt.S counts it). */
		uint64_t k0 = me->irq_kicks;

		hv_unlock(HV_LP_IDLE);
		while (rdtsc() < until && me->irq_kicks == k0)
			asm volatile("sti; pause; cli" : : : "memory");
		hv_lock();
		return;
	}
	if (until != ~0ull)
		wrmsr(MSR_IA32_TSC_DEADLINE, until);
	hv_unlock(HV_LP_IDLE);
	/* STI's interrupt shadow covers HLT (SDM Vol. 2B, STI): a kick
	 * sent after the unlock ends the HLT, never comes before it. */
	asm volatile("sti; hlt; cli" : : : "memory");
	hv_lock();
	if (until != ~0ull)
		wrmsr(MSR_IA32_TSC_DEADLINE, 0);	/* disarmed (SDM 10.5.4.1) */
}
