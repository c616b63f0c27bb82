/* The local APIC timer of a child VP's virtual APIC (SDM Vol. 3A 10.5.4,
 * 10.5.4.1; docs/hypervisor.md "Virtual APIC", "The APIC timer").
 * vapic.c owns the registers' interfaces (xAPIC page, x2APIC MSRs,
 * IA32_TSC_DEADLINE) and their access checks; this file gives them their
 * meaning.
 *
 * Time.  The timer counts the virtual bus clock, which is the TSC divided
 * by a whole number, `ratio` (hv_apic_timer_init: the integer nearest
 * TSC / 200 MHz, at least 1; 17 for a 3.4 GHz TSC), so that one tick of
 * the count, the bus clock divided by the divide configuration (Figure
 * 10-10: 1 to 128), is exactly ratio * divisor TSC cycles and every count
 * and expiry follows from the TSC without rounding.  HV_X64_MSR_APIC_FREQUENCY
 * reports TSC Hz / ratio (stimer.c).  hv_model sets no TSC offset or
 * multiplier in the VMCS, so the guest's TSC (RDTSC, IA32_TSC,
 * IA32_TSC_DEADLINE) is the TSC this code reads.
 *
 * One-shot and periodic (10.5.4).  Writing the initial count (re)starts
 * the count from it; 0 stops the timer.  The count is not kept ticking: it
 * is timer_base at TSC timer_start and one less every tick after, so the
 * current-count register is computed when it is read.  In one-shot mode it
 * reaches 0 and stays there; in periodic mode it is reloaded from the
 * initial count as it reaches 0.  A change of divide configuration while
 * counting keeps the count and counts on at the new rate from the tick in
 * progress (the SDM does not say; the rate simply changes, as sim/apic
 * models the physical APIC).  A change between one-shot and periodic keeps
 * counting from where the count is and the new mode decides what happens
 * at 0; a one-shot count that has reached 0 stays at 0 (processors do
 * this, and kvm-unit-tests' apic test checks it).
 *
 * TSC-deadline (10.5.4.1).  A non-zero IA32_TSC_DEADLINE arms the timer
 * for the first TSC at or after it; the expiry disarms it and clears the
 * MSR; writing 0 disarms it.  In this mode the initial-count register
 * ignores writes and the current count reads 0; in the others the MSR
 * reads 0 and ignores writes.  A switch into or out of TSC-deadline mode
 * disarms the timer.
 *
 * Expiry.  hv_stimer_run() calls hv_apic_timer_run() for every armed
 * timer on the LP before each VM entry (the synthetic timers' loop): an
 * expiry at or before that TSC raises the LVT timer's vector through the
 * virtual APIC, as a fixed edge interrupt (hv_irq_raise: into the IRR,
 * injected by priority; a halted VP wakes if it can take it; hvsim is
 * told its due TSC, marker.h HV_MARK_SYNTH_PEND), unless the
 * entry is masked (the expiry then happens and raises nothing).  The TSC
 * of the next expiry bounds the VM entry through the VMX-preemption timer
 * and the LP's idle wait, as a synthetic timer's does, so an expiry is
 * acted on at the first exit or entry at or after its TSC, never early,
 * and a halted VP wakes without the hypervisor spinning.  The IRR holds one
 * interrupt per vector: periods that end while the hypervisor could not
 * look, or while the vector still waits, merge into one interrupt
 * (timer_coalesced), as they would on a processor whose core did not take
 * them.  A period shorter than the VM exits its interrupt costs would
 * keep the VP in its handler for good, so a periodic timer raises at most
 * one interrupt every HV_APIC_TIMER_GAP_US (10 us): the expiries in
 * between merge into the next one (KVM instead stretches periods below
 * 200 us); what the registers read stays exact.
 *
 * A masked timer does not bound entries: its expiries are worked out,
 * silently, when its registers are next touched (timer_advance).  Every
 * register access first brings the timer up to the TSC of the access, so
 * an expiry due before a write happens before it. */
#include <hv/marker.h>

#include "hv.h"
#include "rt.h"

#define HV_APIC_TIMER_KHZ 200000ull	/* the virtual bus clock aimed at */
#define HV_APIC_TIMER_GAP_US 10	/* a periodic timer raises at most one interrupt in this time */

/* LVT timer register (SDM Figure 10-8). */
#define LVT_VECTOR 0xffu
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_MODE(v) (((v) >> 17) & 3)
#define TIMER_ONE_SHOT 0
#define TIMER_PERIODIC 1
#define TIMER_TSC_DEADLINE 2
#define LVT_TIMER 1		/* its index in hv_vapic.lvt */

static uint64_t ratio = 1;	/* TSC cycles per tick of the bus clock */
static uint64_t bus_hz;
static uint64_t min_gap = 1000;	/* HV_APIC_TIMER_GAP_US in TSC cycles */

void hv_apic_timer_init(uint64_t tsc_khz)
{
	ratio = (tsc_khz + HV_APIC_TIMER_KHZ / 2) / HV_APIC_TIMER_KHZ;
	if (!ratio)
		ratio = 1;
	bus_hz = tsc_khz * 1000 / ratio;
	if (tsc_khz)
		min_gap = tsc_khz * HV_APIC_TIMER_GAP_US / 1000;
}

uint64_t hv_apic_timer_hz(void)
{
	return bus_hz;
}

/* TSC cycles per count for divide configuration `dcr` (SDM Figure 10-10:
 * bits 3 and 1:0; 111b divides by 1, n by 2^(n+1)). */
static uint64_t tick(uint32_t dcr)
{
	unsigned n = (dcr & 3) | ((dcr >> 1) & 4);

	return ratio * (n == 7 ? 1 : 2u << n);
}

static unsigned mode(const struct hv_vapic *a)
{
	return LVT_TIMER_MODE(a->lvt[LVT_TIMER]);
}

/* Ticks since timer_start at `tsc`. */
static uint64_t elapsed(const struct hv_vapic *a, uint64_t tsc)
{
	return tsc > a->timer_start ? (tsc - a->timer_start) / tick(a->timer_divide) : 0;
}

/* The count at `tsc` (SDM 10.5.4): down from timer_base; in one-shot mode
 * it stays at 0, in periodic mode it reloads from the initial count as it
 * reaches 0. */
static uint32_t count_at(const struct hv_vapic *a, uint64_t tsc)
{
	uint64_t n;

	if (!a->timer_counting)
		return 0;
	n = elapsed(a, tsc);
	if (n < a->timer_base)
		return (uint32_t)(a->timer_base - n);
	/* (A counting timer's initial count is never 0: a write of 0 stops
	 * it.  Checked anyway: the guest must not reach a division by 0.) */
	if (mode(a) != TIMER_PERIODIC || !a->timer_initial)
		return 0;
	return a->timer_initial - (uint32_t)((n - a->timer_base) % a->timer_initial);
}

/* Can an expiry of `vp`'s timer raise an interrupt now?  Only then does
 * the hypervisor need to be there when it happens. */
static bool can_raise(const struct hv_vp *vp)
{
	const struct hv_vapic *a = &vp->vapic;

	return a->timer_armed && !(a->lvt[LVT_TIMER] & LVT_MASKED);
}

bool hv_apic_timer_pending(const struct hv_vp *vp)
{
	return can_raise(vp);
}

static void arm(struct hv_vp *vp, uint64_t due)
{
	vp->vapic.timer_due = due;
	vp->vapic.timer_armed = 1;
	if (can_raise(vp))
		hv_time_kick();	/* hv_stimer_run must look again */
}

/* Count from `count` at `start` (the one-shot or periodic mode's next
 * expiry is when it reaches 0); 0 stops the timer. */
static void count_from(struct hv_vp *vp, uint32_t count, uint64_t start)
{
	struct hv_vapic *a = &vp->vapic;

	a->timer_counting = count != 0;
	a->timer_armed = 0;
	a->timer_base = count;
	a->timer_start = start;
	if (count)
		arm(vp, start + count * tick(a->timer_divide));
}

/* Keep the count as it is at `tsc` but make it timer_base at the start of
 * the tick in progress, before the rate or the mode changes. */
static void rebase(struct hv_vp *vp, uint64_t tsc)
{
	struct hv_vapic *a = &vp->vapic;

	if (a->timer_counting)
		count_from(vp, count_at(a, tsc), a->timer_start + elapsed(a, tsc) * tick(a->timer_divide));
}

/* Every expiry at or before `tsc` happens: the vector is raised once
 * (the IRR holds one) unless the LVT entry is masked, and the timer is
 * disarmed (one-shot, TSC deadline) or its next period begins. */
static void timer_advance(struct hv_vp *vp, uint64_t tsc)
{
	struct hv_vapic *a = &vp->vapic;
	uint64_t period, k;

	if (!a->timer_armed || tsc < a->timer_due)
		return;
	/* A periodic timer's expiries closer than min_gap to the last one
	 * acted on wait and merge (the file's comment). */
	if (mode(a) == TIMER_PERIODIC && a->timer_last && tsc < a->timer_last + min_gap)
		return;
	a->timer_expiries++;
	a->timer_last = tsc;
	if (!(a->lvt[LVT_TIMER] & LVT_MASKED))
		hv_irq_raise(vp, a->lvt[LVT_TIMER] & LVT_VECTOR, HV_MARK_SYNTH_APIC_TIMER, 0, 0, a->timer_due);
	switch (mode(a)) {
	case TIMER_PERIODIC:
		period = (uint64_t)a->timer_initial * tick(a->timer_divide);
		if (!period) {
			a->timer_armed = 0;	/* cannot happen (count_at) */
			a->timer_counting = 0;
			break;
		}
		k = (tsc - a->timer_due) / period;	/* periods that ended since, merged into this one */
		a->timer_coalesced += k;
		a->timer_due += (k + 1) * period;
		break;
	case TIMER_TSC_DEADLINE:
		a->tsc_deadline = 0;	/* SDM 10.5.4.1: it disarms itself and clears the MSR */
		a->timer_armed = 0;
		break;
	default:
		a->timer_armed = 0;	/* one-shot: the count stays at 0 */
		a->timer_counting = 0;
		break;
	}
}

uint64_t hv_apic_timer_run(struct hv_vp *vp, uint64_t tsc)
{
	struct hv_vapic *a = &vp->vapic;

	timer_advance(vp, tsc);
	if (!can_raise(vp))
		return ~0ull;
	/* A period shorter than the gap: its expiries merge (above). */
	if (mode(a) == TIMER_PERIODIC && a->timer_last && a->timer_due < a->timer_last + min_gap)
		return a->timer_last + min_gap;
	return a->timer_due;
}

/* ---- the registers (vapic.c checked the access) ---- */

uint32_t hv_apic_timer_current(struct hv_vp *vp)
{
	uint64_t tsc = rdtsc();

	timer_advance(vp, tsc);
	/* SDM 10.5.4.1: the current count reads 0 in TSC-deadline mode. */
	return mode(&vp->vapic) == TIMER_TSC_DEADLINE ? 0 : count_at(&vp->vapic, tsc);
}

void hv_apic_timer_write_initial(struct hv_vp *vp, uint32_t v)
{
	struct hv_vapic *a = &vp->vapic;
	uint64_t tsc = rdtsc();

	timer_advance(vp, tsc);
	if (mode(a) == TIMER_TSC_DEADLINE)
		return;		/* SDM 10.5.4.1: ignored */
	/* SDM 10.5.4: the count starts again from the initial count; a
	 * write of 0 stops the timer. */
	a->timer_initial = v;
	a->timer_last = 0;
	count_from(vp, v, tsc);
}

void hv_apic_timer_write_divide(struct hv_vp *vp, uint32_t v)
{
	uint64_t tsc = rdtsc();

	timer_advance(vp, tsc);
	rebase(vp, tsc);
	vp->vapic.timer_divide = v;
	rebase(vp, vp->vapic.timer_start);	/* the next expiry at the new rate */
}

void hv_apic_timer_write_lvt(struct hv_vp *vp, uint32_t v)
{
	struct hv_vapic *a = &vp->vapic;
	unsigned old = mode(a), now = LVT_TIMER_MODE(v);
	uint64_t tsc = rdtsc();

	/* What happened before the write happened with the old entry (a
	 * masked expiry raised nothing, and unmasking does not raise it). */
	timer_advance(vp, tsc);
	rebase(vp, tsc);
	a->lvt[LVT_TIMER] = v;
	if (old != now && (old == TIMER_TSC_DEADLINE || now == TIMER_TSC_DEADLINE)) {
		/* SDM 10.5.4.1: a switch into or out of TSC-deadline mode
		 * disarms the timer. */
		a->timer_counting = 0;
		a->timer_armed = 0;
		a->tsc_deadline = 0;
	} else if (old != now) {
		/* One-shot <-> periodic: the count goes on (the file's
		 * comment); count_from() finds the next expiry in the new mode. */
		count_from(vp, a->timer_counting ? a->timer_base : 0, a->timer_start);
	}
	if (can_raise(vp))
		hv_time_kick();	/* unmasked: the hypervisor must be there at the expiry */
}

uint64_t hv_apic_timer_deadline(struct hv_vp *vp)
{
	timer_advance(vp, rdtsc());
	return mode(&vp->vapic) == TIMER_TSC_DEADLINE ? vp->vapic.tsc_deadline : 0;
}

void hv_apic_timer_write_deadline(struct hv_vp *vp, uint64_t v)
{
	struct hv_vapic *a = &vp->vapic;

	timer_advance(vp, rdtsc());
	if (mode(a) != TIMER_TSC_DEADLINE)
		return;		/* SDM 10.5.4.1: ignored in the other modes */
	a->tsc_deadline = v;
	a->timer_armed = 0;
	/* A deadline already passed expires before the VP's next entry. */
	if (v)
		arm(vp, v);
}
